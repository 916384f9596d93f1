import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'cdk8s';
import { CredentialGenerator } from '../../constructs/credentials/generator';
import { TENANT_CACHE_CLAIM } from '../../constructs/cache/dataset-cache';
import { ACME_SOLVER_LABEL } from '../../constructs/edge/traefik';
import { KUBERNETES_CLIENT_ID } from '../../constructs/identity/kubernetes-access';
import { IOidcProvider } from '../../constructs/identity/types';
import { SERVING_PREFIX } from '../../constructs/serving/endpoint';
import { DEFAULT_RUNTIMES, KSERVE_API_GROUP, KSERVE_NAMESPACE } from '../../constructs/serving/kserve';
import { TokenGate } from '../../constructs/serving/token-gate';
import { tenantBucketName } from '../../constructs/storage/types';
import { MlflowServer } from '../../constructs/tracking/mlflow';
import { loadPlatform } from '../../lib/config/load';
import { AFTER_OPERATORS_DIR, KubeObject, outputFiles } from '../../lib/synth';
import { VERSIONS } from '../../lib/versions';
import { MlPlatform, platformApp } from '../../stacks/platform';
import { ACME, acmeWith, all, find, objectsOf, ROOT, synthText, testChart } from '../helpers';

const FETCH_SCRIPT = fs.readFileSync(path.join(ROOT, 'constructs', 'serving', 'fetch-mlflow.py'), 'utf8');

/** acme, synthesized once. */
const ACME_SPEC = loadPlatform(ACME).spec;
const acme = (() => {
  const { app, platform } = platformApp(ACME_SPEC);
  return { objects: objectsOf(app), files: outputFiles(app), platform };
})();
const MODELS = ACME_SPEC.spec.serving!.models;

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

/**
 * The scalar a resource quantity or int-or-string field carries. Tolerates the `{ value }` wrapper
 * (a cdk8s Quantity that nothing resolved) so the semantic tests below stay meaningful; the test
 * "writes quantities … as plain scalars" checks the serialization itself.
 */
const scalar = (v: any): string | number => (v !== null && typeof v === 'object' && 'value' in v ? v.value : v);
const scalars = (m: Record<string, any> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, String(scalar(v))]));

const isvcOf = (objects: readonly KubeObject[], name: string, ns: string) => find(objects, 'InferenceService', name, ns);
const secretKey = (s: { readonly namespace: string; readonly name: string }) => `${s.namespace}/${s.name}`;

/**
 * A small platform with what serving needs: pools (whole GPUs, time-sliced, MIG), tenant `team`
 * granted all three, tenant `other` granted none, optional tracking and dataset cache.
 */
function servingPlatform(options: { tracking?: 'mlflow' | 'clearml'; cache?: boolean } = {}) {
  const app = new App();
  const p = new MlPlatform(app, 'Platform', { client: 'demo', domain: 'ml.demo.example' });
  p.gpu.addPool('h100', { gpuModel: 'H100-80GB', gpusPerNode: 8 });
  p.gpu.addPool('l4', { gpuModel: 'L4', gpusPerNode: 1, sharing: { mode: 'timeSlicing', replicas: 4 } });
  p.gpu.addPool('a100', { gpuModel: 'A100-80GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.10gb' } });
  p.enableStorage({ kind: 'minio' });
  p.enableIngress({ tls: { mode: 'selfSigned' } });
  p.enableSso();
  if (options.tracking) p.enableTracking({ kind: options.tracking });
  if (options.cache) p.enableDatasetCache({ size: '1Ti', nfs: { server: 'nfs.demo.internal', path: '/cache' } }).addPrefetch({ name: 'llama', source: 's3://models/llama' });
  const team = p.addTenant('team', { groups: ['team', 'team-leads'], cpu: '64', memory: '256Gi' });
  team.grantGpus(p.gpu.pool('h100'), 2);
  team.grantGpus(p.gpu.pool('l4'), 1);
  team.grantGpus(p.gpu.pool('a100'), 1);
  p.addTenant('other', { groups: ['other'], cpu: '8', memory: '32Gi' });
  return { app, platform: p };
}

/** A CPU model of tenant `team` from its own bucket; fields of `extra` override. */
const cpuModel = (extra: Partial<Parameters<MlPlatform['serveModel']>[0]> = {}): Parameters<MlPlatform['serveModel']>[0] => ({
  name: 'm',
  tenant: 'team',
  format: 'sklearn',
  source: { uri: 's3://tenant-team/models/m' },
  resources: { cpu: '1', memory: '1Gi' },
  ...extra,
});

describe('Kserve: three chart releases in namespace kserve', () => {
  const { objects, platform } = acme;
  const releases = all(objects, 'HelmRelease', KSERVE_NAMESPACE);
  const release = (name: string) => find(objects, 'HelmRelease', name, KSERVE_NAMESPACE);

  it('installs the CRDs, the controller and the runtimes at the pinned versions from one shared OCI HelmRepository', () => {
    assert.deepEqual(releases.map((r) => [r.metadata.name, r.spec.chart.spec.chart, r.spec.chart.spec.version]), [
      ['kserve-crd', VERSIONS.charts.kserveCrd.chart, VERSIONS.charts.kserveCrd.version],
      ['kserve', VERSIONS.charts.kserve.chart, VERSIONS.charts.kserve.version],
      ['kserve-runtime-configs', VERSIONS.charts.kserveRuntimes.chart, VERSIONS.charts.kserveRuntimes.version],
    ]);
    assert.deepEqual(releases.map((r) => r.spec.chart.spec.chart), ['kserve-crd', 'kserve-resources', 'kserve-runtime-configs']);
    for (const r of releases) assert.equal(r.spec.chart.spec.version, 'v0.20.0', r.metadata.name);
    const [repo, ...more] = all(objects, 'HelmRepository', KSERVE_NAMESPACE);
    assert.equal(more.length, 0, 'one HelmRepository for the three charts');
    assert.deepEqual(repo.spec, { url: 'oci://ghcr.io/kserve/charts', type: 'oci', interval: '1h' });
    for (const r of releases) assert.deepEqual(r.spec.chart.spec.sourceRef, { kind: 'HelmRepository', name: repo.metadata.name, namespace: KSERVE_NAMESPACE });
    const ns = find(objects, 'Namespace', KSERVE_NAMESPACE);
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('orders them CRDs → controller (after cert-manager, which issues its webhook certificate) → runtimes', () => {
    assert.equal(release('kserve-crd').spec.dependsOn, undefined);
    const certManager = platform.ingress!.certManager.release;
    find(objects, 'HelmRelease', certManager.releaseName, certManager.namespace);
    assert.deepEqual(release('kserve').spec.dependsOn, [
      { name: 'kserve-crd', namespace: KSERVE_NAMESPACE },
      { name: certManager.releaseName, namespace: certManager.namespace },
    ]);
    assert.deepEqual(release('kserve-runtime-configs').spec.dependsOn, [{ name: 'kserve', namespace: KSERVE_NAMESPACE }]);
    const k = platform.serving!.kserve;
    assert.deepEqual(k.controller.dependsOn, [k.crds, certManager]);
    assert.deepEqual(k.runtimes.dependsOn, [k.controller]);
  });

  it('runs the controller in Standard mode without its own Ingress, naming <model>.<tenant>.<domain> as status URL', () => {
    const values = release('kserve').spec.values.kserve;
    assert.equal(values.controller.deploymentMode, 'Standard');
    const gw = values.controller.gateway;
    assert.equal(gw.disableIngressCreation, true);
    assert.equal(gw.urlScheme, 'https');
    assert.equal(gw.domain, platform.context.domain);
    // KServe renders domainTemplate with the isvc's name and namespace: it must give the routed host.
    for (const route of platform.ingress!.router.routes.filter((r) => r.auth === 'token')) {
      const isvc = route.app.replace(/^model-/, '');
      const rendered = gw.domainTemplate.replace('{{ .Name }}', isvc).replace('{{ .Namespace }}', route.namespace).replace('{{ .IngressDomain }}', gw.domain);
      assert.equal(`${gw.urlScheme}://${rendered}/`, route.url);
    }
    assert.equal(values.security.autoMountServiceAccountToken, false);
    assert.equal(values.controller.image, undefined, 'upstream images without an imageRegistry');
  });

  it('points the storage initializer at the platform store (endpoint and region), path-style', () => {
    const s3 = release('kserve').spec.values.kserve.storage.s3;
    const store = platform.storage!;
    assert.deepEqual(s3, { endpoint: store.s3.url, region: store.region, useVirtualBucket: 'false' });
    assert.match(s3.endpoint, /^http:\/\/minio\.minio\.svc:9000$/);
  });

  it('turns the runtimes on, without the unpinned root vLLM runtime, with a bounded /dev/shm for Hugging Face', () => {
    assert.deepEqual(release('kserve-runtime-configs').spec.values, { kserve: { servingruntime: { enabled: true, vllmserver: { disabled: true }, huggingfaceserver: { devShm: { enabled: true, sizeLimit: '2Gi' } } } } });
    assert.deepEqual(release('kserve-crd').spec.values, {});
  });

  it('pulls the controller and the storage initializer through the mirror when one is set', () => {
    const { objects: mirrored } = synthText(acmeWith([['domain: ml.acme.example', 'domain: ml.acme.example\n  imageRegistry: registry.acme.internal/mirror']]));
    const values = find(mirrored, 'HelmRelease', 'kserve', KSERVE_NAMESPACE).spec.values.kserve;
    assert.equal(values.controller.image, 'registry.acme.internal/mirror/kserve/kserve-controller');
    assert.equal(values.storage.image, 'registry.acme.internal/mirror/kserve/storage-initializer');
  });

  it('provides serving.kserve.io: InferenceServices (and the endpoint routes) go to after-operators/, the charts first', () => {
    assert.deepEqual(platform.serving!.kserve.crds.provides, [KSERVE_API_GROUP]);
    // Numbered by the component order: find serving's files by name.
    const first = acme.files.find((f) => /^\d+-kserve\.yaml$/.test(f.name))!.content;
    const after = acme.files.find((f) => new RegExp(`^${AFTER_OPERATORS_DIR}/\\d+-kserve\\.yaml$`).test(f.name))!.content;
    assert.ok(first.includes('kind: HelmRelease') && !first.includes('kind: InferenceService'));
    assert.equal((after.match(/^kind: InferenceService$/gm) ?? []).length, MODELS.length);
    assert.ok(!after.includes('kind: HelmRelease'));
  });
});

describe('InferenceEndpoint: every acme model', () => {
  const { objects, platform } = acme;
  const tenantOf = (name: string) => platform.tenants.find((t) => t.name === name)!;

  it('writes one InferenceService per model in its tenant namespace, in Standard mode, loading with the tenant S3 Secret', () => {
    assert.deepEqual(all(objects, 'InferenceService').map((o) => `${o.metadata.namespace}/${o.metadata.name}`), MODELS.map((m) => `${m.tenant}/${m.name}`));
    assert.deepEqual(platform.serving!.endpoints.map((e) => `${e.namespace}/${e.name}`), MODELS.map((m) => `${m.tenant}/${m.name}`));
    const declared = new Map(platform.credentials.secrets.map((s) => [secretKey(s), s]));
    for (const m of MODELS) {
      const isvc = isvcOf(objects, m.name, m.tenant);
      assert.equal(isvc.apiVersion, 'serving.kserve.io/v1beta1');
      const a = isvc.metadata.annotations;
      assert.equal(a['serving.kserve.io/deploymentMode'], 'Standard', m.name);
      const secret = platform.storage!.tenantBucket(tenantOf(m.tenant)).credentials;
      assert.equal(a['serving.kserve.io/secretName'], secret.name);
      assert.equal(secret.name, 's3-credentials');
      const declaredSecret = declared.get(`${m.tenant}/${secret.name}`);
      assert.ok(declaredSecret, `${m.name}: Secret ${m.tenant}/${secret.name} is declared by the generator`);
      assert.ok(declaredSecret.keys.includes('AWS_ACCESS_KEY_ID') && declaredSecret.keys.includes('AWS_SECRET_ACCESS_KEY'), 'keys the chart names (accessKeyIdName, secretAccessKeyName)');
    }
  });

  it('fixes the replica count when min == max (no HPA), scales on CPU between min and max, and rolls with one surge pod', () => {
    for (const m of MODELS) {
      const isvc = isvcOf(objects, m.name, m.tenant);
      const p = isvc.spec.predictor;
      const max = m.replicas.max ?? m.replicas.min;
      assert.equal(isvc.metadata.annotations['serving.kserve.io/autoscalerClass'], max > m.replicas.min ? 'hpa' : 'none', m.name);
      assert.equal(p.minReplicas, m.replicas.min);
      assert.equal(p.maxReplicas, max, 'max defaults to min');
      assert.equal(p.scaleMetric, max > m.replicas.min ? 'cpu' : undefined);
      assert.equal(p.scaleTarget, max > m.replicas.min ? 80 : undefined);
      assert.equal(p.deploymentStrategy.type, 'RollingUpdate');
      assert.deepEqual([scalar(p.deploymentStrategy.rollingUpdate.maxSurge), scalar(p.deploymentStrategy.rollingUpdate.maxUnavailable)], [1, 0]);
    }
    assert.deepEqual([isvcOf(objects, 'churn', 'serving').spec.predictor.minReplicas, isvcOf(objects, 'churn', 'serving').spec.predictor.maxReplicas], [2, 4]);
    assert.equal(isvcOf(objects, 'llama-chat', 'serving').metadata.annotations['serving.kserve.io/autoscalerClass'], 'none');
  });

  it("places GPU models on their pool exactly as the pool says, and CPU models off every pool", () => {
    for (const m of MODELS) {
      const p = isvcOf(objects, m.name, m.tenant).spec.predictor;
      if (m.pool) {
        const placement = platform.gpu.pool(m.pool).placement();
        assert.equal(p.priorityClassName, placement.priorityClassName, m.name);
        assert.deepEqual(p.nodeSelector, placement.nodeSelector);
        assert.deepEqual(p.tolerations, placement.tolerations);
        assert.deepEqual(p.nodeSelector, { 'mlplat.io/gpu-pool': m.pool });
      } else {
        for (const k of ['priorityClassName', 'nodeSelector', 'tolerations']) assert.equal(p[k], undefined, `${m.name}: ${k}`);
      }
    }
  });

  it("requests the pool's GPU resource in requests AND limits, with CPU and memory in both (KServe merges key by key)", () => {
    for (const m of MODELS) {
      const r = isvcOf(objects, m.name, m.tenant).spec.predictor.model.resources;
      const expected: Record<string, string> = { cpu: m.resources.cpu, memory: m.resources.memory };
      if (m.pool) expected[platform.gpu.pool(m.pool).resourceName] = String(m.gpus ?? 1);
      assert.deepEqual(scalars(r.requests), expected, `${m.name} requests`);
      assert.deepEqual(scalars(r.limits), expected, `${m.name} limits`);
    }
    const llama = isvcOf(objects, 'llama-chat', 'serving').spec.predictor.model.resources;
    assert.equal(String(scalar(llama.limits['nvidia.com/gpu'])), '1');
  });

  it('serves on port http 8080 (names the predictor Service port), with the runtime of the format and its args', () => {
    for (const m of MODELS) {
      const model = isvcOf(objects, m.name, m.tenant).spec.predictor.model;
      assert.deepEqual(model.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }], m.name);
      assert.deepEqual(model.modelFormat, { name: m.format });
      assert.equal(model.runtime, DEFAULT_RUNTIMES[m.format]);
      assert.deepEqual(model.args, m.args.length ? m.args : undefined);
      const e = platform.serving!.endpoints.find((x) => x.name === m.name)!;
      assert.deepEqual(e.service, { name: `${m.name}-predictor`, port: 'http' });
      assert.equal(e.targetPort, 8080);
      assert.deepEqual(e.podSelector, { 'serving.kserve.io/inferenceservice': m.name });
    }
    assert.equal(isvcOf(objects, 'llama-chat', 'serving').spec.predictor.model.runtime, 'kserve-huggingfaceserver');
    assert.equal(isvcOf(objects, 'churn', 'serving').spec.predictor.model.runtime, 'kserve-mlserver');
  });

  it("meets Pod Security restricted: non-root, seccomp RuntimeDefault, no privilege escalation, no capabilities, no API token, the tenant's ServiceAccount", () => {
    for (const m of MODELS) {
      const p = isvcOf(objects, m.name, m.tenant).spec.predictor;
      assert.deepEqual(p.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }, m.name);
      assert.deepEqual(p.model.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      assert.equal(p.automountServiceAccountToken, false);
      assert.equal(p.serviceAccountName, tenantOf(m.tenant).serviceAccountName);
      find(objects, 'ServiceAccount', p.serviceAccountName, m.tenant);
    }
  });

  it('mounts a cache source read-only at /mnt/models (subPath = the entry) and downloads nothing', () => {
    const m = MODELS.find((x) => x.source.cache)!;
    const isvc = isvcOf(objects, m.name, m.tenant);
    const p = isvc.spec.predictor;
    assert.equal(p.model.storageUri, undefined, 'no storageUri: no storage initializer');
    assert.equal(platform.serving!.endpoints.find((e) => e.name === m.name)!.storageUri, undefined);
    assert.deepEqual(p.volumes, [{ name: 'dataset-cache', persistentVolumeClaim: { claimName: TENANT_CACHE_CLAIM, readOnly: true } }]);
    const models = p.model.volumeMounts.find((v: any) => v.mountPath === '/mnt/models');
    assert.deepEqual(models, { name: 'dataset-cache', mountPath: '/mnt/models', subPath: m.source.cache, readOnly: true });
    assert.ok(p.model.volumeMounts.every((v: any) => v.readOnly === true && p.volumes.some((vol: any) => vol.name === v.name)), 'every mount is read-only, of a declared volume');
    // The claim exists in the tenant namespace, and the entry is one the cache fills.
    find(objects, 'PersistentVolumeClaim', TENANT_CACHE_CLAIM, m.tenant);
    assert.ok(ACME_SPEC.spec.datasetCache!.prefetch.some((e) => e.name === m.source.cache));
  });

  it("loads an MLflow source from a fixed path in the tenant's bucket, derived from the reference", () => {
    const m = MODELS.find((x) => x.source.mlflow)!;
    const expected = `s3://${tenantBucketName(m.tenant)}/${SERVING_PREFIX}/${m.name}/mlflow-${m.source.mlflow!.model}-v${m.source.mlflow!.version}/`;
    assert.equal(expected, 's3://tenant-serving/mlplat-serving/churn/mlflow-churn-v3/');
    assert.equal(isvcOf(objects, m.name, m.tenant).spec.predictor.model.storageUri, expected);
    assert.equal(platform.serving!.endpoints.find((e) => e.name === m.name)!.storageUri, expected);
  });

  it('copies the MLflow version with a Job in the tenant namespace, with its own MLflow and S3 credentials, into that path', () => {
    const m = MODELS.find((x) => x.source.mlflow)!;
    const jobs = all(objects, 'Job', m.tenant).filter((j) => j.metadata.name.startsWith(`model-${m.name}-fetch-`));
    assert.equal(jobs.length, 1);
    const job = jobs[0];
    assert.match(job.metadata.name, /^model-churn-fetch-[0-9a-f]{8}$/);
    const pod = job.spec.template.spec;
    const [c] = pod.containers;
    const env = new Map<string, string>(c.env.map((e: any) => [e.name, e.value]));
    assert.equal(env.get('TARGET_URI'), isvcOf(objects, m.name, m.tenant).spec.predictor.model.storageUri, 'the Job writes where the predictor reads');
    assert.equal(env.get('MODEL_NAME'), m.source.mlflow!.model);
    assert.equal(env.get('MODEL_VERSION'), String(m.source.mlflow!.version));
    assert.equal(env.get('AWS_ENDPOINT_URL'), platform.storage!.s3.url);
    assert.equal(env.get('AWS_DEFAULT_REGION'), platform.storage!.region);
    assert.ok(c.env.every((e: any) => e.valueFrom === undefined), 'credentials only through envFrom');
    assert.deepEqual(c.envFrom, [{ secretRef: { name: 'mlflow-credentials' } }, { secretRef: { name: 's3-credentials' } }]);
    const declared = new Map(platform.credentials.secrets.map((s) => [secretKey(s), s]));
    const mlflow = declared.get(`${m.tenant}/mlflow-credentials`);
    assert.ok(mlflow, 'mlflow-credentials is declared by the generator in the tenant namespace');
    for (const k of ['MLFLOW_TRACKING_URI', 'MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD', 'MLFLOW_WORKSPACE']) assert.ok(mlflow.keys.includes(k), k);
    assert.ok(declared.get(`${m.tenant}/s3-credentials`)?.keys.includes('AWS_SECRET_ACCESS_KEY'), 's3-credentials is declared in the tenant namespace');
    const tracking = platform.tracking;
    assert.ok(tracking instanceof MlflowServer);
    assert.equal(c.image, tracking.image, 'the MLflow image (mlflow and boto3 inside)');
    // The script, from a ConfigMap holding exactly the file.
    assert.deepEqual(c.command, ['python', '-B', '/etc/model-fetch/fetch.py']);
    const script = pod.volumes.find((v: any) => v.name === c.volumeMounts.find((x: any) => x.mountPath === '/etc/model-fetch').name);
    const cm = find(objects, 'ConfigMap', script.configMap.name, m.tenant);
    assert.equal(cm.metadata.name, job.metadata.name, 'the script is named like the Job (by content)');
    assert.equal(cm.data['fetch.py'], FETCH_SCRIPT);
    // Baseline: the tenant's ServiceAccount, non-root, read-only root, bounded resources, retries.
    assert.equal(pod.serviceAccountName, 'workload');
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
    assert.ok(c.volumeMounts.some((v: any) => v.mountPath === '/tmp') && env.get('HOME') === '/tmp', 'a writable /tmp for the download');
    assert.equal(pod.restartPolicy, 'OnFailure');
    assert.ok(job.spec.backoffLimit >= 1);
  });

  it('names the fetch Job by content: a new version is a new Job (and a new path); the same config the same Job', () => {
    const jobOf = (objects: readonly KubeObject[]) => all(objects, 'Job', 'serving').filter((j) => j.metadata.name.startsWith('model-churn-fetch-'));
    const v4 = synthText(acmeWith([['source: { mlflow: { model: churn, version: 3 } }', 'source: { mlflow: { model: churn, version: 4 } }']])).objects;
    const [a] = jobOf(objects);
    const [b] = jobOf(v4);
    assert.notEqual(a.metadata.name, b.metadata.name);
    assert.equal(isvcOf(v4, 'churn', 'serving').spec.predictor.model.storageUri, 's3://tenant-serving/mlplat-serving/churn/mlflow-churn-v4/');
    assert.equal(find(v4, 'ConfigMap', b.metadata.name, 'serving').data['fetch.py'], FETCH_SCRIPT, 'each Job has its own script, named like it: an old Job still retrying keeps its own');
    assert.equal(all(v4, 'ConfigMap', 'serving').filter((c) => c.metadata.name.startsWith('model-churn-fetch')).length, 1);
    const again = synthText(fs.readFileSync(ACME, 'utf8')).objects;
    assert.equal(jobOf(again)[0].metadata.name, a.metadata.name);
    assert.ok(a.metadata.name.length <= 63);
  });

  it('writes no fetch Job or script for cache and uri sources', () => {
    for (const m of MODELS.filter((x) => !x.source.mlflow)) {
      assert.equal(all(objects, 'ConfigMap', m.tenant).filter((o) => o.metadata.name.startsWith(`model-${m.name}-fetch`)).length, 0);
      assert.equal(all(objects, 'Job', m.tenant).filter((o) => o.metadata.name.startsWith(`model-${m.name}-fetch`)).length, 0);
    }
  });

  it(
    'writes quantities and int-or-string values as plain scalars (the CRD schema rejects objects there)',
    () => {
      for (const m of MODELS) {
        const p = isvcOf(objects, m.name, m.tenant).spec.predictor;
        for (const side of ['requests', 'limits']) {
          for (const [k, v] of Object.entries(p.model.resources[side])) assert.ok(typeof v === 'string' || typeof v === 'number', `${m.name} ${side}.${k}: ${JSON.stringify(v)}`);
        }
        assert.deepEqual(p.deploymentStrategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
      }
      assert.deepEqual(isvcOf(objects, 'llama-chat', 'serving').spec.predictor.model.resources.limits, { cpu: '4', memory: '24Gi', 'nvidia.com/gpu': 1 });
    },
  );
});

describe('token gate per tenant', () => {
  const { objects, platform } = acme;
  const gate = find(objects, 'Deployment', 'gate-serving', KSERVE_NAMESPACE);
  const c = gate.spec.template.spec.containers[0];
  const f = flags(c.args);
  const one = (name: string) => {
    const v = f.get(name);
    assert.equal(v?.length, 1, `exactly one --${name}`);
    return v![0];
  };

  it('runs one gate per tenant with models, in namespace kserve (out of the tenant reach)', () => {
    const tenants = [...new Set(MODELS.map((m) => m.tenant))];
    assert.deepEqual(all(objects, 'Deployment', KSERVE_NAMESPACE).map((d) => d.metadata.name), tenants.map((t) => `gate-${t}`));
    assert.equal(all(objects, 'Deployment').filter((d) => d.metadata.name.startsWith('gate-') && d.metadata.namespace !== KSERVE_NAMESPACE).length, 0);
  });

  it('accepts only bearer ID tokens of the kubernetes client: no login redirect, no cookie fallback', () => {
    const kc = platform.sso!;
    assert.equal(one('client-id'), KUBERNETES_CLIENT_ID);
    assert.equal(KUBERNETES_CLIENT_ID, 'kubernetes');
    assert.equal(one('skip-jwt-bearer-tokens'), 'true');
    assert.equal(one('bearer-token-login-fallback'), 'false');
    assert.equal(one('provider'), 'keycloak-oidc');
    assert.equal(one('oidc-issuer-url'), kc.issuerUrl, 'tokens carry the public issuer');
    assert.equal(one('skip-oidc-discovery'), 'true');
    assert.equal(one('oidc-jwks-url'), `${kc.internalIssuerUrl}/protocol/openid-connect/certs`, 'keys over the cluster network');
    assert.equal(one('redeem-url'), `${kc.internalIssuerUrl}/protocol/openid-connect/token`);
    assert.equal(one('upstream'), 'static://202');
  });

  it("lets in the tenant's groups and the platform admins, nobody else", () => {
    const tenant = platform.tenants.find((t) => t.name === 'serving')!;
    assert.deepEqual([...f.get('allowed-group')!].sort(), [...new Set([...tenant.groups, ...platform.sso!.roleGroups.admin])].sort());
    assert.deepEqual([...f.get('allowed-group')!].sort(), ['ml-engineers', 'platform-admins']);
    for (const outsider of ['research', 'ml-leads']) assert.ok(!f.get('allowed-group')!.includes(outsider), outsider);
  });

  it('reads its client and cookie secrets from a generated Secret in its namespace, never literals', () => {
    const env = new Map<string, any>(c.env.map((e: any) => [e.name, e.valueFrom?.secretKeyRef]));
    assert.deepEqual(env.get('OAUTH2_PROXY_CLIENT_SECRET'), { name: 'gate-serving-secrets', key: 'CLIENT_SECRET' });
    assert.deepEqual(env.get('OAUTH2_PROXY_COOKIE_SECRET'), { name: 'gate-serving-secrets', key: 'COOKIE_SECRET' });
    for (const e of c.env) assert.equal(e.value, undefined, e.name);
    assert.ok(platform.credentials.secrets.some((s) => s.namespace === KSERVE_NAMESPACE && s.name === 'gate-serving-secrets'));
    const script = platform.credentials.script();
    assert.ok(script.includes(`begin '${KSERVE_NAMESPACE}' 'gate-serving-secrets' 'Opaque'\n`));
    assert.match(script, /begin 'kserve' 'gate-serving-secrets' 'Opaque'\n\s*gen CLIENT_SECRET 32\n\s*gen COOKIE_SECRET 32\n/);
  });

  it('has a Service whose http port reaches the container, and a ServiceAccount of its own without a token', () => {
    const svc = find(objects, 'Service', 'gate-serving', KSERVE_NAMESPACE);
    assert.deepEqual(svc.spec.selector, gate.spec.selector.matchLabels);
    assert.deepEqual(gate.spec.template.metadata.labels, gate.spec.selector.matchLabels);
    const port = svc.spec.ports.find((p: any) => p.name === 'http');
    const cp = c.ports.find((p: any) => p.name === port.targetPort);
    assert.equal(cp.containerPort, Number(one('http-address').split(':').pop()));
    const sa = find(objects, 'ServiceAccount', gate.spec.template.spec.serviceAccountName, KSERVE_NAMESPACE);
    assert.equal(sa.metadata.name, 'gate-serving');
    assert.equal(sa.automountServiceAccountToken, false);
    assert.equal(gate.spec.template.spec.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.ok(c.readinessProbe && c.livenessProbe && c.resources.requests.cpu && c.resources.limits.memory);
  });

  it('gives each tenant its own gate: a tenant added after serving is enabled is let into its own models only', () => {
    const { app, platform: p } = servingPlatform();
    p.enableServing();
    p.serveModel(cpuModel());
    const late = p.addTenant('late', { groups: ['late-comers'], cpu: '4', memory: '8Gi' });
    p.serveModel(cpuModel({ tenant: late.name, source: { uri: 's3://tenant-late/models/m' } }));
    const o = objectsOf(app);
    const groups = (t: string) => [...flags(find(o, 'Deployment', `gate-${t}`, KSERVE_NAMESPACE).spec.template.spec.containers[0].args).get('allowed-group')!].sort();
    assert.deepEqual(groups('team'), ['platform-admins', 'team', 'team-leads']);
    assert.deepEqual(groups('late'), ['late-comers', 'platform-admins']);
    assert.equal(all(o, 'Deployment', KSERVE_NAMESPACE).length, 2, 'tenant other serves nothing: no gate');
    // Each route asks its own tenant's gate.
    const address = (ns: string) => find(o, 'Middleware', 'model-m-token', ns).spec.forwardAuth.address;
    assert.equal(address('team'), 'http://gate-team.kserve.svc.cluster.local:4180/oauth2/auth');
    assert.equal(address('late'), 'http://gate-late.kserve.svc.cluster.local:4180/oauth2/auth');
  });

  it('never writes a gate that lets no group in', () => {
    const { app, chart } = testChart();
    const provider: IOidcProvider = {
      realm: 'test',
      issuerUrl: 'https://auth.ml.test.example/realms/test',
      internalIssuerUrl: 'http://keycloak.keycloak.svc:8080/realms/test',
      roleGroups: { admin: [], editor: [], viewer: [] },
      platformRoleGroups: { admin: [], editor: [], viewer: [] },
      addClient: () => assert.fail('the token gate registers no client'),
    };
    const credentials = new CredentialGenerator(chart, 'Credentials');
    let groups: string[] = [];
    new TokenGate(chart, 'Gate', { tenant: 'x', namespace: KSERVE_NAMESPACE, provider, credentials, allowedGroups: () => groups });
    assert.throws(() => objectsOf(app), /the token gate of tenant x lets no group in/);
    groups = ['x'];
    assert.deepEqual(flags(find(objectsOf(app), 'Deployment', 'gate-x', KSERVE_NAMESPACE).spec.template.spec.containers[0].args).get('allowed-group'), ['x'], 'read when the output is written');
  });
});

describe('routes of the model endpoints', () => {
  const { objects, platform } = acme;
  const traefikNs = platform.ingress!.traefik.namespace;

  it('routes <model>.<tenant>.<domain> to the predictor Service port http, in the tenant namespace, behind the tenant token gate', () => {
    const routes = platform.ingress!.router.routes.filter((r) => r.auth === 'token');
    assert.deepEqual(routes.map((r) => `${r.namespace}/${r.app}`), MODELS.map((m) => `${m.tenant}/model-${m.name}`));
    for (const m of MODELS) {
      const host = `${m.name}.${m.tenant}.${platform.context.domain}`;
      const route = routes.find((r) => r.app === `model-${m.name}`)!;
      assert.equal(route.host, host);
      assert.equal(route.url, `https://${host}/`);
      const ir = find(objects, 'IngressRoute', `model-${m.name}`, m.tenant);
      assert.deepEqual(ir.spec.entryPoints, ['websecure']);
      assert.deepEqual(ir.spec.routes, [
        {
          kind: 'Rule',
          match: `Host(\`${host}\`)`,
          middlewares: [{ name: `model-${m.name}-headers` }, { name: `model-${m.name}-token` }, { name: `model-${m.name}-strip-token` }],
          services: [{ kind: 'Service', name: `${m.name}-predictor`, port: 'http' }],
        },
      ]);
      // KServe names the predictor Service <isvc>-predictor and its port after the first container port.
      assert.equal(isvcOf(objects, m.name, m.tenant).spec.predictor.model.ports[0].name, 'http');
      for (const mw of ir.spec.routes[0].middlewares) find(objects, 'Middleware', mw.name, m.tenant);
    }
  });

  it("asks the tenant's gate at its Service URL /oauth2/auth", () => {
    for (const m of MODELS) {
      const svc = find(objects, 'Service', `gate-${m.tenant}`, KSERVE_NAMESPACE);
      const port = svc.spec.ports.find((p: any) => p.name === 'http').port;
      const fa = find(objects, 'Middleware', `model-${m.name}-token`, m.tenant).spec.forwardAuth;
      assert.equal(fa.address, `http://${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local:${port}/oauth2/auth`);
      assert.ok(fa.authResponseHeaders.includes('X-Auth-Request-Groups'));
      assert.equal(all(objects, 'Deployment', m.tenant).filter((d) => d.metadata.name.endsWith('-sso')).length, 0, 'no browser SSO gate for APIs');
    }
  });

  it('issues a Certificate per host, used by the IngressRoute', () => {
    for (const m of MODELS) {
      const host = `${m.name}.${m.tenant}.${platform.context.domain}`;
      const ir = find(objects, 'IngressRoute', `model-${m.name}`, m.tenant);
      const cert = find(objects, 'Certificate', ir.spec.tls.secretName, m.tenant);
      assert.deepEqual(cert.spec.dnsNames, [host]);
      assert.equal(cert.spec.secretName, ir.spec.tls.secretName);
      assert.equal(cert.spec.issuerRef.name, platform.ingress!.certManager.issuerName);
    }
  });

  it('lets Traefik in to the predictor pods on 8080 only', () => {
    for (const m of MODELS) {
      const np = find(objects, 'NetworkPolicy', `mlplat-ingress-model-${m.name}`, m.tenant);
      assert.deepEqual(np.spec.podSelector.matchLabels, { 'serving.kserve.io/inferenceservice': m.name });
      assert.deepEqual(np.spec.policyTypes, ['Ingress']);
      assert.deepEqual(np.spec.ingress, [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': traefikNs } } }], ports: [{ protocol: 'TCP', port: 8080 }] }]);
      assert.equal(isvcOf(objects, m.name, m.tenant).spec.predictor.model.ports[0].containerPort, 8080);
    }
  });

  it(
    "never lets a tenant's own Ingress claim a platform host (tenants hold `edit` and may write Ingresses)",
    () => {
      const traefik = find(objects, 'HelmRelease', 'traefik', traefikNs).spec.values.providers.kubernetesIngress;
      assert.equal(traefik.labelSelector, `${ACME_SOLVER_LABEL}=true`);
      const tenantNamespaces = platform.tenants.map((t) => t.namespace);
      const watched = traefik.namespaces.filter((ns: string) => tenantNamespaces.includes(ns));
      // Either Traefik watches no tenant namespace, or an admission policy keeps tenants from writing solver Ingresses.
      const guarded = all(objects, 'ValidatingAdmissionPolicy').some(
        (p) => p.spec.matchConstraints.resourceRules.some((r: any) => r.resources.includes('ingresses')) && JSON.stringify(p.spec.validations).includes(ACME_SOLVER_LABEL),
      );
      assert.ok(watched.length === 0 || guarded, `Traefik serves solver Ingresses of tenant namespaces ${watched.join(', ')}`);
    },
  );
});

describe('InferenceEndpoint options', () => {
  it('autoscales between min and max with an HPA on CPU (80 %)', () => {
    const { app, platform: p } = servingPlatform();
    p.serveModel(cpuModel({ replicas: { min: 1, max: 3 } }));
    const isvc = isvcOf(objectsOf(app), 'm', 'team');
    assert.equal(isvc.metadata.annotations['serving.kserve.io/autoscalerClass'], 'hpa');
    assert.deepEqual([isvc.spec.predictor.minReplicas, isvc.spec.predictor.maxReplicas, isvc.spec.predictor.scaleMetric, isvc.spec.predictor.scaleTarget], [1, 3, 'cpu', 80]);
  });

  it('defaults: one replica, the format runtime, 1 GPU unit on a pool, no args, no cache volumes without the dataset cache', () => {
    const { app, platform: p } = servingPlatform();
    const e = p.serveModel(cpuModel({ pool: 'h100' }));
    assert.deepEqual([e.minReplicas, e.maxReplicas, e.runtime], [1, 1, DEFAULT_RUNTIMES.sklearn]);
    const isvc = isvcOf(objectsOf(app), 'm', 'team');
    const p2 = isvc.spec.predictor;
    assert.equal(isvc.metadata.annotations['serving.kserve.io/autoscalerClass'], 'none');
    assert.equal(p2.model.runtime, 'kserve-sklearnserver');
    assert.equal(String(scalar(p2.model.resources.limits['nvidia.com/gpu'])), '1');
    assert.equal(p2.model.args, undefined);
    assert.equal(p2.volumes, undefined);
    assert.equal(p2.model.volumeMounts, undefined);
  });

  it("loads a uri source as written, with the tenant's S3 Secret, and copies nothing", () => {
    const { app, platform: p } = servingPlatform();
    const e = p.serveModel(cpuModel({ runtime: 'kserve-mlserver' }));
    const o = objectsOf(app);
    const isvc = isvcOf(o, 'm', 'team');
    assert.equal(isvc.spec.predictor.model.storageUri, 's3://tenant-team/models/m');
    assert.equal(e.storageUri, 's3://tenant-team/models/m');
    assert.equal(isvc.spec.predictor.model.runtime, 'kserve-mlserver', 'an explicit runtime wins');
    assert.equal(isvc.metadata.annotations['serving.kserve.io/secretName'], 's3-credentials');
    assert.equal(all(o, 'Job', 'team').filter((j) => j.metadata.name.startsWith('model-')).length, 0);
  });

  it('requests the MIG slice resource of a MIG pool, and whole GPUs of a whole-GPU pool', () => {
    const { app, platform: p } = servingPlatform();
    p.serveModel(cpuModel({ name: 'mig', pool: 'a100', gpus: 3 }));
    p.serveModel(cpuModel({ name: 'whole', pool: 'h100', gpus: 1 }));
    const o = objectsOf(app);
    const mig = isvcOf(o, 'mig', 'team').spec.predictor;
    assert.deepEqual(scalars(mig.model.resources.limits), { cpu: '1', memory: '1Gi', 'nvidia.com/mig-1g.10gb': '3' });
    assert.deepEqual(scalars(mig.model.resources.requests), scalars(mig.model.resources.limits));
    assert.deepEqual(mig.nodeSelector, p.gpu.pool('a100').placement().nodeSelector);
    assert.equal(mig.priorityClassName, 'mlplat-gpu-a100');
    assert.deepEqual(scalars(isvcOf(o, 'whole', 'team').spec.predictor.model.resources.requests), { cpu: '1', memory: '1Gi', 'nvidia.com/gpu': '1' });
  });

  it('mounts the whole cache read-only at /datasets for every model when the tenant has the dataset cache', () => {
    const { app, platform: p } = servingPlatform({ cache: true });
    p.serveModel(cpuModel());
    const isvc = isvcOf(objectsOf(app), 'm', 'team').spec.predictor;
    assert.deepEqual(isvc.volumes, [{ name: 'dataset-cache', persistentVolumeClaim: { claimName: TENANT_CACHE_CLAIM, readOnly: true } }]);
    assert.deepEqual(isvc.model.volumeMounts, [{ name: 'dataset-cache', mountPath: '/datasets', readOnly: true }]);
    assert.equal(isvc.model.storageUri, 's3://tenant-team/models/m');
  });
});

describe('errors thrown by the serving constructs', () => {
  it('refuses model names that are not DNS labels starting with a letter, at most 40 characters, and leaves nothing behind', () => {
    const { app, platform: p } = servingPlatform();
    for (const bad of ['Churn', '7b-chat', 'churn-', '-churn', 'ch_urn', 'a.b', '', 'm'.repeat(41)]) {
      assert.throws(() => p.serveModel(cpuModel({ name: bad })), /model name ".*" must be a DNS label starting with a letter, at most 40 characters/, bad);
    }
    assert.doesNotThrow(() => p.serveModel(cpuModel({ name: 'm'.repeat(40) })));
    assert.deepEqual(all(objectsOf(app), 'InferenceService').map((o) => o.metadata.name), ['m'.repeat(40)]);
  });

  it('refuses replicas other than 1 ≤ min ≤ max', () => {
    const { platform: p } = servingPlatform();
    assert.throws(() => p.serveModel(cpuModel({ replicas: { min: 3, max: 2 } })), /model m: replicas must be 1 ≤ min ≤ max \(got 3, 2\)/);
    assert.throws(() => p.serveModel(cpuModel({ replicas: { min: 0 } })), /replicas must be 1 ≤ min ≤ max \(got 0, 0\)/);
    assert.throws(() => p.serveModel(cpuModel({ replicas: { min: 1.5 } })), /replicas must be 1 ≤ min ≤ max/);
  });

  it('refuses a pool not granted to the tenant, and a GPU model with less than one unit', () => {
    const { platform: p } = servingPlatform();
    assert.throws(() => p.serveModel(cpuModel({ tenant: 'other', pool: 'h100', source: { uri: 's3://tenant-other/m' } })), /model m: pool h100 is not granted to tenant other/);
    assert.throws(() => p.serveModel(cpuModel({ pool: 'h100', gpus: 0 })), /model m: a GPU model needs at least 1 GPU unit of pool h100/);
  });

  it("refuses a uri outside the tenant's bucket (another tenant's, or one that merely starts alike)", () => {
    for (const uri of ['s3://tenant-other/m', 's3://tenant-team-x/m', 's3://tenant-team']) {
      const { platform: p } = servingPlatform();
      assert.throws(() => p.serveModel(cpuModel({ source: { uri } })), new RegExp(`model m: ${uri.replace(/[/.]/g, '\\$&')} is not in the tenant's bucket s3://tenant-team`), uri);
    }
  });

  it(
    'refuses a bad source before adding anything to the tree: the model can be served once corrected',
    () => {
      const { platform: p } = servingPlatform();
      assert.throws(() => p.serveModel(cpuModel({ source: { uri: 's3://tenant-other/m' } })), /is not in the tenant's bucket/);
      assert.throws(() => p.serveModel(cpuModel({ source: { cache: 'llama' } })), /a cache source needs the dataset cache/);
      assert.doesNotThrow(() => p.serveModel(cpuModel()));
    },
  );

  it('refuses an MLflow source without the MLflow tracking server (stack and construct)', () => {
    const none = servingPlatform();
    const source = { mlflow: { model: 'churn', version: 1 } };
    assert.throws(() => none.platform.serveModel(cpuModel({ source })), /model m: an MLflow source needs tracking kind mlflow/);
    const clearml = servingPlatform({ tracking: 'clearml' });
    assert.throws(() => clearml.platform.serveModel(cpuModel({ source })), /an MLflow source needs tracking kind mlflow/);
    // The construct itself, handed no MLflow access.
    const serving = none.platform.serving!;
    const tenant = none.platform.tenants.find((t) => t.name === 'team')!;
    assert.throws(
      () => serving.addModel({ name: 'm', tenant, format: 'mlflow', source, resources: { cpu: '1', memory: '1Gi' }, storageCredentials: none.platform.storage!.tenantBucket(tenant).credentials }),
      /model m: an MLflow source needs the MLflow tracking server/,
    );
  });

  it('refuses a cache source without the dataset cache', () => {
    const { platform: p } = servingPlatform();
    assert.throws(() => p.serveModel(cpuModel({ source: { cache: 'llama' } })), /model m: a cache source needs the dataset cache/);
  });

  it('refuses a model served twice by one tenant; another tenant may use the name', () => {
    const { platform: p } = servingPlatform();
    p.serveModel(cpuModel());
    assert.throws(() => p.serveModel(cpuModel({ source: { uri: 's3://tenant-team/other' } })), /tenant team serves model m twice/);
    assert.doesNotThrow(() => p.serveModel(cpuModel({ tenant: 'other', source: { uri: 's3://tenant-other/m' } })));
  });

  it("refuses a host routed twice (an app at a model's host)", () => {
    const { platform: p } = servingPlatform();
    const e = p.serveModel(cpuModel());
    assert.throws(
      () =>
        p.ingress!.router.expose(e, 'Clash', {
          app: 'clash',
          hostLabels: 'm.team',
          namespace: 'team',
          service: { name: 'clash', port: 'http' },
          podSelector: { app: 'clash' },
          targetPort: 8080,
          auth: { kind: 'native' },
          title: 'Clash',
          purpose: 'a second route to a model host',
        }),
      /host m\.team\.ml\.demo\.example is routed twice/,
    );
  });

  it('refuses a model of an unknown tenant, and serving without storage, the ingress or sso', () => {
    const { platform: p } = servingPlatform();
    assert.throws(() => p.serveModel(cpuModel({ tenant: 'nope' })), /model m: no tenant named "nope"/);
    assert.ok(p.serving, 'serveModel enables serving');
    assert.throws(() => p.enableServing(), /serving is enabled twice/);
    const bare = () => new MlPlatform(new App(), 'Platform', { client: 'x', domain: 'x.example' });
    assert.throws(() => bare().enableServing(), /serving loads models from the object store: enable storage first/);
    const storageOnly = bare();
    storageOnly.enableStorage({ kind: 'minio' });
    assert.throws(() => storageOnly.enableServing(), /serving routes endpoints through the ingress: enable the ingress first/);
    storageOnly.enableIngress({ tls: { mode: 'selfSigned' } });
    assert.throws(() => storageOnly.enableServing(), /serving checks Keycloak tokens: enable sso first/);
  });
});
