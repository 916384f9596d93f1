import { Construct } from 'constructs';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';
import { platformNamespace } from '../../lib/workload';
import { IMetricsSource, ScrapeTarget } from '../observability/types';
import { IObjectStore } from '../storage/types';

export const KSERVE_NAMESPACE = 'kserve';
/** InferenceServices, ServingRuntimes, ClusterServingRuntimes, ClusterStorageContainers. */
export const KSERVE_API_GROUP = 'serving.kserve.io';

/** The ClusterServingRuntimes mlplat offers, by the model format each serves by default. */
export const DEFAULT_RUNTIMES = {
  huggingface: 'kserve-huggingfaceserver',
  sklearn: 'kserve-sklearnserver',
  xgboost: 'kserve-xgbserver',
  lightgbm: 'kserve-lgbserver',
  mlflow: 'kserve-mlserver',
  onnx: 'kserve-tritonserver',
  tensorrt: 'kserve-tritonserver',
  triton: 'kserve-tritonserver',
  pytorch: 'kserve-tritonserver',
  tensorflow: 'kserve-tritonserver',
} as const;

/** Typed subset of the kserve-resources chart's values (v0.20.0, charts/kserve-resources/values.yaml). */
export interface KserveValues {
  readonly kserve: {
    readonly controller: {
      /** v0.20 names the raw mode `Standard` (`RawDeployment` is deprecated and rewritten). */
      readonly deploymentMode: 'Standard';
      readonly gateway: {
        readonly domain: string;
        readonly domainTemplate: string;
        readonly urlScheme: 'https';
        /** mlplat routes through Traefik with authentication; KServe's own Ingress has none. */
        readonly disableIngressCreation: boolean;
      };
      readonly image?: string;
      /**
       * The manager's plain-HTTP metrics listener (`--metrics-addr`, port `metrics` 8080); the
       * chart binds it to loopback behind kube-rbac-proxy by default.
       */
      readonly metricsBindAddress: string;
    };
    readonly storage: {
      readonly s3: { readonly endpoint: string; readonly region: string; readonly useVirtualBucket: 'false' };
      readonly image?: string;
    };
    readonly security: { readonly autoMountServiceAccountToken: boolean };
  };
}

/**
 * The runtimes' image repositories in the kserve-runtime-configs chart's values (v0.20.0), by
 * values key; the tag stays the chart's. With `spec.imageRegistry` each is pulled through it.
 */
export const RUNTIME_IMAGES = {
  tensorflow: 'docker.io/tensorflow/serving',
  mlserver: 'docker.io/seldonio/mlserver',
  sklearnserver: 'docker.io/kserve/sklearnserver',
  xgbserver: 'docker.io/kserve/xgbserver',
  huggingfaceserver: 'docker.io/kserve/huggingfaceserver',
  tritonserver: 'nvcr.io/nvidia/tritonserver',
  pmmlserver: 'docker.io/kserve/pmmlserver',
  predictiveserver: 'docker.io/kserve/predictiveserver',
  paddleserver: 'docker.io/kserve/paddleserver',
  lgbserver: 'docker.io/kserve/lgbserver',
  autogluonserver: 'docker.io/kserve/autogluonserver',
  torchserve: 'docker.io/pytorch/torchserve-kfs',
} as const;

type RuntimeImageValues = { readonly [K in Exclude<keyof typeof RUNTIME_IMAGES, 'huggingfaceserver'>]?: { readonly image: string } };

/** Typed subset of the kserve-runtime-configs chart's values (v0.20.0). */
export interface KserveRuntimeValues {
  readonly kserve: {
    readonly servingruntime: RuntimeImageValues & {
      readonly enabled: boolean;
      /** Unpinned image (`latest`) running as root: refused in tenant namespaces. */
      readonly vllmserver: { readonly disabled: boolean };
      /** Its base runtime mounts a memory-backed /dev/shm; bound it (it counts against the pod's memory). */
      readonly huggingfaceserver: { readonly devShm: { readonly enabled: boolean; readonly sizeLimit: string }; readonly image?: string };
    };
  };
}

/** `registry/repository` → `<mirror>/repository` (the host dropped, as `PlatformContext.image` does). */
function mirrored(mirror: string, image: string): string {
  return `${mirror}/${image.slice(image.indexOf('/') + 1)}`;
}

export interface KserveProps {
  /** Where tenants' models are loaded from (the storage initializer's S3 endpoint). */
  readonly store: IObjectStore;
  /** cert-manager's release: KServe's webhook certificate is issued by it. */
  readonly certManager: ChartRelease<object>;
}

/**
 * KServe v0.20.0 through three chart releases in namespace `kserve`: the CRDs, the controller in
 * standard (raw Deployment) mode with KServe's own Ingress creation off (mlplat routes and
 * authenticates every endpoint through Traefik), and the ClusterServingRuntimes (Hugging Face
 * with vLLM, scikit-learn, XGBoost, LightGBM, MLServer for MLflow models, Triton). No Knative or
 * Istio is needed (docs/serving.md says how to run serverless instead).
 */
export class Kserve extends Construct implements IMetricsSource {
  readonly namespace = KSERVE_NAMESPACE;
  readonly crds: ChartRelease;
  readonly controller: ChartRelease<KserveValues>;
  readonly runtimes: ChartRelease<KserveRuntimeValues>;
  /**
   * The controller's metrics (reconciles, work queues, webhook latency): the chart's manager
   * container names port 8080 `metrics`; its pods carry `control-plane: kserve-controller-manager`.
   */
  readonly scrapeTargets: readonly ScrapeTarget[] = [
    { name: 'kserve-controller', namespace: KSERVE_NAMESPACE, podSelector: { 'control-plane': 'kserve-controller-manager' }, port: 'metrics', component: 'kserve' },
  ];

  constructor(scope: Construct, id: string, props: KserveProps) {
    super(scope, id);
    const ctx = PlatformContext.of(this);
    const ns = KSERVE_NAMESPACE;
    platformNamespace(this, 'Namespace', ns, 'restricted');
    this.crds = new ChartRelease(this, 'Crds', {
      chart: ctx.versions.charts.kserveCrd,
      releaseName: 'kserve-crd',
      namespace: ns,
      provides: [KSERVE_API_GROUP],
      values: {},
    });
    const mirror = (repository: string) => (ctx.imageRegistry ? `${ctx.imageRegistry}/${repository}` : undefined);
    this.controller = new ChartRelease<KserveValues>(this, 'Controller', {
      chart: ctx.versions.charts.kserve,
      releaseName: 'kserve',
      namespace: ns,
      dependsOn: [this.crds, props.certManager],
      values: {
        kserve: {
          controller: {
            deploymentMode: 'Standard',
            gateway: {
              domain: ctx.domain,
              // status.url then names the host mlplat routes: <model>.<tenant>.<domain>.
              domainTemplate: '{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}',
              urlScheme: 'https',
              disableIngressCreation: true,
            },
            ...(mirror('kserve/kserve-controller') ? { image: mirror('kserve/kserve-controller') } : {}),
            // Reachable by Prometheus; tenants' egress policies do not reach this namespace (it
            // is not labelled tenant-reachable), so the plain-HTTP listener stays in the platform.
            metricsBindAddress: '0.0.0.0',
          },
          storage: {
            // An http:// endpoint makes the storage initializer use plain HTTP (S3_USE_HTTPS=0).
            s3: { endpoint: props.store.s3.url, region: props.store.region, useVirtualBucket: 'false' },
            ...(mirror('kserve/storage-initializer') ? { image: mirror('kserve/storage-initializer') } : {}),
          },
          // Predictors get no API token (the webhook defaults automountServiceAccountToken).
          security: { autoMountServiceAccountToken: false },
        },
      },
    });
    this.runtimes = new ChartRelease<KserveRuntimeValues>(this, 'Runtimes', {
      chart: ctx.versions.charts.kserveRuntimes,
      releaseName: 'kserve-runtime-configs',
      namespace: ns,
      // Its ClusterServingRuntimes pass KServe's validating webhook (failurePolicy Fail).
      dependsOn: [this.controller],
      values: {
        kserve: {
          servingruntime: {
            enabled: true,
            ...(ctx.imageRegistry
              ? Object.fromEntries(Object.entries(RUNTIME_IMAGES).filter(([key]) => key !== 'huggingfaceserver').map(([key, image]) => [key, { image: mirrored(ctx.imageRegistry!, image) }]))
              : {}),
            vllmserver: { disabled: true },
            huggingfaceserver: {
              devShm: { enabled: true, sizeLimit: '2Gi' },
              ...(ctx.imageRegistry ? { image: mirrored(ctx.imageRegistry, RUNTIME_IMAGES.huggingfaceserver) } : {}),
            },
          },
        },
      },
    });
  }
}
