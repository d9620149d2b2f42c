// Attribution: the kernel's decision ids → policy hits (via the ruleset's decision table), and
// the engine's explanation of the same packet beside them. The kernel's record is the observed
// truth; the engine's answer is attached, never substituted, and a difference is flagged.
import type { Ruleset } from '../dataplane/ir.ts';
import { parseProvenance } from '../dataplane/ir.ts';
import type { Provenance } from '../dataplane/ir.ts';
import type { Cluster, DirectionDecision, Flow, FlowDecision, Peer, PolicyKind, TraceStep } from '../engine/index.ts';
import { evaluateFlow, PROTOCOL, SHORT_KIND } from '../engine/index.ts';
import { tryParseIp } from '../net/index.ts';
import type { PolicyHit, PolicyHitKind } from '../flows/record.ts';
import type { Tuple } from './kernel-events.ts';
import type { DecisionClass, Direction } from './join.ts';

/** Decision id → provenance text: what the collector resolves ids with. */
export type DecisionTable = ReadonlyMap<string, string>;

/** The decision table of one or more rulesets (a node's, or every node's: ids are global). */
export function decisionTableOf(rulesets: Iterable<Ruleset>): Map<string, string> {
  const out = new Map<string, string>();
  // `?? []`: a ruleset stored by a version without decision records has no table.
  for (const rs of rulesets) for (const d of rs.decisions ?? []) out.set(d.id, d.provenance);
  return out;
}

const KIND_OF_SHORT: ReadonlyMap<string, PolicyKind> = new Map(Object.entries(SHORT_KIND).map(([k, v]) => [v, k as PolicyKind]));

/** A provenance's direction and whether it ends the direction (the joiner's view of an id). */
export function classifyProvenance(p: Provenance): DecisionClass | undefined {
  switch (p.kind) {
    case 'rule':
      if (p.action === 'log') return undefined;
      return { direction: p.direction, terminal: p.action !== 'pass', verdict: p.action };
    case 'end-of-tier':
    case 'no-profile':
      return { direction: p.direction, terminal: true, verdict: 'deny' };
    case 'conntrack':
    case 'structure':
      return undefined;
    default:
      return p satisfies never;
  }
}

interface PolicyRef {
  readonly kind: PolicyHitKind;
  readonly namespace: string | null;
  readonly name: string;
}

/** `gnp/NAME`, `np/NS/NAME`, `pro/NAME` → kind, namespace, name. */
function policyRef(pid: string): PolicyRef | undefined {
  const parts = pid.split('/');
  const short = parts[0]!;
  if (short === 'pro' && parts.length === 2) return { kind: 'Profile', namespace: null, name: parts[1]! };
  const kind = KIND_OF_SHORT.get(short);
  if (kind === undefined) return undefined;
  const hitKind = kind as PolicyHitKind;
  if (parts.length === 2) return { kind: hitKind, namespace: null, name: parts[1]! };
  if (parts.length === 3) return { kind: hitKind, namespace: parts[1]!, name: parts[2]! };
  return undefined;
}

function tierOf(cluster: Cluster | undefined, ref: PolicyRef): string | null {
  if (cluster === undefined || ref.kind === 'Profile') return null;
  return cluster.policy(`${ref.kind}/${ref.namespace ?? ''}/${ref.name}`)?.tier ?? null;
}

/** One kernel decision as a policy hit (undefined for an id the table does not know). */
export function hitOfProvenance(p: Provenance, cluster: Cluster | undefined): PolicyHit | undefined {
  switch (p.kind) {
    case 'rule': {
      if (p.action === 'log') return undefined;
      const ref = policyRef(p.policy);
      if (ref === undefined) return undefined;
      return { kind: ref.kind, tier: tierOf(cluster, ref), namespace: ref.namespace, name: ref.name, action: p.action, ruleIndex: p.index, trigger: null };
    }
    case 'end-of-tier': {
      const ref = policyRef(p.policy);
      if (ref === undefined) return undefined;
      return { kind: 'EndOfTier', tier: p.tier, namespace: null, name: null, action: 'deny', ruleIndex: null, trigger: { kind: ref.kind, namespace: ref.namespace, name: ref.name } };
    }
    case 'no-profile':
      return { kind: 'NoProfile', tier: null, namespace: null, name: null, action: 'deny', ruleIndex: null, trigger: null };
    case 'conntrack':
    case 'structure':
      return undefined;
    default:
      return p satisfies never;
  }
}

/** The kernel's path of one direction as policy hits, in the order it recorded them. */
export function kernelHits(decisions: readonly string[], table: DecisionTable, cluster: Cluster | undefined): PolicyHit[] {
  const out: PolicyHit[] = [];
  for (const id of decisions) {
    const text = table.get(id);
    const hit = text === undefined ? undefined : hitOfProvenance(parseProvenance(text), cluster);
    if (hit !== undefined) out.push(hit);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The engine's view of the same packet

/** The engine's flow for a packet's tuple: endpoints by address, exactly the ports it carried. */
export function flowOfTuple(t: Tuple, cluster: Cluster): Flow | undefined {
  const src = tryParseIp(t.src);
  const dst = tryParseIp(t.dst);
  if (src === undefined || dst === undefined) return undefined;
  const peer = (a: NonNullable<typeof src>): Peer => {
    const ep = cluster.endpointByAddress(a);
    return ep === undefined ? { kind: 'address', address: a } : { kind: 'endpoint', endpoint: ep, address: a };
  };
  const isIcmp = t.protocol === PROTOCOL.ICMP || t.protocol === PROTOCOL.ICMPV6;
  return {
    src: peer(src),
    dst: peer(dst),
    protocol: t.protocol,
    port: t.dport,
    srcPort: t.sport,
    icmp: isIcmp && t.icmp !== undefined ? { type: t.icmp.type, code: t.icmp.code } : undefined,
    ipVersion: t.family,
  };
}

/**
 * A trace step as the kernel would have recorded it: deciding and passing steps only (a Log
 * rule, a policy that did not match and a tier's default Pass record nothing). Staged steps are
 * kept: the pending trace is made of them.
 */
export function hitOfStep(step: TraceStep): PolicyHit | undefined {
  if (step.reason === 'end-of-tier') {
    if (step.action !== 'deny' || step.kind === null || step.policy === null) return undefined;
    return {
      kind: 'EndOfTier',
      tier: step.tier,
      namespace: null,
      name: null,
      action: 'deny',
      ruleIndex: null,
      trigger: { kind: step.kind as PolicyHitKind, namespace: step.namespace, name: step.policy },
    };
  }
  if (step.action !== 'allow' && step.action !== 'deny' && step.action !== 'pass') return undefined;
  if (step.kind === null || step.policy === null) {
    return { kind: 'NoProfile', tier: null, namespace: null, name: null, action: 'deny', ruleIndex: null, trigger: null };
  }
  return { kind: step.kind as PolicyHitKind, tier: step.tier, namespace: step.namespace, name: step.policy, action: step.action, ruleIndex: step.rule, trigger: null };
}

export function engineHits(d: DirectionDecision | null): PolicyHit[] {
  if (d === null) return [];
  return d.trace.flatMap((s) => {
    const h = hitOfStep(s);
    return h === undefined ? [] : [h];
  });
}

export interface EngineView {
  readonly decision: FlowDecision;
  readonly direction: Direction;
  readonly action: 'allow' | 'deny';
  readonly enforced: PolicyHit[];
  /** With staged policies enforced; empty when no staged policy applies. */
  readonly pending: PolicyHit[];
}

/** The engine's explanation of one direction of a packet, or undefined when it has no say there. */
export function explainDirection(decision: FlowDecision, direction: Direction): EngineView | undefined {
  const d = direction === 'egress' ? decision.egress : decision.ingress;
  if (d === null) return undefined;
  const p = decision.pending === null ? null : direction === 'egress' ? decision.pending.egress : decision.pending.ingress;
  return { decision, direction, action: d.verdict, enforced: engineHits(d), pending: engineHits(p) };
}

export function evaluateTuple(t: Tuple, cluster: Cluster): FlowDecision | undefined {
  const flow = flowOfTuple(t, cluster);
  return flow === undefined ? undefined : evaluateFlow(cluster, flow);
}

/** True when two hit lists name the same steps (tier, policy, rule, action, trigger) in order. */
export function sameHits(a: readonly PolicyHit[], b: readonly PolicyHit[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => JSON.stringify(x) === JSON.stringify(b[i]));
}
