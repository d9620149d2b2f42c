// Dataplane benchmark (root only): what policy costs a node's new connections, how long
// programming a node takes, and how long one policy change takes to reach the kernel.
//
//   node bench/lab.ts                 measure and print a markdown report
//   node bench/lab.ts --json          one JSON object instead
//   node bench/lab.ts --write         also replace the "## Dataplane" section of docs/performance.md
//   node bench/lab.ts --quick         shorter runs (a smoke test of the benchmark itself)
//
// Set-up: a lab with one node and two real workloads (client, server) plus 1 000 endpoints that
// exist only in the engine (their chains, dispatch-map elements and set members are programmed
// on the node; their interfaces do not exist). Policy sets:
//   0        no policy: the namespace profiles allow
//   1k, 5k   a security tier of two GlobalNetworkPolicies over all() (a threat-feed Deny, a
//            catch-all Pass), an ingress and an egress NetworkPolicy for the server and the
//            client, and ~1k / ~5k policies of both dialects over the other endpoints, with
//            selector, namespace-selector and named-port rules — realistic selectivity
//   worst    1 000 policies that all select the server, each with a rule that does not match the
//            client: every new connection walks all of them (Calico's layout does the same)
// A load generator inside the client's namespace (bench/lab-load.ts) opens new TCP connections
// to the server in 16 loops for 3 s; five rounds, each configuration measured once per round
// (re-applied whole) so that drift of the machine hits all alike; medians are reported.
// The node's conntrack TIME_WAIT timeout is lowered to 1 s and the client may reuse TIME_WAIT
// ports (sysctls of the lab's own namespaces only), so 10⁵ connections do not exhaust either.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { compileSession, buildFromSources, sessionUnavailableReason } from '../src/lab-session/index.ts';
import { createNetnsNftExecutor, diffRulesets, renderNft, renderNftUpdate } from '../src/dataplane/index.ts';
import type { Ruleset } from '../src/dataplane/index.ts';
import { downLab, findProgram, isLabNamespace, nodeNamespace, upLab } from '../src/lab/index.ts';
import type { Lab } from '../src/lab/index.ts';
import { bulk, guardrails, SERVER, workloads, worst } from './lab-cluster.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const RUN_SECONDS = QUICK ? 1 : 3;
const RUNS = QUICK ? 1 : 5;
const CONCURRENCY = 16;
const ENDPOINTS = 1000;
const LAB_ID = `bench${process.pid.toString(36)}`.slice(0, 12);
const NODE = 'bench';

// ---------------------------------------------------------------------------------------------
// Kernel side

function execIn(ns: string, argv: readonly string[]): string {
  if (!isLabNamespace(LAB_ID, ns)) throw new Error(`refusing namespace ${ns}`);
  const r = spawnSync(findProgram('ip') ?? 'ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} in ${ns}: ${r.stderr}`);
  return r.stdout;
}

interface LoadResult {
  readonly connections: number;
  readonly errors: number;
  readonly rate: number;
  readonly connectP50: number;
  readonly connectP99: number;
  readonly totalP50: number;
  readonly totalP99: number;
}

function load(lab: Lab, seconds: number): Promise<LoadResult> {
  const ns = lab.plan.workloads.find((w) => w.id === 'bench/client')!.namespace;
  if (!isLabNamespace(LAB_ID, ns)) throw new Error(`refusing namespace ${ns}`);
  return new Promise((resolve, reject) => {
    const pin = TASKSET === undefined ? [] : [TASKSET, '-c', '1'];
    const child = spawn(
      findProgram('ip') ?? 'ip',
      ['netns', 'exec', ns, ...pin, process.execPath, path.join(ROOT, 'bench', 'lab-load.ts'), SERVER, '8080', String(seconds), String(CONCURRENCY)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load generator: ${err}`))));
  });
}

// With two CPUs or more, the load generator runs on CPU 1 and the server's agent on CPU 0: left
// to the scheduler, the two sometimes share a CPU and the rate of a run halves (bimodal runs).
const TASKSET = availableParallelism() >= 2 ? findProgram('taskset') : undefined;

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const since = (t: number): number => Math.round(performance.now() - t);

interface Programmed {
  readonly name: string;
  readonly policies: number;
  readonly ruleset: Ruleset;
  readonly rules: number;
  readonly sets: number;
  readonly scriptBytes: number;
  readonly buildMs: number;
  readonly compileMs: number;
  readonly renderMs: number;
  readonly applyMs: number;
}

interface Measured extends Programmed {
  readonly rate: number;
  /** Median over rounds of this rate / the same round's 0-policy rate. */
  readonly ratio: number;
  readonly rates: readonly number[];
  readonly connectP50: number;
  readonly connectP99: number;
  readonly errors: number;
}

function compileDocs(docs: readonly string[]): { ruleset: Ruleset; buildMs: number; compileMs: number; policies: number } {
  const t0 = performance.now();
  const built = buildFromSources([{ file: 'bench.yaml', text: docs.join('\n---\n') }], '10.244.0.0/16');
  const errors = built.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(JSON.stringify(errors.slice(0, 3)));
  const buildMs = since(t0);
  const placement = Object.fromEntries(built.cluster.endpoints.map((e) => [e.id, NODE]));
  const t1 = performance.now();
  const compiled = compileSession(built.cluster, [NODE], placement);
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.diagnostics.slice(0, 3)));
  return { ruleset: compiled.value[NODE]!, buildMs, compileMs: since(t1), policies: built.cluster.policies.length };
}

async function main(): Promise<void> {
  const why = sessionUnavailableReason();
  if (why !== undefined) {
    console.log(`bench/lab.ts skipped: ${why}`);
    return;
  }
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const up = await upLab({
    labId: LAB_ID,
    nodes: [NODE],
    workloads: [
      { id: 'bench/client', node: NODE, addresses: ['10.50.0.1'], ports: [] },
      { id: 'bench/server', node: NODE, addresses: [SERVER], ports: [{ port: 8080, protocol: 'TCP' }] },
    ],
    externals: [],
  });
  if (!up.ok) throw new Error(JSON.stringify(up.diagnostics));
  const lab = up.value;
  try {
    const nodeNs = nodeNamespace(lab, NODE)!;
    const clientNs = lab.plan.workloads.find((w) => w.id === 'bench/client')!.namespace;
    execIn(nodeNs, ['sh', '-c', 'echo 1 > /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait; echo 1 > /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_close']);
    execIn(clientNs, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse; echo "1024 65000" > /proc/sys/net/ipv4/ip_local_port_range']);
    const server = lab.agents.find((a) => a.owner === 'bench/server');
    if (TASKSET !== undefined && server !== undefined) spawnSync(TASKSET, ['-pc', '0', String(server.pid)]);
    const nft = createNetnsNftExecutor({
      namespaceOf: (n) => nodeNamespace(lab, n),
      ...(findProgram('ip') === undefined ? {} : { ipPath: findProgram('ip')! }),
      ...(findProgram('nft') === undefined ? {} : { nftPath: findProgram('nft')! }),
    });

    const base = workloads(ENDPOINTS);
    // Compile and program every configuration once (the programming times), keeping its script.
    const program = async (name: string, docs: readonly string[]): Promise<Programmed & { script: string }> => {
      const c = compileDocs(docs);
      const t0 = performance.now();
      const script = renderNft(c.ruleset);
      const renderMs = since(t0);
      const t1 = performance.now();
      const r = await nft.apply(NODE, script);
      if (!r.ok) throw new Error(`${name}: ${JSON.stringify(r.diagnostics.slice(0, 3))}`);
      const applyMs = since(t1);
      const rules = c.ruleset.chains.reduce((s, ch) => s + ch.rules.length, 0);
      const p = { name, policies: c.policies, ruleset: c.ruleset, rules, sets: c.ruleset.sets.length, scriptBytes: Buffer.byteLength(script), buildMs: c.buildMs, compileMs: c.compileMs, renderMs, applyMs, script };
      log(`programmed ${name}: ${p.policies} policies, ${rules} rules, ${p.sets} sets, ${(p.scriptBytes / 1e6).toFixed(1)} MB; build ${p.buildMs} ms, compile ${p.compileMs} ms, render ${renderMs} ms, nft ${applyMs} ms`);
      return p;
    };
    const configs = [
      await program('0 policies', base),
      await program('1k policies', [...base, ...guardrails(), ...bulk(1000 - 4, ENDPOINTS)]),
      await program('5k policies', [...base, ...guardrails(), ...bulk(5000 - 4, ENDPOINTS)]),
      await program('worst: 1k policies on the path', [...base, ...worst(1000)]),
    ];

    // Rounds: every configuration once per round (re-applied whole), so slow drift of the
    // machine hits all of them alike; the ratio to 0 is taken within each round.
    const runs = configs.map(() => [] as LoadResult[]);
    for (let round = 0; round < RUNS; round++) {
      for (const [i, c] of configs.entries()) {
        const r = await nft.apply(NODE, c.script);
        if (!r.ok) throw new Error(JSON.stringify(r.diagnostics.slice(0, 3)));
        await load(lab, 0.5); // warm-up
        const m = await load(lab, RUN_SECONDS);
        runs[i]!.push(m);
        log(`  round ${round + 1} ${c.name}: ${Math.round(m.rate)} conn/s, handshake p50 ${m.connectP50.toFixed(3)} ms, errors ${m.errors}`);
      }
    }
    const results: Measured[] = configs.map((c, i) => {
      const rs = runs[i]!;
      const { script: _s, ...rest } = c;
      return {
        ...rest,
        rate: median(rs.map((r) => r.rate)),
        rates: rs.map((r) => Math.round(r.rate)),
        ratio: median(rs.map((r, k) => r.rate / runs[0]![k]!.rate)),
        connectP50: median(rs.map((r) => r.connectP50)),
        connectP99: median(rs.map((r) => r.connectP99)),
        errors: rs.reduce((s, r) => s + r.errors, 0),
      };
    });

    // One policy change on the 5k node: one port of one policy, one incremental transaction.
    const fiveK = configs[2]!;
    const reset = await nft.apply(NODE, fiveK.script);
    if (!reset.ok) throw new Error(JSON.stringify(reset.diagnostics));
    const tChange = performance.now();
    const changed = compileDocs([...base, ...guardrails(), ...bulk(5000 - 4, ENDPOINTS, 17)]);
    const t1 = performance.now();
    const diff = diffRulesets(fiveK.ruleset, changed.ruleset);
    const update = renderNftUpdate(diff);
    const diffMs = since(t1);
    const t2 = performance.now();
    const applied = await nft.apply(NODE, update);
    if (!applied.ok) throw new Error(JSON.stringify(applied.diagnostics));
    const change = {
      buildMs: changed.buildMs,
      compileMs: changed.compileMs,
      diffRenderMs: diffMs,
      applyMs: since(t2),
      totalMs: since(tChange),
      ops: diff.kind === 'update' ? diff.ops.length : -1,
      scriptBytes: Buffer.byteLength(update),
    };
    log(`one policy change at 5k: ${JSON.stringify(change)}`);

    const report = { date: new Date().toISOString(), kernel: spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim(), cpus: availableParallelism(), nft: spawnSync(findProgram('nft') ?? 'nft', ['--version'], { encoding: 'utf8' }).stdout.trim(), endpoints: ENDPOINTS, runSeconds: RUN_SECONDS, runs: RUNS, concurrency: CONCURRENCY, results: results.map(({ ruleset: _r, ...rest }) => rest), change };
    if (args.has('--json')) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      const md = markdown(report);
      console.log(md);
      if (args.has('--write')) writeSection(md);
    }
  } finally {
    const d = await downLab(LAB_ID);
    if (!d.ok) process.stderr.write(`lab down failed: ${JSON.stringify(d.diagnostics)}\n`);
  }
}

type Report = {
  date: string;
  kernel: string;
  cpus: number;
  nft: string;
  endpoints: number;
  runSeconds: number;
  runs: number;
  concurrency: number;
  results: Omit<Measured, 'ruleset'>[];
  change: { buildMs: number; compileMs: number; diffRenderMs: number; applyMs: number; totalMs: number; ops: number; scriptBytes: number };
};

function markdown(r: Report): string {
  const zero = r.results[0]!;
  const fiveK = r.results.find((m) => m.name.startsWith('5k'))!;
  const worstRow = r.results.find((m) => m.name.startsWith('worst'))!;
  const perPolicyUs = ((worstRow.connectP50 - zero.connectP50) * 1000) / 1000; // ms → µs, over the 1 000 policies on the path
  const rows = r.results.map(
    (m) =>
      `| ${m.name} | ${m.policies} | ${m.rules} | ${m.sets} | ${Math.round(m.rate)} | ${m.ratio.toFixed(2)} | ${m.connectP50.toFixed(3)} / ${m.connectP99.toFixed(3)} | ${m.buildMs} + ${m.compileMs} + ${m.renderMs} + ${m.applyMs} |`,
  );
  const c = r.change;
  return [
    '## Dataplane',
    '',
    `Measured by \`node bench/lab.ts\` (root) on ${r.date.slice(0, 10)}: ${r.cpus} CPUs, kernel ${r.kernel}, ${r.nft}. One node, ${r.endpoints} engine-only endpoints plus a real client and server; ${r.concurrency} loops open new TCP connections (connect, one line, echo, close) for ${r.runSeconds} s after a 0.5 s warm-up; ${r.runs} rounds, each configuration once per round (re-applied whole); rates are medians, the ratio is the median of per-round ratios. Programming is a full, atomic \`nft -f\` of the node's table.`,
    '',
    '| policies on the node | policies | nft rules | sets | new conn/s | ratio to 0 | handshake p50 / p99 (ms) | program: load+build, compile, render, nft (ms) |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    `One policy change on the 5k node (one port of one policy): load+build ${c.buildMs} ms, compile ${c.compileMs} ms, diff+render ${c.diffRenderMs} ms, nft ${c.applyMs} ms — ${c.totalMs} ms in all; ${c.ops} operations, ${c.scriptBytes} bytes, one transaction.`,
    '',
    `- **Target** (the 5k-policy rate within 10 % of the no-policy rate): ${fiveK.ratio >= 0.9 ? 'met' : '**not met**'} (ratio ${fiveK.ratio.toFixed(2)}). A new connection's first packet meets one verdict-map lookup per direction (dispatch by interface, whatever the number of endpoints), then only the policies that select its two endpoints — each peer selector one lookup in a named set, whatever its size. Policies that select other endpoints cost nothing on this path; they cost programming time and memory.`,
    `- **Worst case**: policies that all select the same endpoint are walked one after another, as in Calico's layout (a jump and a mark test per policy, then its rules): about ${perPolicyUs.toFixed(1)} µs of handshake per policy on the path here (p50 ${worstRow.connectP50.toFixed(2)} ms against ${zero.connectP50.toFixed(2)} ms). A cluster reaches it with many policies over one broad selector (say 1 000 per-tenant Allow policies all selecting \`all()\`). What would cut it: merging a tier's pure Allow rules (set match + ports) into one concatenated-set lookup (\`ip saddr . th dport @allow\`) per endpoint chain; not done, since the rule order inside a tier must stay observable through Pass/Deny and Log rules.`,
    `- **Programming** a node is dominated by \`nft -f\` (${fiveK.applyMs} ms for ${fiveK.rules} rules at 5k policies); 1 000 endpoints without policy take ${zero.buildMs + zero.compileMs + zero.renderMs + zero.applyMs} ms from manifests to kernel (${zero.applyMs} ms of it nft). One policy change is one small transaction (${c.applyMs} ms in nft); most of its ${c.totalMs} ms is loading and building the 5k-policy manifests again (${c.buildMs} ms: YAML parsing, see the load proposals above) — an agent that keeps the cluster in memory pays compile + diff + nft only (${c.compileMs + c.diffRenderMs + c.applyMs} ms). Diffing two 5k-policy rulesets took ~0.9 s when chains were compared as sorted JSON strings; \`diffRulesets\` now compares them structurally (~0.15 s).`,
    `- Rates are CPU-bound in user space (the Node load generator and echo server share ${r.cpus} CPUs with the kernel), so a run can drop to about half when the scheduler puts both on one CPU; the generator is pinned to CPU 1 and the server's agent to CPU 0, and rounds interleave configurations so such drops do not bias a ratio.`,
  ].join('\n');
}

function writeSection(md: string): void {
  const file = path.join(ROOT, 'docs', 'performance.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Performance\n';
  const at = text.search(/^## Dataplane$/m);
  const head = at < 0 ? text.replace(/\n*$/, '\n\n') : text.slice(0, at);
  writeFileSync(file, `${head}${md}\n`);
  process.stderr.write(`wrote the Dataplane section of ${file}\n`);
}

await main();
