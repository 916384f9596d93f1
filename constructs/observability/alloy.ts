import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';
import { TENANT_LABEL } from '../gpu/access-policy';
import { IGpuFleet } from '../gpu/operator';
import { ChartResources, ILogStore } from './loki';
import { IMetricsSource, MONITORING_NAMESPACE, ScrapeTarget } from './types';

/** Helm release name; the chart names the DaemonSet, ConfigMap and ClusterRole after it. */
export const ALLOY_RELEASE = 'alloy';
/** Alloy's HTTP server: /metrics, /-/ready (chart port name `http-metrics`). */
export const ALLOY_HTTP_PORT = 12345;
const ALLOY_HTTP_PORT_NAME = 'http-metrics';
/** The `alloy` user of the image (its Dockerfile creates it; the image itself runs as root). */
const ALLOY_UID = 473;
/** Labels the chart puts on every Alloy pod (`alloy.selectorLabels`). */
const POD_LABELS = { 'app.kubernetes.io/name': 'alloy', 'app.kubernetes.io/instance': ALLOY_RELEASE } as const;
/** Where Alloy keeps its state (read positions), on an emptyDir: the root filesystem is read-only. */
const STORAGE_PATH = '/tmp/alloy';

/**
 * Value of the `tenant` label on lines from namespaces that belong to no tenant (the platform's
 * own). Tenant names are DNS labels, so no tenant can be called this.
 */
export const PLATFORM_TENANT = '_platform';

/** The labels every log line carries, in the order the config sets them. */
export const LOG_LABELS = ['namespace', 'pod', 'container', 'node', 'tenant'] as const;

type Toleration = { readonly key: string; readonly operator: string; readonly value?: string; readonly effect?: string };
type PolicyRule = { readonly apiGroups: readonly string[]; readonly resources: readonly string[]; readonly verbs: readonly string[] };

/**
 * Typed subset of the alloy chart's values (grafana chart 1.11.1, Alloy v1.18.1; paths checked
 * against its values.yaml and templates and with `helm template`).
 */
export interface AlloyValues {
  readonly crds: { readonly create: boolean };
  readonly global: {
    readonly image?: { readonly registry: string };
    readonly podSecurityContext: Readonly<Record<string, unknown>>;
  };
  readonly alloy: {
    readonly configMap: { readonly create: boolean; readonly content: string };
    readonly stabilityLevel: 'generally-available';
    readonly storagePath: string;
    readonly enableReporting: boolean;
    readonly securityContext: Readonly<Record<string, unknown>>;
    readonly resources: ChartResources;
    readonly livenessProbe: Readonly<Record<string, unknown>>;
    readonly mounts: { readonly varlog: boolean; readonly dockercontainers: boolean; readonly extra: ReadonlyArray<{ readonly name: string; readonly mountPath: string }> };
  };
  readonly configReloader: { readonly enabled: boolean };
  readonly controller: {
    readonly type: 'daemonset';
    readonly tolerations: readonly Toleration[];
    readonly volumes: { readonly extra: ReadonlyArray<{ readonly name: string; readonly emptyDir: Record<string, never> }> };
  };
  readonly rbac: { readonly create: boolean; readonly rules: readonly PolicyRule[]; readonly clusterRules: readonly PolicyRule[] };
  readonly serviceAccount: { readonly automountServiceAccountToken: boolean };
  readonly service: { readonly enabled: boolean };
  readonly serviceMonitor: { readonly enabled: boolean };
}

export interface AlloyOptions {
  /**
   * Resources of the Alloy container on every node.
   * @default - 100m CPU and 128Mi requested, 512Mi memory limit
   */
  readonly resources?: ChartResources;
}

export interface AlloyProps extends AlloyOptions {
  /** Where the logs go. */
  readonly logs: ILogStore;
  /**
   * The GPU pools, read when the output is written: Alloy tolerates each pool's taint so GPU
   * nodes ship logs too.
   * @default - no GPU pools
   */
  readonly gpus?: IGpuFleet;
}

/**
 * Grafana Alloy (Helm, through ChartRelease) as the log shipper: a DaemonSet whose pods each
 * discover the pods of their own node and tail their containers' logs through the Kubernetes API
 * (`loki.source.kubernetes`: no hostPath, no root, so it runs under any Pod Security level), label
 * every line with namespace, pod, container, node and tenant, and push them to Loki. The tenant
 * is the namespace's `mlplat.io/tenant` label, which only the platform sets (tenants cannot edit
 * their namespace), or `_platform` elsewhere.
 */
export class Alloy extends Construct implements IMetricsSource {
  readonly namespace = MONITORING_NAMESPACE;
  readonly resources: ChartResources;
  /** The Alloy configuration every pod runs. */
  readonly config: string;
  readonly release: ChartRelease<AlloyValues>;
  /** Alloy's own /metrics, scraped from every pod (the chart's ServiceMonitor and Service stay off). */
  readonly scrapeTargets: readonly ScrapeTarget[];
  private readonly gpus: IGpuFleet | undefined;

  constructor(scope: Construct, id: string, props: AlloyProps) {
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.resources = props.resources ?? { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } };
    this.gpus = props.gpus;
    this.config = alloyConfig(props.logs.pushUrl);
    this.scrapeTargets = [
      { name: 'alloy', namespace: MONITORING_NAMESPACE, podSelector: POD_LABELS, port: ALLOY_HTTP_PORT_NAME, path: '/metrics', component: 'alloy' },
    ];
    const read = ['get', 'list', 'watch'];

    this.release = new ChartRelease<AlloyValues>(this, 'Release', {
      chart: ctx.versions.charts.alloy,
      releaseName: ALLOY_RELEASE,
      namespace: MONITORING_NAMESPACE,
      values: {
        // The chart's PodLogs CRD is for loki.source.podlogs, which this config does not use.
        crds: { create: false },
        global: {
          ...(ctx.imageRegistry ? { image: { registry: ctx.imageRegistry } } : {}),
          podSecurityContext: {
            runAsNonRoot: true,
            runAsUser: ALLOY_UID,
            runAsGroup: ALLOY_UID,
            fsGroup: ALLOY_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
        },
        alloy: {
          configMap: { create: true, content: this.config },
          stabilityLevel: 'generally-available',
          storagePath: STORAGE_PATH,
          enableReporting: false,
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          resources: this.resources,
          // /-/ready answers once the config is loaded; /-/healthy fails whenever a component
          // does (e.g. Loki unreachable), which a restart would not fix.
          livenessProbe: { httpGet: { path: '/-/ready', port: ALLOY_HTTP_PORT }, periodSeconds: 30, failureThreshold: 5, timeoutSeconds: 5 },
          // Logs are read through the API, not from the node's /var/log (which needs hostPath).
          mounts: { varlog: false, dockercontainers: false, extra: [{ name: 'storage', mountPath: '/tmp' }] },
        },
        // The config changes only with a new release, and the chart then rolls the pods (config
        // checksum annotation); no reloader sidecar (an image more, and a container without probes).
        configReloader: { enabled: false },
        controller: {
          type: 'daemonset',
          tolerations: Lazy.any({ produce: () => this.tolerations() }) as unknown as Toleration[],
          volumes: { extra: [{ name: 'storage', emptyDir: {} }] },
        },
        // The chart's default rules read Secrets, ConfigMaps and more in every namespace. This
        // config needs pods (discovery), their logs, and namespaces (for the tenant label). Namespaces
        // go in clusterRules: the chart renders invalid YAML when clusterRules is empty.
        rbac: {
          create: true,
          rules: [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: read }],
          clusterRules: [{ apiGroups: [''], resources: ['namespaces'], verbs: read }],
        },
        // Exception to the baseline: Alloy calls the API (discovery, log streams).
        serviceAccount: { automountServiceAccountToken: true },
        service: { enabled: false },
        serviceMonitor: { enabled: false },
      },
    });
  }

  /** One toleration per GPU pool taint, so the DaemonSet also runs on GPU nodes. */
  tolerations(): Toleration[] {
    const seen = new Set<string>();
    const out: Toleration[] = [];
    for (const pool of this.gpus?.pools ?? []) {
      for (const t of pool.placement().tolerations) {
        const key = JSON.stringify([t.key, t.operator, t.value, t.effect]);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ key: t.key!, operator: t.operator!, value: t.value, effect: t.effect });
      }
    }
    return out;
  }
}

/** `__meta_kubernetes_namespace_label_<name>` as Prometheus' Kubernetes discovery names it. */
export function namespaceLabelMeta(label: string): string {
  return `__meta_kubernetes_namespace_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/** Alloy syntax string literal (JSON escapes are a subset of Alloy's). */
function str(s: string): string {
  return JSON.stringify(s);
}

/**
 * The Alloy configuration: pods of this node → labels → Loki. Written in the layout `alloy fmt`
 * prints (tabs, a blank line around blocks), so the e2e check can compare it byte for byte.
 */
export function alloyConfig(pushUrl: string): string {
  const tenantMeta = namespaceLabelMeta(TENANT_LABEL);
  const rule = (attrs: ReadonlyArray<readonly [string, string]>) => {
    const width = Math.max(...attrs.map(([k]) => k.length));
    return ['', '\trule {', ...attrs.map(([k, v]) => `\t\t${k.padEnd(width)} = ${v}`), '\t}'];
  };
  const copy = (from: string, to: string) => rule([['source_labels', `[${str(from)}]`], ['target_label', str(to)]]);
  return [
    '// Pods of this node only (the chart sets HOSTNAME to spec.nodeName), with their namespace\'s',
    '// labels. Each line gets namespace, pod, container, node and tenant: the namespace label',
    `// ${TENANT_LABEL} in tenant namespaces, "${PLATFORM_TENANT}" everywhere else (relabel regexes are`,
    '// anchored, so regex "" matches only a missing label).',
    'discovery.kubernetes "pods" {',
    '\trole = "pod"',
    '',
    '\tselectors {',
    '\t\trole  = "pod"',
    '\t\tfield = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)',
    '\t}',
    '',
    '\tattach_metadata {',
    '\t\tnamespace = true',
    '\t}',
    '}',
    '',
    'discovery.relabel "pods" {',
    '\ttargets = discovery.kubernetes.pods.targets',
    ...copy('__meta_kubernetes_namespace', 'namespace'),
    ...copy('__meta_kubernetes_pod_name', 'pod'),
    ...copy('__meta_kubernetes_pod_container_name', 'container'),
    ...copy('__meta_kubernetes_pod_node_name', 'node'),
    ...copy(tenantMeta, 'tenant'),
    ...rule([
      ['source_labels', `[${str(tenantMeta)}]`],
      ['regex', '""'],
      ['target_label', '"tenant"'],
      ['replacement', str(PLATFORM_TENANT)],
    ]),
    '}',
    '',
    'loki.source.kubernetes "pods" {',
    '\ttargets    = discovery.relabel.pods.output',
    '\tforward_to = [loki.write.default.receiver]',
    '}',
    '',
    'loki.write "default" {',
    '\tendpoint {',
    `\t\turl = ${str(pushUrl)}`,
    '\t}',
    '}',
    '',
  ].join('\n');
}
