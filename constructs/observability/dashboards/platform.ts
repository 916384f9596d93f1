import { Board, DashboardJson } from './board';
import { FoundationSdk } from './sdk';

export const PLATFORM_DASHBOARD_UID = 'mlplat-platform';

/** Alerts kube-prometheus-stack fires on purpose (dead man's switch, inhibition helper). */
const ALWAYS_FIRING = 'alertname!~"Watchdog|InfoInhibitor"';

const UP_DOWN = { '0': { text: 'down', color: 'red' }, '1': { text: 'up', color: 'green' } } as const;

/**
 * Is the platform healthy: scrape targets up per component, firing alerts, nodes, workloads that
 * are not fully available, restarts, certificates close to expiry and volumes filling up.
 */
export function platformDashboard(sdk: FoundationSdk): DashboardJson {
  return new Board(sdk, {
    uid: PLATFORM_DASHBOARD_UID,
    title: 'Platform health',
    description: 'Scrape targets, alerts, nodes, workloads, certificates and volumes of the whole platform.',
    tags: ['platform'],
  })
    .row('Overview')
    .stat({
      title: 'Scrape targets down',
      targets: [{ expr: 'count(up == 0) or vector(0)' }],
      steps: [[null, 'green'], [1, 'red']],
    })
    .stat({
      title: 'Alerts firing',
      targets: [{ expr: `count(ALERTS{alertstate="firing", ${ALWAYS_FIRING}}) or vector(0)` }],
      steps: [[null, 'green'], [1, 'orange']],
    })
    .stat({
      title: 'Nodes not ready',
      targets: [{ expr: 'count(kube_node_status_condition{condition="Ready", status="true"} == 0) or vector(0)' }],
      steps: [[null, 'green'], [1, 'red']],
    })
    .stat({
      title: 'Certificates expiring within 14 days',
      targets: [{ expr: 'count(certmanager_certificate_expiration_timestamp_seconds - time() < 14 * 24 * 3600) or vector(0)' }],
      steps: [[null, 'green'], [1, 'orange']],
    })
    .table({
      title: 'Scrape targets by component',
      description: 'Lowest `up` per namespace and job: down if any target of the job is down.',
      targets: [{ expr: 'min by (namespace, job) (up)' }],
      columns: ['state'],
      valueText: UP_DOWN,
    })
    .table({
      title: 'Alerts firing',
      targets: [{ expr: `sum by (alertname, severity, namespace) (ALERTS{alertstate="firing", ${ALWAYS_FIRING}})` }],
      columns: ['series'],
    })
    .row('Workloads')
    .table({
      title: 'Deployments with unavailable replicas',
      width: 8,
      targets: [{ expr: 'sum by (namespace, deployment) (kube_deployment_status_replicas_unavailable) > 0' }],
      columns: ['unavailable'],
    })
    .table({
      title: 'StatefulSets not fully ready',
      width: 8,
      targets: [{ expr: 'sum by (namespace, statefulset) (kube_statefulset_status_replicas - kube_statefulset_status_replicas_ready) > 0' }],
      columns: ['not ready'],
    })
    .table({
      title: 'DaemonSets with unavailable pods',
      width: 8,
      targets: [{ expr: 'sum by (namespace, daemonset) (kube_daemonset_status_number_unavailable) > 0' }],
      columns: ['unavailable'],
    })
    .timeseries({
      title: 'Container restarts (15m)',
      width: 24,
      targets: [{ expr: 'sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total[15m])) > 0', legend: '{{namespace}}/{{pod}}' }],
    })
    .row('Certificates and volumes')
    .table({
      title: 'Certificates by time to expiry',
      unit: 's',
      targets: [{ expr: 'sort(min by (namespace, name) (certmanager_certificate_expiration_timestamp_seconds - time()))' }],
      columns: ['expires in'],
      steps: [[null, 'red'], [7 * 24 * 3600, 'orange'], [14 * 24 * 3600, 'green']],
    })
    .table({
      title: 'Certificates not ready',
      targets: [{ expr: 'max by (namespace, name) (certmanager_certificate_ready_status{condition="False"}) == 1' }],
      columns: ['not ready'],
    })
    .table({
      title: 'Volume usage',
      description: 'Used fraction of every mounted PersistentVolumeClaim (kubelet volume stats).',
      unit: 'percentunit',
      width: 24,
      targets: [{ expr: 'sort_desc(max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes))' }],
      columns: ['used'],
      steps: [[null, 'green'], [0.8, 'orange'], [0.9, 'red']],
    })
    .build();
}
