import { App } from 'cdk8s';
import { Construct } from 'constructs';
import { ComponentChart } from '../lib/component';
import { PlatformContext, PlatformContextProps } from '../lib/context';
import { PlatformSpec } from '../lib/config/schema';
import { objectInvariants } from '../lib/invariants';
import { GpuOperator, GpuOperatorOptions } from '../constructs/gpu/operator';
import { TenantGuard } from '../constructs/tenancy/guard';
import { Tenant, TenantOptions } from '../constructs/tenancy/tenant';

/** Apply order of the components: what others depend on comes first. */
export const COMPONENT_ORDER = {
  gpu: 10,
  tenancy: 15,
  tenants: 20,
} as const;

export interface MlPlatformProps extends PlatformContextProps {
  /**
   * GPU Operator settings.
   * @default - driver preinstalled, DCGM exporter on
   */
  readonly gpu?: GpuOperatorOptions;
}

/**
 * The whole ML platform of one client. The only place components are wired together:
 * it creates each component in a chart of its own and hands them typed handles.
 */
export class MlPlatform extends Construct {
  /** Builds the platform a validated config describes. */
  static fromSpec(scope: Construct, spec: PlatformSpec): MlPlatform {
    const s = spec.spec;
    const platform = new MlPlatform(scope, 'Platform', {
      client: spec.metadata.name,
      domain: s.domain,
      imageRegistry: s.imageRegistry,
      groupPrefix: s.access.groupPrefix,
      gpu: { driver: s.gpu.operator.driver },
    });
    for (const p of s.gpu.pools) {
      platform.gpu.addPool(p.name, { gpuModel: p.gpuModel, gpusPerNode: p.gpusPerNode, nodeSelector: p.nodeSelector, sharing: p.sharing });
    }
    for (const t of s.tenants) {
      const tenant = platform.addTenant(t.name, {
        groups: t.groups,
        cpu: t.quota.cpu,
        memory: t.quota.memory,
        allowInternetEgress: t.allowInternetEgress,
        allowServiceExposure: t.allowServiceExposure,
      });
      // A pool listed with 0 GPUs is not granted.
      for (const [pool, gpus] of Object.entries(t.quota.gpus)) if (gpus > 0) tenant.grantGpus(platform.gpu.pool(pool), gpus);
    }
    return platform;
  }

  readonly context: PlatformContext;
  readonly gpu: GpuOperator;
  readonly tenantGuard: TenantGuard;
  private readonly tenantList: Tenant[] = [];

  constructor(scope: Construct, id: string, props: MlPlatformProps) {
    super(scope, id);
    this.context = PlatformContext.attach(this, props);
    const gpuChart = new ComponentChart(this, 'Gpu', { name: 'gpu-operator', component: 'gpu', order: COMPONENT_ORDER.gpu });
    this.gpu = new GpuOperator(gpuChart, 'GpuOperator', props.gpu);
    const tenancyChart = new ComponentChart(this, 'Tenancy', { name: 'tenancy', component: 'tenancy', order: COMPONENT_ORDER.tenancy });
    this.tenantGuard = new TenantGuard(tenancyChart, 'Guard');
    this.node.addValidation({ validate: () => objectInvariants(this) });
  }

  get tenants(): readonly Tenant[] {
    return this.tenantList;
  }

  /** Adds a tenant in a chart (and output file) of its own. */
  addTenant(name: string, options: TenantOptions): Tenant {
    if (this.tenantList.some((t) => t.name === name)) throw new Error(`tenant "${name}" is defined twice`);
    const chart = new ComponentChart(this, `Tenant-${name}`, { name: `tenant-${name}`, component: 'tenancy', order: COMPONENT_ORDER.tenants });
    const tenant = new Tenant(chart, 'Tenant', { name, gpus: this.gpu, ...options });
    this.tenantList.push(tenant);
    this.tenantGuard.addTenant(tenant);
    return tenant;
  }
}

/** A fresh cdk8s App holding the platform a spec describes. */
export function platformApp(spec: PlatformSpec): { app: App; platform: MlPlatform } {
  const app = new App({ outdir: 'dist' });
  return { app, platform: MlPlatform.fromSpec(app, spec) };
}
