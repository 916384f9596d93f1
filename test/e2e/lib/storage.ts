import { spawnSync } from 'node:child_process';
import { Cluster } from './cluster';

/**
 * What a storage provisioner and the credentials Job would do on a real cluster, done by the
 * harness because kwok runs no containers and no CSI driver is installed.
 */

/** A default StorageClass for claims that name none (no provisioner runs: the harness binds). */
export const TEST_STORAGE_CLASS = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: 'e2e-default', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
  provisioner: 'kubernetes.io/no-provisioner',
  volumeBindingMode: 'Immediate',
};

/**
 * Creates a PersistentVolume for every Pending claim that asks for a StorageClass (dynamic
 * provisioning), pre-bound to it; the PV controller in kube-controller-manager then binds them.
 * Claims with `storageClassName: ""` are static and must bind to the platform's own PVs.
 */
export function provisionPendingClaims(cluster: Cluster): number {
  const claims = cluster.get<{ items: any[] }>(['pvc', '-A']).items;
  let created = 0;
  for (const c of claims) {
    if (c.status?.phase !== 'Pending' || c.spec.volumeName || c.spec.storageClassName === '') continue;
    const name = `e2e-${c.metadata.namespace}-${c.metadata.name}`.slice(0, 63).replace(/-+$/, '');
    const r = cluster.apply({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name },
      spec: {
        capacity: { storage: c.spec.resources.requests.storage },
        accessModes: c.spec.accessModes,
        storageClassName: c.spec.storageClassName ?? TEST_STORAGE_CLASS.metadata.name,
        persistentVolumeReclaimPolicy: 'Delete',
        claimRef: { namespace: c.metadata.namespace, name: c.metadata.name, uid: c.metadata.uid },
        hostPath: { path: `/tmp/${name}` },
      },
    });
    if (r.code !== 0) throw new Error(`provisioning ${c.metadata.namespace}/${c.metadata.name}: ${r.stderr}`);
    created++;
  }
  return created;
}

/**
 * Runs the synthesized credentials script as the Job would: as the generator's ServiceAccount
 * (impersonated, so its RBAC is what is tested), with the cluster's kubectl.
 */
export function runCredentialGenerator(cluster: Cluster, script: string, serviceAccount: string): string {
  const kubectl = `${cluster.env.MLPLAT_KUBE_BIN}/kubectl --kubeconfig=${cluster.kubeconfig} --as=system:serviceaccount:${serviceAccount}`;
  const r = spawnSync('sh', ['-c', script], {
    env: { ...cluster.env, KUBECTL: kubectl },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`credentials script failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Decoded data of a Secret. */
export function secretData(cluster: Cluster, namespace: string, name: string): Record<string, string> {
  const s = cluster.get<any>(['secret', name, '-n', namespace]);
  return Object.fromEntries(Object.entries<string>(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}
