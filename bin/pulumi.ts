import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { ConfigError, formatIssue, loadPlatform } from '../lib/config/load';
import { PlatformDeployment } from '../lib/pulumi/deploy';
import { CHART_MODES, ChartMode } from '../lib/pulumi/plan';
import { platformApp } from '../stacks/platform';

/**
 * The Pulumi program (Pulumi.yaml `main`). Stack config:
 *   mlplat:config     the client's platform.yaml (relative to the project root)
 *   mlplat:chartMode  flux | repository | local (default repository)
 *   mlplat:chartsDir  charts for `local` mode: <chartsDir>/<chart>/
 */
const config = new pulumi.Config('mlplat');
const file = config.require('config');
const chartMode = (config.get('chartMode') ?? 'repository') as ChartMode;
if (!CHART_MODES.includes(chartMode)) {
  throw new Error(`mlplat:chartMode must be one of ${CHART_MODES.join(', ')} (got "${chartMode}")`);
}
const chartsDir = config.get('chartsDir');

let loaded;
try {
  loaded = loadPlatform(path.resolve(file));
} catch (e) {
  if (e instanceof ConfigError) throw new Error(`invalid platform config:\n${e.issues.map(formatIssue).join('\n')}`);
  throw e;
}
for (const w of loaded.warnings) pulumi.log.warn(formatIssue(w));
const { app } = platformApp(loaded.spec);
const deployment = new PlatformDeployment(loaded.spec.metadata.name, {
  tree: app,
  chartMode,
  chartsDir: chartsDir ? path.resolve(chartsDir) : undefined,
});

export const client = loaded.spec.metadata.name;
export const steps = deployment.steps.map((s) => s.name);
