/**
 * What KServe v0.20.0 creates for an InferenceService in Standard (raw Deployment) mode, for a
 * cluster that runs no KServe controller and no KServe webhooks (kwok): the predictor Deployment
 * and Service `<isvc>-predictor`, with the storage-initializer init container the pod webhook
 * would inject.
 *
 * Inputs are upstream's own files, never copies: the ClusterServingRuntimes, the
 * ClusterStorageContainer `default` and the controller's ConfigMap are rendered from the charts in
 * the kserve Go module at the catalog's version (`go mod download`, as lib/crds.ts fetches CRDs),
 * with the values of the synthesized HelmReleases over the charts' values.yaml. The charts'
 * templates use a small subset of Go templates, rendered here by `renderGoTemplate` (anything
 * outside that subset throws, so an upstream change cannot be misread silently).
 *
 * The rules follow these files of the module (v0.20.0), cited where each step is done:
 * - controller: pkg/controller/v1beta1/inferenceservice/components/predictor.go,
 *   …/inferenceservice/utils/utils.go, …/reconcilers/{deployment,service,raw}/*.go;
 * - defaulting: pkg/apis/serving/v1beta1/inference_service_defaults.go;
 * - pod webhook: pkg/webhook/admission/pod/{mutator,storage_initializer_injector}.go,
 *   pkg/utils/storage.go, pkg/credentials/service_account_credentials.go, pkg/credentials/s3/*.go.
 *
 * Not rendered (mlplat emits none of them; the renderer throws): runtime auto-selection,
 * transformers, explainers, multi-node worker specs, multiple storage URIs, logger/batcher
 * agents, canaries. The HorizontalPodAutoscaler of `autoscalerClass: hpa` is not rendered either.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { CrdSource, VERSIONS } from '../../../lib/versions';
import { KubeObject } from '../../../lib/synth';

// The charts' values and KServe's objects are free-form JSON.
type Json = any;

const API_GROUP = 'serving.kserve.io';
/** constants.InferenceServiceContainerName */
const MODEL_CONTAINER = 'kserve-container';
/** constants.StorageInitializerContainerName / StorageInitializerVolumeName / DefaultModelLocalMountPath */
const STORAGE_INITIALIZER = 'storage-initializer';
const PROVISION_VOLUME = 'kserve-provision-location';
const MODEL_DIR = '/mnt/models';
/** Pod annotations the controller and webhook use (pkg/constants/constants.go). */
const ANNOTATIONS = {
  deploymentMode: `${API_GROUP}/deploymentMode`,
  autoscalerClass: `${API_GROUP}/autoscalerClass`,
  sourceUri: `internal.${API_GROUP}/storage-initializer-sourceuri`,
  storageReadonly: 'storage.kserve.io/readonly',
  serverType: `${API_GROUP}/server-type`,
} as const;
/** constants.ServiceAnnotationDisallowedList (Knative scale keys, the storage URI, kubectl's, the model format). */
const DISALLOWED_ANNOTATIONS = [
  'autoscaling.knative.dev/min-scale',
  'autoscaling.knative.dev/max-scale',
  ANNOTATIONS.sourceUri,
  'kubectl.kubernetes.io/last-applied-configuration',
  'modelFormat',
];

// ---------------------------------------------------------------------------------------------
// The module

/**
 * Directory of the kserve Go module at the catalog's version. run.ts fetches the CRDs of the same
 * module before the suite starts (offline), so here it comes from the module cache.
 */
export function kserveModuleDir(source: CrdSource = VERSIONS.crds.kserve): string {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mlplat-kserve-'));
  try {
    fs.writeFileSync(path.join(scratch, 'go.mod'), 'module mlplat.local/kserve\n\ngo 1.22\n');
    const out = execFileSync('go', ['mod', 'download', '-json', `${source.goModule}@${source.version}`], {
      cwd: scratch,
      encoding: 'utf8',
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
    });
    const info = JSON.parse(out) as { Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(`go mod download ${source.goModule}@${source.version}: ${info.Error ?? 'no directory'}`);
    return info.Dir;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The Go-template subset of the charts' patch files

type Token =
  | { readonly kind: 'field'; readonly root: '.' | '$'; readonly path: readonly string[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'ident'; readonly name: string }
  | { readonly kind: 'pipe' };

type Node =
  | { readonly kind: 'text'; text: string }
  | { readonly kind: 'print'; readonly pipeline: readonly Token[] }
  | { readonly kind: 'if' | 'with'; readonly pipeline: readonly Token[]; readonly then: Node[]; readonly otherwise: Node[] };

const FUNCTIONS: Record<string, (...args: Json[]) => Json> = {
  // sprig: `x | default d` is x unless x is empty.
  default: (fallback: Json, value?: Json) => (truthy(value) ? value : fallback),
  // Helm: YAML without the trailing newline.
  toYaml: (v: Json) => (v === undefined || v === null ? 'null' : stringify(v, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, '')),
  nindent: (n: number, s: string) => `\n${indentLines(n, String(s))}`,
  indent: (n: number, s: string) => indentLines(n, String(s)),
  // sprig: surrounding whitespace removed.
  trim: (s: Json) => goString(s).trim(),
  quote: (v: Json) => JSON.stringify(v === undefined || v === null ? '' : goString(v)),
};

function indentLines(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return s.split('\n').map((l) => pad + l).join('\n');
}

/** Go's truth: false, 0, nil and empty strings, lists and maps are false. */
function truthy(v: Json): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** `{{ x }}` as Go prints it (Helm turns "<no value>" into nothing). */
function goString(v: Json): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') throw new Error(`template prints a map (${JSON.stringify(v)}): not in the supported subset`);
  return String(v);
}

/** Splits `{{ … }}` actions from text, honouring string literals and the `{{-`/`-}}` trim markers. */
function lex(text: string): Array<{ text: string } | { action: string; trimLeft: boolean; trimRight: boolean }> {
  const parts: Array<{ text: string } | { action: string; trimLeft: boolean; trimRight: boolean }> = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open < 0) {
      parts.push({ text: text.slice(i) });
      break;
    }
    parts.push({ text: text.slice(i, open) });
    let j = open + 2;
    let quote: string | undefined;
    for (; j < text.length; j++) {
      const c = text[j];
      if (quote) {
        if (c === '\\' && quote === '"') j++;
        else if (c === quote) quote = undefined;
      } else if (c === '"' || c === '`') quote = c;
      else if (c === '}' && text[j + 1] === '}') break;
    }
    if (j >= text.length) throw new Error(`unterminated template action at ${open}`);
    let body = text.slice(open + 2, j);
    const trimLeft = /^-\s/.test(body);
    const trimRight = /\s-$/.test(body);
    if (trimLeft) body = body.slice(1);
    if (trimRight) body = body.slice(0, -1);
    parts.push({ action: body.trim(), trimLeft, trimRight });
    i = j + 2;
  }
  // Trim markers eat the whitespace (newlines included) next to them.
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k];
    if (!('action' in p)) continue;
    const before = parts[k - 1];
    const after = parts[k + 1];
    if (p.trimLeft && before && 'text' in before) before.text = before.text.replace(/\s+$/, '');
    if (p.trimRight && after && 'text' in after) after.text = after.text.replace(/^\s+/, '');
  }
  return parts;
}

function tokenize(action: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\|)|"((?:[^"\\]|\\.)*)"|`([^`]*)`|(-?\d+(?:\.\d+)?)|(\$?(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\$|\.)|([A-Za-z_][A-Za-z0-9_]*))/y;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < action.length) {
    re.lastIndex = at;
    m = re.exec(action);
    if (!m || m[0].length === 0) throw new Error(`template action "${action}": "${action.slice(at)}" is not in the supported subset`);
    at = re.lastIndex;
    if (m[1]) tokens.push({ kind: 'pipe' });
    else if (m[2] !== undefined) tokens.push({ kind: 'string', value: JSON.parse(`"${m[2]}"`) as string });
    else if (m[3] !== undefined) tokens.push({ kind: 'string', value: m[3] });
    else if (m[4] !== undefined) tokens.push({ kind: 'number', value: Number(m[4]) });
    else if (m[5] !== undefined) {
      const root = m[5].startsWith('$') ? '$' : '.';
      tokens.push({ kind: 'field', root, path: m[5].replace(/^\$/, '').split('.').filter(Boolean) });
    } else tokens.push({ kind: 'ident', name: m[6] });
    if (/^\s*$/.test(action.slice(at))) break;
  }
  return tokens;
}

function parseTemplate(text: string): Node[] {
  const root: Node[] = [];
  const stack: Array<{ node: Extract<Node, { kind: 'if' | 'with' }>; inElse: boolean }> = [];
  const target = (): Node[] => {
    const top = stack.at(-1);
    return top ? (top.inElse ? top.node.otherwise : top.node.then) : root;
  };
  for (const p of lex(text)) {
    if ('text' in p) {
      if (p.text) target().push({ kind: 'text', text: p.text });
      continue;
    }
    const a = p.action;
    if (/^\/\*[\s\S]*\*\/$/.test(a)) continue;
    const kw = /^(if|with|else|end|range|define|template|block|include)\b\s*([\s\S]*)$/.exec(a);
    if (kw?.[1] === 'if' || kw?.[1] === 'with') {
      const node: Extract<Node, { kind: 'if' | 'with' }> = { kind: kw[1], pipeline: tokenize(kw[2]), then: [], otherwise: [] };
      target().push(node);
      stack.push({ node, inElse: false });
    } else if (kw?.[1] === 'else' && kw[2] === '') {
      const top = stack.at(-1) ?? assertNever(`{{ else }} outside a block`);
      top.inElse = true;
    } else if (kw?.[1] === 'end') {
      if (!stack.pop()) throw new Error('{{ end }} without a block');
    } else if (kw) {
      throw new Error(`template action "${a}" is not in the supported subset`);
    } else {
      target().push({ kind: 'print', pipeline: tokenize(a) });
    }
  }
  if (stack.length) throw new Error('unclosed {{ if }} / {{ with }}');
  return root;
}

function assertNever(message: string): never {
  throw new Error(message);
}

function evalPipeline(tokens: readonly Token[], dot: Json, root: Json): Json {
  const commands: Token[][] = [[]];
  for (const t of tokens) {
    if (t.kind === 'pipe') commands.push([]);
    else commands.at(-1)!.push(t);
  }
  let value: Json;
  commands.forEach((cmd, i) => {
    if (cmd.length === 0) throw new Error('empty command in a template pipeline');
    const [head, ...rest] = cmd;
    const args = rest.map((t) => evalTerm(t, dot, root));
    if (head.kind === 'ident') {
      const f = FUNCTIONS[head.name] ?? assertNever(`template function "${head.name}" is not in the supported subset`);
      value = f(...args, ...(i > 0 ? [value] : []));
    } else {
      if (rest.length || i > 0) throw new Error('a template value cannot take arguments');
      value = evalTerm(head, dot, root);
    }
  });
  return value;
}

function evalTerm(t: Token, dot: Json, root: Json): Json {
  if (t.kind === 'string' || t.kind === 'number') return t.value;
  if (t.kind !== 'field') throw new Error(`template argument ${JSON.stringify(t)} is not in the supported subset`);
  let v = t.root === '$' ? root : dot;
  for (const [i, key] of t.path.entries()) {
    // Go fails on a field of nil ("nil pointer evaluating interface {}.x"), and so does Helm.
    if (v === undefined || v === null) throw new Error(`template: nil pointer evaluating .${t.path.slice(0, i).join('.')}.${key}`);
    v = v[key];
  }
  return v;
}

function evalNodes(nodes: readonly Node[], dot: Json, root: Json): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'print') out += goString(evalPipeline(n.pipeline, dot, root));
    else {
      const v = evalPipeline(n.pipeline, dot, root);
      if (truthy(v)) out += evalNodes(n.then, n.kind === 'with' ? v : dot, root);
      else out += evalNodes(n.otherwise, dot, root);
    }
  }
  return out;
}

/**
 * Renders the Go-template subset the KServe charts' patch files use: `{{ .Values.x }}`,
 * `{{ x | default y }}`, string literals, `{{- if x }}`/`{{- with x }}` … `{{- else }}` …
 * `{{- end }}`, `toYaml`, `nindent`, `indent`, `trim`, `quote`, and the trim markers. `root` is the
 * template's dot (Helm's `{ Values, … }`).
 */
export function renderGoTemplate(text: string, root: Json): string {
  return evalNodes(parseTemplate(text), root, root);
}

// ---------------------------------------------------------------------------------------------
// Helm values and the charts' own merge

const isMap = (v: Json): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

/** Helm's value coalescing: the release's values over the chart's (maps merged, null deletes). */
export function coalesceValues(chartValues: Json, releaseValues: Json): Json {
  const out = clone(chartValues) ?? {};
  for (const [k, v] of Object.entries(releaseValues ?? {})) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = coalesceValues(out[k], v);
    else out[k] = clone(v);
  }
  return out;
}

/**
 * The charts' `kserve-common.deepMerge` (templates/_utils.tpl): maps merge recursively, lists
 * whose patch items are maps with a `name` merge by name (base order, then new items), any other
 * list or value in the patch replaces the base's.
 */
export function chartDeepMerge(base: Json, patch: Json): Json {
  const out = clone(base);
  for (const [k, v] of Object.entries(patch ?? {})) {
    const b = out[k];
    if (isMap(v) && isMap(b)) out[k] = chartDeepMerge(b, v);
    else if (Array.isArray(v) && Array.isArray(b) && v.length > 0 && isMap(v[0]) && 'name' in v[0]) {
      const merged = b.map((item: Json) => {
        const p = v.find((x: Json) => x.name === item.name);
        return p ? chartDeepMerge(item, p) : item;
      });
      for (const p of v) if (!b.some((item: Json) => item.name === p.name)) merged.push(clone(p));
      out[k] = merged;
    } else out[k] = clone(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The installed KServe, as the charts render it

/** The controller's ConfigMap `inferenceservice-config`, the keys the predictor path reads. */
export interface KserveConfig {
  /** `credentials` (pkg/credentials): the Secret annotation and the global S3 settings. */
  readonly credentials: {
    readonly storageSecretNameAnnotation: string;
    readonly s3: Readonly<Record<string, string>>;
  };
  /** `deploy.defaultDeploymentMode` */
  readonly defaultDeploymentMode: string;
  /** `service.serviceClusterIPNone` */
  readonly serviceClusterIPNone: boolean;
  /** `storageInitializer` (image, CPU and memory of the init container). */
  readonly storageInitializer: Readonly<Record<string, Json>>;
  /** `security.autoMountServiceAccountToken` */
  readonly autoMountServiceAccountToken: boolean;
}

/** KServe as the three chart releases install it. */
export interface KserveInstall {
  readonly version: string;
  /** Rendered ClusterServingRuntimes, by name (kserve-runtime-configs). */
  readonly runtimes: ReadonlyMap<string, Json>;
  /** Rendered ClusterStorageContainers (kserve-resources). */
  readonly storageContainers: readonly Json[];
  readonly config: KserveConfig;
  /** The controller Deployment `kserve-controller-manager` (base resources + deployment patch). */
  readonly controller: Json;
}

export interface KserveInstallOptions {
  /** Root of the kserve Go module (charts/ inside). */
  readonly moduleDir: string;
  /** The `kserve` release's values (chart kserve-resources). */
  readonly resourcesValues: Json;
  /** The `kserve-runtime-configs` release's values. */
  readonly runtimeValues: Json;
}

/** Renders the runtimes, the storage container and the ConfigMap from the module's charts. */
export function kserveInstall(o: KserveInstallOptions): KserveInstall {
  const chart = (name: string) => path.join(o.moduleDir, 'charts', name);
  const read = (...p: string[]) => fs.readFileSync(path.join(...p), 'utf8');
  const valuesOf = (name: string, release: Json) => coalesceValues(parse(read(chart(name), 'values.yaml')), release);

  // kserve-runtime-configs: templates/runtimes/resources.yaml renders the patch with the values,
  // merges each ClusterServingRuntime of the patch into the base of the same name, and emits
  // nothing at all unless kserve.servingruntime.enabled.
  const rv = valuesOf('kserve-runtime-configs', o.runtimeValues);
  const runtimes = new Map<string, Json>();
  if (truthy(rv.kserve?.servingruntime?.enabled)) {
    const byName = (text: string) => new Map(parseAllDocuments(text).map((d) => d.toJS()).filter((x) => x?.metadata?.name).map((x) => [x.metadata.name as string, x]));
    const base = byName(read(chart('kserve-runtime-configs'), 'files', 'runtimes', 'resources.yaml'));
    const patch = byName(renderGoTemplate(read(chart('kserve-runtime-configs'), 'files', 'runtimes', 'clusterservingruntimes-patch.yaml'), { Values: rv }));
    for (const [name, p] of patch) base.set(name, base.has(name) ? chartDeepMerge(base.get(name), p) : p);
    for (const [name, r] of [...base].sort(([a], [b]) => a.localeCompare(b))) runtimes.set(name, r);
  }

  // kserve-resources: the ClusterStorageContainer (templates/common/clusterstoragecontainer.yaml)
  // and the ConfigMap (templates/common/configmap.yaml), each a base file with a rendered patch.
  const kv = valuesOf('kserve-resources', o.resourcesValues);
  const ctx = { Values: kv };
  const common = (f: string) => read(chart('kserve-resources'), 'files', 'common', f);
  const storageContainers: Json[] = [];
  const cscTemplate = read(chart('kserve-resources'), 'templates', 'common', 'clusterstoragecontainer.yaml');
  const cscCondition = /^\{\{-? if ([^}]+?) -?\}\}/.exec(cscTemplate) ?? assertNever('clusterstoragecontainer.yaml: no leading {{ if }}');
  if (truthy(evalPipeline(tokenize(cscCondition[1]), ctx, ctx))) {
    storageContainers.push(chartDeepMerge(parse(common('storagecontainer.yaml')), parse(renderGoTemplate(common('storagecontainer-patch.yaml'), ctx))));
  }
  // The ConfigMap's values are JSON documents templated inside YAML block scalars: parse the
  // patch as YAML first, then render each key the predictor path reads.
  const data = (parse(common('configmap-patch.yaml')) as Json).data as Record<string, string>;
  const key = (k: string): Json => JSON.parse(renderGoTemplate(data[k] ?? assertNever(`configmap-patch.yaml has no data.${k}`), ctx));
  const credentials = key('credentials');
  const config: KserveConfig = {
    credentials: { storageSecretNameAnnotation: credentials.storageSecretNameAnnotation, s3: credentials.s3 },
    defaultDeploymentMode: key('deploy').defaultDeploymentMode,
    serviceClusterIPNone: key('service').serviceClusterIPNone === true,
    storageInitializer: key('storageInitializer'),
    autoMountServiceAccountToken: key('security').autoMountServiceAccountToken !== false,
  };
  // The controller Deployment: templates/kserve/resources.yaml merges files/kserve/*-patch.yaml
  // into files/kserve/resources.yaml by kind/name.
  const controllerBase = parseAllDocuments(read(chart('kserve-resources'), 'files', 'kserve', 'resources.yaml'))
    .map((d) => d.toJS())
    .find((x) => x?.kind === 'Deployment' && x.metadata?.name === 'kserve-controller-manager') ?? assertNever('resources.yaml: no Deployment kserve-controller-manager');
  const controllerPatch = parse(renderGoTemplate(read(chart('kserve-resources'), 'files', 'kserve', 'deployment-patch.yaml'), ctx));
  const controller = chartDeepMerge(controllerBase, controllerPatch);
  return { version: String(kv.kserve.version), runtimes, storageContainers, config, controller };
}

/**
 * KServe as the synthesized output installs it: the values of the HelmReleases `kserve`
 * (kserve-resources) and `kserve-runtime-configs`, rendered with the charts of the module at the
 * releases' chart version.
 */
export function kserveInstallFromOutput(objects: readonly KubeObject[], moduleDir?: string): KserveInstall {
  const release = (chart: string): Json => {
    const hits = objects.filter((o) => o.kind === 'HelmRelease' && (o as Json).spec?.chart?.spec?.chart === chart);
    if (hits.length !== 1) throw new Error(`expected one HelmRelease of chart ${chart}, found ${hits.length}`);
    return hits[0];
  };
  const resources = release('kserve-resources');
  const runtimeConfigs = release('kserve-runtime-configs');
  const source = VERSIONS.crds.kserve;
  for (const r of [resources, runtimeConfigs]) {
    // The module's charts are the release's chart only at the same version.
    if (r.spec.chart.spec.version !== source.version) throw new Error(`HelmRelease ${r.metadata.name} installs chart version ${r.spec.chart.spec.version}, the module is ${source.version}`);
  }
  return kserveInstall({ moduleDir: moduleDir ?? kserveModuleDir(source), resourcesValues: resources.spec.values ?? {}, runtimeValues: runtimeConfigs.spec.values ?? {} });
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch (k8s.io/apimachinery strategicpatch) for the two types KServe merges

/** patchMergeKey of the list fields with patchStrategy "merge", per type (k8s.io/api/core/v1). */
const MERGE_KEYS: Record<string, Record<string, { readonly key: string; readonly item?: string }>> = {
  PodSpec: {
    volumes: { key: 'name' },
    containers: { key: 'name', item: 'Container' },
    initContainers: { key: 'name', item: 'Container' },
    ephemeralContainers: { key: 'name', item: 'Container' },
    imagePullSecrets: { key: 'name' },
    hostAliases: { key: 'ip' },
    topologySpreadConstraints: { key: 'topologyKey' },
    resourceClaims: { key: 'name' },
    schedulingGates: { key: 'name' },
  },
  Container: {
    ports: { key: 'containerPort' },
    env: { key: 'name' },
    volumeMounts: { key: 'mountPath' },
    volumeDevices: { key: 'devicePath' },
  },
};

/**
 * `strategicpatch.StrategicMergePatch(base, patch, <type>)` for a patch without directives:
 * maps merge recursively, `null` deletes, lists with a merge key merge item by item (base order,
 * new items appended), other lists are replaced.
 */
export function strategicMerge(base: Json, patch: Json, type?: 'PodSpec' | 'Container'): Json {
  const out = clone(base) ?? {};
  const keys = type ? MERGE_KEYS[type] : {};
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === null) {
      delete out[k];
      continue;
    }
    const b = out[k];
    const list = keys[k];
    if (list && Array.isArray(v) && Array.isArray(b)) {
      const merged = b.map((x: Json) => clone(x));
      for (const item of v) {
        const i = merged.findIndex((x: Json) => x[list.key] === item[list.key]);
        if (i >= 0) merged[i] = strategicMerge(merged[i], item, list.item as 'Container' | undefined);
        else merged.push(clone(item));
      }
      out[k] = merged;
    } else if (isMap(v) && isMap(b)) out[k] = strategicMerge(b, v);
    else out[k] = clone(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The predictor

/** What the controller and the webhook read from the cluster. */
export interface ClusterView {
  /** A Secret's data keys and annotations (values are never needed), or undefined when absent. */
  readonly secret: (namespace: string, name: string) => { readonly keys: readonly string[]; readonly annotations: Readonly<Record<string, string>> } | undefined;
  /** Whether a ServiceAccount exists (the credential builder reads it first). */
  readonly serviceAccountExists: (namespace: string, name: string) => boolean;
}

export interface RenderedPredictor {
  readonly deployment: Json;
  readonly service: Json;
  /** The runtime the predictor runs (after the model's overrides). */
  readonly runtime: string;
}

/** Keys of a PredictorSpec that are not PodSpec fields (predictor.go, component.go). */
const PREDICTOR_NON_POD = new Set([
  'name', 'sklearn', 'xgboost', 'tensorflow', 'pytorch', 'triton', 'onnx', 'huggingface', 'pmml', 'lightgbm', 'paddle', 'model',
  'storageUris', 'storageContainerName', 'workerSpec',
  'minReplicas', 'maxReplicas', 'scaleTarget', 'scaleMetric', 'scaleMetricType', 'containerConcurrency', 'timeout',
  'canaryTrafficPercent', 'logger', 'batcher', 'labels', 'annotations', 'deploymentStrategy', 'autoScaling',
]);
/** Keys of a ModelSpec that are not Container fields (predictor_model.go, predictor.go). */
const MODEL_NON_CONTAINER = new Set(['modelFormat', 'runtime', 'storageUri', 'runtimeVersion', 'protocolVersion', 'storage', 'confidential']);
/** Runtime pod fields MergePodSpec takes (utils.go). */
const RUNTIME_POD_FIELDS = ['nodeSelector', 'affinity', 'tolerations', 'volumes', 'imagePullSecrets', 'schedulerName'];
/** constants.GetServerTypeFromRuntimeName: the fallback when a runtime has no server-type annotation. */
const SERVER_TYPE_BY_RUNTIME: Record<string, string> = {
  'kserve-mlserver': 'mlserver',
  'kserve-torchserve': 'torchserve',
  'kserve-tritonserver': 'tritonserver',
  'kserve-tensorflow-serving': 'tensorflow-serving',
  'kserve-huggingfaceserver': 'huggingfaceserver',
  'kserve-vllmserver': 'vllmserver',
};
/** SetMlServerDefaults: the model class label per model format. */
const MLSERVER_MODEL_CLASS: Record<string, string> = {
  xgboost: 'mlserver_xgboost.XGBoostModel',
  lightgbm: 'mlserver_lightgbm.LightGBMModel',
  mlflow: 'mlserver_mlflow.MLflowRuntime',
};

const pick = (o: Json, keys: readonly string[]): Json => Object.fromEntries(keys.filter((k) => o?.[k] !== undefined).map((k) => [k, clone(o[k])]));
const omit = (o: Json, keys: ReadonlySet<string>): Json => Object.fromEntries(Object.entries(o ?? {}).filter(([k]) => !keys.has(k)).map(([k, v]) => [k, clone(v)]));

/**
 * The Deployment and Service the v0.20.0 controller creates for `isvc` (as stored by the API
 * server) in Standard mode, with the pod webhook's storage initializer already in the pod
 * template (the webhook adds it to every pod of that template at creation: the pods are the
 * same). `ownerUid`: the InferenceService's UID, for the controller reference.
 */
export function renderPredictor(isvcIn: KubeObject, install: KserveInstall, cluster: ClusterView, ownerUid?: string): RenderedPredictor {
  const isvc: Json = clone(isvcIn);
  const name: string = isvc.metadata.name;
  const ns: string = isvc.metadata.namespace ?? assertNever(`InferenceService ${name} has no namespace`);
  const fail = (why: string): never => {
    throw new Error(`InferenceService ${ns}/${name}: ${why}`);
  };
  isvc.metadata.labels ??= {};
  isvc.metadata.annotations ??= {};
  const predictor: Json = isvc.spec?.predictor ?? fail('no spec.predictor');
  const model: Json = predictor.model ?? fail('only spec.predictor.model is rendered (no framework shorthands)');
  for (const unsupported of ['transformer', 'explainer']) if (isvc.spec[unsupported]) fail(`spec.${unsupported} is not rendered`);
  for (const unsupported of ['workerSpec', 'storageUris', 'logger', 'batcher', 'containers']) if (predictor[unsupported]) fail(`spec.predictor.${unsupported} is not rendered`);

  // Defaulting webhook (inference_service_defaults.go): the deployment mode, and no API token
  // unless the predictor asks for one.
  const mode = isvc.metadata.annotations[ANNOTATIONS.deploymentMode] ?? install.config.defaultDeploymentMode;
  if (mode !== 'Standard' && mode !== 'RawDeployment') fail(`deployment mode ${mode}: only Standard is rendered`);
  isvc.metadata.annotations[ANNOTATIONS.deploymentMode] = 'Standard';
  if (!install.config.autoMountServiceAccountToken) predictor.automountServiceAccountToken ??= false;

  // The runtime (predictor.go reconcileModel): by name, enabled, serving the model's format.
  const runtimeName: string = model.runtime ?? fail('no model.runtime (runtime auto-selection is not rendered)');
  const runtime: Json = install.runtimes.get(runtimeName) ?? fail(`no ClusterServingRuntime ${runtimeName} is installed (runtimes: ${[...install.runtimes.keys()].join(', ') || 'none'})`);
  const sr: Json = runtime.spec;
  if (sr.disabled === true) fail(`specified runtime ${runtimeName} is disabled`);
  if (model.protocolVersion && !(sr.protocolVersions ?? ['v1']).includes(model.protocolVersion)) fail(`runtime ${runtimeName} does not support protocol ${model.protocolVersion}`);
  const formatLabels = new Set((sr.supportedModelFormats ?? []).flatMap((f: Json) => [`mt:${f.name}`, ...(f.version ? [`mt:${f.name}:${f.version}`] : [])]));
  const format = model.modelFormat ?? fail('no model.modelFormat');
  if (!formatLabels.has(format.version ? `mt:${format.name}:${format.version}` : `mt:${format.name}`)) fail(`runtime ${runtimeName} does not support model format ${format.name}${format.version ? ` ${format.version}` : ''}`);

  // SetRuntimeDefaults: per server type, before the container is built.
  const runtimeAnnotations: Record<string, string> = runtime.metadata?.annotations ?? {};
  const serverType = runtimeAnnotations[ANNOTATIONS.serverType] ?? SERVER_TYPE_BY_RUNTIME[runtimeName] ?? '';
  const storageUri: string | undefined = model.storageUri;
  const appendEnv = (env: Json[] = [], ...vars: Json[]) => [...env, ...vars.filter((v) => !env.some((e: Json) => e.name === v.name))];
  if (serverType === 'mlserver') {
    model.env = storageUri || model.storage
      ? appendEnv(model.env, { name: 'MLSERVER_MODEL_NAME', value: name }, { name: 'MLSERVER_MODEL_URI', value: MODEL_DIR })
      : appendEnv(model.env, { name: 'MLSERVER_LOAD_MODELS_AT_STARTUP', value: 'false' });
    isvc.metadata.labels.modelClass = MLSERVER_MODEL_CLASS[format.name] ?? 'mlserver_sklearn.SKLearnModel';
  } else if (serverType === 'tritonserver') {
    if (!storageUri && !model.storage) model.args = [...(model.args ?? []), '--model-control-mode=explicit'];
  } else if (serverType === 'torchserve') fail('TorchServe defaults are not rendered');

  // Annotations of the component (buildPredictorResources): the isvc's minus the disallowed
  // ones, then the storage URI for the pod webhook.
  const annotations: Record<string, string> = Object.fromEntries(Object.entries<string>(isvc.metadata.annotations).filter(([k]) => !DISALLOWED_ANNOTATIONS.includes(k)));
  const storageContainer = storageUri ? storageContainerFor(storageUri, install, predictor.storageContainerName) ?? fail(`StorageURI not supported: no ClusterStorageContainer serves ${storageUri}`) : undefined;
  if (storageUri) annotations[ANNOTATIONS.sourceUri] = storageUri;

  // The container: the runtime's kserve-container, strategic-merged with the model's container
  // fields, args concatenated (MergeRuntimeContainers), placeholders filled, the -gpu tag.
  const runtimeContainer = (sr.containers ?? []).find((c: Json) => c.name === MODEL_CONTAINER) ?? fail(`failed to find ${MODEL_CONTAINER} in ServingRuntime containers`);
  const overlay = omit(model, MODEL_NON_CONTAINER);
  let container: Json = strategicMerge(runtimeContainer, overlay, 'Container');
  container.name ||= runtimeContainer.name;
  const args = [...(runtimeContainer.args ?? []), ...(overlay.args ?? [])];
  if (args.length) container.args = args;
  else delete container.args;
  for (const e of container.env ?? []) {
    // reconcileEnvValueConflicts: the model's entry decides between value and valueFrom.
    const o = (overlay.env ?? []).find((x: Json) => x.name === e.name);
    if (o && e.value && e.valueFrom) {
      if (o.valueFrom) delete e.value;
      else if (o.value) delete e.valueFrom;
    }
  }
  container = replacePlaceholders(container, isvc.metadata, fail);
  if (!model.runtimeVersion) container.image = gpuImage(container.image, container.resources, serverType);
  else container.image = container.image.replace(/(:[\w.\-_]*)?$/, `:${model.runtimeVersion}`);

  // The pod: the runtime's pod fields under the predictor's (MergePodSpec), one container, then
  // the environment and defaults the controller adds.
  const podSpec: Json = strategicMerge(pick(sr, RUNTIME_POD_FIELDS), omit(predictor, PREDICTOR_NON_POD), 'PodSpec');
  podSpec.containers = [container];
  container.env = [...(container.env ?? []).filter((e: Json) => e.name !== 'INFERENCE_SERVICE_NAME'), { name: 'INFERENCE_SERVICE_NAME', value: name }];
  setDefaultPodSpec(podSpec);

  // Object meta (buildObjectMeta): runtime < isvc < predictor, then the controller's own labels.
  const predictorName = `${name}-predictor`;
  const appLabel = `isvc.${predictorName}`;
  const labels: Record<string, string> = {
    ...(sr.labels ?? {}),
    ...isvc.metadata.labels,
    ...(predictor.labels ?? {}),
    [`${API_GROUP}/inferenceservice`]: name,
    component: 'predictor',
    // createRawDefaultDeployment adds it to the shared label map: the Service gets it too.
    app: appLabel,
  };
  const objectAnnotations: Record<string, string> = { ...(sr.annotations ?? {}), ...annotations, ...(predictor.annotations ?? {}) };
  if (Object.values(labels).some((v) => v.length > 63)) fail(`label app=${appLabel} is longer than 63 characters`);

  // Pod webhook (mutator.go → InjectStorageInitializer): for a pod annotated with a storage URI.
  if (storageUri) injectStorageInitializer(podSpec, storageUri, objectAnnotations, ns, install, storageContainer!, cluster, fail);

  const ownerReferences = ownerUid
    ? [{ apiVersion: isvc.apiVersion, kind: 'InferenceService', name, uid: ownerUid, controller: true, blockOwnerDeletion: true }]
    : undefined;
  const meta = { name: predictorName, namespace: ns, labels, annotations: objectAnnotations, ...(ownerReferences ? { ownerReferences } : {}) };

  // Deployment (createRawDefaultDeployment).
  const deploymentSpec: Json = {
    selector: { matchLabels: { app: appLabel } },
    template: { metadata: { labels: { ...labels }, annotations: { ...objectAnnotations } }, spec: podSpec },
  };
  if (predictor.deploymentStrategy) deploymentSpec.strategy = clone(predictor.deploymentStrategy);
  else {
    deploymentSpec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
    deploymentSpec.revisionHistoryLimit = 10;
    deploymentSpec.progressDeadlineSeconds = 600;
  }
  if (predictor.minReplicas !== undefined && objectAnnotations[ANNOTATIONS.autoscalerClass] === 'none') deploymentSpec.replicas = predictor.minReplicas;
  const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: clone(meta), spec: deploymentSpec };

  // Service (createDefaultSvc): port 80 to the first container port, named after it.
  const first = container.ports?.[0];
  const port = first
    ? { name: first.name, port: 80, targetPort: first.containerPort, protocol: first.protocol ?? 'TCP', ...(/grpc|h2c/.test(first.name ?? '') ? { appProtocol: 'kubernetes.io/h2c' } : {}) }
    : { name: predictorName, port: 80, targetPort: 8080, protocol: 'TCP' };
  const extra = (container.ports ?? []).slice(1).map((p: Json) => ({ name: p.name, port: p.containerPort, targetPort: p.containerPort, protocol: p.protocol ?? 'TCP' }));
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: clone(meta),
    spec: { selector: { app: appLabel }, ports: [port, ...extra], ...(install.config.serviceClusterIPNone ? { clusterIP: 'None' } : {}) },
  };
  return { deployment, service, runtime: runtimeName };
}

/** GetStorageContainerSpec: by name, or the first enabled init-container one whose formats match. */
function storageContainerFor(uri: string, install: KserveInstall, byName?: string): Json | undefined {
  const supports = (sc: Json) => (sc.spec.supportedUriFormats ?? []).some((f: Json) => (f.prefix ? uri.startsWith(f.prefix) : f.regex ? new RegExp(f.regex).test(uri) : false));
  const eligible = (sc: Json) => sc.disabled !== true && sc.spec.workloadType === 'initContainer' && supports(sc);
  if (byName) {
    const sc = install.storageContainers.find((x) => x.metadata.name === byName);
    return sc && eligible(sc) ? sc.spec : undefined;
  }
  return install.storageContainers.find(eligible)?.spec;
}

/** ReplacePlaceholders: Go's text/template over the container with the isvc's ObjectMeta. */
function replacePlaceholders(container: Json, meta: Json, fail: (why: string) => never): Json {
  const text = JSON.stringify(container).replace(/\{\{\s*\.(Name|Namespace|Labels\.[A-Za-z0-9_]+|Annotations\.[A-Za-z0-9_]+)\s*\}\}/g, (_m, ref: string) => {
    const [field, key] = ref.split('.');
    const v = key === undefined ? meta[field.toLowerCase()] : meta[field.toLowerCase()]?.[key];
    // A missing map key prints "<no value>" in Go templates.
    return JSON.stringify(v ?? '<no value>').slice(1, -1);
  });
  if (text.includes('{{')) fail(`placeholders other than .Name, .Namespace, .Labels.x and .Annotations.x are not rendered: ${/\{\{[^}]*\}\}/.exec(text)![0]}`);
  return JSON.parse(text);
}

/** UpdateImageTag: the `-gpu` tag of the TF, TorchServe and Hugging Face images when GPUs are limited. */
function gpuImage(image: string, resources: Json, serverType: string): string {
  if (image.includes('@sha256:')) return image;
  const tag = /(:([\w.\-_]*))$/.exec(image)?.[0];
  if (!tag) return image;
  const limits = Object.keys(resources?.limits ?? {});
  const gpu = limits.includes('nvidia.com/gpu') || limits.some((r) => r.startsWith('nvidia.com/mig'));
  if (gpu && ['tensorflow-serving', 'torchserve', 'huggingfaceserver'].includes(serverType)) return image.endsWith('-gpu') ? image : `${image}-gpu`;
  if (!gpu && serverType === 'vllmserver' && !image.slice(0, -tag.length).endsWith('-cpu')) return `${image.slice(0, -tag.length)}-cpu${tag}`;
  return image;
}

/** setDefaultPodSpec (deployment_reconciler.go). */
function setDefaultPodSpec(spec: Json): void {
  spec.dnsPolicy ||= 'ClusterFirst';
  spec.restartPolicy ||= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  spec.schedulerName ||= 'default-scheduler';
  for (const c of spec.containers) {
    c.terminationMessagePath ||= '/dev/termination-log';
    c.terminationMessagePolicy ||= 'File';
    c.imagePullPolicy ||= 'IfNotPresent';
    if (c.name === MODEL_CONTAINER && !c.readinessProbe) {
      c.readinessProbe = { tcpSocket: { port: c.ports?.[0]?.containerPort ?? 8080 }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 };
    }
  }
}

/**
 * CommonStorageInitialization for one legacy storage URI (not pvc://, not oci://): the init
 * container from the `storageInitializer` config with args [uri, /mnt/models], the credentials
 * of the Secret the `serving.kserve.io/secretName` annotation names (else the ServiceAccount's
 * secrets), the ClusterStorageContainer's container merged over it, the Hugging Face defaults;
 * the emptyDir `kserve-provision-location`, writable in the init container and read-only in the
 * model container.
 */
function injectStorageInitializer(podSpec: Json, uri: string, annotations: Record<string, string>, ns: string, install: KserveInstall, csc: Json, cluster: ClusterView, fail: (why: string) => never): void {
  if (/^(pvc|oci(\+\w+)?):\/\//.test(uri)) fail(`storage URI ${uri}: pvc:// and oci:// are not rendered`);
  if ((podSpec.initContainers ?? []).some((c: Json) => c.name === STORAGE_INITIALIZER)) return;
  const cfg = install.config.storageInitializer;
  let init: Json = {
    name: STORAGE_INITIALIZER,
    image: cfg.image || 'kserve/storage-initializer:latest',
    args: [uri, MODEL_DIR],
    terminationMessagePolicy: 'FallbackToLogsOnError',
    resources: { limits: { cpu: cfg.cpuLimit, memory: cfg.memoryLimit }, requests: { cpu: cfg.cpuRequest, memory: cfg.memoryRequest } },
  };
  const readOnly = annotations[ANNOTATIONS.storageReadonly] !== 'false';
  const model = podSpec.containers.find((c: Json) => c.name === MODEL_CONTAINER);
  const mount = (c: Json, ro: boolean) => {
    c.volumeMounts ??= [];
    if (!c.volumeMounts.some((m: Json) => m.name === PROVISION_VOLUME)) c.volumeMounts.push({ name: PROVISION_VOLUME, mountPath: MODEL_DIR, ...(ro ? { readOnly: true } : {}) });
  };
  mount(model, readOnly);
  // Init containers write the model (AddModelMount clears readOnly for them).
  mount(init, false);
  podSpec.volumes ??= [];
  if (!podSpec.volumes.some((v: Json) => v.name === PROVISION_VOLUME)) podSpec.volumes.push({ name: PROVISION_VOLUME, emptyDir: {} });
  for (const e of model.env ?? []) if (e.name === 'STORAGE_URI' && e.value) e.value = MODEL_DIR;

  // CreateSecretVolumeAndEnv: nothing without the ServiceAccount; the annotated Secret wins.
  const sa = podSpec.serviceAccountName || 'default';
  if (cluster.serviceAccountExists(ns, sa)) {
    const secretName = install.config.credentials.storageSecretNameAnnotation ? annotations[install.config.credentials.storageSecretNameAnnotation] : undefined;
    if (secretName === undefined) fail(`no ${install.config.credentials.storageSecretNameAnnotation} annotation: ServiceAccount secrets are not rendered`);
    const secret = cluster.secret(ns, secretName) ?? fail(`the storage Secret ${ns}/${secretName} does not exist (the pod webhook refuses the pod)`);
    const s3 = install.config.credentials.s3;
    const secretKeyName = s3.s3SecretAccessKeyName || 'awsSecretAccessKey';
    if (!secret.keys.includes(secretKeyName)) fail(`Secret ${secretName} has no ${secretKeyName}: only S3 credentials are rendered`);
    init.env = mergeEnvs(init.env ?? [], s3SecretEnvs(secretName, secret, s3));
  }
  init = strategicMerge(init, csc.container, 'Container');
  if ((init.env ?? []).some((e: Json) => e.name === 'AWS_CA_BUNDLE_CONFIGMAP') || cfg.caBundleConfigMapName) fail('CA bundles are not rendered');
  // AddDefaultHuggingFaceEnvVars: only names not set yet.
  for (const [k, v] of [['HF_HUB_ENABLE_HF_TRANSFER', '1'], ['HF_XET_HIGH_PERFORMANCE', '1'], ['HF_XET_NUM_CONCURRENT_RANGE_GETS', '8']]) {
    init.env ??= [];
    if (!init.env.some((e: Json) => e.name === k)) init.env.push({ name: k, value: v });
  }
  podSpec.initContainers = [...(podSpec.initContainers ?? []), init];
}

/** utils.MergeEnvs: later values replace earlier ones of the same name, new names are appended. */
function mergeEnvs(base: Json[], override: Json[]): Json[] {
  const out = base.map((e) => clone(e));
  for (const o of override) {
    const i = out.findIndex((e) => e.name === o.name);
    if (i >= 0) out[i].value = o.value;
    else out.push(clone(o));
  }
  return out;
}

/** s3.BuildSecretEnvs + BuildS3EnvVars: keys by reference; settings from the Secret's annotations, its data, or the global config. */
function s3SecretEnvs(secretName: string, secret: { readonly keys: readonly string[]; readonly annotations: Readonly<Record<string, string>> }, s3: Readonly<Record<string, string>>): Json[] {
  const ref = (key: string) => ({ secretKeyRef: { name: secretName, key } });
  const envs: Json[] = [
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: ref(s3.s3AccessKeyIDName || 'awsAccessKeyID') },
    { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: ref(s3.s3SecretAccessKeyName || 'awsSecretAccessKey') },
  ];
  // Values in the Secret's data are not read here: mlplat's Secrets hold only the two keys, and
  // the renderer never sees Secret values. A data key would win over the global setting.
  const setting = (annotation: string, dataKey: string, global: string | undefined): string => {
    const a = secret.annotations[`${API_GROUP}/${annotation}`];
    if (a !== undefined) return a;
    if (secret.keys.includes(dataKey)) throw new Error(`Secret ${secretName} sets ${dataKey} in its data: not rendered`);
    return global ?? '';
  };
  const endpoint = setting('s3-endpoint', 'S3_ENDPOINT', s3.s3Endpoint).trim();
  if (endpoint) {
    let https: string;
    let host: string;
    let url: string;
    if (/^https:\/\//i.test(endpoint)) [https, host, url] = ['1', endpoint.slice(8), endpoint];
    else if (/^http:\/\//i.test(endpoint)) [https, host, url] = ['0', endpoint.slice(7), endpoint];
    else {
      https = setting('s3-usehttps', 'S3_USE_HTTPS', s3.s3UseHttps);
      host = endpoint;
      url = `${https === '0' ? 'http' : 'https'}://${endpoint}`;
    }
    if (https) envs.push({ name: 'S3_USE_HTTPS', value: https });
    envs.push({ name: 'S3_ENDPOINT', value: host }, { name: 'AWS_ENDPOINT_URL', value: url });
  }
  const optional: Array<[string, string, string, string | undefined]> = [
    ['S3_VERIFY_SSL', 's3-verifyssl', 'S3_VERIFY_SSL', s3.s3VerifySSL],
    ['awsAnonymousCredential', 's3-useanoncredential', 'awsAnonymousCredential', s3.s3UseAnonymousCredential],
    ['AWS_DEFAULT_REGION', 's3-region', 'AWS_DEFAULT_REGION', s3.s3Region],
    ['S3_USER_VIRTUAL_BUCKET', 's3-usevirtualbucket', 'S3_USER_VIRTUAL_BUCKET', s3.s3UseVirtualBucket],
    ['S3_USE_ACCELERATE', 's3-useaccelerate', 'S3_USE_ACCELERATE', s3.s3UseAccelerate],
    ['AWS_CA_BUNDLE', 's3-cabundle', 'AWS_CA_BUNDLE', s3.s3CABundle],
    ['AWS_CA_BUNDLE_CONFIGMAP', 's3-cabundle-configmap', 'AWS_CA_BUNDLE_CONFIGMAP', s3.s3CABundleConfigMap],
  ];
  for (const [env, annotation, dataKey, global] of optional) {
    const v = setting(annotation, dataKey, global);
    if (v) envs.push({ name: env, value: v });
  }
  return envs;
}
