// `node bench/agent-scale.ts`: an agent's own work at scale, in process and without the kernel —
// what `strata agent` does per update between the watch and `nft -f`: the live store takes the
// change, a snapshot, `compileNode` for the node's endpoints, `diffRulesets` against the ruleset
// the kernel holds, `renderNftUpdate`. The generated cluster (bench/generate.ts) with N of its pods
// moved onto one node, so that node carries N endpoints among all the cluster's. Reported: the
// cold compile (what a restarted agent replaces the table with), per-change CPU and script size,
// and the heap. Numbers are reported, never asserted (docs/performance.md, "Agents").
//
//   node --max-old-space-size=8192 bench/agent-scale.ts [--pods 100000] [--node-endpoints 10000] [--changes 10]
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compileNode, diffRulesets, renderNft, renderNftUpdate } from '../src/dataplane/index.ts';
import type { Ruleset } from '../src/dataplane/index.ts';
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
  options: { pods: { type: 'string', default: '100000' }, 'node-endpoints': { type: 'string', default: '10000' }, changes: { type: 'string', default: '10' }, seed: { type: 'string', default: '1' } },
  strict: true,
});
const pods = Number(args.pods);
const onNode = Number(args['node-endpoints']);
const CHANGES = Number(args.changes);
const NODE = 'big-node';
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
let t = cpu();
const cold = compileNode(snap, nodeEndpoints(snap), { interfaces });
if (!cold.ok) throw new Error(cold.diagnostics.map((d) => d.message).join('; '));
const script = renderNft(cold.value);
report('cold: compileNode + renderNft (a restarted agent\'s replace)', `${(cpu() - t).toFixed(0)} ms CPU; ${cold.value.chains.length.toLocaleString('en-US')} chains, ${cold.value.chains.reduce((n, c) => n + c.rules.length, 0).toLocaleString('en-US')} rules, ${cold.value.sets.length.toLocaleString('en-US')} sets; script ${mib(script.length)}`);
let held: Ruleset = cold.value;
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
const cases: { name: string; change: () => StoreChange[] }[] = [
  { name: 'a pod on the node takes another app label', change: () => [{ op: 'upsert', resource: relabel(rng.pick(onNodePods), rng.pick(elsewhere)) }] },
  { name: 'a pod on another node takes another app label', change: () => [{ op: 'upsert', resource: relabel(rng.pick(elsewhere), rng.pick(elsewhere)) }] },
];
for (const c of cases) {
  const times: number[] = [];
  const bytes: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const r = store.apply(c.change());
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
    t = cpu();
    snap = store.snapshot();
    const next = compileNode(snap, nodeEndpoints(snap), { interfaces });
    if (!next.ok) throw new Error(next.diagnostics.map((d) => d.message).join('; '));
    const update = renderNftUpdate(diffRulesets(held, next.value));
    times.push(cpu() - t);
    bytes.push(update.length);
    held = next.value;
  }
  times.sort((a, b) => a - b);
  bytes.sort((a, b) => a - b);
  report(`${c.name}: snapshot + compile + diff + render`, `median ${times[Math.floor(times.length / 2)]!.toFixed(0)} ms CPU (max ${times[times.length - 1]!.toFixed(0)}); update script median ${(bytes[Math.floor(bytes.length / 2)]! / 1024).toFixed(1)} KiB, max ${(bytes[bytes.length - 1]! / 1024).toFixed(1)} KiB`);
}
report('heap after the changes', mib(heap()));
report('peak RSS', mib(process.resourceUsage().maxRSS * 1024));

const w = Math.max(...rows.map(([a]) => a.length));
process.stdout.write(`agent at scale, ${pods.toLocaleString('en-US')} pods (seed ${args.seed}), ${onNode.toLocaleString('en-US')} on one node; node ${process.version}\n`);
for (const [a, b] of rows) process.stdout.write(`${a.padEnd(w)}  ${b}\n`);
