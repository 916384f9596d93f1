import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'cdk8s';
import { GpuSmokeTest } from '../examples/custom/gpu-smoke-test';
import { buildGlobex } from '../examples/custom/platform';
import { loadPlatform } from '../lib/config/load';
import { outputFiles, renderTree } from '../lib/synth';
import { platformApp } from '../stacks/platform';
import { ROOT } from './helpers';

/**
 * Golden files: every example's synthesized output is committed under test/golden/<example>/,
 * so a change to the platform shows up as a reviewable YAML diff. Regenerate with
 * `UPDATE_GOLDEN=1 npm test`, then read the diff.
 */
const GOLDEN = path.join(ROOT, 'test', 'golden');
const update = process.env.UPDATE_GOLDEN === '1';

const examples: Record<string, () => App> = {
  acme: () => platformApp(loadPlatform(path.join(ROOT, 'examples/acme/platform.yaml')).spec).app,
  minimal: () => platformApp(loadPlatform(path.join(ROOT, 'examples/minimal/platform.yaml')).spec).app,
  initech: () => platformApp(loadPlatform(path.join(ROOT, 'examples/initech/platform.yaml')).spec).app,
  custom: () => buildGlobex().app,
};

describe('examples match their golden output', () => {
  it('covers every example directory', () => {
    const dirs = fs.readdirSync(path.join(ROOT, 'examples')).filter((d) => fs.statSync(path.join(ROOT, 'examples', d)).isDirectory());
    assert.deepEqual(dirs.sort(), Object.keys(examples).sort());
  });

  for (const [name, build] of Object.entries(examples)) {
    it(name, () => {
      // Exactly what `mlplat synth` writes (both layers and their kustomization.yml).
      const files = outputFiles(build());
      const dir = path.join(GOLDEN, name);
      if (update) {
        fs.rmSync(dir, { recursive: true, force: true });
        for (const f of files) {
          fs.mkdirSync(path.dirname(path.join(dir, f.name)), { recursive: true });
          fs.writeFileSync(path.join(dir, f.name), f.content);
        }
      }
      assert.ok(fs.existsSync(dir), `no golden output for ${name}: run UPDATE_GOLDEN=1 npm test`);
      const golden = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
      assert.deepEqual(files.map((f) => f.name).sort(), golden, `${name}: file list changed (UPDATE_GOLDEN=1 npm test, then review)`);
      for (const f of files) {
        assert.equal(f.content, fs.readFileSync(path.join(dir, f.name), 'utf8'), `${name}/${f.name} differs from golden (UPDATE_GOLDEN=1 npm test, then review the diff)`);
      }
    });
  }

  it('the custom example uses a construct of its own and refuses an ungranted pool', () => {
    const { platform } = buildGlobex();
    const out = renderTree(platform).flatMap((f) => f.objects);
    const cron = out.filter((o) => o.kind === 'CronJob');
    assert.deepEqual(cron.map((c) => `${c.metadata.namespace}/${c.metadata.name}`), ['vision/gpu-smoke-test-l40s', 'nlp/gpu-smoke-test-h100']);
    const podSpec = (cron[1] as any).spec.jobTemplate.spec.template.spec;
    assert.equal(podSpec.priorityClassName, 'mlplat-gpu-h100');
    assert.deepEqual(podSpec.containers[0].resources.limits['nvidia.com/mig-3g.40gb'], 1);
    const nlp = platform.tenants.find((t) => t.name === 'nlp')!;
    const l40s = platform.gpu.pool('l40s');
    assert.throws(() => new GpuSmokeTest(platform, 'Ungranted', { tenant: nlp, pool: l40s }), /pool "l40s" is not granted to tenant "nlp"/);
  });
});

describe('chart values', () => {
  it('are plain data in every example (no unresolved cdk8s wrappers such as Quantity)', () => {
    for (const [name, build] of Object.entries(examples)) {
      for (const f of renderTree(build())) {
        for (const o of f.objects.filter((x) => x.kind === 'HelmRelease') as any[]) {
          const walk = (v: unknown, at: string): void => {
            if (v === null || typeof v !== 'object') return;
            if (!Array.isArray(v) && Object.keys(v).length === 1 && 'value' in (v as object) && typeof (v as any).value === 'string') {
              assert.fail(`${name}/${f.name}: HelmRelease ${o.metadata.name} ${at} is a wrapped value ${JSON.stringify(v)}`);
            }
            for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
          };
          walk(o.spec.values, 'values');
        }
      }
    }
  });
});
