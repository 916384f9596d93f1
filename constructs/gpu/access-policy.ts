import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { AdmissionPolicy } from '../../lib/admission-policy';
import { MLPLAT_PREFIX } from '../../lib/naming';
import { IGpuPool, POOL_LABEL, POOL_PRIORITY_CLASS_PREFIX } from './pool';

/** Namespace label that marks a tenant namespace. */
export const TENANT_LABEL = `${MLPLAT_PREFIX}/tenant`;
/** Namespace annotation listing the GPU pools granted to the tenant, comma-separated. */
export const GRANTED_POOLS_ANNOTATION = `${MLPLAT_PREFIX}/gpu-pools`;
/** Selects every tenant namespace. */
export const TENANT_NAMESPACES = { matchExpressions: [{ key: TENANT_LABEL, operator: 'Exists' }] };

const POLICY_NAME = 'mlplat-gpu-pool-access';
const PREFIX_LENGTH = POOL_PRIORITY_CLASS_PREFIX.length;

/** `true` when any container asks for a resource key matching `test` (a CEL predicate on `r`). */
const anyResource = (test: string) =>
  `variables.containers.exists(c, has(c.resources) && ((has(c.resources.requests) && c.resources.requests.exists(r, ${test}))` +
  ` || (has(c.resources.limits) && c.resources.limits.exists(r, ${test}))))`;

/** Did a field the scheduler reads change in this UPDATE? (`f` is a path below `spec`.) */
const changed = (f: string) =>
  `has(object.spec.${f}) != has(oldObject.spec.${f}) || (has(object.spec.${f}) && object.spec.${f} != oldObject.spec.${f})`;

/**
 * A ValidatingAdmissionPolicy that keeps tenant pods on the GPU pools granted to them. A pod that
 * requests an NVIDIA resource must name its pool through the pool's priority class (which scopes
 * the tenant's per-pool ResourceQuota), ask for exactly that pool's resource, select that pool's
 * nodes, tolerate no other pool's taint, and not bypass the scheduler with spec.nodeName; a pod
 * with a pool's priority class must request that pool's GPUs. The API server enforces it; no
 * webhook is involved.
 *
 * Updates are checked only when they change where a pod may run (tolerations, nodeSelector,
 * affinity) and the pod is not being deleted: controllers' metadata updates on pods of a pool
 * whose grant was since revoked must still go through, or those pods could never terminate.
 */
export class GpuAccessPolicy extends Construct {
  constructor(scope: Construct, id: string, props: { readonly pools: () => readonly IGpuPool[] }) {
    super(scope, id);
    const poolResources = () => `{${props.pools().map((p) => `'${p.name}': '${p.resourceName}'`).join(', ')}}`;
    new AdmissionPolicy(this, 'Policy', {
      name: POLICY_NAME,
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] }],
      namespaceSelector: TENANT_NAMESPACES,
      matchConditions: [
        {
          name: 'create-or-placement-change',
          expression:
            `request.operation == 'CREATE' || (!has(object.metadata.deletionTimestamp) && (` +
            `${changed('tolerations')} || ${changed('nodeSelector')} || ${changed('affinity')}))`,
        },
      ],
      variables: [
        {
          name: 'granted',
          expression:
            `has(namespaceObject.metadata.annotations) && '${GRANTED_POOLS_ANNOTATION}' in namespaceObject.metadata.annotations` +
            ` && namespaceObject.metadata.annotations['${GRANTED_POOLS_ANNOTATION}'] != ''` +
            ` ? namespaceObject.metadata.annotations['${GRANTED_POOLS_ANNOTATION}'].split(',') : []`,
        },
        {
          name: 'containers',
          expression: 'object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])',
        },
        { name: 'requestsGpu', expression: anyResource("r.startsWith('nvidia.com/')") },
        {
          name: 'pool',
          expression:
            `has(object.spec.priorityClassName) && object.spec.priorityClassName.startsWith('${POOL_PRIORITY_CLASS_PREFIX}')` +
            ` ? object.spec.priorityClassName.substring(${PREFIX_LENGTH}) : ''`,
        },
        {
          name: 'poolResource',
          expression: Lazy.any({ produce: () => `variables.pool in ${poolResources()} ? ${poolResources()}[variables.pool] : ''` }),
        },
      ],
      validations: [
        {
          expression: "!variables.requestsGpu || variables.pool != ''",
          messageExpression: `'pods that request GPUs must name their pool with priorityClassName ${POOL_PRIORITY_CLASS_PREFIX}<pool>; pools granted to this tenant: ' + (size(variables.granted) == 0 ? 'none' : variables.granted.join(', '))`,
        },
        {
          expression: "variables.pool == '' || variables.pool in variables.granted",
          messageExpression: `'GPU pool ' + variables.pool + ' is not granted to this tenant; granted: ' + (size(variables.granted) == 0 ? 'none' : variables.granted.join(', '))`,
        },
        {
          expression: `!${anyResource("r.startsWith('nvidia.com/') && r != variables.poolResource")}`,
          messageExpression: `'GPU pool ' + variables.pool + ' provides ' + (variables.poolResource == '' ? 'no resource' : variables.poolResource) + '; request only that NVIDIA resource'`,
        },
        {
          expression: "variables.pool == '' || variables.requestsGpu",
          messageExpression: `'a pod with priority class ${POOL_PRIORITY_CLASS_PREFIX}' + variables.pool + ' must request GPUs of that pool (' + variables.poolResource + '); other pods stay off GPU nodes'`,
        },
        {
          expression: `variables.pool == '' || (has(object.spec.nodeSelector) && '${POOL_LABEL}' in object.spec.nodeSelector && object.spec.nodeSelector['${POOL_LABEL}'] == variables.pool)`,
          messageExpression: `'a pod of GPU pool ' + variables.pool + ' must set nodeSelector ${POOL_LABEL}: ' + variables.pool`,
        },
        {
          expression: `!has(object.spec.tolerations) || object.spec.tolerations.all(t, has(t.key) && t.key != '' && (t.key != '${POOL_LABEL}' || (variables.pool != '' && has(t.value) && t.value == variables.pool)))`,
          message: `tenant pods may not tolerate every taint, nor the ${POOL_LABEL} taint of a pool other than the one their priority class names`,
        },
        {
          // spec.nodeName skips the scheduler, and with it taints and pool selection.
          expression: "request.operation != 'CREATE' || !has(object.spec.nodeName) || object.spec.nodeName == ''",
          message: 'tenant pods may not set spec.nodeName: it bypasses scheduling, taints and GPU pool selection',
        },
      ],
    });
  }
}
