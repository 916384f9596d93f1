/**
 * The platform's PromQL checked by the real promtool (the version of the Prometheus that runs it,
 * built by tools/build.sh): every synthesized PrometheusRule passes `promtool check rules`, the
 * rules' unit tests (constructs/observability/rule-tests.ts) pass `promtool test rules`, and every
 * expression of the output (rules and Grafana dashboards, template variables substituted) parses.
 * The API server does not do this: the PrometheusRule CRD accepts any string as `expr`; only the
 * operator's webhook parses it. Registered into each example's suite by e2e.test.ts; each test
 * skips itself when the example has nothing to check. The helpers are used by the unit tests too.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { it } from 'node:test';
import { stringify } from 'yaml';
import { promtoolTestFile } from '../../constructs/observability/rule-tests';
import { PlatformRules } from '../../constructs/observability/rules';
import { KubeObject } from '../../lib/synth';
import { SuiteState } from './data-plane';
import { loadTools } from './lib/tools';

/** Environment variable naming promtool (its directory, as env.sh exports it, or the binary). */
export const PROMTOOL_ENV = 'MLPLAT_PROMTOOL_BIN';
/** Label of the ConfigMaps Grafana's dashboard sidecar loads. */
export const DASHBOARD_LABEL = 'grafana_dashboard';

/** The promtool binary `value` names (a directory holding `promtool`, or the binary), if it exists. */
export function promtoolFrom(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const bin = fs.existsSync(value) && fs.statSync(value).isDirectory() ? path.join(value, 'promtool') : value;
  return fs.existsSync(bin) ? bin : undefined;
}

export interface PromtoolResult {
  readonly code: number;
  /** stdout and stderr together (promtool splits its report between them). */
  readonly output: string;
}

export function runPromtool(bin: string, args: readonly string[], cwd: string): PromtoolResult {
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** A PrometheusRule's file name in a rules directory: `<namespace>-<name>.yaml`. */
export const ruleFileName = (o: KubeObject): string => `${o.metadata.namespace ?? 'cluster'}-${o.metadata.name}.yaml`;

/** Writes each PrometheusRule's spec (a Prometheus rule file) into `dir`; returns the file names. */
export function writeRuleFiles(dir: string, objects: readonly KubeObject[]): string[] {
  return objects
    .filter((o) => o.kind === 'PrometheusRule')
    .map((o) => {
      const name = ruleFileName(o);
      fs.writeFileSync(path.join(dir, name), stringify(o.spec, { lineWidth: 0 }));
      return name;
    });
}

/** One PromQL expression of the output and where it comes from. */
export interface FoundExpression {
  readonly source: string;
  readonly expr: string;
}

/** Every PromQL expression of the PrometheusRules and the Grafana dashboards in `objects`. */
export function collectExpressions(objects: readonly KubeObject[]): FoundExpression[] {
  const found: FoundExpression[] = [];
  for (const o of objects) {
    if (o.kind === 'PrometheusRule') {
      const groups = ((o.spec as any)?.groups ?? []) as any[];
      for (const g of groups) {
        for (const r of g.rules ?? []) {
          found.push({ source: `PrometheusRule ${o.metadata.namespace}/${o.metadata.name} group ${g.name} ${r.alert ?? r.record}`, expr: String(r.expr) });
        }
      }
    }
    const labels = (o.metadata.labels ?? {}) as Record<string, string>;
    if (o.kind === 'ConfigMap' && labels[DASHBOARD_LABEL] !== undefined) {
      for (const [key, text] of Object.entries(((o as any).data ?? {}) as Record<string, string>)) {
        const where = `ConfigMap ${o.metadata.namespace}/${o.metadata.name} ${key}`;
        let dashboard: any;
        try {
          dashboard = JSON.parse(text);
        } catch (e) {
          throw new Error(`${where} is labelled ${DASHBOARD_LABEL} but is not JSON: ${(e as Error).message}`);
        }
        for (const x of dashboardExpressions(dashboard)) found.push({ source: `${where}: ${x.source}`, expr: x.expr });
      }
    }
  }
  return found;
}

/**
 * The PromQL of a Grafana dashboard: targets of Prometheus panels (rows' nested panels too),
 * Prometheus query variables (`label_values(<selector>, label)`, `query_result(<expr>)`) and
 * annotations, each with the dashboard's variables substituted (see `substituteVariables`).
 */
export function dashboardExpressions(dashboard: any): FoundExpression[] {
  const vars: any[] = dashboard?.templating?.list ?? [];
  const found: FoundExpression[] = [];
  const add = (source: string, expr: unknown) => {
    if (typeof expr === 'string' && expr.trim() !== '') found.push({ source, expr: substituteVariables(expr, dashboard) });
  };
  const walk = (panels: any[]) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (isPrometheus(t.datasource ?? p.datasource, vars)) add(`panel "${p.title ?? p.id ?? '?'}" target ${t.refId ?? '?'}`, t.expr);
      }
      walk(p.panels);
    }
  };
  walk(dashboard?.panels);
  for (const row of dashboard?.rows ?? []) walk(row.panels);
  for (const v of vars) {
    if (v.type !== 'query' || !isPrometheus(v.datasource, vars)) continue;
    const query = typeof v.query === 'string' ? v.query : v.query?.query;
    if (typeof query !== 'string') continue;
    const fn = /^\s*(label_values|query_result)\s*\(([\s\S]*)\)\s*$/.exec(query);
    if (fn?.[1] === 'query_result') add(`variable ${v.name}`, fn[2]);
    // label_values(<series selector>, <label>): the selector is PromQL; label_values(<label>) has none.
    else if (fn?.[1] === 'label_values' && fn[2].includes(',')) add(`variable ${v.name}`, fn[2].slice(0, fn[2].lastIndexOf(',')));
  }
  for (const a of dashboard?.annotations?.list ?? []) {
    if (isPrometheus(a.datasource, vars)) add(`annotation "${a.name ?? '?'}"`, a.expr ?? a.target?.expr);
  }
  return found;
}

/**
 * Whether a Grafana datasource reference means Prometheus: none (the dashboard default, which
 * is Prometheus in mlplat's Grafana), `{type: 'prometheus'}`, a uid or name naming Prometheus,
 * or a datasource variable whose query is `prometheus`.
 */
function isPrometheus(ds: unknown, vars: readonly any[]): boolean {
  if (ds === undefined || ds === null) return true;
  if (typeof ds === 'object') {
    const { type, uid } = ds as { type?: string; uid?: string };
    if (type) return type === 'prometheus';
    return isPrometheus(uid, vars);
  }
  const s = String(ds);
  const variable = /^\$\{?(\w+)\}?$/.exec(s);
  if (variable) return vars.some((v) => v.name === variable[1] && v.type === 'datasource' && v.query === 'prometheus');
  return /prometheus/i.test(s);
}

/** Values for Grafana's built-in variables that keep the expression valid PromQL. */
const BUILTINS: Readonly<Record<string, string>> = {
  __rate_interval: '5m',
  __interval: '5m',
  __range: '5m',
  __range_s: '300',
  __range_ms: '300000',
  __interval_ms: '300000',
  __from: '1700000000000',
  __to: '1700000300000',
};

/**
 * `expr` as Grafana would send it: built-in variables (`$__rate_interval`, `$__range`, …) and the
 * dashboard's own variables (`$pool`, `${tenant}`, `${pool:regex}`, `[[pool]]`) replaced by a valid
 * value (an interval variable's first option, a custom variable's first value, a constant's
 * value, `mlplat` for query variables). A variable the dashboard does not define is left as it is,
 * as Grafana leaves it, so promtool reports it.
 */
export function substituteVariables(expr: string, dashboard: any): string {
  const values = new Map<string, string>(Object.entries(BUILTINS));
  for (const v of dashboard?.templating?.list ?? []) {
    if (typeof v?.name !== 'string') continue;
    values.set(v.name, variableValue(v));
  }
  return expr.replace(/\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)/g, (m, a?: string, b?: string, c?: string) => values.get((a ?? b ?? c)!) ?? m);
}

function variableValue(v: any): string {
  const first = (x: unknown): string | undefined => {
    const s = Array.isArray(x) ? x[0] : x;
    return typeof s === 'string' && s !== '' && s !== '$__all' && !s.startsWith('$__auto') && s !== 'auto' ? s : undefined;
  };
  const fromOptions = () => (v.options ?? []).map((o: any) => first(o?.value)).find((x: string | undefined) => x !== undefined);
  const fromQuery = () => (typeof v.query === 'string' ? first(v.query.split(',').map((s: string) => s.trim())) : undefined);
  switch (v.type) {
    case 'interval':
      return first(v.current?.value) ?? fromOptions() ?? fromQuery() ?? '5m';
    case 'custom':
      return first(v.current?.value) ?? fromOptions() ?? fromQuery() ?? 'mlplat';
    case 'constant':
    case 'textbox':
      return (typeof v.query === 'string' && v.query !== '' ? v.query : first(v.current?.value)) ?? 'mlplat';
    default:
      return 'mlplat';
  }
}

/** A rule file with one `record: expr_NNNN` rule per expression, for `promtool check rules`. */
export function expressionsRuleFile(exprs: readonly FoundExpression[]): { groups: Array<{ name: string; rules: Array<{ record: string; expr: string }> }> } {
  return { groups: [{ name: 'mlplat-expressions', rules: exprs.map((x, i) => ({ record: expressionRecord(i), expr: x.expr })) }] };
}

export const expressionRecord = (i: number): string => `expr_${String(i + 1).padStart(4, '0')}`;

/** promtool's errors for the expressions file, each with the expression's source. */
export function explainExpressionErrors(output: string, exprs: readonly FoundExpression[]): string {
  const lines = [output.trim()];
  for (const m of new Set(output.match(/expr_\d{4}/g) ?? [])) {
    const x = exprs[Number(m.slice(5)) - 1];
    if (x) lines.push(`${m} = ${x.source}:\n    ${x.expr.replace(/\n/g, '\n    ')}`);
  }
  return lines.join('\n');
}

export function promtoolTests(state: () => SuiteState): void {
  const promtool = (): string => {
    const bin = promtoolFrom(loadTools().env[PROMTOOL_ENV]);
    assert.ok(bin, `${PROMTOOL_ENV} does not name promtool: run bash test/e2e/tools/build.sh`);
    return bin;
  };
  const objectsOf = (): KubeObject[] => state().files.flatMap((f) => f.objects);
  const workDir = (what: string) => fs.mkdtempSync(path.join(os.tmpdir(), `mlplat-promtool-${what}-`));

  it('passes promtool check rules for every synthesized PrometheusRule', (t) => {
    const objects = objectsOf();
    if (!objects.some((o) => o.kind === 'PrometheusRule')) return t.skip('no PrometheusRule in this example (observability is not enabled)');
    const dir = workDir('check');
    try {
      const files = writeRuleFiles(dir, objects);
      const r = runPromtool(promtool(), ['check', 'rules', '--lint-fatal', ...files], dir);
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /SUCCESS: \d+ rules found/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes promtool test rules: every alert fires in its firing case and stays silent in its silent case', (t) => {
    const objects = objectsOf();
    if (!objects.some((o) => o.kind === 'PrometheusRule')) return t.skip('no PrometheusRule in this example (observability is not enabled)');
    const sets = state().platform.node.root.node.findAll().filter((c): c is PlatformRules => c instanceof PlatformRules);
    if (sets.length === 0) return t.skip('the PrometheusRules of this example are not written by PlatformRules (no rule tests to run)');
    const dir = workDir('test');
    try {
      for (const rules of sets) {
        // The synthesized object, not the construct's view of it: what reaches the cluster is tested.
        const synthesized = objects.find((o) => o.kind === 'PrometheusRule' && o.metadata.name === rules.name && o.metadata.namespace === rules.namespace);
        assert.ok(synthesized, `PrometheusRule ${rules.namespace}/${rules.name} is not in the output`);
        const [ruleFile] = writeRuleFiles(dir, [synthesized]);
        const testFile = `${ruleFile.replace(/\.yaml$/, '')}.test.yaml`;
        fs.writeFileSync(path.join(dir, testFile), stringify(promtoolTestFile(rules, [ruleFile]), { lineWidth: 0 }));
        const r = runPromtool(promtool(), ['test', 'rules', testFile], dir);
        assert.equal(r.code, 0, `${testFile}:\n${r.output}`);
        assert.match(r.output, /SUCCESS/);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses every PromQL expression of the rules and the Grafana dashboards (promtool check rules, 0 errors)', (t) => {
    const exprs = collectExpressions(objectsOf());
    if (exprs.length === 0) return t.skip('no PrometheusRule and no Grafana dashboard in this example');
    const dir = workDir('exprs');
    try {
      fs.writeFileSync(path.join(dir, 'expressions.yaml'), stringify(expressionsRuleFile(exprs), { lineWidth: 0 }));
      const r = runPromtool(promtool(), ['check', 'rules', 'expressions.yaml'], dir);
      assert.equal(r.code, 0, explainExpressionErrors(r.output, exprs));
      assert.match(r.output, new RegExp(`SUCCESS: ${exprs.length} rules found`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
