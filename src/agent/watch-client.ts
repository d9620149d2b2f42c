// The agent's connection to the API server: list the node's view, then watch it from the list's
// resourceVersion, resuming after the last revision seen when the stream ends, listing again on
// 410 Gone; while the server cannot be reached, retry with capped, jittered exponential backoff
// and say so (the sync loop keeps the kernel as it is: fail-static).
//
//   GET /apis/strata/v1/nodeviews/NODE ─► {items, resourceVersion} ─► onSnapshot (replace all)
//   GET …?watch=true&resourceVersion=RV ─► ADDED/MODIFIED/DELETED ─► onEvents (batched per chunk)
//                                        BOOKMARK ─► onRevision · ERROR 410 ─► list again
import { z } from 'zod';

export interface ServerTarget {
  /** Base URL, e.g. http://127.0.0.1:8001. */
  readonly server: string;
  readonly token: string | undefined;
}

export type ViewObject = Record<string, unknown>;

export interface ViewEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: ViewObject;
}

export interface WatchHandlers {
  /** The whole view at `revision` (first list, and every re-list after 410). */
  onSnapshot(items: readonly ViewObject[], revision: number): void;
  /** Events of one stream chunk, in order; `revision` is the newest among them. */
  onEvents(events: readonly ViewEvent[], revision: number): void;
  /** A bookmark: nothing changed in the view up to `revision`. */
  onRevision(revision: number): void;
  /** The server answered (true) or could not be reached / the stream broke (false, with why). */
  onConnection(up: boolean, error?: string): void;
}

export interface BackoffOptions {
  /** First retry delay. Default 200 ms. */
  readonly initialMs?: number;
  /** Cap. Default 10 s. */
  readonly maxMs?: number;
}

/** Full jitter (AWS's "exponential backoff and jitter"): uniform in [cap/2, cap] of 2^n·initial. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = opts.initialMs ?? 200;
  const max = opts.maxMs ?? 10_000;
  const cap = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}

const listSchema = z.object({
  metadata: z.object({ resourceVersion: z.string().regex(/^\d+$/) }),
  items: z.array(z.record(z.string(), z.unknown())),
});

const eventSchema = z.object({
  type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']),
  object: z.record(z.string(), z.unknown()),
});

/** A failure that means "list again" (410), not "the server is gone". */
class GoneError extends Error {}

function revisionOf(o: Readonly<Record<string, unknown>>): number {
  const m = o['metadata'];
  const rv = typeof m === 'object' && m !== null ? (m as { resourceVersion?: unknown }).resourceVersion : undefined;
  return typeof rv === 'string' && /^\d+$/.test(rv) ? Number(rv) : 0;
}

function headers(t: ServerTarget): Record<string, string> {
  return { accept: 'application/json', ...(t.token === undefined ? {} : { authorization: `Bearer ${t.token}` }) };
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}

export interface ViewWatcher {
  /** Ends the loop (and the open stream). */
  stop(): void;
  /** Resolves when the loop has ended. */
  readonly done: Promise<void>;
}

export interface WatchViewOptions extends BackoffOptions {
  readonly target: ServerTarget;
  readonly node: string;
  readonly handlers: WatchHandlers;
  /** A stream silent for this long (no event, no bookmark) is considered dead. Default 60 s. */
  readonly idleTimeoutMs?: number;
}

/** Runs list+watch until stopped. Never throws: every failure is a retry. */
export function watchNodeView(opts: WatchViewOptions): ViewWatcher {
  const base = `${opts.target.server.replace(/\/+$/, '')}/apis/strata/v1/nodeviews/${encodeURIComponent(opts.node)}`;
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  let stopped = false;
  let current: AbortController | undefined;
  let wake: (() => void) | undefined;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        resolve();
      };
    });

  const list = async (): Promise<number> => {
    current = new AbortController();
    const res = await fetch(base, { headers: headers(opts.target), signal: current.signal });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`list: HTTP ${res.status}: ${text.slice(0, 300)}`);
    const parsed = listSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`list: unexpected body: ${parsed.error.issues[0]?.message ?? ''}`);
    const rv = Number(parsed.data.metadata.resourceVersion);
    opts.handlers.onConnection(true);
    opts.handlers.onSnapshot(parsed.data.items, rv);
    return rv;
  };

  /** Streams from `rv`; returns the last revision seen when the stream ends normally. */
  const watch = async (rv: number): Promise<number> => {
    current = new AbortController();
    const ac = current;
    let idle = setTimeout(() => ac.abort(new Error(`no event or bookmark for ${idleMs} ms`)), idleMs);
    const touch = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => ac.abort(new Error(`no event or bookmark for ${idleMs} ms`)), idleMs);
    };
    try {
      const res = await fetch(`${base}?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, { headers: headers(opts.target), signal: ac.signal });
      if (res.status === 410) throw new GoneError('410 Gone');
      if (res.status !== 200 || res.body === null) throw new Error(`watch: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
      opts.handlers.onConnection(true);
      let last = rv;
      let buffer = '';
      const decoder = new TextDecoder();
      for await (const chunk of res.body) {
        touch();
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        const batch: ViewEvent[] = [];
        const flush = (): void => {
          if (batch.length === 0) return;
          opts.handlers.onEvents(batch.splice(0), last);
        };
        for (const line of lines) {
          if (line.trim() === '') continue;
          const parsed = eventSchema.safeParse(JSON.parse(line));
          if (!parsed.success) throw new Error(`watch: unexpected event: ${line.slice(0, 200)}`);
          const e = parsed.data;
          if (e.type === 'ERROR') {
            const code = (e.object as { code?: unknown }).code;
            flush();
            if (code === 410) throw new GoneError(String((e.object as { message?: unknown }).message ?? '410'));
            throw new Error(`watch: server error: ${String((e.object as { message?: unknown }).message ?? code)}`);
          }
          last = Math.max(last, revisionOf(e.object));
          if (e.type === 'BOOKMARK') {
            flush();
            opts.handlers.onRevision(last);
            continue;
          }
          batch.push({ type: e.type, object: e.object });
        }
        flush();
      }
      return last;
    } finally {
      clearTimeout(idle);
    }
  };

  const done = (async (): Promise<void> => {
    let rv: number | undefined;
    let attempt = 0;
    while (!stopped) {
      try {
        if (rv === undefined) rv = await list();
        rv = await watch(rv);
        attempt = 0;
        // The server ended the stream (timeout, restart): resume from the last revision seen.
      } catch (e) {
        if (stopped) break;
        if (e instanceof GoneError) {
          rv = undefined;
          continue;
        }
        opts.handlers.onConnection(false, describe(e));
        await sleep(backoffDelay(attempt++, opts));
      }
    }
  })();

  return {
    stop() {
      stopped = true;
      current?.abort();
      wake?.();
    },
    done,
  };
}
