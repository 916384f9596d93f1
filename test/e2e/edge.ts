/**
 * Edge assertions of the e2e suite (issue 5): every UI is routed with TLS behind SSO (model APIs
 * behind their tenant's token gate), routes point at Services and ports that exist (a model's
 * predictor Service is checked by the serving test, which creates it as KServe would; a Service
 * only a chart release renders is listed, not checked, since no helm-controller runs), and every
 * Secret a workload reads exists with the key it reads, OIDC client secrets equal to what
 * Keycloak is given. Each test skips itself when the example has no ingress.
 */
import * as assert from 'node:assert/strict';
import { it } from 'node:test';
import { OIDC_CLIENT_KEYS } from '../../constructs/identity/types';
import { GRAFANA_APP } from '../../constructs/observability/grafana';
import { MlflowServer } from '../../constructs/tracking/mlflow';
import { KubeObject } from '../../lib/synth';
import { SuiteState } from './data-plane';
import { secretData } from './lib/storage';

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);

function podSpecOf(o: KubeObject): any {
  const spec = (o as any).spec;
  return o.kind === 'CronJob' ? spec.jobTemplate.spec.template.spec : spec.template.spec;
}

export function edgeTests(state: () => SuiteState): void {
  it('routes every UI over TLS: each host has its Certificate and an IngressRoute to an existing Service port, SSO in front', (t) => {
    const { cluster, platform, files } = state();
    const edge = platform.ingress;
    if (!edge) return t.skip('no ingress in this example');
    const routes = edge.router.routes;
    const expected = [
      'auth',
      'home',
      platform.tracking ? (platform.tracking instanceof MlflowServer ? 'mlflow' : 'clearml') : undefined,
      platform.storage?.webUi ? (platform.storage.kind === 'minio' ? 'minio' : 'ceph') : undefined,
      platform.grafana ? GRAFANA_APP : undefined,
      ...(platform.serving?.endpoints ?? []).map((e) => `model-${e.name}`),
    ]
      .filter((x): x is string => !!x)
      .sort();
    assert.deepEqual(routes.map((r) => r.app).sort(), expected, 'every UI that exists is routed');

    const all = cluster.get<any>(['ingressroutes.traefik.io', '-A', '-o', 'json']).items;
    const synthesized = files.flatMap((f) => f.objects);
    const fromCharts: string[] = [];
    const selfSigned = edge.certManager.tls.mode !== 'existingSecret';
    for (const route of routes) {
      const ir = all.find((x: any) => x.metadata.namespace === route.namespace && x.metadata.name === route.app);
      assert.ok(ir, `IngressRoute ${route.namespace}/${route.app} exists`);
      assert.deepEqual(ir.spec.entryPoints, [edge.traefik.entryPoint]);
      for (const r of ir.spec.routes) {
        assert.match(r.match, new RegExp(`^Host\\(\`${route.host.replace(/\./g, '\\.')}\`\\)`), `${route.app}: rule on its own host`);
        for (const s of r.services) {
          // A model's predictor Service is KServe's to create: the serving test checks it once it exists.
          if (route.auth === 'token') continue;
          // A Service only a chart release renders cannot exist here (no helm-controller runs).
          if (!synthesized.some((o) => o.kind === 'Service' && o.metadata.namespace === route.namespace && o.metadata.name === s.name) && synthesized.some((o) => o.kind === 'HelmRelease' && o.metadata.namespace === route.namespace)) {
            fromCharts.push(`${route.app} → ${route.namespace}/${s.name}:${s.port}`);
            continue;
          }
          const svc = cluster.get<any>(['service', s.name, '-n', route.namespace]);
          assert.ok(svc.spec.ports.some((p: any) => p.name === s.port), `${route.app}: Service ${route.namespace}/${s.name} has a port named ${s.port}`);
        }
        // Every middleware a route names exists in its namespace (cross-namespace references are off).
        for (const m of r.middlewares ?? []) cluster.get(['middlewares.traefik.io', m.name, '-n', route.namespace]);
      }
      const appRoute = ir.spec.routes.find((r: any) => !r.match.includes('PathPrefix'));
      const middlewares = (appRoute.middlewares ?? []).map((m: any) => m.name);
      assert.ok(middlewares.includes(`${route.app}-headers`), `${route.app}: security headers`);
      if (route.auth === 'forwardAuth') {
        assert.ok(middlewares.includes(`${route.app}-sso`), `${route.app}: behind SSO`);
        const fa = cluster.get<any>(['middlewares.traefik.io', `${route.app}-sso`, '-n', route.namespace]).spec.forwardAuth;
        const m = /^http:\/\/([^.]+)\.([^.]+)\.svc\.cluster\.local:(\d+)\/$/.exec(fa.address);
        assert.ok(m, `${route.app}: forwardAuth address ${fa.address} is a Service URL`);
        const gate = cluster.get<any>(['service', m[1], '-n', m[2]]);
        assert.ok(gate.spec.ports.some((p: any) => String(p.port) === m[3]), `${route.app}: the SSO gate Service listens on ${m[3]}`);
        // The login callback reaches the gate on the same host.
        assert.ok(ir.spec.routes.some((r: any) => r.match.includes('PathPrefix(`/oauth2/`)') && r.services[0].name === m[1]), `${route.app}: /oauth2/ goes to the gate`);
      } else if (route.auth === 'token') {
        // An API: the tenant's token gate answers for every request; no login flow, no callback.
        assert.ok(middlewares.includes(`${route.app}-token`), `${route.app}: behind the token gate`);
        const fa = cluster.get<any>(['middlewares.traefik.io', `${route.app}-token`, '-n', route.namespace]).spec.forwardAuth;
        const m = /^http:\/\/([^.]+)\.([^.]+)\.svc\.cluster\.local:(\d+)\/oauth2\/auth$/.exec(fa.address);
        assert.ok(m, `${route.app}: forwardAuth address ${fa.address} is a gate's auth endpoint`);
        assert.notEqual(m[2], route.namespace, `${route.app}: the gate runs outside the tenant's namespace`);
        const gate = cluster.get<any>(['service', m[1], '-n', m[2]]);
        assert.ok(gate.spec.ports.some((p: any) => String(p.port) === m[3]), `${route.app}: the token gate Service listens on ${m[3]}`);
        assert.ok(!ir.spec.routes.some((r: any) => r.match.includes('PathPrefix(`/oauth2/`)')), `${route.app}: no login callback on an API`);
      } else if (route.app !== 'auth') {
        // Without a gate in front: Keycloak itself, or an app that logs users in with its own
        // client of the realm (its redirect URIs are on the app's host).
        const realm = JSON.parse((synthesized.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'keycloak-realm') as any)?.data['realm.json'] ?? '{"clients":[]}');
        assert.ok(realm.clients.some((c: any) => !c.publicClient && (c.redirectUris ?? []).some((u: string) => u.startsWith(`https://${route.host}/`))), `${route.app} is routed without a gate, so it must log users in with its own OIDC client`);
      }
      if (selfSigned) {
        assert.equal(ir.spec.tls.secretName, `${route.app}-tls`);
        const cert = cluster.get<any>(['certificates.cert-manager.io', ir.spec.tls.secretName, '-n', route.namespace]);
        assert.deepEqual(cert.spec.dnsNames, [route.host], `${route.app}: certificate for its host`);
        assert.equal(cert.spec.secretName, ir.spec.tls.secretName);
        assert.equal(cert.spec.issuerRef.name, edge.certManager.issuerName);
      } else {
        assert.deepEqual(ir.spec.tls, {}, 'existingSecret: the default certificate (TLSStore) serves the host');
      }
    }
    t.diagnostic(`${routes.length} routes: ${routes.map((r) => `${r.host} (${r.auth})`).join(', ')}`);
    if (fromCharts.length) t.diagnostic(`Services of chart releases, not checked: ${fromCharts.join(', ')}`);
  });

  it('has every Secret key a workload reads, and each app\'s OIDC client secret equals the one Keycloak is given', (t) => {
    const { cluster, platform, files } = state();
    const objects = files.flatMap((f) => f.objects);
    const certSecrets = new Set(objects.filter((o) => o.kind === 'Certificate').map((o) => `${o.metadata.namespace}/${(o as any).spec.secretName}`));
    // Rook (not run here) writes the Secret of an ObjectBucketClaim, named after the claim.
    const claimSecrets = new Set(objects.filter((o) => o.kind === 'ObjectBucketClaim').map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
    const cache = new Map<string, Record<string, string> | undefined>();
    const read = (ns: string, name: string) => {
      const k = `${ns}/${name}`;
      if (!cache.has(k)) cache.set(k, cluster.kubectl(['get', 'secret', name, '-n', ns]).code === 0 ? secretData(cluster, ns, name) : undefined);
      return cache.get(k);
    };
    const missing: string[] = [];
    let refs = 0;
    for (const w of objects.filter((o) => WORKLOAD_KINDS.has(o.kind))) {
      const ns = w.metadata.namespace!;
      const spec = podSpecOf(w);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref || ref.optional || claimSecrets.has(`${ns}/${ref.name}`)) continue;
          refs++;
          const data = read(ns, ref.name);
          if (!data || !(ref.key in data)) missing.push(`${w.kind} ${ns}/${w.metadata.name} ${c.name}: ${e.name} ← ${ref.name}.${ref.key}`);
        }
        for (const f of c.envFrom ?? []) {
          if (!f.secretRef || f.secretRef.optional || claimSecrets.has(`${ns}/${f.secretRef.name}`)) continue;
          refs++;
          if (!read(ns, f.secretRef.name)) missing.push(`${w.kind} ${ns}/${w.metadata.name} ${c.name}: envFrom ${f.secretRef.name}`);
        }
      }
      for (const v of spec.volumes ?? []) {
        const sources = [...(v.secret ? [{ name: v.secret.secretName, optional: v.secret.optional }] : []), ...(v.projected?.sources ?? []).filter((s: any) => s.secret).map((s: any) => s.secret)];
        for (const s of sources) {
          // cert-manager (not run here) writes the TLS Secrets of Certificates.
          if (s.optional || certSecrets.has(`${ns}/${s.name}`) || claimSecrets.has(`${ns}/${s.name}`)) continue;
          refs++;
          if (!read(ns, s.name)) missing.push(`${w.kind} ${ns}/${w.metadata.name}: volume ${v.name} ← Secret ${s.name}`);
        }
      }
    }
    assert.deepEqual(missing, [], `${missing.length} Secret references missing:\n${missing.join('\n')}`);

    const keycloak = platform.sso;
    if (!keycloak) return t.diagnostic(`${refs} Secret references, all present (no SSO in this example)`);
    // The realm Job hands Keycloak each client's secret; the app's copy must be the same value.
    const job = objects.find((o) => o.kind === 'Job' && o.metadata.namespace === keycloak.namespace && o.metadata.name.startsWith('keycloak-realm-'))!;
    const given = new Map<string, string>();
    for (const e of podSpecOf(job).containers[0].env) {
      if (!e.name.startsWith('OIDC_SECRET_')) continue;
      given.set(e.name, read(keycloak.namespace, e.valueFrom.secretKeyRef.name)![e.valueFrom.secretKeyRef.key]);
    }
    const realm = JSON.parse((objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'keycloak-realm') as any).data['realm.json']);
    let checked = 0;
    for (const gate of objects.filter((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-sso'))) {
      const env = podSpecOf(gate).containers[0].env as any[];
      const ref = (name: string) => env.find((e) => e.name === name).valueFrom.secretKeyRef;
      const data = read(gate.metadata.namespace!, ref('OAUTH2_PROXY_CLIENT_SECRET').name)!;
      const clientId = data[OIDC_CLIENT_KEYS.clientId];
      const client = realm.clients.find((c: any) => c.clientId === clientId);
      assert.ok(client, `${gate.metadata.namespace}/${gate.metadata.name}: client ${clientId} is in the realm`);
      const envName = /^\$\(env:(\w+)\)$/.exec(client.secret)![1];
      assert.equal(data[OIDC_CLIENT_KEYS.clientSecret], given.get(envName), `${clientId}: the app's client secret is the one Keycloak gets`);
      assert.ok(data[OIDC_CLIENT_KEYS.clientSecret].length >= 32);
      checked++;
    }
    // Every SSO gate belongs to a routed app, and every forwardAuth route has its gate.
    const routes = platform.ingress!.router.routes;
    const gates = objects.filter((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-sso')).map((o) => o.metadata.name);
    for (const gate of gates) assert.ok(routes.some((r) => `${r.app}-sso` === gate), `SSO gate ${gate} belongs to a route`);
    for (const r of routes.filter((x) => x.auth === 'forwardAuth')) assert.ok(gates.includes(`${r.app}-sso`), `${r.app} has its SSO gate`);
    assert.equal(checked, gates.length);
    t.diagnostic(`${refs} Secret references present; ${checked} OIDC client secrets match Keycloak's`);
  });
}
