import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'cdk8s';
import { CredentialGenerator } from '../../constructs/credentials/generator';
import { PlatformDatabase } from '../../constructs/database/postgres';
import { CertManager, TlsMode } from '../../constructs/edge/cert-manager';
import { IngressRouter } from '../../constructs/edge/router';
import { ExposeOptions } from '../../constructs/edge/types';
import { Keycloak, KeycloakOptions } from '../../constructs/identity/keycloak';
import { parsePlatform } from '../../lib/config/load';
import { KubeObject, OutputFile, outputFiles } from '../../lib/synth';
import { MlPlatform, platformApp } from '../../stacks/platform';
import { ACME, acmeWith, all, find, objectsOf, ROOT, testChart } from '../helpers';

const INITECH = path.join(ROOT, 'examples', 'initech', 'platform.yaml');

interface Synth {
  readonly objects: KubeObject[];
  readonly files: OutputFile[];
  readonly platform: MlPlatform;
}

/** Each config text synthesized once for every test that reads it. */
const cache = new Map<string, Synth>();
function synth(text: string): Synth {
  let hit = cache.get(text);
  if (!hit) {
    const { app, platform } = platformApp(parsePlatform(text, 'platform.yaml').spec);
    hit = { objects: objectsOf(app), files: outputFiles(app), platform };
    cache.set(text, hit);
  }
  return hit;
}
const EXAMPLES = { acme: fs.readFileSync(ACME, 'utf8'), initech: fs.readFileSync(INITECH, 'utf8') };
const examples = (): Array<[string, Synth]> => Object.entries(EXAMPLES).map(([name, text]) => [name, synth(text)]);

/** `--name=value` arguments, values of repeated names in order. */
function flags(args: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const a of args) {
    const m = /^--([a-z0-9-]+)=(.*)$/.exec(a);
    assert.ok(m, `argument ${a} is --name=value`);
    out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}
const one = (f: Map<string, string[]>, name: string): string => {
  const v = f.get(name);
  assert.equal(v?.length, 1, `exactly one --${name}`);
  return v![0];
};

const matchesLabels = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The container port a Service port reaches (a named target port is looked up in the pods it selects). */
function targetPortOf(objects: readonly KubeObject[], svc: any, portName: string): number {
  const sp = svc.spec.ports.find((p: any) => p.name === portName);
  assert.ok(sp, `Service ${svc.metadata.namespace}/${svc.metadata.name} has a port named ${portName}`);
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  const workloads = objects.filter(
    (o: any) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.namespace === svc.metadata.namespace && matchesLabels(svc.spec.selector, o.spec.template.metadata.labels ?? {}),
  ) as any[];
  assert.ok(workloads.length > 0, `Service ${svc.metadata.name} selects pods of the output`);
  const ports = workloads.flatMap((w) => w.spec.template.spec.containers.flatMap((c: any) => c.ports ?? []));
  const cp = ports.find((p: any) => p.name === target);
  assert.ok(cp, `Service ${svc.metadata.name} port ${portName} targets container port "${target}", which its pods expose`);
  return cp.containerPort;
}

/**
 * What a route's backend Service selects and the container port its named port reaches. Some
 * Services are not in the output: a chart renders them (below), or KServe creates the predictor
 * Service `<isvc>-predictor` of a model endpoint, which selects the pods labelled
 * `serving.kserve.io/inferenceservice: <isvc>` and takes its port name and target from the
 * InferenceService's first container port.
 */
function backendOf(objects: readonly KubeObject[], namespace: string, service: string, portName: string): { selector: Record<string, string>; targetPort: number } {
  const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === service && o.metadata.namespace === namespace) as any;
  if (svc) return { selector: svc.spec.selector, targetPort: targetPortOf(objects, svc, portName) };
  // A Service a chart renders (e.g. Grafana's): its name, port name and target port are pinned in
  // the values, and it selects the chart's standard labels (chart name, release name).
  const release = objects.find((o: any) => o.kind === 'HelmRelease' && o.metadata.namespace === namespace && (o.spec.values?.fullnameOverride ?? o.spec.releaseName) === service) as any;
  if (release) {
    const values = release.spec.values.service ?? {};
    assert.equal(values.portName, portName, `HelmRelease ${namespace}/${release.metadata.name} names its Service port ${portName}`);
    assert.equal(typeof values.targetPort, 'number', `HelmRelease ${namespace}/${release.metadata.name} pins its Service target port`);
    return { selector: { 'app.kubernetes.io/name': release.spec.values.nameOverride ?? release.spec.chart.spec.chart, 'app.kubernetes.io/instance': release.spec.releaseName }, targetPort: values.targetPort };
  }
  const isvcName = service.replace(/-predictor$/, '');
  assert.notEqual(isvcName, service, `Service ${namespace}/${service} exists, or is an InferenceService's predictor`);
  const isvc = find(objects, 'InferenceService', isvcName, namespace);
  const [first] = isvc.spec.predictor.model.ports ?? [];
  assert.equal(first?.name, portName, `InferenceService ${namespace}/${isvcName}: its first container port names the predictor Service port ${portName}`);
  return { selector: { 'serving.kserve.io/inferenceservice': isvcName }, targetPort: first.containerPort };
}

const gateArgs = (objects: readonly KubeObject[], app: string, ns: string) =>
  flags(find(objects, 'Deployment', `${app}-sso`, ns).spec.template.spec.containers[0].args);

describe('IngressRouter in the examples', () => {
  it('routes every app on websecure at <app>.<domain> (model endpoints at <model>.<tenant>.<domain>), to a Service port that exists, through middlewares that exist', () => {
    for (const [name, { objects, platform }] of examples()) {
      const edge = platform.ingress!;
      const domain = platform.context.domain;
      const routes = platform.ingress!.router.routes;
      assert.deepEqual(
        all(objects, 'IngressRoute').map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort(),
        routes.map((r) => `${r.namespace}/${r.app}`).sort(),
        `${name}: one IngressRoute per routed app`,
      );
      // The entry point is the one Traefik serves https on.
      const traefik = find(objects, 'HelmRelease', 'traefik', edge.traefik.namespace).spec.values;
      assert.ok(traefik.ports[edge.traefik.entryPoint], `${name}: Traefik has an entry point ${edge.traefik.entryPoint}`);
      assert.equal(edge.traefik.entryPoint, 'websecure');
      assert.ok(name !== 'acme' || routes.some((r) => r.auth === 'token'), 'acme routes model endpoints');
      for (const r of routes) {
        // Model endpoints (token auth) are named model-<model> in the tenant's namespace.
        const labels = r.auth === 'token' ? `${r.app.replace(/^model-/, '')}.${r.namespace}` : r.app;
        assert.equal(r.host, `${labels}.${domain}`);
        assert.equal(r.url, `https://${labels}.${domain}/`);
        const ir = find(objects, 'IngressRoute', r.app, r.namespace);
        assert.deepEqual(ir.spec.entryPoints, ['websecure'], `${name}/${r.app}`);
        for (const rule of ir.spec.routes) {
          assert.equal(rule.kind, 'Rule');
          assert.ok(rule.match.startsWith(`Host(\`${r.host}\`)`), `${name}/${r.app}: ${rule.match}`);
          for (const s of rule.services) {
            assert.equal(s.kind, 'Service');
            // backendOf checks the port name (also of the predictor Services KServe creates).
            assert.ok(backendOf(objects, r.namespace, s.name, s.port).targetPort > 0, `${name}/${r.app}: Service ${s.name} has a port named ${s.port}`);
          }
          for (const m of rule.middlewares) find(objects, 'Middleware', m.name, r.namespace);
        }
      }
    }
  });

  it('sends /oauth2/ of gated apps to their oauth2-proxy, and asks it first through a forwardAuth Middleware at its Service', () => {
    for (const [name, { objects, platform }] of examples()) {
      const gated = platform.ingress!.router.routes.filter((r) => r.auth === 'forwardAuth');
      assert.ok(gated.length >= 3, `${name}: storage console, tracking and home are gated`);
      for (const r of gated) {
        const ir = find(objects, 'IngressRoute', r.app, r.namespace);
        const callback = ir.spec.routes.find((x: any) => x.match === `Host(\`${r.host}\`) && PathPrefix(\`/oauth2/\`)`);
        assert.ok(callback, `${name}/${r.app}: /oauth2/ route`);
        assert.deepEqual(callback.services, [{ kind: 'Service', name: `${r.app}-sso`, port: 'http' }]);
        assert.ok(!callback.middlewares.some((m: any) => m.name === `${r.app}-sso`), 'the callback itself is not gated');
        const main = ir.spec.routes.find((x: any) => x.match === `Host(\`${r.host}\`)`);
        assert.deepEqual(main.middlewares.map((m: any) => m.name), [`${r.app}-headers`, `${r.app}-sso`]);
        const gateSvc = find(objects, 'Service', `${r.app}-sso`, r.namespace);
        const gate = find(objects, 'Deployment', `${r.app}-sso`, r.namespace);
        assert.deepEqual(gateSvc.spec.selector, gate.spec.template.metadata.labels, 'the gate Service selects the gate pods');
        const port = gateSvc.spec.ports.find((p: any) => p.name === 'http');
        const fa = find(objects, 'Middleware', `${r.app}-sso`, r.namespace).spec.forwardAuth;
        assert.equal(fa.address, `http://${gateSvc.metadata.name}.${r.namespace}.svc.cluster.local:${port.port}/`);
        assert.equal(targetPortOf(objects, gateSvc, 'http'), Number(one(gateArgs(objects, r.app, r.namespace), 'http-address').split(':').pop()));
        assert.ok(fa.authResponseHeaders.includes('X-Auth-Request-User'));
      }
    }
  });

  it('configures each oauth2-proxy for the realm: public login, back channel on the Keycloak Service, exact callback', () => {
    for (const [name, { objects, platform }] of examples()) {
      const kc = platform.sso!;
      const kcSvc = find(objects, 'Service', kc.service.name, kc.namespace);
      const kcPort = kcSvc.spec.ports.find((p: any) => p.name === kc.service.port).port;
      assert.equal(kc.internalIssuerUrl, `http://${kcSvc.metadata.name}.${kc.namespace}.svc:${kcPort}/realms/${kc.realm}`);
      const realm = JSON.parse(find(objects, 'ConfigMap', 'keycloak-realm', kc.namespace).data['realm.json']);
      for (const r of platform.ingress!.router.routes.filter((x) => x.auth === 'forwardAuth')) {
        const f = gateArgs(objects, r.app, r.namespace);
        const where = `${name}/${r.app}`;
        assert.equal(one(f, 'provider'), 'keycloak-oidc', where);
        assert.equal(one(f, 'oidc-issuer-url'), kc.issuerUrl, where);
        assert.equal(one(f, 'login-url'), `${kc.issuerUrl}/protocol/openid-connect/auth`);
        assert.equal(one(f, 'redeem-url'), `${kc.internalIssuerUrl}/protocol/openid-connect/token`);
        assert.equal(one(f, 'oidc-jwks-url'), `${kc.internalIssuerUrl}/protocol/openid-connect/certs`);
        assert.equal(one(f, 'skip-oidc-discovery'), 'true');
        assert.equal(one(f, 'code-challenge-method'), 'S256');
        assert.equal(one(f, 'cookie-secure'), 'true');
        const callback = `https://${r.host}/oauth2/callback`;
        assert.equal(one(f, 'redirect-url'), callback);
        const client = realm.clients.find((c: any) => c.clientId === r.app);
        assert.ok(client, `${where}: realm client ${r.app}`);
        assert.deepEqual(client.redirectUris, [callback], `${where}: the realm accepts exactly the gate's callback`);
      }
    }
  });

  it('lets only admins into the storage consoles and every role and tenant group into the other gated apps', () => {
    const expected: Record<string, { admins: string[]; everyone: string[] }> = {
      acme: { admins: ['platform-admins'], everyone: ['platform-admins', 'ml-leads', 'research', 'ml-engineers'] },
      initech: { admins: ['platform-admins'], everyone: ['platform-admins', 'forecasting', 'vision', 'vision-interns'] },
    };
    for (const [name, { objects, platform }] of examples()) {
      for (const r of platform.ingress!.router.routes.filter((x) => x.auth === 'forwardAuth')) {
        const groups = gateArgs(objects, r.app, r.namespace).get('allowed-group') ?? [];
        assert.ok(groups.length > 0, `${name}/${r.app}: never no --allowed-group (oauth2-proxy would let everyone in)`);
        const admin = r.app === 'minio' || r.app === 'ceph';
        assert.deepEqual([...groups].sort(), [...(admin ? expected[name].admins : expected[name].everyone)].sort(), `${name}/${r.app}`);
      }
      const realmGroups = JSON.parse(find(objects, 'ConfigMap', 'keycloak-realm', 'keycloak').data['realm.json']).groups.map((g: any) => g.name);
      assert.deepEqual([...realmGroups].sort(), [...expected[name].everyone].sort(), `${name}: each allowed group is a realm group`);
    }
  });

  it('gives each gate its client credentials from oidc-<app> in the app namespace and a generated cookie secret', () => {
    for (const [name, { objects, platform }] of examples()) {
      const declared = new Map(platform.credentials.secrets.map((s) => [`${s.namespace}/${s.name}`, s]));
      const script = platform.credentials.script();
      for (const r of platform.ingress!.router.routes.filter((x) => x.auth === 'forwardAuth')) {
        const c = find(objects, 'Deployment', `${r.app}-sso`, r.namespace).spec.template.spec.containers[0];
        const env = new Map<string, any>(c.env.map((e: any) => [e.name, e.valueFrom?.secretKeyRef]));
        assert.deepEqual(env.get('OAUTH2_PROXY_CLIENT_ID'), { name: `oidc-${r.app}`, key: 'CLIENT_ID' });
        assert.deepEqual(env.get('OAUTH2_PROXY_CLIENT_SECRET'), { name: `oidc-${r.app}`, key: 'CLIENT_SECRET' });
        assert.deepEqual(env.get('OAUTH2_PROXY_COOKIE_SECRET'), { name: `${r.app}-sso-cookie`, key: 'COOKIE_SECRET' });
        for (const e of c.env) assert.equal(e.value, undefined, `${name}/${r.app}: ${e.name} is never a literal`);
        for (const s of [`oidc-${r.app}`, `${r.app}-sso-cookie`]) {
          assert.ok(declared.has(`${r.namespace}/${s}`), `${name}: Secret ${r.namespace}/${s} is declared`);
        }
        assert.ok(script.includes(`begin '${r.namespace}' '${r.app}-sso-cookie' 'Opaque'\n  gen COOKIE_SECRET 32\n`), `${name}/${r.app}: 32 random characters (AES-256)`);
        assert.ok(script.includes(`  copy CLIENT_SECRET 'keycloak' 'oidc-${r.app}' CLIENT_SECRET\n`), `${name}/${r.app}: the client secret is a copy`);
        // Baseline: non-root, read-only, resources, probes.
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.ok(c.readinessProbe && c.livenessProbe && c.resources.limits.memory);
      }
    }
  });

  it('issues a certificate per host from the issuer of the tls mode (acme: mlplat-acme, selfSigned: mlplat-ca)', () => {
    for (const [name, issuer] of [['acme', 'mlplat-acme'], ['initech', 'mlplat-ca']] as const) {
      const { objects, platform } = synth(EXAMPLES[name]);
      find(objects, 'ClusterIssuer', issuer);
      for (const r of platform.ingress!.router.routes) {
        const ir = find(objects, 'IngressRoute', r.app, r.namespace);
        const cert = find(objects, 'Certificate', ir.spec.tls.secretName, r.namespace);
        assert.deepEqual(cert.spec.dnsNames, [r.host]);
        assert.equal(cert.spec.secretName, ir.spec.tls.secretName);
        assert.deepEqual(cert.spec.issuerRef, { ...cert.spec.issuerRef, name: issuer, kind: 'ClusterIssuer' }, `${name}/${r.app}`);
      }
    }
  });

  it("serves the client's own certificate (existingSecret) without a Certificate per host", () => {
    const { objects, platform } = synth(
      acmeWith([['    mode: acme                    # selfSigned (default) | acme | existingSecret\n    email: platform-ops@acme.example', '    mode: existingSecret\n    secretName: wildcard-tls']]),
    );
    assert.deepEqual(find(objects, 'TLSStore', 'default', 'traefik').spec, { defaultCertificate: { secretName: 'wildcard-tls' } });
    assert.equal(all(objects, 'Certificate').length, 0);
    for (const r of platform.ingress!.router.routes) assert.deepEqual(find(objects, 'IngressRoute', r.app, r.namespace).spec.tls, {}, r.app);
  });

  it('lets the traefik namespace in to the pods behind each routed Service, on their target port', () => {
    for (const [name, { objects, platform }] of examples()) {
      const traefikNs = platform.ingress!.traefik.namespace;
      find(objects, 'HelmRelease', 'traefik', traefikNs);
      for (const r of platform.ingress!.router.routes) {
        const ir = find(objects, 'IngressRoute', r.app, r.namespace);
        for (const s of ir.spec.routes.flatMap((x: any) => x.services)) {
          const backend = backendOf(objects, r.namespace, s.name, s.port);
          const policyName = s.name.endsWith('-sso') ? `mlplat-ingress-${r.app}-sso` : `mlplat-ingress-${r.app}`;
          const np = find(objects, 'NetworkPolicy', policyName, r.namespace);
          const where = `${name}: ${policyName}`;
          assert.deepEqual(np.spec.podSelector.matchLabels, backend.selector, `${where} selects the Service's pods`);
          assert.deepEqual(np.spec.policyTypes, ['Ingress']);
          assert.deepEqual(np.spec.ingress, [
            {
              from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': traefikNs } } }],
              ports: [{ protocol: 'TCP', port: backend.targetPort }],
            },
          ], where);
        }
      }
    }
  });

  it("routes Keycloak natively with its own framing rules, its admin console and master realm behind an admin-only gate; every other app denies framing", () => {
    for (const [name, { objects, platform }] of examples()) {
      const auth = platform.ingress!.router.routes.find((r) => r.app === 'auth')!;
      assert.equal(auth.auth, 'native');
      assert.equal(auth.namespace, platform.sso!.namespace);
      const ir = find(objects, 'IngressRoute', 'auth', auth.namespace);
      const keycloak = [{ kind: 'Service', name: 'keycloak', port: 'http' }];
      assert.deepEqual(ir.spec.routes, [
        // The gate's own callback, then the admin paths through the gate, then the rest without one.
        { kind: 'Rule', match: `Host(\`${auth.host}\`) && PathPrefix(\`/oauth2/\`)`, middlewares: [{ name: 'auth-headers' }], services: [{ kind: 'Service', name: 'auth-sso', port: 'http' }] },
        { kind: 'Rule', match: `Host(\`${auth.host}\`) && (PathPrefix(\`/admin/\`) || PathPrefix(\`/realms/master/\`))`, middlewares: [{ name: 'auth-headers' }, { name: 'auth-sso' }], services: keycloak },
        { kind: 'Rule', match: `Host(\`${auth.host}\`)`, middlewares: [{ name: 'auth-headers' }], services: keycloak },
      ], name);
      assert.deepEqual(gateArgs(objects, 'auth', auth.namespace).get('allowed-group'), platform.sso!.roleGroups.admin, `${name}: admins only at the admin paths`);
      for (const r of platform.ingress!.router.routes) {
        const headers = find(objects, 'Middleware', `${r.app}-headers`, r.namespace).spec.headers;
        assert.equal(headers.frameDeny, r.app !== 'auth', `${name}/${r.app} frameDeny`);
        assert.equal(headers.stsSeconds, 31536000);
        assert.equal(headers.contentTypeNosniff, true);
      }
    }
  });
});

/** A router with a certificate issuer and (optionally) Keycloak, in a test chart. */
function routerFixture(options: { tls?: TlsMode; keycloak?: KeycloakOptions | false } = {}) {
  const { app, chart } = testChart();
  const credentials = new CredentialGenerator(chart, 'Credentials');
  const certManager = new CertManager(chart, 'CertManager', { tls: options.tls ?? { mode: 'selfSigned' }, ingressClassName: 'traefik' });
  const router = new IngressRouter({ traefikNamespace: 'traefik', entryPoint: 'websecure', certificates: certManager, credentials: () => credentials });
  let keycloak: Keycloak | undefined;
  if (options.keycloak !== false) {
    const database = new PlatformDatabase(chart, 'Db', { credentials });
    keycloak = new Keycloak(chart, 'Keycloak', { ...(options.keycloak || {}), credentials, database });
    router.useIdentityProvider(keycloak);
  }
  return { app, chart, credentials, router, keycloak };
}

const demo = (app: string, auth: ExposeOptions['auth'] = { kind: 'forwardAuth' }): ExposeOptions => ({
  app,
  namespace: 'apps',
  service: { name: app, port: 'http' },
  podSelector: { 'app.kubernetes.io/name': app },
  targetPort: 8080,
  auth,
  title: app.toUpperCase(),
  purpose: `${app} for the tests`,
});

describe('IngressRouter.expose', () => {
  it('returns the route it writes and lists it in order', () => {
    const { chart, router } = routerFixture();
    const a = router.expose(chart, 'A', demo('alpha', { kind: 'native' }));
    const b = router.expose(chart, 'B', demo('beta'));
    assert.deepEqual(a, { app: 'alpha', title: 'ALPHA', purpose: 'alpha for the tests', namespace: 'apps', host: 'alpha.ml.test.example', url: 'https://alpha.ml.test.example/', auth: 'native' });
    assert.equal(b.auth, 'forwardAuth');
    assert.deepEqual(router.routes.map((r) => r.app), ['alpha', 'beta']);
  });

  it('refuses an app exposed twice in a namespace, a host routed twice, and names that are not short DNS labels', () => {
    const { chart, router } = routerFixture();
    router.expose(chart, 'A', demo('alpha'));
    assert.throws(() => router.expose(chart, 'A2', demo('alpha')), /app "alpha" is exposed twice in namespace apps/);
    assert.throws(() => router.expose(chart, 'A3', { ...demo('alpha'), namespace: 'other' }), /host alpha\.ml\.test\.example is routed twice/);
    assert.throws(() => router.expose(chart, 'A4', { ...demo('other'), hostLabels: 'alpha' }), /host alpha\.ml\.test\.example is routed twice/);
    // The same app name in another namespace at another host is fine (one model name in two tenants).
    assert.equal(router.expose(chart, 'A5', { ...demo('alpha', { kind: 'native' }), namespace: 'other', hostLabels: 'alpha.other' }).host, 'alpha.other.ml.test.example');
    for (const bad of ['Alpha', '-alpha', 'alpha-', 'al_pha', 'a.b', '', 'a'.repeat(47)]) {
      assert.throws(() => router.expose(chart, `X${bad}`, demo(bad)), /must be a DNS label of at most 46 characters \(it names the route objects\)/, bad);
    }
    for (const bad of ['Churn.serving', 'churn..serving', 'churn.serving.', '-churn.serving', `${'a'.repeat(64)}.serving`]) {
      assert.throws(() => router.expose(chart, `H${bad}`, { ...demo('hosted', { kind: 'native' }), hostLabels: bad }), /host labels ".*" must be DNS labels/, bad);
    }
    assert.doesNotThrow(() => router.expose(chart, 'Long', demo('a'.repeat(46), { kind: 'native' })));
    assert.equal(router.routes.length, 3, 'refused routes are not listed');
  });

  it('checks tokens of API routes (auth kind token) at the given gate address: no SSO gate, no /oauth2/ route', () => {
    const { app, chart, router } = routerFixture();
    const address = 'http://gate-serving.kserve.svc.cluster.local:4180/oauth2/auth';
    const route = router.expose(chart, 'Model', {
      ...demo('model-churn', { kind: 'token', address }),
      namespace: 'serving',
      hostLabels: 'churn.serving',
      service: { name: 'churn-predictor', port: 'http' },
      podSelector: { 'serving.kserve.io/inferenceservice': 'churn' },
    });
    assert.deepEqual(route, {
      app: 'model-churn',
      title: 'MODEL-CHURN',
      purpose: 'model-churn for the tests',
      namespace: 'serving',
      host: 'churn.serving.ml.test.example',
      url: 'https://churn.serving.ml.test.example/',
      auth: 'token',
    });
    const objects = objectsOf(app);
    const ir = find(objects, 'IngressRoute', 'model-churn', 'serving');
    assert.deepEqual(ir.spec.routes, [
      {
        kind: 'Rule',
        match: 'Host(`churn.serving.ml.test.example`)',
        middlewares: [{ name: 'model-churn-headers' }, { name: 'model-churn-token' }, { name: 'model-churn-strip-token' }],
        services: [{ kind: 'Service', name: 'churn-predictor', port: 'http' }],
      },
    ]);
    const fa = find(objects, 'Middleware', 'model-churn-token', 'serving').spec.forwardAuth;
    assert.equal(fa.address, address);
    assert.ok(fa.authResponseHeaders.includes('X-Auth-Request-Groups'));
    assert.deepEqual(find(objects, 'Certificate', ir.spec.tls.secretName, 'serving').spec.dnsNames, ['churn.serving.ml.test.example']);
    assert.deepEqual(find(objects, 'NetworkPolicy', 'mlplat-ingress-model-churn', 'serving').spec.podSelector.matchLabels, { 'serving.kserve.io/inferenceservice': 'churn' });
    for (const kind of ['Deployment', 'Service', 'Middleware', 'NetworkPolicy']) {
      assert.equal(all(objects, kind).filter((o) => o.metadata.name.includes('model-churn-sso')).length, 0, `no SSO gate ${kind}`);
    }
  });

  it('refuses ForwardAuth without an identity provider, and a second provider', () => {
    const { chart, router } = routerFixture({ keycloak: false });
    assert.doesNotThrow(() => router.expose(chart, 'Native', demo('open', { kind: 'native' })));
    assert.throws(() => router.expose(chart, 'Gated', demo('gated')), /app "gated" is routed behind SSO, which needs the identity provider: enable sso/);
    const other = routerFixture();
    router.useIdentityProvider(other.keycloak!);
    assert.doesNotThrow(() => router.useIdentityProvider(other.keycloak!), 'the same provider again is fine');
    const third = routerFixture();
    assert.throws(() => router.useIdentityProvider(third.keycloak!), /the ingress already uses another identity provider/);
  });

  it(
    'leaves nothing behind when it refuses a route',
    () => {
      const { app, chart, router } = routerFixture({ keycloak: false });
      assert.throws(() => router.expose(chart, 'Gated', demo('gated')), /enable sso/);
      assert.deepEqual(objectsOf(app).filter((o) => o.metadata.namespace === 'apps').map((o) => `${o.kind} ${o.metadata.name}`), []);
    },
  );

  it('never writes a gate that lets no group in', () => {
    const { app, chart, router } = routerFixture({ keycloak: { adminGroups: [] } });
    router.expose(chart, 'Console', demo('console', { kind: 'forwardAuth', allowedRoles: ['admin'] }));
    assert.throws(() => objectsOf(app), /the SSO gate of console lets no group in: name the groups of its roles/);
  });

  it('lets in the groups of the allowed roles only, read when the output is written', () => {
    const { app, chart, router, keycloak } = routerFixture({ keycloak: { editorGroups: ['leads'] } });
    router.expose(chart, 'Editors', demo('dash', { kind: 'forwardAuth', allowedRoles: ['admin', 'editor'] }));
    router.expose(chart, 'All', demo('all'));
    keycloak!.addTenant({ groups: ['late'] } as unknown as Parameters<Keycloak['addTenant']>[0]);
    const objects = objectsOf(app);
    assert.deepEqual(gateArgs(objects, 'dash', 'apps').get('allowed-group'), ['platform-admins', 'leads']);
    assert.deepEqual(gateArgs(objects, 'all', 'apps').get('allowed-group'), ['platform-admins', 'leads', 'late']);
  });
});

describe('MlPlatform routing', () => {
  function platform(order: 'ssoFirst' | 'ingressFirst', tenantsFirst = false) {
    const app = new App();
    const p = new MlPlatform(app, 'Platform', { client: 'acme', domain: 'ml.acme.example' });
    const tenants = () => {
      p.addTenant('research', { groups: ['research'], cpu: '8', memory: '32Gi' });
      p.addTenant('serving', { groups: ['ml-engineers', 'ml-leads'], cpu: '8', memory: '32Gi' });
    };
    if (tenantsFirst) tenants();
    p.enableStorage({ kind: 'minio' });
    const ingress = () => p.enableIngress({ tls: { mode: 'acme', email: 'ops@acme.example' } });
    const sso = () => p.enableSso({ editorGroups: ['ml-leads'], kubernetesApiServer: 'https://k8s.acme.example:6443' });
    if (order === 'ssoFirst') {
      sso();
      assert.equal(p.ingress, undefined);
      ingress();
    } else {
      ingress();
      sso();
    }
    p.enableStartPage();
    p.enableTracking({ kind: 'mlflow' });
    if (!tenantsFirst) tenants();
    return { app, platform: p };
  }

  it('routes the same apps the same way whether sso or the ingress is enabled first', () => {
    const a = platform('ssoFirst');
    const b = platform('ingressFirst');
    assert.deepEqual(a.platform.ingress!.router.routes, b.platform.ingress!.router.routes);
    assert.deepEqual(a.platform.ingress!.router.routes.map((r) => r.app), ['minio', 'auth', 'home', 'mlflow']);
    const fa = outputFiles(a.app);
    const fb = outputFiles(b.app);
    assert.deepEqual(fa.map((f) => f.name), fb.map((f) => f.name));
    for (let i = 0; i < fa.length; i++) assert.equal(fa[i].content, fb[i].content, fa[i].name);
  });

  it('gives the same routes, gates and kubeconfigs when tenants come before the components', () => {
    const late = platform('ingressFirst');
    const early = platform('ingressFirst', true);
    const pick = (files: OutputFile[]) => files.filter((f) => f.name.startsWith('access/')).map((f) => [f.name, f.content]);
    assert.deepEqual(pick(outputFiles(early.app)), pick(outputFiles(late.app)));
    const routes = (app: App) => objectsOf(app).filter((o) => ['IngressRoute', 'Middleware', 'Certificate'].includes(o.kind) || o.metadata.name.endsWith('-sso'));
    assert.deepEqual(routes(early.app), routes(late.app));
  });

  it('lets a tenant added after the routes into the gated apps (but not the storage console)', () => {
    const { app, platform: p } = platform('ingressFirst');
    p.addTenant('late', { groups: ['late-comers'], cpu: '1', memory: '1Gi' });
    const objects = objectsOf(app);
    assert.ok(gateArgs(objects, 'mlflow', 'mlflow').get('allowed-group')!.includes('late-comers'));
    assert.ok(gateArgs(objects, 'home', 'portal').get('allowed-group')!.includes('late-comers'));
    assert.ok(!gateArgs(objects, 'minio', 'minio').get('allowed-group')!.includes('late-comers'));
    const files = outputFiles(app);
    assert.ok(files.some((f) => f.name === 'access/kubeconfig-late.yaml'));
  });

  it('routes nothing until both the ingress and sso exist, and needs the ingress for the start page', () => {
    const app = new App();
    const p = new MlPlatform(app, 'Platform', { client: 'x', domain: 'x.example' });
    p.enableStorage({ kind: 'minio' });
    p.enableSso();
    assert.throws(() => p.enableStartPage(), /the start page is served through the ingress: enable the ingress first/);
    // Half of it routes nothing, and says so.
    assert.throws(() => objectsOf(app), /apps minio, auth are not routed: enableIngress\(\) is missing \(routes need both\)/);
    p.enableIngress({ tls: { mode: 'selfSigned' } });
    assert.deepEqual(all(objectsOf(app), 'IngressRoute').map((r) => r.metadata.name).sort(), ['auth', 'minio']);
    // The access files learn the TLS mode of an ingress enabled after sso.
    assert.match(outputFiles(app).find((f) => f.name === 'access/authentication-config.yaml')!.content, /mlplat-ca/);
    assert.throws(() => p.enableSso(), /sso is enabled twice/);
    const noStorage = new MlPlatform(new App(), 'Platform', { client: 'y', domain: 'y.example' });
    assert.throws(() => noStorage.enableSso(), /Keycloak needs the platform database, whose backups need storage: enable storage first/);
  });
});
