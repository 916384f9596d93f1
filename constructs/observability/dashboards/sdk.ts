/**
 * The Grafana foundation SDK (`@grafana/grafana-foundation-sdk`, pinned 0.0.21), loaded on first
 * use. Requiring the modules a dashboard needs costs 100–250 ms (docs/design/observability.md §7),
 * and every `mlplat synth` imports this folder, so platforms that build no dashboard never load it.
 *
 * Types come from the package's `dist/` paths (the project resolves modules the Node 10 way, which
 * ignores the package's `exports` map); values come from the exported subpaths, the only ones Node
 * lets a CommonJS `require` reach. Both name the same files.
 */
type DashboardModule = typeof import('@grafana/grafana-foundation-sdk/dist/dashboard');
type PrometheusModule = typeof import('@grafana/grafana-foundation-sdk/dist/prometheus');
type LokiModule = typeof import('@grafana/grafana-foundation-sdk/dist/loki');
type CommonModule = typeof import('@grafana/grafana-foundation-sdk/dist/common');
type TimeseriesModule = typeof import('@grafana/grafana-foundation-sdk/dist/timeseries');
type StatModule = typeof import('@grafana/grafana-foundation-sdk/dist/stat');
type TableModule = typeof import('@grafana/grafana-foundation-sdk/dist/table');
type LogsModule = typeof import('@grafana/grafana-foundation-sdk/dist/logs');

/** The SDK modules mlplat's dashboards use. */
export interface FoundationSdk {
  readonly dashboard: DashboardModule;
  readonly prometheus: PrometheusModule;
  readonly loki: LokiModule;
  readonly common: CommonModule;
  readonly timeseries: TimeseriesModule;
  readonly stat: StatModule;
  readonly table: TableModule;
  readonly logs: LogsModule;
}

let loaded: FoundationSdk | undefined;

/** The SDK, required on the first call only. */
export function foundationSdk(): FoundationSdk {
  if (!loaded) {
    /* eslint-disable @typescript-eslint/no-require-imports */
    loaded = {
      dashboard: require('@grafana/grafana-foundation-sdk/dashboard') as DashboardModule,
      prometheus: require('@grafana/grafana-foundation-sdk/prometheus') as PrometheusModule,
      loki: require('@grafana/grafana-foundation-sdk/loki') as LokiModule,
      common: require('@grafana/grafana-foundation-sdk/common') as CommonModule,
      timeseries: require('@grafana/grafana-foundation-sdk/timeseries') as TimeseriesModule,
      stat: require('@grafana/grafana-foundation-sdk/stat') as StatModule,
      table: require('@grafana/grafana-foundation-sdk/table') as TableModule,
      logs: require('@grafana/grafana-foundation-sdk/logs') as LogsModule,
    };
    /* eslint-enable @typescript-eslint/no-require-imports */
  }
  return loaded;
}

/** Whether this process has loaded the SDK (the synth path must not, unless it builds dashboards). */
export function foundationSdkLoaded(): boolean {
  return loaded !== undefined;
}
