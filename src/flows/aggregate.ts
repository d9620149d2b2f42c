// Flow record aggregation (pure): Calico's flow log aggregation levels, chosen per action
// (Felix's FlowLogsFileAggregationKindForAllowed / …ForDenied). Records that become equal once
// the level has dropped what it drops are merged: counters summed, the interval widened, labels
// kept where all agree.
//
//   none ──► src-port ──► endpoint-group ──► dst-port        (each drops what the previous kept)
//   5-tuple  src port     addresses; names → group prefix   destination port
import type { Aggregation, FlowEndpoint, FlowRecord } from './record.ts';

export const AGGREGATION_ORDER: readonly Aggregation[] = ['none', 'src-port', 'endpoint-group', 'dst-port'];

/** Level per action. Defaults are Felix's: allowed flows by endpoint group (2), denied by source port (1). */
export interface AggregationPolicy {
  readonly allow: Aggregation;
  readonly deny: Aggregation;
}

export const DEFAULT_AGGREGATION: AggregationPolicy = { allow: 'endpoint-group', deny: 'src-port' };

function rank(a: Aggregation): number {
  return AGGREGATION_ORDER.indexOf(a);
}

/**
 * The group a workload's name belongs to (Calico's `name_aggr`): a ReplicaSet pod's random
 * suffix (`web-7d9f8b6c5-x2x4k` → `web-7d9f8b6c5-*`) or a StatefulSet ordinal (`db-0` → `db-*`)
 * becomes `*`; other names stand for themselves.
 */
export function endpointGroupName(name: string): string {
  const m = /^(.*-)(?:[bcdfghjklmnpqrstvwxz2456789]{5}|\d+)$/.exec(name);
  return m === null ? name : `${m[1]}*`;
}

const PRIVATE_V4: readonly [number, number][] = [
  [0x0a000000, 8],
  [0xac100000, 12],
  [0xc0a80000, 16],
  [0xa9fe0000, 16],
  [0x7f000000, 8],
];

function v4(ip: string): number | undefined {
  const p = ip.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) return undefined;
  return p.reduce((n, x) => n * 256 + Number(x), 0);
}

/** Calico names aggregated plain networks `pvt` (private, link-local, loopback) or `pub`. */
export function networkGroupName(ip: string | null): string {
  if (ip === null) return 'pub';
  const n = v4(ip);
  if (n !== undefined) return PRIVATE_V4.some(([base, len]) => n >>> (32 - len) === base >>> (32 - len)) ? 'pvt' : 'pub';
  const lower = ip.toLowerCase();
  return /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower) || lower === '::1' ? 'pvt' : 'pub';
}

function groupEndpoint(e: FlowEndpoint): FlowEndpoint {
  switch (e.kind) {
    case 'WorkloadEndpoint':
      return { ...e, ip: null, name: e.name === null ? null : endpointGroupName(e.name) };
    case 'Network':
      return { ...e, ip: null, name: networkGroupName(e.ip) };
    case 'HostEndpoint':
    case 'NetworkSet':
    case 'GlobalNetworkSet':
      return { ...e, ip: null };
    default:
      return e.kind satisfies never;
  }
}

/** One record at (at least) `level`: what the level drops is dropped; a coarser record stays as it is. */
export function coarsen(r: FlowRecord, level: Aggregation): FlowRecord {
  const target = rank(level) > rank(r.aggregation) ? level : r.aggregation;
  const n = rank(target);
  return {
    ...r,
    srcPort: n >= 1 ? null : r.srcPort,
    source: n >= 2 ? groupEndpoint(r.source) : r.source,
    destination: n >= 2 ? groupEndpoint(r.destination) : r.destination,
    port: n >= 3 ? null : r.port,
    aggregation: target,
  };
}

function endpointKey(e: FlowEndpoint): unknown[] {
  return [e.kind, e.namespace, e.name, e.ip];
}

/** Everything that identifies an aggregated flow: all but counters, times and labels. */
function keyOf(r: FlowRecord): string {
  return JSON.stringify([
    r.reporter,
    r.node,
    endpointKey(r.source),
    endpointKey(r.destination),
    r.srcPort,
    r.port,
    r.protocol,
    r.action,
    r.policies,
    r.engine,
    r.mismatch,
    r.aggregation,
  ]);
}

function commonLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) if (b[k] === v) out[k] = v;
  return out;
}

function merge(a: FlowRecord, b: FlowRecord): FlowRecord {
  return {
    ...a,
    startTime: a.startTime <= b.startTime ? a.startTime : b.startTime,
    endTime: a.endTime >= b.endTime ? a.endTime : b.endTime,
    source: { ...a.source, labels: commonLabels(a.source.labels, b.source.labels) },
    destination: { ...a.destination, labels: commonLabels(a.destination.labels, b.destination.labels) },
    packets: a.packets + b.packets,
    bytes: a.bytes + b.bytes,
    packetsIn: a.packetsIn + b.packetsIn,
    packetsOut: a.packetsOut + b.packetsOut,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
    connections: a.connections + b.connections,
    connectionsCompleted: a.connectionsCompleted + b.connectionsCompleted,
  };
}

/**
 * Aggregates records at the level their action asks for. Output order: first appearance of each
 * aggregated flow. Times compare as text, which is exact for the RFC 3339 UTC times agents write.
 */
export function aggregateFlows(records: readonly FlowRecord[], policy: AggregationPolicy = DEFAULT_AGGREGATION): FlowRecord[] {
  const byKey = new Map<string, FlowRecord>();
  for (const r of records) {
    const c = coarsen(r, r.action === 'allow' ? policy.allow : policy.deny);
    const k = keyOf(c);
    const prev = byKey.get(k);
    byKey.set(k, prev === undefined ? c : merge(prev, c));
  }
  return [...byKey.values()];
}
