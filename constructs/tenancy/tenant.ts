import { ApiObject, Lazy } from 'cdk8s';
import { k8s } from '../../lib/k8s';
import { Construct } from 'constructs';
import { PlatformContext } from '../../lib/context';
import { MLPLAT_PREFIX, reservedNamespaceReason } from '../../lib/naming';
import { GRANTED_POOLS_ANNOTATION, TENANT_LABEL } from '../gpu/access-policy';
import { IGpuFleet } from '../gpu/operator';
import { IGpuPool, UNGRANTED_QUOTA_SUFFIX } from '../gpu/pool';

/** Namespaces with this label hold services tenants may call (tracking server, storage, …). */
export const TENANT_REACHABLE_LABEL = `${MLPLAT_PREFIX}/reachable-from-tenants`;

/**
 * Ranges that are not the internet: private networks (RFC 1918), shared address space used for
 * pods on some clusters (RFC 6598), link-local (cloud metadata services with node credentials
 * live at 169.254.169.254), loopback and "this network".
 */
export const NON_INTERNET_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', '127.0.0.0/8', '0.0.0.0/8'];

/** Longest tenant name: `tenant-<name>` is a label value, at most 63 characters. */
export const MAX_TENANT_NAME = 56;

/** Per-container defaults a tenant namespace applies when a pod sets none. */
export interface ContainerDefaults {
  /** @default '250m' */
  readonly cpuRequest?: string;
  /** @default '512Mi' */
  readonly memoryRequest?: string;
  /** @default '2Gi' */
  readonly memoryLimit?: string;
}

export interface TenantOptions {
  /** SSO groups whose members belong to the tenant; they get `edit` in its namespace. */
  readonly groups: readonly string[];
  /** CPU requests the tenant may hold in total, e.g. `'64'`. */
  readonly cpu: string;
  /** Memory requests and limits the tenant may hold in total, e.g. `'256Gi'`. */
  readonly memory: string;
  /**
   * Let tenant pods reach addresses outside the cluster.
   * @default false
   */
  readonly allowInternetEgress?: boolean;
  /**
   * Let the tenant create LoadBalancer and NodePort Services.
   * @default false - tenants are reached through the platform's ingress only
   */
  readonly allowServiceExposure?: boolean;
  /**
   * LimitRange defaults for containers that set no resources.
   * @default - 250m CPU and 512Mi memory requested, 2Gi memory limit
   */
  readonly containerDefaults?: ContainerDefaults;
}

export interface TenantProps extends TenantOptions {
  /** Tenant id; also its namespace. */
  readonly name: string;
  /**
   * The platform's GPU pools (for quotas that keep the tenant off pools it was not granted).
   * @default - the platform has no GPUs
   */
  readonly gpus?: IGpuFleet;
}

/** A tenant as other components see it. */
export interface ITenant {
  readonly name: string;
  readonly namespace: string;
  /** ServiceAccount the tenant's workloads run as. */
  readonly serviceAccountName: string;
  /** SSO groups of the tenant, as the identity provider names them (and tokens carry them). */
  readonly groups: readonly string[];
  /** Groups as the API server sees them (with the OIDC prefix). */
  readonly kubernetesGroups: readonly string[];
  /** Pools granted to the tenant with their physical GPU counts. */
  readonly gpuGrants: ReadonlyMap<IGpuPool, number>;
}

/**
 * A tenant: its namespace (Pod Security `restricted`), quotas (CPU, memory and GPUs per pool),
 * LimitRange defaults, RBAC for its SSO groups, network isolation and a workload ServiceAccount.
 */
export class Tenant extends Construct implements ITenant {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccountName = 'workload';
  readonly groups: readonly string[];
  readonly kubernetesGroups: readonly string[];
  readonly allowInternetEgress: boolean;
  readonly allowServiceExposure: boolean;
  readonly containerDefaults: Required<ContainerDefaults>;
  private readonly grants = new Map<IGpuPool, number>();
  private readonly grantListeners: Array<(pool: IGpuPool, gpus: number) => void> = [];
  private readonly namespaceObject: k8s.KubeNamespace;
  private readonly fleet: IGpuFleet | undefined;

  constructor(scope: Construct, id: string, props: TenantProps) {
    const reserved = reservedNamespaceReason(props.name);
    if (reserved) throw new Error(`tenant name "${props.name}" ${reserved}`);
    if (props.name.length > MAX_TENANT_NAME) throw new Error(`tenant name "${props.name}" is longer than ${MAX_TENANT_NAME} characters`);
    if (props.groups.length === 0) throw new Error(`tenant "${props.name}": groups must list at least one SSO group`);
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.name = props.name;
    this.namespace = props.name;
    this.fleet = props.gpus;
    this.groups = [...props.groups];
    this.kubernetesGroups = props.groups.map((g) => ctx.kubernetesGroup(g));
    this.allowInternetEgress = props.allowInternetEgress ?? false;
    this.allowServiceExposure = props.allowServiceExposure ?? false;
    this.containerDefaults = {
      cpuRequest: props.containerDefaults?.cpuRequest ?? '250m',
      memoryRequest: props.containerDefaults?.memoryRequest ?? '512Mi',
      memoryLimit: props.containerDefaults?.memoryLimit ?? '2Gi',
    };
    const ns = this.namespace;
    const labels = { [`${MLPLAT_PREFIX}/tenant`]: this.name };

    this.namespaceObject = new k8s.KubeNamespace(this, 'Resource', {
      metadata: {
        name: ns,
        labels: {
          [TENANT_LABEL]: this.name,
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
          'pod-security.kubernetes.io/warn': 'restricted',
          'pod-security.kubernetes.io/audit': 'restricted',
        },
        annotations: { [GRANTED_POOLS_ANNOTATION]: '' },
      },
    });

    new k8s.KubeResourceQuota(this, 'ComputeQuota', {
      metadata: { name: 'compute', namespace: ns, labels },
      spec: {
        hard: {
          'requests.cpu': k8s.Quantity.fromString(props.cpu),
          'requests.memory': k8s.Quantity.fromString(props.memory),
          'limits.memory': k8s.Quantity.fromString(props.memory),
          // Unless allowed, tenants are reached through the platform's ingress, never through
          // node ports or load balancers of their own.
          ...(this.allowServiceExposure
            ? {}
            : { 'services.loadbalancers': k8s.Quantity.fromNumber(0), 'services.nodeports': k8s.Quantity.fromNumber(0) }),
        },
      },
    });

    // Any NVIDIA resource requested outside the granted pools' priority classes is capped at 0,
    // so quota alone (even without the admission policy) keeps the tenant off other pools.
    new ApiObject(this, 'UngrantedGpuQuota', {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: `gpu-${UNGRANTED_QUOTA_SUFFIX}`, namespace: ns, labels },
      spec: Lazy.any({
        produce: () => {
          const names = this.fleet?.resourceNames ?? ['nvidia.com/gpu'];
          const hard = Object.fromEntries(names.map((r) => [`requests.${r}`, 0]));
          const granted = [...this.grants.keys()].map((p) => p.priorityClassName);
          return granted.length === 0
            ? { hard }
            : { hard, scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'NotIn', values: granted }] } };
        },
      }),
    });

    new k8s.KubeLimitRange(this, 'Defaults', {
      metadata: { name: 'defaults', namespace: ns, labels },
      spec: {
        limits: [
          {
            type: 'Container',
            defaultRequest: {
              cpu: k8s.Quantity.fromString(this.containerDefaults.cpuRequest),
              memory: k8s.Quantity.fromString(this.containerDefaults.memoryRequest),
            },
            default: { memory: k8s.Quantity.fromString(this.containerDefaults.memoryLimit) },
          },
        ],
      },
    });

    new k8s.KubeRoleBinding(this, 'EditBinding', {
      metadata: { name: 'tenant-edit', namespace: ns, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
      subjects: this.kubernetesGroups.map((g) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g })),
    });

    new k8s.KubeServiceAccount(this, 'WorkloadServiceAccount', {
      metadata: { name: this.serviceAccountName, namespace: ns, labels },
      automountServiceAccountToken: false,
    });

    this.addNetworkPolicies(labels);
  }

  get gpuGrants(): ReadonlyMap<IGpuPool, number> {
    return this.grants;
  }

  /**
   * Grants `gpus` physical GPUs of `pool`. The quota counts what the pool schedules:
   * `gpus × pool.unitsPerGpu` (MIG instances or time-slicing replicas).
   */
  /**
   * Calls `listener` for every pool granted to the tenant: the grants so far, then each new one
   * (components that provision per granted pool, such as tracking-server agent queues).
   */
  onGpuGrant(listener: (pool: IGpuPool, gpus: number) => void): void {
    for (const [pool, gpus] of this.grants) listener(pool, gpus);
    this.grantListeners.push(listener);
  }

  grantGpus(pool: IGpuPool, gpus: number): void {
    if (!Number.isInteger(gpus) || gpus < 1) {
      throw new Error(`tenant "${this.name}": GPUs of pool "${pool.name}" must be a whole number ≥ 1 (got ${gpus}); grant nothing to keep the tenant off the pool`);
    }
    if (this.grants.has(pool)) throw new Error(`tenant "${this.name}": pool "${pool.name}" is granted twice`);
    if (this.fleet && !this.fleet.pools.includes(pool)) {
      throw new Error(`tenant "${this.name}": pool "${pool.name}" is not one of the platform's pools`);
    }
    this.grants.set(pool, gpus);
    for (const listener of this.grantListeners) listener(pool, gpus);
    this.namespaceObject.metadata.addAnnotation(GRANTED_POOLS_ANNOTATION, [...this.grants.keys()].map((p) => p.name).join(','));
    new k8s.KubeResourceQuota(this, `GpuQuota-${pool.name}`, {
      metadata: {
        name: `gpu-${pool.name}`,
        namespace: this.namespace,
        labels: { [`${MLPLAT_PREFIX}/tenant`]: this.name, [`${MLPLAT_PREFIX}/gpu-pool`]: pool.name },
        annotations: { [`${MLPLAT_PREFIX}/physical-gpus`]: String(gpus) },
      },
      spec: {
        // Pods of this pool may hold its own resource only; any other NVIDIA resource is capped at 0,
        // so the pool's class cannot be used to take GPUs another pool's resource name counts.
        hard: Object.fromEntries(
          (this.fleet?.resourceNames ?? [pool.resourceName]).map((r) => [
            `requests.${r}`,
            k8s.Quantity.fromNumber(r === pool.resourceName ? gpus * pool.unitsPerGpu : 0),
          ]),
        ),
        scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: [pool.priorityClassName] }] },
      },
    });
  }

  private addNetworkPolicies(labels: Record<string, string>): void {
    const ns = this.namespace;
    const policy = (id: string, name: string, spec: k8s.NetworkPolicySpec) =>
      new k8s.KubeNetworkPolicy(this, id, { metadata: { name, namespace: ns, labels }, spec });
    policy('DefaultDeny', 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    policy('AllowSameNamespace', 'allow-same-namespace', {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [{ to: [{ podSelector: {} }] }],
    });
    policy('AllowDns', 'allow-dns', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) },
            { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) },
          ],
        },
      ],
    });
    policy('AllowPlatformServices', 'allow-platform-services', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [{ namespaceSelector: { matchLabels: { [TENANT_REACHABLE_LABEL]: 'true' } } }] }],
    });
    if (this.allowInternetEgress) {
      policy('AllowInternet', 'allow-internet-egress', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: NON_INTERNET_RANGES } }] }],
      });
    }
  }
}
