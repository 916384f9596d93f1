import { Board, DashboardJson } from './board';
import { GPU_POOL_NODES, NVIDIA_RESOURCES, onPoolNodes, POOL, POOL_NODES, runningRequests, TENANT, TENANT_NAMESPACES } from './promql';
import { FoundationSdk } from './sdk';

export const GPU_DASHBOARD_UID = 'mlplat-gpu';

/**
 * Who uses the GPUs: per pool (capacity, allocation, utilisation, memory, temperature, XID errors)
 * and per tenant (utilisation, memory, units held, quota, GPUs held but idle). Utilisation is shown
 * twice on purpose: `DCGM_FI_DEV_GPU_UTIL` is 0 or absent on MIG instances, where the profiling
 * metric `DCGM_FI_PROF_GR_ENGINE_ACTIVE` is the one that moves (NVIDIA/dcgm-exporter#216).
 */
export function gpuDashboard(sdk: FoundationSdk): DashboardJson {
  const byPool = `{{${POOL}}}`;
  return new Board(sdk, {
    uid: GPU_DASHBOARD_UID,
    title: 'GPU usage by pool and tenant',
    description: 'DCGM exporter and kube-state-metrics: GPU capacity, allocation and utilisation per GPU pool and per tenant.',
    tags: ['gpu'],
  })
    .variable('pool', 'GPU pool', GPU_POOL_NODES, POOL)
    .variable('tenant', 'Tenant', TENANT_NAMESPACES, TENANT)
    .row('Pools')
    .stat({
      title: 'GPUs reporting',
      description: 'Physical GPUs whose DCGM exporter reports, per pool.',
      targets: [{ expr: `count by (${POOL}) (count by (${POOL}, node, UUID) (${onPoolNodes('DCGM_FI_DEV_GPU_TEMP')}))`, legend: byPool }],
    })
    .stat({
      title: 'GPU units allocatable',
      description: 'Units the device plugin advertises (whole GPUs, time-slices or MIG instances).',
      targets: [{ expr: `sum by (${POOL}) (${onPoolNodes(`kube_node_status_allocatable{${NVIDIA_RESOURCES}}`)})`, legend: byPool }],
    })
    .stat({
      title: 'GPU units held by running pods',
      targets: [{ expr: `sum by (${POOL}) (${onPoolNodes(`(${runningRequests(NVIDIA_RESOURCES)})`)})`, legend: byPool }],
    })
    .stat({
      title: 'GPUs with XID errors (1h)',
      description: 'XID errors signal driver or hardware faults (e.g. 48, 79: the GPU needs a reset or fell off the bus).',
      targets: [{ expr: `count(max by (node, gpu) (max_over_time(DCGM_FI_DEV_XID_ERRORS[1h]) * on (node) group_left () ${POOL_NODES}) > 0) or vector(0)` }],
      steps: [[null, 'green'], [1, 'red']],
    })
    .timeseries({
      title: 'GPU utilisation by pool',
      description: 'DCGM_FI_DEV_GPU_UTIL averaged over the pool; 0 or absent on MIG pools (see the next panel).',
      unit: 'percent',
      min: 0,
      max: 100,
      targets: [{ expr: `avg by (${POOL}) (${onPoolNodes('DCGM_FI_DEV_GPU_UTIL')})`, legend: byPool }],
    })
    .timeseries({
      title: 'Graphics engine active by pool (MIG-aware)',
      description: 'Fraction of time the graphics engine was busy (DCGM_FI_PROF_GR_ENGINE_ACTIVE), per GPU or MIG instance.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      targets: [{ expr: `avg by (${POOL}) (${onPoolNodes('DCGM_FI_PROF_GR_ENGINE_ACTIVE')})`, legend: byPool }],
    })
    .timeseries({
      title: 'GPU memory used by pool',
      unit: 'mbytes',
      targets: [{ expr: `sum by (${POOL}) (${onPoolNodes('DCGM_FI_DEV_FB_USED')})`, legend: byPool }],
    })
    .timeseries({
      title: 'Hottest GPU by pool',
      unit: 'celsius',
      targets: [{ expr: `max by (${POOL}) (${onPoolNodes('DCGM_FI_DEV_GPU_TEMP')})`, legend: byPool }],
    })
    .row('Tenants')
    .timeseries({
      title: 'GPU utilisation by tenant',
      unit: 'percent',
      min: 0,
      max: 100,
      targets: [{ expr: `avg by (exported_namespace) (${onPoolNodes('DCGM_FI_DEV_GPU_UTIL{exported_namespace=~"$tenant"}')})`, legend: '{{exported_namespace}}' }],
    })
    .timeseries({
      title: 'GPU memory used by tenant',
      unit: 'mbytes',
      stacked: true,
      targets: [{ expr: `sum by (exported_namespace) (${onPoolNodes('DCGM_FI_DEV_FB_USED{exported_namespace=~"$tenant"}')})`, legend: '{{exported_namespace}}' }],
    })
    .timeseries({
      title: 'GPU units held by tenant and pool',
      stacked: true,
      targets: [
        {
          expr: `sum by (namespace, ${POOL}) (${onPoolNodes(`(${runningRequests(`namespace=~"$tenant", ${NVIDIA_RESOURCES}`)})`)})`,
          legend: `{{namespace}} on ${byPool}`,
        },
      ],
    })
    .table({
      title: 'GPU quota by tenant',
      description: 'ResourceQuota gpu-<pool> of each tenant: units requested and the quota (units of the pool).',
      targets: [
        { expr: 'sum by (namespace, resourcequota) (kube_resourcequota{namespace=~"$tenant", resourcequota=~"gpu-.+", resourcequota!="gpu-ungranted", resource=~"requests.nvidia.com/.+", type="used"})' },
        { expr: 'sum by (namespace, resourcequota) (kube_resourcequota{namespace=~"$tenant", resourcequota=~"gpu-.+", resourcequota!="gpu-ungranted", resource=~"requests.nvidia.com/.+", type="hard"})' },
      ],
      columns: ['requested', 'quota'],
    })
    .table({
      title: 'GPUs held but idle (last hour)',
      description: 'Pods whose GPU averaged under 5 % utilisation over the last hour: candidates to give their GPU back.',
      unit: 'percent',
      width: 24,
      targets: [{ expr: 'avg by (exported_namespace, exported_pod, node) (avg_over_time(DCGM_FI_DEV_GPU_UTIL{exported_pod!="", exported_namespace=~"$tenant"}[1h])) < 5' }],
      columns: ['utilisation'],
    })
    .build();
}
