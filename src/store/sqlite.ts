// The embedded datastore: one SQLite file (node:sqlite) holding the current objects and a
// revision log. Every committed put/delete is a log row stamped with its transaction's
// revision, which is what makes list-at-revision and watch-from-revision possible; compaction
// deletes the log rows no revision at or above the compacted one can need.
//
//   meta(k, v)                 'schema' = 1, 'revision' = last committed revision, 'compacted'
//   objects(key, value, create_rev, mod_rev)            the current state (fast get/list)
//   log(key, revision, deleted, value, create_rev)      every change; a delete keeps the last value
//
// Durability: WAL journal with synchronous=FULL, so COMMIT returns only after the WAL is
// fsynced: an acknowledged write survives SIGKILL and power loss. Writers serialize with
// BEGIN IMMEDIATE and a busy timeout, so several processes may share one file.
//
// Watch: a single tailer per open store reads new log rows and hands them to the watchers'
// bounded queues. It runs right after each local commit (in-process notification, no
// latency) and on a timer while any watcher exists, which is how writes made by *other*
// processes on the same file are seen (SQLite has no cross-process change notification; the
// poll is one indexed read of meta.revision when nothing changed).
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
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
import { prefixEnd, checkDistinctKeys } from './ranges.ts';

export interface SqliteOptions {
  readonly watchBufferLimit?: number;
  readonly pollIntervalMs?: number;
  /** How long a writer waits for another process's write lock (ms, default 5000). */
  readonly busyTimeoutMs?: number;
}

const SCHEMA_VERSION = 1;

// Rowid tables (not WITHOUT ROWID): rows carry whole JSON objects, far above the size where
// SQLite recommends WITHOUT ROWID. STRICT makes SQLite enforce the column types.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS objects (
  key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL, revision INTEGER NOT NULL, deleted INTEGER NOT NULL,
  value TEXT NOT NULL, create_rev INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS log_by_key ON log (key, revision);
CREATE INDEX IF NOT EXISTS log_by_revision ON log (revision);
`;

// STRICT tables make SQLite itself enforce the column types, so a row needs only a cheap
// shape check on the way in; a zod parse per row was ~40% of listing 100k objects. The small
// one-off reads (meta) go through zod.
const metaRowSchema = z.object({ v: z.number().int() });

interface LogRow {
  readonly key: string;
  readonly revision: number;
  readonly deleted: number;
  readonly value: string;
  readonly create_rev: number;
}

function corrupt(what: string, row: unknown): StoreError {
  return new StoreError('corrupt', `SQLite returned a malformed ${what} row: ${JSON.stringify(row)}`);
}

function toObject(row: Record<string, unknown>): StoredObject {
  const { key, value, create_rev, mod_rev } = row;
  if (typeof key !== 'string' || typeof value !== 'string' || typeof create_rev !== 'number' || typeof mod_rev !== 'number') {
    throw corrupt('object', row);
  }
  return { key, value, createRevision: create_rev, modRevision: mod_rev };
}

function toLogRow(row: Record<string, unknown>): LogRow {
  const { key, revision, deleted, value, create_rev } = row;
  if (typeof key !== 'string' || typeof value !== 'string' || typeof revision !== 'number' || typeof create_rev !== 'number' || (deleted !== 0 && deleted !== 1)) {
    throw corrupt('log', row);
  }
  return { key, revision, deleted, value, create_rev };
}

function toEvent(row: LogRow): WatchEvent {
  return {
    type: row.deleted === 1 ? 'DELETED' : row.create_rev === row.revision ? 'ADDED' : 'MODIFIED',
    key: row.key,
    value: row.value,
    revision: row.revision,
  };
}

interface Statements {
  readonly meta: StatementSync;
  readonly setMeta: StatementSync;
  readonly get: StatementSync;
  readonly upsert: StatementSync;
  readonly remove: StatementSync;
  readonly appendLog: StatementSync;
  readonly listCurrent: StatementSync;
  readonly listCurrentOpen: StatementSync;
  readonly listAt: StatementSync;
  readonly listAtOpen: StatementSync;
  readonly logAfter: StatementSync;
  readonly compact: StatementSync;
}

// SQLite binds integers up to 2^53 exactly as JS numbers; a "no limit" sentinel for LIMIT.
const NO_LIMIT = -1;

class SqliteDatastore implements Datastore {
  readonly kind = 'sqlite' as const;
  private readonly db: DatabaseSync;
  private readonly st: Statements;
  private readonly watchers = new Set<WatchQueue>();
  private readonly bufferLimit: number;
  private readonly pollIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private tailScheduled = false;
  /** Highest revision the tailer has handed to watchers. */
  private tailed = 0;
  private isClosed = false;

  constructor(db: DatabaseSync, options: SqliteOptions) {
    this.db = db;
    this.bufferLimit = options.watchBufferLimit ?? DEFAULT_WATCH_BUFFER_LIMIT;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.st = {
      meta: db.prepare('SELECT v FROM meta WHERE k = ?'),
      setMeta: db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v'),
      get: db.prepare('SELECT key, value, create_rev, mod_rev FROM objects WHERE key = ?'),
      upsert: db.prepare(
        'INSERT INTO objects (key, value, create_rev, mod_rev) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev',
      ),
      remove: db.prepare('DELETE FROM objects WHERE key = ?'),
      appendLog: db.prepare('INSERT INTO log (key, revision, deleted, value, create_rev) VALUES (?, ?, ?, ?, ?)'),
      listCurrent: db.prepare(
        'SELECT key, value, create_rev, mod_rev FROM objects WHERE key >= ? AND key < ? AND key > ? ORDER BY key LIMIT ?',
      ),
      listCurrentOpen: db.prepare(
        'SELECT key, value, create_rev, mod_rev FROM objects WHERE key >= ? AND key > ? ORDER BY key LIMIT ?',
      ),
      // The state at revision R: per key, its latest log row at or below R, when that row is a put.
      listAt: db.prepare(
        'SELECT l.key AS key, l.value AS value, l.create_rev AS create_rev, l.revision AS mod_rev FROM log l ' +
          'WHERE l.key >= ? AND l.key < ? AND l.key > ? AND l.deleted = 0 AND l.revision = ' +
          '(SELECT MAX(m.revision) FROM log m WHERE m.key = l.key AND m.revision <= ?) ORDER BY l.key LIMIT ?',
      ),
      listAtOpen: db.prepare(
        'SELECT l.key AS key, l.value AS value, l.create_rev AS create_rev, l.revision AS mod_rev FROM log l ' +
          'WHERE l.key >= ? AND l.key > ? AND l.deleted = 0 AND l.revision = ' +
          '(SELECT MAX(m.revision) FROM log m WHERE m.key = l.key AND m.revision <= ?) ORDER BY l.key LIMIT ?',
      ),
      logAfter: db.prepare(
        'SELECT key, revision, deleted, value, create_rev FROM log WHERE revision > ? AND revision <= ? ORDER BY revision, key',
      ),
      // Compaction at C keeps, per key, its latest row at or below C when it is a put (the state
      // at C) and every row above C; tombstones at or below C are needed by no one.
      compact: db.prepare(
        'DELETE FROM log WHERE revision <= ?1 AND (deleted = 1 OR revision < ' +
          '(SELECT MAX(m.revision) FROM log m WHERE m.key = log.key AND m.revision <= ?1))',
      ),
    };
  }

  private ensureOpen(): void {
    if (this.isClosed) throw new StoreError('closed', 'the SQLite datastore is closed');
  }

  private readMeta(name: 'revision' | 'compacted'): number {
    const row = this.st.meta.get(name);
    return row === undefined ? 0 : metaRowSchema.parse(row).v;
  }

  /** Run fn in a read transaction, so several statements see one snapshot. */
  private read<T>(fn: () => T): T {
    this.db.exec('BEGIN DEFERRED');
    try {
      const value = fn();
      this.db.exec('COMMIT');
      return value;
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  private write<T>(fn: () => T): T {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (cause) {
      throw new StoreUnavailableError(`SQLite: cannot take the write lock: ${String(cause)}`, { cause });
    }
    try {
      const value = fn();
      this.db.exec('COMMIT');
      return value;
    } catch (e) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw e;
    }
  }

  async revision(): Promise<number> {
    this.ensureOpen();
    return this.readMeta('revision');
  }

  async compactedRevision(): Promise<number> {
    this.ensureOpen();
    return this.readMeta('compacted');
  }

  async get(key: string): Promise<StoredObject | undefined> {
    this.ensureOpen();
    const row = this.st.get.get(key);
    return row === undefined ? undefined : toObject(row);
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.ensureOpen();
    const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : 0;
    const after = opts.continueAfter ?? '';
    const end = prefixEnd(prefix);
    return this.read(() => {
      const head = this.readMeta('revision');
      const compacted = this.readMeta('compacted');
      const at = opts.revision !== undefined && opts.revision > 0 ? opts.revision : head;
      if (at > head) throw new FutureRevisionError(at, head);
      if (at < compacted) throw new CompactedError(at, compacted);
      const sqlLimit = limit === 0 ? NO_LIMIT : limit + 1;
      let rows: Record<string, unknown>[];
      if (at === head) {
        rows = end === undefined ? this.st.listCurrentOpen.all(prefix, after, sqlLimit) : this.st.listCurrent.all(prefix, end, after, sqlLimit);
      } else {
        rows = end === undefined ? this.st.listAtOpen.all(prefix, after, at, sqlLimit) : this.st.listAt.all(prefix, end, after, at, sqlLimit);
      }
      const more = limit > 0 && rows.length > limit;
      const items = (more ? rows.slice(0, limit) : rows).map(toObject);
      return { items, revision: at, more };
    });
  }

  async txn(ops: readonly TxnOp[]): Promise<TxnResult> {
    this.ensureOpen();
    for (const op of ops) {
      const parsed = txnOpSchema.safeParse(op);
      if (!parsed.success) throw new StoreError('invalid-argument', `bad txn op: ${parsed.error.message}`);
    }
    checkDistinctKeys(ops);
    const result = this.write((): TxnResult => {
      const head = this.readMeta('revision');
      const current = ops.map((op) => {
        const row = this.st.get.get(op.key);
        return row === undefined ? undefined : toObject(row);
      });
      for (const [i, op] of ops.entries()) {
        if (op.expectModRevision === undefined) continue;
        const actual = current[i]?.modRevision ?? 0;
        if (actual !== op.expectModRevision) {
          return { ok: false, conflict: { key: op.key, expected: op.expectModRevision, actual } };
        }
      }
      const next = head + 1;
      let changed = false;
      const results: TxnOpResult[] = [];
      for (const [i, op] of ops.entries()) {
        const prev = current[i];
        if (op.op === 'put') {
          const createRev = prev?.createRevision ?? next;
          this.st.upsert.run(op.key, op.value, createRev, next);
          this.st.appendLog.run(op.key, next, 0, op.value, createRev);
          changed = true;
          results.push(prev === undefined ? { key: op.key, modRevision: next } : { key: op.key, modRevision: next, prev });
        } else if (prev !== undefined) {
          this.st.remove.run(op.key);
          this.st.appendLog.run(op.key, next, 1, prev.value, prev.createRevision);
          changed = true;
          results.push({ key: op.key, modRevision: next, prev });
        } else {
          results.push({ key: op.key, modRevision: 0 });
        }
      }
      // Like etcd, a transaction that changes nothing does not make a revision.
      if (!changed) return { ok: true, revision: head, results: results.map((r) => ({ key: r.key, modRevision: 0 })) };
      this.st.setMeta.run('revision', next);
      return { ok: true, revision: next, results };
    });
    if (result.ok) this.scheduleTail();
    return result;
  }

  watch(
    prefix: string,
    fromRevision: number,
    onEvent: WatchConsumer,
    onError: (e: StoreError) => void,
  ): Watch {
    this.ensureOpen();
    const queue = new WatchQueue(prefix, fromRevision, onEvent, onError, this.bufferLimit, () => {
      this.watchers.delete(queue);
      if (this.watchers.size === 0) this.stopTimer();
    });
    const handle: Watch = { close: () => queue.close(), resume: () => queue.resume() };
    // Catch up from the log and join the live stream in one synchronous step: nothing can
    // commit in this process in between, and the snapshot's head is where the tailer resumes.
    let backlog: WatchEvent[];
    let head: number;
    try {
      const snapshot = this.read(() => {
        const h = this.readMeta('revision');
        const compacted = this.readMeta('compacted');
        if (fromRevision < compacted) return { error: new CompactedError(fromRevision, compacted) };
        if (fromRevision > h) return { head: h, rows: [] };
        return { head: h, rows: this.st.logAfter.all(fromRevision, h) };
      });
      if ('error' in snapshot) {
        queue.fail(snapshot.error);
        return handle;
      }
      head = snapshot.head;
      backlog = snapshot.rows.map((row) => toEvent(toLogRow(row)));
    } catch (cause) {
      queue.fail(new StoreUnavailableError(`SQLite: cannot start the watch: ${String(cause)}`, { cause }));
      return handle;
    }
    if (this.watchers.size === 0) this.tailed = head;
    this.watchers.add(queue);
    queue.offer(backlog);
    queue.advance(head);
    this.startTimer();
    return handle;
  }

  private startTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tail(), this.pollIntervalMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private scheduleTail(): void {
    if (this.tailScheduled || this.watchers.size === 0) return;
    this.tailScheduled = true;
    queueMicrotask(() => {
      this.tailScheduled = false;
      this.tail();
    });
  }

  /** Hand log rows committed since the last tail (by any process) to every watcher. */
  private tail(): void {
    if (this.isClosed || this.watchers.size === 0) return;
    let snapshot: { head: number; compacted: number; rows: Record<string, unknown>[] };
    try {
      snapshot = this.read(() => {
        const head = this.readMeta('revision');
        const compacted = this.readMeta('compacted');
        const rows = head > this.tailed ? this.st.logAfter.all(this.tailed, head) : [];
        return { head, compacted, rows };
      });
    } catch (cause) {
      // A busy or failing database: the next poll retries; a closed one ends every watch.
      if (!this.db.isOpen) for (const w of [...this.watchers]) w.fail(new StoreUnavailableError(`SQLite: ${String(cause)}`, { cause }));
      return;
    }
    if (snapshot.head <= this.tailed) return;
    // Another process compacted past what we tailed: rows we never saw may be gone, so every
    // watcher behind the compaction must re-list (as etcd cancels a compacted watch).
    if (snapshot.compacted > this.tailed) {
      for (const w of [...this.watchers]) if (w.revision < snapshot.compacted) w.fail(new CompactedError(w.revision, snapshot.compacted));
    }
    const events = snapshot.rows.map((row) => toEvent(toLogRow(row)));
    this.tailed = snapshot.head;
    for (const w of [...this.watchers]) {
      w.offer(events);
      w.advance(snapshot.head);
    }
  }

  async compact(revision: number): Promise<void> {
    this.ensureOpen();
    // Hand every committed row to the local watchers first: once compacted, superseded rows
    // are gone, and a watcher that was live before the compaction must not miss them.
    this.tail();
    this.write(() => {
      const head = this.readMeta('revision');
      const compacted = this.readMeta('compacted');
      if (revision > head) throw new FutureRevisionError(revision, head);
      if (revision <= compacted) return;
      this.st.compact.run(revision);
      this.st.setMeta.run('compacted', revision);
    });
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.stopTimer();
    for (const w of [...this.watchers]) w.close();
    this.isClosed = true;
    this.db.close();
  }
}

/** Open (creating if needed) a SQLite datastore file. */
export function openSqliteDatastore(path: string, options: SqliteOptions = {}): Datastore {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5000 });
  } catch (cause) {
    throw new StoreUnavailableError(`cannot open SQLite database ${JSON.stringify(path)}: ${String(cause)}`, { cause });
  }
  try {
    const mode = db.prepare('PRAGMA journal_mode = WAL').get();
    if (z.object({ journal_mode: z.string() }).parse(mode).journal_mode !== 'wal' && path !== ':memory:') {
      throw new StoreError('corrupt', `SQLite database ${JSON.stringify(path)} refuses WAL mode`);
    }
    // FULL: COMMIT fsyncs the WAL, so an acknowledged write survives a crash or power loss.
    db.exec('PRAGMA synchronous = FULL');
    // Reads of a large store (a full list of 100k objects is ~100 MB of pages) go through
    // mmap instead of a read syscall per page, and a bigger page cache keeps hot pages.
    db.exec('PRAGMA mmap_size = 1073741824');
    db.exec('PRAGMA cache_size = -65536');
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(SCHEMA);
      const row = db.prepare("SELECT v FROM meta WHERE k = 'schema'").get();
      if (row === undefined) {
        db.prepare("INSERT INTO meta (k, v) VALUES ('schema', ?), ('revision', 1), ('compacted', 0)").run(SCHEMA_VERSION);
      } else if (metaRowSchema.parse(row).v !== SCHEMA_VERSION) {
        throw new StoreError('corrupt', `SQLite database ${JSON.stringify(path)} has schema ${metaRowSchema.parse(row).v}, expected ${SCHEMA_VERSION}`);
      }
      db.exec('COMMIT');
    } catch (e) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw e;
    }
  } catch (e) {
    db.close();
    if (e instanceof StoreError) throw e;
    throw new StoreUnavailableError(`cannot initialise SQLite database ${JSON.stringify(path)}: ${String(e)}`, { cause: e });
  }
  return new SqliteDatastore(db, options);
}
