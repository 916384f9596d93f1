import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CredentialGenerator } from '../../constructs/credentials/generator';
import { METRICS_TOKEN_SECRET, METRICS_USER, MinioStore, MinioStoreOptions } from '../../constructs/storage/minio';
import { PLATFORM_BUCKETS } from '../../constructs/storage/types';
import { TENANT_REACHABLE_LABEL } from '../../constructs/tenancy/tenant';
import { VERSIONS } from '../../lib/versions';
import { all, find, objectsOf, testChart } from '../helpers';

function fixture(options: MinioStoreOptions = {}, ctx = {}) {
  const { app, chart } = testChart(ctx);
  const credentials = new CredentialGenerator(chart, 'Credentials');
  const store = new MinioStore(chart, 'Minio', { credentials, ...options });
  return { app, chart, credentials, store };
}

const inMinio = (objects: any[], kind: string, name: string) => find(objects, kind, name, 'minio');
const server = (objects: any[]) => inMinio(objects, 'StatefulSet', 'minio');
const container = (sts: any) => sts.spec.template.spec.containers[0];
const bootstrapJob = (objects: any[]) => {
  const jobs = all(objects, 'Job', 'minio');
  assert.equal(jobs.length, 1);
  return jobs[0];
};
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('MinioStore', () => {
  it('creates its namespace, Pod Security restricted and reachable from tenants', () => {
    const { app } = fixture();
    const ns = find(objectsOf(app), 'Namespace', 'minio');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.equal(ns.metadata.labels[TENANT_REACHABLE_LABEL], 'true');
  });

  it('exposes the S3 API and the console through Services that select the server pods, on its container ports', () => {
    const { app, store } = fixture();
    const objects = objectsOf(app);
    const sts = server(objects);
    const podLabels = sts.spec.template.metadata.labels;
    assert.ok(matches(sts.spec.selector.matchLabels, podLabels), 'the StatefulSet selects its own pods');
    const containerPorts = new Map(container(sts).ports.map((p: any) => [p.name, p.containerPort]));

    for (const name of ['minio', 'minio-console', 'minio-hl']) {
      const svc = inMinio(objects, 'Service', name);
      assert.ok(matches(svc.spec.selector, podLabels), `${name} selects the server pods`);
      for (const port of svc.spec.ports) {
        assert.equal(containerPorts.get(port.targetPort), port.port, `${name}:${port.name} targets the container port of the same number`);
      }
    }
    for (const endpoint of [store.s3, store.console]) {
      const svc = inMinio(objects, 'Service', endpoint.name);
      assert.deepEqual(
        svc.spec.ports.map((p: any) => [p.name, p.port]),
        [[endpoint.portName, endpoint.port]],
        `handle ${endpoint.name} matches its Service`,
      );
    }
    assert.deepEqual(
      { ...store.s3 },
      { namespace: 'minio', name: 'minio', port: 9000, portName: 's3', host: 'minio.minio.svc', url: 'http://minio.minio.svc:9000' },
    );
    assert.equal(store.console.port, 9001);
    assert.equal(store.console.portName, 'console');
    assert.equal(store.kind, 'minio');
    assert.equal(store.region, 'us-east-1');
    assert.equal(store.namespace, 'minio');

    const headless = inMinio(objects, 'Service', 'minio-hl');
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(headless.spec.publishNotReadyAddresses, true);
    assert.equal(sts.spec.serviceName, 'minio-hl');
  });

  it('defaults to one standalone server with a 500Gi volume of the default StorageClass and the catalog images', () => {
    const { app, store } = fixture();
    const objects = objectsOf(app);
    const sts = server(objects);
    assert.equal(store.mode, 'standalone');
    assert.equal(sts.spec.replicas, 1);
    assert.deepEqual(container(sts).args, ['server', '/data', '--address', ':9000', '--console-address', ':9001']);
    const [claim] = sts.spec.volumeClaimTemplates;
    assert.equal(claim.metadata.name, 'data');
    assert.equal(claim.spec.resources.requests.storage, '500Gi');
    assert.equal('storageClassName' in claim.spec, false, 'the cluster default StorageClass');
    assert.ok(container(sts).volumeMounts.some((m: any) => m.name === 'data' && m.mountPath === '/data'));
    assert.equal(container(sts).image, `quay.io/minio/minio:${VERSIONS.images.minio.tag}`);
    assert.equal(bootstrapJob(objects).spec.template.spec.initContainers[0].image, `quay.io/minio/mc:${VERSIONS.images.mc.tag}`);
    assert.equal(all(objects, 'PodDisruptionBudget', 'minio').length, 0, 'no budget for a single server');
  });

  it('takes size, StorageClass and images from options, and pulls catalog images through the registry override', () => {
    const custom = fixture({ size: '2Ti', storageClass: 'fast-ssd', image: 'registry.acme.internal/minio:v1', clientImage: 'registry.acme.internal/mc:v1' });
    const objects = objectsOf(custom.app);
    const claim = server(objects).spec.volumeClaimTemplates[0];
    assert.equal(claim.spec.resources.requests.storage, '2Ti');
    assert.equal(claim.spec.storageClassName, 'fast-ssd');
    assert.equal(container(server(objects)).image, 'registry.acme.internal/minio:v1');
    assert.equal(bootstrapJob(objects).spec.template.spec.initContainers[0].image, 'registry.acme.internal/mc:v1');

    const mirrored = objectsOf(fixture({}, { imageRegistry: 'mirror.acme.internal' }).app);
    assert.equal(container(server(mirrored)).image, `mirror.acme.internal/minio/minio:${VERSIONS.images.minio.tag}`);
    assert.equal(bootstrapJob(mirrored).spec.template.spec.initContainers[0].image, `mirror.acme.internal/minio/mc:${VERSIONS.images.mc.tag}`);
  });

  it('runs distributed across 4 servers by default, started in parallel, with a disruption budget', () => {
    const { app, store } = fixture({ mode: 'distributed' });
    const objects = objectsOf(app);
    const sts = server(objects);
    assert.equal(store.replicas, 4);
    assert.equal(sts.spec.replicas, 4);
    assert.equal(sts.spec.podManagementPolicy, 'Parallel');
    assert.deepEqual(container(sts).args, [
      'server',
      'http://minio-{0...3}.minio-hl.minio.svc.cluster.local/data',
      '--address',
      ':9000',
      '--console-address',
      ':9001',
    ]);
    const pdb = inMinio(objects, 'PodDisruptionBudget', 'minio');
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.ok(matches(pdb.spec.selector.matchLabels, sts.spec.template.metadata.labels), 'the budget covers the server pods');

    const six = server(objectsOf(fixture({ mode: 'distributed', replicas: 6 }).app));
    assert.equal(six.spec.replicas, 6);
    assert.equal(container(six).args[1], 'http://minio-{0...5}.minio-hl.minio.svc.cluster.local/data');
  });

  it('ignores replicas in standalone mode', () => {
    const { app } = fixture({ replicas: 4 });
    assert.equal(server(objectsOf(app)).spec.replicas, 1);
  });

  it('runs the server non-root on a read-only root filesystem, with probes, metrics and resources', () => {
    const { app } = fixture();
    const sts = server(objectsOf(app));
    const pod = sts.spec.template.spec;
    const c = container(sts);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, 'minio');
    find(objectsOf(app), 'ServiceAccount', 'minio', 'minio');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    // MinIO writes $HOME/.minio/certs at start: HOME must be on a writable emptyDir.
    const env = Object.fromEntries(c.env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
    assert.equal(env.HOME, '/tmp');
    assert.ok(c.volumeMounts.some((m: any) => m.mountPath === '/tmp' && pod.volumes.find((v: any) => v.name === m.name)?.emptyDir));
    assert.equal(env.MINIO_PROMETHEUS_AUTH_TYPE, 'jwt');
    assert.equal(c.livenessProbe.httpGet.path, '/minio/health/live');
    assert.equal(c.readinessProbe.httpGet.path, '/minio/health/ready');
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) assert.equal(probe.httpGet.port, 's3');
    assert.deepEqual(c.resources, { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '4Gi' } });
  });

  it('references only Secrets the credentials generator declares, with keys they hold', () => {
    const { app, credentials, store } = fixture({ mode: 'distributed' });
    store.tenantBucket({ name: 'research', namespace: 'research' });
    store.grant({ namespace: 'tracking', secretName: 'mlflow-s3', user: 'mlflow' }, [store.bucket('artifacts')], 'readwrite');
    const declared = new Map(credentials.secrets.map((s) => [`${s.namespace}/${s.name}`, s]));
    const objects = objectsOf(app);
    const pods = [server(objects).spec.template.spec, bootstrapJob(objects).spec.template.spec];
    let checked = 0;
    for (const pod of pods) {
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          const secret = declared.get(`minio/${ref.name}`);
          assert.ok(secret, `minio/${ref.name} is declared`);
          assert.ok(secret.keys.includes(ref.key), `minio/${ref.name} holds ${ref.key}`);
          checked++;
        }
      }
      for (const v of pod.volumes ?? []) {
        for (const source of v.projected?.sources ?? []) {
          if (!source.secret) continue;
          const secret = declared.get(`minio/${source.secret.name}`);
          assert.ok(secret, `minio/${source.secret.name} is declared`);
          for (const item of source.secret.items) assert.ok(secret.keys.includes(item.key));
          checked++;
        }
      }
    }
    assert.equal(checked, 4 + 3, 'root user and password in both pods, two user Secrets and the metrics user\'s');
    assert.deepEqual(declared.get('minio/minio-root')?.keys, ['MINIO_ROOT_USER', 'MINIO_ROOT_PASSWORD']);
    assert.equal(store.rootCredentials.name, 'minio-root');
  });

  it('keeps every credential value out of the YAML: the generator creates them', () => {
    const { app, credentials, store } = fixture();
    store.tenantBucket({ name: 'research', namespace: 'research' });
    const secrets = all(objectsOf(app), 'Secret');
    assert.deepEqual(secrets.map((x) => [x.metadata.name, (x as any).data, (x as any).stringData]), [[METRICS_TOKEN_SECRET, undefined, undefined]], 'only the metrics token\'s Secret, without data');
    const script = credentials.script();
    assert.match(script, /begin 'minio' 'minio-root' 'Opaque'\n {2}lit MINIO_ROOT_USER 'mlplat-admin'\n {2}gen MINIO_ROOT_PASSWORD 40\ncommit/);
    assert.match(script, /begin 'minio' 's3-user-tenant-research' 'Opaque'\n {2}lit AWS_ACCESS_KEY_ID 'tenant-research'\n {2}gen AWS_SECRET_ACCESS_KEY 40\ncommit/);
  });

  it('registers the platform buckets up front and validates bucket names', () => {
    const { store } = fixture();
    assert.deepEqual(store.bucketNames, [...PLATFORM_BUCKETS]);
    assert.equal(store.bucket('models'), store.bucket('models'), 'one handle per bucket');
    assert.deepEqual({ ...store.bucket('features') }, { name: 'features', uri: 's3://features' });
    assert.ok(store.bootstrapScript().includes(`bucket 'features'`));
    const bad: Array<[string, RegExp]> = [
      ['ab', /must be 3 to 63 characters long \(it has 2\)/],
      ['a'.repeat(64), /must be 3 to 63 characters long \(it has 64\)/],
      ['Models', /only lowercase letters, digits, dots and hyphens/],
      ['my_bucket', /only lowercase letters, digits, dots and hyphens/],
      ['-models', /begin and end with a letter or digit/],
      ['models.', /begin and end with a letter or digit/],
      ['my..bucket', /two adjacent dots/],
      ['192.168.1.10', /formatted as an IP address/],
      ['xn--models', /must not begin with "xn--"/],
      ['models-s3alias', /must not end with "-s3alias"/],
    ];
    for (const [name, message] of bad) assert.throws(() => store.bucket(name), message, name);
    assert.throws(() => store.bucket('Bad'), /MinIO: bucket name "Bad"/);
  });

  it('gives a tenant its own bucket and credentials in its namespace, once', () => {
    const { credentials, store } = fixture();
    const first = store.tenantBucket({ name: 'research', namespace: 'research' });
    assert.deepEqual({ ...first.bucket }, { name: 'tenant-research', uri: 's3://tenant-research' });
    assert.equal(first.credentials.namespace, 'research');
    assert.equal(first.credentials.name, 's3-credentials');
    assert.deepEqual(first.credentials.keys, ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
    assert.ok(store.bucketNames.includes('tenant-research'));
    assert.deepEqual(store.users, ['tenant-research', METRICS_USER], 'and the metrics user');

    const again = store.tenantBucket({ name: 'research', namespace: 'research' });
    assert.equal(again.bucket, first.bucket);
    assert.equal(again.credentials, first.credentials);
    assert.equal(credentials.secrets.filter((s) => s.name === 's3-credentials').length, 1, 'declared once');

    // The tenant's copy is taken from the user Secret in minio, both keys.
    const script = credentials.script();
    assert.ok(script.includes(`copy AWS_ACCESS_KEY_ID 'minio' 's3-user-tenant-research' AWS_ACCESS_KEY_ID`));
    assert.ok(script.includes(`copy AWS_SECRET_ACCESS_KEY 'minio' 's3-user-tenant-research' AWS_SECRET_ACCESS_KEY`));
    assert.throws(() => store.tenantBucket({ name: 'research', namespace: 'other' }), /tenant "research" asked for its bucket from namespace "other"/);
  });

  it('writes policies that allow exactly the granted buckets', () => {
    const { store } = fixture();
    store.tenantBucket({ name: 'research', namespace: 'research' });
    store.grant({ namespace: 'serving', secretName: 'models-s3', user: 'serving' }, [store.bucket('models'), store.bucket('datasets')], 'read');
    assert.deepEqual(store.policy('tenant-research'), {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
          Resource: ['arn:aws:s3:::tenant-research'],
        },
        {
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
          Resource: ['arn:aws:s3:::tenant-research/*'],
        },
      ],
    });
    assert.deepEqual(store.policy('serving'), {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:GetBucketLocation', 's3:ListBucket'], Resource: ['arn:aws:s3:::models', 'arn:aws:s3:::datasets'] },
        { Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::models/*', 'arn:aws:s3:::datasets/*'] },
      ],
    });
    const files = store.bootstrapFiles();
    assert.deepEqual(JSON.parse(files['policy-tenant-research.json']), store.policy('tenant-research'));
    assert.deepEqual(Object.keys(files).sort(), ['bootstrap.sh', 'policy-prometheus.json', 'policy-serving.json', 'policy-tenant-research.json', 'publish-token.sh']);
    assert.deepEqual(JSON.parse(files['policy-prometheus.json']), { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['admin:Prometheus'] }] }, 'the metrics user may read metrics, nothing else');
    assert.throws(() => store.policy('nobody'), /no user "nobody" \(users: tenant-research, serving, prometheus\)/);
  });

  it('refuses contradictory or invalid props', () => {
    const { store } = fixture();
    const target = { namespace: 'tracking', secretName: 'mlflow-s3', user: 'mlflow' };
    store.grant(target, [store.bucket('artifacts')], 'readwrite');
    assert.throws(() => store.grant({ ...target, namespace: 'other' }, [store.bucket('models')], 'read'), /MinIO: user "mlflow" is granted twice/);
    store.tenantBucket({ name: 'research', namespace: 'research' });
    assert.throws(
      () => store.grant({ namespace: 'x', secretName: 's3', user: 'tenant-research' }, [store.bucket('models')], 'read'),
      /user "tenant-research" is granted twice/,
      'a grant cannot take a tenant user',
    );
    assert.throws(() => store.grant({ ...target, user: 'Mlflow' }, [store.bucket('artifacts')], 'read'), /user name "Mlflow" must be 3 to 63 lowercase/);
    assert.throws(() => store.grant({ ...target, user: 'ab' }, [store.bucket('artifacts')], 'read'), /user name "ab"/);
    assert.throws(() => store.grant({ ...target, user: 'x-y-z', secretName: 'Bad_Name' }, [store.bucket('artifacts')], 'read'), /secretName "Bad_Name" is not a valid Secret name/);
    assert.throws(() => store.grant({ ...target, user: 'nobuckets' }, [], 'read'), /user "nobuckets" must be granted at least one bucket/);
    assert.throws(
      () => store.grant({ ...target, user: 'foreign' }, [{ name: 'elsewhere', uri: 's3://elsewhere' }], 'read'),
      /bucket "elsewhere" is not a bucket of this store/,
    );

    for (const replicas of [1, 2, 3, 4.5]) {
      assert.throws(() => fixture({ mode: 'distributed', replicas }), /mode 'distributed' needs replicas ≥ 4 \(got /, String(replicas));
    }
  });

  it('bootstraps with an idempotent POSIX script that reads user secrets from mounted files', () => {
    const { app, store } = fixture();
    store.tenantBucket({ name: 'research', namespace: 'research' });
    const script = store.bootstrapScript();
    assert.ok(script.startsWith('#!/bin/sh\n'));
    assert.match(script, /^set -eu$/m);
    assert.ok(script.includes('MINIO_ENDPOINT=${MINIO_ENDPOINT:-http://minio.minio.svc:9000}'), 'in-cluster endpoint, overridable');
    assert.ok(script.includes('CREDENTIALS_DIR=${CREDENTIALS_DIR:-/credentials}'), 'credentials directory, overridable');
    assert.match(script, /MC_HOST_s3=.*\$MINIO_ROOT_USER:\$MINIO_ROOT_PASSWORD@/);
    assert.ok(script.includes('mc --quiet admin info s3'), 'waits for the server');
    assert.ok(script.includes('mb --ignore-existing'), 'existing buckets are kept');
    assert.ok(script.includes('"$CREDENTIALS_DIR/$1/AWS_SECRET_ACCESS_KEY"'));
    for (const b of [...PLATFORM_BUCKETS, 'tenant-research']) assert.ok(script.includes(`bucket '${b}'\n`), b);
    assert.ok(script.includes(`user 'tenant-research' 'mlplat-tenant-research' 'policy-tenant-research.json'\n`));
    for (const step of ['admin user add s3', 'admin policy create s3', 'admin policy attach s3']) assert.ok(script.includes(step), step);
    assert.ok(script.includes('already in effect'), 'a second attach is not an error');
    // Users of removed tenants or grants (an mlplat-* policy, not declared any more) are disabled.
    assert.match(script, /^retire ' .*tenant-research.* '$/m);
    assert.match(script, /case "\$policies" in mlplat-\*\) ;; \*\) continue ;; esac/);
    assert.ok(script.includes('admin user disable s3 "$name"'));

    const objects = objectsOf(app);
    const cm = inMinio(objects, 'ConfigMap', 'minio-bootstrap');
    assert.deepEqual(cm.data, store.bootstrapFiles(), 'the ConfigMap holds the script and the policies as built');
    const job = bootstrapJob(objects);
    const pod = job.spec.template.spec;
    const c = pod.initContainers[0];
    assert.deepEqual(c.command, ['/bin/sh', '/bootstrap/bootstrap.sh']);
    const env = Object.fromEntries(c.env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
    assert.equal(env.MINIO_ENDPOINT, store.s3.url);
    assert.equal(env.CREDENTIALS_DIR, '/credentials');
    assert.ok(env.MC_CONFIG_DIR.startsWith('/tmp/'), 'mc config on the emptyDir');
    const mountOf = (name: string) => c.volumeMounts.find((m: any) => m.name === name)?.mountPath;
    assert.equal(mountOf('bootstrap'), '/bootstrap');
    assert.equal(pod.volumes.find((v: any) => v.name === 'bootstrap').configMap.name, 'minio-bootstrap');
    assert.equal(pod.volumes.find((v: any) => v.name === 'tmp').emptyDir.medium, 'Memory');
    assert.equal(mountOf('credentials'), '/credentials');
    assert.deepEqual(pod.volumes.find((v: any) => v.name === 'credentials').projected.sources, [
      { secret: { name: 's3-user-tenant-research', items: [{ key: 'AWS_SECRET_ACCESS_KEY', path: 'tenant-research/AWS_SECRET_ACCESS_KEY' }] } },
      { secret: { name: `s3-user-${METRICS_USER}`, items: [{ key: 'AWS_SECRET_ACCESS_KEY', path: `${METRICS_USER}/AWS_SECRET_ACCESS_KEY` }] } },
    ]);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(pod.serviceAccountName, 'minio-bootstrap');
    assert.equal(pod.automountServiceAccountToken, false, 'mc needs no Kubernetes API (the token publisher mounts its own)');
    assert.equal(c.volumeMounts.some((m: any) => m.mountPath.startsWith('/var/run/secrets')), false, 'mc holds no API token');
    find(objects, 'ServiceAccount', 'minio-bootstrap', 'minio');
    assert.notEqual(job.spec.template.metadata.labels['app.kubernetes.io/component'], 'server', 'not selected by the Services');
  });

  it('mounts only the metrics user\'s key while no bucket user exists, and keeps its name from grants', () => {
    const { app, store } = fixture();
    const pod = bootstrapJob(objectsOf(app)).spec.template.spec;
    assert.deepEqual(pod.volumes.find((v: any) => v.name === 'credentials').projected.sources.map((x: any) => x.secret.name), [`s3-user-${METRICS_USER}`]);
    assert.throws(() => store.grant({ namespace: 'x', secretName: 's3', user: METRICS_USER }, [store.bucket('artifacts')], 'read'), /user name "prometheus" is reserved for the metrics token/);
  });

  it('publishes a metrics bearer token for Prometheus: mc signs it, only the publisher talks to the API, the PodMonitor reads it', () => {
    const { app, store } = fixture();
    const objects = objectsOf(app);
    const pod = bootstrapJob(objects).spec.template.spec;
    const [mc] = pod.initContainers;
    const [publisher] = pod.containers;
    assert.equal(pod.containers.length, 1);
    const envOf = (c: any) => Object.fromEntries(c.env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
    assert.equal(envOf(mc).METRICS_TOKEN_FILE, envOf(publisher).METRICS_TOKEN_FILE, 'one token file');
    const tokenDir = envOf(mc).METRICS_TOKEN_FILE.replace(/\/token$/, '');
    const mountOf = (c: any, path: string) => c.volumeMounts.find((m: any) => m.mountPath === path);
    assert.equal(mountOf(mc, tokenDir).name, mountOf(publisher, tokenDir).name, 'the two containers share the token volume');
    assert.equal(mountOf(publisher, tokenDir).readOnly, true);
    assert.equal(pod.volumes.find((v: any) => v.name === mountOf(mc, tokenDir).name).emptyDir.medium, 'Memory');
    assert.ok(store.bootstrapScript().includes('admin prometheus generate metrics'), 'mc signs the token with the metrics user\'s key, not root\'s');
    assert.match(store.bootstrapScript(), new RegExp(`^user '${METRICS_USER}' 'mlplat-${METRICS_USER}' 'policy-${METRICS_USER}.json'\nretire .*\nmetrics_token '${METRICS_USER}'$`, 'm'));
    // The API token reaches the publisher only, through a projected volume.
    const api = mountOf(publisher, '/var/run/secrets/kubernetes.io/serviceaccount');
    const sources = pod.volumes.find((v: any) => v.name === api.name).projected.sources;
    assert.ok(sources.some((s: any) => s.serviceAccountToken?.path === 'token'));
    assert.ok(sources.some((s: any) => s.configMap?.name === 'kube-root-ca.crt'));
    assert.ok(sources.some((s: any) => s.downwardAPI?.items?.[0]?.fieldRef?.fieldPath === 'metadata.namespace'));
    assert.deepEqual(publisher.command, ['/bin/sh', '/bootstrap/publish-token.sh']);
    assert.equal(publisher.image, `docker.io/alpine/k8s:${VERSIONS.images.kubectl.tag}`);
    assert.equal(publisher.securityContext.readOnlyRootFilesystem, true);
    const script = store.bootstrapFiles()['publish-token.sh'];
    assert.ok(script.includes(`create secret generic '${METRICS_TOKEN_SECRET}' --namespace 'minio' --from-file=token=`));
    // RBAC: create Secrets, change only the token's.
    const role = inMinio(objects, 'Role', 'minio-bootstrap');
    assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'patch'], resourceNames: [METRICS_TOKEN_SECRET] }], 'no create: the Secret is in the output');
    const secret = inMinio(objects, 'Secret', METRICS_TOKEN_SECRET);
    assert.equal(secret.data, undefined, 'without data: the publisher owns data.token');
    const binding = inMinio(objects, 'RoleBinding', 'minio-bootstrap');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'minio-bootstrap', namespace: 'minio' }]);
    // The scrape target: the server pods, their S3 port, the token's Secret key.
    const [target] = store.scrapeTargets;
    const sts = server(objects);
    assert.ok(matches(target.podSelector, sts.spec.template.metadata.labels));
    assert.ok(container(sts).ports.some((p: any) => p.name === target.port));
    assert.equal(target.path, '/minio/v2/metrics/cluster');
    assert.deepEqual(target.bearerToken, { name: METRICS_TOKEN_SECRET, key: 'token' });
    assert.ok(container(sts).env.some((e: any) => e.name === 'MINIO_PROMETHEUS_AUTH_TYPE' && e.value === 'jwt'), 'metrics need the token');
  });

  it('names the bootstrap Job after its content: stable, and new when a tenant is added', () => {
    const { app, store } = fixture();
    store.tenantBucket({ name: 'research', namespace: 'research' });
    const before = bootstrapJob(objectsOf(app)).metadata.name;
    assert.match(before, /^minio-bootstrap-[0-9a-f]{10}$/);
    assert.equal(before, store.bootstrapJobName());

    const twin = fixture();
    twin.store.tenantBucket({ name: 'research', namespace: 'research' });
    assert.equal(bootstrapJob(objectsOf(twin.app)).metadata.name, before, 'the same declarations give the same name');

    store.tenantBucket({ name: 'serving', namespace: 'serving' });
    const after = bootstrapJob(objectsOf(app)).metadata.name;
    assert.notEqual(after, before);
    assert.match(after, /^minio-bootstrap-[0-9a-f]{10}$/);

    const otherImage = fixture({ clientImage: 'registry.acme.internal/mc:v2' });
    otherImage.store.tenantBucket({ name: 'research', namespace: 'research' });
    assert.notEqual(otherImage.store.bootstrapJobName(), before, 'a new pod template gives a new Job');
  });
});
