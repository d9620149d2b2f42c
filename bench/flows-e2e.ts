// Flows end to end (root only): from a real connection to its flow record being stored by the API
// server and streamed to a client, through the real path — the kernel's nflog decision and
// conntrack entry, the agent's collector (ulogd + conntrack in the node's namespace), its spool and
// shipper, `POST /apis/strata/v1/flows`, the SQLite flow store, `GET …/flows?watch=true`.
//
//   node bench/flows-e2e.ts                     2 nodes, agents' default flow interval (5 s), 20 connections
//   node bench/flows-e2e.ts --interval 1        the collectors report every second
//   node bench/flows-e2e.ts --rounds 40 --json
//
// Set-up: an in-process API server (SQLite datastore and flow store in a temp dir, 127.0.0.1,
// random port); the workshop's step 5 registered by `upAgentLab` (what `strata lab up --server`
// runs), one `strata agent` per node with `--flow-aggregate allow=none,deny=none` (so each
// connection's record is told apart by its source port). Each round waits a random part of the
// interval (connections land anywhere in the collector's cycle), opens one TCP connection
// frontend → productcatalogservice:3550, and measures from the moment it completed to the
// destination node's record of it (reporter dst, same source port) arriving on a watch stream
// opened beforehand: the record is then stored and queryable (a list at that moment returns it).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { openSqliteFlowStore } from '../src/flows/sqlite-store.ts';
import type { FlowRecord } from '../src/flows/record.ts';
import { probe } from '../src/lab/index.ts';
import { downAgentLab, flowCollectionUnavailableReason, sessionUnavailableReason, upAgentLab } from '../src/lab-session/index.ts';
import { loadPaths } from '../src/load/index.ts';
import { createStrataServer } from '../src/server/app.ts';
import { parseTokenFile } from '../src/server/authn.ts';
import { openDatastore } from '../src/store/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const NODES = flag('--nodes', 2);
const ROUNDS = flag('--rounds', 20);
const INTERVAL_S = flag('--interval', 5);
const JSON_OUT = argv.includes('--json');
// Lab ids of this bench start with "fe" (namespaces stl-fe…).
const LAB_ID = `fe${process.pid.toString(36)}b`.slice(0, 12);
const CATALOG = 'hipstershop/productcatalogservice';

const why = sessionUnavailableReason() ?? flowCollectionUnavailableReason();
if (why !== undefined) {
  process.stderr.write(`bench/flows-e2e: skipped: ${why}\n`);
  process.exit(0);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.now();

function quantiles(xs: readonly number[]): { p50: number; p95: number; max: number; min: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))] ?? Number.NaN;
  const r = (x: number): number => Math.round(x);
  return { min: r(s[0] ?? Number.NaN), p50: r(at(0.5)), p95: r(at(0.95)), max: r(s[s.length - 1] ?? Number.NaN) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'strata-bench-flows-'));
  const store = await openDatastore(`sqlite:${path.join(dir, 'strata.db')}`);
  const tokens = parseTokenFile('bench-token,admin,1,"system:masters"\n', 'tokens.csv');
  if (!tokens.ok) throw new Error('tokens');
  const server = await createStrataServer({ store, tokens: tokens.value, log: () => undefined, flowStore: openSqliteFlowStore({ path: path.join(dir, 'strata.flows.db') }) });
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  const target = { server: url, token: 'bench-token' };
  const W = path.join(ROOT, 'testdata', 'workshop');
  const loaded = await loadPaths(['cluster', 'common', 'original-apps', 'enforce'].map((p) => path.join(W, p)));
  const sources = [...loaded.sources].map(([file, text]) => ({ file, text }));
  const up = await upAgentLab(sources, {
    labId: LAB_ID,
    target,
    nodes: NODES,
    flows: [{ from: 'hipstershop/frontend', to: CATALOG, port: 3550, protocol: 'TCP', line: 1 }] as never,
    agentArgs: ['--flow-interval', String(INTERVAL_S), '--flow-aggregate', 'allow=none,deny=none'],
    syncTimeoutMs: 300_000,
  });
  if (!up.ok) throw new Error(JSON.stringify(up.diagnostics));
  const lab = up.value.session.lab;
  const abort = new AbortController();
  try {
    // One stream for the whole run: records as the server stores them.
    const res = await fetch(`${url}/apis/strata/v1/flows?watch=true&endpoint=${encodeURIComponent(CATALOG)}`, { headers: { authorization: 'Bearer bench-token' }, signal: abort.signal });
    if (res.status !== 200 || res.body === null) throw new Error(`watch: HTTP ${res.status}`);
    const waiting = new Map<number, (t: number) => void>();
    const lines = createInterface({ input: Readable.fromWeb(res.body as never) });
    lines.on('line', (l) => {
      if (l.trim() === '') return;
      const ev = JSON.parse(l) as { type: string; object: FlowRecord };
      if (ev.type !== 'FLOW' || ev.object.reporter !== 'dst' || ev.object.srcPort === null || ev.object.connections === 0) return;
      waiting.get(ev.object.srcPort)?.(now());
    });
    lines.on('error', () => undefined);
    const flow = { from: 'hipstershop/frontend', to: CATALOG, port: 3550, protocol: 'TCP' as const };
    const delays: number[] = [];
    for (let i = 0; i < ROUNDS + 1; i++) {
      await sleep(Math.random() * INTERVAL_S * 1000);
      const [r] = await probe(lab, [flow], { timeoutMs: 1000 });
      const done = now();
      if (r?.observed !== 'allow' || r.srcPort === undefined) throw new Error(`probe: ${JSON.stringify(r)}`);
      const port = r.srcPort;
      const arrived = await new Promise<number>((resolve) => {
        const timer = setTimeout(() => resolve(Number.NaN), INTERVAL_S * 1000 * 3 + 10_000);
        waiting.set(port, (t) => {
          clearTimeout(timer);
          resolve(t);
        });
      });
      waiting.delete(port);
      // The first round warms up (the stream, the store's statements): not counted.
      if (i > 0) delays.push(arrived - done);
    }
    const q = quantiles(delays);
    const lost = delays.filter((d) => Number.isNaN(d)).length;
    const report = { nodes: NODES, rounds: ROUNDS, intervalSeconds: INTERVAL_S, delayMs: q, lost };
    if (JSON_OUT) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      process.stdout.write(
        [
          `Flows end to end: ${NODES} nodes, collector interval ${INTERVAL_S} s, ${ROUNDS} connections at random points of the interval${lost > 0 ? ` (${lost} never arrived)` : ''}.`,
          '',
          '| from the connection completing to its record stored and streamed (ms) | min | p50 | p95 | max |',
          '|---|---|---|---|---|',
          `| frontend → productcatalogservice:3550, the destination node's record | ${q.min} | ${q.p50} | ${q.p95} | ${q.max} |`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    abort.abort();
    await downAgentLab(LAB_ID);
    await server.close();
    await store.close();
  }
}

await main();
