import { IGpuFleet } from '../../../constructs/gpu/operator';

/** Nodes per GPU pool and plain CPU nodes for platform services. */
export const NODES_PER_POOL = 2;
export const CPU_NODES = 2;

/** kwok manages (fakes the kubelet of) nodes carrying this annotation. */
const KWOK_ANNOTATION = { 'kwok.x-k8s.io/node': 'fake' };

function node(name: string, labels: Record<string, string>, extra: Record<string, string>, taints: object[]) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: KWOK_ANNOTATION,
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok', ...labels },
    },
    spec: { taints },
    status: {
      capacity: { cpu: '64', memory: '512Gi', pods: '110', ...extra },
      allocatable: { cpu: '64', memory: '512Gi', pods: '110', ...extra },
    },
  };
}

/**
 * Fake nodes generated from the platform's GPU pools: each pool's node contract (labels and
 * taint) and capacity in the pool's own resource (MIG slices for MIG pools, replicas for
 * time-sliced pools), plus untainted CPU nodes.
 */
export function fakeNodes(fleet: IGpuFleet): object[] {
  const nodes: object[] = [];
  for (let i = 0; i < CPU_NODES; i++) nodes.push(node(`cpu-${i}`, { 'node.kubernetes.io/instance-type': 'cpu' }, {}, []));
  for (const pool of fleet.pools) {
    const capacity = { [pool.resourceName]: String(pool.gpusPerNode * pool.unitsPerGpu) };
    for (let i = 0; i < NODES_PER_POOL; i++) {
      nodes.push(node(`${pool.name}-${i}`, pool.nodeLabels, capacity, pool.nodeTaints.map((t) => ({ ...t }))));
    }
  }
  return nodes;
}
