// `node bench/diff.ts`: the exhaustive diff of one policy change on the benchmark's generated
// cluster (bench/generate.ts; default 10,000 pods / 1,000 namespaces / 2,000 policies). The change:
// in the first tenant namespace's first Calico NetworkPolicy, the first Allow becomes a Deny. Loading and building both states is
// timed apart from the diff itself (target < 2 s). Numbers are reported, never asserted.
//
//   node bench/diff.ts [--quick] [--seed N] [--pods N] [--namespaces N] [--policies N] [--runs N]
import { parseArgs } from 'node:util';
import { diffClusters, diffLines } from '../src/analysis/diff.ts';
import { buildCluster } from '../src/engine/index.ts';
import type { Cluster } from '../src/engine/index.ts';
import { loadText } from '../src/load/index.ts';
import { generateCluster } from './generate.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    pods: { type: 'string' },
    namespaces: { type: 'string' },
    policies: { type: 'string' },
    runs: { type: 'string', default: '3' },
  },
  strict: true,
});

const pods = Number(args.pods ?? (args.quick ? 600 : 10_000));
const namespaces = Number(args.namespaces ?? (args.quick ? 60 : 1_000));
const policies = Number(args.policies ?? (args.quick ? 120 : 2_000));
const runs = Math.max(1, Number(args.runs));

function fail(message: string): never {
  process.stderr.write(`bench/diff: ${message}\n`);
  process.exit(2);
}

function build(text: string, name: string): Cluster {
  const loaded = loadText(text, name);
  if (loaded.diagnostics.some((d) => d.severity === 'error')) fail(`${name} does not load`);
  const built = buildCluster(loaded.resources);
  if (built.diagnostics.some((d) => d.severity === 'error')) fail(`${name} does not build`);
  return built.cluster;
}

/** The one change: in the first tenant projectcalico.org/v3 NetworkPolicy, the first `action: Allow` becomes Deny. */
function changeOnePolicy(text: string): { text: string; policy: string } {
  const docs = text.split('\n---\n');
  const i = docs.findIndex((d) => d.includes('apiVersion: projectcalico.org/v3') && /\nkind: NetworkPolicy\n/.test(d) && /\n {2}namespace: t\d/.test(d) && d.includes('action: Allow'));
  if (i < 0) fail('the generated cluster has no Calico NetworkPolicy with an Allow rule');
  const doc = docs[i]!;
  docs[i] = doc.replace('action: Allow', 'action: Deny');
  const name = /\n {2}name: ([^\n]+)/.exec(doc)?.[1] ?? '?';
  const ns = /\n {2}namespace: ([^\n]+)/.exec(doc)?.[1] ?? '?';
  return { text: docs.join('\n---\n'), policy: `${ns}/${name}` };
}

const ms = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`);

const generated = generateCluster({ pods, namespaces, policies, seed: Number(args.seed) });
const changed = changeOnePolicy(generated.text);
let t = performance.now();
const before = build(generated.text, 'before.yaml');
const after = build(changed.text, 'after.yaml');
const loadMs = performance.now() - t;

const times: number[] = [];
let summary = '';
for (let i = 0; i < runs; i++) {
  t = performance.now();
  const r = diffClusters(before, after);
  const lines = diffLines(r);
  times.push(performance.now() - t);
  const count = (k: string): number => lines.filter((l) => l.change === k).length;
  summary =
    `${r.space.classes.length} classes, ${r.space.atoms.length - r.space.classes.length} external/domain atoms, ${r.space.services.length} service atoms; ` +
    `${r.stats.runs} pipeline runs, ${r.stats.candidates} candidates; ${count('opened')} opened, ${count('closed')} closed, ${count('reattributed')} reattributed lines`;
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;
process.stdout.write(
  [
    `| cluster | ${pods} pods, ${namespaces} namespaces, ${policies} policies (seed ${args.seed}) |`,
    `| change | first Allow → Deny in NetworkPolicy ${changed.policy} |`,
    `| load + build both states | ${ms(loadMs)} |`,
    `| **diff (median of ${runs})** | **${ms(median)}** (${times.map(ms).join(', ')}); target < 2 s |`,
    `| what it covered | ${summary} |`,
    '',
  ].join('\n'),
);
