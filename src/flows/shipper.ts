// The agent's side of flow shipping: records go into a bounded on-disk spool (one SQLite file)
// as numbered batches before anything is sent, and leave it only when the server has answered
// for them. Every batch carries `{agent, boot, seq}` fixed when it was spooled, so a batch resent
// after a lost answer, a reconnect or an agent restart is stored once (the server keeps the
// highest seq per agent boot). When the spool is full the oldest batch is dropped and counted.
//
//   ship(records) ──▶ spool (batches of ≤ maxBatchRecords, fsynced) ──▶ pump ──send──▶ server
//                                                     ▲                  │ retry: capped, jittered backoff
//                                                     └── new instance replays what is left
import { randomUUID } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import type { FlowBatch, FlowRecord } from './record.ts';

/** What one send attempt came to. `retry: false` means the server will never take this batch (a 400). */
export type SendResult =
  | { readonly ok: true; readonly accepted: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly retry: boolean; readonly message: string };

export type Transport = (batch: FlowBatch, signal: AbortSignal) => Promise<SendResult>;

export interface ShipperOptions {
  /** The spool file (created if missing). */
  readonly spoolPath: string;
  /** The agent's name (its node): the first part of every batch identity. */
  readonly agent: string;
  readonly send: Transport;
  /** Spool bound in bytes of batch JSON (default 64 MiB). */
  readonly maxSpoolBytes?: number | undefined;
  /** Records per batch (default 1,000: a batch stays well under the server's 3 MiB body limit). */
  readonly maxBatchRecords?: number | undefined;
  /** First retry delay, ms (default 250). */
  readonly initialBackoffMs?: number | undefined;
  /** Retry delay cap, ms (default 30 s). */
  readonly maxBackoffMs?: number | undefined;
  /** [0, 1) source for the jitter (tests may fix it). */
  readonly random?: (() => number) | undefined;
  readonly log?: ((message: string) => void) | undefined;
}

export interface ShipperStats {
  readonly agent: string;
  readonly boot: string;
  readonly spooled: { readonly batches: number; readonly records: number; readonly bytes: number };
  /** Batches/records the server has answered for (stored, or already stored). */
  readonly sent: { readonly batches: number; readonly records: number };
  readonly duplicateBatches: number;
  /** Records dropped because the spool was full (oldest first). Kept in the spool file across restarts. */
  readonly droppedRecords: number;
  /** Records the server refused for good (400): dropped, not retried. */
  readonly rejectedRecords: number;
  readonly retries: number;
  readonly lastError: string | null;
}

export interface Shipper {
  /** Spools the records (durably) as one or more batches; sending happens in the background. */
  ship(records: readonly FlowRecord[]): void;
  /** Resolves true once the spool is empty, false when `timeoutMs` passes first. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Stops sending (an in-flight send is aborted; its batch stays spooled) and closes the spool. */
  close(): Promise<void>;
  stats(): ShipperStats;
}

const SPOOL_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY, records INTEGER NOT NULL, bytes INTEGER NOT NULL, body TEXT NOT NULL) STRICT;
`;

const sumSchema = z.object({ n: z.number().nullable(), r: z.number().nullable(), b: z.number().nullable() });
const rowSchema = z.object({ id: z.number(), records: z.number(), bytes: z.number(), body: z.string() });

/**
 * Capped exponential backoff with jitter in its upper half: agents that lost the server together
 * do not come back in step, and a retry never waits more than the cap. `r` is in [0, 1).
 */
export function retryDelayMs(attempt: number, initialMs: number, capMs: number, r: number): number {
  const ceiling = Math.min(capMs, initialMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + (r * ceiling) / 2;
}

export function openShipper(opts: ShipperOptions): Shipper {
  const maxBytes = opts.maxSpoolBytes ?? 64 * 1024 * 1024;
  const maxBatch = Math.max(1, opts.maxBatchRecords ?? 1000);
  const initialMs = opts.initialBackoffMs ?? 250;
  const capMs = opts.maxBackoffMs ?? 30_000;
  const random = opts.random ?? Math.random;
  const log = opts.log ?? (() => undefined);
  const db = new DatabaseSync(opts.spoolPath);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA busy_timeout = 2000');
  db.exec(SPOOL_SCHEMA);
  const getMeta = db.prepare('SELECT v FROM meta WHERE k = ?');
  const setMeta = db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v');
  const owner = (getMeta.get('agent') as { v: string } | undefined)?.v;
  if (owner !== undefined && owner !== opts.agent) {
    db.close();
    throw new Error(`${opts.spoolPath}: the spool belongs to agent "${owner}", not "${opts.agent}"`);
  }
  setMeta.run('agent', opts.agent);
  const insert = db.prepare('INSERT INTO spool (records, bytes, body) VALUES (?, ?, ?)');
  const oldest = db.prepare('SELECT id, records, bytes, body FROM spool ORDER BY id LIMIT 1');
  const oldestExcept = db.prepare('SELECT id, records, bytes, body FROM spool WHERE id <> ? ORDER BY id LIMIT 1');
  const remove = db.prepare('DELETE FROM spool WHERE id = ?');
  const exists = db.prepare('SELECT 1 AS x FROM spool WHERE id = ?');

  const boot = randomUUID();
  let seq = 0;
  const sum = sumSchema.parse(db.prepare('SELECT count(*) AS n, sum(records) AS r, sum(bytes) AS b FROM spool').get());
  const spooled = { batches: sum.n ?? 0, records: sum.r ?? 0, bytes: sum.b ?? 0 };
  let dropped = Number((getMeta.get('dropped') as { v: string } | undefined)?.v ?? '0');
  const counts = { sentBatches: 0, sentRecords: 0, duplicate: 0, rejected: 0, retries: 0 };
  let lastError: string | null = null;
  let closed = false;
  let inFlight: number | undefined;
  let pumping: Promise<void> | undefined;
  const abort = new AbortController();
  let wake: (() => void) | undefined;
  const waiters = new Set<() => void>();

  const settleWaiters = (): void => {
    if (spooled.batches > 0) return;
    for (const w of waiters) w();
    waiters.clear();
  };

  const removeRow = (row: z.output<typeof rowSchema>): void => {
    remove.run(row.id);
    spooled.batches--;
    spooled.records -= row.records;
    spooled.bytes -= row.bytes;
  };

  const dropOldest = (): boolean => {
    const raw = inFlight === undefined ? oldest.get() : oldestExcept.get(inFlight);
    if (raw === undefined) return false;
    const row = rowSchema.parse(raw);
    removeRow(row);
    dropped += row.records;
    return true;
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      // A forgotten shipper's backoff must not keep a process alive on its own.
      t.unref();
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        resolve();
      };
    });

  async function pump(): Promise<void> {
    let attempt = 0;
    while (!closed) {
      const raw = oldest.get();
      if (raw === undefined) {
        settleWaiters();
        return;
      }
      const row = rowSchema.parse(raw);
      inFlight = row.id;
      let result: SendResult;
      try {
        result = await opts.send(JSON.parse(row.body) as FlowBatch, abort.signal);
      } catch (e) {
        result = { ok: false, retry: true, message: (e as Error).message };
      }
      inFlight = undefined;
      if (closed) return;
      // The row may have been dropped meanwhile (spool full): then there is nothing to remove.
      const still = exists.get(row.id) !== undefined;
      if (result.ok) {
        attempt = 0;
        counts.sentBatches++;
        counts.sentRecords += row.records;
        if (result.duplicate) counts.duplicate++;
        if (still) removeRow(row);
        continue;
      }
      lastError = result.message;
      if (!result.retry) {
        log(`flow shipper: the server refused a batch of ${row.records} records for good: ${result.message}`);
        counts.rejected += row.records;
        if (still) removeRow(row);
        attempt = 0;
        continue;
      }
      counts.retries++;
      await sleep(retryDelayMs(attempt++, initialMs, capMs, random()));
    }
  }

  const kick = (): void => {
    if (closed) return;
    if (pumping === undefined) {
      pumping = pump()
        .catch((e: unknown) => {
          lastError = (e as Error).message;
          log(`flow shipper: ${(e as Error).message}`);
        })
        .finally(() => {
          pumping = undefined;
          if (!closed && spooled.batches > 0 && oldest.get() !== undefined) kick();
        });
    }
  };

  kick();

  return {
    ship(records) {
      if (closed) throw new Error('flow shipper: ship after close');
      if (records.length === 0) return;
      db.exec('BEGIN IMMEDIATE');
      try {
        for (let i = 0; i < records.length; i += maxBatch) {
          const chunk = records.slice(i, i + maxBatch);
          const batch: FlowBatch = { agent: opts.agent, boot, seq: seq++, records: [...chunk] };
          const body = JSON.stringify(batch);
          const bytes = Buffer.byteLength(body);
          if (bytes > maxBytes) {
            dropped += chunk.length;
            continue;
          }
          while (spooled.bytes + bytes > maxBytes && dropOldest()) {
            // dropped the oldest batch to make room
          }
          insert.run(chunk.length, bytes, body);
          spooled.batches++;
          spooled.records += chunk.length;
          spooled.bytes += bytes;
        }
        setMeta.run('dropped', String(dropped));
        db.exec('COMMIT');
      } catch (e) {
        db.exec('ROLLBACK');
        // Re-read the totals the rolled-back transaction changed.
        const s = sumSchema.parse(db.prepare('SELECT count(*) AS n, sum(records) AS r, sum(bytes) AS b FROM spool').get());
        spooled.batches = s.n ?? 0;
        spooled.records = s.r ?? 0;
        spooled.bytes = s.b ?? 0;
        throw e;
      }
      // A pump waiting out a backoff keeps waiting: new records do not make a down server come back.
      kick();
    },

    flush(timeoutMs = 30_000) {
      if (spooled.batches === 0) return Promise.resolve(true);
      wake?.();
      kick();
      return new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          resolve(true);
        };
        const t = setTimeout(() => {
          waiters.delete(done);
          resolve(false);
        }, timeoutMs);
        waiters.add(done);
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      abort.abort();
      wake?.();
      await pumping;
      for (const w of waiters) w();
      waiters.clear();
      db.close();
    },

    stats() {
      return {
        agent: opts.agent,
        boot,
        spooled: { ...spooled },
        sent: { batches: counts.sentBatches, records: counts.sentRecords },
        duplicateBatches: counts.duplicate,
        droppedRecords: dropped,
        rejectedRecords: counts.rejected,
        retries: counts.retries,
        lastError,
      };
    },
  };
}

const ingestAnswerSchema = z.object({ accepted: z.number().int().nonnegative(), duplicate: z.boolean() });

export interface HttpTransportOptions {
  /** The server's base URL, e.g. `https://strata:8001`. */
  readonly server: string;
  readonly token?: string | undefined;
  /** Per-request deadline (default 15 s). */
  readonly timeoutMs?: number | undefined;
}

/** POST /apis/strata/v1/flows. 400/413/422 are final; anything else (5xx, 401/403, network) is retried. */
export function httpTransport(o: HttpTransportOptions): Transport {
  const url = `${o.server.replace(/\/+$/, '')}/apis/strata/v1/flows`;
  return async (batch, signal) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (o.token !== undefined) headers['authorization'] = `Bearer ${o.token}`;
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(batch), signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs ?? 15_000)]) });
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message;
      return { ok: false, retry: true, message: `cannot reach ${url}: ${cause ?? (e as Error).message}` };
    }
    const text = await res.text().catch(() => '');
    if (res.ok) {
      let parsed: z.ZodSafeParseResult<z.output<typeof ingestAnswerSchema>>;
      try {
        parsed = ingestAnswerSchema.safeParse(JSON.parse(text));
      } catch {
        return { ok: false, retry: true, message: `${url}: HTTP ${res.status} with a body that is not JSON` };
      }
      if (!parsed.success) return { ok: false, retry: true, message: `${url}: unexpected answer ${text.slice(0, 200)}` };
      return { ok: true, ...parsed.data };
    }
    let message = text.slice(0, 500);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // keep the text
    }
    const final = res.status === 400 || res.status === 413 || res.status === 422;
    return { ok: false, retry: !final, message: `HTTP ${res.status}: ${message}` };
  };
}
