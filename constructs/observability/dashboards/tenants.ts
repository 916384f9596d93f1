import { Board, DashboardJson } from './board';
import { NVIDIA_RESOURCES, RUNNING_PODS, runningRequests, TENANT, TENANT_NAMESPACES } from './promql';
import { FoundationSdk } from './sdk';

export const TENANTS_DASHBOARD_UID = 'mlplat-tenants';

/** Containers only: cAdvisor also reports the pod's own cgroup (`container=""`), which would count twice. */
const CONTAINERS = 'namespace=~"$tenant", container!=""';

/**
 * What each tenant's pods use against what its quotas allow: CPU and memory (cAdvisor through the
 * kubelet, requests and quotas from kube-state-metrics), GPU units and utilisation (DCGM), pod
 * health, and the tenant's logs when the platform keeps logs.
 */
export function tenantsDashboard(sdk: FoundationSdk, options: { readonly logs: boolean }): DashboardJson {
  const board = new Board(sdk, {
    uid: TENANTS_DASHBOARD_UID,
    title: 'Tenant workloads: CPU, memory and GPU',
    description: 'Per tenant: resources used, requested and allowed, pod health and logs.',
    tags: ['tenants'],
  })
    .variable('tenant', 'Tenant', TENANT_NAMESPACES, TENANT)
    .row('CPU')
    .timeseries({
      title: 'CPU used by tenant',
      unit: 'short',
      stacked: true,
      targets: [{ expr: `sum by (namespace) (rate(container_cpu_usage_seconds_total{${CONTAINERS}}[$__rate_interval]))`, legend: '{{namespace}}' }],
    })
    .timeseries({
      title: 'CPU requested and quota',
      description: 'Cores requested by running pods against the requests.cpu quota of the tenant.',
      unit: 'short',
      targets: [
        { expr: `sum by (namespace) (${runningRequests('namespace=~"$tenant", resource="cpu"')})`, legend: '{{namespace}} requested' },
        { expr: 'sum by (namespace) (kube_resourcequota{namespace=~"$tenant", resource="requests.cpu", type="hard"})', legend: '{{namespace}} quota' },
      ],
    })
    .row('Memory')
    .timeseries({
      title: 'Memory used by tenant (working set)',
      unit: 'bytes',
      stacked: true,
      targets: [{ expr: `sum by (namespace) (container_memory_working_set_bytes{${CONTAINERS}})`, legend: '{{namespace}}' }],
    })
    .timeseries({
      title: 'Memory requested and quota',
      unit: 'bytes',
      targets: [
        { expr: `sum by (namespace) (${runningRequests('namespace=~"$tenant", resource="memory"')})`, legend: '{{namespace}} requested' },
        { expr: 'sum by (namespace) (kube_resourcequota{namespace=~"$tenant", resource="requests.memory", type="hard"})', legend: '{{namespace}} quota' },
      ],
    })
    .row('GPU')
    .timeseries({
      title: 'GPU units held by tenant',
      stacked: true,
      targets: [{ expr: `sum by (namespace, resource) (${runningRequests(`namespace=~"$tenant", ${NVIDIA_RESOURCES}`)})`, legend: '{{namespace}} {{resource}}' }],
    })
    .timeseries({
      title: 'GPU utilisation by pod',
      unit: 'percent',
      min: 0,
      max: 100,
      targets: [{ expr: 'avg by (exported_namespace, exported_pod) (DCGM_FI_DEV_GPU_UTIL{exported_namespace=~"$tenant", exported_pod!=""})', legend: '{{exported_namespace}}/{{exported_pod}}' }],
    })
    .row('Pods')
    .table({
      title: 'Top pods by CPU',
      unit: 'short',
      targets: [{ expr: `topk(15, sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{${CONTAINERS}}[5m])))` }],
      columns: ['cores'],
    })
    .table({
      title: 'Top pods by memory',
      unit: 'bytes',
      targets: [{ expr: `topk(15, sum by (namespace, pod) (container_memory_working_set_bytes{${CONTAINERS}}))` }],
      columns: ['working set'],
    })
    .timeseries({
      title: 'Container restarts (1h)',
      targets: [{ expr: 'sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{namespace=~"$tenant"}[1h])) > 0', legend: '{{namespace}}/{{pod}}' }],
    })
    .stat({
      title: 'Running pods not ready',
      width: 12,
      height: 8,
      targets: [{ expr: `sum by (namespace) (kube_pod_status_ready{namespace=~"$tenant", condition="false"} * on (namespace, pod) group_left () (${RUNNING_PODS}))`, legend: '{{namespace}}' }],
      steps: [[null, 'green'], [1, 'orange']],
    });
  if (options.logs) {
    board.row('Logs').logs({ title: 'Logs of the selected tenants', expr: '{namespace=~"$tenant"}' });
  }
  return board.build();
}
