import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { IConstruct } from 'constructs';
import { DeployStep, planDeployment, PlanOptions } from './plan';

export interface PlatformDeploymentArgs extends PlanOptions {
  /** The construct tree (an MlPlatform or anything holding ComponentCharts). */
  readonly tree: IConstruct;
}

/**
 * Registers a synthesized platform with Pulumi: one ConfigGroup per component and stage, Helm
 * releases for third-party charts, each depending explicitly on the stage before it.
 * Type token `mlplat:index:PlatformDeployment`; children are parented to it.
 */
export class PlatformDeployment extends pulumi.ComponentResource {
  /** Registered resources by step name. */
  readonly resources: Readonly<Record<string, pulumi.Resource>>;
  readonly steps: readonly DeployStep[];

  constructor(name: string, args: PlatformDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mlplat:index:PlatformDeployment', name, {}, opts);
    this.steps = planDeployment(args.tree, args);
    const resources: Record<string, pulumi.Resource> = {};
    for (const step of this.steps) {
      const dependsOn = step.dependsOn.map((d) => resources[d]);
      const childOpts: pulumi.CustomResourceOptions = { parent: this, dependsOn };
      if (step.kind === 'manifests') {
        resources[step.name] = new k8s.yaml.v2.ConfigGroup(step.name, { objs: step.objects as unknown as object[] }, childOpts);
      } else {
        const r = step.release;
        resources[step.name] = new k8s.helm.v3.Release(
          step.name,
          {
            name: r.releaseName,
            namespace: r.namespace,
            // OCI registries have no repository index: Helm takes the chart's full reference.
            chart: 'path' in step.source ? step.source.path : isOci(step.source.repositoryUrl) ? `${step.source.repositoryUrl.replace(/\/+$/, '')}/${r.chart.chart}` : r.chart.chart,
            version: 'path' in step.source ? undefined : r.chart.version,
            repositoryOpts: 'path' in step.source || isOci(step.source.repositoryUrl) ? undefined : { repo: step.source.repositoryUrl },
            values: r.values as Record<string, unknown>,
            skipCrds: r.crds === 'Skip',
            timeout: parseDurationSeconds(r.timeout),
            atomic: false,
          },
          childOpts,
        );
      }
    }
    this.resources = resources;
    this.registerOutputs({ steps: this.steps.map((s) => s.name) });
  }
}

/** '10m' → 600 */
export function parseDurationSeconds(d: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(d);
  if (!m) throw new Error(`duration "${d}" must look like 90s, 10m or 1h`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}

function isOci(url: string): boolean {
  return url.startsWith('oci://');
}
