/**
 * Synthesis benchmark: how long a whole client platform takes to synthesize, and how that
 * grows with the number of tenants (charts). Not a test: run with `npm run bench`.
 *
 * Measures, in one process: module load, acme config load+validate, acme render, and render
 * time for 10…400 tenants with our per-chart renderer, and the same trees with cdk8s App.synth().
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const t0 = process.hrtime.bigint();
const ms = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e6;

/* eslint-disable @typescript-eslint/no-require-imports */
const { loadPlatform } = require('../../lib/config/load') as typeof import('../../lib/config/load');
const { renderTree, toYaml } = require('../../lib/synth') as typeof import('../../lib/synth');
const { platformApp, MlPlatform } = require('../../stacks/platform') as typeof import('../../stacks/platform');
const { App } = require('cdk8s') as typeof import('cdk8s');
const loadMs = ms(t0);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeIt(fn: () => void, runs = 5): number {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    fn();
    out.push(ms(s));
  }
  return median(out);
}

function bigPlatform(tenants: number) {
  const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'mlplat-bench-')) });
  const p = new MlPlatform(app, 'Platform', { client: 'bench', domain: 'ml.bench.example' });
  const pool = p.gpu.addPool('l4', { gpuModel: 'L4', gpusPerNode: 1, sharing: { mode: 'timeSlicing', replicas: 4 } });
  for (let i = 0; i < tenants; i++) p.addTenant(`t${i}`, { groups: [`g${i}`], cpu: '8', memory: '32Gi' }).grantGpus(pool, 1);
  return app;
}

const acme = path.resolve(__dirname, '../../examples/acme/platform.yaml');
console.log(`module load                         ${loadMs.toFixed(0)} ms`);
console.log(`acme: load + validate config        ${timeIt(() => loadPlatform(acme)).toFixed(1)} ms`);
console.log(`acme: build tree + render + YAML    ${timeIt(() => renderTree(platformApp(loadPlatform(acme).spec).app).map((f) => toYaml(f.objects))).toFixed(1)} ms`);
const cliOut = fs.mkdtempSync(path.join(os.tmpdir(), 'mlplat-bench-cli-'));
const cli = (noBundle: string) => () => {
  spawnSync(process.execPath, [path.resolve(__dirname, '../../bin/mlplat.js'), 'synth', acme, '--out', path.join(cliOut, 'acme')], { env: { ...process.env, MLPLAT_NO_BUNDLE: noBundle } });
};
cli('0')(); // builds the bundle and its code cache when the sources changed
console.log(`acme: whole CLI process (mlplat synth) ${timeIt(cli('0')).toFixed(0)} ms  (node start + bundle load + synth + write)`);
console.log(`acme: same, from sources via tsx       ${timeIt(cli('1')).toFixed(0)} ms  (MLPLAT_NO_BUNDLE=1)`);
console.log('\ntenants  charts  objects  mlplat renderTree  cdk8s App.synth()');
for (const n of [10, 50, 100, 200, 400]) {
  let objects = 0;
  const ours = timeIt(() => {
    objects = renderTree(bigPlatform(n)).reduce((k, f) => k + f.objects.length, 0);
  }, 3);
  const stock = n <= 200 ? timeIt(() => bigPlatform(n).synth(), 1) : NaN;
  console.log(`${String(n).padStart(7)}  ${String(n + 2).padStart(6)}  ${String(objects).padStart(7)}  ${ours.toFixed(0).padStart(14)} ms  ${Number.isNaN(stock) ? '(skipped)' : `${stock.toFixed(0)} ms`}`);
}
