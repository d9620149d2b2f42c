// The normalized cluster the engine evaluates against, with the indexes evaluation needs:
// endpoints by id and by address, network sets by address and domain, and — the hot one — the
// per-endpoint, per-direction tier plan (which policies select it), cached by the endpoint's
// label key so endpoints with the same labels share the work. Policies are pre-bucketed by the
// namespace their selector is confined to, so a lookup only tests the policies that can apply.
import { cidrContains, formatIp } from '../net/index.ts';
import type { IpAddress } from '../net/index.ts';
import type { MatchIndex } from './match.ts';
import type { PipelineMode, TierPlan } from './pipeline.ts';
import type {
  Direction,
  Endpoint,
  NamespaceEntry,
  NetworkSetEntry,
  Policy,
  ServiceEntry,
  Tier,
} from './model.ts';
import { isNamespacedKind } from './policy-kinds.ts';
import { domainMatches } from './domains.ts';

export interface ClusterData {
  /** Sorted by tier order. */
  readonly tiers: readonly Tier[];
  /** Sorted by tier, then policy order (see ordering.ts). */
  readonly policies: readonly Policy[];
  readonly endpoints: readonly Endpoint[];
  readonly networkSets: readonly NetworkSetEntry[];
  readonly namespaces: readonly NamespaceEntry[];
  readonly services: readonly ServiceEntry[];
}

export interface Cluster extends MatchIndex, ClusterData {
  endpoint(id: string): Endpoint | undefined;
  /** A policy by its key (`kind/namespace/name`). */
  policy(key: string): Policy | undefined;
  /** The endpoint that owns an address (pod IP, WEP ipNetworks, HEP expectedIPs), if any. */
  endpointByAddress(address: IpAddress): Endpoint | undefined;
  namespace(name: string): NamespaceEntry | undefined;
  /** Tiers with at least one policy (enforced or staged) selecting the endpoint for `dir`. */
  plan(endpoint: Endpoint, dir: Direction): readonly TierPlan[];
  /** Whether a staged policy (or a staged Delete's target) takes part for the endpoint and direction. */
  hasStaged(endpoint: Endpoint, dir: Direction): boolean;
  /** Pipeline mode for the pending view: staged as enforced, staged Deletes hiding their targets. */
  readonly pendingMode: PipelineMode;
}

/** Which enforced policy a staged policy stands for (same name, namespace, tier, dialect). */
export function enforcedKeyOfStaged(p: Policy): string | undefined {
  switch (p.kind) {
    case 'StagedGlobalNetworkPolicy':
      return `GlobalNetworkPolicy//${p.name}`;
    case 'StagedNetworkPolicy':
      return `NetworkPolicy/${p.namespace ?? ''}/${p.name}`;
    case 'StagedKubernetesNetworkPolicy':
      return `KubernetesNetworkPolicy/${p.namespace ?? ''}/${p.name}`;
    default:
      return undefined;
  }
}

export function policyKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

export function createCluster(data: ClusterData): Cluster {
  const endpointsById = new Map<string, Endpoint>();
  const endpointsByAddress = new Map<string, Endpoint>();
  for (const ep of data.endpoints) {
    endpointsById.set(ep.id, ep);
    for (const a of ep.addresses) endpointsByAddress.set(formatIp(a), ep);
  }
  const namespaces = new Map(data.namespaces.map((n) => [n.name, n]));
  const policiesByKey = new Map(data.policies.map((p) => [p.key, p]));
  const services = new Map(data.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const tierIndex = new Map(data.tiers.map((t, i) => [t.name, i]));

  // Policies confined to one namespace are only candidates for endpoints of that namespace.
  const policyRank = new Map<Policy, number>();
  const global: Policy[] = [];
  const byNamespace = new Map<string, Policy[]>();
  data.policies.forEach((p, i) => {
    policyRank.set(p, i);
    if (p.doNotTrack || p.preDNAT) return; // untracked / preDNAT tiers never apply to workloads (§5.3)
    if (isNamespacedKind(p.kind) && p.namespace !== undefined) {
      let list = byNamespace.get(p.namespace);
      if (list === undefined) byNamespace.set(p.namespace, (list = []));
      list.push(p);
    } else {
      global.push(p);
    }
  });

  const hidden = new Set<string>();
  for (const p of data.policies) {
    const target = enforcedKeyOfStaged(p);
    if (p.staged && p.stagedAction === 'Delete' && target !== undefined) hidden.add(target);
  }

  interface Plans {
    readonly ingress: readonly TierPlan[];
    readonly egress: readonly TierPlan[];
    readonly stagedIngress: boolean;
    readonly stagedEgress: boolean;
  }
  const planCache = new Map<string, Plans>();

  function candidatesFor(ep: Endpoint): readonly Policy[] {
    const local = ep.namespace === undefined ? undefined : byNamespace.get(ep.namespace);
    if (local === undefined || local.length === 0) return global;
    if (global.length === 0) return local;
    // Merge two lists that are each in global order.
    const out: Policy[] = [];
    let i = 0;
    let j = 0;
    while (i < global.length || j < local.length) {
      const a = global[i];
      const b = local[j];
      if (b === undefined || (a !== undefined && policyRank.get(a)! < policyRank.get(b)!)) {
        out.push(a!);
        i++;
      } else {
        out.push(b);
        j++;
      }
    }
    return out;
  }

  function computePlans(ep: Endpoint): Plans {
    const ingress: { tier: Tier; policies: Policy[] }[] = [];
    const egress: { tier: Tier; policies: Policy[] }[] = [];
    let stagedIngress = false;
    let stagedEgress = false;
    for (const p of candidatesFor(ep)) {
      if (!p.selector.matches(ep.labels)) continue;
      const tier = data.tiers[tierIndex.get(p.tier)!]!;
      const involvesStaged = p.staged || hidden.has(p.key);
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

  // In front of the label-key cache, one by endpoint identity: a hit costs a pointer hash instead
  // of hashing and comparing the long label key (this runs twice or more per evaluated flow).
  const planByEndpoint = new WeakMap<Endpoint, Plans>();
  function plansOf(ep: Endpoint): Plans {
    let plans = planByEndpoint.get(ep);
    if (plans !== undefined) return plans;
    plans = planCache.get(ep.labelKey);
    if (plans === undefined) planCache.set(ep.labelKey, (plans = computePlans(ep)));
    planByEndpoint.set(ep, plans);
    return plans;
  }

  // Keyed by the address's numeric value (a number for IPv4, a bigint for IPv6: never equal to each
  // other under SameValueZero), so a lookup formats nothing.
  const netSetsByAddress = new Map<number | bigint, readonly NetworkSetEntry[]>();
  const NO_SETS: readonly NetworkSetEntry[] = [];
  const netSetsByDomain = new Map<string, readonly NetworkSetEntry[]>();

  return {
    ...data,
    pendingMode: { stagedAsEnforced: true, hidden },
    endpoint: (id) => endpointsById.get(id),
    policy: (key) => policiesByKey.get(key),
    endpointByAddress: (a) => endpointsByAddress.get(formatIp(a)),
    namespace: (name) => namespaces.get(name),
    service: (ns, name) => services.get(`${ns}/${name}`),
    plan: (ep, dir) => (dir === 'ingress' ? plansOf(ep).ingress : plansOf(ep).egress),
    hasStaged: (ep, dir) => (dir === 'ingress' ? plansOf(ep).stagedIngress : plansOf(ep).stagedEgress),
    networkSetsContaining(address) {
      if (data.networkSets.length === 0) return NO_SETS;
      let sets = netSetsByAddress.get(address.value);
      if (sets === undefined) {
        sets = data.networkSets.filter((s) => s.nets.some((c) => cidrContains(c, address)));
        netSetsByAddress.set(address.value, sets);
      }
      return sets;
    },
    networkSetsForDomain(domain) {
      const key = domain.toLowerCase().replace(/\.$/, '');
      let sets = netSetsByDomain.get(key);
      if (sets === undefined) {
        sets = data.networkSets.filter((s) => s.allowedEgressDomains.some((d) => domainMatches(d, key)));
        netSetsByDomain.set(key, sets);
      }
      return sets;
    },
  };
}

function appendToPlan(plan: { tier: Tier; policies: Policy[] }[], tier: Tier, p: Policy): void {
  const last = plan[plan.length - 1];
  if (last !== undefined && last.tier === tier) last.policies.push(p);
  else plan.push({ tier, policies: [p] });
}
