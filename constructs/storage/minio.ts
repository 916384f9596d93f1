import { TenantIngress } from '../../lib/tenant-ingress';
import { createHash } from 'node:crypto';
import { Chart, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { WebUi } from '../edge/types';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { hardenedContainer, hardenedPod, resources } from '../../lib/workload';
import { CredentialGenerator } from '../credentials/generator';
import { ISecretRef, S3_KEYS } from '../credentials/types';
import { TENANT_REACHABLE_LABEL } from '../tenancy/tenant';
import { IMetricsSource, ScrapeTarget } from '../observability/types';
import { AdminPolicyDocument, bootstrapScript, METRICS_POLICY, policyFileName, publishTokenScript, s3Policy, S3PolicyDocument } from './minio-bootstrap';
import {
  BucketAccess,
  CredentialsTarget,
  IBucket,
  IObjectStore,
  PLATFORM_BUCKETS,
  ServiceEndpoint,
  serviceEndpoint,
  tenantBucketName,
} from './types';

export const MINIO_NAMESPACE = 'minio';
const NAME = 'minio';
const HEADLESS = 'minio-hl';
const CONSOLE = 'minio-console';
const BOOTSTRAP = 'minio-bootstrap';
const S3_PORT = 9000;
const CONSOLE_PORT = 9001;
/** MinIO's root user name; not a secret (the password is generated). */
const ROOT_USER = 'mlplat-admin';
/** Where the bootstrap Job finds `<user>/AWS_SECRET_ACCESS_KEY`. */
const CREDENTIALS_DIR = '/credentials';
/** Secret (key `token`) the bootstrap writes Prometheus's metrics bearer token to. */
export const METRICS_TOKEN_SECRET = 'minio-metrics-token';
/** The MinIO user whose key signs the metrics token (policy admin:Prometheus only); reserved. */
export const METRICS_USER = 'prometheus';
/** Where the bootstrap's two containers pass the token (a memory-backed emptyDir). */
const TOKEN_DIR = '/token';
/** Secret a tenant's S3 credentials are copied to, in its namespace. */
export const TENANT_S3_SECRET = 's3-credentials';
/** S3 user names: DNS-label characters (they name Secrets, files and policies). */
const USER_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

export interface MinioStoreOptions {
  /**
   * `standalone`: one server with one volume. `distributed`: `replicas` servers, erasure-coded
   * across their volumes (survives the loss of servers, needs at least 4).
   * @default 'standalone'
   */
  readonly mode?: 'standalone' | 'distributed';
  /**
   * Servers in distributed mode (fixed once data is written: MinIO grows by server pools, not by
   * adding pods). Ignored in standalone mode.
   * @default 4
   */
  readonly replicas?: number;
  /**
   * Volume size of each server.
   * @default '500Gi'
   */
  readonly size?: string;
  /**
   * StorageClass of the volumes.
   * @default - the cluster's default StorageClass
   */
  readonly storageClass?: string;
  /**
   * MinIO server image (upstream publishes no community images since 2025: build and mirror your own).
   * @default - the catalog's `minio` image, through the image registry override
   */
  readonly image?: string;
  /**
   * MinIO client (`mc`) image with a POSIX shell, for the bootstrap Job.
   * @default - the catalog's `mc` image, through the image registry override
   */
  readonly clientImage?: string;
  /**
   * CPU and memory of each server.
   * @default - requests 500m CPU and 1Gi memory; limit 4Gi memory, no CPU limit
   */
  readonly resources?: k8s.ResourceRequirements;
}

export interface MinioStoreProps extends MinioStoreOptions {
  /** Generates the root password and each S3 user's secret key. */
  readonly credentials: CredentialGenerator;
}

interface Grant {
  readonly user: string;
  readonly buckets: readonly string[];
  readonly access: BucketAccess;
  /** `minio/s3-user-<user>`, the bootstrap Job's source of the secret key. */
  readonly source: ISecretRef;
  /** The copy in the target namespace. */
  readonly copy: ISecretRef;
}

/**
 * Why a bucket name is not a valid S3 bucket name (general-purpose bucket rules), or undefined.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `must be 3 to 63 characters long (it has ${name.length})`;
  if (!/^[a-z0-9.-]+$/.test(name)) return 'may contain only lowercase letters, digits, dots and hyphens';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'must begin and end with a letter or digit';
  if (name.includes('..')) return 'must not contain two adjacent dots';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'must not be formatted as an IP address';
  for (const prefix of ['xn--', 'sthree-', 'amzn-s3-demo-']) if (name.startsWith(prefix)) return `must not begin with "${prefix}"`;
  for (const suffix of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) if (name.endsWith(suffix)) return `must not end with "${suffix}"`;
  return undefined;
}

/**
 * MinIO as the platform's object store: a StatefulSet (one server, or a distributed set) with a
 * volume per server, its Services, and a bootstrap Job that creates every bucket, user and policy
 * declared through the `IObjectStore` handle. Root password and user secret keys come from the
 * credentials generator; the YAML holds none of them.
 */
export class MinioStore extends Construct implements IObjectStore, IMetricsSource {
  readonly kind = 'minio' as const;
  readonly namespace = MINIO_NAMESPACE;
  readonly region = 'us-east-1';
  readonly s3: ServiceEndpoint = serviceEndpoint(MINIO_NAMESPACE, NAME, S3_PORT, 's3');
  readonly console: ServiceEndpoint = serviceEndpoint(MINIO_NAMESPACE, CONSOLE, CONSOLE_PORT, 'console');
  readonly mode: 'standalone' | 'distributed';
  /** The console (its own login with MinIO credentials), for the ingress. */
  readonly webUi: WebUi;
  /** Server pods (1 in standalone mode). */
  readonly replicas: number;
  readonly size: string;
  readonly storageClass: string | undefined;
  readonly image: string;
  readonly clientImage: string;
  /** kubectl for the bootstrap's token publisher (the credentials generator's image). */
  readonly kubectlImage: string;
  /** Root user and password (`MINIO_ROOT_USER`, `MINIO_ROOT_PASSWORD`). */
  readonly rootCredentials: ISecretRef;
  private readonly credentials: CredentialGenerator;
  private readonly buckets = new Map<string, IBucket>();
  private readonly grants = new Map<string, Grant>();
  private readonly metricsUserSecret: ISecretRef;
  private readonly tenants = new Map<string, { readonly namespace: string; readonly bucket: IBucket; readonly credentials: ISecretRef }>();

  constructor(scope: Construct, id: string, props: MinioStoreProps) {
    const mode = props.mode ?? 'standalone';
    const replicas = mode === 'distributed' ? (props.replicas ?? 4) : 1;
    if (mode === 'distributed' && (!Number.isInteger(replicas) || replicas < 4)) {
      throw new Error(`MinIO: mode 'distributed' needs replicas ≥ 4 (got ${replicas}); use mode 'standalone' for a single server`);
    }
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.mode = mode;
    this.replicas = replicas;
    this.size = props.size ?? '500Gi';
    this.storageClass = props.storageClass;
    this.image = props.image ?? ctx.image(ctx.versions.images.minio);
    this.clientImage = props.clientImage ?? ctx.image(ctx.versions.images.mc);
    this.kubectlImage = ctx.image(ctx.versions.images.kubectl);
    this.credentials = props.credentials;
    this.webUi = { namespace: MINIO_NAMESPACE, service: { name: CONSOLE, port: 'console' }, podSelector: this.selector, targetPort: CONSOLE_PORT };

    new k8s.KubeNamespace(this, 'Namespace', {
      metadata: {
        name: MINIO_NAMESPACE,
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
          'pod-security.kubernetes.io/warn': 'restricted',
          'pod-security.kubernetes.io/audit': 'restricted',
          // Tenants read and write their buckets here.
          [TENANT_REACHABLE_LABEL]: 'true',
        },
      },
    });

    // Tenants reach the S3 API only (not the console); the platform reaches everything.
    new TenantIngress(this, 'TenantIngress', { namespace: MINIO_NAMESPACE, openings: [{ name: 's3', podLabels: this.selector, port: S3_PORT }] });

    this.rootCredentials = props.credentials.secret(MINIO_NAMESPACE, 'minio-root', {
      MINIO_ROOT_USER: { value: ROOT_USER },
      MINIO_ROOT_PASSWORD: { generate: 40 },
    });

    this.metricsUserSecret = props.credentials.secret(MINIO_NAMESPACE, `s3-user-${METRICS_USER}`, {
      [S3_KEYS.accessKeyId]: { value: METRICS_USER },
      [S3_KEYS.secretAccessKey]: { generate: 40 },
    });
    this.addServer(props.resources ?? resources({ cpu: '500m', memory: '1Gi' }, { memory: '4Gi' }));
    this.addBootstrap();

    for (const b of PLATFORM_BUCKETS) this.bucket(b);
  }

  /**
   * Cluster metrics (capacity, usage, drives, S3 requests) on the S3 port, with the bearer token
   * the bootstrap publishes in Secret `minio-metrics-token`: tenants reach the S3 port, so the
   * metrics are not public.
   */
  get scrapeTargets(): readonly ScrapeTarget[] {
    return [
      {
        name: NAME,
        namespace: MINIO_NAMESPACE,
        podSelector: this.selector,
        port: 's3',
        path: '/minio/v2/metrics/cluster',
        bearerToken: { name: METRICS_TOKEN_SECRET, key: 'token' },
        component: 'minio',
      },
    ];
  }

  /** Labels of the server pods; Services and the PodDisruptionBudget select them. */
  get selector(): Record<string, string> {
    return { 'app.kubernetes.io/name': NAME, 'app.kubernetes.io/component': 'server' };
  }

  bucket(name: string): IBucket {
    const existing = this.buckets.get(name);
    if (existing) return existing;
    const problem = bucketNameProblem(name);
    if (problem) throw new Error(`MinIO: bucket name "${name}" ${problem}`);
    const bucket: IBucket = { name, uri: `s3://${name}` };
    this.buckets.set(name, bucket);
    return bucket;
  }

  grant(target: CredentialsTarget, buckets: readonly IBucket[], access: BucketAccess): ISecretRef {
    const { user } = target;
    if (user.length < 3 || user.length > 63 || !USER_NAME.test(user)) {
      throw new Error(`MinIO: user name "${user}" must be 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit`);
    }
    if (this.grants.has(user)) throw new Error(`MinIO: user "${user}" is granted twice; give each grant its own user`);
    if (user === METRICS_USER) throw new Error(`MinIO: user name "${user}" is reserved for the metrics token`);
    if (!DNS_SUBDOMAIN.test(target.secretName) || target.secretName.length > 253) {
      throw new Error(`MinIO: user "${user}": secretName "${target.secretName}" is not a valid Secret name`);
    }
    if (buckets.length === 0) throw new Error(`MinIO: user "${user}" must be granted at least one bucket`);
    for (const b of buckets) {
      if (this.buckets.get(b.name) !== b) throw new Error(`MinIO: user "${user}": bucket "${b.name}" is not a bucket of this store (declare it with bucket())`);
    }
    const source = this.credentials.secret(MINIO_NAMESPACE, `s3-user-${user}`, {
      [S3_KEYS.accessKeyId]: { value: user },
      [S3_KEYS.secretAccessKey]: { generate: 40 },
    });
    const copy = this.credentials.secret(target.namespace, target.secretName, {
      [S3_KEYS.accessKeyId]: { copyFrom: source, key: S3_KEYS.accessKeyId },
      [S3_KEYS.secretAccessKey]: { copyFrom: source, key: S3_KEYS.secretAccessKey },
    });
    this.grants.set(user, { user, buckets: [...new Set(buckets.map((b) => b.name))], access, source, copy });
    return copy;
  }

  tenantBucket(tenant: { readonly name: string; readonly namespace: string }): { readonly bucket: IBucket; readonly credentials: ISecretRef } {
    const existing = this.tenants.get(tenant.name);
    if (existing) {
      if (existing.namespace !== tenant.namespace) {
        throw new Error(`MinIO: tenant "${tenant.name}" asked for its bucket from namespace "${tenant.namespace}", before from "${existing.namespace}"`);
      }
      return { bucket: existing.bucket, credentials: existing.credentials };
    }
    const name = tenantBucketName(tenant.name);
    const bucket = this.bucket(name);
    const credentials = this.grant({ namespace: tenant.namespace, secretName: TENANT_S3_SECRET, user: name }, [bucket], 'readwrite');
    this.tenants.set(tenant.name, { namespace: tenant.namespace, bucket, credentials });
    return { bucket, credentials };
  }

  /** Every bucket the bootstrap creates, in declaration order. */
  get bucketNames(): readonly string[] {
    return [...this.buckets.keys()];
  }

  /** Every S3 user the bootstrap manages, in declaration order. */
  get users(): readonly string[] {
    return [...this.grants.keys(), METRICS_USER];
  }

  /** The policy document of a user. */
  policy(user: string): S3PolicyDocument | AdminPolicyDocument {
    if (user === METRICS_USER) return METRICS_POLICY;
    const grant = this.grants.get(user);
    if (!grant) throw new Error(`MinIO: no user "${user}" (users: ${this.users.join(', ') || 'none'})`);
    return s3Policy(grant.buckets, grant.access);
  }

  /** The Secret in `minio` the bootstrap reads a user's secret key from. */
  userSecret(user: string): ISecretRef {
    if (user === METRICS_USER) return this.metricsUserSecret;
    const grant = this.grants.get(user);
    if (!grant) throw new Error(`MinIO: no user "${user}" (users: ${this.users.join(', ') || 'none'})`);
    return grant.source;
  }

  /** The bootstrap script, as the ConfigMap holds it. */
  bootstrapScript(): string {
    return bootstrapScript({ endpoint: this.s3.url, credentialsDir: CREDENTIALS_DIR, buckets: this.bucketNames, users: this.users, metricsUser: METRICS_USER });
  }

  /** Every file of the bootstrap ConfigMap: `bootstrap.sh`, `publish-token.sh` and one `policy-<user>.json` per user. */
  bootstrapFiles(): Record<string, string> {
    const files: Record<string, string> = { 'bootstrap.sh': this.bootstrapScript(), 'publish-token.sh': publishTokenScript(MINIO_NAMESPACE, METRICS_TOKEN_SECRET) };
    for (const user of this.users) files[policyFileName(user)] = `${JSON.stringify(this.policy(user), undefined, 2)}\n`;
    return files;
  }

  /**
   * A Job's pod template is immutable, so the Job is named after what it runs (ConfigMap content
   * and pod template): a new bucket, user or image gives a new Job, which runs the bootstrap again.
   */
  bootstrapJobName(): string {
    const hash = createHash('sha256')
      .update(JSON.stringify({ files: this.bootstrapFiles(), pod: this.bootstrapPod() }))
      .digest('hex')
      .slice(0, 10);
    return `${BOOTSTRAP}-${hash}`;
  }

  private addServer(serverResources: k8s.ResourceRequirements): void {
    const podLabels = { ...Chart.of(this).labels, ...this.selector };
    const servicePort = (name: string, port: number): k8s.ServicePort => ({
      name,
      port,
      targetPort: k8s.IntOrString.fromString(name),
      protocol: 'TCP',
    });

    new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name: NAME, namespace: MINIO_NAMESPACE },
      automountServiceAccountToken: false,
    });

    // Gives each server a stable DNS name (minio-N.minio-hl), which distributed mode addresses its
    // peers by; not-ready pods must resolve too, or servers waiting for quorum never find each other.
    new k8s.KubeService(this, 'HeadlessService', {
      metadata: { name: HEADLESS, namespace: MINIO_NAMESPACE },
      spec: {
        clusterIp: 'None',
        publishNotReadyAddresses: true,
        selector: this.selector,
        ports: [servicePort('s3', S3_PORT)],
      },
    });
    new k8s.KubeService(this, 'Service', {
      metadata: { name: NAME, namespace: MINIO_NAMESPACE },
      spec: { selector: this.selector, ports: [servicePort('s3', S3_PORT)] },
    });
    new k8s.KubeService(this, 'ConsoleService', {
      metadata: { name: CONSOLE, namespace: MINIO_NAMESPACE },
      spec: { selector: this.selector, ports: [servicePort('console', CONSOLE_PORT)] },
    });

    const volume =
      this.mode === 'distributed'
        ? `http://${NAME}-{0...${this.replicas - 1}}.${HEADLESS}.${MINIO_NAMESPACE}.svc.cluster.local/data`
        : '/data';
    const probe = (path: string, failureThreshold: number): k8s.Probe => ({
      httpGet: { path, port: k8s.IntOrString.fromString('s3'), scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold,
    });

    new k8s.KubeStatefulSet(this, 'Resource', {
      metadata: { name: NAME, namespace: MINIO_NAMESPACE },
      spec: {
        serviceName: HEADLESS,
        replicas: this.replicas,
        // Distributed servers wait for each other at start: starting them one by one would deadlock.
        podManagementPolicy: this.mode === 'distributed' ? 'Parallel' : 'OrderedReady',
        selector: { matchLabels: this.selector },
        template: {
          metadata: { labels: podLabels },
          spec: hardenedPod({
            serviceAccountName: NAME,
            ...(this.mode === 'distributed'
              ? {
                  // Servers on distinct nodes, so a node failure costs one server's share of the
                  // erasure set; preferred, so small clusters still schedule them.
                  affinity: {
                    podAntiAffinity: {
                      preferredDuringSchedulingIgnoredDuringExecution: [
                        { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: this.selector } } },
                      ],
                    },
                  },
                }
              : {}),
            containers: [
              hardenedContainer({
                name: 'minio',
                image: this.image,
                // The binary itself: the upstream image's entrypoint script only switches users,
                // which a non-root pod cannot do anyway.
                command: ['minio'],
                args: ['server', volume, '--address', `:${S3_PORT}`, '--console-address', `:${CONSOLE_PORT}`],
                env: [
                  { name: 'MINIO_ROOT_USER', valueFrom: { secretKeyRef: this.rootCredentials.keyRef('MINIO_ROOT_USER') } },
                  { name: 'MINIO_ROOT_PASSWORD', valueFrom: { secretKeyRef: this.rootCredentials.keyRef('MINIO_ROOT_PASSWORD') } },
                  // Prometheus scrapes /minio/v2/metrics/cluster without a bearer token.
                  // Metrics are on the S3 port, which tenants reach: scraping needs a bearer token
                  // (`mc admin prometheus generate`), so bucket names and usage stay private.
                  { name: 'MINIO_PROMETHEUS_AUTH_TYPE', value: 'jwt' },
                  // MinIO creates $HOME/.minio/certs at start; the root filesystem is read-only.
                  { name: 'HOME', value: '/tmp' },
                ],
                ports: [
                  { name: 's3', containerPort: S3_PORT, protocol: 'TCP' },
                  { name: 'console', containerPort: CONSOLE_PORT, protocol: 'TCP' },
                ],
                livenessProbe: probe('/minio/health/live', 3),
                readinessProbe: probe('/minio/health/ready', 3),
                // Distributed servers may take minutes to form quorum; liveness must not kill them meanwhile.
                startupProbe: probe('/minio/health/live', 30),
                resources: serverResources,
                volumeMounts: [
                  { name: 'data', mountPath: '/data' },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              }),
            ],
            volumes: [{ name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } }],
          }),
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: {
              accessModes: ['ReadWriteOnce'],
              ...(this.storageClass ? { storageClassName: this.storageClass } : {}),
              resources: { requests: { storage: k8s.Quantity.fromString(this.size) } },
            },
          },
        ],
      },
    });

    if (this.replicas > 1) {
      // One server at a time: with the default parity of 4 to 7 servers, losing two stops writes.
      new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: { name: NAME, namespace: MINIO_NAMESPACE },
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: this.selector } },
      });
    }
  }

  private addBootstrap(): void {
    new k8s.KubeServiceAccount(this, 'BootstrapServiceAccount', {
      metadata: { name: BOOTSTRAP, namespace: MINIO_NAMESPACE },
      automountServiceAccountToken: false,
    });
    // The token's Secret exists from the start, without data, so the publisher needs no `create`
    // (which cannot be limited by name): it may read and patch this one Secret only. Server-side
    // apply of this empty object (kubectl, Flux, Pulumi) leaves the publisher's `data.token` alone.
    new k8s.KubeSecret(this, 'MetricsToken', { metadata: { name: METRICS_TOKEN_SECRET, namespace: MINIO_NAMESPACE }, type: 'Opaque' });
    new k8s.KubeRole(this, 'BootstrapRole', {
      metadata: { name: BOOTSTRAP, namespace: MINIO_NAMESPACE },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'patch'], resourceNames: [METRICS_TOKEN_SECRET] }],
    });
    new k8s.KubeRoleBinding(this, 'BootstrapRoleBinding', {
      metadata: { name: BOOTSTRAP, namespace: MINIO_NAMESPACE },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: BOOTSTRAP },
      subjects: [{ kind: 'ServiceAccount', name: BOOTSTRAP, namespace: MINIO_NAMESPACE }],
    });
    new k8s.KubeConfigMap(this, 'BootstrapScript', {
      metadata: { name: BOOTSTRAP, namespace: MINIO_NAMESPACE },
      data: Lazy.any({ produce: () => this.bootstrapFiles() }) as unknown as Record<string, string>,
    });
    new k8s.KubeJob(this, 'Bootstrap', {
      metadata: {
        name: Lazy.any({ produce: () => this.bootstrapJobName() }) as unknown as string,
        namespace: MINIO_NAMESPACE,
      },
      spec: Lazy.any({
        produce: (): k8s.JobSpec => ({
          // With the exponential back-off, the retries cover several more minutes of a slow start.
          backoffLimit: 6,
          template: { metadata: { labels: { ...Chart.of(this).labels, 'app.kubernetes.io/name': NAME, 'app.kubernetes.io/component': 'bootstrap' } }, spec: this.bootstrapPod() },
        }),
      }) as unknown as k8s.JobSpec,
    });
  }

  private bootstrapPod(): k8s.PodSpec {
    const users = this.users;
    return hardenedPod({
      serviceAccountName: BOOTSTRAP,
      restartPolicy: 'OnFailure',
      // Buckets, users, policies and the metrics token with mc (root credentials), then the
      // token into its Secret with kubectl: only the second container holds an API token.
      initContainers: [
        hardenedContainer({
          name: 'bootstrap',
          image: this.clientImage,
          command: ['/bin/sh', '/bootstrap/bootstrap.sh'],
          env: [
            { name: 'MINIO_ENDPOINT', value: this.s3.url },
            { name: 'MINIO_ROOT_USER', valueFrom: { secretKeyRef: this.rootCredentials.keyRef('MINIO_ROOT_USER') } },
            { name: 'MINIO_ROOT_PASSWORD', valueFrom: { secretKeyRef: this.rootCredentials.keyRef('MINIO_ROOT_PASSWORD') } },
            { name: 'CREDENTIALS_DIR', value: CREDENTIALS_DIR },
            { name: 'METRICS_TOKEN_FILE', value: `${TOKEN_DIR}/token` },
            // mc writes its config directory even when the alias comes from MC_HOST_s3.
            { name: 'MC_CONFIG_DIR', value: '/tmp/.mc' },
            { name: 'HOME', value: '/tmp' },
          ],
          resources: resources({ cpu: '50m', memory: '64Mi' }, { cpu: '500m', memory: '256Mi' }),
          volumeMounts: [
            { name: 'bootstrap', mountPath: '/bootstrap', readOnly: true },
            { name: 'tmp', mountPath: '/tmp' },
            { name: 'token', mountPath: TOKEN_DIR },
            ...(users.length > 0 ? [{ name: 'credentials', mountPath: CREDENTIALS_DIR, readOnly: true }] : []),
          ],
        }),
      ],
      containers: [
        hardenedContainer({
          name: 'publish-token',
          image: this.kubectlImage,
          command: ['/bin/sh', '/bootstrap/publish-token.sh'],
          env: [
            { name: 'METRICS_TOKEN_FILE', value: `${TOKEN_DIR}/token` },
            { name: 'HOME', value: '/tmp' },
          ],
          resources: resources({ cpu: '10m', memory: '32Mi' }, { cpu: '200m', memory: '128Mi' }),
          volumeMounts: [
            { name: 'bootstrap', mountPath: '/bootstrap', readOnly: true },
            { name: 'publisher-tmp', mountPath: '/tmp' },
            { name: 'token', mountPath: TOKEN_DIR, readOnly: true },
            { name: 'api-token', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
          ],
        }),
      ],
      volumes: [
        { name: 'bootstrap', configMap: { name: BOOTSTRAP } },
        { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('16Mi') } },
        { name: 'token', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') } },
        { name: 'publisher-tmp', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('16Mi') } },
        // What automountServiceAccountToken would give every container, for the publisher only.
        {
          name: 'api-token',
          projected: {
            sources: [
              { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardApi: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
        ...(users.length > 0
          ? [
              {
                name: 'credentials',
                projected: {
                  // Only the secret key of each user, as <user>/AWS_SECRET_ACCESS_KEY.
                  sources: users.map((u) => ({
                    secret: {
                      name: this.userSecret(u).name,
                      items: [{ key: S3_KEYS.secretAccessKey, path: `${u}/${S3_KEYS.secretAccessKey}` }],
                    },
                  })),
                },
              },
            ]
          : []),
      ],
    });
  }
}
