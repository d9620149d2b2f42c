// The etcd v3 datastore, for several servers sharing one consistent store. It maps the
// contract onto etcd directly, so every server sees etcd's own revisions:
//   revision            ← response header revision
//   createRevision/modRevision ← the key's create_revision / mod_revision
//   txn                 ← one etcd Txn: compare mod_revision on every op that expects one;
//                         success = the puts/deletes (prev_kv), failure = ranges that tell
//                         us the actual revisions for the conflict report
//   list at revision    ← Range with revision (ErrCompacted → CompactedError)
//   watch from revision ← Watch with start_revision = from + 1 and prev_kv (for DELETED values)
//   compact             ← Compact(physical) (compacting at or below the compacted revision is a no-op)
// Talks gRPC through the `etcd3` client, whose connection pool spreads calls over every
// endpoint and fails over when a member is down (circuit breaker per host, retries), and
// whose watch stream reconnects from the last revision it delivered.
import { Buffer } from 'node:buffer';
import { Etcd3, GRPCUnavailableError, Range } from 'etcd3';
import type { IRangeRequest, IRequestOp, ICompare, Watcher } from 'etcd3';
import { z } from 'zod';
import {
  CompactedError,
  FutureRevisionError,
  StoreError,
  StoreUnavailableError,
  txnOpSchema,
} from './types.ts';
import type {
  Datastore,
  ListOptions,
  ListResult,
  StoredObject,
  TxnOp,
  TxnOpResult,
  TxnResult,
  Watch,
  WatchEvent,
} from './types.ts';
import { DEFAULT_WATCH_BUFFER_LIMIT, WatchQueue } from './watch-queue.ts';
import type { WatchConsumer } from './watch-queue.ts';
import { checkDistinctKeys, prefixEnd } from './ranges.ts';

export interface EtcdOptions {
  readonly watchBufferLimit?: number;
  /** Deadline of one unary call, across retries on other members (ms, default 5000). */
  readonly requestTimeoutMs?: number;
  /** A watch that cannot reach any member for this long fails with StoreUnavailableError (ms, default 15000). */
  readonly watchUnavailableMs?: number;
}

// A key outside /registry that never exists: range probes (revision, compaction) read it.
const PROBE_KEY = Buffer.from('\u0000strata/probe');

const int64 = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({ code: 'custom', message: `not a safe integer: ${String(v)}` });
    return z.NEVER;
  }
  return n;
});
const headerSchema = z.object({ revision: int64 });
// Key-values are checked by hand rather than by a zod object: they are the bulk of every list
// and watch response (100k per list), where a zod parse per item roughly doubled the time.
interface KeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly create_revision: number;
  readonly mod_revision: number;
}

function revisionOf(v: unknown): number | undefined {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
}

function decodeKeyValue(u: unknown): KeyValue {
  if (typeof u === 'object' && u !== null) {
    const { key, value, create_revision, mod_revision } = u as Record<string, unknown>;
    const created = revisionOf(create_revision);
    const modified = revisionOf(mod_revision);
    if (Buffer.isBuffer(key) && Buffer.isBuffer(value) && created !== undefined && modified !== undefined) {
      return { key, value, create_revision: created, mod_revision: modified };
    }
  }
  throw new StoreError('corrupt', 'etcd returned a malformed key-value');
}

const keyValueSchema = z.unknown().transform(decodeKeyValue);

const rangeResponseSchema = z.object({ header: headerSchema, kvs: z.array(keyValueSchema), more: z.boolean() });
const txnResponseSchema = z.object({
  header: headerSchema,
  succeeded: z.boolean(),
  responses: z.array(
    z.object({
      response_range: z.object({ kvs: z.array(keyValueSchema) }).nullish(),
      response_put: z.object({ prev_kv: keyValueSchema.nullish() }).nullish(),
      response_delete_range: z.object({ deleted: int64, prev_kvs: z.array(keyValueSchema) }).nullish(),
    }),
  ),
});
const watchEventSchema = z.object({
  type: z.enum(['Put', 'Delete']),
  kv: keyValueSchema,
  prev_kv: keyValueSchema.nullish(),
});
const watchResponseSchema = z.object({ header: headerSchema, events: z.array(watchEventSchema) });

function toObject(r: KeyValue): StoredObject {
  return { key: r.key.toString('utf8'), value: r.value.toString('utf8'), createRevision: r.create_revision, modRevision: r.mod_revision };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const isCompacted = (e: unknown): boolean => /required revision has been compacted/.test(messageOf(e));
// gRPC UNAVAILABLE (code 14) covers connection failures and etcd's "no leader" / "leader changed".
const isTransient = (e: unknown): boolean =>
  e instanceof GRPCUnavailableError ||
  /no leader|leader changed|UNAVAILABLE|ECONNREFUSED|No connection established|too many requests/i.test(messageOf(e));
const isFutureRevision = (e: unknown): boolean => /required revision is a future revision/.test(messageOf(e));

/** One etcd watch shared by the local watch queues on its prefix. */
interface Upstream {
  /** The last revision it delivered (or started after): its resume point. */
  position: number;
  ended: boolean;
  add(queue: WatchQueue): void;
  remove(queue: WatchQueue): void;
}

class EtcdDatastore implements Datastore {
  readonly kind = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly endpoints: readonly string[];
  private readonly bufferLimit: number;
  private readonly watchUnavailableMs: number;
  private readonly requestTimeoutMs: number;
  private readonly watches = new Set<{ close(): void }>();
  private readonly memberClients = new Map<number, Etcd3>();
  private readonly upstreams = new Map<string, Upstream[]>();
  private nextWatchMember = 0;
  /** A lower bound of etcd's compacted revision, raised whenever we learn a higher one. */
  private knownCompacted = 0;
  private isClosed = false;

  constructor(endpoints: readonly string[], options: EtcdOptions) {
    this.endpoints = endpoints;
    this.bufferLimit = options.watchBufferLimit ?? DEFAULT_WATCH_BUFFER_LIMIT;
    this.watchUnavailableMs = options.watchUnavailableMs ?? 15_000;
    const timeout = options.requestTimeoutMs ?? 5000;
    this.requestTimeoutMs = timeout;
    this.client = new Etcd3({
      hosts: [...endpoints],
      dialTimeout: Math.min(timeout, 3000),
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
      // A list of 100k objects is far above gRPC's default 4 MiB message limit.
      grpcOptions: { 'grpc.max_receive_message_length': 512 * 1024 * 1024 },
    });
  }

  private ensureOpen(): void {
    if (this.isClosed) throw new StoreError('closed', 'the etcd datastore is closed');
  }

  /**
   * One unary call, retried with backoff while the cluster is between leaders or the member
   * we reached is down ("no leader", "leader changed", connection refused): a stopped member
   * of three must not fail writes. The client pool moves each retry to another member. A
   * retried write whose first attempt was applied but whose answer was lost is applied again
   * (an unconditional put/delete is idempotent in content) or reports a conflict (a
   * conditional one), as with any etcd client.
   */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.requestTimeoutMs;
    let delay = 25;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (this.isClosed || !isTransient(e) || Date.now() + delay > deadline) throw e;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 500);
      }
    }
  }

  /** Turn a client error into the contract's errors. */
  private async translate(e: unknown, requested: number): Promise<StoreError> {
    if (e instanceof StoreError) return e;
    if (isCompacted(e)) return new CompactedError(requested, await this.compactedRevision().catch(() => this.knownCompacted));
    if (isFutureRevision(e)) return new FutureRevisionError(requested, await this.revision().catch(() => 0));
    const message = messageOf(e);
    if (/too many operations in txn request/.test(message)) {
      return new StoreError('invalid-argument', `etcd refused the transaction: ${message} (raise etcd's --max-txn-ops)`, { cause: e });
    }
    if (/request is too large/.test(message)) {
      return new StoreError('invalid-argument', `etcd refused the request: ${message} (raise etcd's --max-request-bytes)`, { cause: e });
    }
    return new StoreUnavailableError(`etcd (${this.endpoints.join(',')}): ${message}`, { cause: e });
  }

  private async range(req: IRangeRequest, requested = 0): Promise<z.infer<typeof rangeResponseSchema>> {
    this.ensureOpen();
    try {
      return rangeResponseSchema.parse(await this.call(() => this.client.kv.range(req)));
    } catch (e) {
      throw await this.translate(e, requested);
    }
  }

  async revision(): Promise<number> {
    const res = await this.range({ key: PROBE_KEY, count_only: true });
    return res.header.revision;
  }

  /**
   * etcd has no call that returns its compacted revision, but a Range at a revision fails
   * exactly when that revision is below it: binary search on [known lower bound, head]
   * (about log2(head) tiny reads; only errors and metrics ask for it).
   */
  async compactedRevision(): Promise<number> {
    const head = await this.revision();
    const readable = async (rev: number): Promise<boolean> => {
      try {
        rangeResponseSchema.parse(await this.call(() => this.client.kv.range({ key: PROBE_KEY, revision: rev, count_only: true })));
        return true;
      } catch (e) {
        if (isCompacted(e)) return false;
        throw await this.translate(e, rev);
      }
    };
    let lo = Math.max(1, this.knownCompacted);
    if (await readable(lo)) {
      // lo is readable: the compacted revision is lo itself (if lo was compacted to) or below.
      return this.knownCompacted > 0 ? this.knownCompacted : 0;
    }
    let hi = head; // the head is always readable
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await readable(mid)) hi = mid;
      else lo = mid;
    }
    this.knownCompacted = Math.max(this.knownCompacted, hi);
    return hi;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const res = await this.range({ key: Buffer.from(key) });
    const kv = res.kvs[0];
    return kv === undefined ? undefined : toObject(kv);
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : 0;
    const at = opts.revision !== undefined && opts.revision > 0 ? opts.revision : 0;
    const end = prefixEnd(prefix);
    // Continue strictly after the last key: the next key in byte order is key + "\0".
    const start = opts.continueAfter !== undefined && opts.continueAfter >= prefix ? `${opts.continueAfter}\u0000` : prefix;
    const req: IRangeRequest = {
      key: Buffer.from(start === '' ? '\u0000' : start),
      // etcd's "\0" range end means "every key at or above key".
      range_end: end === undefined ? Buffer.from([0]) : Buffer.from(end),
      ...(limit > 0 ? { limit } : {}),
      ...(at > 0 ? { revision: at } : {}),
    };
    const res = await this.range(req, at);
    return { items: res.kvs.map(toObject), revision: at > 0 ? at : res.header.revision, more: limit > 0 && res.more };
  }

  async txn(ops: readonly TxnOp[]): Promise<TxnResult> {
    this.ensureOpen();
    for (const op of ops) {
      const parsed = txnOpSchema.safeParse(op);
      if (!parsed.success) throw new StoreError('invalid-argument', `bad txn op: ${parsed.error.message}`);
    }
    checkDistinctKeys(ops);
    if (ops.length === 0) return { ok: true, revision: await this.revision(), results: [] };
    const compare: ICompare[] = [];
    const failure: IRequestOp[] = [];
    for (const op of ops) {
      if (op.expectModRevision === undefined) continue;
      // An absent key compares as mod_revision 0, so 0 means "must not exist".
      compare.push({ key: Buffer.from(op.key), target: 'Mod', result: 'Equal', mod_revision: op.expectModRevision });
      failure.push({ request_range: { key: Buffer.from(op.key), keys_only: true } });
    }
    const success: IRequestOp[] = ops.map((op) =>
      op.op === 'put'
        ? { request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value), prev_kv: true } }
        : { request_delete_range: { key: Buffer.from(op.key), prev_kv: true } },
    );
    let res: z.infer<typeof txnResponseSchema>;
    try {
      res = txnResponseSchema.parse(await this.call(() => this.client.kv.txn({ compare, success, failure })));
    } catch (e) {
      throw await this.translate(e, 0);
    }
    if (!res.succeeded) {
      const compared = ops.filter((op) => op.expectModRevision !== undefined);
      for (const [i, op] of compared.entries()) {
        const kv = res.responses[i]?.response_range?.kvs[0];
        const actual = kv === undefined ? 0 : kv.mod_revision;
        if (actual !== op.expectModRevision) return { ok: false, conflict: { key: op.key, expected: op.expectModRevision ?? 0, actual } };
      }
      // etcd evaluates the compares and the failure ranges at one revision, so one differs.
      throw new StoreError('corrupt', 'etcd refused the transaction but every compared key matches');
    }
    const revision = res.header.revision;
    let changed = false;
    const results: TxnOpResult[] = ops.map((op, i) => {
      const r = res.responses[i];
      if (op.op === 'put') {
        changed = true;
        const prev = r?.response_put?.prev_kv;
        return prev === undefined || prev === null ? { key: op.key, modRevision: revision } : { key: op.key, modRevision: revision, prev: toObject(prev) };
      }
      const deleted = r?.response_delete_range;
      const prev = deleted?.prev_kvs[0];
      if (deleted === undefined || deleted === null || deleted.deleted === 0 || prev === undefined) return { key: op.key, modRevision: 0 };
      changed = true;
      return { key: op.key, modRevision: revision, prev: toObject(prev) };
    });
    return { ok: true, revision, results: changed ? results : results.map((r) => ({ key: r.key, modRevision: 0 })) };
  }

  /**
   * A watch is a local queue fed by an upstream etcd watch. Local watches on the same prefix
   * share one upstream when they start at or after its position (the usual list-then-watch
   * from the current revision), so 50 watchers cost etcd one watch and this process one decode
   * per event — kube-apiserver's watch cache idea, in small. A watch from an older revision
   * gets an upstream of its own, which later watchers may join in turn.
   */
  watch(prefix: string, fromRevision: number, onEvent: WatchConsumer, onError: (e: StoreError) => void): Watch {
    this.ensureOpen();
    let upstream: Upstream | undefined;
    const queue = new WatchQueue(prefix, fromRevision, onEvent, onError, this.bufferLimit, () => {
      upstream?.remove(queue);
      this.watches.delete(entry);
    });
    const entry = { close: () => queue.close() };
    this.watches.add(entry);
    const start = async (): Promise<void> => {
      // Refuse a compacted start before watching: a Range at a revision fails exactly when it
      // is below the compacted revision (revision 0, the whole history, is compacted as soon
      // as anything is). A future revision is fine for a watch: it waits for it.
      if (fromRevision === 0) {
        const compacted = await this.compactedRevision();
        if (compacted > 0) {
          queue.fail(new CompactedError(0, compacted));
          return;
        }
      } else {
        try {
          await this.call(() => this.client.kv.range({ key: PROBE_KEY, revision: fromRevision, count_only: true }));
        } catch (e) {
          if (!isFutureRevision(e)) {
            queue.fail(await this.translate(e, fromRevision));
            return;
          }
        }
      }
      if (queue.closed || this.isClosed) return;
      const shared = this.upstreams.get(prefix)?.find((u) => !u.ended && u.position <= fromRevision);
      upstream = shared ?? this.openUpstream(prefix, fromRevision);
      upstream.add(queue);
    };
    void start().catch(async (e: unknown) => queue.fail(await this.translate(e, fromRevision)));
    return { close: () => queue.close(), resume: () => queue.resume() };
  }

  /** A client bound to one member, for watches (created on first use, closed with the store). */
  private memberClient(index: number): Etcd3 {
    let client = this.memberClients.get(index);
    if (client === undefined) {
      client = new Etcd3({
        hosts: [this.endpoints[index] ?? ''],
        dialTimeout: 3000,
        grpcOptions: { 'grpc.max_receive_message_length': 512 * 1024 * 1024 },
      });
      this.memberClients.set(index, client);
    }
    return client;
  }

  /**
   * One etcd watch from `fromRevision`, feeding local queues. It runs on a client bound to one
   * member (spread round-robin, starting at the first endpoint) and fails over itself: when the
   * stream to that member breaks, it is re-created on the next member from the last revision
   * it delivered. (The pooled client's own reconnection may pick the dead member again and
   * again.) A compacted resume point ends it with CompactedError; no member answering for
   * watchUnavailableMs ends it with StoreUnavailableError. With no queues left, it is cancelled.
   */
  private openUpstream(prefix: string, fromRevision: number): Upstream {
    const queues = new Set<WatchQueue>();
    let watcher: Watcher | undefined;
    let retryTimer: NodeJS.Timeout | undefined;
    let member = this.nextWatchMember++ % this.endpoints.length;
    let lostSince: number | undefined;
    let attempt = 0;
    const detach = (): void => {
      if (watcher === undefined) return;
      const w = watcher;
      watcher = undefined;
      w.removeAllListeners();
      w.on('error', () => undefined);
      void w.cancel().catch(() => undefined);
    };
    const end = (): void => {
      if (up.ended) return;
      up.ended = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      retryTimer = undefined;
      detach();
      const list = this.upstreams.get(prefix)?.filter((u) => u !== up) ?? [];
      if (list.length === 0) this.upstreams.delete(prefix);
      else this.upstreams.set(prefix, list);
    };
    const failAll = async (e: unknown): Promise<void> => {
      if (up.ended) return;
      end();
      let compacted = this.knownCompacted;
      try {
        compacted = await this.compactedRevision();
      } catch {
        // Unreachable etcd: report the original error.
      }
      const translated = await this.translate(e, up.position);
      for (const q of queues) q.fail(q.revision < compacted ? new CompactedError(q.revision, compacted) : translated);
      queues.clear();
    };
    const up: Upstream = {
      position: fromRevision,
      ended: false,
      add: (q) => void queues.add(q),
      remove: (q) => {
        queues.delete(q);
        if (queues.size === 0) end();
      },
    };
    const attach = (): void => {
      if (up.ended || this.isClosed) return;
      const w = this.memberClient(member)
        .watch()
        .inRange(prefix === '' ? new Range(Buffer.from([0]), Buffer.from([0])) : Range.prefix(prefix))
        .startRevision(String(up.position + 1))
        .withPreviousKV()
        .watcher();
      watcher = w;
      w.on('data', (raw) => {
        const parsed = watchResponseSchema.safeParse(raw);
        if (!parsed.success) {
          void failAll(new StoreError('corrupt', `etcd sent a watch response we cannot read: ${parsed.error.message}`));
          return;
        }
        const events: WatchEvent[] = parsed.data.events.map((ev) => {
          const key = ev.kv.key.toString('utf8');
          const revision = ev.kv.mod_revision;
          if (ev.type === 'Delete') {
            // prev_kv is missing only when the previous revision was compacted away.
            return { type: 'DELETED', key, value: ev.prev_kv?.value.toString('utf8') ?? '', revision };
          }
          return { type: ev.kv.create_revision === ev.kv.mod_revision ? 'ADDED' : 'MODIFIED', key, value: ev.kv.value.toString('utf8'), revision };
        });
        const last = events[events.length - 1];
        if (last !== undefined && last.revision > up.position) up.position = last.revision;
        for (const q of queues) q.offer(events);
      });
      w.on('connected', () => {
        lostSince = undefined;
        attempt = 0;
      });
      w.on('disconnected', (e) => {
        detach();
        lostSince ??= Date.now();
        if (Date.now() - lostSince > this.watchUnavailableMs) {
          void failAll(new StoreUnavailableError(`etcd watch on ${JSON.stringify(prefix)}: no member reachable for ${this.watchUnavailableMs} ms: ${messageOf(e)}`));
          return;
        }
        member = (member + 1) % this.endpoints.length;
        // Straight to the next member; back off only once every member has failed in a row.
        const delay = attempt < this.endpoints.length ? 0 : Math.min(50 * 2 ** (attempt - this.endpoints.length), 1000);
        attempt++;
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          attach();
        }, delay);
      });
      w.on('error', (e) => void failAll(e));
    };
    this.upstreams.set(prefix, [...(this.upstreams.get(prefix) ?? []), up]);
    attach();
    return up;
  }

  async compact(revision: number): Promise<void> {
    this.ensureOpen();
    try {
      await this.call(() => this.client.kv.compact({ revision, physical: true }));
      this.knownCompacted = Math.max(this.knownCompacted, revision);
    } catch (e) {
      if (isCompacted(e)) return; // already compacted at or above: nothing to do
      throw await this.translate(e, revision);
    }
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const w of [...this.watches]) w.close();
    this.client.close();
    for (const c of this.memberClients.values()) c.close();
  }
}

/** Connect to etcd (lazily: the first call fails over the endpoints in turn). */
export async function openEtcdDatastore(endpoints: readonly string[], options: EtcdOptions = {}): Promise<Datastore> {
  const store = new EtcdDatastore(endpoints, options);
  // Fail fast with a clear error when no endpoint answers.
  try {
    await store.revision();
  } catch (e) {
    await store.close();
    throw e instanceof StoreError ? e : new StoreUnavailableError(`etcd (${endpoints.join(',')}): ${messageOf(e)}`, { cause: e });
  }
  return store;
}
