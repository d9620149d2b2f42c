// Per-rule packet and byte counts read back from every node's kernel, attributed to what the
// engine calls the rule — tier, policy, direction, rule index, action — through the provenance
// each rule's comment carries (`parseProvenance`). A policy's chain exists once per node and an
// end-of-tier drop once per endpoint chain, so rows sum over nodes and chains.
import { parseProvenance, policyId } from '../dataplane/index.ts';
import type { RuleCounter } from '../dataplane/index.ts';
import type { Policy } from '../engine/index.ts';
import type { Session } from './session.ts';

export interface CounterRow {
  /** Null for profiles, the no-profile drop and conntrack rules. */
  readonly tier: string | null;
  /** Policy or profile name; for conntrack and no-profile rows, the endpoint id. */
  readonly policy: string;
  readonly namespace?: string;
  /** Policy kind, `Profile`, or `Endpoint` (conntrack, no-profile). */
  readonly kind: string;
  readonly direction: 'ingress' | 'egress';
  /** Zero-based rule index; null for end-of-tier, no-profile and conntrack rows. */
  readonly rule: number | null;
  readonly action: string;
  readonly reason: 'rule' | 'end-of-tier' | 'profile' | 'no-profile' | 'conntrack';
  /** The rule comment, as the kernel holds it. */
  readonly provenance: string;
  readonly packets: number;
  readonly bytes: number;
  /** The same counts per node (nodes with a zero count are left out). */
  readonly nodes: Readonly<Record<string, { readonly packets: number; readonly bytes: number }>>;
}

export interface CounterOptions {
  /** Also rows whose counts are zero (default false). */
  readonly includeZero?: boolean;
  /** Also the conntrack rules of endpoint chains (default true). */
  readonly includeConntrack?: boolean;
}

interface Key {
  readonly tier: string | null;
  readonly policy: string;
  readonly namespace: string | undefined;
  readonly kind: string;
  readonly direction: 'ingress' | 'egress';
  readonly rule: number | null;
  readonly action: string;
  readonly reason: CounterRow['reason'];
  readonly rank: number;
}

/** What a rule comment stands for, in the engine's words; undefined for structural rules. */
function keyOf(comment: string, policies: ReadonlyMap<string, { policy: Policy; rank: number }>): Key | undefined {
  const p = parseProvenance(comment);
  const policyKey = (pid: string): Pick<Key, 'tier' | 'policy' | 'namespace' | 'kind' | 'rank'> => {
    if (pid.startsWith('pro/')) return { tier: null, policy: pid.slice(4), namespace: undefined, kind: 'Profile', rank: Number.MAX_SAFE_INTEGER - 1 };
    const known = policies.get(pid);
    if (known === undefined) return { tier: null, policy: pid, namespace: undefined, kind: 'unknown', rank: Number.MAX_SAFE_INTEGER - 2 };
    return { tier: known.policy.tier, policy: known.policy.name, namespace: known.policy.namespace, kind: known.policy.kind, rank: known.rank };
  };
  switch (p.kind) {
    case 'rule': {
      const k = policyKey(p.policy);
      return { ...k, direction: p.direction, rule: p.index, action: p.action, reason: k.kind === 'Profile' ? 'profile' : 'rule' };
    }
    case 'end-of-tier':
      return { ...policyKey(p.policy), tier: p.tier, direction: p.direction, rule: null, action: 'deny', reason: 'end-of-tier' };
    case 'no-profile':
      return { tier: null, policy: p.endpoint, namespace: undefined, kind: 'Endpoint', direction: p.direction, rule: null, action: 'deny', reason: 'no-profile', rank: Number.MAX_SAFE_INTEGER };
    case 'conntrack':
      return {
        tier: null,
        policy: p.endpoint,
        namespace: undefined,
        kind: 'Endpoint',
        direction: p.direction,
        rule: null,
        action: p.state === 'established' ? 'allow' : 'deny',
        reason: 'conntrack',
        rank: Number.MAX_SAFE_INTEGER,
      };
    case 'structure':
      return undefined;
  }
}

/** Groups raw counters of several nodes by policy rule. */
export function groupCounters(
  session: Pick<Session, 'cluster'>,
  perNode: ReadonlyMap<string, readonly RuleCounter[]>,
  opts: CounterOptions = {},
): CounterRow[] {
  const policies = new Map(session.cluster.policies.map((p, rank) => [policyId(p), { policy: p, rank }]));
  const rows = new Map<string, { key: Key; provenance: string; packets: number; bytes: number; nodes: Record<string, { packets: number; bytes: number }> }>();
  for (const [node, counters] of perNode) {
    for (const c of counters) {
      if (c.comment === undefined) continue;
      const key = keyOf(c.comment, policies);
      if (key === undefined) continue;
      if (key.reason === 'conntrack' && opts.includeConntrack === false) continue;
      // End-of-tier drops are written once per endpoint chain, all with the same comment.
      const id = c.comment;
      let row = rows.get(id);
      if (row === undefined) rows.set(id, (row = { key, provenance: c.comment, packets: 0, bytes: 0, nodes: {} }));
      row.packets += c.packets;
      row.bytes += c.bytes;
      if (c.packets > 0 || c.bytes > 0) {
        const n = (row.nodes[node] ??= { packets: 0, bytes: 0 });
        n.packets += c.packets;
        n.bytes += c.bytes;
      }
    }
  }
  const dirRank = (d: string): number => (d === 'egress' ? 0 : 1);
  return [...rows.values()]
    .filter((r) => opts.includeZero === true || r.packets > 0)
    .sort(
      (a, b) =>
        a.key.rank - b.key.rank ||
        (a.key.policy < b.key.policy ? -1 : a.key.policy > b.key.policy ? 1 : 0) ||
        dirRank(a.key.direction) - dirRank(b.key.direction) ||
        (a.key.rule ?? Number.MAX_SAFE_INTEGER) - (b.key.rule ?? Number.MAX_SAFE_INTEGER),
    )
    .map((r) => ({
      tier: r.key.tier,
      policy: r.key.policy,
      ...(r.key.namespace === undefined ? {} : { namespace: r.key.namespace }),
      kind: r.key.kind,
      direction: r.key.direction,
      rule: r.key.rule,
      action: r.key.action,
      reason: r.key.reason,
      provenance: r.provenance,
      packets: r.packets,
      bytes: r.bytes,
      nodes: r.nodes,
    }));
}

/** Reads every node's counters and groups them by policy rule. */
export async function readCounters(session: Session, opts: CounterOptions = {}): Promise<CounterRow[]> {
  const nodes = session.lab.plan.nodes.map((n) => n.name);
  const all = await Promise.all(nodes.map(async (n) => [n, await session.executor.counters(n)] as const));
  return groupCounters(session, new Map(all), opts);
}

/** The rule comment the engine's deciding step has in the kernel (for a decidedBy), if any. */
export function provenanceOfDecision(d: {
  readonly direction: 'ingress' | 'egress' | null;
  readonly kind: string | null;
  readonly namespace?: string | null | undefined;
  readonly policy: string | null;
  readonly rule: number | null;
  readonly action: string;
  readonly reason: string;
  readonly tier: string | null;
}, session: Pick<Session, 'cluster'>): string | undefined {
  if (d.direction === null || d.policy === null) return undefined;
  if (d.kind === 'Profile') return d.rule === null ? undefined : `pro/${d.policy} ${d.direction} ${d.rule} ${d.action}`;
  const p = session.cluster.policies.find((x) => x.kind === d.kind && x.name === d.policy && (x.namespace ?? null) === (d.namespace ?? null));
  if (p === undefined) return undefined;
  if (d.reason === 'rule') return `${policyId(p)} ${d.direction} ${d.rule} ${d.action}`;
  if (d.reason === 'end-of-tier') return `${policyId(p)} ${d.direction} end-of-tier deny tier=${d.tier}`;
  return undefined;
}
