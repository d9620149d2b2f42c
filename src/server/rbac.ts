// Authorization: Kubernetes RBAC evaluated as kube-apiserver's RBAC authorizer does
// (plugin/pkg/auth/authorizer/rbac: verbs, apiGroups, resources with subresources,
// resourceNames, namespaces through RoleBindings, users/groups/service accounts as subjects),
// plus Calico's tier rules for tiered policies: `get` on the tier and the verb on the
// pseudo-resource `tier.<plural>` named `TIER.*` or `TIER.NAME`. Pure functions over a snapshot
// of the RBAC objects.
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from '../model/rbac.ts';
import type { UserInfo } from './authn.ts';

export const SUPERUSER_GROUP = 'system:masters';

export interface RbacState {
  /** namespace/name → Role. */
  readonly roles: ReadonlyMap<string, Role>;
  readonly clusterRoles: ReadonlyMap<string, ClusterRole>;
  readonly roleBindings: readonly RoleBinding[];
  readonly clusterRoleBindings: readonly ClusterRoleBinding[];
}

export interface ResourceAttributes {
  readonly verb: string;
  readonly apiGroup: string;
  readonly resource: string;
  readonly subresource?: string | undefined;
  /** Undefined: a cluster-scoped request (or a list across all namespaces). */
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
}

export interface Decision {
  readonly allowed: boolean;
  /** Why, for audit annotations and SelfSubjectAccessReview. */
  readonly reason: string;
}

function has(list: readonly string[] | undefined, v: string): boolean {
  return list !== undefined && (list.includes('*') || list.includes(v));
}

// rbac/v1 ResourceMatches: a star, the resource, resource/sub, star/sub, resource/star.
function resourceMatches(rule: PolicyRule, resource: string, subresource: string | undefined): boolean {
  const combined = subresource === undefined || subresource === '' ? resource : `${resource}/${subresource}`;
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true;
    if (subresource !== undefined && subresource !== '' && (r === `*/${subresource}` || r === `${resource}/*`)) return true;
  }
  return false;
}

export function ruleAllows(rule: PolicyRule, a: ResourceAttributes): boolean {
  if (!has(rule.verbs, a.verb) || !has(rule.apiGroups, a.apiGroup) || !resourceMatches(rule, a.resource, a.subresource)) return false;
  // A rule naming resources never matches a request without a name (list, create), as upstream.
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (a.name !== undefined && a.name !== '' && names.includes(a.name));
}

export function subjectMatches(s: Subject, bindingNamespace: string | undefined, user: UserInfo): boolean {
  switch (s.kind) {
    case 'User':
      return s.name === user.username;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount':
      return user.username === `system:serviceaccount:${s.namespace ?? bindingNamespace ?? ''}:${s.name}`;
  }
}

function rulesOfRef(state: RbacState, kind: 'Role' | 'ClusterRole', name: string, namespace: string | undefined): readonly PolicyRule[] {
  if (kind === 'ClusterRole') return state.clusterRoles.get(name)?.rules ?? [];
  return state.roles.get(`${namespace ?? ''}/${name}`)?.rules ?? [];
}

/** Plain RBAC: a ClusterRoleBinding grants everywhere; a RoleBinding only inside its namespace. */
export function rbacAllows(state: RbacState, user: UserInfo, a: ResourceAttributes): Decision {
  if (user.groups.includes(SUPERUSER_GROUP)) return { allowed: true, reason: `member of ${SUPERUSER_GROUP}` };
  for (const b of state.clusterRoleBindings) {
    if (!(b.subjects ?? []).some((s) => subjectMatches(s, undefined, user))) continue;
    if (rulesOfRef(state, 'ClusterRole', b.roleRef.name, undefined).some((r) => ruleAllows(r, a))) {
      return { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "${b.metadata.name ?? ''}" of ClusterRole "${b.roleRef.name}"` };
    }
  }
  if (a.namespace !== undefined) {
    for (const b of state.roleBindings) {
      const ns = b.metadata.namespace ?? 'default';
      if (ns !== a.namespace || !(b.subjects ?? []).some((s) => subjectMatches(s, ns, user))) continue;
      if (rulesOfRef(state, b.roleRef.kind, b.roleRef.name, ns).some((r) => ruleAllows(r, a))) {
        return { allowed: true, reason: `RBAC: allowed by RoleBinding "${b.metadata.name ?? ''}/${ns}" of ${b.roleRef.kind} "${b.roleRef.name}"` };
      }
    }
  }
  return { allowed: false, reason: '' };
}

/** Non-resource URLs (/metrics): only ClusterRoleBindings grant them, with `*` suffix globs. */
export function nonResourceAllows(state: RbacState, user: UserInfo, verb: string, path: string): boolean {
  if (user.groups.includes(SUPERUSER_GROUP)) return true;
  const urlMatches = (u: string): boolean => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1)));
  return state.clusterRoleBindings.some(
    (b) =>
      (b.subjects ?? []).some((s) => subjectMatches(s, undefined, user)) &&
      rulesOfRef(state, 'ClusterRole', b.roleRef.name, undefined).some((r) => has(r.verbs, verb) && (r.nonResourceURLs ?? []).some(urlMatches)),
  );
}

export interface TierRequest {
  readonly verb: string;
  /** The pseudo-resource, e.g. `tier.networkpolicies`. */
  readonly tierResource: string;
  readonly tier: string;
  readonly namespace?: string | undefined;
  /** The policy's name, when the request names one. */
  readonly name?: string | undefined;
  /**
   * For the Kubernetes admin policies: the verb is checked as plain RBAC on this resource (named
   * by the policy's own name) instead of on Calico's `tier.*` pseudo-resource.
   */
  readonly plain?: { readonly apiGroup: string; readonly resource: string } | undefined;
}

export interface TierDecision extends Decision {
  /** False when the user may not even `get` the tier (Calico says "(user cannot get tier)"). */
  readonly canGetTier: boolean;
}

/**
 * Calico's tiered-policy check (apiserver/pkg/rbac/calico_authorizer): `get tiers T` at cluster
 * scope, and the verb on `tier.<plural>` with resourceNames `T.*` (all of the tier) or `T.NAME`.
 */
export function tierAllows(state: RbacState, user: UserInfo, r: TierRequest): TierDecision {
  if (user.groups.includes(SUPERUSER_GROUP)) return { allowed: true, canGetTier: true, reason: `member of ${SUPERUSER_GROUP}` };
  const tierGet = rbacAllows(state, user, { verb: 'get', apiGroup: 'projectcalico.org', resource: 'tiers', name: r.tier });
  let policy: Decision;
  if (r.plain !== undefined) {
    policy = rbacAllows(state, user, { verb: r.verb, apiGroup: r.plain.apiGroup, resource: r.plain.resource, namespace: r.namespace, name: r.name });
  } else {
    const base = { verb: r.verb, apiGroup: 'projectcalico.org', resource: r.tierResource, namespace: r.namespace };
    policy = rbacAllows(state, user, { ...base, name: `${r.tier}.*` });
    if (!policy.allowed && r.name !== undefined) policy = rbacAllows(state, user, { ...base, name: `${r.tier}.${r.name}` });
  }
  if (!tierGet.allowed) return { allowed: false, canGetTier: false, reason: `user cannot get tier "${r.tier}"` };
  if (!policy.allowed) return { allowed: false, canGetTier: true, reason: `user cannot ${r.verb} ${r.tierResource} in tier "${r.tier}"` };
  return { allowed: true, canGetTier: true, reason: `${tierGet.reason}; ${policy.reason}` };
}

/** kube-apiserver's wording of a plain RBAC refusal. */
export function forbiddenMessage(user: UserInfo, a: ResourceAttributes, qualified: string): string {
  const res = a.subresource === undefined ? a.resource : `${a.resource}/${a.subresource}`;
  const what = a.name === undefined || a.name === '' ? qualified : `${qualified} "${a.name}"`;
  const scope = a.namespace === undefined ? 'at the cluster scope' : `in the namespace "${a.namespace}"`;
  return `${what} is forbidden: User "${user.username}" cannot ${a.verb} resource "${res}" in API group "${a.apiGroup}" ${scope}`;
}

/** Calico's wording of a tier refusal. */
export function tierForbiddenMessage(user: UserInfo, r: TierRequest, qualified: string, d: TierDecision): string {
  const what = r.name === undefined ? qualified : `${qualified} "${r.name}"`;
  const ns = r.namespace === undefined ? '' : ` and namespace "${r.namespace}"`;
  return `${what} is forbidden: User "${user.username}" cannot ${r.verb} ${qualified} in tier "${r.tier}"${ns}${d.canGetTier ? '' : ' (user cannot get tier)'}`;
}
