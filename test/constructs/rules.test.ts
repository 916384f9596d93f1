import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'cdk8s';
import { stringify } from 'yaml';
import { GpuOperator } from '../../constructs/gpu/operator';
import { coverage, promtoolTestFile, recordNames, renderTemplate, ruleTests } from '../../constructs/observability/rule-tests';
import { ALERTS, durationSeconds, isAlertingRule, KSM_POOL_LABEL, ksmLabelName, PlatformRules, PlatformRulesProps, RECORDS, SEVERITIES } from '../../constructs/observability/rules';
import { GRAFANA_NAMESPACE, MONITORING_NAMESPACE } from '../../constructs/observability/types';
import { PLATFORM_NAMESPACES } from '../../lib/naming';
import { collectExpressions, dashboardExpressions, expressionsRuleFile, explainExpressionErrors, PROMTOOL_ENV, promtoolFrom, runPromtool, substituteVariables, writeRuleFiles } from '../e2e/promtool';
import { find, objectsOf, testChart, tmpDir } from '../helpers';

/**
 * Where each metric the rules read comes from (read in the Go module cache or the upstream
 * repository at the version the platform runs), with the labels its exporter gives it. Target
 * labels (job, instance, …) come from the Prometheus Operator's scrape configs.
 */
const DCGM = 'NVIDIA/dcgm-exporter etc/default-counters.csv and etc/dcp-metrics-included.csv (labels: internal/pkg/rendermetrics/render_metrics.go)';
const DCGM_LABELS = ['gpu', 'UUID', 'device', 'modelName', 'pci_bus_id', 'DCGM_FI_DRIVER_VERSION', 'GPU_I_PROFILE', 'GPU_I_ID', 'exported_namespace', 'exported_pod', 'exported_container'];
const KSM = 'k8s.io/kube-state-metrics/v2@v2.20.0 internal/store';
const UPSTREAM: Record<string, { readonly source: string; readonly labels: readonly string[] }> = {
  DCGM_FI_DEV_XID_ERRORS: { source: `${DCGM}; err_code/err_msg: internal/pkg/collector/gpu_collector.go`, labels: [...DCGM_LABELS, 'err_code', 'err_msg'] },
  DCGM_FI_DEV_GPU_TEMP: { source: DCGM, labels: DCGM_LABELS },
  DCGM_FI_DEV_GPU_UTIL: { source: DCGM, labels: DCGM_LABELS },
  DCGM_FI_DEV_FB_USED: { source: DCGM, labels: DCGM_LABELS },
  DCGM_FI_DEV_FB_FREE: { source: DCGM, labels: DCGM_LABELS },
  DCGM_FI_DEV_FB_RESERVED: { source: DCGM, labels: DCGM_LABELS },
  DCGM_FI_PROF_GR_ENGINE_ACTIVE: { source: DCGM, labels: DCGM_LABELS },
  kube_node_labels: { source: `${KSM}/node.go (label_* per --metric-labels-allowlist, utils.go)`, labels: ['node', KSM_POOL_LABEL] },
  kube_pod_container_resource_requests: { source: `${KSM}/pod.go`, labels: ['namespace', 'pod', 'uid', 'container', 'node', 'resource', 'unit'] },
  kube_resourcequota: { source: `${KSM}/resourcequota.go`, labels: ['namespace', 'resourcequota', 'resource', 'type'] },
  kube_deployment_status_replicas_unavailable: { source: `${KSM}/deployment.go`, labels: ['namespace', 'deployment'] },
  kube_statefulset_replicas: { source: `${KSM}/statefulset.go`, labels: ['namespace', 'statefulset'] },
  kube_statefulset_status_replicas_available: { source: `${KSM}/statefulset.go`, labels: ['namespace', 'statefulset'] },
  kube_daemonset_status_number_unavailable: { source: `${KSM}/daemonset.go`, labels: ['namespace', 'daemonset'] },
  kubelet_volume_stats_capacity_bytes: { source: 'k8s.io/kubernetes@v1.34.4 pkg/kubelet/metrics/collectors/volume_stats.go', labels: ['namespace', 'persistentvolumeclaim'] },
  kubelet_volume_stats_available_bytes: { source: 'k8s.io/kubernetes@v1.34.4 pkg/kubelet/metrics/collectors/volume_stats.go', labels: ['namespace', 'persistentvolumeclaim'] },
  certmanager_certificate_expiration_timestamp_seconds: {
    source: 'github.com/cert-manager/cert-manager@v1.21.2 internal/collectors/certificate_collector.go',
    labels: ['name', 'namespace', 'issuer_name', 'issuer_kind', 'issuer_group'],
  },
  prometheus_rule_evaluation_failures_total: { source: 'github.com/prometheus/prometheus@v0.314.0 rules/group.go', labels: ['rule_group'] },
  prometheus_tsdb_size_retentions_total: { source: 'github.com/prometheus/prometheus@v0.314.0 tsdb/db.go', labels: [] },
  prometheus_notifications_alertmanagers_discovered: { source: 'github.com/prometheus/prometheus@v0.314.0 notifier/metric.go', labels: [] },
  up: { source: 'github.com/prometheus/prometheus@v0.314.0 scrape (one per target)', labels: [] },
};
/** Target labels (pkg/prometheus/promcfg.go of the operator), kubelet's extra ones, and mlplat's PodMonitor `component`. */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'container', 'service', 'endpoint', 'node', 'metrics_path', 'component'];

/** Fields of the PrometheusRule CRD (monitoring.coreos.com_prometheusrules.yaml, prometheus-operator v0.93.1). */
const CRD_GROUP_FIELDS = ['name', 'rules', 'interval', 'limit', 'labels', 'partial_response_strategy', 'query_offset'];
const CRD_RULE_FIELDS = ['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'];
const CRD_DURATION = /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;

type Pools = 'mixed' | 'mig' | 'none' | 'no-gpus';

function build(pools: Pools = 'mixed', props: Omit<PlatformRulesProps, 'gpus'> = {}) {
  const { app, chart } = testChart();
  let gpus: GpuOperator | undefined;
  if (pools !== 'no-gpus') {
    gpus = new GpuOperator(chart, 'Gpu', {});
    if (pools === 'mixed') {
      gpus.addPool('l4', { gpuModel: 'L4', gpusPerNode: 1, sharing: { mode: 'timeSlicing', replicas: 4 } });
      gpus.addPool('h100', { gpuModel: 'H100-80GB', gpusPerNode: 8 });
    }
    if (pools === 'mixed' || pools === 'mig') gpus.addPool('a100', { gpuModel: 'A100-80GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.10gb' } });
  }
  const rules = new PlatformRules(chart, 'Rules', { ...props, gpus });
  return { app, chart, gpus, rules };
}

const CONFIGS: ReadonlyArray<[string, () => PlatformRules]> = [
  ['mixed pools (time-sliced, whole, MIG)', () => build('mixed').rules],
  ['MIG pools only', () => build('mig').rules],
  ['GPU operator without pools', () => build('none').rules],
  ['no GPUs', () => build('no-gpus').rules],
  [
    'custom thresholds, namespaces and exclusions',
    () =>
      build('mixed', {
        gpuIdleFor: '1h',
        gpuIdleBelowPercent: 5,
        gpuTemperatureCelsius: 80,
        gpuMemoryFullPercent: 90,
        tenantGpuQuotaPercent: 75,
        volumeFullPercent: 70,
        certificateExpiryDays: 21,
        namespaces: ['storage', 'monitoring'],
        exclude: ['GpuMemoryNearlyFull', 'PrometheusSizeRetentionActive'],
      }).rules,
  ],
];

/** Metric names an expression reads (strings, label lists, matchers, ranges and keywords removed). */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\boffset\s+\w+/g, ' ');
  const keywords = new Set(['sum', 'max', 'min', 'avg', 'count', 'and', 'or', 'unless', 'bool', 'time', 'label_replace', 'max_over_time', 'avg_over_time', 'increase', 'rate', 'sort', 'group_left', 'group_right']);
  return [...new Set((stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []).filter((t) => !keywords.has(t)))];
}

describe('PlatformRules', () => {
  it('writes one PrometheusRule in the monitoring namespace with only fields of the v0.93.1 CRD', () => {
    const { app, rules } = build();
    const pr = find(objectsOf(app), 'PrometheusRule', 'mlplat-rules', 'monitoring');
    assert.equal(pr.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(pr.metadata.labels['app.kubernetes.io/managed-by'], 'mlplat', 'chart labels (Prometheus selects every PrometheusRule)');
    assert.deepEqual(pr.spec, rules.ruleFile(), 'the synthesized spec is the rule file the tests run against');
    const names = new Set<string>();
    for (const g of pr.spec.groups) {
      assert.deepEqual(Object.keys(g).filter((k) => !CRD_GROUP_FIELDS.includes(k)), [], `group ${g.name}`);
      assert.ok(g.name.length > 0 && !names.has(g.name), `group names are unique and non-empty (x-kubernetes-list-map-keys: name): ${g.name}`);
      names.add(g.name);
      for (const r of g.rules) {
        assert.deepEqual(Object.keys(r).filter((k) => !CRD_RULE_FIELDS.includes(k)), [], `rule ${r.alert ?? r.record}`);
        assert.ok((r.alert === undefined) !== (r.record === undefined), 'exactly one of alert and record');
        assert.equal(typeof r.expr, 'string');
        if (r.for !== undefined) assert.match(r.for, CRD_DURATION);
        for (const v of Object.values({ ...r.labels, ...r.annotations })) assert.equal(typeof v, 'string', 'labels and annotations are string maps');
      }
    }
  });

  it('labels every alert with a severity and annotates it with a summary and a runbook-style description', () => {
    const { rules } = build();
    const alerts = rules.alerts;
    assert.deepEqual(alerts.map((a) => a.alert).sort(), Object.values(ALERTS).flat().sort(), 'with GPUs every alert is written');
    assert.equal(new Set(alerts.map((a) => a.alert)).size, alerts.length, 'alert names are unique');
    for (const a of alerts) {
      assert.ok(SEVERITIES.includes(a.severity), `${a.alert} severity ${a.severity}`);
      assert.ok(a.summary.length > 10 && !a.summary.includes('\n'), `${a.alert} summary is one line`);
      assert.ok(a.description.length > a.summary.length, `${a.alert} description says more than the summary`);
      assert.match(a.description, /kubectl|spec\.|check|raise|ask|nothing to do/i, `${a.alert} description says what to do`);
    }
  });

  it('keeps its shape: alerts, severities and hold times', () => {
    const shape = build().rules.alerts.map((a) => `${a.alert} ${a.severity} ${a.for ?? '-'}`);
    assert.deepEqual(shape, [
      'GpuXidError critical -',
      'GpuApplicationXid info -',
      'GpuTemperatureHigh warning 10m',
      'GpuMemoryNearlyFull info 15m',
      'GpuAllocatedButIdle warning 30m',
      'GpuTelemetryMissing warning 15m',
      'TenantGpuQuotaNearlyUsed info 15m',
      'PlatformComponentDown critical 5m',
      'PlatformDeploymentUnavailable warning 15m',
      'PlatformStatefulSetUnavailable warning 15m',
      'PlatformDaemonSetUnavailable warning 15m',
      'PlatformVolumeNearlyFull warning 15m',
      'CertificateExpiringSoon warning 1h',
      'PrometheusRuleEvaluationFailing critical 15m',
      'PrometheusSizeRetentionActive warning -',
      'PrometheusAlertmanagerNotConnected critical 10m',
    ]);
  });

  it('applies the documented defaults', () => {
    const { rules } = build();
    const expr = (name: string) => rules.alerts.find((a) => a.alert === name)!.expr;
    assert.deepEqual(rules.settings, {
      gpuIdleFor: '30m',
      gpuIdleBelowPercent: 1,
      gpuTemperatureCelsius: 85,
      gpuMemoryFullPercent: 95,
      tenantGpuQuotaPercent: 90,
      volumeFullPercent: 85,
      certificateExpiryDays: 14,
    });
    assert.match(expr('GpuAllocatedButIdle'), /\) < 0\.01\n/);
    assert.equal(rules.alerts.find((a) => a.alert === 'GpuAllocatedButIdle')!.for, '30m');
    assert.match(expr('GpuTemperatureHigh'), /> 85$/);
    assert.match(expr('GpuMemoryNearlyFull'), /> 0\.95$/);
    assert.match(expr('TenantGpuQuotaNearlyUsed'), />= 0\.9$/);
    assert.match(expr('PlatformVolumeNearlyFull'), /> 0\.85$/);
    assert.match(expr('CertificateExpiringSoon'), /< 14 \* 86400$/);
    assert.deepEqual(rules.namespaces, [...PLATFORM_NAMESPACES].sort(), 'every namespace reserved for the platform');
    assert.ok(rules.namespaces.includes(GRAFANA_NAMESPACE) && rules.namespaces.includes(MONITORING_NAMESPACE), 'the observability namespaces among them');
    assert.ok(expr('PlatformComponentDown').includes(`namespace=~"${rules.namespaces.join('|')}"`));
    assert.deepEqual(rules.exclude, []);
  });

  it('reads only metrics whose exporters were checked upstream, with their real names', () => {
    for (const [name, make] of CONFIGS) {
      const rules = make();
      const records = new Set(recordNames(rules));
      for (const g of rules.groups) {
        for (const r of g.rules) {
          for (const m of metricNames(r.expr)) {
            assert.ok(m in UPSTREAM || records.has(m), `${name}: ${isAlertingRule(r) ? r.alert : r.record} reads ${m}, which no catalogued exporter provides`);
          }
        }
      }
    }
    assert.equal(KSM_POOL_LABEL, 'label_mlplat_io_gpu_pool');
    assert.equal(ksmLabelName('mlplat.io/someKey'), 'label_mlplat_io_some_key', 'camelCase keys are snake-cased as kube-state-metrics does');
  });

  it('measures MIG pools by graphics-engine activity and the others by GPU utilisation', () => {
    const gpuBusy = (rules: PlatformRules) => rules.groups.flatMap((g) => g.rules).find((r) => !isAlertingRule(r) && r.record === RECORDS.gpuBusy)!.expr;
    const mixed = gpuBusy(build('mixed').rules);
    assert.ok(mixed.includes(`kube_node_labels{${KSM_POOL_LABEL}!~"a100"}`), 'whole-GPU path excludes the MIG pools');
    assert.ok(mixed.includes(`DCGM_FI_PROF_GR_ENGINE_ACTIVE{GPU_I_ID!=""}`));
    assert.ok(mixed.includes(`kube_node_labels{${KSM_POOL_LABEL}=~"a100"}`), 'MIG path is limited to the MIG pools');
    const none = gpuBusy(build('none').rules);
    assert.ok(!none.includes('GR_ENGINE'), 'without MIG pools only GPU_UTIL');
    const idle = build('mixed').rules.alerts.find((a) => a.alert === 'GpuAllocatedButIdle')!.expr;
    assert.ok(idle.includes('resource=~"nvidia_com_gpu|nvidia_com_mig_1g_10gb"'), 'GPU requests by the sanitized resource names of the pools');
    const quota = build('mixed').rules.alerts.find((a) => a.alert === 'TenantGpuQuotaNearlyUsed')!.expr;
    assert.ok(quota.includes('resource=~"requests\\\\.nvidia\\\\.com/gpu|requests\\\\.nvidia\\\\.com/mig-1g\\\\.10gb"'), 'quota resources by their raw names, dots escaped');
  });

  it('follows pools added after it was created', () => {
    const { app, gpus } = build('none');
    gpus!.addPool('late', { gpuModel: 'A100-80GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.10gb' } });
    const spec = find(objectsOf(app), 'PrometheusRule', 'mlplat-rules', 'monitoring').spec;
    const busy = spec.groups.find((g: any) => g.name === 'mlplat-gpu.records').rules[0].expr;
    assert.ok(busy.includes(`${KSM_POOL_LABEL}=~"late"`));
  });

  it('writes no GPU or tenant rules without GPUs, and leaves out excluded alerts', () => {
    const none = build('no-gpus').rules;
    assert.deepEqual(none.groups.map((g) => g.name), ['mlplat-platform', 'mlplat-prometheus']);
    const some = build('mixed', { exclude: ['GpuApplicationXid', 'PrometheusSizeRetentionActive', 'PrometheusRuleEvaluationFailing', 'PrometheusAlertmanagerNotConnected'] }).rules;
    assert.ok(!some.alerts.some((a) => a.alert === 'GpuApplicationXid'));
    assert.ok(!some.groups.some((g) => g.name === 'mlplat-prometheus'), 'a group left empty is not written');
  });

  it('narrows the platform alerts to the namespaces given', () => {
    const { rules } = build('no-gpus', { namespaces: ['storage', 'monitoring', 'storage'] });
    assert.deepEqual(rules.namespaces, ['monitoring', 'storage']);
    for (const name of ['PlatformComponentDown', 'PlatformDeploymentUnavailable', 'PlatformVolumeNearlyFull', 'CertificateExpiringSoon']) {
      assert.ok(rules.alerts.find((a) => a.alert === name)!.expr.includes('namespace=~"monitoring|storage"'), name);
    }
  });

  it('refuses contradictory or invalid options, naming them', () => {
    assert.throws(() => build('mixed', { exclude: ['GpuOnFire'] }), /exclude names unknown alerts "GpuOnFire" \(valid: GpuXidError, /);
    assert.throws(() => build('mixed', { namespaces: [] }), /namespaces must name at least one namespace/);
    assert.throws(() => build('mixed', { namespaces: ['Monitoring', 'ok'] }), /namespaces "Monitoring" are not namespace names/);
    assert.throws(() => build('mixed', { gpuIdleFor: '30 minutes' }), /gpuIdleFor "30 minutes" is not a positive Prometheus duration/);
    assert.throws(() => build('mixed', { gpuIdleFor: '0' }), /gpuIdleFor "0" is not a positive Prometheus duration/);
    assert.throws(() => build('mixed', { gpuIdleBelowPercent: 0 }), /gpuIdleBelowPercent must be a percentage between 0 and 100, exclusive \(got 0\)/);
    assert.throws(() => build('mixed', { gpuMemoryFullPercent: 100 }), /gpuMemoryFullPercent must be a percentage/);
    assert.throws(() => build('mixed', { tenantGpuQuotaPercent: 120 }), /tenantGpuQuotaPercent must be a percentage/);
    assert.throws(() => build('mixed', { volumeFullPercent: -1 }), /volumeFullPercent must be a percentage/);
    assert.throws(() => build('mixed', { gpuTemperatureCelsius: 0 }), /gpuTemperatureCelsius must be in \(0, 150\) °C \(got 0\)/);
    assert.throws(() => build('mixed', { certificateExpiryDays: 1.5 }), /certificateExpiryDays must be a whole number ≥ 1 \(got 1\.5\)/);
  });

  it('parses Prometheus durations', () => {
    assert.equal(durationSeconds('1h30m'), 5400);
    assert.equal(durationSeconds('15d'), 15 * 86400);
    assert.equal(durationSeconds('0'), 0);
  });
});

describe('rule tests (promtool cases)', () => {
  it('has a firing and a silent case for every alert, and a case for every recording rule, in every configuration', () => {
    for (const [name, make] of CONFIGS) {
      const rules = make();
      const tests = ruleTests(rules);
      const { fires, silent } = coverage(tests);
      for (const a of rules.alerts) {
        assert.ok(fires.has(a.alert), `${name}: no case where ${a.alert} fires`);
        assert.ok(silent.has(a.alert), `${name}: no case where ${a.alert} stays silent`);
      }
      assert.deepEqual([...new Set(tests.alerts.map((c) => c.alert))].filter((a) => !rules.alerts.some((r) => r.alert === a)), [], 'no case for an alert that is not written');
      for (const r of recordNames(rules)) assert.ok(tests.records.some((c) => c.record === r), `${name}: no case for ${r}`);
    }
  });

  it('feeds series with the names and labels their exporters really use', () => {
    for (const [name, make] of CONFIGS) {
      const tests = ruleTests(make());
      for (const c of [...tests.alerts, ...tests.records]) {
        for (const s of c.input) {
          const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$/.exec(s.series);
          assert.ok(m, `${name}: ${s.series}`);
          const known = UPSTREAM[m[1]];
          assert.ok(known, `${name}: case "${c.name}" feeds ${m[1]}, which no catalogued exporter provides`);
          for (const [, label] of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) {
            assert.ok(known.labels.includes(label) || TARGET_LABELS.includes(label), `${name}: ${m[1]} has no label ${label} upstream (${known.source})`);
          }
        }
      }
    }
  });

  it('predicts the annotations as Prometheus renders them', () => {
    const labels = { node: 'n1', gpu: '0' };
    assert.equal(renderTemplate('GPU {{ $labels.gpu }} on {{$labels.node}} ({{ $labels.missing }})', labels, undefined), 'GPU 0 on n1 ()');
    assert.equal(renderTemplate('{{ $value }} °C', {}, 90), '90 °C');
    assert.equal(renderTemplate('{{ $value | humanizePercentage }}', {}, 0.975), '97.5%');
    assert.equal(renderTemplate('{{ $value | humanizePercentage }}', {}, 0.9375), '93.75%');
    assert.equal(renderTemplate('{{ $value | humanizeDuration }}', {}, 7 * 86400), '7d 0h 0m 0s');
    assert.equal(renderTemplate('{{ $value | humanizeDuration }}', {}, 3 * 3600 + 61), '3h 1m 1s');
    assert.equal(renderTemplate('{{ $value | humanize }}', {}, 1234567), '1.235M');
    assert.throws(() => renderTemplate('{{ $value | printf "%.2f" }}', {}, 1), /not supported by the rule tests/);
    assert.throws(() => renderTemplate('{{ $value }}', {}, undefined), /uses \$value but the case gives none/);
  });

  it('writes a promtool test file over the given rule files, expecting the severity and rendered annotations', () => {
    const rules = build().rules;
    const file = promtoolTestFile(rules, ['rules.yaml']) as any;
    assert.deepEqual(file.rule_files, ['rules.yaml']);
    const xid = file.tests.find((t: any) => t.name.startsWith('GpuXidError: fires'));
    const [alert] = xid.alert_rule_test[0].exp_alerts;
    assert.equal(alert.exp_labels.severity, 'critical');
    assert.equal(alert.exp_labels.err_code, '79');
    assert.equal(alert.exp_annotations.summary, 'GPU 0 on node n1 reported XID 79 (GPU has fallen off the bus)');
    const silent = file.tests.find((t: any) => t.name.startsWith('GpuXidError: stays silent'));
    assert.deepEqual(silent.alert_rule_test[0].exp_alerts, []);
  });
});

describe('PromQL collection for promtool', () => {
  const dashboard = {
    title: 'GPU',
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus' },
        { name: 'pool', type: 'query', datasource: { type: 'prometheus', uid: 'prometheus' }, query: `label_values(kube_node_labels{${KSM_POOL_LABEL}!=""}, ${KSM_POOL_LABEL})` },
        { name: 'window', type: 'interval', query: '1m,5m,1h', current: { value: '$__auto' } },
        { name: 'top', type: 'custom', query: '5,10', current: { value: ['$__all'] } },
        { name: 'tenant', type: 'query', datasource: '${datasource}', query: { query: 'query_result(count by (namespace) (kube_resourcequota))', refId: 'A' } },
      ],
    },
    annotations: { list: [{ name: 'Deploys', datasource: { type: 'prometheus', uid: 'prometheus' }, expr: 'changes(kube_deployment_status_observed_generation[5m]) > 0' }] },
    panels: [
      {
        title: 'Utilisation',
        datasource: { type: 'prometheus', uid: 'prometheus' },
        targets: [{ refId: 'A', expr: 'avg by (pool) (mlplat:gpu_busy:ratio{pool=~"$pool"})' }, { refId: 'B', expr: 'topk($top, rate(up[$__rate_interval]))' }],
      },
      { title: 'Logs', datasource: { type: 'loki', uid: 'loki' }, targets: [{ refId: 'A', expr: '{namespace="x"} |= "error"' }] },
      {
        title: 'Row',
        type: 'row',
        panels: [{ title: 'Nested', targets: [{ refId: 'A', datasource: '$datasource', expr: 'sum(increase(up[${window}])) / ${__range_s}' }] }],
      },
    ],
  };

  it('finds Prometheus targets (rows included), query variables and annotations, not Loki queries', () => {
    const found = dashboardExpressions(dashboard);
    assert.deepEqual(
      found.map((f) => f.expr),
      [
        'avg by (pool) (mlplat:gpu_busy:ratio{pool=~"mlplat"})',
        'topk(5, rate(up[5m]))',
        'sum(increase(up[1m])) / 300',
        `kube_node_labels{${KSM_POOL_LABEL}!=""}`,
        'count by (namespace) (kube_resourcequota)',
        'changes(kube_deployment_status_observed_generation[5m]) > 0',
      ],
    );
    assert.match(found[0].source, /panel "Utilisation" target A/);
  });

  it('substitutes Grafana variables in every spelling and leaves undefined ones for promtool to report', () => {
    assert.equal(substituteVariables('x{a="$pool", b="${pool}", c="${pool:regex}", d="[[pool]]"}[$__interval]', dashboard), 'x{a="mlplat", b="mlplat", c="mlplat", d="mlplat"}[5m]');
    assert.equal(substituteVariables('label_replace(up, "a", "$1", "b", "(.*)") * $undefined', dashboard), 'label_replace(up, "a", "$1", "b", "(.*)") * $undefined');
  });

  it('collects rule and dashboard expressions from the output, and refuses a dashboard that is not JSON', () => {
    const { app } = build('no-gpus');
    const cm = (name: string, json: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'grafana', labels: { grafana_dashboard: '1' } }, data: { [`${name}.json`]: json } });
    const objects = [...objectsOf(app), cm('gpu', JSON.stringify(dashboard))] as any[];
    const found = collectExpressions(objects);
    assert.equal(found.length, build('no-gpus').rules.alerts.length + dashboardExpressions(dashboard).length);
    assert.ok(found.some((f) => f.source.startsWith('ConfigMap grafana/gpu gpu.json: panel "Utilisation"')));
    assert.throws(() => collectExpressions([cm('broken', '{')] as any), /ConfigMap grafana\/broken broken\.json is labelled grafana_dashboard but is not JSON/);
  });
});

/** promtool from test/e2e/tools (source test/e2e/tools/env.sh), for fast feedback without the e2e suite. */
const PROMTOOL = promtoolFrom(process.env[PROMTOOL_ENV]);
const NO_PROMTOOL = PROMTOOL ? false : `${PROMTOOL_ENV} is not set to promtool: run \`bash test/e2e/tools/build.sh && source test/e2e/tools/env.sh\` to run the rules through the real promtool`;

describe('promtool', { skip: NO_PROMTOOL }, () => {
  for (const [name, make] of CONFIGS) {
    it(`checks the rules and passes every rule test: ${name}`, () => {
      const rules = make();
      const dir = tmpDir();
      try {
        const pr = find(objectsOf(rules.node.root as App), 'PrometheusRule', 'mlplat-rules', 'monitoring');
        const [ruleFile] = writeRuleFiles(dir, [pr]);
        const check = runPromtool(PROMTOOL!, ['check', 'rules', '--lint-fatal', ruleFile], dir);
        assert.equal(check.code, 0, check.output);
        fs.writeFileSync(path.join(dir, 'tests.yaml'), stringify(promtoolTestFile(rules, [ruleFile]), { lineWidth: 0 }));
        const test = runPromtool(PROMTOOL!, ['test', 'rules', 'tests.yaml'], dir);
        assert.equal(test.code, 0, test.output);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('reports a broken expression with its source', () => {
    const dir = tmpDir();
    try {
      const exprs = [
        { source: 'fine', expr: 'up' },
        { source: 'dashboard x panel y', expr: 'sum by (x (y)' },
      ];
      fs.writeFileSync(path.join(dir, 'expressions.yaml'), stringify(expressionsRuleFile(exprs)));
      const r = runPromtool(PROMTOOL!, ['check', 'rules', 'expressions.yaml'], dir);
      assert.notEqual(r.code, 0);
      const explained = explainExpressionErrors(r.output, exprs);
      assert.match(explained, /expr_0002 = dashboard x panel y:\n {4}sum by \(x \(y\)/);
      assert.doesNotMatch(explained, /expr_0001 =/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
