// The join (pure): nflog decision records + conntrack events of one node → observed connections.
//
//   nflog  (one per deciding rule per new-state packet) ─┐  key: original-direction tuple
//   conntrack NEW / UPDATE / DESTROY, dumps            ─┴─► Observation per (tuple, conntrack entry)
//
// Why the tuple is an exact key: the packet a rule logged is the packet that creates the
// conntrack entry (NEW is sent when that packet is confirmed), and a table holds one live entry
// per original tuple (no NAT in front of the policy chains). An Observation therefore starts
// with the first decision or NEW for a tuple and ends with DESTROY; a later packet with the same
// tuple starts a new one. A dropped packet is never confirmed: a denied attempt has decisions and
// no conntrack entry, and ends when the tuple is idle for `idleMs`.
//
// One packet can carry decisions of both directions on one node (egress of a local sender, then
// ingress of a local receiver): they are kept per direction, each a path of passes ending in a
// terminal decision. Until a reply is seen, every packet of a connection is "new" to conntrack
// and meets policy again (a retransmitted SYN, a UDP stream without answers); only the first
// complete path of a direction is its attribution, the repeats count as packets.
import type { ConntrackEvent, CtCounters, NflogEvent, Tuple } from './kernel-events.ts';
import { tupleKey } from './kernel-events.ts';

export type Direction = 'ingress' | 'egress';

/** What the joiner needs to know of a decision id (from the ruleset's decision table). */
export interface DecisionClass {
  readonly direction: Direction;
  /** Allow / deny / end-of-tier / no-profile: the direction's verdict. Pass: false. */
  readonly terminal: boolean;
  readonly verdict: 'allow' | 'deny' | 'pass';
}

export type Classify = (decisionId: string) => DecisionClass | undefined;

export interface DirectionPath {
  /** Decision ids in the order the kernel recorded them, ending with the terminal one. */
  readonly decisions: readonly string[];
  readonly verdict: 'allow' | 'deny';
  /** Packets that met this direction's policy (complete paths seen). */
  readonly attempts: number;
  readonly attemptBytes: number;
}

/** What a report interval saw of one observation. */
export interface ObservedInterval {
  readonly key: string;
  readonly tuple: Tuple;
  /** Per direction that decided on this node. */
  readonly paths: ReadonlyMap<Direction, DirectionPath>;
  readonly conntrackId: number | undefined;
  /** Counters moved in this interval (from conntrack when it has an entry, else the logged packets). */
  readonly origPackets: number;
  readonly origBytes: number;
  readonly replyPackets: number;
  readonly replyBytes: number;
  /** Started in this interval (first report of the observation). */
  readonly started: boolean;
  /** Ended in this interval (DESTROY, or a denied attempt gone idle). */
  readonly completed: boolean;
  readonly firstMs: number;
  readonly lastMs: number;
  /** Decision ids the classifier did not know (a ruleset newer than the table, or not ours). */
  readonly unknownDecisions: readonly string[];
}

interface MutablePath {
  decisions: string[];
  verdict: 'allow' | 'deny' | undefined;
  attempts: number;
  attemptBytes: number;
  reportedAttempts: number;
  reportedBytes: number;
  partial: string[];
}

interface Observation {
  readonly key: string;
  readonly tuple: Tuple;
  readonly paths: Map<Direction, MutablePath>;
  ctId: number | undefined;
  orig: CtCounters;
  reply: CtCounters;
  reportedOrig: CtCounters;
  reportedReply: CtCounters;
  destroyed: boolean;
  reportedOnce: boolean;
  firstMs: number;
  lastMs: number;
  unknown: Set<string>;
}

export interface JoinerOptions {
  readonly classify: Classify;
  /** A denied attempt (no conntrack entry) ends after this long without a packet. Default 30 s. */
  readonly idleMs?: number;
  /**
   * A conntrack entry without decisions is held this long for its nflog records (the two streams
   * arrive through different processes), then dropped as not decided here. Default 3 s.
   */
  readonly graceMs?: number;
}

const ZERO: CtCounters = { packets: 0, bytes: 0 };

export interface FlowJoiner {
  addNflog(e: NflogEvent): void;
  addConntrack(e: ConntrackEvent): void;
  /** Reports what moved since the last flush and forgets finished observations. */
  flush(nowMs: number): ObservedInterval[];
  /** Observations held (for metrics and tests). */
  size(): number;
}

export function createFlowJoiner(opts: JoinerOptions): FlowJoiner {
  const idleMs = opts.idleMs ?? 30_000;
  const graceMs = opts.graceMs ?? 3_000;
  const byKey = new Map<string, Observation>();
  const byCtId = new Map<number, Observation>();
  let lastFlushMs = 0;

  const open = (key: string, tuple: Tuple, t: number): Observation => {
    const o: Observation = {
      key,
      tuple,
      paths: new Map(),
      ctId: undefined,
      orig: ZERO,
      reply: ZERO,
      reportedOrig: ZERO,
      reportedReply: ZERO,
      destroyed: false,
      reportedOnce: false,
      firstMs: t,
      lastMs: t,
      unknown: new Set(),
    };
    byKey.set(key, o);
    return o;
  };
  // Finished observations waiting for their last report; they no longer own their key.
  const finished: Observation[] = [];
  // Finished ones that have no decision yet, by key: a late nflog record finds its entry here.
  const undecided = new Map<string, Observation>();
  const retire = (o: Observation): void => {
    if (byKey.get(o.key) === o) byKey.delete(o.key);
    if (o.ctId !== undefined && byCtId.get(o.ctId) === o) byCtId.delete(o.ctId);
    finished.push(o);
    if (o.paths.size === 0) undecided.set(o.key, o);
  };

  return {
    addNflog(e) {
      const key = tupleKey(e.tuple);
      let o = byKey.get(key);
      // A decision can arrive after its entry's DESTROY (two processes, two pipes): it belongs to
      // that entry if the entry has none yet.
      o ??= undecided.get(key);
      if (o === undefined || (o.destroyed && o.paths.size > 0)) o = open(key, e.tuple, e.timeMs);
      o.lastMs = Math.max(o.lastMs, e.timeMs);
      const c = opts.classify(e.decision);
      if (c === undefined) {
        o.unknown.add(e.decision);
        return;
      }
      let p = o.paths.get(c.direction);
      if (p === undefined) {
        p = { decisions: [], verdict: undefined, attempts: 0, attemptBytes: 0, reportedAttempts: 0, reportedBytes: 0, partial: [] };
        o.paths.set(c.direction, p);
      }
      p.partial.push(e.decision);
      if (!c.terminal) return;
      if (p.verdict === undefined) {
        p.decisions = p.partial;
        p.verdict = c.verdict === 'allow' ? 'allow' : 'deny';
      }
      p.partial = [];
      p.attempts++;
      p.attemptBytes += e.bytes;
    },

    addConntrack(e) {
      const key = tupleKey(e.orig);
      let o = byCtId.get(e.id);
      if (o === undefined || o.key !== key) {
        o = byKey.get(key);
        if (o !== undefined && o.ctId !== undefined && o.ctId !== e.id) {
          // The tuple was reused by a new entry and we missed the old one's DESTROY.
          o.destroyed = true;
          retire(o);
          o = undefined;
        }
        if (o === undefined) {
          // Dumps list entries that started before we listened: counted from now, not from zero.
          o = open(key, e.orig, e.timeMs ?? lastFlushMs);
          if (e.type === 'list' || e.type === 'update') {
            o.reportedOrig = e.origCounters ?? ZERO;
            o.reportedReply = e.replyCounters ?? ZERO;
          }
        }
        o.ctId = e.id;
        byCtId.set(e.id, o);
      }
      if (e.timeMs !== undefined) o.lastMs = Math.max(o.lastMs, e.timeMs);
      if (e.origCounters !== undefined) o.orig = e.origCounters;
      if (e.replyCounters !== undefined) o.reply = e.replyCounters;
      if (e.type === 'destroy') {
        o.destroyed = true;
        retire(o);
      }
    },

    flush(nowMs) {
      lastFlushMs = nowMs;
      const out: ObservedInterval[] = [];
      const report = (o: Observation, completed: boolean): void => {
        const paths = new Map<Direction, DirectionPath>();
        let attemptsMoved = 0;
        let attemptBytesMoved = 0;
        for (const [dir, p] of o.paths) {
          if (p.verdict === undefined) continue;
          paths.set(dir, { decisions: p.decisions, verdict: p.verdict, attempts: p.attempts, attemptBytes: p.attemptBytes });
          attemptsMoved = Math.max(attemptsMoved, p.attempts - p.reportedAttempts);
          attemptBytesMoved = Math.max(attemptBytesMoved, p.attemptBytes - p.reportedBytes);
          p.reportedAttempts = p.attempts;
          p.reportedBytes = p.attemptBytes;
        }
        const tracked = o.ctId !== undefined;
        const origPackets = tracked ? Math.max(0, o.orig.packets - o.reportedOrig.packets) : attemptsMoved;
        const origBytes = tracked ? Math.max(0, o.orig.bytes - o.reportedOrig.bytes) : attemptBytesMoved;
        const replyPackets = tracked ? Math.max(0, o.reply.packets - o.reportedReply.packets) : 0;
        const replyBytes = tracked ? Math.max(0, o.reply.bytes - o.reportedReply.bytes) : 0;
        o.reportedOrig = o.orig;
        o.reportedReply = o.reply;
        const moved = origPackets + replyPackets > 0 || !o.reportedOnce || completed;
        if (paths.size > 0 && moved) {
          out.push({
            key: o.key,
            tuple: o.tuple,
            paths,
            conntrackId: o.ctId,
            origPackets,
            origBytes,
            replyPackets,
            replyBytes,
            started: !o.reportedOnce,
            completed,
            firstMs: o.firstMs,
            lastMs: o.lastMs,
            unknownDecisions: [...o.unknown].sort(),
          });
          o.reportedOnce = true;
        }
      };
      undecided.clear();
      for (const o of finished.splice(0)) {
        // An entry that ended before its decisions arrived still gets them if they come within
        // the grace period: hold it back once.
        if (o.paths.size === 0 && nowMs - o.lastMs < graceMs) {
          finished.push(o);
          undecided.set(o.key, o);
          continue;
        }
        report(o, true);
      }
      for (const o of [...byKey.values()]) {
        if (o.ctId === undefined && nowMs - o.lastMs >= idleMs) {
          byKey.delete(o.key);
          report(o, true);
          continue;
        }
        if (o.paths.size === 0) {
          // Not decided on this node (yet): give the nflog stream its grace, then forget it.
          if (nowMs - o.firstMs >= graceMs) {
            byKey.delete(o.key);
            if (o.ctId !== undefined) byCtId.delete(o.ctId);
          }
          continue;
        }
        // Allowed but its conntrack NEW not here yet: wait for it, or the first packet would be
        // counted from nflog now and again from conntrack's counters later.
        const allowedEverywhere = [...o.paths.values()].every((p) => p.verdict === 'allow');
        if (o.ctId === undefined && allowedEverywhere && nowMs - o.firstMs < graceMs) continue;
        report(o, false);
      }
      return out;
    },

    size() {
      return byKey.size + finished.length;
    },
  };
}
