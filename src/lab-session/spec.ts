// The engine's cluster → the lab's spec, as a pure function: every workload endpoint becomes a
// lab workload on a node, with the addresses the engine holds for it (its manifest addresses, or
// those `buildCluster(…, {podCidr})` assigned), real listeners on its declared ports, and the
// external addresses the flows mention answered by the outside host. The engine and the lab read
// addresses from the same cluster, so they cannot disagree about who is who.
//
//   Cluster (built with the lab's pod CIDR) ──planSessionSpec──► LabSpec + placement
//                                                                 (node of every endpoint)
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import type { Cluster, Endpoint } from '../engine/index.ts';
import { PROTOCOL } from '../engine/index.ts';
import type { LabDnsRecord, LabExternal, LabPort, LabProtocol, LabSpec, LabWorkload } from '../lab/index.ts';
import { canonicalAddress } from '../lab/index.ts';
import { formatIp } from '../net/index.ts';

/** Where lab workloads without manifest addresses get theirs (the engine assigns them). */
export const DEFAULT_POD_CIDR = '10.244.0.0/16';
/** How many nodes endpoints without a node of their own are spread over. */
export const DEFAULT_NODES = 2;
/** What an endpoint that declares no port listens on, so it can still be probed. */
export const DEFAULT_LISTENER: LabPort = { port: 80, protocol: 'TCP' };

export interface SessionSpecOptions {
  readonly labId: string;
  /** Generated nodes `node-1` … `node-N` for endpoints that name none (default 2). */
  readonly nodes?: number;
  /** Extra listeners by endpoint id (ports flows will probe beyond the declared ones). */
  readonly extraPorts?: ReadonlyMap<string, readonly LabPort[]>;
  /** Addresses outside the cluster the outside host must answer for, with their ports. */
  readonly externals?: readonly LabExternal[];
  /** The outside host's DNS records (`lab up --dns`); absent: no DNS in the lab. */
  readonly dns?: readonly LabDnsRecord[];
}

export interface SessionSpec {
  readonly spec: LabSpec;
  /** Node of every lab workload, by endpoint id. */
  readonly placement: ReadonlyMap<string, string>;
  /** Endpoints of the cluster that are not in the lab, with the reason. */
  readonly left: ReadonlyMap<string, string>;
}

export function generatedNodeName(i: number): string {
  return `node-${i + 1}`;
}

function labProtocolOf(n: number): LabProtocol | undefined {
  switch (n) {
    case PROTOCOL.TCP:
      return 'TCP';
    case PROTOCOL.UDP:
      return 'UDP';
    case PROTOCOL.SCTP:
      return 'SCTP';
    default:
      return undefined;
  }
}

function portKey(p: LabPort): string {
  return `${p.port}/${p.protocol}`;
}

function uniquePorts(ports: readonly LabPort[]): LabPort[] {
  const seen = new Map<string, LabPort>();
  for (const p of ports) if (!seen.has(portKey(p))) seen.set(portKey(p), { port: p.port, protocol: p.protocol });
  return [...seen.values()].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

/** The listeners of an endpoint: its declared TCP/UDP/SCTP ports, or the default one. */
export function declaredListeners(ep: Endpoint): LabPort[] {
  const ports: LabPort[] = [];
  for (const p of ep.ports) {
    const protocol = labProtocolOf(p.protocol);
    if (protocol !== undefined && Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535) ports.push({ port: p.port, protocol });
  }
  return ports.length === 0 ? [DEFAULT_LISTENER] : uniquePorts(ports);
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Places every workload endpoint: on the node it names, else round-robin (by sorted id) over
 * the generated nodes. Host endpoints stay out (the dataplane enforces workloads only).
 */
export function planSessionSpec(cluster: Cluster, opts: SessionSpecOptions): Result<SessionSpec> {
  const ds: Diagnostic[] = [];
  const nodeCount = opts.nodes ?? DEFAULT_NODES;
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 64) {
    return fail([{ code: 'lab-session/invalid-nodes', severity: 'error', message: `--nodes ${String(nodeCount)} must be an integer from 1 to 64` }]);
  }
  const generated = Array.from({ length: nodeCount }, (_, i) => generatedNodeName(i));
  const named = new Set<string>();
  const left = new Map<string, string>();
  const workloads = [...cluster.endpoints].filter((ep) => {
    if (ep.kind === 'workload') return true;
    left.set(ep.id, 'a host endpoint: the dataplane enforces workload endpoints only');
    return false;
  });
  workloads.sort((a, b) => compareText(a.id, b.id));
  for (const ep of workloads) if (ep.node !== undefined && ep.node !== '') named.add(ep.node);

  const placement = new Map<string, string>();
  const labWorkloads: LabWorkload[] = [];
  let next = 0;
  for (const ep of workloads) {
    const node = ep.node !== undefined && ep.node !== '' ? ep.node : generated[next++ % generated.length]!;
    const addresses = ep.addresses.map(formatIp);
    if (addresses.length === 0) {
      ds.push({
        code: 'lab-session/no-address',
        severity: 'error',
        message: `endpoint ${ep.id} has no address and none could be assigned`,
        help: 'give it one in the manifest, or a larger --pod-cidr',
      });
      continue;
    }
    placement.set(ep.id, node);
    labWorkloads.push({
      id: ep.id,
      node,
      addresses,
      ports: uniquePorts([...declaredListeners(ep), ...(opts.extraPorts?.get(ep.id) ?? [])]),
    });
  }
  if (ds.length > 0) return fail(ds);

  // Externals must not be workload addresses (the engine would resolve those to the workload).
  const owned = new Set(labWorkloads.flatMap((w) => w.addresses.map((a) => canonicalAddress(a) ?? a)));
  const externals = new Map<string, LabPort[]>();
  for (const e of opts.externals ?? []) {
    const canon = canonicalAddress(e.address);
    if (canon === undefined || owned.has(canon)) continue;
    externals.set(canon, [...(externals.get(canon) ?? []), ...e.ports]);
  }
  const nodes = [...generated, ...[...named].filter((n) => !generated.includes(n)).sort(compareText)];
  return ok({
    spec: {
      labId: opts.labId,
      nodes,
      workloads: labWorkloads,
      externals: [...externals.entries()]
        .sort(([a], [b]) => compareText(a, b))
        .map(([address, ports]) => ({ address, ports: uniquePorts(ports) })),
      ...(opts.dns === undefined ? {} : { dns: opts.dns }),
    },
    placement,
    left,
  });
}
