import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { run } from '../bin/cli';
import { ACME, ROOT, tmpDir } from './helpers';

/** Runs the CLI in-process; returns exit code and captured output. */
function cli(args: string[], cwd?: string): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const prev = process.cwd();
  if (cwd) process.chdir(cwd);
  try {
    const code = run(args, { out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err };
  } finally {
    process.chdir(prev);
  }
}

const BAD = `apiVersion: mlplat.io/v1alpha1
kind: Platform
metadata: { name: bad }
spec:
  domain: ml.bad.example
  gpu:
    pools:
      - { name: l4, gpuModel: L4, gpusPerNode: 1, sharing: { mode: mig, profile: all-1g.10gb } }
  tenants:
    - { name: kube-system, groups: [x], quota: { cpu: "1", memory: 1Gi } }
`;

/** Files under `dir`, relative, sorted; hidden entries (the .mlplat-output marker) are checked where they matter. */
function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => !path.basename(f).startsWith('.') && fs.statSync(path.join(dir, f)).isFile())
    .sort();
}

describe('mlplat validate', () => {
  it('exits 0 for a valid config', () => {
    const r = cli(['validate', ACME]);
    assert.equal(r.code, 0);
    assert.match(r.out, /valid \(client acme\)/);
  });

  it('exits 1 with every error on stderr, no stack trace', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'platform.yaml');
    fs.writeFileSync(file, BAD);
    const r = cli(['validate', file]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.err.trim().split('\n'), [
      `${file}:8:82 spec.gpu.pools[0].sharing.profile: L4 does not support MIG (use timeSlicing)`,
      `${file}:10:15 spec.tenants[0].name: "kube-system" is reserved by Kubernetes; choose another tenant name`,
    ]);
    assert.doesNotMatch(r.err, /\bat .*\.ts:\d+/);
  });

  it('exits 2 on usage errors', () => {
    assert.equal(cli(['validate']).code, 2);
    assert.equal(cli(['frobnicate']).code, 2);
    assert.equal(cli(['synth', '--bogus']).code, 2);
    assert.equal(cli(['init', 'Not_A_Label']).code, 2);
  });

  it('prints help for every command with exit 0', () => {
    for (const c of ['synth', 'validate', 'schema', 'init', 'nodes']) {
      const r = cli([c, '--help']);
      assert.equal(r.code, 0, c);
      assert.match(r.out, new RegExp(`Usage: mlplat ${c}`));
    }
  });
});

describe('mlplat synth', () => {
  it('writes one numbered file per component, namespaces and definitions first', () => {
    const out = path.join(tmpDir(), 'out');
    const r = cli(['synth', ACME, '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(listTree(out), [
      '00-gpu-operator.yaml',
      '01-grafana.yaml',
      '02-monitoring.yaml',
      '03-tenancy.yaml',
      '04-tenant-research.yaml',
      '05-tenant-serving.yaml',
      '06-cert-manager.yaml',
      '07-traefik.yaml',
      '08-minio.yaml',
      '09-database.yaml',
      '10-keycloak.yaml',
      '11-mlflow.yaml',
      '12-dataset-cache.yaml',
      '13-start-page.yaml',
      '14-kserve.yaml',
      '15-logs.yaml',
      '16-credentials.yaml',
      'access/authentication-config.yaml',
      'access/kubeconfig-research.yaml',
      'access/kubeconfig-serving.yaml',
      // Custom resources of operators the first layer installs (Prometheus Operator, Traefik,
      // cert-manager, CloudNativePG, KServe): PodMonitors, rules, routes, InferenceServices.
      'after-operators/01-grafana.yaml',
      'after-operators/02-monitoring.yaml',
      'after-operators/06-cert-manager.yaml',
      'after-operators/07-traefik.yaml',
      'after-operators/08-minio.yaml',
      'after-operators/09-database.yaml',
      'after-operators/10-keycloak.yaml',
      'after-operators/11-mlflow.yaml',
      'after-operators/13-start-page.yaml',
      'after-operators/14-kserve.yaml',
      'after-operators/15-logs.yaml',
      'after-operators/kustomization.yml',
      'kustomization.yml',
    ]);
    // kube-system is the cluster's own (metrics-server is installed there).
    const created = new Set<string>(['kube-system']);
    // access/ holds files for people (kubeconfigs), not objects to apply.
    for (const f of listTree(out).filter((x) => x.endsWith('.yaml') && !x.startsWith('access/'))) {
      const docs = parseAllDocuments(fs.readFileSync(path.join(out, f), 'utf8')).map((d) => d.toJS());
      for (const d of docs) {
        if (d.kind === 'Namespace') created.add(d.metadata.name);
        if (d.metadata.namespace) assert.ok(created.has(d.metadata.namespace), `${f}: ${d.kind} ${d.metadata.name} comes after its namespace`);
      }
    }
    assert.match(r.out, /synthesized acme: 235 objects in 28 files/);
    assert.match(r.out, /apply .*after-operators\/ once the operators of the first layer are ready/);
    assert.match(r.out, /access\/: authentication-config\.yaml, kubeconfig-research\.yaml, kubeconfig-serving\.yaml \(for the cluster's admins and users, not applied/);
  });

  it('defaults to the bundled example and dist/<client>/', () => {
    const cwd = tmpDir();
    const r = cli(['synth'], cwd);
    assert.equal(r.code, 0, r.err);
    assert.equal(listTree(path.join(cwd, 'dist', 'acme')).filter((f) => f.endsWith('.yaml') && !f.startsWith('access/')).length, 28);
    assert.ok(fs.existsSync(path.join(cwd, 'dist', 'acme', '.mlplat-output')));
  });

  it('is byte-identical on re-run', () => {
    const a = path.join(tmpDir(), 'a');
    const b = path.join(tmpDir(), 'b');
    cli(['synth', ACME, '--out', a]);
    cli(['synth', ACME, '--out', b]);
    cli(['synth', ACME, '--out', b]);
    for (const f of listTree(a)) assert.equal(fs.readFileSync(path.join(a, f), 'utf8'), fs.readFileSync(path.join(b, f), 'utf8'), f);
  });

  it('leaves no directory behind for an invalid config', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'bad.yaml'), BAD);
    const r = cli(['synth', path.join(dir, 'bad.yaml'), '--out', path.join(dir, 'out')]);
    assert.equal(r.code, 1);
    assert.deepEqual(listTree(dir), ['bad.yaml']);
  });

  it('keeps the previous output whole when a later synth fails, and leaves no temp dirs', () => {
    const dir = tmpDir();
    const out = path.join(dir, 'out');
    cli(['synth', ACME, '--out', out]);
    const before = listTree(out).map((f) => fs.readFileSync(path.join(out, f), 'utf8'));
    fs.writeFileSync(path.join(dir, 'bad.yaml'), BAD);
    assert.equal(cli(['synth', path.join(dir, 'bad.yaml'), '--out', out]).code, 1);
    assert.deepEqual(listTree(out).map((f) => fs.readFileSync(path.join(out, f), 'utf8')), before);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['bad.yaml', 'out'], 'no temp dirs left');
  });

  it('replaces stale files of an earlier run', () => {
    const out = path.join(tmpDir(), 'out');
    cli(['synth', ACME, '--out', out]);
    fs.writeFileSync(path.join(out, '07-removed-component.yaml'), 'stale');
    cli(['synth', ACME, '--out', out]);
    assert.ok(!listTree(out).includes('07-removed-component.yaml'));
  });

  it('never replaces a non-empty directory it did not write', () => {
    const out = tmpDir();
    fs.writeFileSync(path.join(out, 'precious.txt'), 'keep me');
    const r = cli(['synth', ACME, '--out', out]);
    assert.equal(r.code, 1);
    assert.match(r.err, /refusing to replace .*: it is not empty and was not written by mlplat/);
    assert.deepEqual(listTree(out), ['precious.txt']);
  });
});

describe('mlplat schema, init, nodes', () => {
  it('schema prints JSON Schema', () => {
    const r = cli(['schema']);
    const schema = JSON.parse(r.out);
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.ok(schema.properties.spec.properties.tenants);
  });

  it('init scaffolds a config and a stack file that validate', () => {
    const cwd = tmpDir();
    const r = cli(['init', 'globex'], cwd);
    assert.equal(r.code, 0, r.err);
    const config = path.join(cwd, 'clients', 'globex', 'platform.yaml');
    assert.match(fs.readFileSync(config, 'utf8'), /^# yaml-language-server: \$schema=/);
    assert.match(fs.readFileSync(path.join(cwd, 'Pulumi.globex.yaml'), 'utf8'), /mlplat:config: clients\/globex\/platform.yaml/);
    assert.equal(cli(['validate', config]).code, 0);
    assert.equal(cli(['init', 'globex'], cwd).code, 1, 'refuses to overwrite');
    assert.equal(cli(['init', 'globex', '--force'], cwd).code, 0);
    const abs = cli(['init', 'initech', '--dir', path.join(cwd, 'elsewhere')], cwd);
    assert.equal(abs.code, 0, abs.err);
    assert.match(fs.readFileSync(path.join(cwd, 'Pulumi.initech.yaml'), 'utf8'), /mlplat:config: elsewhere\/initech\/platform.yaml/);
  });

  it('nodes prints each pool’s labels, taint and capacity', () => {
    const r = cli(['nodes', ACME]);
    assert.equal(r.code, 0);
    assert.match(r.out, /pool: a100[\s\S]*resource: nvidia.com\/mig-1g.10gb[\s\S]*capacityPerNode: 56/);
    assert.match(r.out, /mlplat.io\/gpu-pool=l4:NoSchedule/);
  });
});

describe('bin/mlplat.js', () => {
  it('runs as a real process with the exit codes of the CLI', () => {
    const bin = path.join(ROOT, 'bin', 'mlplat.js');
    assert.match(execFileSync(process.execPath, [bin, 'validate', ACME], { encoding: 'utf8' }), /valid/);
    const r = spawnSync(process.execPath, [bin, 'nope'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
  });

  it('gives the golden output both from its bundle and from the sources (MLPLAT_NO_BUNDLE=1)', () => {
    const bin = path.join(ROOT, 'bin', 'mlplat.js');
    const golden = path.join(ROOT, 'test', 'golden', 'acme');
    for (const noBundle of ['0', '1']) {
      const out = path.join(tmpDir(), `acme-${noBundle}`);
      const r = spawnSync(process.execPath, [bin, 'synth', ACME, '--out', out], { encoding: 'utf8', env: { ...process.env, MLPLAT_NO_BUNDLE: noBundle, MLPLAT_DEBUG: '1' } });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /bundle not available/, 'the bundle could not be built');
      assert.deepEqual(listTree(out), listTree(golden));
      for (const f of listTree(golden)) assert.equal(fs.readFileSync(path.join(out, f), 'utf8'), fs.readFileSync(path.join(golden, f), 'utf8'), f);
    }
    const cache = path.join(ROOT, 'node_modules', '.cache', 'mlplat');
    assert.ok(fs.existsSync(path.join(cache, 'cli.cjs')));
    // The code cache is named after the bundle text it was made from.
    const hash = createHash('sha256').update(fs.readFileSync(path.join(cache, 'cli.cjs'), 'utf8')).digest('hex').slice(0, 16);
    assert.ok(fs.readdirSync(cache).includes(`cli.cjs.${hash}.v8cache`), fs.readdirSync(cache).join(', '));
  });

  it('rebuilds its bundle when a source file changes (the stamp covers sources and the lock file)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { sourceStamp } = require('../bin/bundle.js') as { sourceStamp: (root: string, extra?: string[]) => string };
    const root = tmpDir();
    fs.mkdirSync(path.join(root, 'constructs', 'x'), { recursive: true });
    fs.writeFileSync(path.join(root, 'constructs', 'x', 'a.ts'), 'export const a = 1;\n');
    fs.writeFileSync(path.join(root, 'package-lock.json'), '{}');
    const first = sourceStamp(root);
    assert.equal(sourceStamp(root), first, 'stable for unchanged sources');
    fs.writeFileSync(path.join(root, 'constructs', 'x', 'a.ts'), 'export const a = 2;\n');
    const second = sourceStamp(root);
    assert.notEqual(second, first, 'a changed source of the same size, at once (content, not mtime)');
    fs.writeFileSync(path.join(root, 'constructs', 'x', 'b.py'), 'print(1)\n');
    assert.notEqual(sourceStamp(root), second, 'a new script');
    fs.writeFileSync(path.join(root, 'package-lock.json'), '{ }');
    assert.notEqual(sourceStamp(root), second, 'changed dependencies');
    const third = sourceStamp(root);
    fs.writeFileSync(path.join(root, 'tsconfig.json'), '{}');
    assert.notEqual(sourceStamp(root), third, 'compiler options');
    assert.notEqual(sourceStamp(root, ['v99']), sourceStamp(root), 'another Node');
  });
});

describe('cdk8s app (cdk8s.yaml)', () => {
  it('synthesizes the bundled example into $CDK8S_OUTDIR, identical to the CLI output', () => {
    const out = path.join(tmpDir(), 'cdk8s');
    execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'cdk8s-app.ts')], { cwd: ROOT, env: { ...process.env, CDK8S_OUTDIR: out } });
    const golden = path.join(ROOT, 'test', 'golden', 'acme');
    assert.deepEqual(listTree(out), listTree(golden));
    for (const f of listTree(golden)) assert.equal(fs.readFileSync(path.join(out, f), 'utf8'), fs.readFileSync(path.join(golden, f), 'utf8'));
  });
});

describe('mlplat with no command', () => {
  it('prints the commands on stderr and exits 2', () => {
    const r = cli([]);
    assert.equal(r.code, 2);
    assert.match(r.err, /Commands:/);
  });

  it('refuses a bad init domain before writing anything', () => {
    const cwd = tmpDir();
    const r = cli(['init', 'globex', '--domain', 'Not A Domain'], cwd);
    assert.equal(r.code, 2);
    assert.match(r.err, /domain "Not A Domain" must be a lowercase DNS name/);
    assert.deepEqual(fs.readdirSync(cwd), []);
  });
});
