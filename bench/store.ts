// `node bench/store.ts`: the datastore benchmarks — apply throughput (single-object and batch
// transactions), list latency at 100k objects, and watch fan-out to 50 watchers — on SQLite
// (a temporary file) and on a real single-member etcd (started here, /usr/bin/etcd). Every
// phase is bounded in time or size so a whole run stays under a minute. Figures are reported,
// never asserted: see docs/performance.md ("Datastore").
//
//   node bench/store.ts [--store sqlite|etcd|both] [--objects N] [--watchers N] [--quick]
//
//   --store     which store (default sqlite, the embedded default; etcd is skipped with a note
//               when /usr/bin/etcd is missing). One store per run keeps a run under a minute.
//   --objects   objects loaded for the list latency (default 100,000)
//   --watchers  watchers for the fan-out (default 50)
//   --quick     small sizes (10,000 objects, shorter phases), to smoke-test the bench
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatastore } from '../src/store/index.ts';
import type { Datastore, TxnOp } from '../src/store/index.ts';
import { etcdSkipReason, startEtcdCluster } from '../test/store/etcd-process.ts';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    objects: { type: 'string' },
    watchers: { type: 'string', default: '50' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = values.quick;
const objects = Number(values.objects ?? (quick ? 10_000 : 100_000));
const watcherCount = Number(values.watchers);
const singleSeconds = quick ? 1 : 2.5;
const batchSize = 500;
const fanoutWrites = quick ? 200 : 1000;

// A Pod-sized JSON document (~600 bytes), like what the API server stores.
function podJson(ns: string, name: string, i: number): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, labels: { app: `app-${i % 50}`, tier: i % 3 === 0 ? 'web' : 'db', team: `team-${i % 7}` } },
    spec: { serviceAccountName: 'default', containers: [{ name: 'main', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080, protocol: 'TCP', name: 'http' }] }] },
    status: { phase: 'Running', podIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, podIPs: [{ ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }] },
  });
}

const podKey = (ns: string, name: string): string => `/registry/core/pods/${ns}/${name}`;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}
function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? 0;
}
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

interface Row {
  readonly store: string;
  readonly what: string;
  readonly value: string;
}
const rows: Row[] = [];
const report = (store: string, what: string, value: string): void => {
  rows.push({ store, what, value });
  console.error(`  ${store}: ${what}: ${value}`);
};

async function benchApply(name: string, store: Datastore): Promise<void> {
  // Single-object transactions, one after another: each waits for its commit (fsync / raft).
  let n = 0;
  const t0 = process.hrtime.bigint();
  const latencies: number[] = [];
  while (ms(t0) < singleSeconds * 1000) {
    const t = process.hrtime.bigint();
    const r = await store.txn([{ op: 'put', key: podKey('single', `p${n}`), value: podJson('single', `p${n}`, n), expectModRevision: 0 }]);
    if (!r.ok) throw new Error('conflict');
    latencies.push(ms(t));
    n++;
  }
  const elapsed = ms(t0);
  report(name, 'apply, single-object txns', `${Math.round((n / elapsed) * 1000)} objects/s (commit p50 ${median(latencies).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms)`);
  // 16 writers at once (what several API clients do): SQLite serializes them, etcd pipelines.
  let m = 0;
  const t1 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      while (ms(t1) < singleSeconds * 1000) {
        const i = m++;
        const r = await store.txn([{ op: 'put', key: podKey('concurrent', `w${w}-p${i}`), value: podJson('concurrent', `p${i}`, i) }]);
        if (!r.ok) throw new Error('conflict');
      }
    }),
  );
  report(name, 'apply, single-object txns, 16 concurrent writers', `${Math.round((m / ms(t1)) * 1000)} objects/s`);
}

async function loadRange(store: Datastore, from: number, to: number, batch: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let start = from; start < to; start += batch) {
    const ops: TxnOp[] = [];
    for (let i = start; i < Math.min(to, start + batch); i++) {
      const ns = `ns-${i % 100}`;
      ops.push({ op: 'put', key: podKey(ns, `pod-${i}`), value: podJson(ns, `pod-${i}`, i) });
    }
    const r = await store.txn(ops);
    if (!r.ok) throw new Error('conflict');
  }
  return ms(t0);
}

/** The 100k objects for the list: the first fifth in batches of 500 (measured), the rest in batches of 5000. */
async function load(name: string, store: Datastore): Promise<void> {
  const measured = Math.min(objects, Math.max(batchSize, Math.floor(objects / 5)));
  const small = await loadRange(store, 0, measured, batchSize);
  report(name, `apply, batches of ${batchSize} (${measured} objects)`, `${Math.round((measured / small) * 1000)} objects/s`);
  if (measured < objects) {
    const big = await loadRange(store, measured, objects, 5000);
    report(name, `apply, batches of 5000 (${objects - measured} objects)`, `${Math.round(((objects - measured) / big) * 1000)} objects/s (${objects} loaded in ${((small + big) / 1000).toFixed(1)} s)`);
  }
}

async function benchList(name: string, store: Datastore): Promise<void> {
  const loadedAt = await store.revision();
  // A few changes after the load, so "list at the load revision" reads history.
  for (let i = 0; i < 10; i++) await store.txn([{ op: 'put', key: podKey('ns-0', `pod-${i * 100}`), value: podJson('ns-0', `pod-${i * 100}`, i + 1) }]);
  const time = async (what: string, fn: () => Promise<number>, runs = 3): Promise<void> => {
    if (overBudget()) {
      report(name, `list ${what}`, 'skipped: over the time budget of this run');
      return;
    }
    const times: number[] = [];
    const cpu: number[] = [];
    let count = 0;
    for (let r = 0; r < runs; r++) {
      const t = process.hrtime.bigint();
      const c = process.cpuUsage();
      count = await fn();
      times.push(ms(t));
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
    }
    report(name, `list ${what}`, `${median(times).toFixed(1)} ms ${runs > 1 ? `median of ${runs}` : 'one run'}, this process's CPU ${median(cpu).toFixed(1)} ms (${count} items)`);
  };
  await time('one namespace (1/100), current', async () => (await store.list('/registry/core/pods/ns-42/')).items.length);
  await time('a page of 500 (limit), current', async () => (await store.list('/registry/core/pods/ns-', { limit: 500 })).items.length);
  // The full lists take seconds each on etcd: one run of each, within the budget.
  await time(`all ${objects} pods, current`, async () => (await store.list('/registry/core/pods/ns-')).items.length, 1);
  await time(`all ${objects} pods at an older revision`, async () => (await store.list('/registry/core/pods/ns-', { revision: loadedAt })).items.length, 1);
}

async function benchFanout(name: string, store: Datastore): Promise<void> {
  const from = await store.revision();
  const received = new Array<number>(watcherCount).fill(0);
  const lags: number[] = [];
  const committedAt = new Map<number, bigint>();
  let errors = 0;
  const expected = fanoutWrites;
  const done = new Promise<void>((resolve) => {
    let finished = 0;
    for (let w = 0; w < watcherCount; w++) {
      store.watch('/registry/core/pods/fanout/', from, (events) => {
        const now = process.hrtime.bigint();
        for (const e of events) {
          const c = committedAt.get(e.revision);
          if (c !== undefined && w % 10 === 0) lags.push(Number(now - c) / 1e6);
        }
        received[w] = (received[w] ?? 0) + events.length;
        if (received[w] === expected && ++finished === watcherCount) resolve();
      }, () => void errors++);
    }
  });
  await new Promise((r) => setTimeout(r, 300)); // let every watch attach
  const t0 = process.hrtime.bigint();
  // Eight writers at once, so the watchers see a stream of commits rather than one at a time.
  // Each yields to the event loop between writes, as independent API requests do: SQLite's
  // commits are synchronous, and back-to-back awaits would never let a watcher run.
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < expected) {
        await new Promise((r) => setImmediate(r));
        if (next >= expected) break;
        const i = next++;
        const sent = process.hrtime.bigint();
        const r = await store.txn([{ op: 'put', key: podKey('fanout', `p${i}`), value: podJson('fanout', `p${i}`, i) }]);
        if (!r.ok) throw new Error('conflict');
        // The lag is measured from the moment the write was sent (the ack may come after delivery).
        committedAt.set(r.revision, sent);
      }
    }),
  );
  const writeMs = ms(t0);
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000).unref());
  const outcome = await Promise.race([done.then(() => 'done' as const), timeout]);
  const total = ms(t0);
  const delivered = received.reduce((a, b) => a + b, 0);
  report(
    name,
    `watch fan-out: ${expected} writes to ${watcherCount} watchers`,
    `${Math.round((delivered / total) * 1000)} events/s delivered (${delivered} events, writes ${Math.round((expected / writeMs) * 1000)}/s), lag from send p50 ${median(lags).toFixed(1)} ms, p99 ${percentile(lags, 99).toFixed(1)} ms${outcome === 'timeout' ? ', TIMED OUT' : ''}${errors > 0 ? `, ${errors} errors` : ''}`,
  );
}

/** Lag when the store is not saturated: 50 writes paced 20 ms apart, seen by every watcher. */
async function benchPacedLag(name: string, store: Datastore): Promise<void> {
  const from = await store.revision();
  const sentAt = new Map<string, bigint>();
  const lags: number[] = [];
  const watches = Array.from({ length: watcherCount }, () =>
    store.watch('/registry/core/pods/paced/', from, (events) => {
      const now = process.hrtime.bigint();
      for (const e of events) {
        const t = sentAt.get(e.key);
        if (t !== undefined) lags.push(Number(now - t) / 1e6);
      }
    }, () => undefined),
  );
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 50; i++) {
    const key = podKey('paced', `p${i}`);
    sentAt.set(key, process.hrtime.bigint());
    await store.txn([{ op: 'put', key, value: podJson('paced', `p${i}`, i) }]);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const w of watches) w.close();
  report(name, `watch lag, 50 paced writes to ${watcherCount} watchers`, `p50 ${median(lags).toFixed(1)} ms, p99 ${percentile(lags, 99).toFixed(1)} ms from send to delivery (${lags.length} deliveries)`);
}

// Phases run cheapest-first; the full lists at the end are skipped once a run nears a minute.
const BUDGET_MS = 50_000;
const startedAt = performance.now();
const overBudget = (): boolean => performance.now() - startedAt > BUDGET_MS;

async function run(name: string, store: Datastore): Promise<void> {
  await benchApply(name, store);
  await benchFanout(name, store);
  await benchPacedLag(name, store);
  await load(name, store);
  await benchList(name, store);
}

const which = values.store;
console.error(`store bench: ${objects} objects, ${watcherCount} watchers, ${cpus().length} CPUs, Node ${process.version}`);
if (which === 'sqlite' || which === 'both') {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-'));
  const store = await openDatastore(`sqlite:${join(dir, 'bench.db')}`, { watchBufferLimit: 1_000_000 });
  try {
    await run('sqlite', store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
if (which === 'etcd' || which === 'both') {
  const skip = etcdSkipReason();
  if (skip !== undefined) console.error(`etcd: skipped: ${skip}`);
  else {
    const cluster = await startEtcdCluster(1);
    const store = await openDatastore(cluster.spec, { watchBufferLimit: 1_000_000, requestTimeoutMs: 30_000 });
    try {
      await run('etcd', store);
    } finally {
      await store.close();
      await cluster.destroy();
    }
  }
}
console.error(`store bench: ${(performance.now() / 1000).toFixed(1)} s in all`);
console.log('| store | measure | result |');
console.log('|---|---|---|');
for (const r of rows) console.log(`| ${r.store} | ${r.what} | ${r.value} |`);
