import { Board, DashboardJson } from './board';
import { FoundationSdk } from './sdk';

export const TRACKING_STORAGE_DASHBOARD_UID = 'mlplat-tracking-storage';

/** A platform app the dashboard shows by its pods (its kind and namespace). */
export interface ShownApp<K extends string> {
  readonly kind: K;
  readonly namespace: string;
}

export interface TrackingStorageOptions {
  readonly trackingServer?: ShownApp<'mlflow' | 'clearml'>;
  readonly objectStore?: ShownApp<'minio' | 'ceph'>;
}

const TITLES = { mlflow: 'MLflow', clearml: 'ClearML', minio: 'MinIO', ceph: 'Ceph' } as const;

/**
 * The tracking server and the object store. Neither tracking server exposes metrics here (MLflow
 * needs `prometheus-flask-exporter` for `--expose-prometheus`, which its image lacks, and its basic
 * auth does not exempt `/metrics`; ClearML was not checked), so they are shown by what Kubernetes
 * knows of their pods: readiness, CPU, memory and restarts. The stores do export metrics: MinIO's
 * cluster metrics (v2) and Ceph's mgr module.
 */
export function trackingStorageDashboard(sdk: FoundationSdk, options: TrackingStorageOptions): DashboardJson {
  const board = new Board(sdk, {
    uid: TRACKING_STORAGE_DASHBOARD_UID,
    title: 'Tracking server and storage',
    description: 'Pod health of the tracking server; capacity, health and traffic of the object store.',
    tags: ['tracking', 'storage'],
  });
  if (options.trackingServer) {
    const t = options.trackingServer;
    board.row(`${TITLES[t.kind]} (no metrics endpoint: pod health from Kubernetes)`);
    pods(board, t.namespace);
  }
  const store = options.objectStore;
  if (store?.kind === 'minio') {
    // Every MinIO server answers the cluster endpoint with cluster-wide figures: take one of them.
    board
      .row('MinIO')
      .stat({
        title: 'Usable capacity used',
        unit: 'percentunit',
        targets: [{ expr: '1 - max(minio_cluster_capacity_usable_free_bytes) / max(minio_cluster_capacity_usable_total_bytes)' }],
        steps: [[null, 'green'], [0.75, 'orange'], [0.85, 'red']],
      })
      .stat({
        title: 'Drives offline',
        targets: [{ expr: 'max(minio_cluster_drive_offline_total)' }],
        steps: [[null, 'green'], [1, 'red']],
      })
      .stat({
        title: 'Usable capacity',
        unit: 'bytes',
        targets: [{ expr: 'max(minio_cluster_capacity_usable_total_bytes)' }],
      })
      .stat({
        title: 'Usable capacity free',
        unit: 'bytes',
        targets: [{ expr: 'max(minio_cluster_capacity_usable_free_bytes)' }],
      })
      .timeseries({
        title: 'S3 requests by API',
        unit: 'reqps',
        targets: [{ expr: 'max by (api) (sum by (instance, api) (rate(minio_s3_requests_total[$__rate_interval])))', legend: '{{api}}' }],
      })
      .timeseries({
        title: 'S3 errors by API',
        unit: 'reqps',
        targets: [{ expr: 'max by (api) (sum by (instance, api) (rate(minio_s3_requests_errors_total[$__rate_interval])))', legend: '{{api}}' }],
      });
  } else if (store?.kind === 'ceph') {
    board
      .row('Ceph')
      .stat({
        title: 'Cluster health',
        targets: [{ expr: 'max(ceph_health_status)' }],
        valueText: { '0': { text: 'HEALTH_OK', color: 'green' }, '1': { text: 'HEALTH_WARN', color: 'orange' }, '2': { text: 'HEALTH_ERR', color: 'red' } },
      })
      .stat({
        title: 'Raw capacity used',
        unit: 'percentunit',
        targets: [{ expr: 'max(ceph_cluster_total_used_bytes) / max(ceph_cluster_total_bytes)' }],
        steps: [[null, 'green'], [0.75, 'orange'], [0.85, 'red']],
      })
      .stat({
        title: 'OSDs up',
        targets: [{ expr: 'sum(ceph_osd_up)', legend: 'up' }, { expr: 'count(ceph_osd_up)', legend: 'total' }],
      })
      .stat({
        title: 'OSDs in',
        targets: [{ expr: 'sum(ceph_osd_in)', legend: 'in' }, { expr: 'count(ceph_osd_in)', legend: 'total' }],
      })
      .timeseries({
        title: 'Data stored by pool',
        unit: 'bytes',
        width: 24,
        targets: [{ expr: 'max by (name) (ceph_pool_stored * on (pool_id) group_left (name) ceph_pool_metadata)', legend: '{{name}}' }],
      });
  }
  if (store) {
    board.row(`${TITLES[store.kind]} pods`);
    pods(board, store.namespace);
  }
  return board.build();
}

/** Readiness, CPU, memory and restarts of the pods of one namespace. */
function pods(board: Board, namespace: string): void {
  const ns = `namespace="${namespace}"`;
  board
    .stat({
      title: 'Pods ready',
      targets: [
        { expr: `sum(kube_pod_status_ready{${ns}, condition="true"})`, legend: 'ready' },
        { expr: `sum(kube_pod_status_phase{${ns}, phase="Running"})`, legend: 'running' },
      ],
    })
    .stat({
      title: 'Container restarts (1h)',
      targets: [{ expr: `sum(increase(kube_pod_container_status_restarts_total{${ns}}[1h])) or vector(0)` }],
      steps: [[null, 'green'], [1, 'orange']],
    })
    .timeseries({
      title: 'CPU by pod',
      unit: 'short',
      width: 6,
      targets: [{ expr: `sum by (pod) (rate(container_cpu_usage_seconds_total{${ns}, container!=""}[$__rate_interval]))`, legend: '{{pod}}' }],
    })
    .timeseries({
      title: 'Memory by pod (working set)',
      unit: 'bytes',
      width: 6,
      targets: [{ expr: `sum by (pod) (container_memory_working_set_bytes{${ns}, container!=""})`, legend: '{{pod}}' }],
    });
}
