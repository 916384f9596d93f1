import { createHash } from 'node:crypto';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { readAsset } from '../../lib/assets';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { hardenedContainer, hardenedPod, resources } from '../../lib/workload';
import { TENANT_CACHE_CLAIM } from '../cache/dataset-cache';
import { ISecretRef } from '../credentials/types';
import { IGpuPool } from '../gpu/pool';
import { IObjectStore, ServiceEndpoint } from '../storage/types';
import { ITenant } from '../tenancy/tenant';
import { AGENT_KEYS } from '../tracking/clearml';
import { DEFAULT_RUNTIMES, KSERVE_API_GROUP } from './kserve';

const FETCH_MLFLOW_PY = readAsset('constructs/serving/fetch-mlflow.py');
const FETCH_CLEARML_PY = readAsset('constructs/serving/fetch-clearml.py');
/** A ClearML model id (clearml-server ids are 32 hex digits). */
const CLEARML_MODEL_ID = /^[0-9a-f]{32}$/;
/** Where every KServe runtime reads the model from. */
const MODEL_DIR = '/mnt/models';
const PREDICTOR_PORT = 8080;
/** Bucket prefix of models mlplat copies from a tracking server. */
export const SERVING_PREFIX = 'mlplat-serving';

export type ModelFormat = keyof typeof DEFAULT_RUNTIMES;

/** Where the weights come from. */
export type ModelSource =
  /** `s3://tenant-<tenant>/<path>`: the tenant's own bucket. */
  | { readonly uri: string }
  /** An entry of the dataset cache, mounted read-only (no download). */
  | { readonly cache: string }
  /** An MLflow registered model version, copied once into the tenant's bucket by a Job. */
  | { readonly mlflow: { readonly model: string; readonly version: number } }
  /** A published ClearML model (32 hex digits), copied once into the tenant's bucket by a Job. */
  | { readonly clearml: { readonly id: string } };

export interface InferenceEndpointProps {
  /** Model id within the tenant (the InferenceService's name). */
  readonly name: string;
  readonly tenant: ITenant;
  readonly format: ModelFormat;
  /**
   * ClusterServingRuntime.
   * @default - the runtime of `format` (DEFAULT_RUNTIMES)
   */
  readonly runtime?: string;
  readonly source: ModelSource;
  /**
   * GPU pool (granted to the tenant) and GPUs per replica in its units.
   * @default - CPU only
   */
  readonly gpu?: { readonly pool: IGpuPool; readonly units: number };
  /** @default { min: 1, max: min } */
  readonly replicas?: { readonly min: number; readonly max?: number };
  /** CPU and memory per replica, set as request and limit (runtime defaults would merge in otherwise). */
  readonly resources: { readonly cpu: string; readonly memory: string };
  /**
   * Extra runtime arguments.
   * @default []
   */
  readonly args?: readonly string[];
  /** The platform store and the tenant's S3 credentials (`s3-credentials`). */
  readonly store: IObjectStore;
  readonly storageCredentials: ISecretRef;
  /** The tenant's MLflow access, for `mlflow` sources. */
  readonly mlflow?: { readonly credentials: ISecretRef; readonly image: string };
  /**
   * The tenant's ClearML access, for `clearml` sources: its API key pair (a Secret in its
   * namespace holding `CLEARML_API_ACCESS_KEY` and `CLEARML_API_SECRET_KEY`), the server's REST
   * API and its fileserver (the one other place a model's weights are accepted from).
   */
  readonly clearml?: { readonly credentials: ISecretRef; readonly api: ServiceEndpoint; readonly files: ServiceEndpoint };
  /** Whether the tenant has the dataset cache claim (`cache` sources, and weights under /datasets). */
  readonly datasetCache?: boolean;
}

/**
 * One model endpoint: a KServe InferenceService (standard mode) in the tenant's namespace on
 * the tenant's pool, loading its weights from the tenant's bucket (credentials from
 * `s3-credentials`), from the dataset cache (mounted read-only), or from an MLflow model
 * version or a ClearML model that a Job copies into the tenant's bucket first. The predictor Service
 * `<name>-predictor` (port `http`) is what the route targets.
 */
export class InferenceEndpoint extends Construct {
  readonly name: string;
  readonly namespace: string;
  readonly runtime: string;
  /** What the predictor loads (`storageUri`); undefined for cache sources. */
  readonly storageUri: string | undefined;
  /** The predictor Service KServe creates, and its named port. */
  readonly service: { readonly name: string; readonly port: string };
  readonly podSelector: Readonly<Record<string, string>>;
  readonly targetPort = PREDICTOR_PORT;
  readonly minReplicas: number;
  readonly maxReplicas: number;

  constructor(scope: Construct, id: string, props: InferenceEndpointProps) {
    const min = props.replicas?.min ?? 1;
    const max = props.replicas?.max ?? min;
    if (!Number.isInteger(min) || min < 1 || !Number.isInteger(max) || max < min) throw new Error(`model ${props.name}: replicas must be 1 ≤ min ≤ max (got ${min}, ${max})`);
    // The predictor's pod label `app: isvc.<name>-predictor` must fit 63 characters.
    if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(props.name) || props.name.length > 40) throw new Error(`model name "${props.name}" must be a DNS label starting with a letter, at most 40 characters`);
    if (props.gpu && (!Number.isInteger(props.gpu.units) || props.gpu.units < 1)) throw new Error(`model ${props.name}: a GPU model needs at least 1 GPU unit of pool ${props.gpu.pool.name}`);
    if (props.gpu && !props.tenant.gpuGrants.has(props.gpu.pool)) throw new Error(`model ${props.name}: pool ${props.gpu.pool.name} is not granted to tenant ${props.tenant.name}`);
    const source = props.source;
    const tenantBucket = props.store.tenantBucket(props.tenant).bucket;
    // Checked before super(): a refused endpoint leaves nothing in the tree.
    if ('uri' in source && !source.uri.startsWith(`${tenantBucket.uri}/`)) throw new Error(`model ${props.name}: ${source.uri} is not in the tenant's bucket ${tenantBucket.uri}`);
    if ('mlflow' in source && !props.mlflow) throw new Error(`model ${props.name}: an MLflow source needs the MLflow tracking server`);
    if ('clearml' in source) checkClearmlSource(props, source.clearml.id);
    if ('cache' in source && !props.datasetCache) throw new Error(`model ${props.name}: a cache source needs the dataset cache`);
    super(scope, id);
    const ns = props.tenant.namespace;
    this.name = props.name;
    this.namespace = ns;
    this.runtime = props.runtime ?? DEFAULT_RUNTIMES[props.format];
    this.minReplicas = min;
    this.maxReplicas = max;
    this.service = { name: `${props.name}-predictor`, port: 'http' };
    this.podSelector = { 'serving.kserve.io/inferenceservice': props.name };

    let storageUri: string | undefined;
    if ('uri' in source) {
      storageUri = source.uri;
    } else if ('mlflow' in source) {
      storageUri = `${tenantBucket.uri}/${SERVING_PREFIX}/${props.name}/mlflow-${source.mlflow.model.replace(/[^A-Za-z0-9._-]/g, '_')}-v${source.mlflow.version}/`;
      this.mlflowFetch(ns, props, source.mlflow, storageUri);
    } else if ('clearml' in source) {
      storageUri = `${tenantBucket.uri}/${SERVING_PREFIX}/${props.name}/clearml-${source.clearml.id}/`;
      this.clearmlFetch(ns, props, source.clearml.id, storageUri);
    }
    this.storageUri = storageUri;

    const gpu = props.gpu;
    const placement = gpu?.pool.placement();
    // Plain scalars: a raw ApiObject does not resolve cdk8s Quantity/IntOrString (they would render as { value }).
    const cpuMem = { cpu: props.resources.cpu, memory: props.resources.memory };
    const gpuRes = gpu ? Object.fromEntries(Object.entries(gpu.pool.gpuLimits(gpu.units)).map(([k, q]) => [k, q.value])) : {};
    const volumes: k8s.Volume[] = props.datasetCache ? [{ name: 'dataset-cache', persistentVolumeClaim: { claimName: TENANT_CACHE_CLAIM, readOnly: true } }] : [];
    const mounts: k8s.VolumeMount[] = props.datasetCache ? [{ name: 'dataset-cache', mountPath: '/datasets', readOnly: true }] : [];
    if ('cache' in source) mounts.push({ name: 'dataset-cache', mountPath: MODEL_DIR, subPath: source.cache, readOnly: true });

    new ApiObject(this, 'Resource', {
      apiVersion: `${KSERVE_API_GROUP}/v1beta1`,
      kind: 'InferenceService',
      metadata: {
        name: props.name,
        namespace: ns,
        annotations: {
          'serving.kserve.io/deploymentMode': 'Standard',
          // min == max: a fixed replica count, no HorizontalPodAutoscaler.
          'serving.kserve.io/autoscalerClass': max > min ? 'hpa' : 'none',
          // The storage initializer reads the tenant's S3 keys from this Secret.
          'serving.kserve.io/secretName': props.storageCredentials.name,
        },
      },
      spec: {
        predictor: {
          minReplicas: min,
          maxReplicas: max,
          ...(max > min ? { scaleMetric: 'cpu', scaleTarget: 80 } : {}),
          // One extra pod during rollouts; the GPU quota check counts it.
          deploymentStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          serviceAccountName: props.tenant.serviceAccountName,
          automountServiceAccountToken: false,
          ...(placement ? { priorityClassName: placement.priorityClassName, nodeSelector: placement.nodeSelector, tolerations: placement.tolerations } : {}),
          // The runtimes set no seccomp profile; Pod Security `restricted` requires one.
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          ...(volumes.length ? { volumes } : {}),
          model: {
            modelFormat: { name: props.format },
            runtime: this.runtime,
            ...(storageUri ? { storageUri } : {}),
            ...(props.args?.length ? { args: [...props.args] } : {}),
            // Names the predictor Service's port (KServe takes the first container port's name).
            ports: [{ name: 'http', containerPort: PREDICTOR_PORT, protocol: 'TCP' }],
            // Both requests and limits: KServe merges resources key by key with the runtime's.
            resources: { requests: { ...cpuMem, ...gpuRes }, limits: { ...cpuMem, ...gpuRes } },
            ...(mounts.length ? { volumeMounts: mounts } : {}),
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        },
      },
    });
  }

  /** The Job that copies an MLflow model version into the tenant's bucket (named by content). */
  private mlflowFetch(ns: string, props: InferenceEndpointProps, ref: { readonly model: string; readonly version: number }, target: string): void {
    const mlflow = props.mlflow!;
    this.fetchJob(ns, props, {
      image: mlflow.image,
      script: FETCH_MLFLOW_PY,
      env: [
        { name: 'MODEL_NAME', value: ref.model },
        { name: 'MODEL_VERSION', value: String(ref.version) },
        { name: 'TARGET_URI', value: target },
        { name: 'AWS_ENDPOINT_URL', value: props.store.s3.url },
        { name: 'AWS_DEFAULT_REGION', value: props.store.region },
        { name: 'HOME', value: '/tmp' },
      ],
      credentials: [mlflow.credentials, props.storageCredentials],
      resources: resources({ cpu: '250m', memory: '512Mi' }, { memory: '2Gi' }),
    });
  }

  /**
   * The Job that resolves a ClearML model id and copies its weights into the tenant's bucket
   * (fetch-clearml.py: stdlib only, so the plain Python image; S3 parts of 64 MiB in memory).
   */
  private clearmlFetch(ns: string, props: InferenceEndpointProps, id: string, target: string): void {
    const clearml = props.clearml!;
    const ctx = PlatformContext.of(this);
    this.fetchJob(ns, props, {
      image: ctx.image(ctx.versions.images.python),
      script: FETCH_CLEARML_PY,
      env: [
        { name: 'CLEARML_MODEL_ID', value: id },
        { name: 'TARGET_URI', value: target },
        { name: 'CLEARML_API_HOST', value: clearml.api.url },
        { name: 'CLEARML_FILES_HOST', value: clearml.files.url },
        { name: 'AWS_ENDPOINT_URL', value: props.store.s3.url },
        { name: 'AWS_DEFAULT_REGION', value: props.store.region },
        { name: 'HOME', value: '/tmp' },
      ],
      credentials: [clearml.credentials, props.storageCredentials],
      resources: resources({ cpu: '100m', memory: '256Mi' }, { memory: '1Gi' }),
    });
  }

  /**
   * A fetch Job `model-<name>-fetch-<hash>` in the tenant's namespace, as the tenant's
   * ServiceAccount with only the tenant's Secrets, running `script` from the ConfigMap of the
   * same name. The hash covers image, script and environment: a new reference is a new Job (a
   * Job's pod template cannot change) with its own script, so a Job of an earlier version still
   * retrying never runs the new script with its old environment.
   */
  private fetchJob(ns: string, props: InferenceEndpointProps, job: FetchJobSpec): void {
    const hash = createHash('sha256').update(job.image).update('\0').update(job.script).update(JSON.stringify(job.env)).digest('hex').slice(0, 8);
    const name = `model-${props.name}-fetch-${hash}`;
    new k8s.KubeConfigMap(this, 'FetchScript', { metadata: { name, namespace: ns }, data: { 'fetch.py': job.script } });
    new k8s.KubeJob(this, 'Fetch', {
      metadata: { name, namespace: ns },
      spec: {
        backoffLimit: 6,
        template: {
          metadata: { labels: { [`${MLPLAT_PREFIX}/model`]: props.name, [`${MLPLAT_PREFIX}/role`]: 'model-fetch' } },
          spec: hardenedPod({
            serviceAccountName: props.tenant.serviceAccountName,
            restartPolicy: 'OnFailure',
            containers: [
              hardenedContainer({
                name: 'fetch',
                image: job.image,
                command: ['python', '-B', '/etc/model-fetch/fetch.py'],
                env: job.env,
                envFrom: job.credentials.map((c) => ({ secretRef: { name: c.name } })),
                resources: job.resources,
                volumeMounts: [
                  { name: 'script', mountPath: '/etc/model-fetch', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              }),
            ],
            volumes: [
              { name: 'script', configMap: { name } },
              // The model passes through here on its way to the bucket.
              { name: 'tmp', emptyDir: {} },
            ],
          }),
        },
      },
    });
  }
}

interface FetchJobSpec {
  readonly image: string;
  readonly script: string;
  readonly env: k8s.EnvVar[];
  /** Secrets of the tenant's namespace, passed whole as environment (`envFrom`). */
  readonly credentials: readonly ISecretRef[];
  readonly resources: k8s.ResourceRequirements;
}

/** Refuses a ClearML source the Job could not run, before the endpoint adds anything to the tree. */
function checkClearmlSource(props: InferenceEndpointProps, id: string): void {
  const clearml = props.clearml;
  if (!clearml) throw new Error(`model ${props.name}: a ClearML source needs the ClearML tracking server`);
  if (!CLEARML_MODEL_ID.test(id)) throw new Error(`model ${props.name}: "${id}" is no ClearML model id (32 hex characters)`);
  const creds = clearml.credentials;
  // envFrom reads Secrets of the pod's own namespace only.
  if (creds.namespace !== props.tenant.namespace) {
    throw new Error(`model ${props.name}: the ClearML key pair ${creds.namespace}/${creds.name} is not in the tenant's namespace ${props.tenant.namespace}`);
  }
  const missing = Object.values(AGENT_KEYS).filter((k) => !creds.keys.includes(k));
  if (missing.length) throw new Error(`model ${props.name}: the ClearML key pair ${creds.namespace}/${creds.name} has no ${missing.join(', ')}`);
}
