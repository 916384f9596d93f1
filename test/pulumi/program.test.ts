import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { recordResources } from './mocks';

/**
 * Runs the real Pulumi program entry (bin/pulumi.ts, the Pulumi.yaml `main`) under Pulumi's mocks
 * with stack config, as `pulumi up` would run it.
 */
describe('bin/pulumi.ts (the Pulumi program)', () => {
  it('builds the client named by mlplat:config and registers its resources', async () => {
    pulumi.runtime.setAllConfig({
      'mlplat:config': path.resolve(__dirname, '../../examples/minimal/platform.yaml'),
      'mlplat:chartMode': 'flux',
    });
    const registered = await recordResources('minimal');
    const program = await import('../../bin/pulumi');
    assert.equal(program.client, 'minimal');
    assert.deepEqual(program.steps, [
      'gpu-operator-namespaces',
      'tenant-team-namespaces',
      'gpu-operator-config',
      'tenancy-config',
      'tenant-team-config',
      'gpu-operator-operators',
    ]);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(registered.some((r) => r.type === 'mlplat:index:PlatformDeployment' && r.name === 'minimal'));
    const ops = registered.find((r) => r.name === 'gpu-operator-operators');
    assert.deepEqual(ops?.inputs.objs.map((o: any) => o.kind), ['HelmRepository', 'HelmRelease'], 'flux mode keeps the Flux objects');
    assert.ok(!registered.some((r) => r.type === 'kubernetes:helm.sh/v3:Release'));
  });
});
