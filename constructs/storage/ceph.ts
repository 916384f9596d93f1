import { TenantIngress } from '../../lib/tenant-ingress';
import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { WebUi } from '../edge/types';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { CredentialGenerator, externalSecret } from '../credentials/generator';
import { ISecretRef, S3_KEYS } from '../credentials/types';
import { TENANT_REACHABLE_LABEL } from '../tenancy/tenant';
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

/**
 * Ceph through Rook v1.18 (ceph.rook.io/v1, objectbucket.io/v1alpha1). Field names follow
 * deploy/examples/crds.yaml of github.com/rook/rook@v1.18.8; the chart values follow
 * deploy/charts/rook-ceph/values.yaml of the same tag.
 */

/** Namespace of the Rook operator, the CSI drivers and the Ceph cluster. */
export const ROOK_CEPH_NAMESPACE = 'rook-ceph';

/** Names Rook derives from ours; kept here so no consumer re-derives them. */
const CLUSTER_NAME = 'rook-ceph';
const BLOCK_POOL = 'replicapool';
const FILESYSTEM = 'cephfs';
/** CephFS data pool: Rook names it `<filesystem>-<name>` (pkg/operator/ceph/file/filesystem.go). */
const FILESYSTEM_DATA_POOL = 'replicated';
const OBJECT_STORE = 's3';
/** CSI driver names carry the operator namespace as prefix (chart: csi.csiDriverNamePrefix unset). */
const RBD_DRIVER = `${ROOK_CEPH_NAMESPACE}.rbd.csi.ceph.com`;
const CEPHFS_DRIVER = `${ROOK_CEPH_NAMESPACE}.cephfs.csi.ceph.com`;
/** With enableOBCWatchOperatorNamespace the provisioner is `<namespace>.ceph.rook.io/bucket` (pkg/operator/ceph/object/objectstore.go). */
const BUCKET_PROVISIONER = `${ROOK_CEPH_NAMESPACE}.ceph.rook.io/bucket`;
/** Rook's default CSI subvolume group of every filesystem (pkg/operator/ceph/file/filesystem.go). */
const ROOK_CSI_SUBVOLUME_GROUP = 'csi';
/** Secrets Rook writes for the CSI drivers (pkg/operator/ceph/csi/secrets.go). */
const CSI_SECRETS = {
  rbdProvisioner: 'rook-csi-rbd-provisioner',
  rbdNode: 'rook-csi-rbd-node',
  cephfsProvisioner: 'rook-csi-cephfs-provisioner',
  cephfsNode: 'rook-csi-cephfs-node',
} as const;
/** Name and key of the OBC Secret the bucket provisioner writes (Documentation/.../ceph-object-bucket-claim.md). */
const TENANT_CREDENTIALS_SECRET = 's3-credentials';
/** Keys Rook writes into a CephObjectStoreUser's Secret (pkg/operator/ceph/object/user/controller.go). */
const ROOK_USER_KEYS = ['AccessKey', 'SecretKey', 'Endpoint'] as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** S3 bucket names the platform accepts: 3–63 characters, no dots (virtual-host style stays valid). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
/** RGW user ids Rook or the bucket provisioner generate themselves. */
const DASHBOARD_SERVICE = 'ceph-dashboard';
const DASHBOARD_PORT = 7000;
const RESERVED_USER = /^(obc-|rgw-|dashboard-admin$)/;
const TENANT_BUCKET_PREFIX = tenantBucketName('');

/** Actions of a bucket policy statement per access level (RGW supports these S3 actions). */
const POLICY_ACTIONS: Readonly<Record<BucketAccess, readonly string[]>> = {
  read: ['s3:GetBucketLocation', 's3:ListBucket', 's3:GetObject'],
  readwrite: [
    's3:GetBucketLocation',
    's3:ListBucket',
    's3:GetObject',
    's3:PutObject',
    's3:DeleteObject',
    's3:ListBucketMultipartUploads',
    's3:ListMultipartUploadParts',
    's3:AbortMultipartUpload',
  ],
};

/** A node and the raw devices on it that become OSDs. */
export interface CephNodeDevices {
  /** Kubernetes node name (its `kubernetes.io/hostname` label). */
  readonly name: string;
  /** Device names (`nvme1n1`) or paths (`/dev/disk/by-id/...`); they must hold no partitions or filesystem. */
  readonly devices: readonly string[];
}

/** Ceph daemons whose resources the platform sets. */
export type CephDaemon = 'mon' | 'mgr' | 'osd' | 'mds' | 'rgw';

/** CPU and memory a daemon requests; the memory is also its limit. */
export interface CephDaemonResources {
  readonly cpu: string;
  readonly memory: string;
}

/**
 * Defaults from Ceph's hardware recommendations: an OSD's memory becomes its osd_memory_target
 * (Ceph's default 4Gi), the MDS cache takes half of its memory (Rook's cacheMemoryLimitFactor).
 */
const DEFAULT_RESOURCES: Readonly<Record<CephDaemon, CephDaemonResources>> = {
  mon: { cpu: '500m', memory: '2Gi' },
  mgr: { cpu: '500m', memory: '1Gi' },
  osd: { cpu: '1', memory: '4Gi' },
  mds: { cpu: '500m', memory: '4Gi' },
  rgw: { cpu: '500m', memory: '2Gi' },
};

export interface CephStoreOptions {
  /**
   * Ceph monitors; odd, from 1 to 9, each on its own node.
   * @default 3
   */
  readonly mons?: number;
  /**
   * Copies of every object in each pool (block pool, filesystem and object store), each on
   * another node.
   * @default 3
   */
  readonly replicas?: number;
  /**
   * Devices that become OSDs: `'all'` takes every empty device on every node; or name the nodes
   * and their devices.
   * @default 'all'
   */
  readonly devices?: 'all' | readonly CephNodeDevices[];
  /**
   * CPU requested and memory requested and limited, per daemon; daemons not named keep the default.
   * @default - mon 500m/2Gi, mgr 500m/1Gi, osd 1/4Gi, mds 500m/4Gi, rgw 500m/2Gi
   */
  readonly resources?: Partial<Record<CephDaemon, CephDaemonResources>>;
}

export interface CephStoreProps extends CephStoreOptions {
  /** Copies the S3 keys Rook writes into the Secrets consumers read. */
  readonly credentials: CredentialGenerator;
}

/** The shared CephFS, for consumers that mount paths of it directly (static PersistentVolumes). */
export interface ICephFilesystem {
  /** Filesystem name (`fsName` of ceph-csi). */
  readonly name: string;
  /** Namespace of the Ceph cluster; ceph-csi's `clusterID`. */
  readonly clusterNamespace: string;
  /** CSI driver name of PersistentVolumes on this filesystem. */
  readonly csiDriver: string;
  /** StorageClass for dynamically provisioned RWX volumes. */
  readonly storageClassName: string;
  /** Secret the CSI node plugin mounts with (`nodeStageSecretRef` of a static PersistentVolume). */
  readonly nodeStageSecret: { readonly name: string; readonly namespace: string };
  /**
   * Declares a subvolume group (on first use) and returns its path in the filesystem,
   * `/volumes/<name>`: the `rootPath` of static PersistentVolumes under it.
   */
  subVolumeGroup(name: string): string;
}

interface PlatformBucketState {
  readonly bucket: IBucket;
  readonly grants: Map<string, BucketAccess>;
}

/**
 * Ceph storage run by Rook: the operator (Helm chart), a CephCluster, an RBD block pool with the
 * `ceph-block` StorageClass, the `cephfs` filesystem with its StorageClass and handle, and the
 * `s3` object store (RGW), which is the platform's IObjectStore.
 *
 * Buckets and users: each platform bucket is an ObjectBucketClaim in `rook-ceph` whose bucket
 * policy lets exactly the granted users in; each grant is a CephObjectStoreUser that may create no
 * bucket of its own, whose keys the credentials generator copies into the consumer's Secret as
 * AWS_*. A tenant's bucket is an ObjectBucketClaim in the tenant's namespace: its owner is a user
 * of its own that may hold that one bucket only.
 */
export class CephStore extends Construct implements IObjectStore {
  readonly kind = 'ceph' as const;
  readonly namespace = ROOK_CEPH_NAMESPACE;
  readonly region = 'us-east-1';
  readonly s3: ServiceEndpoint;
  readonly console: ServiceEndpoint;
  /** The Ceph dashboard (its own login), for the ingress. */
  readonly webUi: WebUi;
  readonly mons: number;
  readonly replicas: number;
  readonly devices: 'all' | readonly CephNodeDevices[];
  readonly resources: Readonly<Record<CephDaemon, CephDaemonResources>>;
  readonly blockStorageClassName = 'ceph-block';
  readonly bucketStorageClassName = 'ceph-bucket';
  readonly release: ChartRelease<RookCephValues>;
  readonly filesystem: ICephFilesystem;
  private readonly credentials: CredentialGenerator;
  private readonly platformBuckets = new Map<string, PlatformBucketState>();
  private readonly users = new Set<string>();
  private readonly tenants = new Map<string, { readonly namespace: string; readonly bucket: IBucket; readonly credentials: ISecretRef }>();
  private monitored = false;

  constructor(scope: Construct, id: string, props: CephStoreProps) {
    const mons = props.mons ?? 3;
    const replicas = props.replicas ?? 3;
    const devices = props.devices ?? 'all';
    validate(mons, replicas, devices);
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.mons = mons;
    this.replicas = replicas;
    this.devices = devices;
    this.resources = { ...DEFAULT_RESOURCES, ...props.resources };
    this.credentials = props.credentials;
    this.s3 = serviceEndpoint(ROOK_CEPH_NAMESPACE, `rook-ceph-rgw-${OBJECT_STORE}`, 80, 'http');
    // The dashboard without TLS listens on 7000 in the active mgr pod. Rook's own Service
    // (rook-ceph-mgr-dashboard) exists only once the operator runs; the platform routes its own,
    // with the selector Rook uses (pkg/operator/ceph/cluster/mgr/spec.go makeDashboardService).
    this.console = serviceEndpoint(ROOK_CEPH_NAMESPACE, DASHBOARD_SERVICE, DASHBOARD_PORT, 'http-dashboard');
    const mgrActive = { app: 'rook-ceph-mgr', rook_cluster: ROOK_CEPH_NAMESPACE, mgr_role: 'active' };
    this.webUi = { namespace: ROOK_CEPH_NAMESPACE, service: { name: DASHBOARD_SERVICE, port: 'http-dashboard' }, podSelector: mgrActive, targetPort: DASHBOARD_PORT };

    new k8s.KubeNamespace(this, 'Namespace', {
      metadata: {
        name: ROOK_CEPH_NAMESPACE,
        labels: {
          // OSDs need raw block devices, privileged containers, host networking options and a
          // hostPath for /var/lib/rook; the CSI plugins mount volumes on the host. None of this
          // passes the baseline or restricted Pod Security levels.
          'pod-security.kubernetes.io/enforce': 'privileged',
          'pod-security.kubernetes.io/warn': 'privileged',
          // Tenants call the S3 gateway (RGW) in this namespace.
          [TENANT_REACHABLE_LABEL]: 'true',
        },
        annotations: {
          [`${MLPLAT_PREFIX}/privileged-reason`]:
            'Ceph OSDs use raw block devices, privileged containers and hostPath /var/lib/rook; CSI plugins mount on the host',
        },
      },
    });
    // Tenants reach the S3 gateway only (Rook's RGW pods listen on 8080 behind the Service's port
    // 80); mons, OSDs, the dashboard and metrics accept only non-tenant namespaces. Host-network
    // pods are not subject to NetworkPolicies: cephx keys protect those.
    new TenantIngress(this, 'TenantIngress', {
      namespace: ROOK_CEPH_NAMESPACE,
      openings: [{ name: 'rgw', podLabels: { app: 'rook-ceph-rgw', rook_object_store: OBJECT_STORE }, port: 8080 }],
    });
    new k8s.KubeService(this, 'DashboardService', {
      metadata: { name: DASHBOARD_SERVICE, namespace: ROOK_CEPH_NAMESPACE },
      spec: {
        selector: { ...this.webUi.podSelector },
        ports: [{ name: 'http-dashboard', port: DASHBOARD_PORT, targetPort: k8s.IntOrString.fromNumber(DASHBOARD_PORT), protocol: 'TCP' }],
      },
    });

    this.release = new ChartRelease<RookCephValues>(this, 'Release', {
      chart: ctx.versions.charts.rookCeph,
      releaseName: 'rook-ceph',
      namespace: ROOK_CEPH_NAMESPACE,
      crds: 'CreateReplace',
      // CephCluster, pools, filesystems, object stores, users; ObjectBucketClaims.
      provides: ['ceph.rook.io', 'objectbucket.io'],
      values: operatorValues(ctx.imageRegistry, () => this.monitored),
    });

    this.addCluster(ctx.image(ctx.versions.images.ceph));
    this.addBlockStorage();
    this.filesystem = new CephSharedFilesystem(this, 'Filesystem', { replicas, resources: this.resources.mds });
    this.addObjectStore();
    for (const name of PLATFORM_BUCKETS) this.bucket(name);
  }

  /** Whether Rook creates ServiceMonitors for the Ceph manager and exporters (`enableMonitoring()`). */
  get monitoringEnabled(): boolean {
    return this.monitored;
  }

  /**
   * Lets Rook create its ServiceMonitors: `rook-ceph-mgr` (Service port `http-metrics`, 9283: the
   * cluster's capacity, health and pool metrics) and `rook-ceph-exporter` (per-daemon counters).
   * The chart grants the operator rights on ServiceMonitors, the CephCluster asks for them. Call
   * when the platform runs the Prometheus Operator: the CephCluster is applied with the second
   * layer, once its CRDs exist (without them Rook logs an error and carries on).
   */
  enableMonitoring(): void {
    this.monitored = true;
  }

  /** A platform bucket: an ObjectBucketClaim in `rook-ceph`, declared on first use. */
  bucket(name: string): IBucket {
    const existing = this.platformBuckets.get(name);
    if (existing) return existing.bucket;
    if (!BUCKET_NAME.test(name)) {
      throw new Error(`Ceph: bucket name "${name}" must be 3 to 63 lowercase letters, digits or hyphens, starting and ending with a letter or digit`);
    }
    if (name.startsWith(TENANT_BUCKET_PREFIX)) {
      throw new Error(`Ceph: bucket name "${name}" is reserved for tenant buckets ("${TENANT_BUCKET_PREFIX}<tenant>"); use tenantBucket()`);
    }
    const state: PlatformBucketState = { bucket: { name, uri: `s3://${name}` }, grants: new Map() };
    this.platformBuckets.set(name, state);
    new ApiObject(this, `Bucket-${name}`, {
      apiVersion: 'objectbucket.io/v1alpha1',
      kind: 'ObjectBucketClaim',
      // The claim's own Secret (owner keys) stays in rook-ceph; consumers get users of their own.
      metadata: { name: `bucket-${name}`, namespace: ROOK_CEPH_NAMESPACE },
      spec: Lazy.any({
        produce: () => {
          const policy = bucketPolicy(name, state.grants);
          return {
            bucketName: name,
            storageClassName: this.bucketStorageClassName,
            // Without grants no policy is set, and Rook removes a policy set before.
            ...(policy ? { additionalConfig: { bucketPolicy: policy } } : {}),
          };
        },
      }),
    });
    return state.bucket;
  }

  /**
   * A CephObjectStoreUser `target.user` that may create no bucket, let into `buckets` by their
   * bucket policies, and a Secret `target.secretName` in `target.namespace` with its keys as
   * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
   */
  grant(target: CredentialsTarget, buckets: readonly IBucket[], access: BucketAccess): ISecretRef {
    const user = target.user;
    if (!DNS_LABEL.test(user) || user.length > 63) {
      throw new Error(`Ceph: S3 user "${user}" must be a DNS label (lowercase letters, digits and hyphens, at most 63 characters)`);
    }
    if (RESERVED_USER.test(user)) throw new Error(`Ceph: S3 user "${user}" is reserved for users Rook creates itself (obc-*, rgw-*, dashboard-admin)`);
    if (this.users.has(user)) throw new Error(`Ceph: S3 user "${user}" is granted twice; give each grant a user of its own`);
    if (buckets.length === 0) throw new Error(`Ceph: S3 user "${user}": buckets must name at least one bucket`);
    const states = buckets.map((b) => {
      const state = this.platformBuckets.get(b.name);
      if (state?.bucket !== b) {
        throw new Error(
          `Ceph: S3 user "${user}": "${b.name}" is not a platform bucket of this store (buckets: ${[...this.platformBuckets.keys()].join(', ')}); tenant buckets belong to their tenant only`,
        );
      }
      return state;
    });
    if (!DNS_SUBDOMAIN.test(target.secretName) || target.secretName.length > 253) {
      throw new Error(`Ceph: S3 user "${user}": secretName "${target.secretName}" is not a valid Secret name`);
    }
    const rookSecret = externalSecret(ROOK_CEPH_NAMESPACE, `rook-ceph-object-user-${OBJECT_STORE}-${user}`, ROOK_USER_KEYS, 'rook-ceph');
    // Declared first: it throws on a Secret declared twice, before this store changes.
    const copy = this.credentials.secret(target.namespace, target.secretName, {
      [S3_KEYS.accessKeyId]: { copyFrom: rookSecret, key: 'AccessKey' },
      [S3_KEYS.secretAccessKey]: { copyFrom: rookSecret, key: 'SecretKey' },
    });
    this.users.add(user);
    for (const state of states) state.grants.set(user, access);
    new ApiObject(this, `User-${user}`, {
      apiVersion: 'ceph.rook.io/v1',
      kind: 'CephObjectStoreUser',
      metadata: { name: user, namespace: ROOK_CEPH_NAMESPACE },
      spec: {
        store: OBJECT_STORE,
        displayName: `${target.namespace}/${target.secretName}`,
        // A negative bucket limit forbids creating buckets (RGW: 0 would mean unlimited).
        quotas: { maxBuckets: -1 },
      },
    });
    return copy;
  }

  /**
   * The tenant's bucket `tenant-<name>`: an ObjectBucketClaim `s3-credentials` in its namespace.
   * Rook creates a user that owns this bucket and may hold no other, and writes its keys into
   * Secret `s3-credentials` (and bucket host/port/name into ConfigMap `s3-credentials`) there.
   */
  tenantBucket(tenant: { readonly name: string; readonly namespace: string }): { readonly bucket: IBucket; readonly credentials: ISecretRef } {
    const existing = this.tenants.get(tenant.name);
    if (existing) {
      if (existing.namespace !== tenant.namespace) {
        throw new Error(`Ceph: tenant "${tenant.name}" asked for its bucket from namespace "${tenant.namespace}", before from "${existing.namespace}"`);
      }
      return { bucket: existing.bucket, credentials: existing.credentials };
    }
    const name = tenantBucketName(tenant.name);
    new ApiObject(this, `TenantBucket-${tenant.name}`, {
      apiVersion: 'objectbucket.io/v1alpha1',
      kind: 'ObjectBucketClaim',
      metadata: { name: TENANT_CREDENTIALS_SECRET, namespace: tenant.namespace },
      spec: { bucketName: name, storageClassName: this.bucketStorageClassName },
    });
    const bucket: IBucket = { name, uri: `s3://${name}` };
    const credentials = externalSecret(tenant.namespace, TENANT_CREDENTIALS_SECRET, [S3_KEYS.accessKeyId, S3_KEYS.secretAccessKey], 'rook-ceph');
    this.tenants.set(tenant.name, { namespace: tenant.namespace, bucket, credentials });
    return { bucket, credentials };
  }

  private addCluster(image: string): void {
    const res = (d: CephDaemon) => daemonResources(this.resources[d]);
    new ApiObject(this, 'Resource', {
      apiVersion: 'ceph.rook.io/v1',
      kind: 'CephCluster',
      metadata: { name: CLUSTER_NAME, namespace: ROOK_CEPH_NAMESPACE },
      spec: {
        cephVersion: { image },
        dataDirHostPath: '/var/lib/rook',
        mon: { count: this.mons, allowMultiplePerNode: false },
        // A standby manager takes over at once; a single-mon (test) cluster has room for one.
        mgr: { count: this.mons === 1 ? 1 : 2, allowMultiplePerNode: false },
        // Plain HTTP inside the cluster: the platform ingress terminates TLS in front of it.
        dashboard: { enabled: true, ssl: false },
        priorityClassNames: { mon: 'system-node-critical', osd: 'system-node-critical', mgr: 'system-cluster-critical' },
        resources: { mon: res('mon'), mgr: res('mgr'), osd: res('osd') },
        // Rook keeps PodDisruptionBudgets so drains never take more OSDs or mons than is safe.
        disruptionManagement: { managePodBudgets: true },
        monitoring: Lazy.any({ produce: () => (this.monitored ? { enabled: true } : undefined) }),
        storage:
          this.devices === 'all'
            ? { useAllNodes: true, useAllDevices: true }
            : {
                useAllNodes: false,
                useAllDevices: false,
                nodes: this.devices.map((n) => ({ name: n.name, devices: n.devices.map((d) => ({ name: d })) })),
              },
      },
    });
  }

  private addBlockStorage(): void {
    new ApiObject(this, 'BlockPool', {
      apiVersion: 'ceph.rook.io/v1',
      kind: 'CephBlockPool',
      metadata: { name: BLOCK_POOL, namespace: ROOK_CEPH_NAMESPACE },
      spec: { failureDomain: 'host', replicated: replicated(this.replicas) },
    });
    new k8s.KubeStorageClass(this, 'BlockStorageClass', {
      metadata: { name: this.blockStorageClassName },
      provisioner: RBD_DRIVER,
      parameters: {
        clusterID: ROOK_CEPH_NAMESPACE,
        pool: BLOCK_POOL,
        imageFormat: '2',
        imageFeatures: 'layering',
        ...csiSecretParameters(CSI_SECRETS.rbdProvisioner, CSI_SECRETS.rbdNode),
        'csi.storage.k8s.io/fstype': 'ext4',
      },
      reclaimPolicy: 'Delete',
      allowVolumeExpansion: true,
    });
  }

  private addObjectStore(): void {
    new ApiObject(this, 'ObjectStore', {
      apiVersion: 'ceph.rook.io/v1',
      kind: 'CephObjectStore',
      metadata: { name: OBJECT_STORE, namespace: ROOK_CEPH_NAMESPACE },
      spec: {
        metadataPool: { failureDomain: 'host', replicated: replicated(this.replicas) },
        dataPool: { failureDomain: 'host', replicated: replicated(this.replicas) },
        // Deleting the custom resource must not delete every object of the platform.
        preservePoolsOnDelete: true,
        gateway: {
          port: this.s3.port,
          instances: 1,
          resources: daemonResources(this.resources.rgw),
          priorityClassName: 'system-cluster-critical',
        },
      },
    });
    new k8s.KubeStorageClass(this, 'BucketStorageClass', {
      metadata: { name: this.bucketStorageClassName },
      provisioner: BUCKET_PROVISIONER,
      parameters: { objectStoreName: OBJECT_STORE, objectStoreNamespace: ROOK_CEPH_NAMESPACE },
      // Removing a claim (or a tenant) removes its user but keeps the bucket and its data; an
      // administrator deletes buckets by hand. A claim re-created later takes the bucket over.
      reclaimPolicy: 'Retain',
    });
  }
}

interface CephSharedFilesystemProps {
  readonly replicas: number;
  readonly resources: CephDaemonResources;
}

/** The `cephfs` CephFilesystem, its StorageClass and the subvolume groups consumers declare. */
class CephSharedFilesystem extends Construct implements ICephFilesystem {
  readonly name = FILESYSTEM;
  readonly clusterNamespace = ROOK_CEPH_NAMESPACE;
  readonly csiDriver = CEPHFS_DRIVER;
  readonly storageClassName = 'cephfs';
  readonly nodeStageSecret = { name: CSI_SECRETS.cephfsNode, namespace: ROOK_CEPH_NAMESPACE };
  private readonly groups = new Map<string, string>();

  constructor(scope: Construct, id: string, props: CephSharedFilesystemProps) {
    super(scope, id);
    new ApiObject(this, 'Resource', {
      apiVersion: 'ceph.rook.io/v1',
      kind: 'CephFilesystem',
      metadata: { name: FILESYSTEM, namespace: ROOK_CEPH_NAMESPACE },
      spec: {
        metadataPool: { failureDomain: 'host', replicated: replicated(props.replicas) },
        dataPools: [{ name: FILESYSTEM_DATA_POOL, failureDomain: 'host', replicated: replicated(props.replicas) }],
        // Deleting the custom resource must not delete the files.
        preserveFilesystemOnDelete: true,
        metadataServer: {
          activeCount: 1,
          // A hot standby replays the journal continuously and takes over within seconds.
          activeStandby: true,
          resources: daemonResources(props.resources),
          priorityClassName: 'system-cluster-critical',
        },
      },
    });
    new k8s.KubeStorageClass(this, 'StorageClass', {
      metadata: { name: this.storageClassName },
      provisioner: CEPHFS_DRIVER,
      parameters: {
        clusterID: ROOK_CEPH_NAMESPACE,
        fsName: FILESYSTEM,
        pool: `${FILESYSTEM}-${FILESYSTEM_DATA_POOL}`,
        ...csiSecretParameters(CSI_SECRETS.cephfsProvisioner, CSI_SECRETS.cephfsNode),
      },
      reclaimPolicy: 'Delete',
      allowVolumeExpansion: true,
    });
  }

  subVolumeGroup(name: string): string {
    const existing = this.groups.get(name);
    if (existing) return existing;
    if (!DNS_LABEL.test(name) || name.length > 56) {
      throw new Error(`Ceph: subvolume group "${name}" must be a DNS label of at most 56 characters`);
    }
    if (name === ROOK_CSI_SUBVOLUME_GROUP) {
      throw new Error(`Ceph: subvolume group "${name}" is Rook's group for dynamically provisioned volumes; choose another name`);
    }
    new ApiObject(this, `SubVolumeGroup-${name}`, {
      apiVersion: 'ceph.rook.io/v1',
      kind: 'CephFilesystemSubVolumeGroup',
      metadata: { name: `${FILESYSTEM}-${name}`, namespace: ROOK_CEPH_NAMESPACE },
      spec: { name, filesystemName: FILESYSTEM },
    });
    // `ceph fs subvolumegroup create` makes the group's directory at /volumes/<group>.
    const rootPath = `/volumes/${name}`;
    this.groups.set(name, rootPath);
    return rootPath;
  }
}

/** The subset of the rook-ceph chart values (v1.18.8, deploy/charts/rook-ceph/values.yaml) mlplat sets. */
export interface RookCephValues {
  readonly image?: { readonly repository: string };
  readonly crds: { readonly enabled: boolean };
  readonly resources: {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly memory: string };
  };
  readonly rbacAggregate: { readonly enableOBCs: boolean };
  readonly enableOBCWatchOperatorNamespace: boolean;
  readonly obcAllowAdditionalConfigFields: string;
  readonly monitoring: { readonly enabled: boolean };
  readonly csi: {
    readonly enableRbdDriver: boolean;
    readonly enableCephfsDriver: boolean;
    readonly cephcsi?: { readonly repository: string };
    readonly registrar?: { readonly repository: string };
    readonly provisioner?: { readonly repository: string };
    readonly snapshotter?: { readonly repository: string };
    readonly attacher?: { readonly repository: string };
    readonly resizer?: { readonly repository: string };
  };
}

function operatorValues(imageRegistry: string | undefined, monitored: () => boolean): RookCephValues {
  // With an image registry override, images keep their upstream path under the mirror
  // (quay.io/cephcsi/cephcsi → <mirror>/cephcsi/cephcsi); the chart keeps the tags.
  const mirrored = (upstream: string) => (imageRegistry ? { repository: `${imageRegistry}/${upstream}` } : undefined);
  return {
    image: mirrored('rook/ceph'),
    // The chart ships the Rook CRDs as templates, switched on here (not in Helm's crds/ folder).
    crds: { enabled: true },
    resources: { requests: { cpu: '200m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    // Tenants get no ObjectBucketClaim rights through `edit`: only the platform creates claims,
    // which is what makes allowing bucketPolicy below safe.
    rbacAggregate: { enableOBCs: false },
    // Pins the provisioner name to `rook-ceph.ceph.rook.io/bucket` (claims in every namespace are served).
    enableOBCWatchOperatorNamespace: true,
    // bucketPolicy carries the grants of platform buckets.
    obcAllowAdditionalConfigFields: 'maxObjects,maxSize,bucketPolicy',
    // RBAC for the operator's ServiceMonitors, with the platform's monitoring only (the chart
    // itself renders no monitoring.coreos.com object while csi.serviceMonitor is off).
    monitoring: Lazy.any({ produce: () => ({ enabled: monitored() }) }) as unknown as { readonly enabled: boolean },
    csi: {
      enableRbdDriver: true,
      enableCephfsDriver: true,
      cephcsi: mirrored('cephcsi/cephcsi'),
      registrar: mirrored('sig-storage/csi-node-driver-registrar'),
      provisioner: mirrored('sig-storage/csi-provisioner'),
      snapshotter: mirrored('sig-storage/csi-snapshotter'),
      attacher: mirrored('sig-storage/csi-attacher'),
      resizer: mirrored('sig-storage/csi-resizer'),
    },
  };
}

function validate(mons: number, replicas: number, devices: 'all' | readonly CephNodeDevices[]): void {
  if (!Number.isInteger(mons) || mons < 1 || mons > 9 || mons % 2 === 0) {
    throw new Error(`Ceph: mons must be an odd number from 1 to 9 (got ${mons}); an even count adds no failure tolerance`);
  }
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 7) {
    throw new Error(`Ceph: replicas must be a whole number from 1 to 7 (got ${replicas})`);
  }
  if (devices === 'all') return;
  if (devices.length === 0) throw new Error(`Ceph: devices must list at least one node, or be 'all'`);
  const seen = new Set<string>();
  for (const node of devices) {
    if (seen.has(node.name)) throw new Error(`Ceph: node "${node.name}" is listed twice in devices`);
    seen.add(node.name);
    if (node.devices.length === 0) throw new Error(`Ceph: node "${node.name}" lists no devices`);
    const dup = node.devices.find((d, i) => node.devices.indexOf(d) !== i);
    if (dup !== undefined) throw new Error(`Ceph: node "${node.name}" lists device "${dup}" twice`);
  }
  if (replicas > devices.length) {
    throw new Error(
      `Ceph: replicas (${replicas}) exceeds the number of storage nodes in devices (${devices.length}); every copy needs a node of its own`,
    );
  }
}

/** `replicated` of a Ceph pool; size 1 must be allowed explicitly (pkg/operator/ceph/pool/validate.go). */
function replicated(size: number): { size: number; requireSafeReplicaSize: boolean } {
  return { size, requireSafeReplicaSize: size > 1 };
}

function daemonResources(r: CephDaemonResources): { requests: Record<string, string>; limits: Record<string, string> } {
  return { requests: { cpu: r.cpu, memory: r.memory }, limits: { memory: r.memory } };
}

/** The secret parameters of Rook's CSI StorageClass examples (deploy/examples/csi/{rbd,cephfs}/storageclass.yaml). */
function csiSecretParameters(provisionerSecret: string, nodeSecret: string): Record<string, string> {
  const ns = ROOK_CEPH_NAMESPACE;
  return {
    'csi.storage.k8s.io/provisioner-secret-name': provisionerSecret,
    'csi.storage.k8s.io/provisioner-secret-namespace': ns,
    'csi.storage.k8s.io/controller-expand-secret-name': provisionerSecret,
    'csi.storage.k8s.io/controller-expand-secret-namespace': ns,
    'csi.storage.k8s.io/controller-publish-secret-name': provisionerSecret,
    'csi.storage.k8s.io/controller-publish-secret-namespace': ns,
    'csi.storage.k8s.io/node-stage-secret-name': nodeSecret,
    'csi.storage.k8s.io/node-stage-secret-namespace': ns,
  };
}

/**
 * The bucket policy letting the granted users in (RGW principals `arn:aws:iam:::user/<id>`), one
 * statement per user, sorted so the text (which Rook compares with the live policy) is stable.
 */
function bucketPolicy(bucket: string, grants: ReadonlyMap<string, BucketAccess>): string | undefined {
  if (grants.size === 0) return undefined;
  const statements = [...grants.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([user, access]) => ({
      Sid: `${user}-${access}`,
      Effect: 'Allow',
      Principal: { AWS: [`arn:aws:iam:::user/${user}`] },
      Action: POLICY_ACTIONS[access],
      Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
    }));
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}
