/**
 * Model-serving assertions of the e2e suite (issue 6), registered into each example's suite by
 * e2e.test.ts. kwok runs no KServe controller and no KServe webhooks, so the harness does their
 * part: each synthesized InferenceService (as the API server stored it) is rendered into the
 * predictor Deployment and Service KServe v0.20.0 would create (lib/kserve.ts, from the charts of
 * the kserve module), and those are applied like a controller applies them. What is tested is
 * the platform's side: the tenant namespace's admission (Pod Security `restricted`, the GPU and
 * dataset-cache policies, ResourceQuota) admits the pods, they land on the pool's nodes, and the
 * route reaches them. The MLflow fetch Job runs for real inside the real-components test
 * (data-plane.ts), while MinIO and MLflow run; the ClearML fetch Job runs for real against MinIO
 * and a stand-in for the ClearML server (CLEARML_STUB_PY). Each test skips itself when the example
 * serves no such models.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it, TestContext } from 'node:test';
import { KSERVE_API_GROUP } from '../../constructs/serving/kserve';
import { AGENT_SECRET, ClearmlServer } from '../../constructs/tracking/clearml';
import { MlflowServer } from '../../constructs/tracking/mlflow';
import { KubeObject } from '../../lib/synth';
import { RealComponents, SuiteState, whileRealComponentsRun } from './data-plane';
import { waitFor } from './lib/cluster';
import { ClusterView, kserveInstallFromOutput, renderPredictor } from './lib/kserve';
import { runContainer } from './lib/local-pod';
import { freePort, httpOk, Processes, until } from './lib/processes';
import { secretData } from './lib/storage';

/** The label mlplat gives the fetch Job's pods (constructs/serving/endpoint.ts). */
const FETCH_ROLE = { key: 'mlplat.io/role', value: 'model-fetch' };
const MODEL_LABEL = 'mlplat.io/model';
/** The field manager the harness applies the predictor objects with, standing in for KServe's. */
const CONTROLLER = 'kserve-controller-manager';

const objectsOf = (s: SuiteState): KubeObject[] => s.files.flatMap((f) => f.objects);
/** The synthesized fetch Jobs, and the literal env values of a Job's container. */
const fetchJobsOf = (objects: readonly KubeObject[]): any[] => objects.filter((o: any) => o.kind === 'Job' && o.spec.template.metadata?.labels?.[FETCH_ROLE.key] === FETCH_ROLE.value);
const envOf = (job: any): Record<string, string> => Object.fromEntries((job.spec.template.spec.containers[0].env as any[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]));
const inferenceServices = (s: SuiteState): any[] => objectsOf(s).filter((o) => o.kind === 'InferenceService' && o.apiVersion.startsWith(`${KSERVE_API_GROUP}/`));

/** Secrets and ServiceAccounts as KServe's credential builder reads them. */
function clusterView(s: SuiteState): ClusterView {
  return {
    secret: (namespace, name) => {
      const r = s.cluster.kubectl(['get', 'secret', name, '-n', namespace, '-o', 'json']);
      if (r.code !== 0) return undefined;
      const obj = JSON.parse(r.stdout);
      return { keys: Object.keys(obj.data ?? {}), annotations: obj.metadata.annotations ?? {} };
    },
    serviceAccountExists: (namespace, name) => s.cluster.kubectl(['get', 'serviceaccount', name, '-n', namespace]).code === 0,
  };
}

/**
 * The tenant's S3 keys (`s3-credentials`). On a Ceph store Rook's ObjectBucketClaim controller
 * writes that Secret; kwok runs no Rook, so the harness writes it once, with keys of its own.
 * A Secret another producer should have written is not stood in for.
 */
function tenantS3Keys(s: SuiteState, tenant: { readonly name: string }): Record<string, string> {
  const { cluster, platform } = s;
  const t = platform.tenants.find((x) => x.name === tenant.name)!;
  const ref = platform.storage!.tenantBucket(t).credentials;
  if (ref.producer === 'rook-ceph' && cluster.kubectl(['get', 'secret', ref.name, '-n', ref.namespace]).code !== 0) {
    const stringData = { AWS_ACCESS_KEY_ID: `e2e-${t.name}`, AWS_SECRET_ACCESS_KEY: randomBytes(20).toString('hex') };
    const r = cluster.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: ref.name, namespace: ref.namespace }, stringData });
    assert.equal(r.code, 0, r.stderr);
  }
  return secretData(cluster, ref.namespace, ref.name);
}

export function servingTests(state: () => SuiteState): void {
  whileRealComponentsRun(state, 'MLflow fetch Jobs', (rc, t) => fetchJobs(state(), rc, t));

  it('ClearML fetch Jobs: as synthesized, with the tenant\'s Secrets, resolve the id through the ClearML API, copy the weights into the storageUri on real MinIO once, and refuse models outside the tenant\'s bucket and wrong credentials', { timeout: 600_000 }, (t) => clearmlFetchJobs(state(), t));

  it('predictors: every InferenceService, rendered as KServe v0.20.0 would, is admitted in its tenant namespace, Available on its pool\'s nodes, and routed', { timeout: 600_000 }, async (t) => {
    const s = state();
    const { cluster, platform } = s;
    const isvcs = inferenceServices(s);
    if (isvcs.length === 0) return t.skip('this example serves no models');
    const install = kserveInstallFromOutput(objectsOf(s));

    // What the kserve-resources and kserve-runtime-configs releases install, as helm-controller
    // would: the chart's ClusterStorageContainer and ClusterServingRuntimes, against the real CRDs.
    for (const o of [...install.storageContainers, ...install.runtimes.values()]) {
      const r = cluster.apply(o);
      assert.equal(r.code, 0, `${o.kind} ${o.metadata.name} of the charts: ${r.stderr}`);
    }

    const view = clusterView(s);
    const placed: string[] = [];
    for (const synthesized of isvcs) {
      const ns = synthesized.metadata.namespace as string;
      const name = synthesized.metadata.name as string;
      const tenant = platform.tenants.find((tn) => tn.namespace === ns) ?? assert.fail(`InferenceService ${ns}/${name} is not in a tenant namespace`);
      assert.equal(cluster.get<any>(['namespace', ns]).metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted', `${ns} enforces Pod Security restricted`);
      // KServe's pod webhook refuses a predictor whose storage Secret is missing.
      if (synthesized.spec.predictor.model.storageUri) tenantS3Keys(s, tenant);

      // The controller reads the object as stored (defaults applied, unknown fields pruned).
      const stored = cluster.get<any>(['inferenceservice', name, '-n', ns]);
      const { deployment, service, runtime } = renderPredictor(stored, install, view, stored.metadata.uid);
      for (const o of [deployment, service]) {
        const r = cluster.kubectl(['apply', '--server-side', `--field-manager=${CONTROLLER}`, '-f', '-'], JSON.stringify(o));
        assert.equal(r.code, 0, `${o.kind} ${ns}/${o.metadata.name}: ${r.stderr}`);
      }

      // Admission happens when the ReplicaSet creates the pods: every refusal is a FailedCreate.
      const rejections = () =>
        cluster.get<{ items: any[] }>(['events', '-n', ns, '--field-selector', 'reason=FailedCreate']).items
          .filter((e) => e.involvedObject.kind === 'ReplicaSet' && e.involvedObject.name.startsWith(`${deployment.metadata.name}-`))
          .map((e) => e.message as string);
      await waitFor(
        `Deployment ${ns}/${deployment.metadata.name} available`,
        () => {
          const refused = rejections();
          if (refused.length) assert.fail(`pods of ${ns}/${deployment.metadata.name} refused:\n${[...new Set(refused)].join('\n')}`);
          const d = cluster.get<any>(['deployment', deployment.metadata.name, '-n', ns]);
          const want = d.spec.replicas ?? 1;
          const ok = d.status?.conditions?.some((c: any) => c.type === 'Available' && c.status === 'True') && d.status.availableReplicas === want && d.status.updatedReplicas === want;
          return ok ? d : undefined;
        },
        180_000,
      );
      assert.deepEqual(rejections(), [], `0 rejections for ${ns}/${deployment.metadata.name}`);

      // Every pod on the pool the predictor names, on a node that has the pool's resource; a
      // CPU model on a node of no pool.
      const predictor = stored.spec.predictor;
      const pool = predictor.priorityClassName ? platform.gpu.pools.find((p) => p.priorityClassName === predictor.priorityClassName) : undefined;
      if (predictor.priorityClassName) assert.ok(pool, `${name}: priority class ${predictor.priorityClassName} belongs to a pool`);
      if (pool) assert.ok(tenant.gpuGrants.has(pool), `${name}: pool ${pool.name} is granted to ${tenant.name}`);
      const selector = Object.entries<string>(deployment.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
      const pods = cluster.get<{ items: any[] }>(['pods', '-n', ns, '-l', selector]).items.filter((p) => !p.metadata.deletionTimestamp);
      assert.equal(pods.length, deployment.spec.replicas ?? 1, `${name}: one pod per replica`);
      for (const pod of pods) {
        const node = cluster.get<any>(['node', pod.spec.nodeName ?? assert.fail(`${pod.metadata.name} is not scheduled`)]);
        const nodePool = node.metadata.labels['mlplat.io/gpu-pool'];
        if (pool) {
          assert.equal(nodePool, pool.name, `${pod.metadata.name} runs on ${node.metadata.name} of pool ${nodePool}, not ${pool.name}`);
          assert.ok(Number(node.status.capacity[pool.resourceName] ?? 0) > 0, `${node.metadata.name} has ${pool.resourceName}`);
          const units = Number(pod.spec.containers.find((c: any) => c.name === 'kserve-container').resources.limits[pool.resourceName]);
          assert.ok(units >= 1, `${pod.metadata.name} asks for ${pool.resourceName}`);
        } else {
          assert.equal(nodePool, undefined, `CPU model ${name}: ${pod.metadata.name} runs on GPU node ${node.metadata.name}`);
        }
        placed.push(`${pod.metadata.name} → ${node.metadata.name}`);
      }

      // The route: its IngressRoute targets this Service by a port name the Service has, whose
      // target is the container port the NetworkPolicy lets Traefik reach.
      const live = cluster.get<any>(['service', service.metadata.name, '-n', ns]);
      for (const [k, v] of Object.entries<string>(live.spec.selector)) assert.equal(pods[0].metadata.labels[k], v, `Service ${live.metadata.name} selects the predictor pods (${k})`);
      const routes = cluster.get<{ items: any[] }>(['ingressroutes.traefik.io', '-n', ns]).items.filter((ir) => ir.spec.routes.some((r: any) => r.services.some((x: any) => x.name === service.metadata.name)));
      assert.equal(routes.length, 1, `one IngressRoute sends traffic to ${ns}/${service.metadata.name}`);
      assert.equal(routes[0].metadata.name, `model-${name}`);
      for (const r of routes[0].spec.routes) {
        for (const target of r.services) {
          const port = live.spec.ports.find((p: any) => p.name === target.port) ?? assert.fail(`Service ${live.metadata.name} has no port named ${target.port}`);
          const containerPort = pods[0].spec.containers.find((c: any) => c.name === 'kserve-container').ports.find((p: any) => p.containerPort === port.targetPort);
          assert.ok(containerPort, `port ${target.port} targets a port of the model container (${port.targetPort})`);
          const policy = cluster.get<any>(['networkpolicy', `mlplat-ingress-${routes[0].metadata.name}`, '-n', ns]);
          for (const [k, v] of Object.entries<string>(policy.spec.podSelector.matchLabels)) assert.equal(pods[0].metadata.labels[k], v, `the ingress NetworkPolicy selects the predictor pods (${k})`);
          assert.ok(policy.spec.ingress.some((i: any) => i.ports.some((p: any) => p.port === port.targetPort)), `the ingress NetworkPolicy opens ${port.targetPort}`);
        }
      }
      t.diagnostic(`${ns}/${name}: runtime ${runtime}, image ${deployment.spec.template.spec.containers[0].image}${pool ? `, pool ${pool.name}` : ', CPU'}`);
    }
    t.diagnostic(`placed: ${placed.join(', ')}`);
  });
}

/**
 * Each synthesized MLflow fetch Job, run as its tenant: the tenant logs and registers the model
 * up to the version the Job names (the tenant's own MLflow credentials), then the Job's command
 * runs with the synthesized environment and the tenant's Secrets. The copy must land under the
 * InferenceService's storageUri and be readable with the credentials the predictor's storage
 * initializer gets; a second run copies nothing; the same Job with another tenant's Secrets fails.
 */
async function fetchJobs(s: SuiteState, rc: RealComponents, t: TestContext): Promise<void> {
  const { cluster, platform } = s;
  const objects = rc.objects;
  const jobs = fetchJobsOf(objects).filter((j) => envOf(j).MODEL_NAME !== undefined);
  if (jobs.length === 0) return t.diagnostic('no model comes from MLflow: no fetch Job to run');
  const mlflow = platform.tracking;
  assert.ok(mlflow instanceof MlflowServer, 'fetch Jobs need MLflow');
  const python = path.join(rc.tool('MLPLAT_MLFLOW_BIN'), 'mlflow-python');
  const local = (v: string) => rc.rewrite.reduce((acc, [from, to]) => acc.split(from).join(to), v);
  const install = kserveInstallFromOutput(objects);

  for (const job of jobs) {
    const ns = job.metadata.namespace as string;
    const tenant = platform.tenants.find((tn) => tn.namespace === ns) ?? assert.fail(`fetch Job ${job.metadata.name} is not in a tenant namespace`);
    const spec = job.spec.template.spec;
    const env = envOf(job);
    const version = Number(env.MODEL_VERSION);
    assert.ok(env.MODEL_NAME && Number.isInteger(version) && version >= 1, `${job.metadata.name}: MODEL_NAME and MODEL_VERSION`);
    const isvc = objects.find((o: any) => o.kind === 'InferenceService' && o.metadata.namespace === ns && o.metadata.name === job.spec.template.metadata.labels[MODEL_LABEL]) as any;
    assert.ok(isvc, `${job.metadata.name} fetches for an InferenceService of ${ns}`);
    assert.equal(env.TARGET_URI, isvc.spec.predictor.model.storageUri, 'the Job writes where the predictor loads from');
    const target = /^s3:\/\/([^/]+)\/(.+\/)$/.exec(env.TARGET_URI) ?? assert.fail(`TARGET_URI ${env.TARGET_URI}`);
    assert.equal(target[1], platform.storage!.tenantBucket(tenant).bucket.name, 'in the tenant\'s own bucket');

    // The tenant's data scientist registers versions 1…N of the model (MLflow client, own Secret).
    const creds = secretData(cluster, ns, 'mlflow-credentials');
    const asTenant = { PATH: rc.toolsPath, HOME: rc.procs.dir, ...creds, MLFLOW_TRACKING_URI: local(creds.MLFLOW_TRACKING_URI) };
    const started = Date.now();
    const reg = spawnSync(python, ['-c', REGISTER_PY, env.MODEL_NAME, String(version)], { encoding: 'utf8', env: asTenant, timeout: 300_000 });
    assert.equal(reg.status, 0, `registering ${env.MODEL_NAME} as ${tenant.name}: ${reg.stderr}`);
    const registered = JSON.parse(reg.stdout.trim().split('\n').at(-1)!) as { version: number; run_id: string; source: string };
    assert.ok(registered.version >= version, `${env.MODEL_NAME} has version ${version}`);
    const registerSeconds = (Date.now() - started) / 1000;

    // The Job's container as synthesized; Secret values that name in-cluster services point at loopback.
    const runAs = (namespace: string): string => {
      const overrides: Record<string, string> = {};
      for (const from of spec.containers[0].envFrom ?? []) {
        for (const [k, v] of Object.entries(secretData(cluster, namespace, from.secretRef.name))) if (local(v) !== v) overrides[k] = local(v);
      }
      // The Job as another tenant would run it: the same objects in its own namespace.
      const inNamespace = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.namespace === ns).map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
      return runContainer({
        cluster, procs: rc.procs, name: `fetch-${job.metadata.name}-as-${namespace}`,
        objects: [...objects, ...(namespace === ns ? [] : inNamespace)],
        pod: { namespace, spec },
        rewrite: rc.rewrite,
        commands: { python },
        extraEnv: { PATH: rc.toolsPath, ...overrides },
      });
    };
    const t0 = Date.now();
    const first = runAs(ns);
    const firstSeconds = (Date.now() - t0) / 1000;
    assert.match(first, new RegExp(`copied models:/${env.MODEL_NAME}/${version} \\(\\d+ files\\) to ${env.TARGET_URI.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    // The copy is version N, under the storageUri, and the storage initializer's credentials
    // (as KServe injects them into the predictor) can read it.
    const mc = (alias: Record<string, string>, ...args: string[]) => spawnSync(path.join(rc.tool('MLPLAT_MC_BIN'), 'mc'), args, { encoding: 'utf8', env: { PATH: rc.toolsPath, MC_CONFIG_DIR: path.join(rc.procs.dir, '.mc-serving'), ...alias } });
    const stored = cluster.get<any>(['inferenceservice', isvc.metadata.name, '-n', ns]);
    const { deployment } = renderPredictor(stored, install, clusterView(s));
    const init = deployment.spec.template.spec.initContainers.find((c: any) => c.name === 'storage-initializer');
    assert.deepEqual(init.args, [env.TARGET_URI, '/mnt/models'], 'the storage initializer downloads the storageUri');
    const initEnv: Record<string, string> = {};
    for (const e of init.env) initEnv[e.name] = e.value ?? secretData(cluster, ns, e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key];
    const endpoint = new URL(local(initEnv.AWS_ENDPOINT_URL));
    const asPredictor = { MC_HOST_p: `${endpoint.protocol}//${initEnv.AWS_ACCESS_KEY_ID}:${initEnv.AWS_SECRET_ACCESS_KEY}@${endpoint.host}` };
    const listing = mc(asPredictor, 'ls', '--recursive', `p/${target[1]}/${target[2]}`);
    assert.equal(listing.status, 0, `the predictor's credentials list ${env.TARGET_URI}: ${listing.stderr}`);
    assert.match(listing.stdout, /\bMLmodel\b/, `${env.TARGET_URI} holds an MLflow model:\n${listing.stdout}`);
    const mlmodel = mc(asPredictor, 'cat', `p/${target[1]}/${target[2]}MLmodel`);
    assert.equal(mlmodel.status, 0, mlmodel.stderr);
    assert.match(mlmodel.stdout, new RegExp(`^run_id: ${registered.run_id}$`, 'm'), `the copy is version ${version} (run ${registered.run_id})`);
    const loggedModel = /^models:\/(m-[0-9a-f]+)$/.exec(registered.source)?.[1];
    if (loggedModel) assert.match(mlmodel.stdout, new RegExp(`^model_id: ${loggedModel}$`, 'm'), `the copy is logged model ${loggedModel}`);

    // A second run finds the marker and copies nothing.
    const objectsBefore = listing.stdout;
    assert.match(runAs(ns), new RegExp(`${env.TARGET_URI.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} already holds models:/${env.MODEL_NAME}/${version}`));
    assert.equal(mc(asPredictor, 'ls', '--recursive', `p/${target[1]}/${target[2]}`).stdout, objectsBefore, 'a re-run rewrites nothing');

    // Another tenant's Secrets: its S3 user may not touch this bucket, and MLflow refuses it the
    // model even when it names this tenant's workspace.
    const other = platform.tenants.find((tn) => tn !== tenant && !tn.kubernetesGroups.some((g) => tenant.kubernetesGroups.includes(g)));
    if (other) {
      let refused = '';
      try {
        runAs(other.namespace);
      } catch (e) {
        refused = (e as Error).message;
      }
      assert.ok(refused, `the fetch Job with ${other.name}'s Secrets succeeded`);
      assert.match(refused, /AccessDenied|\b403\b|Forbidden|PERMISSION_DENIED/, `refused with 403:\n${refused.slice(-2000)}`);
      const otherCreds = secretData(cluster, other.namespace, 'mlflow-credentials');
      const r = await fetch(`${local(otherCreds.MLFLOW_TRACKING_URI)}/api/2.0/mlflow/model-versions/get-download-uri?name=${encodeURIComponent(env.MODEL_NAME)}&version=${version}`, {
        headers: {
          Authorization: `Basic ${Buffer.from(`${otherCreds.MLFLOW_TRACKING_USERNAME}:${otherCreds.MLFLOW_TRACKING_PASSWORD}`).toString('base64')}`,
          'X-MLFLOW-WORKSPACE': creds.MLFLOW_WORKSPACE,
        },
      });
      assert.equal(r.status, 403, `${other.name} reads ${tenant.name}'s model ${env.MODEL_NAME} from MLflow: ${r.status} ${await r.text()}`);
    }
    t.diagnostic(`fetch Job ${ns}/${job.metadata.name}: registered ${env.MODEL_NAME} v1..${version} in ${registerSeconds.toFixed(1)} s, first copy ${firstSeconds.toFixed(1)} s${other ? `; ${other.name}'s Secrets refused` : ''}`);
  }
}

/**
 * A tenant's data scientist with the MLflow client: logs a small pyfunc model and registers it
 * until `name` has `version` versions. Prints version `version`: its run and its source (in
 * MLflow 3 `models:/<logged model id>`).
 */
const REGISTER_PY = `
import json, sys
import mlflow
from mlflow.pyfunc import PythonModel


class Churn(PythonModel):
    def predict(self, context, model_input, params=None):
        return [0.5 for _ in range(len(model_input))]


name, want = sys.argv[1], int(sys.argv[2])
client = mlflow.MlflowClient()
mlflow.set_experiment("e2e-serving")
have = len(client.search_model_versions(f"name='{name}'"))
for _ in range(have, want):
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="model", python_model=Churn(), registered_model_name=name, pip_requirements=["mlflow"])
mv = client.get_model_version(name, str(want))
print(json.dumps({"version": int(mv.version), "run_id": mv.run_id, "source": mv.source}))
`;

// --- ClearML model sources ---------------------------------------------------------------------

/**
 * A stand-in for the ClearML server, on loopback, as the fetch Job sees it (a separate process:
 * `runContainer` blocks this one). Modelled on clearml-server's schema and request handling:
 *
 * - apiserver: `POST /<service.action>` (an optional `/v<x.y>/` prefix), JSON in, the envelope
 *   `{"meta": {id, trx, endpoint, result_code, result_subcode, result_msg, …}, "data": …}` out with
 *   HTTP status = result_code. `auth.login` takes HTTP basic auth `key:secret` (only the pair it is
 *   given) and answers `data.token`; every other call needs `Authorization: Bearer <token>`
 *   (401/20 missing, 401/22 invalid credentials, 401/30 invalid token). `models.get_by_id
 *   {"model": id}` answers `data.model`, or 400/201 `invalid model id`.
 * - fileserver: `GET <path>` with a bearer token the apiserver issued (fileserver/auth.py), 401
 *   without.
 * - optionally a minimal path-style S3 for unit tests without MinIO: it checks the shape of the
 *   SigV4 Authorization header (not the signature: the e2e test runs against real MinIO), the
 *   payload hash, and that the key's user owns the bucket (403 AccessDenied otherwise); objects
 *   are files under `root/<bucket>/<key>`.
 *
 * Every request is logged as a JSON line (server, endpoint or method and path, auth scheme).
 */
export const CLEARML_STUB_PY = String.raw`
import base64, hashlib, json, os, re, secrets, sys, threading, urllib.parse, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

conf = json.load(open(sys.argv[1]))
tokens = set()
lock = threading.Lock()


def log(entry):
    with lock, open(conf["log"], "a") as f:
        f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, body, content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else None


class Api(Handler):
    def envelope(self, endpoint, code, subcode, msg, data):
        meta = {
            "id": uuid.uuid4().hex, "trx": uuid.uuid4().hex,
            "endpoint": {"name": endpoint, "requested_version": "2.31", "actual_version": "1.0"},
            "result_code": code, "result_subcode": subcode, "result_msg": msg,
            "error_stack": None, "error_data": {},
        }
        self.reply(code, json.dumps({"meta": meta, "data": data}).encode())

    def do_GET(self):
        self.call()

    def do_POST(self):
        self.call()

    def call(self):
        raw = self.body()
        payload = json.loads(raw) if raw else {}
        endpoint = re.sub(r"^/(v[0-9.]+/)?", "", urllib.parse.urlsplit(self.path).path)
        auth = self.headers.get("Authorization", "")
        log({"server": "api", "endpoint": endpoint, "auth": auth.split(" ")[0], "payload": payload})
        if not auth:
            return self.envelope(endpoint, 401, 20, "unauthorized (missing credentials)", {})
        if endpoint == "auth.login":
            if not auth.startswith("Basic "):
                return self.envelope(endpoint, 401, 10, "unauthorized (bad authentication header type)", {})
            key, _, secret = base64.b64decode(auth[len("Basic "):]).decode("latin-1").partition(":")
            if (key, secret) != (conf["key"], conf["secret"]):
                return self.envelope(endpoint, 401, 22, "unauthorized (invalid credentials)", {})
            token = secrets.token_hex(24)
            tokens.add(token)
            return self.envelope(endpoint, 200, 0, "OK", {"token": token})
        if self.bearer() not in tokens:
            return self.envelope(endpoint, 401, 30, "invalid token", {})
        if endpoint == "models.get_by_id":
            model = conf["models"].get(payload.get("model"))
            if model is None:
                return self.envelope(endpoint, 400, 201, "invalid model id (no such public or company model)", {})
            return self.envelope(endpoint, 200, 0, "OK", {"model": model})
        return self.envelope(endpoint, 404, 0, "endpoint not found", {})


class Files(Handler):
    def do_GET(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        log({"server": "files", "method": "GET", "path": path, "auth": self.headers.get("Authorization", "").split(" ")[0]})
        if self.bearer() not in tokens:
            return self.reply(401, b"Unauthorized", "text/plain")
        local = conf["files"].get(path)
        if not local:
            return self.reply(404, b"Not Found", "text/plain")
        with open(local, "rb") as f:
            body = f.read()
        if path in conf["files_cut_short"]:
            # A connection lost mid-body: the announced length, half the bytes.
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.reply(200, body, "application/octet-stream")


SIGV4 = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/[0-9]{8}/[^/]+/s3/aws4_request,SignedHeaders=([a-z0-9;-]+),Signature=[0-9a-f]{64}$")


class S3(Handler):
    def error(self, status, code, message):
        xml = f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        self.reply(status, xml.encode(), "application/xml")

    def do_GET(self):
        self.s3("GET")

    def do_PUT(self):
        self.s3("PUT")

    def do_POST(self):
        self.s3("POST")

    def s3(self, method):
        body = self.body()
        url = urllib.parse.urlsplit(self.path)
        bucket, _, key = urllib.parse.unquote(url.path).lstrip("/").partition("/")
        m = SIGV4.match(self.headers.get("Authorization", ""))
        log({"server": "s3", "method": method, "bucket": bucket, "key": key, "query": url.query, "user": m.group(1) if m else None})
        s3 = conf["s3"]
        if not m or m.group(1) not in s3["users"]:
            return self.error(403, "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records.")
        if not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(m.group(2).split(";")):
            return self.error(403, "SignatureDoesNotMatch", "host, x-amz-date and x-amz-content-sha256 must be signed")
        if s3["users"][m.group(1)] != bucket:
            return self.error(403, "AccessDenied", "Access Denied.")
        if self.headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
            return self.error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
        if url.query:
            return self.error(501, "NotImplemented", "multipart uploads are for real S3")
        path = os.path.join(s3["root"], bucket, key)
        if method == "GET":
            if not os.path.isfile(path):
                return self.error(404, "NoSuchKey", "The specified key does not exist.")
            with open(path, "rb") as f:
                return self.reply(200, f.read(), "application/octet-stream")
        if method == "PUT":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(body)
            return self.reply(200, b"", headers={"ETag": '"' + hashlib.md5(body).hexdigest() + '"'})
        return self.error(405, "MethodNotAllowed", method)


ports = {}
for name, handler in [("api", Api), ("files", Files)] + ([("s3", S3)] if conf.get("s3") else []):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ports[name] = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
# Model URIs as ClearML recorded them (in-cluster addresses) point at these servers.
for prefix, local in [(conf.get("files_in_records"), "http://127.0.0.1:%d" % ports["files"]),
                      (conf.get("s3_in_records") and "s3://" + conf["s3_in_records"], "s3://127.0.0.1:%d" % ports.get("s3", 0))]:
    for model in conf["models"].values():
        if prefix and isinstance(model.get("uri"), str) and model["uri"].startswith(prefix):
            model["uri"] = local + model["uri"][len(prefix):]
with open(conf["ready"] + ".tmp", "w") as f:
    json.dump(ports, f)
os.rename(conf["ready"] + ".tmp", conf["ready"])
threading.Event().wait()
`;

export interface ClearmlStubOptions {
  /** The one key pair `auth.login` accepts. */
  readonly keyPair: { readonly key: string; readonly secret: string };
  /** `models.get_by_id` answers, by id (fields of clearml-server's `model` definition). */
  readonly models: Readonly<Record<string, object>>;
  /** Fileserver contents: URL path → local file. */
  readonly files?: Readonly<Record<string, string>>;
  /** Fileserver paths whose body is cut off halfway (a lost connection). */
  readonly filesCutShort?: readonly string[];
  /** The fileserver URL in the models' URIs (the in-cluster one), replaced by the stand-in's. */
  readonly filesInRecords?: string;
  /** The S3 `host:port` in the models' `s3://` URIs, replaced by the minimal S3's. */
  readonly s3InRecords?: string;
  /** The minimal S3: object root directory and access key → the one bucket it may use. */
  readonly s3?: { readonly root: string; readonly users: Readonly<Record<string, string>> };
}

export interface ClearmlStub {
  /** Base URLs: `CLEARML_API_HOST`, `CLEARML_FILES_HOST`, and the S3 endpoint when asked for. */
  readonly api: string;
  readonly files: string;
  readonly s3?: string;
  /** Every request so far, oldest first. */
  requests(): Array<{ server: string; endpoint?: string; method?: string; path?: string; bucket?: string; key?: string; auth?: string; user?: string | null; payload?: any }>;
}

/** Starts the ClearML stand-in (CLEARML_STUB_PY) as a process of `procs`. */
export async function startClearmlStub(procs: Processes, name: string, options: ClearmlStubOptions): Promise<ClearmlStub> {
  const dir = fs.mkdtempSync(path.join(procs.dir, `${name}-`));
  const conf = {
    log: path.join(dir, 'requests.jsonl'),
    ready: path.join(dir, 'ports.json'),
    key: options.keyPair.key,
    secret: options.keyPair.secret,
    models: options.models,
    files: options.files ?? {},
    files_cut_short: options.filesCutShort ?? [],
    files_in_records: options.filesInRecords,
    s3_in_records: options.s3InRecords,
    s3: options.s3,
  };
  fs.writeFileSync(path.join(dir, 'conf.json'), JSON.stringify(conf));
  fs.writeFileSync(conf.log, '');
  procs.start(name, 'python3', ['-c', CLEARML_STUB_PY, path.join(dir, 'conf.json')], { PATH: process.env.PATH });
  await until(`${name} listening`, () => fs.existsSync(conf.ready), 20_000).catch((e) => assert.fail(`${e}\n${procs.tail(name)}`));
  const ports = JSON.parse(fs.readFileSync(conf.ready, 'utf8')) as Record<string, number>;
  const url = (port: number | undefined) => (port ? `http://127.0.0.1:${port}` : undefined);
  return {
    api: url(ports.api)!,
    files: url(ports.files)!,
    s3: url(ports.s3),
    requests: () => fs.readFileSync(conf.log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)),
  };
}

/** A ClearML `model` as `models.get_by_id` returns it (clearml-server schema models.conf). */
function clearmlModel(id: string, name: string, uri: string, extra: object = {}): object {
  return {
    id, name, uri, ready: true, framework: 'ScikitLearn', user: 'agent_e2e', company: 'd1bd92a3b039400cbafc60a7a5b1e52b',
    task: randomBytes(16).toString('hex'), project: randomBytes(16).toString('hex'), tags: [], system_tags: [],
    created: '2025-01-01T00:00:00.000+00:00', last_update: '2025-01-01T00:00:00.000+00:00', ...extra,
  };
}

/** Zips `files` (archive path → content) with Python's zipfile, as ClearML's SDK packages a folder. */
export function zipOf(dir: string, files: Readonly<Record<string, string | Buffer>>): string {
  const src = fs.mkdtempSync(path.join(dir, 'zip-src-'));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    fs.writeFileSync(path.join(src, name), content);
  }
  const out = path.join(dir, `${path.basename(src)}.zip`);
  const py = 'import os, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z:\n    for root, _, names in os.walk("."):\n        for n in names:\n            z.write(os.path.join(root, n), os.path.relpath(os.path.join(root, n), "."))\n';
  const r = spawnSync('python3', ['-c', py, out], { cwd: src, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

/**
 * Each synthesized ClearML fetch Job, run as its tenant (the Job's command, environment and the
 * tenant's Secrets from the cluster) against MinIO standing in for the store and a stand-in for
 * the ClearML server. The tenant's models sit where ClearML puts them with the platform's
 * output_uri (`ClearmlServer.outputUri`) or on the fileserver.
 */
async function clearmlFetchJobs(s: SuiteState, t: TestContext): Promise<void> {
  const { cluster, platform } = s;
  const objects = objectsOf(s);
  const jobs = fetchJobsOf(objects).filter((j) => envOf(j).CLEARML_MODEL_ID !== undefined);
  if (jobs.length === 0) return t.skip('no model comes from ClearML');
  const tracking = platform.tracking;
  assert.ok(tracking instanceof ClearmlServer, 'ClearML fetch Jobs need the ClearML server');
  const store = platform.storage!;
  const bin = (k: string) => cluster.env[k] ?? assert.fail(`${k} is not set (test/e2e/tools/env.sh)`);
  const procs = new Processes('mlplat-e2e-clearml');
  try {
    // MinIO on loopback in place of the store, a bucket per tenant and an S3 user limited to it.
    const port = await freePort();
    const rootUser = { user: 'e2e-root', password: randomBytes(16).toString('hex') };
    procs.start('minio', path.join(bin('MLPLAT_MINIO_BIN'), 'minio'),
      ['server', path.join(procs.dir, 'minio-data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${await freePort()}`],
      { PATH: process.env.PATH, HOME: procs.dir, MINIO_ROOT_USER: rootUser.user, MINIO_ROOT_PASSWORD: rootUser.password });
    const s3Url = `http://127.0.0.1:${port}`;
    await until('MinIO ready', () => httpOk(`${s3Url}/minio/health/ready`), 60_000).catch((e) => assert.fail(`${e}\n${procs.tail('minio')}`));
    const mc = (hosts: Record<string, string>, ...args: string[]) =>
      spawnSync(path.join(bin('MLPLAT_MC_BIN'), 'mc'), args, { encoding: 'utf8', env: { PATH: process.env.PATH, MC_CONFIG_DIR: path.join(procs.dir, '.mc'), ...hosts } });
    const hostOf = (key: string, secret: string) => `http://${encodeURIComponent(key)}:${encodeURIComponent(secret)}@127.0.0.1:${port}`;
    const root = { MC_HOST_root: hostOf(rootUser.user, rootUser.password) };
    const mustMc = (hosts: Record<string, string>, ...args: string[]): string => {
      const r = mc(hosts, ...args);
      assert.equal(r.status, 0, `mc ${args.join(' ')}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    const s3Keys = new Map<string, Record<string, string>>();
    for (const tn of platform.tenants) {
      const { bucket, credentials } = store.tenantBucket(tn);
      mustMc(root, 'mb', `root/${bucket.name}`);
      // The MinIO user gets the keys of the tenant's `s3-credentials`.
      const keys = tenantS3Keys(s, tn);
      assert.ok(credentials.keys.every((k) => keys[k]), `${credentials.namespace}/${credentials.name} holds ${credentials.keys.join(', ')}`);
      s3Keys.set(tn.name, keys);
      const policy = path.join(procs.dir, `policy-${tn.name}.json`);
      fs.writeFileSync(policy, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:*'], Resource: [`arn:aws:s3:::${bucket.name}`, `arn:aws:s3:::${bucket.name}/*`] }] }));
      mustMc(root, 'admin', 'user', 'add', 'root', keys.AWS_ACCESS_KEY_ID, keys.AWS_SECRET_ACCESS_KEY);
      mustMc(root, 'admin', 'policy', 'create', 'root', `tenant-${tn.name}`, policy);
      mustMc(root, 'admin', 'policy', 'attach', 'root', `tenant-${tn.name}`, '--user', keys.AWS_ACCESS_KEY_ID);
    }
    // `s3://<store host:port>/…` (ClearML's URIs) and the store URL, on loopback.
    const storeHostPort = `${store.s3.host}:${store.s3.port}`;
    const onLoopback = (uri: string) => uri.split(storeHostPort).join(`127.0.0.1:${port}`);
    const install = kserveInstallFromOutput(objects);

    for (const job of jobs) {
      const ns = job.metadata.namespace as string;
      const tenant = platform.tenants.find((tn) => tn.namespace === ns) ?? assert.fail(`fetch Job ${job.metadata.name} is not in a tenant namespace`);
      const other = platform.tenants.find((tn) => tn !== tenant);
      const spec = job.spec.template.spec;
      const env = envOf(job);
      const id = env.CLEARML_MODEL_ID;
      const isvc = objects.find((o: any) => o.kind === 'InferenceService' && o.metadata.namespace === ns && o.metadata.name === job.spec.template.metadata.labels[MODEL_LABEL]) as any;
      assert.ok(isvc, `${job.metadata.name} fetches for an InferenceService of ${ns}`);
      assert.equal(env.TARGET_URI, isvc.spec.predictor.model.storageUri, 'the Job writes where the predictor loads from');
      const bucket = store.tenantBucket(tenant).bucket.name;
      assert.equal(env.TARGET_URI, `s3://${bucket}/mlplat-serving/${isvc.metadata.name}/clearml-${id}/`);
      assert.deepEqual(spec.containers[0].envFrom.map((e: any) => e.secretRef.name), [AGENT_SECRET, store.tenantBucket(tenant).credentials.name], 'only the tenant\'s own Secrets');
      const keyPair = secretData(cluster, ns, AGENT_SECRET);
      const outputUri = tracking.outputUri(tenant);
      assert.equal(outputUri, `s3://${storeHostPort}/${bucket}`, 'tasks of the tenant write models into its bucket');

      // The tenant's models: a packaged folder (the Job's id), a file over one S3 part, a file on
      // the fileserver; and models the Job must refuse.
      const ids = { foreign: '', big: '', onFiles: '', draft: '', elsewhere: '', unknown: '', wrongKey: '', wrongS3: '' };
      for (const k of Object.keys(ids) as Array<keyof typeof ids>) ids[k] = randomBytes(16).toString('hex');
      const upload = (local: string, uri: string) => mustMc(root, 'cp', local, onLoopback(uri).replace(`s3://127.0.0.1:${port}/`, 'root/'));
      const packaged = { 'model.joblib': randomBytes(4096), 'meta/params.json': '{"alpha": 0.5}' };
      const zipUri = `${outputUri}/demand/train.${id.slice(0, 8)}/models/model_package.zip`;
      upload(zipOf(procs.dir, packaged), zipUri);
      const big = path.join(procs.dir, 'weights.bin');
      fs.writeFileSync(big, randomBytes(64 * 1024 * 1024 + 4097)); // two parts of the Job's 64 MiB
      const bigUri = `${outputUri}/demand/train.big/models/weights.bin`;
      upload(big, bigUri);
      const small = path.join(procs.dir, 'model.pkl');
      fs.writeFileSync(small, randomBytes(2048));
      const filesPath = `/demand/train.files/models/model.pkl`;
      const foreignUri = other ? `${tracking.outputUri(other)}/theirs/models/model.pkl` : `s3://${storeHostPort}/tenant-nobody/models/model.pkl`;
      if (other) upload(small, foreignUri);
      const stub = await startClearmlStub(procs, `clearml-${ns}`, {
        keyPair: { key: keyPair.CLEARML_API_ACCESS_KEY, secret: keyPair.CLEARML_API_SECRET_KEY },
        models: {
          [id]: clearmlModel(id, 'demand', onLoopback(zipUri), { system_tags: ['package'] }),
          [ids.big]: clearmlModel(ids.big, 'demand-big', onLoopback(bigUri)),
          [ids.onFiles]: clearmlModel(ids.onFiles, 'demand-files', `${tracking.files.url}${filesPath}`),
          [ids.foreign]: clearmlModel(ids.foreign, 'theirs', onLoopback(foreignUri)),
          [ids.draft]: clearmlModel(ids.draft, 'draft', onLoopback(bigUri), { ready: false }),
          [ids.elsewhere]: clearmlModel(ids.elsewhere, 'elsewhere', 'https://models.example.com/demand/model.pkl'),
          [ids.wrongKey]: clearmlModel(ids.wrongKey, 'demand', onLoopback(zipUri)),
          [ids.wrongS3]: clearmlModel(ids.wrongS3, 'demand', onLoopback(zipUri)),
        },
        files: { [filesPath]: small },
        filesInRecords: tracking.files.url,
      });
      // The in-cluster addresses in the Job's environment (and the fileserver's in the model's
      // URI) point at loopback.
      const rewrite: Array<[string, string]> = [[store.s3.url, s3Url], [tracking.api.url, stub.api], [tracking.files.url, stub.files]];
      const specFor = (modelId: string) => {
        const target = env.TARGET_URI.replace(`clearml-${id}/`, `clearml-${modelId}/`);
        const c = spec.containers[0];
        const envList = c.env.map((e: any) => (e.name === 'CLEARML_MODEL_ID' ? { ...e, value: modelId } : e.name === 'TARGET_URI' ? { ...e, value: target } : e));
        return { ...spec, containers: [{ ...c, env: envList }] };
      };
      let runs = 0;
      const run = (modelId: string, extraEnv: Record<string, string> = {}) =>
        runContainer({
          cluster, procs, objects, name: `fetch-${ns}-${runs++}`,
          pod: { namespace: ns, spec: modelId === id ? spec : specFor(modelId) },
          rewrite,
          commands: { python: 'python3' },
          extraEnv: { PATH: process.env.PATH, ...extraEnv },
        });
      const refused = (modelId: string, extraEnv: Record<string, string> = {}): string => {
        try {
          run(modelId, extraEnv);
        } catch (e) {
          return (e as Error).message;
        }
        return assert.fail(`the fetch Job copied model ${modelId}`);
      };

      // What the predictor's storage initializer reads, with the credentials KServe gives it.
      const stored = cluster.get<any>(['inferenceservice', isvc.metadata.name, '-n', ns]);
      const init = renderPredictor(stored, install, clusterView(s)).deployment.spec.template.spec.initContainers.find((c: any) => c.name === 'storage-initializer');
      assert.deepEqual(init.args, [env.TARGET_URI, '/mnt/models']);
      const initEnv: Record<string, string> = {};
      for (const e of init.env) initEnv[e.name] = e.value ?? secretData(cluster, ns, e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key];
      assert.equal(initEnv.AWS_ENDPOINT_URL, store.s3.url);
      const asPredictor = { MC_HOST_p: hostOf(initEnv.AWS_ACCESS_KEY_ID, initEnv.AWS_SECRET_ACCESS_KEY) };
      const prefix = (modelId: string) => `p/${bucket}/mlplat-serving/${isvc.metadata.name}/clearml-${modelId}/`;
      const listing = (modelId: string) => {
        const r = mc(asPredictor, 'ls', '--recursive', prefix(modelId));
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ').at(-1)).sort();
      };
      const sha256Of = (mcPath: string): string => {
        const local = path.join(procs.dir, `check-${randomBytes(4).toString('hex')}`);
        mustMc(asPredictor, 'cp', mcPath, local);
        return createHash('sha256').update(fs.readFileSync(local)).digest('hex');
      };
      const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

      // 1. The Job as synthesized: the package, extracted under the storageUri.
      const first = run(id);
      assert.match(first, new RegExp(`copied ClearML model ${id} \\(demand, 2 files\\) from s3://127\\.0\\.0\\.1:${port}/${bucket}/.*model_package\\.zip to ${env.TARGET_URI.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.deepEqual(listing(id), ['meta/params.json', 'model.joblib'], 'the zip is extracted, nothing else lands under the prefix');
      for (const [name, content] of Object.entries(packaged)) assert.equal(sha256Of(`${prefix(id)}${name}`), sha256(content), name);
      const marker = JSON.parse(mustMc(asPredictor, 'cat', `p/${bucket}/mlplat-serving/${isvc.metadata.name}/clearml-${id}.source.json`));
      assert.equal(marker.clearml.id, id);
      const calls = stub.requests().filter((r) => r.server === 'api');
      assert.deepEqual(calls.map((r) => [r.endpoint, r.auth]), [['auth.login', 'Basic'], ['models.get_by_id', 'Bearer']], 'logs in with the key pair, then calls with the token');
      assert.deepEqual(calls[1].payload, { model: id });

      // 2. A re-run finds the marker: no ClearML call, nothing rewritten.
      const before = mustMc(asPredictor, 'ls', '--recursive', prefix(id));
      const requestsBefore = stub.requests().length;
      assert.match(run(id), new RegExp(`already holds ClearML model ${id}`));
      assert.equal(stub.requests().length, requestsBefore, 'a re-run does not call ClearML');
      assert.equal(mustMc(asPredictor, 'ls', '--recursive', prefix(id)), before, 'a re-run rewrites nothing');

      // 3. A file over one part goes up as a multipart upload, intact.
      assert.match(run(ids.big), /\(demand-big, 1 files\)/);
      assert.deepEqual(listing(ids.big), ['weights.bin']);
      assert.equal(sha256Of(`${prefix(ids.big)}weights.bin`), sha256(fs.readFileSync(big)), 'the multipart copy is the file');

      // 4. A model on the fileserver, read with the bearer token.
      assert.match(run(ids.onFiles), /\(demand-files, 1 files\) from http:\/\/127\.0\.0\.1:\d+\/demand\/train\.files\/models\/model\.pkl/);
      assert.deepEqual(listing(ids.onFiles), ['model.pkl']);
      assert.equal(sha256Of(`${prefix(ids.onFiles)}model.pkl`), sha256(fs.readFileSync(small)));
      assert.deepEqual(stub.requests().filter((r) => r.server === 'files').map((r) => [r.path, r.auth]), [[filesPath, 'Bearer']]);

      // 5. Refusals, each before anything is written under its prefix.
      assert.match(refused(ids.foreign), /neither in the tenant's own bucket \(s3:\/\/127\.0\.0\.1:\d+\/tenant-[a-z-]+\/…/);
      assert.match(refused(ids.draft), /is a draft: publish it first/);
      assert.match(refused(ids.elsewhere), /https:\/\/models\.example\.com\/demand\/model\.pkl is neither in the tenant's own bucket .* nor on the platform's ClearML fileserver/);
      assert.match(refused(ids.unknown), /models\.get_by_id: HTTP 400, result 400\/201: invalid model id/);
      assert.match(refused(ids.wrongKey, { CLEARML_API_SECRET_KEY: 'not-the-secret' }), /ClearML refused the tenant's API key: .*HTTP 401, result 401\/22/);
      if (other) assert.match(refused(ids.wrongS3, s3Keys.get(other.name)!), /AccessDenied/, `${other.name}'s S3 keys reach ${bucket}`);
      for (const k of ['foreign', 'draft', 'elsewhere', 'unknown', 'wrongKey', 'wrongS3'] as const) assert.deepEqual(listing(ids[k]), [], `nothing copied for ${k}`);
      t.diagnostic(`ClearML fetch Job ${ns}/${job.metadata.name}: package extracted, re-run idle, multipart and fileserver copies intact, 6 refusals`);
    }
  } finally {
    procs.cleanup();
  }
}
