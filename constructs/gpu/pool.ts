import { Construct } from 'constructs';
import { k8s } from '../../lib/k8s';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { findGpuModel, GpuModelInfo } from './models';
import { resolveMigLayout } from './mig';

/** Node label and taint key that identify a pool's nodes. */
export const POOL_LABEL = `${MLPLAT_PREFIX}/gpu-pool`;
/** Priority classes named `<prefix><pool>` mark a pod as using that pool (and scope its quota). */
export const POOL_PRIORITY_CLASS_PREFIX = 'mlplat-gpu-';
/** Node label the NVIDIA device plugin reads to pick its config. */
export const DEVICE_PLUGIN_CONFIG_LABEL = 'nvidia.com/device-plugin.config';
/** Node label the MIG manager reads to pick a MIG layout. */
export const MIG_CONFIG_LABEL = 'nvidia.com/mig.config';

/** Suffix of the tenant quota `gpu-<suffix>` that caps GPUs outside granted pools. */
export const UNGRANTED_QUOTA_SUFFIX = 'ungranted';

/** Pool names that would collide with a config key or object name mlplat already uses. */
export const RESERVED_POOL_NAMES: Readonly<Record<string, string>> = {
  default: 'it names the device-plugin config of GPU nodes outside any pool',
  'all-disabled': 'it names the MIG layout of GPU nodes outside any pool',
  [UNGRANTED_QUOTA_SUFFIX]: `tenants have a gpu-${UNGRANTED_QUOTA_SUFFIX} quota`,
};

/** Node labels mlplat sets in the node contract; a pool's nodeSelector may not set them. */
export const CONTRACT_LABELS: readonly string[] = [POOL_LABEL, DEVICE_PLUGIN_CONFIG_LABEL, MIG_CONFIG_LABEL];

export type GpuSharing =
  | { readonly mode: 'timeSlicing'; readonly replicas: number }
  | { readonly mode: 'mig'; readonly profile: string };

export interface GpuPoolOptions {
  /** NVIDIA GPU model, e.g. `A100-80GB`, `L4`. Unknown models work for whole GPUs and time-slicing. */
  readonly gpuModel: string;
  /** Physical GPUs per node. */
  readonly gpusPerNode: number;
  /**
   * Labels the provider already puts on the pool's nodes (e.g. the instance type).
   * @default {}
   */
  readonly nodeSelector?: Record<string, string>;
  /**
   * How GPUs are shared.
   * @default - whole GPUs
   */
  readonly sharing?: GpuSharing;
}

export interface GpuPoolProps extends GpuPoolOptions {
  /** Pool id (DNS-1123 label). */
  readonly name: string;
}

export interface NodeTaint {
  readonly key: string;
  readonly value: string;
  readonly effect: 'NoSchedule';
}

/** What a pod spec needs to run on a pool (merge into the pod spec). */
export interface PoolPlacement {
  readonly priorityClassName: string;
  readonly nodeSelector: Record<string, string>;
  readonly tolerations: k8s.Toleration[];
}

/** A GPU node pool as other components see it. */
export interface IGpuPool {
  readonly name: string;
  readonly model: GpuModelInfo | undefined;
  readonly gpuModel: string;
  readonly gpusPerNode: number;
  /** Extended resource pods request on this pool, e.g. `nvidia.com/gpu`, `nvidia.com/mig-1g.10gb`. */
  readonly resourceName: string;
  /** Schedulable units per physical GPU: 1, the time-slicing replicas, or MIG instances. */
  readonly unitsPerGpu: number;
  readonly priorityClassName: string;
  /** Labels every node of the pool must carry (the provider's selector plus mlplat's). */
  readonly nodeLabels: Record<string, string>;
  /** Taints every node of the pool must carry, keeping other pods off. */
  readonly nodeTaints: readonly NodeTaint[];
  /** Device-plugin config for the pool's nodes (NVIDIA k8s-device-plugin config v1). */
  readonly devicePluginConfig: Record<string, unknown>;
  /** MIG config name (the pool's name, the value of its nodes' mig.config label) and its mig-parted devices, for MIG pools. */
  readonly migConfig: { readonly name: string; readonly devices: Record<string, number> } | undefined;
  /** Scheduling settings for a pod that runs on this pool. */
  placement(): PoolPlacement;
  /** A container `resources.limits` entry for `units` of this pool. */
  gpuLimits(units: number): Record<string, k8s.Quantity>;
}

/**
 * A GPU node pool: its node contract (labels, taint), how its GPUs are exposed to pods
 * (resource name and units), and its priority class, which tenant quotas and the admission
 * policy use to tell pools apart.
 */
export class GpuPool extends Construct implements IGpuPool {
  readonly name: string;
  readonly model: GpuModelInfo | undefined;
  readonly gpuModel: string;
  readonly gpusPerNode: number;
  readonly sharing: GpuSharing | undefined;
  readonly resourceName: string;
  readonly unitsPerGpu: number;
  readonly priorityClassName: string;
  readonly nodeLabels: Record<string, string>;
  readonly nodeTaints: readonly NodeTaint[];
  readonly devicePluginConfig: Record<string, unknown>;
  readonly migConfig: { readonly name: string; readonly devices: Record<string, number> } | undefined;

  constructor(scope: Construct, id: string, props: GpuPoolProps) {
    // Checked before the construct joins the tree, so a refused pool leaves no trace.
    if (props.name in RESERVED_POOL_NAMES) {
      throw new Error(`GPU pool name "${props.name}" is reserved: ${RESERVED_POOL_NAMES[props.name]}`);
    }
    const owned = Object.keys(props.nodeSelector ?? {}).filter((k) => CONTRACT_LABELS.includes(k));
    if (owned.length > 0) {
      throw new Error(`GPU pool "${props.name}": nodeSelector may not set ${owned.join(', ')} (mlplat sets these labels from the pool)`);
    }
    const exposure = exposureOf(props);
    super(scope, id);
    this.name = props.name;
    this.gpuModel = props.gpuModel;
    this.model = findGpuModel(props.gpuModel);
    this.gpusPerNode = props.gpusPerNode;
    this.sharing = props.sharing;
    this.priorityClassName = `${POOL_PRIORITY_CLASS_PREFIX}${props.name}`;
    this.resourceName = exposure.resourceName;
    this.unitsPerGpu = exposure.unitsPerGpu;
    this.migConfig = exposure.migConfig;
    const sharing = props.sharing;
    const migStrategy = this.migConfig ? 'mixed' : 'none';

    this.nodeLabels = {
      ...(props.nodeSelector ?? {}),
      [POOL_LABEL]: props.name,
      [DEVICE_PLUGIN_CONFIG_LABEL]: props.name,
      ...(this.migConfig ? { [MIG_CONFIG_LABEL]: this.migConfig.name } : {}),
    };
    this.nodeTaints = [{ key: POOL_LABEL, value: props.name, effect: 'NoSchedule' }];

    this.devicePluginConfig = {
      version: 'v1',
      flags: { migStrategy },
      ...(sharing?.mode === 'timeSlicing'
        ? {
            sharing: {
              timeSlicing: {
                // Keep the standard resource name so ordinary workloads run unchanged; a request
                // for more than one replica would not buy more GPU, so it fails loudly instead.
                renameByDefault: false,
                failRequestsGreaterThanOne: true,
                resources: [{ name: 'nvidia.com/gpu', replicas: sharing.replicas }],
              },
            },
          }
        : {}),
    };

    new k8s.KubePriorityClass(this, 'Resource', {
      metadata: { name: this.priorityClassName },
      value: 0,
      globalDefault: false,
      preemptionPolicy: 'Never',
      description: `Marks pods that run on the "${props.name}" GPU pool (${props.gpuModel}); tenant GPU quotas are scoped by it.`,
    });
  }

  placement(): PoolPlacement {
    return {
      priorityClassName: this.priorityClassName,
      nodeSelector: { [POOL_LABEL]: this.name },
      tolerations: this.nodeTaints.map((t) => ({ key: t.key, operator: 'Equal', value: t.value, effect: t.effect })),
    };
  }

  gpuLimits(units: number): Record<string, k8s.Quantity> {
    return { [this.resourceName]: k8s.Quantity.fromNumber(units) };
  }
}

/** How a pool's GPUs appear to pods; throws on contradictory props. */
function exposureOf(props: GpuPoolProps): Pick<IGpuPool, 'resourceName' | 'unitsPerGpu' | 'migConfig'> {
  if (!Number.isInteger(props.gpusPerNode) || props.gpusPerNode < 1) {
    throw new Error(`GPU pool "${props.name}": gpusPerNode must be a whole number ≥ 1 (got ${props.gpusPerNode})`);
  }
  const sharing = props.sharing;
  if (sharing?.mode === 'mig') {
    const mig = resolveMigLayout(props.gpuModel, sharing.profile);
    if (!mig.ok) throw new Error(`GPU pool "${props.name}": ${mig.message}`);
    return {
      resourceName: mig.layout.resourceName,
      unitsPerGpu: mig.layout.perGpu,
      // Keyed by pool, not by layout: the same profile name means different slice counts on
      // different GPU models (1g.10gb: 7 on A100-80GB, 4 on A100-40GB).
      migConfig: { name: props.name, devices: { [mig.layout.profile]: mig.layout.perGpu } },
    };
  }
  if (sharing?.mode === 'timeSlicing') {
    if (!Number.isInteger(sharing.replicas) || sharing.replicas < 2) {
      throw new Error(`GPU pool "${props.name}": time-slicing replicas must be a whole number ≥ 2 (got ${sharing.replicas})`);
    }
    return { resourceName: 'nvidia.com/gpu', unitsPerGpu: sharing.replicas, migConfig: undefined };
  }
  return { resourceName: 'nvidia.com/gpu', unitsPerGpu: 1, migConfig: undefined };
}
