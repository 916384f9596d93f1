import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CredentialGenerator } from '../../constructs/credentials/generator';
import { S3_KEYS } from '../../constructs/credentials/types';
import { TENANT_LABEL } from '../../constructs/gpu/access-policy';
import { IGpuFleet } from '../../constructs/gpu/operator';
import { GpuPool, IGpuPool } from '../../constructs/gpu/pool';
import { Alloy, ALLOY_HTTP_PORT, LOG_LABELS, namespaceLabelMeta, PLATFORM_TENANT } from '../../constructs/observability/alloy';
import { durationHours, Loki, LokiOptions, LOKI_HTTP_PORT } from '../../constructs/observability/loki';
import { MONITORING_NAMESPACE } from '../../constructs/observability/types';
import { MinioStore } from '../../constructs/storage/minio';
import { Tenant } from '../../constructs/tenancy/tenant';
import { VERSIONS } from '../../lib/versions';
import { all, find, objectsOf, testChart } from '../helpers';

function fixture(options: { loki?: LokiOptions; pools?: IGpuPool[]; ctx?: Parameters<typeof testChart>[0] } = {}) {
  const { app, chart } = testChart(options.ctx);
  const credentials = new CredentialGenerator(chart, 'Credentials');
  const store = new MinioStore(chart, 'Minio', { credentials });
  const loki = new Loki(chart, 'Loki', { store, ...options.loki });
  const fleet: { pools: IGpuPool[]; resourceNames: string[] } = { pools: options.pools ?? [], resourceNames: ['nvidia.com/gpu'] };
  const alloy = new Alloy(chart, 'Alloy', { logs: loki, gpus: fleet as IGpuFleet });
  return { app, chart, credentials, store, loki, alloy, fleet };
}

const release = (objects: any[], name: string) => find(objects, 'HelmRelease', name, MONITORING_NAMESPACE);
const lokiValues = (app: Parameters<typeof objectsOf>[0]) => release(objectsOf(app), 'loki').spec.values;
const alloyValues = (app: Parameters<typeof objectsOf>[0]) => release(objectsOf(app), 'alloy').spec.values;

interface Rule {
  source_labels?: string[];
  regex?: string;
  target_label?: string;
  replacement?: string;
}

/** The `rule` blocks of the config's discovery.relabel component (attribute values are JSON-compatible). */
function relabelRules(config: string): Rule[] {
  const body = /discovery\.relabel "pods" \{([\s\S]*?)\n\}/.exec(config)?.[1] ?? assert.fail('no discovery.relabel "pods" block');
  return [...body.matchAll(/rule \{([^}]*)\}/g)].map((m) =>
    Object.fromEntries(
      m[1]
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .map((l) => {
          const [k, v] = l.split(/\s*=\s*(.*)/s);
          return [k, JSON.parse(v)];
        }),
    ),
  );
}

/** Prometheus `replace` relabeling (the only action the config uses): anchored regex, `$n`, empty result deletes. */
function relabel(rules: readonly Rule[], input: Record<string, string>): Record<string, string> {
  const labels = { ...input };
  for (const r of rules) {
    const value = (r.source_labels ?? []).map((l) => labels[l] ?? '').join(';');
    const match = new RegExp(`^(?:${r.regex ?? '(.*)'})$`, 's').exec(value);
    if (!match) continue;
    const result = (r.replacement ?? '$1').replace(/\$\{?(\d+)\}?/g, (_, i) => match[Number(i)] ?? '');
    if (result === '') delete labels[r.target_label!];
    else labels[r.target_label!] = result;
  }
  return labels;
}

/** What Alloy ships with each line: the target's labels without the `__` ones. */
const streamLabels = (labels: Record<string, string>) => Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith('__')));

describe('Loki', () => {
  it('installs the single-binary chart in the monitoring namespace with every extra pod and CRD object off', () => {
    const { app } = fixture();
    const objects = objectsOf(app);
    const hr = release(objects, 'loki');
    assert.equal(hr.spec.releaseName, 'loki');
    assert.equal(hr.spec.chart.spec.chart, 'loki');
    assert.equal(hr.spec.chart.spec.version, '18.11.0');
    const repo = find(objects, 'HelmRepository', VERSIONS.charts.loki.repository.name, MONITORING_NAMESPACE);
    assert.equal(repo.spec.url, 'https://grafana-community.github.io/helm-charts');
    const v = hr.spec.values;
    assert.equal(v.deploymentMode, 'Monolithic');
    assert.equal(v.singleBinary.replicas, 1);
    assert.deepEqual([v.read.replicas, v.write.replicas, v.backend.replicas], [0, 0, 0], 'no SimpleScalable targets');
    for (const off of ['gateway', 'lokiCanary', 'test', 'chunksCache', 'resultsCache', 'memcached', 'ruler']) {
      assert.equal(v[off].enabled, false, `${off} is off`);
    }
    assert.equal(v.sidecar.rules.enabled, false, 'no rules sidecar (its ClusterRole reads every Secret)');
    assert.deepEqual(v.monitoring, { serviceMonitor: { enabled: false }, dashboards: { enabled: false }, rules: { enabled: false }, alerts: { enabled: false } });
    assert.equal(v.loki.auth_enabled, false, 'one Loki tenant; mlplat tenants are a stream label');
    assert.equal(v.loki.commonConfig.replication_factor, 1);
    assert.equal(v.loki.analytics.reporting_enabled, false);
    assert.deepEqual(v.defaults, { automountServiceAccountToken: false, enableServiceLinks: false });
    assert.equal(v.serviceAccount.automountServiceAccountToken, false);
    assert.equal(v.memberlist.service.publishNotReadyAddresses, true, 'the one pod can join memberlist before it is Ready');
    assert.equal(v.global, undefined, 'images from their upstream registries');
  });

  it('stores chunks and index in the platform bucket "logs" as its own S3 user, with no key in the values', () => {
    const { app, store, loki, credentials } = fixture();
    const v = lokiValues(app);
    assert.ok(store.bucketNames.includes('logs'));
    assert.equal(loki.bucket.name, 'logs');
    assert.deepEqual(v.loki.storage.bucketNames, { chunks: 'logs' });
    assert.deepEqual(v.loki.storage.s3, { endpoint: store.s3.url, region: store.region, s3ForcePathStyle: true, insecure: true });
    // The S3 user may use exactly the logs bucket, read and write (the compactor deletes).
    const policy = store.policy('loki');
    assert.deepEqual([...new Set(policy.Statement.flatMap((s: any) => s.Resource))], ['arn:aws:s3:::logs', 'arn:aws:s3:::logs/*']);
    assert.ok(policy.Statement.some((s: any) => s.Action.includes('s3:DeleteObject')));
    // Credentials come from the granted Secret in Loki's namespace, one env var per key.
    assert.equal(loki.credentials.namespace, MONITORING_NAMESPACE);
    const declared = credentials.secrets.find((s) => s.namespace === MONITORING_NAMESPACE && s.name === loki.credentials.name);
    assert.ok(declared, 'the Secret Loki reads is declared by the credentials generator');
    const env = v.singleBinary.extraEnv as any[];
    assert.deepEqual(env.map((e) => e.name), [S3_KEYS.accessKeyId, S3_KEYS.secretAccessKey]);
    for (const e of env) {
      assert.equal(e.value, undefined, `${e.name} is not a literal`);
      assert.equal(e.valueFrom.secretKeyRef.name, declared.name);
      assert.ok(declared.keys.includes(e.valueFrom.secretKeyRef.key), `${declared.name} holds ${e.valueFrom.secretKeyRef.key}`);
    }
    const text = JSON.stringify(v);
    for (const key of ['accessKeyId', 'secretAccessKey', 'access_key_id', 'secret_access_key']) assert.ok(!text.includes(key), `no ${key} in the values`);
    assert.equal(all(objectsOf(app), 'Secret', MONITORING_NAMESPACE).length, 0, 'no Secret object in the output');
  });

  it('applies the documented defaults: 30d retention by the compactor, a 10Gi volume, 250m/512Mi requested and 2Gi limit', () => {
    const { app, loki } = fixture();
    const v = lokiValues(app);
    assert.equal(loki.retention, '30d');
    assert.equal(v.loki.limits_config.retention_period, '30d');
    assert.equal(v.loki.compactor.retention_enabled, true);
    // Retention needs a delete-request store; it must name the schema's object store.
    assert.equal(v.loki.compactor.delete_request_store, v.loki.schemaConfig.configs[0].object_store);
    assert.equal(v.loki.compactor.working_directory, '/var/loki/compactor', 'on the persistent volume (/var/loki)');
    assert.deepEqual(v.loki.schemaConfig.configs, [
      { from: '2024-04-01', store: 'tsdb', object_store: 's3', schema: 'v13', index: { prefix: 'loki_index_', period: '24h' } },
    ]);
    assert.deepEqual(v.singleBinary.persistence, { enabled: true, size: '10Gi' }, 'no storageClass: the cluster default');
    assert.deepEqual(v.singleBinary.resources, { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '2Gi' } });
  });

  it('takes retention, volume size, StorageClass and resources from options', () => {
    const resources = { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '2', memory: '8Gi' } };
    const { app } = fixture({ loki: { retention: '12w', size: '50Gi', storageClass: 'fast', resources } });
    const v = lokiValues(app);
    assert.equal(v.loki.limits_config.retention_period, '12w');
    assert.deepEqual(v.singleBinary.persistence, { enabled: true, size: '50Gi', storageClass: 'fast' });
    assert.deepEqual(v.singleBinary.resources, resources);
  });

  it('refuses a retention that is not a Loki duration, or shorter than the 24h index period', () => {
    for (const bad of ['one month', '30 d', '', '30D', 'd', '1d1w']) {
      assert.throws(() => fixture({ loki: { retention: bad } }), new RegExp(`logs retention "${bad}" is not a Loki duration`));
    }
    for (const short of ['12h', '0s', '1439m']) {
      assert.throws(() => fixture({ loki: { retention: short } }), new RegExp(`logs retention "${short}" is shorter than 24h`));
    }
    for (const ok of ['24h', '744h', '4w', '1y', '1w2d']) assert.doesNotThrow(() => fixture({ loki: { retention: ok } }));
    assert.equal(durationHours('1w2d'), 216);
    assert.equal(durationHours('1y'), 8760);
  });

  it('serves query and push on the chart\'s Service, and is scraped on the single-binary pod\'s metrics port', () => {
    const { app, loki } = fixture();
    const hr = release(objectsOf(app), 'loki');
    // The chart names its Service after the release (fullname) and serves HTTP on 3100 (`http-metrics`).
    assert.equal(loki.endpoint.name, hr.spec.releaseName);
    assert.equal(loki.endpoint.namespace, hr.metadata.namespace);
    assert.equal(loki.endpoint.port, LOKI_HTTP_PORT);
    assert.equal(loki.lokiUrl, 'http://loki.monitoring.svc:3100');
    assert.equal(loki.pushUrl, 'http://loki.monitoring.svc:3100/loki/api/v1/push');
    // The pod labels the chart renders on the single binary (`helm template` of 18.11.0).
    assert.deepEqual(loki.scrapeTargets, [
      {
        name: 'loki',
        namespace: MONITORING_NAMESPACE,
        podSelector: { 'app.kubernetes.io/name': 'loki', 'app.kubernetes.io/instance': hr.spec.releaseName, 'app.kubernetes.io/component': 'single-binary' },
        port: 'http-metrics',
        path: '/metrics',
        component: 'loki',
      },
    ]);
  });

  it('pulls Loki and Alloy images through the platform registry when one is set', () => {
    const { app } = fixture({ ctx: { imageRegistry: 'registry.internal/mirror/' } });
    assert.deepEqual(lokiValues(app).global, { imageRegistry: 'registry.internal/mirror' });
    assert.equal(alloyValues(app).global.image.registry, 'registry.internal/mirror');
  });
});

describe('Alloy', () => {
  it('installs the chart as a DaemonSet: no CRDs, no usage reporting, no reloader, no Service or ServiceMonitor', () => {
    const { app } = fixture();
    const objects = objectsOf(app);
    const hr = release(objects, 'alloy');
    assert.equal(hr.spec.chart.spec.chart, 'alloy');
    assert.equal(hr.spec.chart.spec.version, '1.11.1');
    assert.equal(find(objects, 'HelmRepository', VERSIONS.charts.alloy.repository.name, MONITORING_NAMESPACE).spec.url, 'https://grafana.github.io/helm-charts');
    const v = hr.spec.values;
    assert.deepEqual(v.crds, { create: false });
    assert.equal(v.controller.type, 'daemonset');
    assert.equal(v.alloy.enableReporting, false);
    assert.equal(v.alloy.stabilityLevel, 'generally-available');
    assert.deepEqual(v.configReloader, { enabled: false });
    assert.deepEqual([v.service.enabled, v.serviceMonitor.enabled], [false, false]);
    assert.equal(v.global.image, undefined);
  });

  it('reads logs through the API with narrowed RBAC (pods, pods/log, namespaces; never Secrets) and no hostPath', () => {
    const { app } = fixture();
    const v = alloyValues(app);
    const read = ['get', 'list', 'watch'];
    assert.deepEqual(v.rbac.rules, [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: read }]);
    // Non-empty: the chart renders invalid YAML for `clusterRules: []` next to custom rules.
    assert.deepEqual(v.rbac.clusterRules, [{ apiGroups: [''], resources: ['namespaces'], verbs: read }]);
    const resources = [...v.rbac.rules, ...v.rbac.clusterRules].flatMap((r: any) => r.resources);
    assert.ok(!resources.some((r: string) => ['secrets', 'configmaps'].includes(r)));
    assert.deepEqual(v.alloy.mounts.varlog, false);
    assert.deepEqual(v.alloy.mounts.dockercontainers, false);
    assert.ok(!JSON.stringify(v).includes('hostPath'));
    assert.equal(v.serviceAccount.automountServiceAccountToken, true, 'Alloy calls the API');
  });

  it('runs as the image\'s non-root alloy user with a read-only root filesystem, probes, limits and its state on an emptyDir', () => {
    const { app, alloy } = fixture();
    const v = alloyValues(app);
    assert.deepEqual(v.global.podSecurityContext, {
      runAsNonRoot: true,
      runAsUser: 473,
      runAsGroup: 473,
      fsGroup: 473,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(v.alloy.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    assert.deepEqual(v.alloy.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
    assert.deepEqual(alloy.resources, v.alloy.resources);
    assert.equal(v.alloy.livenessProbe.httpGet.port, ALLOY_HTTP_PORT);
    assert.equal(v.alloy.livenessProbe.httpGet.path, '/-/ready');
    // The storage path lies on a mounted volume, and that volume is an emptyDir.
    const mount = (v.alloy.mounts.extra as any[]).find((m) => v.alloy.storagePath.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `${v.alloy.storagePath} is on a mounted volume`);
    assert.deepEqual((v.controller.volumes.extra as any[]).find((x) => x.name === mount.name), { name: mount.name, emptyDir: {} });
    const resources = { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } };
    const { app: custom, chart } = testChart();
    const store = new MinioStore(chart, 'Minio', { credentials: new CredentialGenerator(chart, 'Credentials') });
    new Alloy(chart, 'Alloy', { logs: new Loki(chart, 'Loki', { store }), resources });
    assert.deepEqual(alloyValues(custom).alloy.resources, resources);
  });

  it('runs the config it exposes, discovering only its own node\'s pods and tailing them through the API', () => {
    const { app, alloy } = fixture();
    const config = alloyValues(app).alloy.configMap.content;
    assert.equal(config, alloy.config);
    assert.match(config, /role\s+= "pod"\n\t\tfield = "spec\.nodeName=" \+ coalesce\(sys\.env\("HOSTNAME"\), constants\.hostname\)/);
    assert.match(config, /attach_metadata \{\n\t\tnamespace = true\n\t\}/, 'namespace labels on every target');
    assert.match(config, /loki\.source\.kubernetes "pods" \{\n\ttargets {4}= discovery\.relabel\.pods\.output\n\tforward_to = \[loki\.write\.default\.receiver\]/);
    assert.ok(!config.includes('loki.source.file'), 'no /var/log tailing');
    assert.ok(!config.includes('{{'), 'the chart passes the content through tpl');
  });

  it('labels every line with namespace, pod, container, node and tenant (the namespace label, or _platform)', () => {
    const { app, chart, alloy } = fixture();
    new Tenant(chart, 'Research', { name: 'research', groups: ['research'], cpu: '8', memory: '32Gi' });
    const ns = find(objectsOf(app), 'Namespace', 'research');
    // The config reads the label tenancy puts on tenant namespaces, under discovery's meta name.
    assert.equal(ns.metadata.labels[TENANT_LABEL], 'research');
    const meta = namespaceLabelMeta(TENANT_LABEL);
    assert.equal(meta, '__meta_kubernetes_namespace_label_mlplat_io_tenant');
    const rules = relabelRules(alloy.config);
    const target = (namespace: string, nsLabels: Record<string, string>) => ({
      __meta_kubernetes_namespace: namespace,
      __meta_kubernetes_pod_name: `${namespace}-worker-0`,
      __meta_kubernetes_pod_container_name: 'main',
      __meta_kubernetes_pod_node_name: 'gpu-node-1',
      __meta_kubernetes_pod_uid: '0000',
      ...Object.fromEntries(Object.entries(nsLabels).map(([k, v]) => [namespaceLabelMeta(k), v])),
    });
    const tenantLine = streamLabels(relabel(rules, target('research', ns.metadata.labels)));
    assert.deepEqual(tenantLine, { namespace: 'research', pod: 'research-worker-0', container: 'main', node: 'gpu-node-1', tenant: 'research' });
    const platformLine = streamLabels(relabel(rules, target('monitoring', { 'pod-security.kubernetes.io/enforce': 'privileged' })));
    assert.equal(platformLine.tenant, PLATFORM_TENANT);
    assert.deepEqual(Object.keys(platformLine).sort(), [...LOG_LABELS].sort());
    assert.ok(!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(PLATFORM_TENANT), 'no tenant (a DNS label) can be named like the platform');
  });

  it('pushes to the push URL of the Loki Service', () => {
    const { app, alloy, loki } = fixture();
    const url = /loki\.write "default" \{\n\tendpoint \{\n\t\turl = ("[^"]*")/.exec(alloy.config)?.[1] ?? assert.fail('no loki.write endpoint');
    const push = new URL(JSON.parse(url));
    assert.equal(push.href, loki.pushUrl);
    const hr = release(objectsOf(app), 'loki');
    assert.equal(push.hostname, `${hr.spec.releaseName}.${hr.metadata.namespace}.svc`, 'the chart\'s Service: release name, release namespace');
    assert.equal(Number(push.port), LOKI_HTTP_PORT);
    assert.equal(push.pathname, '/loki/api/v1/push');
  });

  it('tolerates the taint of every GPU pool, including pools added after it', () => {
    const { app: bare } = fixture();
    assert.deepEqual(alloyValues(bare).controller.tolerations, [], 'no pools: no tolerations');
    const { app, chart, fleet } = fixture();
    const l4 = new GpuPool(chart, 'L4', { name: 'l4', gpuModel: 'L4', gpusPerNode: 4 });
    const a100 = new GpuPool(chart, 'A100', { name: 'a100', gpuModel: 'A100-80GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.10gb' } });
    fleet.pools.push(l4, a100);
    const tolerations = alloyValues(app).controller.tolerations;
    assert.equal(tolerations.length, 2);
    for (const pool of [l4, a100]) {
      for (const taint of pool.nodeTaints) {
        assert.ok(
          tolerations.some((t: any) => t.key === taint.key && t.value === taint.value && t.effect === taint.effect && t.operator === 'Equal'),
          `pool ${pool.name}: tolerates ${taint.key}=${taint.value}:${taint.effect}`,
        );
      }
    }
  });

  it('is scraped on every pod\'s metrics port, and renders the same output for the same input', () => {
    const { app, alloy } = fixture();
    const hr = release(objectsOf(app), 'alloy');
    assert.deepEqual(alloy.scrapeTargets, [
      {
        name: 'alloy',
        namespace: MONITORING_NAMESPACE,
        podSelector: { 'app.kubernetes.io/name': 'alloy', 'app.kubernetes.io/instance': hr.spec.releaseName },
        port: 'http-metrics',
        path: '/metrics',
        component: 'alloy',
      },
    ]);
    const ids = (objects: any[]) => objects.filter((o) => o.metadata.namespace === MONITORING_NAMESPACE).map((o) => `${o.kind} ${o.metadata.name}`);
    // The chart releases, and the Role the credentials generator writes Loki's S3 Secret with.
    assert.deepEqual(ids(objectsOf(app)).sort(), [
      'HelmRelease alloy',
      'HelmRelease loki',
      'HelmRepository grafana',
      'HelmRepository grafana-community',
      'Role mlplat-credentials',
      'RoleBinding mlplat-credentials',
    ]);
    assert.deepEqual(objectsOf(fixture().app), objectsOf(app));
  });
});
