import { Construct } from 'constructs';
import { ChartRelease } from '../../lib/chart-release';
import { CredentialGenerator } from '../credentials/generator';
import { IOidcProvider } from '../identity/types';
import { IObjectStore } from '../storage/types';
import { ITenant } from '../tenancy/tenant';
import { InferenceEndpoint, InferenceEndpointProps } from './endpoint';
import { Kserve, KSERVE_NAMESPACE } from './kserve';
import { TokenGate } from './token-gate';

export interface ModelServingProps {
  readonly store: IObjectStore;
  readonly certManager: ChartRelease<object>;
  readonly provider: IOidcProvider;
  readonly credentials: CredentialGenerator;
}

/** Route and auth of an endpoint, for the stack to hand to the router. */
export interface EndpointRoute {
  readonly endpoint: InferenceEndpoint;
  readonly tenant: ITenant;
  /** ForwardAuth URL of the tenant's token gate. */
  readonly gateAddress: string;
}

/**
 * KServe plus, per tenant with models, a token gate in the `kserve` namespace that admits the
 * tenant's groups (and the platform admins) with a Keycloak token; endpoints go into the
 * tenants' namespaces.
 */
export class ModelServing extends Construct {
  readonly kserve: Kserve;
  private readonly props: ModelServingProps;
  private readonly gates = new Map<string, TokenGate>();
  private readonly list: InferenceEndpoint[] = [];

  constructor(scope: Construct, id: string, props: ModelServingProps) {
    super(scope, id);
    this.props = props;
    this.kserve = new Kserve(this, 'Kserve', { store: props.store, certManager: props.certManager });
  }

  get endpoints(): readonly InferenceEndpoint[] {
    return this.list;
  }

  /** An endpoint in the tenant's namespace; its route is the caller's (the stack routes it). */
  addModel(props: Omit<InferenceEndpointProps, 'store'>): EndpointRoute {
    if (this.list.some((e) => e.namespace === props.tenant.namespace && e.name === props.name)) throw new Error(`tenant ${props.tenant.name} serves model ${props.name} twice`);
    const endpoint = new InferenceEndpoint(this, `Model-${props.tenant.name}-${props.name}`, { ...props, store: this.props.store });
    this.list.push(endpoint);
    return { endpoint, tenant: props.tenant, gateAddress: this.gate(props.tenant).address };
  }

  /** The tenants' token gates (each with metrics). */
  get tokenGates(): readonly TokenGate[] {
    return [...this.gates.values()];
  }

  private gate(tenant: ITenant): TokenGate {
    let gate = this.gates.get(tenant.name);
    if (!gate) {
      const provider = this.props.provider;
      gate = new TokenGate(this, `Gate-${tenant.name}`, {
        tenant: tenant.name,
        namespace: KSERVE_NAMESPACE,
        provider,
        credentials: this.props.credentials,
        allowedGroups: () => [...new Set([...tenant.groups, ...provider.roleGroups.admin])],
      });
      this.gates.set(tenant.name, gate);
    }
    return gate;
  }
}

