// Temporary profiling harness (not committed): one pod label change + compileNode at N pods.
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { compileNode } from '../src/dataplane/index.ts';
import type { Cluster, Endpoint } from '../src/engine/index.ts';
import { createPolicyStore } from '../src/engine/store.ts';
import { nodeInterfaceOf } from '../src/lab/topology.ts';
import { loadText } from '../src/load/index.ts';
import { generateCluster, Rng } from './generate.ts';
const pods = Number(process.argv[2] ?? 30000);
const gen = generateCluster({ seed: 1, pods, namespaces: pods / 10, policies: pods / 5 } as never);
const t0 = performance.now();
const loaded = loadText(gen.text, 'gen.yaml');
console.error('load', performance.now() - t0);
const store = createPolicyStore();
store.apply(loaded.resources.map((resource) => ({ op: 'upsert' as const, resource })), { onError: 'keep' });
let snap: Cluster = store.snapshot();
for (const e of snap.endpoints) { snap.plan(e, 'ingress'); snap.plan(e, 'egress'); }
const interfaces = new Map(snap.endpoints.map((e) => [e.id, nodeInterfaceOf(e.id)]));
const nodeOf = (c: Cluster, n: string | undefined): Endpoint[] => (n === undefined ? [] : c.endpointsOnNode(n).filter((e) => e.kind === 'workload'));
const rng = new Rng(99);
const podsR = loaded.resources.filter((r) => r.type === 'Pod');
const pod = rng.pick(podsR);
const node = (pod.body as { spec?: { nodeName?: string } }).spec?.nodeName;
compileNode(snap, nodeOf(snap, node), { interfaces });
const variant = structuredClone(pod.body) as { metadata: { labels: Record<string, string> } };
variant.metadata.labels['bench'] = 'a';
const v = loadText(JSON.stringify(variant), 'v.json').resources[0]!;
const session = new Session(); session.connect();
await session.post('Profiler.enable'); await session.post('Profiler.start');
for (let i = 0; i < 4; i++) {
  const a = performance.now();
  store.apply([{ op: 'upsert', resource: i % 2 === 0 ? v : pod }]);
  snap = store.snapshot();
  const b = performance.now();
  const eps = nodeOf(snap, node);
  const r = compileNode(snap, eps, { interfaces });
  const c = performance.now();
  console.error(`change ${i}: snapshot ${(b - a).toFixed(1)} ms, compile ${(c - b).toFixed(1)} ms (${eps.length} eps, ok=${r.ok})`);
}
const { profile } = await session.post('Profiler.stop');
writeFileSync('/work/prof/label.cpuprofile', JSON.stringify(profile));
