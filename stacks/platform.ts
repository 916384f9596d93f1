import { App } from 'cdk8s';
import { Construct } from 'constructs';
import { ComponentChart } from '../lib/component';
import { PlatformContext, PlatformContextProps } from '../lib/context';
import { PlatformSpec } from '../lib/config/schema';
import { objectInvariants } from '../lib/invariants';
import { DatasetCache, DatasetCacheOptions } from '../constructs/cache/dataset-cache';
import { CredentialGenerator } from '../constructs/credentials/generator';
import { PlatformDatabase, PlatformDatabaseOptions } from '../constructs/database/postgres';
import { CertManager, TlsMode } from '../constructs/edge/cert-manager';
import { IngressRouter } from '../constructs/edge/router';
import { Traefik, TraefikOptions } from '../constructs/edge/traefik';
import { ExposeOptions, WebUi } from '../constructs/edge/types';
import { Keycloak, KEYCLOAK_APP, KeycloakOptions } from '../constructs/identity/keycloak';
import { KubernetesAccess } from '../constructs/identity/kubernetes-access';
import { Alloy } from '../constructs/observability/alloy';
import { Grafana, GRAFANA_APP, GrafanaOptions } from '../constructs/observability/grafana';
import { Loki, LokiOptions } from '../constructs/observability/loki';
import { Monitoring, MonitoringOptions } from '../constructs/observability/prometheus';
import { PlatformRules, PlatformRulesOptions } from '../constructs/observability/rules';
import { IMetricsSource } from '../constructs/observability/types';
import { SsoGate } from '../constructs/edge/sso-gate';
import { StartPage } from '../constructs/portal/start-page';
import { InferenceEndpoint, ModelFormat, ModelSource } from '../constructs/serving/endpoint';
import { MetricsServer, MetricsServerOptions } from '../constructs/serving/metrics-server';
import { ModelServing } from '../constructs/serving/serving';
import { GpuOperator, GpuOperatorOptions } from '../constructs/gpu/operator';
import { CephStore, CephStoreOptions } from '../constructs/storage/ceph';
import { MinioStore, MinioStoreOptions } from '../constructs/storage/minio';
import { IObjectStore } from '../constructs/storage/types';
import { TenantGuard } from '../constructs/tenancy/guard';
import { Tenant, TenantOptions } from '../constructs/tenancy/tenant';
import { ClearmlServer, ClearmlServerOptions } from '../constructs/tracking/clearml';
import { MlflowServer, MlflowServerOptions } from '../constructs/tracking/mlflow';

/** Apply order of the components: what others depend on comes first. */
export const COMPONENT_ORDER = {
  gpu: 10,
  // Creates namespace `grafana`, where kube-prometheus-stack puts its dashboards.
  grafana: 11,
  // Before everything it scrapes: PodMonitors of other components land in their own files.
  monitoring: 12,
  tenancy: 15,
  tenants: 20,
  certManager: 25,
  ingress: 26,
  storage: 30,
  database: 35,
  identity: 38,
  tracking: 40,
  datasetCache: 45,
  portal: 50,
  serving: 55,
  logs: 57,
  // Last: its Roles live in the namespaces of every component before it. Workloads wait for
  // their Secrets (the kubelet retries) until its Job has run.
  credentials: 90,
} as const;

export type StorageOptions = ({ readonly kind: 'minio' } & MinioStoreOptions) | ({ readonly kind: 'ceph' } & CephStoreOptions);
export type TrackingOptions = ({ readonly kind: 'mlflow' } & MlflowServerOptions) | ({ readonly kind: 'clearml' } & ClearmlServerOptions);
export interface DatasetCacheEnableOptions extends DatasetCacheOptions {
  /**
   * NFS export holding the cache; required unless the storage is Ceph (CephFS is used then).
   * @default - CephFS of the Ceph store
   */
  readonly nfs?: { readonly server: string; readonly path: string };
}

export interface SsoEnableOptions extends KeycloakOptions {
  /**
   * The cluster's API server URL, for the tenants' kubeconfig files.
   * @default - a placeholder in those files
   */
  readonly kubernetesApiServer?: string;
}

/** The platform ingress: Traefik, cert-manager and the router apps are exposed through. */
export interface PlatformEdge {
  readonly certManager: CertManager;
  readonly traefik: Traefik;
  readonly router: IngressRouter;
}

export interface MlPlatformProps extends PlatformContextProps {
  /**
   * GPU Operator settings.
   * @default - driver preinstalled, DCGM exporter on
   */
  readonly gpu?: GpuOperatorOptions;
  /**
   * The platform PostgreSQL (created when a component needs a database).
   * @default - one instance, 20Gi, daily backups kept 30 days
   */
  readonly database?: PlatformDatabaseOptions;
}

/**
 * The whole ML platform of one client. The only place components are wired together:
 * it creates each component in a chart of its own and hands them typed handles.
 */
export class MlPlatform extends Construct {
  /** Builds the platform a validated config describes. */
  static fromSpec(scope: Construct, spec: PlatformSpec): MlPlatform {
    const s = spec.spec;
    const platform = new MlPlatform(scope, 'Platform', {
      client: spec.metadata.name,
      domain: s.domain,
      imageRegistry: s.imageRegistry,
      groupPrefix: s.access.groupPrefix,
      gpu: { driver: s.gpu.operator.driver },
      database: {
        instances: s.database.instances,
        size: s.database.size,
        storageClass: s.database.storageClass,
        backupSchedule: s.database.backup.schedule,
        backupRetention: s.database.backup.retention,
      },
    });
    for (const p of s.gpu.pools) {
      platform.gpu.addPool(p.name, { gpuModel: p.gpuModel, gpusPerNode: p.gpusPerNode, nodeSelector: p.nodeSelector, sharing: p.sharing });
    }
    if (s.ingress) {
      platform.enableIngress({ ...s.ingress, tls: s.tls ?? { mode: 'selfSigned' } });
    }
    if (s.storage) {
      const { kind, ...rest } = s.storage;
      platform.enableStorage(kind === 'minio' ? { kind, ...(rest as MinioStoreOptions) } : { kind, ...(rest as CephStoreOptions) });
    }
    if (s.observability) {
      const o = s.observability;
      platform.enableMonitoring({
        retention: o.metrics.retention,
        size: o.metrics.size,
        storageClass: o.metrics.storageClass,
        alertmanager: { replicas: o.alertmanager.replicas, size: o.alertmanager.size, receivers: o.alertmanager.receivers },
        controlPlaneTargets: o.controlPlaneTargets,
        alerts: o.alerts,
      });
    }
    if (s.sso) {
      platform.enableSso(s.sso);
      if (s.ingress) platform.enableStartPage();
    }
    if (s.tracking) {
      platform.enableTracking(s.tracking.kind === 'mlflow' ? { ...s.tracking } : { ...s.tracking });
    }
    if (s.datasetCache) {
      const c = s.datasetCache;
      const cache = platform.enableDatasetCache({ size: c.size, nfs: c.nfs, scratchSize: c.scratch.size, scratchStorageClass: c.scratch.storageClass });
      for (const p of c.prefetch) cache.addPrefetch(p);
    }
    for (const t of s.tenants) {
      const tenant = platform.addTenant(t.name, {
        groups: t.groups,
        cpu: t.quota.cpu,
        memory: t.quota.memory,
        allowInternetEgress: t.allowInternetEgress,
        allowServiceExposure: t.allowServiceExposure,
      });
      // A pool listed with 0 GPUs is not granted.
      for (const [pool, gpus] of Object.entries(t.quota.gpus)) if (gpus > 0) tenant.grantGpus(platform.gpu.pool(pool), gpus);
    }
    if (s.observability) {
      platform.enableLogs({ retention: s.observability.logs.retention, size: s.observability.logs.size, storageClass: s.observability.logs.storageClass });
      platform.enableGrafana(s.observability.grafana);
    }
    if (s.serving) {
      platform.enableServing({ metricsServer: s.serving.metricsServer });
      for (const m of s.serving.models) {
        platform.serveModel({
          name: m.name,
          tenant: m.tenant,
          format: m.format,
          runtime: m.runtime,
          source: m.source as ModelSource,
          pool: m.pool,
          gpus: m.gpus,
          replicas: { min: m.replicas.min, max: m.replicas.max },
          resources: m.resources,
          args: m.args,
        });
      }
    }
    return platform;
  }

  readonly context: PlatformContext;
  readonly gpu: GpuOperator;
  readonly tenantGuard: TenantGuard;
  private generator?: CredentialGenerator;
  private readonly tenantList: Tenant[] = [];
  private readonly databaseOptions: PlatformDatabaseOptions;
  private objectStore?: MinioStore | CephStore;
  private postgres?: PlatformDatabase;
  private trackingServer?: MlflowServer | ClearmlServer;
  private cache?: DatasetCache;
  private edge?: PlatformEdge;
  private keycloak?: Keycloak;
  private kubernetesAccess?: KubernetesAccess;
  private startPage?: StartPage;
  private modelServing?: ModelServing;
  private monitoringStack?: Monitoring;
  private metricsServerAddon?: MetricsServer;
  private grafanaServer?: Grafana;
  private logStack?: { readonly loki: Loki; readonly alloy: Alloy };
  /** Components with metrics, scraped once monitoring is enabled (in any order). */
  private readonly metricsSources: Array<IMetricsSource & Construct> = [];
  /** Apps waiting for the ingress and the identity provider to be routed. */
  private readonly pendingRoutes: Array<{ readonly scope: Construct; readonly options: ExposeOptions }> = [];

  constructor(scope: Construct, id: string, props: MlPlatformProps) {
    super(scope, id);
    this.context = PlatformContext.attach(this, props);
    const gpuChart = new ComponentChart(this, 'Gpu', { name: 'gpu-operator', component: 'gpu', order: COMPONENT_ORDER.gpu });
    this.gpu = new GpuOperator(gpuChart, 'GpuOperator', props.gpu);
    const tenancyChart = new ComponentChart(this, 'Tenancy', { name: 'tenancy', component: 'tenancy', order: COMPONENT_ORDER.tenancy });
    this.tenantGuard = new TenantGuard(tenancyChart, 'Guard');
    this.databaseOptions = props.database ?? {};
    this.node.addValidation({ validate: () => objectInvariants(this) });
    // Apps are routed once both exist; half of it routes nothing, which must not pass silently.
    this.node.addValidation({
      validate: () =>
        this.pendingRoutes.length > 0 && !!this.edge !== !!this.keycloak
          ? [`apps ${this.pendingRoutes.map((r) => r.options.app).join(', ')} are not routed: ${this.edge ? 'enableSso()' : 'enableIngress()'} is missing (routes need both)`]
          : [],
    });
  }

  /**
   * Generates every password and key of the platform inside the cluster, once. Created with the
   * first component that needs a credential (a platform without one has no credentials Job).
   */
  get credentials(): CredentialGenerator {
    if (!this.generator) {
      const chart = new ComponentChart(this, 'Credentials', { name: 'credentials', component: 'credentials', order: COMPONENT_ORDER.credentials });
      this.generator = new CredentialGenerator(chart, 'Generator');
    }
    return this.generator;
  }

  /** The object store, when enabled. */
  get storage(): IObjectStore | undefined {
    return this.objectStore;
  }

  get database(): PlatformDatabase | undefined {
    return this.postgres;
  }

  get tracking(): MlflowServer | ClearmlServer | undefined {
    return this.trackingServer;
  }

  get datasetCache(): DatasetCache | undefined {
    return this.cache;
  }

  /** The ingress (Traefik), certificates (cert-manager) and the router, when enabled. */
  get ingress(): PlatformEdge | undefined {
    return this.edge;
  }

  /** The identity provider (Keycloak), when enabled. */
  get sso(): Keycloak | undefined {
    return this.keycloak;
  }

  /**
   * Traefik as the platform's ingress and cert-manager with the issuer of `tls`. Apps are routed
   * through it, behind SSO, once the identity provider exists.
   */
  enableIngress(options: TraefikOptions & { readonly tls: TlsMode }): PlatformEdge {
    if (this.edge) throw new Error('the ingress is enabled twice');
    const { tls, ...traefikOptions } = options;
    const certChart = new ComponentChart(this, 'CertManager', { name: 'cert-manager', component: 'edge', order: COMPONENT_ORDER.certManager });
    const ingressChart = new ComponentChart(this, 'Ingress', { name: 'traefik', component: 'edge', order: COMPONENT_ORDER.ingress });
    const traefik = new Traefik(ingressChart, 'Traefik', { ...traefikOptions, tls, routedNamespaces: () => this.edge?.router.routes.map((r) => r.namespace) ?? [] });
    const certManager = new CertManager(certChart, 'CertManager', { tls, ingressClassName: traefik.ingressClassName });
    this.observe(traefik);
    this.observe(certManager);
    const router = new IngressRouter({ traefikNamespace: traefik.namespace, entryPoint: traefik.entryPoint, certificates: certManager, credentials: () => this.credentials });
    this.edge = { certManager, traefik, router };
    if (this.keycloak) router.useIdentityProvider(this.keycloak);
    this.flushRoutes();
    return this.edge;
  }

  /**
   * Keycloak on the platform PostgreSQL with the client's realm, the Kubernetes API login
   * (authentication config and tenant kubeconfigs under `access/`), and SSO in front of every
   * routed app. Needs storage (the database's backups); apps are routed once the ingress exists.
   */
  enableSso(options: SsoEnableOptions = {}): Keycloak {
    if (this.keycloak) throw new Error('sso is enabled twice');
    const { kubernetesApiServer, ...keycloakOptions } = options;
    const database = this.databaseFor('Keycloak');
    const chart = new ComponentChart(this, 'Identity', { name: 'keycloak', component: 'identity', order: COMPONENT_ORDER.identity });
    const keycloak = new Keycloak(chart, 'Keycloak', { ...keycloakOptions, credentials: this.credentials, database });
    this.keycloak = keycloak;
    this.observe(keycloak);
    this.kubernetesAccess = new KubernetesAccess(chart, 'KubernetesAccess', {
      provider: keycloak,
      apiServer: kubernetesApiServer,
      privateCa: () => this.edge?.certManager.tls.mode === 'selfSigned',
    });
    // A start page made before sso gets its kubectl section now.
    this.startPage?.setKubernetesAccess({ issuerUrl: this.kubernetesAccess.issuerUrl, clientId: this.kubernetesAccess.clientId });
    for (const t of this.tenantList) this.connectSso(t);
    this.edge?.router.useIdentityProvider(keycloak);
    // Keycloak is its own login; its pages set their own framing rules.
    this.route(keycloak, {
      app: KEYCLOAK_APP,
      ...webUi(keycloak),
      auth: { kind: 'native' },
      // The master realm and the admin console: platform admins only (then Keycloak's own login).
      adminPaths: ['/admin/', '/realms/master/'],
      ownFrameOptions: true,
      title: 'Keycloak',
      purpose: 'Single sign-on: your account, password and sessions',
    });
    return keycloak;
  }

  /**
   * The client's start page at `home.<domain>`: every routed app with its purpose, the tenants
   * and their GPU pools; behind SSO.
   */
  enableStartPage(): StartPage {
    if (this.startPage) throw new Error('the start page is enabled twice');
    const edge = this.edge;
    if (!edge) throw new Error('the start page is served through the ingress: enable the ingress first');
    const chart = new ComponentChart(this, 'Portal', { name: 'start-page', component: 'portal', order: COMPONENT_ORDER.portal });
    const page = new StartPage(chart, 'StartPage', { router: edge.router });
    this.startPage = page;
    for (const t of this.tenantList) page.addTenant(t);
    if (this.kubernetesAccess) page.setKubernetesAccess({ issuerUrl: this.kubernetesAccess.issuerUrl, clientId: this.kubernetesAccess.clientId });
    this.route(page, { app: 'home', ...webUi(page), auth: { kind: 'forwardAuth' }, title: 'Start page', purpose: 'This page: every app of the platform, the tenants and their GPUs' });
    return page;
  }

  /** Prometheus, Alertmanager, node-exporter and kube-state-metrics, when enabled. */
  get monitoring(): Monitoring | undefined {
    return this.monitoringStack;
  }

  /** Loki and Alloy, when enabled. */
  get logs(): { readonly loki: Loki; readonly alloy: Alloy } | undefined {
    return this.logStack;
  }

  /**
   * kube-prometheus-stack with every PodMonitor, ServiceMonitor and rule of the platform picked
   * up; each component with metrics gets a PodMonitor in its own file.
   */
  enableMonitoring(options: MonitoringOptions & { readonly alerts?: PlatformRulesOptions } = {}): Monitoring {
    if (this.monitoringStack) throw new Error('monitoring is enabled twice');
    const { alerts, ...monitoringOptions } = options;
    const chart = new ComponentChart(this, 'Monitoring', { name: 'monitoring', component: 'observability', order: COMPONENT_ORDER.monitoring });
    this.monitoringStack = new Monitoring(chart, 'Monitoring', monitoringOptions);
    // GPU, platform and tenant alerts (GPU rules need the DCGM exporter's metrics).
    new PlatformRules(chart, 'Rules', { ...alerts, gpus: this.gpu.dcgmExporter ? this.gpu : undefined });
    for (const source of this.metricsSources) this.monitoringStack.addSource(source);
    if (this.objectStore instanceof CephStore) this.objectStore.enableMonitoring();
    return this.monitoringStack;
  }

  /** Loki (logs in the platform bucket `logs`) and Alloy on every node, GPU pools included. */
  enableLogs(options: LokiOptions = {}): { readonly loki: Loki; readonly alloy: Alloy } {
    if (this.logStack) throw new Error('logs are enabled twice');
    const store = this.objectStore;
    if (!store) throw new Error('logs are stored in the object store (bucket "logs"): enable storage first');
    const chart = new ComponentChart(this, 'Logs', { name: 'logs', component: 'observability', order: COMPONENT_ORDER.logs });
    const loki = new Loki(chart, 'Loki', { ...options, store });
    const alloy = new Alloy(chart, 'Alloy', { logs: loki, gpus: this.gpu });
    this.logStack = { loki, alloy };
    this.observe(loki);
    this.observe(alloy);
    return this.logStack;
  }

  /** Grafana, when enabled. */
  get grafana(): Grafana | undefined {
    return this.grafanaServer;
  }

  /**
   * Grafana with Keycloak login only (roles from the platform's role groups), Prometheus, Loki
   * and Alertmanager provisioned, and mlplat's dashboards; routed at `grafana.<domain>`.
   */
  enableGrafana(options: GrafanaOptions = {}): Grafana {
    if (this.grafanaServer) throw new Error('grafana is enabled twice');
    const metrics = this.monitoringStack;
    if (!metrics) throw new Error('grafana shows the platform\'s metrics: enable monitoring first');
    if (!this.keycloak) throw new Error('grafana logs users in through Keycloak only: enable sso first');
    const chart = new ComponentChart(this, 'Grafana', { name: 'grafana', component: 'observability', order: COMPONENT_ORDER.grafana });
    const grafana = new Grafana(chart, 'Grafana', {
      ...options,
      provider: this.keycloak,
      credentials: this.credentials,
      metrics,
      logs: this.logStack?.loki,
      dependsOn: [metrics.release],
    });
    this.grafanaServer = grafana;
    if (this.objectStore) grafana.showObjectStore(this.objectStore);
    if (this.trackingServer) grafana.showTrackingServer({ kind: this.trackingServer instanceof MlflowServer ? 'mlflow' : 'clearml', namespace: this.trackingServer.namespace });
    this.route(grafana, {
      app: GRAFANA_APP,
      ...webUi(grafana.webUi),
      auth: { kind: 'native' },
      title: 'Grafana',
      purpose: 'Dashboards: GPU use per pool and tenant, tenant workloads, platform health, logs',
    });
    return grafana;
  }

  /** Scrapes `source` once monitoring exists. */
  private observe(source: IMetricsSource & Construct): void {
    this.metricsSources.push(source);
    this.monitoringStack?.addSource(source);
  }

  /** metrics-server, when serving installs it. */
  get metricsServer(): MetricsServer | undefined {
    return this.metricsServerAddon;
  }

  /** Model serving (KServe), when enabled. */
  get serving(): ModelServing | undefined {
    return this.modelServing;
  }

  /**
   * KServe (standard mode) for model endpoints; each model is served at
   * `https://<model>.<tenant>.<domain>/` behind its tenant's token gate. Needs storage, the
   * ingress (cert-manager issues KServe's webhook certificate) and SSO. With `metricsServer`,
   * metrics-server is installed too (autoscaling models need it; leave it out where the cluster
   * has one).
   */
  enableServing(options: { readonly metricsServer?: MetricsServerOptions } = {}): ModelServing {
    if (this.modelServing) throw new Error('serving is enabled twice');
    const store = this.objectStore;
    if (!store) throw new Error('serving loads models from the object store: enable storage first');
    if (!this.edge) throw new Error('serving routes endpoints through the ingress: enable the ingress first');
    if (!this.keycloak) throw new Error('serving checks Keycloak tokens: enable sso first');
    const chart = new ComponentChart(this, 'Serving', { name: 'kserve', component: 'serving', order: COMPONENT_ORDER.serving });
    this.modelServing = new ModelServing(chart, 'Serving', { store, certManager: this.edge.certManager.release, provider: this.keycloak, credentials: this.credentials });
    this.observe(this.modelServing.kserve);
    if (options.metricsServer) this.metricsServerAddon = new MetricsServer(chart, 'MetricsServer', { ...options.metricsServer, certManager: this.edge.certManager.release });
    return this.modelServing;
  }

  /** One model endpoint of a tenant (see `InferenceEndpoint`); routed with token authentication. */
  serveModel(m: {
    readonly name: string;
    readonly tenant: string;
    readonly format: ModelFormat;
    readonly runtime?: string;
    readonly source: ModelSource;
    readonly pool?: string;
    readonly gpus?: number;
    readonly replicas?: { readonly min: number; readonly max?: number };
    readonly resources: { readonly cpu: string; readonly memory: string };
    readonly args?: readonly string[];
  }): InferenceEndpoint {
    const serving = this.modelServing ?? this.enableServing();
    const tenant = this.tenantList.find((t) => t.name === m.tenant);
    if (!tenant) throw new Error(`model ${m.name}: no tenant named "${m.tenant}"`);
    const store = this.objectStore!;
    const tracking = this.trackingServer;
    const mlflow = 'mlflow' in m.source
      ? tracking instanceof MlflowServer
        ? { credentials: tracking.addTenant(tenant).credentials, image: tracking.image }
        : (() => { throw new Error(`model ${m.name}: an MLflow source needs tracking kind mlflow`); })()
      : undefined;
    const clearml = 'clearml' in m.source
      ? tracking instanceof ClearmlServer
        ? { credentials: tracking.apiKey(tenant), api: tracking.api, files: tracking.files }
        : (() => { throw new Error(`model ${m.name}: a ClearML source needs tracking kind clearml`); })()
      : undefined;
    const gatesBefore = new Set(serving.tokenGates);
    const { endpoint, gateAddress } = serving.addModel({
      name: m.name,
      tenant,
      format: m.format,
      runtime: m.runtime,
      source: m.source,
      gpu: m.pool ? { pool: this.gpu.pool(m.pool), units: m.gpus ?? 1 } : undefined,
      replicas: m.replicas,
      resources: m.resources,
      args: m.args,
      storageCredentials: store.tenantBucket(tenant).credentials,
      mlflow,
      clearml,
      datasetCache: this.cache !== undefined,
    });
    for (const gate of serving.tokenGates) if (!gatesBefore.has(gate)) this.observe(gate);
    this.route(endpoint, {
      app: `model-${m.name}`,
      hostLabels: `${m.name}.${tenant.name}`,
      namespace: endpoint.namespace,
      service: endpoint.service,
      podSelector: endpoint.podSelector,
      targetPort: endpoint.targetPort,
      auth: { kind: 'token', address: gateAddress },
      title: `${m.name} (${tenant.name})`,
      purpose: `Model endpoint of tenant ${tenant.name}: ${m.format}${m.pool ? ` on pool ${m.pool}` : ''} (send a Keycloak token)`,
    });
    return endpoint;
  }

  /** Routes an app once both the ingress and the identity provider exist. */
  private route(scope: Construct, options: ExposeOptions): void {
    this.pendingRoutes.push({ scope, options });
    this.flushRoutes();
  }

  private flushRoutes(): void {
    const router = this.edge?.router;
    if (!router || !this.keycloak) return;
    for (const { scope, options } of this.pendingRoutes.splice(0)) {
      router.expose(scope, 'Route', options);
      // The SSO gate of a route has metrics too.
      for (const c of scope.node.findChild('Route').node.findAll()) if (c instanceof SsoGate) this.observe(c);
    }
  }

  /** Object storage (MinIO or Ceph) with the platform buckets and a bucket per tenant. */
  enableStorage(options: StorageOptions): IObjectStore {
    if (this.objectStore) throw new Error('storage is enabled twice');
    const chart = new ComponentChart(this, 'Storage', { name: options.kind === 'minio' ? 'minio' : 'ceph', component: 'storage', order: COMPONENT_ORDER.storage });
    const { kind, ...rest } = options;
    const store = kind === 'minio'
      ? new MinioStore(chart, 'Minio', { ...(rest as MinioStoreOptions), credentials: this.credentials })
      : new CephStore(chart, 'Ceph', { ...(rest as CephStoreOptions), credentials: this.credentials });
    this.objectStore = store;
    for (const t of this.tenantList) store.tenantBucket(t);
    if (store instanceof CephStore && this.monitoringStack) store.enableMonitoring();
    if (store instanceof MinioStore) this.observe(store);
    this.grafanaServer?.showObjectStore(store);
    if (store.webUi) {
      const title = kind === 'minio' ? 'MinIO console' : 'Ceph dashboard';
      // Admins only: the console logs in with storage credentials of its own.
      this.route(store, {
        app: kind === 'minio' ? 'minio' : 'ceph',
        ...store.webUi,
        auth: { kind: 'forwardAuth', allowedRoles: ['admin'] },
        title,
        purpose: kind === 'minio' ? 'Object storage: buckets, users and usage (admins)' : 'Ceph cluster health, pools and object storage (admins)',
      });
    }
    return store;
  }

  /** The platform PostgreSQL, created on first use. */
  private databaseFor(component: string): PlatformDatabase {
    if (!this.postgres) {
      if (!this.objectStore) throw new Error(`${component} needs the platform database, whose backups need storage: enable storage first`);
      const chart = new ComponentChart(this, 'Database', { name: 'database', component: 'database', order: COMPONENT_ORDER.database });
      this.postgres = new PlatformDatabase(chart, 'Postgres', { ...this.databaseOptions, credentials: this.credentials, store: this.objectStore });
      this.observe(this.postgres);
    }
    return this.postgres;
  }

  /** The experiment tracking server (MLflow or ClearML); every tenant gets access to it. */
  enableTracking(options: TrackingOptions): MlflowServer | ClearmlServer {
    if (this.trackingServer) throw new Error('tracking is enabled twice');
    const store = this.objectStore;
    if (!store) throw new Error(`tracking (${options.kind}) stores artifacts in the object store: enable storage first`);
    const { kind, ...rest } = options;
    const chart = new ComponentChart(this, 'Tracking', { name: kind, component: 'tracking', order: COMPONENT_ORDER.tracking });
    if (kind === 'mlflow') {
      const database = this.databaseFor('MLflow');
      this.trackingServer = new MlflowServer(chart, 'Mlflow', { ...(rest as MlflowServerOptions), credentials: this.credentials, database, store });
    } else {
      this.trackingServer = new ClearmlServer(chart, 'Clearml', { ...(rest as ClearmlServerOptions), credentials: this.credentials, store });
    }
    if (this.cache && this.trackingServer instanceof ClearmlServer) this.trackingServer.useDatasetCache(this.cache);
    for (const t of this.tenantList) this.connectTracking(t);
    this.grafanaServer?.showTrackingServer({ kind, namespace: this.trackingServer.namespace });
    this.route(this.trackingServer, {
      app: kind,
      ...this.trackingServer.webUi,
      auth: { kind: 'forwardAuth' },
      title: kind === 'mlflow' ? 'MLflow' : 'ClearML',
      purpose: kind === 'mlflow' ? 'Experiment tracking and the model registry' : 'Experiments, datasets, models and GPU queues',
    });
    return this.trackingServer;
  }

  /** The shared dataset and model-weights cache (CephFS on Ceph, else an NFS export). */
  enableDatasetCache(options: DatasetCacheEnableOptions): DatasetCache {
    if (this.cache) throw new Error('the dataset cache is enabled twice');
    const store = this.objectStore;
    if (!store) throw new Error('the dataset cache is filled from the object store: enable storage first');
    const { nfs, ...rest } = options;
    let backend: ConstructorParameters<typeof DatasetCache>[2]['backend'];
    if (nfs) backend = { kind: 'nfs', ...nfs };
    else if (store instanceof CephStore) backend = { kind: 'cephfs', filesystem: store.filesystem };
    else throw new Error('the dataset cache needs `nfs` (server and path) unless the storage is Ceph');
    const chart = new ComponentChart(this, 'DatasetCache', { name: 'dataset-cache', component: 'dataset-cache', order: COMPONENT_ORDER.datasetCache });
    this.cache = new DatasetCache(chart, 'Cache', {
      ...rest,
      // The mc image the store's own Jobs use (a mirror or own build set on the storage).
      clientImage: rest.clientImage ?? (store instanceof MinioStore ? store.clientImage : undefined),
      backend,
      store,
      defaultScratchStorageClass: store instanceof CephStore ? store.filesystem.storageClassName : undefined,
    });
    for (const t of this.tenantList) this.cache.addTenant(t);
    // ClearML task pods get the cache too (agents are added per tenant grant, after this).
    if (this.trackingServer instanceof ClearmlServer) this.trackingServer.useDatasetCache(this.cache);
    return this.cache;
  }

  private connectTracking(tenant: Tenant): void {
    const tracking = this.trackingServer;
    if (tracking instanceof MlflowServer) tracking.addTenant(tenant);
    else if (tracking instanceof ClearmlServer && tracking.agents) tenant.onGpuGrant((pool) => tracking.addAgent(tenant, pool));
  }

  private connectSso(tenant: Tenant): void {
    this.keycloak?.addTenant(tenant);
    this.kubernetesAccess?.addTenant(tenant);
  }

  get tenants(): readonly Tenant[] {
    return this.tenantList;
  }

  /** Adds a tenant in a chart (and output file) of its own. */
  addTenant(name: string, options: TenantOptions): Tenant {
    if (this.tenantList.some((t) => t.name === name)) throw new Error(`tenant "${name}" is defined twice`);
    const chart = new ComponentChart(this, `Tenant-${name}`, { name: `tenant-${name}`, component: 'tenancy', order: COMPONENT_ORDER.tenants });
    const tenant = new Tenant(chart, 'Tenant', { name, gpus: this.gpu, ...options });
    this.tenantList.push(tenant);
    this.tenantGuard.addTenant(tenant);
    this.objectStore?.tenantBucket(tenant);
    if (this.trackingServer) this.connectTracking(tenant);
    this.cache?.addTenant(tenant);
    if (this.keycloak) this.connectSso(tenant);
    this.startPage?.addTenant(tenant);
    return tenant;
  }
}

/** The route fields of a component's web UI. */
function webUi(ui: WebUi): Pick<ExposeOptions, 'namespace' | 'service' | 'podSelector' | 'targetPort'> {
  return { namespace: ui.namespace, service: ui.service, podSelector: ui.podSelector, targetPort: ui.targetPort };
}

/** A fresh cdk8s App holding the platform a spec describes. */
export function platformApp(spec: PlatformSpec): { app: App; platform: MlPlatform } {
  const app = new App({ outdir: 'dist' });
  return { app, platform: MlPlatform.fromSpec(app, spec) };
}
