/**
 * Unit tests of PlatformRules for `promtool test rules`, as typed data built from the rules they
 * test: thresholds, durations, pools and namespaces come from the construct, so the cases follow
 * its options. For every alert there is at least one case where it fires and one where it stays
 * silent; the recording rules have expression cases. Input series carry the labels the real
 * exporters and the Prometheus Operator's scrape configs give them (see rules.ts), so a wrong
 * label name in a rule shows up as a failed case.
 */
import { GPU_OPERATOR_NAMESPACE } from '../gpu/operator';
import { IGpuPool } from '../gpu/pool';
import { AlertingRule, durationSeconds, isAlertingRule, KSM_POOL_LABEL, ksmSanitize, PlatformRules, RECORDS } from './rules';
import { MONITORING_NAMESPACE } from './types';

/** One input series in promtool notation (`values: '0+1x10'`, `_` = no sample). */
export interface InputSeries {
  readonly series: string;
  readonly values: string;
}

/** An alert a case expects at `evalTime`: its labels (without `alertname` and `severity`) and `$value`. */
export interface ExpectedAlert {
  readonly labels: Readonly<Record<string, string>>;
  /** The value the annotation templates see (needed only when they use `$value`). */
  readonly value?: number;
}

export interface AlertCase {
  readonly alert: string;
  /** What the case shows. */
  readonly name: string;
  readonly input: readonly InputSeries[];
  readonly evalTime: string;
  /** Empty: the alert must not fire at `evalTime`. */
  readonly expect: readonly ExpectedAlert[];
}

export interface RecordCase {
  readonly record: string;
  readonly name: string;
  readonly input: readonly InputSeries[];
  readonly evalTime: string;
  readonly expr: string;
  readonly samples: ReadonlyArray<{ readonly labels: string; readonly value: number }>;
}

export interface RuleTests {
  readonly alerts: readonly AlertCase[];
  readonly records: readonly RecordCase[];
}

/** promtool evaluates from the Unix epoch, one sample and one evaluation per minute here. */
const STEP = '1m';

const TENANT_NS = 'team-a';

/** `metric{a="b", …}` */
function sel(metric: string, labels: Readonly<Record<string, string>>): string {
  return `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ')}}`;
}

/** `v` repeated for `n` minutes (n + 1 samples), promtool notation. */
const flat = (v: number, minutes: number) => `${v}x${minutes}`;
const minutes = (d: string) => Math.ceil(durationSeconds(d) / 60);

/** Labels Prometheus gives a DCGM series scraped through the GPU Operator's ServiceMonitor. */
function dcgmLabels(node: string, gpu: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    gpu,
    UUID: `GPU-${node}-${gpu}`,
    device: `nvidia${gpu}`,
    modelName: 'NVIDIA L4',
    pci_bus_id: `00000000:0${gpu}:00.0`,
    DCGM_FI_DRIVER_VERSION: '580.95.05',
    namespace: GPU_OPERATOR_NAMESPACE,
    pod: `nvidia-dcgm-exporter-${node}`,
    container: 'nvidia-dcgm-exporter',
    service: 'nvidia-dcgm-exporter',
    endpoint: 'gpu-metrics',
    job: 'nvidia-dcgm-exporter',
    instance: `10.0.0.${node.replace(/\D/g, '') || '1'}:9400`,
    node,
    ...extra,
  };
}

/** Target labels of a kube-state-metrics series (its ServiceMonitor honours the object's namespace). */
const KSM = { job: 'kube-state-metrics', instance: '10.0.1.10:8080', service: 'kps-kube-state-metrics', endpoint: 'http' } as const;
const KUBELET = { job: 'kubelet', instance: '10.0.0.1:10250', service: 'kps-kubelet', endpoint: 'https-metrics', metrics_path: '/metrics', node: 'n1' } as const;
const PROMETHEUS = {
  job: 'kps-prometheus',
  namespace: MONITORING_NAMESPACE,
  pod: 'prometheus-kps-prometheus-0',
  container: 'prometheus',
  service: 'kps-prometheus',
  endpoint: 'http-web',
  instance: '10.0.2.20:9090',
} as const;

const gpuLabels = (node: string, gpu: string) => {
  const l = dcgmLabels(node, gpu);
  return { node, gpu, UUID: l.UUID, modelName: l.modelName };
};

function nodeLabels(node: string, pool: string | undefined): InputSeries {
  return { series: sel('kube_node_labels', { ...KSM, namespace: MONITORING_NAMESPACE, node, ...(pool ? { [KSM_POOL_LABEL]: pool } : {}) }), values: flat(1, 120) };
}

/** The cases for `rules` as configured (only alerts it writes). */
export function ruleTests(rules: PlatformRules): RuleTests {
  const s = rules.settings;
  const present = new Set(rules.alerts.map((a) => a.alert));
  const alerts: AlertCase[] = [];
  const records: RecordCase[] = [];
  const add = (c: AlertCase) => {
    if (present.has(c.alert)) alerts.push(c);
  };
  const ns = rules.namespaces.includes('minio') ? 'minio' : rules.namespaces[0];

  if (rules.gpus) {
    const pools = rules.gpus.pools;
    const whole: IGpuPool | undefined = pools.find((p) => !p.migConfig);
    const mig: IGpuPool | undefined = pools.find((p) => p.migConfig);
    // A pool name for nodes on the whole-GPU path even when the platform defines none.
    const wholePool = whole?.name ?? 'example-pool';
    const wholeResource = whole?.resourceName ?? rules.gpus.resourceNames[0];
    const hot = s.gpuTemperatureCelsius + 5;
    const xid = (err: string, msg: string, values: string, extra: Record<string, string> = {}) => ({
      series: sel('DCGM_FI_DEV_XID_ERRORS', dcgmLabels('n1', '0', { err_code: err, err_msg: msg, ...extra })),
      values,
    });

    add({
      alert: 'GpuXidError',
      name: 'fires on a hardware XID (79, fell off the bus) as soon as it is reported',
      input: [xid('0', 'No Error', `${flat(0, 9)} _x20`), xid('79', 'GPU has fallen off the bus', `_x10 ${flat(79, 20)}`)],
      evalTime: '15m',
      expect: [{ labels: { ...gpuLabels('n1', '0'), err_code: '79', err_msg: 'GPU has fallen off the bus' }, value: 79 }],
    });
    add({
      alert: 'GpuXidError',
      name: 'stays silent for an application XID (31) and for no XID',
      input: [
        xid('0', 'No Error', flat(0, 30)),
        { series: sel('DCGM_FI_DEV_XID_ERRORS', dcgmLabels('n1', '1', { err_code: '31', err_msg: 'GPU memory page fault' })), values: flat(31, 30) },
      ],
      evalTime: '15m',
      expect: [],
    });
    const appXid = [
      xid('0', 'No Error', `${flat(0, 9)} _x30`),
      xid('31', 'GPU memory page fault', `_x10 ${flat(31, 30)}`, { exported_namespace: TENANT_NS, exported_pod: 'train-0', exported_container: 'main' }),
    ];
    add({
      alert: 'GpuApplicationXid',
      name: 'fires while an application XID is new',
      input: appXid,
      evalTime: '15m',
      expect: [
        {
          labels: { ...gpuLabels('n1', '0'), err_code: '31', err_msg: 'GPU memory page fault', exported_namespace: TENANT_NS, exported_pod: 'train-0' },
          value: 31,
        },
      ],
    });
    add({ alert: 'GpuApplicationXid', name: 'is silent once the (sticky) XID is older than 10 minutes', input: appXid, evalTime: '30m', expect: [] });

    add({
      alert: 'GpuTemperatureHigh',
      name: `fires after 10 minutes above ${s.gpuTemperatureCelsius} °C`,
      input: [{ series: sel('DCGM_FI_DEV_GPU_TEMP', dcgmLabels('n1', '0')), values: flat(hot, 30) }],
      evalTime: '15m',
      expect: [{ labels: gpuLabels('n1', '0'), value: hot }],
    });
    add({
      alert: 'GpuTemperatureHigh',
      name: 'is silent after a 5-minute peak',
      input: [{ series: sel('DCGM_FI_DEV_GPU_TEMP', dcgmLabels('n1', '0')), values: `${flat(hot, 5)} ${flat(s.gpuTemperatureCelsius - 10, 24)}` }],
      evalTime: '15m',
      expect: [],
    });

    const fb = (used: number) => {
      const pod = { exported_namespace: TENANT_NS, exported_pod: 'train-0', exported_container: 'main' };
      return [
        { series: sel('DCGM_FI_DEV_FB_USED', dcgmLabels('n1', '0', pod)), values: flat(used, 30) },
        { series: sel('DCGM_FI_DEV_FB_FREE', dcgmLabels('n1', '0', pod)), values: flat(1000 - used, 30) },
        { series: sel('DCGM_FI_DEV_FB_RESERVED', dcgmLabels('n1', '0', pod)), values: flat(0, 30) },
      ];
    };
    const full = between(s.gpuMemoryFullPercent, 100) * 10;
    add({
      alert: 'GpuMemoryNearlyFull',
      name: `fires after 15 minutes above ${s.gpuMemoryFullPercent} %`,
      input: fb(full),
      evalTime: '20m',
      expect: [{ labels: { ...gpuLabels('n1', '0'), exported_namespace: TENANT_NS, exported_pod: 'train-0' }, value: full / 1000 }],
    });
    add({ alert: 'GpuMemoryNearlyFull', name: 'is silent at half the threshold', input: fb((s.gpuMemoryFullPercent / 2) * 10), evalTime: '20m', expect: [] });

    // Idle GPUs: a pod with a GPU request whose GPU does nothing for gpuIdleFor.
    const idleMin = minutes(s.gpuIdleFor);
    const span = idleMin + 20;
    const requests = (pod: string, node: string, resource: string) => ({
      series: sel('kube_pod_container_resource_requests', { ...KSM, namespace: TENANT_NS, pod, uid: `uid-${pod}`, container: 'main', node, resource: ksmSanitize(resource), unit: 'integer' }),
      values: flat(1, span),
    });
    const owner = (pod: string) => ({ exported_namespace: TENANT_NS, exported_pod: pod, exported_container: 'main' });
    const idleBelow = s.gpuIdleBelowPercent / 100;
    const wholeIdle = [
      nodeLabels('n1', wholePool),
      { series: sel('DCGM_FI_DEV_GPU_UTIL', dcgmLabels('n1', '0', owner('notebook-0'))), values: flat(0, span) },
      requests('notebook-0', 'n1', wholeResource),
      // Busy, and allocated: never idle.
      { series: sel('DCGM_FI_DEV_GPU_UTIL', dcgmLabels('n1', '1', owner('train-0'))), values: flat(60, span) },
      requests('train-0', 'n1', wholeResource),
    ];
    add({
      alert: 'GpuAllocatedButIdle',
      name: `fires for a pod whose GPU (pool ${wholePool}) stayed at 0 % for ${s.gpuIdleFor}, not for the busy one`,
      input: wholeIdle,
      evalTime: `${idleMin + 5}m`,
      expect: [{ labels: { namespace: TENANT_NS, pod: 'notebook-0', node: 'n1', pool: wholePool } }],
    });
    add({
      alert: 'GpuAllocatedButIdle',
      name: `is silent before ${s.gpuIdleFor} and for a GPU without a pod request`,
      input: [
        ...wholeIdle.slice(0, 2),
        { series: sel('DCGM_FI_DEV_GPU_UTIL', dcgmLabels('n1', '2', owner('finished-0'))), values: flat(0, span) },
      ],
      evalTime: `${idleMin + 5}m`,
      expect: [],
    });
    add({
      alert: 'GpuAllocatedButIdle',
      name: `is silent while the idle time is shorter than ${s.gpuIdleFor}`,
      input: wholeIdle,
      evalTime: `${idleMin - 1}m`,
      expect: [],
    });
    if (mig) {
      const profile = Object.keys(mig.migConfig!.devices)[0];
      const migInstance = (pod: string, instance: string, engine: number, devUtil: number) => {
        const mi = { GPU_I_PROFILE: profile, GPU_I_ID: instance };
        return [
          { series: sel('DCGM_FI_PROF_GR_ENGINE_ACTIVE', dcgmLabels('n9', '0', { ...mi, ...owner(pod) })), values: flat(engine, span) },
          // What DCGM reports for GPU_UTIL under MIG: 0, whatever the instances do.
          { series: sel('DCGM_FI_DEV_GPU_UTIL', dcgmLabels('n9', '0', { ...mi, ...owner(pod) })), values: flat(devUtil, span) },
          requests(pod, 'n9', mig.resourceName),
        ];
      };
      const migInput = [nodeLabels('n9', mig.name), ...migInstance('mig-idle-0', '3', idleBelow / 10, 0), ...migInstance('mig-busy-1', '4', 0.6, 0)];
      add({
        alert: 'GpuAllocatedButIdle',
        name: `fires on MIG pool ${mig.name} by graphics-engine activity, not for the busy instance whose GPU_UTIL reads 0`,
        input: migInput,
        evalTime: `${idleMin + 5}m`,
        expect: [{ labels: { namespace: TENANT_NS, pod: 'mig-idle-0', node: 'n9', pool: mig.name }, value: idleBelow / 10 }],
      });
      records.push({
        record: RECORDS.gpuBusy,
        name: 'MIG instances count by graphics-engine activity',
        input: migInput,
        evalTime: '10m',
        expr: `sort(sum by (pool, exported_pod) (${RECORDS.gpuBusy}))`,
        samples: [
          { labels: `{exported_pod="mig-idle-0", pool="${mig.name}"}`, value: idleBelow / 10 },
          { labels: `{exported_pod="mig-busy-1", pool="${mig.name}"}`, value: 0.6 },
        ],
      });
    }
    records.push({
      record: RECORDS.gpuBusy,
      name: 'whole GPUs count by GPU_UTIL (percent → ratio), with their pool',
      input: wholeIdle,
      evalTime: '10m',
      expr: `sort(sum by (pool, exported_pod) (${RECORDS.gpuBusy}))`,
      samples: [
        { labels: `{exported_pod="notebook-0", pool="${wholePool}"}`, value: 0 },
        { labels: `{exported_pod="train-0", pool="${wholePool}"}`, value: 0.6 },
      ],
    });
    records.push({
      record: RECORDS.poolGpuBusy,
      name: 'averages the GPUs of a pool',
      input: wholeIdle,
      evalTime: '10m',
      expr: RECORDS.poolGpuBusy,
      samples: [{ labels: `${RECORDS.poolGpuBusy}{pool="${wholePool}"}`, value: 0.3 }],
    });

    const telemetry = [nodeLabels('n1', wholePool), nodeLabels('n2', wholePool), nodeLabels('n3', undefined)];
    const temp = (node: string) => ({ series: sel('DCGM_FI_DEV_GPU_TEMP', dcgmLabels(node, '0')), values: flat(40, 30) });
    add({
      alert: 'GpuTelemetryMissing',
      name: 'fires for a pool node without DCGM series (not for a node outside the pools)',
      input: [...telemetry, temp('n1')],
      evalTime: '20m',
      expect: [{ labels: { node: 'n2', pool: wholePool } }],
    });
    add({ alert: 'GpuTelemetryMissing', name: 'is silent when every pool node reports', input: [...telemetry, temp('n1'), temp('n2')], evalTime: '20m', expect: [] });

    // Tenant quota: the per-pool quota holds the pool's resource and zero caps on the others.
    const quotaName = `gpu-${wholePool}`;
    const quota = (used: number) => {
      const q = (resource: string, type: string, v: number) => ({
        series: sel('kube_resourcequota', { ...KSM, namespace: TENANT_NS, resourcequota: quotaName, resource: `requests.${resource}`, type }),
        values: flat(v, 30),
      });
      const others = rules.gpus!.resourceNames.filter((r) => r !== wholeResource);
      return [
        q(wholeResource, 'hard', 100),
        q(wholeResource, 'used', used),
        ...others.flatMap((r) => [q(r, 'hard', 0), q(r, 'used', 0)]),
        {
          series: sel('kube_resourcequota', { ...KSM, namespace: TENANT_NS, resourcequota: 'gpu-ungranted', resource: `requests.${wholeResource}`, type: 'hard' }),
          values: flat(0, 30),
        },
      ];
    };
    const nearlyUsed = between(s.tenantGpuQuotaPercent, 100);
    add({
      alert: 'TenantGpuQuotaNearlyUsed',
      name: `fires after 15 minutes at or above ${s.tenantGpuQuotaPercent} % of a pool quota`,
      input: quota(nearlyUsed),
      evalTime: '20m',
      expect: [{ labels: { namespace: TENANT_NS, resourcequota: quotaName, resource: `requests.${wholeResource}`, pool: wholePool }, value: nearlyUsed / 100 }],
    });
    add({ alert: 'TenantGpuQuotaNearlyUsed', name: 'is silent at half the threshold', input: quota(s.tenantGpuQuotaPercent / 2), evalTime: '20m', expect: [] });
  }

  // Platform components.
  const target = (namespace: string, job: string, pod: string, value: number, component?: string) => ({
    series: sel('up', { namespace, job, pod, instance: `${pod}:9000`, container: job, endpoint: 'metrics', ...(component ? { component } : {}) }),
    values: flat(value, 20),
  });
  add({
    alert: 'PlatformComponentDown',
    name: 'fires when every target of a platform job is down for 5 minutes',
    input: [target(ns, 'storage', 'a-0', 0, 'object-store'), target(ns, 'storage', 'a-1', 0, 'object-store'), target(TENANT_NS, 'model', 'm-0', 0)],
    evalTime: '10m',
    expect: [{ labels: { namespace: ns, job: 'storage', component: 'object-store' } }],
  });
  add({
    alert: 'PlatformComponentDown',
    name: "is silent while one target is up, and for tenants' targets",
    input: [target(ns, 'storage', 'a-0', 0, 'object-store'), target(ns, 'storage', 'a-1', 1, 'object-store'), target(TENANT_NS, 'model', 'm-0', 0)],
    evalTime: '10m',
    expect: [],
  });
  const ksm = (metric: string, labels: Record<string, string>, value: number) => ({ series: sel(metric, { ...KSM, ...labels }), values: flat(value, 30) });
  const workload = (kind: string, key: string, good: () => InputSeries[], bad: () => InputSeries[]) => {
    add({ alert: `Platform${kind}Unavailable`, name: 'fires after 15 minutes with an unavailable pod', input: bad(), evalTime: '20m', expect: [{ labels: { namespace: ns, [key]: 'server' }, value: 1 }] });
    add({ alert: `Platform${kind}Unavailable`, name: "is silent when all pods are available, and for tenants' workloads", input: good(), evalTime: '20m', expect: [] });
  };
  const tenantDeployment = () => ksm('kube_deployment_status_replicas_unavailable', { namespace: TENANT_NS, deployment: 'app' }, 2);
  workload(
    'Deployment',
    'deployment',
    () => [ksm('kube_deployment_status_replicas_unavailable', { namespace: ns, deployment: 'server' }, 0), tenantDeployment()],
    () => [ksm('kube_deployment_status_replicas_unavailable', { namespace: ns, deployment: 'server' }, 1), tenantDeployment()],
  );
  const sts = (namespace: string, available: number) => [
    ksm('kube_statefulset_replicas', { namespace, statefulset: 'server' }, 3),
    ksm('kube_statefulset_status_replicas_available', { namespace, statefulset: 'server' }, available),
  ];
  workload('StatefulSet', 'statefulset', () => [...sts(ns, 3), ...sts(TENANT_NS, 0)], () => [...sts(ns, 2), ...sts(TENANT_NS, 0)]);
  const ds = (namespace: string, v: number) => ksm('kube_daemonset_status_number_unavailable', { namespace, daemonset: 'server' }, v);
  workload('DaemonSet', 'daemonset', () => [ds(ns, 0), ds(TENANT_NS, 3)], () => [ds(ns, 1), ds(TENANT_NS, 3)]);

  const volume = (namespace: string, usedPercent: number) => {
    const l = { ...KUBELET, namespace, persistentvolumeclaim: 'data-server-0' };
    return [
      { series: sel('kubelet_volume_stats_capacity_bytes', l), values: flat(1000, 30) },
      { series: sel('kubelet_volume_stats_available_bytes', l), values: flat(1000 - usedPercent * 10, 30) },
    ];
  };
  const volumeFull = between(s.volumeFullPercent, 100);
  add({
    alert: 'PlatformVolumeNearlyFull',
    name: `fires after 15 minutes above ${s.volumeFullPercent} %`,
    input: [...volume(ns, volumeFull), ...volume(TENANT_NS, 99)],
    evalTime: '20m',
    expect: [{ labels: { namespace: ns, persistentvolumeclaim: 'data-server-0' }, value: 1 - (1000 - volumeFull * 10) / 1000 }],
  });
  add({ alert: 'PlatformVolumeNearlyFull', name: "is silent at half the threshold, and for tenants' volumes", input: [...volume(ns, s.volumeFullPercent / 2), ...volume(TENANT_NS, 99)], evalTime: '20m', expect: [] });

  // cert-manager reports expiry as a Unix time; promtool's clock starts at 0.
  const certEval = 70 * 60;
  const cert = (name: string, expiresAt: number, namespace = ns) => ({
    series: sel('certmanager_certificate_expiration_timestamp_seconds', {
      name,
      namespace,
      issuer_name: 'mlplat-ca',
      issuer_kind: 'ClusterIssuer',
      issuer_group: 'cert-manager.io',
      job: 'cert-manager',
      instance: '10.0.3.30:9402',
    }),
    values: flat(expiresAt, 80),
  });
  const halfWindow = (s.certificateExpiryDays * 86400) / 2;
  add({
    alert: 'CertificateExpiringSoon',
    name: `fires with fewer than ${s.certificateExpiryDays} days left`,
    input: [cert('app-tls', certEval + halfWindow), cert('pending-tls', 0), cert('tenant-tls', certEval + 3600, TENANT_NS)],
    evalTime: `${certEval / 60}m`,
    expect: [{ labels: { namespace: ns, name: 'app-tls', issuer_kind: 'ClusterIssuer', issuer_name: 'mlplat-ca' }, value: halfWindow }],
  });
  add({
    alert: 'CertificateExpiringSoon',
    name: "is silent for a renewed certificate, one not issued yet (0) and tenants' certificates",
    input: [cert('app-tls', certEval + 4 * halfWindow), cert('pending-tls', 0), cert('tenant-tls', certEval + 3600, TENANT_NS)],
    evalTime: `${certEval / 60}m`,
    expect: [],
  });

  // Prometheus itself.
  const prom = (metric: string, values: string, extra: Record<string, string> = {}) => ({ series: sel(metric, { ...PROMETHEUS, ...extra }), values });
  const group = { rule_group: '/etc/prometheus/rules/prometheus-kps-prometheus-rulefiles-0/monitoring-mlplat-rules.yaml;mlplat-gpu' };
  const promLabels = { namespace: MONITORING_NAMESPACE, pod: PROMETHEUS.pod };
  add({
    alert: 'PrometheusRuleEvaluationFailing',
    name: 'fires after 15 minutes of failures',
    input: [prom('prometheus_rule_evaluation_failures_total', '0+1x40', group)],
    evalTime: '30m',
    expect: [{ labels: { ...promLabels, ...group } }],
  });
  add({ alert: 'PrometheusRuleEvaluationFailing', name: 'is silent without failures', input: [prom('prometheus_rule_evaluation_failures_total', '0x40', group)], evalTime: '30m', expect: [] });
  add({
    alert: 'PrometheusSizeRetentionActive',
    name: 'fires when blocks were deleted for size in the last hour',
    input: [prom('prometheus_tsdb_size_retentions_total', '0x30 1x30')],
    evalTime: '35m',
    expect: [{ labels: promLabels }],
  });
  add({ alert: 'PrometheusSizeRetentionActive', name: 'is silent when retention is by time only', input: [prom('prometheus_tsdb_size_retentions_total', '0x60')], evalTime: '35m', expect: [] });
  add({
    alert: 'PrometheusAlertmanagerNotConnected',
    name: 'fires after 10 minutes without an Alertmanager',
    input: [prom('prometheus_notifications_alertmanagers_discovered', flat(0, 20))],
    evalTime: '15m',
    expect: [{ labels: promLabels }],
  });
  add({ alert: 'PrometheusAlertmanagerNotConnected', name: 'is silent with an Alertmanager', input: [prom('prometheus_notifications_alertmanagers_discovered', flat(1, 20))], evalTime: '15m', expect: [] });

  return { alerts, records };
}

/**
 * The `promtool test rules` file for `rules`' cases, reading the rule files at `ruleFiles`
 * (paths relative to the test file, or absolute).
 */
export function promtoolTestFile(rules: PlatformRules, ruleFiles: readonly string[]): Record<string, unknown> {
  const byName = new Map(rules.alerts.map((a) => [a.alert, a]));
  const { alerts, records } = ruleTests(rules);
  return {
    rule_files: [...ruleFiles],
    evaluation_interval: STEP,
    tests: [
      ...alerts.map((c) => {
        const rule = byName.get(c.alert);
        if (!rule) throw new Error(`rule test "${c.alert}: ${c.name}" names an alert the rules do not write`);
        return {
          name: `${c.alert}: ${c.name}`,
          interval: STEP,
          input_series: c.input,
          alert_rule_test: [
            {
              eval_time: c.evalTime,
              alertname: c.alert,
              exp_alerts: c.expect.map((e) => ({
                exp_labels: { ...e.labels, severity: rule.severity },
                exp_annotations: expectedAnnotations(rule, e),
              })),
            },
          ],
        };
      }),
      ...records.map((c) => ({
        name: `${c.record}: ${c.name}`,
        interval: STEP,
        input_series: c.input,
        promql_expr_test: [{ expr: c.expr, eval_time: c.evalTime, exp_samples: c.samples }],
      })),
    ],
  };
}

/** The annotations Prometheus renders for `rule` on an alert with `expected`'s labels and value. */
export function expectedAnnotations(rule: AlertingRule, expected: ExpectedAlert): Record<string, string> {
  const labels = { ...expected.labels, severity: rule.severity };
  return { summary: renderTemplate(rule.summary, labels, expected.value), description: renderTemplate(rule.description, labels, expected.value) };
}

/**
 * The subset of Prometheus' alert templates the rules use: `{{ $labels.x }}`, `{{ $value }}`
 * and `{{ $value | humanize | humanizePercentage | humanizeDuration }}`. Anything else throws, so
 * a template the cases cannot predict is noticed here rather than as a promtool diff.
 */
export function renderTemplate(template: string, labels: Readonly<Record<string, string>>, value: number | undefined): string {
  return template.replace(/\{\{(.*?)\}\}/g, (_, body: string) => {
    const expr = body.trim();
    const label = /^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(expr);
    if (label) return labels[label[1]] ?? '';
    const pipe = /^\$value(?:\s*\|\s*(humanize|humanizePercentage|humanizeDuration))?$/.exec(expr);
    if (!pipe) throw new Error(`template construct not supported by the rule tests: {{${body}}}`);
    if (value === undefined) throw new Error(`the template uses $value but the case gives none: ${template}`);
    switch (pipe[1]) {
      case undefined:
        return goFloat(value);
      case 'humanize':
        return humanize(value);
      case 'humanizePercentage':
        return `${g4(value * 100)}%`;
      default:
        return humanizeDuration(value);
    }
  });
}

/** Go's `%v` of a float64. */
function goFloat(v: number): string {
  return String(v);
}

/** Go's `%.4g`. */
function g4(v: number): string {
  if (v === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 4) {
    const [m, e] = v.toExponential(3).split('e');
    const n = Number(e);
    return `${String(Number(m))}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(Number(v.toPrecision(4)));
}

function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return g4(v);
  let prefix = '';
  if (Math.abs(v) >= 1) {
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return `${g4(v)}${prefix}`;
  }
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${g4(v)}${prefix}`;
}

/** prometheus/common's HumanizeDuration for |v| ≥ 1 s (the only range the rules produce). */
function humanizeDuration(v: number): string {
  if (Math.abs(v) < 1) throw new Error(`humanizeDuration below one second is not modelled (${v})`);
  const sign = v < 0 ? '-' : '';
  const d = Math.trunc(Math.abs(v));
  const [days, hours, mins, secs] = [Math.trunc(d / 86400), Math.trunc(d / 3600) % 24, Math.trunc(d / 60) % 60, d % 60];
  if (days) return `${sign}${days}d ${hours}h ${mins}m ${secs}s`;
  if (hours) return `${sign}${hours}h ${mins}m ${secs}s`;
  if (mins) return `${sign}${mins}m ${secs}s`;
  return `${sign}${g4(Math.abs(v))}s`;
}

/** Halfway between a threshold and its maximum: a value that clearly crosses it. */
function between(threshold: number, max: number): number {
  return threshold + (max - threshold) / 2;
}

/** Alert names that have a firing case and a silent case (the coverage rule of the test suite). */
export function coverage(tests: RuleTests): { fires: Set<string>; silent: Set<string> } {
  return {
    fires: new Set(tests.alerts.filter((c) => c.expect.length > 0).map((c) => c.alert)),
    silent: new Set(tests.alerts.filter((c) => c.expect.length === 0).map((c) => c.alert)),
  };
}

/** Recording rules of `rules` (for coverage checks). */
export function recordNames(rules: PlatformRules): string[] {
  return rules.groups.flatMap((g) => g.rules.filter((r) => !isAlertingRule(r)).map((r) => (r as { record: string }).record));
}
