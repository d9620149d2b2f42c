// Authorization of one resource request: plain RBAC for ordinary kinds, Calico's tier rules for
// tiered policies (on reads as well as writes). Refusals are 403 Status errors worded as
// kube-apiserver and Calico word them.
import type { UserInfo } from './authn.ts';
import type { Mirror } from './mirror.ts';
import type { RequestRecord } from './context.ts';
import { ADMIN_TIERS } from './objects.ts';
import { forbiddenMessage, rbacAllows, tierAllows, tierForbiddenMessage } from './rbac.ts';
import type { ResourceAttributes, TierDecision, TierRequest } from './rbac.ts';
import type { ResourceInfo } from './resources.ts';
import { qualifiedName } from './resources.ts';
import { fail } from './status.ts';

export interface Access {
  readonly info: ResourceInfo;
  readonly verb: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource?: string | undefined;
  /** The tier of the policy concerned, for tiered kinds. */
  readonly tier?: string | undefined;
}

function forbidden(info: ResourceInfo, name: string | undefined, message: string): Error {
  return fail(403, message, { ...(name === undefined ? {} : { name }), group: info.group, kind: info.plural });
}

/** The tier question of a request on a tiered kind (Calico's pseudo-resource, or plain RBAC for the admin policies). */
export function tierRequestOf(info: ResourceInfo, verb: string, tier: string, namespace: string | undefined, name?: string | undefined): TierRequest {
  return {
    verb,
    tierResource: info.tierResource!,
    tier,
    namespace,
    name,
    ...(info.adminTiered === true ? { plain: { apiGroup: info.group, resource: info.plural } } : {}),
  };
}

/** The tiers a tiered kind's objects can be in: the declared ones and `default`, or the two admin tiers. */
export function candidateTiers(mirror: Mirror, info: ResourceInfo): string[] {
  return info.adminTiered === true ? [...ADMIN_TIERS] : [...new Set(['default', ...mirror.tiers()])];
}

/** Allowed, or throws 403; records the decision on the request for audit. */
export function authorize(mirror: Mirror, user: UserInfo, a: Access, rec: RequestRecord): void {
  const state = mirror.rbac();
  if (a.info.tierResource !== undefined) {
    const tier = a.tier ?? candidateTiers(mirror, a.info)[0]!;
    rec.tier = tier;
    const r = tierRequestOf(a.info, a.verb, tier, a.namespace, a.name);
    const d = tierAllows(state, user, r);
    rec.decision = d.allowed ? 'allow' : 'forbid';
    rec.reason = d.reason;
    if (!d.allowed) throw forbidden(a.info, a.name, tierForbiddenMessage(user, r, qualifiedName(a.info), d));
    return;
  }
  const attrs: ResourceAttributes = { verb: a.verb, apiGroup: a.info.group, resource: a.info.plural, subresource: a.subresource, namespace: a.namespace, name: a.name };
  const d = rbacAllows(state, user, attrs);
  rec.decision = d.allowed ? 'allow' : 'forbid';
  rec.reason = d.allowed ? d.reason : forbiddenMessage(user, attrs, qualifiedName(a.info));
  if (!d.allowed) throw forbidden(a.info, a.name, forbiddenMessage(user, attrs, qualifiedName(a.info)));
}

/** For list and watch of tiered kinds: may the user see policies of `tier` in `namespace`? */
export function tierVisible(mirror: Mirror, user: UserInfo, info: ResourceInfo, verb: string, tier: string, namespace: string | undefined): TierDecision | undefined {
  if (info.tierResource === undefined) return undefined;
  return tierAllows(mirror.rbac(), user, tierRequestOf(info, verb, tier, namespace));
}

/** The tiers (declared, plus `default`) whose policies the user may list/watch in `namespace`. */
export function visibleTiers(mirror: Mirror, user: UserInfo, info: ResourceInfo, verb: string, namespace: string | undefined): string[] {
  return candidateTiers(mirror, info).filter((t) => tierVisible(mirror, user, info, verb, t, namespace)?.allowed === true);
}

export function tierListForbidden(mirror: Mirror, user: UserInfo, info: ResourceInfo, verb: string, namespace: string | undefined, rec: RequestRecord): Error {
  const tier = candidateTiers(mirror, info)[0]!;
  const d = tierVisible(mirror, user, info, verb, tier, namespace)!;
  rec.tier = tier;
  rec.decision = 'forbid';
  rec.reason = d.reason;
  return forbidden(info, undefined, tierForbiddenMessage(user, tierRequestOf(info, verb, tier, namespace), qualifiedName(info), d));
}
