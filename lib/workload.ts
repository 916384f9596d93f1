import { Construct } from 'constructs';
import { k8s } from './k8s';

/**
 * The security baseline of every platform workload (CONVENTIONS 13), applied in one place:
 * non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp, read-only root
 * filesystem and no API token unless a component says otherwise (with its reason, in code).
 */

/** Non-root user the baseline runs containers as when the image names none. */
export const DEFAULT_UID = 65532;

export function hardenedPod(spec: k8s.PodSpec, options: { readonly uid?: number } = {}): k8s.PodSpec {
  const uid = options.uid ?? DEFAULT_UID;
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    ...spec,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: uid,
      runAsGroup: uid,
      fsGroup: uid,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
      ...spec.securityContext,
    },
  };
}

export function hardenedContainer(container: k8s.Container, options: { readonly readOnlyRootFilesystem?: boolean } = {}): k8s.Container {
  return {
    imagePullPolicy: 'IfNotPresent',
    ...container,
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: options.readOnlyRootFilesystem ?? true,
      capabilities: { drop: ['ALL'] },
      ...container.securityContext,
    },
  };
}

/** `resources` from CPU/memory strings. */
export function resources(requests: { cpu: string; memory: string }, limits: { cpu?: string; memory: string }): k8s.ResourceRequirements {
  const q = (v: string) => k8s.Quantity.fromString(v);
  return {
    requests: { cpu: q(requests.cpu), memory: q(requests.memory) },
    limits: { ...(limits.cpu ? { cpu: q(limits.cpu) } : {}), memory: q(limits.memory) },
  };
}

/**
 * A namespace of a platform component with its Pod Security level enforced (at the latest
 * policy version) and any further labels, e.g. `mlplat.io/reachable-from-tenants`.
 */
export function platformNamespace(
  scope: Construct,
  id: string,
  name: string,
  level: 'restricted' | 'baseline' | 'privileged',
  labels: Record<string, string> = {},
): k8s.KubeNamespace {
  return new k8s.KubeNamespace(scope, id, {
    metadata: {
      name,
      labels: { 'pod-security.kubernetes.io/enforce': level, 'pod-security.kubernetes.io/enforce-version': 'latest', ...labels },
    },
  });
}
