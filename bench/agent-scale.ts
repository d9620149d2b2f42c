// `node bench/agent-scale.ts`: an agent's own work at scale, in process and without the kernel —
// what `strata agent` does per update between the watch and `nft -f`: the live store takes the
// change, a snapshot, `compileNode` for the node's endpoints, `diffRulesets` against the ruleset
// the kernel holds, `renderNftUpdate`. The generated cluster (bench/generate.ts) with N of its pods
// moved onto one node, so that node carries N endpoints among all the cluster's. Reported: the
// cold compile (what a restarted agent replaces the table with), per-change CPU and script size,
// and the heap. Numbers are reported, never asserted (docs/performance.md, "Agents").
//
//   node --max-old-space-size=8192 bench/agent-scale.ts [--pods 100000] [--node-endpoints 10000] [--changes 10] [--compiler incremental|full]
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compileNode, createNodeCompiler, diffRulesets, renderNft, renderNftUpdate } from '../src/dataplane/index.ts';
import type { CompileOptions, Ruleset } from '../src/dataplane/index.ts';
import type { Cluster, Endpoint } from '../src/engine/index.ts';
import { createPolicyStore } from '../src/engine/store.ts';
import type { StoreChange } from '../src/engine/store.ts';
import { nodeInterfaceOf } from '../src/lab/topology.ts';
import { loadText } from '../src/load/index.ts';
import type { Resource } from '../src/model/index.ts';
import { generateCluster, Rng } from './generate.ts';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

const { values: args } = parseArgs({
  options: { profile: { type: 'string' }, compiler: { type: 'string', default: 'incremental' }, pods: { type: 'string', default: '100000' }, 'node-endpoints': { type: 'string', default: '10000' }, changes: { type: 'string', default: '10' }, seed: { type: 'string', default: '1' } },
  strict: true,
});
const pods = Number(args.pods);
const onNode = Number(args['node-endpoints']);
const CHANGES = Number(args.changes);
const NODE = 'big-node';
if (args.compiler !== 'incremental' && args.compiler !== 'full') throw new Error('--compiler incremental|full');
// The agent's compiler (src/agent/programmer.ts) or a fresh compileNode per update (what it did before).
const compiler = createNodeCompiler();
const compile = (c: Cluster, eps: readonly Endpoint[], opts: CompileOptions): ReturnType<typeof compileNode> =>
  args.compiler === 'incremental' ? compiler.compile(c, eps, opts) : compileNode(c, eps, opts);
const progress = (m: string): void => void process.stderr.write(`bench: ${m}…\n`);
const cpu = (): number => {
  const c = process.threadCpuUsage();
  return (c.user + c.system) / 1000;
};
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
const heap = (): number => {
  collect();
  return process.memoryUsage().heapUsed;
};
const rows: [string, string][] = [];
const report = (what: string, value: string): void => void rows.push([what, value]);

progress(`generating ${pods.toLocaleString('en-US')} pods`);
const gen = generateCluster({ seed: Number(args.seed), pods, namespaces: Math.round(pods / 10), policies: Math.round(pods / 5) });
progress('loading');
const loaded = loadText(gen.text, 'generated.yaml');
const withNode = (r: Resource, node: string): Resource => {
  const body = structuredClone(r.body) as { spec: { nodeName?: string } };
  body.spec.nodeName = node;
  return loadText(JSON.stringify(body), 'moved.json').resources[0]!;
};
// The first N pods (in resource order) move onto one node.
let moved = 0;
const resources = loaded.resources.map((r) => (r.type === 'Pod' && moved < onNode && ++moved > 0 ? withNode(r, NODE) : r));
const heapBefore = heap();
progress('building the live store');
const store = createPolicyStore();
const applied = store.apply(resources.map((resource): StoreChange => ({ op: 'upsert', resource })), { onError: 'keep' });
if (!applied.ok) throw new Error('build failed');
let snap: Cluster = store.snapshot();
const nodeEndpoints = (c: Cluster): Endpoint[] => c.endpointsOnNode(NODE).filter((e) => e.kind === 'workload');
const interfaces = new Map(nodeEndpoints(snap).map((e) => [e.id, nodeInterfaceOf(e.id)]));
report('cluster', `${snap.endpoints.length.toLocaleString('en-US')} endpoints, ${snap.policies.length.toLocaleString('en-US')} policies; ${nodeEndpoints(snap).length.toLocaleString('en-US')} on the node`);

progress('cold compile of the node');
const heapBeforeCompile = heap();
let t = cpu();
const cold = compile(snap, nodeEndpoints(snap), { interfaces });
if (!cold.ok) throw new Error(cold.diagnostics.map((d) => d.message).join('; '));
const scriptLength = renderNft(cold.value).length;
report(`cold: compile (${args.compiler}) + renderNft (a restarted agent's replace)`, `${(cpu() - t).toFixed(0)} ms CPU; ${cold.value.chains.length.toLocaleString('en-US')} chains, ${cold.value.chains.reduce((n, c) => n + c.rules.length, 0).toLocaleString('en-US')} rules, ${cold.value.sets.length.toLocaleString('en-US')} sets; script ${mib(scriptLength)}`);
let held: Ruleset = cold.value;
report('heap: the node\'s compiled state (held ruleset)', mib(heap() - heapBeforeCompile));
report('heap: store + snapshot + compiled node (resources loaded)', `${mib(heap())} (${mib(heap() - heapBefore)} over the loaded resources)`);

// Changes: a pod on the node relabelled (alternating), a pod elsewhere relabelled, a policy changed.
const rng = new Rng(0x5ca1e);
const onNodePods = resources.filter((r) => r.type === 'Pod' && (r.body as { spec?: { nodeName?: string } }).spec?.nodeName === NODE);
const elsewhere = resources.filter((r) => r.type === 'Pod' && (r.body as { spec?: { nodeName?: string } }).spec?.nodeName !== NODE);
// A relabel that policies read: the pod takes another pod's `app` label (it moves between selectors).
const labelsOf = (r: Resource): Record<string, string> => (r.body as { metadata: { labels?: Record<string, string> } }).metadata.labels ?? {};
const relabel = (r: Resource, like: Resource): Resource => {
  const body = structuredClone(r.body) as { metadata: { labels?: Record<string, string> } };
  (body.metadata.labels ??= {})['app'] = labelsOf(like)['app'] ?? 'other';
  return loadText(JSON.stringify(body), 'relabel.json').resources[0]!;
};
// A Calico NetworkPolicy in a namespace with pods on the node gains an ingress rule (its chain changes).
const nodeNamespaces = new Set(onNodePods.map((r) => r.namespace));
const nodePolicies = resources.filter((r) => r.type === 'NetworkPolicy' && nodeNamespaces.has(r.namespace) && (r.body as { apiVersion?: string }).apiVersion === 'projectcalico.org/v3');
let extraPort = 20000;
const withRule = (r: Resource): Resource => {
  const body = structuredClone(r.body) as { spec: { ingress?: unknown[]; types?: string[] } };
  (body.spec.ingress ??= []).push({ action: 'Allow', protocol: 'TCP', source: { selector: 'all()' }, destination: { ports: [extraPort++] } });
  return loadText(JSON.stringify(body), 'policy.json').resources[0]!;
};
// A pod elsewhere is moved onto the node (a new endpoint: its chains, map and set elements).
const movedOn = (): StoreChange[] => {
  const r = elsewhere.splice(rng.int(0, elsewhere.length - 1), 1)[0]!;
  const m = withNode(r, NODE);
  interfaces.set(`${m.namespace}/${m.name}`, nodeInterfaceOf(`${m.namespace}/${m.name}`));
  return [{ op: 'upsert', resource: m }];
};
const cases: { name: string; change: () => StoreChange[] }[] = [
  { name: 'a pod on the node takes another app label', change: () => [{ op: 'upsert', resource: relabel(rng.pick(onNodePods), rng.pick(elsewhere)) }] },
  { name: 'a pod on another node takes another app label', change: () => [{ op: 'upsert', resource: relabel(rng.pick(elsewhere), rng.pick(elsewhere)) }] },
  { name: 'a policy of a namespace on the node gains a rule', change: () => [{ op: 'upsert', resource: withRule(rng.pick(nodePolicies)) }] },
  { name: 'a pod of another node moves onto the node', change: movedOn },
];
// --profile FILE: a CPU profile of the updates only (not the build or the cold compile).
const session = args.profile === undefined ? undefined : new Session();
const post = (method: string): Promise<unknown> => new Promise((resolve, reject) => session!.post(method, (e, r) => (e === null ? resolve(r) : reject(e))));
if (session !== undefined) {
  session.connect();
  await post('Profiler.enable');
  await post('Profiler.start');
}
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const maxOf = (xs: readonly number[]): number => Math.max(...xs);
for (const c of cases) {
  const phases = { snapshot: [] as number[], compile: [] as number[], diff: [] as number[], render: [] as number[], total: [] as number[] };
  const bytes: number[] = [];
  const ops: number[] = [];
  const made: number[] = [];
  const cpuTotal: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const r = store.apply(c.change());
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
    // Per phase: wall time (the thread's CPU time moves in kernel ticks, 4 ms here, too coarse
    // for phases of a few ms); the total also as CPU time.
    const c0 = cpu();
    const t0 = performance.now();
    snap = store.snapshot();
    const t1 = performance.now();
    const next = compile(snap, nodeEndpoints(snap), { interfaces });
    if (!next.ok) throw new Error(next.diagnostics.map((d) => d.message).join('; '));
    const t2 = performance.now();
    const diff = diffRulesets(held, next.value);
    const t3 = performance.now();
    const update = renderNftUpdate(diff);
    const t4 = performance.now();
    phases.snapshot.push(t1 - t0);
    phases.compile.push(t2 - t1);
    phases.diff.push(t3 - t2);
    phases.render.push(t4 - t3);
    phases.total.push(t4 - t0);
    cpuTotal.push(cpu() - c0);
    bytes.push(update.length);
    ops.push(diff.kind === 'update' ? diff.ops.length : -1);
    if (args.compiler === 'incremental') made.push(compiler.stats().chainsMade);
    held = next.value;
  }
  const split = (['snapshot', 'compile', 'diff', 'render'] as const).map((k) => `${k} ${median(phases[k]).toFixed(1)}`).join(', ');
  report(
    `${c.name}: snapshot + compile + diff + render`,
    `median ${median(cpuTotal).toFixed(0)} ms CPU (max ${maxOf(cpuTotal).toFixed(0)}), ${median(phases.total).toFixed(1)} ms wall (medians: ${split}); update script median ${(median(bytes) / 1024).toFixed(1)} KiB (max ${(maxOf(bytes) / 1024).toFixed(1)}), ${median(ops)} ops${made.length > 0 ? `, ${median(made)} chains made` : ''}`,
  );
}
if (session !== undefined) {
  const { profile } = (await post('Profiler.stop')) as { profile: unknown };
  writeFileSync(args.profile!, JSON.stringify(profile));
}
report('heap after the changes', mib(heap()));
report('peak RSS', mib(process.resourceUsage().maxRSS * 1024));

const w = Math.max(...rows.map(([a]) => a.length));
process.stdout.write(`agent at scale, ${pods.toLocaleString('en-US')} pods (seed ${args.seed}), ${onNode.toLocaleString('en-US')} on one node, compiler ${args.compiler}; node ${process.version}\n`);
for (const [a, b] of rows) process.stdout.write(`${a.padEnd(w)}  ${b}\n`);
