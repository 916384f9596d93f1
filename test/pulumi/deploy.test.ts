import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { loadPlatform } from '../../lib/config/load';
import { platformApp } from '../../stacks/platform';
import { ACME } from '../helpers';
import { recordResources, Registered } from './mocks';

let registered: Registered[] = [];

before(async () => {
  registered = await recordResources('test');
});

/** Resolves an Output in mocked runs. */
function value<T>(o: pulumi.Output<T> | T): Promise<T> {
  return new Promise((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
}

describe('PlatformDeployment with Pulumi mocks', () => {
  it('registers one ConfigGroup per component stage and a Helm release, under one component', async () => {
    const { PlatformDeployment } = await import('../../lib/pulumi/deploy');
    const { app } = platformApp(loadPlatform(ACME).spec);
    const d = new PlatformDeployment('acme', { tree: app, chartMode: 'repository' });
    await value(pulumi.all(Object.values(d.resources).map((r) => (r as pulumi.CustomResource).urn)));
    const component = registered.find((r) => r.type === 'mlplat:index:PlatformDeployment');
    assert.ok(component, 'component resource registered with type token mlplat:index:PlatformDeployment');
    const groups = registered.filter((r) => r.type === 'kubernetes:yaml/v2:ConfigGroup').map((r) => r.name);
    // registration is asynchronous: compare as sets (the order lives in dependsOn, tested in plan.test.ts)
    assert.deepEqual(groups.sort(), [
      'cert-manager-instances',
      'cert-manager-namespaces',
      'credentials-config',
      'credentials-instances',
      'credentials-namespaces',
      'database-instances',
      'database-namespaces',
      'dataset-cache-config',
      'dataset-cache-instances',
      'dataset-cache-namespaces',
      'gpu-operator-config',
      'gpu-operator-namespaces',
      'grafana-config',
      'grafana-instances',
      'grafana-namespaces',
      'keycloak-config',
      'keycloak-instances',
      'keycloak-namespaces',
      'kserve-config',
      'kserve-instances',
      'kserve-namespaces',
      'logs-instances',
      'minio-config',
      'minio-instances',
      'minio-namespaces',
      'mlflow-config',
      'mlflow-instances',
      'mlflow-namespaces',
      'monitoring-instances',
      'monitoring-namespaces',
      'start-page-config',
      'start-page-instances',
      'start-page-namespaces',
      'tenancy-config',
      'tenant-research-config',
      'tenant-research-namespaces',
      'tenant-serving-config',
      'tenant-serving-namespaces',
      'traefik-instances',
      'traefik-namespaces',
    ]);
    const release = registered.find((r) => r.type === 'kubernetes:helm.sh/v3:Release' && r.inputs.chart === 'gpu-operator');
    assert.ok(release);
    assert.equal(release.inputs.chart, 'gpu-operator');
    assert.equal(release.inputs.version, 'v26.7.0');
    assert.equal(release.inputs.namespace, 'gpu-operator');
    assert.deepEqual(release.inputs.repositoryOpts, { repo: 'https://helm.ngc.nvidia.com/nvidia' });
    assert.equal(release.inputs.values.mig.strategy, '');
    assert.equal(release.inputs.timeout, 600);
    // OCI registries have no index: Helm gets the chart's full reference and no repository.
    const kserve = registered.filter((r) => r.type === 'kubernetes:helm.sh/v3:Release' && r.inputs.namespace === 'kserve');
    assert.deepEqual(kserve.map((r) => [r.inputs.name, r.inputs.chart, r.inputs.version, r.inputs.repositoryOpts]).sort(), [
      ['kserve', 'oci://ghcr.io/kserve/charts/kserve-resources', 'v0.20.0', undefined],
      ['kserve-crd', 'oci://ghcr.io/kserve/charts/kserve-crd', 'v0.20.0', undefined],
      ['kserve-runtime-configs', 'oci://ghcr.io/kserve/charts/kserve-runtime-configs', 'v0.20.0', undefined],
    ]);
    assert.equal(kserve.find((r) => r.inputs.name === 'kserve')!.inputs.values.kserve.controller.deploymentMode, 'Standard');
    const ns = registered.find((r) => r.name === 'tenant-research-namespaces')!;
    assert.deepEqual(ns.inputs.objs.map((o: any) => `${o.kind}/${o.metadata.name}`), ['Namespace/research']);
  });
});

describe('parseDurationSeconds', () => {
  it('converts Helm-style durations', async () => {
    const { parseDurationSeconds } = await import('../../lib/pulumi/deploy');
    assert.equal(parseDurationSeconds('90s'), 90);
    assert.equal(parseDurationSeconds('10m'), 600);
    assert.equal(parseDurationSeconds('1h'), 3600);
    assert.throws(() => parseDurationSeconds('soon'), /must look like 90s, 10m or 1h/);
  });
});
