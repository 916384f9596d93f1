import { createHash } from 'node:crypto';
import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { WebUi } from '../edge/types';
import { stringify } from 'yaml';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { ImageRef } from '../../lib/versions';
import { hardenedContainer, hardenedPod, resources } from '../../lib/workload';
import { CredentialGenerator } from '../credentials/generator';
import { ISecretRef, S3_KEYS, secretEnv } from '../credentials/types';
import { TENANT_LABEL, TENANT_NAMESPACES } from '../gpu/access-policy';
import { IGpuPool, POOL_LABEL } from '../gpu/pool';
import { IObjectStore, serviceEndpoint, ServiceEndpoint } from '../storage/types';
import { ITenant, TENANT_REACHABLE_LABEL } from '../tenancy/tenant';

/** clearml-agent version task pods install (the glue pins it with `K8S_GLUE_POD_AGENT_INSTALL_ARGS`). */
export const CLEARML_AGENT_VERSION = '3.0.3';

/** Namespace of the ClearML server. */
export const CLEARML_NAMESPACE = 'clearml';

/** Company the apiserver creates on first start (clearml-server apiserver.conf `default_company`). */
const DEFAULT_COMPANY = 'd1bd92a3b039400cbafc60a7a5b1e52b';

export interface ClearmlImages {
  /**
   * ClearML Server: apiserver, webserver, fileserver and the async-delete job.
   * @default - `allegroai/clearml:2.0.0-613` (this.ctx.versions.images.clearml.server)
   */
  readonly server?: string;
  /** @default - `mongo:6.0.19` */
  readonly mongo?: string;
  /** @default - `elasticsearch:8.17.0` */
  readonly elasticsearch?: string;
  /** @default - `redis:7.4.1` */
  readonly redis?: string;
  /**
   * The clearml-agent Kubernetes glue: python3 with clearml-agent importable and `kubectl` on the
   * PATH, runnable as any user.
   * @default - `allegroai/clearml-agent-k8s-base:1.24-21` (carries clearml-agent 1.24)
   */
  readonly agent?: string;
  /**
   * Image of task pods whose task names none (python3, pip and git, runnable as any user).
   * @default - `python:3.12.11-bookworm`
   */
  readonly task?: string;
}

export interface ClearmlServerOptions {
  /**
   * Storage class of the MongoDB, Elasticsearch, Redis and fileserver volumes.
   * @default - the cluster's default storage class
   */
  readonly storageClass?: string;
  /**
   * Run a clearml-agent Kubernetes glue per tenant and GPU pool (`addAgent`, `addTenant`).
   * @default true
   */
  readonly agents?: boolean;
  /**
   * Image overrides.
   * @default - the versions catalog's images.clearml, pulled through the platform's registry mirror when one is set
   */
  readonly images?: ClearmlImages;
}

export interface ClearmlServerProps extends ClearmlServerOptions {
  /** Generates the server's secrets and the agents' API keys. */
  readonly credentials: CredentialGenerator;
  /** Object store whose per-tenant buckets hold the tasks' artifacts and models. */
  readonly store: IObjectStore;
}

/** A ClearML queue served by one agent: tasks enqueued there run in `tenant`'s namespace on `pool`. */
export interface ClearmlQueue {
  readonly tenant: string;
  readonly pool: string;
  readonly queue: string;
}

/** Keys of the server's Secret. */
const SERVER_KEYS = {
  sessionSecret: 'SESSION_SECRET',
  tokenSecret: 'TOKEN_SECRET',
  apiserverKey: 'APISERVER_KEY',
  apiserverSecret: 'APISERVER_SECRET',
  fileserverKey: 'FILESERVER_KEY',
  fileserverSecret: 'FILESERVER_SECRET',
  webserverKey: 'WEBSERVER_KEY',
  webserverSecret: 'WEBSERVER_SECRET',
} as const;

/** Keys of each tenant's agent Secret: the env names clearml-agent and the SDK read. */
export const AGENT_KEYS = { accessKey: 'CLEARML_API_ACCESS_KEY', secretKey: 'CLEARML_API_SECRET_KEY' } as const;
/** Name of the agent API key Secret in each tenant namespace (read by task pods). */
export const AGENT_SECRET = 'clearml-agent';
/** Keys of the copy of a tenant's agent key pair in the `clearml` namespace (read by the apiserver and the glue). */
const SERVER_COPY_KEYS = { accessKey: 'USER_KEY', secretKey: 'USER_SECRET' } as const;

/** Longest Kubernetes object name mlplat derives here (a DNS-1123 label). */
const MAX_NAME = 63;
/** Hex characters of the hash that ends a shortened name. */
const NAME_HASH_LENGTH = 8;

/**
 * Name of the glue Deployment (and its ServiceAccount, ConfigMap, Role and RoleBinding) of
 * `tenant`'s agent on `pool`: `clearml-agent-<tenant>-<pool>`. A name longer than 63 characters
 * keeps its first 54 and ends in `-` and the first 8 hex digits of the SHA-256 of the full name.
 */
export function clearmlAgentName(tenant: string, pool: string): string {
  const full = `clearml-agent-${tenant}-${pool}`;
  if (full.length <= MAX_NAME) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, NAME_HASH_LENGTH);
  return `${full.slice(0, MAX_NAME - NAME_HASH_LENGTH - 1).replace(/-+$/, '')}-${hash}`;
}

/** Components of the backends (MongoDB, Elasticsearch, Redis): reachable only from server pods. */
const BACKEND_COMPONENTS = { mongo: 'mongo', elastic: 'elasticsearch', redis: 'redis' } as const;

const PORTS = { apiserver: 8008, webserver: 8080, fileserver: 8081, mongo: 27017, elastic: 9200, redis: 6379 } as const;
/** nginx in the server image listens on 80 (clearml.conf.template); the Service exposes 8080 as upstream does. */
const WEBSERVER_CONTAINER_PORT = 80;

/** Volume sizes: the clearml chart's defaults. */
const SIZES = { mongo: '50Gi', elastic: '50Gi', redis: '5Gi', fileserver: '50Gi' } as const;

/** Where the agent's ConfigMap is mounted in the glue pod. */
const AGENT_CONFIG_DIR = '/etc/clearml-agent';
const AGENT_HOME = '/home/clearml-agent';
const TASK_HOME = '/home/clearml';

/** A `value` env var, quoted as a HOCON string (ClearML parses `CLEARML__*` values as HOCON). */
const hocon = (value: string) => JSON.stringify(value);

/**
 * The ClearML server (apiserver, webserver, fileserver, async delete) with its MongoDB,
 * Elasticsearch and Redis, and per tenant and GPU pool a clearml-agent Kubernetes glue (in the
 * `clearml` namespace, out of tenants' reach) that launches the tasks of queue `<tenant>-<pool>`
 * as pods in the tenant's namespace, on the pool's nodes and against the tenant's quota. Every
 * secret the server would otherwise take from its public defaults is generated; task pods keep
 * their artifacts in their tenant's own bucket.
 */
export class ClearmlServer extends Construct {
  readonly namespace = CLEARML_NAMESPACE;
  readonly storageClass: string | undefined;
  readonly agents: boolean;
  readonly images: Required<ClearmlImages>;
  /** REST API (`/debug.ping`, `/auth.login`, ...); the SDK's `api_server`. */
  readonly api: ServiceEndpoint;
  /** Web UI (nginx, also proxying `/api` and `/files`). */
  readonly web: ServiceEndpoint;
  /** The web app (it proxies the API), for the ingress. */
  readonly webUi: WebUi;
  /** File server (uploads from the UI and debug samples); the SDK's `files_server`. */
  readonly files: ServiceEndpoint;
  /** The server's generated secrets (session and token signing secrets, system users' keys). */
  readonly serverSecret: ISecretRef;

  private readonly ctx: PlatformContext;
  private readonly credentials: CredentialGenerator;
  private readonly store: IObjectStore;
  private readonly queueList: ClearmlQueue[] = [];
  private taskCache?: { mountInto(spec: k8s.PodSpec): k8s.PodSpec };
  /** Per tenant: its API key pair, in its namespace and copied here for the apiserver and the glue. */
  private readonly agentUsers = new Map<string, AgentUser>();

  constructor(scope: Construct, id: string, props: ClearmlServerProps) {
    super(scope, id);
    this.ctx = PlatformContext.of(this);
    this.credentials = props.credentials;
    this.store = props.store;
    this.storageClass = props.storageClass;
    this.agents = props.agents ?? true;
    const image = (override: string | undefined, ref: ImageRef) => override ?? this.ctx.image(ref);
    this.images = {
      server: image(props.images?.server, this.ctx.versions.images.clearml.server),
      mongo: image(props.images?.mongo, this.ctx.versions.images.clearml.mongo),
      elasticsearch: image(props.images?.elasticsearch, this.ctx.versions.images.clearml.elasticsearch),
      redis: image(props.images?.redis, this.ctx.versions.images.clearml.redis),
      agent: image(props.images?.agent, this.ctx.versions.images.clearml.agent),
      task: image(props.images?.task, this.ctx.versions.images.clearml.task),
    };

    const ns = this.namespace;
    this.api = serviceEndpoint(ns, 'clearml-apiserver', PORTS.apiserver, 'http');
    this.web = serviceEndpoint(ns, 'clearml-webserver', PORTS.webserver, 'http');
    this.webUi = { namespace: ns, service: { name: this.web.name, port: this.web.portName }, podSelector: this.selector('webserver'), targetPort: WEBSERVER_CONTAINER_PORT };
    this.files = serviceEndpoint(ns, 'clearml-fileserver', PORTS.fileserver, 'http');

    new k8s.KubeNamespace(this, 'Namespace', {
      metadata: {
        name: ns,
        labels: {
          [TENANT_REACHABLE_LABEL]: 'true',
          'pod-security.kubernetes.io/enforce': 'baseline',
          'pod-security.kubernetes.io/enforce-version': 'latest',
          'pod-security.kubernetes.io/warn': 'baseline',
          'pod-security.kubernetes.io/audit': 'restricted',
        },
        annotations: {
          [`${MLPLAT_PREFIX}/pod-security-reason`]:
            'The ClearML server image runs as root: the apiserver generates Python modules into its own root-owned package at start, ' +
            'and the webserver entrypoint rewrites nginx and web-app files and starts nginx as root (port 80, workers as www-data). ' +
            'MongoDB, Elasticsearch and Redis run restricted-compliant.',
        },
      },
    });

    // Every value the server would otherwise take from its public defaults (clearml-server
    // apiserver/config/default/secure.conf, fileserver/config/default/secure.conf).
    this.serverSecret = props.credentials.secret(ns, 'clearml-server', {
      [SERVER_KEYS.sessionSecret]: { generate: 64 },
      [SERVER_KEYS.tokenSecret]: { generate: 64 },
      [SERVER_KEYS.apiserverKey]: { generate: 30 },
      [SERVER_KEYS.apiserverSecret]: { generate: 64 },
      [SERVER_KEYS.fileserverKey]: { generate: 30 },
      [SERVER_KEYS.fileserverSecret]: { generate: 64 },
      [SERVER_KEYS.webserverKey]: { generate: 30 },
      [SERVER_KEYS.webserverSecret]: { generate: 64 },
    });

    this.addBackends();
    this.addServer();
    this.restrictIngress();
  }

  /** Every queue an agent serves, in the order they were added. */
  get queues(): readonly ClearmlQueue[] {
    return this.queueList;
  }

  /** Adds an agent for every GPU pool granted to `tenant` (none when `agents` is false). */
  addTenant(tenant: ITenant): readonly ClearmlQueue[] {
    if (!this.agents) return [];
    return [...tenant.gpuGrants.keys()]
      .filter((pool) => !this.queueList.some((q) => q.tenant === tenant.name && q.pool === pool.name))
      .map((pool) => this.addAgent(tenant, pool));
  }

  /**
   * Default output destination of `tenant`'s tasks: `s3://<host>:<port>/<tenant bucket>`, the
   * bucket only that tenant's S3 user may use.
   */
  outputUri(tenant: ITenant): string {
    return `s3://${s3HostPort(this.store)}/${this.store.tenantBucket(tenant).bucket.name}`;
  }

  /**
   * Mounts the dataset cache (read-only, with its scratch area) into every task pod of agents
   * added from now on.
   */
  useDatasetCache(cache: { mountInto(spec: k8s.PodSpec): k8s.PodSpec }): void {
    if (this.queueList.length > 0) throw new Error('enable the dataset cache before adding ClearML agents: task pod templates are already written');
    this.taskCache = cache;
  }

  /**
   * A clearml-agent Kubernetes glue serving queue `<tenant>-<pool>`: it runs in `clearml` and
   * turns each task into a pod in `tenant`'s namespace on `pool`, asking for `units` of the pool's
   * GPU resource, counted against the tenant's quota of that pool.
   */
  addAgent(tenant: ITenant, pool: IGpuPool, units: number = 1): ClearmlQueue {
    if (!this.agents) {
      throw new Error(`ClearML agents are disabled (agents: false); cannot add an agent for tenant "${tenant.name}" on pool "${pool.name}"`);
    }
    const granted = tenant.gpuGrants.get(pool);
    if (granted === undefined) {
      const names = [...tenant.gpuGrants.keys()].map((p) => p.name);
      throw new Error(`tenant "${tenant.name}" has no grant on GPU pool "${pool.name}" (granted: ${names.join(', ') || 'none'}); grant it before adding a ClearML agent`);
    }
    if (this.queueList.some((q) => q.tenant === tenant.name && q.pool === pool.name)) {
      throw new Error(`tenant "${tenant.name}" already has a ClearML agent on pool "${pool.name}"`);
    }
    const capacity = granted * pool.unitsPerGpu;
    if (!Number.isInteger(units) || units < 1 || units > capacity) {
      throw new Error(`ClearML agent of tenant "${tenant.name}" on pool "${pool.name}": units must be a whole number from 1 to ${capacity} (the tenant's ${pool.resourceName} quota), not ${units}`);
    }
    // Time-sliced pools keep the name nvidia.com/gpu and fail requests for more than one replica.
    if (pool.resourceName === 'nvidia.com/gpu' && pool.unitsPerGpu > 1 && units !== 1) {
      throw new Error(`ClearML agent of tenant "${tenant.name}" on pool "${pool.name}": a time-sliced pool serves one replica per pod, so units must be 1 (got ${units})`);
    }

    const queue: ClearmlQueue = { tenant: tenant.name, pool: pool.name, queue: `${tenant.name}-${pool.name}` };
    // `a-b` on pool `c` and `a` on pool `b-c` would share queue `a-b-c` (each glue would launch
    // the other tenant's tasks) and the Deployment name.
    const clash = this.queueList.find((q) => q.queue === queue.queue);
    if (clash) {
      throw new Error(`ClearML agent of tenant "${tenant.name}" on pool "${pool.name}": its queue "${queue.queue}" is already served by the agent of tenant "${clash.tenant}" on pool "${clash.pool}"; rename the tenant or the pool`);
    }
    // The glue labels each task pod with the queue name cut to 63 characters (clearml-agent
    // K8sIntegration._safe_k8s_label_value), which must end in a letter or digit.
    const labelValue = queue.queue.slice(0, MAX_NAME);
    if (!/[a-z0-9]$/.test(labelValue)) {
      throw new Error(`ClearML agent of tenant "${tenant.name}" on pool "${pool.name}": the glue labels task pods with the queue name's first ${MAX_NAME} characters, "${labelValue}", which ends in "-" and is no valid label value; choose a shorter tenant or pool name`);
    }
    new ClearmlAgent(this, `Agent-${tenant.name}-${pool.name}`, {
      server: this,
      tenant,
      pool,
      units,
      queue: queue.queue,
      maxPods: Math.floor(capacity / units),
      credentials: this.tenantCredentials(tenant),
      outputUri: this.outputUri(tenant),
      storeCredentials: this.store.tenantBucket(tenant).credentials,
      taskClearmlConf: taskClearmlConf(this.store),
      taskCache: this.taskCache,
    });
    this.queueList.push(queue);
    return queue;
  }

  /**
   * The tenant's ClearML API key pair (Secret `clearml-agent` in its namespace), registered as a
   * ClearML user: its agents use it, and so do Jobs that act for the tenant (model fetches).
   * Declared on first use; the apiserver's user list is rendered after construction.
   */
  apiKey(tenant: ITenant): ISecretRef {
    return this.tenantCredentials(tenant).tenantSecret;
  }

  /**
   * The tenant's API key pair: generated in its namespace (for its task pods) and copied into
   * `clearml` (a Secret name up to 253 characters) for the apiserver and the glue.
   */
  private tenantCredentials(tenant: ITenant): AgentUser {
    let entry = this.agentUsers.get(tenant.name);
    if (!entry) {
      const tenantSecret = this.credentials.secret(tenant.namespace, AGENT_SECRET, {
        [AGENT_KEYS.accessKey]: { generate: 30 },
        [AGENT_KEYS.secretKey]: { generate: 64 },
      });
      const serverCopy = this.credentials.secret(this.namespace, `clearml-agent-${tenant.name}`, {
        [SERVER_COPY_KEYS.accessKey]: { copyFrom: tenantSecret, key: AGENT_KEYS.accessKey },
        [SERVER_COPY_KEYS.secretKey]: { copyFrom: tenantSecret, key: AGENT_KEYS.secretKey },
      });
      // The apiserver turns every `secure.credentials.<name>` entry into a user with that key pair.
      entry = { tenant: tenant.name, user: `agent_${tenant.name.replace(/-/g, '_')}`, serverCopy, tenantSecret };
      this.agentUsers.set(tenant.name, entry);
    }
    return entry;
  }

  /** `CLEARML__SECURE__CREDENTIALS__<USER>__*` for every tenant's agent user. */
  private agentUserEnv(): k8s.EnvVar[] {
    return [...this.agentUsers.values()].flatMap(({ tenant, user, serverCopy }) => {
      const prefix = `CLEARML__SECURE__CREDENTIALS__${user.toUpperCase()}__`;
      return [
        { name: `${prefix}ROLE`, value: 'user' },
        // Read by the apiserver for users of role `user` (it creates their backend user record).
        { name: `${prefix}DISPLAY_NAME`, value: hocon(`ClearML agent ${tenant}`) },
        { name: `${prefix}USER_KEY`, valueFrom: { secretKeyRef: serverCopy.keyRef(SERVER_COPY_KEYS.accessKey) } },
        { name: `${prefix}USER_SECRET`, valueFrom: { secretKeyRef: serverCopy.keyRef(SERVER_COPY_KEYS.secretKey) } },
      ];
    });
  }

  private podLabels(component: string): Record<string, string> {
    return this.ctx.labels('clearml', component);
  }

  private selector(component: string): Record<string, string> {
    const l = this.podLabels(component);
    return { 'app.kubernetes.io/name': l['app.kubernetes.io/name'], 'app.kubernetes.io/instance': l['app.kubernetes.io/instance'], 'app.kubernetes.io/component': component };
  }

  private secretEnv(name: string, key: string): k8s.EnvVar {
    return { name, valueFrom: { secretKeyRef: this.serverSecret.keyRef(key) } };
  }

  private service(id: string, name: string, component: string, port: number, portName: string): void {
    new k8s.KubeService(this, id, {
      metadata: { name, namespace: this.namespace },
      spec: {
        type: 'ClusterIP',
        selector: this.selector(component),
        ports: [{ name: portName, port, targetPort: k8s.IntOrString.fromString(portName), protocol: 'TCP' }],
      },
    });
  }

  private serviceAccount(id: string, name: string): void {
    new k8s.KubeServiceAccount(this, id, { metadata: { name, namespace: this.namespace }, automountServiceAccountToken: false });
  }

  private claim(name: string, size: string): k8s.KubePersistentVolumeClaimProps {
    return {
      metadata: { name },
      spec: {
        accessModes: ['ReadWriteOnce'],
        ...(this.storageClass ? { storageClassName: this.storageClass } : {}),
        resources: { requests: { storage: k8s.Quantity.fromString(size) } },
      },
    };
  }

  /** Only the server pods that use a backend may connect to it (none of them has authentication, as upstream). */
  private allowOnlyFrom(id: string, name: string, component: string, port: number, clients: readonly string[]): void {
    new k8s.KubeNetworkPolicy(this, id, {
      metadata: { name, namespace: this.namespace },
      spec: {
        podSelector: { matchLabels: this.selector(component) },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: clients.map((c) => ({ podSelector: { matchLabels: this.selector(c) } })),
            ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }],
          },
        ],
      },
    });
  }

  private statefulSet(id: string, name: string, component: string, pod: k8s.PodSpec, claims: k8s.KubePersistentVolumeClaimProps[]): void {
    new k8s.KubeStatefulSet(this, id, {
      metadata: { name, namespace: this.namespace },
      spec: {
        serviceName: name,
        replicas: 1,
        selector: { matchLabels: this.selector(component) },
        template: { metadata: { labels: this.podLabels(component) }, spec: pod },
        volumeClaimTemplates: claims,
      },
    });
  }

  private addBackends(): void {
    const mongoUid = 999; // `mongodb` user of the official image
    this.serviceAccount('MongoServiceAccount', 'clearml-mongo');
    this.service('MongoService', 'clearml-mongo', BACKEND_COMPONENTS.mongo, PORTS.mongo, 'mongodb');
    this.statefulSet('Mongo', 'clearml-mongo', BACKEND_COMPONENTS.mongo, hardenedPod({
      serviceAccountName: 'clearml-mongo',
      containers: [
        hardenedContainer({
          name: 'mongo',
          image: this.images.mongo,
          args: [
            '--setParameter', 'internalQueryMaxBlockingSortMemoryUsageBytes=196100200', // upstream compose
            // mongod sizes its cache from the node's memory, not the container limit below.
            '--wiredTigerCacheSizeGB', '0.5',
          ],
          ports: [{ name: 'mongodb', containerPort: PORTS.mongo, protocol: 'TCP' }],
          resources: resources({ cpu: '100m', memory: '512Mi' }, { cpu: '2', memory: '2Gi' }),
          livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('mongodb') }, initialDelaySeconds: 30, periodSeconds: 20 },
          readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('mongodb') }, initialDelaySeconds: 5, periodSeconds: 10 },
          volumeMounts: [
            { name: 'data', mountPath: '/data/db' },
            { name: 'configdb', mountPath: '/data/configdb' },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        }),
      ],
      volumes: [
        { name: 'configdb', emptyDir: {} }, // used by config servers only, not by a standalone mongod
        { name: 'tmp', emptyDir: {} },
      ],
    }, { uid: mongoUid }), [this.claim('data', SIZES.mongo)]);
    this.allowOnlyFrom('MongoNetworkPolicy', 'clearml-mongo', BACKEND_COMPONENTS.mongo, PORTS.mongo, ['apiserver', 'async-delete']);

    const elasticUid = 1000; // `elasticsearch` user of the official image
    this.serviceAccount('ElasticServiceAccount', 'clearml-elastic');
    this.service('ElasticService', 'clearml-elastic', BACKEND_COMPONENTS.elastic, PORTS.elastic, 'http');
    this.statefulSet('Elastic', 'clearml-elastic', BACKEND_COMPONENTS.elastic, hardenedPod({
      serviceAccountName: 'clearml-elastic',
      containers: [
        hardenedContainer({
          name: 'elasticsearch',
          image: this.images.elasticsearch,
          env: [
            // The settings of upstream's docker-compose.yml, except bootstrap.memory_lock: compose
            // raises the memlock ulimit, which a pod cannot.
            { name: 'cluster.name', value: 'clearml' },
            { name: 'node.name', value: 'clearml' },
            { name: 'discovery.type', value: 'single-node' },
            { name: 'xpack.security.enabled', value: 'false' },
            { name: 'bootstrap.memory_lock', value: 'false' },
            { name: 'cluster.routing.allocation.node_initial_primaries_recoveries', value: '500' },
            { name: 'cluster.routing.allocation.disk.watermark.low', value: '500mb' },
            { name: 'cluster.routing.allocation.disk.watermark.high', value: '500mb' },
            { name: 'cluster.routing.allocation.disk.watermark.flood_stage', value: '500mb' },
            { name: 'http.compression_level', value: '7' },
            { name: 'reindex.remote.whitelist', value: '*.*' },
            // No mmap: vm.max_map_count (262144 wanted) is a node sysctl that only a privileged
            // init container could raise.
            { name: 'node.store.allow_mmap', value: 'false' },
            // The clearml chart's heap; the memory limit leaves the same again for off-heap use.
            { name: 'ES_JAVA_OPTS', value: '-Xms2g -Xmx2g' },
          ],
          ports: [{ name: 'http', containerPort: PORTS.elastic, protocol: 'TCP' }],
          resources: resources({ cpu: '100m', memory: '2Gi' }, { cpu: '2', memory: '4Gi' }),
          livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('http') }, initialDelaySeconds: 90, periodSeconds: 20 },
          // The clearml chart's check: a single node never turns green.
          readinessProbe: {
            httpGet: { path: '/_cluster/health?wait_for_status=yellow&timeout=1s', port: k8s.IntOrString.fromString('http') },
            initialDelaySeconds: 20,
            periodSeconds: 10,
            timeoutSeconds: 5,
          },
          volumeMounts: [{ name: 'data', mountPath: '/usr/share/elasticsearch/data' }],
        }, {
          // Elasticsearch writes its keystore and temporary files into the image at start.
          readOnlyRootFilesystem: false,
        }),
      ],
    }, { uid: elasticUid }), [this.claim('data', SIZES.elastic)]);
    this.allowOnlyFrom('ElasticNetworkPolicy', 'clearml-elastic', BACKEND_COMPONENTS.elastic, PORTS.elastic, ['apiserver', 'async-delete']);

    const redisUid = 999; // `redis` user of the official image
    this.serviceAccount('RedisServiceAccount', 'clearml-redis');
    this.service('RedisService', 'clearml-redis', BACKEND_COMPONENTS.redis, PORTS.redis, 'redis');
    this.statefulSet('Redis', 'clearml-redis', BACKEND_COMPONENTS.redis, hardenedPod({
      serviceAccountName: 'clearml-redis',
      containers: [
        hardenedContainer({
          name: 'redis',
          image: this.images.redis,
          ports: [{ name: 'redis', containerPort: PORTS.redis, protocol: 'TCP' }],
          resources: resources({ cpu: '50m', memory: '128Mi' }, { cpu: '1', memory: '512Mi' }),
          livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('redis') }, initialDelaySeconds: 15, periodSeconds: 20 },
          readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 5 },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        }),
      ],
    }, { uid: redisUid }), [this.claim('data', SIZES.redis)]);
    this.allowOnlyFrom('RedisNetworkPolicy', 'clearml-redis', BACKEND_COMPONENTS.redis, PORTS.redis, ['apiserver', 'fileserver', 'async-delete']);
  }

  /**
   * Tenants may reach only the apiserver and the fileserver, on their ports (task pods and users'
   * SDKs call them). Every other pod here — above all the webserver, which hands its system
   * user's key pair to every client — admits only namespaces without the tenant label (the
   * platform's ingress, monitoring, this namespace). The backends keep their own, narrower
   * policies: the platform-wide one leaves them out, since policies add up.
   */
  private restrictIngress(): void {
    const notTenants: k8s.LabelSelector = { matchExpressions: [{ key: TENANT_LABEL, operator: 'DoesNotExist' }] };
    new k8s.KubeNetworkPolicy(this, 'PlatformIngressPolicy', {
      metadata: { name: 'clearml-from-platform', namespace: this.namespace },
      spec: {
        podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'NotIn', values: Object.values(BACKEND_COMPONENTS) }] },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: notTenants }] }],
      },
    });
    for (const [id, endpoint, component] of [['ApiserverTenantPolicy', this.api, 'apiserver'], ['FileserverTenantPolicy', this.files, 'fileserver']] as const) {
      new k8s.KubeNetworkPolicy(this, id, {
        metadata: { name: `${endpoint.name}-from-tenants`, namespace: this.namespace },
        spec: {
          podSelector: { matchLabels: this.selector(component) },
          policyTypes: ['Ingress'],
          // The Service port is also the container's port.
          ingress: [{ from: [{ namespaceSelector: TENANT_NAMESPACES }], ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(endpoint.port) }] }],
        },
      });
    }
  }

  /** Connection settings of the apiserver and the async-delete job, as upstream's compose file sets them. */
  private backendEnv(): k8s.EnvVar[] {
    const host = (name: string) => `${name}.${this.namespace}.svc`;
    return [
      { name: 'CLEARML_ELASTIC_SERVICE_HOST', value: host('clearml-elastic') },
      { name: 'CLEARML_ELASTIC_SERVICE_PORT', value: String(PORTS.elastic) },
      { name: 'CLEARML_MONGODB_SERVICE_HOST', value: host('clearml-mongo') },
      { name: 'CLEARML_MONGODB_SERVICE_PORT', value: String(PORTS.mongo) },
      { name: 'CLEARML_REDIS_SERVICE_HOST', value: host('clearml-redis') },
      { name: 'CLEARML_REDIS_SERVICE_PORT', value: String(PORTS.redis) },
    ];
  }

  /**
   * No S3 credentials on the server side. Task artifacts live in tenant buckets the server must
   * not hold keys to: `storage.get_settings`, which every ClearML user may call, returns them, and
   * the async-delete job deletes whatever `s3://` URL a deleted task recorded. No `AWS_*` env
   * either (the server's default key falls back to it). Upstream's default entry
   * (`localhost:9000`, `minioadmin`) is dropped too; without a key, S3 deletes are marked failed.
   */
  private noStoreEnv(): k8s.EnvVar[] {
    return [{ name: 'CLEARML__SERVICES__STORAGE_CREDENTIALS__AWS__S3__CREDENTIALS', value: '[]' }];
  }

  /** Run as the image's root user with every capability dropped (see the namespace's pod-security-reason). */
  private rootPod(spec: k8s.PodSpec): k8s.PodSpec {
    return hardenedPod({ ...spec, securityContext: { runAsNonRoot: false, runAsUser: 0, runAsGroup: 0, fsGroup: 0 } });
  }

  private serverDeployment(id: string, name: string, component: string, pod: k8s.PodSpec, strategy: k8s.DeploymentStrategy = { type: 'RollingUpdate' }): void {
    new k8s.KubeDeployment(this, id, {
      metadata: { name, namespace: this.namespace },
      spec: {
        replicas: 1,
        strategy,
        selector: { matchLabels: this.selector(component) },
        template: { metadata: { labels: this.podLabels(component) }, spec: pod },
      },
    });
  }

  private addServer(): void {
    const image = this.images.server;
    const logs = { name: 'logs', mountPath: '/var/log/clearml' };
    const tmp = { name: 'tmp', mountPath: '/tmp' };
    // The apiserver package writes its error classes into apierrors/errors when imported.
    const apierrors = { name: 'apierrors', mountPath: '/opt/clearml/apiserver/apierrors/errors' };
    const scratch = (name: string) => ({ name, emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } });
    const tokenSecret = this.secretEnv('CLEARML__SECURE__AUTH__TOKEN_SECRET', SERVER_KEYS.tokenSecret);
    const fileserverPrefixes = { name: 'CLEARML__SERVICES__ASYNC_URLS_DELETE__FILESERVER__URL_PREFIXES', value: `[${hocon(this.files.url)}]` };

    // apiserver
    this.serviceAccount('ApiserverServiceAccount', 'clearml-apiserver');
    this.service('ApiserverService', this.api.name, 'apiserver', this.api.port, this.api.portName);
    const ping: k8s.HttpGetAction = { path: '/debug.ping', port: k8s.IntOrString.fromString('http') }; // unauthenticated
    this.serverDeployment('Resource', 'clearml-apiserver', 'apiserver', this.rootPod({
      serviceAccountName: 'clearml-apiserver',
      containers: [
        hardenedContainer({
          name: 'apiserver',
          image,
          args: ['apiserver'],
          ports: [{ name: 'http', containerPort: PORTS.apiserver, protocol: 'TCP' }],
          env: Lazy.any({
            produce: () => [
              ...this.backendEnv(),
              this.secretEnv('CLEARML__SECURE__HTTP__SESSION_SECRET__APISERVER', SERVER_KEYS.sessionSecret),
              tokenSecret,
              this.secretEnv('CLEARML__SECURE__CREDENTIALS__APISERVER__USER_KEY', SERVER_KEYS.apiserverKey),
              this.secretEnv('CLEARML__SECURE__CREDENTIALS__APISERVER__USER_SECRET', SERVER_KEYS.apiserverSecret),
              this.secretEnv('CLEARML__SECURE__CREDENTIALS__FILESERVER__USER_KEY', SERVER_KEYS.fileserverKey),
              this.secretEnv('CLEARML__SECURE__CREDENTIALS__FILESERVER__USER_SECRET', SERVER_KEYS.fileserverSecret),
              this.secretEnv('CLEARML__SECURE__CREDENTIALS__WEBSERVER__USER_KEY', SERVER_KEYS.webserverKey),
              this.secretEnv('CLEARML__SECURE__CREDENTIALS__WEBSERVER__USER_SECRET', SERVER_KEYS.webserverSecret),
              // The built-in `tests` user (role user) would keep its published key pair: an empty
              // key revokes its credentials on every start (mongo/initialize/user.py).
              { name: 'CLEARML__SECURE__CREDENTIALS__TESTS__USER_KEY', value: hocon('') },
              { name: 'CLEARML__SECURE__CREDENTIALS__TESTS__USER_SECRET', value: hocon('') },
              ...this.agentUserEnv(),
              { name: 'CLEARML__SERVICES__ASYNC_URLS_DELETE__ENABLED', value: 'true' },
              fileserverPrefixes,
              // Example projects would point at files the fileserver does not have here.
              { name: 'CLEARML__APISERVER__PRE_POPULATE__ENABLED', value: 'false' },
              // No calls home to updates.clear.ml (air-gapped clusters).
              { name: 'CLEARML__APISERVER__CHECK_FOR_UPDATES__ENABLED', value: 'false' },
              ...this.noStoreEnv(),
            ],
          }) as unknown as k8s.EnvVar[],
          resources: resources({ cpu: '100m', memory: '256Mi' }, { cpu: '2', memory: '1Gi' }),
          livenessProbe: { httpGet: ping, initialDelaySeconds: 60, periodSeconds: 20, timeoutSeconds: 5 },
          readinessProbe: { httpGet: ping, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 8 },
          volumeMounts: [logs, tmp, apierrors],
        }),
      ],
      volumes: [scratch('logs'), scratch('tmp'), scratch('apierrors')],
    }));

    // async delete: removes the files of deleted tasks from the fileserver.
    this.serviceAccount('AsyncDeleteServiceAccount', 'clearml-async-delete');
    this.serverDeployment('AsyncDelete', 'clearml-async-delete', 'async-delete', this.rootPod({
      serviceAccountName: 'clearml-async-delete',
      containers: [
        hardenedContainer({
          name: 'async-delete',
          image,
          command: ['python3', '-m', 'jobs.async_urls_delete', '--fileserver-host', this.files.url],
          workingDir: '/opt/clearml',
          env: [
            ...this.backendEnv(),
            { name: 'PYTHONPATH', value: '/opt/clearml/apiserver' },
            tokenSecret, // signs the fileserver tokens it deletes with
            fileserverPrefixes,
            ...this.noStoreEnv(),
          ],
          resources: resources({ cpu: '50m', memory: '128Mi' }, { cpu: '1', memory: '512Mi' }),
          // A queue worker with no port or health endpoint: no probes (a crash restarts it).
          volumeMounts: [logs, tmp, apierrors],
        }),
      ],
      volumes: [scratch('logs'), scratch('tmp'), scratch('apierrors')],
    }));

    // fileserver
    this.serviceAccount('FileserverServiceAccount', 'clearml-fileserver');
    this.service('FileserverService', this.files.name, 'fileserver', this.files.port, this.files.portName);
    new k8s.KubePersistentVolumeClaim(this, 'FileserverData', {
      metadata: { name: 'clearml-fileserver-data', namespace: this.namespace },
      spec: this.claim('clearml-fileserver-data', SIZES.fileserver).spec,
    });
    const fileserverRoot: k8s.HttpGetAction = { path: '/', port: k8s.IntOrString.fromString('http') };
    this.serverDeployment('Fileserver', 'clearml-fileserver', 'fileserver', this.rootPod({
      serviceAccountName: 'clearml-fileserver',
      containers: [
        hardenedContainer({
          name: 'fileserver',
          image,
          args: ['fileserver'],
          ports: [{ name: 'http', containerPort: PORTS.fileserver, protocol: 'TCP' }],
          env: [
            { name: 'CLEARML__HOSTS__API_SERVER', value: hocon(this.api.url) },
            { name: 'CLEARML_REDIS_SERVICE_HOST', value: `clearml-redis.${this.namespace}.svc` },
            { name: 'CLEARML_REDIS_SERVICE_PORT', value: String(PORTS.redis) },
            // It validates users' tokens with the apiserver as the `fileserver` system user.
            this.secretEnv('CLEARML__SECURE__CREDENTIALS__FILESERVER__USER_KEY', SERVER_KEYS.fileserverKey),
            this.secretEnv('CLEARML__SECURE__CREDENTIALS__FILESERVER__USER_SECRET', SERVER_KEYS.fileserverSecret),
            { name: 'CLEARML__FILESERVER__DELETE__ALLOW_BATCH', value: 'true' },
          ],
          resources: resources({ cpu: '100m', memory: '256Mi' }, { cpu: '2', memory: '1Gi' }),
          livenessProbe: { httpGet: fileserverRoot, initialDelaySeconds: 30, periodSeconds: 20, timeoutSeconds: 5 },
          readinessProbe: { httpGet: fileserverRoot, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 5 },
          volumeMounts: [{ name: 'data', mountPath: '/mnt/fileserver' }, logs, tmp],
        }),
      ],
      volumes: [
        { name: 'data', persistentVolumeClaim: { claimName: 'clearml-fileserver-data' } },
        scratch('logs'),
        { name: 'tmp', emptyDir: {} }, // uploads are spooled here
      ],
    }), { type: 'Recreate' }); // the ReadWriteOnce volume cannot follow a surge pod to another node

    // webserver
    this.serviceAccount('WebserverServiceAccount', 'clearml-webserver');
    new k8s.KubeService(this, 'WebserverService', {
      metadata: { name: this.web.name, namespace: this.namespace },
      spec: {
        type: 'ClusterIP',
        selector: this.selector('webserver'),
        ports: [{ name: this.web.portName, port: this.web.port, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP' }],
      },
    });
    const webRoot: k8s.HttpGetAction = { path: '/', port: k8s.IntOrString.fromString('http') };
    this.serverDeployment('Webserver', 'clearml-webserver', 'webserver', this.rootPod({
      serviceAccountName: 'clearml-webserver',
      containers: [
        hardenedContainer({
          name: 'webserver',
          image,
          args: ['webserver'],
          ports: [{ name: 'http', containerPort: WEBSERVER_CONTAINER_PORT, protocol: 'TCP' }],
          env: [
            { name: 'NGINX_APISERVER_ADDRESS', value: this.api.url },
            { name: 'NGINX_FILESERVER_ADDRESS', value: this.files.url },
            // The web app calls the API as the `webserver` system user; the entrypoint writes
            // these into credentials.json, replacing the key pair built into the app.
            this.secretEnv('USER_KEY', SERVER_KEYS.webserverKey),
            this.secretEnv('USER_SECRET', SERVER_KEYS.webserverSecret),
            { name: 'COMPANY_ID', value: DEFAULT_COMPANY },
          ],
          resources: resources({ cpu: '100m', memory: '256Mi' }, { cpu: '2', memory: '1Gi' }),
          livenessProbe: { httpGet: webRoot, initialDelaySeconds: 30, periodSeconds: 20, timeoutSeconds: 5 },
          readinessProbe: { httpGet: webRoot, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 5 },
          securityContext: {
            // nginx binds port 80 as root, creates its temp directories for and switches its
            // workers to www-data (all in Pod Security baseline's allowed set).
            capabilities: { drop: ['ALL'], add: ['CHOWN', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'] },
          },
        }, {
          // The entrypoint rewrites nginx's site and the web app's configuration.json in the image.
          readOnlyRootFilesystem: false,
        }),
      ],
    }));
  }
}

/** A tenant's ClearML API key pair: in its namespace for task pods, copied into `clearml`. */
interface AgentUser {
  readonly tenant: string;
  /** ClearML user the apiserver creates from `secure.credentials.<user>`. */
  readonly user: string;
  /** `clearml/clearml-agent-<tenant>` (`USER_KEY`, `USER_SECRET`): the apiserver's and the glue's copy. */
  readonly serverCopy: ISecretRef;
  /** `<tenant>/clearml-agent` (`CLEARML_API_ACCESS_KEY`, `CLEARML_API_SECRET_KEY`): read by task pods. */
  readonly tenantSecret: ISecretRef;
}

interface ClearmlAgentProps {
  readonly server: ClearmlServer;
  readonly tenant: ITenant;
  readonly pool: IGpuPool;
  readonly units: number;
  readonly queue: string;
  readonly maxPods: number;
  readonly credentials: AgentUser;
  /** `CLEARML_DEFAULT_OUTPUT_URI` of task pods: the tenant's bucket. */
  readonly outputUri: string;
  /** The tenant's S3 credentials (in its namespace) for its bucket. */
  readonly storeCredentials: ISecretRef;
  readonly taskClearmlConf: string;
  readonly taskCache?: { mountInto(spec: k8s.PodSpec): k8s.PodSpec };
}

/**
 * One clearml-agent Kubernetes glue (created by `ClearmlServer.addAgent`). It runs in `clearml`,
 * where tenants can create no pods: it needs egress to the Kubernetes API, which a policy in the
 * tenant's namespace could grant only by pod labels any member can copy. A Role in the tenant's
 * namespace lets it manage pods there only.
 */
class ClearmlAgent extends Construct {
  constructor(scope: Construct, id: string, props: ClearmlAgentProps) {
    super(scope, id);
    const { server, tenant, pool } = props;
    const ctx = PlatformContext.of(this);
    const ns = server.namespace;
    const taskNs = tenant.namespace;
    const name = clearmlAgentName(tenant.name, pool.name);
    const poolLabels = { [POOL_LABEL]: pool.name };
    // Several tenants' glues share the namespace: tenant and pool tell them apart.
    const agentLabels = { [TENANT_LABEL]: tenant.name, ...poolLabels };
    const labels = { ...ctx.labels('clearml-agent', 'agent'), ...agentLabels };
    const selector = { 'app.kubernetes.io/name': 'clearml-agent', 'app.kubernetes.io/instance': ctx.client, ...agentLabels };
    const hostEnv: k8s.EnvVar[] = [
      { name: 'CLEARML_API_HOST', value: server.api.url },
      { name: 'CLEARML_WEB_HOST', value: server.web.url },
      { name: 'CLEARML_FILES_HOST', value: server.files.url },
    ];
    const { serverCopy, tenantSecret } = props.credentials;

    // No `kind`: the glue sets Pod (or Job, in its job mode), as upstream's chart template leaves it.
    const podTemplate = {
      apiVersion: 'v1',
      metadata: {
        // The glue creates each pod in its template's namespace.
        namespace: taskNs,
        // Not managed-by mlplat: the glue creates these pods with `kubectl apply`, and mlplat's
        // prune must never select them.
        labels: { 'app.kubernetes.io/name': 'clearml-task', 'app.kubernetes.io/managed-by': 'clearml-agent', ...poolLabels },
      },
      spec: (props.taskCache ? (spec: k8s.PodSpec) => props.taskCache!.mountInto(spec) : (spec: k8s.PodSpec) => spec)(hardenedPod({
        ...pool.placement(),
        serviceAccountName: tenant.serviceAccountName,
        restartPolicy: 'Never',
        containers: [
          hardenedContainer({
            name: 'task',
            workingDir: TASK_HOME,
            env: [
              ...hostEnv,
              // Secrets of the tenant's own namespace: the pod runs there.
              secretEnv(AGENT_KEYS.accessKey, tenantSecret, AGENT_KEYS.accessKey),
              secretEnv(AGENT_KEYS.secretKey, tenantSecret, AGENT_KEYS.secretKey),
              secretEnv(S3_KEYS.accessKeyId, props.storeCredentials, S3_KEYS.accessKeyId),
              secretEnv(S3_KEYS.secretAccessKey, props.storeCredentials, S3_KEYS.secretAccessKey),
              { name: 'CLEARML_DEFAULT_OUTPUT_URI', value: props.outputUri },
              { name: 'HOME', value: TASK_HOME },
              // Skips the apt-get steps of the glue's pod script, which need root.
              { name: 'CLEARML_AGENT_SKIP_CONTAINER_APT', value: '1' },
            ],
            // Plain values: this spec is written into a ConfigMap, not resolved by cdk8s.
            resources: { limits: plainQuantities(pool.gpuLimits(props.units)) as unknown as Record<string, k8s.Quantity> },
            volumeMounts: [{ name: 'home', mountPath: TASK_HOME }],
          }, {
            // Tasks install their Python requirements into the image's environment.
            readOnlyRootFilesystem: false,
          }),
        ],
        volumes: [{ name: 'home', emptyDir: {} }],
      })),
    };

    const data = {
      'pod-template.yaml': stringify(podTemplate, { lineWidth: 0 }),
      'task-clearml.conf': props.taskClearmlConf,
      'glue.py': GLUE_SCRIPT,
    };
    // Tenant and pool labels: a shortened name no longer shows them.
    new k8s.KubeConfigMap(this, 'Config', { metadata: { name, namespace: ns, labels: agentLabels }, data });

    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: { name, namespace: ns, labels: agentLabels } });
    new k8s.KubeRole(this, 'Role', {
      metadata: { name, namespace: taskNs, labels: agentLabels },
      rules: [
        // The glue runs `kubectl get/apply/delete pod -n <tenant>` (apply needs get and patch); it
        // reads no pod logs.
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
      ],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name, namespace: taskNs, labels: agentLabels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    });

    const configHash = createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 10);
    new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name, namespace: ns, labels: agentLabels },
      spec: {
        // One glue per queue: two would share a worker id, and with it the label it finds its pods by.
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: selector },
        template: {
          metadata: { labels, annotations: { [`${MLPLAT_PREFIX}/config-hash`]: configHash } },
          spec: hardenedPod({
            serviceAccountName: name,
            automountServiceAccountToken: true, // kubectl calls the API server
            containers: [
              hardenedContainer({
                name: 'glue',
                image: server.images.agent,
                command: ['python3', `${AGENT_CONFIG_DIR}/glue.py`],
                // The image's working directory (/root) is not readable by a non-root user.
                workingDir: AGENT_HOME,
                env: [
                  ...hostEnv,
                  // The copy in this namespace of the key pair the tenant's task pods use.
                  secretEnv(AGENT_KEYS.accessKey, serverCopy, SERVER_COPY_KEYS.accessKey),
                  secretEnv(AGENT_KEYS.secretKey, serverCopy, SERVER_COPY_KEYS.secretKey),
                  { name: 'CLEARML_WORKER_ID', value: `clearml-agent-${tenant.name}-${pool.name}` },
                  { name: 'CLEARML_DOCKER_IMAGE', value: server.images.task },
                  { name: 'K8S_GLUE_POD_AGENT_INSTALL_ARGS', value: `==${CLEARML_AGENT_VERSION}` },
                  { name: 'HOME', value: AGENT_HOME },
                  { name: 'MLPLAT_NAMESPACE', value: taskNs },
                  { name: 'MLPLAT_QUEUE', value: props.queue },
                  { name: 'MLPLAT_PENDING_QUEUE', value: `${props.queue}-pending` },
                  { name: 'MLPLAT_MAX_PODS', value: String(props.maxPods) },
                ],
                resources: resources({ cpu: '50m', memory: '256Mi' }, { cpu: '1', memory: '512Mi' }),
                // The glue serves no port or health endpoint: no probes (a crash restarts it).
                volumeMounts: [
                  { name: 'config', mountPath: AGENT_CONFIG_DIR, readOnly: true },
                  { name: 'home', mountPath: AGENT_HOME },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              }),
            ],
            volumes: [
              { name: 'config', configMap: { name } },
              { name: 'home', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('256Mi') } },
            ],
          }),
        },
      },
    });
  }
}

/**
 * clearml.conf of task pods (the glue passes it to each pod): S3 credentials and region of the
 * object store's `host:port`, keys taken from the pod's environment when the agent reads it.
 */
function taskClearmlConf(store: IObjectStore): string {
  return [
    '# Written by mlplat. The clearml-agent glue copies this file into every task pod as ~/clearml.conf.',
    `sdk.aws.s3.credentials: [${s3CredentialsEntry(store)}]`,
    '',
  ].join('\n');
}

/** `<host>:<port>` of the store's S3 API: ClearML reads an `s3://` URL with a port as a non-AWS host. */
function s3HostPort(store: IObjectStore): string {
  return `${store.s3.host}:${store.s3.port}`;
}

/**
 * ClearML's credentials entry (`aws.s3.credentials`) for the store's `host:port`. The keys are
 * HOCON substitutions that fall back to the reader's environment variables, so the file and the
 * env var that carry it hold no secret.
 */
function s3CredentialsEntry(store: IObjectStore): string {
  const secure = store.s3.url.startsWith('https://');
  return (
    `{host: ${hocon(s3HostPort(store))}, key: \${${S3_KEYS.accessKeyId}}, secret: \${${S3_KEYS.secretAccessKey}}, ` +
    `region: ${hocon(store.region)}, secure: ${secure}}`
  );
}

function plainQuantities(q: Record<string, k8s.Quantity>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(q).map(([k, v]) => [k, v.value]));
}

/**
 * Starts the glue for one queue with the files next to it. mlplat's own launcher: the
 * clearml-agent package ships the glue class but no command for it (upstream runs
 * examples/k8s_glue_example.py from its images).
 */
const GLUE_SCRIPT = `# Written by mlplat: runs the clearml-agent Kubernetes glue for one queue.
import os

from clearml_agent.glue.k8s import K8sIntegration

HERE = os.path.dirname(os.path.abspath(__file__))

glue = K8sIntegration(
    namespace=os.environ["MLPLAT_NAMESPACE"],
    template_yaml=os.path.join(HERE, "pod-template.yaml"),
    clearml_conf_file=os.path.join(HERE, "task-clearml.conf"),
    k8s_pending_queue_name=os.environ["MLPLAT_PENDING_QUEUE"],
    max_pods_limit=int(os.environ["MLPLAT_MAX_PODS"]),
)
glue.k8s_daemon([os.environ["MLPLAT_QUEUE"]], create_queue=True)
`;
