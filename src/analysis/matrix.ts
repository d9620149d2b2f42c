// The connectivity matrix: for every (source endpoint, destination endpoint, port) whether the
// flow is allowed. Cost follows the number of *equivalence classes* of endpoints, not pods²:
// endpoints with the same effective labels, ports and address memberships are decided identically,
// so each class runs the shared pipeline once per direction with a bitset over every peer class
// (the engine's pipeline with a bitset algebra — the same semantics `explain` uses).
// A rule side's bitset is computed once per distinct side (sides are compared by content: many
// policies repeat the same `{}` or ipBlock side), and the engine's membership index narrows it to
// the classes its selector matches, so a side scoped to one namespace costs that namespace's
// classes, not every class of the cluster.
import type { Cluster, Direction, EntityMatch, Endpoint, Flow, Peer, PipelineMode, Policy, Profile, Rule, TierPlan } from '../engine/index.ts';
import { PROTOCOL } from '../engine/index.ts';
import { headerMatches, isActive, runPipeline, sideMatches } from '../engine/algebra.ts';
import { cidrContains } from '../net/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';
import type { Selector } from '../selector/index.ts';
import { rangedHas, rangedSetAlgebra } from './bitset.ts';
import type { RangedSet } from './bitset.ts';

type Bitset = RangedSet;

export interface PortSpec {
  readonly protocol: number;
  /** Undefined for ICMP. */
  readonly port: number | undefined;
}

export interface MatrixOptions {
  /** Ports to evaluate for every destination; default: each destination's declared ports. */
  readonly ports?: readonly PortSpec[] | undefined;
  /** Decide with staged policies enforced (the cluster's pending mode, as explain's `pending`). */
  readonly pending?: boolean | undefined;
}

/** One port: which (source, destination) endpoint pairs are allowed. */
export interface PortMatrix {
  readonly spec: PortSpec;
  /** Indexes into `Matrix.endpoints` of the destinations evaluated on this port. */
  readonly destinations: readonly number[];
  allowed(src: number, dst: number): boolean;
}

export interface Matrix {
  /** Sorted by id; rows and columns index into this. */
  readonly endpoints: readonly Endpoint[];
  readonly ports: readonly PortMatrix[];
  /** Number of endpoint classes the computation ran on (per family). */
  readonly classCount: number;
}

function specKey(s: PortSpec): string {
  return `${s.protocol}/${s.port ?? ''}`;
}

function declaredSpecs(e: Endpoint): PortSpec[] {
  return e.ports.map((p) => ({ protocol: p.protocol, port: p.port }));
}

/**
 * Every distinct CIDR any rule or network set mentions: an address's membership vector over them
 * is all that matters (the same CIDR repeated in many policies counts once).
 */
function cidrUniverse(cluster: Cluster): Cidr[] {
  const distinct = new Map<string, Cidr>();
  const add = (list: readonly Cidr[] | undefined): void => {
    if (list !== undefined) for (const c of list) distinct.set(`${c.family}/${c.base}/${c.prefix}`, c);
  };
  const sides = (r: Rule): EntityMatch[] => [r.source, r.destination];
  for (const p of cluster.policies) {
    for (const r of [...p.ingress, ...p.egress]) {
      for (const s of sides(r)) {
        add(s.nets?.v4);
        add(s.nets?.v6);
        add(s.notNets?.v4);
        add(s.notNets?.v6);
      }
    }
  }
  for (const s of cluster.networkSets) add(s.nets);
  return [...distinct.values()];
}

function canDo(e: Endpoint, family: 4 | 6): boolean {
  return e.addresses.length === 0 || e.addresses.some((a) => a.family === family);
}

function familyOfPair(a: Endpoint, b: Endpoint): 4 | 6 {
  if (canDo(a, 4) && canDo(b, 4)) return 4;
  return 6;
}

interface FamilyRun {
  readonly classOf: Int32Array; // endpoint index → class
  readonly reps: readonly number[]; // class → representative endpoint index
  readonly peers: readonly Peer[]; // endpoint index → peer with the family's address
  /** Label class (the engine's `Endpoint.labelKey`) → matrix classes with those labels, ascending. */
  readonly byLabelClass: ReadonlyMap<string, readonly number[]>;
  /** Classes whose address is in a network set: a selector may match them through the set's labels. */
  readonly viaSets: readonly number[];
}

function classify(cluster: Cluster, endpoints: readonly Endpoint[], family: 4 | 6, universe: readonly Cidr[]): FamilyRun {
  const classOf = new Int32Array(endpoints.length);
  const reps: number[] = [];
  const peers: Peer[] = [];
  const byKey = new Map<string, number>();
  endpoints.forEach((e, i) => {
    const address: IpAddress | undefined = e.addresses.find((a) => a.family === family);
    peers.push({ kind: 'endpoint', endpoint: e, address });
    let membership = address === undefined ? '-' : '';
    if (address !== undefined) for (const c of universe) membership += cidrContains(c, address) ? '1' : '0';
    const ports = e.ports.map((p) => `${p.name ?? ''}:${p.protocol}:${p.port}`).join(',');
    const key = `${e.labelKey}\u0001${ports}\u0001${membership}`;
    let cls = byKey.get(key);
    if (cls === undefined) {
      cls = reps.length;
      byKey.set(key, cls);
      reps.push(i);
    }
    classOf[i] = cls;
  });
  const byLabelClass = new Map<string, number[]>();
  const viaSets: number[] = [];
  reps.forEach((rep, cls) => {
    const peer = peers[rep]!;
    const key = endpoints[rep]!.labelKey;
    const list = byLabelClass.get(key);
    if (list === undefined) byLabelClass.set(key, [cls]);
    else list.push(cls);
    if (peer.kind === 'endpoint' && peer.address !== undefined && cluster.networkSetsContaining(peer.address).length > 0) viaSets.push(cls);
  });
  return { classOf, reps, peers, byLabelClass, viaSets };
}

/** A side's content as text: equal keys match the same peers (selectors by canonical form). */
function sideKey(side: EntityMatch): string {
  return JSON.stringify(side, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'object' && v !== null && 'canonical' in v && 'matches' in v) return `selector:${(v as Selector).canonical}`;
    return v;
  });
}

/**
 * The classes a rule side can match, or undefined for "any class". A side with a selector matches
 * a peer only when the selector matches the peer's labels (the engine's membership index names
 * those label classes exactly) or a network set holding its address, so besides the selector's
 * members only `viaSets` classes remain.
 */
function candidateClasses(cluster: Cluster, run: FamilyRun, sel: Selector | undefined, cache: Map<Selector, readonly number[] | undefined>): readonly number[] | undefined {
  if (sel === undefined) return undefined;
  if (cache.has(sel)) return cache.get(sel);
  const out = new Set<number>(run.viaSets);
  for (const key of cluster.selectorClasses(sel)) for (const c of run.byLabelClass.get(key) ?? []) out.add(c);
  const list = [...out].sort((a, b) => a - b);
  cache.set(sel, list);
  return list;
}

// Identities of the plan's parts, for `outcomeKey` (objects shared by every plan of a snapshot).
const partIds = new WeakMap<object, number>();
let nextPartId = 0;
function partId(o: object): number {
  let id = partIds.get(o);
  if (id === undefined) partIds.set(o, (id = nextPartId++));
  return id;
}

/**
 * What a class's pipeline run depends on besides the peer bitsets: the tiers and active policies
 * of its plan, its profiles, and which of their rules its own side matches (one bit per rule).
 */
function outcomeKey(plan: readonly TierPlan[], profiles: readonly Profile[], dir: Direction, mode: PipelineMode, own: (rule: Rule) => boolean): string {
  let key = '';
  let bits = '';
  for (const { tier, policies } of plan) {
    key += `|${partId(tier)}:`;
    for (const p of policies) {
      if (!isActive(p, mode)) continue;
      key += `${partId(p)},`;
      for (const r of dir === 'ingress' ? p.ingress : p.egress) bits += own(r) ? '1' : '0';
    }
  }
  key += '#';
  for (const p of profiles) {
    key += `${partId(p)},`;
    for (const r of dir === 'ingress' ? p.ingress : p.egress) bits += own(r) ? '1' : '0';
  }
  return `${key}/${bits}`;
}

/**
 * Decides, for one port and family, every class pair in both directions:
 * `egress[srcClass]` = bitset of destination classes the source's egress allows;
 * `ingress[dstClass]` = bitset of source classes the destination's ingress allows.
 */
function decidePort(
  cluster: Cluster,
  endpoints: readonly Endpoint[],
  run: FamilyRun,
  spec: PortSpec,
  family: 4 | 6,
  dstClasses: readonly number[],
  mode: PipelineMode,
): { egress: Map<number, Bitset>; ingress: Map<number, Bitset>; dstSlot: Int32Array } {
  const flowOf = (src: Peer, dst: Peer): Flow => ({
    src,
    dst,
    protocol: spec.protocol,
    port: spec.port,
    srcPort: undefined,
    icmp: spec.protocol === PROTOCOL.ICMP || spec.protocol === PROTOCOL.ICMPV6 ? { type: family === 4 ? 8 : 128, code: 0 } : undefined,
    ipVersion: family,
  });
  const classCount = run.reps.length;
  const repPeer = (cls: number): Peer => run.peers[run.reps[cls]!]!;
  // Destination classes are compacted into slots so bitsets stay as small as the port's audience.
  const dstSlot = new Int32Array(classCount).fill(-1); // class → slot, -1 when not a destination
  dstClasses.forEach((c, i) => (dstSlot[c] = i));
  const dstAlg = rangedSetAlgebra(dstClasses.length);
  const srcAlg = rangedSetAlgebra(classCount);

  const candidates = new Map<Selector, readonly number[] | undefined>();

  // Bitsets of the peers a rule side matches, cached per side object (shared by every endpoint
  // its policy selects) and per side content (shared by identical sides of different rules);
  // only the side's candidate classes are tested. Cached bitsets are never mutated.
  const keys = new Map<EntityMatch, string>();
  const keyOf = (side: EntityMatch): string => {
    let k = keys.get(side);
    if (k === undefined) keys.set(side, (k = sideKey(side)));
    return k;
  };
  const dstCache = new Map<string, Bitset>();
  const dstBits = (side: EntityMatch, src: Peer): Bitset => {
    const key = keyOf(side);
    let b = dstCache.get(key);
    if (b === undefined) {
      const members: number[] = [];
      const test = (c: number, slot: number): void => {
        const dst = repPeer(c);
        if (sideMatches(cluster, side, dst, spec.port, flowOf(src, dst), true, false)) members.push(slot);
      };
      const cands = candidateClasses(cluster, run, side.selector, candidates);
      if (cands === undefined) dstClasses.forEach(test);
      else for (const c of cands) if (dstSlot[c]! >= 0) test(c, dstSlot[c]!);
      dstCache.set(key, (b = dstAlg.of(members)));
    }
    return b;
  };
  const srcCache = new Map<string, Bitset>();
  const srcBits = (side: EntityMatch, dst: Peer): Bitset => {
    const key = keyOf(side);
    let b = srcCache.get(key);
    if (b === undefined) {
      const members: number[] = [];
      const test = (c: number): void => {
        const src = repPeer(c);
        if (sideMatches(cluster, side, src, undefined, flowOf(src, dst), false, false)) members.push(c);
      };
      const cands = candidateClasses(cluster, run, side.selector, candidates);
      if (cands === undefined) for (let c = 0; c < classCount; c++) test(c);
      else for (const c of cands) test(c);
      srcCache.set(key, (b = srcAlg.of(members)));
    }
    return b;
  };

  // A class's outcome depends only on its plan (which policies, in which tiers), its profiles and,
  // per rule, whether the class's own side matches: the peer side's bitset is cached by content
  // and does not depend on the class. Classes alike in those share one pipeline run — most do, as
  // an own side is usually `{}` and many label classes are selected by the same policies.
  const memo = new Map<string, Bitset>();
  const egress = new Map<number, Bitset>();
  for (let c = 0; c < classCount; c++) {
    const src = repPeer(c);
    const ep = endpoints[run.reps[c]!]!;
    const headerFlow = flowOf(src, src);
    const own = (rule: Rule): boolean => headerMatches(rule, headerFlow) && sideMatches(cluster, rule.source, src, undefined, headerFlow, false, false);
    const plan = cluster.plan(ep, 'egress' as Direction);
    const key = `e${outcomeKey(plan, ep.profiles, 'egress', mode, own)}`;
    let allowed = memo.get(key);
    if (allowed === undefined) {
      const match = (_p: Policy | undefined, rule: Rule): Bitset => (own(rule) ? dstBits(rule.destination, src) : dstAlg.none);
      memo.set(key, (allowed = runPipeline(dstAlg, dstAlg.full, plan, ep.profiles, 'egress', match, mode).allowed));
    }
    egress.set(c, allowed);
  }
  const ingress = new Map<number, Bitset>();
  for (const c of dstClasses) {
    const dst = repPeer(c);
    const ep = endpoints[run.reps[c]!]!;
    const headerFlow = flowOf(dst, dst);
    const own = (rule: Rule): boolean => headerMatches(rule, headerFlow) && sideMatches(cluster, rule.destination, dst, spec.port, headerFlow, true, false);
    const plan = cluster.plan(ep, 'ingress');
    const key = `i${outcomeKey(plan, ep.profiles, 'ingress', mode, own)}`;
    let allowed = memo.get(key);
    if (allowed === undefined) {
      const match = (_p: Policy | undefined, rule: Rule): Bitset => (own(rule) ? srcBits(rule.source, dst) : srcAlg.none);
      memo.set(key, (allowed = runPipeline(srcAlg, srcAlg.full, plan, ep.profiles, 'ingress', match, mode).allowed));
    }
    ingress.set(c, allowed);
  }
  return { egress, ingress, dstSlot };
}

export function computeMatrix(cluster: Cluster, opts: MatrixOptions = {}): Matrix {
  const endpoints = [...cluster.endpoints].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Which destinations each port applies to.
  const specs = new Map<string, { spec: PortSpec; dsts: number[] }>();
  endpoints.forEach((e, i) => {
    for (const s of opts.ports ?? declaredSpecs(e)) {
      const k = specKey(s);
      let entry = specs.get(k);
      if (entry === undefined) specs.set(k, (entry = { spec: s, dsts: [] }));
      // Endpoints are visited in order, so a repeat can only be the last one pushed.
      if (entry.dsts[entry.dsts.length - 1] !== i) entry.dsts.push(i);
    }
  });
  const mode: PipelineMode = opts.pending === true ? cluster.pendingMode : { stagedAsEnforced: false };
  const universe = cidrUniverse(cluster);
  const families: (4 | 6)[] = endpoints.some((e) => !canDo(e, 4)) ? [4, 6] : [4];
  const runs = new Map(families.map((f) => [f, classify(cluster, endpoints, f, universe)] as const));

  const ports: PortMatrix[] = [];
  for (const { spec, dsts } of [...specs.values()].sort((a, b) => a.spec.protocol - b.spec.protocol || (a.spec.port ?? 0) - (b.spec.port ?? 0))) {
    const decided = new Map(
      families.map((f) => {
        const run = runs.get(f)!;
        const dstClasses = [...new Set(dsts.map((d) => run.classOf[d]!))];
        return [f, { run, ...decidePort(cluster, endpoints, run, spec, f, dstClasses, mode) }] as const;
      }),
    );
    const dstSet = new Set(dsts);
    ports.push({
      spec,
      destinations: dsts,
      allowed(src: number, dst: number): boolean {
        if (!dstSet.has(dst)) return false;
        if (src === dst) return true; // loopback: an endpoint talking to itself
        const f = familyOfPair(endpoints[src]!, endpoints[dst]!);
        const d = decided.get(f)!;
        const sc = d.run.classOf[src]!;
        const dc = d.run.classOf[dst]!;
        return rangedHas(d.egress.get(sc)!, d.dstSlot[dc]!) && rangedHas(d.ingress.get(dc)!, sc);
      },
    });
  }
  return { endpoints, ports, classCount: Math.max(...[...runs.values()].map((r) => r.reps.length), 0) };
}
