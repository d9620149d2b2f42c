// The whole flow space of one or more cluster states, cut into atoms, and the engine's pipeline run
// over it with bitsets: the common ground of `diff` (two states, or the enforced and pending view of
// one) and the invariant check (one state).
//
//   sources / destinations  endpoint classes (endpoints with equal labels, ports, profiles and
//                           CIDR memberships in *every* state), external address blocks (IPv4 and
//                           IPv6 cut at every CIDR boundary of any state), and — as destinations —
//                           the domain names the rules and network sets mention;
//   services                TCP/UDP/SCTP port ranges cut at every port any rule, named port,
//                           Service or invariant uses; ICMP types/codes the rules name; the other
//                           protocols the rules name, and one atom for every protocol they do not.
//
// Within an atom nothing can tell two flows apart, so one representative decides it. A direction is
// decided by `runPipeline` at the representative endpoint with a bitset over every peer atom (one
// run per class, direction, service atom and family); runs are cached by (state of the world,
// tier plan), so a state that differs from another only in a few policies re-runs only the
// classes those policies select.
import type { Cluster, Direction, EntityMatch, Endpoint, Flow, NetworkSetEntry, Peer, PipelineMode, Policy, Profile, Rule, TierPlan } from '../engine/index.ts';
import type { FlowSetAlgebra, PipelineObserver } from '../engine/algebra.ts';
import { PROTOCOL, protocolName } from '../engine/index.ts';
import { headerMatches, isActive, runPipeline, sideMatches } from '../engine/algebra.ts';
import { cidrContains } from '../net/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';
import type { Selector } from '../selector/index.ts';
import { addressAtoms, blockAddress, firstUnused, formatPorts, portAtoms } from './atoms.ts';
import type { AddressBlock, PortInterval } from './atoms.ts';
import { hasBit, setBit, sparseBitsetAlgebra } from './bitset.ts';
import type { Bitset } from './bitset.ts';

/** One way of evaluating a cluster: enforced, or pending (staged policies as enforced). */
export interface View {
  readonly cluster: Cluster;
  readonly mode: PipelineMode;
}

export const ENFORCED: PipelineMode = { stagedAsEnforced: false };

export function pendingView(cluster: Cluster): View {
  return { cluster, mode: cluster.pendingMode };
}

export function enforcedView(cluster: Cluster): View {
  return { cluster, mode: ENFORCED };
}

export type ServiceAtom =
  | { readonly kind: 'ports'; readonly protocol: number; readonly range: PortInterval }
  | { readonly kind: 'icmp'; readonly protocol: number; readonly family: 4 | 6; readonly type: number; readonly code: number; readonly label: string }
  /** A protocol without ports; `other` stands for every protocol no rule names. */
  | { readonly kind: 'protocol'; readonly protocol: number; readonly other: boolean };

export interface EndpointClass {
  /** Endpoint ids, sorted. */
  readonly members: readonly string[];
}

export type PeerAtom =
  | { readonly kind: 'class'; readonly index: number }
  | { readonly kind: 'block'; readonly block: AddressBlock }
  | { readonly kind: 'domain'; readonly domain: string };

/** Extra boundaries to cut at (the invariants' ports and nets), beyond what the states use. */
export interface SpaceExtras {
  readonly cidrs?: readonly Cidr[];
  readonly ports?: readonly { readonly protocol: number; readonly range: PortInterval }[];
}

export interface FlowSpace {
  readonly classes: readonly EndpointClass[];
  /** Peer atoms: classes first (index = class index), then IPv4 blocks, IPv6 blocks, domains. */
  readonly atoms: readonly PeerAtom[];
  readonly services: readonly ServiceAtom[];
  /** Per state: endpoint ids present in that state but not in every state (not part of any class). */
  readonly unmatched: readonly (readonly string[])[];
  /** Whether an address is an endpoint's in some state (its traffic is that endpoint's, not external). */
  readonly owned: (address: IpAddress) => boolean;
}

export const PORT_PROTOCOLS: readonly number[] = [PROTOCOL.TCP, PROTOCOL.UDP, PROTOCOL.SCTP];

// ---- building the space

/** Whether a rule cuts the space anywhere (CIDRs, ports, protocols, ICMP, domains); the others cut nothing. */
function cuts(r: Rule): boolean {
  const side = (m: EntityMatch): boolean => m.nets !== undefined || m.notNets !== undefined || m.ports !== undefined || m.notPorts !== undefined || m.domains !== undefined;
  return r.protocol !== undefined || r.notProtocol !== undefined || r.icmp !== undefined || r.notIcmp !== undefined || side(r.source) || side(r.destination);
}

const cuttingOf = new WeakMap<Policy | Profile, readonly Rule[]>();
/** The rules of a policy or profile that cut the space, once per (immutable) object. */
export function cuttingRules(p: Policy | Profile): readonly Rule[] {
  let out = cuttingOf.get(p);
  if (out === undefined) cuttingOf.set(p, (out = [...p.ingress, ...p.egress].filter(cuts)));
  return out;
}

function rulesOf(c: Cluster): Rule[] {
  const out: Rule[] = [];
  for (const p of c.policies) out.push(...cuttingRules(p));
  const profiles = new Set<Profile>(); // shared by every endpoint of a namespace
  for (const e of c.endpoints) for (const pr of e.profiles) profiles.add(pr);
  for (const pr of profiles) out.push(...cuttingRules(pr));
  return out;
}

function cidrsOf(rules: readonly Rule[]): Cidr[] {
  const out: Cidr[] = [];
  for (const r of rules) {
    for (const s of [r.source, r.destination]) {
      for (const l of [s.nets, s.notNets]) if (l !== undefined) out.push(...l.v4, ...l.v6);
    }
  }
  return out;
}

export function cidrKey(c: Cidr): string {
  return `${c.family}/${c.base}/${c.prefix}`;
}

/**
 * Endpoint keys remembered across flow spaces (a server classifying state after state): the
 * store hands out the same immutable Endpoint object for an endpoint a change did not touch, so
 * its key is computed once per CIDR universe, not once per space. Weak: nothing outlives the
 * endpoints.
 */
export class ClassifyCache {
  /** Universe → key table; a few universes (admission uses two: with and without the invariants' CIDRs). */
  private readonly tables = new Map<string, KeyTable>();
  table(universe: readonly Cidr[]): KeyTable {
    const u = universe.map(cidrKey).join(',');
    let t = this.tables.get(u);
    if (t === undefined) {
      if (this.tables.size >= 4) this.tables.delete(this.tables.keys().next().value!);
      this.tables.set(u, (t = new KeyTable(universe)));
    } else {
      this.tables.delete(u);
      this.tables.set(u, t);
    }
    return t;
  }
}

/** Endpoint keys of one CIDR universe as small integers (equal keys, equal numbers). */
export class KeyTable {
  private readonly universe: readonly Cidr[];
  private readonly byEndpoint = new WeakMap<Endpoint, number>();
  private readonly ids = new Map<string, number>();
  constructor(universe: readonly Cidr[]) {
    this.universe = universe;
  }
  id(e: Endpoint): number {
    let n = this.byEndpoint.get(e);
    if (n === undefined) {
      const key = endpointKey(e, this.universe);
      n = this.ids.get(key);
      if (n === undefined) this.ids.set(key, (n = this.ids.size));
      this.byEndpoint.set(e, n);
    }
    return n;
  }
}

/** An endpoint's classification key in one state: what any rule can observe of it. */
function endpointKey(e: Endpoint, universe: readonly Cidr[]): string {
  let membership = '';
  for (const a of e.addresses) {
    membership += `${a.family}:`;
    for (const c of universe) membership += cidrContains(c, a) ? '1' : '0';
    membership += ';';
  }
  const ports = e.ports.map((p) => `${p.name ?? ''}:${p.protocol}:${p.port}`).join(',');
  const profiles = e.profiles.map((p) => p.name).join(',');
  return `${e.labelKey}\u0001${ports}\u0001${membership}\u0001${profiles}\u0001${e.kind}`;
}

function icmpAtoms(rules: readonly Rule[], protocol: number, family: 4 | 6): ServiceAtom[] {
  const codes = new Map<number, Set<number>>();
  for (const r of rules) {
    if (r.protocol !== undefined && r.protocol !== protocol) continue;
    for (const m of [r.icmp, r.notIcmp]) {
      if (m === undefined) continue;
      let set = codes.get(m.type);
      if (set === undefined) codes.set(m.type, (set = new Set()));
      if (m.code !== undefined) set.add(m.code);
    }
  }
  const name = protocolName(protocol);
  if (codes.size === 0) {
    // No rule looks inside: every ICMP message is decided alike; echo request stands for them.
    return [{ kind: 'icmp', protocol, family, type: family === 4 ? 8 : 128, code: 0, label: 'any' }];
  }
  const out: ServiceAtom[] = [];
  for (const type of [...codes.keys()].sort((a, b) => a - b)) {
    const used = codes.get(type)!;
    for (const code of [...used].sort((a, b) => a - b)) out.push({ kind: 'icmp', protocol, family, type, code, label: `type ${type} code ${code}` });
    const other = firstUnused(used, 0, 255);
    if (other !== undefined) out.push({ kind: 'icmp', protocol, family, type, code: other, label: used.size === 0 ? `type ${type}` : `type ${type}, other codes` });
  }
  const otherType = firstUnused(new Set(codes.keys()), 0, 255);
  if (otherType !== undefined) out.push({ kind: 'icmp', protocol, family, type: otherType, code: 0, label: 'other types' });
  void name;
  return out;
}

/**
 * A one-address block that is an endpoint's address (a pod's /32 in a rule): traffic from or to it
 * is that endpoint's, covered by its class, so it is no external atom.
 */
function ownedAddress(clusters: readonly Cluster[], b: AddressBlock): boolean {
  if (b.start !== b.end) return false;
  const a = blockAddress(b.family, b.start);
  return clusters.some((c) => c.endpointByAddress(a) !== undefined);
}

/** The CIDRs a space is cut at: every CIDR of the rules, the states' network sets, and the extras. */
export function universeOf(clusters: readonly Cluster[], rules: readonly Rule[], extras: SpaceExtras = {}): Cidr[] {
  const cidrMap = new Map<string, Cidr>();
  for (const c of [...cidrsOf(rules), ...clusters.flatMap((cl) => cl.networkSets.flatMap((s) => s.nets)), ...(extras.cidrs ?? [])]) cidrMap.set(cidrKey(c), c);
  return [...cidrMap.values()];
}

/** Endpoint classes over the endpoints every state has, and per state the ids only some states have. */
export interface Classification {
  readonly classes: readonly EndpointClass[];
  readonly unmatched: readonly (readonly string[])[];
}

export function buildFlowSpace(clusters: readonly Cluster[], extras: SpaceExtras = {}, cache?: ClassifyCache): FlowSpace {
  const rules = clusters.flatMap(rulesOf);
  const universe = universeOf(clusters, rules, extras);
  const table = cache?.table(universe) ?? new KeyTable(universe);

  // Endpoint classes over the endpoints every state has: keyed by the endpoint's key number in
  // each state (an endpoint a change did not touch is the same object in both: one lookup).
  const unmatched: string[][] = clusters.map(() => []);
  const common: string[] = [];
  const keyOf = new Map<string, string>();
  const first = clusters[0];
  if (first !== undefined) {
    for (const e of first.endpoints) {
      let key = String(table.id(e));
      let everywhere = true;
      for (let i = 1; i < clusters.length; i++) {
        const other = clusters[i]!.endpoint(e.id);
        if (other === undefined) {
          everywhere = false;
          break;
        }
        key += `,${table.id(other)}`;
      }
      if (!everywhere) {
        unmatched[0]!.push(e.id);
        continue;
      }
      common.push(e.id);
      keyOf.set(e.id, key);
    }
    for (let i = 1; i < clusters.length; i++) {
      for (const e of clusters[i]!.endpoints) if (!keyOf.has(e.id)) unmatched[i]!.push(e.id);
    }
  }
  for (const u of unmatched) u.sort();
  common.sort();
  const byKey = new Map<string, string[]>();
  for (const id of common) {
    const key = keyOf.get(id)!;
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [id]);
    else list.push(id);
  }
  // Members sorted, classes in the order of their first members.
  const classes: EndpointClass[] = [...byKey.values()].map((members) => ({ members }));
  const containerPorts = new Map<number, Set<number>>();
  for (const c of clusters) {
    for (const e of c.endpoints) {
      for (const p of e.ports) {
        let set = containerPorts.get(p.protocol);
        if (set === undefined) containerPorts.set(p.protocol, (set = new Set()));
        set.add(p.port);
      }
    }
  }
  return assembleFlowSpace(clusters, rules, universe, { classes, unmatched }, containerPorts, extras);
}

/**
 * A space from its parts: the classes (made here or kept up by an incremental builder), the rules
 * that cut it (of every state), its CIDR universe and the container ports of every state.
 */
export function assembleFlowSpace(
  clusters: readonly Cluster[],
  rules: readonly Rule[],
  universe: readonly Cidr[],
  classification: Classification,
  containerPorts: ReadonlyMap<number, Iterable<number>>,
  extras: SpaceExtras = {},
): FlowSpace {
  const { classes, unmatched } = classification;
  // Domains: destinations that are names some rule or network set mentions.
  const domains = new Set<string>();
  for (const r of rules) for (const d of r.destination.domains ?? []) domains.add(d.toLowerCase().replace(/\.$/, ''));
  for (const c of clusters) for (const s of c.networkSets) for (const d of s.allowedEgressDomains) domains.add(d.toLowerCase().replace(/\.$/, ''));

  const atoms: PeerAtom[] = [
    ...classes.map((_, index): PeerAtom => ({ kind: 'class', index })),
    ...[...addressAtoms(4, universe), ...addressAtoms(6, universe)].filter((b) => !ownedAddress(clusters, b)).map((block): PeerAtom => ({ kind: 'block', block })),
    ...[...domains].sort().map((domain): PeerAtom => ({ kind: 'domain', domain })),
  ];

  // Services: port protocols cut at every port boundary used with them.
  const mentioned = new Set<number>();
  for (const r of rules) {
    if (r.protocol !== undefined) mentioned.add(r.protocol);
    if (r.notProtocol !== undefined) mentioned.add(r.notProtocol);
  }
  const portProtocols = [...PORT_PROTOCOLS, ...(mentioned.has(PROTOCOL.UDPLITE) ? [PROTOCOL.UDPLITE] : [])];
  const services: ServiceAtom[] = [];
  for (const protocol of portProtocols) {
    const ranges: PortInterval[] = [];
    for (const r of rules) {
      if (r.protocol !== undefined && r.protocol !== protocol) continue;
      const d = r.destination;
      if (d.ports !== undefined) for (const x of d.ports.ranges) ranges.push(x);
      if (d.notPorts !== undefined) for (const x of d.notPorts.ranges) ranges.push(x);
    }
    for (const c of clusters) {
      for (const s of c.services) {
        for (const p of s.ports) if (p.protocol === protocol && typeof p.targetPort === 'number') ranges.push({ min: p.targetPort, max: p.targetPort });
      }
    }
    for (const port of containerPorts.get(protocol) ?? []) ranges.push({ min: port, max: port });
    for (const x of extras.ports ?? []) if (x.protocol === protocol) ranges.push(x.range);
    for (const range of portAtoms(ranges)) services.push({ kind: 'ports', protocol, range });
  }
  services.push(...icmpAtoms(rules, PROTOCOL.ICMP, 4), ...icmpAtoms(rules, PROTOCOL.ICMPV6, 6));
  const special = new Set<number>([...portProtocols, PROTOCOL.ICMP, PROTOCOL.ICMPV6]);
  for (const p of [...mentioned].sort((a, b) => a - b)) if (!special.has(p)) services.push({ kind: 'protocol', protocol: p, other: false });
  const other = firstUnused(new Set([...special, ...mentioned]), 1, 255);
  if (other !== undefined) services.push({ kind: 'protocol', protocol: other, other: true });

  return { classes, atoms, services, unmatched, owned: (a) => clusters.some((c) => c.endpointByAddress(a) !== undefined) };
}

export function serviceFamily(s: ServiceAtom): 4 | 6 | undefined {
  return s.kind === 'icmp' ? s.family : undefined;
}

/** `TCP`, `ICMP`, `other` … as printed. */
export function serviceProtocol(s: ServiceAtom): string {
  if (s.kind === 'protocol' && s.other) return 'other';
  return protocolName(s.protocol);
}

/** The port range, ICMP type/code or empty, as printed. */
export function serviceDetail(s: ServiceAtom): string | null {
  if (s.kind === 'ports') return formatPorts(s.range);
  if (s.kind === 'icmp') return s.label;
  return null;
}

// ---- fingerprints: what a direction's outcome depends on, as small integers

function canonicalJson(x: unknown): string {
  return JSON.stringify(x, (k, v: unknown) => {
    if (k === 'path' || k === 'origin') return undefined;
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'object' && v !== null && 'canonical' in v && 'matches' in v) return `selector:${(v as Selector).canonical}`;
    return v;
  });
}

class Interner {
  private readonly ids = new Map<string, number>();
  id(s: string): number {
    let n = this.ids.get(s);
    if (n === undefined) this.ids.set(s, (n = this.ids.size));
    return n;
  }
}

function pickAddress(e: Endpoint, family: 4 | 6): IpAddress | undefined {
  return e.addresses.find((a) => a.family === family);
}

function canDo(e: Endpoint, family: 4 | 6): boolean {
  return e.addresses.length === 0 || e.addresses.some((a) => a.family === family);
}

/** The family explain picks for an endpoint pair (flow.ts makeFlow): IPv4 when both can, else IPv6 when both can, else IPv4. */
function pairFamily(a: Endpoint, b: Endpoint): 4 | 6 {
  if (canDo(a, 4) && canDo(b, 4)) return 4;
  if (canDo(a, 6) && canDo(b, 6)) return 6;
  return 4;
}

function signature(e: Endpoint): number {
  return (canDo(e, 4) ? 1 : 0) | (canDo(e, 6) ? 2 : 0);
}

/** `pairFamily` from the two ends' signatures. */
function pairFamilyOf(a: number, b: number): 4 | 6 {
  if ((a & 1) !== 0 && (b & 1) !== 0) return 4;
  if ((a & 2) !== 0 && (b & 2) !== 0) return 6;
  return 4;
}

/** Ports and notPorts given, all numeric, no Service: the port test does not depend on the peer. */
function numericPortsOnly(side: EntityMatch): boolean {
  if (side.ports === undefined && side.notPorts === undefined) return false;
  return side.service === undefined && (side.ports?.named.length ?? 0) === 0 && (side.notPorts?.named.length ?? 0) === 0;
}

function numericPortsMatch(side: EntityMatch, port: number): boolean {
  if (side.ports !== undefined && !side.ports.ranges.some((r) => port >= r.min && port <= r.max)) return false;
  if (side.notPorts !== undefined && side.notPorts.ranges.some((r) => port >= r.min && port <= r.max)) return false;
  return true;
}

const portFree = new WeakMap<EntityMatch, EntityMatch>();
/** The side without its port criteria (one object per side, so caches keyed by it hold). */
function withoutPorts(side: EntityMatch): EntityMatch {
  let out = portFree.get(side);
  if (out === undefined) {
    const { ports: _p, notPorts: _n, ...rest } = side;
    portFree.set(side, (out = rest));
  }
  return out;
}

/** A side whose only criterion is its selector. */
function selectorOnly(side: EntityMatch): boolean {
  return (
    side.selector !== undefined &&
    side.nets === undefined &&
    side.notNets === undefined &&
    side.notSelector === undefined &&
    side.ports === undefined &&
    side.notPorts === undefined &&
    side.service === undefined &&
    side.domains === undefined
  );
}

function portDependent(side: EntityMatch): boolean {
  return side.ports !== undefined || side.notPorts !== undefined || side.service !== undefined;
}

/**
 * Small integer ids for what outcomes depend on (rule lists, profiles, rule sides, plans, worlds),
 * one set per evaluator: equal content gets equal ids, and nothing outlives the evaluator (a
 * server evaluating write after write keeps no history).
 */
// The canonical text of a policy's rules and of a profile, per (immutable) object: the ids are
// per evaluator, the text they are made from is not, so an evaluator made for every write of a
// server fingerprints only the policies that write brought.
const policyTexts = new WeakMap<Policy, string>();
/** Network-set list → endpoint → bits: 1/2 its IPv4/IPv6 address is in a set, 4/8 that was asked. */
const inNetworkSets = new WeakMap<readonly NetworkSetEntry[], WeakMap<Endpoint, number>>();
const profileTexts = new WeakMap<Profile, string>();

class Fingerprints {
  private readonly interner = new Interner();
  private readonly policies = new WeakMap<Policy, number>();
  private readonly profiles = new WeakMap<Profile, number>();
  private readonly sides = new WeakMap<EntityMatch, number>();

  id(text: string): number {
    return this.interner.id(text);
  }
  policy(p: Policy): number {
    let id = this.policies.get(p);
    if (id === undefined) {
      let text = policyTexts.get(p);
      if (text === undefined) policyTexts.set(p, (text = canonicalJson({ i: p.ingress, e: p.egress })));
      this.policies.set(p, (id = this.id(text)));
    }
    return id;
  }
  /** Profiles are shared by every endpoint of a namespace: fingerprint each object once. */
  profile(p: Profile): number {
    let id = this.profiles.get(p);
    if (id === undefined) {
      let text = profileTexts.get(p);
      if (text === undefined) profileTexts.set(p, (text = canonicalJson(p)));
      this.profiles.set(p, (id = this.id(text)));
    }
    return id;
  }
  side(s: EntityMatch): number {
    let id = this.sides.get(s);
    if (id === undefined) this.sides.set(s, (id = this.id(canonicalJson(s))));
    return id;
  }
  step(dir: Direction, what: string): number {
    return this.id(`${dir}|${what}`);
  }
}

function policyName(p: Policy): string {
  return `${p.kind}/${p.namespace ?? ''}/${p.name}`;
}

/** Fills `out[atom]` with the id of the step that decided it, from the pipeline's own report. */
function decidersObserver(out: Int32Array, dir: Direction, fp: Fingerprints): PipelineObserver<Bitset> {
  const mark = (hit: Bitset, id: number): void => {
    for (const i of SpaceEvaluator.bits(hit)) out[i] = id;
  };
  return {
    rule(tier, policy, rule, hit) {
      if (rule.action === 'allow' || rule.action === 'deny') mark(hit, fp.step(dir, `${tier.name}|${policyName(policy)}|${rule.index}|${rule.action}`));
    },
    policyMiss() {},
    endOfTier(tier, lastPolicy, action, hit) {
      if (action === 'deny') mark(hit, fp.step(dir, `${tier.name}|${policyName(lastPolicy)}|end-of-tier`));
    },
    profileRule(profile, rule, hit) {
      if (rule.action === 'allow' || rule.action === 'deny') mark(hit, fp.step(dir, `profile|${profile.name}|${rule.index}|${rule.action}`));
    },
    noProfile(hit) {
      mark(hit, fp.step(dir, 'no-profile'));
    },
  };
}

/**
 * Runs the pipeline over a flow space for several views. `verdict` answers any (source atom,
 * destination atom, service atom) for any view; everything is computed on demand and cached.
 */
export class SpaceEvaluator {
  readonly space: FlowSpace;
  readonly views: readonly View[];
  private readonly fp = new Fingerprints();
  private readonly alg: FlowSetAlgebra<Bitset> & { make(): Bitset };
  private readonly world: readonly number[];
  private readonly reps: (Endpoint | undefined)[][]; // view → class → representative endpoint, looked up when first asked
  private readonly classCount: number;
  private readonly runs = new Map<number, Bitset>();
  private readonly sides = new Map<number, Map<number, Bitset>>();
  private readonly ownSides = new Map<string, Map<EntityMatch, boolean>>();
  private readonly masks = new Map<string, Bitset>();
  private readonly plans: Int32Array;
  private readonly deciders = new Map<number, Int32Array>();
  /** Record which step decided each peer atom of each run (for reporting changed attributions). */
  readonly withDeciders: boolean;
  /** Pipeline runs made (for benchmarks and tests of the caching). */
  runCount = 0;

  /**
   * `worlds`: the caller's word on which views agree on every peer (labels, addresses, ports,
   * profiles of every class, network sets, services) — equal numbers share pipeline runs — instead
   * of a fingerprint of all of it (linear in the classes; admission knows what its write changed).
   */
  constructor(
    space: FlowSpace,
    views: readonly View[],
    opts: {
      readonly withDeciders?: boolean;
      readonly worlds?: readonly number[];
      /** Per view, each class's representative (its first member in that view), when the caller has them at hand. */
      readonly reps?: readonly (readonly Endpoint[])[];
    } = {},
  ) {
    this.withDeciders = opts.withDeciders ?? false;
    this.space = space;
    this.views = views;
    this.classCount = space.classes.length;
    this.alg = sparseBitsetAlgebra(space.atoms.length);
    this.plans = new Int32Array(views.length * 2 * space.classes.length).fill(-1);
    this.reps = views.map((_, i) => (opts.reps?.[i] !== undefined ? [...opts.reps[i]] : new Array<Endpoint | undefined>(space.classes.length)));
    this.sigs = views.map(() => new Uint8Array(space.classes.length));
    // Views whose clusters agree on every class and the match index share pipeline runs.
    const worlds = opts.worlds;
    if (worlds !== undefined && worlds.length !== views.length) throw new Error('SpaceEvaluator: one world per view');
    this.world = worlds !== undefined ? worlds.map((w) => this.fp.id(`world:${w}`)) : views.map((v, i) => {
      const parts: string[] = space.classes.map((_, c) => this.rep(i, c)).map((e) => `${e.labelKey}|${e.addresses.map((a) => `${a.family}:${a.value}`).join(',')}|${e.ports.map((p) => `${p.name}:${p.protocol}:${p.port}`).join(',')}|${e.profiles.map((p) => this.fp.profile(p)).join(',')}`);
      parts.push(canonicalJson(v.cluster.networkSets.map((s) => ({ id: s.id, labels: [...s.labels], nets: s.nets, d: s.allowedEgressDomains }))));
      parts.push(canonicalJson(v.cluster.services.map((s) => ({ ns: s.namespace, n: s.name, sel: s.selector === undefined ? null : [...s.selector], ports: s.ports }))));
      return this.fp.id(parts.join('\n'));
    });
  }

  /** The representative endpoint of a class in a view. */
  rep(view: number, cls: number): Endpoint {
    const reps = this.reps[view]!;
    let e = reps[cls];
    if (e === undefined) reps[cls] = e = this.views[view]!.cluster.endpoint(this.space.classes[cls]!.members[0]!)!;
    return e;
  }

  /** Identifies what the view's direction at the class depends on: equal ids give equal outcomes. */
  planId(view: number, dir: Direction, cls: number): number {
    const key = (view * 2 + (dir === 'egress' ? 0 : 1)) * this.classCount + cls;
    let id = this.plans[key]!;
    if (id < 0) {
      const v = this.views[view]!;
      const plan = v.cluster.plan(this.rep(view, cls), dir);
      let text = '';
      for (const { tier, policies } of plan) {
        const active = policies.filter((p) => isActive(p, v.mode));
        if (active.length === 0) continue;
        text += `${tier.defaultAction}:${active.map((p) => this.fp.policy(p)).join(',')};`;
      }
      id = this.fp.id(`${this.world[view]}#${dir}#${text}`); // a policy with both types has one list for both directions
      this.plans[key] = id;
    }
    return id;
  }

  /** The family a pair of atoms is evaluated in (undefined when neither end is an endpoint). */
  family(view: number, src: number, dst: number): 4 | 6 | undefined {
    const s = this.space.atoms[src]!;
    const d = this.space.atoms[dst]!;
    if (s.kind === 'class' && d.kind === 'class') return pairFamily(this.rep(view, s.index), this.rep(view, d.index));
    if (s.kind === 'block' && d.kind !== 'class') return undefined;
    if (s.kind === 'domain') return undefined;
    if (s.kind === 'block') return s.block.family;
    if (d.kind === 'block') return d.block.family;
    return canDo(this.rep(view, (s as { index: number }).index), 4) ? 4 : 6; // class → domain
  }

  private readonly peers = new Map<number, Peer[]>();
  /** The peer an atom stands for in a view and family (made once: rule sides test it again and again). */
  private peer(view: number, atom: number, family: 4 | 6): Peer {
    const k = view * 2 + (family === 6 ? 1 : 0);
    let list = this.peers.get(k);
    if (list === undefined) this.peers.set(k, (list = []));
    let p = list[atom];
    if (p === undefined) list[atom] = p = this.makePeer(view, atom, family);
    return p;
  }

  private makePeer(view: number, atom: number, family: 4 | 6): Peer {
    const a = this.space.atoms[atom]!;
    switch (a.kind) {
      case 'class': {
        const endpoint = this.rep(view, a.index);
        return { kind: 'endpoint', endpoint, address: pickAddress(endpoint, family) };
      }
      case 'block':
        return { kind: 'address', address: blockAddress(a.block.family, a.block.start) };
      case 'domain':
        return { kind: 'domain', domain: a.domain };
    }
  }

  /** The representative flow of an atom triple (what `explain` would be asked). */
  flow(view: number, src: number, dst: number, service: number, family: 4 | 6): Flow {
    const s = this.space.services[service]!;
    const d = this.space.atoms[dst]!;
    // Within one class the flow is between two of its members (a member to itself is loopback).
    const other = src === dst && d.kind === 'class' ? this.views[view]!.cluster.endpoint(this.space.classes[d.index]!.members[1] ?? '') : undefined;
    return {
      src: this.peer(view, src, family),
      dst: other === undefined ? this.peer(view, dst, family) : { kind: 'endpoint', endpoint: other, address: pickAddress(other, family) },
      protocol: s.protocol,
      port: s.kind === 'ports' ? s.range.min : undefined,
      srcPort: undefined,
      icmp: s.kind === 'icmp' ? { type: s.type, code: s.code } : undefined,
      ipVersion: family,
    };
  }

  private readonly sigs: Uint8Array[];
  /** The class's address families as `signature` gives them (kept per view: masks read every class's). */
  private sig(view: number, cls: number): number {
    const sigs = this.sigs[view]!;
    let x = sigs[cls]!;
    if (x === 0) sigs[cls] = x = signature(this.rep(view, cls)) + 1;
    return x - 1;
  }

  /** Peer atoms a run at `cls` in `dir` and `family` covers: those whose pair with the class is in that family. */
  private mask(view: number, dir: Direction, cls: number, family: 4 | 6): Bitset {
    const self = this.sig(view, cls);
    // Views of one world have the same endpoints: the same masks.
    const key = `${this.world[view]}|${dir}|${self}|${family}`;
    let m = this.masks.get(key);
    if (m === undefined) {
      const bits = this.alg.make();
      this.space.atoms.forEach((a, i) => {
        let f: 4 | 6 | undefined;
        if (a.kind === 'class') f = pairFamilyOf(self, this.sig(view, a.index));
        else if (a.kind === 'block') f = a.block.family;
        else f = dir === 'egress' ? ((self & 1) !== 0 ? 4 : 6) : undefined;
        if (f === family) setBit(bits, i);
      });
      m = this.alg.isEmpty(bits) ? this.alg.none : bits;
      this.masks.set(key, m);
    }
    return m;
  }

  /** Bitset of the peer atoms a rule side matches as the far end of a flow. */
  private sideBits(view: number, side: EntityMatch, role: 'destination' | 'source', domains: boolean, service: number, family: 4 | 6, mask: Bitset): Bitset {
    if (role === 'destination' && numericPortsOnly(side)) {
      // Numeric ports are a property of the flow, not of the peer: the side is its port-free self
      // on the ports it lists and nothing elsewhere — computed once, not once per port range.
      const s = this.space.services[service]!;
      if (s.kind !== 'ports' || !numericPortsMatch(side, s.range.min)) return this.alg.none;
      return this.sideBits(view, withoutPorts(side), role, domains, service, family, mask);
    }
    const dep = role === 'destination' && portDependent(side);
    let bySide = this.sides.get(this.fp.side(side));
    if (bySide === undefined) this.sides.set(this.fp.side(side), (bySide = new Map()));
    const key = (((this.world[view]! * 2 + (role === 'destination' ? 1 : 0)) * 2 + (domains ? 1 : 0)) * (this.space.services.length + 1) + (dep ? service + 1 : 0)) * 2 + (family === 6 ? 1 : 0);
    let b = bySide.get(key);
    if (b === undefined) {
      const bits = this.alg.make();
      const s = this.space.services[service]!;
      const port = role === 'destination' && s.kind === 'ports' ? s.range.min : undefined;
      // Only the atoms any run of this family can cover are tested; the mask of the first run is a
      // subset of them, so the cache is computed over the union of this family's masks.
      const cover = this.familyCover(view, family);
      const test = (i: number): void => {
        if (!hasBit(cover, i)) return;
        const peer = this.peer(view, i, family);
        const flow: Flow = { src: peer, dst: peer, protocol: s.protocol, port, srcPort: undefined, icmp: undefined, ipVersion: family };
        if (sideMatches(this.views[view]!.cluster, side, peer, port, flow, role === 'destination', domains)) setBit(bits, i);
      };
      if (side.selector === undefined) for (let i = 0; i < this.classCount; i++) test(i);
      else if (selectorOnly(side)) {
        // Nothing but the selector: a class its label class matches is in (the selector index
        // says which), and only classes inside a network set can match otherwise (by its labels).
        for (const i of this.labelMatched(view, side.selector)) if (hasBit(cover, i)) setBit(bits, i);
        for (const i of this.viaSets(view, family)) if (!hasBit(bits, i)) test(i);
      } else {
        for (const i of this.labelMatched(view, side.selector)) test(i);
        for (const i of this.viaSets(view, family)) if (!hasBit(bits, i)) test(i);
      }
      for (let i = this.classCount; i < this.space.atoms.length; i++) test(i);
      b = this.alg.isEmpty(bits) ? this.alg.none : bits;
      bySide.set(key, b);
    }
    void mask;
    return b;
  }

  private readonly byLabelKey = new Map<number, Map<string, number[]>>();
  private readonly viaSetsCache = new Map<string, readonly number[]>();
  private readonly matchedCache = new Map<string, readonly number[]>();

  /**
   * The classes whose labels a selector matches: the label classes the cluster's selector index
   * says it matches (`selectorClasses`, kept up by the store for every selector a policy uses),
   * as classes of this space. A selector also matches the classes inside a network set whose
   * labels it matches (`viaSets` are the candidates for that).
   */
  private labelMatched(view: number, sel: Selector): readonly number[] {
    const key = `${this.world[view]}|${sel.canonical}`;
    let out = this.matchedCache.get(key);
    if (out !== undefined) return out;
    let index = this.byLabelKey.get(this.world[view]!);
    if (index === undefined) {
      index = new Map();
      for (let c = 0; c < this.classCount; c++) {
        const k = this.rep(view, c).labelKey;
        const list = index.get(k);
        if (list === undefined) index.set(k, [c]);
        else list.push(c);
      }
      this.byLabelKey.set(this.world[view]!, index);
    }
    const list: number[] = [];
    for (const labelKey of this.views[view]!.cluster.selectorClasses(sel)) for (const c of index.get(labelKey) ?? []) list.push(c);
    this.matchedCache.set(key, list);
    return list;
  }

  private viaSets(view: number, family: 4 | 6): readonly number[] {
    const key = `${this.world[view]}|${family}`;
    let out = this.viaSetsCache.get(key);
    if (out === undefined) {
      const cluster = this.views[view]!.cluster;
      // Remembered per network-set list (the same object while no set changes) and endpoint.
      let known = inNetworkSets.get(cluster.networkSets);
      if (known === undefined) inNetworkSets.set(cluster.networkSets, (known = new WeakMap()));
      const bit = family === 4 ? 1 : 2;
      const list: number[] = [];
      for (let c = 0; c < this.classCount; c++) {
        const rep = this.rep(view, c);
        let held = known.get(rep);
        if (held === undefined || (held & (bit << 2)) === 0) {
          const a = pickAddress(rep, family);
          const inside = a !== undefined && cluster.networkSetsContaining(a).length > 0;
          known.set(rep, (held = (held ?? 0) | (bit << 2) | (inside ? bit : 0)));
        }
        if ((held & bit) !== 0) list.push(c);
      }
      this.viaSetsCache.set(key, (out = list));
    }
    return out;
  }

  private readonly covers = new Map<string, Bitset>();
  private familyCover(view: number, family: 4 | 6): Bitset {
    const key = `${view}|${family}`;
    let c = this.covers.get(key);
    if (c === undefined) {
      let acc = this.alg.none;
      const seen = new Set<number>();
      for (let cls = 0; cls < this.classCount; cls++) {
        const sig = this.sig(view, cls);
        if (seen.has(sig)) continue;
        seen.add(sig);
        acc = this.alg.or(acc, this.alg.or(this.mask(view, 'egress', cls, family), this.mask(view, 'ingress', cls, family)));
      }
      c = acc;
      this.covers.set(key, c);
    }
    return c;
  }

  /** Whether the service atom exists in the family (ICMP atoms are per family). */
  static serviceIn(s: ServiceAtom, family: 4 | 6): boolean {
    const f = serviceFamily(s);
    return f === undefined || f === family;
  }

  /**
   * The peer atoms the view's `dir` at class `cls` allows, for one service atom and family: one
   * pipeline run with a bitset over the peers, cached by (world, tier plan).
   */
  allowedAt(view: number, dir: Direction, cls: number, service: number, family: 4 | 6): Bitset {
    const mask = this.mask(view, dir, cls, family);
    if (mask === this.alg.none) return this.alg.none;
    const key = this.runKey(view, dir, cls, service, family);
    let out = this.runs.get(key);
    if (out !== undefined) return out;
    const v = this.views[view]!;
    const self = this.peer(view, cls, family);
    const s = this.space.services[service]!;
    const port = s.kind === 'ports' ? s.range.min : undefined;
    const header: Flow = {
      src: self,
      dst: self,
      protocol: s.protocol,
      port,
      srcPort: undefined,
      icmp: s.kind === 'icmp' ? { type: s.type, code: s.code } : undefined,
      ipVersion: family,
    };
    const none = this.alg.none;
    // The class's own side of a rule is tested once per (view, class, family) — not once per service
    // atom — where the service cannot change the answer (egress sources: no port; ingress
    // destinations without port criteria).
    const ownKey = `${view}|${dir}|${cls}|${family}`;
    let own = this.ownSides.get(ownKey);
    if (own === undefined) this.ownSides.set(ownKey, (own = new Map()));
    const ownCache = own;
    const match =
      dir === 'egress'
        ? (_p: Policy | undefined, rule: Rule): Bitset => {
            if (!headerMatches(rule, header)) return none;
            let ok = ownCache.get(rule.source);
            if (ok === undefined) ownCache.set(rule.source, (ok = sideMatches(v.cluster, rule.source, self, undefined, header, false, false)));
            if (!ok) return none;
            return this.sideBits(view, rule.destination, 'destination', rule.action === 'allow', service, family, mask);
          }
        : (_p: Policy | undefined, rule: Rule): Bitset => {
            if (!headerMatches(rule, header)) return none;
            const side = rule.destination;
            let ok: boolean | undefined;
            if (portDependent(side) || side.domains !== undefined) ok = sideMatches(v.cluster, side, self, port, header, true, rule.action === 'allow');
            else {
              ok = ownCache.get(side);
              if (ok === undefined) ownCache.set(side, (ok = sideMatches(v.cluster, side, self, port, header, true, rule.action === 'allow')));
            }
            if (!ok) return none;
            return this.sideBits(view, rule.source, 'source', false, service, family, mask);
          };
    const ep = this.rep(view, cls);
    const plan: readonly TierPlan[] = v.cluster.plan(ep, dir);
    this.runCount++;
    const deciders = this.withDeciders ? new Int32Array(this.space.atoms.length).fill(-1) : undefined;
    const observer = deciders === undefined ? undefined : decidersObserver(deciders, dir, this.fp);
    out = runPipeline(this.alg, mask, plan, ep.profiles, dir, match, v.mode, observer).allowed;
    this.runs.set(key, out);
    if (deciders !== undefined) this.deciders.set(key, deciders);
    return out;
  }

  /**
   * Per peer atom, an id of the step that decided the run of `allowedAt` (rule, end of tier,
   * profile, default drop), -1 outside the run's mask. Only with `withDeciders`.
   */
  decidersAt(view: number, dir: Direction, cls: number, service: number, family: 4 | 6): Int32Array | undefined {
    this.allowedAt(view, dir, cls, service, family);
    return this.deciders.get(this.runKey(view, dir, cls, service, family));
  }

  /** A run's cache key: plan ids already include the world and the direction's policies. */
  private runKey(view: number, dir: Direction, cls: number, service: number, family: 4 | 6): number {
    return ((this.planId(view, dir, cls) * this.classCount + cls) * this.space.services.length + service) * 2 + (family === 6 ? 1 : 0);
  }

  /** Allowed, denied, or undefined when the triple is not a flow (external to external, wrong ICMP family). */
  verdict(view: number, src: number, dst: number, service: number): boolean | undefined {
    const family = this.family(view, src, dst);
    if (family === undefined) return undefined;
    if (!SpaceEvaluator.serviceIn(this.space.services[service]!, family)) return undefined;
    const s = this.space.atoms[src]!;
    const d = this.space.atoms[dst]!;
    if (s.kind === 'class' && !hasBit(this.allowedAt(view, 'egress', s.index, service, family), dst)) return false;
    if (d.kind === 'class' && !hasBit(this.allowedAt(view, 'ingress', d.index, service, family), src)) return false;
    return true;
  }

  /** Set bits of a bitset, ascending. */
  static bits(b: Bitset): number[] {
    const out: number[] = [];
    for (let w = 0; w < b.length; w++) {
      let x = b[w]!;
      while (x !== 0) {
        const low = x & -x;
        out.push(w * 32 + 31 - Math.clz32(low));
        x ^= low;
      }
    }
    return out;
  }

  xor(a: Bitset, b: Bitset): Bitset {
    if (a === b) return this.alg.none;
    const out = this.alg.make();
    let any = 0;
    for (let i = 0; i < out.length; i++) any |= out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
    return any === 0 ? this.alg.none : out;
  }
}
