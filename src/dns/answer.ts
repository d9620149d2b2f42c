// What one DNS answer teaches the dataplane: the A/AAAA addresses a trusted upstream gave for a
// queried name (following its CNAME chain), each with the TTL it may be trusted for, and the
// DNS-learned nft sets (bindings, from the compiled Ruleset) whose patterns allow one of the names
// on that chain. Pure: packets in, additions out — the proxy (proxy.ts) does the I/O and the
// nft writer (nft-writer.ts) the kernel. It never decides policy: which set stands for which
// patterns is the compiler's word; this module only matches names against them.
//
//   query + response ─validateResponse─► chain: qname → cname₁ → … → owner of A/AAAA
//                      └─ for each address: bindings whose pattern matches a name on its path
import type { Answer, DecodedPacket } from 'dns-packet';
import { isIPv4, isIPv6 } from 'node:net';
import { domainMatches } from '../engine/domains.ts';

/** One DNS-learned nft set and the domain patterns whose answers fill it. */
export interface DomainBinding {
  /** The set's nft name (as rendered: `prefix-readable-hash`). */
  readonly set: string;
  readonly family: 4 | 6;
  /** Exact names and `*` patterns (engine/domains.ts semantics), lower case, no trailing dot. */
  readonly patterns: readonly string[];
}

/** One address to put into one set. */
export interface Learned {
  readonly set: string;
  readonly family: 4 | 6;
  readonly address: string;
  /** Seconds, already clamped to the proxy's bounds. */
  readonly ttl: number;
  /** The name on the chain that a pattern of the set matched (for logs and flow records). */
  readonly name: string;
}

export interface TtlBounds {
  /** A TTL below this is raised to it, so a 0-TTL answer still lets the first connection pass. */
  readonly minSeconds: number;
  /** A TTL above this is lowered to it: a set never trusts an answer for longer. */
  readonly maxSeconds: number;
}

export const DEFAULT_TTL_BOUNDS: TtlBounds = { minSeconds: 2, maxSeconds: 3600 };

/** Longest CNAME chain followed (resolvers use 8–16; longer chains are treated as malformed). */
export const MAX_CHAIN = 16;

export type Learning =
  | { readonly ok: true; readonly learned: readonly Learned[]; readonly chain: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/** DNS names compare case-insensitively and without the root dot. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function rcodeOf(p: DecodedPacket): string {
  // dns-packet decodes the rcode as text but its types omit it.
  const r = (p as DecodedPacket & { rcode?: unknown }).rcode;
  return typeof r === 'string' ? r : 'NOERROR';
}

/**
 * Checks that `response` answers `query` (same id, a response, the same single question) and
 * collects what may be learned from it. A response that does not fit learns nothing, with why.
 */
export function learnFromResponse(
  query: DecodedPacket,
  response: DecodedPacket,
  bindings: readonly DomainBinding[],
  ttl: TtlBounds = DEFAULT_TTL_BOUNDS,
): Learning {
  if (response.type !== 'response') return { ok: false, reason: 'not a response' };
  if (response.id !== query.id) return { ok: false, reason: `id ${String(response.id)} does not match the query's ${String(query.id)}` };
  const q = query.questions?.[0];
  const rq = response.questions?.[0];
  if (q === undefined || (query.questions?.length ?? 0) !== 1) return { ok: false, reason: 'the query must ask exactly one question' };
  if (rq === undefined || (response.questions?.length ?? 0) !== 1 || normalizeName(rq.name) !== normalizeName(q.name) || rq.type !== q.type) {
    return { ok: false, reason: 'the response does not repeat the question' };
  }
  const rcode = rcodeOf(response);
  if (rcode !== 'NOERROR') return { ok: true, learned: [], chain: [normalizeName(q.name)] };

  const answers = response.answers ?? [];
  // The chain: the queried name, then each CNAME target in turn. Records off the chain (a
  // server adding names nobody asked about) are ignored: they are how caches get poisoned.
  const chain: string[] = [normalizeName(q.name)];
  const chainTtl: number[] = [Number.POSITIVE_INFINITY];
  for (;;) {
    const here = chain[chain.length - 1]!;
    const cname = answers.find((a): a is Answer & { type: 'CNAME'; data: string } => a.type === 'CNAME' && normalizeName(a.name) === here);
    if (cname === undefined) break;
    const target = normalizeName(cname.data);
    if (chain.includes(target)) return { ok: false, reason: `CNAME loop at ${target}` };
    if (chain.length > MAX_CHAIN) return { ok: false, reason: `CNAME chain longer than ${MAX_CHAIN}` };
    chain.push(target);
    chainTtl.push(Math.min(chainTtl[chainTtl.length - 1]!, cname.ttl ?? 0));
  }
  const owner = chain[chain.length - 1]!;
  const learned: Learned[] = [];
  for (const a of answers) {
    if ((a.type !== 'A' && a.type !== 'AAAA') || normalizeName(a.name) !== owner) continue;
    const family = a.type === 'A' ? 4 : 6;
    const address = a.data;
    if (typeof address !== 'string' || !(family === 4 ? isIPv4(address) : isIPv6(address))) return { ok: false, reason: `bad ${a.type} record data` };
    // The address is trusted no longer than any link of the chain that led to it.
    const seconds = Math.min(chainTtl[chainTtl.length - 1]!, a.ttl ?? 0);
    const clamped = Math.max(ttl.minSeconds, Math.min(ttl.maxSeconds, Number.isFinite(seconds) ? seconds : 0));
    for (const b of bindings) {
      if (b.family !== family) continue;
      const name = chain.find((n) => b.patterns.some((p) => domainMatches(p, n)));
      if (name === undefined) continue;
      learned.push({ set: b.set, family, address, ttl: Math.floor(clamped), name });
    }
  }
  return { ok: true, learned, chain };
}
