// The key layout kube-apiserver uses in etcd, so a Strata store reads like a Kubernetes one:
// /registry/{group}/{resource}/{namespace}/{name} for namespaced objects and
// /registry/{group}/{resource}/{name} for cluster-scoped ones; the empty (core) group is `core`.

export const REGISTRY_ROOT = '/registry/';

export interface RegistryKeyParts {
  /** API group; '' (the core group) is written `core`. */
  readonly group: string;
  /** Plural resource name, e.g. `networkpolicies`. */
  readonly resource: string;
  /** Namespace for namespaced kinds; absent for cluster-scoped ones. */
  readonly namespace?: string;
  readonly name: string;
}

function groupSegment(group: string): string {
  return group === '' ? 'core' : group;
}

/** The key of one object. */
export function registryKey(parts: RegistryKeyParts): string {
  const base = `${REGISTRY_ROOT}${groupSegment(parts.group)}/${parts.resource}/`;
  return parts.namespace === undefined ? `${base}${parts.name}` : `${base}${parts.namespace}/${parts.name}`;
}

/** The prefix for listing/watching a resource, optionally within one namespace (ends with `/`). */
export function registryPrefix(group: string, resource: string, namespace?: string): string {
  const base = `${REGISTRY_ROOT}${groupSegment(group)}/${resource}/`;
  return namespace === undefined ? base : `${base}${namespace}/`;
}
