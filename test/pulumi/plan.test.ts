import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiObject } from 'cdk8s';
import { loadPlatform } from '../../lib/config/load';
import { ComponentChart } from '../../lib/component';
import { DeployStep, planDeployment, STAGES } from '../../lib/pulumi/plan';
import { platformApp } from '../../stacks/platform';
import { ACME } from '../helpers';

function acmePlan(mode: 'flux' | 'repository' | 'local', chartsDir?: string): DeployStep[] {
  return planDeployment(platformApp(loadPlatform(ACME).spec).app, { chartMode: mode, chartsDir });
}

describe('Pulumi deployment plan', () => {
  it('orders steps CRDs → namespaces → config → operators → instances, each depending on the stage before', () => {
    const steps = acmePlan('repository');
    assert.deepEqual(steps.map((s) => s.name), [
      'gpu-operator-namespaces',
      'grafana-namespaces',
      'monitoring-namespaces',
      'tenant-research-namespaces',
      'tenant-serving-namespaces',
      'cert-manager-namespaces',
      'traefik-namespaces',
      'minio-namespaces',
      'database-namespaces',
      'keycloak-namespaces',
      'mlflow-namespaces',
      'dataset-cache-namespaces',
      'start-page-namespaces',
      'kserve-namespaces',
      'credentials-namespaces',
      'gpu-operator-config',
      'grafana-config',
      'tenancy-config',
      'tenant-research-config',
      'tenant-serving-config',
      'minio-config',
      'keycloak-config',
      'mlflow-config',
      'dataset-cache-config',
      'start-page-config',
      'kserve-config',
      'credentials-config',
      'gpu-operator-release-gpu-operator',
      'monitoring-release-kps',
      'grafana-release-grafana',
      'cert-manager-release-cert-manager',
      'traefik-release-traefik',
      'database-release-cloudnative-pg',
      'kserve-release-kserve-crd',
      'kserve-release-kserve',
      'kserve-release-kserve-runtime-configs',
      'kserve-release-metrics-server',
      'logs-release-loki',
      'logs-release-alloy',
      'grafana-instances',
      'monitoring-instances',
      'cert-manager-instances',
      'traefik-instances',
      'minio-instances',
      'database-instances',
      'keycloak-instances',
      'mlflow-instances',
      'dataset-cache-instances',
      'start-page-instances',
      'kserve-instances',
      'logs-instances',
      'credentials-instances',
    ]);
    const rank = (s: DeployStep) => STAGES.indexOf(s.stage);
    for (const s of steps) {
      for (const d of s.dependsOn) {
        const dep = steps.find((x) => x.name === d)!;
        // A release may also wait for a release it names in dependsOn (same stage; order: see below).
        if (s.kind === 'helm' && dep.kind === 'helm' && s.release.dependsOn.includes(dep.release)) continue;
        assert.equal(rank(dep), rank(s) - 1, `${s.name} depends on the stage right before it (${d})`);
      }
    }
    assert.deepEqual(steps.find((s) => s.name === 'gpu-operator-config')!.dependsOn, steps.filter((s) => s.stage === 'namespaces').map((s) => s.name));
    // Custom resources of operators installed by Helm come after those releases.
    const releases = steps.filter((s) => s.kind === 'helm').map((s) => s.name);
    assert.equal(releases.length, 12);
    assert.deepEqual(steps.find((s) => s.name === 'database-instances')!.dependsOn, releases);
    assert.deepEqual(steps.find((s) => s.name === 'kserve-instances')!.dependsOn, releases, 'InferenceServices after the KServe CRDs, controller and runtimes');
    // Releases also wait for the releases they depend on: CRDs → controller (and cert-manager) → runtimes.
    const configs = steps.filter((s) => s.stage === 'config').map((s) => s.name);
    assert.deepEqual(steps.find((s) => s.name === 'kserve-release-kserve-crd')!.dependsOn, configs);
    assert.deepEqual(steps.find((s) => s.name === 'kserve-release-kserve')!.dependsOn, [...configs, 'kserve-release-kserve-crd', 'cert-manager-release-cert-manager']);
    assert.deepEqual(steps.find((s) => s.name === 'kserve-release-kserve-runtime-configs')!.dependsOn, [...configs, 'kserve-release-kserve']);
  });

  it(
    'lists each release after the releases it depends on (the deployment resolves dependsOn by step name, in list order)',
    () => {
      const steps = acmePlan('repository');
      for (const s of steps) {
        for (const d of s.dependsOn) assert.ok(steps.findIndex((x) => x.name === d) < steps.indexOf(s), `${s.name} comes after ${d}`);
      }
    },
  );

  it('installs the KServe charts from their OCI registry at the pinned version in repository mode', () => {
    const helm = acmePlan('repository').filter((s): s is Extract<DeployStep, { kind: 'helm' }> => s.kind === 'helm' && s.component === 'kserve' && s.release.chart.chart.startsWith('kserve'));
    assert.deepEqual(helm.map((s) => [s.release.releaseName, s.release.chart.chart, s.release.chart.version, s.release.namespace]), [
      ['kserve-crd', 'kserve-crd', 'v0.20.0', 'kserve'],
      ['kserve', 'kserve-resources', 'v0.20.0', 'kserve'],
      ['kserve-runtime-configs', 'kserve-runtime-configs', 'v0.20.0', 'kserve'],
    ]);
    for (const s of helm) assert.deepEqual(s.source, { repositoryUrl: 'oci://ghcr.io/kserve/charts' });
  });

  it('installs the GPU operator from its repository at the pinned version in repository mode', () => {
    const helm = acmePlan('repository').find((s) => s.kind === 'helm' && s.release.chart.chart === 'gpu-operator');
    assert.ok(helm && helm.kind === 'helm');
    assert.deepEqual(helm.source, { repositoryUrl: 'https://helm.ngc.nvidia.com/nvidia' });
    assert.equal(helm.release.chart.version, 'v26.7.0');
    assert.equal(helm.release.namespace, 'gpu-operator');
    const manifests = acmePlan('repository').flatMap((s) => (s.kind === 'manifests' ? s.objects : []));
    assert.ok(!manifests.some((o) => o.kind === 'HelmRelease' || o.kind === 'HelmRepository'), 'Flux objects are replaced by the Helm release');
  });

  it('installs from a local chart directory in local mode, and needs one', () => {
    const helm = acmePlan('local', '/charts/').find((s) => s.kind === 'helm' && s.release.chart.chart === 'gpu-operator');
    assert.ok(helm && helm.kind === 'helm');
    assert.deepEqual(helm.source, { path: '/charts/gpu-operator' });
    assert.throws(() => acmePlan('local'), /chart mode "local" needs a charts directory/);
  });

  it('keeps the Flux objects in flux mode', () => {
    const steps = acmePlan('flux');
    assert.ok(!steps.some((s) => s.kind === 'helm'));
    const ops = steps.find((s) => s.name === 'gpu-operator-operators');
    assert.ok(ops && ops.kind === 'manifests');
    assert.deepEqual(ops.objects.map((o) => o.kind), ['HelmRepository', 'HelmRelease']);
  });

  it('puts CRDs first and custom resources last', () => {
    const { app, platform } = platformApp(loadPlatform(ACME).spec);
    const chart = new ComponentChart(platform, 'Extra', { name: 'extra', component: 'x', order: 99 });
    new ApiObject(chart, 'Crd', { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com' } });
    new ApiObject(chart, 'Widget', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'research' } });
    const steps = planDeployment(app, { chartMode: 'flux' });
    assert.equal(steps[0].name, 'extra-crds');
    assert.equal(steps[steps.length - 1].name, 'extra-instances');
    assert.deepEqual(steps[steps.length - 1].dependsOn, ['gpu-operator-operators', 'grafana-operators', 'monitoring-operators', 'cert-manager-operators', 'traefik-operators', 'database-operators', 'kserve-operators', 'logs-operators']);
  });

  it('has stable step names: the same tree plans the same names', () => {
    assert.deepEqual(acmePlan('flux').map((s) => s.name), acmePlan('flux').map((s) => s.name));
  });
});

describe('Pulumi project files', () => {
  it('Pulumi.yaml runs bin/pulumi.ts on nodejs, and every stack names a valid config and chart mode', () => {
    const fs = require('node:fs') as typeof import('node:fs');
    const path = require('node:path') as typeof import('node:path');
    const { parse } = require('yaml') as typeof import('yaml');
    const root = path.resolve(__dirname, '../..');
    const project = parse(fs.readFileSync(path.join(root, 'Pulumi.yaml'), 'utf8'));
    assert.equal(project.runtime.name, 'nodejs');
    assert.ok(fs.existsSync(path.join(root, project.main)));
    const stacks = fs.readdirSync(root).filter((f) => /^Pulumi\..+\.yaml$/.test(f));
    assert.ok(stacks.length > 0);
    for (const s of stacks) {
      const cfg = parse(fs.readFileSync(path.join(root, s), 'utf8')).config;
      assert.doesNotThrow(() => loadPlatform(path.join(root, cfg['mlplat:config'])), s);
      assert.ok(['flux', 'repository', 'local'].includes(cfg['mlplat:chartMode'] ?? 'repository'), s);
    }
  });
});
