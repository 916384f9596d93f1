import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { ChartRelease } from '../../lib/chart-release';
import { PlatformContext } from '../../lib/context';
import { platformNamespace } from '../../lib/workload';
import { CredentialGenerator } from '../credentials/generator';
import { ISecretRef } from '../credentials/types';
import { IMetricsSource, ScrapeTarget } from '../observability/types';
import { IObjectStore, ServiceEndpoint, serviceEndpoint } from '../storage/types';

export const CNPG_API = 'postgresql.cnpg.io/v1';
export const DATABASES_NAMESPACE = 'databases';
export const CNPG_OPERATOR_NAMESPACE = 'cnpg-system';
const CLUSTER_NAME = 'platform';
const PG_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Typed subset of the cloudnative-pg chart's values mlplat sets. */
export interface CloudnativePgValues {
  /** Operator image; the tag defaults to the chart's appVersion. */
  readonly image?: { readonly repository: string };
  readonly crds: { readonly create: boolean };
  readonly config: { readonly clusterWide: boolean };
  /** Plain strings: chart values are not Kubernetes objects, so Quantity wrappers would not be resolved. */
  readonly resources: { readonly requests: { readonly cpu: string; readonly memory: string }; readonly limits: { readonly memory: string } };
}

export interface PlatformDatabaseOptions {
  /**
   * PostgreSQL instances (one primary, the rest streaming replicas).
   * @default 1
   */
  readonly instances?: number;
  /**
   * Volume size of each instance.
   * @default '20Gi'
   */
  readonly size?: string;
  /**
   * StorageClass of the instance volumes.
   * @default - the cluster's default StorageClass
   */
  readonly storageClass?: string;
  /**
   * Base backup schedule, six-field cron (seconds first).
   * @default '0 0 2 * * *'
   */
  readonly backupSchedule?: string;
  /**
   * How long backups are kept.
   * @default '30d'
   */
  readonly backupRetention?: string;
}

export interface PlatformDatabaseProps extends PlatformDatabaseOptions {
  readonly credentials: CredentialGenerator;
  /**
   * Where base backups and the WAL archive go (bucket `backups`).
   * @default - no backups (a warning in the docs: only for throw-away platforms)
   */
  readonly store?: IObjectStore;
}

/** A database of the platform PostgreSQL, as its consumer sees it. */
export interface IDatabase {
  /** Database name. */
  readonly name: string;
  /** Read-write service of the cluster. */
  readonly endpoint: ServiceEndpoint;
  /** Role owning the database; its `username` and `password` keys. */
  readonly login: ISecretRef;
}

export interface IPostgres {
  /** A database owned by a role of the same name; its login is copied into `consumerNamespace`. */
  addDatabase(name: string, consumer: { readonly namespace: string; readonly secretName: string }): IDatabase;
}

/**
 * The platform's PostgreSQL: the CloudNativePG operator (Helm, through ChartRelease) and one
 * `Cluster` (`databases/platform`) that holds a database per consumer (MLflow, its auth store,
 * Keycloak). Each database has its own login role, managed declaratively by the operator from a
 * generated password, and base backups plus the WAL archive go to the platform object store.
 */
export class PlatformDatabase extends Construct implements IPostgres, IMetricsSource {
  readonly namespace = DATABASES_NAMESPACE;
  readonly clusterName = CLUSTER_NAME;
  readonly instances: number;
  readonly size: string;
  readonly storageClass: string | undefined;
  readonly backupSchedule: string;
  readonly backupRetention: string;
  readonly operator: ChartRelease<CloudnativePgValues>;
  /** Read-write service (`platform-rw`), created by the operator. */
  readonly endpoint: ServiceEndpoint;
  private readonly credentials: CredentialGenerator;
  private readonly databases: IDatabase[] = [];

  constructor(scope: Construct, id: string, props: PlatformDatabaseProps) {
    super(scope, id);
    const ctx = PlatformContext.of(this);
    this.instances = props.instances ?? 1;
    this.size = props.size ?? '20Gi';
    this.storageClass = props.storageClass;
    this.backupSchedule = props.backupSchedule ?? '0 0 2 * * *';
    this.backupRetention = props.backupRetention ?? '30d';
    this.credentials = props.credentials;
    if (!Number.isInteger(this.instances) || this.instances < 1) throw new Error(`database instances must be a positive integer, got ${this.instances}`);
    this.endpoint = serviceEndpoint(DATABASES_NAMESPACE, `${CLUSTER_NAME}-rw`, 5432, 'postgres');

    platformNamespace(this, 'OperatorNamespace', CNPG_OPERATOR_NAMESPACE, 'restricted');
    platformNamespace(this, 'Namespace', DATABASES_NAMESPACE, 'restricted');

    this.operator = new ChartRelease<CloudnativePgValues>(this, 'Operator', {
      chart: ctx.versions.charts.cloudnativePg,
      releaseName: 'cloudnative-pg',
      namespace: CNPG_OPERATOR_NAMESPACE,
      provides: ['postgresql.cnpg.io'],
      values: {
        // Pulled through the platform's mirror when one is set (air-gapped clusters).
        ...(ctx.imageRegistry ? { image: { repository: `${ctx.imageRegistry}/cloudnative-pg/cloudnative-pg` } } : {}),
        crds: { create: true },
        config: { clusterWide: true },
        resources: { requests: { cpu: '100m', memory: '200Mi' }, limits: { memory: '500Mi' } },
      },
    });

    const backup = props.store ? this.backupConfig(props.store) : undefined;
    new ApiObject(this, 'Resource', {
      apiVersion: CNPG_API,
      kind: 'Cluster',
      metadata: { name: CLUSTER_NAME, namespace: DATABASES_NAMESPACE },
      spec: {
        instances: this.instances,
        imageName: ctx.image(ctx.versions.images.postgres),
        enableSuperuserAccess: false,
        enablePDB: this.instances > 1,
        storage: { size: this.size, ...(this.storageClass ? { storageClass: this.storageClass } : {}) },
        resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '2Gi' } },
        // The bootstrap database; consumers get databases of their own below.
        bootstrap: { initdb: { database: 'app', owner: 'app' } },
        managed: {
          roles: Lazy.any({
            produce: () =>
              this.databases.map((d) => ({ name: d.name, ensure: 'present', login: true, passwordSecret: { name: roleSecretName(d.name) } })),
          }),
        },
        ...(backup ? { backup } : {}),
      },
    });

    if (backup) {
      new ApiObject(this, 'ScheduledBackup', {
        apiVersion: CNPG_API,
        kind: 'ScheduledBackup',
        metadata: { name: `${CLUSTER_NAME}-daily`, namespace: DATABASES_NAMESPACE },
        spec: {
          schedule: this.backupSchedule,
          cluster: { name: CLUSTER_NAME },
          method: 'barmanObjectStore',
          backupOwnerReference: 'self',
          immediate: true,
        },
      });
    }
  }

  /**
   * The in-tree Barman object store backup, deprecated since CloudNativePG 1.26 in favour of the
   * Barman Cloud plugin, which needs cert-manager (arrives with the edge component); 1.31 removes
   * it, so the catalog pins the 1.30 line until the switch (see docs/database.md).
   */
  private backupConfig(store: IObjectStore): Record<string, unknown> {
    const bucket = store.bucket('backups');
    const creds = store.grant({ namespace: DATABASES_NAMESPACE, secretName: 'backup-s3', user: 'postgres-backup' }, [bucket], 'readwrite');
    return {
      retentionPolicy: this.backupRetention,
      barmanObjectStore: {
        destinationPath: `${bucket.uri}/postgres`,
        endpointURL: store.s3.url,
        s3Credentials: {
          accessKeyId: creds.keyRef('AWS_ACCESS_KEY_ID'),
          secretAccessKey: creds.keyRef('AWS_SECRET_ACCESS_KEY'),
        },
        wal: { compression: 'gzip' },
        data: { compression: 'gzip' },
      },
    };
  }

  /**
   * The instances' exporter (port `metrics`, 9187), as CloudNativePG's docs advise: a PodMonitor
   * of our own (the operator-made one, `spec.monitoring.enablePodMonitor`, is deprecated). The
   * labels are those the operator puts on instance pods (pkg/specs/pods.go, v1.30).
   */
  get scrapeTargets(): readonly ScrapeTarget[] {
    return [
      {
        name: CLUSTER_NAME,
        namespace: DATABASES_NAMESPACE,
        podSelector: { 'cnpg.io/cluster': CLUSTER_NAME, 'cnpg.io/podRole': 'instance' },
        port: 'metrics',
        path: '/metrics',
        component: 'postgres',
      },
    ];
  }

  get databaseList(): readonly IDatabase[] {
    return this.databases;
  }

  addDatabase(name: string, consumer: { readonly namespace: string; readonly secretName: string }): IDatabase {
    if (!PG_IDENTIFIER.test(name)) throw new Error(`database name "${name}" must be a lowercase PostgreSQL identifier (letters, digits, "_")`);
    if (name === 'app' || name === 'postgres') throw new Error(`database name "${name}" is reserved`);
    if (this.databases.some((d) => d.name === name)) throw new Error(`database "${name}" is added twice`);
    // The role's password Secret must live next to the Cluster; the consumer gets a copy.
    const roleSecret = this.credentials.secret(
      DATABASES_NAMESPACE,
      roleSecretName(name),
      { username: { value: name }, password: { generate: 32 } },
      // cnpg.io/reload: the operator applies a changed password at once (rotation).
      { type: 'kubernetes.io/basic-auth', labels: { 'cnpg.io/reload': 'true' } },
    );
    const login = this.credentials.secret(consumer.namespace, consumer.secretName, {
      username: { copyFrom: roleSecret, key: 'username' },
      password: { copyFrom: roleSecret, key: 'password' },
    });
    new ApiObject(this, `Database-${name}`, {
      apiVersion: CNPG_API,
      kind: 'Database',
      metadata: { name: name.replace(/_/g, '-'), namespace: DATABASES_NAMESPACE },
      spec: { name, owner: name, cluster: { name: CLUSTER_NAME }, ensure: 'present', databaseReclaimPolicy: 'retain' },
    });
    const db: IDatabase = { name, endpoint: this.endpoint, login };
    this.databases.push(db);
    return db;
  }
}

function roleSecretName(db: string): string {
  return `role-${db.replace(/_/g, '-')}`;
}
