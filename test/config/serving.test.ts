import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatIssue, loadPlatform, parsePlatform } from '../../lib/config/load';
import { ACME, synthText } from '../helpers';

/**
 * A platform with everything serving needs: three pools (whole GPUs, time-sliced, MIG), a tenant
 * granted all three and one granted none, MLflow and one dataset-cache entry. Models are appended
 * one per line (flow style) after `models:`, so each rule's file position is easy to name.
 */
const BASE = `apiVersion: mlplat.io/v1alpha1
kind: Platform
metadata: { name: demo }
spec:
  domain: ml.demo.example
  gpu:
    pools:
      - { name: h100, gpuModel: H100-80GB, gpusPerNode: 8 }
      - { name: l4, gpuModel: L4, gpusPerNode: 1, sharing: { mode: timeSlicing, replicas: 4 } }
      - { name: a100, gpuModel: A100-80GB, gpusPerNode: 8, sharing: { mode: mig, profile: all-1g.10gb } }
  tenants:
    - { name: team, groups: [team], quota: { cpu: "64", memory: 256Gi, gpus: { h100: 2, l4: 1, a100: 1 } } }
    - { name: other, groups: [other], quota: { cpu: "8", memory: 32Gi, gpus: { h100: 0 } } }
  ingress: {}
  sso: {}
  storage: { kind: minio }
  tracking: { kind: mlflow }
  datasetCache:
    size: 1Ti
    nfs: { server: nfs.demo.internal, path: /cache }
    prefetch:
      - { name: llama, source: s3://models/llama }
  serving:
    models:
`;

/** A valid CPU model of tenant `team`, with `extra` fields (flow-style YAML) overriding or added. */
function model(extra = '', source = 'source: { uri: s3://tenant-team/models/m }'): string {
  return `      - { name: m, tenant: team, format: sklearn, ${source}, resources: { cpu: "1", memory: 1Gi }${extra ? `, ${extra}` : ''} }\n`;
}

const config = (...models: string[]): string => BASE + models.join('');

/** All issues of config text, formatted; errors only unless `warnings`. */
function issuesOf(text: string, severity: 'error' | 'warning' = 'error'): string[] {
  let warnings: string[];
  try {
    warnings = parsePlatform(text, 'platform.yaml').warnings.map(formatIssue);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.issues.filter((i) => i.severity === severity).map(formatIssue);
  }
  assert.equal(severity, 'warning', `config was accepted; warnings: ${warnings.join('\n')}`);
  return warnings;
}

/** Index of the first model line (the one after `    models:`). */
const firstModel = (lines: string[]): number => lines.indexOf('    models:') + 1;

/** `line:col` of `needle` on the first model line holding `lineNeedle` (default: the needle itself). */
function pos(text: string, needle: string, lineNeedle = needle): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l, n) => n >= firstModel(lines) && l.includes(lineNeedle));
  assert.ok(i >= 0, `${lineNeedle} not on a model line`);
  return `${i + 1}:${lines[i].indexOf(needle, lines[i].indexOf(lineNeedle)) + 1}`;
}

/** `line:col` of the value of `key` on the n-th model line (0-based). */
function at(text: string, n: number, key: string): string {
  const lines = text.split('\n');
  const i = firstModel(lines) + n;
  const k = lines[i].indexOf(`${key}: `);
  assert.ok(k >= 0, `${key} not on model line ${n}`);
  return `${i + 1}:${k + key.length + 3}`;
}

describe('config: spec.serving', () => {
  it('accepts acme as written: two models of tenant serving, no warnings', () => {
    const { spec, warnings } = loadPlatform(ACME);
    assert.deepEqual(warnings, []);
    const models = spec.spec.serving!.models;
    assert.deepEqual(models.map((m) => [m.name, m.tenant, m.pool, m.format]), [
      ['llama-chat', 'serving', 'l4', 'huggingface'],
      ['churn', 'serving', undefined, 'mlflow'],
    ]);
    // Documented defaults: replicas.min 1 and no max (= min), no args.
    assert.deepEqual(models[0].replicas, { min: 1 });
    assert.deepEqual(models[1].replicas, { min: 2, max: 4 });
    assert.deepEqual(spec.spec.serving!.metricsServer, { replicas: 1, kubeletInsecureTls: false }, 'autoscaling with the platform\'s metrics-server: no warning');
    assert.deepEqual(models[1].args, []);
    assert.deepEqual(models[1].source, { mlflow: { model: 'churn', version: 3 } });
  });

  it('accepts the base platform with one valid model of each source and pool kind', () => {
    const text = config(
      model(),
      model('pool: h100', 'source: { cache: llama }').replace('name: m,', 'name: cached,'),
      model('pool: l4, gpus: 1', 'source: { mlflow: { model: churn, version: 2 } }').replace('name: m,', 'name: tracked,'),
      model('pool: a100, gpus: 3').replace('name: m,', 'name: sliced,'),
    );
    assert.deepEqual(issuesOf(text, 'warning'), []);
    assert.deepEqual(parsePlatform(text, 'platform.yaml').spec.spec.serving!.models.map((m) => m.name), ['m', 'cached', 'tracked', 'sliced']);
  });

  it("refuses a model of a tenant that does not exist, listing the tenants", () => {
    const text = config(model().replace('tenant: team', 'tenant: nope'));
    assert.deepEqual(issuesOf(text), [
      `platform.yaml:${at(text, 0, 'tenant')} spec.serving.models[0].tenant: no tenant named "nope" (tenants: team, other)`,
      // The uri rule names the tenant the model claims: its bucket is s3://tenant-nope/.
      `platform.yaml:${pos(text, 's3://tenant-team/models/m')} spec.serving.models[0].source.uri: must be in the tenant's own bucket, s3://tenant-nope/… (its credentials reach no other bucket)`,
    ]);
  });

  it('refuses a pool that does not exist, or is not granted to the tenant (a pool listed with 0 GPUs is not granted)', () => {
    const missing = config(model('pool: v100'));
    assert.deepEqual(issuesOf(missing), [`platform.yaml:${at(missing, 0, 'pool')} spec.serving.models[0].pool: no GPU pool named "v100"`]);
    const ungranted = config(model('pool: l4').replace('tenant: team', 'tenant: other').replace('tenant-team', 'tenant-other'));
    assert.deepEqual(issuesOf(ungranted), [
      `platform.yaml:${at(ungranted, 0, 'pool')} spec.serving.models[0].pool: pool "l4" is not granted to tenant "other" (spec.tenants[].quota.gpus)`,
    ]);
    const zero = config(model('pool: h100').replace('tenant: team', 'tenant: other').replace('tenant-team', 'tenant-other'));
    assert.deepEqual(issuesOf(zero), [
      `platform.yaml:${at(zero, 0, 'pool')} spec.serving.models[0].pool: pool "h100" is not granted to tenant "other" (spec.tenants[].quota.gpus)`,
    ]);
  });

  it('needs a pool for GPUs, and at least 1 GPU unit on a pool', () => {
    const noPool = config(model('gpus: 1'));
    assert.deepEqual(issuesOf(noPool), [`platform.yaml:${at(noPool, 0, 'gpus')} spec.serving.models[0].gpus: GPUs come from a pool: name the pool`]);
    const none = config(model('pool: h100, gpus: 0'));
    assert.deepEqual(issuesOf(none), [
      `platform.yaml:${at(none, 0, 'gpus')} spec.serving.models[0].gpus: a model on pool "h100" needs at least 1 GPU unit (pool pods without a GPU are refused)`,
    ]);
    // gpus defaults to 1 with a pool and 0 without: both valid.
    assert.deepEqual(issuesOf(config(model('pool: h100')), 'warning'), []);
    assert.deepEqual(issuesOf(config(model('gpus: 0')), 'warning'), []);
  });

  it('gives a model on a time-sliced pool exactly one slice', () => {
    const text = config(model('pool: l4, gpus: 2'));
    assert.deepEqual(issuesOf(text), [`platform.yaml:${at(text, 0, 'gpus')} spec.serving.models[0].gpus: pool "l4" time-slices its GPUs: a pod gets exactly 1 slice`]);
  });

  it('fits each tenant pool quota, counting one surge replica per model, and names both numbers', () => {
    // h100: 2 GPUs granted. (max 1 + 1 surge) × 1 GPU = 2: fits exactly.
    assert.deepEqual(issuesOf(config(model('pool: h100, replicas: { min: 1, max: 1 }')), 'warning'), []);
    const scaled = config(model('pool: h100, gpus: 1, replicas: { min: 2 }'));
    assert.deepEqual(issuesOf(scaled), [
      `platform.yaml:${at(scaled, 0, 'gpus')} spec.serving.models[0].gpus: tenant "team" may hold 2 GPU units on pool "h100" (2 GPUs × 1); its models need 3 (per model: (replicas.max + 1 for rolling updates) × gpus)`,
    ]);
    // Models of one tenant on one pool add up: the second one goes over (2 + 2 = 4 > 2).
    const two = config(model('pool: h100'), model('pool: h100').replace('name: m,', 'name: n,'));
    const errors = issuesOf(two);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /^platform\.yaml:\d+:\d+ spec\.serving\.models\[1\]\.gpus: tenant "team" may hold 2 GPU units on pool "h100" \(2 GPUs × 1\); its models need 4 /);
    // MIG: 1 A100 × 7 slices = 7 units; 2 replicas × 4 slices = 8 do not fit, 2 × 3 = 6 do.
    assert.deepEqual(issuesOf(config(model('pool: a100, gpus: 3')), 'warning'), []);
    const mig = issuesOf(config(model('pool: a100, gpus: 4')));
    assert.equal(mig.length, 1);
    assert.match(mig[0], /spec\.serving\.models\[0\]\.gpus: tenant "team" may hold 7 GPU units on pool "a100" \(1 GPUs × 7\); its models need 8 /);
    // Time-sliced: 1 L4 × 4 slices; three models need 2, 4, then 6 > 4 at the third.
    const sliced = issuesOf(config(...['a', 'b', 'c'].map((n) => model('pool: l4').replace('name: m,', `name: ${n},`))));
    assert.equal(sliced.length, 1);
    assert.match(sliced[0], /spec\.serving\.models\[2\]\.gpus: tenant "team" may hold 4 GPU units on pool "l4" \(1 GPUs × 4\); its models need 6 /);
  });

  it('refuses replicas.max below min, and warns that max above min needs metrics-server unless the platform installs it', () => {
    const below = config(model('replicas: { min: 3, max: 2 }'));
    assert.deepEqual(issuesOf(below), [`platform.yaml:${pos(below, '2 }', 'max: 2')} spec.serving.models[0].replicas.max: must be at least replicas.min (3)`]);
    const above = config(model('replicas: { min: 1, max: 3 }'));
    assert.deepEqual(issuesOf(above, 'warning'), [
      `platform.yaml:${pos(above, '3 }', 'max: 3')} warning: spec.serving.models[0].replicas.max: autoscaling between min and max needs the resource metrics API: set spec.serving.metricsServer unless the cluster has a metrics-server`,
    ]);
    // With metrics-server installed by the platform: no warning, and the release is in kube-system.
    const withMetrics = above.replace('  serving:\n', '  serving:\n    metricsServer: { kubeletInsecureTls: true }\n');
    assert.deepEqual(issuesOf(withMetrics, 'warning'), []);
    const release = synthText(withMetrics).objects.find((o: any) => o.kind === 'HelmRelease' && o.metadata.name === 'metrics-server') as any;
    assert.equal(release.metadata.namespace, 'kube-system');
    assert.deepEqual(release.spec.values.args, ['--kubelet-insecure-tls']);
    assert.equal(synthText(above).objects.some((o: any) => o.metadata.name === 'metrics-server'), false, 'not installed unless asked for');
    // max defaults to min: no autoscaling, no warning.
    assert.deepEqual(issuesOf(config(model('replicas: { min: 3 }')), 'warning'), []);
  });

  it('needs exactly one source', () => {
    const none = config(model('', 'source: {}'));
    assert.deepEqual(issuesOf(none), [`platform.yaml:${at(none, 0, 'source')} spec.serving.models[0].source: name exactly one of uri, cache, mlflow, clearml`]);
    const two = config(model('', 'source: { cache: llama, uri: s3://tenant-team/m }'));
    assert.deepEqual(issuesOf(two), [`platform.yaml:${at(two, 0, 'source')} spec.serving.models[0].source: name exactly one of uri, cache, mlflow, clearml (got uri, cache)`]);
  });

  it("keeps s3 URIs in the tenant's own bucket (not another tenant's, not a bucket that merely starts alike)", () => {
    for (const uri of ['s3://tenant-other/m', 's3://tenant-team-x/m', 's3://artifacts/workspaces/team/m', 's3://models/llama']) {
      const text = config(model('', `source: { uri: ${uri} }`));
      assert.deepEqual(issuesOf(text), [
        `platform.yaml:${pos(text, uri)} spec.serving.models[0].source.uri: must be in the tenant's own bucket, s3://tenant-team/… (its credentials reach no other bucket)`,
      ], uri);
    }
    const noPath = config(model('', 'source: { uri: s3://tenant-team }'));
    assert.match(issuesOf(noPath)[0], /spec\.serving\.models\[0\]\.source\.uri: must be an s3:\/\/ URI with a path/);
  });

  it('refuses a cache entry that is not prefetched (and any cache source without the dataset cache)', () => {
    const text = config(model('', 'source: { cache: mistral }'));
    assert.deepEqual(issuesOf(text), [`platform.yaml:${pos(text, 'mistral')} spec.serving.models[0].source.cache: no datasetCache.prefetch entry named "mistral"`]);
    const noCache = config(model('', 'source: { cache: llama }')).replace(/\n  datasetCache:\n(    .*\n)+/, '\n');
    assert.deepEqual(issuesOf(noCache), [`platform.yaml:${pos(noCache, 'llama')} spec.serving.models[0].source.cache: no datasetCache.prefetch entry named "llama"`]);
  });

  it('needs MLflow tracking for an MLflow source, with a version number', () => {
    const src = 'source: { mlflow: { model: churn, version: 3 } }';
    const clearml = config(model('', src)).replace('tracking: { kind: mlflow }', 'tracking: { kind: clearml }');
    assert.deepEqual(issuesOf(clearml), [`platform.yaml:${pos(clearml, '{ model: churn')} spec.serving.models[0].source.mlflow: needs spec.tracking.kind: mlflow`]);
    const none = config(model('', src)).replace('  tracking: { kind: mlflow }\n', '');
    assert.deepEqual(issuesOf(none), [`platform.yaml:${pos(none, '{ model: churn')} spec.serving.models[0].source.mlflow: needs spec.tracking.kind: mlflow`]);
    const alias = config(model('', 'source: { mlflow: { model: churn, version: 0 } }'));
    assert.deepEqual(issuesOf(alias), [
      `platform.yaml:${pos(alias, '0 } }')} spec.serving.models[0].source.mlflow.version: must be a version number (aliases can move; versions cannot)`,
    ]);
  });

  it('accepts a ClearML source with ClearML tracking, for any tenant; needs ClearML tracking otherwise', () => {
    const src = 'source: { clearml: { id: 0123456789abcdef0123456789abcdef } }';
    const clearml = config(model('', src)).replace('tracking: { kind: mlflow }', 'tracking: { kind: clearml }');
    assert.doesNotThrow(() => parsePlatform(clearml, 'platform.yaml'));
    const mlflow = config(model('', src));
    assert.deepEqual(issuesOf(mlflow), [`platform.yaml:${pos(mlflow, '{ id:')} spec.serving.models[0].source.clearml: needs spec.tracking.kind: clearml`]);
    // Any tenant gets a ClearML key pair for the fetch Job, with or without agents.
    const noGrant = clearml.replace('name: m, tenant: team,', 'name: m, tenant: other,');
    assert.doesNotThrow(() => parsePlatform(noGrant, 'platform.yaml'));
    const noAgents = clearml.replace('tracking: { kind: clearml }', 'tracking: { kind: clearml, agents: false }');
    assert.doesNotThrow(() => parsePlatform(noAgents, 'platform.yaml'));
    const badId = config(model('', 'source: { clearml: { id: not-an-id } }')).replace('tracking: { kind: mlflow }', 'tracking: { kind: clearml }');
    assert.ok(issuesOf(badId).some((e) => /spec\.serving\.models\[0\]\.source\.clearml\.id: must be a ClearML model id \(32 hex characters\)/.test(e)));
  });

  it('refuses a model served twice by one tenant (its host would be routed twice); another tenant may reuse the name', () => {
    const twice = config(model(), model('', 'source: { cache: llama }'));
    const errors = issuesOf(twice);
    const second = twice.split('\n').findIndex((l, i, all) => l.startsWith('      - { name: m,') && i > all.findIndex((x) => x.startsWith('      - { name: m,')));
    assert.deepEqual(errors, [`platform.yaml:${second + 1}:17 spec.serving.models[1].name: tenant "team" already serves a model named "m"`]);
    const shared = config(model(), model().replace('tenant: team', 'tenant: other').replace('tenant-team', 'tenant-other'));
    assert.deepEqual(issuesOf(shared, 'warning'), []);
  });

  it('checks model names: DNS labels of at most 40 characters (the first label of the host)', () => {
    const long = config(model().replace('name: m,', `name: ${'m'.repeat(41)},`));
    assert.deepEqual(issuesOf(long), [`platform.yaml:${at(long, 0, 'name')} spec.serving.models[0].name: must be at most 40 characters (it is the first label of the model's host)`]);
    const upper = config(model().replace('name: m,', 'name: Churn,'));
    assert.match(issuesOf(upper)[0], /spec\.serving\.models\[0\]\.name: must be a DNS-1123 label/);
  });

  it('refuses a model name that starts with a digit (KServe: InferenceService names are DNS-1035 labels)', () => {
    const text = config(model().replace('name: m,', 'name: 7b-chat,'));
    assert.deepEqual(issuesOf(text), [`platform.yaml:${at(text, 0, 'name')} spec.serving.models[0].name: must start with a letter (KServe names are DNS-1035 labels)`]);
  });

  it("fits the tenant's CPU and memory quota, counting the surge replica and every model of the tenant", () => {
    // Tenant other may request 8 CPUs and 32Gi: (16 + 1) × 1 CPU = 17.
    const other = (m: string) => m.replace('tenant: team', 'tenant: other').replace('tenant-team', 'tenant-other');
    const cpu = config(other(model('replicas: { min: 16 }')));
    assert.deepEqual(issuesOf(cpu), [
      `platform.yaml:${pos(cpu, '"1"', 'cpu: "1"')} spec.serving.models[0].resources.cpu: tenant "other" may request 8 cpu; its models need 17 ((replicas.max + 1 for rolling updates) × 1)`,
    ]);
    const memory = config(other(model('replicas: { min: 3 }').replace('memory: 1Gi', 'memory: 10Gi')));
    assert.deepEqual(issuesOf(memory), [
      `platform.yaml:${pos(memory, '10Gi')} spec.serving.models[0].resources.memory: tenant "other" may request 32Gi memory; its models need 40Gi ((replicas.max + 1 for rolling updates) × 10Gi)`,
    ]);
    // (3 + 1) × 6Gi = 24Gi fits; a second model of 2 × 4500Mi goes over, reported there with the sum.
    const first = other(model('replicas: { min: 3 }').replace('memory: 1Gi', 'memory: 6Gi'));
    assert.deepEqual(issuesOf(config(first), 'warning'), []);
    const sum = config(first, other(model().replace('name: m,', 'name: n,').replace('memory: 1Gi', 'memory: 4500Mi')));
    assert.deepEqual(issuesOf(sum), [
      `platform.yaml:${pos(sum, '4500Mi')} spec.serving.models[1].resources.memory: tenant "other" may request 32Gi memory; its models need 33576Mi ((replicas.max + 1 for rolling updates) × 4500Mi)`,
    ]);
    // Millicores add up too: (1 + 1) × 500m = 1 CPU fits next to (3 + 1) × 1.
    assert.deepEqual(issuesOf(config(first, other(model().replace('name: m,', 'name: n,').replace('cpu: "1"', 'cpu: 500m'))), 'warning'), []);
  });

  it('needs the ingress, sso and storage: one error at spec.serving naming each missing part', () => {
    const bare = `apiVersion: mlplat.io/v1alpha1
kind: Platform
metadata: { name: demo }
spec:
  domain: ml.demo.example
  serving: { models: [] }
`;
    assert.deepEqual(issuesOf(bare), [
      "platform.yaml:6:12 spec.serving: each model is served at <model>.<tenant>.<domain> through the ingress: add spec.ingress; endpoints check Keycloak tokens: add spec.sso; models are loaded from the tenant's bucket: add spec.storage",
    ]);
    // Only what is missing is named (other rules report the rest of these configs at their own paths).
    const servingErrors = (text: string) => issuesOf(text).filter((e) => / spec\.serving: /.test(e)).map((e) => e.replace(/^\S+ spec\.serving: /, ''));
    const drop = (re: RegExp) => config(model()).replace(re, '\n');
    assert.deepEqual(servingErrors(drop(/\n  ingress: \{\}\n/)), ['each model is served at <model>.<tenant>.<domain> through the ingress: add spec.ingress']);
    assert.deepEqual(servingErrors(drop(/\n  sso: \{\}\n/)), ['endpoints check Keycloak tokens: add spec.sso']);
    assert.deepEqual(servingErrors(drop(/\n  storage: \{ kind: minio \}\n/)), ["models are loaded from the tenant's bucket: add spec.storage"]);
  });

  it('needs storage and sso for observability: one error at spec.observability, nothing when both are there', () => {
    const bare = `apiVersion: mlplat.io/v1alpha1
kind: Platform
metadata: { name: demo }
spec:
  domain: ml.demo.example
  observability: {}
`;
    assert.deepEqual(issuesOf(bare), [
      'platform.yaml:6:18 spec.observability: Loki keeps logs in the object store: add spec.storage; Grafana logs users in through Keycloak only: add spec.sso',
    ]);
    const observed = config(model()).replace('  serving:\n', '  observability: {}\n  serving:\n');
    assert.deepEqual(issuesOf(observed, 'warning'), []);
    const observabilityErrors = (text: string) => issuesOf(text).filter((e) => / spec\.observability: /.test(e)).map((e) => e.replace(/^\S+ spec\.observability: /, ''));
    assert.deepEqual(observabilityErrors(observed.replace('  sso: {}\n', '')), ['Grafana logs users in through Keycloak only: add spec.sso']);
    assert.deepEqual(observabilityErrors(observed.replace('  storage: { kind: minio }\n', '')), ['Loki keeps logs in the object store: add spec.storage']);
  });

  it('reports every model error of a file at once, each at its own model', () => {
    const text = config(
      model().replace('tenant: team', 'tenant: nope').replace('tenant-team', 'tenant-nope'),
      model('pool: v100').replace('name: m,', 'name: n,'),
      model('', 'source: { cache: mistral }').replace('name: m,', 'name: o,'),
    );
    const paths = issuesOf(text).map((e) => e.split(' ')[1]);
    assert.deepEqual(paths, ['spec.serving.models[0].tenant:', 'spec.serving.models[1].pool:', 'spec.serving.models[2].source.cache:']);
  });
});
