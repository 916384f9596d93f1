import { createHash } from 'node:crypto';
/**
 * The naming policy, chosen once: Kubernetes object names are stable and human
 * (`gpu-operator`, `<tenant>`, `mlplat-gpu-<pool>`), never derived from construct paths.
 * Renaming a construct therefore never renames (and so never replaces) an object.
 */

/** Label and annotation prefix for everything mlplat owns. */
export const MLPLAT_PREFIX = 'mlplat.io';

/** Namespaces the platform itself uses; no tenant may take one of these names. */
export const PLATFORM_NAMESPACES = [
  'mlplat-system',
  'gpu-operator',
  'flux-system',
  'cert-manager',
  'traefik',
  'keycloak',
  'portal',
  'grafana',
  'monitoring',
  'logging',
  'storage',
  'rook-ceph',
  'minio',
  'tracking',
  'mlflow',
  'clearml',
  'kserve',
  'cnpg-system',
  'databases',
  'dataset-cache',
] as const;

/** Namespaces Kubernetes itself owns. */
export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;

/** Why a namespace name is reserved, or undefined when a tenant may use it. */
export function reservedNamespaceReason(name: string): string | undefined {
  if ((SYSTEM_NAMESPACES as readonly string[]).includes(name) || name.startsWith('kube-')) {
    return 'is reserved by Kubernetes';
  }
  if ((PLATFORM_NAMESPACES as readonly string[]).includes(name)) {
    return 'is reserved for a platform component';
  }
  return undefined;
}

/**
 * `<prefix><name>` when it fits in `max` characters (a DNS label by default); otherwise the name
 * is cut and given a short hash of the whole, so distinct inputs stay distinct and stable.
 */
export function boundedName(prefix: string, name: string, max = 63): string {
  const full = `${prefix}${name}`;
  if (full.length <= max) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, max - 9).replace(/[-.]+$/, '')}-${hash}`;
}
