import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { GpuOperator } from '../../constructs/gpu/operator';
import { findGpuModel, GPU_MODELS } from '../../constructs/gpu/models';
import { resolveMigLayout } from '../../constructs/gpu/mig';
import { POOL_LABEL } from '../../constructs/gpu/pool';
import { PlatformContext } from '../../lib/context';
import { VERSIONS } from '../../lib/versions';
import { ACME, all, find, objectsOf, synthFile, testChart } from '../helpers';

function operator(props: ConstructorParameters<typeof GpuOperator>[2] = {}, ctx = {}) {
  const { app, chart } = testChart(ctx);
  const gpu = new GpuOperator(chart, 'Gpu', props);
  return { app, gpu };
}

describe('GPU model catalog', () => {
  it('knows the common data-center and workstation models', () => {
    for (const name of ['A100-40GB', 'A100-80GB', 'A30', 'A10', 'H100-80GB', 'H200', 'B200', 'L4', 'L40S', 'T4', 'RTX-6000-Ada']) {
      assert.ok(findGpuModel(name), `${name} is in the catalog`);
    }
    assert.equal(findGpuModel('a100-80gb')?.name, 'A100-80GB', 'lookup ignores case');
    assert.equal(findGpuModel('NVIDIA-L4')?.name, 'L4', 'node-label spelling resolves');
  });

  it('lists MIG only for MIG-capable models', () => {
    assert.deepEqual(findGpuModel('L4')?.migProfiles, []);
    assert.deepEqual(findGpuModel('T4')?.migProfiles, []);
    assert.equal(findGpuModel('A100-80GB')?.migProfiles.find((p) => p.name === '1g.10gb')?.perGpu, 7);
    assert.equal(findGpuModel('A30')?.migProfiles.find((p) => p.name === '1g.6gb')?.perGpu, 4);
    for (const m of GPU_MODELS) for (const p of m.migProfiles) assert.ok(p.perGpu >= 1 && p.perGpu <= 7, `${m.name} ${p.name}`);
  });

  it('resolves MIG layouts to the mixed-strategy resource name', () => {
    const r = resolveMigLayout('H100-80GB', 'all-3g.40gb');
    assert.ok(r.ok);
    assert.equal(r.layout.resourceName, 'nvidia.com/mig-3g.40gb');
    assert.equal(r.layout.perGpu, 2);
    assert.deepEqual(resolveMigLayout('H100-80GB', '3g.40gb'), {
      ok: false,
      message: 'H100-80GB has no MIG layout "3g.40gb" (valid: all-1g.10gb, all-1g.20gb, all-2g.20gb, all-3g.40gb, all-4g.40gb, all-7g.80gb)',
    });
  });
});

describe('GpuPool', () => {
  it('exposes whole GPUs as nvidia.com/gpu, one unit per GPU', () => {
    const { gpu } = operator();
    const pool = gpu.addPool('h100', { gpuModel: 'H100-80GB', gpusPerNode: 8 });
    assert.equal(pool.resourceName, 'nvidia.com/gpu');
    assert.equal(pool.unitsPerGpu, 1);
    assert.deepEqual(pool.devicePluginConfig, { version: 'v1', flags: { migStrategy: 'none' } });
    assert.equal(pool.migConfig, undefined);
  });

  it('time-slices: same resource name, replicas units per GPU, failing multi-replica requests', () => {
    const { gpu } = operator();
    const pool = gpu.addPool('l4', { gpuModel: 'L4', gpusPerNode: 1, sharing: { mode: 'timeSlicing', replicas: 4 } });
    assert.equal(pool.resourceName, 'nvidia.com/gpu');
    assert.equal(pool.unitsPerGpu, 4);
    assert.deepEqual(pool.devicePluginConfig, {
      version: 'v1',
      flags: { migStrategy: 'none' },
      sharing: {
        timeSlicing: {
          renameByDefault: false,
          failRequestsGreaterThanOne: true,
          resources: [{ name: 'nvidia.com/gpu', replicas: 4 }],
        },
      },
    });
  });

  it('partitions with MIG: profile resource, instances per GPU, a mig-parted layout', () => {
    const { gpu } = operator();
    const pool = gpu.addPool('a100', { gpuModel: 'A100-80GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.10gb' } });
    assert.equal(pool.resourceName, 'nvidia.com/mig-1g.10gb');
    assert.equal(pool.unitsPerGpu, 7);
    assert.deepEqual(pool.migConfig, { name: 'a100', devices: { '1g.10gb': 7 } });
    assert.deepEqual(pool.devicePluginConfig, { version: 'v1', flags: { migStrategy: 'mixed' } });
  });

  it('defines the node contract: provider labels, pool label, config labels and a taint', () => {
    const { gpu } = operator();
    const pool = gpu.addPool('a100', {
      gpuModel: 'A100-80GB',
      gpusPerNode: 8,
      nodeSelector: { 'node.kubernetes.io/instance-type': 'gpu-a100x8' },
      sharing: { mode: 'mig', profile: 'all-1g.10gb' },
    });
    assert.deepEqual(pool.nodeLabels, {
      'node.kubernetes.io/instance-type': 'gpu-a100x8',
      'mlplat.io/gpu-pool': 'a100',
      'nvidia.com/device-plugin.config': 'a100',
      'nvidia.com/mig.config': 'a100',
    });
    assert.deepEqual(pool.nodeTaints, [{ key: 'mlplat.io/gpu-pool', value: 'a100', effect: 'NoSchedule' }]);
    assert.deepEqual(pool.placement(), {
      priorityClassName: 'mlplat-gpu-a100',
      nodeSelector: { 'mlplat.io/gpu-pool': 'a100' },
      tolerations: [{ key: 'mlplat.io/gpu-pool', operator: 'Equal', value: 'a100', effect: 'NoSchedule' }],
    });
    assert.deepEqual(JSON.parse(JSON.stringify(pool.gpuLimits(2))), { 'nvidia.com/mig-1g.10gb': { value: 2 } });
  });

  it('renders a priority class per pool that changes no scheduling priority', () => {
    const { app, gpu } = operator();
    gpu.addPool('l4', { gpuModel: 'L4', gpusPerNode: 1 });
    const pc = find(objectsOf(app), 'PriorityClass', 'mlplat-gpu-l4');
    assert.equal(pc.value, 0);
    assert.equal(pc.globalDefault, false, 'a global default would put every pod in the pool scope');
    assert.equal(pc.preemptionPolicy, 'Never');
  });

  it('refuses contradictory props', () => {
    const { gpu } = operator();
    for (const reserved of ['default', 'all-disabled', 'ungranted']) {
      assert.throws(() => gpu.addPool(reserved, { gpuModel: 'T4', gpusPerNode: 1 }), new RegExp(`GPU pool name "${reserved}" is reserved`));
    }
    assert.throws(() => gpu.addPool('l4', { gpuModel: 'L4', gpusPerNode: 1, sharing: { mode: 'mig', profile: 'all-1g.10gb' } }), /GPU pool "l4": L4 does not support MIG \(use timeSlicing\)/);
    assert.throws(() => gpu.addPool('t4', { gpuModel: 'T4', gpusPerNode: 0 }), /GPU pool "t4": gpusPerNode must be a whole number ≥ 1 \(got 0\)/);
    assert.throws(() => gpu.addPool('t4', { gpuModel: 'T4', gpusPerNode: 1, sharing: { mode: 'timeSlicing', replicas: 1 } }), /replicas must be a whole number ≥ 2 \(got 1\)/);
    gpu.addPool('x', { gpuModel: 'T4', gpusPerNode: 1 });
    assert.throws(() => gpu.addPool('x', { gpuModel: 'T4', gpusPerNode: 1 }), /GPU pool "x" is defined twice/);
    assert.throws(() => gpu.pool('nope'), /no GPU pool named "nope" \(pools: x\)/);
  });
});

describe('GpuOperator', () => {
  it('gets a privileged namespace with the reason written on it', () => {
    const { app } = operator();
    const ns = find(objectsOf(app), 'Namespace', 'gpu-operator');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
    assert.match(ns.metadata.annotations['mlplat.io/privileged-reason'], /host access/);
  });

  it('installs the pinned chart through Flux with typed values wired to the pool configs', () => {
    const { app, gpu } = operator();
    gpu.addPool('a100', { gpuModel: 'A100-80GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.10gb' } });
    const objects = objectsOf(app);
    const repo = find(objects, 'HelmRepository', 'nvidia', 'gpu-operator');
    assert.equal(repo.apiVersion, 'source.toolkit.fluxcd.io/v1');
    assert.equal(repo.spec.url, VERSIONS.charts.gpuOperator.repository.url);
    const hr = find(objects, 'HelmRelease', 'gpu-operator', 'gpu-operator');
    assert.equal(hr.apiVersion, 'helm.toolkit.fluxcd.io/v2');
    assert.deepEqual(hr.spec.chart.spec.sourceRef, { kind: 'HelmRepository', name: 'nvidia', namespace: 'gpu-operator' });
    assert.equal(hr.spec.chart.spec.version, VERSIONS.charts.gpuOperator.version);
    assert.equal(hr.spec.install.crds, 'CreateReplace');
    assert.equal(hr.spec.upgrade.crds, 'CreateReplace');
    const v = hr.spec.values;
    assert.equal(v.driver.enabled, false, 'default driver: preinstalled');
    assert.equal(v.toolkit.enabled, true);
    assert.equal(v.mig.strategy, '', 'per-pool device-plugin configs pick the strategy');
    assert.equal(v.dcgmExporter.enabled, true);
    assert.equal(v.dcgmExporter.serviceMonitor.enabled, true);
    // the values name ConfigMaps that exist, with keys the nodes' labels select
    const dp = find(objects, 'ConfigMap', v.devicePlugin.config.name, 'gpu-operator');
    assert.ok(v.devicePlugin.config.default in dp.data);
    assert.deepEqual(parse(dp.data.a100), { version: 'v1', flags: { migStrategy: 'mixed' } });
    const mig = find(objects, 'ConfigMap', v.migManager.config.name, 'gpu-operator');
    const migConfigs = parse(mig.data['config.yaml'])['mig-configs'];
    assert.ok(v.migManager.config.default in migConfigs, 'the default layout exists');
    assert.deepEqual(migConfigs.a100, [{ devices: 'all', 'mig-enabled': true, 'mig-devices': { '1g.10gb': 7 } }]);
    // operands tolerate the pool taint so they run on every pool's nodes
    for (const list of [v.daemonsets.tolerations, v['node-feature-discovery'].worker.tolerations]) {
      assert.ok(list.some((t: any) => t.key === POOL_LABEL && t.operator === 'Exists' && t.effect === 'NoSchedule'));
    }
    assert.equal(v.operator, undefined, 'no image overrides without a registry mirror');
  });

  it('lets the operator install the driver and turns DCGM off on request', () => {
    const { app } = operator({ driver: 'managed', dcgmExporter: false });
    const v = find(objectsOf(app), 'HelmRelease', 'gpu-operator').spec.values;
    assert.equal(v.driver.enabled, true);
    assert.equal(v.dcgmExporter.enabled, false);
    assert.equal(v.dcgmExporter.serviceMonitor.enabled, false);
  });

  it('pulls every operand through the image registry override', () => {
    const { app } = operator({}, { imageRegistry: 'registry.acme.internal/mirror' });
    const v = find(objectsOf(app), 'HelmRelease', 'gpu-operator').spec.values;
    assert.equal(v.operator.repository, 'registry.acme.internal/mirror/nvidia');
    assert.equal(v.toolkit.repository, 'registry.acme.internal/mirror/nvidia/k8s');
    assert.equal(v.migManager.repository, 'registry.acme.internal/mirror/nvidia/cloud-native');
    assert.equal(v['node-feature-discovery'].image.repository, 'registry.acme.internal/mirror/nfd/node-feature-discovery');
  });

  it('keeps tenant GPU pods on granted pools with a ValidatingAdmissionPolicy', () => {
    const { app } = operator();
    const objects = objectsOf(app);
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'mlplat-gpu-pool-access');
    assert.equal(policy.apiVersion, 'admissionregistration.k8s.io/v1');
    assert.equal(policy.spec.failurePolicy, 'Fail');
    assert.deepEqual(policy.spec.matchConstraints.namespaceSelector, { matchExpressions: [{ key: 'mlplat.io/tenant', operator: 'Exists' }] });
    assert.equal(policy.spec.validations.length, 7);
    assert.match(policy.spec.validations[6].expression, /object\.spec\.nodeName/);
    const poolResource = policy.spec.variables.find((v: any) => v.name === 'poolResource');
    assert.equal(poolResource.expression, "variables.pool in {} ? {}[variables.pool] : ''", 'no pools, no pool resources');
    assert.match(policy.spec.matchConditions[0].expression, /^request\.operation == 'CREATE' \|\| \(!has\(object\.metadata\.deletionTimestamp\)/);
    const names = policy.spec.variables.map((v: any) => v.name);
    for (const v of policy.spec.variables) {
      for (const ref of v.expression.match(/variables\.(\w+)/g) ?? []) {
        assert.ok(names.indexOf(ref.split('.')[1]) < names.indexOf(v.name), `${v.name} uses ${ref} defined before it`);
      }
    }
    const binding = find(objects, 'ValidatingAdmissionPolicyBinding', 'mlplat-gpu-pool-access');
    assert.equal(binding.spec.policyName, policy.metadata.name);
    assert.deepEqual(binding.spec.validationActions, ['Deny']);
  });

  it('labels every object with the app.kubernetes.io set', () => {
    for (const o of synthFile(ACME).objects) {
      const l = o.metadata.labels as Record<string, string>;
      for (const k of ['name', 'instance', 'component', 'part-of', 'managed-by']) assert.ok(l[`app.kubernetes.io/${k}`], `${o.kind}/${o.metadata.name} has ${k}`);
      assert.equal(l['app.kubernetes.io/instance'], 'acme');
      assert.equal(l['mlplat.io/client'], 'acme');
    }
  });
});

describe('PlatformContext', () => {
  it('resolves images through the registry override and names hosts and groups', () => {
    const { chart } = testChart({ imageRegistry: 'mirror.example/ml/' });
    const ctx = PlatformContext.of(chart);
    const ref = { registry: 'nvcr.io', repository: 'nvidia/k8s/dcgm-exporter', tag: '4.6.0' };
    assert.equal(ctx.image(ref), 'mirror.example/ml/nvidia/k8s/dcgm-exporter:4.6.0');
    assert.equal(PlatformContext.of(testChart().chart).image(ref), 'nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0');
    assert.equal(ctx.host('mlflow'), 'mlflow.ml.test.example');
    assert.equal(ctx.kubernetesGroup('research'), 'oidc:research');
  });

  it('explains a construct created outside a platform', () => {
    const { App } = require('cdk8s');
    assert.throws(() => PlatformContext.of(new App()), /is not inside an mlplat platform/);
  });
});

describe('acme GPU objects', () => {
  it('has one priority class per pool and configs for both pools', () => {
    const { objects } = synthFile(ACME);
    assert.deepEqual(all(objects, 'PriorityClass').map((p) => p.metadata.name), ['mlplat-gpu-a100', 'mlplat-gpu-l4']);
    const dp = find(objects, 'ConfigMap', 'mlplat-device-plugin-config');
    assert.deepEqual(Object.keys(dp.data).sort(), ['a100', 'default', 'l4']);
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'mlplat-gpu-pool-access');
    const poolResource = policy.spec.variables.find((v: any) => v.name === 'poolResource');
    assert.match(poolResource.expression, /\{'a100': 'nvidia\.com\/mig-1g\.10gb', 'l4': 'nvidia\.com\/gpu'\}/);
  });

  it('keys MIG layouts by pool, so equal profile names on different models do not collide', () => {
    const { app, gpu } = operator();
    gpu.addPool('h100', { gpuModel: 'H100-80GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.10gb' } });
    gpu.addPool('a100s', { gpuModel: 'A100-40GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.5gb' } });
    const mig = parse(find(objectsOf(app), 'ConfigMap', 'mlplat-mig-parted-config').data['config.yaml'])['mig-configs'];
    assert.deepEqual(Object.keys(mig), ['all-disabled', 'h100', 'a100s']);
    assert.deepEqual(mig.h100[0]['mig-devices'], { '1g.10gb': 7 });
  });
});
