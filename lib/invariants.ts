import { ApiObject } from 'cdk8s';
import { IConstruct } from 'constructs';
import { SYSTEM_NAMESPACES } from './naming';

/** Identity of an object in the cluster (apiVersion group, kind, namespace, name). */
function identity(o: ApiObject): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return `${o.kind}${group ? `.${group}` : ''} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.name}`;
}

/**
 * Whole-tree checks on the objects under `root`: no two objects claim the same identity (one
 * would silently overwrite the other on apply), and every namespaced object lives in a namespace
 * the tree creates or Kubernetes provides.
 */
export function objectInvariants(root: IConstruct): string[] {
  const objects = root.node.findAll().filter(ApiObject.isApiObject);
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const namespaces = new Set<string>(SYSTEM_NAMESPACES);
  for (const o of objects) if (o.kind === 'Namespace') namespaces.add(o.name);
  for (const o of objects) {
    const id = identity(o);
    const first = seen.get(id);
    if (first !== undefined) problems.push(`${id} is defined twice: by ${first} and by ${o.node.path}`);
    else seen.set(id, o.node.path);
    const ns = o.metadata.namespace;
    if (ns !== undefined && !namespaces.has(ns)) {
      problems.push(`${id} (${o.node.path}) is in namespace "${ns}", which no component creates`);
    }
  }
  return problems;
}
