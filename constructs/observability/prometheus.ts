import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { TENANT_LABEL } from '../gpu/access-policy';
import { POOL_LABEL } from '../gpu/pool';
import { SecretKeyRef } from '../credentials/types';
import { ServiceEndpoint, serviceEndpoint } from '../storage/types';
import { GRAFANA_NAMESPACE, IMetrics, IMetricsSource, MONITORING_NAMESPACE, ScrapeTarget } from './types';

/**
 * kube-prometheus-stack 88.5.3 (Prometheus Operator v0.93.1). Values paths follow the chart's
 * values.yaml (prometheus-community/helm-charts, charts/kube-prometheus-stack); PodMonitor fields
 * follow example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml of
 * github.com/prometheus-operator/prometheus-operator@v0.93.1.
 */

export const MONITORING_API = 'monitoring.coreos.com/v1';
/** Helm release name; `fullnameOverride` makes the chart's objects `kps-*` too. */
const RELEASE = 'kps';
const PROMETHEUS_PORT = 9090;
const ALERTMANAGER_PORT = 9093;
/** Service port name of Prometheus and Alertmanager (`*.portName` in the chart). */
const WEB_PORT_NAME = 'http-web';
/** Prometheus `model.Duration` as the Prometheus CRD's `retention` pattern accepts it (no empty string). */
const DURATION = /^(0|(?=\d)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$/;
/** The Prometheus CRD's `retentionSize` pattern: base-2 units, `KB` = `KiB` (alecthomas/units). */
const BYTE_SIZE = /^(0|(\d*\.)?\d+((K|M|G|T|P|E)i?)?B)$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Container port names (IANA_SVC_NAME): at most 15 characters, a letter among them. */
const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Prometheus label values are free text; the `component` label is kept to a tidy identifier. */
const COMPONENT = /^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/;

/** Workloads of the stack whose resources the platform sets. */
export type MonitoringWorkload = 'prometheus' | 'alertmanager' | 'operator' | 'kubeStateMetrics' | 'nodeExporter';

/** CPU and memory a workload requests; the memory is also its limit. */
export interface MonitoringResources {
  readonly cpu: string;
  readonly memory: string;
}

/**
 * Sized for a platform of tens of nodes and a few hundred thousand series: Prometheus holds about
 * 2 to 4 KiB per active series in memory.
 */
const DEFAULT_RESOURCES: Readonly<Record<MonitoringWorkload, MonitoringResources>> = {
  prometheus: { cpu: '500m', memory: '4Gi' },
  alertmanager: { cpu: '50m', memory: '256Mi' },
  operator: { cpu: '100m', memory: '256Mi' },
  kubeStateMetrics: { cpu: '50m', memory: '256Mi' },
  nodeExporter: { cpu: '50m', memory: '64Mi' },
};

export interface AlertmanagerOptions {
  /**
   * Alertmanager replicas (they gossip, so alerts are sent once); a PodDisruptionBudget keeps
   * one up when more than one.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Volume size of each replica (silences and the notification log).
   * @default '2Gi'
   */
  readonly size?: string;
  /**
   * StorageClass of the Alertmanager volumes.
   * @default - the metrics `storageClass`
   */
  readonly storageClass?: string;
  /**
   * Where alerts are sent. URLs and passwords are read from Secrets in `monitoring` that the
   * cluster's admins create (mounted into Alertmanager; never in the output).
   * @default - none: alerts are shown in Alertmanager and Grafana only
   */
  readonly receivers?: readonly AlertReceiver[];
}

export type AlertSeverity = 'critical' | 'warning' | 'info';

/** One alert receiver: exactly one of `slack`, `webhook`, `email`. */
export interface AlertReceiver {
  readonly name: string;
  /**
   * Alerts of these severities (the `severity` label of every platform alert) go here.
   * @default ['critical', 'warning']
   */
  readonly severities?: readonly AlertSeverity[];
  readonly slack?: {
    /** @default - the incoming webhook's own channel */
    readonly channel?: string;
    /** Secret key (namespace `monitoring`) holding the incoming-webhook URL. */
    readonly urlSecret: SecretKeyRef;
  };
  /** Alertmanager's webhook JSON, POSTed to the URL in `urlSecret`. */
  readonly webhook?: { readonly urlSecret: SecretKeyRef };
  readonly email?: {
    readonly to: string;
    readonly from: string;
    /** `host:port` of the SMTP server. */
    readonly smarthost: string;
    /** SMTP login; with `passwordSecret`. */
    readonly username?: string;
    readonly passwordSecret?: SecretKeyRef;
  };
}

/** Where the Prometheus Operator mounts `alertmanagerSpec.secrets`. */
const ALERTMANAGER_SECRETS_DIR = '/etc/alertmanager/secrets';
/** Alertmanager's receiver that drops what it gets (the chart's default receiver). */
const NULL_RECEIVER = 'null';

export interface MonitoringOptions {
  /**
   * How long Prometheus keeps samples (Prometheus duration: `15d`, `12w`, `1y`).
   * @default '15d'
   */
  readonly retention?: string;
  /**
   * Volume size of Prometheus.
   * @default '50Gi'
   */
  readonly size?: string;
  /**
   * Prometheus deletes the oldest blocks beyond this size (Prometheus bytes: `45GiB`), whatever
   * `retention` says; it must stay below `size`, which also holds the write-ahead log. `0` turns
   * the size limit off (the volume may then fill up).
   * @default - 90 % of `size`, e.g. `45GiB` for `50Gi`
   */
  readonly retentionSize?: string;
  /**
   * StorageClass of the Prometheus volume.
   * @default - the cluster's default StorageClass
   */
  readonly storageClass?: string;
  /**
   * Alertmanager replicas and storage.
   * @default - one replica with a 2Gi volume
   */
  readonly alertmanager?: AlertmanagerOptions;
  /**
   * Scrape the control plane (kube-controller-manager, kube-scheduler, etcd, kube-proxy) and keep
   * their default alerts. Managed control planes (EKS, GKE, AKS) cannot be scraped, and their
   * alerts (`KubeSchedulerDown`, ...) would fire forever: turn on for self-managed clusters only.
   * @default false
   */
  readonly controlPlaneTargets?: boolean;
  /**
   * Deploy the chart's default dashboards (ConfigMaps labelled `grafana_dashboard: "1"`) into
   * Grafana's namespace, which must exist in the platform.
   * @default true
   */
  readonly defaultDashboards?: boolean;
  /**
   * CPU requested and memory requested and limited, per workload; workloads not named keep the default.
   * @default - prometheus 500m/4Gi, alertmanager 50m/256Mi, operator 100m/256Mi, kubeStateMetrics 50m/256Mi, nodeExporter 50m/64Mi
   */
  readonly resources?: Partial<Record<MonitoringWorkload, MonitoringResources>>;
}

export interface MonitoringProps extends MonitoringOptions {}


/** Container resources as chart values (plain strings: chart values are not Kubernetes objects). */
export interface ChartResourceValues {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly memory: string };
}

/** The parts of alertmanager.yml mlplat writes (Alertmanager v0.34 configuration file). */
export interface AlertmanagerConfigValues {
  readonly route: {
    readonly receiver: string;
    readonly group_by: readonly string[];
    readonly group_wait: string;
    readonly group_interval: string;
    readonly repeat_interval: string;
    readonly routes: ReadonlyArray<{ readonly receiver: string; readonly matchers: readonly string[]; readonly continue?: boolean }>;
  };
  readonly receivers: ReadonlyArray<Record<string, unknown>>;
}

/** A `volumeClaimTemplate` as the Prometheus and Alertmanager CRDs take it. */
export interface VolumeClaimTemplateValues {
  readonly volumeClaimTemplate: {
    readonly spec: {
      readonly accessModes: readonly ['ReadWriteOnce'];
      readonly storageClassName?: string;
      readonly resources: { readonly requests: { readonly storage: string } };
    };
  };
}

/** Typed subset of the kube-prometheus-stack chart's values (88.5.3) that mlplat sets. */
export interface KubePrometheusStackValues {
  readonly fullnameOverride: string;
  /** The CRDs are in the `crds` subchart's crds/ folder: Helm's CRD policy applies to them. */
  readonly crds: { readonly enabled: boolean };
  readonly global: {
    readonly rbac: { readonly createAggregateClusterRoles: boolean };
    readonly imageRegistry?: string;
  };
  readonly grafana: {
    readonly enabled: boolean;
    readonly forceDeployDashboards: boolean;
    readonly defaultDashboardsEnabled: boolean;
    readonly namespaceOverride?: string;
  };
  readonly kubeControllerManager: { readonly enabled: boolean };
  readonly kubeScheduler: { readonly enabled: boolean };
  readonly kubeEtcd: { readonly enabled: boolean };
  readonly kubeProxy: { readonly enabled: boolean };
  readonly kubeStateMetrics: { readonly enabled: boolean };
  readonly 'kube-state-metrics': { readonly metricLabelsAllowlist: readonly string[]; readonly resources: ChartResourceValues };
  readonly nodeExporter: { readonly enabled: boolean };
  readonly 'prometheus-node-exporter': { readonly resources: ChartResourceValues };
  readonly prometheusOperator: { readonly resources: ChartResourceValues };
  readonly alertmanager: {
    readonly podDisruptionBudget: { readonly enabled: boolean; readonly minAvailable?: number };
    readonly alertmanagerSpec: {
      readonly replicas: number;
      readonly storage: VolumeClaimTemplateValues;
      readonly resources: ChartResourceValues;
      /** Secrets of namespace monitoring mounted at /etc/alertmanager/secrets/<name>/. */
      readonly secrets?: readonly string[];
    };
    /** Alertmanager's configuration file (merged over the chart's: `route`, `receivers` replaced). */
    readonly config?: AlertmanagerConfigValues;
  };
  readonly prometheus: {
    readonly prometheusSpec: {
      readonly retention: string;
      readonly retentionSize: string;
      readonly storageSpec: VolumeClaimTemplateValues;
      readonly resources: ChartResourceValues;
      readonly serviceMonitorSelectorNilUsesHelmValues: boolean;
      readonly podMonitorSelectorNilUsesHelmValues: boolean;
      readonly ruleSelectorNilUsesHelmValues: boolean;
      readonly probeSelectorNilUsesHelmValues: boolean;
      readonly scrapeConfigSelectorNilUsesHelmValues: boolean;
    };
  };
}

/**
 * The platform's metrics stack: kube-prometheus-stack (Prometheus Operator with its CRDs,
 * Prometheus, Alertmanager, node-exporter, kube-state-metrics) in the privileged `monitoring`
 * namespace. Prometheus selects every ServiceMonitor, PodMonitor, PrometheusRule, Probe and
 * ScrapeConfig in every namespace; components hand in their scrape targets with `addSource()`,
 * which writes one PodMonitor per target into the component's own scope (its output file).
 * Grafana is not part of this release (it runs standalone); the chart's default dashboards go to
 * Grafana's namespace as ConfigMaps.
 */
export class Monitoring extends Construct implements IMetrics {
  readonly namespace = MONITORING_NAMESPACE;
  readonly prometheus: ServiceEndpoint = serviceEndpoint(MONITORING_NAMESPACE, `${RELEASE}-prometheus`, PROMETHEUS_PORT, WEB_PORT_NAME);
  readonly alertmanager: ServiceEndpoint = serviceEndpoint(MONITORING_NAMESPACE, `${RELEASE}-alertmanager`, ALERTMANAGER_PORT, WEB_PORT_NAME);
  readonly retention: string;
  readonly size: string;
  readonly retentionSize: string;
  readonly storageClass: string | undefined;
  readonly alertmanagerReplicas: number;
  readonly alertmanagerSize: string;
  readonly alertmanagerStorageClass: string | undefined;
  /** Where alerts are sent (none: shown in Alertmanager and Grafana only). */
  readonly receivers: readonly AlertReceiver[];
  readonly controlPlaneTargets: boolean;
  readonly defaultDashboards: boolean;
  readonly resources: Readonly<Record<MonitoringWorkload, MonitoringResources>>;
  readonly release: ChartRelease<KubePrometheusStackValues>;
  private readonly targetList: ScrapeTarget[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps = {}) {
    const retention = props.retention ?? '15d';
    const size = props.size ?? '50Gi';
    const retentionSize = props.retentionSize ?? ninetyPercent(size);
    const alertmanagerReplicas = props.alertmanager?.replicas ?? 1;
    const alertmanagerSize = props.alertmanager?.size ?? '2Gi';
    validate({ retention, size, retentionSize, alertmanagerReplicas, alertmanagerSize });
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.retention = retention;
    this.size = size;
    this.retentionSize = retentionSize;
    this.storageClass = props.storageClass;
    this.alertmanagerReplicas = alertmanagerReplicas;
    this.alertmanagerSize = alertmanagerSize;
    this.alertmanagerStorageClass = props.alertmanager?.storageClass ?? props.storageClass;
    this.receivers = props.alertmanager?.receivers ?? [];
    checkReceivers(this.receivers);
    this.controlPlaneTargets = props.controlPlaneTargets ?? false;
    this.defaultDashboards = props.defaultDashboards ?? true;
    this.resources = { ...DEFAULT_RESOURCES, ...props.resources };

    new k8s.KubeNamespace(this, 'Namespace', {
      metadata: {
        name: MONITORING_NAMESPACE,
        labels: {
          // node-exporter reads the host's /proc, /sys and / through hostPath mounts, in the host's
          // network and PID namespaces: none of this passes the baseline or restricted levels.
          'pod-security.kubernetes.io/enforce': 'privileged',
          'pod-security.kubernetes.io/warn': 'privileged',
        },
        annotations: {
          [`${MLPLAT_PREFIX}/privileged-reason`]:
            'node-exporter runs with hostNetwork, hostPID and hostPath mounts of /proc, /sys and / to report node metrics',
        },
      },
    });

    const res = (w: MonitoringWorkload): ChartResourceValues => chartResources(this.resources[w]);
    const controlPlane = { enabled: this.controlPlaneTargets };
    this.release = new ChartRelease<KubePrometheusStackValues>(this, 'Resource', {
      chart: ctx.versions.charts.kubePrometheusStack,
      releaseName: RELEASE,
      namespace: MONITORING_NAMESPACE,
      // ServiceMonitor, PodMonitor, PrometheusRule, ...: mlplat's own go to the second layer.
      provides: ['monitoring.coreos.com'],
      values: {
        fullnameOverride: RELEASE,
        crds: { enabled: true },
        global: {
          // `true` would aggregate create/delete on Prometheus, ServiceMonitor, ... into the
          // `edit` ClusterRole, which tenants hold in their namespaces.
          rbac: { createAggregateClusterRoles: false },
          ...(ctx.imageRegistry ? { imageRegistry: ctx.imageRegistry } : {}),
        },
        // Grafana runs as its own release in its own namespace; only the dashboards come from here.
        grafana: {
          enabled: false,
          forceDeployDashboards: this.defaultDashboards,
          defaultDashboardsEnabled: this.defaultDashboards,
          ...(this.defaultDashboards ? { namespaceOverride: GRAFANA_NAMESPACE } : {}),
        },
        // Switching a target off also drops its default alerts (the chart's rule templates check it).
        kubeControllerManager: controlPlane,
        kubeScheduler: controlPlane,
        kubeEtcd: controlPlane,
        kubeProxy: controlPlane,
        kubeStateMetrics: { enabled: true },
        'kube-state-metrics': {
          // kube_node_labels{label_mlplat_io_gpu_pool} and kube_namespace_labels{label_mlplat_io_tenant}:
          // dashboards and rules join GPU and pod series to pools and tenants with them.
          metricLabelsAllowlist: [`nodes=[${POOL_LABEL}]`, `namespaces=[${TENANT_LABEL}]`],
          resources: res('kubeStateMetrics'),
        },
        // Its default toleration (NoSchedule, Exists) covers the GPU pools' taints.
        nodeExporter: { enabled: true },
        'prometheus-node-exporter': { resources: res('nodeExporter') },
        prometheusOperator: { resources: res('operator') },
        alertmanager: {
          podDisruptionBudget: this.alertmanagerReplicas > 1 ? { enabled: true, minAvailable: 1 } : { enabled: false },
          alertmanagerSpec: {
            replicas: this.alertmanagerReplicas,
            storage: volumeClaimTemplate(this.alertmanagerSize, this.alertmanagerStorageClass),
            resources: res('alertmanager'),
            ...(this.receivers.length ? { secrets: receiverSecrets(this.receivers) } : {}),
          },
          ...(this.receivers.length ? { config: alertmanagerConfig(this.receivers) } : {}),
        },
        prometheus: {
          prometheusSpec: {
            retention: this.retention,
            retentionSize: this.retentionSize,
            storageSpec: volumeClaimTemplate(this.size, this.storageClass),
            resources: res('prometheus'),
            // `true` (the default) selects only objects labelled `release: kps`; every
            // component's monitors and rules are selected instead, in every namespace.
            serviceMonitorSelectorNilUsesHelmValues: false,
            podMonitorSelectorNilUsesHelmValues: false,
            ruleSelectorNilUsesHelmValues: false,
            probeSelectorNilUsesHelmValues: false,
            scrapeConfigSelectorNilUsesHelmValues: false,
          },
        },
      },
    });

    this.node.addValidation({
      validate: () => {
        if (!this.defaultDashboards) return [];
        const root = this.node.root;
        const exists = root.node.findAll().some((c) => ApiObject.isApiObject(c) && c.kind === 'Namespace' && c.name === GRAFANA_NAMESPACE);
        return exists
          ? []
          : [`monitoring: the default dashboards go to namespace "${GRAFANA_NAMESPACE}", which no component creates: enable Grafana, or set defaultDashboards: false`];
      },
    });
  }

  /** `http://kps-prometheus.monitoring.svc:9090` */
  get prometheusUrl(): string {
    return this.prometheus.url;
  }

  /** `http://kps-alertmanager.monitoring.svc:9093` */
  get alertmanagerUrl(): string {
    return this.alertmanager.url;
  }

  /** Every target scraped through `scrape()`/`addSource()`, in the order they were added. */
  get targets(): readonly ScrapeTarget[] {
    return this.targetList;
  }

  /** Scrapes every target of `source`, with the PodMonitors in `scope` (by default the source itself). */
  addSource(source: IMetricsSource & Construct, scope: Construct = source): void {
    for (const target of source.scrapeTargets as readonly ScrapeTarget[]) this.scrape(scope, target);
  }

  /**
   * Scrapes `target`: a PodMonitor `<name>` in the target's namespace, created in `scope` so it
   * lands in that component's output file. Every series gets a `component` label.
   */
  scrape(scope: Construct, target: ScrapeTarget): ApiObject {
    checkTarget(target);
    const clash = this.targetList.find((t) => t.namespace === target.namespace && t.name === target.name);
    if (clash) {
      throw new Error(`monitoring: scrape target "${target.name}" in namespace "${target.namespace}" is added twice (components "${clash.component}" and "${target.component}")`);
    }
    this.targetList.push(target);
    return new ApiObject(scope, `PodMonitor-${target.namespace}-${target.name}`, {
      apiVersion: MONITORING_API,
      kind: 'PodMonitor',
      // Without a namespaceSelector, a PodMonitor selects pods of its own namespace only.
      metadata: { name: target.name, namespace: target.namespace },
      spec: {
        selector: { matchLabels: { ...target.podSelector } },
        podMetricsEndpoints: [
          {
            port: target.port,
            path: target.path ?? '/metrics',
            ...(target.honorLabels ? { honorLabels: true } : {}),
            ...(target.bearerToken
              ? { authorization: { type: 'Bearer', credentials: { name: target.bearerToken.name, key: target.bearerToken.key } } }
              : {}),
            relabelings: [{ action: 'replace', targetLabel: 'component', replacement: target.component }],
          },
        ],
      },
    });
  }
}

const RECEIVER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkReceivers(receivers: readonly AlertReceiver[]): void {
  const names = new Set<string>();
  for (const r of receivers) {
    const where = `monitoring: alert receiver "${r.name}"`;
    if (!RECEIVER_NAME.test(r.name) || r.name.length > 63 || r.name === NULL_RECEIVER) throw new Error(`${where}: name must be a DNS label other than "null"`);
    if (names.has(r.name)) throw new Error(`${where} is declared twice`);
    names.add(r.name);
    const kinds = (['slack', 'webhook', 'email'] as const).filter((k) => r[k] !== undefined);
    if (kinds.length !== 1) throw new Error(`${where}: name exactly one of slack, webhook, email${kinds.length ? ` (got ${kinds.join(', ')})` : ''}`);
    if (r.severities !== undefined && r.severities.length === 0) throw new Error(`${where}: severities must not be empty (leave it out for critical and warning)`);
    if (r.email && (r.email.username === undefined) !== (r.email.passwordSecret === undefined)) throw new Error(`${where}: email username and passwordSecret go together`);
  }
}

/** The Secrets the receivers read, each mounted once. */
function receiverSecrets(receivers: readonly AlertReceiver[]): string[] {
  const refs = receivers.flatMap((r) => [r.slack?.urlSecret, r.webhook?.urlSecret, r.email?.passwordSecret]).filter((x): x is SecretKeyRef => x !== undefined);
  return [...new Set(refs.map((x) => x.name))].sort();
}

const secretFile = (ref: SecretKeyRef) => `${ALERTMANAGER_SECRETS_DIR}/${ref.name}/${ref.key}`;

/**
 * alertmanager.yml's route and receivers: the Watchdog (always firing, proves the pipeline)
 * goes nowhere, every receiver gets the alerts of its severities (`continue`: all of them), and
 * what no receiver takes is dropped. URLs and passwords are `*_file` paths into the mounted
 * Secrets. Grouped per alert, namespace and component, so one failing component is one message.
 */
export function alertmanagerConfig(receivers: readonly AlertReceiver[]): AlertmanagerConfigValues {
  return {
    route: {
      receiver: NULL_RECEIVER,
      group_by: ['alertname', 'namespace', 'component'],
      group_wait: '30s',
      group_interval: '5m',
      repeat_interval: '12h',
      routes: [
        { receiver: NULL_RECEIVER, matchers: ['alertname = "Watchdog"'] },
        ...receivers.map((r) => ({ receiver: r.name, matchers: [`severity =~ "${(r.severities ?? ['critical', 'warning']).join('|')}"`], continue: true })),
      ],
    },
    receivers: [
      { name: NULL_RECEIVER },
      ...receivers.map((r) => ({
        name: r.name,
        ...(r.slack ? { slack_configs: [{ api_url_file: secretFile(r.slack.urlSecret), ...(r.slack.channel ? { channel: r.slack.channel } : {}), send_resolved: true }] } : {}),
        ...(r.webhook ? { webhook_configs: [{ url_file: secretFile(r.webhook.urlSecret), send_resolved: true }] } : {}),
        ...(r.email
          ? {
              email_configs: [
                {
                  to: r.email.to,
                  from: r.email.from,
                  smarthost: r.email.smarthost,
                  ...(r.email.username ? { auth_username: r.email.username } : {}),
                  ...(r.email.passwordSecret ? { auth_password_file: secretFile(r.email.passwordSecret) } : {}),
                  send_resolved: true,
                },
              ],
            }
          : {}),
      })),
    ],
  };
}

function checkTarget(t: ScrapeTarget): void {
  const where = `monitoring: scrape target "${t.name}" (${t.namespace})`;
  if (!DNS_LABEL.test(t.name) || t.name.length > 63) throw new Error(`${where}: name must be a DNS label (it names the PodMonitor)`);
  if (!DNS_LABEL.test(t.namespace) || t.namespace.length > 63) throw new Error(`${where}: namespace must be a DNS label`);
  // An empty selector would scrape every pod of the namespace on that port name.
  if (Object.keys(t.podSelector).length === 0) throw new Error(`${where}: podSelector must name at least one label`);
  if (!PORT_NAME.test(t.port)) throw new Error(`${where}: port "${t.port}" must be a container port name (at most 15 lowercase letters, digits and "-")`);
  if (t.path !== undefined && !t.path.startsWith('/')) throw new Error(`${where}: path "${t.path}" must start with "/"`);
  if (!COMPONENT.test(t.component)) throw new Error(`${where}: component "${t.component}" must be lowercase letters, digits, "-", "_" or "."`);
}

function validate(v: { retention: string; size: string; retentionSize: string; alertmanagerReplicas: number; alertmanagerSize: string }): void {
  if (!DURATION.test(v.retention) || v.retention === '0') {
    throw new Error(`monitoring retention "${v.retention}" must be a Prometheus duration such as 15d, 12w or 1y`);
  }
  const sizeBytes = quantityBytes(v.size);
  if (sizeBytes === undefined) throw new Error(`monitoring size "${v.size}" must be a Kubernetes quantity such as 50Gi`);
  // Below that, 90 % leaves no room for a single compacted block next to the write-ahead log.
  if (sizeBytes < 2 ** 30) throw new Error(`monitoring size "${v.size}" must be at least 1Gi`);
  const keepBytes = BYTE_SIZE.test(v.retentionSize) ? prometheusBytes(v.retentionSize) : undefined;
  if (keepBytes === undefined) {
    throw new Error(`monitoring retentionSize "${v.retentionSize}" must be a Prometheus byte size such as 45GiB (or 0: no size limit)`);
  }
  if (keepBytes >= sizeBytes) {
    throw new Error(`monitoring retentionSize "${v.retentionSize}" must be smaller than size "${v.size}": the volume also holds the write-ahead log`);
  }
  if (!Number.isInteger(v.alertmanagerReplicas) || v.alertmanagerReplicas < 1) {
    throw new Error(`monitoring alertmanager.replicas must be a positive integer, got ${v.alertmanagerReplicas}`);
  }
  if (quantityBytes(v.alertmanagerSize) === undefined) {
    throw new Error(`monitoring alertmanager.size "${v.alertmanagerSize}" must be a Kubernetes quantity such as 2Gi`);
  }
}

const QUANTITY_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
};

/** Bytes of a Kubernetes storage quantity (`50Gi`, `500G`), or undefined when it is not one. */
function quantityBytes(q: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(q);
  if (!m) return undefined;
  const bytes = Number(m[1]) * QUANTITY_UNITS[m[2] ?? ''];
  return bytes > 0 ? bytes : undefined;
}

/** Bytes of a Prometheus size (`45GiB`, `512MB`: base 2 either way). */
function prometheusBytes(s: string): number | undefined {
  const m = /^((?:\d*\.)?\d+)(?:([KMGTPE])i?)?B$/.exec(s);
  if (!m) return s === '0' ? 0 : undefined;
  const power = m[2] ? 'KMGTPE'.indexOf(m[2]) + 1 : 0;
  return Number(m[1]) * 1024 ** power;
}

/**
 * 90 % of a volume size as a Prometheus size, rounded down to whole MiB (GiB when exact): the
 * rest is room for the write-ahead log and compaction. An invalid size is returned unchanged,
 * for `validate` to report.
 */
function ninetyPercent(size: string): string {
  const bytes = quantityBytes(size);
  if (bytes === undefined) return size;
  const mib = Math.floor((bytes * 0.9) / 2 ** 20);
  return mib % 1024 === 0 ? `${mib / 1024}GiB` : `${mib}MiB`;
}

function volumeClaimTemplate(size: string, storageClass: string | undefined): VolumeClaimTemplateValues {
  return {
    volumeClaimTemplate: {
      spec: {
        accessModes: ['ReadWriteOnce'],
        ...(storageClass ? { storageClassName: storageClass } : {}),
        resources: { requests: { storage: size } },
      },
    },
  };
}

function chartResources(r: MonitoringResources): ChartResourceValues {
  return { requests: { cpu: r.cpu, memory: r.memory }, limits: { memory: r.memory } };
}
