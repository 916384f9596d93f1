import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { TenantIngress } from '../../lib/tenant-ingress';
import { platformNamespace } from '../../lib/workload';
import { CredentialGenerator } from '../credentials/generator';
import { ISecretRef, SecretKeyRef } from '../credentials/types';
import { WebUi } from '../edge/types';
import { GROUPS_CLAIM, IOidcClient, IOidcProvider, OIDC_CLIENT_KEYS, PlatformRole } from '../identity/types';
import { IObjectStore } from '../storage/types';
import { buildDashboards, BuiltDashboard, DASHBOARD_UIDS, DashboardName, DashboardOptions, DATASOURCE_UIDS, ShownApp } from './dashboards';
import { GRAFANA_NAMESPACE, ILogs, IMetrics } from './types';

/** Host label of Grafana: `https://grafana.<domain>/`. */
export const GRAFANA_APP = 'grafana';
/** Helm release, and the chart's fullname (`fullnameOverride`): Service, Deployment, PVC. */
const RELEASE = 'grafana';
/** Grafana's HTTP port in the container (chart `service.targetPort`). */
const HTTP_PORT = 3000;
/** Named container port (chart `podPortName`) the Service targets. */
const POD_PORT_NAME = 'grafana';
/** Named Service port (chart `service.portName`), port 80. */
const SERVICE_PORT_NAME = 'service';
/**
 * The dashboards sidecar's health server: k8s-sidecar 2.10.1 serves `/healthz` on HEALTH_PORT,
 * default 8080 (`src/healthz.py`); the chart sets HEALTH_PORT for its init-container form only.
 */
const SIDECAR_HEALTH_PORT = 8080;
/** Grafana's user and group in its image (the chart's defaults). */
const GRAFANA_UID = 472;

/** ConfigMaps with this label (value "1") in Grafana's namespace are loaded as dashboards. */
export const DASHBOARD_LABEL = 'grafana_dashboard';
/** Annotation naming the Grafana folder of a dashboard ConfigMap. */
export const DASHBOARD_FOLDER_ANNOTATION = 'grafana_folder';
/** Folder of mlplat's dashboards. */
export const DASHBOARD_FOLDER = 'ML platform';
/** Role the chart's RoleBinding gives Grafana's ServiceAccount (the sidecar reads ConfigMaps). */
const DASHBOARD_READER_ROLE = 'grafana-dashboards';

/** Grafana's role for each platform role; the first matching one wins (admin before editor before viewer). */
export const GRAFANA_ROLES: Readonly<Record<PlatformRole, string>> = {
  // Org Admin and server admin: platform admins manage users and settings without the local admin.
  admin: 'GrafanaAdmin',
  editor: 'Editor',
  viewer: 'Viewer',
};
const ROLE_ORDER: readonly PlatformRole[] = ['admin', 'editor', 'viewer'];

/**
 * Characters a group name may not hold in Grafana's role expression: JMESPath and ini quoting and
 * comments (`' " \ # ;`), and Helm's template delimiters (the chart runs grafana.ini through `tpl`).
 */
const UNSAFE_GROUP_CHARS = /['"\\#;{}`]/;

type Env = Readonly<Record<string, { readonly secretKeyRef: SecretKeyRef }>>;
type IniValue = string | number | boolean;

/** One provisioned datasource (Grafana provisioning file, apiVersion 1). */
export interface GrafanaDatasource {
  readonly name: string;
  readonly uid: string;
  readonly type: 'prometheus' | 'loki' | 'alertmanager';
  readonly access: 'proxy';
  readonly url: string;
  readonly isDefault: boolean;
  readonly editable: boolean;
  readonly jsonData: Readonly<Record<string, string | number | boolean>>;
}

interface SecurityContext {
  readonly runAsNonRoot: boolean;
  readonly allowPrivilegeEscalation: boolean;
  readonly privileged: boolean;
  readonly readOnlyRootFilesystem: boolean;
  readonly capabilities: { readonly drop: readonly string[] };
  readonly seccompProfile: { readonly type: 'RuntimeDefault' };
}

interface Resources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly memory: string };
}

interface HttpProbe {
  readonly httpGet: { readonly path: string; readonly port: number };
  readonly periodSeconds: number;
  readonly failureThreshold: number;
}

/**
 * Typed subset of the grafana chart's values (grafana-community/helm-charts, chart 12.11.1,
 * `charts/grafana/values.yaml`). Resources are plain strings: chart values are not Kubernetes
 * objects.
 */
export interface GrafanaValues {
  readonly fullnameOverride: string;
  readonly global?: { readonly imageRegistry: string };
  readonly replicas: number;
  readonly deploymentStrategy: { readonly type: 'Recreate' };
  readonly rbac: { readonly create: boolean; readonly namespaced: boolean; readonly useExistingRole: string };
  readonly serviceAccount: { readonly create: boolean; readonly automountServiceAccountToken: boolean };
  readonly automountServiceAccountToken: boolean;
  readonly enableServiceLinks: boolean;
  readonly testFramework: { readonly enabled: boolean };
  readonly service: { readonly type: 'ClusterIP'; readonly port: number; readonly portName: string; readonly targetPort: number };
  readonly podPortName: string;
  readonly securityContext: {
    readonly runAsNonRoot: boolean;
    readonly runAsUser: number;
    readonly runAsGroup: number;
    readonly fsGroup: number;
    readonly fsGroupChangePolicy: 'OnRootMismatch';
    readonly seccompProfile: { readonly type: 'RuntimeDefault' };
  };
  readonly containerSecurityContext: SecurityContext;
  readonly resources: Resources;
  readonly persistence: {
    readonly enabled: boolean;
    readonly type: 'pvc';
    readonly accessModes: readonly string[];
    readonly size: string;
    readonly storageClassName?: string;
  };
  readonly initChownData: { readonly enabled: boolean };
  readonly extraEmptyDirMounts: ReadonlyArray<{ readonly name: string; readonly mountPath: string }>;
  readonly extraVolumes: ReadonlyArray<{ readonly name: string; readonly emptyDir: { readonly sizeLimit: string } }>;
  readonly admin: { readonly existingSecret: string; readonly userKey: string; readonly passwordKey: string };
  readonly envValueFrom: Env;
  readonly 'grafana.ini': Readonly<Record<string, Readonly<Record<string, IniValue>>>>;
  readonly datasources: {
    readonly 'datasources.yaml': {
      readonly apiVersion: 1;
      readonly deleteDatasources: ReadonlyArray<{ readonly orgId: number; readonly name: string }>;
      readonly datasources: readonly GrafanaDatasource[];
    };
  };
  readonly sidecar: {
    readonly securityContext: SecurityContext;
    readonly resources: Resources;
    readonly readinessProbe: HttpProbe;
    readonly livenessProbe: HttpProbe;
    readonly dashboards: {
      readonly enabled: boolean;
      readonly label: string;
      readonly labelValue: string;
      readonly resource: 'configmap';
      readonly folderAnnotation: string;
      readonly skipReload: boolean;
      readonly provider: { readonly foldersFromFilesStructure: boolean; readonly allowUiUpdates: boolean };
      readonly extraMounts: ReadonlyArray<{ readonly name: string; readonly mountPath: string }>;
    };
  };
  readonly serviceMonitor: {
    readonly enabled: boolean;
    readonly path: string;
    readonly basicAuth: { readonly username: SecretKeyRef; readonly password: SecretKeyRef };
  };
}

/** Requests and limits of the Grafana container. */
export interface GrafanaResources {
  /** @default '100m' */
  readonly cpuRequest?: string;
  /** @default '256Mi' */
  readonly memoryRequest?: string;
  /** @default '1Gi' */
  readonly memoryLimit?: string;
}

export interface GrafanaOptions {
  /**
   * Volume of Grafana's database (SQLite: users, sessions, preferences, annotations; dashboards
   * and datasources are code and need no backup).
   * @default '5Gi'
   */
  readonly size?: string;
  /**
   * StorageClass of that volume.
   * @default - the cluster's default StorageClass
   */
  readonly storageClass?: string;
  /**
   * Ship mlplat's dashboards (GPU, tenants, platform health, tracking and storage).
   * @default true
   */
  readonly dashboards?: boolean;
  /**
   * Provision Alertmanager as a datasource (silences and alert state in Grafana).
   * @default true
   */
  readonly alertmanagerDatasource?: boolean;
  /**
   * Let tenant groups in as Viewers. Off by default: Grafana OSS has no per-user datasource
   * permissions, so every Viewer reads every tenant's metrics and logs; only the platform's role
   * groups (admin, editor, viewer) get in.
   * @default false
   */
  readonly tenantViewers?: boolean;
  /**
   * Requests and limits of the Grafana container.
   * @default - 100m CPU and 256Mi memory requested, 1Gi memory limit
   */
  readonly resources?: GrafanaResources;
}

export interface GrafanaProps extends GrafanaOptions {
  /** Grafana's only login: it registers its OIDC client there. */
  readonly provider: IOidcProvider;
  readonly credentials: CredentialGenerator;
  readonly metrics: IMetrics;
  /**
   * The platform's log store (a Loki datasource, logs panels on the tenant dashboard).
   * @default - no logs in Grafana
   */
  readonly logs?: ILogs;
  /**
   * Releases to install first: the metrics stack, whose CRDs the chart's ServiceMonitor needs.
   * @default - none
   */
  readonly dependsOn?: readonly ChartRelease<object>[];
}

/**
 * Grafana (Helm, through ChartRelease) in its own `restricted` namespace. Users log in only
 * through the platform's identity provider (generic OAuth, PKCE): no login form, no basic auth, no
 * anonymous access; the Grafana role comes from the user's groups (`GRAFANA_ROLES`) and users in
 * no platform group are refused. Datasources (Prometheus, Alertmanager, Loki) are provisioned with
 * fixed uids, and mlplat's dashboards, built with the Grafana foundation SDK, are ConfigMaps the
 * chart's sidecar loads. Every secret (OIDC client, local admin, `secret_key`, metrics password) is
 * generated in the cluster and reaches Grafana as environment variables.
 *
 * Grafana's database is SQLite on a ReadWriteOnce volume, so it runs one replica with the
 * Recreate strategy. It holds no configuration (that is code), only users, sessions, preferences
 * and annotations; the platform PostgreSQL would allow more replicas at the price of a dependency
 * on storage and the database.
 */
export class Grafana extends Construct {
  readonly namespace = GRAFANA_NAMESPACE;
  /** `grafana.<domain>` */
  readonly host: string;
  /** `https://grafana.<domain>/` */
  readonly url: string;
  readonly size: string;
  readonly storageClass: string | undefined;
  readonly dashboards: boolean;
  readonly alertmanagerDatasource: boolean;
  readonly tenantViewers: boolean;
  readonly resources: Required<GrafanaResources>;
  readonly release: ChartRelease<GrafanaValues>;
  /** Grafana's OIDC client (its secret holds CLIENT_ID and CLIENT_SECRET, in Grafana's namespace). */
  readonly oidcClient: IOidcClient;
  /** The local admin (`admin-user`, `admin-password`): break-glass only, it cannot log in over HTTP. */
  readonly adminCredentials: ISecretRef;
  /** Basic-auth credentials of `/metrics` (`username`, `password`), which Prometheus sends. */
  readonly metricsCredentials: ISecretRef;
  readonly datasources: readonly GrafanaDatasource[];
  /** Grafana's UI as the router needs it (routed with native authentication). */
  readonly webUi: WebUi;
  private readonly provider: IOidcProvider;
  private trackingServer?: ShownApp<'mlflow' | 'clearml'>;
  private objectStore?: ShownApp<'minio' | 'ceph'>;
  private built?: { readonly key: string; readonly boards: readonly BuiltDashboard[] };

  constructor(scope: Construct, id: string, props: GrafanaProps) {
    const size = props.size ?? '5Gi';
    if (!/^[0-9]+(\.[0-9]+)?(Mi|Gi|Ti)$/.test(size)) throw new Error(`grafana size "${size}" must be a quantity in Mi, Gi or Ti (e.g. "5Gi")`);
    super(scope, id);
    const ctx = PlatformContext.of(this);
    const ns = GRAFANA_NAMESPACE;
    this.provider = props.provider;
    this.host = ctx.host(GRAFANA_APP);
    this.url = `https://${this.host}/`;
    this.size = size;
    this.storageClass = props.storageClass;
    this.dashboards = props.dashboards ?? true;
    this.tenantViewers = props.tenantViewers ?? false;
    this.alertmanagerDatasource = props.alertmanagerDatasource ?? true;
    this.resources = {
      cpuRequest: props.resources?.cpuRequest ?? '100m',
      memoryRequest: props.resources?.memoryRequest ?? '256Mi',
      memoryLimit: props.resources?.memoryLimit ?? '1Gi',
    };
    const selector = { 'app.kubernetes.io/name': 'grafana', 'app.kubernetes.io/instance': RELEASE };
    this.webUi = { namespace: ns, service: { name: RELEASE, port: SERVICE_PORT_NAME }, podSelector: selector, targetPort: HTTP_PORT };

    platformNamespace(this, 'Namespace', ns, 'restricted');
    // The platform (Traefik, Prometheus) reaches Grafana; tenants only through the ingress.
    new TenantIngress(this, 'PlatformIngress', { namespace: ns, openings: [] });

    this.oidcClient = props.provider.addClient({
      clientId: GRAFANA_APP,
      name: 'Grafana',
      namespace: ns,
      redirectUris: [`${this.url}login/generic_oauth`],
      postLogoutRedirectUris: [`${this.url}login`],
    });
    const oidcSecret = this.oidcClient.secret;
    if (!oidcSecret) throw new Error('the identity provider registered Grafana as a public client: Grafana needs a client secret');
    this.adminCredentials = props.credentials.secret(ns, 'grafana-admin', { 'admin-user': { value: 'admin' }, 'admin-password': { generate: 32 } });
    // Signs sessions and encrypts datasource secrets; Grafana's built-in default is public.
    const secretKey = props.credentials.secret(ns, 'grafana-secret-key', { SECRET_KEY: { generate: 48 } });
    this.metricsCredentials = props.credentials.secret(ns, 'grafana-metrics', { username: { value: 'prometheus' }, password: { generate: 32 } });

    // The dashboards sidecar lists and watches ConfigMaps of this namespace, nothing else (the
    // chart's own Role would add Secrets).
    new k8s.KubeRole(this, 'DashboardReader', {
      metadata: { name: DASHBOARD_READER_ROLE, namespace: ns },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
    });

    const alertmanager = datasource('Alertmanager', DATASOURCE_UIDS.alertmanager, 'alertmanager', props.metrics.alertmanagerUrl, false, {
      implementation: 'prometheus',
      handleGrafanaManagedAlerts: false,
    });
    const loki = props.logs ? datasource('Loki', DATASOURCE_UIDS.loki, 'loki', props.logs.lokiUrl, false, { maxLines: 1000 }) : undefined;
    this.datasources = [
      datasource('Prometheus', DATASOURCE_UIDS.prometheus, 'prometheus', props.metrics.prometheusUrl, true, { httpMethod: 'POST', prometheusType: 'Prometheus', timeInterval: '30s' }),
      ...(this.alertmanagerDatasource ? [alertmanager] : []),
      ...(loki ? [loki] : []),
    ];
    // Provisioned datasources stay in Grafana's database when they leave the file: switched-off
    // ones are deleted by name.
    const deleteDatasources = [
      ...(this.alertmanagerDatasource ? [] : [{ orgId: 1, name: alertmanager.name }]),
      ...(loki ? [] : [{ orgId: 1, name: 'Loki' }]),
    ];

    const env: Env = {
      OIDC_CLIENT_ID: { secretKeyRef: oidcSecret.keyRef(OIDC_CLIENT_KEYS.clientId) },
      OIDC_CLIENT_SECRET: { secretKeyRef: oidcSecret.keyRef(OIDC_CLIENT_KEYS.clientSecret) },
      GRAFANA_SECRET_KEY: { secretKeyRef: secretKey.keyRef('SECRET_KEY') },
      METRICS_USERNAME: { secretKeyRef: this.metricsCredentials.keyRef('username') },
      METRICS_PASSWORD: { secretKeyRef: this.metricsCredentials.keyRef('password') },
    };
    const restricted: SecurityContext = {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    };
    const sidecarProbe = (periodSeconds: number, failureThreshold: number): HttpProbe => ({
      httpGet: { path: '/healthz', port: SIDECAR_HEALTH_PORT },
      periodSeconds,
      failureThreshold,
    });

    this.node.addValidation({ validate: () => this.roleProblems() });

    this.release = new ChartRelease<GrafanaValues>(this, 'Release', {
      chart: ctx.versions.charts.grafana,
      releaseName: RELEASE,
      namespace: ns,
      dependsOn: props.dependsOn,
      values: {
        fullnameOverride: RELEASE,
        ...(ctx.imageRegistry ? { global: { imageRegistry: ctx.imageRegistry } } : {}),
        // SQLite on a ReadWriteOnce volume: one writer, and the old pod goes before the new one.
        replicas: 1,
        deploymentStrategy: { type: 'Recreate' },
        rbac: { create: true, namespaced: true, useExistingRole: DASHBOARD_READER_ROLE },
        serviceAccount: { create: true, automountServiceAccountToken: false },
        // Exception to the baseline: the dashboards sidecar calls the API server (list/watch ConfigMaps).
        automountServiceAccountToken: true,
        enableServiceLinks: false,
        testFramework: { enabled: false },
        // The chart's defaults, pinned: the route and the NetworkPolicy rely on them.
        service: { type: 'ClusterIP', port: 80, portName: SERVICE_PORT_NAME, targetPort: HTTP_PORT },
        podPortName: POD_PORT_NAME,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: GRAFANA_UID,
          runAsGroup: GRAFANA_UID,
          fsGroup: GRAFANA_UID,
          fsGroupChangePolicy: 'OnRootMismatch',
          seccompProfile: { type: 'RuntimeDefault' },
        },
        containerSecurityContext: restricted,
        resources: {
          requests: { cpu: this.resources.cpuRequest, memory: this.resources.memoryRequest },
          limits: { memory: this.resources.memoryLimit },
        },
        persistence: {
          enabled: true,
          type: 'pvc',
          accessModes: ['ReadWriteOnce'],
          size,
          ...(this.storageClass ? { storageClassName: this.storageClass } : {}),
        },
        // Its init container chowns the volume as root with CHOWN and DAC_OVERRIDE, which the
        // restricted level refuses; fsGroup already gives the volume to Grafana's group.
        initChownData: { enabled: false },
        // The root filesystem is read-only: Grafana (and the sidecar, below) write temporary files.
        extraEmptyDirMounts: [{ name: 'tmp', mountPath: '/tmp' }],
        extraVolumes: [{ name: 'sidecar-tmp', emptyDir: { sizeLimit: '64Mi' } }],
        admin: { existingSecret: this.adminCredentials.name, userKey: 'admin-user', passwordKey: 'admin-password' },
        envValueFrom: env,
        'grafana.ini': this.ini(props.provider),
        datasources: { 'datasources.yaml': { apiVersion: 1, deleteDatasources, datasources: this.datasources } },
        sidecar: {
          securityContext: restricted,
          resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } },
          readinessProbe: sidecarProbe(10, 3),
          livenessProbe: sidecarProbe(30, 5),
          dashboards: {
            enabled: true,
            label: DASHBOARD_LABEL,
            labelValue: '1',
            // ConfigMaps only, and (searchNamespace unset) only Grafana's namespace: tenants can
            // create labelled ConfigMaps in theirs.
            resource: 'configmap',
            folderAnnotation: DASHBOARD_FOLDER_ANNOTATION,
            // The reload call would log in with basic auth, which is off; Grafana rescans the
            // folder itself (every 30 s).
            skipReload: true,
            provider: { foldersFromFilesStructure: true, allowUiUpdates: false },
            extraMounts: [{ name: 'sidecar-tmp', mountPath: '/tmp' }],
          },
        },
        serviceMonitor: {
          enabled: true,
          path: '/metrics',
          basicAuth: { username: this.metricsCredentials.keyRef('username'), password: this.metricsCredentials.keyRef('password') },
        },
      },
    });

    if (this.dashboards) {
      for (const name of ['gpu', 'tenants', 'platform'] as const) this.dashboardConfigMap(name);
    }
  }

  /** Adds the tracking server's pods to the tracking and storage dashboard. */
  showTrackingServer(server: ShownApp<'mlflow' | 'clearml'>): void {
    if (this.trackingServer) throw new Error(`Grafana already shows the tracking server ${this.trackingServer.kind}`);
    this.trackingServer = { kind: server.kind, namespace: server.namespace };
    this.trackingStorageDashboard();
  }

  /** Adds the object store (capacity, health, traffic, pods) to the tracking and storage dashboard. */
  showObjectStore(store: Pick<IObjectStore, 'kind' | 'namespace'>): void {
    if (this.objectStore) throw new Error(`Grafana already shows the object store ${this.objectStore.kind}`);
    this.objectStore = { kind: store.kind, namespace: store.namespace };
    this.trackingStorageDashboard();
  }

  /** What the dashboards show (read when the output is written). */
  get dashboardOptions(): DashboardOptions {
    return {
      logs: this.datasources.some((d) => d.uid === DATASOURCE_UIDS.loki),
      ...(this.trackingServer ? { trackingServer: this.trackingServer } : {}),
      ...(this.objectStore ? { objectStore: this.objectStore } : {}),
    };
  }

  /** The dashboards this Grafana ships, built now (loads the foundation SDK). */
  builtDashboards(): readonly BuiltDashboard[] {
    if (!this.dashboards) return [];
    const options = this.dashboardOptions;
    const key = JSON.stringify(options);
    if (this.built?.key !== key) this.built = { key, boards: buildDashboards(options) };
    return this.built.boards;
  }

  private trackingStorageDashboard(): void {
    const id = 'Dashboard-tracking-storage';
    if (this.dashboards && !this.node.tryFindChild(id)) this.dashboardConfigMap('tracking-storage');
  }

  /** A dashboard's ConfigMap (file `<uid>.json`); its JSON is built when the output is written. */
  private dashboardConfigMap(name: DashboardName): void {
    const text = (): string => {
      const board = this.builtDashboards().find((b) => b.name === name);
      if (!board) throw new Error(`unreachable: no dashboard "${name}" was built`);
      return `${JSON.stringify(board.json, null, 2)}\n`;
    };
    new k8s.KubeConfigMap(this, `Dashboard-${name}`, {
      metadata: {
        name: `mlplat-dashboard-${name}`,
        namespace: GRAFANA_NAMESPACE,
        labels: { [DASHBOARD_LABEL]: '1' },
        annotations: { [DASHBOARD_FOLDER_ANNOTATION]: DASHBOARD_FOLDER },
      },
      data: { [`${DASHBOARD_UIDS[name]}.json`]: Lazy.any({ produce: text }) as unknown as string },
    });
  }

  /** grafana.ini: login through the identity provider only, nothing phoned home, secrets by reference. */
  private ini(provider: IOidcProvider): GrafanaValues['grafana.ini'] {
    const signOut = `${provider.issuerUrl}/protocol/openid-connect/logout?client_id=${GRAFANA_APP}&post_logout_redirect_uri=${encodeURIComponent(`${this.url}login`)}`;
    return {
      server: { domain: this.host, root_url: this.url, enable_gzip: true },
      security: {
        secret_key: '$__env{GRAFANA_SECRET_KEY}',
        cookie_secure: true,
        cookie_samesite: 'lax',
        disable_gravatar: true,
      },
      users: { allow_sign_up: false, allow_org_create: false },
      auth: { disable_login_form: true },
      'auth.basic': { enabled: false },
      'auth.anonymous': { enabled: false },
      'auth.generic_oauth': {
        enabled: true,
        name: 'Keycloak',
        icon: 'signin',
        client_id: '$__env{OIDC_CLIENT_ID}',
        client_secret: '$__env{OIDC_CLIENT_SECRET}',
        scopes: 'openid profile email',
        // The browser goes to the public login page; code redemption and userinfo go over the
        // cluster network. Grafana decodes the ID token it received from the token endpoint
        // without checking its issuer, which stays the public one (Keycloak's fixed hostname).
        auth_url: `${provider.issuerUrl}/protocol/openid-connect/auth`,
        token_url: `${provider.internalIssuerUrl}/protocol/openid-connect/token`,
        api_url: `${provider.internalIssuerUrl}/protocol/openid-connect/userinfo`,
        signout_redirect_url: signOut,
        use_pkce: true,
        // Sessions follow Keycloak's: a revoked or expired session ends Grafana's, roles re-sync.
        use_refresh_token: true,
        auto_login: true,
        allow_sign_up: true,
        login_attribute_path: 'preferred_username',
        groups_attribute_path: GROUPS_CLAIM,
        // Read when the output is written: tenants added later are viewers too.
        role_attribute_path: Lazy.any({ produce: () => roleAttributePath(this.loginGroups) }) as unknown as string,
        role_attribute_strict: true,
        allow_assign_grafana_admin: true,
      },
      analytics: { reporting_enabled: false, check_for_updates: false, check_for_plugin_updates: false, feedback_links_enabled: false },
      news: { news_feed_enabled: false },
      // Grafana 12+ downloads plugins from grafana.com at every start unless told not to.
      plugins: { preinstall_disabled: true },
      snapshots: { external_enabled: false },
      metrics: { enabled: true, basic_auth_username: '$__env{METRICS_USERNAME}', basic_auth_password: '$__env{METRICS_PASSWORD}' },
      log: { mode: 'console' },
      'log.console': { format: 'json' },
    };
  }

  /** The groups Grafana lets in, per role: the platform's, and the tenants' with `tenantViewers`. */
  get loginGroups(): Readonly<Record<PlatformRole, readonly string[]>> {
    return this.tenantViewers ? this.provider.roleGroups : this.provider.platformRoleGroups;
  }

  private roleProblems(): string[] {
    const groups = this.loginGroups;
    const problems = ROLE_ORDER.flatMap((role) =>
      groups[role]
        .filter((g) => UNSAFE_GROUP_CHARS.test(g))
        .map((g) => `sso group "${g}" (${role}) cannot be used in Grafana's role mapping: group names may not contain ' " \\ # ; { } or \``),
    );
    if (ROLE_ORDER.every((role) => groups[role].length === 0)) problems.push('Grafana lets users in by their groups, but the identity provider has no role group: name admin, editor or viewer groups');
    return problems;
  }
}

/**
 * Grafana's `role_attribute_path`: a JMESPath expression over the token's `groups` claim that
 * yields the Grafana role of the highest platform role the user holds, and nothing (so, with
 * `role_attribute_strict`, no login) for a user in no role group. `GrafanaAdmin` makes the user
 * org Admin and server admin (`allow_assign_grafana_admin`).
 */
export function roleAttributePath(roleGroups: Readonly<Record<PlatformRole, readonly string[]>>): string {
  const member = (group: string): string => `contains(${GROUPS_CLAIM}[*], '${group}')`;
  const clauses = ROLE_ORDER.filter((role) => roleGroups[role].length > 0).map((role) => {
    const groups = roleGroups[role];
    const test = groups.length === 1 ? member(groups[0]) : `(${groups.map(member).join(' || ')})`;
    return `${test} && '${GRAFANA_ROLES[role]}'`;
  });
  if (clauses.length === 0) throw new Error('no role group: Grafana would let nobody in');
  return clauses.join(' || ');
}

function datasource(
  name: string,
  uid: string,
  type: GrafanaDatasource['type'],
  url: string,
  isDefault: boolean,
  jsonData: GrafanaDatasource['jsonData'],
): GrafanaDatasource {
  return { name, uid, type, access: 'proxy', url, isDefault, editable: false, jsonData };
}
