import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { TENANT_LABEL } from '../gpu/access-policy';
import { ITenant } from './tenant';

const POLICY_NAME = 'mlplat-tenant-network-policies';

/**
 * Keeps tenant members from rewriting their namespace's network isolation. The `edit` role they
 * hold may write NetworkPolicies, so without this a member could delete `default-deny` or add an
 * allow-all policy. Members of any tenant group are refused NetworkPolicy writes in tenant
 * namespaces; the platform's own deployer (not in a tenant group) is not affected.
 */
export class TenantNetworkGuard extends Construct {
  private readonly tenants: ITenant[] = [];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const tenantNamespaces = { matchExpressions: [{ key: TENANT_LABEL, operator: 'Exists' }] };
    new ApiObject(this, 'Resource', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: POLICY_NAME },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['networking.k8s.io'],
              apiVersions: ['*'],
              operations: ['CREATE', 'UPDATE', 'DELETE'],
              resources: ['networkpolicies'],
            },
          ],
          namespaceSelector: tenantNamespaces,
        },
        validations: [
          {
            expression: Lazy.any({
              produce: () => `!request.userInfo.groups.exists(g, g in ${JSON.stringify(this.groups())})`,
            }),
            message: 'network isolation of tenant namespaces is managed by the platform; ask a platform admin to change it',
            reason: 'Forbidden',
          },
        ],
      },
    });
    new ApiObject(this, 'Binding', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: POLICY_NAME },
      spec: { policyName: POLICY_NAME, validationActions: ['Deny'], matchResources: { namespaceSelector: tenantNamespaces } },
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
