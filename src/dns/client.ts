// A stub resolver for probes: asks one server for a name's A or AAAA record over UDP and follows
// the CNAME chain in the answer (answer.ts rules), so a lab probe to `api.example.test` goes
// through the node's proxy exactly as a workload's libc resolver would.
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { learnFromResponse } from './answer.ts';
import { decodePacket, exchangeUdp } from './wire.ts';
import type { Endpoint } from './wire.ts';

export type Resolution =
  | { readonly ok: true; readonly address: string; readonly chain: readonly string[] }
  | { readonly ok: false; readonly reason: string };

export async function resolveName(server: Endpoint, name: string, family: 4 | 6, timeoutMs: number): Promise<Resolution> {
  const type = family === 4 ? 'A' : 'AAAA';
  const query = { type: 'query' as const, id: randomInt(0, 65_536), flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name } as const] };
  let raw: Buffer;
  try {
    raw = await exchangeUdp(server, dnsPacket.encode(query), timeoutMs);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const response = decodePacket(raw);
  if (typeof response === 'string') return { ok: false, reason: `malformed answer: ${response}` };
  const rcode = (response as { rcode?: unknown }).rcode;
  if (rcode !== undefined && rcode !== 'NOERROR') return { ok: false, reason: `${name}: ${String(rcode)}` };
  // One catch-all binding collects every address on the chain, with the same validation.
  const l = learnFromResponse({ ...query, flag_qr: false, flag_aa: false, flag_tc: false, flag_rd: true, flag_ra: false, flag_z: false, flag_ad: false, flag_cd: false }, response, [
    { set: 'resolve', family, patterns: ['*'] },
  ]);
  if (!l.ok) return { ok: false, reason: l.reason };
  const first = l.learned[0];
  return first === undefined ? { ok: false, reason: `${name}: no ${type} record` } : { ok: true, address: first.address, chain: l.chain };
}
