// The shipper against a real server over real HTTP: answers lost after the server stored a
// batch (a proxy that drops them), an agent restart on the same spool, a server restart on the
// same flow file, a full spool, a batch the server refuses for good. The count of connections
// that reaches the store is checked exactly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openShipper, httpTransport, retryDelayMs } from '../../src/flows/shipper.ts';
import { openSqliteFlowStore } from '../../src/flows/sqlite-store.ts';
import type { FlowRecord } from '../../src/flows/record.ts';
import { makeRecord } from '../../bench/flow-data.ts';
import { startHarness } from '../server/harness.ts';
import type { Harness } from '../server/harness.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function listen(h: Harness): Promise<string> {
  return h.server.app.listen({ host: '127.0.0.1', port: 0 });
}

/** Forwards to `target`; while `dropAnswers > 0`, waits for the server's answer and then cuts the connection instead of passing it on. */
interface FaultProxy {
  url: string;
  target: string;
  dropAnswers: number;
  /** Answer 503 without forwarding (the server is "down"). */
  down: boolean;
  forwarded: number;
  close(): Promise<void>;
}

async function faultProxy(target: string): Promise<FaultProxy> {
  const p: FaultProxy = { url: '', target, dropAnswers: 0, down: false, forwarded: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    if (p.down) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"message":"down"}');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', p.target);
      const up = request(u, { method: req.method, headers: req.headers }, (upRes) => {
        const body: Buffer[] = [];
        upRes.on('data', (c: Buffer) => body.push(c));
        upRes.on('end', () => {
          p.forwarded++;
          if (p.dropAnswers > 0) {
            p.dropAnswers--;
            req.socket.destroy();
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers).end(Buffer.concat(body));
        });
      });
      up.on('error', () => res.writeHead(502).end());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  p.url = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  p.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return p;
}

function records(n: number, start: number, tag: string): FlowRecord[] {
  return Array.from({ length: n }, (_, i) => makeRecord({ start: start + (i % 20) * 1000, src: `${tag}-${i % 7}`, connections: 1, packets: 3 }));
}

async function connectionsStored(h: Harness, since: string): Promise<number> {
  let sum = 0;
  let cont = '';
  for (;;) {
    const r = await h.call('GET', `/apis/strata/v1/flows?since=${since}&limit=500${cont === '' ? '' : `&continue=${cont}`}`);
    assert.equal(r.code, 200, r.text);
    for (const f of r.json.items as FlowRecord[]) sum += f.connections;
    if (r.json.metadata.continue === undefined) return sum;
    cont = r.json.metadata.continue as string;
  }
}

const fast = { initialBackoffMs: 5, maxBackoffMs: 40 };

test('retry delays grow exponentially to the cap, jittered within the upper half', () => {
  assert.equal(retryDelayMs(0, 100, 10_000, 0), 50);
  assert.equal(retryDelayMs(0, 100, 10_000, 0.999999) < 100, true);
  assert.equal(retryDelayMs(3, 100, 10_000, 0), 400);
  assert.equal(retryDelayMs(20, 100, 10_000, 0), 5000);
  assert.ok(retryDelayMs(20, 100, 10_000, 0.999999) <= 10_000);
  assert.equal(retryDelayMs(1e6, 100, 10_000, 0), 5000, 'no overflow for huge attempts');
});

test('every connection is counted once across lost answers, an agent restart and a server restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-ship-'));
  const flowFile = join(dir, 'flows.db');
  let h = await startHarness({ dir, flowStore: openSqliteFlowStore({ path: flowFile }), flowMaintenanceMs: 0 });
  const proxy = await faultProxy(await listen(h));
  cleanups.push(() => proxy.close());
  const spool = join(dir, 'spool.db');
  const send = httpTransport({ server: proxy.url, token: 'admin-token' });
  const now = Date.now() - 60_000;
  let shipped = 0;

  // 1. The server stores the first three batches but their answers are lost: resent, then duplicates.
  proxy.dropAnswers = 3;
  let a = openShipper({ spoolPath: spool, agent: 'node-1', send, maxBatchRecords: 100, ...fast });
  a.ship(records(1000, now, 'a'));
  shipped += 1000;
  assert.equal(await a.flush(20_000), true);
  // The first answer is lost, then its two resends' answers too (duplicates by then); the fourth send hears "duplicate".
  assert.equal(a.stats().duplicateBatches, 1);
  assert.equal(a.stats().sent.records, 1000);

  // 2. The server is down while the agent ships more; the agent restarts; the new one replays the spool.
  proxy.down = true;
  a.ship(records(450, now, 'b'));
  shipped += 450;
  assert.equal(await a.flush(200), false);
  const bootA = a.stats().boot;
  await a.close();
  proxy.down = false;
  a = openShipper({ spoolPath: spool, agent: 'node-1', send, maxBatchRecords: 100, ...fast });
  assert.notEqual(a.stats().boot, bootA);
  assert.equal(a.stats().spooled.records, 450);
  a.ship(records(50, now, 'c'));
  shipped += 50;
  assert.equal(await a.flush(20_000), true);

  // 3. An answer is lost, then the server restarts on the same files: the resend is a duplicate.
  proxy.dropAnswers = 1;
  proxy.down = false;
  const before = proxy.forwarded;
  a.ship(records(100, now, 'd'));
  shipped += 100;
  // Wait until the server has stored it (the answer is being dropped), then restart the server.
  while (proxy.forwarded === before) await new Promise((r) => setTimeout(r, 10));
  proxy.down = true;
  await h.close();
  h = await startHarness({ dir, flowStore: openSqliteFlowStore({ path: flowFile }), flowMaintenanceMs: 0 });
  proxy.target = await listen(h);
  proxy.down = false;
  assert.equal(await a.flush(20_000), true);
  assert.ok(a.stats().duplicateBatches >= 1);
  await a.close();

  assert.equal(await connectionsStored(h, '10m'), shipped);
  const status = await h.call('GET', '/apis/strata/v1/flows/status');
  assert.equal(status.json.status.records.dropped, 0);
  await h.close();
});

test('a full spool drops the oldest batches with a counter that survives a restart; the rest arrives exactly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-ship-'));
  const spool = join(dir, 'spool.db');
  // Nothing listens on port 9 of loopback (discard): every send fails and is retried.
  const dead = httpTransport({ server: 'http://127.0.0.1:9', timeoutMs: 200 });
  const one = JSON.stringify({ agent: 'node-2', boot: '00000000-0000-0000-0000-000000000000', seq: 0, records: records(50, Date.now(), 'x') }).length;
  let s = openShipper({ spoolPath: spool, agent: 'node-2', send: dead, maxBatchRecords: 50, maxSpoolBytes: one * 4 + 100, ...fast });
  const now = Date.now() - 30_000;
  for (let i = 0; i < 10; i++) s.ship(records(50, now, `s${i}`));
  const st = s.stats();
  assert.ok(st.spooled.bytes <= one * 4 + 100);
  assert.equal(st.droppedRecords + st.spooled.records, 500);
  assert.ok(st.droppedRecords >= 250, `${st.droppedRecords} dropped`);
  await s.close();

  const h = await startHarness({ flowMaintenanceMs: 0 });
  cleanups.push(() => h.close());
  const url = await listen(h);
  s = openShipper({ spoolPath: spool, agent: 'node-2', send: httpTransport({ server: url, token: 'admin-token' }), maxBatchRecords: 50, ...fast });
  assert.equal(s.stats().droppedRecords, st.droppedRecords);
  assert.equal(await s.flush(20_000), true);
  assert.equal(await connectionsStored(h, '10m'), 500 - st.droppedRecords);
  // The newest batches are the ones kept.
  const names = new Set(((await h.call('GET', '/apis/strata/v1/flows?since=10m&limit=5000')).json.items as FlowRecord[]).map((r) => r.source.name!.split('-')[0]));
  assert.ok(names.has('s9') && !names.has('s0'), [...names].join(','));
  await s.close();
  assert.throws(() => openShipper({ spoolPath: spool, agent: 'node-3', send: dead }), /belongs to agent "node-2"/);
});

test('a batch the server refuses for good (400) is dropped and counted; the next ones still go', async () => {
  const h = await startHarness({ flowMaintenanceMs: 0 });
  cleanups.push(() => h.close());
  const url = await listen(h);
  const dir = mkdtempSync(join(tmpdir(), 'strata-ship-'));
  const s = openShipper({ spoolPath: join(dir, 'spool.db'), agent: 'node-4', send: httpTransport({ server: url, token: 'admin-token' }), maxBatchRecords: 10, ...fast });
  const bad = { ...makeRecord({ start: Date.now() - 1000 }), port: 70000 } as FlowRecord;
  s.ship([bad]);
  s.ship(records(10, Date.now() - 20_000, 'ok'));
  assert.equal(await s.flush(20_000), true);
  assert.equal(s.stats().rejectedRecords, 1);
  assert.match(s.stats().lastError ?? '', /HTTP 400: .*records\[0\]\.port/);
  assert.equal(await connectionsStored(h, '10m'), 10);
  await s.close();
});
