import { createHash } from 'node:crypto';
import { Construct } from 'constructs';
import { AdmissionPolicy } from '../../lib/admission-policy';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { boundedName, MLPLAT_PREFIX } from '../../lib/naming';
import { hardenedContainer, hardenedPod, platformNamespace, resources } from '../../lib/workload';
import { externalSecret } from '../credentials/generator';
import { ISecretRef } from '../credentials/types';
import { TENANT_NAMESPACES } from '../gpu/access-policy';
import { IObjectStore } from '../storage/types';

export const CACHE_NAMESPACE = 'dataset-cache';
/** Claim name of the read-only cache in every tenant namespace. */
export const TENANT_CACHE_CLAIM = 'dataset-cache';
/** Claim name of each tenant's writable area. */
export const TENANT_SCRATCH_CLAIM = 'scratch';
/** Where the mount helper puts the cache and the scratch area in a container. */
export const CACHE_MOUNT_PATH = '/datasets';
export const SCRATCH_MOUNT_PATH = '/scratch';
const WRITER_CLAIM = 'cache';
/** Prefetch: `sh -c MIRROR_SCRIPT mirror <source> <target>`. */
const MIRROR_SCRIPT = 'mc alias set src "$S3_ENDPOINT" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >/dev/null && exec mc mirror --overwrite --retry "$1" "$2"';

/** A CephFS filesystem the cache can live on (the Ceph store's handle). */
export interface ICephFilesystem {
  readonly name: string;
  readonly clusterNamespace: string;
  readonly csiDriver: string;
  readonly nodeStageSecret: { readonly name: string; readonly namespace: string };
  /** Declares a subvolume group and returns its path in the filesystem. */
  subVolumeGroup(name: string): string;
}

/** Where the shared tree lives. */
export type CacheBackend =
  | { readonly kind: 'cephfs'; readonly filesystem: ICephFilesystem }
  | { readonly kind: 'nfs'; readonly server: string; readonly path: string };

export interface PrefetchOptions {
  /** Directory under the cache root, and part of the Job name. */
  readonly name: string;
  /** `s3://bucket/prefix`. */
  readonly source: string;
  /**
   * Another S3 endpoint.
   * @default - the platform store
   */
  readonly endpoint?: string;
  /**
   * Secret in namespace `dataset-cache` with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for `endpoint`.
   * @default - the platform store's read grant (required when `endpoint` is set)
   */
  readonly credentialsSecret?: string;
  /**
   * Re-sync on this schedule (five-field cron) with a CronJob.
   * @default - filled once
   */
  readonly refreshSchedule?: string;
}

export interface DatasetCacheOptions {
  /** Capacity of the shared cache, e.g. `'2Ti'`. */
  readonly size: string;
  /**
   * Size of each tenant's writable area.
   * @default '100Gi'
   */
  readonly scratchSize?: string;
  /**
   * RWX StorageClass of the tenants' writable areas.
   * @default - the CephFS StorageClass on Ceph, else the cluster default
   */
  readonly scratchStorageClass?: string;
  /**
   * Image of the MinIO client used by prefetch Jobs.
   * @default - the catalog's mc image
   */
  readonly clientImage?: string;
}

export interface DatasetCacheProps extends DatasetCacheOptions {
  readonly backend: CacheBackend;
  /** The platform store (prefetch sources without an endpoint). */
  readonly store: IObjectStore;
  /** StorageClass of the backend's dynamic volumes (CephFS), used for scratch when none is given. */
  readonly defaultScratchStorageClass?: string;
}

/** What a pod needs to use the cache. */
export interface CacheMount {
  readonly volumes: k8s.Volume[];
  readonly volumeMounts: k8s.VolumeMount[];
  readonly env: k8s.EnvVar[];
}

/**
 * The shared dataset and model-weights cache. One tree on CephFS or NFS, filled only by the
 * platform's prefetch Jobs (through a read-write volume in namespace `dataset-cache`), and
 * mounted read-only by every tenant: PersistentVolumeClaims are namespaced, so each tenant gets
 * a static PersistentVolume on the same path, pre-bound to its claim `dataset-cache`, mounted
 * with `ro`, and an admission policy refuses tenant pods that mount the claim writable. Each
 * tenant also gets a writable RWX claim `scratch`. See docs/dataset-cache.md.
 */
export class DatasetCache extends Construct {
  readonly namespace = CACHE_NAMESPACE;
  readonly size: string;
  readonly scratchSize: string;
  readonly scratchStorageClass: string | undefined;
  readonly clientImage: string;
  readonly backend: CacheBackend;
  private readonly store: IObjectStore;
  private readonly rootPath: string;
  private readonly prefetches = new Map<string, PrefetchOptions>();
  private readonly tenantNames = new Set<string>();
  private readonly storeGrants = new Map<string, ISecretRef>();

  constructor(scope: Construct, id: string, props: DatasetCacheProps) {
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.size = props.size;
    this.scratchSize = props.scratchSize ?? '100Gi';
    this.scratchStorageClass = props.scratchStorageClass ?? props.defaultScratchStorageClass;
    this.clientImage = props.clientImage ?? ctx.image(ctx.versions.images.mc);
    this.backend = props.backend;
    this.store = props.store;
    this.rootPath = props.backend.kind === 'cephfs' ? props.backend.filesystem.subVolumeGroup('mlplat-cache') : props.backend.path;

    platformNamespace(this, 'Namespace', CACHE_NAMESPACE, 'restricted');
    // The writer side: only the platform's prefetch Jobs mount it.
    this.staticVolume('Resource', 'mlplat-dataset-cache', CACHE_NAMESPACE, WRITER_CLAIM, false);
    new k8s.KubePersistentVolumeClaim(this, 'WriterClaim', {
      metadata: { name: WRITER_CLAIM, namespace: CACHE_NAMESPACE },
      spec: this.claimSpec('mlplat-dataset-cache', 'ReadWriteMany'),
    });

    new AdmissionPolicy(this, 'ReadOnly', {
      name: 'mlplat-dataset-cache-read-only',
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] }],
      namespaceSelector: TENANT_NAMESPACES,
      validations: [
        {
          // The kubelet mounts a CSI volume read-only only when the pod's claim says so.
          expression: `!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.persistentVolumeClaim) || v.persistentVolumeClaim.claimName != '${TENANT_CACHE_CLAIM}' || (has(v.persistentVolumeClaim.readOnly) && v.persistentVolumeClaim.readOnly == true))`,
          message: `the shared cache is read-only: set persistentVolumeClaim.readOnly: true on the "${TENANT_CACHE_CLAIM}" volume (write to the "${TENANT_SCRATCH_CLAIM}" claim instead)`,
        },
      ],
    });
  }

  /** Mount path of a prefetched entry inside tenant pods. */
  pathOf(prefetchName: string): string {
    if (!this.prefetches.has(prefetchName)) throw new Error(`dataset cache has no prefetch entry "${prefetchName}"`);
    return `${CACHE_MOUNT_PATH}/${prefetchName}`;
  }

  /** Gives a tenant its read-only view of the cache and its writable scratch claim. */
  addTenant(tenant: { readonly name: string; readonly namespace: string }): void {
    if (this.tenantNames.has(tenant.name)) return;
    this.tenantNames.add(tenant.name);
    const pv = `mlplat-dataset-cache-${tenant.name}`;
    this.staticVolume(`Volume-${tenant.name}`, pv, tenant.namespace, TENANT_CACHE_CLAIM, true);
    new k8s.KubePersistentVolumeClaim(this, `Claim-${tenant.name}`, {
      metadata: { name: TENANT_CACHE_CLAIM, namespace: tenant.namespace },
      spec: this.claimSpec(pv, 'ReadOnlyMany'),
    });
    new k8s.KubePersistentVolumeClaim(this, `Scratch-${tenant.name}`, {
      metadata: { name: TENANT_SCRATCH_CLAIM, namespace: tenant.namespace },
      spec: {
        accessModes: ['ReadWriteMany'],
        resources: { requests: { storage: k8s.Quantity.fromString(this.scratchSize) } },
        ...(this.scratchStorageClass ? { storageClassName: this.scratchStorageClass } : {}),
      },
    });
  }

  /**
   * Volumes, mounts and environment for a tenant pod: the cache read-only at /datasets (Hugging
   * Face hub cache at /datasets/huggingface/hub), the scratch claim at /scratch (everything
   * else the libraries write: HF_HOME, datasets cache, torch hub).
   */
  mount(): CacheMount {
    return {
      volumes: [
        { name: 'dataset-cache', persistentVolumeClaim: { claimName: TENANT_CACHE_CLAIM, readOnly: true } },
        { name: 'scratch', persistentVolumeClaim: { claimName: TENANT_SCRATCH_CLAIM } },
      ],
      volumeMounts: [
        { name: 'dataset-cache', mountPath: CACHE_MOUNT_PATH, readOnly: true },
        { name: 'scratch', mountPath: SCRATCH_MOUNT_PATH },
      ],
      env: [
        { name: 'MLPLAT_DATASET_CACHE', value: CACHE_MOUNT_PATH },
        { name: 'HF_HUB_CACHE', value: `${CACHE_MOUNT_PATH}/huggingface/hub` },
        { name: 'HF_HOME', value: `${SCRATCH_MOUNT_PATH}/.cache/huggingface` },
        { name: 'HF_DATASETS_CACHE', value: `${SCRATCH_MOUNT_PATH}/.cache/huggingface/datasets` },
        { name: 'TORCH_HOME', value: `${SCRATCH_MOUNT_PATH}/.cache/torch` },
      ],
    };
  }

  /** A copy of `spec` with the cache mounted into every container (see `mount()`). */
  mountInto(spec: k8s.PodSpec): k8s.PodSpec {
    const m = this.mount();
    const taken = new Set((spec.volumes ?? []).map((v) => v.name));
    const clash = m.volumes.find((v) => taken.has(v.name));
    if (clash) throw new Error(`pod spec already has a volume named "${clash.name}"`);
    return {
      ...spec,
      volumes: [...(spec.volumes ?? []), ...m.volumes],
      containers: spec.containers.map((c) => ({
        ...c,
        volumeMounts: [...(c.volumeMounts ?? []), ...m.volumeMounts],
        env: [...m.env.filter((e) => !(c.env ?? []).some((x) => x.name === e.name)), ...(c.env ?? [])],
      })),
    };
  }

  /** Copies `source` into `<cache>/<name>` once (and on `refreshSchedule`); unchanged files are skipped. */
  addPrefetch(options: PrefetchOptions): void {
    const { name } = options;
    if (this.prefetches.has(name)) throw new Error(`prefetch "${name}" is defined twice`);
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(\/.*)?$/.exec(options.source);
    if (!m) throw new Error(`prefetch "${name}": source "${options.source}" must be s3://bucket/prefix`);
    if (options.endpoint && !options.credentialsSecret) {
      throw new Error(`prefetch "${name}": an endpoint (${options.endpoint}) needs credentialsSecret`);
    }
    if (!options.endpoint && options.credentialsSecret) {
      throw new Error(`prefetch "${name}": credentialsSecret applies only with endpoint; the platform store grants its own`);
    }
    this.prefetches.set(name, options);
    const [, bucket, prefix = ''] = m;

    let creds: ISecretRef;
    let endpoint: URL;
    if (options.endpoint) {
      creds = externalSecret(CACHE_NAMESPACE, options.credentialsSecret!, ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], 'user');
      endpoint = new URL(options.endpoint);
    } else {
      creds = this.platformStoreCredentials(bucket);
      endpoint = new URL(this.store.s3.url);
    }
    const podSpec = hardenedPod({
      restartPolicy: 'OnFailure',
      containers: [
        hardenedContainer({
          name: 'mirror',
          image: this.clientImage,
          // `mc alias set` rather than MC_HOST_*: secret keys may hold "/" or "+", which a URL
          // would need encoded. mc mirror copies what is missing or changed and skips identical files.
          command: ['/bin/sh', '-c', MIRROR_SCRIPT, 'mirror', `src/${bucket}${prefix.replace(/\/+$/, '')}`, `/cache/${name}`],
          env: [
            { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: creds.keyRef('AWS_ACCESS_KEY_ID') } },
            { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: creds.keyRef('AWS_SECRET_ACCESS_KEY') } },
            { name: 'S3_ENDPOINT', value: endpoint.origin },
            { name: 'MC_CONFIG_DIR', value: '/tmp/.mc' },
          ],
          resources: resources({ cpu: '250m', memory: '256Mi' }, { memory: '1Gi' }),
          volumeMounts: [
            { name: 'cache', mountPath: '/cache' },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        }),
      ],
      volumes: [
        { name: 'cache', persistentVolumeClaim: { claimName: WRITER_CLAIM } },
        { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } },
      ],
    });
    const labels = { 'app.kubernetes.io/name': 'dataset-cache', [`${MLPLAT_PREFIX}/prefetch`]: name };
    const hash = createHash('sha256').update(JSON.stringify(podSpec)).digest('hex').slice(0, 8);
    new k8s.KubeJob(this, `Prefetch-${name}`, {
      metadata: { name: `prefetch-${name}-${hash}`, namespace: CACHE_NAMESPACE, labels },
      spec: { backoffLimit: 4, template: { metadata: { labels }, spec: podSpec } },
    });
    if (options.refreshSchedule) {
      new k8s.KubeCronJob(this, `Refresh-${name}`, {
        metadata: { name: `refresh-${name}`, namespace: CACHE_NAMESPACE, labels },
        spec: {
          schedule: options.refreshSchedule,
          concurrencyPolicy: 'Forbid',
          successfulJobsHistoryLimit: 1,
          failedJobsHistoryLimit: 3,
          jobTemplate: { spec: { backoffLimit: 4, template: { metadata: { labels }, spec: podSpec } } },
        },
      });
    }
  }

  /** One read-only S3 user per source bucket of the platform store, shared by its prefetches. */
  private platformStoreCredentials(bucket: string): ISecretRef {
    let creds = this.storeGrants.get(bucket);
    if (!creds) {
      creds = this.store.grant(
        { namespace: CACHE_NAMESPACE, secretName: boundedName('prefetch-', bucket.replace(/\./g, '-')), user: boundedName('dataset-cache-', bucket.replace(/\./g, '-')) },
        [this.store.bucket(bucket)],
        'read',
      );
      this.storeGrants.set(bucket, creds);
    }
    return creds;
  }

  private claimSpec(volumeName: string, mode: string): k8s.PersistentVolumeClaimSpec {
    return {
      accessModes: [mode],
      storageClassName: '',
      volumeName,
      // A static claim cannot be resized, and binding only needs the PV to be at least this big:
      // the size lives on the PV (whose capacity may change), so changing it re-applies cleanly.
      resources: { requests: { storage: k8s.Quantity.fromString('1Mi') } },
    };
  }

  /** A static PV onto the cache root, pre-bound to exactly one claim. */
  private staticVolume(id: string, name: string, claimNamespace: string, claimName: string, readOnly: boolean): void {
    const b = this.backend;
    const csi: k8s.CsiPersistentVolumeSource =
      b.kind === 'cephfs'
        ? {
            driver: b.filesystem.csiDriver,
            // Unique per PV: the CSI node plugin keys staged volumes by handle.
            volumeHandle: name,
            volumeAttributes: { clusterID: b.filesystem.clusterNamespace, fsName: b.filesystem.name, staticVolume: 'true', rootPath: this.rootPath },
            nodeStageSecretRef: b.filesystem.nodeStageSecret,
            readOnly,
          }
        : {
            driver: 'nfs.csi.k8s.io',
            volumeHandle: `${b.server}#${b.path.replace(/^\//, '')}#${name}`,
            volumeAttributes: { server: b.server, share: b.path },
            readOnly,
          };
    new k8s.KubePersistentVolume(this, id, {
      metadata: { name },
      spec: {
        capacity: { storage: k8s.Quantity.fromString(this.size) },
        accessModes: [readOnly ? 'ReadOnlyMany' : 'ReadWriteMany'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        claimRef: { namespace: claimNamespace, name: claimName },
        mountOptions: [...(b.kind === 'nfs' ? ['nfsvers=4.1'] : []), ...(readOnly ? ['ro'] : [])],
        csi,
      },
    });
  }
}
