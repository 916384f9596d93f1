/**
 * The subset of the NVIDIA GPU Operator chart values (v26.7.0, deployments/gpu-operator/values.yaml)
 * that mlplat sets. Field names follow the chart exactly.
 */

export interface GpuOperatorToleration {
  readonly key: string;
  readonly operator: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule';
}

/**
 * A Prometheus relabeling rule (monitoring.coreos.com/v1 `RelabelConfig`); the operator copies
 * `dcgmExporter.serviceMonitor.relabelings` into the ServiceMonitor it makes.
 */
export interface RelabelConfig {
  readonly sourceLabels?: readonly string[];
  readonly targetLabel?: string;
  readonly action?: 'replace' | 'keep' | 'drop' | 'labelmap' | 'labeldrop' | 'labelkeep';
  readonly regex?: string;
  readonly replacement?: string;
}

/** An operand with an image: `<repository>/<image>:<version>` in the chart. */
export interface OperandImage {
  readonly repository?: string;
}

export interface GpuOperatorValues {
  readonly daemonsets: { readonly tolerations: readonly GpuOperatorToleration[] };
  readonly operator?: OperandImage;
  readonly validator?: OperandImage;
  readonly driver: OperandImage & { readonly enabled: boolean };
  readonly toolkit: OperandImage & { readonly enabled: boolean };
  readonly devicePlugin: OperandImage & {
    readonly config: { readonly create: false; readonly name: string; readonly default: string };
  };
  /** '' leaves the strategy to each node's device-plugin config (the operator then sets no MIG_STRATEGY). */
  readonly mig: { readonly strategy: '' | 'none' | 'single' | 'mixed' };
  readonly migManager: OperandImage & {
    readonly enabled: boolean;
    readonly config: { readonly create: false; readonly name: string; readonly default: string };
  };
  readonly gfd?: OperandImage;
  readonly dcgmExporter: OperandImage & {
    readonly enabled: boolean;
    readonly serviceMonitor: {
      readonly enabled: boolean;
      readonly interval?: string;
      /** false: the GPU's pod/namespace/container arrive as `exported_*`, the exporter's own as target labels. */
      readonly honorLabels?: boolean;
      readonly relabelings?: readonly RelabelConfig[];
    };
  };
  readonly 'node-feature-discovery': {
    readonly worker: { readonly tolerations: readonly GpuOperatorToleration[] };
    readonly image?: { readonly repository: string };
  };
}
