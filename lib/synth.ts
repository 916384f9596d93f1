import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiObject, Chart } from 'cdk8s';
import { IConstruct } from 'constructs';
import { stringify } from 'yaml';
import { OutputArtifact } from './artifacts';
import { ChartRelease } from './chart-release';
import { ComponentChart } from './component';

/** A Kubernetes object as plain JSON. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [k: string]: unknown };
  readonly [k: string]: unknown;
}

export interface SynthFile {
  /** `NN-<component>.yaml` */
  readonly name: string;
  readonly chart: ComponentChart;
  readonly objects: readonly KubeObject[];
}

/** Whole-tree validation failures, reported together. */
export class ValidationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the platform is not consistent (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ValidationError';
  }
}

/** Apply stages, in order: definitions, namespaces, configuration, operators, instances. */
export const STAGES = ['crds', 'namespaces', 'config', 'operators', 'instances'] as const;
export type Stage = (typeof STAGES)[number];

/** Kinds in the order they can be applied, with their stage. Unknown kinds (custom resources) go last. */
const KIND_ORDER: ReadonlyArray<readonly [string, Stage]> = [
  ['CustomResourceDefinition', 'crds'],
  ['Namespace', 'namespaces'],
  ['PriorityClass', 'config'],
  ['StorageClass', 'config'],
  ['ValidatingAdmissionPolicy', 'config'],
  ['ValidatingAdmissionPolicyBinding', 'config'],
  ['ClusterRole', 'config'],
  ['ClusterRoleBinding', 'config'],
  ['ResourceQuota', 'config'],
  ['LimitRange', 'config'],
  ['NetworkPolicy', 'config'],
  ['ServiceAccount', 'config'],
  ['Secret', 'config'],
  ['ConfigMap', 'config'],
  ['PersistentVolume', 'config'],
  ['PersistentVolumeClaim', 'config'],
  ['Role', 'config'],
  ['RoleBinding', 'config'],
  ['Service', 'config'],
  ['HelmRepository', 'operators'],
  ['HelmRelease', 'operators'],
  ['Deployment', 'instances'],
  ['StatefulSet', 'instances'],
  ['DaemonSet', 'instances'],
  ['Job', 'instances'],
  ['CronJob', 'instances'],
];
const KIND_INDEX = new Map(KIND_ORDER.map(([kind], i) => [kind, i]));

/** Apply position of a kind. */
export function kindRank(kind: string): number {
  return KIND_INDEX.get(kind) ?? KIND_ORDER.length;
}

/** Apply stage of a kind; custom resources come after the operators that serve them. */
export function kindStage(kind: string): Stage {
  const i = KIND_INDEX.get(kind);
  return i === undefined ? 'instances' : KIND_ORDER[i][1];
}

/** Runs every `node.addValidation` in the tree; throws one error listing all problems. */
export function validateTree(root: IConstruct): void {
  const problems: string[] = [];
  for (const c of root.node.findAll()) {
    for (const message of c.node.validate()) problems.push(`${c.node.path}: ${message}`);
  }
  if (problems.length > 0) throw new ValidationError(problems);
}

/**
 * The API objects whose closest chart is `chart`, in tree order. Replaces cdk8s `Chart.toJson()`,
 * which re-resolves dependencies and re-validates the whole app for every chart (quadratic in
 * the number of charts); mlplat orders objects by kind instead of construct dependencies.
 */
export function chartObjects(chart: Chart): ApiObject[] {
  const out: ApiObject[] = [];
  const visit = (c: IConstruct): void => {
    for (const child of c.node.children) {
      if (Chart.isChart(child)) continue;
      if (ApiObject.isApiObject(child)) out.push(child);
      visit(child);
    }
  };
  visit(chart);
  return out;
}

/**
 * Renders the tree to one object list per component, in apply order: the tree is validated once,
 * then each chart's objects are resolved (cdk8s `App.synth()` is not used: it writes files itself
 * and grows superlinearly with the number of charts; see `npm run bench`).
 */
export function renderTree(root: IConstruct): SynthFile[] {
  validateTree(root);
  const charts = root.node.findAll().filter(ComponentChart.isComponentChart);
  const names = new Set<string>();
  return charts
    .map((chart, index) => ({ chart, index }))
    .sort((a, b) => a.chart.order - b.chart.order || a.index - b.index)
    .map(({ chart }, i) => {
      const name = `${String(i).padStart(2, '0')}-${chart.componentName}.yaml`;
      if (names.has(chart.componentName)) throw new Error(`two components are named "${chart.componentName}"`);
      names.add(chart.componentName);
      const objects = chartObjects(chart)
        .map((o) => o.toJson() as KubeObject)
        .map((o, j) => ({ o, j }))
        .sort((a, b) => kindRank(a.o.kind) - kindRank(b.o.kind) || a.j - b.j)
        .map(({ o }) => o);
      return { name, chart, objects };
    });
}

/** Subdirectory of the output for custom resources of operators the platform installs itself. */
export const AFTER_OPERATORS_DIR = 'after-operators';
/** Kustomize/Flux file list of each output directory (`.yml`, so `*.yaml` globs skip it). */
export const KUSTOMIZATION_FILE = 'kustomization.yml';

export interface OutputFile {
  /** Path relative to the output directory. */
  readonly name: string;
  readonly content: string;
  readonly count: number;
}

/** API group of an apiVersion (`''` for the core group). */
function apiGroup(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
}

/**
 * The files `mlplat synth` writes, in two layers. Custom resources whose CRDs come from a chart
 * the platform installs itself (a `ChartRelease` that `provides` their API group) cannot be
 * applied, or even dry-run, before that operator is installed; they go to `after-operators/`,
 * applied once the operators are ready (README, Deploying). Each directory gets a
 * `kustomization.yml` listing its files in apply order, so a Flux Kustomization over the output
 * directory takes the first layer only.
 */
export function outputFiles(root: IConstruct): OutputFile[] {
  const files = renderTree(root);
  const provided = new Set(root.node.findAll().filter(ChartRelease.isChartRelease).flatMap((r) => r.provides));
  const later = (o: KubeObject) => provided.has(apiGroup(o.apiVersion));
  const out: OutputFile[] = [];
  const second: OutputFile[] = [];
  for (const f of files) {
    const first = f.objects.filter((o) => !later(o));
    const rest = f.objects.filter(later);
    if (first.length > 0) out.push({ name: f.name, content: toYaml(first), count: first.length });
    if (rest.length > 0) second.push({ name: `${AFTER_OPERATORS_DIR}/${f.name}`, content: toYaml(rest), count: rest.length });
  }
  const kustomization = (names: string[], note: string): string =>
    `# Written by mlplat: ${note}\n${stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: names })}`;
  const result = [
    ...out,
    { name: KUSTOMIZATION_FILE, content: kustomization(out.map((f) => f.name), 'the first layer, in apply order.'), count: 0 },
  ];
  const artifacts = root.node.findAll().filter(OutputArtifact.isOutputArtifact);
  const paths = new Set<string>();
  for (const a of artifacts) {
    if (paths.has(a.path)) throw new Error(`two output files are named ${a.path}`);
    paths.add(a.path);
  }
  if (second.length > 0) {
    result.push(...second, {
      name: `${AFTER_OPERATORS_DIR}/${KUSTOMIZATION_FILE}`,
      content: kustomization(second.map((f) => path.basename(f.name)), 'custom resources of the operators the first layer installs; apply once those are ready.'),
      count: 0,
    });
  }
  result.push(...artifacts.map((a) => ({ name: a.path, content: a.content(), count: 0 })));
  return result;
}

/** One YAML stream per file; stable for the same input. */
export function toYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0, version: '1.1' })).join('---\n');
}

/** Marker file in every directory mlplat writes; only such directories are ever replaced. */
export const OUTPUT_MARKER = '.mlplat-output';

/**
 * Writes the files into `outDir` as a whole: everything is written to a temporary sibling
 * directory first, which then takes the place of `outDir` (the old one is moved aside, the new
 * one renamed in, the old one removed). A failure leaves `outDir` as it was and no temporary
 * directory behind; readers never see a half-written directory. An existing non-empty directory
 * that mlplat did not write is never replaced.
 */
export function writeAtomically(outDir: string, files: ReadonlyArray<{ name: string; content: string }>): void {
  // A symlinked output directory is written where it points, and stays a link.
  const target = fs.existsSync(outDir) ? fs.realpathSync(outDir) : path.resolve(outDir);
  if (fs.existsSync(target)) {
    if (!fs.statSync(target).isDirectory()) throw new Error(`refusing to replace ${outDir}: it is a file, not a directory`);
    const entries = fs.readdirSync(target);
    if (entries.length > 0 && !entries.includes(OUTPUT_MARKER)) {
      throw new Error(`refusing to replace ${outDir}: it is not empty and was not written by mlplat (no ${OUTPUT_MARKER}); choose another --out`);
    }
  }
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.tmp-`));
  const old = `${tmp}.old`;
  try {
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(tmp, f.name)), { recursive: true });
      fs.writeFileSync(path.join(tmp, f.name), f.content);
    }
    fs.writeFileSync(path.join(tmp, OUTPUT_MARKER), 'Written by mlplat synth; this directory is replaced whole on every run.\n');
    fs.chmodSync(tmp, 0o755); // mkdtemp creates 0700; the output is meant to be read by others
    if (fs.existsSync(target)) fs.renameSync(target, old);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (fs.existsSync(old) && !fs.existsSync(target)) fs.renameSync(old, target);
    throw e;
  }
  fs.rmSync(old, { recursive: true, force: true });
}
