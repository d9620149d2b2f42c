// `node bench/diff.ts`: the exhaustive diff of one policy change on the benchmark's generated
// cluster (bench/generate.ts; default 10,000 pods / 1,000 namespaces / 2,000 policies). The change:
// in the first tenant namespace's first Calico NetworkPolicy, every Allow becomes a Deny. Loading
// and building both states is timed apart from the diff itself (target < 2 s). Then the same
// change the way `strata server` previews it (POST /apis/strata/v1/diff): the after-state as an
// overlay of the live store (engine-state.ts `preview`) against a rebuild from scratch, and the
// admission check of one write with a ConnectivityInvariant stored. Numbers are reported, never
// asserted.
//
//   node bench/diff.ts [--quick] [--seed N] [--pods N] [--namespaces N] [--policies N] [--runs N]
import { parseArgs } from 'node:util';
import { diffClusters, diffLines } from '../src/analysis/diff.ts';
import { buildCluster } from '../src/engine/index.ts';
import type { Cluster } from '../src/engine/index.ts';
import type { Resource } from '../src/model/index.ts';
import { loadText } from '../src/load/index.ts';
import { generateCluster } from './generate.ts';
import { createEngineState } from '../src/server/engine-state.ts';
import { syntheticOrigin, validateDocument } from '../src/model/index.ts';

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

/**
 * The one change: in the first tenant namespace's Calico NetworkPolicy with an Allow rule, every
 * Allow becomes a Deny. Made on the loaded resources (same origins), so the text is loaded once.
 */
function changeOnePolicy(resources: readonly Resource[]): { resources: Resource[]; policy: string } {
  const i = resources.findIndex((r) => r.type === 'NetworkPolicy' && /^t\d/.test(r.namespace ?? '') && JSON.stringify(r.body.spec).includes('"action":"Allow"'));
  if (i < 0) fail('the generated cluster has no tenant Calico NetworkPolicy with an Allow rule');
  const r = resources[i]! as Extract<Resource, { type: 'NetworkPolicy' }>;
  const spec = structuredClone(r.body.spec) as { ingress?: { action: string }[]; egress?: { action: string }[] };
  for (const rule of [...(spec.ingress ?? []), ...(spec.egress ?? [])]) if (rule.action === 'Allow') rule.action = 'Deny';
  const out = [...resources];
  out[i] = { ...r, body: { ...r.body, spec: spec as typeof r.body.spec } };
  return { resources: out, policy: `${r.namespace}/${r.name}` };
}

function build(resources: readonly Resource[], name: string): Cluster {
  const built = buildCluster(resources);
  if (built.diagnostics.some((d) => d.severity === 'error')) fail(`${name} does not build`);
  return built.cluster;
}

const ms = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`);

const generated = generateCluster({ pods, namespaces, policies, seed: Number(args.seed) });
let t = performance.now();
const loaded = loadText(generated.text, 'generated.yaml');
if (loaded.diagnostics.some((d) => d.severity === 'error')) fail('the generated cluster does not load');
const changed = changeOnePolicy(loaded.resources);
const before = build(loaded.resources, 'before');
const after = build(changed.resources, 'after');
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
    `| change | every Allow → Deny in NetworkPolicy ${changed.policy} |`,
    `| load once, build both states | ${ms(loadMs)} |`,
    `| **diff (median of ${runs})** | **${ms(median)}** (${times.map(ms).join(', ')}); target < 2 s |`,
    `| what it covered | ${summary} |`,
    '',
  ].join('\n'),
);

// ---- the server's path: one live store, the change as an overlay
const engine = createEngineState();
const keyOf = (r: Resource): string => `/bench/${r.type}/${r.namespace ?? ''}/${r.name}`;
t = performance.now();
engine.apply(loaded.resources.map((r) => ({ key: keyOf(r), resource: r })));
const liveMs = performance.now() - t;
const changedResource = changed.resources.find((r, i) => r !== loaded.resources[i])!;
const overlay: number[] = [];
const rebuild: number[] = [];
for (let i = 0; i < runs; i++) {
  // What POST /apis/strata/v1/diff computes: the after-state as an overlay of the live store, and the diff.
  t = performance.now();
  const p = engine.preview([{ key: keyOf(changedResource), resource: changedResource }]);
  if (!p.ok) fail('the change does not validate on the live store');
  diffLines(p.diff);
  overlay.push(performance.now() - t);
  // The same without a live store: build the after-state from scratch, then diff.
  t = performance.now();
  diffLines(diffClusters(before, build(changed.resources, 'after')));
  rebuild.push(performance.now() - t);
}
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// One invariant over every endpoint (nothing may reach TEST-NET-1 on port 7): what a write costs
// with an invariant stored — the write's exhaustive diff on top of validation.
const inv = validateDocument(
  { apiVersion: 'strata/v1', kind: 'ConnectivityInvariant', metadata: { name: 'no-test-net' }, spec: { from: { namespaceSelector: 'all()' }, to: { nets: ['192.0.2.0/24'] }, ports: ['7'], must: 'deny' } },
  syntheticOrigin('bench'),
);
if (!inv.ok) fail('the bench invariant does not validate');
const change = [{ key: keyOf(changedResource), resource: changedResource }];
t = performance.now();
engine.validateChanges(change);
const plainMs = performance.now() - t;
engine.apply([{ key: '/bench/invariant', resource: inv.value! }]);
t = performance.now();
const v = engine.validateChanges(change);
const invMs = performance.now() - t;
process.stdout.write(
  [
    `| server: load the live store | ${ms(liveMs)} |`,
    `| server: preview = overlay of the live store + diff (median) | **${ms(med(overlay))}**, against ${ms(med(rebuild))} to rebuild the after-state and diff (${(med(rebuild) / Math.max(med(overlay), 0.001)).toFixed(1)}×) |`,
    `| server: validate one write, no invariants / one invariant | ${ms(plainMs)} / ${ms(invMs)}${v.ok ? '' : ' (refused)'} |`,
    '',
  ].join('\n'),
);
