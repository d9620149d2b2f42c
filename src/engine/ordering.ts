// Tier order and policy order, with Calico's tie-breaks (felix/calc/policy_sorter.go, v3.32+):
//   tiers:    existing before merely-referenced; ordered before unordered; ascending order; name
//   policies: ascending order (no order = +∞, last); ties by the string `name/namespace/kind`
//             compared bytewise — so `a-b` and `a.b` sort before `a` ('/' is 0x2F).
import type { Policy, Tier } from './model.ts';
import { calicoKindName } from './policy-kinds.ts';

export const DEFAULT_TIER = 'default';
export const DEFAULT_TIER_ORDER = 1_000_000;
export const KUBE_ADMIN_TIER = 'kube-admin';
export const KUBE_ADMIN_TIER_ORDER = 1_000;
export const KUBE_BASELINE_TIER = 'kube-baseline';
export const KUBE_BASELINE_TIER_ORDER = 10_000_000;
/** Kubernetes NetworkPolicies are placed in the default tier at this order. */
export const K8S_POLICY_ORDER = 1000;

/** Bytewise comparison of UTF-16 strings restricted to the ASCII names Kubernetes allows. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareTiers(a: Tier, b: Tier): number {
  if (a.exists !== b.exists) return a.exists ? -1 : 1;
  if (a.order === undefined && b.order !== undefined) return 1;
  if (a.order !== undefined && b.order === undefined) return -1;
  if (a.order === b.order) return compareStrings(a.name, b.name);
  return (a.order as number) - (b.order as number);
}

export function policyTieBreakKey(p: Pick<Policy, 'name' | 'namespace' | 'kind'>): string {
  return `${p.name}/${p.namespace ?? ''}/${calicoKindName(p.kind)}`;
}

// Policies are immutable: their tie-break key is made once, not once per comparison (a sort of
// thousands of policies made a string per comparison).
const tieBreakKeys = new WeakMap<Policy, string>();
function cachedTieBreakKey(p: Policy): string {
  let k = tieBreakKeys.get(p);
  if (k === undefined) tieBreakKeys.set(p, (k = policyTieBreakKey(p)));
  return k;
}

export function comparePolicies(a: Policy, b: Policy): number {
  if (a.order !== b.order) return a.order < b.order ? -1 : 1;
  return compareStrings(cachedTieBreakKey(a), cachedTieBreakKey(b));
}
