/**
 * The versions catalog: every chart and image version mlplat deploys, pinned in one place with
 * where it came from. Components read it through PlatformContext; tests and the e2e harness read
 * the same object (e.g. to fetch the matching CRDs). Nothing else hard-codes a version.
 */

export interface HelmRepository {
  /** Name of the Flux HelmRepository object; stable. */
  readonly name: string;
  readonly url: string;
}

export interface ChartVersion {
  readonly repository: HelmRepository;
  readonly chart: string;
  readonly version: string;
}

export interface ImageRef {
  readonly registry: string;
  readonly repository: string;
  readonly tag: string;
}

/** An API the platform emits objects of but does not install itself, and where its CRDs live. */
export interface CrdSource {
  /** Go module (fetched with `go mod download`) and the CRD directory inside it. */
  readonly goModule: string;
  readonly version: string;
  readonly crdDir: string;
  /**
   * Only these files of `crdDir`.
   * @default - every YAML file of `crdDir`
   */
  readonly files?: readonly string[];
}

export interface VersionsCatalog {
  readonly charts: {
    /** NVIDIA GPU Operator v26.7.0 (chart version == app version, with the leading v): helm.ngc.nvidia.com/nvidia. */
    readonly gpuOperator: ChartVersion;
    /** CloudNativePG operator (PostgreSQL). */
    readonly cloudnativePg: ChartVersion;
    /** Rook Ceph operator. */
    readonly rookCeph: ChartVersion;
    /** cert-manager. */
    readonly certManager: ChartVersion;
    /** Traefik (ingress). */
    readonly traefik: ChartVersion;
    /** kube-prometheus-stack: Prometheus Operator, Prometheus, Alertmanager, node-exporter, kube-state-metrics. */
    readonly kubePrometheusStack: ChartVersion;
    /** Grafana. */
    readonly grafana: ChartVersion;
    /** Loki (logs). */
    readonly loki: ChartVersion;
    /** Grafana Alloy (log shipper). */
    readonly alloy: ChartVersion;
    /** metrics-server (the metrics.k8s.io API that HorizontalPodAutoscalers and `kubectl top` read). */
    readonly metricsServer: ChartVersion;
    /** KServe CRDs. */
    readonly kserveCrd: ChartVersion;
    /** KServe controller (kserve-resources). */
    readonly kserve: ChartVersion;
    /** KServe ClusterServingRuntimes. */
    readonly kserveRuntimes: ChartVersion;
  };
  /** Images of workloads mlplat runs itself. */
  readonly images: {
    /** kubectl with a POSIX shell and coreutils (credentials generator). */
    readonly kubectl: ImageRef;
    /** MinIO server (upstream publishes no community images any more: mirror your own build). */
    readonly minio: ImageRef;
    /** MinIO client `mc` (bootstrap, prefetch). */
    readonly mc: ImageRef;
    /** MLflow with mlflow[auth], psycopg2 and boto3. */
    readonly mlflow: ImageRef;
    /** PostgreSQL operand image of CloudNativePG clusters. */
    readonly postgres: ImageRef;
    /** Ceph operand image of the Rook CephCluster. */
    readonly ceph: ImageRef;
    /** ClearML server, its backends, the Kubernetes glue agent and the default task image. */
    readonly clearml: {
      readonly server: ImageRef;
      readonly mongo: ImageRef;
      readonly elasticsearch: ImageRef;
      readonly redis: ImageRef;
      readonly agent: ImageRef;
      readonly task: ImageRef;
    };
    /** Keycloak (identity provider). */
    readonly keycloak: ImageRef;
    /** oauth2-proxy (ForwardAuth in front of apps without their own login). */
    readonly oauth2Proxy: ImageRef;
    /** Python for small bootstrap scripts (realm applier). */
    readonly python: ImageRef;
    /** busybox (static start page via `httpd`). */
    readonly busybox: ImageRef;
  };
  /** CRDs of prerequisite APIs (GitOps). */
  readonly crds: {
    /** Flux source-controller (HelmRepository), Flux v2.x. */
    readonly fluxSource: CrdSource;
    /** Flux helm-controller (HelmRelease), Flux v2.x. */
    readonly fluxHelm: CrdSource;
    /** CloudNativePG (Cluster, Database, ScheduledBackup). */
    readonly cloudnativePg: CrdSource;
    /** Rook (CephCluster, CephFilesystem, CephObjectStore, ObjectBucketClaim, ...). */
    readonly rook: CrdSource;
    /** cert-manager (Certificate, ClusterIssuer, ...). */
    readonly certManager: CrdSource;
    /** Traefik (IngressRoute, Middleware, TLSStore, ...). */
    readonly traefik: CrdSource;
    /** Prometheus Operator (ServiceMonitor, PodMonitor, PrometheusRule). */
    readonly prometheusOperator: CrdSource;
    /** KServe (InferenceService, ServingRuntime, ClusterServingRuntime, ...). */
    readonly kserve: CrdSource;
    /** KServe ClusterStorageContainer (its own directory in the module). */
    readonly kserveStorage: CrdSource;
  };
}

export const VERSIONS: VersionsCatalog = {
  charts: {
    gpuOperator: {
      repository: { name: 'nvidia', url: 'https://helm.ngc.nvidia.com/nvidia' },
      chart: 'gpu-operator',
      version: 'v26.7.0',
    },
    // Chart 0.29.0 ships operator 1.30.0, whose CRDs the e2e applies (crds.cloudnativePg).
    cloudnativePg: {
      repository: { name: 'cloudnative-pg', url: 'https://cloudnative-pg.github.io/charts' },
      chart: 'cloudnative-pg',
      version: '0.29.0',
    },
    // Rook publishes its charts with the operator's version.
    rookCeph: {
      repository: { name: 'rook-release', url: 'https://charts.rook.io/release' },
      chart: 'rook-ceph',
      version: 'v1.18.8',
    },
    // cert-manager's chart version is its release (charts.jetstack.io).
    certManager: {
      repository: { name: 'jetstack', url: 'https://charts.jetstack.io' },
      chart: 'cert-manager',
      version: 'v1.21.2',
    },
    // Chart 41.3.0 ships Traefik v3.7.11 (appVersion), whose CRDs the e2e applies (docs/design/edge.md).
    traefik: {
      repository: { name: 'traefik', url: 'https://traefik.github.io/charts' },
      chart: 'traefik',
      version: '41.3.0',
    },
    // 88.5.3 = Prometheus Operator v0.93.1, Prometheus v3.14.0, Alertmanager v0.34.0,
    // kube-state-metrics v2.20.0, node-exporter v1.12.1 (docs/design/observability.md).
    kubePrometheusStack: {
      repository: { name: 'prometheus-community', url: 'https://prometheus-community.github.io/helm-charts' },
      chart: 'kube-prometheus-stack',
      version: '88.5.3',
    },
    // The grafana and loki charts moved to grafana-community (2026-01-30 and 2026-03-16).
    grafana: {
      repository: { name: 'grafana-community', url: 'https://grafana-community.github.io/helm-charts' },
      chart: 'grafana',
      version: '12.11.1',
    },
    loki: {
      repository: { name: 'grafana-community', url: 'https://grafana-community.github.io/helm-charts' },
      chart: 'loki',
      version: '18.11.0',
    },
    alloy: {
      repository: { name: 'grafana', url: 'https://grafana.github.io/helm-charts' },
      chart: 'alloy',
      version: '1.11.1',
    },
    // Chart 3.13.1 = metrics-server v0.8.1 (charts/metrics-server of sigs.k8s.io/metrics-server v0.9.0).
    metricsServer: {
      repository: { name: 'metrics-server', url: 'https://kubernetes-sigs.github.io/metrics-server/' },
      chart: 'metrics-server',
      version: '3.13.1',
    },
    // KServe v0.20.0 publishes its charts as OCI artifacts only (docs/design/serving.md).
    kserveCrd: {
      repository: { name: 'kserve', url: 'oci://ghcr.io/kserve/charts' },
      chart: 'kserve-crd',
      version: 'v0.20.0',
    },
    kserve: {
      repository: { name: 'kserve', url: 'oci://ghcr.io/kserve/charts' },
      chart: 'kserve-resources',
      version: 'v0.20.0',
    },
    kserveRuntimes: {
      repository: { name: 'kserve', url: 'oci://ghcr.io/kserve/charts' },
      chart: 'kserve-runtime-configs',
      version: 'v0.20.0',
    },
  },
  images: {
    // Alpine with kubectl; tags follow kubectl releases.
    kubectl: { registry: 'docker.io', repository: 'alpine/k8s', tag: '1.34.4' },
    // The last images MinIO published for the community edition (2025-09); newer releases are
    // source only (docs/storage-minio.md says how to build and mirror your own).
    minio: { registry: 'quay.io', repository: 'minio/minio', tag: 'RELEASE.2025-09-07T16-13-09Z' },
    mc: { registry: 'quay.io', repository: 'minio/mc', tag: 'RELEASE.2025-08-13T08-35-41Z' },
    // The "-full" variant carries the database and cloud-storage clients.
    mlflow: { registry: 'ghcr.io', repository: 'mlflow/mlflow', tag: 'v3.17.2-full' },
    // The operand image CloudNativePG v1.30.0 defaults to (pkg/versions DefaultImageName); the
    // "system" variant carries barman-cloud, which the in-tree object-store backup needs.
    postgres: { registry: 'ghcr.io', repository: 'cloudnative-pg/postgresql', tag: '18.4-system-trixie' },
    // The image Rook v1.18.8's own examples run (deploy/examples/cluster.yaml, images.txt).
    ceph: { registry: 'quay.io', repository: 'ceph/ceph', tag: 'v19.2.3' },
    // Images of the official ClearML Server 2.0 deployment. The backends are the ones
    // clearml-server `docker/docker-compose.yml` pins at tag v2.0.0; that file runs the server as
    // `allegroai/clearml:latest`, so the server tag is the one clearml-helm-charts
    // `charts/clearml/values.yaml` (chart 7.14.x, appVersion 2.0) pins. The agent glue image is the
    // one `charts/clearml-agent/values.yaml` (chart 5.3.x) pins.
    clearml: {
      server: { registry: 'docker.io', repository: 'allegroai/clearml', tag: '2.0.0-613' },
      mongo: { registry: 'docker.io', repository: 'library/mongo', tag: '6.0.19' },
      elasticsearch: { registry: 'docker.io', repository: 'library/elasticsearch', tag: '8.17.0' },
      redis: { registry: 'docker.io', repository: 'library/redis', tag: '7.4.1' },
      agent: { registry: 'docker.io', repository: 'allegroai/clearml-agent-k8s-base', tag: '1.24-21' },
      // Task pods run as a non-root user (tenant namespaces enforce Pod Security `restricted`), so
      // the agent's apt-get bootstrap cannot run: the default image must already carry python3, pip
      // and git. Not an upstream choice (the agent chart's ubuntu:18.04 default needs root).
      task: { registry: 'docker.io', repository: 'library/python', tag: '3.12.11-bookworm' },
    },
    // The release whose distribution (Maven Central org.keycloak:keycloak-quarkus-dist:26.7.3) the
    // e2e runs; the image of the same tag is Keycloak's official container (quay.io/keycloak).
    keycloak: { registry: 'quay.io', repository: 'keycloak/keycloak', tag: '26.7.3' },
    // v7.15.3: v7.15.2 fixed authentication bypasses (X-Forwarded-Uri spoofing); the tag upstream's
    // contrib/local-environment pins. The e2e builds the same version from its Go module.
    oauth2Proxy: { registry: 'quay.io', repository: 'oauth2-proxy/oauth2-proxy', tag: 'v7.15.3' },
    // Standard library only is needed (realm applier); the same image as ClearML's task default.
    python: { registry: 'docker.io', repository: 'library/python', tag: '3.12.11-bookworm' },
    // Static busybox for the start page (`httpd`); checked with Debian's busybox-static 1.35.
    busybox: { registry: 'docker.io', repository: 'library/busybox', tag: '1.37.0' },
  },
  crds: {
    // Flux v2.9.5 ships source-controller v1.9.5 and helm-controller v1.6.4.
    fluxSource: { goModule: 'github.com/fluxcd/source-controller', version: 'v1.9.5', crdDir: 'config/crd/bases' },
    fluxHelm: { goModule: 'github.com/fluxcd/helm-controller', version: 'v1.6.4', crdDir: 'config/crd/bases' },
    cloudnativePg: { goModule: 'github.com/cloudnative-pg/cloudnative-pg', version: 'v1.30.0', crdDir: 'config/crd/bases' },
    rook: { goModule: 'github.com/rook/rook', version: 'v1.18.8', crdDir: 'deploy/examples', files: ['crds.yaml'] },
    certManager: { goModule: 'github.com/cert-manager/cert-manager', version: 'v1.21.2', crdDir: 'deploy/crds' },
    traefik: {
      goModule: 'github.com/traefik/traefik/v3',
      version: 'v3.7.11',
      crdDir: 'docs/content/reference/dynamic-configuration',
      files: ['kubernetes-crd-definition-v1.yml'],
    },
    // The chart's operator version; the chart's crds/ are the same bytes.
    prometheusOperator: {
      goModule: 'github.com/prometheus-operator/prometheus-operator',
      version: 'v0.93.1',
      crdDir: 'example/prometheus-operator-crd',
      files: ['monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_podmonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml'],
    },
    kserve: { goModule: 'github.com/kserve/kserve', version: 'v0.20.0', crdDir: 'config/crd/full' },
    kserveStorage: { goModule: 'github.com/kserve/kserve', version: 'v0.20.0', crdDir: 'config/crd/full/clusterstoragecontainer' },
  },
};
