import { findGpuModel } from '../../constructs/gpu/models';
import { resolveMigLayout } from '../../constructs/gpu/mig';
import { reservedNamespaceReason } from '../naming';
import { ALERTS } from '../../constructs/observability/rules';
import { SSO_GROUP } from './schema';
import { CONTRACT_LABELS, RESERVED_POOL_NAMES } from '../../constructs/gpu/pool';
import { MAX_TENANT_NAME } from '../../constructs/tenancy/tenant';

/** A path into the config document, e.g. ['spec', 'gpu', 'pools', 1, 'name']. */
export type ConfigPath = readonly (string | number)[];

export interface ConfigIssue {
  readonly path: ConfigPath;
  readonly message: string;
  readonly severity: 'error' | 'warning';
  /** Point at the map key rather than its value (e.g. an unknown pool name used as a key). */
  readonly at?: 'key' | 'value';
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Cross-field rules of a platform config. They read the document defensively so they run
 * even when the schema found other errors: every error of a file is reported at once.
 */
export function semanticIssues(doc: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const error = (path: ConfigPath, message: string, at?: 'key'): void => {
    issues.push({ path, message, severity: 'error', at });
  };
  const spec = isObj(doc) && isObj(doc.spec) ? doc.spec : {};
  const gpu = isObj(spec.gpu) ? spec.gpu : {};
  const pools = list(gpu.pools);
  const tenants = list(spec.tenants);
  const access = isObj(spec.access) ? spec.access : {};
  const prefix = typeof access.groupPrefix === 'string' ? access.groupPrefix : 'oidc:';

  const poolNames = uniqueNames(pools, ['spec', 'gpu', 'pools'], 'GPU pool', error);
  pools.forEach((pool, i) => {
    if (!isObj(pool)) return;
    const at = ['spec', 'gpu', 'pools', i];
    if (typeof pool.name === 'string' && pool.name in RESERVED_POOL_NAMES) {
      error([...at, 'name'], `"${pool.name}" is reserved (${RESERVED_POOL_NAMES[pool.name]}); choose another pool name`);
    }
    for (const key of Object.keys(isObj(pool.nodeSelector) ? pool.nodeSelector : {})) {
      if (CONTRACT_LABELS.includes(key)) {
        error([...at, 'nodeSelector', key], `"${key}" is set by mlplat from the pool; list only the labels your provider puts on the nodes`, 'key');
      }
    }
    const model = str(pool.gpuModel);
    if (model === undefined) return;
    const sharing = isObj(pool.sharing) ? pool.sharing : undefined;
    if (sharing?.mode === 'mig' && typeof sharing.profile === 'string') {
      const mig = resolveMigLayout(model, sharing.profile);
      if (!mig.ok) {
        const unknownModel = findGpuModel(model) === undefined;
        error(unknownModel ? [...at, 'gpuModel'] : [...at, 'sharing', 'profile'], mig.message);
      }
    } else if (model.length > 0 && findGpuModel(model) === undefined) {
      issues.push({
        path: [...at, 'gpuModel'],
        severity: 'warning',
        message: `unknown GPU model "${model}": accepted for whole GPUs and time-slicing; check the spelling (see docs/gpu.md for known models)`,
      });
    }
  });

  uniqueNames(tenants, ['spec', 'tenants'], 'tenant', error);
  tenants.forEach((tenant, i) => {
    if (!isObj(tenant)) return;
    const at = ['spec', 'tenants', i];
    const name = str(tenant.name);
    const reason = name === undefined ? undefined : reservedNamespaceReason(name);
    if (reason) error([...at, 'name'], `"${name}" ${reason}; choose another tenant name`);
    if (name !== undefined && name.length > MAX_TENANT_NAME) {
      error([...at, 'name'], `must be at most ${MAX_TENANT_NAME} characters (it also names the tenant's output file and labels)`);
    }
    for (const [g, group] of list(tenant.groups).entries()) {
      if (typeof group === 'string' && `${prefix}${group}`.startsWith('system:')) {
        error([...at, 'groups', g], `"${prefix}${group}" is a Kubernetes system group; tenant groups must be SSO groups (check spec.access.groupPrefix)`);
      }
    }
    const gpus = isObj(tenant.quota) && isObj(tenant.quota.gpus) ? tenant.quota.gpus : {};
    for (const pool of Object.keys(gpus)) {
      if (!poolNames.has(pool)) {
        const known = [...poolNames];
        error(
          [...at, 'quota', 'gpus', pool],
          `no GPU pool named "${pool}" (${known.length ? `pools: ${known.join(', ')}` : 'no pools are defined in spec.gpu.pools'})`,
          'key',
        );
      }
    }
  });

  if (isObj(spec.tls) && !isObj(spec.ingress)) error(['spec', 'tls'], 'certificates are for the ingress: add spec.ingress');
  if (isObj(spec.ingress) && isObj(spec.ingress.nodePorts) && spec.ingress.serviceType !== 'NodePort') {
    error(['spec', 'ingress', 'nodePorts'], 'node ports need serviceType: NodePort');
  }

  // The data plane: what each part needs.
  const storage = isObj(spec.storage) ? spec.storage : undefined;
  if (isObj(spec.ingress) && !isObj(spec.sso)) {
    error(['spec', 'ingress'], 'every app the ingress routes sits behind SSO: add spec.sso (Keycloak)');
  }
  if (isObj(spec.sso)) {
    const sso = spec.sso;
    // One message per path: both needs in one.
    const needs: string[] = [];
    if (!isObj(spec.ingress)) needs.push('Keycloak is served at auth.<domain> through the ingress: add spec.ingress');
    if (!storage) needs.push('Keycloak keeps its data in the platform PostgreSQL, whose backups go to the object store: add spec.storage');
    if (needs.length > 0) error(['spec', 'sso'], needs.join('; '));
    // Tenant groups become realm groups, named as tokens carry them.
    tenants.forEach((tenant, i) => {
      if (!isObj(tenant)) return;
      list(tenant.groups).forEach((g, j) => {
        if (typeof g === 'string' && !SSO_GROUP.test(g)) error(['spec', 'tenants', i, 'groups', j], `group "${g}" becomes a Keycloak group: use letters, digits, ".", "_" and "-", starting with a letter or digit`);
      });
    });
    const client = isObj(doc) && isObj(doc.metadata) ? doc.metadata.name : undefined;
    if (sso.realm === undefined && client === 'master') {
      error(['spec', 'sso'], 'the realm defaults to the client id "master", Keycloak\'s administration realm: set spec.sso.realm');
    }
    // Without a prefix, a group in a token could name a Kubernetes system group.
    if (prefix === '') error(['spec', 'access', 'groupPrefix'], 'with sso, set a prefix (e.g. "oidc:") so no group in a token can name a Kubernetes system group');
    const roleOf = new Map<string, string>();
    for (const key of ['adminGroups', 'editorGroups', 'viewerGroups'] as const) {
      list(sso[key]).forEach((g, i) => {
        if (typeof g !== 'string') return;
        const other = roleOf.get(g);
        if (other) error(['spec', 'sso', key, i], `group "${g}" is already listed in ${other}: give each group one platform role`);
        else roleOf.set(g, key);
      });
    }
  }
  const storageKind = str(storage?.kind);
  if (isObj(spec.tracking) && !storage) {
    error(['spec', 'tracking'], 'the tracking server keeps artifacts in the object store: add spec.storage (kind: minio or ceph)');
  }
  if (isObj(spec.tracking) && spec.tracking.kind === 'clearml' && pools.length === 0) {
    issues.push({ path: ['spec', 'tracking'], severity: 'warning', message: 'ClearML agents get one queue per granted GPU pool, and no pools are defined: no agents will run' });
  }
  if (isObj(spec.tracking) && spec.tracking.kind === 'clearml' && spec.tracking.agents !== false) {
    // One queue `<tenant>-<pool>` per granted pool; it also labels the task pods (≤ 63 characters).
    const queues = new Map<string, string>();
    tenants.forEach((tenant, i) => {
      if (!isObj(tenant) || typeof tenant.name !== 'string') return;
      const gpus = isObj(tenant.quota) && isObj(tenant.quota.gpus) ? tenant.quota.gpus : {};
      for (const [pool, n] of Object.entries(gpus)) {
        if (typeof n !== 'number' || n <= 0) continue;
        const queue = `${tenant.name}-${pool}`;
        const at = ['spec', 'tenants', i, 'quota', 'gpus', pool];
        const other = queues.get(queue);
        if (other) error(at, `the ClearML queue "${queue}" would serve both ${other} and tenant "${tenant.name}" on pool "${pool}"; rename the tenant or the pool`, 'key');
        else queues.set(queue, `tenant "${tenant.name}" on pool "${pool}"`);
        if (queue.slice(0, 63).endsWith('-')) error(at, `the ClearML queue "${queue}" cut to 63 characters ends with "-", which is no valid label value; shorten the tenant or the pool name`, 'key');
      }
    });
  }
  if (isObj(spec.datasetCache)) {
    const cache = spec.datasetCache;
    if (!storage) error(['spec', 'datasetCache'], 'the dataset cache is filled from the object store: add spec.storage');
    if (storageKind !== 'ceph' && !isObj(cache.nfs)) {
      error(['spec', 'datasetCache'], `needs nfs (server and path) to hold the cache${storageKind === 'minio' ? ' (MinIO has no shared filesystem; with storage kind ceph, CephFS is used)' : ''}`);
    }
    const prefetch = list(cache.prefetch);
    uniqueNames(prefetch, ['spec', 'datasetCache', 'prefetch'], 'prefetch', error);
    prefetch.forEach((p, i) => {
      if (!isObj(p)) return;
      const at = ['spec', 'datasetCache', 'prefetch', i];
      if (p.endpoint !== undefined && p.credentialsSecret === undefined) {
        error([...at, 'credentialsSecret'], 'name the Secret (in namespace dataset-cache) holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for this endpoint');
      }
      if (p.endpoint === undefined && p.credentialsSecret !== undefined) {
        error([...at, 'credentialsSecret'], 'only used with endpoint: sources in the platform store get their own read-only credentials');
      }
    });
  }
  servingIssues(spec, tenants, pools, storage, error, (path, message) => issues.push({ path, message, severity: 'warning' }));
  if (isObj(spec.observability)) {
    const needs: string[] = [];
    if (!storage) needs.push('Loki keeps logs in the object store: add spec.storage');
    if (!isObj(spec.sso)) needs.push('Grafana logs users in through Keycloak only: add spec.sso');
    if (needs.length > 0) error(['spec', 'observability'], needs.join('; '));
    const known = new Set<string>(Object.values(ALERTS).flat());
    list(isObj(spec.observability.alerts) ? spec.observability.alerts.exclude : undefined).forEach((name, i) => {
      if (typeof name === 'string' && !known.has(name)) error(['spec', 'observability', 'alerts', 'exclude', i], `no alert named "${name}" (alerts: ${[...known].join(', ')})`);
    });
  }
  return issues;
}

/** GPU units a pool exposes per physical GPU (MIG slices, time-slices, or 1). */
function poolUnits(pool: Obj): { units: number; timeSliced: boolean } {
  const sharing = isObj(pool.sharing) ? pool.sharing : undefined;
  if (sharing?.mode === 'timeSlicing' && typeof sharing.replicas === 'number') return { units: sharing.replicas, timeSliced: true };
  if (sharing?.mode === 'mig' && typeof sharing.profile === 'string' && typeof pool.gpuModel === 'string') {
    const mig = resolveMigLayout(pool.gpuModel, sharing.profile);
    return { units: mig.ok ? mig.layout.perGpu : 1, timeSliced: false };
  }
  return { units: 1, timeSliced: false };
}

/** Rules of spec.serving: each model's tenant, pool grant, GPU quota (with one surge replica) and source. */
function servingIssues(
  spec: Obj,
  tenants: unknown[],
  pools: unknown[],
  storage: Obj | undefined,
  error: (path: ConfigPath, message: string, at?: 'key') => void,
  warn: (path: ConfigPath, message: string) => void,
): void {
  if (!isObj(spec.serving)) return;
  const needs: string[] = [];
  if (!isObj(spec.ingress)) needs.push('each model is served at <model>.<tenant>.<domain> through the ingress: add spec.ingress');
  if (!isObj(spec.sso)) needs.push('endpoints check Keycloak tokens: add spec.sso');
  if (!storage) needs.push('models are loaded from the tenant\'s bucket: add spec.storage');
  if (needs.length > 0) error(['spec', 'serving'], needs.join('; '));
  const tenantByName = new Map(tenants.filter(isObj).filter((t) => typeof t.name === 'string').map((t) => [t.name as string, t]));
  const poolByName = new Map(pools.filter(isObj).filter((p) => typeof p.name === 'string').map((p) => [p.name as string, p]));
  const prefetch = new Set(list(isObj(spec.datasetCache) ? spec.datasetCache.prefetch : undefined).filter(isObj).map((p) => p.name));
  const trackingKind = isObj(spec.tracking) ? spec.tracking.kind : undefined;
  const used = new Map<string, number>();
  const seen = new Set<string>();
  list(spec.serving.models).forEach((m, i) => {
    if (!isObj(m)) return;
    const at = ['spec', 'serving', 'models', i];
    const name = str(m.name);
    const tenantName = str(m.tenant);
    if (name && tenantName) {
      if (seen.has(`${tenantName}/${name}`)) error([...at, 'name'], `tenant "${tenantName}" already serves a model named "${name}"`);
      seen.add(`${tenantName}/${name}`);
    }
    const tenant = tenantName ? tenantByName.get(tenantName) : undefined;
    if (tenantName && !tenant) error([...at, 'tenant'], `no tenant named "${tenantName}" (tenants: ${[...tenantByName.keys()].join(', ') || 'none'})`);
    const replicas = isObj(m.replicas) ? m.replicas : {};
    const min = typeof replicas.min === 'number' ? replicas.min : 1;
    const max = typeof replicas.max === 'number' ? replicas.max : min;
    if (max < min) error([...at, 'replicas', 'max'], `must be at least replicas.min (${min})`);
    else if (max > min && !isObj((spec.serving as Obj).metricsServer)) {
      warn([...at, 'replicas', 'max'], 'autoscaling between min and max needs the resource metrics API: set spec.serving.metricsServer unless the cluster has a metrics-server');
    }
    const poolName = str(m.pool);
    const gpus = typeof m.gpus === 'number' ? m.gpus : poolName ? 1 : 0;
    if (!poolName && gpus > 0) error([...at, 'gpus'], 'GPUs come from a pool: name the pool');
    if (poolName) {
      const pool = poolByName.get(poolName);
      if (!pool) error([...at, 'pool'], `no GPU pool named "${poolName}"`);
      else if (tenant) {
        const granted = isObj(tenant.quota) && isObj(tenant.quota.gpus) && typeof tenant.quota.gpus[poolName] === 'number' ? (tenant.quota.gpus[poolName] as number) : 0;
        const { units, timeSliced } = poolUnits(pool);
        if (granted <= 0) error([...at, 'pool'], `pool "${poolName}" is not granted to tenant "${tenantName}" (spec.tenants[].quota.gpus)`);
        else if (gpus < 1) error([...at, 'gpus'], `a model on pool "${poolName}" needs at least 1 GPU unit (pool pods without a GPU are refused)`);
        else if (timeSliced && gpus !== 1) error([...at, 'gpus'], `pool "${poolName}" time-slices its GPUs: a pod gets exactly 1 slice`);
        else {
          // A rolling update runs one extra replica (maxSurge 1) while the old ones still hold GPUs.
          const key = `${tenantName}/${poolName}`;
          const total = (used.get(key) ?? 0) + (max + 1) * gpus;
          used.set(key, total);
          const quota = granted * units;
          if (total > quota) {
            error([...at, 'gpus'], `tenant "${tenantName}" may hold ${quota} GPU units on pool "${poolName}" (${granted} GPUs × ${units}); its models need ${total} (per model: (replicas.max + 1 for rolling updates) × gpus)`);
          }
        }
      }
    }
    // CPU and memory: every replica plus the surge replica of a rolling update, within the tenant's quota.
    const res = isObj(m.resources) ? m.resources : {};
    if (tenant && tenantName && isObj(tenant.quota)) {
      for (const r of ['cpu', 'memory'] as const) {
        const per = quantityValue(res[r]);
        const quota = quantityValue(tenant.quota[r]);
        if (per === undefined || quota === undefined) continue;
        const key = `${tenantName}/${r}`;
        const total = (used.get(key) ?? 0) + (max + 1) * per;
        used.set(key, total);
        if (total > quota) {
          error([...at, 'resources', r], `tenant "${tenantName}" may request ${String(tenant.quota[r])} ${r}; its models need ${formatQuantity(total, r)} ((replicas.max + 1 for rolling updates) × ${String(res[r])})`);
        }
      }
    }
    const source = isObj(m.source) ? m.source : {};
    const kinds = ['uri', 'cache', 'mlflow', 'clearml'].filter((k) => source[k] !== undefined);
    if (kinds.length !== 1) error([...at, 'source'], `name exactly one of uri, cache, mlflow, clearml${kinds.length ? ` (got ${kinds.join(', ')})` : ''}`);
    if (typeof source.uri === 'string' && tenantName && !source.uri.startsWith(`s3://tenant-${tenantName}/`)) {
      error([...at, 'source', 'uri'], `must be in the tenant's own bucket, s3://tenant-${tenantName}/… (its credentials reach no other bucket)`);
    }
    if (typeof source.cache === 'string' && !prefetch.has(source.cache)) {
      error([...at, 'source', 'cache'], `no datasetCache.prefetch entry named "${source.cache}"`);
    }
    if (source.mlflow !== undefined && trackingKind !== 'mlflow') error([...at, 'source', 'mlflow'], 'needs spec.tracking.kind: mlflow');
    if (source.clearml !== undefined) {
      if (trackingKind !== 'clearml') error([...at, 'source', 'clearml'], 'needs spec.tracking.kind: clearml');
    }
  });
}

/** Reports duplicate `name`s in a list (at the later entry) and returns the set of names. */
function uniqueNames(
  items: unknown[],
  path: ConfigPath,
  what: string,
  error: (path: ConfigPath, message: string) => void,
): Set<string> {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const name = isObj(item) ? str(item.name) : undefined;
    if (name === undefined) return;
    const first = seen.get(name);
    if (first !== undefined) {
      error([...path, i, 'name'], `duplicate ${what} name "${name}" (already used at ${formatPath([...path, first])})`);
    } else {
      seen.set(name, i);
    }
  });
  return new Set(seen.keys());
}

/** `spec.gpu.pools[1].sharing.profile` */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

const QUANTITY_SUFFIX: Record<string, number> = {
  m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes quantity as a number (cores, bytes), or undefined when it is not one. */
function quantityValue(v: unknown): number | undefined {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE]\d+)?$/.exec(String(v ?? ''));
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!m[2]) return n;
  if (/^[eE]/.test(m[2])) return n * 10 ** Number(m[2].slice(1));
  return n * QUANTITY_SUFFIX[m[2]];
}

function formatQuantity(v: number, kind: 'cpu' | 'memory'): string {
  if (kind === 'cpu') return `${Number(v.toFixed(3))}`;
  return v % 2 ** 30 === 0 ? `${v / 2 ** 30}Gi` : `${Math.ceil(v / 2 ** 20)}Mi`;
}
