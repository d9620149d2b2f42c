import { readFileSync } from 'node:fs';
import { loadText } from './src/load/index.ts';
import { buildCluster, evaluateFlow } from './src/engine/index.ts';
import { SpaceEvaluator, buildFlowSpace, enforcedView } from './src/analysis/flow-space.ts';
const c = buildCluster(loadText(readFileSync('/tmp/s203-before.yaml', 'utf8'), 'b.yaml').resources).cluster;
const a = buildCluster(loadText(readFileSync('/tmp/s203-after.yaml', 'utf8'), 'a.yaml').resources).cluster;
for (const [label, clusters] of [['single', [c]], ['pair', [c, a]]] as const) {
const sp = buildFlowSpace(clusters as any);
const ev = new SpaceEvaluator(sp, [enforcedView(c)]);
let bad = 0;
for (let s = 0; s < sp.atoms.length; s++) for (let d = 0; d < sp.atoms.length; d++) for (let q = 0; q < sp.services.length; q++) {
  const v = ev.verdict(0, s, d, q); if (v === undefined) continue;
  if (s === d && sp.atoms[s]!.kind === 'class' && sp.classes[(sp.atoms[s] as any).index].members.length < 2) continue;
  const f = ev.family(0, s, d)!; const fl = ev.flow(0, s, d, q, f);
  const e = evaluateFlow(c, fl).verdict === 'allow';
  if (e !== v) { if (bad++ < 5) console.log(label, 'mismatch', s, d, JSON.stringify(sp.services[q]), v, e, JSON.stringify(sp.atoms[s]), JSON.stringify(sp.atoms[d], (k, x) => typeof x === 'bigint' ? String(x) : x)); }
}
console.log(label, 'bad', bad);
}
