// Observed intervals → FlowRecords (src/flows/record.ts): one record per direction that decided
// on this node — egress as the source's reporter, ingress as the destination's (Calico's
// reporter semantics) — with the kernel's hits as `policies.enforced`, the engine's explanation
// of the same packet beside them, and the mismatch flag.
import type { Cluster, Endpoint } from '../engine/index.ts';
import { PROTOCOL } from '../engine/index.ts';
import { cidrContains, tryParseIp } from '../net/index.ts';
import type { FlowEndpoint, FlowRecord } from '../flows/record.ts';
import { explainDirection, evaluateTuple, kernelHits, sameHits } from './attribute.ts';
import type { DecisionTable } from './attribute.ts';
import type { ObservedInterval } from './join.ts';

const PROTOCOL_TEXT: Readonly<Record<number, string>> = {
  [PROTOCOL.TCP]: 'tcp',
  [PROTOCOL.UDP]: 'udp',
  [PROTOCOL.SCTP]: 'sctp',
  [PROTOCOL.ICMP]: 'icmp',
  [PROTOCOL.ICMPV6]: 'icmpv6',
  [PROTOCOL.UDPLITE]: 'udplite',
};

export function protocolText(p: number): string {
  return PROTOCOL_TEXT[p] ?? String(p);
}

function endpointOf(ep: Endpoint, ip: string): FlowEndpoint {
  return {
    kind: ep.kind === 'host' ? 'HostEndpoint' : 'WorkloadEndpoint',
    namespace: ep.namespace ?? null,
    name: ep.name,
    ip,
    labels: Object.fromEntries(ep.labels),
  };
}

/** Who owns an address: an endpoint, else the most specific (Global)NetworkSet, else a plain network. */
export function describeAddress(cluster: Cluster | undefined, ip: string): FlowEndpoint {
  const a = tryParseIp(ip);
  if (cluster !== undefined && a !== undefined) {
    const ep = cluster.endpointByAddress(a);
    if (ep !== undefined) return endpointOf(ep, ip);
    let best: { prefix: number; entry: Cluster['networkSets'][number] } | undefined;
    for (const ns of cluster.networkSets) {
      for (const c of ns.nets) {
        if (c.family === a.family && cidrContains(c, a) && (best === undefined || c.prefix > best.prefix)) best = { prefix: c.prefix, entry: ns };
      }
    }
    if (best !== undefined) {
      const ns = best.entry;
      return { kind: ns.namespace === undefined ? 'GlobalNetworkSet' : 'NetworkSet', namespace: ns.namespace ?? null, name: ns.name, ip, labels: Object.fromEntries(ns.labels) };
    }
  }
  return { kind: 'Network', namespace: null, name: null, ip, labels: {} };
}

export interface RecordContext {
  readonly node: string;
  readonly table: DecisionTable;
  /** The cluster now; undefined when the collector has none (records then carry no engine view). */
  readonly cluster: Cluster | undefined;
  /** Start of the interval the counters cover (ms). */
  readonly startMs: number;
  readonly endMs: number;
}

export function recordsOf(obs: readonly ObservedInterval[], ctx: RecordContext): FlowRecord[] {
  const out: FlowRecord[] = [];
  const startTime = new Date(ctx.startMs).toISOString();
  const endTime = new Date(ctx.endMs).toISOString();
  for (const o of obs) {
    const decision = ctx.cluster === undefined ? undefined : evaluateTuple(o.tuple, ctx.cluster);
    const source = describeAddress(ctx.cluster, o.tuple.src);
    const destination = describeAddress(ctx.cluster, o.tuple.dst);
    const isIcmp = o.tuple.protocol === PROTOCOL.ICMP || o.tuple.protocol === PROTOCOL.ICMPV6;
    for (const dir of ['egress', 'ingress'] as const) {
      const path = o.paths.get(dir);
      if (path === undefined) continue;
      const enforced = kernelHits(path.decisions, ctx.table, ctx.cluster);
      const engine = decision === undefined ? undefined : explainDirection(decision, dir);
      const mismatch = engine === undefined ? ctx.cluster !== undefined : engine.action !== path.verdict || !sameHits(engine.enforced, enforced);
      // The reporter's own view: egress reports from the source (out = original direction).
      const fromSource = dir === 'egress';
      const packetsOut = fromSource ? o.origPackets : o.replyPackets;
      const packetsIn = fromSource ? o.replyPackets : o.origPackets;
      const bytesOut = fromSource ? o.origBytes : o.replyBytes;
      const bytesIn = fromSource ? o.replyBytes : o.origBytes;
      out.push({
        startTime,
        endTime,
        reporter: fromSource ? 'src' : 'dst',
        node: ctx.node,
        source,
        destination,
        srcPort: isIcmp ? null : (o.tuple.sport ?? null),
        port: isIcmp ? null : (o.tuple.dport ?? null),
        protocol: protocolText(o.tuple.protocol),
        action: path.verdict,
        policies: { enforced, pending: engine?.pending ?? [] },
        engine: engine === undefined ? null : { action: engine.action, enforced: engine.enforced },
        mismatch,
        packets: packetsIn + packetsOut,
        bytes: bytesIn + bytesOut,
        packetsIn,
        packetsOut,
        bytesIn,
        bytesOut,
        connections: o.started ? 1 : 0,
        connectionsCompleted: o.completed ? 1 : 0,
        aggregation: 'none',
      });
    }
  }
  return out;
}
