// The flow store on one SQLite file (node:sqlite), or `:memory:`. Records are never stored one
// by one: the batches of one event-loop turn (group commit) are merged in memory per (bucket,
// flow key), then each merged row is added onto its bucket row with one upsert, so a burst of a
// million connections between the same endpoints costs one row per 15 s bucket.
//
//   meta(k, v)                      schema, rolled_up (W), fine_floor (F)
//   batches(agent, boot, seq, seen) the highest seq stored per agent boot: the dedup state,
//                                   committed in the same transaction as the counters
//   flow_keys(id, hash, body, …)    one row per distinct flow identity (everything but counters
//                                   and times), with the columns queries filter on
//   flow_key_hits(key_id, part, tier, namespace, name)  the policies a key names (0 enforced,
//                                   1 pending, 2 engine): the policy/tier index and the RBAC tier check
//   flow_buckets(level, bucket, key_id, start_ms, end_ms, counters…)   level 0 fine, 1 coarse
//   rules(id, kind, tier, namespace, name, direction, rule_index, action) and
//   rule_buckets(level, bucket, rule_id, counters…): per policy rule, for stats and metrics
//
// Levels: coarse windows before W are complete at level 1 (rolled up from level 0 by
// `maintain`, and late records are added to both levels); fine buckets from F on are complete at
// level 0 (retention deletes below F). A query reads coarse below a coarse-aligned cut and fine
// above it, so no record is counted twice and recent windows keep their 15 s precision. A
// filtered query finds its keys first and reads their buckets by key; an unfiltered one scans the
// window by time; both sum per key before joining the key rows.
//
// Durability: WAL with synchronous=NORMAL by default: an acknowledged batch survives a crash or
// restart of the server, and so does its dedup state (same transaction); a power loss can take
// back the last commits, counters and dedup marks together. `synchronous: 'full'` fsyncs every
// commit as the main datastore does. One process writes a flow file (the server owning it).
import { createHash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import type { FlowBatch, FlowRecord, PolicyHit } from './record.ts';
import { DEFAULT_RETENTION, FlowStoreUnavailable, pendingDiffers } from './store.ts';
import type {
  FlowFilter,
  FlowListener,
  FlowPage,
  FlowQuery,
  FlowScope,
  FlowStore,
  FlowStoreStatus,
  IngestResult,
  PolicyRuleStat,
  RetentionConfig,
  StatsDirection,
  StatsQuery,
} from './store.ts';

export interface SqliteFlowStoreOptions {
  /** A file path, or `:memory:`. */
  readonly path: string;
  readonly retention?: Partial<RetentionConfig> | undefined;
  /** The store's clock (ms); tests inject one. */
  readonly now?: (() => number) | undefined;
  /** How long a write waits for a lock held by another connection (default 250 ms). */
  readonly busyTimeoutMs?: number | undefined;
  /** Cap on the database size; past it writes fail as a full disk would (default: none). */
  readonly maxBytes?: number | undefined;
  /**
   * `normal` (the default): a commit survives a crash of the process, and a power loss may take
   * back the last commits (with their dedup marks, so nothing is counted twice). `full`: fsync on
   * every commit, as the main datastore; about one commit per disk flush.
   */
  readonly synchronous?: 'normal' | 'full' | undefined;
  /** A group commit is written at once when its batches hold this many records (default 50,000). */
  readonly groupCommitRecords?: number | undefined;
  /** A filtered query reads by key when at most this many keys match, else by time (default 5,000). */
  readonly keyPlanMax?: number | undefined;
  /** SQLite page cache, bytes (default 64 MiB). */
  readonly cacheBytes?: number | undefined;
  /** Distinct flow keys whose ids are cached in memory (default 200,000). */
  readonly keyCacheSize?: number | undefined;
}

const SCHEMA_VERSION = '1';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS batches (
  agent TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL, seen INTEGER NOT NULL, PRIMARY KEY (agent, boot)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flow_keys (
  id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, body TEXT NOT NULL,
  src_ns TEXT, dst_ns TEXT, src_name TEXT, dst_name TEXT,
  action TEXT NOT NULL, protocol TEXT NOT NULL, port INTEGER, pending_differs INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS flow_keys_src_ns ON flow_keys (src_ns);
CREATE INDEX IF NOT EXISTS flow_keys_dst_ns ON flow_keys (dst_ns);
CREATE INDEX IF NOT EXISTS flow_keys_src_name ON flow_keys (src_name);
CREATE INDEX IF NOT EXISTS flow_keys_dst_name ON flow_keys (dst_name);
CREATE INDEX IF NOT EXISTS flow_keys_action ON flow_keys (action, port);
CREATE TABLE IF NOT EXISTS flow_key_hits (
  key_id INTEGER NOT NULL, part INTEGER NOT NULL, tier TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
  PRIMARY KEY (key_id, part, tier, namespace, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS flow_key_hits_policy ON flow_key_hits (name, namespace, tier);
CREATE INDEX IF NOT EXISTS flow_key_hits_tier ON flow_key_hits (tier);
CREATE TABLE IF NOT EXISTS flow_buckets (
  level INTEGER NOT NULL, bucket INTEGER NOT NULL, key_id INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
  packets INTEGER NOT NULL, bytes INTEGER NOT NULL, packets_in INTEGER NOT NULL, packets_out INTEGER NOT NULL,
  bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL, connections INTEGER NOT NULL, connections_completed INTEGER NOT NULL,
  PRIMARY KEY (level, bucket, key_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS flow_buckets_key ON flow_buckets (key_id, level, bucket);
CREATE TABLE IF NOT EXISTS rules (
  id INTEGER PRIMARY KEY, ident TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, tier TEXT, namespace TEXT, name TEXT,
  direction TEXT NOT NULL, rule_index INTEGER, action TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS rule_buckets (
  level INTEGER NOT NULL, bucket INTEGER NOT NULL, rule_id INTEGER NOT NULL,
  packets INTEGER NOT NULL, bytes INTEGER NOT NULL, connections INTEGER NOT NULL,
  allowed INTEGER NOT NULL, denied INTEGER NOT NULL, passed INTEGER NOT NULL, last_ms INTEGER NOT NULL,
  PRIMARY KEY (level, bucket, rule_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rule_buckets_rule ON rule_buckets (rule_id);
`;

const COUNTERS = ['packets', 'bytes', 'packets_in', 'packets_out', 'bytes_in', 'bytes_out', 'connections', 'connections_completed'] as const;
const RULE_COUNTERS = ['packets', 'bytes', 'connections', 'allowed', 'denied', 'passed'] as const;

interface Counters {
  startMs: number;
  endMs: number;
  packets: number;
  bytes: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  connections: number;
  connectionsCompleted: number;
}

interface Merged extends Counters {
  readonly ident: string;
  readonly bucket: number;
  readonly record: FlowRecord;
}

interface CachedKey {
  readonly id: number;
  /** Rule ids of the key's stats hits, in statsHits order; filled on first write. */
  rules: number[] | undefined;
}

interface RuleAgg {
  readonly level: number;
  readonly bucket: number;
  readonly ruleId: number;
  packets: number;
  bytes: number;
  connections: number;
  allowed: number;
  denied: number;
  passed: number;
  lastMs: number;
}

interface KeyRow {
  readonly id: number;
  readonly body: string;
  readonly packets: number;
  readonly bytes: number;
  readonly packets_in: number;
  readonly packets_out: number;
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly connections: number;
  readonly connections_completed: number;
  readonly s: number;
  readonly e: number;
  readonly v: number;
}

interface RuleRow {
  readonly kind: PolicyHit['kind'];
  readonly tier: string | null;
  readonly namespace: string | null;
  readonly name: string | null;
  readonly direction: StatsDirection;
  readonly rule_index: number | null;
  readonly action: PolicyHit['action'];
  readonly packets: number;
  readonly bytes: number;
  readonly connections: number;
  readonly allowed: number;
  readonly denied: number;
  readonly passed: number;
  readonly last_ms: number;
}

type SqlValue = string | number | null;

function floorTo(t: number, step: number): number {
  return Math.floor(t / step) * step;
}

function ceilTo(t: number, step: number): number {
  return Math.ceil(t / step) * step;
}

/** The identity of a record: everything but its counters and times, as one JSON array. */
function identityOf(r: FlowRecord): string {
  return JSON.stringify([r.reporter, r.node, r.source, r.destination, r.srcPort, r.port, r.protocol, r.action, r.policies, r.engine, r.mismatch, r.aggregation]);
}

type Identity = [FlowRecord['reporter'], string, FlowRecord['source'], FlowRecord['destination'], number | null, number | null, string, FlowRecord['action'], FlowRecord['policies'], FlowRecord['engine'], boolean, FlowRecord['aggregation']];

function recordOf(body: string, c: Omit<Counters, 'startMs' | 'endMs'>, startMs: number, endMs: number): FlowRecord {
  const [reporter, node, source, destination, srcPort, port, protocol, action, policies, engine, mismatch, aggregation] = JSON.parse(body) as Identity;
  return {
    startTime: new Date(startMs).toISOString(),
    endTime: new Date(endMs).toISOString(),
    reporter,
    node,
    source,
    destination,
    srcPort,
    port,
    protocol,
    action,
    policies,
    engine,
    mismatch,
    packets: c.packets,
    bytes: c.bytes,
    packetsIn: c.packetsIn,
    packetsOut: c.packetsOut,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    connections: c.connections,
    connectionsCompleted: c.connectionsCompleted,
    aggregation,
  };
}

/** Hits counted in stats: every enforced one, and the staged ones of the pending trace (the others repeat enforced hits). */
function statsHits(r: FlowRecord): PolicyHit[] {
  const staged = r.policies.pending.filter((h) => h.kind.startsWith('Staged'));
  return staged.length === 0 ? r.policies.enforced : [...r.policies.enforced, ...staged];
}

function sqliteErrcode(e: unknown): number | undefined {
  const c = (e as { errcode?: unknown }).errcode;
  return typeof c === 'number' ? c & 0xff : undefined;
}

/** SQLite's busy/locked/full/io failures become FlowStoreUnavailable; anything else is a bug and rethrown. */
function unavailable(e: unknown): FlowStoreUnavailable | undefined {
  const code = sqliteErrcode(e);
  const msg = (e as Error).message;
  if (code === 5 || code === 6) return new FlowStoreUnavailable('busy', `the flow database is locked: ${msg}`);
  if (code === 13) return new FlowStoreUnavailable('full', `the flow database or its disk is full: ${msg}`);
  if (code === 10 || code === 14 || code === 8) return new FlowStoreUnavailable('io', `the flow database cannot be written: ${msg}`);
  return undefined;
}

export function openSqliteFlowStore(opts: SqliteFlowStoreOptions): FlowStore {
  const retention: RetentionConfig = { ...DEFAULT_RETENTION, ...opts.retention };
  if (retention.coarseMs % retention.fineMs !== 0) throw new Error(`flow retention: coarse buckets (${retention.coarseMs} ms) must be a multiple of fine buckets (${retention.fineMs} ms)`);
  const clock = opts.now ?? Date.now;
  const db = new DatabaseSync(opts.path);
  db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 250))}`);
  if (opts.path !== ':memory:') {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // A checkpoint fsyncs; at SQLite's default (every 1,000 WAL pages) a batch of scattered
    // upserts triggered one per commit. 64 MiB of WAL between checkpoints.
    db.exec('PRAGMA wal_autocheckpoint = 16384');
  }
  // 64 MiB of page cache (SQLite's default is 2 MiB): the bucket B-trees of a busy hour and the
  // key index stay in memory; with the default, upserts into a 50 MB file re-read pages all the time.
  db.exec(`PRAGMA cache_size = -${Math.max(2048, Math.floor((opts.cacheBytes ?? 64 * 1024 * 1024) / 1024))}`);
  db.exec(SCHEMA);
  if (opts.maxBytes !== undefined) {
    const page = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
    db.exec(`PRAGMA max_page_count = ${Math.max(8, Math.floor(opts.maxBytes / page))}`);
  }

  const getMeta = db.prepare('SELECT v FROM meta WHERE k = ?');
  const setMeta = db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v');
  const meta = (k: string): string | undefined => (getMeta.get(k) as { v: string } | undefined)?.v;
  const schema = meta('schema');
  if (schema !== undefined && schema !== SCHEMA_VERSION) throw new Error(`${opts.path}: flow store schema ${schema}, this strata reads ${SCHEMA_VERSION}`);
  if (schema === undefined) {
    setMeta.run('schema', SCHEMA_VERSION);
    setMeta.run('rolled_up', String(floorTo(clock() - retention.rollupDelayMs, retention.coarseMs)));
    setMeta.run('fine_floor', '0');
  }
  let rolledUp = Number(meta('rolled_up'));
  let fineFloor = Number(meta('fine_floor'));

  const st = {
    seen: db.prepare('SELECT seq FROM batches WHERE agent = ? AND boot = ?'),
    markSeen: db.prepare('INSERT INTO batches (agent, boot, seq, seen) VALUES (?, ?, ?, ?) ON CONFLICT (agent, boot) DO UPDATE SET seq = excluded.seq, seen = excluded.seen'),
    keyByHash: db.prepare('SELECT id FROM flow_keys WHERE hash = ?'),
    insertKey: db.prepare(
      'INSERT INTO flow_keys (hash, body, src_ns, dst_ns, src_name, dst_name, action, protocol, port, pending_differs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
    ),
    insertHit: db.prepare('INSERT OR IGNORE INTO flow_key_hits (key_id, part, tier, namespace, name) VALUES (?, ?, ?, ?, ?)'),
    upsertBucket: db.prepare(
      `INSERT INTO flow_buckets (level, bucket, key_id, start_ms, end_ms, ${COUNTERS.join(', ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (level, bucket, key_id) DO UPDATE SET start_ms = min(start_ms, excluded.start_ms), end_ms = max(end_ms, excluded.end_ms),
       ${COUNTERS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`,
    ),
    ruleByIdent: db.prepare('SELECT id FROM rules WHERE ident = ?'),
    insertRule: db.prepare('INSERT INTO rules (ident, kind, tier, namespace, name, direction, rule_index, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id'),
    upsertRuleBucket: db.prepare(
      `INSERT INTO rule_buckets (level, bucket, rule_id, ${RULE_COUNTERS.join(', ')}, last_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (level, bucket, rule_id) DO UPDATE SET ${RULE_COUNTERS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}, last_ms = max(last_ms, excluded.last_ms)`,
    ),
    rollupFlows: db.prepare(
      `INSERT INTO flow_buckets (level, bucket, key_id, start_ms, end_ms, ${COUNTERS.join(', ')})
       SELECT 1, bucket - bucket % :coarse, key_id, min(start_ms), max(end_ms), ${COUNTERS.map((c) => `sum(${c})`).join(', ')}
       FROM flow_buckets WHERE level = 0 AND bucket >= :from AND bucket < :to GROUP BY 2, key_id
       ON CONFLICT (level, bucket, key_id) DO UPDATE SET start_ms = min(start_ms, excluded.start_ms), end_ms = max(end_ms, excluded.end_ms),
       ${COUNTERS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`,
    ),
    rollupRules: db.prepare(
      `INSERT INTO rule_buckets (level, bucket, rule_id, ${RULE_COUNTERS.join(', ')}, last_ms)
       SELECT 1, bucket - bucket % :coarse, rule_id, ${RULE_COUNTERS.map((c) => `sum(${c})`).join(', ')}, max(last_ms)
       FROM rule_buckets WHERE level = 0 AND bucket >= :from AND bucket < :to GROUP BY 2, rule_id
       ON CONFLICT (level, bucket, rule_id) DO UPDATE SET ${RULE_COUNTERS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}, last_ms = max(last_ms, excluded.last_ms)`,
    ),
    deleteFlows: db.prepare('DELETE FROM flow_buckets WHERE level = ? AND bucket < ?'),
    deleteRuleBuckets: db.prepare('DELETE FROM rule_buckets WHERE level = ? AND bucket < ?'),
    deleteKeyHits: db.prepare('DELETE FROM flow_key_hits WHERE key_id IN (SELECT id FROM flow_keys WHERE NOT EXISTS (SELECT 1 FROM flow_buckets b WHERE b.key_id = flow_keys.id))'),
    deleteKeys: db.prepare('DELETE FROM flow_keys WHERE NOT EXISTS (SELECT 1 FROM flow_buckets b WHERE b.key_id = flow_keys.id)'),
    deleteRules: db.prepare('DELETE FROM rules WHERE NOT EXISTS (SELECT 1 FROM rule_buckets b WHERE b.rule_id = rules.id)'),
    deleteBatches: db.prepare('DELETE FROM batches WHERE seen < ?'),
  };

  // flow identity → key id and the rule ids of its stats hits (they are part of the identity). A plain Map emptied when
  // full: an LRU's bookkeeping cost more than the misses it saves (a miss is one indexed read).
  const keyCacheMax = opts.keyCacheSize ?? 200_000;
  const keyCache = new Map<string, CachedKey>();
  const ruleCache = new Map<string, number>();
  const listeners = new Set<FlowListener>();
  const counts = { batchesAccepted: 0, batchesDuplicate: 0, batchesFailed: 0, accepted: 0, duplicate: 0, dropped: 0, expired: 0 };
  let lastError: { time: string; message: string } | null = null;

  const hashOf = (ident: string): Uint8Array => createHash('sha256').update(ident).digest().subarray(0, 16);

  function cacheKey(ident: string, entry: CachedKey): CachedKey {
    if (keyCache.size >= keyCacheMax) keyCache.clear();
    keyCache.set(ident, entry);
    return entry;
  }

  function resolveKey(m: Merged): CachedKey {
    const cached = keyCache.get(m.ident);
    if (cached !== undefined) return cached;
    const hash = hashOf(m.ident);
    const found = st.keyByHash.get(hash) as { id: number } | undefined;
    if (found !== undefined) return cacheKey(m.ident, { id: found.id, rules: undefined });
    const r = m.record;
    const { id } = st.insertKey.get(
      hash,
      m.ident,
      r.source.namespace,
      r.destination.namespace,
      r.source.name,
      r.destination.name,
      r.action,
      r.protocol,
      r.port,
      pendingDiffers(r) ? 1 : 0,
    ) as { id: number };
    const parts: [number, readonly PolicyHit[]][] = [[0, r.policies.enforced], [1, r.policies.pending], [2, r.engine?.enforced ?? []]];
    for (const [part, hits] of parts) for (const h of hits) st.insertHit.run(id, part, h.tier ?? '', h.namespace ?? '', h.name ?? '');
    return cacheKey(m.ident, { id, rules: undefined });
  }

  function resolveRule(h: PolicyHit, direction: StatsDirection): number {
    const ident = JSON.stringify([h.kind, h.tier, h.namespace, h.name, direction, h.ruleIndex, h.action]);
    const cached = ruleCache.get(ident);
    if (cached !== undefined) return cached;
    const found = st.ruleByIdent.get(ident) as { id: number } | undefined;
    const id = found?.id ?? (st.insertRule.get(ident, h.kind, h.tier, h.namespace, h.name, direction, h.ruleIndex, h.action) as { id: number }).id;
    ruleCache.set(ident, id);
    return id;
  }

  function levelsOf(bucket: number): number[] {
    if (floorTo(bucket, retention.coarseMs) >= rolledUp) return [0];
    // A late record: its coarse window is already rolled up, so it goes there too.
    return bucket >= fineFloor ? [0, 1] : [1];
  }

  /** Adds the records onto `merged` per (bucket, key); returns how many were too old to keep. */
  function merge(records: readonly FlowRecord[], expiredBefore: number, merged: Map<string, Merged>): number {
    let expired = 0;
    for (const r of records) {
      const startMs = Date.parse(r.startTime);
      const endMs = Date.parse(r.endTime);
      const bucket = floorTo(startMs, retention.fineMs);
      if (bucket < expiredBefore) {
        expired++;
        continue;
      }
      const ident = identityOf(r);
      const k = `${bucket}\u0000${ident}`;
      const m = merged.get(k);
      if (m === undefined) {
        merged.set(k, {
          ident,
          bucket,
          record: r,
          startMs,
          endMs,
          packets: r.packets,
          bytes: r.bytes,
          packetsIn: r.packetsIn,
          packetsOut: r.packetsOut,
          bytesIn: r.bytesIn,
          bytesOut: r.bytesOut,
          connections: r.connections,
          connectionsCompleted: r.connectionsCompleted,
        });
        continue;
      }
      if (startMs < m.startMs) m.startMs = startMs;
      if (endMs > m.endMs) m.endMs = endMs;
      m.packets += r.packets;
      m.bytes += r.bytes;
      m.packetsIn += r.packetsIn;
      m.packetsOut += r.packetsOut;
      m.bytesIn += r.bytesIn;
      m.bytesOut += r.bytesOut;
      m.connections += r.connections;
      m.connectionsCompleted += r.connectionsCompleted;
    }
    return expired;
  }

  function write(merged: Map<string, Merged>): void {
    const rules = new Map<string, RuleAgg>();
    for (const m of merged.values()) {
      const key = resolveKey(m);
      const keyId = key.id;
      const r = m.record;
      const hits = statsHits(r);
      if (key.rules === undefined) {
        const direction: StatsDirection = r.reporter === 'src' ? 'egress' : 'ingress';
        key.rules = hits.map((h) => resolveRule(h, direction));
      }
      const ruleIds = key.rules;
      for (const level of levelsOf(m.bucket)) {
        const bucket = level === 0 ? m.bucket : floorTo(m.bucket, retention.coarseMs);
        st.upsertBucket.run(level, bucket, keyId, m.startMs, m.endMs, m.packets, m.bytes, m.packetsIn, m.packetsOut, m.bytesIn, m.bytesOut, m.connections, m.connectionsCompleted);
        for (let i = 0; i < hits.length; i++) {
          const h = hits[i]!;
          const ruleId = ruleIds[i]!;
          const k = `${level}/${bucket}/${ruleId}`;
          let a = rules.get(k);
          if (a === undefined) {
            a = { level, bucket, ruleId, packets: 0, bytes: 0, connections: 0, allowed: 0, denied: 0, passed: 0, lastMs: m.endMs };
            rules.set(k, a);
          }
          a.packets += m.packets;
          a.bytes += m.bytes;
          a.connections += m.connections;
          if (r.action === 'allow') a.allowed += m.packets;
          else a.denied += m.packets;
          if (h.action === 'pass') a.passed += m.packets;
          if (m.endMs > a.lastMs) a.lastMs = m.endMs;
        }
      }
    }
    for (const a of rules.values()) st.upsertRuleBucket.run(a.level, a.bucket, a.ruleId, a.packets, a.bytes, a.connections, a.allowed, a.denied, a.passed, a.lastMs);
  }

  function inTransaction<T>(fn: () => T): T {
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      throw unavailable(e) ?? e;
    }
    try {
      const out = fn();
      db.exec('COMMIT');
      return out;
    } catch (e) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // SQLite may already have rolled back (SQLITE_FULL does); nothing is left open.
      }
      // Ids cached during the rolled-back transaction may not exist.
      keyCache.clear();
      ruleCache.clear();
      throw unavailable(e) ?? e;
    }
  }

  function fail(records: number, e: Error): void {
    counts.batchesFailed++;
    counts.dropped += records;
    lastError = { time: new Date(clock()).toISOString(), message: e.message };
  }

  /** Bucket ranges per level for [since, until): coarse below the cut, fine from it. */
  function ranges(since: number, until: number): { fine: [number, number]; coarse: [number, number] } {
    const lo = floorTo(since, retention.fineMs);
    if (lo >= fineFloor) return { fine: [lo, until], coarse: [0, 0] };
    const cut = Math.min(ceilTo(fineFloor, retention.coarseMs), rolledUp);
    return { fine: [cut, until], coarse: [floorTo(since, retention.coarseMs), Math.min(cut, until)] };
  }

  function scopeSql(scope: FlowScope, args: SqlValue[]): string[] {
    const where: string[] = [];
    if (scope.namespaces !== 'all') {
      const list = JSON.stringify([...scope.namespaces]);
      where.push('(k.src_ns IN (SELECT value FROM json_each(?)) OR k.dst_ns IN (SELECT value FROM json_each(?)))');
      args.push(list, list);
    }
    if (scope.tiers !== 'all') {
      where.push("NOT EXISTS (SELECT 1 FROM flow_key_hits h WHERE h.key_id = k.id AND h.tier <> '' AND h.tier NOT IN (SELECT value FROM json_each(?)))");
      args.push(JSON.stringify([...scope.tiers]));
    }
    return where;
  }

  function filterSql(f: FlowFilter, args: SqlValue[]): string[] {
    const where: string[] = [];
    if (f.namespace !== undefined) {
      where.push('(k.src_ns = ? OR k.dst_ns = ?)');
      args.push(f.namespace, f.namespace);
    }
    if (f.endpoint !== undefined) {
      if (f.endpoint.namespace === undefined) {
        where.push('(k.src_name = ? OR k.dst_name = ?)');
        args.push(f.endpoint.name, f.endpoint.name);
      } else {
        where.push('((k.src_name = ? AND k.src_ns = ?) OR (k.dst_name = ? AND k.dst_ns = ?))');
        args.push(f.endpoint.name, f.endpoint.namespace, f.endpoint.name, f.endpoint.namespace);
      }
    }
    if (f.action !== undefined) {
      where.push('k.action = ?');
      args.push(f.action);
    }
    if (f.port !== undefined) {
      where.push('k.port = ?');
      args.push(f.port);
    }
    if (f.protocol !== undefined) {
      where.push('k.protocol = ?');
      args.push(f.protocol);
    }
    if (f.pendingDiffers !== undefined) {
      where.push('k.pending_differs = ?');
      args.push(f.pendingDiffers ? 1 : 0);
    }
    if (f.tier !== undefined) {
      where.push('EXISTS (SELECT 1 FROM flow_key_hits h WHERE h.key_id = k.id AND h.part < 2 AND h.tier = ?)');
      args.push(f.tier);
    }
    if (f.policy !== undefined) {
      // Older Calico spells a tiered policy's name `TIER.NAME`; either spelling of the hit matches.
      const t = f.policy.tier;
      where.push(`EXISTS (SELECT 1 FROM flow_key_hits h WHERE h.key_id = k.id AND h.part < 2 AND h.namespace = ? AND ${t === undefined ? 'h.name = ?' : '(h.name = ? OR h.name = ?) AND h.tier = ?'})`);
      args.push(f.policy.namespace ?? '', f.policy.name);
      if (t !== undefined) args.push(`${t}.${f.policy.name}`, t);
    }
    return where;
  }

  interface Pending {
    readonly batch: FlowBatch;
    readonly resolve: (r: IngestResult) => void;
    readonly reject: (e: Error) => void;
  }
  // Group commit: batches that arrive in the same turn of the event loop (many agents at once)
  // are merged together and committed in one transaction, then all answered. Fewer commits, and
  // records of the same flow from different agents' batches become one upsert.
  const groupRecords = opts.groupCommitRecords ?? 50_000;
  let pending: Pending[] = [];
  let pendingRecords = 0;
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    if (pending.length === 0) return;
    const group = pending;
    pending = [];
    pendingRecords = 0;
    const now = clock();
    const cut = floorTo(now - retention.coarseRetentionMs, retention.coarseMs);
    const results: IngestResult[] = [];
    try {
      inTransaction(() => {
        const merged = new Map<string, Merged>();
        // The highest seq per agent boot, as stored or as accepted earlier in this group.
        const marks = new Map<string, { agent: string; boot: string; seq: number }>();
        for (const { batch } of group) {
          const k = `${batch.agent}\u0000${batch.boot}`;
          const seen = marks.get(k)?.seq ?? (st.seen.get(batch.agent, batch.boot) as { seq: number } | undefined)?.seq;
          if (seen !== undefined && batch.seq <= seen) {
            results.push({ accepted: 0, duplicate: true, expired: 0 });
            continue;
          }
          const expired = merge(batch.records, cut, merged);
          marks.set(k, { agent: batch.agent, boot: batch.boot, seq: batch.seq });
          results.push({ accepted: batch.records.length - expired, duplicate: false, expired });
        }
        write(merged);
        for (const m of marks.values()) st.markSeen.run(m.agent, m.boot, m.seq, now);
      });
    } catch (e) {
      for (const p of group) {
        if (e instanceof FlowStoreUnavailable) fail(p.batch.records.length, e);
        p.reject(e as Error);
      }
      return;
    }
    group.forEach((p, i) => {
      const r = results[i]!;
      if (r.duplicate) {
        counts.batchesDuplicate++;
        counts.duplicate += p.batch.records.length;
      } else {
        counts.batchesAccepted++;
        counts.accepted += r.accepted;
        counts.expired += r.expired;
        for (const l of listeners) l(p.batch.records);
      }
      p.resolve(r);
    });
  }

  /** Above this many matching keys a query scans the window by time instead of reading by key. */
  const KEY_PLAN_MAX = opts.keyPlanMax ?? 5000;
  const SORT_EXPR = { time: 'max(end_ms)', packets: 'sum(packets)', bytes: 'sum(bytes)', connections: 'sum(connections)' } as const;

  const store: FlowStore = {
    ingest(batch: FlowBatch): Promise<IngestResult> {
      return new Promise((resolve, reject) => {
        pending.push({ batch, resolve, reject });
        pendingRecords += batch.records.length;
        if (pendingRecords >= groupRecords) flush();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },

    noteDropped(records, error) {
      fail(records, error);
    },

    query(q: FlowQuery): FlowPage {
      const { fine, coarse } = ranges(q.since, q.until);
      const keyArgs: SqlValue[] = [];
      const where = [...filterSql(q.filter, keyArgs), ...scopeSql(q.scope, keyArgs)];
      const args: SqlValue[] = [];
      let sub: string;
      const cols = `key_id, start_ms, end_ms, ${COUNTERS.join(', ')}`;
      // Two plans. With filters, the matching keys are found first (through the key indexes) and
      // their buckets read by key: a namespace over 30 days touches its own rows only. When the
      // filters keep many keys, or there are none, the window's buckets are scanned by time.
      const ids = where.length === 0 ? undefined : (db.prepare(`SELECT k.id AS id FROM flow_keys k WHERE ${where.join(' AND ')} LIMIT ${KEY_PLAN_MAX + 1}`).all(...keyArgs) as { id: number }[]);
      if (ids !== undefined && ids.length === 0) return { items: [] };
      if (ids !== undefined && ids.length <= KEY_PLAN_MAX) {
        const list = JSON.stringify(ids.map((r) => r.id));
        sub = `SELECT ${cols} FROM flow_buckets WHERE key_id IN (SELECT value FROM json_each(?)) AND level = 0 AND bucket >= ? AND bucket < ?
          UNION ALL SELECT ${cols} FROM flow_buckets WHERE key_id IN (SELECT value FROM json_each(?)) AND level = 1 AND bucket >= ? AND bucket < ?`;
        args.push(list, fine[0], fine[1], list, coarse[0], coarse[1]);
      } else {
        // Buckets that overlap the window: from the one holding `since` to the last starting before `until`.
        sub = `SELECT ${cols} FROM flow_buckets WHERE level = 0 AND bucket >= ? AND bucket < ?
          UNION ALL SELECT ${cols} FROM flow_buckets WHERE level = 1 AND bucket >= ? AND bucket < ?`;
        args.push(fine[0], fine[1], coarse[0], coarse[1], ...keyArgs);
      }
      const keyed = ids !== undefined && ids.length <= KEY_PLAN_MAX;
      // Aggregate per key first, then join the keys: the key rows (with their JSON) are read once
      // per key instead of once per bucket row.
      const conds = where.length === 0 || keyed ? [] : [...where];
      if (q.after !== undefined) {
        conds.push('(a.v < ? OR (a.v = ? AND k.id > ?))');
        args.push(q.after.value, q.after.value, Number(q.after.key));
      }
      args.push(q.limit + 1);
      const sql = `WITH a AS (SELECT key_id, ${COUNTERS.map((c) => `sum(${c}) AS ${c}`).join(', ')}, min(start_ms) AS s, max(end_ms) AS e, ${SORT_EXPR[q.sort]} AS v
          FROM (${sub}) GROUP BY key_id)
        SELECT k.id AS id, k.body AS body, ${COUNTERS.map((c) => `a.${c} AS ${c}`).join(', ')}, a.s AS s, a.e AS e, a.v AS v
        FROM a JOIN flow_keys k ON k.id = a.key_id
        ${conds.length === 0 ? '' : `WHERE ${conds.join(' AND ')}`}
        ORDER BY a.v DESC, k.id ASC LIMIT ?`;
      const rows = db.prepare(sql).all(...args) as unknown as KeyRow[];
      const more = rows.length > q.limit;
      const page = more ? rows.slice(0, q.limit) : rows;
      const items = page.map((r) =>
        recordOf(
          r.body,
          { packets: r.packets, bytes: r.bytes, packetsIn: r.packets_in, packetsOut: r.packets_out, bytesIn: r.bytes_in, bytesOut: r.bytes_out, connections: r.connections, connectionsCompleted: r.connections_completed },
          r.s,
          r.e,
        ),
      );
      const last = page[page.length - 1];
      return more && last !== undefined ? { items, next: { value: last.v, key: String(last.id) } } : { items };
    },

    stats(q: StatsQuery): PolicyRuleStat[] {
      const { fine, coarse } = ranges(q.since, q.until);
      const args: SqlValue[] = [fine[0], fine[1], coarse[0], coarse[1]];
      const where: string[] = [];
      if (q.scope.namespaces !== 'all') {
        where.push('r.namespace IN (SELECT value FROM json_each(?))');
        args.push(JSON.stringify([...q.scope.namespaces]));
      }
      if (q.scope.tiers !== 'all') {
        where.push('(r.tier IS NULL OR r.tier IN (SELECT value FROM json_each(?)))');
        args.push(JSON.stringify([...q.scope.tiers]));
      }
      const f = q.filter;
      if (f?.namespace !== undefined) {
        where.push('r.namespace = ?');
        args.push(f.namespace);
      }
      if (f?.tier !== undefined) {
        where.push('r.tier = ?');
        args.push(f.tier);
      }
      if (f?.policy !== undefined) {
        where.push(f.policy.namespace === undefined ? 'r.name IN (?, ?) AND r.namespace IS NULL' : 'r.name IN (?, ?) AND r.namespace = ?');
        args.push(f.policy.name, f.policy.tier === undefined ? f.policy.name : `${f.policy.tier}.${f.policy.name}`);
        if (f.policy.namespace !== undefined) args.push(f.policy.namespace);
        if (f.policy.tier !== undefined) {
          where.push('r.tier = ?');
          args.push(f.policy.tier);
        }
      }
      const sub = `SELECT rule_id, ${RULE_COUNTERS.join(', ')}, last_ms FROM rule_buckets WHERE level = 0 AND bucket >= ? AND bucket < ?
        UNION ALL SELECT rule_id, ${RULE_COUNTERS.join(', ')}, last_ms FROM rule_buckets WHERE level = 1 AND bucket >= ? AND bucket < ?`;
      const sql = `WITH a AS (SELECT rule_id, ${RULE_COUNTERS.map((c) => `sum(${c}) AS ${c}`).join(', ')}, max(last_ms) AS last_ms FROM (${sub}) GROUP BY rule_id)
        SELECT r.kind, r.tier, r.namespace, r.name, r.direction, r.rule_index, r.action, ${RULE_COUNTERS.map((c) => `a.${c} AS ${c}`).join(', ')}, a.last_ms AS last_ms
        FROM a JOIN rules r ON r.id = a.rule_id ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
        ORDER BY r.tier, r.namespace, r.name, r.kind, r.direction, r.rule_index, r.action`;
      return (db.prepare(sql).all(...args) as unknown as RuleRow[]).map((r) => ({
        kind: r.kind,
        tier: r.tier,
        namespace: r.namespace,
        name: r.name,
        direction: r.direction,
        ruleIndex: r.rule_index,
        action: r.action,
        packets: r.packets,
        bytes: r.bytes,
        connections: r.connections,
        allowed: r.allowed,
        denied: r.denied,
        passed: r.passed,
        lastHit: new Date(r.last_ms).toISOString(),
      }));
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },

    maintain(now = clock()) {
      const target = floorTo(now - retention.rollupDelayMs, retention.coarseMs);
      const fineCut = Math.min(floorTo(now - retention.fineRetentionMs, retention.fineMs), target);
      const coarseCut = floorTo(now - retention.coarseRetentionMs, retention.coarseMs);
      inTransaction(() => {
        if (target > rolledUp) {
          const p = { coarse: retention.coarseMs, from: rolledUp, to: target };
          st.rollupFlows.run(p);
          st.rollupRules.run(p);
          setMeta.run('rolled_up', String(target));
        }
        if (fineCut > fineFloor) {
          st.deleteFlows.run(0, fineCut);
          st.deleteRuleBuckets.run(0, fineCut);
          setMeta.run('fine_floor', String(fineCut));
        }
        const removed = Number(st.deleteFlows.run(1, coarseCut).changes);
        st.deleteRuleBuckets.run(1, coarseCut);
        // Keys and rules no bucket refers to any more: a scan of the key table, so only after
        // coarse rows went (fine rows below the cut always have their coarse copy).
        let gone = 0;
        let rulesGone = 0;
        if (removed > 0) {
          st.deleteKeyHits.run();
          gone = Number(st.deleteKeys.run().changes);
          rulesGone = Number(st.deleteRules.run().changes);
        }
        st.deleteBatches.run(now - retention.coarseRetentionMs);
        if (gone > 0) keyCache.clear();
        if (rulesGone > 0) {
          ruleCache.clear();
          keyCache.clear();
        }
      });
      if (target > rolledUp) rolledUp = target;
      if (fineCut > fineFloor) fineFloor = fineCut;
    },

    status(): FlowStoreStatus {
      const count = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
      const pages = (db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
      const size = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
      return {
        backend: 'sqlite',
        location: opts.path,
        retention,
        batches: { accepted: counts.batchesAccepted, duplicate: counts.batchesDuplicate, failed: counts.batchesFailed },
        records: { accepted: counts.accepted, duplicate: counts.duplicate, dropped: counts.dropped, expired: counts.expired },
        lastError,
        rows: {
          fine: count('SELECT count(*) AS n FROM flow_buckets WHERE level = 0'),
          coarse: count('SELECT count(*) AS n FROM flow_buckets WHERE level = 1'),
          keys: count('SELECT count(*) AS n FROM flow_keys'),
        },
        bytes: pages * size,
        rolledUpTo: new Date(rolledUp).toISOString(),
      };
    },

    close() {
      if (db.isOpen) flush();
      listeners.clear();
      if (db.isOpen) db.close();
    },
  };
  return store;
}
