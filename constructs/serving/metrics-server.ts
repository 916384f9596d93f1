import { Construct } from 'constructs';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';

/** metrics-server runs where the chart and the API aggregation expect it. */
export const METRICS_SERVER_NAMESPACE = 'kube-system';
/** The API it serves (APIService `v1beta1.metrics.k8s.io`). */
export const METRICS_API_GROUP = 'metrics.k8s.io';

/**
 * Typed subset of the metrics-server chart's values (3.13.1, metrics-server v0.8.1; paths checked
 * against charts/metrics-server/values.yaml and templates of the sigs.k8s.io/metrics-server module).
 */
export interface MetricsServerValues {
  readonly replicas: number;
  /** Kept apart from `defaultArgs`, which the chart always passes. */
  readonly args: readonly string[];
  readonly podDisruptionBudget: { readonly enabled: boolean; readonly minAvailable?: number };
  readonly resources: { readonly requests: { readonly cpu: string; readonly memory: string }; readonly limits: { readonly memory: string } };
  readonly image?: { readonly repository: string };
  /** `cert-manager`: the chart's own self-signed Issuer and Certificate, CA injected into the APIService. */
  readonly tls: { readonly type: 'cert-manager' };
  /** The API server verifies metrics-server's certificate (the chart's default skips it). */
  readonly apiService: { readonly insecureSkipTLSVerify: boolean };
}

export interface MetricsServerProps extends MetricsServerOptions {
  /** cert-manager's release: the chart's Issuer and Certificate need its CRDs, its cainjector the CA. */
  readonly certManager: ChartRelease<object>;
}

export interface MetricsServerOptions {
  /**
   * Replicas; from 2 a PodDisruptionBudget keeps one serving (the HPAs read it every 15 s).
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Skip verifying the kubelets' serving certificates. Needed where kubelets use self-signed
   * serving certificates (kubeadm's default without `serverTLSBootstrap`); everywhere else leave
   * it off: with it, whoever can answer on a node's kubelet port can feed the autoscalers.
   * @default false
   */
  readonly kubeletInsecureTls?: boolean;
}

/**
 * metrics-server, the `metrics.k8s.io` API: KServe's HorizontalPodAutoscalers (models with
 * `max > min` replicas scale on CPU) read pod CPU from it, as does `kubectl top`. Opt-in, because
 * a cluster has at most one: managed Kubernetes (GKE, AKS, EKS add-on) usually ships its own, and a
 * second release would fight over the cluster-wide APIService.
 */
export class MetricsServer extends Construct {
  readonly namespace = METRICS_SERVER_NAMESPACE;
  readonly release: ChartRelease<MetricsServerValues>;
  readonly replicas: number;

  constructor(scope: Construct, id: string, options: MetricsServerProps) {
    super(scope, id);
    const ctx = PlatformContext.of(this);
    const replicas = options.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new Error(`metrics-server replicas must be 1 to 5, got ${replicas}`);
    this.replicas = replicas;
    this.release = new ChartRelease<MetricsServerValues>(this, 'Resource', {
      chart: ctx.versions.charts.metricsServer,
      releaseName: 'metrics-server',
      namespace: METRICS_SERVER_NAMESPACE,
      dependsOn: [options.certManager],
      values: {
        replicas,
        args: options.kubeletInsecureTls ? ['--kubelet-insecure-tls'] : [],
        podDisruptionBudget: replicas > 1 ? { enabled: true, minAvailable: 1 } : { enabled: false },
        // About 1 MiB per 100 pods plus a base; the limit equals the request (no overcommit).
        resources: { requests: { cpu: '100m', memory: '200Mi' }, limits: { memory: '200Mi' } },
        ...(ctx.imageRegistry ? { image: { repository: `${ctx.imageRegistry}/metrics-server/metrics-server` } } : {}),
        tls: { type: 'cert-manager' },
        apiService: { insecureSkipTLSVerify: false },
      },
    });
  }
}
