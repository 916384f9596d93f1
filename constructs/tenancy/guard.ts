import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { AdmissionPolicy } from '../../lib/admission-policy';
import { CERT_MANAGER_NAMESPACE } from '../edge/cert-manager';
import { ACME_SOLVER_LABEL } from '../edge/traefik';
import { TENANT_NAMESPACES } from '../gpu/access-policy';
import { ITenant } from './tenant';

/**
 * What tenant members may not do in tenant namespaces, enforced by the API server with
 * ValidatingAdmissionPolicies:
 * - rewrite network isolation: the `edit` role they hold may write NetworkPolicies, so a member
 *   could delete `default-deny` or add an allow-all policy. Members of any tenant group are
 *   refused NetworkPolicy writes; the platform's deployer (in no tenant group) is not affected;
 * - give a Service `externalIPs`: kube-proxy would steer cluster-wide traffic for those
 *   addresses into the tenant's pods (CVE-2020-8554);
 * - raise a pod's scheduling priority (e.g. `system-cluster-critical`) to preempt other tenants'
 *   pods: tenant pods run at priority 0 or below.
 */
export class TenantGuard extends Construct {
  private readonly tenants: ITenant[] = [];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AdmissionPolicy(this, 'NetworkPolicies', {
      name: 'mlplat-tenant-network-policies',
      resourceRules: [
        { apiGroups: ['networking.k8s.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['networkpolicies'] },
      ],
      namespaceSelector: TENANT_NAMESPACES,
      validations: [
        {
          expression: Lazy.any({ produce: () => `!request.userInfo.groups.exists(g, g in ${JSON.stringify(this.groups())})` }),
          message: 'network isolation of tenant namespaces is managed by the platform; ask a platform admin to change it',
        },
      ],
    });
    new AdmissionPolicy(this, 'Services', {
      name: 'mlplat-tenant-services',
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['services'] }],
      namespaceSelector: TENANT_NAMESPACES,
      validations: [
        {
          expression: '!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0',
          message: 'tenant Services may not set externalIPs: they would capture cluster-wide traffic for those addresses',
        },
      ],
    });
    // With ACME, Traefik serves the solver-labelled Ingresses of every routed namespace, tenant
    // namespaces included (model endpoints): only cert-manager may write such Ingresses there.
    new AdmissionPolicy(this, 'SolverIngresses', {
      name: 'mlplat-tenant-solver-ingresses',
      resourceRules: [{ apiGroups: ['networking.k8s.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['ingresses'] }],
      namespaceSelector: TENANT_NAMESPACES,
      validations: [
        {
          expression: `!has(object.metadata.labels) || !('${ACME_SOLVER_LABEL}' in object.metadata.labels) || request.userInfo.username == 'system:serviceaccount:${CERT_MANAGER_NAMESPACE}:cert-manager'`,
          message: `Ingresses labelled ${ACME_SOLVER_LABEL} are cert-manager's HTTP-01 solvers, which the platform ingress serves for any host: only cert-manager writes them`,
        },
      ],
    });
    new AdmissionPolicy(this, 'PodPriority', {
      name: 'mlplat-tenant-pod-priority',
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
      namespaceSelector: TENANT_NAMESPACES,
      validations: [
        {
          expression: '!has(object.spec.priority) || object.spec.priority <= 0',
          messageExpression:
            "'tenant pods may not raise their scheduling priority (priority class ' + (has(object.spec.priorityClassName) ? object.spec.priorityClassName : '') + ' has priority ' + string(object.spec.priority) + ')'",
        },
      ],
    });
  }

  /** Guards `tenant`'s groups. */
  addTenant(tenant: ITenant): void {
    this.tenants.push(tenant);
  }

  private groups(): string[] {
    return [...new Set(this.tenants.flatMap((t) => t.kubernetesGroups))].sort();
  }
}
