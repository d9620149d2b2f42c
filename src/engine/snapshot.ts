// A snapshot: the cluster as of one generation, read by explain, matrix, lint, diff and the
// dataplane compiler. It is made of the copy-on-write views the entity index handed out, so it is
// O(1) to take and stays consistent while the store moves on. What it derives on demand — the
// sorted lists, the tier plan of a label class, a selector's members — is cached per view (shared
// by every snapshot holding that view) or per snapshot (LRU-bounded), never without bound; tier
// plans the last changes did not touch are taken over from the previous snapshot.
import { LRUCache } from 'lru-cache';
import { formatIp } from '../net/index.ts';
import type { IpAddress } from '../net/index.ts';
import type { Selector } from '../selector/index.ts';
import type { NetworkSetAddressIndex } from './address-index.ts';
import { indexNetworkSets } from './address-index.ts';
import type { Cluster, SelectorMembers } from './cluster.ts';
import { domainMatches } from './domains.ts';
import { serviceSelects } from './match.ts';
import type { MembershipView } from './membership.ts';
import type { Direction, Endpoint, NamespaceEntry, NetworkSetEntry, Policy, ServiceEntry, Tier } from './model.ts';
import { comparePolicies, compareTiers } from './ordering.ts';
import type { TierPlan } from './pipeline.ts';
import { serviceSelector } from './service-selector.ts';

/** The tier plans of one label class (every endpoint with those labels shares them). */
export interface Plans {
  readonly ingress: readonly TierPlan[];
  readonly egress: readonly TierPlan[];
  readonly stagedIngress: boolean;
  readonly stagedEgress: boolean;
}

/** The views a snapshot is made of (entity-index.ts). */
export interface SnapshotState {
  readonly generation: number;
  /** By entity key, in arrival order. */
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  readonly byId: ReadonlyMap<string, Endpoint>;
  /** Formatted address → owning endpoint. */
  readonly byAddress: ReadonlyMap<string, Endpoint>;
  readonly policies: ReadonlyMap<string, Policy>;
  /** Endpoint-selector id → keys of the policies using it. */
  readonly policiesBySelector: ReadonlyMap<string, { readonly set: ReadonlySet<string> }>;
  readonly tiers: ReadonlyMap<string, Tier>;
  readonly networkSets: ReadonlyMap<string, NetworkSetEntry>;
  /** `NS/NAME` → Service. */
  readonly services: ReadonlyMap<string, ServiceEntry>;
  readonly namespaces: ReadonlyMap<string, NamespaceEntry>;
  readonly hidden: ReadonlySet<string>;
  readonly membership: MembershipView;
  /** Container-port name → keys of the endpoints declaring it. */
  readonly namedPorts: ReadonlyMap<string, { readonly set: ReadonlySet<string> }>;
  /** Node name → keys of the endpoints placed on it. */
  readonly byNode: ReadonlyMap<string, { readonly set: ReadonlySet<string> }>;
  /**
   * The previous snapshot's tier plans and the classes whose plans changed since: a plan the
   * changes did not touch is reused instead of recomputed (one generation back only, so no chain
   * of old snapshots is kept alive).
   */
  readonly inherited?: Inherited | undefined;
}

/** What a snapshot takes over from the previous one, and what changed in between. */
export interface Inherited {
  /** The previous snapshot's caches (a plain holder: no path back to older snapshots). */
  readonly from: SnapshotCaches;
  /** Label classes whose tier plans changed. */
  readonly invalid: ReadonlySet<string>;
  /** Ids of registered selectors whose members (or their addresses, ports, objects) changed. */
  readonly changedSelectors: ReadonlySet<string>;
  /** Container-port names whose owners changed. */
  readonly changedPortNames: ReadonlySet<string>;
  /** Endpoint keys set or removed, and the endpoint objects they replaced (for member deltas). */
  readonly changedEndpoints: { readonly keys: ReadonlySet<string>; readonly replaced: ReadonlySet<Endpoint> };
}

/**
 * Above this many endpoint changes between two snapshots, a changed selector's members are
 * recomputed from the index rather than moved on from the previous snapshot's list.
 */
const MEMBER_DELTA_LIMIT = 256;
/** Up to this many replaced endpoints, `movedOn` finds them by `indexOf` rather than filtering. */
const FIND_REPLACED_LIMIT = 32;

/**
 * A snapshot's derived answers, held apart from the snapshot itself so that the next snapshot can
 * take them over without keeping the previous snapshot (and, through it, every older one) alive.
 */
export interface SnapshotCaches {
  readonly plans: Map<string, Plans>;
  members: LRUCache<string, SelectorMembers> | undefined;
  ports: LRUCache<string, readonly Endpoint[]> | undefined;
}

const caches = new WeakMap<Cluster, SnapshotCaches>();

/** The caches of a snapshot, for the next one to inherit. */
export function cachesOf(s: Cluster): SnapshotCaches | undefined {
  return caches.get(s);
}

/** A cluster as of one generation of the store. */
export type Snapshot = Cluster;

// Derived lists shared by every snapshot that holds the same view (a view never changes).
const sortedTiersOf = new WeakMap<ReadonlyMap<string, Tier>, { list: readonly Tier[]; rank: ReadonlyMap<string, number> }>();
const sortedPoliciesOf = new WeakMap<ReadonlyMap<string, Policy>, WeakMap<ReadonlyMap<string, Tier>, readonly Policy[]>>();
const netIndexOf = new WeakMap<ReadonlyMap<string, NetworkSetEntry>, { list: readonly NetworkSetEntry[]; index: NetworkSetAddressIndex; domainSets: readonly NetworkSetEntry[] }>();
const listOf = new WeakMap<ReadonlyMap<string, unknown>, readonly unknown[]>();

/** How a member list was made from the previous snapshot's list of the same selector. */
export interface MemberDelta {
  /** Weak: a chain of deltas must not keep every older list alive. */
  readonly from: WeakRef<readonly Endpoint[]>;
  readonly left: readonly Endpoint[];
  readonly joined: readonly Endpoint[];
}
const memberDeltas = new WeakMap<readonly Endpoint[], MemberDelta>();

/**
 * The endpoints that left and joined a selector's member list since the list it was moved on
 * from, when the snapshot made it that way: what a consumer holding derived state for the older
 * list (the compiler's set elements) applies instead of comparing the two lists.
 */
export function memberDeltaOf(endpoints: readonly Endpoint[]): MemberDelta | undefined {
  return memberDeltas.get(endpoints);
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function valuesOf<V>(m: ReadonlyMap<string, V>): readonly V[] {
  let list = listOf.get(m) as readonly V[] | undefined;
  if (list === undefined) listOf.set(m, (list = [...m.values()]));
  return list;
}

function tiersOf(m: ReadonlyMap<string, Tier>): { list: readonly Tier[]; rank: ReadonlyMap<string, number> } {
  let t = sortedTiersOf.get(m);
  if (t === undefined) {
    const list = [...m.values()].sort(compareTiers);
    t = { list, rank: new Map(list.map((x, i) => [x.name, i])) };
    sortedTiersOf.set(m, t);
  }
  return t;
}

const EMPTY_SET: ReadonlySet<string> = new Set();
const NO_SETS: readonly NetworkSetEntry[] = [];

export function createSnapshot(state: SnapshotState): Snapshot {
  const tiers = (): ReturnType<typeof tiersOf> => tiersOf(state.tiers);
  const byPolicyOrder = (a: Policy, b: Policy): number => {
    const rank = tiers().rank;
    return (rank.get(a.tier) ?? Number.MAX_SAFE_INTEGER) - (rank.get(b.tier) ?? Number.MAX_SAFE_INTEGER) || comparePolicies(a, b);
  };
  const sortedPolicies = (): readonly Policy[] => {
    let byTiers = sortedPoliciesOf.get(state.policies);
    if (byTiers === undefined) sortedPoliciesOf.set(state.policies, (byTiers = new WeakMap()));
    let list = byTiers.get(state.tiers);
    if (list === undefined) byTiers.set(state.tiers, (list = [...state.policies.values()].sort(byPolicyOrder)));
    return list;
  };
  const netIndex = (): { list: readonly NetworkSetEntry[]; index: NetworkSetAddressIndex; domainSets: readonly NetworkSetEntry[] } => {
    let n = netIndexOf.get(state.networkSets);
    if (n === undefined) {
      const list = [...state.networkSets.values()];
      n = { list, index: indexNetworkSets(list), domainSets: list.filter((s) => s.allowedEgressDomains.length > 0) };
      netIndexOf.set(state.networkSets, n);
    }
    return n;
  };

  function computePlans(classKey: string): Plans {
    const selected: Policy[] = [];
    for (const selId of state.membership.classSelectors.get(classKey)?.set ?? EMPTY_SET) {
      for (const key of state.policiesBySelector.get(selId)?.set ?? EMPTY_SET) {
        const p = state.policies.get(key);
        // Untracked and preDNAT policies never apply to workload endpoints (docs/semantics.md §5.3).
        if (p !== undefined && !p.doNotTrack && !p.preDNAT) selected.push(p);
      }
    }
    selected.sort(byPolicyOrder);
    const ingress: { tier: Tier; policies: Policy[] }[] = [];
    const egress: { tier: Tier; policies: Policy[] }[] = [];
    let stagedIngress = false;
    let stagedEgress = false;
    for (const p of selected) {
      const tier = state.tiers.get(p.tier);
      if (tier === undefined) continue;
      const involvesStaged = p.staged || state.hidden.has(p.key);
      if (p.types.ingress) {
        appendToPlan(ingress, tier, p);
        stagedIngress ||= involvesStaged;
      }
      if (p.types.egress) {
        appendToPlan(egress, tier, p);
        stagedEgress ||= involvesStaged;
      }
    }
    return { ingress, egress, stagedIngress, stagedEgress };
  }

  // In front of the class cache, one by endpoint identity: a pointer hash instead of hashing the
  // long label key (this runs twice or more per evaluated flow).
  const planByEndpoint = new WeakMap<Endpoint, Plans>();
  // Per generation: bounded by the label classes of this snapshot, gone with it.
  const holder: SnapshotCaches = { plans: new Map(), members: undefined, ports: undefined };
  const planByClass = holder.plans;
  function plansOf(ep: Endpoint): Plans {
    let plans = planByEndpoint.get(ep);
    if (plans !== undefined) return plans;
    plans = planByClass.get(ep.labelKey);
    if (plans === undefined) {
      const inherited = state.inherited;
      plans = inherited !== undefined && !inherited.invalid.has(ep.labelKey) ? inherited.from.plans.get(ep.labelKey) : undefined;
      plans ??= computePlans(ep.labelKey);
      planByClass.set(ep.labelKey, plans);
    }
    planByEndpoint.set(ep, plans);
    return plans;
  }

  let classCache: LRUCache<string, ReadonlySet<string>> | undefined;
  function selectorClasses(sel: Selector): ReadonlySet<string> {
    if (state.membership.selectors.has(sel.id)) return state.membership.selectorClasses.get(sel.id)?.set ?? EMPTY_SET;
    classCache ??= new LRUCache({ max: 4096 });
    let hit = classCache.get(sel.id);
    if (hit === undefined) {
      const out = new Set<string>();
      for (const c of state.membership.classes.values()) if (sel.matches(c.labels)) out.add(c.key);
      classCache.set(sel.id, (hit = out));
    }
    return hit;
  }

  /**
   * `before` (a list of the previous snapshot) without the endpoint objects replaced or removed
   * since, plus the current endpoints of the changed keys that belong; how is recorded for
   * `memberDeltaOf`. O(|before|) copying, no index reads but the changed keys'.
   */
  function movedOn(before: readonly Endpoint[], changed: Inherited['changedEndpoints'], belongs: (key: string, ep: Endpoint) => boolean): Endpoint[] {
    const left: Endpoint[] = [];
    const joined: Endpoint[] = [];
    let endpoints: Endpoint[];
    if (changed.replaced.size <= FIND_REPLACED_LIMIT) {
      // Few replaced: find each with indexOf (a native scan, ~0.2 ns per element) and close the
      // gaps in one pass over the tail; a filter with a set lookup per element cost 5× more, and
      // a namespace label change moves tens of thousands of members of a few broad selectors.
      const at: number[] = [];
      for (const ep of changed.replaced) {
        const i = before.indexOf(ep);
        if (i >= 0) at.push(i);
      }
      endpoints = before.slice();
      if (at.length > 0) {
        at.sort((a, b) => a - b);
        let w = at[0]!;
        let next = 0;
        for (let i = w; i < endpoints.length; i++) {
          if (i === at[next]) {
            left.push(endpoints[i]!);
            next++;
          } else endpoints[w++] = endpoints[i]!;
        }
        endpoints.length = w;
      }
    } else {
      endpoints = before.filter((ep) => {
        if (!changed.replaced.has(ep)) return true;
        left.push(ep);
        return false;
      });
    }
    for (const key of changed.keys) {
      const ep = state.endpoints.get(key);
      if (ep !== undefined && belongs(key, ep)) {
        endpoints.push(ep);
        joined.push(ep);
      }
    }
    memberDeltas.set(endpoints, { from: new WeakRef(before), left, joined });
    return endpoints;
  }

  let memberCache: LRUCache<string, SelectorMembers> | undefined;
  function selectorMembers(sel: Selector): SelectorMembers {
    memberCache ??= holder.members = new LRUCache({ max: 4096 });
    let hit = memberCache.get(sel.id);
    const inherited = state.inherited;
    // A registered selector the changes since the previous snapshot did not touch has its members.
    if (hit === undefined && inherited !== undefined && state.membership.selectors.has(sel.id) && !inherited.changedSelectors.has(sel.id)) {
      hit = inherited.from.members?.peek(sel.id);
      if (hit !== undefined) memberCache.set(sel.id, hit);
    }
    if (hit === undefined && inherited !== undefined && state.membership.selectors.has(sel.id)) {
      // Changed since the previous snapshot: move its list on by the endpoints that changed (a pod's
      // label change moves one endpoint; re-reading tens of thousands of members cost more than the
      // rest of a node's recompile).
      const before = inherited.from.members?.peek(sel.id);
      const changed = inherited.changedEndpoints;
      if (before !== undefined && changed.keys.size + changed.replaced.size <= MEMBER_DELTA_LIMIT) {
        const classes = selectorClasses(sel);
        const endpoints = movedOn(before.endpoints, changed, (key, ep) => classes.has(ep.labelKey) && state.membership.members.get(ep.labelKey)?.set.has(key) === true);
        const networkSets = netIndex().list.filter((s) => sel.matches(s.labels));
        memberCache.set(sel.id, (hit = { endpoints, networkSets: sameItems(networkSets, before.networkSets) ? before.networkSets : networkSets }));
      }
    }
    if (hit === undefined) {
      const endpoints: Endpoint[] = [];
      for (const c of selectorClasses(sel)) {
        for (const key of state.membership.members.get(c)?.set ?? EMPTY_SET) {
          const ep = state.endpoints.get(key);
          if (ep !== undefined) endpoints.push(ep);
        }
      }
      const networkSets = netIndex().list.filter((s) => sel.matches(s.labels));
      memberCache.set(sel.id, (hit = { endpoints, networkSets }));
    }
    return hit;
  }

  let backendCache: LRUCache<string, readonly Endpoint[]> | undefined;
  function serviceBackends(namespace: string, name: string): readonly Endpoint[] {
    const key = `${namespace}/${name}`;
    backendCache ??= new LRUCache({ max: 4096 });
    let hit = backendCache.get(key);
    if (hit === undefined) {
      const svc = state.services.get(key);
      if (svc === undefined || svc.selector === undefined) hit = [];
      else {
        const sel = serviceSelector(svc);
        hit = sel === undefined ? valuesOf(state.endpoints).filter((ep) => serviceSelects(svc, ep)) : selectorMembers(sel).endpoints;
      }
      backendCache.set(key, hit);
    }
    return hit;
  }

  let domainCache: LRUCache<string, readonly NetworkSetEntry[]> | undefined;
  const hidden = state.hidden;
  let portCache: LRUCache<string, readonly Endpoint[]> | undefined;
  // Bounded by the nodes of this snapshot, gone with it.
  const nodeCache = new Map<string, readonly Endpoint[]>();

  const snapshot: Cluster = {
    generation: state.generation,
    get tiers() {
      return tiers().list;
    },
    get policies() {
      return sortedPolicies();
    },
    get endpoints() {
      return valuesOf(state.endpoints);
    },
    get networkSets() {
      return netIndex().list;
    },
    get namespaces() {
      return valuesOf(state.namespaces);
    },
    get services() {
      return valuesOf(state.services);
    },
    pendingMode: { stagedAsEnforced: true, hidden },
    endpoint: (id) => state.byId.get(id),
    policy: (key) => state.policies.get(key),
    endpointByAddress: (a: IpAddress) => state.byAddress.get(formatIp(a)),
    namespace: (name) => state.namespaces.get(name),
    service: (ns, name) => state.services.get(`${ns}/${name}`),
    plan: (ep: Endpoint, dir: Direction) => (dir === 'ingress' ? plansOf(ep).ingress : plansOf(ep).egress),
    hasStaged: (ep: Endpoint, dir: Direction) => (dir === 'ingress' ? plansOf(ep).stagedIngress : plansOf(ep).stagedEgress),
    networkSetsContaining: (address) => netIndex().index.containing(address),
    networkSetsForDomain(domain) {
      const sets = netIndex().domainSets;
      if (sets.length === 0) return NO_SETS;
      const key = domain.toLowerCase().replace(/\.$/, '');
      domainCache ??= new LRUCache({ max: 4096 });
      let hit = domainCache.get(key);
      if (hit === undefined) domainCache.set(key, (hit = sets.filter((s) => s.allowedEgressDomains.some((d) => domainMatches(d, key)))));
      return hit;
    },
    selectorMembers,
    selectorClasses,
    serviceBackends,
    endpointsOnNode(node: string): readonly Endpoint[] {
      let hit = nodeCache.get(node);
      if (hit === undefined) {
        const out: Endpoint[] = [];
        for (const key of state.byNode.get(node)?.set ?? EMPTY_SET) {
          const ep = state.endpoints.get(key);
          if (ep !== undefined) out.push(ep);
        }
        nodeCache.set(node, (hit = out));
      }
      return hit;
    },
    endpointsWithPortName(name: string): readonly Endpoint[] {
      portCache ??= holder.ports = new LRUCache({ max: 4096 });
      let hit = portCache.get(name);
      const inherited = state.inherited;
      if (hit === undefined && inherited !== undefined && !inherited.changedPortNames.has(name)) {
        hit = inherited.from.ports?.peek(name);
        if (hit !== undefined) portCache.set(name, hit);
      }
      if (hit === undefined && inherited !== undefined) {
        // Changed: moved on from the previous list by the endpoints set or removed since (a pod's
        // label change re-sets the pod, so every port name it declares is "changed").
        const before = inherited.from.ports?.peek(name);
        const changed = inherited.changedEndpoints;
        if (before !== undefined && changed.keys.size + changed.replaced.size <= MEMBER_DELTA_LIMIT) {
          const owners = state.namedPorts.get(name)?.set ?? EMPTY_SET;
          portCache.set(name, (hit = movedOn(before, changed, (key) => owners.has(key))));
        }
      }
      if (hit === undefined) {
        const out: Endpoint[] = [];
        for (const key of state.namedPorts.get(name)?.set ?? EMPTY_SET) {
          const ep = state.endpoints.get(key);
          if (ep !== undefined) out.push(ep);
        }
        portCache.set(name, (hit = out));
      }
      return hit;
    },
  };
  caches.set(snapshot, holder);
  return snapshot;
}

function appendToPlan(plan: { tier: Tier; policies: Policy[] }[], tier: Tier, p: Policy): void {
  const last = plan[plan.length - 1];
  if (last !== undefined && last.tier === tier) last.policies.push(p);
  else plan.push({ tier, policies: [p] });
}
