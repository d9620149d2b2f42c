// `npm run bench`: load, explain and matrix benchmarks on generated clusters (bench/generate.ts),
// with a naive pairwise baseline measured in the same run. Prints a table; exits 1 when the matrix
// and the pairwise evaluation disagree on any pair both computed, or when a generated cluster does
// not load cleanly. Numbers are reported, never asserted: see docs/performance.md.
//
//   node bench/run.ts [--quick] [--seed N] [--pods N] [--namespaces N] [--policies N]
//                     [--flows N] [--sample N] [--small-scale N] [--runs N]
//
//   --quick         small sizes (600 pods / 60 ns / 120 policies), to smoke-test the bench
//   --seed          generator seed (default 1); the same seed gives the same clusters and flows
//   --pods, --namespaces, --policies   the headline size (default 10,000 / 1,000 / 2,000)
//   --flows         random flows for the explain throughput (default 250,000)
//   --sample        source pods for the sampled pairwise baseline on the headline (default 40)
//   --small-scale   the small cluster is the headline divided by this (default 10)
//   --runs          repetitions of the explain and matrix timings, median reported (default 3)
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { computeMatrix } from '../src/analysis/matrix.ts';
import type { Matrix, PortSpec } from '../src/analysis/matrix.ts';
import { explainFlow } from '../src/analysis/explain.ts';
import { buildCluster, evaluateFlow, makeFlow, PROTOCOL } from '../src/engine/index.ts';
import type { Cluster, Endpoint, Flow } from '../src/engine/index.ts';
import { loadText } from '../src/load/index.ts';
import { generateCluster, Rng } from './generate.ts';
import type { GeneratedCluster } from './generate.ts';

// A full collection before each memory reading, so heapUsed is live data rather than garbage.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

interface Sizes {
  readonly pods: number;
  readonly namespaces: number;
  readonly policies: number;
}

function parseOptions() {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        seed: { type: 'string', default: '1' },
        pods: { type: 'string' },
        namespaces: { type: 'string' },
        policies: { type: 'string' },
        flows: { type: 'string' },
        sample: { type: 'string' },
        'small-scale': { type: 'string' },
        runs: { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
}
const args = parseOptions();

const quick = args.quick === true;
const seed = Number(args.seed);
const headline: Sizes = {
  pods: Number(args.pods ?? (quick ? 600 : 10_000)),
  namespaces: Number(args.namespaces ?? (quick ? 60 : 1_000)),
  policies: Number(args.policies ?? (quick ? 120 : 2_000)),
};
const smallScale = Number(args['small-scale'] ?? 10);
const small: Sizes = {
  pods: Math.max(40, Math.round(headline.pods / smallScale)),
  namespaces: Math.max(6, Math.round(headline.namespaces / smallScale)),
  policies: Math.max(20, Math.round(headline.policies / smallScale)),
};
const flowCount = Number(args.flows ?? (quick ? 20_000 : 250_000));
const sampleSources = Number(args.sample ?? (quick ? 20 : 40));
/** Timed steps that are cheap enough to repeat run this many times; the median is reported. */
const RUNS = Number(args.runs ?? (quick ? 1 : 3));
const MATRIX_PORTS: readonly PortSpec[] = [
  { protocol: PROTOCOL.TCP, port: 80 },
  { protocol: PROTOCOL.TCP, port: 443 },
];
for (const [k, v] of Object.entries({ seed, flows: flowCount, sample: sampleSources, 'small-scale': smallScale, runs: RUNS, ...headline })) {
  if (!Number.isInteger(v) || v < (k === 'seed' ? 0 : 1)) fail(`--${k} must be a ${k === 'seed' ? 'non-negative' : 'positive'} integer`);
}

// ---- output

interface Row {
  readonly section: string;
  readonly what: string;
  readonly value: string;
  readonly note?: string;
}
const rows: Row[] = [];
let failed = false;

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function report(section: string, what: string, value: string, note?: string): void {
  rows.push(note === undefined ? { section, what, value } : { section, what, value, note });
}

/** Progress on stderr, so a long run shows where it is; the table goes to stdout at the end. */
function progress(message: string): void {
  process.stderr.write(`bench: ${message}…\n`);
}

const ms = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(x >= 100 ? 0 : 1)} ms`);
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const rate = (n: number, millis: number): string => `${Math.round((n / millis) * 1000).toLocaleString('en-US')} /s`;
const int = (n: number): string => n.toLocaleString('en-US');
const times = (x: number): string => `${x >= 10 ? x.toFixed(0) : x.toFixed(1)}×`;

/** Wall-clock time, and the main thread's CPU time (robust to other processes on the machine). */
interface Timing<T> {
  readonly value: T;
  readonly ms: number;
  readonly cpuMs: number;
}

function timed<T>(f: () => T): Timing<T> {
  const c0 = process.threadCpuUsage();
  const t0 = performance.now();
  const value = f();
  const wall = performance.now() - t0;
  const c = process.threadCpuUsage(c0);
  return { value, ms: wall, cpuMs: (c.user + c.system) / 1000 };
}

/**
 * Runs `f` `runs` times; the median is the result, the range goes in the notes. The machine may
 * be shared, so one run is a sample, not a measurement.
 */
function repeated<T>(runs: number, f: () => T): Timing<T> & { range: string } {
  const all: Timing<T>[] = [];
  for (let i = 0; i < runs; i++) all.push(timed(f));
  const byWall = [...all].sort((a, b) => a.ms - b.ms);
  const median = byWall[Math.floor(byWall.length / 2)]!;
  const range = runs === 1 ? '1 run' : `median of ${runs} runs, ${ms(byWall[0]!.ms)}–${ms(byWall[byWall.length - 1]!.ms)}`;
  return { ...median, range };
}

function memory(section: string, when: string): void {
  collect();
  const m = process.memoryUsage();
  report(section, `memory ${when}`, `rss ${mb(m.rss)}, heapUsed ${mb(m.heapUsed)}`, 'after a full GC');
}

// ---- steps

function sizeLabel(s: Sizes): string {
  return `${int(s.pods)} pods / ${int(s.namespaces)} ns / ${int(s.policies)} policies`;
}

function loadCluster(section: string, sizes: Sizes): { cluster: Cluster; generated: GeneratedCluster } {
  const gen = timed(() => {
    try {
      return generateCluster({ ...sizes, seed });
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e));
    }
  });
  const c = gen.value.counts;
  report(
    section,
    'generated',
    `${int(c.documents)} documents, ${(gen.value.text.length / 2 ** 20).toFixed(1)} MiB YAML`,
    `${int(c.tenants)} tenant${c.tenants === 1 ? '' : 's'}, ${int(c.workloads)} workloads, ${int(c.globalNetworkPolicies)} GNP + ${int(c.calicoNetworkPolicies)} Calico NP + ${int(c.kubernetesNetworkPolicies)} K8s NP; ${ms(gen.ms)}`,
  );
  const loaded = timed(() => loadText(gen.value.text, `generated-${sizes.pods}.yaml`));
  const errors = loaded.value.diagnostics.filter((d) => d.severity === 'error' || d.severity === 'warning');
  report(section, 'load + validate (loadText)', ms(loaded.ms), `${int(loaded.value.resources.length)} resources`);
  const built = timed(() => buildCluster(loaded.value.resources));
  errors.push(...built.value.diagnostics.filter((d) => d.severity === 'error' || d.severity === 'warning'));
  report(section, 'build (buildCluster)', ms(built.ms), `${int(built.value.cluster.endpoints.length)} endpoints, ${int(built.value.cluster.policies.length)} policies`);
  const cluster = built.value.cluster;
  const plans = timed(() => {
    let n = 0;
    for (const e of cluster.endpoints) n += cluster.plan(e, 'ingress').length + cluster.plan(e, 'egress').length;
    return n;
  });
  const labelSets = new Set(cluster.endpoints.map((e) => e.labelKey)).size;
  report(section, 'tier plans, every endpoint', ms(plans.ms), `${int(labelSets)} distinct label sets`);
  report(section, 'load + validate + build', ms(loaded.ms + built.ms + plans.ms));
  if (errors.length > 0) {
    failed = true;
    for (const d of errors.slice(0, 10)) process.stderr.write(`bench: ${d.code}: ${d.message}${d.span === undefined ? '' : ` at line ${d.span.line}`}\n`);
    report(section, 'LOAD PROBLEMS', `${errors.length} errors/warnings`);
  }
  return { cluster, generated: gen.value };
}

function workloads(cluster: Cluster): Endpoint[] {
  return cluster.endpoints.filter((e) => e.kind === 'workload' && e.addresses.length > 0);
}

/**
 * Two mixes of random flows, as `strata explain --flows` would read them; pod→pod flows use one of
 * the destination's declared ports, pod→external flows 443, 80, 53/UDP or 8443 to an address
 * drawn from the generator's externals (some in the threat feed, some partners).
 *   uniform  80% pod→any pod, 20% pod→external. With 100 tenants nearly every pod pair crosses
 *            tenants, so most flows are decided in the security tier: the literal "random flows".
 *   local    40% within the source's namespace, 20% within its tenant, 20% any pod, 20% external:
 *            flows people actually explain, which go through every tier.
 */
type FlowMix = 'uniform' | 'local';

function randomFlows(cluster: Cluster, gen: GeneratedCluster, n: number, mix: FlowMix, rng: Rng): Flow[] {
  const pods = workloads(cluster);
  const group = (key: (e: Endpoint) => string): Map<string, Endpoint[]> => {
    const out = new Map<string, Endpoint[]>();
    for (const e of pods) {
      const k = key(e);
      const list = out.get(k);
      if (list === undefined) out.set(k, [e]);
      else list.push(e);
    }
    return out;
  };
  const tenantOf = (e: Endpoint): string => cluster.namespace(e.namespace ?? '')?.labels.get('tenant') ?? `-${e.namespace ?? ''}`;
  const byNamespace = group((e) => e.namespace ?? '');
  const byTenant = group(tenantOf);
  const flows: Flow[] = [];
  const externalPorts = [
    { port: 443, protocol: 'TCP' },
    { port: 80, protocol: 'TCP' },
    { port: 53, protocol: 'UDP' },
    { port: 8443, protocol: 'TCP' },
  ];
  while (flows.length < n) {
    const src = rng.pick(pods);
    const roll = rng.next();
    let req;
    if (roll < 0.8) {
      const pool = mix === 'uniform' || roll >= 0.6 ? pods : roll < 0.4 ? byNamespace.get(src.namespace ?? '')! : byTenant.get(tenantOf(src))!;
      const dst = rng.pick(pool);
      const p = dst.ports.length === 0 ? { port: 80, protocol: PROTOCOL.TCP } : rng.pick(dst.ports);
      req = { from: src.id, to: dst.id, port: p.port, protocol: p.protocol };
    } else {
      const p = rng.pick(externalPorts);
      req = { from: src.id, to: rng.pick(gen.externalAddresses), port: p.port, protocol: p.protocol };
    }
    const f = makeFlow(cluster, req);
    if (!f.ok) fail(`makeFlow: ${f.diagnostics[0]?.message ?? ''}`);
    flows.push(f.value);
  }
  return flows;
}

function explainThroughput(section: string, cluster: Cluster, gen: GeneratedCluster): void {
  let local: Flow[] = [];
  for (const mix of ['uniform', 'local'] as const) {
    const flows = randomFlows(cluster, gen, flowCount, mix, new Rng(seed ^ (mix === 'uniform' ? 0x5eed : 0x10ca1)));
    if (mix === 'local') local = flows;
    // Warm-up (JIT, per-address caches), then the measured passes over every flow.
    for (let i = 0; i < Math.min(flows.length, 20_000); i++) evaluateFlow(cluster, flows[i]!);
    let allowed = 0;
    const t = repeated(RUNS, () => {
      allowed = 0;
      for (const f of flows) if (evaluateFlow(cluster, f).verdict === 'allow') allowed++;
    });
    report(
      section,
      `evaluateFlow, ${int(flows.length)} random flows, ${mix} mix`,
      rate(flows.length, t.ms),
      `${ms(t.ms)}, ${t.range}; by main-thread CPU time ${rate(flows.length, t.cpuMs)}; ${((100 * allowed) / flows.length).toFixed(1)}% allowed; target ≥ 200,000 /s`,
    );
  }
  const n = Math.min(local.length, quick ? 10_000 : 50_000);
  for (let i = 0; i < Math.min(n, 5_000); i++) explainFlow(cluster, local[i]!, { withSource: i % 2 === 0 });
  const bare = repeated(RUNS, () => {
    for (let i = 0; i < n; i++) explainFlow(cluster, local[i]!, { withSource: false });
  });
  report(section, `explainFlow (JSON shape), ${int(n)} flows, local mix`, rate(n, bare.ms), `withSource: false; ${bare.range}; by CPU time ${rate(n, bare.cpuMs)}`);
  const withSource = repeated(RUNS, () => {
    for (let i = 0; i < n; i++) explainFlow(cluster, local[i]!);
  });
  report(section, `explainFlow + source spans, ${int(n)} flows, local mix`, rate(n, withSource.ms), `as \`strata explain -o json\`; ${withSource.range}; by CPU time ${rate(n, withSource.cpuMs)}`);
}

interface Baseline {
  /** Indexes into matrix.endpoints of the sources evaluated. */
  readonly sources: readonly number[];
  readonly ms: number;
  readonly cpuMs: number;
  readonly flows: number;
  readonly mismatches: number;
  readonly allowed: number;
}

function endpointFlow(src: Endpoint, dst: Endpoint, spec: PortSpec): Flow {
  const v4 = (e: Endpoint) => e.addresses.find((a) => a.family === 4);
  return {
    src: { kind: 'endpoint', endpoint: src, address: v4(src) },
    dst: { kind: 'endpoint', endpoint: dst, address: v4(dst) },
    protocol: spec.protocol,
    port: spec.port,
    srcPort: undefined,
    icmp: undefined,
    ipVersion: 4,
  };
}

/** The naive reference: evaluateFlow for every (source, destination, port), then compared with the matrix. */
function pairwiseBaseline(cluster: Cluster, matrix: Matrix, sources: readonly number[]): Baseline {
  const eps = matrix.endpoints;
  const results = new Uint8Array(sources.length * eps.length * MATRIX_PORTS.length);
  const t = timed(() => {
    let k = 0;
    for (const s of sources) {
      const src = eps[s]!;
      for (const spec of MATRIX_PORTS) {
        for (const dst of eps) results[k++] = evaluateFlow(cluster, endpointFlow(src, dst, spec)).verdict === 'allow' ? 1 : 0;
      }
    }
  });
  let mismatches = 0;
  let allowed = 0;
  let k = 0;
  for (const s of sources) {
    for (const spec of MATRIX_PORTS) {
      const pm = matrix.ports.find((p) => p.spec.protocol === spec.protocol && p.spec.port === spec.port);
      if (pm === undefined) fail(`matrix has no port ${spec.port}`);
      for (let d = 0; d < eps.length; d++) {
        const expected = results[k++] === 1;
        allowed += expected ? 1 : 0;
        if (pm.allowed(s, d) !== expected) {
          if (mismatches < 10) process.stderr.write(`bench: MISMATCH ${eps[s]!.id} → ${eps[d]!.id} ${spec.port}/TCP: evaluateFlow ${expected ? 'allow' : 'deny'}, matrix ${expected ? 'deny' : 'allow'}\n`);
          mismatches++;
        }
      }
    }
  }
  return { sources, ms: t.ms, cpuMs: t.cpuMs, flows: results.length, mismatches, allowed };
}

function runMatrix(section: string, cluster: Cluster): { matrix: Matrix; ms: number; cpuMs: number } {
  const m = repeated(RUNS, () => computeMatrix(cluster, { ports: MATRIX_PORTS }));
  const n = m.value.endpoints.length;
  report(
    section,
    'matrix, ports 80/TCP + 443/TCP',
    ms(m.ms),
    `${int(m.value.classCount)} endpoint classes for ${int(n)} endpoints; ${int(n * n * MATRIX_PORTS.length)} cells; ${m.range}; CPU ${ms(m.cpuMs)}; target < 10 s`,
  );
  return { matrix: m.value, ms: m.ms, cpuMs: m.cpuMs };
}

function reportBaseline(section: string, b: Baseline, m: { ms: number; cpuMs: number }, total: number): void {
  const exact = b.sources.length === total;
  const scale = total / b.sources.length;
  report(
    section,
    exact ? `pairwise evaluateFlow, all ${int(total)} sources` : `pairwise evaluateFlow, ${int(b.sources.length)} of ${int(total)} sources`,
    ms(b.ms),
    `${int(b.flows)} flows, ${rate(b.flows, b.ms)}; ${((100 * b.allowed) / b.flows).toFixed(1)}% allowed`,
  );
  if (!exact) report(section, 'pairwise, extrapolated to every source', ms(b.ms * scale), `${int(b.flows * scale)} flows: measured time × ${total} / ${b.sources.length}`);
  report(
    section,
    `ratio pairwise / matrix${exact ? '' : ' (extrapolated)'}`,
    times((b.ms * scale) / m.ms),
    `by CPU time ${times((b.cpuMs * scale) / m.cpuMs)}`,
  );
  report(section, 'matrix = pairwise on every pair compared', b.mismatches === 0 ? 'yes' : `NO: ${int(b.mismatches)} mismatches`, `${int(b.flows)} pairs`);
  if (b.mismatches > 0) failed = true;
}

// ---- the run

const totalStart = performance.now();
const cpu = cpus();
report('machine', 'cpu', `${cpu[0]?.model.trim() ?? 'unknown'}`, `${cpu.length} logical cores, ${mb(totalmem())} RAM`);
report('machine', 'node', process.version, `${process.platform}/${process.arch}, V8 ${process.versions.v8}`);
report('machine', 'command', `node bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(), `seed ${seed}`);

{
  const section = 'headline';
  report(section, 'cluster', sizeLabel(headline));
  progress(`generating and loading the headline cluster (${sizeLabel(headline)})`);
  const { cluster, generated } = loadCluster(section, headline);
  memory(section, 'after build');
  progress(`explain throughput (2 × ${int(flowCount)} flows)`);
  explainThroughput(section, cluster, generated);
  progress('matrix');
  const m = runMatrix(section, cluster);
  const matrix = m.matrix;
  memory(section, 'after matrix');
  const rng = new Rng(seed ^ 0xba5e);
  const n = matrix.endpoints.length;
  const sources = rng.shuffle(matrix.endpoints.map((_, i) => i)).slice(0, Math.min(sampleSources, n)).sort((a, b) => a - b);
  progress(`pairwise baseline on ${int(sources.length)} sampled sources`);
  reportBaseline(section, pairwiseBaseline(cluster, matrix, sources), m, n);
}
collect();
{
  const section = 'small';
  report(section, 'cluster', sizeLabel(small));
  progress(`generating and loading the small cluster (${sizeLabel(small)})`);
  const { cluster } = loadCluster(section, small);
  progress('matrix and the exact pairwise baseline');
  const m = runMatrix(section, cluster);
  const all = m.matrix.endpoints.map((_, i) => i);
  reportBaseline(section, pairwiseBaseline(cluster, m.matrix, all), m, all.length);
}
report('run', 'peak rss (getrusage maxrss)', mb(process.resourceUsage().maxRSS * 1024));
report('run', 'total bench time', ms(performance.now() - totalStart));

// ---- the table

const header = ['section', 'measurement', 'result', 'notes'];
const table = rows.map((r) => [r.section, r.what, r.value, r.note ?? '']);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
process.stdout.write(`${[line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...table.map(line)].join('\n')}\n`);
if (failed) {
  process.stderr.write('bench: FAILED (see above)\n');
  process.exit(1);
}
