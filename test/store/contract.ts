// The Datastore contract, as one table of cases run against every implementation (SQLite on
// temporary files, etcd on a real etcd process). A case gets a fresh key space (its own
// prefix) and, where it needs one, a second client on the same backing store.
import assert from 'node:assert/strict';
import {
  CompactedError,
  FutureRevisionError,
  StoreError,
  WatchOverflowError,
} from '../../src/store/index.ts';
import type { Datastore, WatchEvent } from '../../src/store/index.ts';

export interface ContractContext {
  /** The store under test, freshly opened. */
  readonly store: Datastore;
  /** A key prefix no other case uses (ends with '/'). */
  readonly prefix: string;
  /** Open another client on the same backing store (closed by the harness). */
  openSecond(options?: { watchBufferLimit?: number }): Promise<Datastore>;
}

export interface WatchRecorder {
  readonly events: WatchEvent[];
  readonly errors: StoreError[];
  close(): void;
  /** Wait until at least n events arrived (or fail after timeoutMs). */
  waitForEvents(n: number, timeoutMs?: number): Promise<readonly WatchEvent[]>;
  waitForError(timeoutMs?: number): Promise<StoreError>;
}

async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function record(store: Datastore, prefix: string, fromRevision: number): WatchRecorder {
  const events: WatchEvent[] = [];
  const errors: StoreError[] = [];
  const w = store.watch(prefix, fromRevision, (batch) => void events.push(...batch), (e) => void errors.push(e));
  return {
    events,
    errors,
    close: () => w.close(),
    async waitForEvents(n, timeoutMs = 5000) {
      await waitUntil(`${n} watch events (have ${events.length}, errors ${errors.map(String).join('; ')})`, () => events.length >= n || errors.length > 0, timeoutMs);
      if (events.length < n) throw errors[0] ?? new Error('watch failed');
      return events;
    },
    async waitForError(timeoutMs = 5000) {
      await waitUntil('a watch error', () => errors.length > 0, timeoutMs);
      return errors[0] as StoreError;
    },
  };
}

const brief = (events: readonly WatchEvent[]): string[] => events.map((e) => `${e.type} ${e.key.split('/').pop() ?? ''} ${e.value} @${e.revision}`);

async function put(store: Datastore, key: string, value: string, expectModRevision?: number): Promise<number> {
  const r = await store.txn([expectModRevision === undefined ? { op: 'put', key, value } : { op: 'put', key, value, expectModRevision }]);
  assert.ok(r.ok, `put ${key}`);
  return r.revision;
}

export type ContractCase = readonly [name: string, run: (ctx: ContractContext) => Promise<void>];

/** Cases that leave the backing store's global state (compaction) alone. */
export const contractCases: readonly ContractCase[] = [
  [
    'a put creates a key whose create and mod revisions are the new store revision',
    async ({ store, prefix }) => {
      const before = await store.revision();
      const r = await store.txn([{ op: 'put', key: `${prefix}a`, value: '{"v":1}' }]);
      assert.ok(r.ok);
      assert.ok(r.revision > before);
      assert.equal(await store.revision(), r.revision);
      assert.deepEqual(r.results, [{ key: `${prefix}a`, modRevision: r.revision }]);
      assert.deepEqual(await store.get(`${prefix}a`), { key: `${prefix}a`, value: '{"v":1}', createRevision: r.revision, modRevision: r.revision });
      assert.equal(await store.get(`${prefix}missing`), undefined);
    },
  ],
  [
    'an update keeps the create revision, raises the mod revision and returns the previous object',
    async ({ store, prefix }) => {
      const r1 = await put(store, `${prefix}a`, '1');
      const r2 = await store.txn([{ op: 'put', key: `${prefix}a`, value: '2', expectModRevision: r1 }]);
      assert.ok(r2.ok);
      assert.deepEqual(r2.results[0]?.prev, { key: `${prefix}a`, value: '1', createRevision: r1, modRevision: r1 });
      assert.deepEqual(await store.get(`${prefix}a`), { key: `${prefix}a`, value: '2', createRevision: r1, modRevision: r2.revision });
    },
  ],
  [
    'a stale expected mod revision is a conflict that names the key and the actual revision',
    async ({ store, prefix }) => {
      const r1 = await put(store, `${prefix}a`, '1');
      const r2 = await put(store, `${prefix}a`, '2');
      assert.deepEqual(await store.txn([{ op: 'put', key: `${prefix}a`, value: '3', expectModRevision: r1 }]), {
        ok: false,
        conflict: { key: `${prefix}a`, expected: r1, actual: r2 },
      });
      assert.equal((await store.get(`${prefix}a`))?.value, '2');
    },
  ],
  [
    'expecting revision 0 means the key must not exist',
    async ({ store, prefix }) => {
      const r1 = await put(store, `${prefix}a`, '1', 0);
      assert.deepEqual(await store.txn([{ op: 'put', key: `${prefix}a`, value: '2', expectModRevision: 0 }]), {
        ok: false,
        conflict: { key: `${prefix}a`, expected: 0, actual: r1 },
      });
      assert.deepEqual(await store.txn([{ op: 'delete', key: `${prefix}gone`, expectModRevision: 7 }]), {
        ok: false,
        conflict: { key: `${prefix}gone`, expected: 7, actual: 0 },
      });
    },
  ],
  [
    'a batch with one failing compare applies nothing and makes no revision',
    async ({ store, prefix }) => {
      const r1 = await put(store, `${prefix}b`, 'old');
      const before = await store.revision();
      const r = await store.txn([
        { op: 'put', key: `${prefix}a`, value: 'new' },
        { op: 'delete', key: `${prefix}b` },
        { op: 'put', key: `${prefix}c`, value: 'x', expectModRevision: r1 + 1000 },
      ]);
      assert.equal(r.ok, false);
      assert.equal(await store.revision(), before);
      assert.equal(await store.get(`${prefix}a`), undefined);
      assert.equal((await store.get(`${prefix}b`))?.value, 'old');
    },
  ],
  [
    'a batch is one revision: every op carries it',
    async ({ store, prefix }) => {
      const before = await store.revision();
      const ops = Array.from({ length: 20 }, (_, i) => ({ op: 'put' as const, key: `${prefix}k${String(i).padStart(2, '0')}`, value: String(i) }));
      const r = await store.txn(ops);
      assert.ok(r.ok);
      assert.equal(r.revision, before + 1);
      assert.deepEqual(new Set(r.results.map((x) => x.modRevision)), new Set([r.revision]));
      const listed = await store.list(prefix);
      assert.equal(listed.items.length, 20);
      assert.ok(listed.items.every((o) => o.modRevision === r.revision && o.createRevision === r.revision));
    },
  ],
  [
    'a delete returns the last object; deleting an absent key changes nothing and makes no revision',
    async ({ store, prefix }) => {
      const r1 = await put(store, `${prefix}a`, 'last');
      const d = await store.txn([{ op: 'delete', key: `${prefix}a`, expectModRevision: r1 }]);
      assert.ok(d.ok);
      assert.deepEqual(d.results, [{ key: `${prefix}a`, modRevision: d.revision, prev: { key: `${prefix}a`, value: 'last', createRevision: r1, modRevision: r1 } }]);
      assert.equal(await store.get(`${prefix}a`), undefined);
      const noop = await store.txn([{ op: 'delete', key: `${prefix}a` }]);
      assert.deepEqual(noop, { ok: true, revision: d.revision, results: [{ key: `${prefix}a`, modRevision: 0 }] });
    },
  ],
  [
    'a transaction that touches one key twice is refused',
    async ({ store, prefix }) => {
      await assert.rejects(
        store.txn([
          { op: 'put', key: `${prefix}a`, value: '1' },
          { op: 'delete', key: `${prefix}a` },
        ]),
        (e: unknown) => e instanceof StoreError && e.code === 'invalid-argument',
      );
    },
  ],
  [
    'a list returns the keys under the prefix in key order, not keys that merely share its text',
    async ({ store, prefix }) => {
      await store.txn([
        { op: 'put', key: `${prefix}ns1/b`, value: 'b' },
        { op: 'put', key: `${prefix}ns1/a`, value: 'a' },
        { op: 'put', key: `${prefix}ns10/a`, value: 'other namespace' },
        { op: 'put', key: `${prefix}ns1`, value: 'the prefix without its slash' },
      ]);
      const r = await store.list(`${prefix}ns1/`);
      assert.deepEqual(r.items.map((o) => o.key), [`${prefix}ns1/a`, `${prefix}ns1/b`]);
      assert.equal(r.revision, await store.revision());
      assert.equal(r.more, false);
    },
  ],
  [
    'pages taken at the first page revision form one consistent snapshot despite writes in between',
    async ({ store, prefix }) => {
      await store.txn(Array.from({ length: 7 }, (_, i) => ({ op: 'put' as const, key: `${prefix}p${i}`, value: `v${i}` })));
      const first = await store.list(prefix, { limit: 3 });
      assert.deepEqual(first.items.map((o) => o.value), ['v0', 'v1', 'v2']);
      assert.equal(first.more, true);
      // Writes between pages: a new key, a changed key, a deleted key.
      await store.txn([
        { op: 'put', key: `${prefix}p3`, value: 'changed' },
        { op: 'delete', key: `${prefix}p4` },
        { op: 'put', key: `${prefix}p35`, value: 'new' },
      ]);
      const seen = [...first.items];
      let page = first;
      while (page.more) {
        const last = page.items[page.items.length - 1];
        page = await store.list(prefix, { limit: 3, revision: first.revision, continueAfter: last?.key ?? '' });
        assert.equal(page.revision, first.revision);
        seen.push(...page.items);
      }
      assert.deepEqual(seen.map((o) => o.value), ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
    },
  ],
  [
    'a list at an old revision shows the state of then: old values, deleted keys, not later keys',
    async ({ store, prefix }) => {
      const r1 = await put(store, `${prefix}a`, 'a1');
      await put(store, `${prefix}b`, 'b1');
      const then = await store.revision();
      await put(store, `${prefix}a`, 'a2');
      await store.txn([{ op: 'delete', key: `${prefix}b` }]);
      await put(store, `${prefix}c`, 'c1');
      const old = await store.list(prefix, { revision: then });
      assert.equal(old.revision, then);
      assert.deepEqual(old.items.map((o) => [o.key.slice(prefix.length), o.value]), [['a', 'a1'], ['b', 'b1']]);
      assert.equal(old.items[0]?.modRevision, r1);
      const now = await store.list(prefix);
      assert.deepEqual(now.items.map((o) => [o.key.slice(prefix.length), o.value]), [['a', 'a2'], ['c', 'c1']]);
    },
  ],
  [
    'a list at a future revision fails with FutureRevisionError',
    async ({ store, prefix }) => {
      const head = await store.revision();
      await assert.rejects(store.list(prefix, { revision: head + 100 }), FutureRevisionError);
    },
  ],
  [
    'a watch from a revision replays what came after it in order, then follows live changes',
    async ({ store, prefix }) => {
      const from = await put(store, `${prefix}a`, '1');
      const r2 = await put(store, `${prefix}a`, '2');
      const r3 = await put(store, `${prefix}b`, 'b');
      const w = record(store, prefix, from);
      try {
        await w.waitForEvents(2);
        const r4 = await store.txn([{ op: 'delete', key: `${prefix}a` }]);
        assert.ok(r4.ok);
        const events = await w.waitForEvents(3);
        assert.deepEqual(brief(events), [`MODIFIED a 2 @${r2}`, `ADDED b b @${r3}`, `DELETED a 2 @${r4.revision}`]);
        assert.deepEqual(w.errors, []);
      } finally {
        w.close();
      }
    },
  ],
  [
    'a watch sees only keys under its prefix and nothing at or before its revision',
    async ({ store, prefix }) => {
      await put(store, `${prefix}x/early`, 'e');
      const from = await store.revision();
      const w = record(store, `${prefix}x/`, from);
      try {
        await put(store, `${prefix}y/other`, 'o');
        await put(store, `${prefix}xylophone`, 'not under x/');
        const r = await put(store, `${prefix}x/late`, 'l');
        const events = await w.waitForEvents(1);
        await new Promise((resolve) => setTimeout(resolve, 150));
        assert.deepEqual(brief(events), [`ADDED late l @${r}`]);
      } finally {
        w.close();
      }
    },
  ],
  [
    'watch events arrive in revision order across many writes, a batch sharing one revision',
    async ({ store, prefix }) => {
      const from = await store.revision();
      const w = record(store, prefix, from);
      try {
        const writes: Promise<unknown>[] = [];
        for (let i = 0; i < 40; i++) writes.push(store.txn([{ op: 'put', key: `${prefix}k${i % 7}`, value: String(i) }]));
        await Promise.all(writes);
        const batch = await store.txn([
          { op: 'put', key: `${prefix}z1`, value: 'z' },
          { op: 'put', key: `${prefix}z2`, value: 'z' },
        ]);
        assert.ok(batch.ok);
        const events = await w.waitForEvents(42);
        const revisions = events.map((e) => e.revision);
        assert.deepEqual(revisions, [...revisions].sort((a, b) => a - b));
        assert.equal(new Set(revisions.slice(0, 40)).size, 40);
        assert.deepEqual(revisions.slice(40), [batch.revision, batch.revision]);
        // The last value per key is the state.
        const state = new Map(events.map((e) => [e.key, e.value]));
        for (const o of (await store.list(prefix)).items) assert.equal(state.get(o.key), o.value);
      } finally {
        w.close();
      }
    },
  ],
  [
    'watchers on one prefix from different revisions each get exactly what came after their own, and closing one leaves the others running',
    async ({ store, prefix }) => {
      const base = await store.revision();
      const a = record(store, prefix, base);
      const r1 = await put(store, `${prefix}k1`, '1');
      const r2 = await put(store, `${prefix}k2`, '2');
      await a.waitForEvents(2);
      const b = record(store, prefix, base);
      const c = record(store, prefix, r2);
      const d = record(store, prefix, r1);
      try {
        await b.waitForEvents(2);
        await d.waitForEvents(1);
        a.close();
        const r3 = await put(store, `${prefix}k3`, '3');
        await b.waitForEvents(3);
        await c.waitForEvents(1);
        await d.waitForEvents(2);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(a.events.map((e) => e.revision), [r1, r2]);
        assert.deepEqual(b.events.map((e) => e.revision), [r1, r2, r3]);
        assert.deepEqual(c.events.map((e) => e.revision), [r3]);
        assert.deepEqual(d.events.map((e) => e.revision), [r2, r3]);
      } finally {
        a.close();
        b.close();
        c.close();
        d.close();
      }
    },
  ],
  [
    'a second client on the same store sees the first one\'s writes through watch, and the other way round',
    async ({ store, prefix, openSecond }) => {
      const other = await openSecond();
      const from = await store.revision();
      const mine = record(store, prefix, from);
      const theirs = record(other, prefix, from);
      try {
        const r1 = await put(store, `${prefix}from-first`, '1');
        const r2 = await put(other, `${prefix}from-second`, '2');
        assert.deepEqual(brief(await theirs.waitForEvents(2)), [`ADDED from-first 1 @${r1}`, `ADDED from-second 2 @${r2}`]);
        assert.deepEqual(brief(await mine.waitForEvents(2)), [`ADDED from-first 1 @${r1}`, `ADDED from-second 2 @${r2}`]);
        assert.equal((await other.get(`${prefix}from-first`))?.modRevision, r1);
      } finally {
        mine.close();
        theirs.close();
      }
    },
  ],
  [
    'a consumer that stops accepting events is dropped with WatchOverflowError once its buffer is full',
    async ({ prefix, openSecond }) => {
      const store = await openSecond({ watchBufferLimit: 5 });
      const from = await store.revision();
      let delivered = 0;
      const errors: StoreError[] = [];
      const w = store.watch(prefix, from, (events) => {
        delivered += events.length;
        return false; // backpressure: accept this batch, then pause
      }, (e) => void errors.push(e));
      try {
        await put(store, `${prefix}first`, '0');
        await waitUntil('the first batch', () => delivered > 0, 5000);
        for (let i = 0; i < 10; i++) await put(store, `${prefix}k${i}`, String(i));
        await waitUntil('the overflow', () => errors.length > 0, 5000);
        assert.ok(errors[0] instanceof WatchOverflowError, String(errors[0]));
        assert.equal(delivered, 1);
      } finally {
        w.close();
      }
    },
  ],
  [
    'a paused consumer that resumes gets everything in order',
    async ({ store, prefix }) => {
      const from = await store.revision();
      const got: WatchEvent[] = [];
      let handle: { resume(): void } | undefined;
      const w = store.watch(prefix, from, (events) => {
        got.push(...events);
        setTimeout(() => handle?.resume(), 20);
        return false;
      }, () => undefined);
      handle = w;
      try {
        for (let i = 0; i < 5; i++) await put(store, `${prefix}k${i}`, String(i));
        await waitUntil('five events', () => got.length >= 5, 5000);
        assert.deepEqual(got.map((e) => e.value), ['0', '1', '2', '3', '4']);
      } finally {
        w.close();
      }
    },
  ],
];

/**
 * Compaction cases change the backing store's compacted revision, so an implementation that
 * shares one backing store across cases runs them last.
 */
export const compactionCases: readonly ContractCase[] = [
  [
    'after compaction a list below the compacted revision fails with CompactedError and at it succeeds',
    async ({ store, prefix }) => {
      await put(store, `${prefix}a`, 'a1');
      const old = await store.revision();
      await put(store, `${prefix}a`, 'a2');
      await put(store, `${prefix}b`, 'b1');
      await store.txn([{ op: 'delete', key: `${prefix}b` }]);
      const at = await store.revision();
      await put(store, `${prefix}c`, 'c1');
      await store.compact(at);
      assert.equal(await store.compactedRevision(), at);
      await assert.rejects(store.list(prefix, { revision: old }), (e: unknown) => e instanceof CompactedError && e.compactedRevision === at);
      const listed = await store.list(prefix, { revision: at });
      assert.deepEqual(listed.items.map((o) => [o.key.slice(prefix.length), o.value]), [['a', 'a2']]);
      assert.deepEqual((await store.list(prefix)).items.map((o) => o.value), ['a2', 'c1']);
      // Compacting at or below the compacted revision is a no-op; above the head it is refused.
      await store.compact(old);
      assert.equal(await store.compactedRevision(), at);
      await assert.rejects(store.compact((await store.revision()) + 100), FutureRevisionError);
    },
  ],
  [
    'a watch from below the compacted revision fails with CompactedError; from the compacted revision it replays what came after',
    async ({ store, prefix }) => {
      const old = await put(store, `${prefix}a`, '1');
      await put(store, `${prefix}a`, '2');
      const at = await store.revision();
      const r3 = await put(store, `${prefix}a`, '3');
      await store.compact(at);
      const stale = record(store, prefix, old);
      const fresh = record(store, prefix, at);
      try {
        const e = await stale.waitForError();
        assert.ok(e instanceof CompactedError, String(e));
        assert.equal(e.compactedRevision, at);
        assert.deepEqual(stale.events, []);
        assert.deepEqual(brief(await fresh.waitForEvents(1)), [`MODIFIED a 3 @${r3}`]);
      } finally {
        stale.close();
        fresh.close();
      }
    },
  ],
  [
    'a live watch keeps going across a compaction, and a restart from its old revision is refused',
    async ({ store, prefix }) => {
      const from = await put(store, `${prefix}a`, '1');
      const w = record(store, prefix, from);
      try {
        await put(store, `${prefix}a`, '2');
        await w.waitForEvents(1);
        await put(store, `${prefix}a`, '3');
        await store.compact(await store.revision());
        const r4 = await put(store, `${prefix}a`, '4');
        const events = await w.waitForEvents(3);
        assert.deepEqual(events.map((e) => e.value), ['2', '3', '4']);
        assert.equal(events[2]?.revision, r4);
        assert.deepEqual(w.errors, []);
        const again = record(store, prefix, from);
        try {
          assert.ok((await again.waitForError()) instanceof CompactedError);
        } finally {
          again.close();
        }
      } finally {
        w.close();
      }
    },
  ],
  [
    'a closed store refuses further calls with a closed StoreError',
    async ({ store }) => {
      await store.close();
      await assert.rejects(store.revision(), (e: unknown) => e instanceof StoreError && e.code === 'closed');
      await assert.rejects(store.txn([]), (e: unknown) => e instanceof StoreError && e.code === 'closed');
    },
  ],
];
