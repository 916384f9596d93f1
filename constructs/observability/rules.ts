import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { PLATFORM_NAMESPACES } from '../../lib/naming';
import { IGpuFleet } from '../gpu/operator';
import { POOL_LABEL } from '../gpu/pool';
import { MONITORING_NAMESPACE } from './types';

/**
 * The platform's alerting and recording rules (one PrometheusRule, `monitoring/mlplat-rules`).
 *
 * Label vocabulary (docs/design/observability.md §3–4):
 * - DCGM series arrive through the GPU Operator's ServiceMonitor without `honorLabels`, so the
 *   workload's labels are `exported_namespace` / `exported_pod` (`namespace` is the exporter's),
 *   and the host is `node` (a relabeling on that ServiceMonitor, not the exporter's `Hostname` /
 *   `hostname` label, which changed name between releases).
 * - A node's pool is `label_<sanitized POOL_LABEL>` on `kube_node_labels`, which kube-state-metrics
 *   exports only when its `--metric-labels-allowlist` names the pool label.
 * - kube-state-metrics keeps the raw resource name in `kube_resourcequota{resource}` but sanitizes
 *   it in `kube_pod_container_resource_requests{resource}` (`nvidia.com/gpu` → `nvidia_com_gpu`).
 */

export type Severity = 'critical' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  /** How long the condition must hold before the alert fires; absent: at the first evaluation. */
  readonly for?: string;
  readonly severity: Severity;
  /** One line: what is wrong and where (Go template over `$labels` and `$value`). */
  readonly summary: string;
  /** Why it matters and what to do, runbook style (Go template). */
  readonly description: string;
}

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export type Rule = AlertingRule | RecordingRule;

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}

export const isAlertingRule = (r: Rule): r is AlertingRule => 'alert' in r;

/** Every alert PlatformRules can write, by area; `exclude` must name alerts from this list. */
export const ALERTS = {
  gpu: ['GpuXidError', 'GpuApplicationXid', 'GpuTemperatureHigh', 'GpuMemoryNearlyFull', 'GpuAllocatedButIdle', 'GpuTelemetryMissing'],
  tenants: ['TenantGpuQuotaNearlyUsed'],
  platform: [
    'PlatformComponentDown',
    'PlatformDeploymentUnavailable',
    'PlatformStatefulSetUnavailable',
    'PlatformDaemonSetUnavailable',
    'PlatformVolumeNearlyFull',
    'CertificateExpiringSoon',
  ],
  prometheus: ['PrometheusRuleEvaluationFailing', 'PrometheusSizeRetentionActive', 'PrometheusAlertmanagerNotConnected'],
} as const;
export type AlertName = (typeof ALERTS)[keyof typeof ALERTS][number];
const ALL_ALERTS: readonly string[] = Object.values(ALERTS).flat();

/** Recording rules (dashboards may use them too). */
export const RECORDS = {
  /** Busy ratio (0–1) of each GPU or MIG instance, with the node's `pool`. */
  gpuBusy: 'mlplat:gpu_busy:ratio',
  /** Mean busy ratio of the GPUs of each pool. */
  poolGpuBusy: 'mlplat:gpu_busy_by_pool:avg',
} as const;

/**
 * XIDs that NVIDIA attributes to the application (13 graphics engine exception, 31 memory page
 * fault, 43 GPU stopped processing, 45 preemptive cleanup): a tenant's program failed, the GPU is
 * fine. Any other XID points at the driver, the GPU or the board.
 */
export const APPLICATION_XIDS: readonly number[] = [13, 31, 43, 45];

/** The pool label as kube-state-metrics exports it on `kube_node_labels`. */
export const KSM_POOL_LABEL = ksmLabelName(POOL_LABEL);

/** What the CRD's `for` pattern accepts (monitoring.coreos.com_prometheusrules.yaml, v0.93.1). */
const DURATION = /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface PlatformRulesOptions {
  /**
   * Alerts to leave out (e.g. ones another rule set already covers); names from `ALERTS`.
   * @default []
   */
  readonly exclude?: readonly string[];
  /**
   * How long a GPU allocated to a pod must stay idle before `GpuAllocatedButIdle` fires.
   * @default '30m'
   */
  readonly gpuIdleFor?: string;
  /**
   * Below this utilisation (percent of the GPU, or of the MIG instance's graphics engine) a GPU
   * counts as idle.
   * @default 1
   */
  readonly gpuIdleBelowPercent?: number;
  /**
   * GPU temperature (°C) above which `GpuTemperatureHigh` fires (after 10 minutes).
   * @default 85
   */
  readonly gpuTemperatureCelsius?: number;
  /**
   * Framebuffer use (percent) above which `GpuMemoryNearlyFull` fires (after 15 minutes).
   * @default 95
   */
  readonly gpuMemoryFullPercent?: number;
  /**
   * Share of a tenant's per-pool GPU quota in use (percent) at which `TenantGpuQuotaNearlyUsed` fires.
   * @default 90
   */
  readonly tenantGpuQuotaPercent?: number;
  /**
   * Use of a platform PersistentVolumeClaim (percent) above which `PlatformVolumeNearlyFull` fires.
   * @default 85
   */
  readonly volumeFullPercent?: number;
  /**
   * Days before expiry at which `CertificateExpiringSoon` fires (cert-manager renews 30 days
   * before expiry by default, so this means renewal has been failing for two weeks).
   * @default 14
   */
  readonly certificateExpiryDays?: number;
}

export interface PlatformRulesProps extends PlatformRulesOptions {
  /**
   * The platform's GPU pools. With them, the GPU and tenant GPU-quota rules are written (MIG
   * pools measure utilisation with `DCGM_FI_PROF_GR_ENGINE_ACTIVE`, others with
   * `DCGM_FI_DEV_GPU_UTIL`). Pools added later are taken into account.
   * @default - no GPU or tenant rules
   */
  readonly gpus?: IGpuFleet;
  /**
   * Namespaces whose scrape targets, workloads, volumes and certificates are the platform's.
   * @default - every namespace reserved for the platform (PLATFORM_NAMESPACES)
   */
  readonly namespaces?: readonly string[];
}

/** Resolved thresholds (the defaults applied), as rule tests need them. */
export interface RuleSettings {
  readonly gpuIdleFor: string;
  readonly gpuIdleBelowPercent: number;
  readonly gpuTemperatureCelsius: number;
  readonly gpuMemoryFullPercent: number;
  readonly tenantGpuQuotaPercent: number;
  readonly volumeFullPercent: number;
  readonly certificateExpiryDays: number;
}

/**
 * The platform's alerts as one PrometheusRule in the monitoring namespace: GPU health (XID
 * errors, temperature, memory), GPU waste (allocated but idle) and telemetry gaps, tenants' GPU
 * quotas, platform components (scrape targets down, workloads unavailable, volumes filling,
 * certificates expiring) and Prometheus itself. Every alert carries a `severity` label and
 * `summary` / `description` annotations; `groups` exposes the rules for tests (rule-tests.ts
 * holds a promtool case that fires and one that does not for each alert).
 *
 * kube-prometheus-stack's default rules cover the cluster itself (KubePodCrashLooping,
 * KubeQuotaAlmostFull, TargetDown, KubePersistentVolumeFillingUp, …); these add what is specific
 * to the platform and narrow the rest to the platform's namespaces, with platform runbooks.
 */
export class PlatformRules extends Construct {
  readonly name = 'mlplat-rules';
  readonly namespace = MONITORING_NAMESPACE;
  readonly exclude: readonly string[];
  readonly settings: RuleSettings;
  readonly namespaces: readonly string[];
  readonly gpus: IGpuFleet | undefined;
  /** The PrometheusRule. */
  readonly resource: ApiObject;

  constructor(scope: Construct, id: string, props: PlatformRulesProps = {}) {
    const unknown = (props.exclude ?? []).filter((a) => !ALL_ALERTS.includes(a));
    if (unknown.length > 0) {
      throw new Error(`PlatformRules: exclude names unknown alerts ${unknown.map((a) => `"${a}"`).join(', ')} (valid: ${ALL_ALERTS.join(', ')})`);
    }
    const namespaces = props.namespaces ?? PLATFORM_NAMESPACES;
    if (namespaces.length === 0) throw new Error('PlatformRules: namespaces must name at least one namespace');
    const badNs = namespaces.filter((n) => !DNS_LABEL.test(n));
    if (badNs.length > 0) throw new Error(`PlatformRules: namespaces ${badNs.map((n) => `"${n}"`).join(', ')} are not namespace names`);
    const idleFor = props.gpuIdleFor ?? '30m';
    if (idleFor === '' || !DURATION.test(idleFor) || durationSeconds(idleFor) === 0) {
      throw new Error(`PlatformRules: gpuIdleFor "${idleFor}" is not a positive Prometheus duration (e.g. "30m", "1h")`);
    }
    const percent = (name: keyof RuleSettings, value: number | undefined, def: number): number => {
      const v = value ?? def;
      // 100 % could never be exceeded (the alert would be dead), 0 % would always be.
      if (!(v > 0 && v < 100)) throw new Error(`PlatformRules: ${name} must be a percentage between 0 and 100, exclusive (got ${v})`);
      return v;
    };
    const temperature = props.gpuTemperatureCelsius ?? 85;
    if (!(temperature > 0 && temperature < 150)) throw new Error(`PlatformRules: gpuTemperatureCelsius must be in (0, 150) °C (got ${temperature})`);
    const expiryDays = props.certificateExpiryDays ?? 14;
    if (!(Number.isInteger(expiryDays) && expiryDays >= 1)) throw new Error(`PlatformRules: certificateExpiryDays must be a whole number ≥ 1 (got ${expiryDays})`);
    // Checked before the construct joins the tree, so refused options leave no trace.
    const settings: RuleSettings = {
      gpuIdleFor: idleFor,
      gpuIdleBelowPercent: percent('gpuIdleBelowPercent', props.gpuIdleBelowPercent, 1),
      gpuTemperatureCelsius: temperature,
      gpuMemoryFullPercent: percent('gpuMemoryFullPercent', props.gpuMemoryFullPercent, 95),
      tenantGpuQuotaPercent: percent('tenantGpuQuotaPercent', props.tenantGpuQuotaPercent, 90),
      volumeFullPercent: percent('volumeFullPercent', props.volumeFullPercent, 85),
      certificateExpiryDays: expiryDays,
    };
    super(scope, id);

    this.exclude = [...(props.exclude ?? [])];
    this.namespaces = [...new Set(namespaces)].sort();
    this.gpus = props.gpus;
    this.settings = settings;

    this.resource = new ApiObject(this, 'Resource', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: this.name, namespace: this.namespace },
      // Lazy: the GPU rules depend on the pools, which may be added after this construct.
      spec: Lazy.any({ produce: () => this.ruleFile() }),
    });
  }

  /** The rule groups as written (excluded alerts and empty groups left out). */
  get groups(): readonly RuleGroup[] {
    const groups: RuleGroup[] = [];
    if (this.gpus) groups.push(...this.gpuGroups(this.gpus), this.tenantGroup(this.gpus));
    groups.push(this.platformGroup(), this.prometheusGroup());
    return groups
      .map((g) => ({ ...g, rules: g.rules.filter((r) => !isAlertingRule(r) || !this.exclude.includes(r.alert)) }))
      .filter((g) => g.rules.length > 0);
  }

  /** Every alerting rule written. */
  get alerts(): readonly AlertingRule[] {
    return this.groups.flatMap((g) => g.rules.filter(isAlertingRule));
  }

  /** The spec of the PrometheusRule, which is also a Prometheus rule file (`{groups: [...]}`). */
  ruleFile(): { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> } {
    return {
      groups: this.groups.map((g) => ({
        name: g.name,
        rules: g.rules.map((r) =>
          isAlertingRule(r)
            ? {
                alert: r.alert,
                expr: r.expr,
                ...(r.for ? { for: r.for } : {}),
                labels: { severity: r.severity },
                annotations: { summary: r.summary, description: r.description },
              }
            : { record: r.record, expr: r.expr },
        ),
      })),
    };
  }

  /** `namespace=~"…"` over the platform's namespaces. */
  private get nsMatcher(): string {
    return `namespace=~"${this.namespaces.join('|')}"`;
  }

  private gpuGroups(fleet: IGpuFleet): RuleGroup[] {
    const s = this.settings;
    const pool = KSM_POOL_LABEL;
    const migPools = fleet.pools.filter((p) => p.migConfig !== undefined).map((p) => p.name).sort();
    const nodePool = (matcher: string) => `max by (node, ${pool}) (kube_node_labels${matcher})`;
    // Whole and time-sliced GPUs report DCGM_FI_DEV_GPU_UTIL (percent); on MIG it is 0 or absent
    // (NVIDIA/dcgm-exporter#216), so MIG instances (series with GPU_I_ID) use the graphics-engine
    // activity ratio instead.
    const busy =
      migPools.length === 0
        ? `DCGM_FI_DEV_GPU_UTIL / 100\n  * on (node) group_left (${pool}) ${nodePool('')}`
        : [
            `(`,
            `  DCGM_FI_DEV_GPU_UTIL / 100`,
            `    * on (node) group_left (${pool}) ${nodePool(`{${pool}!~"${migPools.join('|')}"}`)}`,
            `  or`,
            `  DCGM_FI_PROF_GR_ENGINE_ACTIVE{GPU_I_ID!=""}`,
            `    * on (node) group_left (${pool}) ${nodePool(`{${pool}=~"${migPools.join('|')}"}`)}`,
            `)`,
          ].join('\n');
    const gpuResources = fleet.resourceNames.map(ksmSanitize).sort();
    const appXids = APPLICATION_XIDS.join('|');
    const idle = s.gpuIdleBelowPercent / 100;
    return [
      {
        name: 'mlplat-gpu.records',
        rules: [
          {
            record: RECORDS.gpuBusy,
            expr: `max without (${pool}) (\n  label_replace(\n${indent(busy, 4)},\n    "pool", "$1", "${pool}", "(.*)"\n  )\n)`,
          },
          { record: RECORDS.poolGpuBusy, expr: `avg by (pool) (${RECORDS.gpuBusy}{pool!=""})` },
        ],
      },
      {
        name: 'mlplat-gpu',
        rules: [
          {
            alert: 'GpuXidError',
            // The exporter reports the last XID (value and err_code) until the driver or the
            // exporter restarts, so this fires until the GPU has been reset: as long as it needs care.
            expr: `max by (node, gpu, UUID, modelName, err_code, err_msg) (\n  DCGM_FI_DEV_XID_ERRORS{err_code!~"${appXids}"}\n) > 0`,
            severity: 'critical',
            summary: 'GPU {{ $labels.gpu }} on node {{ $labels.node }} reported XID {{ $labels.err_code }} ({{ $labels.err_msg }})',
            description: [
              'GPU {{ $labels.gpu }} ({{ $labels.modelName }}, {{ $labels.UUID }}) on node {{ $labels.node }} reported XID {{ $labels.err_code }}: {{ $labels.err_msg }}.',
              `XIDs other than the application faults ${APPLICATION_XIDS.join(', ')} point at the driver, the GPU or the board (79: fell off the bus; 48, 94, 95: ECC; 74: NVLink) and jobs on it may fail or hang.`,
              'Cordon the node (kubectl cordon {{ $labels.node }}), let or make its GPU pods move, check `nvidia-smi -q` and the kernel log (`dmesg | grep -i xid`), then reset the GPU or reboot the node; replace the GPU if the XID returns.',
              'The exporter keeps reporting the last XID until the driver or dcgm-exporter restarts, so the alert clears only then.',
            ].join(' '),
          },
          {
            alert: 'GpuApplicationXid',
            // The value is sticky: fire only while the XID is new (not reported 10 minutes ago).
            expr: [
              `max by (node, gpu, UUID, modelName, err_code, err_msg, exported_namespace, exported_pod) (`,
              `  DCGM_FI_DEV_XID_ERRORS{err_code=~"${appXids}"}`,
              `)`,
              `unless on (node, gpu, err_code)`,
              `max by (node, gpu, err_code) (DCGM_FI_DEV_XID_ERRORS offset 10m)`,
            ].join('\n'),
            severity: 'info',
            summary: 'A program on GPU {{ $labels.gpu }} of node {{ $labels.node }} failed with XID {{ $labels.err_code }} ({{ $labels.err_msg }})',
            description: [
              'XID {{ $labels.err_code }} ({{ $labels.err_msg }}) on GPU {{ $labels.gpu }} of node {{ $labels.node }}, used by pod {{ $labels.exported_namespace }}/{{ $labels.exported_pod }}.',
              'This XID is raised by the application (an illegal memory access or a killed CUDA context), not by failing hardware; the GPU stays usable.',
              "Nothing to do on the platform side; the tenant finds the cause in the pod's logs (kubectl logs -n {{ $labels.exported_namespace }} {{ $labels.exported_pod }}). Repeated XIDs of the same kind on one GPU are not reported again until dcgm-exporter restarts.",
            ].join(' '),
          },
          {
            alert: 'GpuTemperatureHigh',
            expr: `max by (node, gpu, UUID, modelName) (DCGM_FI_DEV_GPU_TEMP) > ${s.gpuTemperatureCelsius}`,
            for: '10m',
            severity: 'warning',
            summary: 'GPU {{ $labels.gpu }} on node {{ $labels.node }} is at {{ $value }} °C',
            description: [
              `GPU {{ $labels.gpu }} ({{ $labels.modelName }}, {{ $labels.UUID }}) on node {{ $labels.node }} has been above ${s.gpuTemperatureCelsius} °C for 10 minutes ({{ $value }} °C now).`,
              'Hot GPUs throttle their clocks (jobs slow down) and, hotter still, shut down.',
              "Check the node's cooling and airflow (fans, blocked intakes, data-centre inlet temperature) and `nvidia-smi -q -d TEMPERATURE,PERFORMANCE` for thermal slowdown; if only one GPU is hot, drain the node and have the GPU inspected.",
            ].join(' '),
          },
          {
            alert: 'GpuMemoryNearlyFull',
            expr: [
              `max by (node, gpu, UUID, modelName, GPU_I_ID, exported_namespace, exported_pod) (`,
              `  DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE + DCGM_FI_DEV_FB_RESERVED)`,
              `) > ${s.gpuMemoryFullPercent / 100}`,
            ].join('\n'),
            for: '15m',
            severity: 'info',
            summary: 'GPU memory of {{ $labels.exported_namespace }}/{{ $labels.exported_pod }} on node {{ $labels.node }} is {{ $value | humanizePercentage }} full',
            description: [
              `GPU {{ $labels.gpu }} ({{ $labels.modelName }}) on node {{ $labels.node }} has used more than ${s.gpuMemoryFullPercent} % of its memory for 15 minutes ({{ $value | humanizePercentage }}), held by pod {{ $labels.exported_namespace }}/{{ $labels.exported_pod }}.`,
              'The next allocation fails with CUDA out-of-memory. Frameworks that reserve memory up front (TensorFlow, JAX, vLLM) sit near full by design; for them this is expected.',
              'Otherwise the tenant lowers the batch size or model size, or asks for a pool with larger GPUs or MIG slices.',
            ].join(' '),
          },
          {
            alert: 'GpuAllocatedButIdle',
            expr: [
              `max by (namespace, pod, node, pool) (`,
              `  label_replace(`,
              `    label_replace(${RECORDS.gpuBusy}{exported_pod!=""}, "namespace", "$1", "exported_namespace", "(.+)"),`,
              `    "pod", "$1", "exported_pod", "(.+)"`,
              `  )`,
              `) < ${idle}`,
              `and on (namespace, pod)`,
              `sum by (namespace, pod) (kube_pod_container_resource_requests{resource=~"${gpuResources.join('|')}"}) > 0`,
            ].join('\n'),
            for: s.gpuIdleFor,
            severity: 'warning',
            summary: 'Pod {{ $labels.namespace }}/{{ $labels.pod }} holds GPUs of pool {{ $labels.pool }} but has not used them for ' + s.gpuIdleFor,
            description: [
              `Pod {{ $labels.namespace }}/{{ $labels.pod }} was allocated GPUs on node {{ $labels.node }} (pool {{ $labels.pool }}) and has kept them below ${s.gpuIdleBelowPercent} % utilisation for ${s.gpuIdleFor}.`,
              "Allocated GPUs are blocked for everyone else and count against the tenant's quota: typically a finished notebook kernel, a stuck data loader or a job waiting on input.",
              'Ask the tenant to stop the pod (kubectl delete pod -n {{ $labels.namespace }} {{ $labels.pod }}) or fix its input pipeline. On time-sliced pools utilisation is per physical GPU, so a busy neighbour hides an idle pod.',
            ].join(' '),
          },
          {
            alert: 'GpuTelemetryMissing',
            expr: [
              `max by (node, pool) (`,
              `  label_replace(kube_node_labels{${pool}!=""}, "pool", "$1", "${pool}", "(.+)")`,
              `)`,
              `unless on (node)`,
              `DCGM_FI_DEV_GPU_TEMP`,
            ].join('\n'),
            for: '15m',
            severity: 'warning',
            summary: 'No GPU metrics from node {{ $labels.node }} (pool {{ $labels.pool }})',
            description: [
              'Node {{ $labels.node }} belongs to GPU pool {{ $labels.pool }} but Prometheus has had no DCGM series with its `node` label for 15 minutes, so GPU alerts (XID, temperature, idle GPUs) are blind there.',
              'Check the nvidia-dcgm-exporter pod on that node (kubectl -n gpu-operator get pods -o wide | grep {{ $labels.node }}) and its logs, and that the GPU Operator ServiceMonitor still relabels `__meta_kubernetes_pod_node_name` to `node`.',
            ].join(' '),
          },
        ],
      },
    ];
  }

  private tenantGroup(fleet: IGpuFleet): RuleGroup {
    const s = this.settings;
    const resources = fleet.resourceNames.map((r) => `requests.${r}`.replace(/\./g, '\\\\.')).sort();
    const quota = (type: 'used' | 'hard') =>
      `max by (namespace, resourcequota, resource) (kube_resourcequota{resource=~"${resources.join('|')}", type="${type}"})`;
    return {
      name: 'mlplat-tenants',
      rules: [
        {
          alert: 'TenantGpuQuotaNearlyUsed',
          // hard > 0 keeps the per-pool quotas' own resource and drops the zero caps on other GPU
          // resources (and the ungranted-pool quota, which is all zeros).
          expr: [
            `label_replace(`,
            `  ${quota('used')}`,
            `  /`,
            `  (${quota('hard')} > 0),`,
            `  "pool", "$1", "resourcequota", "gpu-(.+)"`,
            `) >= ${s.tenantGpuQuotaPercent / 100}`,
          ].join('\n'),
          for: '15m',
          severity: 'info',
          summary: 'Tenant {{ $labels.namespace }} uses {{ $value | humanizePercentage }} of its GPU quota on pool {{ $labels.pool }}',
          description: [
            `Tenant {{ $labels.namespace }} has held at least ${s.tenantGpuQuotaPercent} % of its {{ $labels.resource }} quota (ResourceQuota {{ $labels.resourcequota }}) for 15 minutes ({{ $value | humanizePercentage }} now).`,
            'When it is full, new GPU pods of the tenant on pool {{ $labels.pool }} are rejected with "exceeded quota: {{ $labels.resourcequota }}".',
            'If the tenant needs more, raise spec.tenants[].quota.gpus for the pool and redeploy; if GpuAllocatedButIdle fires for its pods, ask it to free those first.',
          ].join(' '),
        },
      ],
    };
  }

  private platformGroup(): RuleGroup {
    const s = this.settings;
    const ns = this.nsMatcher;
    const unavailable = (kind: string, expr: string): AlertingRule => ({
      alert: `Platform${kind}Unavailable`,
      expr,
      for: '15m',
      severity: 'warning',
      summary: `${kind} {{ $labels.namespace }}/{{ $labels.${kind.toLowerCase()} }} has had {{ $value }} unavailable pod(s) for 15 minutes`,
      description: [
        `${kind} {{ $labels.${kind.toLowerCase()} }} in platform namespace {{ $labels.namespace }} has been missing {{ $value }} available pod(s) for 15 minutes: the component runs degraded or not at all.`,
        `Look at its pods (kubectl -n {{ $labels.namespace }} get pods; kubectl -n {{ $labels.namespace }} describe ${kind.toLowerCase()} {{ $labels.${kind.toLowerCase()} }}): Pending means no node fits (resources, taints, a volume), CrashLoopBackOff means read the logs, ImagePullBackOff means the image or registry mirror.`,
      ].join(' '),
    });
    return {
      name: 'mlplat-platform',
      rules: [
        {
          alert: 'PlatformComponentDown',
          // Every target of a job down (not just one replica): the component is unreachable.
          // `component` is set by mlplat's PodMonitors; chart-made ServiceMonitors have only `job`.
          expr: `sum by (namespace, job, component) (up{${ns}}) == 0`,
          for: '5m',
          severity: 'critical',
          summary: 'Platform component {{ $labels.job }} in {{ $labels.namespace }} is down',
          description: [
            'Prometheus has not reached any target of {{ $labels.job }} (component "{{ $labels.component }}") in namespace {{ $labels.namespace }} for 5 minutes: the component is down or its metrics endpoint is unreachable.',
            "Check its pods (kubectl -n {{ $labels.namespace }} get pods) and Prometheus' target page (Status → Targets) for the scrape error; a NetworkPolicy that no longer admits the monitoring namespace also shows up here.",
          ].join(' '),
        },
        unavailable('Deployment', `max by (namespace, deployment) (kube_deployment_status_replicas_unavailable{${ns}}) > 0`),
        unavailable(
          'StatefulSet',
          `max by (namespace, statefulset) (\n  kube_statefulset_replicas{${ns}} - kube_statefulset_status_replicas_available{${ns}}\n) > 0`,
        ),
        unavailable('DaemonSet', `max by (namespace, daemonset) (kube_daemonset_status_number_unavailable{${ns}}) > 0`),
        {
          alert: 'PlatformVolumeNearlyFull',
          expr: [
            `max by (namespace, persistentvolumeclaim) (`,
            `  1 - kubelet_volume_stats_available_bytes{${ns}} / kubelet_volume_stats_capacity_bytes{${ns}}`,
            `) > ${s.volumeFullPercent / 100}`,
          ].join('\n'),
          for: '15m',
          severity: 'warning',
          summary: 'Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full',
          description: [
            `PersistentVolumeClaim {{ $labels.persistentvolumeclaim }} in platform namespace {{ $labels.namespace }} has been more than ${s.volumeFullPercent} % full for 15 minutes ({{ $value | humanizePercentage }}).`,
            'A full volume stops the component that writes to it (databases go read-only, Prometheus and Loki stop ingesting, MinIO rejects uploads).',
            'Grow the claim if its StorageClass allows expansion (kubectl -n {{ $labels.namespace }} edit pvc {{ $labels.persistentvolumeclaim }}) and raise the matching size in the platform config, or shorten the retention of what it stores.',
          ].join(' '),
        },
        {
          alert: 'CertificateExpiringSoon',
          // 0 means "not issued yet" (cert-manager reports 0 without status.notAfter).
          expr: [
            `max by (namespace, name, issuer_kind, issuer_name) (`,
            `  certmanager_certificate_expiration_timestamp_seconds{${ns}} > 0`,
            `) - time() < ${s.certificateExpiryDays} * 86400`,
          ].join('\n'),
          for: '1h',
          severity: 'warning',
          summary: 'Certificate {{ $labels.namespace }}/{{ $labels.name }} expires in {{ $value | humanizeDuration }}',
          description: [
            'Certificate {{ $labels.name }} in namespace {{ $labels.namespace }} (issuer {{ $labels.issuer_kind }}/{{ $labels.issuer_name }}) expires in {{ $value | humanizeDuration }}',
            `and cert-manager has not renewed it although fewer than ${s.certificateExpiryDays} days are left. When it expires, browsers and clients refuse the host.`,
            'Run `kubectl -n {{ $labels.namespace }} describe certificate {{ $labels.name }}` and look at its CertificateRequest and Order: an ACME challenge that cannot reach the ingress, a rate limit, or an issuer that is not Ready.',
          ].join(' '),
        },
      ],
    };
  }

  private prometheusGroup(): RuleGroup {
    const ns = `namespace="${MONITORING_NAMESPACE}"`;
    return {
      name: 'mlplat-prometheus',
      rules: [
        {
          alert: 'PrometheusRuleEvaluationFailing',
          expr: `sum by (namespace, pod, rule_group) (increase(prometheus_rule_evaluation_failures_total{${ns}}[5m])) > 0`,
          for: '15m',
          severity: 'critical',
          summary: 'Prometheus {{ $labels.pod }} fails to evaluate rule group {{ $labels.rule_group }}',
          description: [
            'Prometheus {{ $labels.namespace }}/{{ $labels.pod }} has failed to evaluate rules of group {{ $labels.rule_group }} for 15 minutes: the alerts of that group cannot fire.',
            'Its log says why (kubectl -n {{ $labels.namespace }} logs {{ $labels.pod }} -c prometheus | grep -i "rule"); typical causes are a many-to-many match after a label change upstream, or a query over its limits.',
          ].join(' '),
        },
        {
          alert: 'PrometheusSizeRetentionActive',
          expr: `sum by (namespace, pod) (increase(prometheus_tsdb_size_retentions_total{${ns}}[1h])) > 0`,
          severity: 'warning',
          summary: 'Prometheus {{ $labels.pod }} deletes data early: its volume is at the retention size',
          description: [
            'Prometheus {{ $labels.namespace }}/{{ $labels.pod }} removed blocks in the last hour because the size limit was reached before the retention time: metrics history is shorter than configured.',
            'Raise spec.observability.metrics.size (the volume; the size limit follows it) or lower spec.observability.metrics.retention, and redeploy.',
          ].join(' '),
        },
        {
          alert: 'PrometheusAlertmanagerNotConnected',
          expr: `max by (namespace, pod) (prometheus_notifications_alertmanagers_discovered{${ns}}) < 1`,
          for: '10m',
          severity: 'critical',
          summary: 'Prometheus {{ $labels.pod }} has no Alertmanager: alerts are not delivered',
          description: [
            'Prometheus {{ $labels.namespace }}/{{ $labels.pod }} has discovered no Alertmanager for 10 minutes, so no alert reaches a receiver (this one shows only in the Prometheus UI).',
            'Check the Alertmanager pods (kubectl -n {{ $labels.namespace }} get pods -l app.kubernetes.io/name=alertmanager) and the Endpoints of its Service.',
          ].join(' '),
        },
      ],
    };
  }
}

/**
 * A name with every character outside `[a-zA-Z0-9_]` replaced by `_`, as kube-state-metrics
 * writes resource names into `kube_pod_container_resource_requests{resource}`
 * (`nvidia.com/mig-1g.10gb` → `nvidia_com_mig_1g_10gb`).
 */
export function ksmSanitize(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * A Kubernetes label key as kube-state-metrics exports it on `kube_<kind>_labels`: sanitized,
 * snake-cased and prefixed (`mlplat.io/gpu-pool` → `label_mlplat_io_gpu_pool`).
 */
export function ksmLabelName(key: string): string {
  return `label_${ksmSanitize(key).replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()}`;
}

/** Seconds of a Prometheus duration (`1h30m`, `15d`). */
export function durationSeconds(d: string): number {
  const units: Record<string, number> = { y: 365 * 86400, w: 7 * 86400, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  for (const [, n, u] of d.matchAll(/(\d+)(ms|y|w|d|h|m|s)/g)) total += Number(n) * units[u];
  return total;
}

function indent(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}
