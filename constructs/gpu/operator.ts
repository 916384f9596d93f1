import { Lazy } from 'cdk8s';
import { k8s } from '../../lib/k8s';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { GpuAccessPolicy } from './access-policy';
import { GpuPool, GpuPoolOptions, IGpuPool, POOL_LABEL } from './pool';
import { GpuOperatorToleration, GpuOperatorValues } from './values';

export const GPU_OPERATOR_NAMESPACE = 'gpu-operator';
const DEVICE_PLUGIN_CONFIGMAP = 'mlplat-device-plugin-config';
const MIG_CONFIGMAP = 'mlplat-mig-parted-config';
/** Device-plugin config key for GPU nodes that belong to no pool: whole GPUs. */
const DEFAULT_DEVICE_PLUGIN_CONFIG = 'default';
const MIG_DISABLED = 'all-disabled';

/** The GPU pools of a platform, as tenants see them. */
export interface IGpuFleet {
  readonly pools: readonly IGpuPool[];
  /** Every extended resource name a pool exposes. */
  readonly resourceNames: readonly string[];
}

export interface GpuOperatorOptions {
  /**
   * Who provides the NVIDIA driver: the node image (`preinstalled`) or the operator (`managed`).
   * @default 'preinstalled'
   */
  readonly driver?: 'preinstalled' | 'managed';
  /**
   * Run the DCGM exporter and create its ServiceMonitor (needs the Prometheus Operator CRDs).
   * @default true
   */
  readonly dcgmExporter?: boolean;
}

export interface GpuOperatorProps extends GpuOperatorOptions {}

/**
 * The NVIDIA GPU Operator and the platform's GPU pools: its privileged namespace, the chart
 * release with typed values, the per-pool device-plugin and MIG configs it reads, the pools'
 * priority classes, and the admission policy that keeps tenants on their pools.
 */
export class GpuOperator extends Construct implements IGpuFleet {
  readonly namespace = GPU_OPERATOR_NAMESPACE;
  readonly driver: 'preinstalled' | 'managed';
  readonly dcgmExporter: boolean;
  readonly release: ChartRelease<GpuOperatorValues>;
  private readonly poolList: GpuPool[] = [];

  constructor(scope: Construct, id: string, props: GpuOperatorProps = {}) {
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.driver = props.driver ?? 'preinstalled';
    this.dcgmExporter = props.dcgmExporter ?? true;

    new k8s.KubeNamespace(this, 'Namespace', {
      metadata: {
        name: this.namespace,
        labels: {
          // The operator's DaemonSets load kernel modules, mount host paths and talk to the
          // driver: they cannot run under the baseline or restricted Pod Security levels.
          'pod-security.kubernetes.io/enforce': 'privileged',
          'pod-security.kubernetes.io/warn': 'privileged',
        },
        annotations: {
          [`${MLPLAT_PREFIX}/privileged-reason`]:
            'NVIDIA GPU Operator operands (driver, container toolkit, device plugin, MIG manager, DCGM) need host access',
        },
      },
    });

    this.addConfigMaps();
    new GpuAccessPolicy(this, 'AccessPolicy', { pools: () => this.poolList });

    const chart = ctx.versions.charts.gpuOperator;
    const tolerations: GpuOperatorToleration[] = [
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      { key: POOL_LABEL, operator: 'Exists', effect: 'NoSchedule' },
    ];
    // With an image registry override every operand pulls through the mirror, keeping the
    // upstream path (nvcr.io/nvidia/k8s → <mirror>/nvidia/k8s).
    const repo = (upstream: string) => (ctx.imageRegistry ? { repository: `${ctx.imageRegistry}/${upstream}` } : {});
    const mirrored = (upstream: string) => (ctx.imageRegistry ? repo(upstream) : undefined);
    this.release = new ChartRelease<GpuOperatorValues>(this, 'Release', {
      chart,
      releaseName: 'gpu-operator',
      namespace: this.namespace,
      values: {
        daemonsets: { tolerations },
        operator: mirrored('nvidia'),
        validator: mirrored('nvidia'),
        driver: { enabled: this.driver === 'managed', ...repo('nvidia') },
        toolkit: { enabled: true, ...repo('nvidia/k8s') },
        devicePlugin: {
          ...repo('nvidia'),
          config: { create: false, name: DEVICE_PLUGIN_CONFIGMAP, default: DEFAULT_DEVICE_PLUGIN_CONFIG },
        },
        // Empty: the operator then sets no MIG_STRATEGY env (which would override the file), so
        // each pool's device-plugin config decides: `mixed` on MIG pools names resources by
        // profile (nvidia.com/mig-1g.10gb), `none` elsewhere.
        mig: { strategy: '' },
        migManager: {
          enabled: true,
          ...repo('nvidia/cloud-native'),
          config: { create: false, name: MIG_CONFIGMAP, default: MIG_DISABLED },
        },
        gfd: mirrored('nvidia'),
        dcgmExporter: {
          enabled: this.dcgmExporter,
          ...repo('nvidia/k8s'),
          serviceMonitor: {
            enabled: this.dcgmExporter,
            interval: '15s',
            // Kept false: with true, a GPU's pod labels would replace the exporter's, and idle
            // GPUs would carry namespace="gpu-operator". Rules read exported_namespace/_pod.
            honorLabels: false,
            // The exporter's host label changed name across releases (Hostname → hostname);
            // rules and dashboards join on `node`, the exporter pod's node, instead.
            relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node', action: 'replace' }],
          },
        },
        'node-feature-discovery': {
          worker: {
            tolerations: [
              { key: 'node-role.kubernetes.io/control-plane', operator: 'Equal', value: '', effect: 'NoSchedule' },
              ...tolerations,
            ],
          },
          ...(ctx.imageRegistry ? { image: { repository: `${ctx.imageRegistry}/nfd/node-feature-discovery` } } : {}),
        },
      },
    });
  }

  /** The pools, in the order they were added. */
  get pools(): readonly IGpuPool[] {
    return this.poolList;
  }

  get resourceNames(): readonly string[] {
    return [...new Set(['nvidia.com/gpu', ...this.poolList.map((p) => p.resourceName)])];
  }

  /** Adds a GPU node pool. */
  addPool(name: string, options: GpuPoolOptions): GpuPool {
    if (this.poolList.some((p) => p.name === name)) throw new Error(`GPU pool "${name}" is defined twice`);
    const pool = new GpuPool(this, `Pool-${name}`, { name, ...options });
    this.poolList.push(pool);
    return pool;
  }

  /** Looks a pool up by name; throws naming the pools that exist. */
  pool(name: string): IGpuPool {
    const pool = this.poolList.find((p) => p.name === name);
    if (!pool) {
      throw new Error(`no GPU pool named "${name}" (pools: ${this.poolList.map((p) => p.name).join(', ') || 'none'})`);
    }
    return pool;
  }

  private addConfigMaps(): void {
    new k8s.KubeConfigMap(this, 'DevicePluginConfig', {
      metadata: { name: DEVICE_PLUGIN_CONFIGMAP, namespace: this.namespace },
      data: Lazy.any({
        produce: () => {
          const data: Record<string, string> = {
            [DEFAULT_DEVICE_PLUGIN_CONFIG]: stringify({ version: 'v1', flags: { migStrategy: 'none' } }),
          };
          for (const p of this.poolList) data[p.name] = stringify(p.devicePluginConfig);
          return data;
        },
      }),
    });
    new k8s.KubeConfigMap(this, 'MigConfig', {
      metadata: { name: MIG_CONFIGMAP, namespace: this.namespace },
      data: Lazy.any({
        produce: () => {
          const configs: Record<string, unknown> = { [MIG_DISABLED]: [{ devices: 'all', 'mig-enabled': false }] };
          for (const p of this.poolList) {
            if (p.migConfig) {
              configs[p.migConfig.name] = [{ devices: 'all', 'mig-enabled': true, 'mig-devices': p.migConfig.devices }];
            }
          }
          // mig-manager requires the key config.yaml in a custom ConfigMap.
          return { 'config.yaml': stringify({ version: 'v1', 'mig-configs': configs }) };
        },
      }),
    });
  }
}
