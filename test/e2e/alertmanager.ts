/**
 * The Alertmanager configuration checked by the real amtool (Alertmanager v0.34.0, the version
 * kube-prometheus-stack 88.5.3 runs; built by tools/build.sh): the chart's default
 * `alertmanager.config` with the synthesized release values merged over it as Helm merges values
 * passes `amtool check-config`, and the route sends each platform alert to the receivers of its
 * severity (`amtool config routes test`). The API server does not see this file at all: the chart
 * renders it into a Secret the operator hands to Alertmanager, which refuses to reload a bad one.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { it } from 'node:test';
import { stringify } from 'yaml';
import { KubeObject } from '../../lib/synth';
import { SuiteState } from './data-plane';
import { coalesceValues } from './lib/kserve';
import { loadTools } from './lib/tools';

/** Environment variable naming amtool's directory (env.sh). */
export const AMTOOL_ENV = 'MLPLAT_AMTOOL_BIN';

/**
 * kube-prometheus-stack 88.5.3 values.yaml `alertmanager.config` (the chart's defaults, which the
 * release values are merged over).
 */
export const KPS_DEFAULT_ALERTMANAGER_CONFIG = {
  global: { resolve_timeout: '5m' },
  inhibit_rules: [
    { source_matchers: ['severity = critical'], target_matchers: ['severity =~ warning|info'], equal: ['namespace', 'alertname'] },
    { source_matchers: ['severity = warning'], target_matchers: ['severity = info'], equal: ['namespace', 'alertname'] },
    { source_matchers: ['alertname = InfoInhibitor'], target_matchers: ['severity = info'], equal: ['namespace'] },
    { target_matchers: ['alertname = InfoInhibitor'] },
  ],
  route: {
    group_by: ['namespace'],
    group_wait: '30s',
    group_interval: '5m',
    repeat_interval: '12h',
    receiver: 'null',
    routes: [{ receiver: 'null', matchers: ['alertname = "Watchdog"'] }],
  },
  receivers: [{ name: 'null' }],
  templates: ['/etc/alertmanager/config/*.tmpl'],
};

/** alertmanager.yml as the chart renders it from the synthesized kube-prometheus-stack release. */
export function renderedAlertmanagerConfig(objects: readonly KubeObject[]): any | undefined {
  const release = objects.find((o: any) => o.kind === 'HelmRelease' && o.spec?.chart?.spec?.chart === 'kube-prometheus-stack') as any;
  const config = release?.spec?.values?.alertmanager?.config;
  return config === undefined ? undefined : coalesceValues(KPS_DEFAULT_ALERTMANAGER_CONFIG, config);
}

export function alertmanagerTests(state: () => SuiteState): void {
  const amtool = (args: string[]) => {
    const dir = loadTools().env[AMTOOL_ENV];
    assert.ok(dir && fs.existsSync(path.join(dir, 'amtool')), `${AMTOOL_ENV} does not name amtool's directory: run bash test/e2e/tools/build.sh`);
    const r = spawnSync(path.join(dir, 'amtool'), args, { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  };

  it('passes amtool check-config with the receivers, and routes each severity to its receivers', (t) => {
    const { files, platform } = state();
    const objects = files.flatMap((f) => f.objects);
    const config = renderedAlertmanagerConfig(objects);
    if (config === undefined) return t.skip('no alert receivers in this example (Alertmanager keeps the chart\'s configuration)');
    const receivers = platform.monitoring!.receivers;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlplat-amtool-'));
    try {
      const file = path.join(dir, 'alertmanager.yaml');
      fs.writeFileSync(file, stringify(config));
      const check = amtool(['check-config', file]);
      assert.equal(check.code, 0, check.output);
      assert.match(check.output, new RegExp(`${receivers.length + 1} receivers`), check.output);
      for (const severity of ['critical', 'warning', 'info']) {
        const want = receivers.filter((r) => (r.severities ?? ['critical', 'warning']).includes(severity as 'critical')).map((r) => r.name);
        const routed = amtool(['config', 'routes', 'test', `--config.file=${file}`, 'alertname=GpuXidError', `severity=${severity}`, 'namespace=gpu-operator']);
        assert.equal(routed.code, 0, routed.output);
        assert.deepEqual(routed.output.trim().split(',').filter(Boolean).sort(), (want.length ? want : ['null']).sort(), `severity ${severity}`);
      }
      const watchdog = amtool(['config', 'routes', 'test', `--config.file=${file}`, 'alertname=Watchdog', 'severity=none']);
      assert.equal(watchdog.output.trim(), 'null', 'the always-firing Watchdog reaches nobody');
      // Secrets are mounted files, not values: nothing secret is in the release values.
      const release = objects.find((o: any) => o.kind === 'HelmRelease' && o.spec.chart.spec.chart === 'kube-prometheus-stack') as any;
      const mounted: string[] = release.spec.values.alertmanager.alertmanagerSpec.secrets;
      for (const r of receivers) {
        const ref = r.slack?.urlSecret ?? r.webhook?.urlSecret ?? r.email?.passwordSecret;
        if (!ref) continue;
        assert.ok(mounted.includes(ref.name), `Secret ${ref.name} is mounted into Alertmanager`);
        assert.ok(JSON.stringify(config).includes(`/etc/alertmanager/secrets/${ref.name}/${ref.key}`), `${r.name} reads ${ref.name}/${ref.key} from its mounted file`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
