// One flow, two deciders: the engine (`evaluateFlow`) and the compiled IR of the nodes the packet
// crosses (egress on the source's node, ingress on the destination's), run by the nft interpreter.
// Verdicts must agree, and so must the attribution: the comment of the deciding nft rule names
// the policy/rule, end of tier or profile of the engine's decidedBy; and every Log rule the engine
// walked through logged the packet exactly once; and the decisions the rules record in the
// kernel (nflog ids, mapped back with the ruleset's decision table) are the engine's trace steps
// that decide or pass, in order.
import assert from 'node:assert/strict';
import { compileNode, parseProvenance } from '../../src/dataplane/index.ts';
import type { Ruleset } from '../../src/dataplane/index.ts';
import type { Cluster } from '../../src/engine/cluster.ts';
import { evaluateFlow } from '../../src/engine/evaluate.ts';
import type { DecidedBy, Evaluation, TraceStep } from '../../src/engine/evaluate.ts';
import type { Endpoint, Flow, PolicyKind } from '../../src/engine/model.ts';
import { SHORT_KIND } from '../../src/engine/model.ts';
import { formatIp } from '../../src/net/index.ts';
import type { IpAddress } from '../../src/net/index.ts';
import { interfacesOf } from './fixtures.ts';
import { simulate } from './simulate.ts';
import type { Hit, Packet } from './simulate.ts';

/** The interface towards the other nodes and the outside. */
export const UPLINK = 'uplink0';

export interface CompiledNodes {
  readonly cluster: Cluster;
  readonly rulesets: ReadonlyMap<string, Ruleset>;
  readonly nodeOf: ReadonlyMap<string, string>;
  readonly ifnames: ReadonlyMap<string, string>;
}

/** Compiles every node; `nodes` maps a node name to its endpoints. */
export function compileNodes(cluster: Cluster, nodes: ReadonlyMap<string, readonly Endpoint[]>): CompiledNodes {
  const ifnames = interfacesOf(cluster.endpoints);
  const rulesets = new Map<string, Ruleset>();
  const nodeOf = new Map<string, string>();
  for (const [node, eps] of nodes) {
    const r = compileNode(cluster, eps, { interfaces: ifnames });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
    rulesets.set(node, r.value);
    for (const e of eps) nodeOf.set(e.id, node);
  }
  return { cluster, rulesets, nodeOf, ifnames };
}

function pidOf(kind: PolicyKind | 'Profile' | null, namespace: string | null, policy: string | null): string | undefined {
  if (kind === null || policy === null) return undefined;
  if (kind === 'Profile') return `pro/${policy}`;
  const k = SHORT_KIND[kind];
  return namespace === null ? `${k}/${policy}` : `${k}/${namespace}/${policy}`;
}

/** The engine's deciding step, in the words of a rule comment. */
function expectedProvenance(e: Evaluation): string | undefined {
  const d: DecidedBy = e.decidedBy;
  if (d.direction === null) return undefined;
  const pid = pidOf(d.kind, d.namespace, d.policy);
  switch (d.reason) {
    case 'rule':
      return `${pid} ${d.direction} ${d.rule} ${d.action}`;
    case 'end-of-tier':
      return `${pid} ${d.direction} end-of-tier deny tier=${d.tier}`;
    case 'profile':
      return pid === undefined ? `no-profile ${d.direction}` : `${pid} ${d.direction} ${d.rule} ${d.action}`;
    default:
      return undefined;
  }
}

/** The deciding nft rule of a packet's journey, in the same words. */
function actualProvenance(hits: readonly Hit[], verdict: 'accept' | 'drop'): string | undefined {
  for (let i = hits.length - 1; i >= 0; i--) {
    const h = hits[i]!;
    const p = parseProvenance(h.rule.comment);
    if (verdict === 'drop' && h.rule.verdict?.kind === 'drop') {
      if (p.kind === 'no-profile') return `no-profile ${p.direction}`;
      if (p.kind === 'rule' || p.kind === 'end-of-tier') return h.rule.comment;
      return `structure: ${h.rule.comment}`;
    }
    if (verdict === 'accept' && p.kind === 'rule' && p.action === 'allow') return h.rule.comment;
  }
  return undefined;
}

/** What the kernel records for an engine trace step: deciding and passing steps only. */
function recordOfStep(step: TraceStep, dir: 'ingress' | 'egress', endpointId: string): string[] {
  if (step.staged) return [];
  const pid = pidOf(step.kind, step.namespace, step.policy);
  if (step.reason === 'end-of-tier') return step.action === 'deny' ? [`${pid} ${dir} end-of-tier deny tier=${step.tier}`] : [];
  if (step.action !== 'allow' && step.action !== 'deny' && step.action !== 'pass') return [];
  if (pid === undefined) return [`ep/${endpointId} ${dir} no-profile deny`];
  return [`${pid} ${dir} ${step.rule} ${step.action}`];
}

function addressOf(peer: Flow['src']): IpAddress | undefined {
  return peer.kind === 'domain' ? undefined : peer.address;
}

/**
 * Checks one flow; returns the verdict, or undefined when the flow cannot be a packet (a domain
 * name, an endpoint without an address, an endpoint talking to itself, no endpoint at all).
 */
export function checkFlow(c: CompiledNodes, flow: Flow, label: string): 'accept' | 'drop' | undefined {
  const saddr = addressOf(flow.src);
  const daddr = addressOf(flow.dst);
  const srcEp = flow.src.kind === 'endpoint' ? flow.src.endpoint : undefined;
  const dstEp = flow.dst.kind === 'endpoint' ? flow.dst.endpoint : undefined;
  if (saddr === undefined || daddr === undefined || (srcEp === undefined && dstEp === undefined)) return undefined;
  if (srcEp !== undefined && srcEp === dstEp) return undefined; // loopback never reaches forward
  const hasPorts = flow.port !== undefined;
  const base = {
    family: flow.ipVersion,
    saddr,
    daddr,
    l4proto: flow.protocol,
    sport: hasPorts ? (flow.srcPort ?? 40000) : undefined,
    dport: flow.port,
    icmp: flow.icmp,
    ct: 'new' as const,
  };
  // The kernel always sees a source port: give the engine the same one.
  const engineFlow: Flow = hasPorts ? { ...flow, srcPort: base.sport } : flow;
  const engine = evaluateFlow(c.cluster, engineFlow);

  const srcNode = srcEp === undefined ? undefined : c.nodeOf.get(srcEp.id);
  const dstNode = dstEp === undefined ? undefined : c.nodeOf.get(dstEp.id);
  const legs: { node: string; pkt: Packet }[] = [];
  if (srcNode !== undefined) {
    const oif = dstNode === srcNode ? c.ifnames.get(dstEp!.id)! : UPLINK;
    legs.push({ node: srcNode, pkt: { ...base, iifname: c.ifnames.get(srcEp!.id)!, oifname: oif } });
  }
  if (dstNode !== undefined && dstNode !== srcNode) legs.push({ node: dstNode, pkt: { ...base, iifname: UPLINK, oifname: c.ifnames.get(dstEp!.id)! } });

  let verdict: 'accept' | 'drop' = 'accept';
  let hits: readonly Hit[] = [];
  const logs: string[] = [];
  const recorded: string[] = [];
  for (const leg of legs) {
    const rs = c.rulesets.get(leg.node)!;
    const r = simulate(rs, leg.pkt);
    hits = r.hits;
    logs.push(...r.logs);
    const table = new Map(rs.decisions.map((d) => [d.id, d.provenance]));
    recorded.push(...r.records.map((id) => table.get(id) ?? `unknown decision id ${id}`));
    verdict = r.verdict;
    if (verdict === 'drop') break;
  }

  const what = `${label}: ${formatIp(saddr)} → ${formatIp(daddr)} proto ${flow.protocol} sport ${base.sport} dport ${flow.port} icmp ${JSON.stringify(flow.icmp)}`;
  assert.equal(verdict, engine.verdict === 'allow' ? 'accept' : 'drop', `${what}: engine says ${engine.verdict} (${JSON.stringify(engine.decidedBy)})`);
  assert.equal(actualProvenance(hits, verdict), expectedProvenance(engine), `${what}: attribution`);
  const walked = [engine.egress, engine.decidedBy.direction === 'egress' && engine.verdict === 'deny' ? null : engine.ingress];
  const engineLogs: string[] = [];
  for (const d of walked) {
    for (const step of d?.trace ?? []) {
      if (step.action !== 'log') continue;
      engineLogs.push(`${pidOf(step.kind, step.namespace, step.policy)} ${d === engine.egress ? 'egress' : 'ingress'} ${step.rule}`);
    }
  }
  const engineRecords: string[] = [];
  for (const d of walked) {
    if (d === null) continue;
    const dir = d === engine.egress ? 'egress' : 'ingress';
    const ep = dir === 'egress' ? srcEp : dstEp;
    for (const step of d.trace) engineRecords.push(...recordOfStep(step, dir, ep?.id ?? '?'));
  }
  assert.deepEqual(recorded, engineRecords, `${what}: recorded decisions`);
  const nftLogs = logs.map((l) => l.replace(/^strata /, '').replace(/: $/, ''));
  assert.deepEqual(nftLogs.sort(), engineLogs.sort(), `${what}: log rules`);
  return verdict;
}
