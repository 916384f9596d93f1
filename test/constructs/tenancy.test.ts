import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GpuOperator } from '../../constructs/gpu/operator';
import { Tenant } from '../../constructs/tenancy/tenant';
import { ACME, all, find, objectsOf, synthFile, testChart } from '../helpers';

function fixture() {
  const { app, chart } = testChart();
  const gpu = new GpuOperator(chart, 'Gpu');
  const a100 = gpu.addPool('a100', { gpuModel: 'A100-80GB', gpusPerNode: 8, sharing: { mode: 'mig', profile: 'all-1g.10gb' } });
  const l4 = gpu.addPool('l4', { gpuModel: 'L4', gpusPerNode: 1, sharing: { mode: 'timeSlicing', replicas: 4 } });
  const h100 = gpu.addPool('h100', { gpuModel: 'H100-80GB', gpusPerNode: 8 });
  const tenant = new Tenant(chart, 'Research', { name: 'research', groups: ['research', 'ml-leads'], cpu: '64', memory: '256Gi', gpus: gpu });
  return { app, chart, gpu, tenant, a100, l4, h100 };
}

describe('Tenant', () => {
  it('gets a namespace with Pod Security restricted enforced and its grants annotated', () => {
    const { app, tenant, a100, l4 } = fixture();
    tenant.grantGpus(a100, 16);
    tenant.grantGpus(l4, 4);
    const ns = find(objectsOf(app), 'Namespace', 'research');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.equal(ns.metadata.labels['mlplat.io/tenant'], 'research');
    assert.equal(ns.metadata.annotations['mlplat.io/gpu-pools'], 'a100,l4');
  });

  it('caps CPU and memory with a compute quota', () => {
    const { app } = fixture();
    const q = find(objectsOf(app), 'ResourceQuota', 'compute', 'research');
    assert.deepEqual(q.spec.hard, {
      'requests.cpu': '64',
      'requests.memory': '256Gi',
      'limits.memory': '256Gi',
      'services.loadbalancers': 0,
      'services.nodeports': 0,
    });
  });

  it('quotas GPUs per pool in the pool’s own units, scoped by the pool’s priority class', () => {
    const { app, tenant, a100, l4, h100 } = fixture();
    tenant.grantGpus(a100, 16);
    tenant.grantGpus(l4, 4);
    tenant.grantGpus(h100, 2);
    const objects = objectsOf(app);
    const expected: Array<[string, Record<string, number>, string]> = [
      ['gpu-a100', { 'requests.nvidia.com/gpu': 0, 'requests.nvidia.com/mig-1g.10gb': 16 * 7 }, 'mlplat-gpu-a100'],
      ['gpu-l4', { 'requests.nvidia.com/gpu': 4 * 4, 'requests.nvidia.com/mig-1g.10gb': 0 }, 'mlplat-gpu-l4'],
      ['gpu-h100', { 'requests.nvidia.com/gpu': 2, 'requests.nvidia.com/mig-1g.10gb': 0 }, 'mlplat-gpu-h100'],
    ];
    for (const [name, hard, pc] of expected) {
      const q = find(objects, 'ResourceQuota', name, 'research');
      assert.deepEqual(q.spec.hard, hard, `${name}: its own resource in units, every other NVIDIA resource 0`);
      assert.deepEqual(q.spec.scopeSelector.matchExpressions, [{ scopeName: 'PriorityClass', operator: 'In', values: [pc] }]);
      // the priority class the quota is scoped by exists
      find(objects, 'PriorityClass', pc);
    }
  });

  it('caps every NVIDIA resource at 0 outside the granted pools', () => {
    const { app, tenant, l4 } = fixture();
    tenant.grantGpus(l4, 1);
    const q = find(objectsOf(app), 'ResourceQuota', 'gpu-ungranted', 'research');
    assert.deepEqual(q.spec.hard, { 'requests.nvidia.com/gpu': 0, 'requests.nvidia.com/mig-1g.10gb': 0 });
    assert.deepEqual(q.spec.scopeSelector.matchExpressions, [{ scopeName: 'PriorityClass', operator: 'NotIn', values: ['mlplat-gpu-l4'] }]);
  });

  it('without grants, caps GPUs at 0 for every pod', () => {
    const { app } = fixture();
    const q = find(objectsOf(app), 'ResourceQuota', 'gpu-ungranted', 'research');
    assert.equal(q.spec.scopeSelector, undefined);
    assert.equal(q.spec.hard['requests.nvidia.com/gpu'], 0);
    assert.equal(find(objectsOf(app), 'Namespace', 'research').metadata.annotations['mlplat.io/gpu-pools'], '');
  });

  it('gives its SSO groups edit rights, named as the API server sees them', () => {
    const { app } = fixture();
    const rb = find(objectsOf(app), 'RoleBinding', 'tenant-edit', 'research');
    assert.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' });
    assert.deepEqual(rb.subjects.map((s: any) => `${s.kind}:${s.name}`), ['Group:oidc:research', 'Group:oidc:ml-leads']);
  });

  it('uses the configured OIDC group prefix', () => {
    const { app, chart } = testChart({ groupPrefix: 'keycloak:' });
    new Tenant(chart, 'T', { name: 'team', groups: ['team'], cpu: '1', memory: '1Gi' });
    assert.equal(find(objectsOf(app), 'RoleBinding', 'tenant-edit').subjects[0].name, 'keycloak:team');
  });

  it('applies the documented container defaults, and overrides', () => {
    const { app, chart } = fixture();
    new Tenant(chart, 'Custom', { name: 'custom', groups: ['c'], cpu: '1', memory: '1Gi', containerDefaults: { cpuRequest: '1', memoryLimit: '8Gi' } });
    const objects = objectsOf(app);
    assert.deepEqual(find(objects, 'LimitRange', 'defaults', 'research').spec.limits, [
      { type: 'Container', defaultRequest: { cpu: '250m', memory: '512Mi' }, default: { memory: '2Gi' } },
    ]);
    assert.deepEqual(find(objects, 'LimitRange', 'defaults', 'custom').spec.limits[0].defaultRequest, { cpu: '1', memory: '512Mi' });
    assert.deepEqual(find(objects, 'LimitRange', 'defaults', 'custom').spec.limits[0].default, { memory: '8Gi' });
  });

  it('isolates the namespace: default deny, own namespace, DNS and platform services only', () => {
    const { app } = fixture();
    const objects = objectsOf(app);
    const policies = all(objects, 'NetworkPolicy', 'research');
    assert.deepEqual(policies.map((p) => p.metadata.name), ['default-deny', 'allow-same-namespace', 'allow-dns', 'allow-platform-services']);
    const deny = find(objects, 'NetworkPolicy', 'default-deny', 'research');
    assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const same = find(objects, 'NetworkPolicy', 'allow-same-namespace', 'research');
    assert.deepEqual(same.spec.ingress, [{ from: [{ podSelector: {} }] }]);
    assert.deepEqual(same.spec.egress, [{ to: [{ podSelector: {} }] }]);
    const dns = find(objects, 'NetworkPolicy', 'allow-dns', 'research');
    assert.deepEqual(dns.spec.egress[0].ports, [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
    assert.deepEqual(dns.spec.egress[0].to[0].podSelector, { matchLabels: { 'k8s-app': 'kube-dns' } });
    const platform = find(objects, 'NetworkPolicy', 'allow-platform-services', 'research');
    assert.deepEqual(platform.spec.egress, [{ to: [{ namespaceSelector: { matchLabels: { 'mlplat.io/reachable-from-tenants': 'true' } } }] }]);
  });

  it('allows internet egress only when asked, and never to private ranges', () => {
    const { app, chart } = fixture();
    new Tenant(chart, 'Open', { name: 'open', groups: ['o'], cpu: '1', memory: '1Gi', allowInternetEgress: true });
    const objects = objectsOf(app);
    assert.equal(all(objects, 'NetworkPolicy', 'research').some((p) => p.metadata.name === 'allow-internet-egress'), false);
    const open = find(objects, 'NetworkPolicy', 'allow-internet-egress', 'open');
    assert.deepEqual(open.spec.egress[0].to[0].ipBlock.cidr, '0.0.0.0/0');
    for (const range of ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10']) {
      assert.ok(open.spec.egress[0].to[0].ipBlock.except.includes(range), `${range} stays unreachable`);
    }
  });

  it('allows LoadBalancer and NodePort Services only when asked', () => {
    const { app, chart } = fixture();
    new Tenant(chart, 'Exposed', { name: 'exposed', groups: ['e'], cpu: '1', memory: '1Gi', allowServiceExposure: true });
    const hard = find(objectsOf(app), 'ResourceQuota', 'compute', 'exposed').spec.hard;
    assert.equal(hard['services.loadbalancers'], undefined);
    assert.equal(hard['services.nodeports'], undefined);
  });

  it('has a workload ServiceAccount that does not mount an API token', () => {
    const { app } = fixture();
    assert.equal(find(objectsOf(app), 'ServiceAccount', 'workload', 'research').automountServiceAccountToken, false);
  });

  it('refuses contradictory props and grants', () => {
    const { chart, tenant, a100 } = fixture();
    assert.throws(() => new Tenant(chart, 'Sys', { name: 'kube-system', groups: ['x'], cpu: '1', memory: '1Gi' }), /tenant name "kube-system" is reserved by Kubernetes/);
    assert.throws(() => new Tenant(chart, 'NoGroups', { name: 'nogroups', groups: [], cpu: '1', memory: '1Gi' }), /groups must list at least one SSO group/);
    tenant.grantGpus(a100, 1);
    assert.throws(() => tenant.grantGpus(a100, 1), /pool "a100" is granted twice/);
    const other = new GpuOperator(testChart().chart, 'Other').addPool('x', { gpuModel: 'T4', gpusPerNode: 1 });
    assert.throws(() => tenant.grantGpus(other, 1), /pool "x" is not one of the platform's pools/);
    assert.throws(() => tenant.grantGpus(a100, 0), /must be a whole number ≥ 1 \(got 0\); grant nothing/);
    assert.throws(() => new Tenant(chart, 'Long', { name: 'x'.repeat(57), groups: ['x'], cpu: '1', memory: '1Gi' }), /longer than 56 characters/);
  });
});

describe('TenantGuard', () => {
  it('refuses Service externalIPs and raised pod priority in tenant namespaces', () => {
    const { objects } = synthFile(ACME);
    const services = find(objects, 'ValidatingAdmissionPolicy', 'mlplat-tenant-services');
    assert.equal(services.spec.validations[0].expression, '!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0');
    const priority = find(objects, 'ValidatingAdmissionPolicy', 'mlplat-tenant-pod-priority');
    assert.equal(priority.spec.validations[0].expression, '!has(object.spec.priority) || object.spec.priority <= 0');
    for (const name of ['mlplat-tenant-services', 'mlplat-tenant-pod-priority']) {
      assert.equal(find(objects, 'ValidatingAdmissionPolicyBinding', name).spec.policyName, name);
    }
  });

  it('refuses NetworkPolicy writes in tenant namespaces to every tenant group', () => {
    const { objects } = synthFile(ACME);
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'mlplat-tenant-network-policies');
    assert.deepEqual(policy.spec.matchConstraints.resourceRules[0].resources, ['networkpolicies']);
    assert.deepEqual(policy.spec.matchConstraints.resourceRules[0].operations, ['CREATE', 'UPDATE', 'DELETE']);
    assert.equal(policy.spec.validations[0].expression, '!request.userInfo.groups.exists(g, g in ["oidc:ml-engineers","oidc:research"])');
    assert.equal(find(objects, 'ValidatingAdmissionPolicyBinding', 'mlplat-tenant-network-policies').spec.policyName, policy.metadata.name);
  });
});

describe('acme tenants', () => {
  it('grant exactly the pools of the config', () => {
    const { objects, platform } = synthFile(ACME);
    assert.deepEqual(platform.tenants.map((t) => t.name), ['research', 'serving']);
    assert.deepEqual(all(objects, 'ResourceQuota', 'research').map((q) => q.metadata.name), ['compute', 'gpu-ungranted', 'gpu-a100', 'gpu-l4']);
    assert.deepEqual(all(objects, 'ResourceQuota', 'serving').map((q) => q.metadata.name), ['compute', 'gpu-ungranted', 'gpu-l4']);
    assert.equal(find(objects, 'ResourceQuota', 'gpu-l4', 'serving').spec.hard['requests.nvidia.com/gpu'], 16);
    assert.equal(find(objects, 'Namespace', 'serving').metadata.annotations['mlplat.io/gpu-pools'], 'l4');
  });
});
