import type * as dashboardTypes from '@grafana/grafana-foundation-sdk/dist/dashboard';
import type * as cogTypes from '@grafana/grafana-foundation-sdk/dist/cog';
import { FoundationSdk } from './sdk';

/**
 * Datasource uids Grafana provisions and every dashboard panel names: fixed, so dashboards never
 * depend on which datasource happens to be the default.
 */
export const DATASOURCE_UIDS = { prometheus: 'prometheus', loki: 'loki', alertmanager: 'alertmanager' } as const;

export const PROMETHEUS = { type: 'prometheus', uid: DATASOURCE_UIDS.prometheus } as const;
export const LOKI = { type: 'loki', uid: DATASOURCE_UIDS.loki } as const;

/** One PromQL query of a panel. */
export interface PromTarget {
  readonly expr: string;
  /** Legend template, e.g. `{{namespace}}`. */
  readonly legend?: string;
}

interface PanelBase {
  readonly title: string;
  readonly description?: string;
  /** Grafana unit id, e.g. `percent`, `bytes`, `s`. */
  readonly unit?: string;
  /**
   * Width in grid columns (24 per row).
   * @default 12
   */
  readonly width?: number;
  /**
   * Height in grid rows.
   * @default 8
   */
  readonly height?: number;
}

export interface TimeseriesSpec extends PanelBase {
  readonly targets: readonly PromTarget[];
  readonly min?: number;
  readonly max?: number;
  /** Stack the series (parts of a whole). */
  readonly stacked?: boolean;
}

/** A threshold step: from `value` (null: from minus infinity) on, the colour. */
export type Step = readonly [number | null, string];

export interface StatSpec extends PanelBase {
  readonly targets: readonly PromTarget[];
  readonly steps?: readonly Step[];
  /** Text (and colour) shown instead of a value, e.g. health codes. */
  readonly valueText?: Readonly<Record<string, { readonly text: string; readonly color: string }>>;
}

export interface TableSpec extends PanelBase {
  /** Instant queries; more than one are merged into one table (columns renamed by `columns`). */
  readonly targets: readonly PromTarget[];
  /** Names of the value columns, one per target. */
  readonly columns?: readonly string[];
  readonly steps?: readonly Step[];
  readonly valueText?: StatSpec['valueText'];
}

export interface LogsSpec extends PanelBase {
  /** LogQL stream selector (and pipeline). */
  readonly expr: string;
}

/** A built dashboard: Grafana's JSON model. */
export type DashboardJson = dashboardTypes.Dashboard;

/**
 * A dashboard under construction: thin, typed wrappers over the foundation SDK's builders that fix
 * mlplat's conventions once (explicit panel ids in order, the provisioned datasource on every
 * panel and query, legends as tables, instant queries for stats and tables).
 */
export class Board {
  private readonly builder: dashboardTypes.DashboardBuilder;
  private lastId = 0;

  constructor(
    private readonly sdk: FoundationSdk,
    meta: { readonly uid: string; readonly title: string; readonly description: string; readonly tags: readonly string[] },
  ) {
    const d = sdk.dashboard;
    this.builder = new d.DashboardBuilder(meta.title)
      .uid(meta.uid)
      .description(meta.description)
      .tags(['mlplat', ...meta.tags])
      // Provisioned from code: changes in the UI would be lost at the next sync.
      .readonly()
      .timezone('browser')
      .refresh('1m')
      .time({ from: 'now-6h', to: 'now' })
      .tooltip(d.DashboardCursorSync.Crosshair)
      .annotations([]);
  }

  /** A multi-value variable over the values of a label (`label_values(selector, label)`). */
  variable(name: string, label: string, selector: string, labelName: string): this {
    const d = this.sdk.dashboard;
    const query = `label_values(${selector}, ${labelName})`;
    this.builder.withVariable(
      new d.QueryVariableBuilder(name)
        .label(label)
        .datasource(PROMETHEUS)
        .query(query)
        .definition(query)
        .multi(true)
        .includeAll(true)
        .current({ text: 'All', value: '$__all' })
        .refresh(d.VariableRefresh.OnTimeRangeChanged)
        .sort(d.VariableSort.AlphabeticalAsc),
    );
    return this;
  }

  row(title: string): this {
    this.builder.withRow(new this.sdk.dashboard.RowBuilder(title).id(this.nextId()));
    return this;
  }

  timeseries(spec: TimeseriesSpec): this {
    const { timeseries, common } = this.sdk;
    const p = new timeseries.PanelBuilder()
      .id(this.nextId())
      .title(spec.title)
      .datasource(PROMETHEUS)
      .span(spec.width ?? 12)
      .height(spec.height ?? 8)
      .fillOpacity(10)
      .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Bottom).calcs(['lastNotNull', 'max']))
      .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
    this.describe(p, spec);
    if (spec.min !== undefined) p.min(spec.min);
    if (spec.max !== undefined) p.max(spec.max);
    if (spec.stacked) p.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
    spec.targets.forEach((t, i) => p.withTarget(this.promQuery(t, i, 'range')));
    this.builder.withPanel(p);
    return this;
  }

  stat(spec: StatSpec): this {
    const { stat, common } = this.sdk;
    const p = new stat.PanelBuilder()
      .id(this.nextId())
      .title(spec.title)
      .datasource(PROMETHEUS)
      .span(spec.width ?? 6)
      .height(spec.height ?? 4)
      .graphMode(common.BigValueGraphMode.None)
      .colorMode(common.BigValueColorMode.Value)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
    this.describe(p, spec);
    this.style(p, spec.steps, spec.valueText);
    spec.targets.forEach((t, i) => p.withTarget(this.promQuery(t, i, 'instant')));
    this.builder.withPanel(p);
    return this;
  }

  table(spec: TableSpec): this {
    const { table } = this.sdk;
    const p = new table.PanelBuilder()
      .id(this.nextId())
      .title(spec.title)
      .datasource(PROMETHEUS)
      .span(spec.width ?? 12)
      .height(spec.height ?? 8);
    this.describe(p, spec);
    this.style(p, spec.steps, spec.valueText);
    spec.targets.forEach((t, i) => p.withTarget(this.promQuery(t, i, 'table')));
    // One table from several queries, joined on their labels; the time column says nothing here.
    if (spec.targets.length > 1) p.withTransformation({ id: 'merge', options: {} });
    const renameByName = Object.fromEntries(
      (spec.columns ?? []).map((name, i) => [spec.targets.length > 1 ? `Value #${refId(i)}` : 'Value', name]),
    );
    p.withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName } });
    this.builder.withPanel(p);
    return this;
  }

  logs(spec: LogsSpec): this {
    const { logs, loki, common } = this.sdk;
    const p = new logs.PanelBuilder()
      .id(this.nextId())
      .title(spec.title)
      .datasource(LOKI)
      .span(spec.width ?? 24)
      .height(spec.height ?? 12)
      .showTime(true)
      .wrapLogMessage(true)
      .enableLogDetails(true)
      .sortOrder(common.LogsSortOrder.Descending)
      .withTarget(new loki.DataqueryBuilder().datasource(LOKI).expr(spec.expr).refId('A'));
    if (spec.description) p.description(spec.description);
    this.builder.withPanel(p);
    return this;
  }

  build(): DashboardJson {
    return this.builder.build();
  }

  private nextId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  private describe(p: { description(d: string): unknown; unit(u: string): unknown }, spec: PanelBase): void {
    if (spec.description) p.description(spec.description);
    if (spec.unit) p.unit(spec.unit);
  }

  private style(
    p: { thresholds(t: cogTypes.Builder<dashboardTypes.ThresholdsConfig>): unknown; mappings(m: dashboardTypes.ValueMapping[]): unknown },
    steps: readonly Step[] | undefined,
    valueText: StatSpec['valueText'],
  ): void {
    const d = this.sdk.dashboard;
    if (steps) {
      p.thresholds(new d.ThresholdsConfigBuilder().mode(d.ThresholdsMode.Absolute).steps(steps.map(([value, color]) => ({ value, color }))));
    }
    if (valueText) {
      const options = Object.fromEntries(Object.entries(valueText).map(([value, r], index) => [value, { text: r.text, color: r.color, index }]));
      p.mappings([{ type: d.MappingType.ValueToText, options }]);
    }
  }

  private promQuery(t: PromTarget, index: number, kind: 'range' | 'instant' | 'table'): cogTypes.Builder<cogTypes.Dataquery> {
    const q = new this.sdk.prometheus.DataqueryBuilder().datasource(PROMETHEUS).expr(t.expr).refId(refId(index));
    if (t.legend) q.legendFormat(t.legend);
    if (kind === 'range') q.range();
    else q.instant();
    if (kind === 'table') q.format(this.sdk.prometheus.PromQueryFormat.Table);
    return q;
  }
}

/** Query ref ids A, B, … */
function refId(index: number): string {
  return String.fromCharCode(65 + index);
}
