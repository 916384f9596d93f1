/**
 * Scrape targets on the real API server (issue 6): every PodMonitor mlplat writes selects running
 * pods of a workload of the output that declare the named port. Monitors of pods only a chart
 * or operator creates (no helm-controller or operator runs here) are listed and left to the unit
 * tests, which pin their labels and ports from the charts' sources.
 */
import * as assert from 'node:assert/strict';
import { it } from 'node:test';
import { KubeObject } from '../../lib/synth';
import { SuiteState } from './data-plane';

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

export function observabilityTests(state: () => SuiteState): void {
  it('scrapes only what exists: each PodMonitor of an mlplat workload selects running pods with its named port', (t) => {
    const { cluster, files } = state();
    const objects: KubeObject[] = files.flatMap((f) => f.objects);
    const monitors = objects.filter((o) => o.kind === 'PodMonitor') as any[];
    if (monitors.length === 0) return t.skip('no PodMonitor in this example (no spec.observability)');
    const workloads = objects.filter((o) => WORKLOADS.has(o.kind)) as any[];
    const fromCharts: string[] = [];
    let checked = 0;
    for (const pm of monitors) {
      const ns = pm.metadata.namespace;
      const selector: Record<string, string> = pm.spec.selector.matchLabels ?? {};
      assert.ok(Object.keys(selector).length > 0, `PodMonitor ${ns}/${pm.metadata.name} selects by labels`);
      const owner = workloads.find((w) => w.metadata.namespace === ns && matches(selector, w.spec.template.metadata?.labels));
      if (!owner) {
        fromCharts.push(`${ns}/${pm.metadata.name}`);
        continue;
      }
      const pods = cluster.get<any>(['pods', '-n', ns, '-l', Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(','), '-o', 'json']).items;
      assert.ok(pods.length > 0, `PodMonitor ${ns}/${pm.metadata.name}: pods of ${owner.kind} ${owner.metadata.name} run`);
      for (const ep of pm.spec.podMetricsEndpoints) {
        for (const pod of pods) {
          const ports = pod.spec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => p.name));
          assert.ok(ports.includes(ep.port), `PodMonitor ${ns}/${pm.metadata.name}: pod ${pod.metadata.name} has a port named ${ep.port} (has ${ports.join(', ')})`);
        }
      }
      checked++;
    }
    assert.ok(checked > 0, 'at least one monitor selects an mlplat workload');
    t.diagnostic(`${checked} PodMonitors select running mlplat pods; made by charts or operators (unit-tested): ${fromCharts.join(', ') || 'none'}`);
  });
}
