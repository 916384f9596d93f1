import { TENANT_LABEL } from '../../gpu/access-policy';
import { POOL_LABEL } from '../../gpu/pool';

/**
 * PromQL fragments the dashboards share, written against the series the platform's scrape
 * configuration produces (docs/design/observability.md §3–4):
 * - DCGM exporter series keep the GPU Operator's `namespace`/`pod`; the workload's are
 *   `exported_namespace`/`exported_pod`, and `node` comes from the ServiceMonitor's relabeling;
 * - kube-state-metrics exposes the node label `mlplat.io/gpu-pool` and the namespace label
 *   `mlplat.io/tenant` (its `--metric-labels-allowlist`) as `label_<name, sanitized>`;
 * - extended resources in `kube_*_resource_requests` and `kube_node_status_allocatable` are
 *   sanitized too (`nvidia.com/gpu` → `nvidia_com_gpu`); `kube_resourcequota` keeps raw names.
 */

/** kube-state-metrics' label name for a Kubernetes label (`label_` + every other character as `_`). */
export function ksmLabel(kubernetesLabel: string): string {
  return `label_${kubernetesLabel.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/** `label_mlplat_io_gpu_pool` on `kube_node_labels`. */
export const POOL = ksmLabel(POOL_LABEL);
/** `label_mlplat_io_tenant` on `kube_namespace_labels`. */
export const TENANT = ksmLabel(TENANT_LABEL);

/** Nodes of the pools the `$pool` variable selects (one series per node, value 1). */
export const POOL_NODES = `kube_node_labels{${POOL}=~"$pool"}`;

/** Tenant namespaces (tenant name = namespace), for the `$tenant` variable. */
export const TENANT_NAMESPACES = `kube_namespace_labels{${TENANT}!=""}`;

/** Pool nodes, for the `$pool` variable. */
export const GPU_POOL_NODES = `kube_node_labels{${POOL}!=""}`;

/** `metric` restricted to nodes of the selected pools, labelled with their pool. */
export function onPoolNodes(metric: string): string {
  return `${metric} * on (node) group_left (${POOL}) ${POOL_NODES}`;
}

/** Running pods (value 1), to count requests of pods that hold their resources now. */
export const RUNNING_PODS = 'max by (namespace, pod) (kube_pod_status_phase{phase="Running"}) == 1';

/** Per-container requests matching `matchers` (e.g. a `resource` and a `namespace` matcher), of running pods only. */
export function runningRequests(matchers: string): string {
  return `kube_pod_container_resource_requests{${matchers}} * on (namespace, pod) group_left () (${RUNNING_PODS})`;
}

/** Extended NVIDIA resources, as kube-state-metrics names them in requests and allocatable. */
export const NVIDIA_RESOURCES = 'resource=~"nvidia_com_.+"';
