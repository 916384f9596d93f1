import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CredentialGenerator } from '../../constructs/credentials/generator';
import { S3_KEYS } from '../../constructs/credentials/types';
import { CephStore, CephStoreOptions, ROOK_CEPH_NAMESPACE } from '../../constructs/storage/ceph';
import { PLATFORM_BUCKETS } from '../../constructs/storage/types';
import { TENANT_REACHABLE_LABEL } from '../../constructs/tenancy/tenant';
import { VERSIONS } from '../../lib/versions';
import { all, find, objectsOf, testChart } from '../helpers';

function store(options: CephStoreOptions = {}, ctx = {}) {
  const { app, chart } = testChart(ctx);
  const credentials = new CredentialGenerator(chart, 'Credentials');
  const ceph = new CephStore(chart, 'Ceph', { credentials, ...options });
  return { app, ceph, credentials, objects: () => objectsOf(app) };
}

const THREE_NODES = [
  { name: 'node-a', devices: ['nvme1n1'] },
  { name: 'node-b', devices: ['nvme1n1', '/dev/disk/by-id/nvme-SAMSUNG-1'] },
  { name: 'node-c', devices: ['sdb'] },
];

describe('CephStore namespace and operator', () => {
  it('runs in a privileged namespace that states why and that tenants may reach', () => {
    const { objects } = store();
    const ns = find(objects(), 'Namespace', 'rook-ceph');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
    assert.equal(ns.metadata.labels[TENANT_REACHABLE_LABEL], 'true');
    assert.match(ns.metadata.annotations['mlplat.io/privileged-reason'], /raw block devices.*hostPath \/var\/lib\/rook.*CSI/);
  });

  it('installs the pinned rook-ceph chart through Flux with typed values', () => {
    const { objects } = store();
    const release = find(objects(), 'HelmRelease', 'rook-ceph', 'rook-ceph');
    const chart = VERSIONS.charts.rookCeph;
    assert.equal(release.spec.releaseName, 'rook-ceph');
    assert.deepEqual(release.spec.chart.spec.sourceRef, { kind: 'HelmRepository', name: chart.repository.name, namespace: 'rook-ceph' });
    assert.equal(release.spec.chart.spec.version, chart.version);
    assert.equal(release.spec.install.crds, 'CreateReplace');
    assert.equal(release.spec.upgrade.crds, 'CreateReplace');
    find(objects(), 'HelmRepository', chart.repository.name, 'rook-ceph');
    const v = release.spec.values;
    assert.equal(v.csi.enableRbdDriver, true);
    assert.equal(v.csi.enableCephfsDriver, true);
    assert.equal(v.monitoring.enabled, false);
    assert.equal(v.crds.enabled, true);
    assert.deepEqual(v.resources, { requests: { cpu: '200m', memory: '128Mi' }, limits: { memory: '512Mi' } });
    // Only the platform creates claims, so letting claims carry a bucket policy is safe.
    assert.equal(v.rbacAggregate.enableOBCs, false);
    assert.deepEqual(v.obcAllowAdditionalConfigFields.split(','), ['maxObjects', 'maxSize', 'bucketPolicy']);
    assert.equal(v.image, undefined, 'no image override without a registry');
  });

  it('pulls the operator, CSI and Ceph images through the registry override', () => {
    const { objects } = store({}, { imageRegistry: 'registry.acme.internal' });
    const v = find(objects(), 'HelmRelease', 'rook-ceph').spec.values;
    assert.equal(v.image.repository, 'registry.acme.internal/rook/ceph');
    assert.equal(v.csi.cephcsi.repository, 'registry.acme.internal/cephcsi/cephcsi');
    assert.equal(v.csi.provisioner.repository, 'registry.acme.internal/sig-storage/csi-provisioner');
    const cluster = find(objects(), 'CephCluster', 'rook-ceph', 'rook-ceph');
    assert.equal(cluster.spec.cephVersion.image, `registry.acme.internal/${VERSIONS.images.ceph.repository}:${VERSIONS.images.ceph.tag}`);
  });
});

describe('CephCluster', () => {
  it('defaults to 3 mons on separate nodes, 2 mgrs, the plain-HTTP dashboard and every device', () => {
    const { ceph, objects } = store();
    assert.equal(ceph.mons, 3);
    assert.equal(ceph.replicas, 3);
    assert.equal(ceph.devices, 'all');
    const spec = find(objects(), 'CephCluster', 'rook-ceph', 'rook-ceph').spec;
    assert.equal(spec.cephVersion.image, 'quay.io/ceph/ceph:v19.2.3');
    assert.equal(spec.dataDirHostPath, '/var/lib/rook');
    assert.deepEqual(spec.mon, { count: 3, allowMultiplePerNode: false });
    assert.deepEqual(spec.mgr, { count: 2, allowMultiplePerNode: false });
    assert.deepEqual(spec.dashboard, { enabled: true, ssl: false });
    assert.deepEqual(spec.storage, { useAllNodes: true, useAllDevices: true });
    assert.deepEqual(spec.resources.osd, { requests: { cpu: '1', memory: '4Gi' }, limits: { memory: '4Gi' } });
  });

  it('uses exactly the listed nodes and devices', () => {
    const { objects } = store({ devices: THREE_NODES });
    const storage = find(objects(), 'CephCluster', 'rook-ceph').spec.storage;
    assert.deepEqual(storage, {
      useAllNodes: false,
      useAllDevices: false,
      nodes: [
        { name: 'node-a', devices: [{ name: 'nvme1n1' }] },
        { name: 'node-b', devices: [{ name: 'nvme1n1' }, { name: '/dev/disk/by-id/nvme-SAMSUNG-1' }] },
        { name: 'node-c', devices: [{ name: 'sdb' }] },
      ],
    });
  });

  it('fits a single-node test cluster: one mon, one mgr, size-1 pools allowed explicitly', () => {
    const { objects } = store({ mons: 1, replicas: 1, devices: [{ name: 'kind', devices: ['loop0'] }] });
    const o = objects();
    const spec = find(o, 'CephCluster', 'rook-ceph').spec;
    assert.equal(spec.mon.count, 1);
    assert.equal(spec.mgr.count, 1);
    for (const pool of [
      find(o, 'CephBlockPool', 'replicapool').spec.replicated,
      find(o, 'CephFilesystem', 'cephfs').spec.dataPools[0].replicated,
      find(o, 'CephObjectStore', 's3').spec.dataPool.replicated,
    ]) {
      assert.deepEqual(pool, { size: 1, requireSafeReplicaSize: false });
    }
  });

  it('overrides the resources of a named daemon only', () => {
    const { objects } = store({ resources: { osd: { cpu: '2', memory: '8Gi' } } });
    const o = objects();
    const res = find(o, 'CephCluster', 'rook-ceph').spec.resources;
    assert.deepEqual(res.osd, { requests: { cpu: '2', memory: '8Gi' }, limits: { memory: '8Gi' } });
    assert.deepEqual(res.mon, { requests: { cpu: '500m', memory: '2Gi' }, limits: { memory: '2Gi' } });
    assert.deepEqual(find(o, 'CephFilesystem', 'cephfs').spec.metadataServer.resources.limits, { memory: '4Gi' });
    assert.deepEqual(find(o, 'CephObjectStore', 's3').spec.gateway.resources.limits, { memory: '2Gi' });
  });

  it('refuses contradictory props', () => {
    const { chart } = testChart();
    const credentials = new CredentialGenerator(chart, 'Credentials');
    const make = (id: string, o: CephStoreOptions) => () => new CephStore(chart, id, { credentials, ...o });
    assert.throws(make('A', { mons: 4 }), /Ceph: mons must be an odd number from 1 to 9 \(got 4\)/);
    assert.throws(make('B', { mons: 11 }), /mons must be an odd number from 1 to 9 \(got 11\)/);
    assert.throws(make('C', { mons: 0 }), /mons must be an odd number from 1 to 9 \(got 0\)/);
    assert.throws(make('D', { replicas: 0 }), /Ceph: replicas must be a whole number from 1 to 7 \(got 0\)/);
    assert.throws(make('E', { replicas: 2.5 }), /replicas must be a whole number from 1 to 7 \(got 2.5\)/);
    assert.throws(make('F', { devices: [] }), /Ceph: devices must list at least one node, or be 'all'/);
    assert.throws(make('G', { devices: [...THREE_NODES, { name: 'node-a', devices: ['sdc'] }] }), /Ceph: node "node-a" is listed twice in devices/);
    assert.throws(make('H', { devices: [{ name: 'node-a', devices: [] }] }), /Ceph: node "node-a" lists no devices/);
    assert.throws(make('I', { devices: [{ name: 'node-a', devices: ['sdb', 'sdb'] }] }), /Ceph: node "node-a" lists device "sdb" twice/);
    assert.throws(
      make('J', { devices: THREE_NODES.slice(0, 2) }),
      /Ceph: replicas \(3\) exceeds the number of storage nodes in devices \(2\); every copy needs a node of its own/,
    );
  });
});

describe('CephStore block and file storage', () => {
  it('provisions RBD volumes from its block pool with the CSI secrets Rook writes', () => {
    const { ceph, objects } = store();
    const o = objects();
    const pool = find(o, 'CephBlockPool', 'replicapool', 'rook-ceph');
    assert.deepEqual(pool.spec, { failureDomain: 'host', replicated: { size: 3, requireSafeReplicaSize: true } });
    const sc = find(o, 'StorageClass', ceph.blockStorageClassName);
    assert.equal(sc.metadata.name, 'ceph-block');
    assert.equal(sc.provisioner, 'rook-ceph.rbd.csi.ceph.com');
    assert.equal(sc.parameters.clusterID, find(o, 'CephCluster', 'rook-ceph').metadata.namespace);
    assert.equal(sc.parameters.pool, pool.metadata.name);
    for (const kind of ['provisioner', 'controller-expand', 'controller-publish']) {
      assert.equal(sc.parameters[`csi.storage.k8s.io/${kind}-secret-name`], 'rook-csi-rbd-provisioner');
      assert.equal(sc.parameters[`csi.storage.k8s.io/${kind}-secret-namespace`], 'rook-ceph');
    }
    assert.equal(sc.parameters['csi.storage.k8s.io/node-stage-secret-name'], 'rook-csi-rbd-node');
    assert.equal(sc.parameters['csi.storage.k8s.io/node-stage-secret-namespace'], 'rook-ceph');
    assert.equal(sc.reclaimPolicy, 'Delete');
    assert.equal(sc.allowVolumeExpansion, true);
  });

  it('creates the cephfs filesystem with a hot standby MDS and a StorageClass on its data pool', () => {
    const { ceph, objects } = store();
    const o = objects();
    const fs = find(o, 'CephFilesystem', 'cephfs', 'rook-ceph');
    assert.deepEqual(fs.spec.metadataPool.replicated, { size: 3, requireSafeReplicaSize: true });
    assert.equal(fs.spec.dataPools.length, 1);
    assert.deepEqual(fs.spec.dataPools[0].replicated, { size: 3, requireSafeReplicaSize: true });
    assert.equal(fs.spec.metadataServer.activeCount, 1);
    assert.equal(fs.spec.metadataServer.activeStandby, true);
    const sc = find(o, 'StorageClass', ceph.filesystem.storageClassName);
    assert.equal(sc.provisioner, 'rook-ceph.cephfs.csi.ceph.com');
    assert.equal(sc.parameters.fsName, fs.metadata.name);
    // Rook names a filesystem's named data pool `<filesystem>-<pool>`.
    assert.equal(sc.parameters.pool, `${fs.metadata.name}-${fs.spec.dataPools[0].name}`);
    assert.equal(sc.parameters.clusterID, 'rook-ceph');
    assert.equal(sc.parameters['csi.storage.k8s.io/provisioner-secret-name'], 'rook-csi-cephfs-provisioner');
    assert.equal(sc.parameters['csi.storage.k8s.io/controller-expand-secret-name'], 'rook-csi-cephfs-provisioner');
    assert.equal(sc.parameters['csi.storage.k8s.io/node-stage-secret-name'], 'rook-csi-cephfs-node');
    assert.equal(sc.reclaimPolicy, 'Delete');
    assert.equal(sc.allowVolumeExpansion, true);
  });

  it('hands out a filesystem handle whose subvolume groups give static-PV root paths', () => {
    const { ceph, objects } = store();
    const fs = ceph.filesystem;
    assert.equal(fs.name, 'cephfs');
    assert.equal(fs.clusterNamespace, 'rook-ceph');
    assert.equal(fs.csiDriver, 'rook-ceph.cephfs.csi.ceph.com');
    assert.equal(fs.storageClassName, 'cephfs');
    assert.deepEqual(fs.nodeStageSecret, { name: 'rook-csi-cephfs-node', namespace: 'rook-ceph' });
    assert.equal(fs.subVolumeGroup('datasets'), '/volumes/datasets');
    assert.equal(fs.subVolumeGroup('datasets'), '/volumes/datasets', 'declared once, same path again');
    const groups = all(objects(), 'CephFilesystemSubVolumeGroup');
    assert.equal(groups.length, 1);
    assert.equal(groups[0].metadata.namespace, fs.clusterNamespace);
    assert.deepEqual(groups[0].spec, { name: 'datasets', filesystemName: fs.name });
    // The handle agrees with the objects it describes.
    const sc = find(objects(), 'StorageClass', fs.storageClassName);
    assert.equal(sc.provisioner, fs.csiDriver);
    assert.equal(sc.parameters['csi.storage.k8s.io/node-stage-secret-name'], fs.nodeStageSecret.name);
    assert.equal(sc.parameters.clusterID, fs.clusterNamespace);
  });

  it('refuses subvolume groups it cannot own', () => {
    const { ceph } = store();
    assert.throws(() => ceph.filesystem.subVolumeGroup('csi'), /Ceph: subvolume group "csi" is Rook's group for dynamically provisioned volumes/);
    assert.throws(() => ceph.filesystem.subVolumeGroup('Data_Sets'), /Ceph: subvolume group "Data_Sets" must be a DNS label/);
  });
});

describe('CephStore object store', () => {
  it('runs one RGW on port 80 and exposes the Service Rook creates for it', () => {
    const { ceph, objects } = store();
    const os = find(objects(), 'CephObjectStore', 's3', 'rook-ceph');
    assert.equal(os.spec.gateway.port, 80);
    assert.equal(os.spec.gateway.instances, 1);
    assert.deepEqual(os.spec.metadataPool.replicated, { size: 3, requireSafeReplicaSize: true });
    assert.deepEqual(os.spec.dataPool.replicated, { size: 3, requireSafeReplicaSize: true });
    assert.equal(os.spec.preservePoolsOnDelete, true);
    assert.equal(ceph.kind, 'ceph');
    assert.equal(ceph.region, 'us-east-1');
    assert.equal(ceph.namespace, ROOK_CEPH_NAMESPACE);
    // Rook names the Service rook-ceph-rgw-<store> with port "http" = gateway.port.
    assert.deepEqual(ceph.s3, {
      namespace: 'rook-ceph',
      name: `rook-ceph-rgw-${os.metadata.name}`,
      port: os.spec.gateway.port,
      portName: 'http',
      host: 'rook-ceph-rgw-s3.rook-ceph.svc',
      url: 'http://rook-ceph-rgw-s3.rook-ceph.svc:80',
    });
    assert.equal(ceph.console?.name, 'ceph-dashboard');
    assert.equal(ceph.console?.port, 7000);
    assert.equal(ceph.console?.portName, 'http-dashboard');
  });

  it('offers a bucket StorageClass served by the operator namespace provisioner', () => {
    const { ceph, objects } = store();
    const o = objects();
    const sc = find(o, 'StorageClass', ceph.bucketStorageClassName);
    assert.equal(sc.metadata.name, 'ceph-bucket');
    assert.equal(sc.provisioner, 'rook-ceph.ceph.rook.io/bucket');
    assert.equal(find(o, 'HelmRelease', 'rook-ceph').spec.values.enableOBCWatchOperatorNamespace, true, 'that is what prefixes the provisioner name');
    assert.deepEqual(sc.parameters, { objectStoreName: find(o, 'CephObjectStore', 's3').metadata.name, objectStoreNamespace: 'rook-ceph' });
    assert.equal(sc.reclaimPolicy, 'Retain');
  });

  it('claims every platform bucket in rook-ceph, without a policy until something is granted', () => {
    const { ceph, objects } = store();
    const claims = all(objects(), 'ObjectBucketClaim', 'rook-ceph');
    assert.deepEqual(claims.map((c) => c.spec.bucketName), [...PLATFORM_BUCKETS]);
    for (const c of claims) {
      assert.equal(c.metadata.name, `bucket-${c.spec.bucketName}`);
      assert.equal(c.spec.storageClassName, ceph.bucketStorageClassName);
      assert.equal(c.spec.additionalConfig, undefined);
    }
    assert.deepEqual(ceph.bucket('models'), { name: 'models', uri: 's3://models' });
    assert.equal(ceph.bucket('models'), ceph.bucket('models'), 'one handle per bucket');
    ceph.bucket('feature-store');
    assert.equal(all(objects(), 'ObjectBucketClaim', 'rook-ceph').length, PLATFORM_BUCKETS.length + 1);
  });

  it('refuses bucket names S3 or the tenant scheme forbid', () => {
    const { ceph } = store();
    assert.throws(() => ceph.bucket('My_Bucket'), /Ceph: bucket name "My_Bucket" must be 3 to 63 lowercase letters/);
    assert.throws(() => ceph.bucket('ab'), /Ceph: bucket name "ab" must be 3 to 63/);
    assert.throws(() => ceph.bucket('tenant-x'), /Ceph: bucket name "tenant-x" is reserved for tenant buckets/);
  });
});

describe('CephStore grants', () => {
  it('creates a user that may create no bucket, lets it in by bucket policy and copies its keys as AWS_*', () => {
    const { ceph, credentials, objects } = store();
    const ref = ceph.grant({ namespace: 'mlflow', secretName: 'mlflow-s3', user: 'mlflow' }, [ceph.bucket('artifacts'), ceph.bucket('models')], 'readwrite');
    ceph.grant({ namespace: 'serving', secretName: 'serving-s3', user: 'serving' }, [ceph.bucket('models')], 'read');
    const o = objects();

    const user = find(o, 'CephObjectStoreUser', 'mlflow', 'rook-ceph');
    assert.equal(user.spec.store, find(o, 'CephObjectStore', 's3').metadata.name);
    assert.equal(user.spec.quotas.maxBuckets, -1);

    assert.equal(ref.namespace, 'mlflow');
    assert.equal(ref.name, 'mlflow-s3');
    assert.deepEqual(ref.keys, [S3_KEYS.accessKeyId, S3_KEYS.secretAccessKey]);
    assert.equal(ref.producer, credentials.serviceAccountName);
    // The copy reads the Secret Rook writes for the user: rook-ceph-object-user-<store>-<user>.
    const script = credentials.script();
    assert.match(script, /begin 'mlflow' 'mlflow-s3' 'Opaque'\n  copy AWS_ACCESS_KEY_ID 'rook-ceph' 'rook-ceph-object-user-s3-mlflow' AccessKey\n  copy AWS_SECRET_ACCESS_KEY 'rook-ceph' 'rook-ceph-object-user-s3-mlflow' SecretKey\ncommit/);
    const role = find(o, 'Role', 'mlplat-credentials', 'rook-ceph');
    // It only reads there (no Secret is declared in rook-ceph): a single `get` rule by name.
    assert.deepEqual(role.rules.map((r: any) => r.verbs), [['get']]);
    assert.ok(role.rules[0].resourceNames.includes('rook-ceph-object-user-s3-mlflow'), 'the generator may read the user Secret');

    const policyOf = (bucket: string) => JSON.parse(find(o, 'ObjectBucketClaim', `bucket-${bucket}`, 'rook-ceph').spec.additionalConfig.bucketPolicy);
    const models = policyOf('models');
    assert.equal(models.Version, '2012-10-17');
    assert.deepEqual(models.Statement.map((s: any) => s.Principal.AWS), [['arn:aws:iam:::user/mlflow'], ['arn:aws:iam:::user/serving']]);
    const [rw, ro] = models.Statement;
    for (const s of [rw, ro]) {
      assert.equal(s.Effect, 'Allow');
      assert.deepEqual(s.Resource, ['arn:aws:s3:::models', 'arn:aws:s3:::models/*']);
      assert.ok(s.Action.includes('s3:ListBucket') && s.Action.includes('s3:GetObject'));
    }
    assert.ok(rw.Action.includes('s3:PutObject') && rw.Action.includes('s3:DeleteObject'));
    assert.ok(!ro.Action.some((a: string) => /Put|Delete|Abort/.test(a)), 'read grants cannot write');
    assert.deepEqual(policyOf('artifacts').Statement.map((s: any) => s.Sid), ['mlflow-readwrite']);
    assert.equal(find(o, 'ObjectBucketClaim', 'bucket-logs').spec.additionalConfig, undefined, 'ungranted buckets keep no policy');
  });

  it('refuses grants it cannot express safely', () => {
    const { ceph, credentials, objects } = store();
    const target = (user: string, secretName = 's3') => ({ namespace: 'mlflow', secretName, user });
    ceph.grant(target('mlflow'), [ceph.bucket('artifacts')], 'readwrite');
    assert.throws(() => ceph.grant(target('mlflow', 'other'), [ceph.bucket('models')], 'read'), /Ceph: S3 user "mlflow" is granted twice/);
    assert.throws(() => ceph.grant(target('empty'), [], 'read'), /Ceph: S3 user "empty": buckets must name at least one bucket/);
    assert.throws(() => ceph.grant(target('Bad_User'), [ceph.bucket('models')], 'read'), /Ceph: S3 user "Bad_User" must be a DNS label/);
    assert.throws(() => ceph.grant(target('obc-x'), [ceph.bucket('models')], 'read'), /Ceph: S3 user "obc-x" is reserved/);
    assert.throws(() => ceph.grant(target('x', 'Not_A_Name'), [ceph.bucket('models')], 'read'), /Ceph: S3 user "x": secretName "Not_A_Name" is not a valid Secret name/);
    const tenant = ceph.tenantBucket({ name: 'team-a', namespace: 'team-a' });
    assert.throws(
      () => ceph.grant(target('reader'), [tenant.bucket], 'read'),
      /Ceph: S3 user "reader": "tenant-team-a" is not a platform bucket of this store .*tenant buckets belong to their tenant only/,
    );
    assert.throws(() => ceph.grant(target('copy'), [{ name: 'models', uri: 's3://models' }], 'read'), /"models" is not a platform bucket of this store/);
    assert.deepEqual(all(objects(), 'CephObjectStoreUser').map((u) => u.metadata.name), ['mlflow'], 'failed grants leave no user');
    assert.deepEqual(credentials.secrets.map((r) => `${r.namespace}/${r.name}`), ['mlflow/s3'], 'and no Secret');
  });
});

describe('CephStore tenant buckets', () => {
  it('claims tenant-<name> in the tenant namespace; Rook writes s3-credentials there', () => {
    const { ceph, objects } = store();
    const { bucket, credentials } = ceph.tenantBucket({ name: 'team-a', namespace: 'team-a' });
    const claim = find(objects(), 'ObjectBucketClaim', 's3-credentials', 'team-a');
    assert.deepEqual(claim.spec, { bucketName: 'tenant-team-a', storageClassName: 'ceph-bucket' });
    assert.deepEqual(bucket, { name: 'tenant-team-a', uri: 's3://tenant-team-a' });
    // The provisioner names the Secret after the claim, with the AWS_* keys.
    assert.equal(credentials.namespace, claim.metadata.namespace);
    assert.equal(credentials.name, claim.metadata.name);
    assert.deepEqual(credentials.keys, [S3_KEYS.accessKeyId, S3_KEYS.secretAccessKey]);
    assert.equal(credentials.producer, 'rook-ceph');
    assert.deepEqual(credentials.keyRef(S3_KEYS.secretAccessKey), { name: 's3-credentials', key: 'AWS_SECRET_ACCESS_KEY' });
    assert.equal(ceph.tenantBucket({ name: 'team-a', namespace: 'team-a' }).credentials, credentials, 'asking again returns the same handle');
    assert.equal(all(objects(), 'ObjectBucketClaim', 'team-a').length, 1);
    assert.ok(!objects().some((o) => o.kind === 'CephObjectStoreUser'), 'the claim brings its own user');
  });

  it('refuses one tenant asking from two namespaces', () => {
    const { ceph } = store();
    ceph.tenantBucket({ name: 'team-a', namespace: 'team-a' });
    assert.throws(
      () => ceph.tenantBucket({ name: 'team-a', namespace: 'other' }),
      /Ceph: tenant "team-a" asked for its bucket from namespace "other", before from "team-a"/,
    );
  });
});

describe('CephStore objects', () => {
  it('labels every object and keeps Ceph resources in rook-ceph', () => {
    const { ceph, objects } = store({ devices: THREE_NODES });
    ceph.grant({ namespace: 'mlflow', secretName: 's3', user: 'mlflow' }, [ceph.bucket('models')], 'read');
    ceph.tenantBucket({ name: 'team-a', namespace: 'team-a' });
    ceph.filesystem.subVolumeGroup('datasets');
    for (const o of objects()) {
      const labels = o.metadata.labels as Record<string, string>;
      assert.equal(labels['app.kubernetes.io/part-of'], 'mlplat', `${o.kind} ${o.metadata.name}`);
      if (o.apiVersion === 'ceph.rook.io/v1') assert.equal(o.metadata.namespace, 'rook-ceph', `${o.kind} ${o.metadata.name}`);
    }
  });
});
