// `node bench/node-views.ts`: what the per-node view costs and saves at scale — the server's side
// of "many agents watch one server" (src/server/node-views.ts). The generated cluster
// (bench/generate.ts) with its pods spread over N nodes is fed to the server's engine state and
// node views as the mirror feeds them (no HTTP, no store: their own CPU is what is measured), every
// node's view is listed, then random writes are applied one at a time. Reported:
//   - list size per node (objects, JSON bytes): before (every engine object, other nodes'
//     endpoints as peers — the view until this change) and after (relevance-filtered);
//   - events per node per write, by kind of write: before (every node gets an event when the
//     object's view form changed) and after (only nodes whose view the write changes);
//   - the server's CPU per write: the engine's apply, and keeping every node's view (`applied`);
//   - a check: for a few nodes, compileNode from an engine built from the view equals compileNode
//     from the full engine, after the writes.
// Numbers are reported, never asserted (docs/performance.md, "Agents").
//
//   node bench/node-views.ts [--pods 10000] [--nodes 100] [--writes 20] [--seed 1] [--check-nodes 2]
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { nodeEndpoints } from '../src/agent/programmer.ts';
import { compileNode, renderNft } from '../src/dataplane/index.ts';
import { createPolicyStore, resourceKey } from '../src/engine/index.ts';
import type { Cluster, StoreChange } from '../src/engine/index.ts';
import { loadText } from '../src/load/index.ts';
import type { Resource } from '../src/model/index.ts';
import { syntheticOrigin, validateDocument } from '../src/model/index.ts';
import { createEngineState } from '../src/server/engine-state.ts';
import { nodeViewObject } from '../src/server/node-view.ts';
import { createNodeViews, isViewKind } from '../src/server/node-views.ts';
import type { Touched } from '../src/server/node-views.ts';
import type { ResourceInfo } from '../src/server/resources.ts';
import { objectKey, resourceOfObject } from '../src/server/resources.ts';
import { generateCluster, Rng } from './generate.ts';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const heap = (): number => {
  collect();
  return process.memoryUsage().heapUsed;
};

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '10000' },
    nodes: { type: 'string', default: '100' },
    writes: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    'check-nodes': { type: 'string', default: '2' },
  },
  strict: true,
});
const PODS = Number(args.pods);
const NODES = Number(args.nodes);
const WRITES = Number(args.writes);
const progress = (m: string): void => void process.stderr.write(`bench: ${m}…\n`);
const cpuMs = (): number => {
  const c = process.threadCpuUsage();
  return (c.user + c.system) / 1000;
};
type Obj = Record<string, unknown>;
const nodeName = (i: number): string => `node-${String(i).padStart(3, '0')}`;

progress(`generating ${PODS.toLocaleString('en-US')} pods over ${NODES} nodes`);
const gen = generateCluster({ seed: Number(args.seed), pods: PODS, namespaces: Math.round(PODS / 10), policies: Math.round(PODS / 5) });
const loaded = loadText(gen.text, 'generated.yaml');
const rng = new Rng(Number(args.seed) * 7919);

interface Item {
  readonly key: string;
  readonly info: ResourceInfo;
  body: Obj;
}
const items = new Map<string, Item>();
for (const r of loaded.resources) {
  const body = structuredClone(r.body) as Obj;
  if (r.type === 'Pod') ((body['spec'] ??= {}) as Obj)['nodeName'] = nodeName(rng.int(0, NODES - 1));
  const info = resourceOfObject(String(body['apiVersion']), String(body['kind']));
  if (info === undefined) continue;
  const meta = body['metadata'] as { name: string; namespace?: string };
  const key = objectKey(info, meta.namespace, meta.name);
  items.set(key, { key, info, body });
}

let revision = 0;
const engine = createEngineState();
const views = createNodeViews(() => engine.snapshot());
const resourceOf = (body: Obj): Resource => {
  const r = loadText(JSON.stringify(body), 'bench.json');
  return r.resources[0]!;
};
const served = (body: Obj, rev: number): Obj => ({ ...body, metadata: { ...(body['metadata'] as Obj), resourceVersion: String(rev) } });
const cost = { engine: 0, views: 0 };
/** One write as the mirror applies it: engine first, then the views. */
function write(changes: readonly { key: string; body: Obj | undefined }[], relist = false): void {
  revision++;
  const touched: Touched[] = [];
  const ec = changes.map((c) => {
    const item = items.get(c.key)!;
    const resource = c.body === undefined ? undefined : resourceOf(c.body);
    if (c.body === undefined) items.delete(c.key);
    else item.body = c.body;
    if (isViewKind(item.info)) touched.push({ key: c.key, info: item.info, obj: c.body === undefined ? undefined : served(c.body, revision), resource });
    return { key: c.key, resource };
  });
  let t = cpuMs();
  const report = engine.apply(ec);
  cost.engine = cpuMs() - t;
  t = cpuMs();
  views.applied(revision, touched, relist, report);
  cost.views = cpuMs() - t;
}

progress('loading the engine and the views');
write([...items.values()].map((i) => ({ key: i.key, body: i.body })), true);
const snap = (): Cluster => engine.snapshot();
const nodes = Array.from({ length: NODES }, (_, i) => nodeName(i));

progress('listing every node');
const heapBefore = heap();
let t0 = cpuMs();
const after = nodes.map((n) => {
  const l = views.list(n);
  return { objects: l.items.length, bytes: JSON.stringify(l.items).length };
});
const firstLists = cpuMs() - t0;
const viewsHeap = heap() - heapBefore;
progress('sizing the unfiltered views (a sample of nodes)');
const sample = nodes.filter((_, i) => i % Math.max(1, Math.floor(NODES / 10)) === 0);
const before = sample.map((n) => {
  let objects = 0;
  let bytes = 2;
  for (const it of items.values()) {
    const v = nodeViewObject(it.info, served(it.body, 1), n);
    if (v === undefined || it.info.type === 'ConnectivityInvariant') continue;
    objects++;
    bytes += JSON.stringify(v).length + 1;
  }
  return { objects, bytes };
});

const stat = (xs: readonly number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)]!;
  return `median ${med.toLocaleString('en-US', { maximumFractionDigits: 1 })}, min ${s[0]!.toLocaleString('en-US', { maximumFractionDigits: 1 })}, max ${s[s.length - 1]!.toLocaleString('en-US', { maximumFractionDigits: 1 })}`;
};
const rows: [string, string][] = [];
const report = (a: string, b: string): void => void rows.push([a, b]);
const c0 = snap();
report('cluster', `${c0.endpoints.length.toLocaleString('en-US')} endpoints, ${c0.policies.length.toLocaleString('en-US')} policies, ${c0.namespaces.length.toLocaleString('en-US')} namespaces, ${[...items.values()].filter((i) => i.info.type === 'ServiceAccount').length.toLocaleString('en-US')} service accounts, ${c0.networkSets.length} network sets; ${NODES} nodes`);
report('list per node, before: objects', stat(before.map((b) => b.objects)));
report('list per node, before: MiB', stat(before.map((b) => b.bytes / 2 ** 20)));
report('list per node, after: objects', stat(after.map((b) => b.objects)));
report('list per node, after: MiB', stat(after.map((b) => b.bytes / 2 ** 20)));
const nsSa = [...items.values()].filter((i) => i.info.type === 'Namespace' || i.info.type === 'ServiceAccount');
report('  of which namespaces + service accounts (in every view)', `${nsSa.length.toLocaleString('en-US')} objects, ${(JSON.stringify(nsSa.map((i) => i.body)).length / 2 ** 20).toFixed(2)} MiB`);
report('first list of every node (views computed)', `${firstLists.toFixed(0)} ms CPU for ${NODES} nodes`);
report('server heap for keeping every node\'s view', `${(viewsHeap / 2 ** 20).toFixed(0)} MiB (${((viewsHeap / NODES) / 2 ** 20).toFixed(2)} MiB a node)`);

// ---- writes
const pods = [...items.values()].filter((i) => i.info.type === 'Pod');
const policies = [...items.values()].filter((i) => ['GlobalNetworkPolicy', 'NetworkPolicy', 'KubernetesNetworkPolicy'].includes(i.info.type));
const namespaces = [...items.values()].filter((i) => i.info.type === 'Namespace');
const labelsOf = (b: Obj): Record<string, string> => ((b['metadata'] as Obj)['labels'] as Record<string, string> | undefined) ?? {};
const withMeta = (b: Obj, patch: Obj): Obj => ({ ...b, metadata: { ...(b['metadata'] as Obj), ...patch } });
interface Case {
  readonly name: string;
  make(): { key: string; body: Obj | undefined }[];
  /** Nodes the unfiltered view sent an event to. */
  before(changes: readonly { key: string; body: Obj | undefined }[], prev: readonly (Obj | undefined)[]): number;
}
const peerChanged = (info: ResourceInfo, a: Obj | undefined, b: Obj | undefined, node: string): boolean => {
  if (a === undefined || b === undefined) return true;
  const strip = (o: Obj | undefined): string => {
    if (o === undefined) return '';
    const m = { ...(o['metadata'] as Obj) };
    delete m['resourceVersion'];
    return JSON.stringify({ ...o, metadata: m });
  };
  return strip(nodeViewObject(info, a, node)) !== strip(nodeViewObject(info, b, node));
};
const everyNodeWhoseFormChanged: Case['before'] = (changes, prev) => {
  let n = 0;
  for (const node of nodes) if (changes.some((c, i) => peerChanged(items.get(c.key)?.info ?? policies[0]!.info, prev[i], c.body, node))) n++;
  return n;
};
let serial = 0;
const cases: Case[] = [
  {
    name: 'a pod takes another pod\'s app label',
    make: () => {
      const p = rng.pick(pods);
      const like = rng.pick(pods);
      return [{ key: p.key, body: withMeta(p.body, { labels: { ...labelsOf(p.body), app: labelsOf(like.body)['app'] ?? 'other' } }) }];
    },
    before: everyNodeWhoseFormChanged,
  },
  {
    name: 'a pod\'s annotation changes (no peer field)',
    make: () => {
      const p = rng.pick(pods);
      return [{ key: p.key, body: withMeta(p.body, { annotations: { 'bench/serial': String(++serial) } }) }];
    },
    before: everyNodeWhoseFormChanged,
  },
  {
    name: 'a new pod (a copy of another, new name and address)',
    make: () => {
      const p = rng.pick(pods);
      const name = `bench-${++serial}`;
      const info = p.info;
      const meta = p.body['metadata'] as { namespace: string };
      const key = objectKey(info, meta.namespace, name);
      const body = { ...withMeta(p.body, { name }), spec: { ...(p.body['spec'] as Obj), nodeName: rng.pick(nodes) }, status: { podIP: `100.64.${serial >> 8}.${serial & 255}` } };
      items.set(key, { key, info, body: {} });
      return [{ key, body }];
    },
    before: () => NODES,
  },
  {
    name: 'a policy\'s order changes',
    make: () => {
      const p = rng.pick(policies);
      const spec = (p.body['spec'] ?? {}) as Obj;
      return [{ key: p.key, body: p.info.type === 'KubernetesNetworkPolicy' ? withMeta(p.body, { annotations: { 'bench/serial': String(++serial) } }) : { ...p.body, spec: { ...spec, order: rng.int(1, 1000) } } }];
    },
    before: () => NODES,
  },
  {
    name: 'a namespace\'s labels change',
    make: () => {
      const ns = rng.pick(namespaces);
      return [{ key: ns.key, body: withMeta(ns.body, { labels: { ...labelsOf(ns.body), 'bench/serial': String(++serial) } }) }];
    },
    before: () => NODES,
  },
];

for (const c of cases) {
  const eventsBefore: number[] = [];
  const eventsAfter: number[] = [];
  const nodesAfter: number[] = [];
  const engineMs: number[] = [];
  const viewMs: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    const changes = c.make();
    const prev = changes.map((ch) => {
      const it = items.get(ch.key);
      return it === undefined || Object.keys(it.body).length === 0 ? undefined : it.body;
    });
    const counts = new Map<string, number>();
    const subs = nodes.map((n) => views.watch(n, views.revision(), (es) => void counts.set(n, (counts.get(n) ?? 0) + es.length))!);
    write(changes);
    for (const s of subs) s.close();
    eventsBefore.push(c.before(changes, prev));
    eventsAfter.push([...counts.values()].reduce((a, b) => a + b, 0));
    nodesAfter.push([...counts.values()].filter((x) => x > 0).length);
    engineMs.push(cost.engine);
    viewMs.push(cost.views);
  }
  report(`${c.name}: events over all ${NODES} nodes, before`, stat(eventsBefore));
  report(`${c.name}: events over all ${NODES} nodes, after`, `${stat(eventsAfter)} (nodes reached: ${stat(nodesAfter)})`);
  report(`${c.name}: server CPU ms, engine apply`, stat(engineMs));
  report(`${c.name}: server CPU ms, keeping ${NODES} views`, stat(viewMs));
}
const st = views.stats();
report('views', `${st.recomputes.toLocaleString('en-US')} node recomputations, ${st.fastChecks.toLocaleString('en-US')} fast endpoint checks, ${st.events.toLocaleString('en-US')} events`);

// ---- check: the agent's compile from the view equals the full one
const full = snap();
for (const n of nodes.slice(0, Number(args['check-nodes']))) {
  progress(`checking ${n}`);
  const store = createPolicyStore();
  const changes: StoreChange[] = [];
  for (const o of views.list(n).items) {
    const r = validateDocument(o, syntheticOrigin('view'));
    if (r.ok && r.value !== undefined) changes.push({ op: 'upsert', resource: r.value });
  }
  store.apply(changes, { onError: 'keep' });
  const ruleset = (c: Cluster): string => {
    const { endpoints, interfaces } = nodeEndpoints(c, n);
    const r = compileNode(c, endpoints, { interfaces });
    return r.ok ? renderNft(r.value) : `error ${r.diagnostics.map((d) => d.message).join('; ')}`;
  };
  const want = ruleset(full);
  const got = ruleset(store.snapshot());
  report(`check ${n}: compile from the view = compile from the full state`, got === want ? `yes (${want.split('\n').length.toLocaleString('en-US')} lines of nft)` : 'NO — MISMATCH');
  void resourceKey;
}

const w = Math.max(...rows.map(([a]) => a.length));
process.stdout.write(`node views, ${PODS.toLocaleString('en-US')} pods over ${NODES} nodes (seed ${args.seed}), ${WRITES} writes per kind; node ${process.version}\n`);
for (const [a, b] of rows) process.stdout.write(`${a.padEnd(w)}  ${b}\n`);
