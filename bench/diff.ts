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
//                      [--no-admission] [--no-reference]
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
    /** Skip the admission section (with 50 invariants and the exhaustive-diff reference). */
    'no-admission': { type: 'boolean', default: false },
    /** In the admission section, skip the exhaustive-diff reference (minutes per write at 100k). */
    'no-reference': { type: 'boolean', default: false },
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
const cpuTimes: number[] = [];
let summary = '';
for (let i = 0; i < runs; i++) {
  t = performance.now();
  const c0 = process.threadCpuUsage();
  const r = diffClusters(before, after);
  const lines = diffLines(r);
  times.push(performance.now() - t);
  const c = process.threadCpuUsage(c0);
  cpuTimes.push((c.user + c.system) / 1000);
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
    `| **diff (median of ${runs})** | **${ms(median)}** (${times.map(ms).join(', ')}); CPU ${ms([...cpuTimes].sort((a, b) => a - b)[Math.floor(cpuTimes.length / 2)]!)}; target < 2 s |`,
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
const overlayCpu: number[] = [];
const rebuild: number[] = [];
for (let i = 0; i < runs; i++) {
  // What POST /apis/strata/v1/diff computes: the after-state as an overlay of the live store, and the diff.
  t = performance.now();
  const c0 = process.threadCpuUsage();
  const p = engine.preview([{ key: keyOf(changedResource), resource: changedResource }]);
  if (!p.ok) fail('the change does not validate on the live store');
  diffLines(p.diff);
  overlay.push(performance.now() - t);
  const c = process.threadCpuUsage(c0);
  overlayCpu.push((c.user + c.system) / 1000);
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
    `| server: preview = overlay of the live store + diff (median) | **${ms(med(overlay))}** (CPU ${ms(med(overlayCpu))}), against ${ms(med(rebuild))} to rebuild the after-state and diff (${(med(rebuild) / Math.max(med(overlay), 0.001)).toFixed(1)}×) |`,
    `| server: validate one write, no invariants / one invariant (the first validation: classifies the live store) | ${ms(plainMs)} / ${ms(invMs)}${v.ok ? '' : ' (refused)'} |`,
    '',
  ].join('\n'),
);

// ---- admission by the write's delta (analysis/admission.ts), with 1 and 50 invariants
//
// Writes of three kinds, several of each, on tenant namespaces spread over the cluster: a Calico
// NetworkPolicy's rule actions flipped, a pod relabelled (its app label), a NetworkPolicy added
// (an ingress allow from another tenant's namespaces on 5432, which tenant isolation invariants
// forbid). Each write is validated (timed: CPU time of this thread, and wall time), then committed
// and taken back, so every validation meets a live store that has just moved on — as a server
// validating write after write does. The 50 invariants: tenant-to-tenant must-deny (some on
// ports), tenants must reach kube-dns on UDP 53, prod must not reach dev on 5432, nothing
// reaches two documentation ranges, non-PCI namespaces must not reach PCI ones on 5432.
if (!args['no-admission']) {
  const cpuOf = (f: () => unknown): { cpu: number; wall: number; value: unknown } => {
    const c0 = process.threadCpuUsage();
    const w0 = performance.now();
    const value = f();
    const c = process.threadCpuUsage(c0);
    return { cpu: (c.user + c.system) / 1000, wall: performance.now() - w0, value };
  };
  const res = loaded.resources;
  const tenantsOf = [...new Set(res.filter((r) => r.type === 'Namespace').flatMap((r) => ((r.body as { metadata: { labels?: Record<string, string> } }).metadata.labels?.tenant ?? []) as string[]))].sort();
  const invariantDoc = (name: string, spec: Record<string, unknown>): Resource => {
    const v = validateDocument({ apiVersion: 'strata/v1', kind: 'ConnectivityInvariant', metadata: { name }, spec }, syntheticOrigin('bench'));
    if (!v.ok || v.value === undefined) fail(`invariant ${name} does not validate`);
    return v.value;
  };
  const fifty: Resource[] = [];
  for (let i = 0; fifty.length < 36; i++) {
    const a = tenantsOf[i % tenantsOf.length]!;
    const b = tenantsOf[(i * 7 + 3) % tenantsOf.length]!;
    if (a === b) continue;
    const ports = i % 3 === 0 ? { ports: ['5432'] } : i % 3 === 1 ? { ports: ['1-1024'] } : {};
    fifty.push(invariantDoc(`tenant-${a}-never-${b}-${i}`, { from: { namespaceSelector: `tenant == '${a}'` }, to: { namespaceSelector: `tenant == '${b}'` }, ...ports, must: 'deny' }));
  }
  for (let i = 0; i < 6; i++) {
    const t = tenantsOf[(i * 11) % tenantsOf.length]!;
    fifty.push(invariantDoc(`tenant-${t}-reaches-dns`, { from: { namespaceSelector: `tenant == '${t}'` }, to: { namespaceSelector: "projectcalico.org/name == 'kube-system'", selector: "k8s-app == 'kube-dns'" }, ports: ['53'], protocols: ['UDP'], must: 'allow', admission: 'warn' }));
  }
  for (const [i, p] of ['5432', '3306', '6379', '27017'].entries()) fifty.push(invariantDoc(`prod-never-dev-${i}`, { from: { namespaceSelector: "env == 'prod'" }, to: { namespaceSelector: "env == 'dev'" }, ports: [p], must: 'deny' }));
  fifty.push(invariantDoc('no-doc-net-2', { from: { namespaceSelector: 'all()' }, to: { nets: ['198.51.100.0/24'] }, must: 'deny' }));
  fifty.push(invariantDoc('no-pci-from-others', { from: { namespaceSelector: '!has(compliance)' }, to: { namespaceSelector: "compliance == 'pci'" }, ports: ['5432'], must: 'deny' }));
  fifty.push(invariantDoc('no-pci-db-from-dev', { from: { namespaceSelector: "env == 'dev'" }, to: { namespaceSelector: "compliance == 'pci'" }, protocols: ['TCP'], must: 'deny' }));
  if (fifty.length !== 49) fail(`expected 49 more invariants, made ${fifty.length}`);

  // The writes.
  type Write = { kind: string; change: { key: string; resource: Resource | undefined }[]; back: { key: string; resource: Resource | undefined }[] };
  const writes: Write[] = [];
  const tenantPolicies = res.filter((r) => r.type === 'NetworkPolicy' && /^t\d/.test(r.namespace ?? '') && JSON.stringify(r.body.spec).includes('"action":"Allow"'));
  const tenantPods = res.filter((r) => r.type === 'Pod' && /^t\d/.test(r.namespace ?? ''));
  const picks = 5;
  for (let i = 0; i < picks; i++) {
    const r = tenantPolicies[Math.floor((i * tenantPolicies.length) / picks)]! as Extract<Resource, { type: 'NetworkPolicy' }>;
    const spec = structuredClone(r.body.spec) as { ingress?: { action: string }[]; egress?: { action: string }[] };
    for (const rule of [...(spec.ingress ?? []), ...(spec.egress ?? [])]) rule.action = rule.action === 'Allow' ? 'Deny' : rule.action === 'Deny' ? 'Allow' : rule.action;
    writes.push({ kind: 'policy changed', change: [{ key: keyOf(r), resource: { ...r, body: { ...r.body, spec: spec as typeof r.body.spec } } }], back: [{ key: keyOf(r), resource: r }] });
  }
  for (let i = 0; i < picks; i++) {
    const p = tenantPods[Math.floor((i * tenantPods.length) / picks) + 1]!;
    const meta = (p.body as { metadata: { labels?: Record<string, string> } }).metadata;
    const q = { ...p, body: { ...p.body, metadata: { ...meta, labels: { ...(meta.labels ?? {}), app: `${meta.labels?.app ?? 'x'}-relabelled` } } } } as Resource;
    writes.push({ kind: 'pod relabelled', change: [{ key: keyOf(p), resource: q }], back: [{ key: keyOf(p), resource: p }] });
  }
  for (let i = 0; i < picks; i++) {
    const ns = tenantPods[Math.floor((i * tenantPods.length) / picks)]!.namespace!;
    const other = tenantsOf[(i * 13 + 5) % tenantsOf.length]!;
    const v = validateDocument(
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: `bench-open-${i}`, namespace: ns },
        spec: { tier: 'application', order: 1, selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', source: { namespaceSelector: `tenant == '${other}'` }, destination: { ports: [5432] } }] },
      },
      syntheticOrigin('bench'),
    );
    if (!v.ok || v.value === undefined) fail('the added policy does not validate');
    writes.push({ kind: 'policy added', change: [{ key: `/bench/added/${i}`, resource: v.value }], back: [{ key: `/bench/added/${i}`, resource: undefined }] });
  }

  const kinds = [...new Set(writes.map((w) => w.kind))];
  const measure = (e: ReturnType<typeof createEngineState>, only?: string): Map<string, { cpu: number[]; wall: number[]; refused: number }> => {
    const out = new Map<string, { cpu: number[]; wall: number[]; refused: number }>();
    for (const w of writes) {
      if (only !== undefined && w.kind !== only) continue;
      const t = cpuOf(() => e.validateChanges(w.change));
      let m = out.get(w.kind);
      if (m === undefined) out.set(w.kind, (m = { cpu: [], wall: [], refused: 0 }));
      m.cpu.push(t.cpu);
      m.wall.push(t.wall);
      if (!(t.value as { ok: boolean }).ok) m.refused++;
      e.apply(w.change);
      e.apply(w.back);
    }
    return out;
  };
  const row = (label: string, m: Map<string, { cpu: number[]; wall: number[]; refused: number }>): string =>
    `| ${label} | ${kinds
      .map((k) => {
        const x = m.get(k);
        return x === undefined ? '—' : `**${ms(med(x.cpu))}** CPU, ${ms(med(x.wall))} wall${x.refused > 0 ? ` (${x.refused}/${x.cpu.length} refused)` : ''}`;
      })
      .join(' | ')} |`;
  const one = measure(engine);
  engine.apply(fifty.map((r) => ({ key: `/bench/inv/${r.name}`, resource: r })));
  const fiftyM = measure(engine);
  const lines = [
    '',
    `| admission (median of ${picks} writes each; CPU time of the thread) | ${kinds.join(' | ')} |`,
    `|---|${kinds.map(() => '---:').join('|')}|`,
    row('1 invariant, by the write delta', one),
    row('50 invariants, by the write delta', fiftyM),
  ];
  // The reference (the exhaustive diff per write), on a second live store: policy writes only — a
  // relabel takes minutes there (every class's runs differ once any endpoint's labels do).
  if (args['no-reference']) {
    process.stdout.write(`${lines.join('\n')}\n`);
    process.exit(0);
  }
  const reference = createEngineState({ admission: 'diff' });
  reference.apply(loaded.resources.map((r) => ({ key: keyOf(r), resource: r })));
  reference.apply([{ key: '/bench/invariant', resource: inv.value! }, ...fifty.map((r) => ({ key: `/bench/inv/${r.name}`, resource: r }))]);
  const refM = measure(reference, 'policy changed');
  for (const [k, v] of measure(reference, 'policy added')) refM.set(k, v);
  lines.push(row('50 invariants, by the exhaustive diff (reference)', refM));
  process.stdout.write(`${lines.join('\n')}\n`);
}
