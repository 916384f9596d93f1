import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { IGpuPool } from '../../constructs/gpu/pool';
import { ITenant } from '../../constructs/tenancy/tenant';
import { PlatformContext } from '../../lib/context';

export interface GpuSmokeTestProps {
  /** Tenant whose namespace, quota and ServiceAccount the check runs under. */
  readonly tenant: ITenant;
  /** Pool to check; must be granted to the tenant. */
  readonly pool: IGpuPool;
  /**
   * When to run, in cron syntax.
   * @default '0 6 * * *' (daily at 06:00)
   */
  readonly schedule?: string;
}

/**
 * A construct of the client's own: a nightly CronJob that runs `nvidia-smi` on one unit of a GPU
 * pool from inside a tenant, proving the pool, the quota and the admission policy let the
 * tenant's real workloads through. It only uses typed handles (ITenant, IGpuPool).
 */
export class GpuSmokeTest extends Construct {
  readonly name: string;

  constructor(scope: Construct, id: string, props: GpuSmokeTestProps) {
    if (!props.tenant.gpuGrants.has(props.pool)) {
      throw new Error(`GpuSmokeTest: pool "${props.pool.name}" is not granted to tenant "${props.tenant.name}"`);
    }
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.name = `gpu-smoke-test-${props.pool.name}`;
    const placement = props.pool.placement();
    new ApiObject(this, 'Resource', {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: this.name, namespace: props.tenant.namespace },
      spec: {
        schedule: props.schedule ?? '0 6 * * *',
        concurrencyPolicy: 'Forbid',
        jobTemplate: {
          spec: {
            backoffLimit: 0,
            ttlSecondsAfterFinished: 86400,
            template: {
              spec: {
                ...placement,
                restartPolicy: 'Never',
                serviceAccountName: props.tenant.serviceAccountName,
                automountServiceAccountToken: false,
                securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
                containers: [
                  {
                    name: 'nvidia-smi',
                    image: ctx.image({ registry: 'nvcr.io', repository: 'nvidia/cuda', tag: '12.9.1-base-ubuntu24.04' }),
                    command: ['nvidia-smi', '-L'],
                    resources: {
                      requests: { cpu: '100m', memory: '128Mi' },
                      limits: { memory: '128Mi', [props.pool.resourceName]: 1 },
                    },
                    securityContext: {
                      allowPrivilegeEscalation: false,
                      readOnlyRootFilesystem: true,
                      capabilities: { drop: ['ALL'] },
                    },
                  },
                ],
              },
            },
          },
        },
      },
    });
  }
}
