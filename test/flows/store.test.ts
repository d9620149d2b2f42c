// The SQLite flow store on real files: dedup by (agent, boot, seq), merging, roll-up and
// retention under an injected clock, reopening the same file, a locked and a full database,
// and the query's SQL against the live stream's predicate on the same records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openSqliteFlowStore } from '../../src/flows/sqlite-store.ts';
import { FULL_SCOPE, FlowStoreUnavailable, matchesFilter, inScope } from '../../src/flows/store.ts';
import type { FlowFilter, FlowScope, FlowStore } from '../../src/flows/store.ts';
import type { FlowRecord } from '../../src/flows/record.ts';
import { clusterFlows, hit, makeRecord, seeded } from '../../bench/flow-data.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const MIN = 60_000;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'strata-flows-'));
}

function total(store: FlowStore, since: number, until: number, field: 'packets' | 'connections' = 'packets', filter: FlowFilter = {}): number {
  let sum = 0;
  let after;
  for (;;) {
    const page = store.query({ since, until, filter, scope: FULL_SCOPE, sort: 'time', limit: 50, after });
    for (const r of page.items) sum += r[field];
    if (page.next === undefined) return sum;
    after = page.next;
  }
}

test('a batch is stored once by (agent, boot, seq); a lower seq of the same boot is a duplicate, another boot is not', async () => {
  const store = openSqliteFlowStore({ path: join(tmp(), 'flows.db'), now: () => T0 });
  const records = [makeRecord({ start: T0, packets: 5 })];
  assert.deepEqual(await store.ingest({ agent: 'n1', boot: 'b1', seq: 3, records }), { accepted: 1, duplicate: false, expired: 0 });
  assert.deepEqual(await store.ingest({ agent: 'n1', boot: 'b1', seq: 3, records }), { accepted: 0, duplicate: true, expired: 0 });
  assert.equal((await store.ingest({ agent: 'n1', boot: 'b1', seq: 2, records })).duplicate, true);
  assert.equal((await store.ingest({ agent: 'n1', boot: 'b2', seq: 0, records })).duplicate, false);
  assert.equal((await store.ingest({ agent: 'n2', boot: 'b1', seq: 3, records })).duplicate, false);
  assert.equal(total(store, T0, T0 + MIN), 15);
  const s = store.status();
  assert.deepEqual(s.batches, { accepted: 3, duplicate: 2, failed: 0 });
  store.close();
});

test('a burst of 100,000 connections between a few endpoints is merged per bucket and key, not stored one by one', async () => {
  const store = openSqliteFlowStore({ path: join(tmp(), 'flows.db'), now: () => T0 });
  const specs = clusterFlows({ namespaces: 2, endpointsPerNamespace: 5, peers: 2 });
  const records: FlowRecord[] = [];
  for (let i = 0; i < 100_000; i++) records.push(makeRecord({ ...specs[i % specs.length]!, start: T0 + (i % 30) * 1000, connections: 1 }));
  for (let i = 0; i < records.length; i += 10_000) await store.ingest({ agent: 'a', boot: 'b', seq: i, records: records.slice(i, i + 10_000) });
  const s = store.status();
  assert.equal(s.rows.keys, specs.length);
  // 30 seconds of records: two fine buckets per key at most.
  assert.ok(s.rows.fine <= specs.length * 2, `${s.rows.fine} rows`);
  assert.equal(total(store, T0, T0 + MIN, 'connections'), 100_000);
  store.close();
});

test('roll-up and retention: fine buckets become coarse, nothing is counted twice, late records land once, old data goes', async () => {
  let now = T0;
  const store = openSqliteFlowStore({ path: join(tmp(), 'flows.db'), now: () => now });
  let seq = 0;
  const put = async (start: number, packets: number): Promise<void> => void (await store.ingest({ agent: 'a', boot: 'b', seq: seq++, records: [makeRecord({ start, packets })] }));
  await put(T0 + 10_000, 1);
  await put(T0 + 20_000, 2);
  await put(T0 + 5 * MIN + 10_000, 4);
  // Fine precision: only the first 15 s bucket.
  assert.equal(total(store, T0, T0 + 15_000), 1);
  assert.equal(total(store, T0, T0 + 10 * MIN), 7);

  now = T0 + 6 * MIN + 1000;
  store.maintain();
  assert.equal(store.status().rolledUpTo, new Date(T0 + 5 * MIN).toISOString());
  assert.equal(store.status().rows.coarse, 1);
  assert.equal(total(store, T0, T0 + 10 * MIN), 7, 'fine and coarse rows of the same window are not added up');

  // A late record for the rolled-up window goes to both levels and is still counted once.
  await put(T0 + 30_000, 8);
  assert.equal(total(store, T0, T0 + 10 * MIN), 15);
  assert.equal(total(store, T0 + 30_000, T0 + 45_000), 8);

  // Past the fine retention the fine rows go; the coarse ones answer, at their 5-minute grain.
  now = T0 + 2 * 3_600_000;
  store.maintain();
  const s = store.status();
  assert.equal(s.rows.fine, 0);
  assert.equal(s.rows.coarse, 2);
  assert.equal(total(store, T0, T0 + 10 * MIN), 15);
  assert.equal(total(store, T0 + 20_000, T0 + 4 * MIN), 11, 'coarse grain: the whole first window');
  const stats = store.stats({ since: T0, until: now, scope: FULL_SCOPE });
  assert.equal(stats.length, 1);
  assert.equal(stats[0]!.packets, 15);
  assert.equal(stats[0]!.lastHit, new Date(T0 + 5 * MIN + 11_000).toISOString());

  // Past the coarse retention everything goes, keys and rules included; older records are refused as expired.
  now = T0 + 31 * 86_400_000;
  store.maintain();
  const gone = store.status();
  assert.deepEqual(gone.rows, { fine: 0, coarse: 0, keys: 0 });
  assert.equal(store.stats({ since: T0, until: now, scope: FULL_SCOPE }).length, 0);
  assert.deepEqual(await store.ingest({ agent: 'a', boot: 'b', seq: seq++, records: [makeRecord({ start: T0 })] }), { accepted: 0, duplicate: false, expired: 1 });
  store.close();
});

test('a reopened file keeps the counters, the dedup state and the roll-up mark', async () => {
  const path = join(tmp(), 'flows.db');
  let now = T0;
  let store = openSqliteFlowStore({ path, now: () => now });
  const batch = { agent: 'a', boot: 'b', seq: 0, records: [makeRecord({ start: T0, packets: 3 }), makeRecord({ start: T0 + 1000, packets: 4, dst: 'cache' })] };
  await store.ingest(batch);
  now = T0 + 7 * MIN;
  store.maintain();
  const mark = store.status().rolledUpTo;
  store.close();
  store = openSqliteFlowStore({ path, now: () => now });
  assert.equal(store.status().rolledUpTo, mark);
  assert.equal((await store.ingest(batch)).duplicate, true);
  assert.equal(total(store, T0, now), 7);
  store.close();
});

test('a database locked by another connection: the batch is dropped with a counter, the store keeps working, a retry lands', async () => {
  const path = join(tmp(), 'flows.db');
  const store = openSqliteFlowStore({ path, now: () => T0, busyTimeoutMs: 50 });
  const other = new DatabaseSync(path);
  other.exec('BEGIN IMMEDIATE');
  const batch = { agent: 'a', boot: 'b', seq: 0, records: [makeRecord({ start: T0 })] };
  await assert.rejects(store.ingest(batch), (e: unknown) => e instanceof FlowStoreUnavailable && e.reason === 'busy');
  const s = store.status();
  assert.equal(s.records.dropped, 1);
  assert.match(s.lastError?.message ?? '', /locked/);
  assert.equal(total(store, T0, T0 + MIN), 0, 'reads still work');
  other.exec('COMMIT');
  other.close();
  assert.deepEqual(await store.ingest(batch), { accepted: 1, duplicate: false, expired: 0 });
  store.close();
});

test('a full database (size cap): batches are dropped with a counter and nothing half-written remains', async () => {
  const store = openSqliteFlowStore({ path: join(tmp(), 'flows.db'), now: () => T0, maxBytes: 256 * 1024 });
  let seq = 0;
  let full: FlowStoreUnavailable | undefined;
  let stored = 0;
  for (let i = 0; i < 200 && full === undefined; i++) {
    const records = Array.from({ length: 100 }, (_, j) => makeRecord({ start: T0, src: `w-${i}-${j}`, packets: 1 }));
    try {
      await store.ingest({ agent: 'a', boot: 'b', seq: seq++, records });
      stored += 100;
    } catch (e) {
      if (!(e instanceof FlowStoreUnavailable)) throw e;
      full = e;
    }
  }
  assert.equal(full?.reason, 'full');
  assert.equal(store.status().records.dropped, 100);
  assert.equal(total(store, T0, T0 + MIN), stored, 'the failed batch left nothing behind');
  store.close();
});

for (const keyPlanMax of [5000, 0]) test(`the query (SQL, ${keyPlanMax === 0 ? 'scan by time' : 'read by key'}) and the live stream predicate agree on every filter and scope`, async () => {
  const store = openSqliteFlowStore({ path: ':memory:', now: () => T0, keyPlanMax });
  const rnd = seeded(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const records: FlowRecord[] = [];
  for (let i = 0; i < 400; i++) {
    const action = pick(['allow', 'deny'] as const);
    const dstNs = pick(['a', 'b', 'c']);
    records.push(
      makeRecord({
        start: T0 + i * 100,
        srcNs: pick(['a', 'b', 'c']),
        dstNs,
        src: pick(['web', 'api']),
        dst: pick(['db', 'cache']),
        port: pick([80, 443, 5432]),
        protocol: pick(['tcp', 'udp']),
        action,
        enforced: pick([
          [hit('GlobalNetworkPolicy', 'security', null, 'block', 'deny', 0)],
          [hit('GlobalNetworkPolicy', 'security', null, 'tenants', 'pass', 0), hit('NetworkPolicy', 'default', dstNs, 'allow', action, 1)],
          [hit('NetworkPolicy', 'default', dstNs, 'allow', action, 0)],
          [hit('GlobalNetworkPolicy', 'security', null, 'security.legacy', 'deny', 0)],
        ]),
        pending: pick([[], [hit('StagedNetworkPolicy', 'default', dstNs, 'lockdown', action === 'allow' ? 'deny' : 'allow', 0)]]),
      }),
    );
  }
  await store.ingest({ agent: 'x', boot: 'y', seq: 0, records });
  const filters: FlowFilter[] = [
    {},
    { namespace: 'a' },
    { endpoint: { namespace: undefined, name: 'db' } },
    { endpoint: { namespace: 'b', name: 'web' } },
    { policy: { tier: 'security', namespace: undefined, name: 'block' } },
    { policy: { tier: undefined, namespace: 'c', name: 'allow' } },
    { policy: { tier: 'security', namespace: undefined, name: 'legacy' } },
    { tier: 'security' },
    { action: 'deny', port: 443 },
    { protocol: 'udp' },
    { pendingDiffers: true },
    { pendingDiffers: false, namespace: 'b' },
  ];
  assert.ok(records.some((r) => matchesFilter(r, { policy: { tier: 'security', namespace: undefined, name: 'legacy' } })), 'a hit spelled TIER.NAME matches TIER.NAME');
  const scopes: FlowScope[] = [FULL_SCOPE, { namespaces: new Set(['a']), tiers: 'all' }, { namespaces: 'all', tiers: new Set(['default']) }];
  for (const filter of filters) {
    for (const scope of scopes) {
      const want = records.filter((r) => matchesFilter(r, filter) && inScope(r, scope)).reduce((n, r) => n + r.packets, 0);
      const got = store.query({ since: T0, until: T0 + MIN, filter, scope, sort: 'packets', limit: 5000 }).items.reduce((n, r) => n + r.packets, 0);
      assert.equal(got, want, `${JSON.stringify(filter)} in ${JSON.stringify({ ns: scope.namespaces === 'all' ? 'all' : [...scope.namespaces], tiers: scope.tiers === 'all' ? 'all' : [...scope.tiers] })}`);
    }
  }
  store.close();
});

test('pages follow each other without gaps or repeats, in every sort order', async () => {
  const store = openSqliteFlowStore({ path: ':memory:', now: () => T0 });
  const records = Array.from({ length: 237 }, (_, i) => makeRecord({ start: T0 + (i % 50) * 1000, src: `w-${i}`, packets: 1 + (i % 7), bytes: 10 * (i % 13), connections: i % 3 }));
  await store.ingest({ agent: 'x', boot: 'y', seq: 0, records });
  for (const sort of ['time', 'packets', 'bytes', 'connections'] as const) {
    const seen: string[] = [];
    let after;
    let last = Infinity;
    for (;;) {
      const page = store.query({ since: T0, until: T0 + MIN, filter: {}, scope: FULL_SCOPE, sort, limit: 20, after });
      for (const r of page.items) {
        const v = sort === 'time' ? Date.parse(r.endTime) : r[sort];
        assert.ok(v <= last, `${sort} descending`);
        last = v;
        seen.push(r.source.name!);
      }
      if (page.next === undefined) break;
      after = page.next;
    }
    assert.equal(seen.length, 237, sort);
    assert.equal(new Set(seen).size, 237, sort);
  }
  store.close();
});

test('group commit: batches arriving together are committed together, each answered on its own', async () => {
  const path = join(tmp(), 'flows.db');
  const store = openSqliteFlowStore({ path, now: () => T0, busyTimeoutMs: 50 });
  const rec = (packets: number): FlowRecord[] => [makeRecord({ start: T0, packets })];
  const answers = await Promise.all([
    store.ingest({ agent: 'a', boot: 'x', seq: 0, records: rec(1) }),
    store.ingest({ agent: 'a', boot: 'x', seq: 0, records: rec(1) }),
    store.ingest({ agent: 'a', boot: 'x', seq: 1, records: rec(2) }),
    store.ingest({ agent: 'b', boot: 'x', seq: 0, records: rec(4) }),
  ]);
  assert.deepEqual(answers.map((a) => a.duplicate), [false, true, false, false]);
  assert.equal(total(store, T0, T0 + MIN), 7);
  assert.equal(store.status().rows.fine, 1, 'one row: the same flow from two agents merged');
  // A group that cannot be written fails as a whole; none of it is marked as seen.
  const other = new DatabaseSync(path);
  other.exec('BEGIN IMMEDIATE');
  const failed = await Promise.allSettled([store.ingest({ agent: 'a', boot: 'x', seq: 2, records: rec(8) }), store.ingest({ agent: 'c', boot: 'x', seq: 0, records: rec(16) })]);
  assert.deepEqual(failed.map((f) => f.status), ['rejected', 'rejected']);
  other.exec('ROLLBACK');
  other.close();
  assert.equal(store.status().records.dropped, 2);
  assert.equal((await store.ingest({ agent: 'c', boot: 'x', seq: 0, records: rec(16) })).duplicate, false);
  assert.equal(total(store, T0, T0 + MIN), 23);
  store.close();
});
