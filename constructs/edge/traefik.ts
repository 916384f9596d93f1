import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';
import { platformNamespace } from '../../lib/workload';
import { IMetricsSource, ScrapeTarget } from '../observability/types';
import { TlsMode } from './cert-manager';

export const TRAEFIK_NAMESPACE = 'traefik';
export const INGRESS_CLASS = 'traefik';
/** Label cert-manager puts on its HTTP-01 solver Ingresses (pkg/issuer/acme/http). */
export const ACME_SOLVER_LABEL = 'acme.cert-manager.io/http01-solver';
const RELEASE = 'traefik';

/**
 * Typed subset of the traefik chart's values (chart 41.3.0, traefik/values.yaml; its
 * values.schema.json refuses unknown top-level keys, so only these are set).
 */
export interface TraefikValues {
  readonly deployment: { readonly replicas: number };
  readonly podDisruptionBudget: { readonly enabled: boolean; readonly minAvailable?: number };
  readonly ingressClass: { readonly enabled: boolean; readonly isDefaultClass: boolean; readonly name: string };
  readonly ports: {
    readonly web: {
      readonly http: { readonly redirections: { readonly entryPoint: { readonly to: string; readonly scheme: string; readonly permanent: boolean } } };
      /** ACME HTTP-01 challenges are answered on port 80, not redirected. */
      readonly allowACMEByPass: boolean;
      readonly nodePort?: number;
    };
    readonly websecure: { readonly nodePort?: number; readonly http: { readonly underscoreHeadersStrategy: 'keep' | 'delete' | 'reject' } };
  };
  readonly service: { readonly spec: { readonly type: 'LoadBalancer' | 'NodePort' } };
  readonly providers: {
    readonly kubernetesCRD: { readonly enabled: boolean; readonly allowCrossNamespace: boolean };
    readonly kubernetesIngress: { readonly enabled: boolean; readonly namespaces?: readonly string[]; readonly labelSelector?: string };
  };
  readonly metrics: { readonly prometheus: { readonly entryPoint: string } };
  readonly log: { readonly level: string; readonly format: string };
  readonly accessLog: { readonly enabled: boolean; readonly format: string };
  readonly global: { readonly checkNewVersion: boolean; readonly sendAnonymousUsage: boolean };
  readonly resources: { readonly requests: { readonly cpu: string; readonly memory: string }; readonly limits: { readonly memory: string } };
  readonly image?: { readonly registry: string };
}

export interface TraefikOptions {
  /**
   * Service type of the entry points: a cloud load balancer, or node ports on bare metal.
   * @default 'LoadBalancer'
   */
  readonly serviceType?: 'LoadBalancer' | 'NodePort';
  /**
   * Node ports of http and https (NodePort only).
   * @default - assigned by Kubernetes
   */
  readonly nodePorts?: { readonly http: number; readonly https: number };
  /**
   * Traefik replicas; a PodDisruptionBudget keeps one up when more than one.
   * @default 2
   */
  readonly replicas?: number;
}

export interface TraefikProps extends TraefikOptions {
  readonly tls: TlsMode;
  /**
   * Namespaces of the routed apps, read when the output is written: with ACME, the only
   * namespaces whose (cert-manager solver) Ingresses Traefik serves.
   * @default - none
   */
  readonly routedNamespaces?: () => readonly string[];
}

/**
 * Traefik (Helm, through ChartRelease) as the platform's ingress: IngressClass `traefik`, every
 * http request redirected to https, Kubernetes CRD provider with cross-namespace references off
 * (each routed namespace holds its own middlewares), Prometheus metrics, JSON access logs. The
 * Ingress provider is on only for ACME, whose HTTP-01 solver answers through an Ingress. With
 * `existingSecret`, the client's certificate is Traefik's default (TLSStore `default`).
 */
export class Traefik extends Construct implements IMetricsSource {
  readonly namespace = TRAEFIK_NAMESPACE;
  readonly ingressClassName = INGRESS_CLASS;
  /** The https entry point of the chart, where every route is served. */
  readonly entryPoint = 'websecure';
  readonly serviceType: 'LoadBalancer' | 'NodePort';
  readonly replicas: number;
  readonly release: ChartRelease<TraefikValues>;
  /**
   * Traefik's pods serve Prometheus metrics on their `metrics` entry point (container port
   * `metrics`, 9100, path `/metrics`), whatever the chart's metrics Service and ServiceMonitor
   * switches say. mlplat scrapes them with a PodMonitor of its own rather than the chart's
   * ServiceMonitor: the chart refuses to render one unless monitoring.coreos.com/v1 is already
   * served (templates/servicemonitor.yaml), which would tie installing the ingress to the
   * monitoring release. Pod labels: the chart's `traefik.labelselector` (release `traefik` in
   * namespace `traefik`).
   */
  readonly scrapeTargets: readonly ScrapeTarget[] = [
    {
      name: 'traefik',
      namespace: TRAEFIK_NAMESPACE,
      podSelector: { 'app.kubernetes.io/name': 'traefik', 'app.kubernetes.io/instance': `${RELEASE}-${TRAEFIK_NAMESPACE}` },
      port: 'metrics',
      path: '/metrics',
      component: 'traefik',
    },
  ];

  constructor(scope: Construct, id: string, props: TraefikProps) {
    const serviceType = props.serviceType ?? 'LoadBalancer';
    if (props.nodePorts && serviceType !== 'NodePort') throw new Error(`ingress nodePorts need serviceType NodePort (got ${serviceType})`);
    const replicas = props.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`ingress replicas must be a positive integer, got ${replicas}`);
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.serviceType = serviceType;
    this.replicas = replicas;
    const acme = props.tls.mode === 'acme';
    // Never empty: an empty list means every namespace to Traefik.
    const routedNamespaces = () => [...new Set([TRAEFIK_NAMESPACE, ...(props.routedNamespaces?.() ?? [])])].sort();

    platformNamespace(this, 'Namespace', TRAEFIK_NAMESPACE, 'restricted');
    this.release = new ChartRelease<TraefikValues>(this, 'Release', {
      chart: ctx.versions.charts.traefik,
      releaseName: RELEASE,
      namespace: TRAEFIK_NAMESPACE,
      provides: ['traefik.io'],
      values: {
        deployment: { replicas },
        podDisruptionBudget: replicas > 1 ? { enabled: true, minAvailable: 1 } : { enabled: false },
        ingressClass: { enabled: true, isDefaultClass: false, name: INGRESS_CLASS },
        ports: {
          web: {
            http: { redirections: { entryPoint: { to: 'websecure', scheme: 'https', permanent: true } } },
            allowACMEByPass: acme,
            ...(props.nodePorts ? { nodePort: props.nodePorts.http } : {}),
          },
          websecure: {
            ...(props.nodePorts ? { nodePort: props.nodePorts.https } : {}),
            // `X_Auth_Request_User` would pass the exact-name header stripping of forwardAuth
            // and look like the real header to some apps: drop such headers (v3.7.6+).
            http: { underscoreHeadersStrategy: 'delete' },
          },
        },
        service: { spec: { type: serviceType } },
        providers: {
          kubernetesCRD: { enabled: true, allowCrossNamespace: false },
          // Only cert-manager's HTTP-01 solver Ingresses, only in routed apps' namespaces: an
          // Ingress a tenant writes (they may) must never claim a platform host.
          kubernetesIngress: acme
            ? {
              enabled: true,
              namespaces: Lazy.any({ produce: () => routedNamespaces() }) as unknown as string[],
              labelSelector: `${ACME_SOLVER_LABEL}=true`,
            }
            : { enabled: false },
        },
        metrics: { prometheus: { entryPoint: 'metrics' } },
        log: { level: 'INFO', format: 'json' },
        accessLog: { enabled: true, format: 'json' },
        global: { checkNewVersion: false, sendAnonymousUsage: false },
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
        ...(ctx.imageRegistry ? { image: { registry: ctx.imageRegistry } } : {}),
      },
    });

    if (props.tls.mode === 'existingSecret') {
      new ApiObject(this, 'DefaultCertificate', {
        apiVersion: 'traefik.io/v1alpha1',
        kind: 'TLSStore',
        metadata: { name: 'default', namespace: TRAEFIK_NAMESPACE },
        spec: { defaultCertificate: { secretName: props.tls.secretName } },
      });
    }
  }
}
