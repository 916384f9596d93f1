import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ApiObject, App } from 'cdk8s';
import { ChartRelease } from '../lib/chart-release';
import { ComponentChart } from '../lib/component';
import { PlatformContext } from '../lib/context';
import { AFTER_OPERATORS_DIR, KUSTOMIZATION_FILE, kindRank, outputFiles, renderTree, ValidationError, writeAtomically } from '../lib/synth';
import { parse, parseAllDocuments } from 'yaml';
import { ACME, synthFile } from './helpers';
import { platformApp } from '../stacks/platform';
import { loadPlatform } from '../lib/config/load';
import { VERSIONS } from '../lib/versions';
import { MlPlatform } from '../stacks/platform';
import { testChart, tmpDir } from './helpers';

describe('renderTree', () => {
  it('orders objects for apply inside each file: namespaces first, custom resources last', () => {
    const { app, chart } = testChart();
    new ApiObject(chart, 'Cr', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } });
    new ApiObject(chart, 'Cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } });
    new ApiObject(chart, 'Ns', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } });
    new ApiObject(chart, 'Crd', { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com' } });
    const [file] = renderTree(app);
    assert.deepEqual(file.objects.map((o) => o.kind), ['CustomResourceDefinition', 'Namespace', 'ConfigMap', 'Widget']);
    assert.ok(kindRank('HelmRepository') < kindRank('HelmRelease'));
  });

  it('numbers files by component order, then creation order', () => {
    const app = new App();
    PlatformContext.attach(app, { client: 'c', domain: 'd.example' });
    new ComponentChart(app, 'B', { name: 'late', component: 'x', order: 50 });
    new ComponentChart(app, 'A', { name: 'early', component: 'x', order: 1 });
    new ComponentChart(app, 'C', { name: 'late-too', component: 'x', order: 50 });
    assert.deepEqual(renderTree(app).map((f) => f.name), ['00-early.yaml', '01-late.yaml', '02-late-too.yaml']);
  });

  it('reports every whole-tree problem together', () => {
    const app = new App();
    const platform = new MlPlatform(app, 'P', { client: 'c', domain: 'd.example' });
    const extra = new ComponentChart(platform, 'Extra', { name: 'extra', component: 'x', order: 99 });
    new ApiObject(extra, 'Dup', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gpu-operator' } });
    new ApiObject(extra, 'Orphan', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'nowhere' } });
    assert.throws(() => renderTree(app), (e: ValidationError) => {
      assert.equal(e.problems.length, 2);
      assert.match(e.problems[0], /Namespace gpu-operator is defined twice: by P\/Gpu\/GpuOperator\/Namespace and by P\/Extra\/Dup/);
      assert.match(e.problems[1], /ConfigMap nowhere\/x \(P\/Extra\/Orphan\) is in namespace "nowhere", which no component creates/);
      return true;
    });
  });

  it('refuses two components with the same name', () => {
    const app = new App();
    PlatformContext.attach(app, { client: 'c', domain: 'd.example' });
    new ComponentChart(app, 'A', { name: 'same', component: 'x', order: 1 });
    new ComponentChart(app, 'B', { name: 'same', component: 'x', order: 2 });
    assert.throws(() => renderTree(app), /two components are named "same"/);
  });

  it('refuses a tenant defined twice on a platform', () => {
    const platform = new MlPlatform(new App(), 'P', { client: 'c', domain: 'd.example' });
    platform.addTenant('team', { groups: ['g'], cpu: '1', memory: '1Gi' });
    assert.throws(() => platform.addTenant('team', { groups: ['g'], cpu: '1', memory: '1Gi' }), /tenant "team" is defined twice/);
  });

  it('refuses a chart release that depends on a release of another tree', () => {
    const a = testChart();
    const b = testChart();
    const base = new ChartRelease(a.chart, 'Base', { chart: VERSIONS.charts.gpuOperator, releaseName: 'base', namespace: 'default', values: {} });
    new ChartRelease(b.chart, 'Top', { chart: VERSIONS.charts.gpuOperator, releaseName: 'top', namespace: 'default', values: {}, dependsOn: [base] });
    assert.throws(() => renderTree(b.app), /release "top" depends on release "base" of another construct tree/);
  });

  it('renders Flux dependsOn for chart releases', () => {
    const { app, chart } = testChart();
    const base = new ChartRelease(chart, 'Base', { chart: VERSIONS.charts.gpuOperator, releaseName: 'base', namespace: 'default', values: {} });
    new ChartRelease(chart, 'Top', { chart: { ...VERSIONS.charts.gpuOperator, repository: { name: 'other', url: 'oci://registry.example/charts' } }, releaseName: 'top', namespace: 'default', values: { a: 1 }, dependsOn: [base] });
    const objects = renderTree(app)[0].objects as any[];
    const top = objects.find((o) => o.kind === 'HelmRelease' && o.metadata.name === 'top');
    assert.deepEqual(top.spec.dependsOn, [{ name: 'base', namespace: 'default' }]);
    assert.deepEqual(top.spec.values, { a: 1 });
    assert.equal(objects.find((o) => o.kind === 'HelmRepository' && o.metadata.name === 'other').spec.type, 'oci');
  });
});

describe('outputFiles: two layers', () => {
  it('writes custom resources of operators the platform installs to after-operators/, with a kustomization per layer', () => {
    const files = outputFiles(platformApp(loadPlatform(ACME).spec).app);
    const byName = new Map(files.map((f) => [f.name, f]));
    const kinds = (name: string) => parseAllDocuments(byName.get(name)!.content).map((d) => d.toJS().kind);
    // CloudNativePG's chart is in the first layer; its Cluster, Database and ScheduledBackup after it.
    assert.ok(kinds('09-database.yaml').includes('HelmRelease'));
    assert.ok(!kinds('09-database.yaml').some((k) => ['Cluster', 'Database', 'ScheduledBackup', 'PodMonitor'].includes(k)));
    // The database's PodMonitor needs the Prometheus Operator's CRDs (monitoring), also a first-layer release.
    assert.deepEqual(kinds(`${AFTER_OPERATORS_DIR}/09-database.yaml`).sort(), ['Cluster', 'Database', 'Database', 'Database', 'PodMonitor', 'ScheduledBackup']);
    const first = parse(byName.get(KUSTOMIZATION_FILE)!.content);
    assert.equal(first.kind, 'Kustomization');
    assert.deepEqual(first.resources, files.filter((f) => f.count > 0 && !f.name.includes('/')).map((f) => f.name));
    assert.deepEqual(parse(byName.get(`${AFTER_OPERATORS_DIR}/${KUSTOMIZATION_FILE}`)!.content).resources, ['01-grafana.yaml', '02-monitoring.yaml', '06-cert-manager.yaml', '07-traefik.yaml', '08-minio.yaml', '09-database.yaml', '10-keycloak.yaml', '11-mlflow.yaml', '13-start-page.yaml', '14-kserve.yaml', '15-logs.yaml']);
    // KServe's charts are in the first layer (its CRDs come from a chart release that provides
    // serving.kserve.io); the InferenceServices and the endpoints' Traefik and cert-manager objects after it.
    assert.deepEqual(kinds('14-kserve.yaml').filter((k) => k.startsWith('Helm')), ['HelmRepository', 'HelmRepository', 'HelmRelease', 'HelmRelease', 'HelmRelease', 'HelmRelease'], 'KServe\'s three and metrics-server');
    assert.ok(!kinds('14-kserve.yaml').some((k) => ['InferenceService', 'IngressRoute', 'Middleware', 'Certificate'].includes(k)));
    assert.deepEqual(kinds(`${AFTER_OPERATORS_DIR}/14-kserve.yaml`).sort(), ['Certificate', 'Certificate', 'InferenceService', 'InferenceService', 'IngressRoute', 'IngressRoute', 'Middleware', 'Middleware', 'Middleware', 'Middleware', 'Middleware', 'Middleware', 'PodMonitor', 'PodMonitor']);
    // Every object is written exactly once.
    const total = files.reduce((n, f) => n + f.count, 0);
    assert.equal(total, synthFile(ACME).objects.length);
  });

  it('has a single layer when no component installs an operator whose resources it uses', () => {
    const { app } = testChart();
    const files = outputFiles(app);
    assert.ok(!files.some((f) => f.name.startsWith(AFTER_OPERATORS_DIR)));
  });
});

describe('writeAtomically', () => {
  it('writes through a symlinked output directory and refuses a file', () => {
    const dir = tmpDir();
    const real = path.join(dir, 'real');
    writeAtomically(real, [{ name: 'a.yaml', content: 'a' }]);
    fs.symlinkSync(real, path.join(dir, 'link'));
    writeAtomically(path.join(dir, 'link'), [{ name: 'b.yaml', content: 'b' }]);
    assert.ok(fs.lstatSync(path.join(dir, 'link')).isSymbolicLink(), 'the link stays a link');
    assert.deepEqual(fs.readdirSync(real).sort(), ['.mlplat-output', 'b.yaml']);
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    assert.throws(() => writeAtomically(path.join(dir, 'file'), []), /refusing to replace .*file: it is a file, not a directory/);
  });

  it('replaces the directory in one step and cleans up on failure', () => {
    const dir = tmpDir();
    const out = path.join(dir, 'out');
    writeAtomically(out, [{ name: 'a.yaml', content: 'a' }]);
    assert.deepEqual(fs.readdirSync(out).sort(), ['.mlplat-output', 'a.yaml']);
    // A file below a file cannot be written: the run fails half-way.
    assert.throws(() => writeAtomically(out, [{ name: 'b.yaml', content: 'b' }, { name: 'b.yaml/x.yaml', content: 'x' }]));
    assert.deepEqual(fs.readdirSync(out).sort(), ['.mlplat-output', 'a.yaml'], 'old output intact');
    assert.deepEqual(fs.readdirSync(dir), ['out'], 'no temp dirs left');
  });
});
