// Turning a user's flow description (`--from ns/a --to 10.0.0.1 --port 80 --protocol TCP`, or a
// JSON line of a batch) into an engine Flow: endpoints resolved by id or by address, one address
// family chosen for the whole flow, protocol names and ICMP defaults applied.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { didYouMean, fail, ok } from '../diagnostics/index.ts';
import { formatIp, parseIp } from '../net/index.ts';
import type { IpAddress } from '../net/index.ts';
import type { Cluster } from './cluster.ts';
import type { Endpoint, Flow, Peer } from './model.ts';
import { PROTOCOL } from './model.ts';

export interface FlowRequest {
  readonly from: string;
  readonly to: string;
  readonly port?: number | undefined;
  readonly protocol?: string | number | undefined;
  readonly srcPort?: number | undefined;
  readonly icmpType?: number | undefined;
  readonly icmpCode?: number | undefined;
}

const PROTOCOL_NAMES: Readonly<Record<string, number>> = {
  tcp: PROTOCOL.TCP,
  udp: PROTOCOL.UDP,
  sctp: PROTOCOL.SCTP,
  icmp: PROTOCOL.ICMP,
  icmpv6: PROTOCOL.ICMPV6,
  udplite: PROTOCOL.UDPLITE,
};

export function protocolName(n: number): string {
  switch (n) {
    case PROTOCOL.TCP:
      return 'TCP';
    case PROTOCOL.UDP:
      return 'UDP';
    case PROTOCOL.SCTP:
      return 'SCTP';
    case PROTOCOL.ICMP:
      return 'ICMP';
    case PROTOCOL.ICMPV6:
      return 'ICMPv6';
    case PROTOCOL.UDPLITE:
      return 'UDPLite';
    default:
      return String(n);
  }
}

export function parseFlowProtocol(p: string | number | undefined): number | undefined {
  if (p === undefined) return PROTOCOL.TCP;
  if (typeof p === 'number') return Number.isInteger(p) && p >= 1 && p <= 255 ? p : undefined;
  const named = PROTOCOL_NAMES[p.toLowerCase()];
  if (named !== undefined) return named;
  return /^\d+$/.test(p) ? parseFlowProtocol(Number(p)) : undefined;
}

const DOMAIN = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*\.?$/;

type Resolved =
  | { readonly kind: 'endpoint'; readonly endpoint: Endpoint; readonly fixed: IpAddress | undefined }
  | { readonly kind: 'address'; readonly address: IpAddress }
  | { readonly kind: 'domain'; readonly domain: string };

function resolve(cluster: Cluster, text: string, role: 'from' | 'to'): Result<Resolved> {
  const ep = cluster.endpoint(text);
  if (ep !== undefined) return ok({ kind: 'endpoint', endpoint: ep, fixed: undefined });
  const ip = parseIp(text);
  if (ip.ok) {
    const owner = cluster.endpointByAddress(ip.value);
    return ok(owner === undefined ? { kind: 'address', address: ip.value } : { kind: 'endpoint', endpoint: owner, fixed: ip.value });
  }
  if (!text.includes('/') && !text.startsWith('hep:') && DOMAIN.test(text)) {
    if (role === 'to') return ok({ kind: 'domain', domain: text.toLowerCase().replace(/\.$/, '') });
    return fail([{ code: 'flow/domain-source', severity: 'error', message: `--from must be an endpoint or an address, not a domain name ("${text}")` }]);
  }
  const ids = [...cluster.endpoints].map((e) => e.id);
  const hint = didYouMean(text, ids);
  const d: Diagnostic = {
    code: 'flow/unknown-endpoint',
    severity: 'error',
    message: `--${role} "${text}" is not a known endpoint (NAMESPACE/NAME of a pod or workload, hep:NAME), an IP address${role === 'to' ? ' or a domain name' : ''}`,
    ...(hint === undefined ? {} : { help: hint }),
  };
  return fail([d]);
}

/**
 * Fields that cannot be on the wire (a source port of 99999, ICMP type 300) or that the protocol
 * has no place for (a port on ICMP): an error rather than a silent drop, so the flow explained is
 * the flow the user meant.
 */
function rangeProblems(req: FlowRequest, protocol: number | undefined, hasPorts: boolean): Diagnostic[] {
  const out: Diagnostic[] = [];
  const bad = (code: string, message: string): void => void out.push({ code, severity: 'error', message });
  const inRange = (v: number, lo: number, hi: number): boolean => Number.isInteger(v) && v >= lo && v <= hi;
  if (req.srcPort !== undefined && !inRange(req.srcPort, 1, 65535)) bad('flow/invalid-port', `source port ${req.srcPort} is not an integer from 1 to 65535`);
  if (req.icmpType !== undefined && !inRange(req.icmpType, 0, 255)) bad('flow/invalid-icmp', `ICMP type ${req.icmpType} is not an integer from 0 to 255`);
  if (req.icmpCode !== undefined && !inRange(req.icmpCode, 0, 255)) bad('flow/invalid-icmp', `ICMP code ${req.icmpCode} is not an integer from 0 to 255`);
  if (protocol === undefined) return out;
  const isIcmp = protocol === PROTOCOL.ICMP || protocol === PROTOCOL.ICMPV6;
  const name = protocolName(protocol);
  if (!hasPorts && req.port !== undefined) bad('flow/port-without-ports', `${name} has no ports: drop the port (${isIcmp ? 'use --icmp-type/--icmp-code for ICMP' : 'or use TCP, UDP, SCTP or UDPLite'})`);
  if (!hasPorts && req.srcPort !== undefined) bad('flow/port-without-ports', `${name} has no ports: drop the source port`);
  if (!isIcmp && (req.icmpType !== undefined || req.icmpCode !== undefined)) bad('flow/icmp-without-icmp', `an ICMP type or code needs protocol ICMP or ICMPv6, not ${name}`);
  return out;
}

function familyOf(a: IpAddress): 4 | 6 {
  return a.family;
}

function pickAddress(ep: Endpoint, family: 4 | 6 | undefined): IpAddress | undefined {
  if (family !== undefined) return ep.addresses.find((a) => familyOf(a) === family);
  return ep.addresses.find((a) => familyOf(a) === 4) ?? ep.addresses[0];
}

export function makeFlow(cluster: Cluster, req: FlowRequest): Result<Flow> {
  const diags: Diagnostic[] = [];
  const src = resolve(cluster, req.from, 'from');
  const dst = resolve(cluster, req.to, 'to');
  if (!src.ok) diags.push(...src.diagnostics);
  if (!dst.ok) diags.push(...dst.diagnostics);
  const protocol = parseFlowProtocol(req.protocol);
  if (protocol === undefined) {
    diags.push({ code: 'flow/invalid-protocol', severity: 'error', message: `protocol "${String(req.protocol)}" is not TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or a number 1–255` });
  }
  const hasPorts = protocol === PROTOCOL.TCP || protocol === PROTOCOL.UDP || protocol === PROTOCOL.SCTP || protocol === PROTOCOL.UDPLITE;
  if (req.port !== undefined && hasPorts && (!Number.isInteger(req.port) || req.port < 1 || req.port > 65535)) {
    diags.push({ code: 'flow/invalid-port', severity: 'error', message: `port ${req.port} is not an integer from 1 to 65535` });
  } else if (hasPorts && req.port === undefined) {
    diags.push({ code: 'flow/missing-port', severity: 'error', message: `a ${protocolName(protocol!)} flow needs a destination port (--port N)` });
  }
  diags.push(...rangeProblems(req, protocol, hasPorts));
  if (!src.ok || !dst.ok || protocol === undefined || diags.length > 0) return fail(diags);

  // One family for the flow: fixed by any literal address, else IPv4 when both ends have it.
  const fixedFamily = (r: Resolved): 4 | 6 | undefined =>
    r.kind === 'address' ? familyOf(r.address) : r.kind === 'endpoint' && r.fixed !== undefined ? familyOf(r.fixed) : undefined;
  const f1 = fixedFamily(src.value);
  const f2 = fixedFamily(dst.value);
  if (f1 !== undefined && f2 !== undefined && f1 !== f2) {
    return fail([{ code: 'flow/mixed-families', severity: 'error', message: `--from ${req.from} is IPv${f1} but --to ${req.to} is IPv${f2}` }]);
  }
  let family = f1 ?? f2;
  if (family === undefined) {
    const has = (r: Resolved, fam: 4 | 6): boolean => r.kind !== 'endpoint' || r.endpoint.addresses.length === 0 || r.endpoint.addresses.some((a) => familyOf(a) === fam);
    family = has(src.value, 4) && has(dst.value, 4) ? 4 : has(src.value, 6) && has(dst.value, 6) ? 6 : 4;
  }
  const peer = (r: Resolved): Peer => {
    switch (r.kind) {
      case 'endpoint':
        return { kind: 'endpoint', endpoint: r.endpoint, address: r.fixed ?? pickAddress(r.endpoint, family) };
      case 'address':
        return { kind: 'address', address: r.address };
      case 'domain':
        return { kind: 'domain', domain: r.domain };
    }
  };
  // "ICMP" means the family's ICMP: echo over IPv6 is ICMPv6.
  const proto = protocol === PROTOCOL.ICMP && family === 6 ? PROTOCOL.ICMPV6 : protocol === PROTOCOL.ICMPV6 && family === 4 ? PROTOCOL.ICMP : protocol;
  const isIcmp = proto === PROTOCOL.ICMP || proto === PROTOCOL.ICMPV6;
  return ok({
    src: peer(src.value),
    dst: peer(dst.value),
    protocol: proto,
    port: hasPorts ? req.port : undefined,
    srcPort: req.srcPort,
    icmp: isIcmp ? { type: req.icmpType ?? (proto === PROTOCOL.ICMP ? 8 : 128), code: req.icmpCode ?? 0 } : undefined,
    ipVersion: family,
  });
}

export function describePeer(p: Peer): string {
  switch (p.kind) {
    case 'endpoint':
      return p.endpoint.id;
    case 'address':
      return formatIp(p.address);
    case 'domain':
      return p.domain;
  }
}
