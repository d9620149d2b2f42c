// Durability of the SQLite store: a child process writes and reports every acknowledged
// transaction; we SIGKILL it mid-stream, reopen the file, and every acknowledged write must be
// there with the revision it was acknowledged at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { openDatastore } from '../../src/store/index.ts';

const ackSchema = z.object({ revision: z.number().int(), keys: z.array(z.string()) });

test('sqlite: every write acknowledged before a SIGKILL is there after reopening', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-durable-'));
  try {
    const path = join(dir, 'store.db');
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'sqlite-writer.ts'), path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => void (stderr += c.toString('utf8')));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const acks: z.infer<typeof ackSchema>[] = [];
    const lines = createInterface({ input: child.stdout });
    // Kill right after an acknowledgement, while the next transaction is in flight.
    for await (const line of lines) {
      acks.push(ackSchema.parse(JSON.parse(line)));
      if (acks.length === 300 && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }
    assert.equal(await exited, 'SIGKILL', stderr);
    assert.ok(acks.length >= 300, `only ${acks.length} acknowledgements: ${stderr}`);

    const store = await openDatastore(`sqlite:${path}`);
    try {
      const last = acks[acks.length - 1];
      assert.ok(last !== undefined && (await store.revision()) >= last.revision);
      const listed = await store.list('/registry/core/configmaps/durable/');
      const byKey = new Map(listed.items.map((o) => [o.key, o]));
      let missing = 0;
      for (const ack of acks) {
        for (const key of ack.keys) {
          const o = byKey.get(key);
          if (o === undefined || o.modRevision !== ack.revision) missing++;
        }
      }
      assert.equal(missing, 0);
      // The store is usable after the crash: a write gets the next revision.
      const r = await store.txn([{ op: 'put', key: '/registry/core/configmaps/durable/after', value: '{}' }]);
      assert.ok(r.ok && r.revision === (await store.revision()));
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: two processes writing one file at once both succeed, and a watcher in a third sees every write once, in order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-multi-'));
  try {
    const path = join(dir, 'store.db');
    const store = await openDatastore(`sqlite:${path}`, { pollIntervalMs: 20 });
    try {
      const from = await store.revision();
      const seen: { key: string; revision: number }[] = [];
      const w = store.watch('/registry/core/configmaps/', from, (events) => void seen.push(...events.map((e) => ({ key: e.key, revision: e.revision }))), () => undefined);
      const runWriter = async (tag: string): Promise<z.infer<typeof ackSchema>[]> => {
        const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'sqlite-writer.ts'), path, '60', tag], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => void (stderr += c.toString('utf8')));
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        const acks: z.infer<typeof ackSchema>[] = [];
        for await (const line of createInterface({ input: child.stdout })) acks.push(ackSchema.parse(JSON.parse(line)));
        assert.equal(await exited, 0, stderr);
        return acks;
      };
      const [a, b] = await Promise.all([runWriter('one'), runWriter('two')]);
      const acked = [...a, ...b];
      const keys = acked.reduce((n, ack) => n + ack.keys.length, 0);
      const deadline = Date.now() + 5000;
      while (seen.length < keys && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      w.close();
      assert.equal(seen.length, keys);
      assert.equal(new Set(seen.map((e) => e.key)).size, keys);
      const revisions = seen.map((e) => e.revision);
      assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y));
      assert.deepEqual(new Set(revisions), new Set(acked.map((ack) => ack.revision)));
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
