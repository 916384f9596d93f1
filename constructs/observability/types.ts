import { SecretKeyRef } from '../credentials/types';

/** Namespace of Prometheus, Alertmanager, node-exporter, kube-state-metrics, Loki and Alloy. */
export const MONITORING_NAMESPACE = 'monitoring';
/** Namespace of Grafana (routed like every app, with its own OIDC client). */
export const GRAFANA_NAMESPACE = 'grafana';

/**
 * Metrics a workload mlplat writes exposes, as Prometheus should scrape them: one PodMonitor in
 * the workload's namespace (mlplat's own Services share their chart's name label, so a
 * ServiceMonitor could not tell them apart; pods carry distinct labels).
 */
export interface ScrapeTarget {
  /** Names the PodMonitor; unique per namespace. */
  readonly name: string;
  readonly namespace: string;
  /** Labels of the pods (a subset of their template labels). */
  readonly podSelector: Readonly<Record<string, string>>;
  /** Named container port serving the metrics. */
  readonly port: string;
  /**
   * @default '/metrics'
   */
  readonly path?: string;
  /**
   * A bearer token Prometheus sends (e.g. MinIO's metrics token), from a Secret in `namespace`.
   * @default - none
   */
  readonly bearerToken?: SecretKeyRef;
  /** Which component this is (a `component` label on every series, for dashboards and alerts). */
  readonly component: string;
  /**
   * Keep the target's own labels where they clash with Prometheus's (e.g. cert-manager's
   * `namespace` of a Certificate).
   * @default false
   */
  readonly honorLabels?: boolean;
}

/** A component whose metrics Prometheus scrapes. */
export interface IMetricsSource {
  readonly scrapeTargets: readonly ScrapeTarget[];
}

/** The platform's metrics stack, as components and dashboards see it. */
export interface IMetrics {
  readonly namespace: string;
  /** In-cluster Prometheus API, e.g. `http://kps-prometheus.monitoring.svc:9090`. */
  readonly prometheusUrl: string;
  /** In-cluster Alertmanager API. */
  readonly alertmanagerUrl: string;
}

/** The platform's log store, as Grafana sees it. */
export interface ILogs {
  /** In-cluster Loki API (query), e.g. `http://loki.monitoring.svc:3100`. */
  readonly lokiUrl: string;
}
