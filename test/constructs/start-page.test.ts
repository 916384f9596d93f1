import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { IRoute } from '../../constructs/edge/types';
import { GpuOperator } from '../../constructs/gpu/operator';
import {
  CONFIG_HASH_ANNOTATION,
  escapeHtml,
  renderStartPage,
  StartPage,
  StartPageModel,
  StartPageProps,
} from '../../constructs/portal/start-page';
import { Tenant } from '../../constructs/tenancy/tenant';
import { VERSIONS } from '../../lib/versions';
import { all, find, objectsOf, testChart } from '../helpers';

const DOMAIN = 'ml.test.example';

function route(app: string, title: string, purpose = `${title} for the team`): IRoute {
  const host = `${app}.${DOMAIN}`;
  return { app, title, purpose, namespace: app, host, url: `https://${host}/`, auth: 'forwardAuth' };
}

/** A stand-in for the ingress router: a plain list apps are appended to. */
function fakeRouter(...routes: IRoute[]): { routes: IRoute[] } {
  return { routes };
}

function fixture(options: Omit<StartPageProps, 'router'> = {}, routes = [route('home', 'Start page'), route('mlflow', 'MLflow'), route('grafana', 'Grafana')]) {
  const { app, chart } = testChart();
  const router = fakeRouter(...routes);
  const page = new StartPage(chart, 'StartPage', { router, ...options });
  return { app, chart, router, page };
}

function withTenants() {
  const f = fixture();
  const gpu = new GpuOperator(f.chart, 'Gpu');
  const a100 = gpu.addPool('a100', { gpuModel: 'A100-80GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.10gb' } });
  const l4 = gpu.addPool('l4', { gpuModel: 'L4', gpusPerNode: 1, sharing: { mode: 'timeSlicing', replicas: 4 } });
  const h100 = gpu.addPool('h100', { gpuModel: 'H100-80GB', gpusPerNode: 8 });
  const research = new Tenant(f.chart, 'Research', { name: 'research', groups: ['research', 'ml-leads'], cpu: '64', memory: '256Gi', gpus: gpu });
  const vision = new Tenant(f.chart, 'Vision', { name: 'vision', groups: ['vision'], cpu: '16', memory: '64Gi', gpus: gpu });
  const analytics = new Tenant(f.chart, 'Analytics', { name: 'analytics', groups: ['analytics'], cpu: '8', memory: '32Gi', gpus: gpu });
  research.grantGpus(a100, 2);
  research.grantGpus(l4, 1);
  vision.grantGpus(h100, 8);
  f.page.addTenant(research);
  f.page.addTenant(vision);
  f.page.addTenant(analytics);
  return { ...f, research, vision, analytics };
}

const pageOf = (objects: any[]): string => find(objects, 'ConfigMap', 'start-page', 'portal').data['index.html'];

/** Each `<tag … data-<attr>="value" …>…</tag>` of the page, by value. */
function entries(html: string, tag: string, attr: string): Map<string, string> {
  const re = new RegExp(`<${tag}\\b[^>]*\\bdata-${attr}="([^"]*)"[^>]*>([\\s\\S]*?)</${tag}>`, 'g');
  return new Map([...html.matchAll(re)].map((m) => [m[1], m[0]]));
}

describe('StartPage', () => {
  it('creates its namespace, ServiceAccount, ConfigMap, Deployment and Service, all named start-page in portal', () => {
    const { app } = fixture();
    const objects = objectsOf(app);
    assert.deepEqual(
      objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort(),
      ['ConfigMap portal/start-page', 'Deployment portal/start-page', 'Namespace /portal', 'NetworkPolicy portal/mlplat-platform-only', 'Service portal/start-page', 'ServiceAccount portal/start-page'],
    );
    const ns = find(objects, 'Namespace', 'portal');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.deepEqual(Object.keys(find(objects, 'ConfigMap', 'start-page', 'portal').data), ['index.html'], 'the page and nothing else');
    assert.equal(find(objects, 'ServiceAccount', 'start-page', 'portal').automountServiceAccountToken, false);
  });

  it('runs busybox httpd as nobody with the security baseline and the documented defaults', () => {
    const { app } = fixture();
    const d = find(objectsOf(app), 'Deployment', 'start-page', 'portal');
    assert.equal(d.spec.replicas, 1, 'default replicas');
    const pod = d.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'start-page');
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 65534);
    assert.equal(pod.securityContext.runAsGroup, 65534);
    assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
    assert.equal(pod.containers.length, 1);
    const c = pod.containers[0];
    const busybox = VERSIONS.images.busybox;
    assert.equal(c.image, `${busybox.registry}/${busybox.repository}:${busybox.tag}`);
    assert.deepEqual(c.command, ['httpd', '-f', '-v', '-p', '8080', '-h', '/srv/www']);
    assert.equal(c.args, undefined);
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    assert.deepEqual(c.resources, { requests: { cpu: '5m', memory: '8Mi' }, limits: { memory: '32Mi' } }, 'default resources');
    // The document root httpd serves is the ConfigMap, mounted read-only.
    const root = c.command[c.command.indexOf('-h') + 1];
    const mount = c.volumeMounts.find((m: any) => m.mountPath === root);
    assert.equal(mount.readOnly, true);
    const volume = pod.volumes.find((v: any) => v.name === mount.name);
    assert.equal(volume.configMap.name, 'start-page');
    assert.equal(all(objectsOf(app), 'PodDisruptionBudget').length, 0, 'no budget for a single replica');
  });

  it('lines up the Service, the pods, the probes and the router handle', () => {
    const { app, page } = fixture();
    const objects = objectsOf(app);
    const d = find(objects, 'Deployment', 'start-page', 'portal');
    const svc = find(objects, 'Service', page.service.name, page.namespace);
    const podLabels = d.spec.template.metadata.labels;
    // Selectors match the pod labels; the handle is what the Service selects.
    assert.deepEqual(d.spec.selector.matchLabels, page.podSelector);
    assert.deepEqual(svc.spec.selector, page.podSelector);
    for (const [k, v] of Object.entries(page.podSelector)) assert.equal(podLabels[k], v, `pod label ${k}`);
    assert.equal(podLabels['app.kubernetes.io/part-of'], 'mlplat', 'chart labels reach the pods');
    assert.equal(podLabels['app.kubernetes.io/version'], undefined);
    // Service port http:80 → container port http = handle.targetPort = httpd's -p.
    assert.deepEqual(svc.spec.ports, [{ name: page.service.port, port: 80, targetPort: 'http', protocol: 'TCP' }]);
    const c = d.spec.template.spec.containers[0];
    const named = c.ports.find((p: any) => p.name === svc.spec.ports[0].targetPort);
    assert.equal(named.containerPort, page.targetPort);
    assert.equal(page.targetPort, 8080);
    assert.equal(c.command[c.command.indexOf('-p') + 1], String(page.targetPort));
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      assert.equal(probe.httpGet.path, '/');
      assert.equal(probe.httpGet.port, 'http');
    }
    assert.equal(page.namespace, 'portal');
    assert.equal(page.app, 'home');
  });

  it('scales to `replicas` with a disruption budget over the same pods, and refuses fewer than one', () => {
    const { app, page } = fixture({ replicas: 3 });
    const objects = objectsOf(app);
    assert.equal(find(objects, 'Deployment', 'start-page', 'portal').spec.replicas, 3);
    const pdb = find(objects, 'PodDisruptionBudget', 'start-page', 'portal');
    assert.deepEqual(pdb.spec, { maxUnavailable: 1, selector: { matchLabels: page.podSelector } });
    assert.throws(() => fixture({ replicas: 0 }), /start page: replicas must be a whole number ≥ 1 \(got 0\)/);
    assert.throws(() => fixture({ replicas: 1.5 }), /replicas must be a whole number ≥ 1 \(got 1.5\)/);
  });

  it('takes resources as given', () => {
    const { app } = fixture({ resources: { requests: {}, limits: {} } });
    assert.deepEqual(find(objectsOf(app), 'Deployment', 'start-page', 'portal').spec.template.spec.containers[0].resources, { requests: {}, limits: {} });
  });

  it('lists every routed app but its own, in router order, linking to the route URL', () => {
    const { app, router } = fixture();
    router.routes.push(route('clearml', 'ClearML'));
    const html = pageOf(objectsOf(app));
    const apps = entries(html, 'li', 'app');
    assert.deepEqual([...apps.keys()], ['mlflow', 'grafana', 'clearml'], 'router order, home left out');
    for (const r of router.routes.filter((x) => x.app !== 'home')) {
      const entry = apps.get(r.app)!;
      assert.match(entry, new RegExp(`<a href="${r.url}">${r.title}</a>`));
      assert.ok(entry.includes(r.host), `${r.app} shows its host`);
      assert.ok(entry.includes(r.purpose), `${r.app} shows its purpose`);
    }
    assert.ok(!html.includes('https://home.ml.test.example/'), 'the page does not link to itself');
    assert.match(html, /<h1>test ML platform<\/h1><p>ml\.test\.example<\/p>/, 'header with client and domain');
  });

  it('lists every tenant in add order with its SSO groups and granted pools', () => {
    const { app } = withTenants();
    const html = pageOf(objectsOf(app));
    const tenants = entries(html, 'tr', 'tenant');
    assert.deepEqual([...tenants.keys()], ['research', 'vision', 'analytics']);
    const research = tenants.get('research')!;
    assert.deepEqual([...entries(research, 'li', 'pool').keys()], ['a100', 'l4'], 'grant order');
    assert.ok(research.includes('<code>research</code>, <code>ml-leads</code>'), 'SSO groups');
    const pools = entries(research, 'li', 'pool');
    assert.match(pools.get('a100')!, /2 × A100-80GB \(MIG 1g\.10gb, 7 per GPU\); request up to 14 <code>nvidia\.com\/mig-1g\.10gb<\/code>/);
    assert.match(pools.get('l4')!, /1 × L4 \(time-sliced, 4 per GPU\); request up to 4 <code>nvidia\.com\/gpu<\/code>/);
    assert.match(entries(tenants.get('vision')!, 'li', 'pool').get('h100')!, /8 × H100-80GB \(whole GPUs\); request up to 8 <code>nvidia\.com\/gpu<\/code>/);
    assert.equal(entries(tenants.get('analytics')!, 'li', 'pool').size, 0);
    assert.match(tenants.get('analytics')!, /CPU only/);
  });

  it('refuses a tenant added twice', () => {
    const { page, research } = withTenants();
    assert.throws(() => page.addTenant(research), /start page: tenant "research" is added twice/);
  });

  it('shows kubectl access only once set, with issuer, client id and the tenants\' kubeconfig files', () => {
    const { app, page } = withTenants();
    assert.ok(!pageOf(objectsOf(app)).includes('kubectl access'), 'no section by default');
    page.setKubernetesAccess({ issuerUrl: 'https://auth.ml.test.example/realms/mlplat', clientId: 'kubectl' });
    const html = pageOf(objectsOf(app));
    const section = /<section id="kubectl">[\s\S]*?<\/section>/.exec(html)?.[0] ?? assert.fail('kubectl section');
    assert.ok(section.includes('kubectl krew install oidc-login'));
    assert.ok(section.includes('--oidc-issuer-url=https://auth.ml.test.example/realms/mlplat --oidc-client-id=kubectl'));
    for (const t of ['research', 'vision', 'analytics']) assert.ok(section.includes(`access/kubeconfig-${t}.yaml`), t);
    assert.throws(() => page.setKubernetesAccess({ issuerUrl: 'https://other.example', clientId: 'x' }), /start page: Kubernetes access is set twice/);
    const { page: other } = fixture();
    assert.throws(
      () => other.setKubernetesAccess({ issuerUrl: 'http://auth.ml.test.example/realms/mlplat', clientId: 'kubectl' }),
      /issuerUrl must be an https URL, as the API server requires \(got "http:\/\/auth\.ml\.test\.example\/realms\/mlplat"\)/,
    );
  });

  it('escapes every interpolated string', () => {
    const evil = route('evil', '<script>alert("x")</script>', 'Tom & Jerry\'s <b>tools</b>');
    const { app } = fixture({}, [evil]);
    const html = pageOf(objectsOf(app));
    assert.ok(!html.includes('<script'), 'no script element');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
    assert.ok(html.includes('Tom &amp; Jerry&#39;s &lt;b&gt;tools&lt;/b&gt;'));
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    const model: StartPageModel = {
      client: 'c<1>',
      domain: 'd&e',
      apps: [],
      tenants: [{ name: 't', namespace: 't', groups: ['"g"'], pools: [] }],
    };
    const out = renderStartPage(model);
    assert.ok(out.includes('<title>c&lt;1&gt; ML platform</title>'));
    assert.ok(out.includes('<p>d&amp;e</p>'));
    assert.ok(out.includes('<code>&quot;g&quot;</code>'));
  });

  it('refuses a link that is not http(s)', () => {
    const model: StartPageModel = { client: 'c', domain: 'd', apps: [{ app: 'x', title: 'X', purpose: 'p', host: 'h', url: 'javascript:alert(1)' }], tenants: [] };
    assert.throws(() => renderStartPage(model), /start page: app "x" has URL "javascript:alert\(1\)" \(only http and https links are listed\)/);
  });

  it('is one static document: inline CSS, no scripts, no external resources', () => {
    const { app } = withTenants();
    const html = pageOf(objectsOf(app));
    assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
    assert.match(html, /<meta charset="utf-8">/);
    assert.match(html, /<style>[\s\S]+<\/style>/);
    for (const forbidden of [/<script/i, /<link/i, /<img/i, /<iframe/i, /\ssrc=/i, /url\(/i, /@import/i, /\son\w+=/i]) {
      assert.doesNotMatch(html, forbidden);
    }
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(hrefs, ['https://mlflow.ml.test.example/', 'https://grafana.ml.test.example/'], 'the only links are the apps');
  });

  it('rolls the pods when the page changes: the config hash follows the page, also for routes added later', () => {
    const { app, router } = fixture();
    const before = objectsOf(app);
    const hashOf = (objects: any[]) => find(objects, 'Deployment', 'start-page', 'portal').spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
    const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);
    assert.equal(hashOf(before), sha(pageOf(before)));
    router.routes.push(route('kserve', 'KServe'));
    const after = objectsOf(app);
    assert.notEqual(hashOf(after), hashOf(before));
    assert.equal(hashOf(after), sha(pageOf(after)));
    assert.ok(entries(pageOf(after), 'li', 'app').has('kserve'));
  });

  it('renders the same output for the same input', () => {
    const a = objectsOf(withTenants().app);
    const b = objectsOf(withTenants().app);
    assert.equal(JSON.stringify(a), JSON.stringify(b));
    const { page } = withTenants();
    assert.equal(page.render(), page.render());
    assert.equal(page.render(), pageOf(a));
  });
});
