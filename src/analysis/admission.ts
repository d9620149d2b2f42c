// Invariant admission by what a write changes: the ConnectivityInvariants a change newly breaks,
// decided as `invariantBreaksOfDiff` + `verifyInvariants(…, {involving})` decide them on the
// change's exhaustive diff, but without diffing the whole world (strata server checks every write).
//
// A flow's verdict is egress at its source and ingress at its destination. Between two states a
// run of the pipeline at a class (one direction, one service atom) can only change where
//   - the class's own tier plan changed, or the class's own endpoint changed (labels, addresses,
//     ports, profiles: what its own rule sides match), or
//   - its plan holds a rule whose peer side tells a changed endpoint's two versions apart (a
//     selector or notSelector matching one version's labels and not the other's, nets with its
//     addresses changed, named ports with its ports changed, a Service match).
// Every other run is the same pipeline over the same peers, bit for bit. So the changed flows are
// found from the runs of those *affected* classes alone (before xor after), each candidate then
// decided in both states — the same candidate step `diff` takes after comparing every class's
// plan — and only candidates some invariant covers (its ends, ports and protocols) are decided.
// The store's change report names the endpoints set, removed and re-planned (engine-state.ts
// passes it); everything else the write did not touch is the same object in both snapshots.
//
// Only changes of policies and endpoints are judged here: a write of a namespace, service account,
// Service, network set, tier or profile changes what rules match for endpoints it does not name,
// and takes the exhaustive diff (`admissionScope` says which). Endpoints only in the after-state,
// and endpoints a relabel moves into an invariant's ends, are checked in full on the after-state,
// as `verifyInvariants(after, …, {involving})` checks them. Profiles carry no peer criteria in
// Strata (engine/derive.ts: a namespace's profile allows all, a service account's has no rules),
// so no profile rule observes a peer.
import type { ChangeReport, Cluster, Direction, Endpoint, EntityMatch, Policy, Profile, Rule } from '../engine/index.ts';
import { evaluateFlow, PROTOCOL } from '../engine/index.ts';
import { composeEntitySelector } from '../engine/algebra.ts';
import { formatIp, parseCidrLenient } from '../net/index.ts';
import type { Cidr } from '../net/index.ts';
import type { Selector } from '../selector/index.ts';
import type { PortInterval } from './atoms.ts';
import { hasBit } from './bitset.ts';
import { jsonDecidedBy } from './explain.ts';
import { assembleFlowSpace, buildFlowSpace, cidrKey, ClassifyCache, cuttingRules, enforcedView, KeyTable, serviceDetail, serviceProtocol, SpaceEvaluator, universeOf } from './flow-space.ts';
import type { EndpointClass, FlowSpace, ServiceAtom } from './flow-space.ts';
import { cidrRange, DEFAULT_PROTOCOLS, names, netsOf, PROTOCOL_NUMBER, portRanges } from './invariants.ts';
import type { InvariantResource, Violation } from './invariants.ts';

/**
 * The live store's endpoint classification, kept up across writes: each endpoint's key number, the
 * groups of equal keys (the classes of one state), the rules that cut the space by policy, the
 * container ports. Moved on by every change report of the live store (`note`) and brought to a
 * snapshot of it (`sync`) by the endpoints and policies those reports name, so the space of one
 * write's two states costs that write's delta and a walk over the classes — not a classification
 * of every endpoint. Rebuilt from the snapshot when the CIDR universe moves (a write bringing a
 * new CIDR), or when too much changed at once.
 */
export class LiveClasses {
  private table: KeyTable | undefined;
  private universeKey = '';
  private universe: Cidr[] = [];
  private readonly endpoints = new Map<string, { ep: Endpoint; key: number }>();
  private readonly groups = new Map<number, { ids: Set<string>; cls: EndpointClass | undefined }>();
  private readonly policyRules = new Map<string, readonly Rule[]>();
  private readonly profiles = new Map<Profile, number>();
  private readonly ports = new Map<number, Map<number, number>>();
  private described: Cluster | undefined;
  /** The rules of `rules()` while no policy or profile changes, and the network sets the universe was made with. */
  private ruleList: Rule[] | undefined;
  private universeKeys = new Set<string>();
  private networkSets: readonly unknown[] | undefined;
  private pendingEndpoints = new Set<string>();
  private pendingPolicies = new Set<string>();
  private stale = true;
  /** Rebuilds (for benchmarks). */
  rebuilds = 0;

  /** A committed change of the live store (every one, also those taken back). */
  note(report: ChangeReport): void {
    if (this.stale) return;
    for (const id of [...report.endpoints.added, ...report.endpoints.removed, ...report.endpoints.updated]) this.pendingEndpoints.add(id);
    for (const k of report.policies) this.pendingPolicies.add(k);
    if (this.pendingEndpoints.size + this.pendingPolicies.size > 4096) this.stale = true;
  }

  private rebuild(c: Cluster): void {
    this.rebuilds++;
    this.endpoints.clear();
    this.groups.clear();
    this.policyRules.clear();
    this.profiles.clear();
    this.ports.clear();
    for (const p of c.policies) this.policyRules.set(p.key, cuttingRules(p));
    for (const e of c.endpoints) for (const pr of e.profiles) this.profiles.set(pr, (this.profiles.get(pr) ?? 0) + 1);
    this.ruleList = undefined;
    this.setUniverse(c);
    this.table = new KeyTable(this.universe);
    for (const e of c.endpoints) this.addEndpoint(e, false);
    this.pendingEndpoints.clear();
    this.pendingPolicies.clear();
    this.stale = false;
    this.described = c;
  }

  private addEndpoint(e: Endpoint, profiles = true): void {
    const key = this.table!.id(e);
    this.endpoints.set(e.id, { ep: e, key });
    let g = this.groups.get(key);
    if (g === undefined) this.groups.set(key, (g = { ids: new Set(), cls: undefined }));
    g.ids.add(e.id);
    g.cls = undefined;
    if (profiles) {
      for (const pr of e.profiles) {
        const n = this.profiles.get(pr) ?? 0;
        if (n === 0) this.ruleList = undefined;
        this.profiles.set(pr, n + 1);
      }
    }
    for (const p of e.ports) {
      let m = this.ports.get(p.protocol);
      if (m === undefined) this.ports.set(p.protocol, (m = new Map()));
      m.set(p.port, (m.get(p.port) ?? 0) + 1);
    }
  }

  private removeEndpoint(id: string): void {
    const had = this.endpoints.get(id);
    if (had === undefined) return;
    this.endpoints.delete(id);
    const g = this.groups.get(had.key)!;
    g.ids.delete(id);
    g.cls = undefined;
    if (g.ids.size === 0) this.groups.delete(had.key);
    for (const pr of had.ep.profiles) {
      const n = (this.profiles.get(pr) ?? 0) - 1;
      if (n <= 0) {
        this.profiles.delete(pr);
        this.ruleList = undefined;
      } else this.profiles.set(pr, n);
    }
    for (const p of had.ep.ports) {
      const m = this.ports.get(p.protocol)!;
      const n = (m.get(p.port) ?? 0) - 1;
      if (n <= 0) m.delete(p.port);
      else m.set(p.port, n);
    }
  }

  private setUniverse(c: Cluster): void {
    this.universe = canonical(universeOf([c], this.rules()));
    this.universeKey = this.universe.map(cidrKey).join(',');
    this.universeKeys = new Set(this.universe.map(cidrKey));
    this.networkSets = c.networkSets;
  }

  private rules(): readonly Rule[] {
    if (this.ruleList === undefined) {
      const out: Rule[] = [];
      for (const rs of this.policyRules.values()) out.push(...rs);
      for (const pr of this.profiles.keys()) out.push(...cuttingRules(pr));
      this.ruleList = out;
    }
    return this.ruleList;
  }

  /** Brings the classification to `c`, a snapshot of the live store. */
  sync(c: Cluster): void {
    if (this.described === c) return;
    if (this.stale || this.table === undefined) return this.rebuild(c);
    for (const k of this.pendingPolicies) {
      const p = c.policy(k);
      const rules = p === undefined ? undefined : cuttingRules(p);
      if (rules === this.policyRules.get(k)) continue;
      this.ruleList = undefined;
      if (rules === undefined) this.policyRules.delete(k);
      else this.policyRules.set(k, rules);
    }
    for (const id of this.pendingEndpoints) {
      const now = c.endpoint(id);
      if (this.endpoints.get(id)?.ep === now) continue;
      this.removeEndpoint(id);
      if (now !== undefined) this.addEndpoint(now);
    }
    this.pendingEndpoints.clear();
    this.pendingPolicies.clear();
    if (this.ruleList === undefined || c.networkSets !== this.networkSets) {
      const key = this.universeKey;
      this.setUniverse(c);
      if (this.universeKey !== key) return this.rebuild(c);
    }
    this.described = c;
  }

  /**
   * The flow space of `before` (the live snapshot) and `after` (it with a batch applied) from the
   * kept classification: every class the batch left alone as it is, the endpoints it replaced
   * in classes of their own (by key before and after), added and removed ones unmatched. The same
   * space `buildFlowSpace([before, after])` makes, but for the split of replaced endpoints whose
   * key did not change (a finer partition decides every flow alike). Undefined when the batch
   * moves the CIDR universe.
   */
  space(
    before: Cluster,
    after: Cluster,
    endpoints: ReadonlySet<string>,
    policies: Iterable<string>,
  ): { space: FlowSpace; classOf: (id: string) => number | undefined; reps: readonly (readonly Endpoint[])[] } | undefined {
    this.sync(before);
    const table = this.table!;
    const extra: Rule[] = [];
    const extraProfiles = new Set<Profile>();
    for (const k of policies) {
      const p = after.policy(k);
      if (p !== undefined && p !== before.policy(k)) extra.push(...cuttingRules(p));
    }
    const moved = new Set<string>();
    const replaced: Endpoint[] = [];
    const added: string[] = [];
    const removed: string[] = [];
    for (const id of endpoints) {
      const b = before.endpoint(id);
      const a = after.endpoint(id);
      if (b === a) continue;
      if (a !== undefined) for (const pr of a.profiles) if (!this.profiles.has(pr)) extraProfiles.add(pr);
      if (b === undefined) {
        if (a !== undefined) added.push(id);
        continue;
      }
      moved.add(id);
      if (a === undefined) removed.push(id);
      else replaced.push(a);
    }
    for (const pr of extraProfiles) extra.push(...cuttingRules(pr));
    // The after-state's CIDRs must be the live ones (the endpoint keys are made over them).
    if (after.networkSets !== before.networkSets) return undefined;
    if (universeOf([], extra).some((c) => !this.universeKeys.has(cidrKey(c)))) return undefined;
    const rules = extra.length === 0 ? this.rules() : [...this.rules(), ...extra];
    const universe = this.universe;

    const classes: EndpointClass[] = [];
    const repsBefore: Endpoint[] = [];
    const repsAfter: Endpoint[] = [];
    const groupIndex = new Map<number, number>();
    for (const [key, g] of this.groups) {
      if (g.cls === undefined) g.cls = { members: [...g.ids] };
      let cls = g.cls;
      if (moved.size > 0 && cls.members.some((m) => moved.has(m))) {
        const members = cls.members.filter((m) => !moved.has(m));
        if (members.length === 0) continue;
        cls = { members };
      }
      groupIndex.set(key, classes.length);
      classes.push(cls);
      const rep = this.endpoints.get(cls.members[0]!)!.ep; // unchanged: the same object in both states
      repsBefore.push(rep);
      repsAfter.push(rep);
    }
    const split = new Map<string, string[]>();
    for (const a of replaced) {
      const key = `${this.endpoints.get(a.id)!.key},${table.id(a)}`;
      const list = split.get(key);
      if (list === undefined) split.set(key, [a.id]);
      else list.push(a.id);
    }
    const splitIndex = new Map<string, number>();
    for (const members of split.values()) {
      for (const m of members) splitIndex.set(m, classes.length);
      classes.push({ members });
      repsBefore.push(this.endpoints.get(members[0]!)!.ep);
      repsAfter.push(after.endpoint(members[0]!)!);
    }
    const classOf = (id: string): number | undefined => {
      const s = splitIndex.get(id);
      if (s !== undefined || moved.has(id)) return s;
      const e = this.endpoints.get(id);
      return e === undefined ? undefined : groupIndex.get(e.key);
    };

    const containerPorts = new Map<number, Set<number>>();
    for (const [protocol, m] of this.ports) containerPorts.set(protocol, new Set(m.keys()));
    for (const e of [...replaced, ...added.map((id) => after.endpoint(id)!)]) {
      for (const p of e.ports) {
        let set = containerPorts.get(p.protocol);
        if (set === undefined) containerPorts.set(p.protocol, (set = new Set()));
        set.add(p.port);
      }
    }
    return { space: assembleFlowSpace([before, after], rules, universe, { classes, unmatched: [removed.sort(), added.sort()] }, containerPorts), classOf, reps: [repsBefore, repsAfter] };
  }
}

/** CIDRs in one order whatever order the rules gave them in. */
function canonical(universe: readonly Cidr[]): Cidr[] {
  return universe
    .map((c) => ({ c, k: cidrKey(c) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((x) => x.c);
}

/**
 * What a server keeps between writes: the live classification (`LiveClasses`), endpoint keys by
 * object for the spaces made from scratch, and which label classes each invariant end covers.
 * Bounded by the live endpoints and label classes.
 */
export class AdmissionCache {
  readonly live = new LiveClasses();
  readonly classify = new ClassifyCache();
  /** Invariant end (its selectors' text) → label key → covered. */
  private readonly ends = new Map<string, Map<string, boolean>>();
  private endEntries = 0;

  covers(endKey: string, sel: Selector | undefined, ep: Endpoint): boolean {
    if (sel === undefined) return true;
    let m = this.ends.get(endKey);
    if (m === undefined) this.ends.set(endKey, (m = new Map()));
    let hit = m.get(ep.labelKey);
    if (hit === undefined) {
      if (this.endEntries > 2_000_000) {
        // Label classes come and go; start over rather than grow without bound.
        this.ends.clear();
        this.endEntries = 0;
        this.ends.set(endKey, (m = new Map()));
      }
      m.set(ep.labelKey, (hit = sel.matches(ep.labels)));
      this.endEntries++;
    }
    return hit;
  }
}

/** What the store's change report says a batch touched. */
export interface ChangeDelta {
  /** Endpoint ids set, removed, or whose tier plans may have changed. */
  readonly endpoints: Iterable<string>;
  /** Policy keys set or removed. */
  readonly policies: Iterable<string>;
  /**
   * Whether `before` is a snapshot of the live store `cache.live` follows (engine-state.ts): then
   * the space is made from the kept classification; otherwise from scratch.
   */
  readonly live?: boolean;
}

type End = InvariantResource['body']['spec']['from'];

/** An invariant end, prepared: endpoints by selector, or external addresses by ranges. */
interface PreparedEnd {
  readonly key: string;
  readonly nets: readonly { family: 4 | 6; start: bigint; end: bigint }[] | undefined;
  readonly selector: Selector | undefined;
}

function prepareEnd(end: End): PreparedEnd {
  if (end.nets !== undefined) {
    const nets = end.nets.flatMap((t) => {
      const c = parseCidrLenient(t);
      return c.ok ? [{ family: c.value.family, ...cidrRange(c.value) }] : [];
    });
    return { key: '', nets, selector: undefined };
  }
  const selector = composeEntitySelector(
    { selector: end.selector ?? '', notSelector: '', namespaceSelector: end.namespaceSelector ?? '', serviceAccountNames: [], serviceAccountSelector: '' },
    undefined,
  );
  return { key: `${end.namespaceSelector ?? ''}\u0001${end.selector ?? ''}`, nets: undefined, selector };
}

interface Prepared {
  readonly inv: InvariantResource;
  readonly from: PreparedEnd;
  readonly to: PreparedEnd;
  readonly protocols: ReadonlySet<string>;
  readonly ranges: readonly PortInterval[];
  readonly bad: boolean; // the verdict that breaks it: allowed (must deny) or denied (must allow)
}

const preparedOf = new WeakMap<InvariantResource, Prepared>();
/** Once per (immutable) invariant resource: its selectors parsed and composed. */
function prepare(inv: InvariantResource): Prepared {
  let p = preparedOf.get(inv);
  if (p === undefined) {
    const spec = inv.body.spec;
    p = { inv, from: prepareEnd(spec.from), to: prepareEnd(spec.to), protocols: new Set(spec.protocols ?? DEFAULT_PROTOCOLS), ranges: portRanges(inv), bad: spec.must === 'deny' };
    preparedOf.set(inv, p);
  }
  return p;
}

/** The part of a service atom an invariant covers (the overlap starting lowest), or undefined. */
function coveredService(p: Prepared, svc: ServiceAtom): { range: PortInterval | undefined } | undefined {
  if (svc.kind === 'ports') {
    const name = Object.entries(PROTOCOL_NUMBER).find(([, n]) => n === svc.protocol)?.[0];
    if (name === undefined || !p.protocols.has(name)) return undefined;
    let best: PortInterval | undefined;
    for (const r of p.ranges) {
      const min = Math.max(r.min, svc.range.min);
      const max = Math.min(r.max, svc.range.max);
      if (min <= max && (best === undefined || min < best.min)) best = { min, max };
    }
    return best === undefined ? undefined : { range: best };
  }
  return svc.kind === 'icmp' && p.protocols.has('ICMP') ? { range: undefined } : undefined;
}

/** Whether an end covers an atom of a space (endpoints judged on the view's version of them). */
function coversAtom(cache: AdmissionCache, ev: SpaceEvaluator, view: number, end: PreparedEnd, atom: number): boolean {
  const a = ev.space.atoms[atom]!;
  if (end.nets !== undefined) {
    if (a.kind !== 'block') return false;
    return end.nets.some((r) => r.family === a.block.family && r.start <= a.block.end && a.block.start <= r.end);
  }
  if (a.kind !== 'class') return false;
  return cache.covers(end.key, end.selector, ev.rep(view, a.index));
}

function sameAddresses(a: Endpoint, b: Endpoint): boolean {
  return a.addresses.length === b.addresses.length && a.addresses.every((x, i) => formatIp(x) === formatIp(b.addresses[i]!));
}

function samePorts(a: Endpoint, b: Endpoint): boolean {
  return a.ports.length === b.ports.length && a.ports.every((x, i) => x.name === b.ports[i]!.name && x.port === b.ports[i]!.port && x.protocol === b.ports[i]!.protocol);
}

/** Whether a rule's peer side can tell an endpoint's two versions apart. */
function observes(side: EntityMatch, b: Endpoint, a: Endpoint): boolean {
  if (side.service !== undefined) return true;
  const addresses = !sameAddresses(a, b);
  if ((side.nets !== undefined || side.notNets !== undefined) && addresses) return true;
  for (const sel of [side.selector, side.notSelector]) {
    if (sel === undefined) continue;
    // A selector also matches an endpoint through the network sets holding its address.
    if (addresses || sel.matches(a.labels) !== sel.matches(b.labels)) return true;
  }
  const named = (side.ports?.named.length ?? 0) + (side.notPorts?.named.length ?? 0) > 0;
  return named && (!samePorts(a, b) || side.selector === undefined || side.selector.matches(a.labels) !== side.selector.matches(b.labels));
}

/**
 * Why a batch is judged by the exhaustive diff instead (undefined: it can be judged here): it
 * changes what rules match for endpoints it does not name.
 */
export function admissionScope(types: readonly string[], isPolicyType: (t: string) => boolean, isEndpointType: (t: string) => boolean): string | undefined {
  const other = types.find((t) => t !== 'ConnectivityInvariant' && !isPolicyType(t) && !isEndpointType(t));
  return other === undefined ? undefined : `a ${other} changes what rules match for endpoints the write does not name`;
}

interface Found {
  count: number;
  first: { s: number; d: number; q: number; range: PortInterval | undefined; verdict: boolean; view: number; space: FlowSpace; ev: SpaceEvaluator; cluster: Cluster } | undefined;
}

function violationOf(p: Prepared, f: Found, prefer: ReadonlySet<string> | undefined): Violation {
  const { s, d, q, range, verdict, view, space, ev, cluster } = f.first!;
  const svc = space.services[q]!;
  const family = ev.family(view, s, d)!;
  const flow = ev.flow(view, s, d, q, family);
  const decision = evaluateFlow(cluster, flow);
  const from = names(space, s, undefined, prefer);
  const detail = range === undefined ? serviceDetail(svc) : range.min === range.max ? String(range.min) : `${range.min}-${range.max}`;
  return {
    invariant: p.inv.name,
    must: p.inv.body.spec.must,
    span: p.inv.origin.spanOf(['spec', 'must']),
    count: f.count,
    example: {
      from,
      to: s === d ? names(space, d, from, prefer) : names(space, d, undefined, prefer),
      port: range?.min ?? null,
      ports: svc.kind === 'ports' ? detail : null,
      protocol: serviceProtocol(svc),
      ...(svc.kind === 'icmp' && detail !== null ? { icmp: detail } : {}),
      verdict: verdict ? 'allow' : 'deny',
      decidedBy: jsonDecidedBy(cluster, decision.decidedBy, true),
    },
  };
}

function lookup(m: ReadonlyMap<string, number>): (id: string) => number | undefined {
  return (id) => m.get(id);
}

/** Index of each endpoint id in a space's classes. */
function classIndex(space: FlowSpace): Map<string, number> {
  const out = new Map<string, number>();
  space.classes.forEach((c, i) => {
    for (const m of c.members) out.set(m, i);
  });
  return out;
}

export interface AdmissionResult {
  readonly violations: Violation[];
  /** Endpoints checked in full on the after-state (added, or moved into an invariant's ends). */
  readonly involving: ReadonlySet<string>;
  /** How the space was made (`kept`: from the live classification), and the work done on it. */
  readonly stats: { readonly space: 'kept' | 'built' | 'none'; readonly affected: number; readonly candidates: number; readonly runs: number };
}

/**
 * The kept invariants (unchanged by the batch) a change of policies and endpoints newly breaks:
 * a flow it opens that a `must: deny` covers or closes that a `must: allow` covers, and any
 * forbidden flow of an endpoint it adds or moves into an invariant's ends.
 */
export function invariantBreaksOfChange(before: Cluster, after: Cluster, delta: ChangeDelta, invariants: readonly InvariantResource[], cache: AdmissionCache = new AdmissionCache()): AdmissionResult {
  if (invariants.length === 0) return { violations: [], involving: new Set(), stats: { space: 'none', affected: 0, candidates: 0, runs: 0 } };
  const ids = new Set(delta.endpoints);
  if (ids.size === 0) return { violations: [], involving: new Set(), stats: { space: 'none', affected: 0, candidates: 0, runs: 0 } }; // no endpoint's flows changed
  const prepared = invariants.map(prepare);
  const replaced: { id: string; b: Endpoint; a: Endpoint }[] = [];
  const added: string[] = [];
  for (const id of ids) {
    const b = before.endpoint(id);
    const a = after.endpoint(id);
    if (b !== undefined && a !== undefined && b !== a) replaced.push({ id, b, a });
    else if (b === undefined && a !== undefined) added.push(id);
  }

  // ---- the flows the change alters among the endpoints of both states
  const kept = delta.live === true ? cache.live.space(before, after, ids, delta.policies) : undefined;
  const space = kept?.space ?? buildFlowSpace([before, after], {}, cache.classify);
  const ev = new SpaceEvaluator(space, [enforcedView(before), enforcedView(after)], { worlds: [0, replaced.length === 0 ? 0 : 1], ...(kept === undefined ? {} : { reps: kept.reps }) });
  const where = kept?.classOf ?? lookup(classIndex(space));
  const affected: Record<Direction, Set<number>> = { egress: new Set(), ingress: new Set() };
  for (const id of ids) {
    const c = where(id);
    if (c === undefined) continue;
    affected.egress.add(c);
    affected.ingress.add(c);
  }
  if (replaced.length > 0) {
    const observers = new Map<Policy, Set<Direction>>();
    const look = (p: Policy): void => {
      if (observers.has(p)) return;
      const dirs = new Set<Direction>();
      for (const { b, a } of replaced) {
        if (!dirs.has('egress') && p.egress.some((r) => observes(r.destination, b, a))) dirs.add('egress');
        if (!dirs.has('ingress') && p.ingress.some((r) => observes(r.source, b, a))) dirs.add('ingress');
      }
      observers.set(p, dirs);
    };
    for (const p of before.policies) look(p);
    for (const p of after.policies) look(p);
    for (const [p, dirs] of observers) {
      if (dirs.size === 0) continue;
      for (const cluster of [before, after]) {
        for (const ep of cluster.selectorMembers(p.selector).endpoints) {
          const c = where(ep.id);
          if (c !== undefined) for (const dir of dirs) affected[dir].add(c);
        }
      }
    }
  }

  const coverFrom = (p: Prepared, atom: number): boolean => coversAtom(cache, ev, 1, p.from, atom);
  const coverTo = (p: Prepared, atom: number): boolean => coversAtom(cache, ev, 1, p.to, atom);
  const serviceCover = prepared.map((p) => space.services.map((svc) => coveredService(p, svc)));
  const found = new Map<Prepared, Found>();
  const seen = new Set<string>();
  const decide = (s: number, d: number, q: number): void => {
    const key = `${s},${d},${q}`;
    if (seen.has(key)) return;
    seen.add(key);
    const sa = space.atoms[s]!;
    if (s === d && sa.kind === 'class' && space.classes[sa.index]!.members.length < 2) return; // loopback
    const b = ev.verdict(0, s, d, q);
    const a = ev.verdict(1, s, d, q);
    if (a === undefined || b === undefined || a === b) return;
    prepared.forEach((p, i) => {
      if (a !== p.bad) return;
      const cov = serviceCover[i]![q];
      if (cov === undefined || !coverFrom(p, s) || !coverTo(p, d)) return;
      let f = found.get(p);
      if (f === undefined) found.set(p, (f = { count: 0, first: undefined }));
      f.count++;
      f.first ??= { s, d, q, range: cov.range, verdict: a, view: 1, space, ev, cluster: after };
    });
  };
  for (const dir of ['egress', 'ingress'] as const) {
    for (const cls of affected[dir]) {
      // Only invariants with this class at the end it runs for, and only their services.
      const at = prepared.flatMap((p, i) => ((dir === 'egress' ? coverFrom(p, cls) : coverTo(p, cls)) ? [i] : []));
      if (at.length === 0) continue;
      for (let q = 0; q < space.services.length; q++) {
        const svc = space.services[q]!;
        const mine = at.filter((i) => serviceCover[i]![q] !== undefined);
        if (mine.length === 0) continue;
        for (const family of [4, 6] as const) {
          if (!SpaceEvaluator.serviceIn(svc, family)) continue;
          const changed = ev.xor(ev.allowedAt(0, dir, cls, q, family), ev.allowedAt(1, dir, cls, q, family));
          for (const peer of SpaceEvaluator.bits(changed)) {
            if (!mine.some((i) => (dir === 'egress' ? coverTo(prepared[i]!, peer) : coverFrom(prepared[i]!, peer)))) continue;
            if (dir === 'egress') decide(cls, peer, q);
            else decide(peer, cls, q);
          }
        }
      }
    }
  }
  const stats = { space: kept === undefined ? ('built' as const) : ('kept' as const), affected: affected.egress.size + affected.ingress.size, candidates: seen.size, runs: ev.runCount };

  // ---- endpoints checked in full: added ones, and those a relabel moves into an invariant's ends
  const involving = new Set<string>(added);
  for (const { id, b, a } of replaced) {
    const into = prepared.some((p) => [p.from, p.to].some((e) => e.selector !== undefined && e.selector.matches(a.labels) && !e.selector.matches(b.labels)));
    if (into) involving.add(id);
  }
  const rest = prepared.filter((p) => !found.has(p));
  const extra = involving.size > 0 && rest.length > 0 ? verifyInvolving(after, rest, involving, cache) : new Map<Prepared, Found>();
  const violations: Violation[] = [];
  for (const p of prepared) {
    const f = found.get(p);
    if (f !== undefined) violations.push(violationOf(p, f, undefined));
    else {
      const g = extra.get(p);
      if (g !== undefined) violations.push(violationOf(p, g, involving));
    }
  }
  return { violations, involving, stats };
}

/**
 * `verifyInvariants(after, invariants, {involving})`, from the involved endpoints' side: only
 * their classes are walked, and the involved end of each flow is decided first (a must-deny
 * whose involved end denies needs no run at the other end).
 */
function verifyInvolving(cluster: Cluster, prepared: readonly Prepared[], involving: ReadonlySet<string>, cache: AdmissionCache): Map<Prepared, Found> {
  const invs = prepared.map((p) => p.inv);
  const space = buildFlowSpace(
    [cluster],
    {
      cidrs: invs.flatMap(netsOf),
      ports: invs.flatMap((inv) => [PROTOCOL.TCP, PROTOCOL.UDP, PROTOCOL.SCTP].flatMap((protocol) => portRanges(inv).map((range) => ({ protocol, range })))),
    },
    cache.classify,
  );
  const ev = new SpaceEvaluator(space, [enforcedView(cluster)], { worlds: [0] });
  const where = classIndex(space);
  const involved = [...new Set([...involving].flatMap((id) => (where.has(id) ? [where.get(id)!] : [])))];
  const out = new Map<Prepared, Found>();
  const allowed = (dir: Direction, cls: number, peer: number, q: number, family: 4 | 6): boolean => hasBit(ev.allowedAt(0, dir, cls, q, family), peer);
  /** The verdict of (s, d, q), deciding the `first` end's direction first. */
  const verdict = (s: number, d: number, q: number, first: 'src' | 'dst'): boolean | undefined => {
    const family = ev.family(0, s, d);
    if (family === undefined || !SpaceEvaluator.serviceIn(space.services[q]!, family)) return undefined;
    const sa = space.atoms[s]!;
    const da = space.atoms[d]!;
    const eg = (): boolean => sa.kind !== 'class' || allowed('egress', sa.index, d, q, family);
    const ing = (): boolean => da.kind !== 'class' || allowed('ingress', da.index, s, q, family);
    return first === 'src' ? eg() && ing() : ing() && eg();
  };
  for (const p of prepared) {
    // Services by containment: the space is cut at the invariant's ports (as verifyInvariants).
    const services = space.services.flatMap((svc, q) => {
      const cov = coveredService(p, svc);
      if (cov === undefined) return [];
      if (svc.kind === 'ports' && !p.ranges.some((r) => svc.range.min >= r.min && svc.range.max <= r.max)) return [];
      return [q];
    });
    if (services.length === 0) continue;
    const inEnd = (end: PreparedEnd, atom: number): boolean => {
      const a = space.atoms[atom]!;
      if (end.nets !== undefined) return a.kind === 'block' && end.nets.some((r) => r.family === a.block.family && r.start <= a.block.start && a.block.end <= r.end);
      return coversAtom(cache, ev, 0, end, atom);
    };
    let ends: { from: number[]; to: number[] } | undefined;
    const all = (): { from: number[]; to: number[] } =>
      (ends ??= { from: space.atoms.flatMap((_, i) => (inEnd(p.from, i) ? [i] : [])), to: space.atoms.flatMap((_, i) => (inEnd(p.to, i) ? [i] : [])) });
    const f: Found = { count: 0, first: undefined };
    const pairs = new Set<string>();
    const check = (s: number, d: number, first: 'src' | 'dst'): void => {
      const key = `${s},${d}`;
      if (pairs.has(key)) return;
      pairs.add(key);
      const sa = space.atoms[s]!;
      if (s === d && sa.kind === 'class' && space.classes[sa.index]!.members.length < 2) return;
      for (const q of services) {
        const v = verdict(s, d, q, first);
        if (v === undefined || v !== p.bad) continue;
        f.count++;
        const svc = space.services[q]!;
        f.first ??= { s, d, q, range: svc.kind === 'ports' ? svc.range : undefined, verdict: v, view: 0, space, ev, cluster };
      }
    };
    for (const x of involved) {
      if (inEnd(p.from, x)) for (const d of all().to) check(x, d, 'src');
      if (inEnd(p.to, x)) for (const s of all().from) check(s, x, 'dst');
    }
    if (f.first !== undefined) out.set(p, f);
  }
  return out;
}
