// A small authoritative DNS server: the lab's outside host runs one, answering from `lab up
// --dns NAME=IP` (A/AAAA) and `NAME=other.name` (CNAME) records, so a workload's query travels
// workload → node proxy → outside host like a real one. Follows CNAME chains within its own
// records (as an authoritative server does for in-zone targets); unknown names get NXDOMAIN.
// Built with the same DNS library as the proxy; UDP and TCP.
import dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import { normalizeName } from './answer.ts';
import { decodePacket, errorResponse, listenDns, RCODE } from './wire.ts';
import type { DnsListener, Endpoint } from './wire.ts';

export interface DnsRecord {
  /** Owner name (lower case, no trailing dot). */
  readonly name: string;
  readonly type: 'A' | 'AAAA' | 'CNAME';
  /** An address (A, AAAA) or a target name (CNAME). */
  readonly data: string;
  /** Seconds (default 30). */
  readonly ttl?: number | undefined;
}

export type DnsServer = DnsListener;

export const DEFAULT_RECORD_TTL = 30;

/** The response to one query message from `records`, or undefined for garbage (pure). */
export function respond(records: readonly DnsRecord[], raw: Buffer): Buffer | undefined {
  const query = decodePacket(raw);
  if (typeof query === 'string') return undefined;
  const q = query.questions?.[0];
  if (query.type !== 'query' || q === undefined || (query.questions?.length ?? 0) !== 1) return errorResponse(query, RCODE.FORMERR);
  const answers: Answer[] = [];
  let name = normalizeName(q.name);
  const seen = new Set<string>();
  for (;;) {
    if (seen.has(name)) break; // a loop in the records: answer what was found so far
    seen.add(name);
    const cname = records.find((r) => r.type === 'CNAME' && r.name === name);
    if (cname === undefined || q.type === 'CNAME') break;
    answers.push({ type: 'CNAME', name, ttl: cname.ttl ?? DEFAULT_RECORD_TTL, data: cname.data });
    name = cname.data;
  }
  for (const r of records) {
    if (r.name === name && r.type === q.type) answers.push({ type: r.type, name, ttl: r.ttl ?? DEFAULT_RECORD_TTL, data: r.data });
  }
  const known = records.some((r) => seen.has(r.name));
  return dnsPacket.encode({
    type: 'response',
    id: query.id ?? 0,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | (known ? RCODE.NOERROR : RCODE.NXDOMAIN),
    questions: [q],
    answers,
  });
}

export async function startDnsServer(listen: Endpoint, records: readonly DnsRecord[]): Promise<DnsServer> {
  return listenDns(listen, async (m) => respond(records, m));
}
