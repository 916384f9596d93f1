import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

export interface ResourceRule {
  readonly apiGroups: readonly string[];
  readonly apiVersions: readonly string[];
  readonly operations: ReadonlyArray<'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT'>;
  readonly resources: readonly string[];
}

export interface PolicyValidation {
  /** CEL expression that must be true (may be a `Lazy` producing one). */
  readonly expression: string;
  readonly message?: string;
  readonly messageExpression?: string;
  /** @default 'Forbidden' */
  readonly reason?: string;
}

export interface AdmissionPolicyProps {
  /** Name of the policy and of its binding. */
  readonly name: string;
  readonly resourceRules: readonly ResourceRule[];
  /** Namespaces the policy applies to. */
  readonly namespaceSelector: object;
  /**
   * Named CEL expressions; each may use the ones before it.
   * @default - none
   */
  readonly variables?: ReadonlyArray<{ readonly name: string; readonly expression: string }>;
  /**
   * CEL conditions a request must meet for the policy to be evaluated at all.
   * @default - every matched request is evaluated
   */
  readonly matchConditions?: ReadonlyArray<{ readonly name: string; readonly expression: string }>;
  readonly validations: readonly PolicyValidation[];
}

/**
 * A ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) and the binding that enforces it
 * (Deny) on the selected namespaces. Enforced by the API server itself: no webhook, and a CEL
 * error fails closed (failurePolicy Fail).
 */
export class AdmissionPolicy extends Construct {
  readonly name: string;

  constructor(scope: Construct, id: string, props: AdmissionPolicyProps) {
    super(scope, id);
    this.name = props.name;
    new ApiObject(this, 'Resource', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: props.name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: props.resourceRules, namespaceSelector: props.namespaceSelector },
        ...(props.matchConditions?.length ? { matchConditions: props.matchConditions } : {}),
        ...(props.variables?.length ? { variables: props.variables } : {}),
        validations: props.validations.map((v) => ({ ...v, reason: v.reason ?? 'Forbidden' })),
      },
    });
    new ApiObject(this, 'Binding', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: props.name },
      spec: { policyName: props.name, validationActions: ['Deny'], matchResources: { namespaceSelector: props.namespaceSelector } },
    });
  }
}
