import { ROOK_CEPH_NAMESPACE } from '../../storage/ceph';
import { MINIO_NAMESPACE } from '../../storage/minio';
import { CLEARML_NAMESPACE } from '../../tracking/clearml';
import { MLFLOW_NAMESPACE } from '../../tracking/mlflow';
import { DashboardJson, DATASOURCE_UIDS } from './board';
import { GPU_DASHBOARD_UID, gpuDashboard } from './gpu';
import { PLATFORM_DASHBOARD_UID, platformDashboard } from './platform';
import { foundationSdk } from './sdk';
import { TENANTS_DASHBOARD_UID, tenantsDashboard } from './tenants';
import { TRACKING_STORAGE_DASHBOARD_UID, trackingStorageDashboard, TrackingStorageOptions } from './tracking-storage';

export { DATASOURCE_UIDS, LOKI, PROMETHEUS } from './board';
export type { DashboardJson } from './board';
export { foundationSdkLoaded } from './sdk';
export type { ShownApp } from './tracking-storage';

/** What the dashboards show besides what every platform has. */
export interface DashboardOptions extends TrackingStorageOptions {
  /** The platform keeps logs (Loki): tenant dashboards get a logs panel. */
  readonly logs: boolean;
}

/** Short stable name of each dashboard (its ConfigMap is `mlplat-dashboard-<name>`) and its uid. */
export const DASHBOARD_UIDS = {
  gpu: GPU_DASHBOARD_UID,
  tenants: TENANTS_DASHBOARD_UID,
  platform: PLATFORM_DASHBOARD_UID,
  'tracking-storage': TRACKING_STORAGE_DASHBOARD_UID,
} as const;
export type DashboardName = keyof typeof DASHBOARD_UIDS;

/** One dashboard as Grafana's JSON model. */
export interface BuiltDashboard {
  readonly name: DashboardName;
  readonly uid: string;
  readonly title: string;
  readonly json: DashboardJson;
}

/**
 * Every mlplat dashboard for these options, in a fixed order. Loads the foundation SDK (the first
 * call in a process pays its load time). Built twice, the same options give byte-equal JSON.
 */
export function buildDashboards(options: DashboardOptions): BuiltDashboard[] {
  const sdk = foundationSdk();
  const boards: Array<[DashboardName, DashboardJson]> = [
    ['gpu', gpuDashboard(sdk)],
    ['tenants', tenantsDashboard(sdk, { logs: options.logs })],
    ['platform', platformDashboard(sdk)],
  ];
  // Shown only when there is something to show.
  if (options.trackingServer || options.objectStore) {
    boards.push(['tracking-storage', trackingStorageDashboard(sdk, options)]);
  }
  return boards.map(([name, json]) => ({ name, uid: DASHBOARD_UIDS[name], title: json.title ?? name, json }));
}

/** One PromQL expression of a dashboard: a panel query or a variable's series selector. */
export interface DashboardExpression {
  readonly dashboard: string;
  /** Panel id and title, or `variable <name>`. */
  readonly source: string;
  readonly expr: string;
  /** The expression as promtool can parse it: Grafana's interval variables replaced by `5m`. */
  readonly promtool: string;
}

/** Every option combination whose panels differ (both trackers, both stores, with logs). */
const VARIANTS: readonly DashboardOptions[] = [
  { logs: true, trackingServer: { kind: 'mlflow', namespace: MLFLOW_NAMESPACE }, objectStore: { kind: 'minio', namespace: MINIO_NAMESPACE } },
  { logs: true, trackingServer: { kind: 'clearml', namespace: CLEARML_NAMESPACE }, objectStore: { kind: 'ceph', namespace: ROOK_CEPH_NAMESPACE } },
];

/**
 * Every PromQL expression any mlplat dashboard can contain, for `promtool check rules` (written
 * as `record:` rules). Loki queries are LogQL and not included. Template variables inside label
 * matchers (`=~"$tenant"`) are valid regular expressions and stay as they are.
 */
export function dashboardExpressions(): DashboardExpression[] {
  const seen = new Set<string>();
  const out: DashboardExpression[] = [];
  const add = (dashboard: string, source: string, expr: string): void => {
    const key = `${dashboard}\n${source}\n${expr}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ dashboard, source, expr, promtool: forPromtool(expr) });
  };
  for (const variant of VARIANTS) {
    for (const d of buildDashboards(variant)) {
      const json = d.json as unknown as { templating?: { list?: Array<{ name: string; datasource?: { uid?: string }; query?: unknown }> }; panels?: PanelJson[] };
      for (const v of json.templating?.list ?? []) {
        const m = typeof v.query === 'string' ? /^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(v.query) : null;
        if (v.datasource?.uid === DATASOURCE_UIDS.prometheus && m) add(d.uid, `variable ${v.name}`, m[1]);
      }
      for (const p of json.panels ?? []) {
        for (const t of p.targets ?? []) {
          const uid = t.datasource?.uid ?? p.datasource?.uid;
          if (uid === DATASOURCE_UIDS.prometheus && typeof t.expr === 'string') add(d.uid, `panel ${p.id} ${p.title} (${t.refId})`, t.expr);
        }
      }
    }
  }
  return out;
}

interface PanelJson {
  readonly id?: number;
  readonly title?: string;
  readonly datasource?: { readonly uid?: string };
  readonly targets?: ReadonlyArray<{ readonly expr?: unknown; readonly refId?: string; readonly datasource?: { readonly uid?: string } }>;
}

/** Grafana's interval variables are not PromQL durations; any fixed duration parses the same. */
export function forPromtool(expr: string): string {
  return expr.replace(/\$\{?__(rate_interval|interval|range)\}?/g, '5m');
}
