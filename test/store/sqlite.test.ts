// The Datastore contract on SQLite: a fresh temporary database file per case, a second client
// being a second connection to the same file (so cross-client watch goes through the
// revision-log polling, as between processes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactedError, openDatastore } from '../../src/store/index.ts';
import type { Datastore } from '../../src/store/index.ts';
import { compactionCases, contractCases } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'strata-sqlite-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
for (const [name, run] of [...contractCases, ...compactionCases]) {
  test(`sqlite: ${name}`, async () => {
    const path = join(dir, `case-${n++}.db`);
    const opened: Datastore[] = [];
    const store = await openDatastore(`sqlite:${path}`, { pollIntervalMs: 20 });
    opened.push(store);
    try {
      await run({
        store,
        prefix: '/registry/core/configmaps/test/',
        async openSecond(options) {
          const other = await openDatastore(`sqlite:${path}`, { pollIntervalMs: 20, ...options });
          opened.push(other);
          return other;
        },
      });
    } finally {
      for (const s of opened) await s.close();
    }
  });
}

test('sqlite: a fresh database starts at revision 1 with nothing compacted, in WAL mode', async () => {
  const path = join(dir, 'fresh.db');
  const store = await openDatastore(`sqlite:${path}`);
  try {
    assert.equal(await store.revision(), 1);
    assert.equal(await store.compactedRevision(), 0);
    assert.equal(store.kind, 'sqlite');
  } finally {
    await store.close();
  }
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  try {
    assert.deepEqual({ ...db.prepare('PRAGMA journal_mode').get() }, { journal_mode: 'wal' });
  } finally {
    db.close();
  }
});

test('sqlite: compaction deletes superseded log rows and tombstones, keeping the state at the compacted revision', async () => {
  const path = join(dir, 'compact-rows.db');
  const store = await openDatastore(`sqlite:${path}`);
  const p = '/registry/core/pods/ns/';
  try {
    for (let i = 0; i < 10; i++) await store.txn([{ op: 'put', key: `${p}a`, value: String(i) }]);
    await store.txn([{ op: 'put', key: `${p}b`, value: 'b' }]);
    await store.txn([{ op: 'delete', key: `${p}b` }]);
    await store.compact(await store.revision());
  } finally {
    await store.close();
  }
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare('SELECT key, value, deleted FROM log ORDER BY key').all().map((r) => ({ ...r }));
    assert.deepEqual(rows, [{ key: `${p}a`, value: '9', deleted: 0 }]);
  } finally {
    db.close();
  }
});

test('sqlite: a watcher behind rows that another process compacted away is ended with CompactedError', async () => {
  const path = join(dir, 'foreign-compaction.db');
  const p = '/registry/core/configmaps/fc/';
  // A never polls during the test, so it has not read B's writes when B compacts them away.
  const a = await openDatastore(`sqlite:${path}`, { pollIntervalMs: 60_000 });
  const b = await openDatastore(`sqlite:${path}`);
  try {
    const from = await a.revision();
    const errors: unknown[] = [];
    const events: string[] = [];
    a.watch(p, from, (evs) => void events.push(...evs.map((e) => e.value)), (e) => void errors.push(e));
    await b.txn([{ op: 'put', key: `${p}x`, value: '1' }]);
    await b.txn([{ op: 'put', key: `${p}x`, value: '2' }]);
    await b.compact(await b.revision());
    // A local write makes A read the log now: it finds the compaction past what it had read.
    await a.txn([{ op: 'put', key: `${p}y`, value: 'local' }]);
    const deadline = Date.now() + 5000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(errors[0] instanceof CompactedError, String(errors[0]));
    assert.deepEqual(events, []);
  } finally {
    await a.close();
    await b.close();
  }
});
