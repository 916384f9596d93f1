import { Construct } from 'constructs';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';
import { ISecretRef, S3_KEYS, secretEnv } from '../credentials/types';
import { IBucket, IObjectStore, ServiceEndpoint, serviceEndpoint } from '../storage/types';
import { ILogs, IMetricsSource, MONITORING_NAMESPACE, ScrapeTarget } from './types';

/** Helm release name; the chart names its Services and StatefulSet after it (`loki`, `loki-headless`). */
export const LOKI_RELEASE = 'loki';
/** Platform bucket the chunks and the index go to. */
export const LOKI_BUCKET = 'logs';
/** Secret (in the monitoring namespace) with Loki's S3 credentials, from `IObjectStore.grant`. */
export const LOKI_S3_SECRET = 'loki-s3';
/** S3 user Loki signs requests as. */
export const LOKI_S3_USER = 'loki';
/** HTTP port of the single binary: query, push and /metrics (chart port name `http-metrics`). */
export const LOKI_HTTP_PORT = 3100;
const LOKI_HTTP_PORT_NAME = 'http-metrics';
/** Push API path, relative to the Loki URL. */
export const LOKI_PUSH_PATH = '/loki/api/v1/push';
/**
 * First day of the one schema period. It is part of the stored index layout: never change it;
 * a new schema is a new entry with a later date.
 */
export const LOKI_SCHEMA_FROM = '2024-04-01';
/** Name the object store has in the schema and in `delete_request_store`. */
const OBJECT_STORE = 's3';
/** Labels the chart puts on the single-binary pod (`loki.selectorLabels` + component). */
const SINGLE_BINARY_POD_LABELS = {
  'app.kubernetes.io/name': 'loki',
  'app.kubernetes.io/instance': LOKI_RELEASE,
  'app.kubernetes.io/component': 'single-binary',
} as const;

/** Loki's duration syntax (Prometheus `model.Duration`): units in this order, each at most once. */
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const HOURS_PER_UNIT = [365 * 24, 7 * 24, 24, 1, 1 / 60, 1 / 3600, 1 / 3_600_000];

/** Container resources as chart values (plain strings: chart values are not Kubernetes objects). */
export interface ChartResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu?: string; readonly memory: string };
}

type EnvVar = { readonly name: string; readonly valueFrom: { readonly secretKeyRef: { readonly name: string; readonly key: string } } };

/**
 * Typed subset of the loki chart's values (grafana-community chart 18.11.0, Loki 3.7.6; paths
 * checked against its values.yaml and values.schema.json and with `helm template`).
 */
export interface LokiValues {
  readonly deploymentMode: 'Monolithic';
  readonly global?: { readonly imageRegistry: string };
  readonly loki: {
    readonly auth_enabled: boolean;
    readonly commonConfig: { readonly replication_factor: number };
    readonly schemaConfig: {
      readonly configs: ReadonlyArray<{
        readonly from: string;
        readonly store: 'tsdb';
        readonly object_store: string;
        readonly schema: 'v13';
        readonly index: { readonly prefix: string; readonly period: string };
      }>;
    };
    readonly storage: {
      readonly type: 's3';
      readonly bucketNames: { readonly chunks: string };
      readonly s3: { readonly endpoint: string; readonly region: string; readonly s3ForcePathStyle: boolean; readonly insecure: boolean };
    };
    readonly compactor: { readonly retention_enabled: boolean; readonly delete_request_store: string; readonly working_directory: string };
    /** Merged by Helm into the chart's own limits (reject_old_samples, query_timeout, ...). */
    readonly limits_config: { readonly retention_period: string };
    readonly analytics: { readonly reporting_enabled: boolean };
  };
  readonly defaults: { readonly automountServiceAccountToken: boolean; readonly enableServiceLinks: boolean };
  readonly serviceAccount: { readonly automountServiceAccountToken: boolean };
  readonly singleBinary: {
    readonly replicas: number;
    readonly extraEnv: readonly EnvVar[];
    readonly resources: ChartResources;
    readonly persistence: { readonly enabled: boolean; readonly size: string; readonly storageClass?: string };
  };
  readonly memberlist: { readonly service: { readonly publishNotReadyAddresses: boolean } };
  readonly read: { readonly replicas: 0 };
  readonly write: { readonly replicas: 0 };
  readonly backend: { readonly replicas: 0 };
  readonly ruler: { readonly enabled: boolean };
  readonly gateway: { readonly enabled: boolean };
  readonly chunksCache: { readonly enabled: boolean };
  readonly resultsCache: { readonly enabled: boolean };
  readonly memcached: { readonly enabled: boolean };
  readonly lokiCanary: { readonly enabled: boolean };
  readonly test: { readonly enabled: boolean };
  readonly sidecar: { readonly rules: { readonly enabled: boolean } };
  readonly monitoring: {
    readonly serviceMonitor: { readonly enabled: boolean };
    readonly dashboards: { readonly enabled: boolean };
    readonly rules: { readonly enabled: boolean };
    readonly alerts: { readonly enabled: boolean };
  };
}

export interface LokiOptions {
  /**
   * How long logs are kept (Loki duration: `30d`, `12w`, `744h`; at least 24h), enforced by the
   * compactor, which deletes older chunks from the bucket.
   * @default '30d'
   */
  readonly retention?: string;
  /**
   * Volume of the single binary (write-ahead log, index cache, compactor work); logs themselves
   * live in the object store.
   * @default '10Gi'
   */
  readonly size?: string;
  /**
   * StorageClass of that volume.
   * @default - the cluster's default StorageClass
   */
  readonly storageClass?: string;
  /**
   * Resources of the Loki container (GOMEMLIMIT follows the memory limit).
   * @default - 250m CPU and 512Mi requested, 2Gi memory limit
   */
  readonly resources?: ChartResources;
}

export interface LokiProps extends LokiOptions {
  /** The platform object store: Loki keeps chunks and index in its `logs` bucket. */
  readonly store: IObjectStore;
}

/** The log store as the shipper and Grafana see it. */
export interface ILogStore extends ILogs {
  readonly namespace: string;
  /** The Service serving query and push. */
  readonly endpoint: ServiceEndpoint;
  /** Where log shippers push (`<lokiUrl>/loki/api/v1/push`). */
  readonly pushUrl: string;
}

/**
 * Loki (Helm, through ChartRelease) as one binary (`deploymentMode: Monolithic`, the chart's
 * small-install mode) in the monitoring namespace. Chunks and index go to the platform bucket
 * `logs` with credentials of its own S3 user, read from the granted Secret as environment
 * variables (Loki's AWS SDK picks them up; no key is ever in the values). The compactor deletes
 * logs older than the retention. Loki runs with authentication off, as one Loki tenant: mlplat
 * tenants are a label on every stream (set by the shipper). Tenant pods cannot reach it: their
 * egress goes only to namespaces labelled `mlplat.io/reachable-from-tenants`, which the monitoring
 * namespace must never be (it would expose every tenant's logs).
 */
export class Loki extends Construct implements ILogStore, IMetricsSource {
  readonly namespace = MONITORING_NAMESPACE;
  readonly retention: string;
  readonly size: string;
  readonly storageClass: string | undefined;
  readonly resources: ChartResources;
  readonly endpoint: ServiceEndpoint;
  readonly lokiUrl: string;
  readonly pushUrl: string;
  readonly bucket: IBucket;
  /** Loki's S3 credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in the monitoring namespace. */
  readonly credentials: ISecretRef;
  readonly release: ChartRelease<LokiValues>;
  /**
   * The single binary's /metrics. The chart's ServiceMonitor stays off: it would also select
   * the `loki-memberlist` Service, which has no `http-metrics` port.
   */
  readonly scrapeTargets: readonly ScrapeTarget[];

  constructor(scope: Construct, id: string, props: LokiProps) {
    const retention = props.retention ?? '30d';
    const hours = durationHours(retention);
    if (hours === undefined) {
      throw new Error(`logs retention "${retention}" is not a Loki duration (e.g. 30d, 12w, 744h)`);
    }
    if (hours < 24) throw new Error(`logs retention "${retention}" is shorter than 24h, the index period`);
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.retention = retention;
    this.size = props.size ?? '10Gi';
    this.storageClass = props.storageClass;
    this.resources = props.resources ?? { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '2Gi' } };
    this.endpoint = serviceEndpoint(MONITORING_NAMESPACE, LOKI_RELEASE, LOKI_HTTP_PORT, LOKI_HTTP_PORT_NAME);
    this.lokiUrl = this.endpoint.url;
    this.pushUrl = `${this.lokiUrl}${LOKI_PUSH_PATH}`;
    this.scrapeTargets = [
      { name: 'loki', namespace: MONITORING_NAMESPACE, podSelector: SINGLE_BINARY_POD_LABELS, port: LOKI_HTTP_PORT_NAME, path: '/metrics', component: 'loki' },
    ];

    const store = props.store;
    this.bucket = store.bucket(LOKI_BUCKET);
    // readwrite: the compactor deletes expired chunks and rewrites the index.
    this.credentials = store.grant({ namespace: MONITORING_NAMESPACE, secretName: LOKI_S3_SECRET, user: LOKI_S3_USER }, [this.bucket], 'readwrite');
    const s3 = store.s3;

    this.release = new ChartRelease<LokiValues>(this, 'Release', {
      chart: ctx.versions.charts.loki,
      releaseName: LOKI_RELEASE,
      namespace: MONITORING_NAMESPACE,
      values: {
        // SimpleScalable is deprecated (removed in Loki 4); one binary serves small platforms.
        deploymentMode: 'Monolithic',
        ...(ctx.imageRegistry ? { global: { imageRegistry: ctx.imageRegistry } } : {}),
        loki: {
          auth_enabled: false,
          commonConfig: { replication_factor: 1 },
          schemaConfig: {
            configs: [
              { from: LOKI_SCHEMA_FROM, store: 'tsdb', object_store: OBJECT_STORE, schema: 'v13', index: { prefix: 'loki_index_', period: '24h' } },
            ],
          },
          storage: {
            type: 's3',
            bucketNames: { chunks: this.bucket.name },
            // In-cluster stores serve plain http on a Service name, so path-style addressing.
            s3: { endpoint: s3.url, region: store.region, s3ForcePathStyle: true, insecure: s3.url.startsWith('http://') },
          },
          // Retention needs a store for delete requests ("compactor.delete-request-store should be
          // configured when retention is enabled", pkg/compactor/config.go).
          compactor: { retention_enabled: true, delete_request_store: OBJECT_STORE, working_directory: '/var/loki/compactor' },
          limits_config: { retention_period: retention },
          analytics: { reporting_enabled: false },
        },
        // Loki never calls the Kubernetes API once the rules sidecar is off.
        defaults: { automountServiceAccountToken: false, enableServiceLinks: false },
        serviceAccount: { automountServiceAccountToken: false },
        singleBinary: {
          replicas: 1,
          // With no keys in the config, Loki's AWS SDK reads these (default credential chain).
          extraEnv: [
            secretEnv(S3_KEYS.accessKeyId, this.credentials, S3_KEYS.accessKeyId),
            secretEnv(S3_KEYS.secretAccessKey, this.credentials, S3_KEYS.secretAccessKey),
          ],
          resources: this.resources,
          persistence: { enabled: true, size: this.size, ...(this.storageClass ? { storageClass: this.storageClass } : {}) },
        },
        // The one pod joins memberlist through this headless Service before it is Ready; with only
        // ready addresses the name never resolves and abort_if_cluster_join_fails turns that into a
        // crash loop (grafana/loki#7907).
        memberlist: { service: { publishNotReadyAddresses: true } },
        read: { replicas: 0 },
        write: { replicas: 0 },
        backend: { replicas: 0 },
        // Off: the ruler would need a bucket of its own; alerts come from Prometheus.
        ruler: { enabled: false },
        // Off: the nginx gateway routes paths between the scalable targets and adds basic auth per
        // Loki tenant; one binary serves every path on one port, and NetworkPolicies guard it.
        gateway: { enabled: false },
        // Off: memcached (8 GiB by default) pays off for large query loads only.
        chunksCache: { enabled: false },
        resultsCache: { enabled: false },
        memcached: { enabled: false },
        // Off: the canary DaemonSet and the Helm test pod are extra images pushing test traffic.
        lokiCanary: { enabled: false },
        test: { enabled: false },
        // Off: the sidecar loads rule ConfigMaps and Secrets (a ClusterRole reading every Secret).
        sidecar: { rules: { enabled: false } },
        // Prometheus scrapes Loki through mlplat's PodMonitor (scrapeTargets); no chart CRD objects.
        monitoring: { serviceMonitor: { enabled: false }, dashboards: { enabled: false }, rules: { enabled: false }, alerts: { enabled: false } },
      },
    });
  }
}

/** Hours in a Loki duration, or undefined when `d` is not one. */
export function durationHours(d: string): number | undefined {
  const m = DURATION.exec(d);
  if (!m || d === '') return undefined;
  return m.slice(1).reduce((sum, v, i) => sum + (v ? Number(v) * HOURS_PER_UNIT[i] : 0), 0);
}
