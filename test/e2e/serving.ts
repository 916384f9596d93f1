/**
 * Model-serving assertions of the e2e suite (issue 6), registered into each example's suite by
 * e2e.test.ts. kwok runs no KServe controller and no KServe webhooks, so the harness does their
 * part: each synthesized InferenceService (as the API server stored it) is rendered into the
 * predictor Deployment and Service KServe v0.20.0 would create (lib/kserve.ts, from the charts of
 * the kserve module), and those are applied like a controller applies them. What is tested is
 * the platform's side: the tenant namespace's admission (Pod Security `restricted`, the GPU and
 * dataset-cache policies, ResourceQuota) admits the pods, they land on the pool's nodes, and the
 * route reaches them. The MLflow fetch Job runs for real inside the real-components test
 * (data-plane.ts), while MinIO and MLflow run. Each test skips itself when the example serves no
 * models.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { it, TestContext } from 'node:test';
import { KSERVE_API_GROUP } from '../../constructs/serving/kserve';
import { MlflowServer } from '../../constructs/tracking/mlflow';
import { KubeObject } from '../../lib/synth';
import { RealComponents, SuiteState, whileRealComponentsRun } from './data-plane';
import { waitFor } from './lib/cluster';
import { ClusterView, kserveInstallFromOutput, renderPredictor } from './lib/kserve';
import { runContainer } from './lib/local-pod';
import { secretData } from './lib/storage';

/** The label mlplat gives the fetch Job's pods (constructs/serving/endpoint.ts). */
const FETCH_ROLE = { key: 'mlplat.io/role', value: 'model-fetch' };
const MODEL_LABEL = 'mlplat.io/model';
/** The field manager the harness applies the predictor objects with, standing in for KServe's. */
const CONTROLLER = 'kserve-controller-manager';

const objectsOf = (s: SuiteState): KubeObject[] => s.files.flatMap((f) => f.objects);
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

export function servingTests(state: () => SuiteState): void {
  whileRealComponentsRun(state, 'MLflow fetch Jobs', (rc, t) => fetchJobs(state(), rc, t));

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
  const jobs = objects.filter((o: any) => o.kind === 'Job' && o.spec.template.metadata?.labels?.[FETCH_ROLE.key] === FETCH_ROLE.value) as any[];
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
    const env = Object.fromEntries((spec.containers[0].env as any[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]));
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
