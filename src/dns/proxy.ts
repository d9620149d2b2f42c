// The per-node DNS proxy: workloads send their queries here (the lab: 169.254.1.1:53, their
// gateway); it forwards each to the node's trusted upstreams, learns what the answer allows
// (answer.ts) and writes it to the kernel's DNS-learned sets (SetWriter) *before* it releases
// the answer, so the workload's first connection to the answered address already passes.
//
//   workload ─query─► proxy (UDP/TCP) ─same bytes─► upstream
//                        │ ◄────────── response ──────┘
//                        ├─ decode + validate (never trusts a malformed or mismatched answer)
//                        ├─ learnFromResponse(bindings) ─► SetWriter.add (nft, awaited)
//                        └─ response bytes ─► workload   (SERVFAIL when any step failed)
//
// It decides no policy: the bindings (which set stands for which patterns) come from the compiled
// Ruleset, read anew whenever they change. A name no binding allows is answered all the same —
// the proxy is a resolver, not a filter — but adds nothing, so its addresses stay denied.
import type { DecodedPacket } from 'dns-packet';
import { DEFAULT_TTL_BOUNDS, learnFromResponse } from './answer.ts';
import type { DomainBinding, Learned, TtlBounds } from './answer.ts';
import type { SetWriter } from './nft-writer.ts';
import { decodePacket, errorResponse, exchangeTcp, exchangeUdp, listenDns, RCODE } from './wire.ts';
import type { DnsListener, Endpoint } from './wire.ts';


export interface DnsProxyOptions {
  /** Where to listen, UDP and TCP (port 0: any free port, the same for both). */
  readonly listen: Endpoint;
  /** The trusted upstream servers, tried in order: the next one when one does not answer. */
  readonly upstreams: readonly Endpoint[];
  /** The current bindings (called per answer, so a recompiled ruleset applies at once). */
  readonly bindings: () => readonly DomainBinding[];
  readonly writer: SetWriter;
  readonly ttl?: TtlBounds;
  /** Upstream timeout per query (default 2000 ms). */
  readonly timeoutMs?: number;
  /** One event per query, for logs and tests. */
  readonly onEvent?: (e: ProxyEvent) => void;
}

export type ProxyEvent =
  | { readonly kind: 'answered'; readonly name: string; readonly type: string; readonly transport: 'udp' | 'tcp'; readonly chain: readonly string[]; readonly learned: readonly Learned[] }
  | { readonly kind: 'malformed-query'; readonly transport: 'udp' | 'tcp'; readonly reason: string }
  | { readonly kind: 'failed'; readonly name: string; readonly transport: 'udp' | 'tcp'; readonly reason: string };

export type DnsProxy = DnsListener;

/** Handles one query message; resolves to the bytes to send back, or undefined to stay silent. */
async function answer(opts: DnsProxyOptions, raw: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
  const emit = opts.onEvent ?? ((): void => undefined);
  const query = decodePacket(raw);
  if (typeof query === 'string') {
    // Not even a header to answer to: a resolver drops such a datagram.
    emit({ kind: 'malformed-query', transport, reason: query });
    return undefined;
  }
  const q = query.questions?.[0];
  if (query.type !== 'query' || q === undefined || (query.questions?.length ?? 0) !== 1) {
    emit({ kind: 'malformed-query', transport, reason: 'a query must ask exactly one question' });
    return errorResponse(query, RCODE.FORMERR);
  }
  const fail = (reason: string): Buffer => {
    emit({ kind: 'failed', name: q.name, transport, reason });
    return errorResponse(query, RCODE.SERVFAIL);
  };
  const timeoutMs = opts.timeoutMs ?? 2000;
  let rawResponse: Buffer | undefined;
  const errors: string[] = [];
  // Only a server that does not answer passes the query on: an answer, even a bad one, is that
  // server's word (a trusted server that answers garbage is not second-guessed by asking another).
  for (const upstream of opts.upstreams) {
    try {
      rawResponse = transport === 'udp' ? await exchangeUdp(upstream, raw, timeoutMs) : await exchangeTcp(upstream, raw, timeoutMs);
      break;
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (rawResponse === undefined) return fail(`upstream: ${errors.join('; ') || 'no upstream configured'}`);
  const response = decodePacket(rawResponse);
  if (typeof response === 'string') return fail(`malformed answer from upstream: ${response}`);
  const learning = learnFromResponse(query as DecodedPacket, response, opts.bindings(), opts.ttl ?? DEFAULT_TTL_BOUNDS);
  if (!learning.ok) return fail(`answer rejected: ${learning.reason}`);
  if (learning.learned.length > 0) {
    try {
      await opts.writer.add(learning.learned);
    } catch (e) {
      // Releasing the answer now would let the workload connect before the kernel allows it.
      return fail(`cannot update the sets: ${(e as Error).message}`);
    }
  }
  emit({ kind: 'answered', name: q.name, type: q.type, transport, chain: learning.chain, learned: learning.learned });
  return rawResponse;
}

export async function startDnsProxy(opts: DnsProxyOptions): Promise<DnsProxy> {
  if (opts.upstreams.length === 0) throw new Error('the DNS proxy needs at least one trusted upstream server');
  return listenDns(opts.listen, (m, transport) => answer(opts, m, transport));
}
