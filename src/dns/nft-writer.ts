// The proxy's only door to the kernel: puts learned addresses into the node's DNS-learned nft
// sets (declared by the compiled ruleset with `flags timeout`), each with the answer's TTL, in
// one `nft -f -` transaction per answer — before the answer is released to the workload, so its
// first connection already passes. Runs inside the node's network namespace (the proxy process
// was started there), so it needs no `ip netns exec` of its own.
//
// Refreshing: what `add element` does to an existing element's timeout depends on the kernel
// (older ones keep it, newer ones take the new one), so the transaction never relies on either.
// An element that must live longer than it is known to is deleted and added again in the same
// transaction (atomic: no packet sees it missing). One a longer-lived answer already holds is
// added with the time that answer has left — the same timeout whichever way the kernel treats
// the add, and the element back if the table was replaced behind the proxy's back (its memory of
// what the kernel holds may be stale; the transaction never assumes it is not).
import { spawn } from 'node:child_process';
import type { Learned } from './answer.ts';

export interface SetWriter {
  /** Adds every address (no-op for those already held long enough); rejects when nft fails. */
  add(learned: readonly Learned[]): Promise<void>;
}

export interface NftSetWriterOptions {
  /** The `inet` table holding the sets. */
  readonly table: () => string;
  /** Path of nft (default `nft`). */
  readonly nft?: string;
  /** Words before nft's own arguments (e.g. `ip netns exec NS` for a writer outside the namespace). */
  readonly prefix?: readonly string[];
  readonly now?: () => number;
}

const TABLE_RE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const SET_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

function runNft(argv: readonly string[], script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, [...argv.slice(1), '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (err += s));
    child.on('error', (e) => reject(e));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nft: ${err.trim() || `exit ${String(code)}`}`))));
    child.stdin.on('error', () => undefined);
    child.stdin.end(script);
  });
}

/** The transaction that gives `learned` their timeouts, given what is already held (pure). */
export function renderSetAdditions(table: string, learned: readonly Learned[], heldUntil: (set: string, address: string) => number | undefined, now: number): string {
  if (!TABLE_RE.test(table)) throw new Error(`bad table name "${table}"`);
  // One element per (set, address), with the longest TTL asked for (answers batched together).
  const longest = new Map<string, Learned>();
  for (const l of learned) {
    const k = `${l.set}|${l.address}`;
    const prev = longest.get(k);
    if (prev === undefined || prev.ttl < l.ttl) longest.set(k, l);
  }
  const lines: string[] = [];
  for (const l of longest.values()) {
    if (!SET_RE.test(l.set)) throw new Error(`bad set name "${l.set}"`);
    const until = now + l.ttl * 1000;
    const held = heldUntil(l.set, l.address);
    const el = `inet ${table} ${l.set} { ${l.address} timeout ${l.ttl}s }`;
    if (held !== undefined && held >= until) {
      lines.push(`add element inet ${table} ${l.set} { ${l.address} timeout ${Math.max(1, Math.ceil((held - now) / 1000))}s }`);
      continue;
    }
    // add (creates it if absent) → delete → add: the element ends with this timeout either way.
    lines.push(`add element ${el}`, `delete element inet ${table} ${l.set} { ${l.address} }`, `add element ${el}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

export function createNftSetWriter(opts: NftSetWriterOptions): SetWriter {
  const argv = [...(opts.prefix ?? []), opts.nft ?? 'nft'];
  const now = opts.now ?? Date.now;
  const held = new Map<string, number>();
  const key = (set: string, address: string): string => `${set}|${address}`;
  // Answers that arrive while a transaction runs wait for the next one, all together: one nft
  // process per batch, not per answer, and two answers for one address never interleave their
  // delete/add pairs.
  let waiting: { learned: readonly Learned[]; resolve: () => void; reject: (e: Error) => void }[] = [];
  let running = false;
  const write = async (all: readonly Learned[]): Promise<void> => {
    const t = now();
    for (const [k, until] of held) if (until <= t) held.delete(k);
    const script = renderSetAdditions(opts.table(), all, (s, a) => held.get(key(s, a)), t);
    if (script !== '') await runNft(argv, script);
    for (const l of all) {
      const until = t + l.ttl * 1000;
      if ((held.get(key(l.set, l.address)) ?? 0) < until) held.set(key(l.set, l.address), until);
    }
  };
  const flush = async (): Promise<void> => {
    running = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      try {
        await write(batch.flatMap((b) => b.learned));
        for (const b of batch) b.resolve();
      } catch (e) {
        // The transaction is atomic: one answer naming a set the kernel lacks (bindings newer or
        // older than the table) fails all. Each is tried alone, so only that one is refused.
        if (batch.length === 1) batch[0]!.reject(e instanceof Error ? e : new Error(String(e)));
        else {
          for (const b of batch) {
            try {
              await write(b.learned);
              b.resolve();
            } catch (e2) {
              b.reject(e2 instanceof Error ? e2 : new Error(String(e2)));
            }
          }
        }
      }
    }
    running = false;
  };
  return {
    add(learned) {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ learned, resolve, reject });
        if (!running) void flush();
      });
    },
  };
}
