// `npm run bench:live`: the live engine on the generated cluster (bench/generate.ts). A full build
// (every resource applied to an empty store, then every tier plan, as the batch build computed
// them), then one change at a time on the same store — a pod's labels, a namespace's labels, a
// policy added / changed / removed, a network set's nets — each timed to an updated snapshot, and
// to that snapshot plus the recompiled rules of the node of the touched endpoint (or one node), and
// as a ratio to the full build of the same run. Then the matrix, and memory: after the build, and
// after many random changes (flat is the target). Numbers are reported, never asserted.
//
//   node bench/live.ts [--pods N] [--seed N] [--runs N] [--changes N] [--snapshot-every N] [--no-matrix]
//
//   --pods      pods (default 10,000; namespaces = pods/10, policies = pods/5); 100000 for the big run
//   --runs      repetitions of each change timing, the median is reported (default 3)
//   --changes   random changes for the memory check (default 20,000, so that a default run stays
//               near two minutes; the figure is --changes 100000)
//   --snapshot-every  take (and read) a snapshot after every N of those changes (default 100; 1 is
//               an agent reading every generation — then each change pays the copy-on-write copies)
//   --no-matrix skip the matrix timing (at 100k pods it is the slowest step by far)
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { computeMatrix } from '../src/analysis/matrix.ts';
import { compileNode } from '../src/dataplane/index.ts';
import { PROTOCOL } from '../src/engine/index.ts';
import type { Cluster, Endpoint } from '../src/engine/index.ts';
import { createPolicyStore, resourceKey } from '../src/engine/store.ts';
import type { PolicyStore, StoreChange } from '../src/engine/store.ts';
import { nodeInterfaceOf } from '../src/lab/topology.ts';
import { loadText } from '../src/load/index.ts';
import type { Resource } from '../src/model/index.ts';
import { generateCluster, Rng } from './generate.ts';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    'snapshot-every': { type: 'string', default: '100' },
    changes: { type: 'string', default: '20000' },
    'no-matrix': { type: 'boolean', default: false },
  },
  strict: true,
});
const pods = Number(args.pods);
const seed = Number(args.seed);
const RUNS = Number(args.runs);
const CHANGES = Number(args.changes);
const EVERY = Number(args['snapshot-every']);
for (const [k, v] of Object.entries({ pods, seed, runs: RUNS, changes: CHANGES, 'snapshot-every': EVERY })) {
  if (!Number.isInteger(v) || v < 0) {
    process.stderr.write(`bench: --${k} must be a non-negative integer\n`);
    process.exit(2);
  }
}

// ---- output

const rows: { what: string; value: string; note: string }[] = [];
const report = (what: string, value: string, note = ''): void => void rows.push({ what, value, note });
const progress = (m: string): void => void process.stderr.write(`bench: ${m}…\n`);
const ms = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 1 ? `${x.toFixed(x >= 100 ? 0 : 1)} ms` : `${(x * 1000).toFixed(0)} µs`);
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const int = (n: number): string => n.toLocaleString('en-US');

/**
 * The main thread's CPU time, not the wall clock: the machine may be shared (the figures in
 * docs/performance.md were taken with other jobs running), and a change is single-threaded work.
 * The wall clock is kept for the notes.
 */
function cpuNow(): number {
  const c = process.threadCpuUsage();
  return (c.user + c.system) / 1000;
}

function timed<T>(f: () => T): { value: T; ms: number; wallMs: number } {
  const w0 = performance.now();
  const t0 = cpuNow();
  const value = f();
  return { value, ms: cpuNow() - t0, wallMs: performance.now() - w0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function memory(): { heap: number; rss: number; peak: number } {
  collect();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss, peak: process.resourceUsage().maxRSS * 1024 };
}

// ---- the cluster

progress(`generating ${int(pods)} pods`);
const gen = generateCluster({ pods, namespaces: Math.max(6, Math.round(pods / 10)), policies: Math.max(20, Math.round(pods / 5)), seed });
progress('loading');
const loaded = timed(() => loadText(gen.text, `generated-${pods}.yaml`));
report('load + validate (loadText, not part of the build)', ms(loaded.ms), `${int(loaded.value.resources.length)} resources`);
const resources = loaded.value.resources;

/** The full build: apply all to an empty store (what `buildCluster` does), then every tier plan. */
function fullBuild(): { store: PolicyStore; snapshot: Cluster; applyMs: number; plansMs: number } {
  const store = createPolicyStore();
  const applied = timed(() => store.apply(resources.map((resource) => ({ op: 'upsert', resource })), { onError: 'keep' }));
  if (!applied.value.ok) throw new Error('build failed');
  const plans = timed(() => {
    const snap = store.snapshot();
    for (const e of snap.endpoints) {
      snap.plan(e, 'ingress');
      snap.plan(e, 'egress');
    }
    return snap;
  });
  return { store, snapshot: plans.value, applyMs: applied.ms, plansMs: plans.ms };
}

progress('full build');
const built = fullBuild();
const buildMs = built.applyMs + built.plansMs;
report('full build: apply all to an empty store', ms(built.applyMs), `${int(built.snapshot.endpoints.length)} endpoints, ${int(built.snapshot.policies.length)} policies`);
report('full build: + every tier plan', ms(buildMs), 'the reference for the ratios below');
const store = built.store;
let snap = built.snapshot;
const memBuilt = memory();
report('memory after the build', `heapUsed ${mb(memBuilt.heap)}, rss ${mb(memBuilt.rss)}`, 'after a full GC (the loaded resources are alive too)');

const interfaces = new Map(snap.endpoints.map((e) => [e.id, nodeInterfaceOf(e.id)]));
function nodeOf(c: Cluster, node: string | undefined): Endpoint[] {
  return node === undefined ? [] : c.endpointsOnNode(node).filter((e) => e.kind === 'workload');
}
const anyNode = snap.endpoints.find((e) => e.node !== undefined)!.node;
const compileFull = timed(() => compileNode(snap, nodeOf(snap, anyNode), { interfaces }));
if (!compileFull.value.ok) throw new Error(compileFull.value.diagnostics.map((d) => d.message).join('; '));
report(`compileNode, one node (${nodeOf(snap, anyNode).length} endpoints), after the build`, ms(compileFull.ms));
const rebuildAndCompile = buildMs + compileFull.ms;

// ---- the changes: resources made up front (loading is not part of a change)

const rng = new Rng(seed ^ 0x11fe);
const byType = (t: string): Resource[] => resources.filter((r) => r.type === t);
function variant(r: Resource, edit: (body: Record<string, unknown>) => void, name = 'variant'): Resource {
  const body = structuredClone(r.body) as Record<string, unknown>;
  edit(body);
  const out = loadText(JSON.stringify(body), `${name}.json`);
  if (out.resources.length !== 1 || out.diagnostics.some((d) => d.severity === 'error')) throw new Error(`variant of ${resourceKey(r)}: ${out.diagnostics.map((d) => d.message).join('; ')}`);
  return out.resources[0]!;
}
const labelsOf = (body: Record<string, unknown>): Record<string, string> => {
  const meta = body['metadata'] as { labels?: Record<string, string> };
  return (meta.labels ??= {});
};

const podResources = byType('Pod');
const namespaceResources = byType('Namespace').filter((r) => r.body.metadata.labels?.['tenant'] !== undefined);
const calicoPolicies = byType('NetworkPolicy');
const networkSets = byType('GlobalNetworkSet');

interface Case {
  readonly name: string;
  /** Alternating changes (so each one really changes something); `node` is the endpoint's node. */
  readonly changes: readonly (readonly StoreChange[])[];
  readonly node: string | undefined;
}

const pod = rng.pick(podResources);
const podNode = (pod.body as { spec?: { nodeName?: string } }).spec?.nodeName;
const ns = rng.pick(namespaceResources);
const policy = rng.pick(calicoPolicies);
const policyNs = policy.namespace;
const nsNode = snap.endpoints.find((e) => e.namespace === ns.name)?.node ?? anyNode;
const policyNode = snap.endpoints.find((e) => e.namespace === policyNs)?.node ?? anyNode;
const added = variant(policy, (b) => {
  (b['metadata'] as { name: string }).name = 'bench-added';
});
const changedPolicy = variant(policy, (b) => {
  const spec = b['spec'] as { ingress?: unknown[] };
  spec.ingress = [{ action: 'Deny', protocol: 'TCP', destination: { ports: [9999] } }, ...(spec.ingress ?? [])];
});
const set = networkSets[0]!;
const setChanged = variant(set, (b) => {
  const spec = b['spec'] as { nets: string[] };
  spec.nets = [...spec.nets, '192.0.2.0/28'];
});

const cases: Case[] = [
  {
    name: 'one pod label change',
    changes: [[{ op: 'upsert', resource: variant(pod, (b) => void (labelsOf(b)['bench'] = 'a')) }], [{ op: 'upsert', resource: pod }]],
    node: podNode,
  },
  {
    name: 'one namespace label change',
    changes: [[{ op: 'upsert', resource: variant(ns, (b) => void (labelsOf(b)['env'] = labelsOf(b)['env'] === 'prod' ? 'dev' : 'prod')) }], [{ op: 'upsert', resource: ns }]],
    node: nsNode,
  },
  { name: 'one policy added', changes: [[{ op: 'upsert', resource: added }]], node: policyNode },
  { name: 'one policy changed', changes: [[{ op: 'upsert', resource: changedPolicy }], [{ op: 'upsert', resource: policy }]], node: policyNode },
  { name: 'one policy removed', changes: [[{ op: 'remove', key: resourceKey(policy) }]], node: policyNode },
  { name: 'one network-set change', changes: [[{ op: 'upsert', resource: setChanged }], [{ op: 'upsert', resource: set }]], node: anyNode },
];
/** What undoes a one-shot change, so the next run measures the same change again. */
const undo = new Map<string, readonly StoreChange[]>([
  ['one policy added', [{ op: 'remove', key: resourceKey(added) }]],
  ['one policy removed', [{ op: 'upsert', resource: policy }]],
]);

function apply(changes: readonly StoreChange[]): void {
  const r = store.apply(changes);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
}

progress('single changes');
const ratio = (x: number, of: number): string => (x <= 0 ? 'below the clock resolution' : `${(of / x).toFixed(0)}× faster than the rebuild`);
for (const c of cases) {
  const snapTimes: number[] = [];
  const compileTimes: number[] = [];
  const compileCpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const changes = c.changes[i % c.changes.length]!;
    // Time to an updated snapshot…
    // Wall clock here: one change is below the resolution of the thread CPU clock on this VM
    // (it reads 0 µs for sub-millisecond changes); medians absorb the odd preemption.
    const c0 = cpuNow();
    const t0 = performance.now();
    apply(changes);
    snap = store.snapshot();
    const t1 = performance.now();
    // …and to the recompiled rules of the touched endpoint's node (plans for that node included).
    const r = compileNode(snap, nodeOf(snap, c.node), { interfaces });
    const t2 = performance.now();
    compileCpu.push(cpuNow() - c0); // tens of milliseconds: within the CPU clock's resolution
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
    snapTimes.push(t1 - t0);
    compileTimes.push(t2 - t0);
    const u = undo.get(c.name);
    if (u !== undefined) apply(u);
  }
  const s = median(snapTimes);
  const k = median(compileTimes);
  report(`${c.name}: updated snapshot`, ms(s), `${ratio(s, buildMs)} (median of ${RUNS}, wall clock)`);
  report(`${c.name}: + recompiled node rules`, ms(k), `${ratio(k, rebuildAndCompile)} (rebuild + compile ${ms(rebuildAndCompile)}); main-thread CPU ${ms(median(compileCpu))}`);
}

// What the same pod label change costs the store without a snapshot in between: the difference
// to the figure above is the copy-on-write copying a first write after a snapshot pays (cow.ts).
{
  const podCase = cases[0]!;
  const times: number[] = [];
  // 20 alternating changes per sample: one change is below the CPU clock's resolution here.
  for (let i = 0; i < RUNS; i++) {
    const t0 = cpuNow();
    for (let k = 0; k < 20; k++) apply(podCase.changes[k % 2]!);
    times.push((cpuNow() - t0) / 20);
  }
  snap = store.snapshot();
  report('one pod label change, no snapshot taken since the last change', ms(median(times)), 'the store\'s own delta work; the rest of the row above is copy-on-write copying');
}

/** In a function, so that the matrix is garbage before the memory readings below. */
function timeMatrix(): void {
  progress('matrix');
  const m = timed(() => computeMatrix(snap, { ports: [{ protocol: PROTOCOL.TCP, port: 80 }, { protocol: PROTOCOL.TCP, port: 443 }] }));
  report('matrix, 2 ports (computeMatrix on a live snapshot)', ms(m.ms), `${int(m.value.endpoints.length)} endpoints, ${int(m.value.classCount)} classes`);
}
if (args['no-matrix'] !== true) timeMatrix();

// ---- memory over many random changes (a snapshot after each, dropped: as an agent would do)

progress(`${int(CHANGES)} random changes`);
const pool: (readonly StoreChange[])[] = [];
for (let i = 0; i < 64; i++) {
  const p = rng.pick(podResources);
  pool.push([{ op: 'upsert', resource: variant(p, (b) => void (labelsOf(b)['bench'] = `v${i % 4}`)) }], [{ op: 'upsert', resource: p }]);
}
for (let i = 0; i < 16; i++) {
  const n = rng.pick(namespaceResources);
  pool.push([{ op: 'upsert', resource: variant(n, (b) => void (labelsOf(b)['bench'] = `v${i % 4}`)) }], [{ op: 'upsert', resource: n }]);
}
for (let i = 0; i < 16; i++) {
  const p = rng.pick(calicoPolicies);
  pool.push([{ op: 'upsert', resource: variant(p, (b) => void ((b['spec'] as { order?: number }).order = 1000 + i)) }], [{ op: 'upsert', resource: p }]);
}
pool.push(...cases.flatMap((c) => c.changes.slice(0, 1).concat(undo.has(c.name) ? [undo.get(c.name)!] : c.changes.slice(1))));
const memBefore = memory();
const many = timed(() => {
  for (let i = 0; i < CHANGES; i++) {
    // A rejected change (a one-shot case applied twice) is fine here: it must leave nothing behind either.
    store.apply(rng.pick(pool));
    if (i % Math.max(1, EVERY) === 0) {
      const s = store.snapshot();
      s.plan(s.endpoints[i % s.endpoints.length]!, 'ingress');
    }
  }
});
const memAfter = memory();
report(`${int(CHANGES)} random changes (pod, namespace, policy, set), a snapshot every ${int(EVERY)}`, ms(many.ms), `${ms(many.ms / Math.max(1, CHANGES))} per change`);
report('memory before / after them', `heapUsed ${mb(memBefore.heap)} → ${mb(memAfter.heap)}`, `rss ${mb(memBefore.rss)} → ${mb(memAfter.rss)}, after a full GC`);
report('peak RSS of the run', mb(memAfter.peak));

// ---- the table

const w1 = Math.max(...rows.map((r) => r.what.length));
const w2 = Math.max(...rows.map((r) => r.value.length));
process.stdout.write(`live engine, ${int(pods)} pods (seed ${seed}), node ${process.version}; times are main-thread CPU time except single changes (wall clock)\n`);
for (const r of rows) process.stdout.write(`${r.what.padEnd(w1)}  ${r.value.padStart(w2)}  ${r.note}\n`);
