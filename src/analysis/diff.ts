// `diff`: every connectivity change between two views of the flow space — two cluster states, or
// the enforced and the pending view of one — exhaustively (flow-space.ts has the atoms). Only the
// (class, direction) runs whose tier plan or world differ between the views can hold a change; the
// candidates their bitsets disagree on are decided in full on both sides, and each change gets the
// deciding tier/policy/rule of each side from `evaluateFlow` on its representative flow (which
// must, and is checked to, agree with the bitset verdict).
import type { Cluster, DecidedBy, Direction, Flow } from '../engine/index.ts';
import { describePeer, evaluateFlow } from '../engine/index.ts';
import { formatCidr } from '../net/index.ts';
import { blockAddress, blockCidrs } from './atoms.ts';
import type { PortInterval } from './atoms.ts';
import { jsonDecidedBy } from './explain.ts';
import type { ExplainJsonDecidedBy } from './explain.ts';
import { buildFlowSpace, enforcedView, pendingView, serviceDetail, serviceProtocol, SpaceEvaluator } from './flow-space.ts';
import type { FlowSpace, ServiceAtom, View } from './flow-space.ts';

export type Verdict = 'allow' | 'deny';

/** A change between the views on one (source atom, destination atom, service atoms) — ports merged. */
/**
 * `opened` deny → allow, `closed` allow → deny, `reattributed` same verdict but another deciding
 * step (tier, policy, rule), `pending` a change only in the pending view.
 */
export type ChangeKind = 'opened' | 'closed' | 'reattributed' | 'pending';

export interface AtomChange {
  readonly change: ChangeKind;
  readonly src: number;
  readonly dst: number;
  /** Service atoms merged into this change (consecutive port ranges of one protocol, or one atom). */
  readonly services: readonly number[];
  readonly before: Verdict;
  readonly after: Verdict;
  readonly decidedBy: { readonly before: ExplainJsonDecidedBy; readonly after: ExplainJsonDecidedBy };
  /** With staged policies enforced on both sides (only when a side has staged policies). */
  readonly pending?: {
    readonly before: Verdict;
    readonly after: Verdict;
    readonly decidedBy: { readonly before: ExplainJsonDecidedBy; readonly after: ExplainJsonDecidedBy };
  };
}

export interface DiffResult {
  readonly space: FlowSpace;
  readonly changes: readonly AtomChange[];
  /** Endpoints only in the after state (added) or only in the before state (removed). */
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Whether the pending view was compared too. */
  readonly pending: boolean;
  readonly stats: { readonly runs: number; readonly candidates: number };
}

export interface DiffOptions {
  /** Add `source: file:line:col` to the deciding steps (default true). */
  readonly withSource?: boolean;
  /** Also report flows whose verdict stays but whose deciding step changes (default true). */
  readonly reattributed?: boolean;
}

function hasStaged(c: Cluster): boolean {
  return c.policies.some((p) => p.staged);
}

/** Where a change is judged: pairs of views (enforced before/after, and pending before/after). */
interface Comparison {
  readonly before: number;
  readonly after: number;
}

function decidedOf(view: View, flow: Flow): { verdict: Verdict; by: DecidedBy } {
  const d = evaluateFlow(view.cluster, flow);
  const pendingMode = view.mode.stagedAsEnforced;
  const e = pendingMode && d.pending !== null ? d.pending : d;
  return { verdict: e.verdict, by: e.decidedBy };
}

/**
 * Every change between `views[before]` and `views[after]` of each comparison, over the atoms of
 * `space`. The first comparison is the main one; a second one (pending) is reported beside it.
 */
function compare(space: FlowSpace, views: readonly View[], comparisons: readonly Comparison[], opts: DiffOptions): { changes: AtomChange[]; runs: number; candidates: number } {
  const reattributed = opts.reattributed ?? true;
  const ev = new SpaceEvaluator(space, views, { withDeciders: reattributed });
  const withSource = opts.withSource ?? true;
  const candidates = new Set<string>();
  const list: [number, number, number][] = [];
  const add = (s: number, d: number, q: number): void => {
    if (s === d && space.classes[space.atoms[s]!.kind === 'class' ? s : 0]!.members.length < 2) return; // loopback only
    const k = `${s},${d},${q}`;
    if (candidates.has(k)) return;
    candidates.add(k);
    list.push([s, d, q]);
  };
  const dirs: readonly Direction[] = ['egress', 'ingress'];
  for (const { before, after } of comparisons) {
    for (let cls = 0; cls < space.classes.length; cls++) {
      for (const dir of dirs) {
        if (ev.planId(before, dir, cls) === ev.planId(after, dir, cls)) continue; // same world, same plan: same outcome
        for (const family of [4, 6] as const) {
          space.services.forEach((svc, q) => {
            if (!SpaceEvaluator.serviceIn(svc, family)) return;
            const diff = ev.xor(ev.allowedAt(before, dir, cls, q, family), ev.allowedAt(after, dir, cls, q, family));
            const peers = SpaceEvaluator.bits(diff);
            if (reattributed) {
              const a = ev.decidersAt(before, dir, cls, q, family)!;
              const b = ev.decidersAt(after, dir, cls, q, family)!;
              for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) peers.push(i);
            }
            for (const peer of peers) {
              if (dir === 'egress') add(cls, peer, q);
              else add(peer, cls, q);
            }
          });
        }
      }
    }
  }

  const verdictOf = (v: number, s: number, d: number, q: number): Verdict | undefined => {
    const r = ev.verdict(v, s, d, q);
    return r === undefined ? undefined : r ? 'allow' : 'deny';
  };
  // Deciding steps from the engine's own single-flow evaluation of the representative flow.
  const decided = new Map<string, DecidedBy>();
  const decideRaw = (v: number, s: number, d: number, q: number, expected: Verdict): DecidedBy => {
    const key = `${v},${s},${d},${q}`;
    let by = decided.get(key);
    if (by === undefined) {
      const family = ev.family(v, s, d)!;
      const flow = ev.flow(v, s, d, q, family);
      const got = decidedOf(views[v]!, flow);
      if (got.verdict !== expected) {
        const what = `${describePeer(flow.src)} → ${describePeer(flow.dst)} ${flow.protocol}/${flow.port ?? ''} IPv${flow.ipVersion} (view ${v})`;
        throw new Error(`diff: the bitset verdict (${expected}) and evaluateFlow (${got.verdict}) disagree on ${what}`);
      }
      decided.set(key, (by = got.by));
    }
    return by;
  };
  const decide = (v: number, s: number, d: number, q: number, expected: Verdict): ExplainJsonDecidedBy =>
    jsonDecidedBy(views[v]!.cluster, decideRaw(v, s, d, q, expected), withSource);
  const sameStep = (a: DecidedBy, b: DecidedBy): boolean =>
    a.direction === b.direction && a.tier === b.tier && a.policy === b.policy && a.namespace === b.namespace && a.kind === b.kind && a.rule === b.rule && a.action === b.action && a.reason === b.reason;
  const main = comparisons[0]!;
  const raw: { s: number; d: number; q: number; verdicts: Verdict[]; kind: ChangeKind }[] = [];
  for (const [s, d, q] of list) {
    const verdicts: Verdict[] = [];
    let ok = true;
    for (let v = 0; v < views.length; v++) {
      const x = verdictOf(v, s, d, q);
      if (x === undefined) ok = false;
      else verdicts.push(x);
    }
    if (!ok) continue;
    const b = verdicts[main.before]!;
    const a = verdicts[main.after]!;
    if (b !== a) raw.push({ s, d, q, verdicts, kind: a === 'allow' ? 'opened' : 'closed' });
    else if (comparisons.some((c) => verdicts[c.before] !== verdicts[c.after])) raw.push({ s, d, q, verdicts, kind: 'pending' });
    else if (reattributed && !sameStep(decideRaw(main.before, s, d, q, b), decideRaw(main.after, s, d, q, a))) {
      raw.push({ s, d, q, verdicts, kind: 'reattributed' });
    }
  }

  const changes: AtomChange[] = raw.map(({ s, d, q, verdicts, kind }) => {
    const pend = comparisons[1];
    const change: AtomChange = {
      change: kind,
      src: s,
      dst: d,
      services: [q],
      before: verdicts[main.before]!,
      after: verdicts[main.after]!,
      decidedBy: { before: decide(main.before, s, d, q, verdicts[main.before]!), after: decide(main.after, s, d, q, verdicts[main.after]!) },
      ...(pend === undefined
        ? {}
        : {
            pending: {
              before: verdicts[pend.before]!,
              after: verdicts[pend.after]!,
              decidedBy: { before: decide(pend.before, s, d, q, verdicts[pend.before]!), after: decide(pend.after, s, d, q, verdicts[pend.after]!) },
            },
          }),
    };
    return change;
  });
  return { changes: mergePorts(space, changes), runs: ev.runCount, candidates: list.length };
}

function sameOutcome(a: AtomChange, b: AtomChange): boolean {
  const strip = (c: AtomChange): string => JSON.stringify({ c: c.change, b: c.before, a: c.after, d: c.decidedBy, p: c.pending });
  return strip(a) === strip(b);
}

/** Joins changes on consecutive port ranges of the same protocol with the same outcome. */
function mergePorts(space: FlowSpace, changes: AtomChange[]): AtomChange[] {
  const sorted = [...changes].sort((x, y) => x.src - y.src || x.dst - y.dst || x.services[0]! - y.services[0]!);
  const out: AtomChange[] = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.src === c.src && last.dst === c.dst) {
      const a = space.services[last.services[last.services.length - 1]!]!;
      const b = space.services[c.services[0]!]!;
      if (a.kind === 'ports' && b.kind === 'ports' && a.protocol === b.protocol && a.range.max + 1 === b.range.min && sameOutcome(last, c)) {
        out[out.length - 1] = { ...last, services: [...last.services, ...c.services] };
        continue;
      }
    }
    out.push(c);
  }
  return out;
}

/** `strata diff --before … --after …`: enforced before vs after, and pending before vs after when staged policies exist. */
export function diffClusters(before: Cluster, after: Cluster, opts: DiffOptions = {}): DiffResult {
  const space = buildFlowSpace([before, after]);
  const pending = hasStaged(before) || hasStaged(after);
  const views: View[] = [enforcedView(before), enforcedView(after), ...(pending ? [pendingView(before), pendingView(after)] : [])];
  const comparisons: Comparison[] = [{ before: 0, after: 1 }, ...(pending ? [{ before: 2, after: 3 }] : [])];
  const r = compare(space, views, comparisons, opts);
  return { space, changes: r.changes, added: space.unmatched[1]!, removed: space.unmatched[0]!, pending, stats: { runs: r.runs, candidates: r.candidates } };
}

/** `strata diff --staged`: what enforcing every staged policy would change (enforced vs pending view). */
export function diffStaged(cluster: Cluster, opts: DiffOptions = {}): DiffResult {
  const space = buildFlowSpace([cluster]);
  const r = compare(space, [enforcedView(cluster), pendingView(cluster)], [{ before: 0, after: 1 }], opts);
  return { space, changes: r.changes, added: [], removed: [], pending: false, stats: { runs: r.runs, candidates: r.candidates } };
}

// ---- the documented line shape

export interface DiffJsonDecided {
  readonly before: ExplainJsonDecidedBy;
  readonly after: ExplainJsonDecidedBy;
}

/** One JSON line: a changed (source, destination, port range, protocol). */
export interface DiffJsonLine {
  readonly from: string | { readonly members: readonly string[] };
  readonly to: string | { readonly members: readonly string[] };
  /** `80`, `8000-8999`; null for protocols without ports. */
  readonly ports: string | null;
  readonly protocol: string;
  /** ICMP type/code the line covers (`type 8 code 0`, `any`, `other types`). */
  readonly icmp?: string;
  readonly before: Verdict;
  readonly after: Verdict;
  readonly change: ChangeKind;
  readonly decidedBy: DiffJsonDecided;
  readonly pendingBefore?: Verdict;
  readonly pendingAfter?: Verdict;
  readonly pendingDecidedBy?: DiffJsonDecided;
}

/** An endpoint only one side has: its flows are not compared (nothing to compare them with). */
export interface DiffJsonPeer {
  readonly peer: string;
  readonly change: 'added' | 'removed';
}

function peerNames(space: FlowSpace, atom: number): string[] {
  const a = space.atoms[atom]!;
  switch (a.kind) {
    case 'class':
      return [...space.classes[a.index]!.members];
    case 'block':
      // A single address that is an endpoint's is that endpoint (its own lines say what changed).
      return blockCidrs(a.block)
        .filter((c) => c.prefix !== (c.family === 4 ? 32 : 128) || !space.owned(blockAddress(c.family, BigInt(c.base))))
        .map(formatCidr);
    case 'domain':
      return [a.domain];
  }
}

function serviceText(space: FlowSpace, services: readonly number[]): { ports: string | null; protocol: string; icmp?: string } {
  const first: ServiceAtom = space.services[services[0]!]!;
  const last: ServiceAtom = space.services[services[services.length - 1]!]!;
  if (first.kind === 'ports' && last.kind === 'ports') {
    const range: PortInterval = { min: first.range.min, max: last.range.max };
    return { ports: range.min === range.max ? String(range.min) : `${range.min}-${range.max}`, protocol: serviceProtocol(first) };
  }
  const detail = serviceDetail(first);
  return { ports: null, protocol: serviceProtocol(first), ...(first.kind === 'icmp' && detail !== null ? { icmp: detail } : {}) };
}

/**
 * The changes as JSON lines: one per (source, destination, merged service), endpoints expanded to
 * their ids (or, with `group`, one line per class pair with the member lists), external blocks to
 * their minimal CIDRs. An endpoint never appears as its own peer.
 */
export function diffLines(r: DiffResult, group = false): DiffJsonLine[] {
  const out: DiffJsonLine[] = [];
  for (const c of r.changes) {
    const svc = serviceText(r.space, c.services);
    const base = {
      ...svc,
      before: c.before,
      after: c.after,
      change: c.change,
      decidedBy: c.decidedBy,
      ...(c.pending === undefined ? {} : { pendingBefore: c.pending.before, pendingAfter: c.pending.after, pendingDecidedBy: c.pending.decidedBy }),
    };
    const srcAtom = r.space.atoms[c.src]!;
    const dstAtom = r.space.atoms[c.dst]!;
    const froms = peerNames(r.space, c.src);
    const tos = peerNames(r.space, c.dst);
    if (group && (srcAtom.kind === 'class' || dstAtom.kind === 'class')) {
      if (c.src === c.dst && froms.length === 1) continue; // a lone endpoint to itself: loopback, not a flow
      const fromG = srcAtom.kind === 'class' ? [{ members: froms }] : froms;
      const toG = dstAtom.kind === 'class' ? [{ members: tos }] : tos;
      for (const from of fromG) for (const to of toG) out.push({ from, to, ...base });
      continue;
    }
    for (const from of froms) for (const to of tos) if (from !== to) out.push({ from, to, ...base });
  }
  return out;
}

export function peerLines(r: DiffResult): DiffJsonPeer[] {
  return [...r.added.map((peer) => ({ peer, change: 'added' as const })), ...r.removed.map((peer) => ({ peer, change: 'removed' as const }))];
}

/**
 * Whether connectivity changed: a flow opened or closed (in the enforced or the pending view), or
 * an endpoint added or removed. A reattribution alone is not a change of connectivity.
 */
export function hasChanges(r: DiffResult, lines: readonly DiffJsonLine[]): boolean {
  return lines.some((l) => l.change !== 'reattributed') || r.added.length > 0 || r.removed.length > 0;
}
