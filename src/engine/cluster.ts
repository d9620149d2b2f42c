// The cluster every reader sees: a snapshot of the live engine at one generation (snapshot.ts),
// with the lookups evaluation, analyses and the dataplane compiler need — endpoints by id and by
// address, network sets by address and domain, the per-class tier plans, and selector
// membership from the one index (membership.ts) instead of scans.
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
import { EntityIndex } from './entity-index.ts';
import type { Selector } from '../selector/index.ts';

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
  /** The store generation this snapshot is consistent at. */
  readonly generation: number;
  /** Endpoints whose labels match, and network sets whose labels match (Felix's IP-set members), in no promised order. */
  selectorMembers(sel: Selector): SelectorMembers;
  /** Label-class keys (`Endpoint.labelKey`) the selector matches. */
  selectorClasses(sel: Selector): ReadonlySet<string>;
  /** The endpoints a Service selects (same namespace, labels include its selector). */
  serviceBackends(namespace: string, name: string): readonly Endpoint[];
  /** The endpoints declaring a container port of that name (any protocol), in no promised order. */
  endpointsWithPortName(name: string): readonly Endpoint[];
  /** The endpoints whose `node` is this one (what an agent programs), without reading every endpoint; in no promised order. */
  endpointsOnNode(node: string): readonly Endpoint[];
}

/** Who a selector selects, as of a snapshot. */
export interface SelectorMembers {
  readonly endpoints: readonly Endpoint[];
  readonly networkSets: readonly NetworkSetEntry[];
}

export { enforcedKeyOfStaged, policyKey } from './policy-keys.ts';

/**
 * A cluster straight from entities (tests, tools that build the model in code): every entity is
 * put into a fresh entity index, and its snapshot is the cluster — the same indexes the live
 * store keeps, so there is one implementation of membership and plans.
 */
export function createCluster(data: ClusterData): Cluster {
  const index = new EntityIndex();
  for (const t of data.tiers) index.setTier(t);
  for (const n of data.namespaces) index.setNamespace(n);
  for (const e of data.endpoints) index.setEndpoint(e.id, e);
  for (const s of data.networkSets) index.setNetworkSet(s);
  for (const s of data.services) index.setService(s);
  for (const p of data.policies) index.setPolicy(p);
  index.commit();
  return index.snapshot();
}
