import { createHash } from 'node:crypto';
import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { WebUi } from '../edge/types';
import { readAsset } from '../../lib/assets';
import { PlatformContext } from '../../lib/context';
import { k8s } from '../../lib/k8s';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { hardenedContainer, hardenedPod, platformNamespace, resources } from '../../lib/workload';
import { CredentialGenerator } from '../credentials/generator';
import { ISecretRef, secretEnv } from '../credentials/types';
import { IDatabase, IPostgres } from '../database/postgres';
import { IObjectStore, ServiceEndpoint, serviceEndpoint } from '../storage/types';
import { TENANT_REACHABLE_LABEL } from '../tenancy/tenant';
import { TenantIngress } from '../../lib/tenant-ingress';

export const MLFLOW_NAMESPACE = 'mlflow';
const NAME = 'mlflow';
const PORT = 5000;
const ADMIN_USER = 'mlplat-admin';
/** The bootstrap script, shipped with mlplat (a package asset, not user input). */
const BOOTSTRAP_PY = readAsset('constructs/tracking/mlflow-bootstrap.py');

/**
 * Starts the server: renders the auth config (whose database URI carries a password, so it
 * cannot live in the ConfigMap) into the writable /tmp, then execs `mlflow server` with the
 * container's arguments.
 */
const START_SH = `#!/bin/sh
set -eu
mkdir -p "$(dirname "$MLFLOW_AUTH_CONFIG_PATH")"
sed "s|@AUTH_DATABASE_URI@|$MLFLOW_AUTH_DATABASE_URI|" "$MLFLOW_CONFIG_DIR/basic_auth.ini.template" >"$MLFLOW_AUTH_CONFIG_PATH"
exec mlflow server "$@"
`;

const AUTH_INI = `[mlflow]
# Users see nothing they were not granted: tenants get a role in their own workspace only.
default_permission = NO_PERMISSIONS
database_uri = @AUTH_DATABASE_URI@
admin_username = ${ADMIN_USER}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
grant_default_workspace_access = false
`;

export interface MlflowServerOptions {
  /**
   * Server replicas (stateless: the database and the object store hold everything).
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Image with mlflow[auth], psycopg2 and boto3.
   * @default - the catalog's MLflow image
   */
  readonly image?: string;
  /**
   * Worker processes per replica.
   * @default 2
   */
  readonly workers?: number;
}

export interface MlflowServerProps extends MlflowServerOptions {
  readonly credentials: CredentialGenerator;
  readonly database: IPostgres;
  readonly store: IObjectStore;
}

/** What a tenant gets to use the tracking server. */
export interface TrackingAccess {
  /** Secret in the tenant namespace with MLFLOW_TRACKING_URI, _USERNAME, _PASSWORD and MLFLOW_WORKSPACE. */
  readonly credentials: ISecretRef;
  readonly workspace: string;
}

/**
 * MLflow tracking server: one server for the platform, PostgreSQL for runs and models (and a
 * second database for users and permissions), artifacts proxied into the platform bucket
 * `artifacts` so tenants never hold S3 keys for it. Multi-tenancy: one MLflow workspace per
 * tenant, one MLflow user per tenant with a role in its workspace only (basic-auth app,
 * default permission NO_PERMISSIONS). See docs/tracking-mlflow.md.
 */
export class MlflowServer extends Construct {
  readonly namespace = MLFLOW_NAMESPACE;
  readonly replicas: number;
  readonly workers: number;
  readonly image: string;
  /** The in-cluster endpoint (Service `mlflow`, port `http`). */
  readonly endpoint: ServiceEndpoint;
  /** The UI, for the ingress. */
  readonly webUi: WebUi;
  readonly trackingDatabase: IDatabase;
  readonly authDatabase: IDatabase;
  readonly admin: ISecretRef;
  private readonly credentials: CredentialGenerator;
  private readonly tenants: Array<{ readonly workspace: string; readonly user: string; readonly secret: ISecretRef; readonly access: TrackingAccess }> = [];

  constructor(scope: Construct, id: string, props: MlflowServerProps) {
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.replicas = props.replicas ?? 1;
    this.workers = props.workers ?? 2;
    this.image = props.image ?? ctx.image(ctx.versions.images.mlflow);
    this.credentials = props.credentials;
    this.endpoint = serviceEndpoint(MLFLOW_NAMESPACE, NAME, PORT, 'http');
    const ns = MLFLOW_NAMESPACE;
    const selector = { 'app.kubernetes.io/name': NAME, [`${MLPLAT_PREFIX}/role`]: 'server' };
    this.webUi = { namespace: ns, service: { name: NAME, port: 'http' }, podSelector: selector, targetPort: PORT };

    platformNamespace(this, 'Namespace', ns, 'restricted', { [TENANT_REACHABLE_LABEL]: 'true' });

    new TenantIngress(this, 'TenantIngress', { namespace: ns, openings: [{ name: 'server', podLabels: selector, port: PORT }] });

    this.trackingDatabase = props.database.addDatabase('mlflow', { namespace: ns, secretName: 'mlflow-db' });
    this.authDatabase = props.database.addDatabase('mlflow_auth', { namespace: ns, secretName: 'mlflow-auth-db' });
    this.admin = props.credentials.secret(ns, 'mlflow-admin', { username: { value: ADMIN_USER }, password: { generate: 32 } });
    const flask = props.credentials.secret(ns, 'mlflow-flask', { secretKey: { generate: 64 } });
    const artifacts = props.store.bucket('artifacts');
    const s3 = props.store.grant({ namespace: ns, secretName: 'mlflow-s3', user: 'mlflow' }, [artifacts], 'readwrite');

    new k8s.KubeConfigMap(this, 'Config', {
      metadata: { name: 'mlflow-server', namespace: ns },
      data: { 'start.sh': START_SH, 'basic_auth.ini.template': AUTH_INI },
    });
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: { name: NAME, namespace: ns }, automountServiceAccountToken: false });

    const db = this.trackingDatabase;
    const authDb = this.authDatabase;
    // Host headers the server answers (DNS-rebinding protection): every in-cluster name of the
    // Service, the future ingress host, and loopback for port-forwards.
    const inCluster = [NAME, `${NAME}.${ns}`, this.endpoint.host, `${NAME}.${ns}.svc.cluster.local`];
    const allowedHosts = [...inCluster.flatMap((h) => [h, `${h}:*`]), ctx.host('mlflow'), 'localhost:*', '127.0.0.1:*'];
    const env: k8s.EnvVar[] = [
      secretEnv('DB_USER', db.login, 'username'),
      secretEnv('DB_PASSWORD', db.login, 'password'),
      { name: 'MLFLOW_BACKEND_STORE_URI', value: `postgresql://$(DB_USER):$(DB_PASSWORD)@${db.endpoint.host}:${db.endpoint.port}/${db.name}` },
      secretEnv('AUTH_DB_USER', authDb.login, 'username'),
      secretEnv('AUTH_DB_PASSWORD', authDb.login, 'password'),
      { name: 'MLFLOW_AUTH_DATABASE_URI', value: `postgresql://$(AUTH_DB_USER):$(AUTH_DB_PASSWORD)@${authDb.endpoint.host}:${authDb.endpoint.port}/${authDb.name}` },
      { name: 'MLFLOW_CONFIG_DIR', value: '/etc/mlflow' },
      { name: 'MLFLOW_AUTH_CONFIG_PATH', value: '/tmp/mlflow/basic_auth.ini' },
      secretEnv('MLFLOW_AUTH_ADMIN_PASSWORD', this.admin, 'password'),
      secretEnv('MLFLOW_FLASK_SERVER_SECRET_KEY', flask, 'secretKey'),
      secretEnv('AWS_ACCESS_KEY_ID', s3, 'AWS_ACCESS_KEY_ID'),
      secretEnv('AWS_SECRET_ACCESS_KEY', s3, 'AWS_SECRET_ACCESS_KEY'),
      { name: 'MLFLOW_S3_ENDPOINT_URL', value: props.store.s3.url },
      { name: 'AWS_DEFAULT_REGION', value: props.store.region },
      { name: 'MLFLOW_SERVER_ALLOWED_HOSTS', value: allowedHosts.join(',') },
      { name: 'HOME', value: '/tmp' },
    ];

    const probe = (initialDelaySeconds: number): k8s.Probe => ({
      httpGet: { path: '/health', port: k8s.IntOrString.fromString('http') },
      initialDelaySeconds,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 6,
    });

    new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name: NAME, namespace: ns },
      spec: {
        replicas: this.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector },
          spec: hardenedPod({
            serviceAccountName: NAME,
            containers: [
              hardenedContainer({
                name: 'mlflow',
                image: this.image,
                command: ['/bin/sh', '/etc/mlflow/start.sh'],
                args: [
                  '--host', '0.0.0.0',
                  '--port', String(PORT),
                  '--workers', String(this.workers),
                  '--app-name', 'basic-auth',
                  '--enable-workspaces',
                  '--serve-artifacts',
                  '--artifacts-destination', artifacts.uri,
                ],
                env,
                ports: [{ name: 'http', containerPort: PORT }],
                readinessProbe: probe(5),
                livenessProbe: probe(30),
                resources: resources({ cpu: '250m', memory: '1Gi' }, { memory: '4Gi' }),
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/mlflow', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              }),
            ],
            volumes: [
              { name: 'config', configMap: { name: 'mlflow-server' } },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } },
            ],
          }),
        },
      },
    });
    new k8s.KubeService(this, 'Service', {
      metadata: { name: NAME, namespace: ns },
      spec: { selector, ports: [{ name: 'http', port: PORT, targetPort: k8s.IntOrString.fromString('http') }] },
    });
    if (this.replicas > 1) {
      new k8s.KubePodDisruptionBudget(this, 'Pdb', {
        metadata: { name: NAME, namespace: ns },
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector } },
      });
    }

    // Tenancy bootstrap: workspaces, users and roles, re-run whenever the tenant list changes.
    new k8s.KubeConfigMap(this, 'BootstrapConfig', {
      metadata: { name: 'mlflow-bootstrap', namespace: ns },
      data: {
        'bootstrap.py': BOOTSTRAP_PY,
        'tenants.json': Lazy.any({ produce: () => this.tenantsJson() }) as unknown as string,
      },
    });
    new k8s.KubeJob(this, 'Bootstrap', {
      metadata: { name: Lazy.any({ produce: () => `mlflow-bootstrap-${this.bootstrapHash()}` }) as unknown as string, namespace: ns },
      spec: {
        backoffLimit: 10,
        template: {
          metadata: { labels: { 'app.kubernetes.io/name': NAME, [`${MLPLAT_PREFIX}/role`]: 'bootstrap' } },
          spec: hardenedPod({
            serviceAccountName: NAME,
            restartPolicy: 'OnFailure',
            containers: [
              hardenedContainer({
                name: 'bootstrap',
                image: this.image,
                command: ['python', '/etc/mlflow-bootstrap/bootstrap.py'],
                env: [
                  { name: 'MLFLOW_TRACKING_URI', value: this.endpoint.url },
                  secretEnv('MLFLOW_TRACKING_USERNAME', this.admin, 'username'),
                  secretEnv('MLFLOW_TRACKING_PASSWORD', this.admin, 'password'),
                  { name: 'CREDENTIALS_DIR', value: '/credentials' },
                  { name: 'HOME', value: '/tmp' },
                ],
                resources: resources({ cpu: '50m', memory: '256Mi' }, { memory: '512Mi' }),
                volumeMounts: [
                  { name: 'bootstrap', mountPath: '/etc/mlflow-bootstrap', readOnly: true },
                  { name: 'credentials', mountPath: '/credentials', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              }),
            ],
            volumes: [
              { name: 'bootstrap', configMap: { name: 'mlflow-bootstrap' } },
              {
                name: 'credentials',
                projected: {
                  sources: Lazy.any({
                    produce: () => this.tenants.map((t) => ({ secret: { name: t.secret.name, items: [{ key: 'password', path: `${t.user}/password` }] } })),
                  }) as unknown as k8s.VolumeProjection[],
                },
              },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } },
            ],
          }),
        },
      },
    });
  }

  /**
   * Gives a tenant its workspace and user; its namespace gets `mlflow-credentials`, ready for
   * `envFrom` (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD, MLFLOW_WORKSPACE).
   */
  addTenant(tenant: { readonly name: string; readonly namespace: string }): TrackingAccess {
    const existing = this.tenants.find((t) => t.workspace === tenant.name);
    if (existing) return existing.access;
    if (tenant.name === ADMIN_USER) throw new Error(`tenant name "${tenant.name}" is the MLflow admin user`);
    const secret = this.credentials.secret(MLFLOW_NAMESPACE, `tenant-${tenant.name}`, { username: { value: tenant.name }, password: { generate: 32 } });
    const credentials = this.credentials.secret(tenant.namespace, 'mlflow-credentials', {
      MLFLOW_TRACKING_URI: { value: this.endpoint.url },
      MLFLOW_WORKSPACE: { value: tenant.name },
      MLFLOW_TRACKING_USERNAME: { copyFrom: secret, key: 'username' },
      MLFLOW_TRACKING_PASSWORD: { copyFrom: secret, key: 'password' },
    });
    const access = { credentials, workspace: tenant.name };
    this.tenants.push({ workspace: tenant.name, user: tenant.name, secret, access });
    return access;
  }

  /** Tenants as the bootstrap reads them. */
  tenantsJson(): string {
    return `${JSON.stringify(this.tenants.map((t) => ({ workspace: t.workspace, user: t.user })), null, 2)}\n`;
  }

  private bootstrapHash(): string {
    return createHash('sha256').update(this.image).update('\0').update(BOOTSTRAP_PY).update(this.tenantsJson()).digest('hex').slice(0, 10);
  }
}
