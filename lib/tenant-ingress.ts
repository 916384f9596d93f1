import { Construct } from 'constructs';
import { k8s } from './k8s';
import { MLPLAT_PREFIX } from './naming';

/** Label every tenant namespace carries (the tenant's name). */
const TENANT_KEY = `${MLPLAT_PREFIX}/tenant`;

/** A Service port of a platform namespace that tenant pods may call. */
export interface TenantOpening {
  /** Names the NetworkPolicy `mlplat-tenants-<name>`. */
  readonly name: string;
  /** Labels of the pods behind it. */
  readonly podLabels: Record<string, string>;
  /** Container port tenants may reach (the Service's target port). */
  readonly port: number;
}

/**
 * Ingress rules of a platform namespace that tenant namespaces may reach (it carries
 * `mlplat.io/reachable-from-tenants`, which opens the tenants' egress to it): everything there
 * accepts traffic from non-tenant namespaces (the platform itself, the ingress, monitoring), and
 * tenant pods reach only the listed ports. NetworkPolicies add up, so a pod behind an opening
 * accepts the union.
 */
export class TenantIngress extends Construct {
  constructor(scope: Construct, id: string, props: { readonly namespace: string; readonly openings: readonly TenantOpening[] }) {
    super(scope, id);
    new k8s.KubeNetworkPolicy(this, 'PlatformOnly', {
      metadata: { name: 'mlplat-platform-only', namespace: props.namespace },
      spec: {
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: TENANT_KEY, operator: 'DoesNotExist' }] } }] }],
      },
    });
    for (const o of props.openings) {
      new k8s.KubeNetworkPolicy(this, `Tenants-${o.name}`, {
        metadata: { name: `mlplat-tenants-${o.name}`, namespace: props.namespace },
        spec: {
          podSelector: { matchLabels: o.podLabels },
          policyTypes: ['Ingress'],
          ingress: [
            {
              from: [{ namespaceSelector: { matchExpressions: [{ key: TENANT_KEY, operator: 'Exists' }] } }],
              ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(o.port) }],
            },
          ],
        },
      });
    }
  }
}
