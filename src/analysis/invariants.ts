// ConnectivityInvariant verification: does a state keep every promise? Exhaustive over the same
// atoms as `diff` (flow-space.ts), with the invariants' own ports and CIDRs as extra cuts, so a
// "must deny" is proved for every port and address it covers, not sampled. A pure function of
// (cluster, invariants) → violations, each with one counter-example flow and the tier, policy and
// rule that decides it — what `strata check` prints and what an admission check would return.
import type { Diagnostic, Span } from '../diagnostics/index.ts';
import type { Cluster } from '../engine/index.ts';
import { evaluateFlow, PROTOCOL } from '../engine/index.ts';
import { composeEntitySelector } from '../engine/algebra.ts';
import type { ResourceOf } from '../model/index.ts';
import { invariantPortRange } from '../model/index.ts';
import { cidrContains, formatCidr, parseCidrLenient } from '../net/index.ts';
import type { Cidr } from '../net/index.ts';
import { blockAddress, blockCidrs } from './atoms.ts';
import type { PortInterval } from './atoms.ts';
import { jsonDecidedBy } from './explain.ts';
import type { ExplainJsonDecidedBy } from './explain.ts';
import type { DiffResult } from './diff.ts';
import { buildFlowSpace, enforcedView, serviceDetail, serviceProtocol, SpaceEvaluator } from './flow-space.ts';
import type { FlowSpace, ServiceAtom } from './flow-space.ts';

export type InvariantResource = ResourceOf<'ConnectivityInvariant'>;

/** One flow that breaks a promise. */
export interface CounterExample {
  readonly from: string;
  readonly to: string;
  /** The first port of the offending range; null for protocols without ports. */
  readonly port: number | null;
  /** The whole range of ports decided alike, e.g. `1-79`. */
  readonly ports: string | null;
  readonly protocol: string;
  readonly icmp?: string;
  readonly verdict: 'allow' | 'deny';
  readonly decidedBy: ExplainJsonDecidedBy;
}

export interface Violation {
  readonly invariant: string;
  readonly must: 'allow' | 'deny';
  readonly span: Span;
  readonly example: CounterExample;
  /** Atom triples (class or block, class or block, service range) that break it. */
  readonly count: number;
}

export const DEFAULT_PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export const PROTOCOL_NUMBER: Readonly<Record<string, number>> = { TCP: PROTOCOL.TCP, UDP: PROTOCOL.UDP, SCTP: PROTOCOL.SCTP };
const PROTOCOL_NUMBER_LIST: readonly number[] = Object.values(PROTOCOL_NUMBER);

export function netsOf(inv: InvariantResource): Cidr[] {
  const out: Cidr[] = [];
  for (const end of [inv.body.spec.from, inv.body.spec.to]) {
    for (const t of end.nets ?? []) {
      const c = parseCidrLenient(t);
      if (c.ok) out.push(c.value);
    }
  }
  return out;
}

export function portRanges(inv: InvariantResource): PortInterval[] {
  return (inv.body.spec.ports ?? ['1-65535']).map(invariantPortRange);
}

/** The peer atoms an invariant end covers. */
function endAtoms(ev: SpaceEvaluator, end: InvariantResource['body']['spec']['from']): number[] {
  const space = ev.space;
  if (end.nets !== undefined) {
    const cidrs = end.nets.map((t) => parseCidrLenient(t)).flatMap((r) => (r.ok ? [r.value] : []));
    // Blocks are cut at every invariant CIDR's bounds: a block starting inside one lies inside it.
    return space.atoms.flatMap((a, i) => (a.kind === 'block' && cidrs.some((c) => cidrContains(c, blockAddress(a.block.family, a.block.start))) ? [i] : []));
  }
  const sel = composeEntitySelector(
    { selector: end.selector ?? '', notSelector: '', namespaceSelector: end.namespaceSelector ?? '', serviceAccountNames: [], serviceAccountSelector: '' },
    undefined,
  );
  return space.atoms.flatMap((a, i) => (a.kind === 'class' && (sel === undefined || sel.matches(ev.rep(0, a.index).labels)) ? [i] : []));
}

function servicesOf(space: FlowSpace, inv: InvariantResource): number[] {
  const protocols = new Set<string>(inv.body.spec.protocols ?? DEFAULT_PROTOCOLS);
  const ranges = portRanges(inv);
  return space.services.flatMap((s, i) => {
    if (s.kind === 'ports') {
      const name = Object.entries(PROTOCOL_NUMBER).find(([, n]) => n === s.protocol)?.[0];
      return name !== undefined && protocols.has(name) && ranges.some((r) => s.range.min >= r.min && s.range.max <= r.max) ? [i] : [];
    }
    if (s.kind === 'icmp') return protocols.has('ICMP') ? [i] : [];
    return [];
  });
}

export function names(space: FlowSpace, atom: number, avoid?: string, prefer?: ReadonlySet<string>): string {
  const a = space.atoms[atom]!;
  if (a.kind === 'class') {
    const members = space.classes[a.index]!.members;
    return (prefer === undefined ? undefined : members.find((m) => m !== avoid && prefer.has(m))) ?? members.find((m) => m !== avoid) ?? members[0]!;
  }
  if (a.kind === 'block') return formatCidr(blockCidrs(a.block)[0]!);
  return a.domain;
}

export interface VerifyOptions {
  /** Only flows from or to these endpoints (ids) count: what endpoints new to a state add. */
  readonly involving?: ReadonlySet<string> | undefined;
}

/**
 * Every invariant the state breaks, with one counter-example each. `must: deny` is broken by any
 * allowed flow it covers, `must: allow` by any denied one; an endpoint and itself never count.
 */
export function verifyInvariants(cluster: Cluster, invariants: readonly InvariantResource[], opts: VerifyOptions = {}): Violation[] {
  if (invariants.length === 0) return [];
  const involving = opts.involving;
  const space = buildFlowSpace([cluster], {
    cidrs: invariants.flatMap(netsOf),
    ports: invariants.flatMap((inv) => PROTOCOL_NUMBER_LIST.flatMap((protocol) => portRanges(inv).map((range) => ({ protocol, range })))),
  });
  const ev = new SpaceEvaluator(space, [enforcedView(cluster)]);
  const out: Violation[] = [];
  for (const inv of invariants) {
    const spec = inv.body.spec;
    const froms = endAtoms(ev, spec.from);
    const tos = endAtoms(ev, spec.to);
    const services = servicesOf(space, inv);
    const wantAllowed = spec.must === 'allow';
    let first: { s: number; d: number; q: number } | undefined;
    let count = 0;
    const involved = (a: number): boolean => {
      const atom = space.atoms[a]!;
      return atom.kind === 'class' && space.classes[atom.index]!.members.some((m) => involving!.has(m));
    };
    for (const s of froms) {
      for (const d of tos) {
        if (s === d && space.atoms[s]!.kind === 'class' && space.classes[(space.atoms[s] as { index: number }).index]!.members.length < 2) continue;
        if (involving !== undefined && !involved(s) && !involved(d)) continue;
        for (const q of services) {
          const v = ev.verdict(0, s, d, q);
          if (v === undefined || v === wantAllowed) continue;
          count++;
          first ??= { s, d, q };
        }
      }
    }
    if (first === undefined) continue;
    const family = ev.family(0, first.s, first.d)!;
    const flow = ev.flow(0, first.s, first.d, first.q, family);
    const decision = evaluateFlow(cluster, flow);
    const svc: ServiceAtom = space.services[first.q]!;
    const from = names(space, first.s, undefined, involving);
    const detail = serviceDetail(svc);
    out.push({
      invariant: inv.name,
      must: spec.must,
      span: inv.origin.spanOf(['spec', 'must']),
      count,
      example: {
        from,
        to: first.s === first.d ? names(space, first.d, from, involving) : names(space, first.d, undefined, involving),
        port: flow.port ?? null,
        ports: svc.kind === 'ports' ? detail : null,
        protocol: serviceProtocol(svc),
        ...(svc.kind === 'icmp' && detail !== null ? { icmp: detail } : {}),
        verdict: decision.verdict,
        decidedBy: jsonDecidedBy(cluster, decision.decidedBy, true),
      },
    });
  }
  return out;
}

function describeDecider(d: ExplainJsonDecidedBy): string {
  if (d.kind === 'Profile') return `${d.direction ?? ''} profile ${d.policy ?? ''}`.trim();
  if (d.kind === null) return d.reason === 'no-endpoint' ? 'no endpoint enforcing policy' : 'the final default deny';
  const ns = d.namespace === undefined ? '' : `${d.namespace}/`;
  const rule = d.reason === 'end-of-tier' ? 'end of tier' : d.rule === null ? '' : `rule ${d.rule}`;
  // A step redacted for the reader (strata server): no policy, and no tier when that is hidden too.
  if (d.policy === null) return `${d.direction ?? ''} ${d.kind} (not shown)${d.tier === null ? '' : ` in tier ${d.tier}`}${rule === '' ? '' : `, ${rule}`}`.trim();
  return `${d.direction ?? ''} ${d.kind} ${ns}${d.policy} in tier ${d.tier ?? ''}${rule === '' ? '' : `, ${rule}`}`.trim();
}

/** A violation as an error diagnostic at the invariant's `must`. */
export function violationDiagnostic(v: Violation): Diagnostic {
  const e = v.example;
  const what = e.ports !== null ? `${e.protocol} ${e.port ?? ''}${e.ports.includes('-') ? ` (ports ${e.ports} alike)` : ''}` : e.icmp === undefined ? e.protocol : `${e.protocol} ${e.icmp}`;
  const verb = v.must === 'deny' ? 'allowed' : 'denied';
  return {
    code: 'invariant/violated',
    severity: 'error',
    message:
      `ConnectivityInvariant "${v.invariant}" (must ${v.must}) is broken: ${e.from} → ${e.to} ${what} is ${verb} by ${describeDecider(e.decidedBy)}` +
      (v.count > 1 ? ` (${v.count} flow ranges break it)` : ''),
    span: v.span,
    path: 'spec.must',
    ...(e.decidedBy.source === undefined ? {} : { help: `the deciding rule is at ${e.decidedBy.source}` }),
  };
}

/** The inclusive address range of a CIDR. */
export function cidrRange(c: Cidr): { start: bigint; end: bigint } {
  const width = c.family === 4 ? 32 : 128;
  const start = BigInt(c.base);
  return { start, end: start + (1n << BigInt(width - c.prefix)) - 1n };
}

/**
 * The invariants a change breaks, from the change's exhaustive diff (analysis/diff.ts) instead of
 * a verification of the whole after-state: a change breaks `must: deny` exactly where it opens a
 * flow the invariant covers, and `must: allow` where it closes one. Every atom of the diff is
 * decided alike throughout, so an atom that overlaps an invariant's ports or nets changed there
 * too — no extra cuts are needed. Flows of endpoints only in the after-state are not in the diff:
 * `verifyInvariants(after, …, {involving: added})` covers them. One counter-example per
 * invariant, decided as the diff decided it.
 */
export function invariantBreaksOfDiff(diff: DiffResult, after: Cluster, invariants: readonly InvariantResource[]): Violation[] {
  const space = diff.space;
  const out: Violation[] = [];
  for (const inv of invariants) {
    const spec = inv.body.spec;
    const protocols = new Set<string>(spec.protocols ?? DEFAULT_PROTOCOLS);
    const ranges = portRanges(inv);
    const covers = (end: InvariantResource['body']['spec']['from'], atom: number): boolean => {
      const a = space.atoms[atom]!;
      if (end.nets !== undefined) {
        if (a.kind !== 'block') return false;
        return end.nets.some((t) => {
          const c = parseCidrLenient(t);
          if (!c.ok || c.value.family !== a.block.family) return false;
          const r = cidrRange(c.value);
          return r.start <= a.block.end && a.block.start <= r.end;
        });
      }
      if (a.kind !== 'class') return false;
      const sel = composeEntitySelector(
        { selector: end.selector ?? '', notSelector: '', namespaceSelector: end.namespaceSelector ?? '', serviceAccountNames: [], serviceAccountSelector: '' },
        undefined,
      );
      const rep = after.endpoint(space.classes[a.index]!.members[0]!);
      return rep !== undefined && (sel === undefined || sel.matches(rep.labels));
    };
    /** The part of a service atom the invariant covers, or undefined. */
    const coveredService = (q: number): { svc: ServiceAtom; range: PortInterval | undefined } | undefined => {
      const svc = space.services[q]!;
      if (svc.kind === 'ports') {
        const name = Object.entries(PROTOCOL_NUMBER).find(([, n]) => n === svc.protocol)?.[0];
        if (name === undefined || !protocols.has(name)) return undefined;
        // The overlap starting lowest: the first port a verification of the whole state would report.
        let best: PortInterval | undefined;
        for (const r of ranges) {
          const min = Math.max(r.min, svc.range.min);
          const max = Math.min(r.max, svc.range.max);
          if (min <= max && (best === undefined || min < best.min)) best = { min, max };
        }
        return best === undefined ? undefined : { svc, range: best };
      }
      return svc.kind === 'icmp' && protocols.has('ICMP') ? { svc, range: undefined } : undefined;
    };
    const bad = spec.must === 'deny' ? 'allow' : 'deny';
    let count = 0;
    let first: { c: (typeof diff.changes)[number]; svc: ServiceAtom; range: PortInterval | undefined } | undefined;
    for (const c of diff.changes) {
      if (c.before === c.after || c.after !== bad) continue;
      if (!covers(spec.from, c.src) || !covers(spec.to, c.dst)) continue;
      for (const q of c.services) {
        const hit = coveredService(q);
        if (hit === undefined) continue;
        count++;
        first ??= { c, ...hit };
      }
    }
    if (first === undefined) continue;
    const from = names(space, first.c.src);
    const detail = first.range === undefined ? serviceDetail(first.svc) : first.range.min === first.range.max ? String(first.range.min) : `${first.range.min}-${first.range.max}`;
    out.push({
      invariant: inv.name,
      must: spec.must,
      span: inv.origin.spanOf(['spec', 'must']),
      count,
      example: {
        from,
        to: first.c.src === first.c.dst ? names(space, first.c.dst, from) : names(space, first.c.dst),
        port: first.range?.min ?? null,
        ports: first.svc.kind === 'ports' ? detail : null,
        protocol: serviceProtocol(first.svc),
        ...(first.svc.kind === 'icmp' && detail !== null ? { icmp: detail } : {}),
        verdict: first.c.after,
        decidedBy: first.c.decidedBy.after,
      },
    });
  }
  return out;
}

/**
 * The endpoints a change moves into an invariant's ends (a relabel, a namespace's labels): their
 * flows may keep their verdicts — and so be in no diff — and still newly break the promise.
 * Verify them with `verifyInvariants(after, …, {involving})`.
 */
export function newlyCovered(diff: DiffResult, before: Cluster, after: Cluster, invariants: readonly InvariantResource[]): Set<string> {
  const out = new Set<string>();
  const selectors = invariants.flatMap((inv) =>
    [inv.body.spec.from, inv.body.spec.to]
      .filter((end) => end.nets === undefined)
      .map((end) => composeEntitySelector({ selector: end.selector ?? '', notSelector: '', namespaceSelector: end.namespaceSelector ?? '', serviceAccountNames: [], serviceAccountSelector: '' }, undefined)),
  );
  for (const cls of diff.space.classes) {
    const id = cls.members[0]!;
    const b = before.endpoint(id);
    const a = after.endpoint(id);
    if (b === undefined || a === undefined) continue;
    // An end without a selector (undefined) covers every endpoint: nothing moves into it.
    if (selectors.some((sel) => sel !== undefined && sel.matches(a.labels) && !sel.matches(b.labels))) for (const m of cls.members) out.add(m);
  }
  return out;
}
