// External destinations as matrix columns (`strata matrix --externals`): every (Global)NetworkSet
// and one address outside all of them ("the internet"), each at a representative address, decided
// for every source endpoint and port by the engine's own single-flow evaluation — egress at the
// source is the only direction an external end has.
import type { Cluster, Endpoint, NetworkSetEntry } from '../engine/index.ts';
import { evaluateFlow, makeFlow } from '../engine/index.ts';
import { formatIp, ipv4, ipv6 } from '../net/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';
import type { Matrix, PortSpec } from './matrix.ts';

export interface ExternalColumn {
  /** `NS/NAME` or `NAME` of the network set, or `external` for an address in none. */
  readonly id: string;
  readonly kind: 'NetworkSet' | 'GlobalNetworkSet' | 'external';
  /** Where the column was evaluated. */
  readonly address: string;
}

export interface ExternalCell {
  readonly from: string;
  readonly to: string;
  readonly address: string;
  readonly port: number | null;
  readonly protocol: number;
  readonly verdict: 'allow' | 'deny';
}

export interface ExternalMatrix {
  readonly columns: readonly ExternalColumn[];
  /** Per port of the matrix (ports without a number — ICMP — included), every source × column. */
  readonly ports: readonly { readonly spec: PortSpec; readonly cells: readonly ExternalCell[] }[];
}

/** Documentation ranges (RFC 5737 / RFC 3849): addresses no cluster owns, tried in order. */
const OUTSIDE_CANDIDATES: readonly IpAddress[] = [ipv4(0xcb00710a), ipv4(0xc633640a), ipv4(0xc000020a), ipv6(0x20010db8000000000000000000000010n)];

function hostIn(c: Cidr, offset: number): IpAddress {
  if (c.family === 4) {
    const size = 2 ** (32 - c.prefix);
    return ipv4(c.base + (size > 2 ? Math.min(offset, size - 2) : 0));
  }
  const size = 1n << BigInt(128 - c.prefix);
  return ipv6(c.base + (size > 2n ? BigInt(offset) % (size - 1n) || 1n : 0n));
}

/** An address of the set that no endpoint owns (an owned one would be decided as that endpoint). */
function representative(cluster: Cluster, s: NetworkSetEntry): IpAddress | undefined {
  const cidrs = [...s.nets].sort((a, b) => a.family - b.family);
  for (const c of cidrs) {
    for (let off = 1; off <= 8; off++) {
      const a = hostIn(c, off);
      if (cluster.endpointByAddress(a) === undefined) return a;
    }
  }
  return undefined;
}

export function externalColumns(cluster: Cluster): ExternalColumn[] {
  const out: ExternalColumn[] = [];
  for (const s of [...cluster.networkSets].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const a = representative(cluster, s);
    if (a !== undefined) out.push({ id: s.id, kind: s.namespace === undefined ? 'GlobalNetworkSet' : 'NetworkSet', address: formatIp(a) });
  }
  const outside = OUTSIDE_CANDIDATES.find((a) => cluster.networkSetsContaining(a).length === 0 && cluster.endpointByAddress(a) === undefined);
  if (outside !== undefined) out.push({ id: 'external', kind: 'external', address: formatIp(outside) });
  return out;
}

/** Decides every (source endpoint, external column, port) of the matrix's ports. */
export function computeExternals(cluster: Cluster, m: Matrix, sources: readonly Endpoint[] = m.endpoints): ExternalMatrix {
  const columns = externalColumns(cluster);
  const ports = m.ports.map(({ spec }) => {
    const cells: ExternalCell[] = [];
    for (const src of sources) {
      for (const col of columns) {
        const flow = makeFlow(cluster, { from: src.id, to: col.address, port: spec.port, protocol: spec.protocol });
        // A family the source has no address in cannot reach the column: it is not a flow.
        if (!flow.ok) continue;
        const verdict = evaluateFlow(cluster, flow.value).verdict;
        cells.push({ from: src.id, to: col.id, address: col.address, port: spec.port ?? null, protocol: spec.protocol, verdict });
      }
    }
    return { spec, cells };
  });
  return { columns, ports };
}
