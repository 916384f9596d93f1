import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatasetCache, ICephFilesystem } from '../../constructs/cache/dataset-cache';
import { CredentialGenerator } from '../../constructs/credentials/generator';
import { ISecretRef } from '../../constructs/credentials/types';
import { PlatformDatabase } from '../../constructs/database/postgres';
import { BucketAccess, CredentialsTarget, IBucket, IObjectStore, serviceEndpoint } from '../../constructs/storage/types';
import { MlflowServer } from '../../constructs/tracking/mlflow';
import * as path from 'node:path';
import { parse } from 'yaml';
import { all, find, objectsOf, synthFile, ACME, ROOT, testChart } from '../helpers';

const INITECH = path.join(ROOT, 'examples', 'initech', 'platform.yaml');

/** An object store that records grants, to test consumers alone. */
class FakeStore implements IObjectStore {
  readonly kind = 'minio' as const;
  readonly s3 = serviceEndpoint('s3', 's3', 9000, 's3');
  readonly region = 'us-east-1';
  readonly namespace = 's3';
  readonly grants: Array<{ target: CredentialsTarget; buckets: string[]; access: BucketAccess }> = [];
  constructor(private readonly gen: CredentialGenerator) {}
  bucket(name: string): IBucket {
    return { name, uri: `s3://${name}` };
  }
  grant(target: CredentialsTarget, buckets: readonly IBucket[], access: BucketAccess): ISecretRef {
    this.grants.push({ target, buckets: buckets.map((b) => b.name), access });
    return this.gen.secret(target.namespace, target.secretName, { AWS_ACCESS_KEY_ID: { value: target.user }, AWS_SECRET_ACCESS_KEY: { generate: 40 } });
  }
  tenantBucket(tenant: { name: string; namespace: string }) {
    const bucket = this.bucket(`tenant-${tenant.name}`);
    return { bucket, credentials: this.grant({ namespace: tenant.namespace, secretName: 's3-credentials', user: `tenant-${tenant.name}` }, [bucket], 'readwrite') };
  }
}

function fixture() {
  const { app, chart } = testChart();
  const credentials = new CredentialGenerator(chart, 'Credentials');
  const store = new FakeStore(credentials);
  return { app, chart, credentials, store };
}

/**
 * Every Secret a pod template uses (secretKeyRef, envFrom, secret and projected volumes, and the
 * task pod templates ClearML keeps in ConfigMaps) is declared in its namespace, with that key.
 */
function assertSecretRefsDeclared(objects: any[], credentials: CredentialGenerator, external: readonly ISecretRef[] = []): void {
  const declared = new Map([...credentials.secrets, ...external].map((s) => [`${s.namespace}/${s.name}`, s.keys]));
  const check = (where: string, ns: string, name: string, key?: string) => {
    const keys = declared.get(`${ns}/${name}`);
    assert.ok(keys, `${where}: Secret ${ns}/${name} is not declared`);
    if (key !== undefined) assert.ok(keys.includes(key), `${where}: Secret ${ns}/${name} has no key ${key}`);
  };
  const pods: Array<[string, string, any]> = [];
  for (const o of objects) {
    const pod = o.spec?.template?.spec ?? o.spec?.jobTemplate?.spec?.template?.spec;
    if (pod) pods.push([`${o.kind} ${o.metadata.name}`, o.metadata.namespace, pod]);
    const template = o.kind === 'ConfigMap' ? o.data?.['pod-template.yaml'] : undefined;
    if (template) {
      const t = parse(template);
      pods.push([`ConfigMap ${o.metadata.name} pod template`, t.metadata.namespace, t.spec]);
    }
  }
  for (const [where, ns, pod] of pods) {
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) check(where, ns, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
      for (const ef of c.envFrom ?? []) if (ef.secretRef) check(where, ns, ef.secretRef.name);
    }
    for (const v of pod.volumes ?? []) {
      if (v.secret) for (const i of v.secret.items ?? [{}]) check(where, ns, v.secret.secretName, i.key);
      for (const src of v.projected?.sources ?? []) if (src.secret) for (const i of src.secret.items ?? [{}]) check(where, ns, src.secret.name, i.key);
    }
  }
}

describe('PlatformDatabase', () => {
  it('runs CloudNativePG with one Cluster, a role and database per consumer, and backups to the store', () => {
    const { app, chart, credentials, store } = fixture();
    const db = new PlatformDatabase(chart, 'Db', { credentials, store });
    const mlflow = db.addDatabase('mlflow', { namespace: 'mlflow', secretName: 'mlflow-db' });
    const objects = objectsOf(app);
    const cluster = find(objects, 'Cluster', 'platform', 'databases');
    assert.equal(cluster.spec.instances, 1);
    assert.equal(cluster.spec.storage.size, '20Gi');
    assert.equal(cluster.spec.enableSuperuserAccess, false);
    assert.deepEqual(cluster.spec.managed.roles, [{ name: 'mlflow', ensure: 'present', login: true, passwordSecret: { name: 'role-mlflow' } }]);
    assert.deepEqual(find(objects, 'Database', 'mlflow', 'databases').spec, { name: 'mlflow', owner: 'mlflow', cluster: { name: 'platform' }, ensure: 'present', databaseReclaimPolicy: 'retain' });
    const role = credentials.secrets.find((s) => s.name === 'role-mlflow')!;
    assert.equal(role.namespace, 'databases', 'a role password Secret lives next to its Cluster');
    assert.deepEqual(mlflow.login.keys, ['username', 'password']);
    assert.equal(mlflow.login.namespace, 'mlflow');
    assert.equal(mlflow.endpoint.host, 'platform-rw.databases.svc');
    // Backups: barman to s3://backups with a read-write grant on that bucket only.
    const barman = cluster.spec.backup.barmanObjectStore;
    assert.equal(barman.destinationPath, 's3://backups/postgres');
    assert.equal(barman.endpointURL, 'http://s3.s3.svc:9000');
    assert.deepEqual(store.grants[0], { target: { namespace: 'databases', secretName: 'backup-s3', user: 'postgres-backup' }, buckets: ['backups'], access: 'readwrite' });
    assert.equal(cluster.spec.backup.retentionPolicy, '30d');
    const sb = find(objects, 'ScheduledBackup', 'platform-daily', 'databases');
    assert.equal(sb.spec.schedule, '0 0 2 * * *');
    assert.equal(find(objects, 'HelmRelease', 'cloudnative-pg', 'cnpg-system').spec.chart.spec.chart, 'cloudnative-pg');
  });

  it('rejects bad, reserved and duplicate database names', () => {
    const { chart, credentials } = fixture();
    const db = new PlatformDatabase(chart, 'Db', { credentials });
    db.addDatabase('keycloak', { namespace: 'k', secretName: 'db' });
    assert.throws(() => db.addDatabase('keycloak', { namespace: 'k', secretName: 'db2' }), /added twice/);
    assert.throws(() => db.addDatabase('Key-Cloak', { namespace: 'k', secretName: 'db3' }), /lowercase PostgreSQL identifier/);
    assert.throws(() => db.addDatabase('postgres', { namespace: 'k', secretName: 'db4' }), /reserved/);
  });
});

describe('MlflowServer', () => {
  function mlflowFixture() {
    const f = fixture();
    const database = new PlatformDatabase(f.chart, 'Db', { credentials: f.credentials, store: f.store });
    const mlflow = new MlflowServer(f.chart, 'Mlflow', { credentials: f.credentials, database, store: f.store });
    return { ...f, mlflow };
  }

  it('serves on port 5000 with workspaces, basic-auth and artifacts proxied to the artifacts bucket', () => {
    const { app, mlflow, store } = mlflowFixture();
    const objects = objectsOf(app);
    const dep = find(objects, 'Deployment', 'mlflow', 'mlflow');
    const svc = find(objects, 'Service', 'mlflow', 'mlflow');
    assert.deepEqual(svc.spec.selector, dep.spec.template.metadata.labels);
    const c = dep.spec.template.spec.containers[0];
    assert.equal(c.ports[0].name, svc.spec.ports[0].targetPort);
    const args = c.args.join(' ');
    for (const flag of ['--app-name basic-auth', '--enable-workspaces', '--serve-artifacts', '--artifacts-destination s3://artifacts', '--port 5000']) {
      assert.ok(args.includes(flag), `${flag} in ${args}`);
    }
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.MLFLOW_BACKEND_STORE_URI, 'postgresql://$(DB_USER):$(DB_PASSWORD)@platform-rw.databases.svc:5432/mlflow');
    assert.match(env.MLFLOW_AUTH_DATABASE_URI, /\/mlflow_auth$/);
    assert.equal(env.MLFLOW_S3_ENDPOINT_URL, store.s3.url);
    assert.match(env.MLFLOW_SERVER_ALLOWED_HOSTS, /mlflow\.ml\.test\.example/);
    assert.equal(c.readinessProbe.httpGet.path, '/health');
    assert.equal(mlflow.endpoint.url, 'http://mlflow.mlflow.svc:5000');
    assert.deepEqual(store.grants.find((g) => g.target.user === 'mlflow')!.buckets, ['artifacts']);
    const ini = find(objects, 'ConfigMap', 'mlflow-server', 'mlflow').data['basic_auth.ini.template'];
    assert.match(ini, /default_permission = NO_PERMISSIONS/);
    assert.ok(!/password\s*=/.test(ini), 'no admin password in the ConfigMap');
    assert.equal(find(objects, 'Namespace', 'mlflow').metadata.labels['mlplat.io/reachable-from-tenants'], 'true');
  });

  it('gives each tenant a workspace, a user and envFrom-ready credentials; the bootstrap re-runs when tenants change', () => {
    const { app, mlflow, credentials } = mlflowFixture();
    const before = all(objectsOf(app), 'Job', 'mlflow')[0].metadata.name;
    const access = mlflow.addTenant({ name: 'research', namespace: 'research' });
    assert.equal(mlflow.addTenant({ name: 'research', namespace: 'research' }), access, 'idempotent');
    assert.deepEqual([...access.credentials.keys].sort(), ['MLFLOW_TRACKING_PASSWORD', 'MLFLOW_TRACKING_URI', 'MLFLOW_TRACKING_USERNAME', 'MLFLOW_WORKSPACE']);
    assert.equal(access.credentials.namespace, 'research');
    const objects = objectsOf(app);
    const job = all(objects, 'Job', 'mlflow')[0];
    assert.notEqual(job.metadata.name, before);
    assert.deepEqual(JSON.parse(find(objects, 'ConfigMap', 'mlflow-bootstrap', 'mlflow').data['tenants.json']), [{ workspace: 'research', user: 'research' }]);
    const projected = job.spec.template.spec.volumes.find((v: any) => v.name === 'credentials').projected.sources;
    assert.deepEqual(projected, [{ secret: { name: 'tenant-research', items: [{ key: 'password', path: 'research/password' }] } }]);
    assertSecretRefsDeclared(objects, credentials);
  });
});

describe('DatasetCache', () => {
  const nfs = { kind: 'nfs' as const, server: 'nfs.example', path: '/exports/cache' };

  it('binds a read-only static volume per tenant onto the shared tree, and a writer volume for prefetch', () => {
    const { app, chart, store } = fixture();
    const cache = new DatasetCache(chart, 'Cache', { size: '4Ti', backend: nfs, store });
    cache.addTenant({ name: 'research', namespace: 'research' });
    const objects = objectsOf(app);
    const pv = find(objects, 'PersistentVolume', 'mlplat-dataset-cache-research');
    assert.deepEqual(pv.spec.claimRef, { namespace: 'research', name: 'dataset-cache' });
    assert.deepEqual(pv.spec.accessModes, ['ReadOnlyMany']);
    assert.equal(pv.spec.persistentVolumeReclaimPolicy, 'Retain');
    assert.ok(pv.spec.mountOptions.includes('ro'));
    assert.equal(pv.spec.csi.driver, 'nfs.csi.k8s.io');
    assert.deepEqual(pv.spec.csi.volumeAttributes, { server: 'nfs.example', share: '/exports/cache' });
    const pvc = find(objects, 'PersistentVolumeClaim', 'dataset-cache', 'research');
    assert.equal(pvc.spec.volumeName, pv.metadata.name);
    assert.equal(pvc.spec.storageClassName, '');
    const writer = find(objects, 'PersistentVolume', 'mlplat-dataset-cache');
    assert.deepEqual(writer.spec.claimRef, { namespace: 'dataset-cache', name: 'cache' });
    assert.notEqual(writer.spec.csi.volumeHandle, pv.spec.csi.volumeHandle, 'volume handles are unique per PV');
    assert.equal(find(objects, 'PersistentVolumeClaim', 'scratch', 'research').spec.resources.requests.storage, '100Gi');
  });

  it('uses a CephFS subvolume group as the static path on Ceph', () => {
    const { app, chart, store } = fixture();
    const groups: string[] = [];
    const filesystem: ICephFilesystem = {
      name: 'cephfs',
      clusterNamespace: 'rook-ceph',
      csiDriver: 'rook-ceph.cephfs.csi.ceph.com',
      nodeStageSecret: { name: 'rook-csi-cephfs-node', namespace: 'rook-ceph' },
      subVolumeGroup: (n) => (groups.push(n), `/volumes/${n}`),
    };
    const cache = new DatasetCache(chart, 'Cache', { size: '1Ti', backend: { kind: 'cephfs', filesystem }, store });
    cache.addTenant({ name: 'a', namespace: 'a' });
    const pv = find(objectsOf(app), 'PersistentVolume', 'mlplat-dataset-cache-a');
    assert.deepEqual(groups, ['mlplat-cache']);
    assert.deepEqual(pv.spec.csi.volumeAttributes, { clusterID: 'rook-ceph', fsName: 'cephfs', staticVolume: 'true', rootPath: '/volumes/mlplat-cache' });
    assert.deepEqual(pv.spec.csi.nodeStageSecretRef, { name: 'rook-csi-cephfs-node', namespace: 'rook-ceph' });
  });

  it('prefetches with mc mirror from the platform store using a read-only grant, and refreshes on a schedule', () => {
    const { app, chart, store, credentials } = fixture();
    const cache = new DatasetCache(chart, 'Cache', { size: '1Ti', backend: nfs, store });
    cache.addPrefetch({ name: 'llama', source: 's3://models/meta/llama/', refreshSchedule: '0 3 * * 0' });
    const objects = objectsOf(app);
    const job = all(objects, 'Job', 'dataset-cache')[0];
    assert.match(job.metadata.name, /^prefetch-llama-[0-9a-f]{8}$/);
    const c = job.spec.template.spec.containers[0];
    assert.deepEqual(c.command.slice(4), ['src/models/meta/llama', '/cache/llama']);
    assert.match(c.command[2], /mc alias set src "\$S3_ENDPOINT" "\$AWS_ACCESS_KEY_ID" "\$AWS_SECRET_ACCESS_KEY" .* mc mirror --overwrite --retry "\$1" "\$2"/);
    assert.equal(c.env.find((e: any) => e.name === 'S3_ENDPOINT').value, 'http://s3.s3.svc:9000');
    assert.deepEqual(store.grants.at(-1), { target: { namespace: 'dataset-cache', secretName: 'prefetch-models', user: 'dataset-cache-models' }, buckets: ['models'], access: 'read' });
    assert.equal(find(objects, 'CronJob', 'refresh-llama', 'dataset-cache').spec.schedule, '0 3 * * 0');
    assert.equal(cache.pathOf('llama'), '/datasets/llama');
    assertSecretRefsDeclared(objects, credentials);
  });

  it('mounts the cache read-only into a pod spec, with Hugging Face caches split between cache and scratch', () => {
    const { chart, store } = fixture();
    const cache = new DatasetCache(chart, 'Cache', { size: '1Ti', backend: nfs, store });
    const spec = cache.mountInto({ containers: [{ name: 'train', image: 'x', env: [{ name: 'HF_HOME', value: '/mine' }] }] });
    assert.deepEqual(spec.volumes![0], { name: 'dataset-cache', persistentVolumeClaim: { claimName: 'dataset-cache', readOnly: true } });
    const c = spec.containers[0];
    assert.ok(c.volumeMounts!.some((m) => m.mountPath === '/datasets' && m.readOnly));
    const env = Object.fromEntries(c.env!.map((e) => [e.name, e.value]));
    assert.equal(env.HF_HUB_CACHE, '/datasets/huggingface/hub');
    assert.equal(env.HF_HOME, '/mine', 'the pod\'s own setting wins');
    assert.throws(() => cache.mountInto(spec), /already has a volume named "dataset-cache"/);
  });

  it('refuses tenant pods that mount the cache writable (admission policy)', () => {
    const { app, chart, store } = fixture();
    new DatasetCache(chart, 'Cache', { size: '1Ti', backend: nfs, store });
    const vap = find(objectsOf(app), 'ValidatingAdmissionPolicy', 'mlplat-dataset-cache-read-only');
    assert.match(vap.spec.validations[0].expression, /claimName != 'dataset-cache'/);
    assert.match(vap.spec.validations[0].expression, /readOnly == true/);
  });

  it('rejects bad prefetch entries', () => {
    const { chart, store } = fixture();
    const cache = new DatasetCache(chart, 'Cache', { size: '1Ti', backend: nfs, store });
    cache.addPrefetch({ name: 'a', source: 's3://models/a' });
    assert.throws(() => cache.addPrefetch({ name: 'a', source: 's3://models/a' }), /defined twice/);
    assert.throws(() => cache.addPrefetch({ name: 'b', source: 'https://x/y' }), /must be s3:\/\/bucket\/prefix/);
    assert.throws(() => cache.addPrefetch({ name: 'c', source: 's3://xyz/y', endpoint: 'https://s3.example' }), /needs credentialsSecret/);
    assert.throws(() => cache.addPrefetch({ name: 'd', source: 's3://xyz/y', credentialsSecret: 's' }), /applies only with endpoint/);
    assert.throws(() => cache.pathOf('zzz'), /no prefetch entry "zzz"/);
  });
});

describe('acme data plane', () => {
  it('references only declared Secrets from every workload', () => {
    const { objects, platform } = synthFile(ACME);
    // On Ceph, Rook writes each tenant's s3-credentials (from its ObjectBucketClaim).
    assertSecretRefsDeclared(objects, platform.credentials, platform.tenants.map((t) => platform.storage!.tenantBucket(t).credentials));
  });
});

describe('initech data plane (Ceph + ClearML)', () => {
  it('keeps the cache on CephFS and mounts it into every ClearML task pod template', () => {
    const { objects, platform } = synthFile(INITECH);
    const pv = find(objects, 'PersistentVolume', 'mlplat-dataset-cache-vision');
    assert.equal(pv.spec.csi.driver, 'rook-ceph.cephfs.csi.ceph.com');
    const templates = objects.filter((o: any) => o.kind === 'ConfigMap' && o.data?.['pod-template.yaml']) as any[];
    assert.equal(templates.length, 3, 'forecasting: a100 + rtx, vision: rtx');
    for (const cm of templates) {
      const spec = parse(cm.data['pod-template.yaml']).spec;
      assert.deepEqual(spec.volumes.find((v: any) => v.name === 'dataset-cache'), { name: 'dataset-cache', persistentVolumeClaim: { claimName: 'dataset-cache', readOnly: true } }, cm.metadata.name);
    }
    // On Ceph, Rook writes each tenant's s3-credentials (from its ObjectBucketClaim).
    assertSecretRefsDeclared(objects, platform.credentials, platform.tenants.map((t) => platform.storage!.tenantBucket(t).credentials));
  });
});
