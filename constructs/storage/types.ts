import { WebUi } from '../edge/types';
import { ISecretRef } from '../credentials/types';

/** A Service other components connect to (for clients, NetworkPolicies and the ingress). */
export interface ServiceEndpoint {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  /** Port name on the Service. */
  readonly portName: string;
  /** `<name>.<namespace>.svc` */
  readonly host: string;
  /** `http://<host>:<port>` */
  readonly url: string;
}

/** A bucket of the platform store. */
export interface IBucket {
  readonly name: string;
  /** `s3://<name>` */
  readonly uri: string;
}

/** Who receives credentials: a Secret of this name in this namespace. */
export interface CredentialsTarget {
  readonly namespace: string;
  /** Name of the Secret to create there (holds AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). */
  readonly secretName: string;
  /** S3 user name; unique in the store, stable. */
  readonly user: string;
}

export type BucketAccess = 'read' | 'readwrite';

/**
 * The platform's object store (MinIO or Ceph RGW) as every consumer sees it: tracking server,
 * database backups, dataset cache, model serving and logs all take this handle, never a URL or
 * key copied from config.
 */
export interface IObjectStore {
  readonly kind: 'minio' | 'ceph';
  /** In-cluster S3 API. */
  readonly s3: ServiceEndpoint;
  /** Region to sign requests with. */
  readonly region: string;
  /** Web console (MinIO console or Ceph dashboard), for the ingress. */
  readonly console?: ServiceEndpoint;
  /** The console as the ingress routes it. */
  readonly webUi?: WebUi;
  /** Namespace the store's S3 pods run in (for NetworkPolicies). */
  readonly namespace: string;
  /** A platform bucket, created by the store's bootstrap; declares it on first use. */
  bucket(name: string): IBucket;
  /**
   * Credentials for a platform component: an S3 user allowed `access` on exactly `buckets`,
   * delivered as a Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the target namespace.
   */
  grant(target: CredentialsTarget, buckets: readonly IBucket[], access: BucketAccess): ISecretRef;
  /**
   * The bucket of a tenant (`tenant-<name>`) and its credentials Secret `s3-credentials` in the
   * tenant's namespace; that user can use only this bucket.
   */
  tenantBucket(tenant: { readonly name: string; readonly namespace: string }): { readonly bucket: IBucket; readonly credentials: ISecretRef };
}

/** Platform buckets every store creates. */
export const PLATFORM_BUCKETS = ['artifacts', 'models', 'datasets', 'logs', 'backups'] as const;
export type PlatformBucket = (typeof PLATFORM_BUCKETS)[number];

/** Bucket of a tenant. */
export function tenantBucketName(tenant: string): string {
  return `tenant-${tenant}`;
}

/** `<name>.<namespace>.svc` endpoint of a Service port. */
export function serviceEndpoint(namespace: string, name: string, port: number, portName: string): ServiceEndpoint {
  const host = `${name}.${namespace}.svc`;
  return { namespace, name, port, portName, host, url: `http://${host}:${port}` };
}
