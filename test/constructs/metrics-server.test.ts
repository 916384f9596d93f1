import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CertManager } from '../../constructs/edge/cert-manager';
import { MetricsServer } from '../../constructs/serving/metrics-server';
import { VERSIONS } from '../../lib/versions';
import { find, objectsOf, testChart } from '../helpers';

function release(options = {}, ctx = {}) {
  const { app, chart } = testChart(ctx);
  const certManager = new CertManager(chart, 'CertManager', { tls: { mode: 'selfSigned' }, ingressClassName: 'traefik' });
  new MetricsServer(chart, 'MetricsServer', { ...options, certManager: certManager.release });
  return find(objectsOf(app), 'HelmRelease', 'metrics-server', 'kube-system') as any;
}

/** The chart's values.yaml from the Go module cache (sigs.k8s.io/metrics-server v0.9.0 holds chart 3.13.1), if downloaded. */
function chartValues(): any | undefined {
  const dir = path.join(process.env.GOMODCACHE ?? path.join(os.homedir(), 'go', 'pkg', 'mod'), 'sigs.k8s.io', 'metrics-server@v0.9.0', 'charts', 'metrics-server');
  if (!fs.existsSync(path.join(dir, 'values.yaml'))) return undefined;
  const chart = parse(fs.readFileSync(path.join(dir, 'Chart.yaml'), 'utf8'));
  assert.equal(chart.version, VERSIONS.charts.metricsServer.version, 'the module holds the catalog\'s chart version');
  return parse(fs.readFileSync(path.join(dir, 'values.yaml'), 'utf8'));
}

describe('MetricsServer', () => {
  it('installs the pinned chart in kube-system with the chart\'s default arguments and no insecure TLS', () => {
    const r = release();
    assert.equal(r.spec.chart.spec.chart, 'metrics-server');
    assert.equal(r.spec.chart.spec.version, VERSIONS.charts.metricsServer.version);
    assert.deepEqual(r.spec.values.args, [], 'kubelet certificates verified');
    assert.equal(r.spec.values.replicas, 1);
    assert.deepEqual(r.spec.values.podDisruptionBudget, { enabled: false });
    assert.equal(r.spec.values.resources.limits.memory, r.spec.values.resources.requests.memory);
    assert.equal(r.spec.values.image, undefined);
    // The API server verifies metrics-server's certificate: the chart's cert-manager Certificate, CA injected.
    assert.deepEqual(r.spec.values.tls, { type: 'cert-manager' });
    assert.deepEqual(r.spec.values.apiService, { insecureSkipTLSVerify: false });
    assert.deepEqual(r.spec.dependsOn, [{ name: 'cert-manager', namespace: 'cert-manager' }], 'after cert-manager (its CRDs and cainjector)');
  });

  it('takes replicas (with a disruption budget), insecure kubelet TLS and the image mirror from options', () => {
    const r = release({ replicas: 2, kubeletInsecureTls: true }, { imageRegistry: 'mirror.acme.internal' });
    assert.equal(r.spec.values.replicas, 2);
    assert.deepEqual(r.spec.values.podDisruptionBudget, { enabled: true, minAvailable: 1 });
    assert.deepEqual(r.spec.values.args, ['--kubelet-insecure-tls']);
    assert.deepEqual(r.spec.values.image, { repository: 'mirror.acme.internal/metrics-server/metrics-server' });
    assert.throws(() => release({ replicas: 0 }), /metrics-server replicas must be 1 to 5, got 0/);
  });

  it('sets only values the chart has', (t) => {
    const defaults = chartValues();
    if (!defaults) return t.skip('sigs.k8s.io/metrics-server@v0.9.0 is not in the Go module cache');
    const values = release({ replicas: 2 }, { imageRegistry: 'mirror.acme.internal' }).spec.values;
    const walk = (ours: any, theirs: any, at: string) => {
      for (const [k, v] of Object.entries(ours)) {
        assert.ok(theirs !== null && typeof theirs === 'object' && k in theirs, `${at}${k} is not a value of the chart`);
        // `resources` is a Kubernetes ResourceRequirements the chart passes through whole.
        if (k !== 'resources' && v && typeof v === 'object' && !Array.isArray(v) && theirs[k] && typeof theirs[k] === 'object') walk(v, theirs[k], `${at}${k}.`);
      }
    };
    walk(values, defaults, '');
    assert.ok(defaults.defaultArgs.includes('--kubelet-use-node-status-port'), 'the chart\'s own arguments stay');
  });
});
