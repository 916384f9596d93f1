import { createHash } from 'node:crypto';
import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { readAsset } from '../../lib/assets';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { TenantIngress } from '../../lib/tenant-ingress';
import { hardenedContainer, hardenedPod, platformNamespace, resources } from '../../lib/workload';
import { CredentialGenerator } from '../credentials/generator';
import { ISecretRef, secretEnv } from '../credentials/types';
import { IDatabase, IPostgres } from '../database/postgres';
import { IMetricsSource, ScrapeTarget } from '../observability/types';
import { serviceEndpoint, ServiceEndpoint } from '../storage/types';
import { ITenant } from '../tenancy/tenant';
import { GROUPS_CLAIM, IOidcClient, IOidcProvider, OIDC_CLIENT_KEYS, OidcClientOptions, PlatformRole } from './types';

export const KEYCLOAK_NAMESPACE = 'keycloak';
const NAME = 'keycloak';
const HTTP_PORT = 8080;
const MANAGEMENT_PORT = 9000;
/** Host label of Keycloak: `auth.<domain>`. */
export const KEYCLOAK_APP = 'auth';
/** The applier: idempotent realm-as-code over the admin REST API (never touches users). */
const APPLY_PY = readAsset('constructs/identity/realm-apply.py');
/** Scopes every client gets by default: Keycloak's own, plus the `groups` claim. */
const DEFAULT_CLIENT_SCOPES = ['web-origins', 'acr', 'profile', 'roles', 'basic', 'email', 'groups'];
const CLIENT_ID = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface KeycloakOptions {
  /**
   * Realm of the client's users.
   * @default - the client name
   */
  readonly realm?: string;
  /**
   * Groups whose members are platform admins (realm role `admin`).
   * @default ['platform-admins']
   */
  readonly adminGroups?: readonly string[];
  /**
   * Groups whose members are editors (realm role `editor`), e.g. who edits dashboards.
   * @default []
   */
  readonly editorGroups?: readonly string[];
  /**
   * Groups whose members are viewers (realm role `viewer`); tenant groups are viewers too.
   * @default []
   */
  readonly viewerGroups?: readonly string[];
  /**
   * Keycloak replicas; more than one use the distributed cache (discovery through the database).
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Keycloak image.
   * @default - the catalog's quay.io/keycloak/keycloak
   */
  readonly image?: string;
}

export interface KeycloakProps extends KeycloakOptions {
  readonly credentials: CredentialGenerator;
  readonly database: IPostgres;
}

interface RealmClient {
  readonly options: OidcClientOptions;
  readonly secret?: ISecretRef;
}

/**
 * Keycloak (production mode, on the platform PostgreSQL) as the platform's identity provider at
 * `https://auth.<domain>`, and the client's realm as code: roles admin/editor/viewer, a group per
 * role group and tenant group, a `groups` claim in tokens and one OIDC client per app
 * (`addClient`). The realm is applied by an idempotent Job (`keycloak-realm-<hash>`, re-created
 * when the realm changes) that never reads or changes users, so re-applying keeps every user,
 * membership and session. Every secret (bootstrap admin, client secrets) is generated in the
 * cluster; the realm file names them as `$(env:...)` only.
 */
export class Keycloak extends Construct implements IOidcProvider, IMetricsSource {
  readonly namespace = KEYCLOAK_NAMESPACE;
  readonly realm: string;
  readonly issuerUrl: string;
  readonly internalIssuerUrl: string;
  readonly endpoint: ServiceEndpoint;
  readonly replicas: number;
  readonly image: string;
  /** The bootstrap admin of the master realm (user and service-account client), generated once. */
  readonly bootstrapAdmin: ISecretRef;
  readonly database: IDatabase;
  /** Pod labels of the Keycloak server. */
  readonly podSelector: Readonly<Record<string, string>>;
  /** Named Service port of the UI and OIDC endpoints (`http`) and of health/metrics (`management`). */
  readonly service = { name: NAME, port: 'http', managementPort: 'management' } as const;
  readonly targetPort = HTTP_PORT;
  private readonly ctx: PlatformContext;
  private readonly credentials: CredentialGenerator;
  private readonly roleGroupLists: Record<PlatformRole, string[]>;
  private readonly tenantGroups: string[] = [];
  private readonly clients: RealmClient[] = [];

  constructor(scope: Construct, id: string, props: KeycloakProps) {
    const replicas = props.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`sso replicas must be a positive integer, got ${replicas}`);
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.ctx = ctx;
    this.credentials = props.credentials;
    this.realm = props.realm ?? ctx.client;
    this.replicas = replicas;
    this.image = props.image ?? ctx.image(ctx.versions.images.keycloak);
    this.roleGroupLists = {
      admin: [...(props.adminGroups ?? ['platform-admins'])],
      editor: [...(props.editorGroups ?? [])],
      viewer: [...(props.viewerGroups ?? [])],
    };
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(this.realm) || this.realm.length > 63) throw new Error(`sso realm "${this.realm}" must be a DNS label`);
    // The realm Job would rewrite Keycloak's administration realm and map groups to its admin role.
    if (this.realm === 'master') throw new Error('sso realm "master" is Keycloak\'s administration realm: choose the client\'s own realm');
    const seen = new Map<string, PlatformRole>();
    for (const [role, groups] of Object.entries(this.roleGroupLists) as Array<[PlatformRole, string[]]>) {
      for (const g of groups) {
        checkGroup(g);
        if (seen.has(g)) throw new Error(`sso group "${g}" is listed for both ${seen.get(g)} and ${role}: give each group one role`);
        seen.set(g, role);
      }
    }
    const ns = KEYCLOAK_NAMESPACE;
    this.endpoint = serviceEndpoint(ns, NAME, HTTP_PORT, 'http');
    this.issuerUrl = `https://${ctx.host(KEYCLOAK_APP)}/realms/${this.realm}`;
    this.internalIssuerUrl = `${this.endpoint.url}/realms/${this.realm}`;
    this.podSelector = { 'app.kubernetes.io/name': NAME, [`${MLPLAT_PREFIX}/role`]: 'server' };

    platformNamespace(this, 'Namespace', ns, 'restricted');
    // The realm Job, the SSO gates (token and key calls) and the other replicas reach Keycloak
    // over the cluster network; tenants do not (they log in through the ingress).
    new TenantIngress(this, 'PlatformIngress', { namespace: ns, openings: [] });
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: { name: NAME, namespace: ns }, automountServiceAccountToken: false });

    this.database = props.database.addDatabase('keycloak', { namespace: ns, secretName: 'keycloak-db' });
    // Keycloak creates the master realm's temporary admin user and service-account client from
    // these on its first start only; the realm Job logs in as the client.
    this.bootstrapAdmin = props.credentials.secret(ns, 'keycloak-bootstrap-admin', {
      username: { value: 'mlplat-admin' },
      password: { generate: 32 },
      clientId: { value: 'mlplat-bootstrap' },
      clientSecret: { generate: 48 },
    });

    this.server();
    this.realmJob();
  }

  /** Keycloak's metrics (KC_METRICS_ENABLED) on the management port, next to the health checks. */
  get scrapeTargets(): readonly ScrapeTarget[] {
    return [{ name: NAME, namespace: KEYCLOAK_NAMESPACE, podSelector: this.podSelector, port: this.service.managementPort, path: '/metrics', component: 'keycloak' }];
  }

  get platformRoleGroups(): Readonly<Record<PlatformRole, readonly string[]>> {
    return this.roleGroupLists;
  }

  get roleGroups(): Readonly<Record<PlatformRole, readonly string[]>> {
    const roleGroups = new Set(Object.values(this.roleGroupLists).flat());
    return { ...this.roleGroupLists, viewer: [...this.roleGroupLists.viewer, ...this.tenantGroups.filter((g) => !roleGroups.has(g))] };
  }

  /** Every group of the realm: role groups first, then tenant groups. */
  get groups(): readonly string[] {
    return [...new Set([...Object.values(this.roleGroupLists).flat(), ...this.tenantGroups])];
  }

  /** The tenant's groups become realm groups (role `viewer` unless they have another role). */
  addTenant(tenant: ITenant): void {
    for (const g of tenant.groups) {
      checkGroup(g);
      if (!this.tenantGroups.includes(g)) this.tenantGroups.push(g);
    }
  }

  addClient(options: OidcClientOptions): IOidcClient {
    if (!CLIENT_ID.test(options.clientId)) throw new Error(`OIDC client id "${options.clientId}" must be lowercase letters, digits and "-"`);
    if (this.clients.some((c) => c.options.clientId === options.clientId)) throw new Error(`OIDC client "${options.clientId}" is registered twice`);
    if (options.redirectUris.length === 0) throw new Error(`OIDC client "${options.clientId}" needs at least one redirect URI`);
    for (const uri of [...options.redirectUris, ...(options.postLogoutRedirectUris ?? [])]) {
      // Wildcards turn a client into an open redirector for tokens.
      if (uri.includes('*')) throw new Error(`OIDC client "${options.clientId}": redirect URI "${uri}" must be exact (no "*")`);
      if (!/^https:\/\//.test(uri) && !/^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/|$)/.test(uri)) {
        throw new Error(`OIDC client "${options.clientId}": redirect URI "${uri}" must be https (or http on localhost for CLIs)`);
      }
    }
    let secret: ISecretRef | undefined;
    if (!options.public) {
      if (!options.namespace) throw new Error(`OIDC client "${options.clientId}" is confidential: name the namespace of the app that reads its secret`);
      const name = `oidc-${options.clientId}`;
      const keys = { [OIDC_CLIENT_KEYS.clientId]: { value: options.clientId }, [OIDC_CLIENT_KEYS.clientSecret]: { generate: 48 } };
      const source = this.credentials.secret(KEYCLOAK_NAMESPACE, name, keys);
      secret = options.namespace === KEYCLOAK_NAMESPACE
        ? source
        : this.credentials.secret(options.namespace, name, {
          [OIDC_CLIENT_KEYS.clientId]: { copyFrom: source, key: OIDC_CLIENT_KEYS.clientId },
          [OIDC_CLIENT_KEYS.clientSecret]: { copyFrom: source, key: OIDC_CLIENT_KEYS.clientSecret },
        });
      this.clients.push({ options, secret: source });
    } else {
      this.clients.push({ options });
    }
    return { clientId: options.clientId, issuerUrl: this.issuerUrl, secret };
  }

  /** The realm as the applier reads it (a subset of Keycloak's RealmRepresentation). */
  realmDocument(): Record<string, unknown> {
    const roleOf = new Map<string, PlatformRole>();
    for (const [role, groups] of Object.entries(this.roleGroups) as Array<[PlatformRole, readonly string[]]>) for (const g of groups) roleOf.set(g, role);
    return {
      realm: this.realm,
      enabled: true,
      displayName: `${this.ctx.client} ML platform`,
      sslRequired: 'external',
      registrationAllowed: false,
      loginWithEmailAllowed: true,
      duplicateEmailsAllowed: false,
      resetPasswordAllowed: false,
      editUsernameAllowed: false,
      rememberMe: false,
      bruteForceProtected: true,
      roles: {
        realm: [
          { name: 'admin', description: 'Platform administrator: full access to every platform app' },
          { name: 'editor', description: 'Platform editor: changes dashboards and shared settings' },
          { name: 'viewer', description: 'Platform viewer: reads dashboards and shared settings' },
        ],
      },
      groups: this.groups.map((name) => ({ name, realmRoles: roleOf.has(name) ? [roleOf.get(name)] : [] })),
      clientScopes: [
        {
          name: GROUPS_CLAIM,
          description: 'Group names of the user (the tenant and role groups)',
          protocol: 'openid-connect',
          attributes: { 'include.in.token.scope': 'true', 'display.on.consent.screen': 'false' },
          protocolMappers: [
            {
              name: GROUPS_CLAIM,
              protocol: 'openid-connect',
              protocolMapper: 'oidc-group-membership-mapper',
              config: {
                'claim.name': GROUPS_CLAIM,
                'full.path': 'false',
                'id.token.claim': 'true',
                'access.token.claim': 'true',
                'userinfo.token.claim': 'true',
                'introspection.token.claim': 'true',
              },
            },
          ],
        },
      ],
      clients: this.clients.map((c) => this.clientDocument(c)),
    };
  }

  private clientDocument(c: RealmClient): Record<string, unknown> {
    const o = c.options;
    return {
      clientId: o.clientId,
      name: o.name,
      enabled: true,
      protocol: 'openid-connect',
      publicClient: o.public ?? false,
      ...(c.secret ? { clientAuthenticatorType: 'client-secret', secret: `$(env:${secretEnvName(o.clientId)})` } : {}),
      standardFlowEnabled: true,
      implicitFlowEnabled: false,
      directAccessGrantsEnabled: false,
      serviceAccountsEnabled: false,
      consentRequired: false,
      frontchannelLogout: true,
      redirectUris: [...o.redirectUris],
      webOrigins: [...(o.webOrigins ?? [])],
      attributes: {
        // Authorization code flow with PKCE only.
        'pkce.code.challenge.method': 'S256',
        'post.logout.redirect.uris': (o.postLogoutRedirectUris ?? []).join('##'),
      },
      defaultClientScopes: DEFAULT_CLIENT_SCOPES,
      protocolMappers: [
        {
          // Access tokens name the client as audience (oauth2-proxy and APIs check `aud`).
          name: 'audience',
          protocol: 'openid-connect',
          protocolMapper: 'oidc-audience-mapper',
          config: { 'included.client.audience': o.clientId, 'id.token.claim': 'false', 'access.token.claim': 'true', 'introspection.token.claim': 'true' },
        },
      ],
    };
  }

  private realmJson(): string {
    return `${JSON.stringify(this.realmDocument(), null, 2)}\n`;
  }

  private server(): void {
    const ns = KEYCLOAK_NAMESPACE;
    const db = this.database;
    const admin = this.bootstrapAdmin;
    const env: k8s.EnvVar[] = [
      { name: 'KC_DB', value: 'postgres' },
      { name: 'KC_DB_URL', value: `jdbc:postgresql://${db.endpoint.host}:${db.endpoint.port}/${db.name}` },
      secretEnv('KC_DB_USERNAME', db.login, 'username'),
      secretEnv('KC_DB_PASSWORD', db.login, 'password'),
      // A full URL fixes the issuer whatever host a request came in by; back-channel endpoints
      // follow the request, so in-cluster apps call the Service directly.
      { name: 'KC_HOSTNAME', value: `https://${this.ctx.host(KEYCLOAK_APP)}` },
      { name: 'KC_HOSTNAME_BACKCHANNEL_DYNAMIC', value: 'true' },
      // TLS ends at Traefik, which sets X-Forwarded-*.
      { name: 'KC_HTTP_ENABLED', value: 'true' },
      { name: 'KC_HTTP_PORT', value: String(HTTP_PORT) },
      { name: 'KC_PROXY_HEADERS', value: 'xforwarded' },
      { name: 'KC_HEALTH_ENABLED', value: 'true' },
      { name: 'KC_METRICS_ENABLED', value: 'true' },
      { name: 'KC_HTTP_MANAGEMENT_PORT', value: String(MANAGEMENT_PORT) },
      // One replica: local caches. More: Infinispan with discovery through the database.
      { name: 'KC_CACHE', value: this.replicas > 1 ? 'ispn' : 'local' },
      { name: 'KC_LOG_CONSOLE_OUTPUT', value: 'json' },
      secretEnv('KC_BOOTSTRAP_ADMIN_USERNAME', admin, 'username'),
      secretEnv('KC_BOOTSTRAP_ADMIN_PASSWORD', admin, 'password'),
      secretEnv('KC_BOOTSTRAP_ADMIN_CLIENT_ID', admin, 'clientId'),
      secretEnv('KC_BOOTSTRAP_ADMIN_CLIENT_SECRET', admin, 'clientSecret'),
    ];
    const probe = (p: string, failureThreshold: number): k8s.Probe => ({
      httpGet: { path: p, port: k8s.IntOrString.fromString('management') },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold,
    });
    new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name: NAME, namespace: ns },
      spec: {
        replicas: this.replicas,
        selector: { matchLabels: { ...this.podSelector } },
        template: {
          metadata: { labels: { ...this.podSelector } },
          spec: hardenedPod(
            {
              serviceAccountName: NAME,
              containers: [
                hardenedContainer(
                  {
                    name: 'keycloak',
                    image: this.image,
                    args: ['start'],
                    env,
                    ports: [
                      { name: 'http', containerPort: HTTP_PORT },
                      { name: 'management', containerPort: MANAGEMENT_PORT },
                      ...(this.replicas > 1 ? [{ name: 'jgroups', containerPort: 7800 }] : []),
                    ],
                    // First start creates the schema (~80 s) and the stock image re-augments
                    // for these build options (~50 s): allow 5 minutes.
                    startupProbe: probe('/health/started', 30),
                    readinessProbe: probe('/health/ready', 3),
                    livenessProbe: probe('/health/live', 6),
                    resources: resources({ cpu: '500m', memory: '1Gi' }, { memory: '2Gi' }),
                    volumeMounts: [
                      { name: 'data', mountPath: '/opt/keycloak/data' },
                      { name: 'tmp', mountPath: '/tmp' },
                    ],
                  },
                  // The stock image rebuilds itself (writes lib/quarkus) when its build options
                  // differ from ours; a pre-built image could run read-only (docs/identity.md).
                  { readOnlyRootFilesystem: false },
                ),
              ],
              volumes: [
                { name: 'data', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } },
                { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } },
              ],
            },
            // The image's own user (uid 1000, group 0 owns /opt/keycloak).
            { uid: 1000 },
          ),
        },
      },
    });
    new k8s.KubeService(this, 'Service', {
      metadata: { name: NAME, namespace: ns },
      spec: {
        selector: { ...this.podSelector },
        ports: [
          { name: 'http', port: HTTP_PORT, targetPort: k8s.IntOrString.fromString('http') },
          { name: 'management', port: MANAGEMENT_PORT, targetPort: k8s.IntOrString.fromString('management') },
        ],
      },
    });
    if (this.replicas > 1) {
      new k8s.KubePodDisruptionBudget(this, 'Pdb', {
        metadata: { name: NAME, namespace: ns },
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: { ...this.podSelector } } },
      });
    }
  }

  private realmJob(): void {
    const ns = KEYCLOAK_NAMESPACE;
    new k8s.KubeConfigMap(this, 'Realm', {
      metadata: { name: 'keycloak-realm', namespace: ns },
      data: { 'apply.py': APPLY_PY, 'realm.json': Lazy.any({ produce: () => this.realmJson() }) as unknown as string },
    });
    const image = this.ctx.image(this.ctx.versions.images.python);
    const hash = (): string => createHash('sha256').update(image).update('\0').update(APPLY_PY).update(this.realmJson()).digest('hex').slice(0, 10);
    new k8s.KubeJob(this, 'RealmJob', {
      metadata: { name: Lazy.any({ produce: () => `keycloak-realm-${hash()}` }) as unknown as string, namespace: ns },
      spec: {
        backoffLimit: 10,
        template: {
          metadata: { labels: { 'app.kubernetes.io/name': NAME, [`${MLPLAT_PREFIX}/role`]: 'realm' } },
          spec: hardenedPod({
            serviceAccountName: NAME,
            restartPolicy: 'OnFailure',
            containers: [
              hardenedContainer({
                name: 'apply',
                image,
                command: ['python', '-B', '/etc/keycloak-realm/apply.py', '/etc/keycloak-realm/realm.json'],
                env: Lazy.any({
                  produce: () => [
                    { name: 'KC_URL', value: this.endpoint.url },
                    secretEnv('KC_CLIENT_ID', this.bootstrapAdmin, 'clientId'),
                    secretEnv('KC_CLIENT_SECRET', this.bootstrapAdmin, 'clientSecret'),
                    ...this.clients.filter((c) => c.secret).map((c) => secretEnv(secretEnvName(c.options.clientId), c.secret!, OIDC_CLIENT_KEYS.clientSecret)),
                  ],
                }) as unknown as k8s.EnvVar[],
                resources: resources({ cpu: '20m', memory: '64Mi' }, { memory: '128Mi' }),
                volumeMounts: [{ name: 'realm', mountPath: '/etc/keycloak-realm', readOnly: true }],
              }),
            ],
            volumes: [{ name: 'realm', configMap: { name: 'keycloak-realm' } }],
          }),
        },
      },
    });
  }
}

/** Group names are top-level realm groups, carried in tokens as written. */
function checkGroup(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.length > 255) throw new Error(`sso group "${name}" must be letters, digits, ".", "_" and "-", starting with a letter or digit`);
}

/** Environment variable the realm Job passes a client's secret in. */
export function secretEnvName(clientId: string): string {
  return `OIDC_SECRET_${clientId.toUpperCase().replace(/-/g, '_')}`;
}
