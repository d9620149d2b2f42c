// The engine's live state at the entity level: endpoints, policies, tiers, network sets, services
// and namespaces, each set or removed one at a time, with the indexes evaluation needs kept up to
// date by delta — membership (selector ↔ label classes), addresses, policies by selector, and
// per-class tier plans invalidated only where a change touches them. Every change is recorded in
// a change report (what the agent must reprogram, what flows must be re-attributed), and
// `snapshot()` hands out an immutable view at the current generation in O(1).
//
//   set/remove entity ──► membership · addresses · policies-by-selector · plan invalidation
//                              │
//                              ├──► change report (endpoints, plans, selectors, sets touched)
//                              └──► snapshot (copy-on-write views; see snapshot.ts)
import { formatIp } from '../net/index.ts';
import type { Selector } from '../selector/index.ts';
import { CowMap, CowSetMap, Epoch } from './cow.ts';
import { MembershipIndex } from './membership.ts';
import type { Endpoint, NamespaceEntry, NetworkSetEntry, Policy, ServiceEntry, Tier } from './model.ts';
import { serviceSelector } from './service-selector.ts';
import type { SnapshotState } from './snapshot.ts';
import { cachesOf, createSnapshot } from './snapshot.ts';
import type { Snapshot } from './snapshot.ts';
import { enforcedKeyOfStaged } from './policy-keys.ts';

/** What one change (or batch) affected: exactly what an agent reprograms. */
export interface ChangeReport {
  /** Generation the change produced. */
  readonly generation: number;
  readonly endpoints: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly updated: readonly string[] };
  /** Endpoint ids whose tier plan (policies selecting them, their order or content) may have changed. */
  readonly plansChanged: readonly string[];
  /** Selectors (canonical text) whose members — endpoints, their addresses or ports, network sets — changed. */
  readonly selectors: readonly string[];
  readonly networkSets: readonly string[];
  readonly policies: readonly string[];
  readonly tiers: readonly string[];
  readonly services: readonly string[];
  readonly namespaces: readonly string[];
}

/** Every selector a policy uses: its endpoint selector and each rule side's selectors. */
function selectorsOfPolicy(p: Policy): Selector[] {
  const out: Selector[] = [p.selector];
  for (const r of [...p.ingress, ...p.egress]) {
    for (const side of [r.source, r.destination]) {
      if (side.selector !== undefined) out.push(side.selector);
      if (side.notSelector !== undefined) out.push(side.notSelector);
    }
  }
  return out;
}

function sameAddressesAndPorts(a: Endpoint, b: Endpoint): boolean {
  if (a.addresses.length !== b.addresses.length || a.ports.length !== b.ports.length) return false;
  for (let i = 0; i < a.addresses.length; i++) if (formatIp(a.addresses[i]!) !== formatIp(b.addresses[i]!)) return false;
  for (let i = 0; i < a.ports.length; i++) {
    const p = a.ports[i]!;
    const q = b.ports[i]!;
    if (p.name !== q.name || p.port !== q.port || p.protocol !== q.protocol) return false;
  }
  return true;
}

export class EntityIndex {
  readonly #clock = new Epoch();
  readonly #membership = new MembershipIndex(this.#clock);
  #generation = 0;

  readonly #endpoints = new CowMap<Endpoint>(this.#clock);
  /** Endpoint id → keys claiming it, in arrival order: the last one is the endpoint (as before). */
  readonly #idOwners = new Map<string, string[]>();
  readonly #byId = new CowMap<Endpoint>(this.#clock);
  readonly #addressOwners = new Map<string, string[]>();
  /**
   * Endpoint key → when it arrived. Claimants of an id or address are kept in arrival order, so
   * the owner is the latest-arrived resource however often the others were upserted since — the
   * same owner a batch build of the same resources picks.
   */
  readonly #arrival = new Map<string, number>();
  #arrivals = 0;
  /** Highest arrival among the endpoints present: an endpoint arriving below it is placed, not appended. */
  #lastArrival = -1;
  readonly #byAddress = new CowMap<Endpoint>(this.#clock);

  /** Container-port name → keys of the endpoints that declare it (named-port sets, as Felix keeps them). */
  readonly #namedPorts = new CowSetMap<string>(this.#clock);
  readonly #byNode = new CowSetMap<string>(this.#clock);
  readonly #policies = new CowMap<Policy>(this.#clock);
  readonly #policiesBySelector = new CowSetMap<string>(this.#clock);
  readonly #tiers = new CowMap<Tier>(this.#clock);
  readonly #networkSets = new CowMap<NetworkSetEntry>(this.#clock);
  readonly #services = new CowMap<ServiceEntry>(this.#clock);
  readonly #serviceSelectors = new Map<string, Selector>();
  readonly #namespaces = new CowMap<NamespaceEntry>(this.#clock);
  #last: Snapshot | undefined;
  /** Classes whose plans changed since the last snapshot (the next one recomputes only those). */
  #invalidSinceSnapshot = new Set<string>();
  /** Selector ids whose members changed, and port names whose owners changed, since the last snapshot. */
  #selectorsSinceSnapshot = new Set<string>();
  /** Endpoint keys set or removed since the last snapshot, and the objects they replaced. */
  #endpointsSinceSnapshot = { keys: new Set<string>(), replaced: new Set<Endpoint>() };
  #portNamesSinceSnapshot = new Set<string>();
  /** Enforced policy keys a staged Delete hides in the pending view; replaced, never mutated. */
  #hidden: ReadonlySet<string> = new Set();
  #stagedDeletes = new Map<string, string>();

  // ---- the change report being collected
  #added = new Set<string>();
  #removed = new Set<string>();
  #updated = new Set<string>();
  #planEndpoints = new Set<string>();
  #planClasses = new Set<string>();
  #changedSets = new Set<string>();
  #changedPolicies = new Set<string>();
  #changedTiers = new Set<string>();
  #changedServices = new Set<string>();
  #changedNamespaces = new Set<string>();

  get generation(): number {
    return this.#generation;
  }

  // ---- endpoints

  /**
   * `arrival` orders endpoints as their resources arrived (the store passes it): a resource that
   * had no endpoint (a host-network pod) and now has one takes its resource's place in the list
   * and among the claimants of an address, as it has in a batch build — not the last place.
   */
  setEndpoint(key: string, ep: Endpoint, arrival?: number): void {
    const old = this.#endpoints.get(key);
    if (old === ep) return;
    this.#endpointsSinceSnapshot.keys.add(key);
    if (old !== undefined) this.#endpointsSinceSnapshot.replaced.add(old);
    if (old === undefined) {
      const at = arrival ?? this.#arrivals;
      this.#arrivals = Math.max(this.#arrivals, at + 1);
      this.#arrival.set(key, at);
      if (at < this.#lastArrival) this.#placeEndpoint(key, ep, at);
      else {
        this.#lastArrival = at;
        this.#endpoints.set(key, ep);
      }
    } else this.#endpoints.set(key, ep);
    if (old === undefined) {
      this.#added.add(ep.id);
      this.#membership.addMember(ep.labelKey, ep.labels, key);
      this.#planEndpoints.add(ep.id);
    } else {
      if (old.id !== ep.id) {
        this.#removeId(old.id, key);
        this.#added.add(ep.id);
        this.#removed.add(old.id);
      } else {
        this.#updated.add(ep.id);
      }
      if (old.labelKey !== ep.labelKey) {
        this.#leaveClass(old.labelKey, key);
        this.#membership.addMember(ep.labelKey, ep.labels, key);
        this.#planEndpoints.add(ep.id);
      } else if (!sameAddressesAndPorts(old, ep)) {
        this.#membership.touchClass(ep.labelKey);
      } else if (old.profiles !== ep.profiles) {
        this.#planEndpoints.add(ep.id); // profile rules are part of what the endpoint runs
      }
      // Members lists hold endpoint objects: one replaced in its class must not be handed out
      // from the previous snapshot's caches (the report still names only real member changes).
      if (old.labelKey === ep.labelKey) for (const id of this.#membership.selectorsOf(ep.labelKey)) this.#selectorsSinceSnapshot.add(id);
      // Only addresses the endpoint no longer has are given up: an address it keeps keeps its
      // place among the claimants, so a re-upsert does not take a shared address over from a
      // later resource (the batch build gives it to the later one).
      const kept = new Set(ep.addresses.map(formatIp));
      for (const a of old.addresses) if (!kept.has(formatIp(a))) this.#removeAddress(formatIp(a), key);
    }
    if (old?.node !== ep.node) {
      if (old?.node !== undefined) this.#byNode.remove(old.node, key);
      if (ep.node !== undefined) this.#byNode.add(ep.node, key);
    }
    this.#addId(ep.id, key);
    for (const a of ep.addresses) this.#addAddress(formatIp(a), key);
    if (old !== undefined) {
      for (const p of old.ports) {
        if (p.name === undefined) continue;
        this.#namedPorts.remove(p.name, key);
        this.#portNamesSinceSnapshot.add(p.name);
      }
    }
    for (const p of ep.ports) {
      if (p.name === undefined) continue;
      this.#namedPorts.add(p.name, key);
      this.#portNamesSinceSnapshot.add(p.name);
    }
    // A class may have gone and come back since the last snapshot, missing the invalidations of
    // policy changes in between: its inherited plan is not trusted.
    this.#invalidSinceSnapshot.add(ep.labelKey);
  }

  removeEndpoint(key: string): void {
    const old = this.#endpoints.get(key);
    if (old === undefined) return;
    this.#endpointsSinceSnapshot.keys.add(key);
    this.#endpointsSinceSnapshot.replaced.add(old);
    this.#endpoints.delete(key);
    if (old.node !== undefined) this.#byNode.remove(old.node, key);
    this.#leaveClass(old.labelKey, key);
    this.#arrival.delete(key);
    this.#removeId(old.id, key);
    for (const a of old.addresses) this.#removeAddress(formatIp(a), key);
    for (const p of old.ports) {
      if (p.name === undefined) continue;
      this.#namedPorts.remove(p.name, key);
      this.#portNamesSinceSnapshot.add(p.name);
    }
    this.#removed.add(old.id);
    this.#added.delete(old.id);
    this.#updated.delete(old.id);
  }

  /**
   * Inserts an endpoint before those that arrived after it: O(endpoints), and rare. The map
   * orders by first insertion, so the later ones are taken out and put back behind it.
   */
  #placeEndpoint(key: string, ep: Endpoint, at: number): void {
    const later: { key: string; ep: Endpoint; at: number }[] = [];
    for (const k of this.#endpoints.keys()) {
      const a = this.#arrival.get(k) ?? Number.MAX_SAFE_INTEGER;
      if (a > at && k !== key) later.push({ key: k, ep: this.#endpoints.get(k)!, at: a });
    }
    later.sort((x, y) => x.at - y.at);
    for (const l of later) this.#endpoints.delete(l.key);
    this.#endpoints.set(key, ep);
    for (const l of later) this.#endpoints.set(l.key, l.ep);
  }

  /** A class that loses its last member goes, and its plan with it (no change could reach it). */
  #leaveClass(classKey: string, key: string): void {
    this.#membership.removeMember(classKey, key);
  }

  endpoint(key: string): Endpoint | undefined {
    return this.#endpoints.get(key);
  }

  endpointKeys(): IterableIterator<string> {
    return this.#endpoints.keys();
  }

  #addId(id: string, key: string): void {
    let owners = this.#idOwners.get(id);
    if (owners === undefined) this.#idOwners.set(id, (owners = []));
    this.#claim(owners, key);
    this.#byId.set(id, this.#endpoints.get(owners[owners.length - 1]!)!);
  }

  #removeId(id: string, key: string): void {
    const owners = this.#idOwners.get(id);
    if (owners === undefined) return;
    const i = owners.indexOf(key);
    if (i >= 0) owners.splice(i, 1);
    if (owners.length === 0) {
      this.#idOwners.delete(id);
      this.#byId.delete(id);
    } else {
      this.#byId.set(id, this.#endpoints.get(owners[owners.length - 1]!)!);
    }
  }

  /** Adds a claimant in arrival order (lists are short: claims of one id or address). */
  #claim(owners: string[], key: string): void {
    if (owners.includes(key)) return;
    const at = this.#arrival.get(key) ?? Number.MAX_SAFE_INTEGER;
    let i = owners.length;
    while (i > 0 && (this.#arrival.get(owners[i - 1]!) ?? Number.MAX_SAFE_INTEGER) > at) i--;
    owners.splice(i, 0, key);
  }

  #addAddress(address: string, key: string): void {
    let owners = this.#addressOwners.get(address);
    if (owners === undefined) this.#addressOwners.set(address, (owners = []));
    this.#claim(owners, key);
    this.#byAddress.set(address, this.#endpoints.get(owners[owners.length - 1]!)!);
  }

  #removeAddress(address: string, key: string): void {
    const owners = this.#addressOwners.get(address);
    if (owners === undefined) return;
    const i = owners.indexOf(key);
    if (i >= 0) owners.splice(i, 1);
    if (owners.length === 0) {
      this.#addressOwners.delete(address);
      this.#byAddress.delete(address);
    } else {
      this.#byAddress.set(address, this.#endpoints.get(owners[owners.length - 1]!)!);
    }
  }

  /** Endpoint keys that already claim an address (duplicate-address diagnostics). */
  addressOwners(address: string): readonly string[] {
    return this.#addressOwners.get(address) ?? [];
  }

  // ---- policies and tiers

  setPolicy(p: Policy): void {
    const old = this.#policies.get(p.key);
    if (old === p) return;
    if (old !== undefined) this.#unindexPolicy(old);
    this.#policies.set(p.key, p);
    for (const s of selectorsOfPolicy(p)) this.#membership.retain(s);
    this.#policiesBySelector.add(p.selector.id, p.key);
    this.#invalidateSelector(p.selector.id);
    this.#changedPolicies.add(p.key);
    this.#updateStaged(p.key, p);
  }

  removePolicy(key: string): void {
    const old = this.#policies.get(key);
    if (old === undefined) return;
    this.#unindexPolicy(old);
    this.#policies.delete(key);
    this.#changedPolicies.add(key);
    this.#updateStaged(key, undefined);
  }

  policy(key: string): Policy | undefined {
    return this.#policies.get(key);
  }

  #unindexPolicy(old: Policy): void {
    this.#invalidateSelector(old.selector.id);
    this.#policiesBySelector.remove(old.selector.id, old.key);
    for (const s of selectorsOfPolicy(old)) this.#membership.release(s);
  }

  /** A staged Delete hides its target in the pending view: both policies' endpoints re-plan. */
  #updateStaged(key: string, p: Policy | undefined): void {
    const before = this.#stagedDeletes.get(key);
    const target = p !== undefined && p.staged && p.stagedAction === 'Delete' ? enforcedKeyOfStaged(p) : undefined;
    if (before === target) return;
    if (target === undefined) this.#stagedDeletes.delete(key);
    else this.#stagedDeletes.set(key, target);
    this.#hidden = new Set(this.#stagedDeletes.values());
    for (const t of [before, target]) {
      const hidden = t === undefined ? undefined : this.#policies.get(t);
      if (hidden !== undefined) this.#invalidateSelector(hidden.selector.id);
    }
  }

  /** The classes a policy selector matches re-plan (lazily, in the next snapshot that asks). */
  #invalidateSelector(selectorId: string): void {
    for (const c of this.#membership.classesOf(selectorId)) {
      this.#planClasses.add(c);
      this.#invalidSinceSnapshot.add(c);
    }
  }

  setTier(t: Tier): void {
    const old = this.#tiers.get(t.name);
    if (old === t) return;
    this.#tiers.set(t.name, t);
    this.#changedTiers.add(t.name);
    if (old !== undefined) this.#invalidateTier(t.name);
  }

  removeTier(name: string): void {
    if (!this.#tiers.delete(name)) return;
    this.#changedTiers.add(name);
    this.#invalidateTier(name);
  }

  tier(name: string): Tier | undefined {
    return this.#tiers.get(name);
  }

  #invalidateTier(name: string): void {
    for (const p of this.#policies.values()) if (p.tier === name) this.#invalidateSelector(p.selector.id);
  }

  // ---- network sets, services, namespaces

  setNetworkSet(s: NetworkSetEntry): void {
    const old = this.#networkSets.get(s.id);
    if (old === s) return;
    this.#networkSets.set(s.id, s);
    this.#touchNetworkSet(old, s);
  }

  removeNetworkSet(id: string): void {
    const old = this.#networkSets.get(id);
    if (old === undefined) return;
    this.#networkSets.delete(id);
    this.#touchNetworkSet(old, undefined);
  }

  #touchNetworkSet(old: NetworkSetEntry | undefined, now: NetworkSetEntry | undefined): void {
    const id = (now ?? old)!.id;
    this.#changedSets.add(id);
    for (const s of [old, now]) {
      if (s === undefined) continue;
      for (const sel of this.#membership.matching(s.labels)) this.#membership.touchSelector(sel.id);
    }
  }

  setService(s: ServiceEntry): void {
    const key = `${s.namespace}/${s.name}`;
    const old = this.#services.get(key);
    if (old === s) return;
    this.#services.set(key, s);
    this.#changedServices.add(key);
    const sel = serviceSelector(s);
    const prev = this.#serviceSelectors.get(key);
    if (sel !== undefined) this.#membership.retain(sel);
    if (prev !== undefined) this.#membership.release(prev);
    if (sel === undefined) this.#serviceSelectors.delete(key);
    else this.#serviceSelectors.set(key, sel);
  }

  removeService(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (!this.#services.delete(key)) return;
    this.#changedServices.add(key);
    const prev = this.#serviceSelectors.get(key);
    if (prev !== undefined) this.#membership.release(prev);
    this.#serviceSelectors.delete(key);
  }

  setNamespace(n: NamespaceEntry): void {
    if (this.#namespaces.get(n.name) === n) return;
    this.#namespaces.set(n.name, n);
    this.#changedNamespaces.add(n.name);
  }

  removeNamespace(name: string): void {
    if (this.#namespaces.delete(name)) this.#changedNamespaces.add(name);
  }

  namespace(name: string): NamespaceEntry | undefined {
    return this.#namespaces.get(name);
  }

  // ---- generations, reports, snapshots

  /** Closes the current change: bumps the generation and returns what it affected. */
  commit(): ChangeReport {
    this.#generation++;
    const plans = new Set(this.#planEndpoints);
    for (const c of this.#planClasses) {
      for (const key of this.#membership.membersOf(c)) {
        const ep = this.#endpoints.get(key);
        if (ep !== undefined) plans.add(ep.id);
      }
    }
    for (const id of this.#removed) plans.delete(id);
    const selectors: string[] = [];
    for (const id of this.#membership.takeChanged()) {
      this.#selectorsSinceSnapshot.add(id);
      const sel = this.#membership.selector(id);
      if (sel !== undefined) selectors.push(sel.canonical);
      else selectors.push(id); // released: named by id, it has no members any more
    }
    const report: ChangeReport = {
      generation: this.#generation,
      endpoints: { added: [...this.#added].filter((id) => !this.#removed.has(id) || this.#byId.has(id)), removed: [...this.#removed].filter((id) => !this.#byId.has(id)), updated: [...this.#updated] },
      plansChanged: [...plans].sort(),
      selectors: selectors.sort(),
      networkSets: [...this.#changedSets].sort(),
      policies: [...this.#changedPolicies].sort(),
      tiers: [...this.#changedTiers].sort(),
      services: [...this.#changedServices].sort(),
      namespaces: [...this.#changedNamespaces].sort(),
    };
    this.#added = new Set();
    this.#removed = new Set();
    this.#updated = new Set();
    this.#planEndpoints = new Set();
    this.#planClasses = new Set();
    this.#changedSets = new Set();
    this.#changedPolicies = new Set();
    this.#changedTiers = new Set();
    this.#changedServices = new Set();
    this.#changedNamespaces = new Set();
    return report;
  }

  /**
   * An immutable view at the current generation; O(1): later writes copy what they change. The
   * same generation gives the same snapshot object, so its per-snapshot caches (tier plans,
   * selector members) are shared by every reader of that generation.
   */
  snapshot(): Snapshot {
    if (this.#last !== undefined && this.#last.generation === this.#generation) return this.#last;
    const state: SnapshotState = {
      generation: this.#generation,
      endpoints: this.#endpoints.view,
      byId: this.#byId.view,
      byAddress: this.#byAddress.view,
      policies: this.#policies.view,
      policiesBySelector: this.#policiesBySelector.view,
      tiers: this.#tiers.view,
      networkSets: this.#networkSets.view,
      services: this.#services.view,
      namespaces: this.#namespaces.view,
      hidden: this.#hidden,
      membership: this.#membership.view,
      namedPorts: this.#namedPorts.view,
      byNode: this.#byNode.view,
      inherited:
        this.#last === undefined
          ? undefined
          : { from: cachesOf(this.#last) ?? { plans: new Map(), members: undefined, ports: undefined }, invalid: this.#invalidSinceSnapshot, changedSelectors: this.#selectorsSinceSnapshot, changedPortNames: this.#portNamesSinceSnapshot, changedEndpoints: this.#endpointsSinceSnapshot },
    };
    this.#selectorsSinceSnapshot = new Set();
    this.#endpointsSinceSnapshot = { keys: new Set(), replaced: new Set() };
    this.#portNamesSinceSnapshot = new Set();
    this.#invalidSinceSnapshot = new Set();
    this.#clock.advance();
    this.#last = createSnapshot(state);
    return this.#last;
  }
}
