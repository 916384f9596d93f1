/**
 * Data-plane assertions of the e2e suite (storage, credentials, database, tracking, dataset
 * cache), registered into each example's suite by e2e.test.ts. Each test skips itself when the
 * example has no such component.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it, TestContext } from 'node:test';
import { TENANT_CACHE_CLAIM } from '../../constructs/cache/dataset-cache';
import { ISecretRef } from '../../constructs/credentials/types';
import { METRICS_USER } from '../../constructs/storage/minio';
import { ClearmlServer, clearmlAgentName } from '../../constructs/tracking/clearml';
import { MlflowServer } from '../../constructs/tracking/mlflow';
import { KubeObject, SynthFile } from '../../lib/synth';
import { MlPlatform } from '../../stacks/platform';
import { Cluster, waitFor } from './lib/cluster';
import { runContainer, startContainer } from './lib/local-pod';
import { freePort, httpOk, Processes, startPostgres, until } from './lib/processes';
import { runCredentialGenerator, secretData } from './lib/storage';

export interface SuiteState {
  readonly cluster: Cluster;
  readonly files: readonly SynthFile[];
  readonly platform: MlPlatform;
}

/** The real components while they run, for checks of other areas (`whileRealComponentsRun`). */
export interface RealComponents {
  readonly procs: Processes;
  /** Every synthesized object. */
  readonly objects: readonly KubeObject[];
  /** Loopback URLs of MinIO's S3 API and of MLflow. */
  readonly s3Url: string;
  readonly mlflowUrl: string;
  /** In-cluster addresses → loopback (MLflow, PostgreSQL, S3), as `runContainer` takes them. */
  readonly rewrite: ReadonlyArray<readonly [string, string]>;
  /** PATH with the MLflow venv and mc first. */
  readonly toolsPath: string;
  /** Where a cached e2e tool is (an MLPLAT_* variable of test/e2e/tools/env.sh). */
  readonly tool: (key: string) => string;
}

interface RealComponentsHook {
  readonly state: () => SuiteState;
  readonly name: string;
  readonly run: (rc: RealComponents, t: TestContext) => Promise<void>;
}
const realComponentsHooks: RealComponentsHook[] = [];

/**
 * Registers a check that runs inside the real-components test of the suite `state` belongs to,
 * while MinIO, PostgreSQL and MLflow run and every tenant is still declared (before the
 * tenant-removal steps). Called when the suite is defined.
 */
export function whileRealComponentsRun(state: () => SuiteState, name: string, run: (rc: RealComponents, t: TestContext) => Promise<void>): void {
  realComponentsHooks.push({ state, name, run });
}

const objectsOf = (s: SuiteState): KubeObject[] => s.files.flatMap((f) => f.objects);
const one = (objects: readonly KubeObject[], kind: string, namespace: string, name: string | RegExp): any => {
  const hits = objects.filter((o) => o.kind === kind && o.metadata.namespace === namespace && (typeof name === 'string' ? o.metadata.name === name : name.test(o.metadata.name)));
  assert.equal(hits.length, 1, `one ${kind} ${namespace}/${name} in the output`);
  return hits[0];
};

/** Runs the credentials Job's script (as its ServiceAccount); called right after apply. */
export function credentialTests(state: () => SuiteState): void {
  it('creates every declared credential once, as the generator ServiceAccount allows, and none is in the output', (t) => {
    const { cluster, platform, files } = state();
    // Only platforms with a component that needs a credential have the generator.
    if (!objectsOf(state()).some((o) => o.kind === 'ConfigMap' && o.metadata.name === 'mlplat-credentials')) return t.skip('no component of this example needs a credential');
    const gen = platform.credentials;
    // What the operators that kwok does not run (Rook) would write: the Secrets copies wait for.
    for (const src of gen.externalSources) {
      const data = Object.fromEntries(src.keys.map((k) => [k, Buffer.from(`${src.producer}-${k}-${Math.random().toString(36).slice(2)}`).toString('base64')]));
      const r = cluster.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: src.name, namespace: src.namespace }, data });
      assert.equal(r.code, 0, r.stderr);
    }
    const script = one(objectsOf(state()), 'ConfigMap', gen.namespace, gen.configMapName).data['generate.sh'];
    const first = runCredentialGenerator(cluster, script, `${gen.namespace}:${gen.serviceAccountName}`);
    assert.equal((first.match(/^created: /gm) ?? []).length, gen.secrets.length, first);
    const versions = new Map<string, string>();
    for (const s of gen.secrets) {
      const obj = cluster.get<any>(['secret', s.name, '-n', s.namespace]);
      assert.deepEqual(Object.keys(obj.data).sort(), [...s.keys].sort(), `${s.namespace}/${s.name} keys`);
      versions.set(`${s.namespace}/${s.name}`, obj.metadata.resourceVersion);
      for (const [key, b64] of Object.entries<string>(obj.data)) {
        const value = Buffer.from(b64, 'base64').toString('utf8');
        if (value.length >= 16 && /^[A-Za-z0-9]+$/.test(value)) {
          for (const f of files) assert.ok(!JSON.stringify(f.objects).includes(value), `${s.namespace}/${s.name}.${key} appears in ${f.name}`);
        }
      }
    }
    const second = runCredentialGenerator(cluster, script, `${gen.namespace}:${gen.serviceAccountName}`);
    assert.equal((second.match(/^exists: /gm) ?? []).length, gen.secrets.length, second);
    for (const s of gen.secrets) {
      assert.equal(cluster.get<any>(['secret', s.name, '-n', s.namespace]).metadata.resourceVersion, versions.get(`${s.namespace}/${s.name}`), 'a re-run changes nothing');
    }
    // The ServiceAccount can neither list nor change Secrets.
    const as = ['--as', `system:serviceaccount:${gen.namespace}:${gen.serviceAccountName}`];
    const s0 = gen.secrets[0];
    assert.notEqual(cluster.kubectl([...as, 'get', 'secrets', '-n', s0.namespace]).code, 0, 'list is forbidden');
    assert.notEqual(cluster.kubectl([...as, 'delete', 'secret', s0.name, '-n', s0.namespace]).code, 0, 'delete is forbidden');
  });
}

export function dataPlaneTests(state: () => SuiteState): void {
  it('gives every tenant its storage credentials, tracking credentials and a bound read-only cache volume', { skip: false }, async (t) => {
    const { cluster, platform } = state();
    if (!platform.storage) return t.skip('no storage in this example');
    for (const tenant of platform.tenants) {
      const s3: ISecretRef = platform.storage.tenantBucket(tenant).credentials;
      if (s3.producer === 'rook-ceph') {
        // Rook writes the Secret named after the ObjectBucketClaim (no Rook runs here): the claim is what mlplat owns.
        const obc = cluster.get<any>(['objectbucketclaim', s3.name, '-n', tenant.namespace]);
        assert.equal(obc.spec.bucketName, `tenant-${tenant.name}`);
      } else {
        assert.deepEqual(Object.keys(secretData(cluster, s3.namespace, s3.name)).sort().filter((k) => k.startsWith('AWS_')), ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
      }
      if (platform.tracking instanceof MlflowServer) {
        const data = secretData(cluster, tenant.namespace, 'mlflow-credentials');
        assert.equal(data.MLFLOW_WORKSPACE, tenant.name);
        assert.equal(data.MLFLOW_TRACKING_USERNAME, tenant.name);
      }
      if (platform.datasetCache) {
        await waitFor(`${tenant.namespace}/${TENANT_CACHE_CLAIM} bound`, () => {
          const pvc = cluster.get<any>(['pvc', TENANT_CACHE_CLAIM, '-n', tenant.namespace]);
          return pvc.status?.phase === 'Bound' ? pvc : undefined;
        });
        const pvc = cluster.get<any>(['pvc', TENANT_CACHE_CLAIM, '-n', tenant.namespace]);
        assert.equal(pvc.spec.volumeName, `mlplat-dataset-cache-${tenant.name}`);
        assert.deepEqual(pvc.status.accessModes, ['ReadOnlyMany']);
      }
    }
  });

  it('refuses a tenant pod that mounts the dataset cache writable, and admits it read-only', (t) => {
    const { cluster, platform } = state();
    const cache = platform.datasetCache;
    const tenant = platform.tenants[0];
    if (!cache || !tenant) return t.skip('no dataset cache in this example');
    const pod = (name: string, readOnly: boolean) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: tenant.namespace },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'c',
            image: 'busybox',
            resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '16Mi' } },
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            volumeMounts: [{ name: 'd', mountPath: '/datasets' }],
          },
        ],
        volumes: [{ name: 'd', persistentVolumeClaim: { claimName: TENANT_CACHE_CLAIM, readOnly } }],
      },
    });
    const rw = cluster.create(pod('cache-writer', false));
    assert.notEqual(rw.code, 0);
    assert.match(rw.stderr, /the shared cache is read-only/);
    // The mount helper's spec is admitted (read-only claim).
    const bare = pod('cache-reader', true);
    const spec: any = { ...bare.spec, volumes: [], containers: bare.spec.containers.map((c) => ({ ...c, volumeMounts: [] })) };
    const ro = cluster.create({ ...bare, spec: cache.mountInto(spec) });
    assert.equal(ro.code, 0, ro.stderr);
  });

  it('runs a ClearML agent per tenant and granted GPU pool, each with that pool\'s queue and placement', (t) => {
    const { cluster, platform } = state();
    const tracking = platform.tracking;
    if (!(tracking instanceof ClearmlServer)) return t.skip('no ClearML in this example');
    const expected = platform.tenants.flatMap((tn) => [...tn.gpuGrants.keys()].map((p) => ({ tenant: tn.name, pool: p.name })));
    assert.equal(tracking.queues.length, expected.length);
    for (const q of tracking.queues) {
      // The glue runs in the ClearML namespace (tenants cannot write there); its task pods run in the tenant's.
      const agent: any = cluster.get(['deployment', clearmlAgentName(q.tenant, q.pool), '-n', tracking.namespace]);
      assert.ok(JSON.stringify(agent.spec.template.spec.containers).includes(q.queue), `${agent.metadata.name} serves queue ${q.queue}`);
      assert.equal(agent.status?.availableReplicas, agent.spec.replicas, `${agent.metadata.name} is available`);
      const role: any = cluster.get(['role', clearmlAgentName(q.tenant, q.pool), '-n', q.tenant]);
      assert.deepEqual(role.rules.map((r: any) => r.resources).flat(), ['pods'], 'the agent may only manage pods in the tenant namespace');
    }
  });

  it('real components: MinIO (bootstrap as synthesized), PostgreSQL and MLflow log and read back a tenant run; tenants are isolated', { timeout: 900_000 }, async (t) => {
    const s = state();
    const { cluster, platform } = s;
    const store = platform.storage;
    const mlflow = platform.tracking;
    if (!(mlflow instanceof MlflowServer) || store?.kind !== 'minio') return t.skip('this example does not run MLflow on MinIO');
    const objects = objectsOf(s);
    const env = cluster.env;
    const bin = (k: string) => env[k] ?? assert.fail(`${k} is not set (test/e2e/tools/env.sh)`);
    const started = Date.now();
    const procs = new Processes('mlplat-e2e-real');
    try {
      // MinIO: the synthesized StatefulSet's container, listening on loopback.
      const s3Port = await freePort();
      const consolePort = await freePort();
      const minioSts = one(objects, 'StatefulSet', store.namespace, 'minio');
      startContainer({
        cluster, procs, objects, name: 'minio',
        pod: { namespace: store.namespace, spec: minioSts.spec.template.spec },
        rewriteArgs: { ':9000': `127.0.0.1:${s3Port}`, ':9001': `127.0.0.1:${consolePort}` },
        commands: { minio: path.join(bin('MLPLAT_MINIO_BIN'), 'minio') },
      });
      const s3Url = `http://127.0.0.1:${s3Port}`;
      await until('MinIO ready', () => httpOk(`${s3Url}/minio/health/ready`), 60_000).catch((e) => assert.fail(`${e}\n${procs.tail('minio')}`));

      // Its bootstrap Job's container, twice (idempotent).
      const bootstrap = one(objects, 'Job', store.namespace, /^minio-bootstrap-/);
      // Its containers in pod order: mc (init container), then the token publisher, which talks
      // to the API server as the Job's ServiceAccount.
      const bootstrapSa = `system:serviceaccount:${store.namespace}:${bootstrap.spec.template.spec.serviceAccountName}`;
      const runBootstrap = () => {
        for (const c of [...(bootstrap.spec.template.spec.initContainers ?? []), ...bootstrap.spec.template.spec.containers]) {
          runContainer({
            cluster, procs, objects, name: 'minio-bootstrap', container: c.name,
            pod: { namespace: store.namespace, spec: bootstrap.spec.template.spec },
            rewrite: [[store.s3.url, s3Url]],
            extraEnv: {
              PATH: `${bin('MLPLAT_MC_BIN')}:${process.env.PATH}`,
              KUBECTL: `${cluster.env.MLPLAT_KUBE_BIN}/kubectl --kubeconfig=${cluster.kubeconfig} --as=${bootstrapSa}`,
            },
          });
        }
      };
      runBootstrap();
      const metricsOf = (token?: string) => fetch(`${s3Url}/minio/v2/metrics/cluster`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      const monitor = one(objects, 'PodMonitor', store.namespace, 'minio');
      const creds = monitor.spec.podMetricsEndpoints[0].authorization.credentials;
      const firstToken = secretData(cluster, store.namespace, creds.name)[creds.key];
      assert.ok(firstToken, `the bootstrap published Secret ${creds.name} with key ${creds.key}`);
      runBootstrap();
      const token = secretData(cluster, store.namespace, creds.name)[creds.key];
      const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
      assert.equal(claims.sub, METRICS_USER, 'signed by the metrics user (admin:Prometheus only), not root: a root-signed token would pass the internode checks');
      const scraped = await metricsOf(token);
      assert.equal(scraped.status, 200, 'the published token opens the metrics endpoint the PodMonitor scrapes');
      assert.match(await scraped.text(), /^minio_cluster_capacity_usable_total_bytes/m, 'the series the storage alert reads');
      assert.equal((await metricsOf(firstToken)).status, 200, 'a token of an earlier run stays valid (same root password)');
      assert.equal((await metricsOf()).status, 403, 'no token: no metrics (tenants reach this port)');
      assert.equal((await metricsOf(`${token.slice(0, -4)}AAAA`)).status, 403, 'a forged token is refused');
      assert.notEqual(cluster.kubectl(['--as', bootstrapSa, 'get', 'secret', 'minio-root', '-n', store.namespace]).code, 0, 'the bootstrap reads no other Secret');

      // PostgreSQL, with the roles and databases the synthesized CloudNativePG objects declare.
      const pg = await startPostgres(procs, bin('MLPLAT_POSTGRES_BIN'));
      const cnpg = one(objects, 'Cluster', 'databases', 'platform');
      for (const role of cnpg.spec.managed.roles) {
        const pw = secretData(cluster, 'databases', role.passwordSecret.name).password;
        pg.psql(`CREATE ROLE "${role.name}" LOGIN PASSWORD '${pw}'`);
      }
      for (const db of objects.filter((o: any) => o.kind === 'Database' && o.spec.cluster.name === 'platform') as any[]) {
        pg.psql(`CREATE DATABASE "${db.spec.name}" OWNER "${db.spec.owner}"`);
      }

      // MLflow: the synthesized Deployment's container and start script.
      const mlflowPort = await freePort();
      const mlflowUrl = `http://localhost:${mlflowPort}`;
      const rewrite: Array<[string, string]> = [
        [mlflow.endpoint.url, mlflowUrl],
        [`${mlflow.trackingDatabase.endpoint.host}:${mlflow.trackingDatabase.endpoint.port}`, `127.0.0.1:${pg.port}`],
        [store.s3.url, s3Url],
      ];
      const toolsPath = `${bin('MLPLAT_MLFLOW_BIN')}:${bin('MLPLAT_MC_BIN')}:${process.env.PATH}`;
      const dep = one(objects, 'Deployment', mlflow.namespace, 'mlflow');
      startContainer({
        cluster, procs, objects, name: 'mlflow',
        pod: { namespace: mlflow.namespace, spec: dep.spec.template.spec },
        rewrite,
        rewriteArgs: { '0.0.0.0': '127.0.0.1', [String(mlflow.endpoint.port)]: String(mlflowPort) },
        extraEnv: { PATH: toolsPath },
      });
      await until('MLflow healthy', () => httpOk(`${mlflowUrl}/health`), 180_000).catch((e) => assert.fail(`${e}\n${procs.tail('mlflow')}`));

      const mlflowJob = one(objects, 'Job', mlflow.namespace, /^mlflow-bootstrap-/);
      const runMlflowBootstrap = () =>
        runContainer({
          cluster, procs, objects, name: 'mlflow-bootstrap',
          pod: { namespace: mlflow.namespace, spec: mlflowJob.spec.template.spec },
          rewrite,
          commands: { python: path.join(bin('MLPLAT_MLFLOW_BIN'), 'mlflow-python') },
          extraEnv: { PATH: toolsPath },
        });
      runMlflowBootstrap();
      assert.match(runMlflowBootstrap(), /exists/);

      // A tenant's data scientist, with only the tenant's Secret.
      const [a, b] = platform.tenants;
      const client = path.join(__dirname, 'fixtures', 'mlflow_tenant.py');
      const asTenant = (tenant: string, ...args: string[]): any => {
        const creds = secretData(cluster, tenant, 'mlflow-credentials');
        const r = spawnSync(path.join(bin('MLPLAT_MLFLOW_BIN'), 'mlflow-python'), [client, ...args], {
          encoding: 'utf8',
          env: { PATH: toolsPath, HOME: procs.dir, ...creds, MLFLOW_TRACKING_URI: creds.MLFLOW_TRACKING_URI.replace(mlflow.endpoint.url, mlflowUrl) },
          timeout: 120_000,
        });
        assert.equal(r.status, 0, `${tenant} ${args.join(' ')}: ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      };
      const logged = asTenant(a.name, 'log', `written by ${a.name}`);
      assert.match(logged.artifact_uri, new RegExp(`^mlflow-artifacts:/workspaces/${a.name}/`));
      assert.deepEqual(asTenant(a.name, 'read', logged.run_id), { content: `written by ${a.name}`, lr: '0.001', loss: 0.25 });
      if (b) {
        const probe = asTenant(b.name, 'probe', logged.run_id);
        assert.ok(!probe.experiments.includes('e2e-experiment'), `${b.name} sees ${a.name}'s experiments: ${probe.experiments}`);
        assert.notEqual(probe.get_run, 'allowed', `${b.name} read ${a.name}'s run`);
      }

      // Checks of other areas registered for this suite (every suite shares this module's list).
      const rc: RealComponents = { procs, objects, s3Url, mlflowUrl, rewrite, toolsPath, tool: bin };
      for (const hook of realComponentsHooks.filter((h) => h.state().platform === platform)) {
        const t0 = Date.now();
        await hook.run(rc, t);
        t.diagnostic(`${hook.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      }

      // Removing a tenant: the bootstrap with a tenant list without it deletes its MLflow user.
      if (b) {
        const fewer = path.join(procs.dir, 'tenants-without-b.json');
        const listed = JSON.parse(one(objects, 'ConfigMap', mlflow.namespace, 'mlflow-bootstrap').data['tenants.json']) as Array<{ workspace: string }>;
        fs.writeFileSync(fewer, JSON.stringify(listed.filter((x) => x.workspace !== b.name)));
        const out = runContainer({
          cluster, procs, objects, name: 'mlflow-bootstrap',
          pod: { namespace: mlflow.namespace, spec: mlflowJob.spec.template.spec },
          rewrite,
          commands: { python: path.join(bin('MLPLAT_MLFLOW_BIN'), 'mlflow-python') },
          extraEnv: { PATH: toolsPath, TENANTS_FILE: fewer },
        });
        assert.match(out, new RegExp(`user ${b.name}: tenant removed`));
        const creds = secretData(cluster, b.namespace, 'mlflow-credentials');
        const r = await fetch(`${mlflowUrl}/api/2.0/mlflow/experiments/search?max_results=1`, {
          headers: { Authorization: `Basic ${Buffer.from(`${creds.MLFLOW_TRACKING_USERNAME}:${creds.MLFLOW_TRACKING_PASSWORD}`).toString('base64')}` },
        });
        assert.equal(r.status, 401, `${b.name} still logs in after removal`);
      }

      // The artifact is in the platform bucket; tenant S3 users reach only their own bucket.
      const rootCreds = secretData(cluster, store.namespace, 'minio-root');
      const mc = (alias: Record<string, string>, ...args: string[]) =>
        spawnSync(path.join(bin('MLPLAT_MC_BIN'), 'mc'), args, { encoding: 'utf8', env: { PATH: toolsPath, MC_CONFIG_DIR: path.join(procs.dir, '.mc'), ...alias } });
      const host = (creds: Record<string, string>) => `http://${creds.AWS_ACCESS_KEY_ID}:${creds.AWS_SECRET_ACCESS_KEY}@127.0.0.1:${s3Port}`;
      const root = { MC_HOST_s3: host({ AWS_ACCESS_KEY_ID: rootCreds.MINIO_ROOT_USER, AWS_SECRET_ACCESS_KEY: rootCreds.MINIO_ROOT_PASSWORD }) };
      const listing = mc(root, 'ls', '--recursive', 's3/artifacts');
      assert.match(listing.stdout, new RegExp(`workspaces/${a.name}/.*notes\\.txt`), listing.stderr);
      const note = path.join(procs.dir, 'note.txt');
      fs.writeFileSync(note, 'tenant data');
      const aCreds = { MC_HOST_t: host(secretData(cluster, a.namespace, 's3-credentials')) };
      assert.equal(mc(aCreds, 'cp', note, `t/tenant-${a.name}/note.txt`).status, 0);
      assert.equal(mc(aCreds, 'cat', `t/tenant-${a.name}/note.txt`).stdout, 'tenant data');
      assert.notEqual(mc(aCreds, 'ls', 't/artifacts').status, 0, 'tenants cannot list the artifacts bucket');
      if (b) {
        const bCreds = { MC_HOST_t: host(secretData(cluster, b.namespace, 's3-credentials')) };
        const denied = mc(bCreds, 'cat', `t/tenant-${a.name}/note.txt`);
        assert.notEqual(denied.status, 0, `${b.name} read ${a.name}'s bucket`);
        assert.match(denied.stderr + denied.stdout, /Access Denied|Insufficient permissions/);
        assert.notEqual(mc(aCreds, 'ls', `t/tenant-${b.name}`).status, 0);
        assert.equal(mc(bCreds, 'ls', `t/tenant-${b.name}`).status, 0, `${b.name} reaches its own bucket`);

        // Removing a tenant: the bootstrap of a config without it disables its S3 user.
        const cm = one(objects, 'ConfigMap', store.namespace, 'minio-bootstrap');
        const script = (cm.data['bootstrap.sh'] as string)
          .split('\n')
          .filter((l) => !l.startsWith(`user 'tenant-${b.name}'`))
          .join('\n')
          .replace(` tenant-${b.name} `, ' ');
        const withoutB = objects.map((o) => (o === cm ? { ...cm, data: { ...cm.data, 'bootstrap.sh': script } } : o));
        const out = runContainer({
          cluster, procs, objects: withoutB, name: 'minio-bootstrap', container: 'bootstrap',
          pod: { namespace: store.namespace, spec: bootstrap.spec.template.spec },
          rewrite: [[store.s3.url, s3Url]],
          extraEnv: { PATH: toolsPath },
        });
        assert.match(out, new RegExp(`user tenant-${b.name}: no longer declared, disabling`));
        assert.notEqual(mc(bCreds, 'ls', `t/tenant-${b.name}`).status, 0, `${b.name}'s S3 keys still work after removal`);
        assert.equal(mc(aCreds, 'ls', `t/tenant-${a.name}`).status, 0, `${a.name} is not affected`);
      }
      // The dataset cache's prefetch Job, as synthesized, fills the cache from the store; a second
      // run copies nothing new.
      const cache = platform.datasetCache;
      const prefetch = objects.find((o: any) => o.kind === 'Job' && o.metadata.namespace === 'dataset-cache') as any;
      if (cache && prefetch) {
        const [src, dst] = prefetch.spec.template.spec.containers[0].command.slice(4) as string[];
        const weights = path.join(procs.dir, 'weights.safetensors');
        fs.writeFileSync(weights, 'w'.repeat(4096));
        assert.equal(mc(root, 'cp', weights, `${src.replace(/^src\//, 's3/')}/model.safetensors`).status, 0);
        const cacheDir = path.join(procs.dir, 'cache-volume');
        const runPrefetch = () =>
          runContainer({
            cluster, procs, objects, name: 'prefetch',
            pod: { namespace: 'dataset-cache', spec: prefetch.spec.template.spec },
            rewrite: [[store.s3.url, s3Url]],
            claimDirs: { cache: cacheDir },
            extraEnv: { PATH: toolsPath },
          });
        runPrefetch();
        const landed = path.join(cacheDir, dst.replace(/^\/cache\//, ''), 'model.safetensors');
        assert.equal(fs.readFileSync(landed, 'utf8').length, 4096, 'prefetched into the cache');
        const before = fs.statSync(landed).mtimeMs;
        runPrefetch();
        assert.equal(fs.statSync(landed).mtimeMs, before, 'a second prefetch leaves unchanged files alone');
      }
      process.stdout.write(`# real components: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    } finally {
      procs.cleanup();
    }
  });
}
