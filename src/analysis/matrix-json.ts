// The matrix's machine form (`strata matrix -o json`, the server's /apis/strata/v1/matrix) and
// the PORT[/PROTOCOL] notation both accept, so the CLI and the server print the same JSON.
import type { Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import { parseFlowProtocol, PROTOCOL, protocolName } from '../engine/index.ts';
import type { Matrix, PortSpec } from './matrix.ts';

export interface MatrixCell {
  readonly from: string;
  readonly to: string;
  readonly port: number | null;
  readonly protocol: string;
  readonly verdict: 'allow' | 'deny';
}

export interface MatrixJson {
  readonly endpoints: readonly string[];
  readonly ports: readonly string[];
  readonly results: readonly MatrixCell[];
}

/** `80`, `80/TCP`, `53/udp`, `ICMP`; the error message names what was expected. */
export function parsePortSpecText(text: string): Result<PortSpec> {
  const bad = (message: string): Result<PortSpec> => fail([{ code: 'matrix/invalid-port', severity: 'error', message }]);
  const m = /^(?:(\d+)(?:\/([A-Za-z0-9]+))?|([A-Za-z]+[A-Za-z0-9]*))$/.exec(text.trim());
  if (m === null) return bad(`--port "${text}" is not PORT[/PROTOCOL] (e.g. 80/TCP) or ICMP`);
  if (m[3] !== undefined) {
    const p = parseFlowProtocol(m[3]);
    if (p !== PROTOCOL.ICMP && p !== PROTOCOL.ICMPV6) return bad(`--port "${text}": only ICMP/ICMPv6 may be given without a port`);
    return ok({ protocol: p, port: undefined });
  }
  const port = Number(m[1]);
  if (port < 1 || port > 65535) return bad(`--port "${text}": ${port} is not a port from 1 to 65535`);
  const protocol = parseFlowProtocol(m[2] ?? 'TCP');
  if (protocol === undefined || protocol === PROTOCOL.ICMP || protocol === PROTOCOL.ICMPV6) return bad(`--port "${text}": the protocol must be TCP, UDP or SCTP`);
  return ok({ protocol, port });
}

export function specLabel(s: PortSpec): string {
  return s.port === undefined ? protocolName(s.protocol) : `${s.port}/${protocolName(s.protocol)}`;
}

export function* matrixCells(m: Matrix): Generator<MatrixCell> {
  for (const pm of m.ports) {
    for (let s = 0; s < m.endpoints.length; s++) {
      for (const d of pm.destinations) {
        yield {
          from: m.endpoints[s]!.id,
          to: m.endpoints[d]!.id,
          port: pm.spec.port ?? null,
          protocol: protocolName(pm.spec.protocol),
          verdict: pm.allowed(s, d) ? 'allow' : 'deny',
        };
      }
    }
  }
}

export function matrixJson(m: Matrix): MatrixJson {
  return { endpoints: m.endpoints.map((e) => e.id), ports: m.ports.map((p) => specLabel(p.spec)), results: [...matrixCells(m)] };
}
