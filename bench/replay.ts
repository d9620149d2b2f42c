// `npm run bench:replay`: flow-log replay on the bench generator's cluster. A log is made the way
// flow logs look — a few thousand conversations (pod → pod on a declared port, pod → external),
// repeated with a long-tailed frequency — and decided three ways in the same run: evaluateFlow
// (full traces, as explain), decideVerdict (verdict only, no memo) and evaluateVerdict (verdict
// only, memoised by end classes). Every memoised verdict is checked against evaluateFlow; a
// mismatch exits 1. Then `strata explain --flows - -o json --verdict-only` end to end, in process.
// Numbers are reported, never asserted (docs/performance.md, "Flow replay").
//
//   node bench/replay.ts [--quick] [--seed N] [--pods N] [--namespaces N] [--policies N]
//                        [--flows N] [--conversations N] [--cli-flows N] [--baseline-flows N]
import { parseArgs } from 'node:util';
import { Writable } from 'node:stream';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCluster, createVerdictMemo, decideVerdict, evaluateFlow, makeFlow, PROTOCOL } from '../src/engine/index.ts';
import type { Cluster, Endpoint, Flow, FlowRequest } from '../src/engine/index.ts';
import { loadText } from '../src/load/index.ts';
import { main } from '../src/cli/main.ts';
import { drainedStream, memoryIo } from '../src/cli/io.ts';
import type { Io } from '../src/cli/io.ts';
import { generateCluster, Rng } from './generate.ts';
import type { GeneratedCluster } from './generate.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    pods: { type: 'string' },
    namespaces: { type: 'string' },
    policies: { type: 'string' },
    flows: { type: 'string' },
    conversations: { type: 'string' },
    'cli-flows': { type: 'string' },
    'baseline-flows': { type: 'string' },
  },
  strict: true,
});
const quick = args.quick === true;
const seed = Number(args.seed);
const pods = Number(args.pods ?? (quick ? 600 : 10_000));
const namespaces = Number(args.namespaces ?? (quick ? 60 : 1_000));
const policies = Number(args.policies ?? (quick ? 120 : 2_000));
const flowCount = Number(args.flows ?? (quick ? 100_000 : 400_000));
const conversationCount = Number(args.conversations ?? (quick ? 2_000 : 20_000));
const cliFlows = Number(args['cli-flows'] ?? (quick ? 20_000 : 100_000));
/** evaluateFlow and decideVerdict run over this prefix of the log (their per-flow cost does not depend on repetition). */
const baselineFlows = Math.min(flowCount, Number(args['baseline-flows'] ?? flowCount));

const rows: [string, string, string][] = [];
const report = (what: string, value: string, note = ''): void => void rows.push([what, value, note]);
const progress = (m: string): void => void process.stderr.write(`bench: ${m}…\n`);
const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const rate = (n: number, ms: number): string => `${int((n / ms) * 1000)} /s`;
const ms = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);

function timed<T>(f: () => T): { value: T; ms: number; cpuMs: number } {
  const c0 = process.threadCpuUsage();
  const t0 = performance.now();
  const value = f();
  const wall = performance.now() - t0;
  const c = process.threadCpuUsage(c0);
  return { value, ms: wall, cpuMs: (c.user + c.system) / 1000 };
}

/** Conversations as in bench/run.ts's local mix: 40% same namespace, 20% same tenant, 20% any pod, 20% external. */
function conversations(cluster: Cluster, gen: GeneratedCluster, n: number, rng: Rng): FlowRequest[] {
  const workloads = cluster.endpoints.filter((e) => e.kind === 'workload' && e.addresses.length > 0);
  const tenantOf = (e: Endpoint): string => cluster.namespace(e.namespace ?? '')?.labels.get('tenant') ?? `-${e.namespace ?? ''}`;
  const group = (key: (e: Endpoint) => string): Map<string, Endpoint[]> => {
    const out = new Map<string, Endpoint[]>();
    for (const e of workloads) {
      const k = key(e);
      const list = out.get(k);
      if (list === undefined) out.set(k, [e]);
      else list.push(e);
    }
    return out;
  };
  const byNamespace = group((e) => e.namespace ?? '');
  const byTenant = group(tenantOf);
  const external = [
    { port: 443, protocol: 'TCP' },
    { port: 80, protocol: 'TCP' },
    { port: 53, protocol: 'UDP' },
    { port: 8443, protocol: 'TCP' },
  ];
  const out: FlowRequest[] = [];
  while (out.length < n) {
    const src = rng.pick(workloads);
    const roll = rng.next();
    if (roll < 0.8) {
      const pool = roll < 0.4 ? byNamespace.get(src.namespace ?? '')! : roll < 0.6 ? byTenant.get(tenantOf(src))! : workloads;
      const dst = rng.pick(pool);
      const p = dst.ports.length === 0 ? { port: 80, protocol: PROTOCOL.TCP } : rng.pick(dst.ports);
      out.push({ from: src.id, to: dst.id, port: p.port, protocol: p.protocol });
    } else {
      const p = rng.pick(external);
      out.push({ from: src.id, to: rng.pick(gen.externalAddresses), port: p.port, protocol: p.protocol });
    }
  }
  return out;
}

/** A log of `n` entries over the conversations, conversation i drawn with probability ∝ 1/(i+1). */
function replayLog(convs: readonly Flow[], n: number, rng: Rng): Flow[] {
  const log: Flow[] = [];
  const ln = Math.log(convs.length + 1);
  for (let i = 0; i < n; i++) log.push(convs[Math.min(convs.length - 1, Math.floor(Math.exp(rng.next() * ln)) - 1)]!);
  return log;
}

progress(`generating and loading ${int(pods)} pods / ${int(namespaces)} ns / ${int(policies)} policies`);
const gen = generateCluster({ pods, namespaces, policies, seed });
const built = buildCluster(loadText(gen.text, 'generated.yaml').resources);
const cluster = built.cluster;
const rng = new Rng(seed ^ 0x7e91a7);
const requests = conversations(cluster, gen, conversationCount, rng);
const convFlows = requests.map((r) => {
  const f = makeFlow(cluster, r);
  if (!f.ok) throw new Error(f.diagnostics[0]?.message);
  return f.value;
});
const log = replayLog(convFlows, flowCount, rng);
const distinctInLog = new Set(log).size;
report('cluster', `${int(pods)} pods / ${int(namespaces)} ns / ${int(policies)} policies`, `seed ${seed}; ${int(new Set(cluster.endpoints.map((e) => e.labelKey)).size)} distinct label sets`);
report('flow log', `${int(flowCount)} flows`, `${int(conversationCount)} conversations (local mix), ${int(distinctInLog)} of them in the log, frequency ∝ 1/rank`);

// Warm-up: JIT and the engine's own caches (tier plans, network sets by address) for every path.
for (let i = 0; i < Math.min(20_000, log.length); i++) {
  evaluateFlow(cluster, log[i]!);
  decideVerdict(cluster, log[i]!);
}
createVerdictMemo(cluster).evaluate(log[0]!);

const baseline = log.slice(0, baselineFlows);
const over = baselineFlows === flowCount ? 'the log' : `the first ${int(baselineFlows)} flows of the log`;
progress(`evaluateFlow over ${over}`);
let allowed = 0;
const fullRun = timed(() => {
  for (const f of baseline) if (evaluateFlow(cluster, f).verdict === 'allow') allowed++;
});
report('evaluateFlow (traces, as explain)', rate(baselineFlows, fullRun.ms), `over ${over}, ${ms(fullRun.ms)}; by CPU time ${rate(baselineFlows, fullRun.cpuMs)}; ${((100 * allowed) / baselineFlows).toFixed(1)}% allowed`);

progress('decideVerdict (no memo)');
const bareRun = timed(() => {
  for (const f of baseline) decideVerdict(cluster, f);
});
report('decideVerdict (verdict only, no memo)', rate(baselineFlows, bareRun.ms), `over ${over}, ${ms(bareRun.ms)}; by CPU time ${rate(baselineFlows, bareRun.cpuMs)}`);
// Per-flow costs, to compare with the memo's over the whole log.
const full = { ms: (fullRun.ms * flowCount) / baselineFlows, cpuMs: (fullRun.cpuMs * flowCount) / baselineFlows };
const bare = { ms: (bareRun.ms * flowCount) / baselineFlows, cpuMs: (bareRun.cpuMs * flowCount) / baselineFlows };

progress('evaluateVerdict (memo), fresh memo');
const memo = createVerdictMemo(cluster);
const results = new Array<string>(log.length);
const memoised = timed(() => {
  for (let i = 0; i < log.length; i++) results[i] = memo.evaluate(log[i]!).verdict;
});
const s = memo.stats();
report(
  '**evaluateVerdict (memoised), from an empty memo**',
  `**${rate(flowCount, memoised.ms)}**`,
  `${ms(memoised.ms)}; by CPU time ${rate(flowCount, memoised.cpuMs)}; ${int(s.misses)} misses (${((100 * s.misses) / flowCount).toFixed(2)}%), ${int(s.size)} entries, ${s.cidrs} distinct CIDRs classify addresses; target ≥ 1,000,000 /s`,
);
const warm = timed(() => {
  for (let i = 0; i < log.length; i++) memo.evaluate(log[i]!);
});
report('evaluateVerdict, memo warm (every flow a hit)', rate(flowCount, warm.ms), `${ms(warm.ms)}; by CPU time ${rate(flowCount, warm.cpuMs)}`);
report('ratio memoised / no memo', `${(bare.ms / memoised.ms).toFixed(1)}×`, `by CPU time ${(bare.cpuMs / memoised.cpuMs).toFixed(1)}×; memoised / evaluateFlow ${(full.ms / memoised.ms).toFixed(1)}×`);

progress('checking every memoised verdict against evaluateFlow');
let mismatches = 0;
const checked = new Map<Flow, string>();
for (let i = 0; i < log.length; i++) {
  const f = log[i]!;
  let want = checked.get(f);
  if (want === undefined) {
    const d = evaluateFlow(cluster, f);
    checked.set(f, (want = JSON.stringify([d.verdict, d.decidedBy])));
  }
  const got = memo.evaluate(f);
  if (got.verdict !== results[i] || JSON.stringify([got.verdict, got.decidedBy]) !== want) mismatches++;
}
report('memoised = evaluateFlow on every flow', mismatches === 0 ? 'yes' : `NO: ${int(mismatches)} mismatches`, `${int(log.length)} flows (verdict and deciding step)`);

// ---- the command, end to end: JSON Lines in, JSON Lines out, through the streaming batch path.
if (cliFlows > 0) {
  progress(`explain --flows over ${int(cliFlows)} lines (verdict only) and ${int(Math.ceil(cliFlows / 5))} (full)`);
  const dir = mkdtempSync(join(tmpdir(), 'strata-replay-'));
  const clusterFile = join(dir, 'cluster.yaml');
  writeFileSync(clusterFile, gen.text);
  const requestOf = new Map(convFlows.map((f, i) => [f, requests[i]!]));
  const lines = log.slice(0, cliFlows).map((f) => JSON.stringify(requestOf.get(f)));
  const logFile = join(dir, 'flows.jsonl');
  writeFileSync(logFile, `${lines.join('\n')}\n`);
  const shortFile = join(dir, 'short.jsonl');
  writeFileSync(shortFile, `${lines.slice(0, Math.ceil(cliFlows / 5)).join('\n')}\n`);
  const emptyFile = join(dir, 'empty.jsonl');
  writeFileSync(emptyFile, '');

  // Main-thread CPU time: the command runs in this process, and CPU time is robust to a shared machine.
  const command = async (flows: string, extra: readonly string[]): Promise<{ ms: number; bytes: number }> => {
    let bytes = 0;
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        bytes += chunk.length;
        done();
      },
    });
    const base = memoryIo();
    const io: Io = { ...base, out: (t) => void sink.write(`${t}\n`), drained: () => drainedStream(sink) };
    const c0 = process.threadCpuUsage();
    const code = await main(['explain', '-q', '-f', clusterFile, '--flows', flows, ...extra], io);
    const c = process.threadCpuUsage(c0);
    if (code !== 0) throw new Error(`explain exited ${code}: ${base.stderr.join('\n')}`);
    return { ms: (c.user + c.system) / 1000, bytes };
  };
  await command(emptyFile, ['-o', 'json', '--verdict-only']); // warms the loading code up
  const load = await command(emptyFile, ['-o', 'json', '--verdict-only']);
  // The batch's own time is the run less the load; below ~10% of the run it is within noise.
  const batchRate = (n: number, total: number): string => (total - load.ms > 0.1 * total ? rate(n, total - load.ms) : 'n/a (too few lines: raise --cli-flows)');
  const cli = await command(logFile, ['-o', 'json', '--verdict-only']);
  report(
    '`explain --flows -o json --verdict-only`, end to end',
    batchRate(cliFlows, cli.ms),
    `${int(cliFlows)} lines, ${(cli.bytes / 2 ** 20).toFixed(0)} MiB out, ${ms(cli.ms)} less ${ms(load.ms)} for loading the manifests, CPU time: JSON parse, resolve, decide, stringify, write`,
  );
  const n = Math.ceil(cliFlows / 5);
  const cliFull = await command(shortFile, ['-o', 'json']);
  report('`explain --flows -o json` (full explanations), end to end', batchRate(n, cliFull.ms), `${int(n)} lines, ${(cliFull.bytes / 2 ** 20).toFixed(0)} MiB out, ${ms(cliFull.ms)} less the same load`);
}
report('peak rss', `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);

const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['measurement', 'result', 'notes'][i]!.length));
const line = (c: readonly string[]): string => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
process.stdout.write(`${[line(['measurement', 'result', 'notes']), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')}\n`);
if (mismatches > 0) process.exit(1);
