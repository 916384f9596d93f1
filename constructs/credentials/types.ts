/**
 * Handles to Secrets. A Secret is named once, by the component that declares it (the credentials
 * generator, or a controller such as CloudNativePG or Rook that writes it); consumers only ever
 * hold an ISecretRef and never copy a name or a value.
 */

/** One key of a Secret, as a container reads it. */
export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

/** A Secret the platform declares, with the keys it is known to hold. */
export interface ISecretRef {
  readonly namespace: string;
  readonly name: string;
  readonly keys: readonly string[];
  /** Who writes the Secret (e.g. `mlplat-credentials`, `cloudnative-pg`, `rook-ceph`). */
  readonly producer: string;
  /** `{ name, key }` for `valueFrom.secretKeyRef`; throws when the Secret has no such key. */
  keyRef(key: string): SecretKeyRef;
}

/** Where the value of one key of a generated Secret comes from. */
export type KeySource =
  /** A random alphanumeric value of this many characters, generated once. */
  | { readonly generate: number }
  /** A fixed value that is not secret (a user name, an endpoint). */
  | { readonly value: string }
  /** A copy of a key of another Secret (possibly in another namespace), taken once. */
  | { readonly copyFrom: ISecretRef; readonly key: string };

/** The environment variables every S3 credentials Secret of the platform holds. */
export const S3_KEYS = { accessKeyId: 'AWS_ACCESS_KEY_ID', secretAccessKey: 'AWS_SECRET_ACCESS_KEY' } as const;

/** A container environment variable read from one key of a declared Secret. */
export function secretEnv(name: string, ref: ISecretRef, key: string): { name: string; valueFrom: { secretKeyRef: SecretKeyRef } } {
  return { name, valueFrom: { secretKeyRef: ref.keyRef(key) } };
}
