/**
 * The e2e harness's KServe predictor renderer (test/e2e/lib/kserve.ts): its Go-template subset
 * and merges, and what it renders from the kserve module's charts for one InferenceService per
 * source kind, pinned field by field, plus every synthesized InferenceService of acme.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it, TestContext } from 'node:test';
import { parse } from 'yaml';
import { CertManager } from '../../constructs/edge/cert-manager';
import { CredentialGenerator } from '../../constructs/credentials/generator';
import { Kserve, RUNTIME_IMAGES } from '../../constructs/serving/kserve';
import { MinioStore } from '../../constructs/storage/minio';
import { KubeObject } from '../../lib/synth';
import { VERSIONS } from '../../lib/versions';
import {
  chartDeepMerge,
  ClusterView,
  coalesceValues,
  KserveInstall,
  kserveInstall,
  kserveInstallFromOutput,
  kserveModuleDir,
  renderGoTemplate,
  renderPredictor,
  strategicMerge,
} from '../e2e/lib/kserve';
import { ACME, objectsOf, synthFile, testChart } from '../helpers';

describe('Go-template subset of the KServe charts', () => {
  const values = { Values: { a: { tag: '', version: 'v1', on: true, off: false, list: [], sc: { runAsNonRoot: true, drop: ['ALL'] } } } };

  it('prints values, applies default, and keeps quoted placeholders literal', () => {
    assert.equal(renderGoTemplate('image: "x:{{ .Values.a.tag | default .Values.a.version }}"', values), 'image: "x:v1"');
    assert.equal(renderGoTemplate('disabled: {{ .Values.a.off }}', values), 'disabled: false');
    assert.equal(renderGoTemplate('- --framework={{ "{{.Annotations.modelFormat}}" }}', values), '- --framework={{.Annotations.modelFormat}}');
    assert.equal(renderGoTemplate('x={{ .Values.a.missing }}.', values), 'x=.', 'a missing key prints nothing (Helm drops "<no value>")');
    assert.equal(renderGoTemplate('r:\n{{ toYaml .Values.a.sc | trim | indent 2 }}', values), 'r:\n  drop:\n    - ALL\n  runAsNonRoot: true', 'trim, then indent every line');
  });

  it('renders with/if blocks, toYaml | nindent, and the trim markers', () => {
    const text = 'sc:\n    {{- with .Values.a.sc }}\n    {{- toYaml . | nindent 4 }}\n    {{- end }}\nps:\n  {{- with .Values.a.list }}\n  - never\n  {{- end }}\n{{- if .Values.a.on }}\nipc: true\n{{- else }}\nipc: false\n{{- end }}\n';
    assert.equal(renderGoTemplate(text, values), 'sc:\n    drop:\n      - ALL\n    runAsNonRoot: true\nps:\nipc: true\n');
  });

  it('throws on a nil map in a path and on constructs outside the subset', () => {
    assert.throws(() => renderGoTemplate('{{ .Values.nothing.here }}', values), /nil pointer evaluating \.Values\.nothing\.here/);
    assert.throws(() => renderGoTemplate('{{ range .Values.a.list }}x{{ end }}', values), /not in the supported subset/);
    assert.throws(() => renderGoTemplate('{{ upper .Values.a.tag }}', values), /template function "upper" is not in the supported subset/);
    assert.throws(() => renderGoTemplate('{{ if .Values.a.on }}x', values), /unclosed/);
  });
});

describe('merges', () => {
  it('coalesces release values over chart values (maps merged, lists replaced, null deletes)', () => {
    assert.deepEqual(coalesceValues({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: null, e: 'x' }), { a: { b: 1, c: [3] }, e: 'x' });
  });

  it('deep-merges like kserve-common.deepMerge: named items by name, other lists replaced', () => {
    const base = { spec: { containers: [{ name: 'k', image: 'a:latest', env: [{ name: 'X', value: '1' }] }], formats: ['a', 'b'], keep: 1 } };
    const patch = { spec: { containers: [{ name: 'k', image: 'a:v1', env: [{ name: 'Y', value: '2' }] }, { name: 'extra' }], formats: ['c'] } };
    assert.deepEqual(chartDeepMerge(base, patch), {
      spec: { containers: [{ name: 'k', image: 'a:v1', env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }] }, { name: 'extra' }], formats: ['c'], keep: 1 },
    });
  });

  it('strategic-merges containers (env by name, ports by containerPort, resource maps key by key) and pod specs (volumes by name, tolerations replaced)', () => {
    const c = strategicMerge(
      { name: 'k', args: ['--a'], env: [{ name: 'A', value: '1' }], resources: { limits: { cpu: '1', memory: '2Gi' } }, ports: [{ containerPort: 8080 }] },
      { args: ['--b'], env: [{ name: 'A', value: '9' }, { name: 'B', value: '2' }], resources: { limits: { cpu: '4' } }, ports: [{ containerPort: 8080, name: 'http' }], readinessProbe: null },
      'Container',
    );
    assert.deepEqual(c, { name: 'k', args: ['--b'], env: [{ name: 'A', value: '9' }, { name: 'B', value: '2' }], resources: { limits: { cpu: '4', memory: '2Gi' } }, ports: [{ containerPort: 8080, name: 'http' }] });
    const p = strategicMerge({ volumes: [{ name: 'shm', emptyDir: {} }], tolerations: [{ key: 'a' }] }, { volumes: [{ name: 'data', emptyDir: {} }], tolerations: [{ key: 'b' }] }, 'PodSpec');
    assert.deepEqual(p, { volumes: [{ name: 'shm', emptyDir: {} }, { name: 'data', emptyDir: {} }], tolerations: [{ key: 'b' }] });
  });
});

/** The kserve module from the Go module cache or proxy; tests that need it skip without Go or network. */
let moduleDir: string | undefined;
let moduleError = '';
before(() => {
  try {
    moduleDir = kserveModuleDir();
  } catch (e) {
    moduleError = (e as Error).message.split('\n')[0];
  }
});
const needModule = (t: TestContext): boolean => {
  if (moduleDir) return true;
  t.skip(`the kserve module ${VERSIONS.crds.kserve.version} is not available (${moduleError})`);
  return false;
};

/** What mlplat's releases set (constructs/serving/kserve.ts), for the install these tests render. */
const RESOURCES_VALUES = {
  kserve: {
    controller: { deploymentMode: 'Standard', gateway: { domain: 'ml.test.example', domainTemplate: '{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}', urlScheme: 'https', disableIngressCreation: true } },
    storage: { s3: { endpoint: 'http://minio.minio.svc:9000', region: 'us-east-1', useVirtualBucket: 'false' } },
    security: { autoMountServiceAccountToken: false },
  },
};
const RUNTIME_VALUES = { kserve: { servingruntime: { enabled: true, vllmserver: { disabled: true } } } };

/** A tenant namespace with the workload ServiceAccount and the tenant's S3 Secret (keys only). */
const CLUSTER: ClusterView = {
  secret: (ns, name) => (ns === 'serving' && name === 's3-credentials' ? { keys: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], annotations: {} } : undefined),
  serviceAccountExists: (ns, name) => ns === 'serving' && name === 'workload',
};

/** InferenceServices as mlplat writes them (docs/design/serving.md §3), with plain quantities. */
function isvc(name: string, model: Record<string, unknown>, predictor: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      name,
      namespace: 'serving',
      labels: { 'app.kubernetes.io/name': 'kserve' },
      annotations: { 'serving.kserve.io/deploymentMode': 'Standard', 'serving.kserve.io/autoscalerClass': 'none', 'serving.kserve.io/secretName': 's3-credentials' },
    },
    spec: {
      predictor: {
        minReplicas: 2,
        maxReplicas: 2,
        deploymentStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        serviceAccountName: 'workload',
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        ...predictor,
        model: { ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }, ...model },
      },
    },
  };
}
const LLM = isvc(
  'llama-chat',
  {
    modelFormat: { name: 'huggingface' },
    runtime: 'kserve-huggingfaceserver',
    args: ['--backend=vllm'],
    // Only CPU and the GPU: the runtime's memory request and limit (2Gi) merge in.
    resources: { requests: { cpu: '4', 'nvidia.com/gpu': '1' }, limits: { cpu: '4', 'nvidia.com/gpu': '1' } },
    volumeMounts: [{ name: 'dataset-cache', mountPath: '/mnt/models', subPath: 'llama-2-7b-hf', readOnly: true }],
  },
  {
    minReplicas: 1,
    maxReplicas: 1,
    priorityClassName: 'mlplat-gpu-l4',
    nodeSelector: { 'mlplat.io/gpu-pool': 'l4' },
    tolerations: [{ key: 'mlplat.io/gpu-pool', operator: 'Equal', value: 'l4', effect: 'NoSchedule' }],
    volumes: [{ name: 'dataset-cache', persistentVolumeClaim: { claimName: 'dataset-cache', readOnly: true } }],
  },
);
const CHURN = isvc('churn', {
  modelFormat: { name: 'mlflow' },
  runtime: 'kserve-mlserver',
  storageUri: 's3://tenant-serving/mlplat-serving/churn/mlflow-churn-v3/',
  resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '1', memory: '2Gi' } },
});

describe('KServe v0.20.0 install rendered from the module\'s charts', () => {
  let install: KserveInstall;
  before(() => {
    if (moduleDir) install = kserveInstall({ moduleDir, resourcesValues: RESOURCES_VALUES, runtimeValues: RUNTIME_VALUES });
  });

  it('renders the ClusterServingRuntimes with the values over the base file', (t) => {
    if (!needModule(t)) return;
    assert.equal(install.version, 'v0.20.0');
    const hf = install.runtimes.get('kserve-huggingfaceserver');
    assert.equal(hf.spec.containers[0].image, 'kserve/huggingfaceserver:v0.20.0', 'tag "" → the chart version');
    assert.equal(hf.spec.disabled, false);
    assert.equal(hf.metadata.annotations['serving.kserve.io/server-type'], 'huggingfaceserver');
    assert.equal(install.runtimes.get('kserve-mlserver').spec.containers[0].image, 'docker.io/seldonio/mlserver:1.5.0', 'the values\' tag replaces the base file\'s 1.7.1');
    assert.equal(install.runtimes.get('kserve-vllmserver').spec.disabled, true, 'mlplat disables the unpinned root vLLM image');
    const none = kserveInstall({ moduleDir: moduleDir!, resourcesValues: RESOURCES_VALUES, runtimeValues: {} });
    assert.equal(none.runtimes.size, 0, 'servingruntime.enabled is false by default: the chart renders no runtime');
  });

  it('pulls every runtime through spec.imageRegistry when set: each image of the chart\'s values is mirrored, tags kept', (t) => {
    if (!needModule(t)) return;
    const chartValues = parse(fs.readFileSync(path.join(moduleDir!, 'charts', 'kserve-runtime-configs', 'values.yaml'), 'utf8')).kserve.servingruntime;
    const withHost = (image: string) => (image.split('/')[0].includes('.') ? image : `docker.io/${image}`);
    for (const [key, image] of Object.entries(RUNTIME_IMAGES)) assert.equal(withHost(chartValues[key].image), image, `RUNTIME_IMAGES.${key} is the chart's repository`);
    const release = (imageRegistry?: string) => {
      const { app, chart } = testChart(imageRegistry ? { imageRegistry } : {});
      const store = new MinioStore(chart, 'Minio', { credentials: new CredentialGenerator(chart, 'Credentials') });
      const certManager = new CertManager(chart, 'CertManager', { tls: { mode: 'selfSigned' }, ingressClassName: 'traefik' });
      new Kserve(chart, 'Kserve', { store, certManager: certManager.release });
      const objects = objectsOf(app);
      const values = (name: string) => (objects.find((o: any) => o.kind === 'HelmRelease' && o.metadata.name === name) as any).spec.values;
      return kserveInstall({ moduleDir: moduleDir!, resourcesValues: values('kserve'), runtimeValues: values('kserve-runtime-configs') });
    };
    const direct = release();
    const mirror = release('mirror.acme.internal');
    let checked = 0;
    for (const [name, runtime] of direct.runtimes) {
      if (runtime.spec.disabled) continue;
      const [c] = runtime.spec.containers;
      const m = mirror.runtimes.get(name).spec.containers[0].image as string;
      const rest = withHost(c.image).slice(withHost(c.image).indexOf('/') + 1);
      assert.equal(m, `mirror.acme.internal/${rest}`, `${name}: ${c.image} through the mirror`);
      checked++;
    }
    assert.ok(checked >= 6, `${checked} runtimes`);
  });

  it('renders the ClusterStorageContainer and the controller ConfigMap from kserve-resources', (t) => {
    if (!needModule(t)) return;
    const [csc] = install.storageContainers;
    assert.equal(csc.metadata.name, 'default');
    assert.equal(csc.spec.container.image, 'kserve/storage-initializer:v0.20.0');
    assert.deepEqual(csc.spec.container.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, privileged: false, runAsNonRoot: true });
    assert.ok(csc.spec.supportedUriFormats.some((f: any) => f.prefix === 's3://'));
    assert.equal(install.config.credentials.storageSecretNameAnnotation, 'serving.kserve.io/secretName');
    assert.equal(install.config.credentials.s3.s3Endpoint, 'http://minio.minio.svc:9000');
    assert.equal(install.config.credentials.s3.s3SecretAccessKeyName, 'AWS_SECRET_ACCESS_KEY');
    assert.equal(install.config.defaultDeploymentMode, 'Standard');
    assert.equal(install.config.autoMountServiceAccountToken, false);
    assert.equal(install.config.storageInitializer.image, 'kserve/storage-initializer:v0.20.0');
  });

  it('renders the predictor of a GPU model from the dataset cache: names, labels, -gpu image, merged resources, the pod fields of the predictor', (t) => {
    if (!needModule(t)) return;
    const { deployment: d, service: s, runtime } = renderPredictor(LLM, install, CLUSTER, 'uid-1');
    assert.equal(runtime, 'kserve-huggingfaceserver');
    assert.equal(d.metadata.name, 'llama-chat-predictor');
    assert.equal(s.metadata.name, 'llama-chat-predictor');
    assert.deepEqual(d.metadata.ownerReferences, [{ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', name: 'llama-chat', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
    const labels = d.spec.template.metadata.labels;
    assert.equal(labels.app, 'isvc.llama-chat-predictor');
    assert.equal(labels['serving.kserve.io/inferenceservice'], 'llama-chat');
    assert.equal(labels.component, 'predictor');
    assert.equal(labels['app.kubernetes.io/name'], 'kserve', 'the isvc\'s labels reach the pods');
    for (const [k, v] of Object.entries<string>(d.spec.selector.matchLabels)) assert.equal(labels[k], v, `selector ${k}`);
    for (const [k, v] of Object.entries<string>(s.spec.selector)) assert.equal(labels[k], v, `Service selector ${k}`);
    assert.equal(d.spec.template.metadata.annotations['serving.kserve.io/secretName'], 's3-credentials', 'the isvc\'s annotations reach the pods');
    assert.equal(d.spec.template.metadata.annotations['prometheus.kserve.io/port'], '8080', 'the runtime\'s annotations too');
    assert.deepEqual(s.spec.ports, [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);
    assert.equal(d.spec.replicas, 1, 'autoscalerClass none: replicas = minReplicas');
    assert.deepEqual(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });

    const pod = d.spec.template.spec;
    const [c] = pod.containers;
    assert.equal(c.name, 'kserve-container');
    assert.equal(c.image, 'kserve/huggingfaceserver:v0.20.0-gpu', 'GPU limits select the -gpu image');
    assert.deepEqual(c.args, ['--model_name=llama-chat', '--backend=vllm'], 'runtime args, placeholders filled, then the model\'s');
    assert.deepEqual(c.resources, { limits: { cpu: '4', memory: '2Gi', 'nvidia.com/gpu': '1' }, requests: { cpu: '4', memory: '2Gi', 'nvidia.com/gpu': '1' } }, 'resource maps merge key by key');
    assert.deepEqual(c.env.at(-1), { name: 'INFERENCE_SERVICE_NAME', value: 'llama-chat' });
    assert.deepEqual(c.readinessProbe, { tcpSocket: { port: 8080 }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, privileged: false, runAsNonRoot: true });
    assert.deepEqual(c.volumeMounts.map((m: any) => m.mountPath), ['/dev/shm', '/mnt/models'], 'the runtime\'s /dev/shm, then the cache');
    assert.deepEqual(pod.volumes.map((v: any) => v.name), ['devshm', 'dataset-cache']);
    assert.equal(pod.initContainers, undefined, 'no storageUri: no storage initializer');
    assert.equal(pod.priorityClassName, 'mlplat-gpu-l4');
    assert.deepEqual(pod.nodeSelector, { 'mlplat.io/gpu-pool': 'l4' });
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, 'workload');
  });

  it('injects the storage initializer for a storageUri, with the S3 credentials of the Secret the isvc names', (t) => {
    if (!needModule(t)) return;
    const { deployment: d } = renderPredictor(CHURN, install, CLUSTER);
    const pod = d.spec.template.spec;
    const [c] = pod.containers;
    assert.equal(d.spec.template.metadata.annotations['internal.serving.kserve.io/storage-initializer-sourceuri'], 's3://tenant-serving/mlplat-serving/churn/mlflow-churn-v3/');
    assert.equal(d.spec.template.metadata.labels.modelClass, 'mlserver_mlflow.MLflowRuntime');
    assert.equal(c.image, 'docker.io/seldonio/mlserver:1.5.0', 'no GPU, no -gpu');
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
    assert.equal(env.MLSERVER_MODEL_IMPLEMENTATION, 'mlserver_mlflow.MLflowRuntime', 'the {{.Labels.modelClass}} placeholder');
    assert.equal(env.MLSERVER_MODEL_URI, '/mnt/models');
    assert.equal(env.MLSERVER_MODEL_NAME, 'churn');
    assert.deepEqual(c.volumeMounts, [{ name: 'kserve-provision-location', mountPath: '/mnt/models', readOnly: true }]);
    assert.deepEqual(pod.volumes, [{ name: 'kserve-provision-location', emptyDir: {} }]);
    assert.equal(d.spec.replicas, 2);

    const [init] = pod.initContainers;
    assert.equal(init.name, 'storage-initializer');
    assert.equal(init.image, 'kserve/storage-initializer:v0.20.0');
    assert.deepEqual(init.args, ['s3://tenant-serving/mlplat-serving/churn/mlflow-churn-v3/', '/mnt/models']);
    assert.deepEqual(init.volumeMounts, [{ name: 'kserve-provision-location', mountPath: '/mnt/models' }], 'writable for the download');
    assert.deepEqual(init.resources, { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '100m', memory: '100Mi' } });
    assert.deepEqual(init.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, privileged: false, runAsNonRoot: true });
    assert.deepEqual(init.env, [
      { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'AWS_ACCESS_KEY_ID' } } },
      { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3-credentials', key: 'AWS_SECRET_ACCESS_KEY' } } },
      { name: 'S3_USE_HTTPS', value: '0' },
      { name: 'S3_ENDPOINT', value: 'minio.minio.svc:9000' },
      { name: 'AWS_ENDPOINT_URL', value: 'http://minio.minio.svc:9000' },
      { name: 'AWS_DEFAULT_REGION', value: 'us-east-1' },
      { name: 'S3_USER_VIRTUAL_BUCKET', value: 'false' },
      { name: 'HF_HUB_ENABLE_HF_TRANSFER', value: '1' },
      { name: 'HF_XET_HIGH_PERFORMANCE', value: '1' },
      { name: 'HF_XET_NUM_CONCURRENT_RANGE_GETS', value: '8' },
    ]);
  });

  it('refuses what KServe refuses, and what it does not render', (t) => {
    if (!needModule(t)) return;
    const variant = (model: Record<string, unknown>, meta: Record<string, string> = {}): KubeObject => {
      const o: any = JSON.parse(JSON.stringify(CHURN));
      Object.assign(o.spec.predictor.model, model);
      Object.assign(o.metadata.annotations, meta);
      return o;
    };
    assert.throws(() => renderPredictor(variant({ runtime: 'kserve-nope' }), install, CLUSTER), /serving\/churn: no ClusterServingRuntime kserve-nope is installed/);
    assert.throws(() => renderPredictor(variant({ runtime: 'kserve-vllmserver', modelFormat: { name: 'vLLM' } }), install, CLUSTER), /specified runtime kserve-vllmserver is disabled/);
    assert.throws(() => renderPredictor(variant({ modelFormat: { name: 'onnx' } }), install, CLUSTER), /runtime kserve-mlserver does not support model format onnx/);
    assert.throws(() => renderPredictor(variant({ protocolVersion: 'v1' }), install, CLUSTER), /does not support protocol v1/);
    assert.throws(() => renderPredictor(variant({ runtime: undefined }), install, CLUSTER), /no model\.runtime/);
    assert.throws(() => renderPredictor(variant({ storageUri: 'models:/churn/3' }), install, CLUSTER), /StorageURI not supported/);
    assert.throws(() => renderPredictor(variant({}, { 'serving.kserve.io/secretName': 'nope' }), install, CLUSTER), /the storage Secret serving\/nope does not exist/);
    assert.throws(() => renderPredictor(variant({}, { 'serving.kserve.io/deploymentMode': 'Knative' }), install, CLUSTER), /deployment mode Knative: only Standard is rendered/);
    const noSecretKey: ClusterView = { ...CLUSTER, secret: () => ({ keys: ['token'], annotations: {} }) };
    assert.throws(() => renderPredictor(CHURN, install, noSecretKey), /has no AWS_SECRET_ACCESS_KEY: only S3 credentials are rendered/);
  });

  it('renders the controller of acme as synthesized: its metrics listen where the PodMonitor scrapes', (t) => {
    if (!needModule(t)) return;
    const { objects } = synthFile(ACME);
    const { controller } = kserveInstallFromOutput(objects, moduleDir);
    const monitor = objects.find((o) => o.kind === 'PodMonitor' && o.metadata.namespace === 'kserve' && o.metadata.name === 'kserve-controller') as any;
    assert.ok(monitor, 'a PodMonitor for the KServe controller');
    const labels = controller.spec.template.metadata.labels;
    for (const [k, v] of Object.entries<string>(monitor.spec.selector.matchLabels)) assert.equal(labels[k], v, `the controller pods carry ${k}=${v}`);
    const manager = controller.spec.template.spec.containers.find((c: any) => c.name === 'manager');
    const [endpoint] = monitor.spec.podMetricsEndpoints;
    const port = manager.ports.find((p: any) => p.name === endpoint.port);
    assert.ok(port, `the manager container names a port ${endpoint.port}`);
    assert.ok(manager.args.includes(`--metrics-addr=0.0.0.0:${port.containerPort}`), `the manager serves metrics on all addresses at ${port.containerPort} (args: ${manager.args.join(' ')})`);
  });

  it('renders every InferenceService of acme as synthesized: selectors, ports and the Secret it reads line up with the output', (t) => {
    if (!needModule(t)) return;
    const { objects, platform } = synthFile(ACME);
    const fromOutput = kserveInstallFromOutput(objects, moduleDir);
    // The Secrets the platform declares (the credentials Job creates them in the cluster).
    const declaredSecret = (n: string, name: string) => platform.credentials.secrets.find((x) => x.namespace === n && x.name === name);
    const isvcs = objects.filter((o) => o.kind === 'InferenceService');
    assert.ok(isvcs.length > 0, 'acme serves models');
    for (const o of isvcs as any[]) {
      const ns = o.metadata.namespace;
      const declared: ClusterView = {
        secret: (n, name) => {
          const ref = declaredSecret(n, name);
          return ref ? { keys: [...ref.keys], annotations: {} } : undefined;
        },
        serviceAccountExists: (n, name) => objects.some((x) => x.kind === 'ServiceAccount' && x.metadata.namespace === n && x.metadata.name === name),
      };
      const { deployment: d, service: s } = renderPredictor(o, fromOutput, declared);
      const labels = d.spec.template.metadata.labels;
      for (const [k, v] of Object.entries<string>(s.spec.selector)) assert.equal(labels[k], v, `${o.metadata.name}: Service selector ${k}`);
      const route = objects.find((x: any) => x.kind === 'IngressRoute' && x.metadata.namespace === ns && x.spec.routes.some((r: any) => r.services.some((sv: any) => sv.name === s.metadata.name))) as any;
      assert.ok(route, `${o.metadata.name}: a route targets ${s.metadata.name}`);
      for (const sv of route.spec.routes.flatMap((r: any) => r.services)) assert.ok(s.spec.ports.some((p: any) => p.name === sv.port), `${o.metadata.name}: Service port ${sv.port}`);
      const policy = objects.find((x: any) => x.kind === 'NetworkPolicy' && x.metadata.name === `mlplat-ingress-${route.metadata.name}`) as any;
      for (const [k, v] of Object.entries<string>(policy.spec.podSelector.matchLabels)) assert.equal(labels[k], v, `${o.metadata.name}: ingress policy selects the pods (${k})`);
      assert.equal(d.spec.template.spec.containers[0].ports[0].containerPort, s.spec.ports[0].targetPort);
      for (const init of d.spec.template.spec.initContainers ?? []) {
        for (const e of init.env.filter((x: any) => x.valueFrom)) assert.equal(e.valueFrom.secretKeyRef.name, o.metadata.annotations['serving.kserve.io/secretName']);
      }
      assert.deepEqual(d.spec.template.spec.containers[0].resources, o.spec.predictor.model.resources, `${o.metadata.name}: mlplat sets CPU and memory in both, so nothing of the runtime's merges in`);
    }
  });
});
