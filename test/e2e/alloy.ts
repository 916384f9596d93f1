/**
 * The log shipper's configuration as synthesized, checked by Alloy's own parser and printer
 * (test/e2e/tools/alloy-syntax, built from the alloy syntax module of the release the chart runs):
 * it must parse and be laid out as `alloy fmt` writes it. Component arguments are not checked
 * there (that needs the full alloy binary, which cannot be built here); the unit tests pin them
 * against the upstream argument names. The tenant label the config turns into `tenant` must be on
 * every tenant namespace the API server holds. Registered into each example's suite by
 * e2e.test.ts; skips itself when the example ships no logs.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { it } from 'node:test';
import { TENANT_LABEL } from '../../constructs/gpu/access-policy';
import { ALLOY_RELEASE, namespaceLabelMeta } from '../../constructs/observability/alloy';
import { MONITORING_NAMESPACE } from '../../constructs/observability/types';
import { SuiteState } from './data-plane';

export function alloyConfigTests(state: () => SuiteState): void {
  it('ships logs with an Alloy config that Alloy\'s parser accepts, formatted as `alloy fmt` writes it, reading a label every tenant namespace has', (t) => {
    const s = state();
    const objects = s.files.flatMap((f) => f.objects);
    const release: any = objects.find((o) => o.kind === 'HelmRelease' && o.metadata.namespace === MONITORING_NAMESPACE && o.metadata.name === ALLOY_RELEASE);
    if (!release) return t.skip('no log shipper in this example');
    const config: string = release.spec.values.alloy.configMap.content;
    const bin = s.cluster.env.MLPLAT_ALLOY_SYNTAX_BIN ?? assert.fail('MLPLAT_ALLOY_SYNTAX_BIN is not set (test/e2e/tools/env.sh)');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlplat-e2e-alloy-'));
    try {
      const file = path.join(dir, 'config.alloy');
      fs.writeFileSync(file, config);
      const r = spawnSync(path.join(bin, 'alloy-syntax'), ['-fmt', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, `alloy-syntax rejected the synthesized config:\n${r.stderr}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const meta = namespaceLabelMeta(TENANT_LABEL);
    assert.ok(config.includes(`"${meta}"`), `the config reads ${meta}`);
    for (const tenant of s.platform.tenants) {
      const ns = s.cluster.get(['namespace', tenant.namespace]);
      assert.equal(ns.metadata.labels?.[TENANT_LABEL], tenant.name, `namespace ${tenant.namespace} carries ${TENANT_LABEL}`);
    }
  });
}
