import { z } from 'zod';

/**
 * The platform config schema: the single source of truth for the YAML contract.
 * TypeScript types are inferred from it and `mlplat schema` prints it as JSON Schema.
 * Cross-field rules (pool references, GPU model capabilities, uniqueness) live in
 * ./semantics.ts so every error of a file can be reported at once.
 */

export const API_VERSION = 'mlplat.io/v1alpha1';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Kubernetes resource.Quantity in the forms people write: 64, 0.5, 500m, 256Gi, 1e3.
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE]\d+)?$/;
// A label key: optional DNS-subdomain prefix and a name part of at most 63 characters.
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export const dnsLabel = z
  .string()
  .max(63, 'must be at most 63 characters (a DNS-1123 label)')
  .regex(DNS1123_LABEL, 'must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit');

const quantity = z
  .union([
    z.string(),
    z
      .number()
      .nonnegative('must be 0 or more')
      .refine((v) => /^\d+(\.\d+)?$/.test(String(v)), { message: 'write very large or very small quantities as a string, e.g. "100Ti" or "500m"' }),
  ])
  .transform((v) => String(v))
  .refine((v) => QUANTITY.test(v), { message: 'must be a Kubernetes quantity, e.g. "64", "500m", "256Gi"' });

const labelMap = z.record(
  z.string().regex(LABEL_KEY, 'label keys look like "example.com/name" or "name"'),
  z.string().regex(LABEL_VALUE, 'label values are at most 63 letters, digits, "-", "_" or "."'),
);

export const sharingSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('timeSlicing').describe('Time-slice each GPU between several pods (no memory isolation).'),
    replicas: z
      .number()
      .int()
      .min(2, 'must be at least 2 (1 replica is a whole GPU: omit sharing)')
      .describe('How many pods share one GPU.'),
  }),
  z.strictObject({
    mode: z.literal('mig').describe('Partition each GPU with Multi-Instance GPU (hardware isolation).'),
    profile: z
      .string()
      .describe('MIG layout applied to every GPU of the pool, "all-<profile>", e.g. "all-1g.10gb" (see docs/gpu.md).'),
  }),
]);

export const gpuPoolSchema = z.strictObject({
  name: dnsLabel.describe('Pool id, used in quotas, node labels and priority class names.'),
  gpuModel: z.string().min(1).describe('NVIDIA GPU model, e.g. A100-80GB, H100-80GB, L4, L40S, T4.'),
  gpusPerNode: z.number().int().min(1, 'must be at least 1').describe('Physical GPUs on each node of the pool.'),
  nodeSelector: labelMap
    .default({})
    .describe('Labels the provider already puts on the pool\'s nodes (e.g. the instance type).'),
  sharing: sharingSchema.optional().describe('How a GPU is shared; omitted means whole GPUs.'),
});

export const gpuSchema = z.strictObject({
  operator: z
    .strictObject({
      driver: z
        .enum(['preinstalled', 'managed'])
        .default('preinstalled')
        .describe('preinstalled: the node image ships the NVIDIA driver; managed: the GPU Operator installs it.'),
    })
    .default({ driver: 'preinstalled' }),
  pools: z.array(gpuPoolSchema).default([]).describe('GPU node pools; tenants are granted GPUs per pool.'),
});

export const tenantSchema = z.strictObject({
  name: dnsLabel.describe('Tenant id; also the name of its namespace.'),
  groups: z
    .array(z.string().min(1))
    .min(1, 'list at least one SSO group whose members belong to the tenant')
    .describe('SSO groups whose members belong to the tenant (edit rights in its namespace).'),
  quota: z.strictObject({
    cpu: quantity.describe('CPU requests the tenant may hold in total.'),
    memory: quantity.describe('Memory requests (and limits) the tenant may hold in total.'),
    gpus: z
      .record(z.string(), z.number().int().nonnegative('must be 0 or more'))
      .default({})
      .describe('Physical GPUs per pool, e.g. { a100: 16 }. A pool not listed is not granted.'),
  }),
  allowInternetEgress: z
    .boolean()
    .default(false)
    .describe('Let tenant pods reach addresses outside the cluster (default: cluster-internal only).'),
  allowServiceExposure: z
    .boolean()
    .default(false)
    .describe('Let the tenant create LoadBalancer and NodePort Services (default: reachable through the platform ingress only).'),
});

const image = z
  .string()
  .regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+(:[A-Za-z0-9_.-]{1,128})?(@sha256:[a-f0-9]{64})?$/, 'must be a full image reference, e.g. registry.acme.internal/minio/minio:RELEASE.2025-09-07T16-13-09Z')
  .describe('Full image reference; overrides the pinned default (still pulled as written, not through imageRegistry).');

const storageClassName = dnsLabel.describe('StorageClass of the volumes; default: the cluster\'s default StorageClass.');

/** Six-field cron (seconds first), as CloudNativePG's ScheduledBackup expects. */
const SIX_FIELD_CRON = /^\S+ \S+ \S+ \S+ \S+ \S+$/;
/** Five-field cron, as a Kubernetes CronJob expects. */
const FIVE_FIELD_CRON = /^(@(yearly|annually|monthly|weekly|daily|hourly)|\S+ \S+ \S+ \S+ \S+)$/;

export const minioStorageSchema = z.strictObject({
  kind: z.literal('minio').describe('MinIO, run by mlplat as a StatefulSet.'),
  mode: z
    .enum(['standalone', 'distributed'])
    .default('standalone')
    .describe('standalone: one server; distributed: erasure-coded across `replicas` servers.'),
  replicas: z.number().int().min(4, 'distributed MinIO needs at least 4 servers').max(32).default(4).describe('Servers in distributed mode.'),
  size: quantity.default('500Gi').describe('Volume size of each server.'),
  storageClass: storageClassName.optional(),
  image: image.optional(),
  clientImage: image.optional().describe('MinIO client (mc) image for the bootstrap and prefetch Jobs.'),
});

export const cephNodeSchema = z.strictObject({
  name: z.string().min(1).describe('Kubernetes node name (its kubernetes.io/hostname label).'),
  devices: z.array(z.string().min(1)).min(1, 'list at least one device, e.g. nvme1n1').describe('Raw devices on the node for OSDs, e.g. nvme1n1.'),
});

export const cephStorageSchema = z.strictObject({
  kind: z.literal('ceph').describe('Ceph through the Rook operator.'),
  mons: z
    .number()
    .int()
    .refine((n) => n % 2 === 1 && n >= 1 && n <= 9, 'must be an odd number from 1 to 9 (3 for production)')
    .default(3)
    .describe('Ceph monitors.'),
  replicas: z.number().int().min(1).max(7).default(3).describe('Copies of every object (block pool, filesystem and object store).'),
  devices: z
    .union([z.literal('all'), z.array(cephNodeSchema).min(1)])
    .default('all')
    .describe('"all": every empty device on every node; or the nodes and devices to use.'),
});

export const storageSchema = z.discriminatedUnion('kind', [minioStorageSchema, cephStorageSchema]);

export const mlflowTrackingSchema = z.strictObject({
  kind: z.literal('mlflow'),
  replicas: z.number().int().min(1).max(10).default(1).describe('MLflow server replicas.'),
  image: image.optional().describe('MLflow image; must contain mlflow[auth], psycopg2 and boto3.'),
});

export const clearmlTrackingSchema = z.strictObject({
  kind: z.literal('clearml'),
  storageClass: storageClassName.optional(),
  agents: z
    .boolean()
    .default(true)
    .describe('Run a clearml-agent (Kubernetes glue) per tenant and granted GPU pool.'),
});

export const trackingSchema = z.discriminatedUnion('kind', [mlflowTrackingSchema, clearmlTrackingSchema]);

export const databaseSchema = z.strictObject({
  instances: z.number().int().min(1).max(9).default(1).describe('PostgreSQL instances (1 primary + replicas); 3 for high availability.'),
  size: quantity.default('20Gi').describe('Volume size of each instance.'),
  storageClass: storageClassName.optional(),
  backup: z
    .strictObject({
      schedule: z
        .string()
        .regex(SIX_FIELD_CRON, 'must be a six-field cron expression (seconds first), e.g. "0 0 2 * * *"')
        .default('0 0 2 * * *')
        .describe('When the base backup runs (six fields, seconds first).'),
      retention: z
        .string()
        .regex(/^[1-9][0-9]*[dwm]$/, 'must be a number of days, weeks or months, e.g. "30d"')
        .default('30d'),
    })
    .default({ schedule: '0 0 2 * * *', retention: '30d' })
    .describe('Base backups and WAL archive to the platform object store (bucket "backups").'),
});

export const prefetchSchema = z.strictObject({
  name: dnsLabel.max(40, 'must be at most 40 characters').describe('Directory under the cache root and part of the Job name.'),
  source: z
    .string()
    .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?$/, 'must be an s3:// URI, e.g. s3://models/llama-2-70b')
    .describe('s3://bucket/prefix in the platform store, or in `endpoint` when set.'),
  endpoint: z.url({ protocol: /^https?$/ }).optional().describe('Another S3 endpoint; default: the platform store.'),
  credentialsSecret: dnsLabel
    .optional()
    .describe('Secret in namespace dataset-cache with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for `endpoint`.'),
  refreshSchedule: z
    .string()
    .regex(FIVE_FIELD_CRON, 'must be a five-field cron expression, e.g. "0 3 * * 0"')
    .optional()
    .describe('Re-sync on this schedule (a CronJob); default: fill once.'),
});

export const datasetCacheSchema = z.strictObject({
  size: quantity.describe('Capacity of the shared cache.'),
  nfs: z
    .strictObject({
      server: z.string().min(1).describe('NFS server address.'),
      path: z.string().regex(/^\/\S*$/, 'must be an absolute export path').describe('Exported directory that holds the cache.'),
    })
    .optional()
    .describe('NFS export holding the cache (csi-driver-nfs); required unless storage is ceph (then CephFS).'),
  scratch: z
    .strictObject({
      size: quantity.default('100Gi').describe('Writable RWX volume per tenant.'),
      storageClass: storageClassName.optional(),
    })
    .default({ size: '100Gi' })
    .describe('Each tenant\'s writable area.'),
  prefetch: z.array(prefetchSchema).default([]).describe('Datasets and model weights copied into the cache ahead of use.'),
});

export const tlsSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('selfSigned').describe('A private CA (cert-manager) issues every host\'s certificate; clients trust its ca.crt.') }),
  z.strictObject({
    mode: z.literal('acme').describe('An ACME CA (Let\'s Encrypt) over HTTP-01 through the ingress.'),
    email: z.email('must be an e-mail address').describe('ACME account contact.'),
    server: z.url({ protocol: /^https$/ }).optional().describe('ACME directory; default: Let\'s Encrypt production.'),
  }),
  z.strictObject({
    mode: z.literal('existingSecret').describe('Your own (wildcard) certificate.'),
    secretName: dnsLabel.describe('kubernetes.io/tls Secret in namespace traefik, served for every host.'),
  }),
]);

export const ingressSchema = z.strictObject({
  serviceType: z.enum(['LoadBalancer', 'NodePort']).default('LoadBalancer').describe('LoadBalancer (cloud) or NodePort (bare metal).'),
  nodePorts: z
    .strictObject({ http: z.number().int().min(30000).max(32767), https: z.number().int().min(30000).max(32767) })
    .optional()
    .describe('Fixed node ports (serviceType NodePort); default: assigned.'),
  replicas: z.number().int().min(1).max(10).default(2).describe('Traefik replicas.'),
});

/** Group names as tokens, oauth2-proxy flags (comma-separated) and RBAC subjects carry them. */
export const SSO_GROUP = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ssoGroup = z
  .string()
  .min(1)
  .max(255)
  .regex(SSO_GROUP, 'a group name: letters, digits, ".", "_" and "-", starting with a letter or digit');

export const ssoSchema = z.strictObject({
  realm: dnsLabel
    .refine((r) => r !== 'master', { message: '"master" is Keycloak\'s administration realm; choose the client\'s own realm name' })
    .optional()
    .describe('Keycloak realm of the client\'s users; default: the client id (metadata.name).'),
  adminGroups: z
    .array(ssoGroup)
    .min(1, 'name at least one group of platform admins')
    .default(['platform-admins'])
    .describe('Groups whose members are platform admins (every app, every UI).'),
  editorGroups: z.array(ssoGroup).default([]).describe('Groups whose members edit shared settings (e.g. dashboards).'),
  viewerGroups: z.array(ssoGroup).default([]).describe('Groups whose members read shared settings; tenant groups are viewers too.'),
  replicas: z.number().int().min(1).max(5).default(1).describe('Keycloak replicas (more than one: distributed cache).'),
  kubernetesApiServer: z
    .url({ protocol: /^https$/, error: 'must be an https URL, e.g. https://k8s.example.com:6443' })
    .optional()
    .describe('URL of the cluster\'s API server, written into the tenants\' kubeconfig files.'),
  image: image.optional().describe('Keycloak image.'),
});

const RETENTION = /^\d+(h|d|w|y)$/;
/** A volume size in binary units, at least `minGi` GiB (charts derive retention sizes from it). */
const volumeSize = (def: string, minGi = 0) =>
  z
    .string()
    .regex(/^\d+(Mi|Gi|Ti)$/, 'must be a size in Mi, Gi or Ti, e.g. "50Gi"')
    .refine((v) => Number(v.slice(0, -2)) * ({ Mi: 1 / 1024, Gi: 1, Ti: 1024 } as const)[v.slice(-2) as 'Gi'] >= minGi, `must be at least ${minGi}Gi`)
    .default(def);
const retention = (def: string) => z.string().regex(RETENTION, 'must be a duration like "15d", "12h", "4w" or "1y"').default(def);

/** A key of a Secret in namespace `monitoring` that you create (a webhook URL or a password). */
const monitoringSecretKey = z
  .strictObject({
    name: dnsLabel.describe('Secret in namespace monitoring.'),
    key: z.string().regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret key (letters, digits, "-", "_", ".")').describe('Key in that Secret.'),
  })
  .describe('A Secret key in namespace monitoring; create the Secret before enabling the receiver.');

const alertReceiver = z
  .strictObject({
    name: dnsLabel.refine((n) => n !== 'null', '"null" is the receiver that drops alerts; choose another name').describe('Receiver name (Alertmanager UI, notification logs).'),
    severities: z
      .array(z.enum(['critical', 'warning', 'info']))
      .min(1)
      .default(['critical', 'warning'])
      .describe('Alerts of these severities go to this receiver.'),
    slack: z
      .strictObject({
        channel: z.string().regex(/^[#@]?[^\s]+$/, 'must be a Slack channel such as "#ml-platform"').describe('Channel (the webhook\'s own when omitted).').optional(),
        urlSecret: monitoringSecretKey.describe('Secret key holding the Slack incoming-webhook URL.'),
      })
      .optional(),
    webhook: z
      .strictObject({ urlSecret: monitoringSecretKey.describe('Secret key holding the URL alerts are POSTed to (Alertmanager webhook JSON).') })
      .optional(),
    email: z
      .strictObject({
        to: z.email().describe('Recipient.'),
        from: z.email().describe('Sender.'),
        smarthost: z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'must be host:port, e.g. "smtp.acme.example:587"').describe('SMTP server.'),
        username: z.string().min(1).optional().describe('SMTP login (with passwordSecret).'),
        passwordSecret: monitoringSecretKey.optional().describe('Secret key holding the SMTP password.'),
      })
      .optional(),
  })
  .superRefine((r, ctx) => {
    const kinds = (['slack', 'webhook', 'email'] as const).filter((k) => r[k] !== undefined);
    if (kinds.length !== 1) ctx.addIssue({ code: 'custom', message: `name exactly one of slack, webhook, email${kinds.length ? ` (got ${kinds.join(', ')})` : ''}`, path: [] });
    if (r.email && (r.email.username === undefined) !== (r.email.passwordSecret === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'username and passwordSecret go together (SMTP login)', path: ['email'] });
    }
  })
  .describe('One alert receiver: exactly one of slack, webhook, email.');

export const observabilitySchema = z.strictObject({
  metrics: z
    .strictObject({
      retention: retention('15d').describe('How long Prometheus keeps samples.'),
      size: volumeSize('50Gi', 1).describe('Prometheus volume; samples are also dropped at 90 % of it.'),
      storageClass: storageClassName.optional(),
    })
    .default({ retention: '15d', size: '50Gi' }),
  alertmanager: z
    .strictObject({
      replicas: z.number().int().min(1).max(5).default(1).describe('Alertmanager replicas.'),
      size: volumeSize('2Gi').describe('Alertmanager volume (silences, notification log).'),
      receivers: z
        .array(alertReceiver)
        .refine((rs) => new Set(rs.map((r) => r.name)).size === rs.length, 'receiver names must be unique')
        .optional()
        .describe('Where alerts are sent; without receivers they are only shown in Alertmanager and Grafana.'),
    })
    .default({ replicas: 1, size: '2Gi' }),
  logs: z
    .strictObject({
      retention: retention('30d')
        .refine((v) => Number(v.slice(0, -1)) * ({ h: 1, d: 24, w: 168, y: 8760 } as const)[v.slice(-1) as 'h'] >= 24, 'must be at least 24h (Loki\'s index period)')
        .describe('How long Loki keeps log lines (in the bucket `logs`).'),
      size: volumeSize('20Gi').describe('Loki\'s local volume (index, write-ahead log, compactor).'),
      storageClass: storageClassName.optional(),
    })
    .default({ retention: '30d', size: '20Gi' }),
  alerts: z
    .strictObject({
      exclude: z.array(z.string().regex(/^[A-Z][A-Za-z]+$/, 'an alert name, e.g. GpuAllocatedButIdle')).optional().describe('Alerts to leave out (names as in docs/observability.md).'),
      gpuIdleFor: z
        .string()
        .regex(/^(\d+(ms|y|w|d|h|m|s))+$/, 'must be a duration like "30m" or "1h"')
        .refine((v) => /[1-9]/.test(v), 'must be longer than 0')
        .optional().describe('GpuAllocatedButIdle after this long idle (default 30m).'),
      gpuIdleBelowPercent: z.number().gt(0).lt(100).optional().describe('Idle below this utilisation % (default 1).'),
      gpuTemperatureCelsius: z.number().gt(0).lt(150).optional().describe('GpuTemperatureHigh above this (default 85).'),
      gpuMemoryFullPercent: z.number().gt(0).lt(100).optional().describe('GpuMemoryNearlyFull above this (default 95).'),
      tenantGpuQuotaPercent: z.number().gt(0).lt(100).optional().describe('TenantGpuQuotaNearlyUsed above this (default 90).'),
      volumeFullPercent: z.number().gt(0).lt(100).optional().describe('PlatformVolumeNearlyFull above this (default 85).'),
      certificateExpiryDays: z.number().int().min(1).optional().describe('CertificateExpiringSoon below this many days (default 14).'),
    })
    .optional()
    .describe('Thresholds of the platform alerts.'),
  grafana: z
    .strictObject({
      size: z.string().regex(/^\d+(Mi|Gi|Ti)$/, 'must be a size in Mi, Gi or Ti, e.g. "5Gi"').optional().describe('Grafana\'s volume (SQLite: users, sessions, preferences, annotations); default 5Gi.'),
      storageClass: storageClassName.optional(),
      dashboards: z.boolean().optional().describe('mlplat\'s dashboards (GPU, tenants, platform health, tracking and storage); default true.'),
      tenantViewers: z
        .boolean()
        .optional()
        .describe('Let tenant groups into Grafana as Viewers; every Viewer then reads every tenant\'s metrics and logs. Default false: the platform\'s role groups only.'),
    })
    .default({}),
  controlPlaneTargets: z
    .boolean()
    .default(false)
    .describe('Scrape kube-scheduler, kube-controller-manager, etcd and kube-proxy (false for managed control planes, which expose none).'),
});

export const MODEL_FORMATS = ['huggingface', 'sklearn', 'xgboost', 'lightgbm', 'mlflow', 'onnx', 'tensorrt', 'triton', 'pytorch', 'tensorflow'] as const;

export const modelSchema = z.strictObject({
  name: dnsLabel
    .max(40, 'must be at most 40 characters (it is the first label of the model\'s host)')
    .regex(/^[a-z]/, 'must start with a letter (KServe names are DNS-1035 labels)')
    .describe('Model id within its tenant; served at https://<name>.<tenant>.<domain>/.'),
  tenant: dnsLabel.describe('Tenant that owns and pays for the endpoint.'),
  pool: dnsLabel.optional().describe('GPU pool (granted to the tenant); omitted: CPU only.'),
  gpus: z.number().int().min(0).optional().describe('GPUs per replica in the pool\'s units (whole GPUs, MIG slices or time-slices); default 1 with a pool, 0 without.'),
  format: z.enum(MODEL_FORMATS).describe('Model format; picks the serving runtime.'),
  runtime: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a ClusterServingRuntime name, e.g. kserve-huggingfaceserver')
    .optional()
    .describe('ClusterServingRuntime; default: the one for `format`.'),
  source: z
    .strictObject({
      uri: z
        .string()
        .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+$/, 'must be an s3:// URI with a path, e.g. s3://tenant-serving/models/churn')
        .optional()
        .describe('s3://tenant-<tenant>/<path> in the platform store.'),
      cache: dnsLabel.optional().describe('A datasetCache.prefetch entry (no download: mounted read-only).'),
      mlflow: z
        .strictObject({
          model: z.string().min(1).describe('Registered model name.'),
          version: z.number().int().min(1, 'must be a version number (aliases can move; versions cannot)').describe('Model version.'),
        })
        .optional()
        .describe('An MLflow registered model version, copied once into the tenant\'s bucket.'),
      clearml: z
        .strictObject({ id: z.string().regex(/^[0-9a-f]{32}$/, 'must be a ClearML model id (32 hex characters)') })
        .optional()
        .describe('A ClearML model, copied once into the tenant\'s bucket.'),
    })
    .describe('Where the weights come from: exactly one of uri, cache, mlflow, clearml.'),
  replicas: z
    .strictObject({
      min: z.number().int().min(1).default(1),
      max: z.number().int().min(1).optional().describe('default: min (no autoscaling)'),
    })
    .default({ min: 1 }),
  resources: z.strictObject({
    cpu: quantity.describe('CPU per replica (request = limit).'),
    memory: quantity.describe('Memory per replica (request = limit).'),
  }),
  args: z.array(z.string()).default([]).describe('Extra arguments for the runtime (e.g. vLLM engine arguments).'),
});

export const servingSchema = z.strictObject({
  models: z.array(modelSchema).default([]).describe('Inference endpoints (KServe, standard deployment mode).'),
  metricsServer: z
    .strictObject({
      replicas: z.number().int().min(1).max(5).default(1).describe('metrics-server pods (a PodDisruptionBudget from 2).'),
      kubeletInsecureTls: z.boolean().default(false).describe('Skip verifying kubelet serving certificates (kubeadm clusters without serverTLSBootstrap).'),
    })
    .optional()
    .describe('Install metrics-server (the metrics.k8s.io API autoscaling models need) in kube-system; leave out where the cluster has one.'),
});

export const platformSchema = z.strictObject({
  $schema: z.string().optional(),
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Platform'),
  metadata: z.strictObject({
    name: dnsLabel.describe('Client id, a DNS-1123 label.'),
  }),
  spec: z.strictObject({
    domain: z
      .string()
      .max(253)
      .regex(DNS1123_SUBDOMAIN, 'must be a DNS name in lowercase, e.g. ml.acme.example')
      .describe('Apps are served at <app>.<domain>.'),
    imageRegistry: z
      .string()
      .regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/, 'must be a registry host with an optional path, e.g. registry.acme.internal/mirror')
      .optional()
      .describe('Pull every image through this registry (air-gapped clusters); default: upstream registries.'),
    access: z
      .strictObject({
        groupPrefix: z
          .string()
          .default('oidc:')
          .describe('Prefix the API server adds to OIDC group names (its groups claim prefix).'),
      })
      .default({ groupPrefix: 'oidc:' }),
    gpu: gpuSchema.default({ operator: { driver: 'preinstalled' }, pools: [] }),
    tenants: z.array(tenantSchema).default([]),
    storage: storageSchema.optional().describe('Object storage (S3) for artifacts, models, datasets, logs and backups.'),
    database: databaseSchema
      .default({ instances: 1, size: '20Gi', backup: { schedule: '0 0 2 * * *', retention: '30d' } })
      .describe('The platform PostgreSQL (CloudNativePG), used by MLflow and Keycloak.'),
    tracking: trackingSchema.optional().describe('Experiment tracking server; needs storage.'),
    datasetCache: datasetCacheSchema.optional().describe('Shared read-only cache of datasets and model weights; needs storage.'),
    ingress: ingressSchema.optional().describe('Traefik as the platform ingress, with cert-manager for TLS.'),
    tls: tlsSchema.optional().describe('How hosts get certificates (needs ingress); default: selfSigned.'),
    observability: observabilitySchema
      .optional()
      .describe('Prometheus (with GPU metrics and alerts), Loki, Alloy and Grafana; needs storage and sso.'),
    serving: servingSchema.optional().describe('KServe model endpoints at <model>.<tenant>.<domain>; needs ingress and sso.'),
    sso: ssoSchema
      .optional()
      .describe('Keycloak: one login for every app and kubectl; needs ingress and storage (its database\'s backups).'),
  }),
});

/** The YAML as written (before defaults). */
export type PlatformConfigInput = z.input<typeof platformSchema>;
/** The validated platform spec with defaults applied: what stacks and constructs consume. */
export type PlatformSpec = z.output<typeof platformSchema>;
export type GpuPoolSpec = PlatformSpec['spec']['gpu']['pools'][number];
export type GpuSharingSpec = NonNullable<GpuPoolSpec['sharing']>;
export type TenantSpec = PlatformSpec['spec']['tenants'][number];
export type StorageSpec = NonNullable<PlatformSpec['spec']['storage']>;
export type MinioStorageSpec = z.output<typeof minioStorageSchema>;
export type CephStorageSpec = z.output<typeof cephStorageSchema>;
export type TrackingSpec = NonNullable<PlatformSpec['spec']['tracking']>;
export type DatabaseSpec = PlatformSpec['spec']['database'];
export type DatasetCacheSpec = NonNullable<PlatformSpec['spec']['datasetCache']>;
export type PrefetchSpec = DatasetCacheSpec['prefetch'][number];
export type SsoSpec = NonNullable<PlatformSpec['spec']['sso']>;
export type ObservabilitySpec = NonNullable<PlatformSpec['spec']['observability']>;
export type ServingSpec = NonNullable<PlatformSpec['spec']['serving']>;
export type ModelSpec = ServingSpec['models'][number];
export type ModelFormat = (typeof MODEL_FORMATS)[number];

/** JSON Schema of the config for editors (yaml-language-server). */
export function platformJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(platformSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'mlplat Platform',
  };
}
