// Authorization of one resource request: plain RBAC for ordinary kinds, Calico's tier rules for
// tiered policies (on reads as well as writes). Refusals are 403 Status errors worded as
// kube-apiserver and Calico word them.
import type { UserInfo } from './authn.ts';
import type { Mirror } from './mirror.ts';
import type { RequestRecord } from './context.ts';
import { forbiddenMessage, rbacAllows, tierAllows, tierForbiddenMessage } from './rbac.ts';
import type { ResourceAttributes, TierDecision } from './rbac.ts';
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

/** Allowed, or throws 403; records the decision on the request for audit. */
export function authorize(mirror: Mirror, user: UserInfo, a: Access, rec: RequestRecord): void {
  const state = mirror.rbac();
  if (a.info.tierResource !== undefined) {
    const tier = a.tier ?? 'default';
    rec.tier = tier;
    const d = tierAllows(state, user, { verb: a.verb, tierResource: a.info.tierResource, tier, namespace: a.namespace, name: a.name });
    rec.decision = d.allowed ? 'allow' : 'forbid';
    rec.reason = d.reason;
    if (!d.allowed) throw forbidden(a.info, a.name, tierForbiddenMessage(user, { verb: a.verb, tierResource: a.info.tierResource, tier, namespace: a.namespace, name: a.name }, qualifiedName(a.info), d));
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
  return tierAllows(mirror.rbac(), user, { verb, tierResource: info.tierResource, tier, namespace });
}

/** The tiers (declared, plus `default`) whose policies the user may list/watch in `namespace`. */
export function visibleTiers(mirror: Mirror, user: UserInfo, info: ResourceInfo, verb: string, namespace: string | undefined): string[] {
  const names = new Set(['default', ...mirror.tiers()]);
  return [...names].filter((t) => tierVisible(mirror, user, info, verb, t, namespace)?.allowed === true);
}

export function tierListForbidden(mirror: Mirror, user: UserInfo, info: ResourceInfo, verb: string, namespace: string | undefined, rec: RequestRecord): Error {
  const tier = 'default';
  const d = tierVisible(mirror, user, info, verb, tier, namespace)!;
  rec.tier = tier;
  rec.decision = 'forbid';
  rec.reason = d.reason;
  return forbidden(info, undefined, tierForbiddenMessage(user, { verb, tierResource: info.tierResource!, tier, namespace }, qualifiedName(info), d));
}
