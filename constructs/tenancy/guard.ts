import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { AdmissionPolicy } from '../../lib/admission-policy';
import { TENANT_NAMESPACES } from '../gpu/access-policy';
import { ITenant } from './tenant';

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
    new AdmissionPolicy(this, 'Policy', {
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
  }

  /** Guards `tenant`'s groups. */
  addTenant(tenant: ITenant): void {
    this.tenants.push(tenant);
  }

  private groups(): string[] {
    return [...new Set(this.tenants.flatMap((t) => t.kubernetesGroups))].sort();
  }
}
