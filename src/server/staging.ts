// Calico's staged policies, as whole objects: the staged counterpart of an enforced policy
// (`strata stage`), and the change set that enforces a staged one (`strata enforce`): the
// enforced policy put (stagedAction Set) or deleted (stagedAction Delete), and the staged one
// deleted — in one batch, as Calico Manager's "enforce" does. The object mapping follows
// Calico's api package (ConvertStagedPolicyToEnforced, ConvertStagedGlobalPolicyToEnforced,
// ConvertStagedKubernetesPolicyToK8SEnforced: metadata and spec copied, stagedAction dropped):
//
//   NetworkPolicy (projectcalico.org/v3)          ⇄ StagedNetworkPolicy
//   GlobalNetworkPolicy (projectcalico.org/v3)    ⇄ StagedGlobalNetworkPolicy
//   NetworkPolicy (networking.k8s.io/v1)          ⇄ StagedKubernetesNetworkPolicy
//
// Pure functions over plain objects, shared by the CLI and the server.
import { isObject, metaOf } from './objects.ts';

export interface StagedPair {
  readonly enforced: { readonly apiVersion: string; readonly kind: string };
  readonly staged: { readonly apiVersion: string; readonly kind: string };
  /** kubectl names, for `KIND/NAME` references. */
  readonly enforcedRef: string;
  readonly stagedRef: string;
  readonly namespaced: boolean;
}

export const STAGED_PAIRS: readonly StagedPair[] = [
  { enforced: { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy' }, staged: { apiVersion: 'projectcalico.org/v3', kind: 'StagedNetworkPolicy' }, enforcedRef: 'networkpolicies.projectcalico.org', stagedRef: 'stagednetworkpolicies', namespaced: true },
  { enforced: { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy' }, staged: { apiVersion: 'projectcalico.org/v3', kind: 'StagedGlobalNetworkPolicy' }, enforcedRef: 'globalnetworkpolicies', stagedRef: 'stagedglobalnetworkpolicies', namespaced: false },
  { enforced: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' }, staged: { apiVersion: 'projectcalico.org/v3', kind: 'StagedKubernetesNetworkPolicy' }, enforcedRef: 'networkpolicies.networking.k8s.io', stagedRef: 'stagedkubernetesnetworkpolicies', namespaced: true },
];

type Obj = Readonly<Record<string, unknown>>;

function groupOf(apiVersion: unknown): string {
  const v = String(apiVersion ?? '');
  const slash = v.indexOf('/');
  const g = slash < 0 ? '' : v.slice(0, slash);
  return g === 'crd.projectcalico.org' ? 'projectcalico.org' : g;
}

function same(a: { apiVersion: string; kind: string }, obj: Obj): boolean {
  return obj['kind'] === a.kind && groupOf(obj['apiVersion']) === groupOf(a.apiVersion);
}

export function pairOfEnforced(obj: Obj): StagedPair | undefined {
  return STAGED_PAIRS.find((p) => same(p.enforced, obj));
}

export function pairOfStaged(obj: Obj): StagedPair | undefined {
  return STAGED_PAIRS.find((p) => same(p.staged, obj));
}

/** Only what a user writes: the server's own metadata is not carried over to the other object. */
function userMeta(obj: Obj): Record<string, unknown> {
  const m: Record<string, unknown> = { ...(metaOf(obj) as Record<string, unknown>) };
  for (const k of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'selfLink', 'managedFields']) delete m[k];
  return m;
}

export type Conversion = { readonly ok: true; readonly value: Record<string, unknown> } | { readonly ok: false; readonly message: string };

/**
 * The staged counterpart of an enforced policy: stagedAction Set (the spec as it is), or with
 * `deletion` a staged Delete — Calico requires every other spec field of a Delete to be empty,
 * except `tier`, which keeps the staged object in the policy's tier.
 */
export function stagedOf(obj: Obj, deletion = false): Conversion {
  const pair = pairOfEnforced(obj);
  if (pair === undefined) {
    const known = pairOfStaged(obj) !== undefined ? ' (it is staged already)' : '';
    return { ok: false, message: `${String(obj['apiVersion'] ?? '')} ${String(obj['kind'] ?? '')} "${metaOf(obj).name ?? ''}" has no staged counterpart${known}: stage NetworkPolicy, GlobalNetworkPolicy or a Kubernetes NetworkPolicy` };
  }
  const spec = isObject(obj['spec']) ? obj['spec'] : {};
  const tier = spec['tier'];
  const stagedSpec = deletion ? { stagedAction: 'Delete', ...(typeof tier === 'string' ? { tier } : {}) } : { stagedAction: 'Set', ...spec };
  return { ok: true, value: { apiVersion: pair.staged.apiVersion, kind: pair.staged.kind, metadata: userMeta(obj), spec: stagedSpec } };
}

export interface Enforcement {
  /** The enforced policy to create or replace (stagedAction Set), or none (Delete). */
  readonly put: Record<string, unknown> | undefined;
  /**
   * What to delete: the staged policy (as a reference carrying the resourceVersion it was read at,
   * so a staged policy changed meanwhile is not enforced in a form nobody looked at), and for
   * Delete the enforced one (`KIND/[NAMESPACE/]NAME`).
   */
  readonly delete: readonly DeleteSpec[];
  readonly action: 'Set' | 'Delete';
}

/** A ChangeSet deletion: `KIND/[NAMESPACE/]NAME`, or an object reference with a precondition. */
export type DeleteSpec = string | { readonly kind: string; readonly namespace?: string; readonly name: string; readonly resourceVersion?: string };

/** The staged object's reference with the resourceVersion it was read at (when it has one). */
function preconditionedRefOf(kind: string, namespaced: boolean, obj: Obj): DeleteSpec {
  const m = metaOf(obj);
  const rv = m.resourceVersion;
  if (rv === undefined || rv === '') return refOf(kind, namespaced, obj);
  return { kind, ...(namespaced ? { namespace: m.namespace ?? 'default' } : {}), name: m.name ?? '', resourceVersion: rv };
}

function refOf(kind: string, namespaced: boolean, obj: Obj): string {
  const m = metaOf(obj);
  return namespaced ? `${kind}/${m.namespace ?? 'default'}/${m.name ?? ''}` : `${kind}/${m.name ?? ''}`;
}

/**
 * What enforcing a staged policy writes. `enforcedExists` says whether the enforced policy of
 * the same name is on the server: a staged Delete of a policy that is not there only removes
 * the staged object.
 */
export function enforcementOf(staged: Obj, enforcedExists: boolean): { ok: true; value: Enforcement } | { ok: false; message: string } {
  const pair = pairOfStaged(staged);
  if (pair === undefined) return { ok: false, message: `${String(staged['apiVersion'] ?? '')} ${String(staged['kind'] ?? '')} "${metaOf(staged).name ?? ''}" is not a staged policy` };
  const spec: Record<string, unknown> = { ...(isObject(staged['spec']) ? staged['spec'] : {}) };
  const action = spec['stagedAction'] === 'Delete' ? 'Delete' : 'Set';
  const stagedRef = preconditionedRefOf(pair.stagedRef, pair.namespaced, staged);
  if (action === 'Delete') {
    return { ok: true, value: { put: undefined, delete: [stagedRef, ...(enforcedExists ? [refOf(pair.enforcedRef, pair.namespaced, staged)] : [])], action } };
  }
  delete spec['stagedAction'];
  const meta = userMeta(staged);
  return { ok: true, value: { put: { apiVersion: pair.enforced.apiVersion, kind: pair.enforced.kind, metadata: meta, spec }, delete: [stagedRef], action } };
}

/** The enforced policy's `KIND/[NAMESPACE/]NAME` for a staged object (to look it up). */
export function enforcedRefOf(staged: Obj): string | undefined {
  const pair = pairOfStaged(staged);
  return pair === undefined ? undefined : refOf(pair.enforcedRef, pair.namespaced, staged);
}
