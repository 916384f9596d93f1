/**
 * ClearML model sources (`source: { clearml: { id } }`): the endpoint and its fetch Job as
 * synthesized for initech, the refusals of the stack, the construct and the config loader, and
 * fetch-clearml.py run for real against the ClearML stand-in of the e2e suite (apiserver,
 * fileserver and a minimal S3; test/e2e/serving.ts CLEARML_STUB_PY). The e2e suite runs the
 * synthesized Job against real MinIO.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { App } from 'cdk8s';
import { TENANT_NAMESPACES } from '../../constructs/gpu/access-policy';
import { SERVING_PREFIX } from '../../constructs/serving/endpoint';
import { tenantBucketName } from '../../constructs/storage/types';
import { AGENT_KEYS, AGENT_SECRET, ClearmlServer } from '../../constructs/tracking/clearml';
import { externalSecret } from '../../constructs/credentials/generator';
import { ConfigError, formatIssue, loadPlatform, parsePlatform } from '../../lib/config/load';
import { KubeObject } from '../../lib/synth';
import { VERSIONS } from '../../lib/versions';
import { MlPlatform, platformApp } from '../../stacks/platform';
import { ClearmlStub, startClearmlStub, zipOf } from '../e2e/serving';
import { Processes } from '../e2e/lib/processes';
import { all, find, objectsOf, ROOT, synthText } from '../helpers';

const INITECH = path.join(ROOT, 'examples', 'initech', 'platform.yaml');
const SCRIPT = path.join(ROOT, 'constructs', 'serving', 'fetch-clearml.py');
const run = promisify(execFile);

/** initech, synthesized once. */
const INITECH_SPEC = loadPlatform(INITECH).spec;
const initech = (() => {
  const { app, platform } = platformApp(INITECH_SPEC);
  return { objects: objectsOf(app), platform };
})();
const MODEL = INITECH_SPEC.spec.serving!.models.find((m) => 'clearml' in m.source)!;
const MODEL_ID = (MODEL.source as { clearml: { id: string } }).clearml.id;

const fetchJobs = (objects: readonly KubeObject[], ns: string, model: string): any[] => all(objects, 'Job', ns).filter((j) => j.metadata.name.startsWith(`model-${model}-fetch-`));
const envMap = (c: any): Map<string, string> => new Map(c.env.map((e: any) => [e.name, e.value]));

describe('ClearML source: the endpoint and its fetch Job (initech)', () => {
  const { objects, platform } = initech;
  const tenant = platform.tenants.find((t) => t.name === MODEL.tenant)!;
  const tracking = platform.tracking as ClearmlServer;
  const store = platform.storage!;
  const storageUri = `s3://${tenantBucketName(MODEL.tenant)}/${SERVING_PREFIX}/${MODEL.name}/clearml-${MODEL_ID}/`;

  it("loads from a fixed prefix of the tenant's bucket, derived from the id alone", () => {
    assert.equal(storageUri, 's3://tenant-forecasting/mlplat-serving/demand/clearml-4f1c2b7e9a0d4c3b8e6f5a2d1c0b9e8f/');
    const isvc = find(objects, 'InferenceService', MODEL.name, tenant.namespace);
    assert.equal(isvc.spec.predictor.model.storageUri, storageUri);
    assert.equal(platform.serving!.endpoints.find((e) => e.name === MODEL.name)!.storageUri, storageUri);
    // The storage initializer reads it with the tenant's S3 keys.
    assert.equal(isvc.metadata.annotations['serving.kserve.io/secretName'], store.tenantBucket(tenant).credentials.name);
  });

  it("resolves and copies with one Job in the tenant's namespace, with the tenant's own ClearML key pair and S3 keys only", () => {
    const jobs = fetchJobs(objects, tenant.namespace, MODEL.name);
    assert.equal(jobs.length, 1);
    const job = jobs[0];
    assert.match(job.metadata.name, /^model-demand-fetch-[0-9a-f]{8}$/);
    assert.deepEqual(job.spec.template.metadata.labels, { 'mlplat.io/model': MODEL.name, 'mlplat.io/role': 'model-fetch' });
    const pod = job.spec.template.spec;
    const [c] = pod.containers;
    const env = envMap(c);
    assert.deepEqual([...env.keys()], ['CLEARML_MODEL_ID', 'TARGET_URI', 'CLEARML_API_HOST', 'CLEARML_FILES_HOST', 'AWS_ENDPOINT_URL', 'AWS_DEFAULT_REGION', 'HOME']);
    assert.equal(env.get('CLEARML_MODEL_ID'), MODEL_ID);
    assert.equal(env.get('TARGET_URI'), storageUri, 'the Job writes where the predictor reads');
    assert.equal(env.get('CLEARML_API_HOST'), tracking.api.url);
    assert.equal(env.get('CLEARML_API_HOST'), 'http://clearml-apiserver.clearml.svc:8008');
    assert.equal(env.get('CLEARML_FILES_HOST'), tracking.files.url);
    assert.equal(env.get('AWS_ENDPOINT_URL'), store.s3.url);
    assert.equal(env.get('AWS_DEFAULT_REGION'), store.region);
    assert.ok(c.env.every((e: any) => e.valueFrom === undefined), 'credentials only through envFrom');
    // Exactly the tenant's two Secrets, both declared in its namespace with the keys the script reads.
    assert.deepEqual(c.envFrom, [{ secretRef: { name: AGENT_SECRET } }, { secretRef: { name: 's3-credentials' } }]);
    const pair = platform.credentials.secrets.find((s) => s.namespace === tenant.namespace && s.name === AGENT_SECRET);
    assert.ok(pair, 'the ClearML key pair is declared by the generator in the tenant namespace');
    assert.deepEqual([...pair.keys].sort(), Object.values(AGENT_KEYS).sort());
    const s3 = store.tenantBucket(tenant).credentials;
    assert.equal(s3.namespace, tenant.namespace);
    assert.equal(s3.name, 's3-credentials');
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) assert.ok(s3.keys.includes(k), k);
    // The plain Python image: the script needs the standard library only.
    assert.equal(c.image, `docker.io/${VERSIONS.images.python.repository}:${VERSIONS.images.python.tag}`);
    assert.deepEqual(c.command, ['python', '-B', '/etc/model-fetch/fetch.py']);
    const script = pod.volumes.find((v: any) => v.name === c.volumeMounts.find((m: any) => m.mountPath === '/etc/model-fetch').name);
    const cm = find(objects, 'ConfigMap', script.configMap.name, tenant.namespace);
    assert.equal(cm.metadata.name, job.metadata.name, 'the script is named like the Job (by content)');
    assert.equal(cm.data['fetch.py'], fs.readFileSync(SCRIPT, 'utf8'));
    // Hardened: the tenant's ServiceAccount without a token, non-root, read-only root, bounded.
    assert.equal(pod.serviceAccountName, tenant.serviceAccountName);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.deepEqual(c.resources, { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } });
    assert.ok(c.volumeMounts.some((m: any) => m.mountPath === '/tmp') && env.get('HOME') === '/tmp', 'a writable /tmp for the download');
    assert.equal(pod.restartPolicy, 'OnFailure');
    assert.equal(job.spec.backoffLimit, 6);
  });

  it('lets the tenant namespace reach the ClearML apiserver and fileserver on their ports', () => {
    const ns = find(objects, 'Namespace', tenant.namespace);
    const [selector] = TENANT_NAMESPACES.matchExpressions;
    assert.ok(selector.key in ns.metadata.labels, `${tenant.namespace} carries ${selector.key}`);
    for (const endpoint of [tracking.api, tracking.files]) {
      const policy = find(objects, 'NetworkPolicy', `${endpoint.name}-from-tenants`, tracking.namespace);
      const [rule] = policy.spec.ingress;
      assert.deepEqual(rule.from, [{ namespaceSelector: TENANT_NAMESPACES }]);
      assert.deepEqual(rule.ports.map((p: any) => p.port), [endpoint.port]);
    }
  });

  it('names the Job by content: another id is another Job and prefix; the same config the same Job', () => {
    const other = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const text = fs.readFileSync(INITECH, 'utf8');
    const changed = synthText(text.replace(MODEL_ID, other)).objects;
    const [a] = fetchJobs(objects, tenant.namespace, MODEL.name);
    const [b] = fetchJobs(changed, tenant.namespace, MODEL.name);
    assert.notEqual(a.metadata.name, b.metadata.name);
    assert.equal(find(changed, 'InferenceService', MODEL.name, tenant.namespace).spec.predictor.model.storageUri, storageUri.replace(MODEL_ID, other));
    assert.equal(envMap(b.spec.template.spec.containers[0]).get('TARGET_URI'), storageUri.replace(MODEL_ID, other));
    assert.equal(fetchJobs(synthText(text).objects, tenant.namespace, MODEL.name)[0].metadata.name, a.metadata.name);
  });

  it('writes no ClearML access into other tenants, and no fetch Job for other sources', () => {
    for (const t of platform.tenants.filter((x) => x !== tenant)) assert.deepEqual(all(objects, 'Job', t.namespace).filter((j) => j.metadata.name.includes('-fetch-')), []);
  });
});

/** A platform with ClearML (or `tracking`), tenant `team` granted a pool (so it has a ClearML agent) and tenant `cpu` granted none. */
function clearmlPlatform(tracking: 'clearml' | 'mlflow' | 'none' = 'clearml', agents = true) {
  const app = new App();
  const p = new MlPlatform(app, 'Platform', { client: 'demo', domain: 'ml.demo.example' });
  p.gpu.addPool('h100', { gpuModel: 'H100-80GB', gpusPerNode: 8 });
  p.enableStorage({ kind: 'minio' });
  p.enableIngress({ tls: { mode: 'selfSigned' } });
  p.enableSso();
  if (tracking === 'clearml') p.enableTracking({ kind: 'clearml', agents });
  if (tracking === 'mlflow') p.enableTracking({ kind: 'mlflow' });
  p.addTenant('team', { groups: ['team'], cpu: '16', memory: '64Gi' }).grantGpus(p.gpu.pool('h100'), 1);
  p.addTenant('cpu', { groups: ['cpu'], cpu: '8', memory: '32Gi' });
  return { app, platform: p };
}
const ID = '0123456789abcdef0123456789abcdef';
const clearmlModel = (extra: Partial<Parameters<MlPlatform['serveModel']>[0]> = {}): Parameters<MlPlatform['serveModel']>[0] => ({
  name: 'm',
  tenant: 'team',
  format: 'sklearn',
  source: { clearml: { id: ID } },
  resources: { cpu: '1', memory: '1Gi' },
  ...extra,
});

describe('ClearML source: refusals of the stack and the construct', () => {
  it('serves a ClearML model of a tenant with an agent, on CPU or on its pool', () => {
    const { app, platform } = clearmlPlatform();
    const e = platform.serveModel(clearmlModel());
    assert.equal(e.storageUri, `s3://tenant-team/${SERVING_PREFIX}/m/clearml-${ID}/`);
    platform.serveModel(clearmlModel({ name: 'g', pool: 'h100', gpus: 1 }));
    assert.equal(fetchJobs(objectsOf(app), 'team', 'g').length, 1);
  });

  it('needs ClearML tracking', () => {
    for (const kind of ['none', 'mlflow'] as const) {
      assert.throws(() => clearmlPlatform(kind).platform.serveModel(clearmlModel()), /model m: a ClearML source needs tracking kind clearml/, kind);
    }
  });

  it('gives a tenant without an agent (CPU only, or agents off) its ClearML key pair for the fetch, registered with the apiserver', () => {
    for (const [agents, tenant] of [[true, 'cpu'], [false, 'team']] as const) {
      const { app, platform } = clearmlPlatform('clearml', agents);
      platform.serveModel(clearmlModel({ tenant }));
      const objects = objectsOf(app);
      const [job] = fetchJobs(objects, tenant, 'm');
      assert.ok(job, `a fetch Job for ${tenant}`);
      const pair = platform.credentials.secrets.find((x) => x.namespace === tenant && x.name === AGENT_SECRET);
      assert.ok(pair, `${tenant}: the key pair is declared in its namespace`);
      const env = JSON.stringify(find(objects, 'Deployment', 'clearml-apiserver', 'clearml').spec.template.spec.containers[0].env);
      assert.ok(env.includes(`CLEARML__SECURE__CREDENTIALS__AGENT_${tenant.toUpperCase()}__`), `${tenant}: the apiserver registers its user`);
    }
  });

  it('refuses, in the construct, a source it cannot fetch, before adding anything to the tree', () => {
    const { platform } = clearmlPlatform();
    const serving = platform.enableServing();
    const tracking = platform.tracking as ClearmlServer;
    const team = platform.tenants.find((t) => t.name === 'team')!;
    const storageCredentials = platform.storage!.tenantBucket(team).credentials;
    const pair = platform.credentials.secrets.find((s) => s.namespace === 'team' && s.name === AGENT_SECRET)!;
    const base = { name: 'm', tenant: team, format: 'sklearn' as const, resources: { cpu: '1', memory: '1Gi' }, storageCredentials };
    const access = { credentials: pair, api: tracking.api, files: tracking.files };
    assert.throws(() => serving.addModel({ ...base, source: { clearml: { id: ID } } }), /model m: a ClearML source needs the ClearML tracking server/);
    assert.throws(() => serving.addModel({ ...base, source: { clearml: { id: 'ABCDEF' } }, clearml: access }), /model m: "ABCDEF" is no ClearML model id \(32 hex characters\)/);
    const elsewhere = externalSecret('cpu', AGENT_SECRET, Object.values(AGENT_KEYS), 'mlplat-credentials');
    assert.throws(() => serving.addModel({ ...base, source: { clearml: { id: ID } }, clearml: { ...access, credentials: elsewhere } }), /model m: the ClearML key pair cpu\/clearml-agent is not in the tenant's namespace team/);
    const partial = externalSecret('team', 'half', [AGENT_KEYS.accessKey], 'mlplat-credentials');
    assert.throws(() => serving.addModel({ ...base, source: { clearml: { id: ID } }, clearml: { ...access, credentials: partial } }), /model m: the ClearML key pair team\/half has no CLEARML_API_SECRET_KEY/);
    // Nothing was added: the same model, corrected, is accepted.
    assert.doesNotThrow(() => serving.addModel({ ...base, source: { clearml: { id: ID } }, clearml: access }));
  });
});

describe('ClearML source: config validation', () => {
  const text = fs.readFileSync(INITECH, 'utf8');
  const errors = (t: string): string[] => {
    try {
      parsePlatform(t, 'platform.yaml');
      return [];
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.issues.filter((i) => i.severity === 'error').map(formatIssue);
    }
  };
  /** `line:col` of `needle` (the value a message points at). */
  const pos = (t: string, needle: string) => {
    const lines = t.split('\n');
    const i = lines.findIndex((l) => l.includes(needle));
    return `${i + 1}:${lines[i].indexOf(needle) + 1}`;
  };

  it('accepts initech\'s ClearML model', () => {
    assert.deepEqual(errors(text), []);
  });

  it('needs ClearML tracking', () => {
    const noTracking = text.replace('  tracking:\n    kind: clearml\n', '');
    assert.deepEqual(errors(noTracking), [`platform.yaml:${pos(noTracking, '{ id:')} spec.serving.models[0].source.clearml: needs spec.tracking.kind: clearml`]);
  });

  it('accepts a model of a tenant without an agent (no GPU pool granted, or agents off)', () => {
    const noGpus = text.replace('quota: { cpu: "48", memory: 192Gi, gpus: { a100: 8, rtx: 4 } }', 'quota: { cpu: "48", memory: 192Gi, gpus: { a100: 0 } }');
    assert.deepEqual(errors(noGpus), []);
    const noAgents = text.replace('    kind: clearml\n', '    kind: clearml\n    agents: false\n');
    assert.deepEqual(errors(noAgents), []);
  });

  it('refuses an id that is not 32 hex characters (schema)', () => {
    const bad = text.replace(MODEL_ID, 'latest');
    assert.ok(errors(bad).some((e) => /spec\.serving\.models\[0\]\.source\.clearml\.id: must be a ClearML model id \(32 hex characters\)/.test(e)), errors(bad).join('\n'));
  });
});

/** Calls the script's functions directly (the module does nothing on import). */
async function python(code: string): Promise<any> {
  const prelude = `import importlib.util, json, os, sys\nspec = importlib.util.spec_from_file_location("fc", ${JSON.stringify(SCRIPT)})\nfc = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(fc)\n`;
  const r = await run('python3', ['-B', '-c', prelude + code], { env: { PATH: process.env.PATH } });
  return JSON.parse(r.stdout);
}

describe('fetch-clearml.py: pure parts', () => {
  it('signs S3 requests with SigV4 as AWS documents (GET Object example, S3 API reference)', async () => {
    const auth = await python(`
import datetime, hashlib
h = fc.sigv4_headers("GET", "examplebucket.s3.amazonaws.com", "/test.txt", {}, {"Range": "bytes=0-9"}, hashlib.sha256(b"").hexdigest(),
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc))
print(json.dumps(h["authorization"]))`);
    assert.equal(
      auth,
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  it("accepts only the tenant's own bucket on the platform store and the platform's fileserver", async () => {
    const store = 'http://rook-ceph-rgw-s3.rook-ceph.svc:80';
    const files = 'http://clearml-fileserver.clearml.svc:8081';
    const cases: Array<[string, unknown]> = [
      ['s3://rook-ceph-rgw-s3.rook-ceph.svc:80/tenant-a/p/t.1/models/model.pkl', ['s3', 'p/t.1/models/model.pkl']],
      ['s3://ROOK-CEPH-RGW-S3.rook-ceph.svc:80/tenant-a/m/a?b#c.pkl', ['s3', 'm/a?b#c.pkl']],
      ['http://clearml-fileserver.clearml.svc:8081/p/t.1/models/model%20v2.pkl', ['files', 'http://clearml-fileserver.clearml.svc:8081/p/t.1/models/model%20v2.pkl']],
      ['s3://rook-ceph-rgw-s3.rook-ceph.svc:80/tenant-b/p/model.pkl', null], // another tenant's bucket
      ['s3://rook-ceph-rgw-s3.rook-ceph.svc/tenant-a/p/model.pkl', null], // no port: an AWS host to ClearML
      ['s3://tenant-a/p/model.pkl', null],
      ['s3://other-store:80/tenant-a/p/model.pkl', null],
      ['s3://rook-ceph-rgw-s3.rook-ceph.svc:80/tenant-a/', null],
      ['s3://rook-ceph-rgw-s3.rook-ceph.svc:80/tenant-a/p/', null],
      ['http://clearml-fileserver.clearml.svc:8082/p/model.pkl', null],
      ['https://clearml-fileserver.clearml.svc:8081/p/model.pkl', null],
      ['http://user@clearml-fileserver.clearml.svc:8081/p/model.pkl', null],
      ['http://clearml-fileserver.clearml.svc:8081/p/', null],
      ['http://evil.example/p/model.pkl', null],
      ['gs://bucket/model.pkl', null],
      ['file:///mnt/model.pkl', null],
      ['', null],
    ];
    const got = await python(`
out = []
for uri, _ in json.loads(${JSON.stringify(JSON.stringify(cases))}):
    try:
        out.append(list(fc.locate(uri, "tenant-a", ${JSON.stringify(store)}, ${JSON.stringify(files)})))
    except fc.FetchError as e:
        out.append(str(e))
print(json.dumps(out))`);
    cases.forEach(([uri, want], i) => {
      if (want) assert.deepEqual(got[i], want, uri);
      else assert.match(got[i], /is neither in the tenant's own bucket \(s3:\/\/rook-ceph-rgw-s3\.rook-ceph\.svc:80\/tenant-a\/…, where the platform's output_uri puts models\) nor on the platform's ClearML fileserver \(http:\/\/clearml-fileserver\.clearml\.svc:8081\/…\)/, uri);
    });
  });

  it('extracts a zip entry by entry, and refuses one whose entries would leave the prefix', async () => {
    const got = await python(`
import tempfile, zipfile
out = {}
for name, entries in {"ok": ["model.joblib", "meta/params.json", "./a//b.txt"], "up": ["../../etc/x"], "abs": ["/etc/x"], "win": ["..\\\\x"]}.items():
    d = tempfile.mkdtemp()
    z = os.path.join(d, "m.zip")
    with zipfile.ZipFile(z, "w") as zf:
        for e in entries:
            zf.writestr(zipfile.ZipInfo(e), b"x")
    into = os.path.join(d, "into")
    os.makedirs(into)
    try:
        fc.extract_zip(z, into)
        out[name] = sorted(rel for _, rel in fc.files_under(into))
    except fc.FetchError as e:
        out[name] = str(e)
print(json.dumps(out))`);
    assert.deepEqual(got.ok, ['a/b.txt', 'meta/params.json', 'model.joblib']);
    for (const k of ['up', 'abs', 'win']) assert.match(got[k], /the zip holds .* which would land outside the model's prefix/, k);
  });
});

describe('fetch-clearml.py against the ClearML stand-in (apiserver, fileserver, minimal S3)', () => {
  const procs = new Processes('mlplat-clearml-source');
  const s3Root = path.join(procs.dir, 's3');
  const keyPair = { key: 'TENANTKEY0123456789', secret: randomBytes(24).toString('hex') };
  const s3Users = { 'team-key': 'tenant-team', 'other-key': 'tenant-other' };
  const STORE = 'minio.minio.svc:9000';
  const FILES = 'http://clearml-fileserver.clearml.svc:8081';
  const ids = Object.fromEntries(['file', 'pkg', 'onFiles', 'cutShort', 'foreign', 'draft', 'elsewhere', 'notZip', 'empty', 'unknown', 'wrongKey', 'wrongS3'].map((k) => [k, randomBytes(16).toString('hex')]));
  const weights = randomBytes(3000);
  const packaged = { 'model.joblib': randomBytes(1000), 'meta/params.json': '{"alpha": 0.5}' };
  let stub: ClearmlStub;

  const put = (bucket: string, key: string, content: Buffer | string) => {
    fs.mkdirSync(path.dirname(path.join(s3Root, bucket, key)), { recursive: true });
    fs.writeFileSync(path.join(s3Root, bucket, key), content);
  };
  const model = (id: string, uri: string, extra: object = {}) => ({ id, name: `model-${id.slice(0, 4)}`, uri, ready: true, system_tags: [], tags: [], framework: 'ScikitLearn', ...extra });
  const target = (id: string) => `s3://tenant-team/${SERVING_PREFIX}/m/clearml-${id}/`;
  const stored = (id: string) => path.join(s3Root, 'tenant-team', SERVING_PREFIX, 'm', `clearml-${id}`);
  const filesUnder = (dir: string): string[] => (fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort() : []);
  const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

  /** Runs the script as the Job's container would; resolves with its exit code and output. */
  async function fetchModel(id: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
    const jobEnv = {
      PATH: process.env.PATH,
      CLEARML_MODEL_ID: id,
      TARGET_URI: target(id),
      CLEARML_API_HOST: stub.api,
      CLEARML_FILES_HOST: stub.files,
      AWS_ENDPOINT_URL: stub.s3!,
      AWS_DEFAULT_REGION: 'us-east-1',
      CLEARML_API_ACCESS_KEY: keyPair.key,
      CLEARML_API_SECRET_KEY: keyPair.secret,
      AWS_ACCESS_KEY_ID: 'team-key',
      AWS_SECRET_ACCESS_KEY: 'team-secret',
      HOME: procs.dir,
      TMPDIR: procs.dir,
      ...env,
    };
    try {
      const r = await run('python3', ['-B', SCRIPT], { env: jobEnv, timeout: 60_000 });
      return { code: 0, out: r.stdout + r.stderr };
    } catch (e: any) {
      return { code: e.code, out: `${e.stdout}${e.stderr}` };
    }
  }

  before(async () => {
    put('tenant-team', 'proj/train.1/models/model.pkl', weights);
    put('tenant-team', 'proj/train.2/models/model_package.zip', fs.readFileSync(zipOf(procs.dir, packaged)));
    put('tenant-team', 'proj/train.3/models/model.zip', 'not a zip');
    put('tenant-other', 'theirs/models/model.pkl', 'theirs');
    const onFiles = path.join(procs.dir, 'served.pkl');
    fs.writeFileSync(onFiles, weights);
    stub = await startClearmlStub(procs, 'clearml', {
      keyPair,
      models: {
        [ids.file]: model(ids.file, `s3://${STORE}/tenant-team/proj/train.1/models/model.pkl`),
        [ids.pkg]: model(ids.pkg, `s3://${STORE}/tenant-team/proj/train.2/models/model_package.zip`, { system_tags: ['package'] }),
        [ids.onFiles]: model(ids.onFiles, `${FILES}/proj/train.4/models/model%20v2.pkl`),
        [ids.cutShort]: model(ids.cutShort, `${FILES}/proj/train.5/models/model.pkl`),
        [ids.foreign]: model(ids.foreign, `s3://${STORE}/tenant-other/theirs/models/model.pkl`),
        [ids.draft]: model(ids.draft, `s3://${STORE}/tenant-team/proj/train.1/models/model.pkl`, { ready: false }),
        [ids.elsewhere]: model(ids.elsewhere, 'https://huggingface.co/x/model.pkl'),
        [ids.notZip]: model(ids.notZip, `s3://${STORE}/tenant-team/proj/train.3/models/model.zip`),
        [ids.empty]: model(ids.empty, ''),
        [ids.wrongKey]: model(ids.wrongKey, `s3://${STORE}/tenant-team/proj/train.1/models/model.pkl`),
        [ids.wrongS3]: model(ids.wrongS3, `s3://${STORE}/tenant-team/proj/train.1/models/model.pkl`),
      },
      files: { '/proj/train.4/models/model v2.pkl': onFiles, '/proj/train.5/models/model.pkl': onFiles },
      filesCutShort: ['/proj/train.5/models/model.pkl'],
      filesInRecords: FILES,
      s3InRecords: STORE,
      s3: { root: s3Root, users: s3Users },
    });
  });
  after(() => procs.cleanup());

  it('copies a single-file model as that file under the prefix, then writes the marker', async () => {
    const r = await fetchModel(ids.file);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`copied ClearML model ${ids.file} \\(model-${ids.file.slice(0, 4)}, 1 files\\) from s3://127\\.0\\.0\\.1:\\d+/tenant-team/proj/train\\.1/models/model\\.pkl to ${target(ids.file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.deepEqual(filesUnder(stored(ids.file)), ['model.pkl']);
    assert.equal(sha256(fs.readFileSync(path.join(stored(ids.file), 'model.pkl'))), sha256(weights));
    const marker = JSON.parse(fs.readFileSync(`${stored(ids.file)}.source.json`, 'utf8'));
    assert.deepEqual(marker, { clearml: { id: ids.file, name: `model-${ids.file.slice(0, 4)}`, uri: marker.clearml.uri } });
    // Logged in with HTTP basic auth, then the id with the bearer token; S3 only as the tenant's user, in its bucket.
    const api = stub.requests().filter((q) => q.server === 'api' && (q.endpoint === 'auth.login' || q.payload?.model === ids.file));
    assert.deepEqual(api.map((q) => [q.endpoint, q.auth]), [['auth.login', 'Basic'], ['models.get_by_id', 'Bearer']]);
    const s3 = stub.requests().filter((q) => q.server === 's3' && q.key?.includes(ids.file));
    assert.deepEqual(s3.map((q) => [q.method, q.bucket, q.user]), [
      ['GET', 'tenant-team', 'team-key'], // the marker, absent
      ['PUT', 'tenant-team', 'team-key'], // the file
      ['PUT', 'tenant-team', 'team-key'], // the marker, last
    ]);
  });

  it('copies nothing on a re-run, and does not call ClearML', async () => {
    const before = stub.requests().length;
    const mtime = fs.statSync(path.join(stored(ids.file), 'model.pkl')).mtimeMs;
    const r = await fetchModel(ids.file);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`already holds ClearML model ${ids.file}`));
    assert.deepEqual(stub.requests().slice(before).map((q) => [q.server, q.method]), [['s3', 'GET']], 'one marker read');
    assert.equal(fs.statSync(path.join(stored(ids.file), 'model.pkl')).mtimeMs, mtime);
  });

  it('extracts a packaged model (update_weights_package) under the prefix', async () => {
    const r = await fetchModel(ids.pkg);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /, 2 files\) from .*model_package\.zip/);
    assert.deepEqual(filesUnder(stored(ids.pkg)), ['meta/params.json', 'model.joblib']);
    for (const [name, content] of Object.entries(packaged)) assert.equal(sha256(fs.readFileSync(path.join(stored(ids.pkg), name))), sha256(content), name);
  });

  it("downloads a model from the platform's fileserver with the bearer token", async () => {
    const r = await fetchModel(ids.onFiles);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(filesUnder(stored(ids.onFiles)), ['model v2.pkl']);
    assert.equal(sha256(fs.readFileSync(path.join(stored(ids.onFiles), 'model v2.pkl'))), sha256(weights));
    assert.deepEqual(stub.requests().filter((q) => q.server === 'files' && q.path!.includes('train.4')).map((q) => [q.path, q.auth]), [['/proj/train.4/models/model v2.pkl', 'Bearer']]);
  });

  it('refuses what it must not copy, exits non-zero and writes nothing', async () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      [ids.foreign, {}, /fetch-clearml: the model's URI s3:\/\/127\.0\.0\.1:\d+\/tenant-other\/theirs\/models\/model\.pkl is neither in the tenant's own bucket \(s3:\/\/127\.0\.0\.1:\d+\/tenant-team\/…/],
      [ids.elsewhere, {}, /the model's URI https:\/\/huggingface\.co\/x\/model\.pkl is neither in the tenant's own bucket .* nor on the platform's ClearML fileserver \(http:\/\/127\.0\.0\.1:\d+\/…\)/],
      [ids.draft, {}, /ClearML model [0-9a-f]{32} \(model-[0-9a-f]{4}\) is a draft: publish it first/],
      [ids.notZip, {}, /is a package, but s3:\/\/.*model\.zip is no zip/],
      [ids.cutShort, {}, /fileserver GET http:\/\/127\.0\.0\.1:\d+\/proj\/train\.5\/models\/model\.pkl: got 1500 of 3000 bytes/],
      [ids.empty, {}, /has no weights \(its uri is empty\)/],
      [ids.unknown, {}, /ClearML models\.get_by_id: HTTP 400, result 400\/201: invalid model id/],
      [ids.wrongKey, { CLEARML_API_SECRET_KEY: 'wrong' }, /ClearML refused the tenant's API key: ClearML auth\.login: HTTP 401, result 401\/22: unauthorized \(invalid credentials\)/],
      [ids.wrongS3, { AWS_ACCESS_KEY_ID: 'other-key' }, /fetch-clearml: S3 GET s3:\/\/tenant-team\/mlplat-serving\/m\/clearml-[0-9a-f]{32}\.source\.json: HTTP 403 AccessDenied: Access Denied\./],
      ['not-an-id', {}, /CLEARML_MODEL_ID must be a ClearML model id \(32 hex characters\), got 'not-an-id'/],
    ];
    for (const [id, env, message] of cases) {
      const r = await fetchModel(id, env);
      assert.equal(r.code, 1, `${id}: ${r.out}`);
      assert.match(r.out, message, id);
      assert.doesNotMatch(r.out, /Traceback/, 'a message, not a traceback');
      assert.deepEqual(filesUnder(stored(id)), [], `nothing under the prefix of ${id}`);
      assert.ok(!fs.existsSync(`${stored(id)}.source.json`), `no marker for ${id}`);
    }
  });

  it('refuses a TARGET_URI that is no prefix', async () => {
    const r = await fetchModel(ids.file, { TARGET_URI: 's3://tenant-team/models/m' });
    assert.equal(r.code, 1);
    assert.match(r.out, /TARGET_URI must look like s3:\/\/bucket\/prefix\/, got s3:\/\/tenant-team\/models\/m/);
  });
});
