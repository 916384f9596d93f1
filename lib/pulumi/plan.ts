import { IConstruct } from 'constructs';
import { ChartRelease } from '../chart-release';
import { ComponentChart } from '../component';
import { chartObjects, kindStage, KubeObject, Stage, STAGES, validateTree } from '../synth';

/**
 * How the Pulumi program installs third-party charts:
 * - `flux`: keep the Flux HelmRepository/HelmRelease objects (a Flux controller installs them);
 * - `repository`: a Helm release pulled from the chart repository;
 * - `local`: a Helm release from a chart directory under `chartsDir` (air-gapped clusters).
 */
export type ChartMode = 'flux' | 'repository' | 'local';
export const CHART_MODES: readonly ChartMode[] = ['flux', 'repository', 'local'];

export { STAGES, Stage };

export interface ManifestStep {
  readonly kind: 'manifests';
  /** Stable logical name: `<component>-<stage>`. */
  readonly name: string;
  readonly component: string;
  readonly stage: Stage;
  readonly objects: readonly KubeObject[];
  readonly dependsOn: readonly string[];
}

export interface HelmStep {
  readonly kind: 'helm';
  /** Stable logical name: `<component>-release-<releaseName>`. */
  readonly name: string;
  readonly component: string;
  readonly stage: 'operators';
  readonly release: ChartRelease<object>;
  /** Where the chart comes from: a repository URL, or a local chart path. */
  readonly source: { readonly repositoryUrl: string } | { readonly path: string };
  readonly dependsOn: readonly string[];
}

export type DeployStep = ManifestStep | HelmStep;

export interface PlanOptions {
  readonly chartMode: ChartMode;
  /** Directory holding `<chart>/` (an unpacked chart) for `local` mode. */
  readonly chartsDir?: string;
}

/** Stage of one object; a chart release's own objects (Flux mode) install an operator. */
export function stageOf(o: KubeObject, fromChartRelease: boolean): Stage {
  return fromChartRelease && o.kind !== 'Namespace' ? 'operators' : kindStage(o.kind);
}

/**
 * The deployment as an ordered list of steps with explicit dependencies: every step depends on
 * the steps of the stage before it (CRDs → namespaces → config → operators → instances),
 * and a Helm release also on the releases it names in `dependsOn`. Pure: no Pulumi import.
 */
export function planDeployment(root: IConstruct, options: PlanOptions): DeployStep[] {
  validateTree(root);
  if (options.chartMode === 'local' && !options.chartsDir) {
    throw new Error('chart mode "local" needs a charts directory (Pulumi config mlplat:chartsDir)');
  }
  const charts = root.node
    .findAll()
    .filter(ComponentChart.isComponentChart)
    .map((chart, index) => ({ chart, index }))
    .sort((a, b) => a.chart.order - b.chart.order || a.index - b.index)
    .map(({ chart }) => chart);

  const byStage = new Map<Stage, DeployStep[]>(STAGES.map((s) => [s, []]));
  for (const chart of charts) {
    const grouped = new Map<Stage, KubeObject[]>();
    const releases: ChartRelease<object>[] = [];
    if (options.chartMode !== 'flux') releases.push(...chart.node.findAll().filter(ChartRelease.isChartRelease));
    for (const c of chartObjects(chart)) {
      const release = c.node.scopes.find(ChartRelease.isChartRelease);
      if (release && options.chartMode !== 'flux') continue; // replaced by a Helm release
      const obj = c.toJson() as KubeObject;
      const stage = stageOf(obj, release !== undefined);
      grouped.set(stage, [...(grouped.get(stage) ?? []), obj]);
    }
    for (const stage of STAGES) {
      const objects = grouped.get(stage);
      if (!objects?.length) continue;
      byStage.get(stage)!.push({ kind: 'manifests', name: `${chart.componentName}-${stage}`, component: chart.componentName, stage, objects, dependsOn: [] });
    }
    for (const release of releases) {
      byStage.get('operators')!.push({
        kind: 'helm',
        name: `${chart.componentName}-release-${release.releaseName}`,
        component: chart.componentName,
        stage: 'operators',
        release,
        source:
          options.chartMode === 'local'
            ? { path: `${options.chartsDir!.replace(/\/+$/, '')}/${release.chart.chart}` }
            : { repositoryUrl: release.chart.repository.url },
        dependsOn: [],
      });
    }
  }

  // A release after the releases it depends on: the deployment resolves dependsOn in list order.
  const operators = byStage.get('operators')!;
  const ordered: DeployStep[] = [];
  const visit = (step: DeployStep, path: readonly DeployStep[]): void => {
    if (ordered.includes(step)) return;
    if (path.includes(step)) throw new Error(`chart releases depend on each other in a cycle: ${[...path, step].map((s) => s.name).join(' → ')}`);
    if (step.kind === 'helm') {
      for (const d of step.release.dependsOn) {
        const dep = operators.find((s) => s.kind === 'helm' && s.release === d);
        if (dep) visit(dep, [...path, step]);
      }
    }
    ordered.push(step);
  };
  for (const s of operators) visit(s, []);
  byStage.set('operators', ordered);

  const steps: DeployStep[] = [];
  let previous: string[] = [];
  const helmNames = new Map<ChartRelease<object>, string>();
  for (const s of byStage.get('operators')!) if (s.kind === 'helm') helmNames.set(s.release, s.name);
  for (const stage of STAGES) {
    const current = byStage.get(stage)!;
    for (const step of current) {
      const extra = step.kind === 'helm' ? step.release.dependsOn.map((d) => helmNames.get(d)).filter((n): n is string => !!n) : [];
      steps.push({ ...step, dependsOn: [...previous, ...extra] } as DeployStep);
    }
    if (current.length > 0) previous = current.map((s) => s.name);
  }
  return steps;
}
