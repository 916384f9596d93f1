import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError, formatIssue, loadPlatform, parsePlatform } from '../../lib/config/load';
import { platformJsonSchema } from '../../lib/config/schema';
import { ACME, acmeWith, MINIMAL } from '../helpers';

/** The formatted errors of config text (fails if it is valid). */
function errorsOf(text: string): string[] {
  try {
    parsePlatform(text, 'platform.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.issues.filter((i) => i.severity === 'error').map(formatIssue);
  }
  assert.fail('config was accepted');
}

/** Drops acme's spec.serving (the last block), for tests of other rules that rename its tenant or pool. */
const NO_SERVING: [RegExp, string] = [/\n  serving:.*\n(    .*\n)+/, '\n'];

const BASE = `apiVersion: mlplat.io/v1alpha1
kind: Platform
metadata:
  name: demo
spec:
  domain: ml.demo.example
`;

describe('config: valid files', () => {
  it('loads acme as written, with defaults applied', () => {
    const { spec, warnings } = loadPlatform(ACME);
    assert.equal(spec.metadata.name, 'acme');
    assert.equal(spec.spec.gpu.operator.driver, 'preinstalled');
    assert.equal(spec.spec.access.groupPrefix, 'oidc:');
    assert.deepEqual(spec.spec.gpu.pools.map((p) => p.name), ['a100', 'l4']);
    assert.deepEqual(spec.spec.gpu.pools[0].sharing, { mode: 'mig', profile: 'all-1g.10gb' });
    assert.deepEqual(spec.spec.tenants[0].quota, { cpu: '64', memory: '256Gi', gpus: { a100: 16, l4: 4 } });
    assert.equal(spec.spec.tenants[0].allowInternetEgress, false);
    assert.equal(spec.spec.tenants[0].allowServiceExposure, false);
    assert.deepEqual(warnings, []);
  });

  it('loads the minimal example', () => {
    assert.equal(loadPlatform(MINIMAL).spec.spec.tenants.length, 1);
  });

  it('accepts omitted sharing (whole GPUs) and numeric quantities', () => {
    const { spec } = parsePlatform(
      `${BASE}  gpu:\n    pools:\n      - { name: h100, gpuModel: H100-80GB, gpusPerNode: 8 }\n  tenants:\n    - { name: a, groups: [a], quota: { cpu: 8, memory: 1Gi, gpus: { h100: 8 } } }\n`,
      'p.yaml',
    );
    assert.equal(spec.spec.gpu.pools[0].sharing, undefined);
    assert.equal(spec.spec.tenants[0].quota.cpu, '8');
  });
});

describe('config: every error names file, line, column and field', () => {
  it('reports MIG on a model without MIG, as in the issue', () => {
    const text = acmeWith([['sharing: { mode: timeSlicing, replicas: 4 }', 'sharing: { mode: mig, profile: all-1g.10gb }']]);
    assert.deepEqual(errorsOf(text), [
      'platform.yaml:21:40 spec.gpu.pools[1].sharing.profile: L4 does not support MIG (use timeSlicing)',
    ]);
  });

  it('refuses MIG on T4 too', () => {
    const text = `${BASE}  gpu:\n    pools:\n      - { name: t4, gpuModel: T4, gpusPerNode: 1, sharing: { mode: mig, profile: all-1g.5gb } }\n`;
    assert.match(errorsOf(text)[0], /spec\.gpu\.pools\[0\]\.sharing\.profile: T4 does not support MIG/);
  });

  it('refuses a MIG layout the model does not have, listing the valid ones', () => {
    const text = acmeWith([['all-1g.10gb', 'all-1g.5gb']]);
    const [e] = errorsOf(text);
    assert.match(e, /^platform\.yaml:16:40 spec\.gpu\.pools\[0\]\.sharing\.profile: A100-80GB has no MIG layout "all-1g\.5gb" \(valid: .*all-1g\.10gb.*all-7g\.80gb/);
  });

  it('accepts every layout the catalog lists for A100-80GB', () => {
    for (const layout of ['all-1g.10gb', 'all-2g.20gb', 'all-3g.40gb', 'all-7g.80gb']) {
      assert.doesNotThrow(() => parsePlatform(acmeWith([['all-1g.10gb', layout]]), 'p.yaml'), layout);
    }
  });

  it('refuses MIG on an unknown model, accepts it with a warning for whole GPUs and time-slicing', () => {
    const mig = acmeWith([['gpuModel: A100-80GB', 'gpuModel: Z9000']]);
    assert.match(errorsOf(mig)[0], /^platform\.yaml:13:19 spec\.gpu\.pools\[0\]\.gpuModel: unknown GPU model "Z9000": MIG needs a known MIG-capable model \(.*A100-80GB/);
    const ts = acmeWith([['gpuModel: L4', 'gpuModel: Z9000']]);
    const { warnings } = parsePlatform(ts, 'platform.yaml');
    assert.deepEqual(warnings.map(formatIssue), [
      'platform.yaml:18:19 warning: spec.gpu.pools[1].gpuModel: unknown GPU model "Z9000": accepted for whole GPUs and time-slicing; check the spelling (see docs/gpu.md for known models)',
    ]);
  });

  it('requires time-slicing replicas ≥ 2 and gpusPerNode > 0', () => {
    const text = acmeWith([
      ['replicas: 4', 'replicas: 1'],
      ['gpusPerNode: 8', 'gpusPerNode: 0'],
    ]);
    assert.deepEqual(errorsOf(text), [
      'platform.yaml:14:22 spec.gpu.pools[0].gpusPerNode: must be at least 1',
      'platform.yaml:21:49 spec.gpu.pools[1].sharing.replicas: must be at least 2 (1 replica is a whole GPU: omit sharing)',
    ]);
  });

  it('requires DNS-1123 labels for client, pool and tenant names', () => {
    const text = acmeWith([
      NO_SERVING,
      ['name: acme', 'name: Acme_Corp'],
      ['name: l4', 'name: L4-pool'],
      ['name: serving', 'name: serving-'],
    ]);
    const errors = errorsOf(text);
    assert.match(errors[0], /^platform\.yaml:5:9 metadata\.name: must be a DNS-1123 label/);
    assert.match(errors[1], /^platform\.yaml:17:15 spec\.gpu\.pools\[1\]\.name: must be a DNS-1123 label/);
    assert.match(errors[2], /spec\.tenants\[0\]\.quota\.gpus\.l4: no GPU pool named "l4" \(pools: a100, L4-pool\)/);
    assert.match(errors[3], /^platform\.yaml:26:13 spec\.tenants\[1\]\.name: must be a DNS-1123 label/);
    assert.equal(errors.length, 5);
  });

  it('refuses duplicate pool and tenant names, pointing at the second', () => {
    const text = acmeWith([
      NO_SERVING,
      ['name: l4', 'name: a100'],
      ['name: serving', 'name: research'],
      ['gpus: { a100: 16, l4: 4 }', 'gpus: { a100: 16 }'],
      ['gpus: { l4: 4 }', 'gpus: {}'],
    ]);
    assert.deepEqual(errorsOf(text), [
      'platform.yaml:17:15 spec.gpu.pools[1].name: duplicate GPU pool name "a100" (already used at spec.gpu.pools[0])',
      'platform.yaml:26:13 spec.tenants[1].name: duplicate tenant name "research" (already used at spec.tenants[0])',
    ]);
  });

  it('refuses node contract labels in a pool nodeSelector', () => {
    const [e] = errorsOf(acmeWith([['{ node.kubernetes.io/instance-type: gpu-l4 }', '{ node.kubernetes.io/instance-type: gpu-l4, mlplat.io/gpu-pool: a100 }']]));
    assert.equal(e, 'platform.yaml:20:67 spec.gpu.pools[1].nodeSelector["mlplat.io/gpu-pool"]: "mlplat.io/gpu-pool" is set by mlplat from the pool; list only the labels your provider puts on the nodes');
  });

  it('refuses reserved pool names', () => {
    const [e] = errorsOf(acmeWith([['name: l4', 'name: ungranted'], ['l4: 4 }', 'ungranted: 4 }'], ['l4: 4 }', 'ungranted: 4 }']]));
    assert.equal(e, 'platform.yaml:17:15 spec.gpu.pools[1].name: "ungranted" is reserved (tenants have a gpu-ungranted quota); choose another pool name');
    const [d] = errorsOf(acmeWith([['name: l4', 'name: default'], ['l4: 4 }', 'default: 4 }'], ['l4: 4 }', 'default: 4 }']]));
    assert.match(d, /spec\.gpu\.pools\[1\]\.name: "default" is reserved \(it names the device-plugin config of GPU nodes outside any pool\)/);
  });

  it('limits tenant names to 56 characters and refuses system groups', () => {
    const text = acmeWith([
      ['name: serving', `name: ${'a'.repeat(57)}`],
      ['groups: [ml-engineers]', 'groups: ["system:masters"]'],
      ['domain: ml.acme.example', 'domain: ml.acme.example\n  access: { groupPrefix: "" }'],
    ]);
    const errors = errorsOf(text);
    assert.ok(errors.includes("platform.yaml:27:13 spec.tenants[1].name: must be at most 56 characters (it also names the tenant's output file and labels)"), errors.join('\n'));
    assert.ok(errors.some((e) => /spec\.tenants\[1\]\.groups\[0\]: "system:masters" is a Kubernetes system group/.test(e)), errors.join('\n'));
  });

  it('checks the data plane: what tracking and the cache need, and ClearML queue names', () => {
    const noStorage = errorsOf(acmeWith([[/\n  storage:\n(    .*\n)+/, '\n']]));
    assert.ok(noStorage.some((e) => /spec\.tracking: the tracking server keeps artifacts in the object store/.test(e)), noStorage.join('\n'));
    assert.ok(noStorage.some((e) => /spec\.datasetCache: the dataset cache is filled from the object store/.test(e)), noStorage.join('\n'));
    const noNfs = errorsOf(acmeWith([[/    nfs: .*\n/, '']]));
    assert.ok(noNfs.some((e) => /spec\.datasetCache: needs nfs \(server and path\)/.test(e)), noNfs.join('\n'));
    const external = errorsOf(acmeWith([['source: s3://models/meta-llama/Llama-2-7b-hf', 'source: s3://models/x\n        endpoint: https://s3.example.com']]));
    assert.ok(external.some((e) => /prefetch\[0\]\.credentialsSecret: name the Secret/.test(e)), external.join('\n'));
    const clash = errorsOf(`apiVersion: mlplat.io/v1alpha1
kind: Platform
metadata: { name: c }
spec:
  domain: c.example
  gpu:
    pools:
      - { name: l4, gpuModel: L4, gpusPerNode: 1 }
      - { name: b-l4, gpuModel: L4, gpusPerNode: 1 }
  tenants:
    - { name: a-b, groups: [g], quota: { cpu: "1", memory: 1Gi, gpus: { l4: 1 } } }
    - { name: a, groups: [h], quota: { cpu: "1", memory: 1Gi, gpus: { b-l4: 1 } } }
  storage: { kind: minio }
  tracking: { kind: clearml }
`);
    assert.deepEqual(clash, ['platform.yaml:12:71 spec.tenants[1].quota.gpus["b-l4"]: the ClearML queue "a-b-l4" would serve both tenant "a-b" on pool "l4" and tenant "a" on pool "b-l4"; rename the tenant or the pool']);
  });

  it('refuses reserved namespace names for tenants', () => {
    for (const [name, why] of [
      ['kube-system', 'is reserved by Kubernetes'],
      ['default', 'is reserved by Kubernetes'],
      ['kube-anything', 'is reserved by Kubernetes'],
      ['gpu-operator', 'is reserved for a platform component'],
      ['flux-system', 'is reserved for a platform component'],
    ]) {
      const [e] = errorsOf(acmeWith([['name: serving', `name: ${name}`]]));
      assert.equal(e, `platform.yaml:26:13 spec.tenants[1].name: "${name}" ${why}; choose another tenant name`);
    }
  });

  it('refuses a quota on a pool that does not exist, at the key', () => {
    const [e] = errorsOf(acmeWith([['gpus: { l4: 4 } }', 'gpus: { l4: 4, h100: 2 } }']]));
    assert.equal(e, 'platform.yaml:28:57 spec.tenants[1].quota.gpus.h100: no GPU pool named "h100" (pools: a100, l4)');
  });

  it('names unknown fields and lists the valid ones', () => {
    const [e] = errorsOf(acmeWith([['gpusPerNode: 1', 'gpusPerNode: 1\n        gpuCount: 2']]));
    assert.equal(e, 'platform.yaml:20:9 spec.gpu.pools[1].gpuCount: unknown field "gpuCount" (valid fields: name, gpuModel, gpusPerNode, nodeSelector, sharing)');
  });

  it('explains bad enum values, sharing modes, types, quantities and missing fields', () => {
    const text = `${BASE}  gpu:\n    operator: { driver: installed }\n    pools:\n      - { name: p, gpuModel: T4, gpusPerNode: two, sharing: { mode: mps } }\n  tenants:\n    - { name: a, groups: [], quota: { cpu: lots } }\n`;
    assert.deepEqual(errorsOf(text), [
      'platform.yaml:8:25 spec.gpu.operator.driver: must be "preinstalled" or "managed"',
      'platform.yaml:10:47 spec.gpu.pools[0].gpusPerNode: must be a number, not string "two"',
      'platform.yaml:10:69 spec.gpu.pools[0].sharing.mode: must be one of: timeSlicing, mig',
      'platform.yaml:12:26 spec.tenants[0].groups: list at least one SSO group whose members belong to the tenant',
      'platform.yaml:12:37 spec.tenants[0].quota.memory: is required',
      'platform.yaml:12:44 spec.tenants[0].quota.cpu: must be a Kubernetes quantity, e.g. "64", "500m", "256Gi"',
    ]);
  });

  it('explains bad label keys and numeric quantities', () => {
    const text = `${BASE}  gpu:\n    pools:\n      - {name: p, gpuModel: T4, gpusPerNode: 1, nodeSelector: {"a/b/c": x}}\n  tenants:\n    - {name: t, groups: [g], quota: {cpu: -1, memory: 99999999999999999999999}}\n`;
    assert.deepEqual(errorsOf(text), [
      'platform.yaml:9:64 spec.gpu.pools[0].nodeSelector["a/b/c"]: key: label keys look like "example.com/name" or "name"',
      'platform.yaml:11:43 spec.tenants[0].quota.cpu: must be 0 or more',
      'platform.yaml:11:55 spec.tenants[0].quota.memory: write very large or very small quantities as a string, e.g. "100Ti" or "500m"',
    ]);
  });

  it('reports every error of a file at once, schema and semantic together', () => {
    const text = acmeWith([
      NO_SERVING,
      ['driver: preinstalled', 'driver: sometimes'],
      ['sharing: { mode: timeSlicing, replicas: 4 }', 'sharing: { mode: mig, profile: all-1g.10gb }'],
      ['name: serving', 'name: kube-public'],
      ['gpus: { l4: 4 } }', 'gpus: { l4: 4, v100: 1 } }'],
    ]);
    assert.equal(errorsOf(text).length, 4);
  });

  it('reports YAML syntax errors and wrong document kinds with positions', () => {
    assert.match(errorsOf('spec: [\n')[0], /^platform\.yaml:\d+:\d+ YAML syntax: /);
    const errs = errorsOf('apiVersion: v1\nkind: ConfigMap\n');
    assert.ok(errs.includes('platform.yaml:1:13 apiVersion: must be "mlplat.io/v1alpha1"'), errs.join('\n'));
    assert.ok(errs.includes('platform.yaml:2:7 kind: must be "Platform"'), errs.join('\n'));
    assert.ok(errs.includes('platform.yaml:1:1 spec: is required (object)'), errs.join('\n'));
  });

  it('reads YAML merge keys, and reports empty files and alias bombs without a stack trace', () => {
    const merged = `${BASE}  gpu:\n    pools:\n      - &l4 { name: l4a, gpuModel: L4, gpusPerNode: 1 }\n      - { <<: *l4, name: l4b }\n`;
    assert.deepEqual(parsePlatform(merged, 'p.yaml').spec.spec.gpu.pools.map((p) => `${p.name}:${p.gpuModel}`), ['l4a:L4', 'l4b:L4']);
    assert.deepEqual(errorsOf(''), ['platform.yaml:1:1 the file is empty: it should hold one Platform document (run `mlplat init <client>` for a commented start)']);
    const level = (n: number) => `l${n}: &l${n} [${Array(9).fill(n === 0 ? '"x"' : `*l${n - 1}`).join(',')}]`;
    const bomb = [0, 1, 2, 3, 4, 5].map(level).join('\n');
    assert.match(errorsOf(bomb)[0], /^platform\.yaml:1:1 YAML: Excessive alias count/);
  });

  it('names the file that cannot be read', () => {
    assert.throws(() => loadPlatform('/nonexistent/platform.yaml'), (e: ConfigError) => {
      assert.equal(formatIssue(e.issues[0]), '/nonexistent/platform.yaml:1:1 cannot read config: no such file');
      return true;
    });
  });
});

describe('config: JSON Schema', () => {
  it('describes the config for editors and matches the committed copy', () => {
    const schema = platformJsonSchema() as any;
    assert.deepEqual(schema.required.sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
    assert.equal(schema.properties.spec.properties.gpu.properties.pools.items.properties.sharing.oneOf?.length ?? schema.properties.spec.properties.gpu.properties.pools.items.properties.sharing.anyOf?.length, 2);
    const committed = JSON.parse(fs.readFileSync(`${__dirname}/../../docs/platform.schema.json`, 'utf8'));
    assert.deepEqual(committed, schema, 'docs/platform.schema.json is stale: run `npx mlplat schema > docs/platform.schema.json`');
  });
});
