import { VERSIONS } from '../../lib/versions';
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CredentialGenerator, externalSecret } from '../../constructs/credentials/generator';
import { ISecretRef, S3_KEYS } from '../../constructs/credentials/types';
import { GpuOperator } from '../../constructs/gpu/operator';
import { POOL_LABEL } from '../../constructs/gpu/pool';
import { IObjectStore, serviceEndpoint } from '../../constructs/storage/types';
import { Tenant, TENANT_REACHABLE_LABEL } from '../../constructs/tenancy/tenant';
import { TENANT_LABEL } from '../../constructs/gpu/access-policy';
import {
  AGENT_KEYS,
  AGENT_SECRET,
  ClearmlServer,
  ClearmlServerOptions,
  clearmlAgentName,
} from '../../constructs/tracking/clearml';
import { toYaml } from '../../lib/synth';
import { all, find, objectsOf, testChart } from '../helpers';

/** An object store double: records grants, hands out refs to the Secrets a real store would write. */
class FakeStore implements IObjectStore {
  readonly kind = 'minio' as const;
  readonly s3 = serviceEndpoint('storage', 'minio', 9000, 's3');
  readonly region = 'us-east-1';
  readonly namespace = 'storage';
  readonly grants: Array<{ namespace: string; secretName: string; user: string; buckets: string[]; access: string; ref: ISecretRef }> = [];
  readonly tenantCredentials: ISecretRef[] = [];
  bucket(name: string) {
    return { name, uri: `s3://${name}` };
  }
  grant(target: { namespace: string; secretName: string; user: string }, buckets: readonly { name: string }[], access: 'read' | 'readwrite') {
    const ref = externalSecret(target.namespace, target.secretName, [S3_KEYS.accessKeyId, S3_KEYS.secretAccessKey], 'fake-store');
    this.grants.push({ ...target, buckets: buckets.map((b) => b.name), access, ref });
    return ref;
  }
  tenantBucket(tenant: { name: string; namespace: string }) {
    const credentials = externalSecret(tenant.namespace, 's3-credentials', Object.values(S3_KEYS), 'fake-store');
    if (!this.tenantCredentials.some((c) => c.namespace === tenant.namespace)) this.tenantCredentials.push(credentials);
    return { bucket: this.bucket(`tenant-${tenant.name}`), credentials };
  }
}

function fixture(options: ClearmlServerOptions = {}) {
  const { app, chart } = testChart();
  const credentials = new CredentialGenerator(chart, 'Credentials');
  const gpu = new GpuOperator(chart, 'Gpu');
  const a100 = gpu.addPool('a100', { gpuModel: 'A100-80GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.10gb' } });
  const l4 = gpu.addPool('l4', { gpuModel: 'L4', gpusPerNode: 1, sharing: { mode: 'timeSlicing', replicas: 4 } });
  const h100 = gpu.addPool('h100', { gpuModel: 'H100-80GB', gpusPerNode: 8 });
  const research = new Tenant(chart, 'Research', { name: 'research', groups: ['research'], cpu: '64', memory: '256Gi', gpus: gpu });
  research.grantGpus(a100, 2);
  research.grantGpus(l4, 1);
  const vision = new Tenant(chart, 'Vision', { name: 'vision-lab', groups: ['vision'], cpu: '16', memory: '64Gi', gpus: gpu });
  vision.grantGpus(h100, 1);
  const store = new FakeStore();
  const clearml = new ClearmlServer(chart, 'Clearml', { credentials, store, ...options });
  return { app, chart, credentials, gpu, a100, l4, h100, research, vision, store, clearml };
}

/** Pods (with their namespace) of every workload, including task pod templates held in ConfigMaps. */
function podSpecs(objects: readonly any[]): Array<{ where: string; namespace: string; spec: any; labels: Record<string, string> }> {
  const out: Array<{ where: string; namespace: string; spec: any; labels: Record<string, string> }> = [];
  for (const o of objects) {
    if (['Deployment', 'StatefulSet'].includes(o.kind)) {
      out.push({ where: `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`, namespace: o.metadata.namespace, spec: o.spec.template.spec, labels: o.spec.template.metadata.labels });
    }
    if (o.kind === 'ConfigMap' && o.data?.['pod-template.yaml']) {
      const t = parse(o.data['pod-template.yaml']);
      out.push({ where: `task template ${o.metadata.namespace}/${o.metadata.name}`, namespace: t.metadata.namespace, spec: t.spec, labels: t.metadata.labels });
    }
  }
  return out;
}

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

const envOf = (container: any): Record<string, any> => Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e]));

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> };

/** Kubernetes label selector semantics (matchLabels and matchExpressions). */
function selects(selector: Selector, labels: Record<string, string> = {}): boolean {
  if (!matches(selector.matchLabels ?? {}, labels)) return false;
  return (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const has = key in labels;
    if (operator === 'In') return has && values.includes(labels[key]);
    if (operator === 'NotIn') return !has || !values.includes(labels[key]);
    if (operator === 'Exists') return has;
    if (operator === 'DoesNotExist') return !has;
    throw new Error(`unknown operator ${operator}`);
  });
}

/** A client of a pod: its namespace (with that namespace's labels) and its own labels. */
interface Source { readonly namespace: string; readonly namespaceLabels: Record<string, string>; readonly podLabels?: Record<string, string> }

/**
 * Ports of a pod in `namespace` that `source` may connect to under `policies` (NetworkPolicies
 * add up): 'all', a list of ports, or 'unrestricted' when no policy selects the pod.
 */
function admittedPorts(policies: readonly any[], namespace: string, podLabels: Record<string, string>, source: Source): 'unrestricted' | 'all' | number[] {
  const selecting = policies.filter((p) => p.metadata.namespace === namespace && p.spec.policyTypes.includes('Ingress') && selects(p.spec.podSelector, podLabels));
  if (selecting.length === 0) return 'unrestricted';
  const ports = new Set<number>();
  for (const rule of selecting.flatMap((p) => p.spec.ingress ?? [])) {
    const admitted = !rule.from || rule.from.some((peer: any) =>
      (peer.namespaceSelector ? selects(peer.namespaceSelector, source.namespaceLabels) : source.namespace === namespace) &&
      (!peer.podSelector || selects(peer.podSelector, source.podLabels)));
    if (!admitted) continue;
    if (!rule.ports) return 'all';
    for (const p of rule.ports) ports.add(p.port);
  }
  return [...ports].sort();
}

/** Well-known values published in upstream files: none may appear in the output. */
const PUBLISHED_DEFAULTS = [
  // clearml-server apiserver/config/default/secure.conf and fileserver/config/default/secure.conf
  'V8gcW3EneNDcNfO7G_TSUsWe7uLozyacc9_I33o7bxUo8rCN31VLRg',
  'Rq8FW84sSqVgq7WvBB_4EzNl9y8z8IGiDXX3C345_a5AZfcwZcwCIA',
  '62T8CP7HGBC6647XF9314C2VY67RJO',
  'gaOfhDX2-bpkeI7-cwEcaMuGijxaG2UG3jbIvg4DxmVGF0LNI7rgvCb1-ne38IlBo1w',
  'GSQWPEKSKNKF354LC9V6BHXKTYFD5I',
  'tuBXcGQBECsEhcNiK2kiWi750z9r8Z85XrQ9V0c24huTuCb2xf2X1nKG',
  'EYVQ385RW7Y2QQUH88CZ7DWIQ1WUHP',
  'XhkH6a6ds9JBnM_MrahYyYdO-wS2bqFSm8gl-V0UZXH26Ydd6Eyi28TeBEoSr6Z3Bes',
  'EGRTCO8JMSIGI6S39GTP43NFWXDQOW',
  'LPEJbGJ6bK4tujQcmrD3i1dbMBDdwUwelVa-LG0K0FFmY9bzH_H0Sw',
  // clearml-helm-charts charts/clearml/values.yaml
  'GGS9F4M6XB2DXJ5AFT9F',
  '2oGujVFhPfaozhpuz2GzQfA5OyxmMsR3WVJpsCR5hrgHFs20PO',
  'XXCRJ123CEE2KSQ068WO',
  'YIy8EVAC7QCT4FtgitxAQGyW7xRHDZ4jpYlTE7HKiscpORl1hG',
  'GK4PRTVT3706T25K6BA1',
  'ymLh1ok5k5xNUQfS944Xdx9xjf0wueokqKM2dMZfHuH9ayItG2',
  'ENP39EQM4SLACGD5FXB7',
  'lPcm0imbcBZ8mwgO7tpadutiS3gnJD05x9j7afwXPS35IKbpiQ',
  // clearml-web src/environments/base.ts (older secret of the webserver user)
  'yfc8KQo*GMXb*9p((qcYC7ByFIpF7I&4VH3BfUYXH%o9vX1ZUZQEEw1Inc)S',
  // clearml-helm-charts charts/clearml-agent/values.yaml
  'ACCESSKEY',
  'SECRETKEY',
];

describe('ClearmlServer', () => {
  it('creates the clearml namespace: reachable from tenants, Pod Security baseline with the reason written down', () => {
    const { app } = fixture();
    const ns = find(objectsOf(app), 'Namespace', 'clearml');
    assert.equal(ns.metadata.labels[TENANT_REACHABLE_LABEL], 'true');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'baseline');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/audit'], 'restricted');
    assert.match(ns.metadata.annotations['mlplat.io/pod-security-reason'], /runs as root/);
  });

  it('points every Service at exactly one workload, on a port its containers declare', () => {
    const { app, clearml, research } = fixture();
    clearml.addTenant(research);
    const objects = objectsOf(app);
    const services = all(objects, 'Service', 'clearml');
    assert.deepEqual(services.map((s) => s.metadata.name).sort(), [
      'clearml-apiserver', 'clearml-elastic', 'clearml-fileserver', 'clearml-mongo', 'clearml-redis', 'clearml-webserver',
    ]);
    const pods = podSpecs(objects);
    for (const svc of services) {
      const targets = pods.filter((p) => p.namespace === 'clearml' && matches(svc.spec.selector, p.labels));
      assert.equal(targets.length, 1, `Service ${svc.metadata.name} selects ${targets.map((t) => t.where).join(', ') || 'nothing'}`);
      const portNames = targets[0].spec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => p.name));
      for (const port of svc.spec.ports) {
        assert.ok(portNames.includes(port.targetPort), `Service ${svc.metadata.name}: target port ${port.targetPort} is one of ${portNames}`);
      }
    }
  });

  it('gives the ingress handles that match the Services', () => {
    const { app, clearml } = fixture();
    const objects = objectsOf(app);
    for (const [endpoint, port] of [[clearml.api, 8008], [clearml.web, 8080], [clearml.files, 8081]] as const) {
      assert.equal(endpoint.port, port);
      assert.equal(endpoint.url, `http://${endpoint.name}.clearml.svc:${port}`);
      const svc = find(objects, 'Service', endpoint.name, 'clearml');
      assert.deepEqual(svc.spec.ports.map((p: any) => [p.name, p.port]), [[endpoint.portName, port]]);
    }
  });

  it('wires every workload selector to its own pod labels', () => {
    const { app, clearml, research } = fixture();
    clearml.addTenant(research);
    for (const o of objectsOf(app).filter((x) => ['Deployment', 'StatefulSet'].includes(x.kind)) as any[]) {
      assert.ok(matches(o.spec.selector.matchLabels, o.spec.template.metadata.labels), `${o.kind} ${o.metadata.name}`);
      assert.ok(!('app.kubernetes.io/version' in o.spec.selector.matchLabels));
    }
  });

  it('references only Secret keys that are declared, in the pod’s own namespace', () => {
    const { app, clearml, research, vision, credentials, store } = fixture();
    clearml.addTenant(research);
    clearml.addTenant(vision);
    const declared = [...credentials.secrets, ...store.grants.map((g) => g.ref), ...store.tenantCredentials];
    let refs = 0;
    for (const pod of podSpecs(objectsOf(app))) {
      for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          refs++;
          const secret = declared.find((s) => s.namespace === pod.namespace && s.name === ref.name);
          assert.ok(secret, `${pod.where}: env ${e.name} reads Secret ${pod.namespace}/${ref.name}, which nothing declares`);
          assert.ok(secret.keys.includes(ref.key), `${pod.where}: Secret ${ref.name} has no key ${ref.key}`);
        }
      }
    }
    assert.ok(refs > 20, `found ${refs} secret references`);
  });

  it('publishes none of the well-known upstream default secrets', () => {
    const { app, clearml, research, credentials } = fixture();
    clearml.addTenant(research);
    const yaml = toYaml(objectsOf(app));
    for (const value of PUBLISHED_DEFAULTS) assert.ok(!yaml.includes(value), `the output contains the published value ${value}`);
    // The generator creates the values in the cluster; its script holds no value either.
    for (const value of PUBLISHED_DEFAULTS) assert.ok(!credentials.script().includes(value));
  });

  it('generates the server secrets upstream would take from secure.conf and hands each to the env names the server reads', () => {
    const { app, clearml, credentials } = fixture();
    assert.equal(clearml.serverSecret.namespace, 'clearml');
    const script = credentials.script();
    for (const key of clearml.serverSecret.keys) assert.match(script, new RegExp(`gen ${key} \\d+`), `${key} is generated`);
    const objects = objectsOf(app);
    const apiserver = envOf(find(objects, 'Deployment', 'clearml-apiserver', 'clearml').spec.template.spec.containers[0]);
    const fromSecret = (env: Record<string, any>, name: string) => {
      const ref = env[name]?.valueFrom?.secretKeyRef;
      assert.ok(ref, `${name} is read from a Secret`);
      assert.equal(ref.name, 'clearml-server');
      return ref.key;
    };
    for (const name of [
      'CLEARML__SECURE__HTTP__SESSION_SECRET__APISERVER',
      'CLEARML__SECURE__AUTH__TOKEN_SECRET',
      'CLEARML__SECURE__CREDENTIALS__APISERVER__USER_KEY',
      'CLEARML__SECURE__CREDENTIALS__APISERVER__USER_SECRET',
    ]) fromSecret(apiserver, name);
    // The tests user keeps no key pair.
    assert.equal(apiserver.CLEARML__SECURE__CREDENTIALS__TESTS__USER_KEY.value, '""');
    assert.equal(apiserver.CLEARML__SECURE__CREDENTIALS__TESTS__USER_SECRET.value, '""');

    // The fileserver authenticates as the fileserver user the apiserver knows, the web app as the webserver user.
    const fileserver = envOf(find(objects, 'Deployment', 'clearml-fileserver', 'clearml').spec.template.spec.containers[0]);
    for (const suffix of ['USER_KEY', 'USER_SECRET']) {
      const name = `CLEARML__SECURE__CREDENTIALS__FILESERVER__${suffix}`;
      assert.equal(fromSecret(fileserver, name), fromSecret(apiserver, name));
    }
    const webserver = envOf(find(objects, 'Deployment', 'clearml-webserver', 'clearml').spec.template.spec.containers[0]);
    assert.equal(fromSecret(webserver, 'USER_KEY'), fromSecret(apiserver, 'CLEARML__SECURE__CREDENTIALS__WEBSERVER__USER_KEY'));
    assert.equal(fromSecret(webserver, 'USER_SECRET'), fromSecret(apiserver, 'CLEARML__SECURE__CREDENTIALS__WEBSERVER__USER_SECRET'));
    // The async-delete job signs fileserver tokens with the same token secret.
    const asyncDelete = envOf(find(objects, 'Deployment', 'clearml-async-delete', 'clearml').spec.template.spec.containers[0]);
    assert.equal(fromSecret(asyncDelete, 'CLEARML__SECURE__AUTH__TOKEN_SECRET'), fromSecret(apiserver, 'CLEARML__SECURE__AUTH__TOKEN_SECRET'));
  });

  it('connects the server to MongoDB, Elasticsearch and Redis through their Services', () => {
    const { app } = fixture();
    const objects = objectsOf(app);
    const apiserver = envOf(find(objects, 'Deployment', 'clearml-apiserver', 'clearml').spec.template.spec.containers[0]);
    for (const [prefix, svc] of [['ELASTIC', 'clearml-elastic'], ['MONGODB', 'clearml-mongo'], ['REDIS', 'clearml-redis']]) {
      assert.equal(apiserver[`CLEARML_${prefix}_SERVICE_HOST`].value, `${svc}.clearml.svc`);
      const port = find(objects, 'Service', svc, 'clearml').spec.ports[0].port;
      assert.equal(apiserver[`CLEARML_${prefix}_SERVICE_PORT`].value, String(port));
    }
    const fileserver = envOf(find(objects, 'Deployment', 'clearml-fileserver', 'clearml').spec.template.spec.containers[0]);
    assert.equal(fileserver.CLEARML__HOSTS__API_SERVER.value, '"http://clearml-apiserver.clearml.svc:8008"');
    assert.equal(fileserver.CLEARML_REDIS_SERVICE_HOST.value, 'clearml-redis.clearml.svc');
    const webserver = envOf(find(objects, 'Deployment', 'clearml-webserver', 'clearml').spec.template.spec.containers[0]);
    assert.equal(webserver.NGINX_APISERVER_ADDRESS.value, 'http://clearml-apiserver.clearml.svc:8008');
    assert.equal(webserver.NGINX_FILESERVER_ADDRESS.value, 'http://clearml-fileserver.clearml.svc:8081');
  });

  it('runs Elasticsearch as a single node without security, with a fixed heap and no privileged sysctl', () => {
    const { app } = fixture();
    const sts = find(objectsOf(app), 'StatefulSet', 'clearml-elastic', 'clearml');
    const es = sts.spec.template.spec.containers[0];
    const env = envOf(es);
    assert.equal(env['discovery.type'].value, 'single-node');
    assert.equal(env['xpack.security.enabled'].value, 'false');
    assert.equal(env['node.store.allow_mmap'].value, 'false');
    assert.equal(env.ES_JAVA_OPTS.value, '-Xms2g -Xmx2g');
    assert.equal(es.resources.limits.memory, '4Gi');
    assert.equal(sts.spec.template.spec.initContainers, undefined);
    assert.equal(es.readinessProbe.httpGet.path, '/_cluster/health?wait_for_status=yellow&timeout=1s');
  });

  it('keeps MongoDB, Elasticsearch and Redis on volumes of the chosen class, reachable only from the server', () => {
    const { app } = fixture({ storageClass: 'fast-ssd' });
    const objects = objectsOf(app);
    const pods = podSpecs(objects);
    for (const [name, size] of [['clearml-mongo', '50Gi'], ['clearml-elastic', '50Gi'], ['clearml-redis', '5Gi']]) {
      const sts = find(objects, 'StatefulSet', name, 'clearml');
      assert.equal(sts.spec.serviceName, name);
      assert.deepEqual(sts.spec.volumeClaimTemplates[0].spec, { accessModes: ['ReadWriteOnce'], storageClassName: 'fast-ssd', resources: { requests: { storage: size } } });
      const mounts = sts.spec.template.spec.containers[0].volumeMounts.map((m: any) => m.name);
      assert.ok(mounts.includes(sts.spec.volumeClaimTemplates[0].metadata.name));

      const policy = find(objects, 'NetworkPolicy', name, 'clearml');
      assert.deepEqual(policy.spec.podSelector.matchLabels, sts.spec.selector.matchLabels);
      const clients: Array<typeof pods> = policy.spec.ingress[0].from.map((f: any) => pods.filter((p) => p.namespace === 'clearml' && matches(f.podSelector.matchLabels, p.labels)));
      for (const c of clients) assert.equal(c.length, 1, 'each allowed client selects one server workload');
      const allowed = clients.flat().map((p) => p.where);
      assert.ok(allowed.includes('Deployment clearml/clearml-apiserver'));
      assert.ok(!allowed.some((w) => w.includes('webserver')), 'the web UI never talks to the backends');
    }
    assert.equal(find(objects, 'PersistentVolumeClaim', 'clearml-fileserver-data', 'clearml').spec.storageClassName, 'fast-ssd');
  });

  it('uses the cluster’s default storage class unless one is given', () => {
    const { app, clearml } = fixture();
    assert.equal(clearml.storageClass, undefined);
    const objects = objectsOf(app);
    assert.equal(find(objects, 'PersistentVolumeClaim', 'clearml-fileserver-data', 'clearml').spec.storageClassName, undefined);
    assert.equal(find(objects, 'StatefulSet', 'clearml-mongo', 'clearml').spec.volumeClaimTemplates[0].spec.storageClassName, undefined);
  });

  it('pins the upstream images by default and takes overrides', () => {
    const { app } = fixture();
    const image = (kind: string, name: string, objects = objectsOf(app)) => find(objects, kind, name, 'clearml').spec.template.spec.containers[0].image;
    const ref = (r: { registry: string; repository: string; tag: string }) => `${r.registry}/${r.repository}:${r.tag}`;
    assert.equal(image('Deployment', 'clearml-apiserver'), ref(VERSIONS.images.clearml.server));
    assert.equal(image('Deployment', 'clearml-webserver'), 'docker.io/allegroai/clearml:2.0.0-613');
    assert.equal(image('StatefulSet', 'clearml-mongo'), 'docker.io/library/mongo:6.0.19');
    assert.equal(image('StatefulSet', 'clearml-elastic'), 'docker.io/library/elasticsearch:8.17.0');
    assert.equal(image('StatefulSet', 'clearml-redis'), 'docker.io/library/redis:7.4.1');

    const o = fixture({ images: { server: 'mirror.example/clearml:2.0.0-613', redis: 'mirror.example/redis:7' } });
    const objects = objectsOf(o.app);
    assert.equal(image('Deployment', 'clearml-fileserver', objects), 'mirror.example/clearml:2.0.0-613');
    assert.equal(image('StatefulSet', 'clearml-redis', objects), 'mirror.example/redis:7');
  });

  it('probes the endpoints upstream’s chart uses, without credentials', () => {
    const { app } = fixture();
    const objects = objectsOf(app);
    const container = (name: string) => find(objects, 'Deployment', name, 'clearml').spec.template.spec.containers[0];
    for (const probe of ['livenessProbe', 'readinessProbe']) {
      assert.deepEqual(container('clearml-apiserver')[probe].httpGet, { path: '/debug.ping', port: 'http' });
      assert.equal(container('clearml-fileserver')[probe].httpGet.path, '/');
      assert.equal(container('clearml-webserver')[probe].httpGet.path, '/');
    }
    for (const pod of podSpecs(objects).filter((p) => p.namespace === 'clearml')) {
      for (const c of pod.spec.containers) {
        assert.ok(c.resources?.requests?.memory && c.resources?.limits?.memory, `${pod.where}: resources`);
        if (pod.where.endsWith('clearml-async-delete')) continue; // a queue worker without any port
        assert.ok(c.livenessProbe && c.readinessProbe, `${pod.where}: probes`);
      }
    }
  });

  it('runs the backends restricted-compliant and the root-only server images with every capability dropped', () => {
    const { app } = fixture();
    for (const pod of podSpecs(objectsOf(app)).filter((p) => p.namespace === 'clearml')) {
      const sc = pod.spec.securityContext;
      assert.equal(sc.seccompProfile.type, 'RuntimeDefault', pod.where);
      assert.equal(pod.spec.automountServiceAccountToken, false, pod.where);
      for (const c of pod.spec.containers) {
        assert.equal(c.securityContext.allowPrivilegeEscalation, false, pod.where);
        assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], pod.where);
      }
      if (pod.where.startsWith('StatefulSet')) {
        assert.equal(sc.runAsNonRoot, true, `${pod.where} runs as non-root`);
        assert.equal(pod.spec.containers[0].securityContext.capabilities.add, undefined);
      } else {
        assert.equal(sc.runAsUser, 0, `${pod.where}: the server image needs root`);
      }
    }
  });
});

describe('ClearmlServer artifacts', () => {
  it('sends each tenant’s task output to its own bucket, with its own credentials', () => {
    const { app, clearml, research, vision, store } = fixture();
    clearml.addTenant(research);
    clearml.addTenant(vision);
    const objects = objectsOf(app);
    for (const [tenant, pool] of [[research, 'a100'], [research, 'l4'], [vision, 'h100']] as const) {
      const { bucket, credentials } = store.tenantBucket(tenant);
      assert.equal(clearml.outputUri(tenant), `s3://minio.storage.svc:9000/${bucket.name}`);
      const cm = find(objects, 'ConfigMap', clearmlAgentName(tenant.name, pool), 'clearml');
      const task = parse(cm.data['pod-template.yaml']);
      assert.equal(task.metadata.namespace, tenant.namespace);
      const env = envOf(task.spec.containers[0]);
      assert.equal(env.CLEARML_DEFAULT_OUTPUT_URI.value, `s3://minio.storage.svc:9000/tenant-${tenant.name}`);
      for (const key of [S3_KEYS.accessKeyId, S3_KEYS.secretAccessKey]) {
        assert.deepEqual(env[key].valueFrom.secretKeyRef, { name: 's3-credentials', key });
      }
      assert.equal(credentials.namespace, tenant.namespace);
      // The SDK finds the keys for the store's host:port in clearml.conf, which names no key itself.
      assert.match(cm.data['task-clearml.conf'], /^sdk\.aws\.s3\.credentials: \[\{host: "minio\.storage\.svc:9000", key: \$\{AWS_ACCESS_KEY_ID\}, secret: \$\{AWS_SECRET_ACCESS_KEY\}, region: "us-east-1", secure: false\}\]$/m);
    }
  });

  it('grants no S3 user access to a shared bucket, and gives the server no S3 keys', () => {
    const { app, clearml, research, vision, store } = fixture();
    clearml.addTenant(research);
    clearml.addTenant(vision);
    assert.deepEqual(store.grants, [], 'no per-tenant user on `artifacts`, no server user');
    const objects = objectsOf(app);
    for (const name of ['clearml-apiserver', 'clearml-async-delete']) {
      const env = envOf(find(objects, 'Deployment', name, 'clearml').spec.template.spec.containers[0]);
      // storage.get_settings hands these to any user: an empty list also drops upstream's minioadmin entry.
      assert.equal(env.CLEARML__SERVICES__STORAGE_CREDENTIALS__AWS__S3__CREDENTIALS.value, '[]', name);
      assert.equal(env.AWS_ACCESS_KEY_ID, undefined, `${name}: the SDK would fall back to it as the default key`);
      assert.equal(env.AWS_SECRET_ACCESS_KEY, undefined, name);
    }
    assert.equal(all(objects, 'Secret').filter((s) => s.metadata.name === 'clearml-s3').length, 0);
  });

  it('keeps one API key pair per tenant, however many pools it has', () => {
    const { clearml, research, credentials } = fixture();
    clearml.addTenant(research);
    assert.equal(credentials.secrets.filter((s) => s.namespace === 'research' && s.name === AGENT_SECRET).length, 1);
    assert.equal(credentials.secrets.filter((s) => s.namespace === 'clearml' && s.name === 'clearml-agent-research').length, 1);
  });
});

describe('ClearmlServer network policies', () => {
  const tenantSource = (objects: readonly any[], tenant: string): Source =>
    ({ namespace: tenant, namespaceLabels: find(objects, 'Namespace', tenant).metadata.labels, podLabels: { 'app.kubernetes.io/name': 'clearml-agent', 'app.kubernetes.io/component': 'apiserver' } });
  const platformSource: Source = { namespace: 'traefik', namespaceLabels: { 'kubernetes.io/metadata.name': 'traefik' }, podLabels: {} };

  it('lets tenants reach only the apiserver and the fileserver, each on its own port', () => {
    const { app, clearml, research } = fixture();
    clearml.addTenant(research);
    const objects = objectsOf(app);
    assert.ok(TENANT_LABEL in find(objects, 'Namespace', 'research').metadata.labels);
    const policies = all(objects, 'NetworkPolicy');
    const pods = podSpecs(objects).filter((p) => p.namespace === 'clearml');
    assert.ok(pods.some((p) => p.where.includes('clearml-agent-research-a100')), 'the glue runs in clearml');
    for (const pod of pods) {
      const expected = pod.where === 'Deployment clearml/clearml-apiserver' ? [8008] : pod.where === 'Deployment clearml/clearml-fileserver' ? [8081] : [];
      // Even pods carrying whatever labels a tenant picks in its own namespace.
      assert.deepEqual(admittedPorts(policies, 'clearml', pod.labels, tenantSource(objects, 'research')), expected, pod.where);
    }
    // Those ports are the ones the Services send to.
    for (const [svc, port] of [['clearml-apiserver', 8008], ['clearml-fileserver', 8081]] as const) {
      const target = pods.find((p) => matches(find(objects, 'Service', svc, 'clearml').spec.selector, p.labels))!;
      assert.ok(target.spec.containers[0].ports.some((p: any) => p.containerPort === port), svc);
    }
  });

  it('serves the web UI (and its webserver key pair) only to namespaces that are not tenants’', () => {
    const { app, clearml, research } = fixture();
    clearml.addTenant(research);
    const objects = objectsOf(app);
    const policies = all(objects, 'NetworkPolicy', 'clearml');
    const web = podSpecs(objects).find((p) => p.where === 'Deployment clearml/clearml-webserver')!;
    assert.deepEqual(admittedPorts(policies, 'clearml', web.labels, tenantSource(objects, 'research')), []);
    assert.equal(admittedPorts(policies, 'clearml', web.labels, platformSource), 'all', 'the platform ingress reaches it');
    const selecting = policies.filter((p) => selects(p.spec.podSelector, web.labels));
    assert.deepEqual(selecting.map((p) => p.metadata.name), ['clearml-from-platform']);
    assert.deepEqual(selecting[0].spec.ingress, [{ from: [{ namespaceSelector: { matchExpressions: [{ key: TENANT_LABEL, operator: 'DoesNotExist' }] } }] }]);
  });

  it('leaves every pod in clearml isolated, and the backends to the server pods alone', () => {
    const { app, clearml, research } = fixture();
    clearml.addTenant(research);
    const objects = objectsOf(app);
    const policies = all(objects, 'NetworkPolicy', 'clearml');
    for (const pod of podSpecs(objects).filter((p) => p.namespace === 'clearml')) {
      const fromPlatform = admittedPorts(policies, 'clearml', pod.labels, platformSource);
      assert.notEqual(fromPlatform, 'unrestricted', `${pod.where} is selected by a policy`);
      if (pod.where.startsWith('StatefulSet')) {
        assert.deepEqual(fromPlatform, [], `${pod.where}: not from other namespaces`);
        const webserver = podSpecs(objects).find((p) => p.where === 'Deployment clearml/clearml-webserver')!;
        const sameNamespace = { namespace: 'clearml', namespaceLabels: find(objects, 'Namespace', 'clearml').metadata.labels, podLabels: webserver.labels };
        assert.deepEqual(admittedPorts(policies, 'clearml', pod.labels, sameNamespace), [], `${pod.where}: not from the webserver`);
      } else {
        assert.equal(fromPlatform, 'all', pod.where);
      }
    }
  });
});

describe('ClearmlServer agents', () => {
  it('adds one agent per granted pool in clearml, serving queue <tenant>-<pool> and launching into the tenant’s namespace', () => {
    const { app, clearml, research, vision } = fixture();
    assert.equal(clearml.agents, true);
    clearml.addTenant(research);
    clearml.addTenant(vision);
    assert.deepEqual(clearml.queues, [
      { tenant: 'research', pool: 'a100', queue: 'research-a100' },
      { tenant: 'research', pool: 'l4', queue: 'research-l4' },
      { tenant: 'vision-lab', pool: 'h100', queue: 'vision-lab-h100' },
    ]);
    const objects = objectsOf(app);
    const glues = all(objects, 'Deployment', 'clearml').filter((d) => d.metadata.name.startsWith('clearml-agent-'));
    assert.deepEqual(glues.map((d) => d.metadata.name), ['clearml-agent-research-a100', 'clearml-agent-research-l4', 'clearml-agent-vision-lab-h100']);
    for (const q of clearml.queues) {
      const name = clearmlAgentName(q.tenant, q.pool);
      assert.equal(name, `clearml-agent-${q.tenant}-${q.pool}`);
      const d = find(objects, 'Deployment', name, 'clearml');
      assert.equal(d.spec.replicas, 1);
      const glue = d.spec.template.spec.containers[0];
      const env = envOf(glue);
      assert.equal(env.MLPLAT_QUEUE.value, q.queue);
      assert.equal(env.MLPLAT_NAMESPACE.value, q.tenant, 'task pods go to the tenant’s namespace');
      assert.equal(env.CLEARML_API_HOST.value, clearml.api.url);
      assert.deepEqual(glue.command, ['python3', '/etc/clearml-agent/glue.py']);
      const cm = find(objects, 'ConfigMap', name, 'clearml');
      assert.match(cm.data['glue.py'], /create_queue=True/);
      assert.equal(parse(cm.data['pod-template.yaml']).metadata.namespace, q.tenant);
      assert.deepEqual(d.spec.template.spec.volumes.find((v: any) => v.name === 'config').configMap, { name: cm.metadata.name });
      // Each glue's selector picks its own pods only, though all share the namespace.
      const selected = glues.filter((g) => matches(d.spec.selector.matchLabels, g.spec.template.metadata.labels));
      assert.deepEqual(selected.map((g) => g.metadata.name), [name]);
    }
    // No agent object is left in the tenants' namespaces, where members could change or relabel it.
    for (const ns of ['research', 'vision-lab']) {
      for (const kind of ['Deployment', 'ConfigMap', 'ServiceAccount', 'NetworkPolicy']) {
        assert.deepEqual(all(objects, kind, ns).filter((o) => o.metadata.name.startsWith('clearml')).map((o) => o.metadata.name), [], `${kind} in ${ns}`);
      }
    }
    // Worker ids differ: the glue finds its pods by a label derived from it.
    const ids = glues.map((d) => envOf(d.spec.template.spec.containers[0]).CLEARML_WORKER_ID.value);
    assert.equal(new Set(ids).size, ids.length);
    // addTenant is idempotent per pool.
    assert.deepEqual(clearml.addTenant(research), []);
  });

  it('launches task pods on the pool, with its GPU resource, the tenant’s workload identity and a restricted security context', () => {
    const { app, clearml, research, a100, l4 } = fixture();
    clearml.addAgent(research, a100, 2);
    clearml.addAgent(research, l4);
    const objects = objectsOf(app);
    for (const [pool, resource, units] of [[a100, 'nvidia.com/mig-1g.10gb', 2], [l4, 'nvidia.com/gpu', 1]] as const) {
      const name = clearmlAgentName('research', pool.name);
      const t = parse(find(objects, 'ConfigMap', name, 'clearml').data['pod-template.yaml']);
      assert.equal(t.apiVersion, 'v1');
      assert.equal(t.metadata.namespace, 'research');
      assert.equal(t.spec.priorityClassName, `mlplat-gpu-${pool.name}`);
      assert.deepEqual(t.spec.nodeSelector, { [POOL_LABEL]: pool.name });
      assert.deepEqual(t.spec.tolerations, [{ key: POOL_LABEL, operator: 'Equal', value: pool.name, effect: 'NoSchedule' }]);
      assert.deepEqual(t.spec.containers[0].resources.limits, { [resource]: units });
      assert.equal(t.spec.serviceAccountName, research.serviceAccountName);
      assert.equal(t.spec.automountServiceAccountToken, false);
      assert.equal(t.spec.securityContext.runAsNonRoot, true);
      assert.equal(t.spec.securityContext.seccompProfile.type, 'RuntimeDefault');
      assert.equal(t.spec.containers[0].securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(t.spec.containers[0].securityContext.capabilities, { drop: ['ALL'] });
      assert.notEqual(t.metadata.labels['app.kubernetes.io/managed-by'], 'mlplat', 'pods the glue creates are never pruned by mlplat');
      // The glue stops taking tasks before the tenant's quota would reject its pods.
      const env = envOf(find(objects, 'Deployment', name, 'clearml').spec.template.spec.containers[0]);
      assert.equal(env.MLPLAT_MAX_PODS.value, String(Math.floor((research.gpuGrants.get(pool)! * pool.unitsPerGpu) / units)));
    }
  });

  it('lets the glue’s ServiceAccount in clearml manage pods in its tenant’s namespace only', () => {
    const { app, clearml, research } = fixture();
    clearml.addTenant(research);
    const objects = objectsOf(app);
    const name = 'clearml-agent-research-a100';
    const role = find(objects, 'Role', name, 'research');
    assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] }]);
    const binding = find(objects, 'RoleBinding', name, 'research');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name, namespace: 'clearml' }]);
    find(objects, 'ServiceAccount', name, 'clearml');
    const pod = find(objects, 'Deployment', name, 'clearml').spec.template.spec;
    assert.equal(pod.serviceAccountName, name);
    assert.equal(pod.automountServiceAccountToken, true);
    // Nothing in clearml itself (where the credentials generator keeps its own Role), nor cluster-wide.
    const boundToGlue = (b: any) => (b.subjects ?? []).some((s: any) => s.kind === 'ServiceAccount' && s.name === name);
    assert.deepEqual(all(objects, 'RoleBinding').filter(boundToGlue).map((b) => b.metadata.namespace), ['research']);
    assert.equal(all(objects, 'ClusterRole').filter((r) => r.metadata.name.includes('clearml')).length, 0);
    assert.equal(all(objects, 'ClusterRoleBinding').filter((r) => r.metadata.name.includes('clearml')).length, 0);
  });

  it('runs the glue restricted-compliant, with no egress exception in the tenant’s namespace', () => {
    const { app, clearml, research } = fixture();
    clearml.addTenant(research);
    const objects = objectsOf(app);
    const d = find(objects, 'Deployment', 'clearml-agent-research-a100', 'clearml');
    const pod = d.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    const c = pod.containers[0];
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(c.workingDir, '/home/clearml-agent');
    assert.ok(c.resources.limits.memory);
    assert.equal(all(objects, 'NetworkPolicy').filter((p) => p.metadata.name === 'clearml-agent-kube-api').length, 0);
    assert.equal(all(objects, 'NetworkPolicy', 'research').filter((p) => p.metadata.name.startsWith('clearml')).length, 0);
  });

  it('registers each tenant’s generated key pair with the apiserver; the glue reads the copy in clearml, task pods the tenant’s Secret', () => {
    const { app, clearml, research, vision, credentials } = fixture();
    clearml.addTenant(research);
    clearml.addTenant(vision);
    const objects = objectsOf(app);
    const apiserver = envOf(find(objects, 'Deployment', 'clearml-apiserver', 'clearml').spec.template.spec.containers[0]);
    const script = credentials.script();
    for (const [tenant, user, pool] of [['research', 'AGENT_RESEARCH', 'a100'], ['vision-lab', 'AGENT_VISION_LAB', 'h100']]) {
      const prefix = `CLEARML__SECURE__CREDENTIALS__${user}__`;
      assert.equal(apiserver[`${prefix}ROLE`].value, 'user');
      assert.equal(apiserver[`${prefix}DISPLAY_NAME`].value, `"ClearML agent ${tenant}"`);
      const key = apiserver[`${prefix}USER_KEY`].valueFrom.secretKeyRef;
      assert.deepEqual(key, { name: `clearml-agent-${tenant}`, key: 'USER_KEY' });
      // ...a copy of the Secret in the tenant's namespace that its task pods read.
      assert.ok(script.includes(`copy USER_KEY '${tenant}' '${AGENT_SECRET}' ${AGENT_KEYS.accessKey}`), `${tenant}: key copied`);
      assert.ok(script.includes(`copy USER_SECRET '${tenant}' '${AGENT_SECRET}' ${AGENT_KEYS.secretKey}`), `${tenant}: secret copied`);
      assert.ok(script.indexOf(`begin '${tenant}' '${AGENT_SECRET}'`) < script.indexOf(`begin 'clearml' 'clearml-agent-${tenant}'`), 'generated before it is copied');

      const name = clearmlAgentName(tenant, pool);
      const glue = envOf(find(objects, 'Deployment', name, 'clearml').spec.template.spec.containers[0]);
      assert.deepEqual(glue[AGENT_KEYS.accessKey].valueFrom.secretKeyRef, { name: `clearml-agent-${tenant}`, key: 'USER_KEY' });
      assert.deepEqual(glue[AGENT_KEYS.secretKey].valueFrom.secretKeyRef, { name: `clearml-agent-${tenant}`, key: 'USER_SECRET' });
      const task = envOf(parse(find(objects, 'ConfigMap', name, 'clearml').data['pod-template.yaml']).spec.containers[0]);
      assert.deepEqual(task[AGENT_KEYS.accessKey].valueFrom.secretKeyRef, { name: AGENT_SECRET, key: AGENT_KEYS.accessKey });
      assert.deepEqual(task[AGENT_KEYS.secretKey].valueFrom.secretKeyRef, { name: AGENT_SECRET, key: AGENT_KEYS.secretKey });
    }
  });

  it('keeps every derived name and label within Kubernetes’ limits for a 56-character tenant', () => {
    const { app, chart, gpu, a100, l4, clearml, credentials } = fixture();
    const long = `${'computer-vision-'.repeat(3)}research`; // 56 characters, the longest tenant name
    assert.equal(long.length, 56);
    const tenant = new Tenant(chart, 'Long', { name: long, groups: ['cv'], cpu: '8', memory: '32Gi', gpus: gpu });
    tenant.grantGpus(a100, 1);
    tenant.grantGpus(l4, 1);
    clearml.addTenant(tenant);
    const objects = objectsOf(app);

    const names = [clearmlAgentName(long, 'a100'), clearmlAgentName(long, 'l4')];
    assert.notEqual(names[0], names[1]);
    for (const name of names) {
      assert.ok(name.length <= 63, `${name} has ${name.length} characters`);
      assert.match(name, /^clearml-agent-computer-vision-.*-[0-9a-f]{8}$/);
      assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 label');
      for (const [kind, ns] of [['Deployment', 'clearml'], ['ConfigMap', 'clearml'], ['ServiceAccount', 'clearml'], ['Role', long], ['RoleBinding', long]]) {
        // The shortened name hides tenant and pool; the labels keep them.
        assert.equal(find(objects, kind, name, ns).metadata.labels[TENANT_LABEL], long, `${kind} ${name}`);
      }
      assert.ok(find(objects, 'Deployment', name, 'clearml').metadata.labels[POOL_LABEL]);
    }
    assert.equal(clearmlAgentName(long, 'a100'), names[0], 'deterministic');

    const label = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
    for (const o of objects.filter((x: any) => x.metadata.name.startsWith('clearml') || x.metadata.namespace === 'clearml') as any[]) {
      if (o.kind !== 'Secret') assert.ok(o.metadata.name.length <= 63, `${o.kind} ${o.metadata.name}`);
      const labelSets = [o.metadata.labels, o.spec?.selector?.matchLabels, o.spec?.template?.metadata?.labels];
      for (const labels of labelSets) {
        for (const [k, v] of Object.entries(labels ?? {}) as Array<[string, string]>) {
          assert.ok(v.length <= 63 && label.test(v), `${o.kind} ${o.metadata.name}: label ${k}=${v}`);
        }
      }
    }
    for (const pod of podSpecs(objects)) {
      for (const [k, v] of Object.entries(pod.labels)) assert.ok(v.length <= 63 && label.test(v), `${pod.where}: label ${k}=${v}`);
    }
    // The apiserver's copy of the key pair is a Secret: its name may be up to 253 characters.
    const copy = credentials.secrets.find((s) => s.namespace === 'clearml' && s.name === `clearml-agent-${long}`);
    assert.ok(copy && copy.name.length <= 253);
    // The glue labels task pods with the queue name's first 63 characters.
    for (const q of clearml.queues.filter((x) => x.tenant === long)) assert.match(q.queue.slice(0, 63), /[a-z0-9]$/);
  });

  it('refuses an agent whose queue (and Deployment name) another tenant’s agent already has', () => {
    const { chart, gpu, clearml } = fixture();
    const c = gpu.addPool('c', { gpuModel: 'L4', gpusPerNode: 1 });
    const bc = gpu.addPool('b-c', { gpuModel: 'L4', gpusPerNode: 1 });
    const ab = new Tenant(chart, 'Ab', { name: 'a-b', groups: ['ab'], cpu: '1', memory: '1Gi', gpus: gpu });
    const a = new Tenant(chart, 'A', { name: 'a', groups: ['a'], cpu: '1', memory: '1Gi', gpus: gpu });
    ab.grantGpus(c, 1);
    a.grantGpus(bc, 1);
    clearml.addAgent(ab, c);
    assert.throws(() => clearml.addAgent(a, bc), /ClearML agent of tenant "a" on pool "b-c": its queue "a-b-c" is already served by the agent of tenant "a-b" on pool "c"/);
    assert.equal(clearml.queues.length, 1);
  });

  it('refuses an agent whose queue name, cut to 63 characters for the glue’s pod label, ends in "-"', () => {
    const { chart, gpu, clearml } = fixture();
    const pool = gpu.addPool('h100s-x', { gpuModel: 'H100-80GB', gpusPerNode: 8 });
    const tenant = new Tenant(chart, 'Long', { name: 'x'.repeat(56), groups: ['x'], cpu: '1', memory: '1Gi', gpus: gpu });
    tenant.grantGpus(pool, 1);
    assert.throws(() => clearml.addAgent(tenant, pool), /the glue labels task pods with the queue name's first 63 characters, "x{56}-h100s-", which ends in "-"/);
    assert.deepEqual(clearml.queues, []);
  });

  it('refuses an agent on a pool the tenant was not granted', () => {
    const { clearml, research, h100 } = fixture();
    assert.throws(() => clearml.addAgent(research, h100), /tenant "research" has no grant on GPU pool "h100" \(granted: a100, l4\)/);
    assert.deepEqual(clearml.queues, []);
  });

  it('refuses a second agent for the same tenant and pool', () => {
    const { clearml, research, a100 } = fixture();
    clearml.addAgent(research, a100);
    assert.throws(() => clearml.addAgent(research, a100), /tenant "research" already has a ClearML agent on pool "a100"/);
  });

  it('refuses units the tenant’s quota cannot hold, or that a time-sliced pool cannot serve', () => {
    const { clearml, research, a100, l4 } = fixture();
    assert.throws(() => clearml.addAgent(research, a100, 0), /units must be a whole number from 1 to 14/);
    assert.throws(() => clearml.addAgent(research, a100, 15), /units must be a whole number from 1 to 14/);
    assert.throws(() => clearml.addAgent(research, a100, 1.5), /units must be a whole number/);
    assert.throws(() => clearml.addAgent(research, l4, 2), /time-sliced pool serves one replica per pod, so units must be 1/);
  });

  it('with agents: false, adds no agents and refuses an explicit one', () => {
    const { app, clearml, research, a100 } = fixture({ agents: false });
    assert.deepEqual(clearml.addTenant(research), []);
    assert.throws(() => clearml.addAgent(research, a100), /ClearML agents are disabled \(agents: false\)/);
    const objects = objectsOf(app);
    assert.equal(all(objects, 'Deployment', 'research').length, 0);
    assert.equal(all(objects, 'Deployment', 'clearml').filter((d) => d.metadata.name.startsWith('clearml-agent-')).length, 0);
    const apiserver = envOf(find(objects, 'Deployment', 'clearml-apiserver', 'clearml').spec.template.spec.containers[0]);
    assert.ok(!Object.keys(apiserver).some((k) => k.includes('AGENT_')));
  });

  it('emits the same objects for the same input (structure snapshot)', () => {
    const { app, clearml, research } = fixture();
    clearml.addTenant(research);
    const ids = objectsOf(app)
      .filter((o) => o.metadata.name.startsWith('clearml')) // not the tenants' or the credentials generator's own objects
      .map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    assert.deepEqual(ids, [
      'Namespace /clearml',
      'NetworkPolicy clearml/clearml-mongo',
      'NetworkPolicy clearml/clearml-elastic',
      'NetworkPolicy clearml/clearml-redis',
      'NetworkPolicy clearml/clearml-from-platform',
      'NetworkPolicy clearml/clearml-apiserver-from-tenants',
      'NetworkPolicy clearml/clearml-fileserver-from-tenants',
      'ServiceAccount clearml/clearml-mongo',
      'ServiceAccount clearml/clearml-elastic',
      'ServiceAccount clearml/clearml-redis',
      'ServiceAccount clearml/clearml-apiserver',
      'ServiceAccount clearml/clearml-async-delete',
      'ServiceAccount clearml/clearml-fileserver',
      'ServiceAccount clearml/clearml-webserver',
      'ServiceAccount clearml/clearml-agent-research-a100',
      'ServiceAccount clearml/clearml-agent-research-l4',
      'ConfigMap clearml/clearml-agent-research-a100',
      'ConfigMap clearml/clearml-agent-research-l4',
      'PersistentVolumeClaim clearml/clearml-fileserver-data',
      'Role research/clearml-agent-research-a100',
      'Role research/clearml-agent-research-l4',
      'RoleBinding research/clearml-agent-research-a100',
      'RoleBinding research/clearml-agent-research-l4',
      'Service clearml/clearml-mongo',
      'Service clearml/clearml-elastic',
      'Service clearml/clearml-redis',
      'Service clearml/clearml-apiserver',
      'Service clearml/clearml-fileserver',
      'Service clearml/clearml-webserver',
      'Deployment clearml/clearml-apiserver',
      'Deployment clearml/clearml-async-delete',
      'Deployment clearml/clearml-fileserver',
      'Deployment clearml/clearml-webserver',
      'Deployment clearml/clearml-agent-research-a100',
      'Deployment clearml/clearml-agent-research-l4',
      'StatefulSet clearml/clearml-mongo',
      'StatefulSet clearml/clearml-elastic',
      'StatefulSet clearml/clearml-redis',
    ]);
  });
});
