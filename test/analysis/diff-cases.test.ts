// `diff` on cases written by hand: a change that sits only on an odd port range, only on a /32
// inside a network set, only on a domain name, only in the pending view; endpoints on one side
// only; and the command's contract (JSON Lines, --group, text, md, exit codes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadText } from '../../src/load/index.ts';
import { buildCluster } from '../../src/engine/index.ts';
import type { Cluster } from '../../src/engine/index.ts';
import { diffClusters, diffLines, diffStaged, peerLines } from '../../src/analysis/diff.ts';
import type { DiffJsonLine } from '../../src/analysis/diff.ts';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';

const PODS = `apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}
status: {podIP: 10.0.0.2}
`;

function dbPolicy(ports: string): string {
  return `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [${ports}]
`;
}

function partners(extraRule: string): string {
  return `---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners, labels: {role: partner}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: web-egress}
spec:
  selector: app == 'web'
  types: [Egress]
  egress:
${extraRule}    - action: Allow
      protocol: TCP
      destination: {selector: role == 'partner', ports: [443]}
`;
}

function cluster(text: string, name = 'x.yaml'): Cluster {
  const loaded = loadText(text, name);
  assert.deepEqual(loaded.diagnostics.filter((d) => d.severity === 'error'), []);
  const built = buildCluster(loaded.resources);
  assert.deepEqual(built.diagnostics.filter((d) => d.severity === 'error'), []);
  return built.cluster;
}

/** The lines without the deciding steps' source spans, for exact comparison. */
function brief(lines: readonly DiffJsonLine[]): unknown[] {
  return lines.map((l) => ({ change: l.change, from: l.from, to: l.to, ports: l.ports, protocol: l.protocol, before: l.before, after: l.after, by: l.decidedBy.after.policy }));
}

const cases: { name: string; before: string; after: string; expected: unknown[] }[] = [
  {
    name: 'a change only on the odd range 1000-1003 is reported as exactly that range',
    before: PODS + dbPolicy('{port: 5432}'),
    after: PODS + dbPolicy('{port: 5432}, {port: 1000, endPort: 1003}'),
    expected: [
      { change: 'opened', from: 'prod/web', to: 'prod/db', ports: '1000-1003', protocol: 'TCP', before: 'deny', after: 'allow', by: 'db-from-web' },
      { change: 'opened', from: 'prod/web-2', to: 'prod/db', ports: '1000-1003', protocol: 'TCP', before: 'deny', after: 'allow', by: 'db-from-web' },
    ],
  },
  {
    name: 'a /32 denied inside an allowed network set is reported as that /32 only',
    before: PODS + partners(''),
    after: PODS + partners('    - action: Deny\n      destination: {nets: [203.0.113.7/32]}\n'),
    expected: [
      { change: 'closed', from: 'prod/web', to: '203.0.113.7/32', ports: '443', protocol: 'TCP', before: 'allow', after: 'deny', by: 'web-egress' },
      { change: 'closed', from: 'prod/web-2', to: '203.0.113.7/32', ports: '443', protocol: 'TCP', before: 'allow', after: 'deny', by: 'web-egress' },
    ],
  },
  {
    name: 'a domain a rule names is a destination of its own',
    before: PODS + partners(''),
    after: PODS + partners('    - action: Allow\n      protocol: TCP\n      destination: {domains: [api.example.com], ports: [443]}\n'),
    expected: [
      { change: 'opened', from: 'prod/web', to: 'api.example.com', ports: '443', protocol: 'TCP', before: 'deny', after: 'allow', by: 'web-egress' },
      { change: 'opened', from: 'prod/web-2', to: 'api.example.com', ports: '443', protocol: 'TCP', before: 'deny', after: 'allow', by: 'web-egress' },
    ],
  },
];

for (const c of cases) {
  test(c.name, () => {
    const r = diffClusters(cluster(c.before), cluster(c.after), { reattributed: false });
    assert.deepEqual(brief(diffLines(r)), c.expected);
  });
}

test('--group folds a class into one line with its members', () => {
  const r = diffClusters(cluster(PODS + dbPolicy('{port: 5432}')), cluster(PODS + dbPolicy('{port: 5432}, {port: 1000, endPort: 1003}')), { reattributed: false });
  const lines = diffLines(r, true);
  assert.deepEqual(brief(lines), [{ change: 'opened', from: { members: ['prod/web', 'prod/web-2'] }, to: { members: ['prod/db'] }, ports: '1000-1003', protocol: 'TCP', before: 'deny', after: 'allow', by: 'db-from-web' }]);
});

const STAGED_DENY = `---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: lock-db}
spec:
  order: 1
  selector: app == 'db'
  types: [Ingress]
  ingress:
    - action: Deny
      protocol: TCP
      destination: {ports: [5432]}
`;

test('--staged: what enforcing the staged policies would change (enforced vs pending view)', () => {
  const r = diffStaged(cluster(PODS + dbPolicy('{port: 5432}') + STAGED_DENY), { reattributed: false });
  assert.deepEqual(brief(diffLines(r)), [
    { change: 'closed', from: 'prod/web', to: 'prod/db', ports: '5432', protocol: 'TCP', before: 'allow', after: 'deny', by: 'lock-db' },
    { change: 'closed', from: 'prod/web-2', to: 'prod/db', ports: '5432', protocol: 'TCP', before: 'allow', after: 'deny', by: 'lock-db' },
  ]);
});

test('a change only in the pending view is reported with pendingBefore/pendingAfter', () => {
  const r = diffClusters(cluster(PODS + dbPolicy('{port: 5432}')), cluster(PODS + dbPolicy('{port: 5432}') + STAGED_DENY), { reattributed: false });
  const lines = diffLines(r);
  assert.equal(lines.length, 2);
  for (const l of lines) {
    assert.equal(l.change, 'pending');
    assert.deepEqual([l.before, l.after, l.pendingBefore, l.pendingAfter], ['allow', 'allow', 'allow', 'deny']);
    assert.equal(l.pendingDecidedBy?.after.policy, 'lock-db');
  }
});

test('endpoints on one side only are listed as added or removed peers, their flows not compared', () => {
  const r = diffClusters(cluster(PODS), cluster(PODS.replace(/---\napiVersion: v1\nkind: Pod\nmetadata: \{name: web-2[^]*?status: \{podIP: 10.0.0.3\}\n/, '')));
  assert.deepEqual(peerLines(r), [{ peer: 'prod/web-2', change: 'removed' }]);
  assert.deepEqual(diffLines(r), []);
});

test('a state against itself has no change at all', () => {
  const c = cluster(PODS + partners('') + dbPolicy('{port: 5432}'));
  const r = diffClusters(c, c);
  assert.deepEqual([diffLines(r), peerLines(r)], [[], []]);
});

// ---- the command

const dir = mkdtempSync(join(tmpdir(), 'strata-diff-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

const before = file('before.yaml', PODS + dbPolicy('{port: 5432}'));
const after = file('after.yaml', PODS + dbPolicy('{port: 5432}, {port: 1000, endPort: 1003}'));

test('strata diff -o json prints JSON Lines in the documented shape; --fail-on-change exits 1', async () => {
  const r = await run(['diff', '--before', before, '--after', after, '-o', 'json', '--fail-on-change']);
  assert.equal(r.code, 1, r.err);
  const lines = r.out.split('\n').map((l) => JSON.parse(l) as DiffJsonLine);
  assert.equal(lines.length, 2);
  const l = lines[0]!;
  assert.deepEqual(Object.keys(l), ['from', 'to', 'ports', 'protocol', 'before', 'after', 'change', 'decidedBy']);
  assert.deepEqual([l.from, l.to, l.ports, l.protocol, l.before, l.after], ['prod/web', 'prod/db', '1000-1003', 'TCP', 'deny', 'allow']);
  assert.deepEqual(Object.keys(l.decidedBy), ['before', 'after']);
  assert.equal(l.decidedBy.before.reason, 'end-of-tier');
  assert.deepEqual([l.decidedBy.after.policy, l.decidedBy.after.kind, l.decidedBy.after.rule, l.decidedBy.after.action, l.decidedBy.after.direction], ['db-from-web', 'KubernetesNetworkPolicy', 0, 'allow', 'ingress']);
  assert.match(l.decidedBy.after.source ?? '', /after\.yaml:\d+:\d+$/);
});

test('strata diff without --fail-on-change exits 0; no change prints nothing in JSON', async () => {
  assert.equal((await run(['diff', '--before', before, '--after', after, '-o', 'json'])).code, 0);
  assert.deepEqual(await run(['diff', '--before', before, '--after', before, '-o', 'json', '--fail-on-change']), { code: 0, out: '', err: '' });
});

test('strata diff text and md group the changes with counts', async () => {
  const text = await run(['diff', '--before', before, '--after', after]);
  assert.equal(text.code, 0);
  assert.match(text.out, /^2 changed flows: 2 opened \(deny → allow\), 0 closed \(allow → deny\)/);
  assert.match(text.out, /from prod\/web \(1\):\n {4}→ prod\/db {2}TCP 1000-1003: deny by ingress default\/prod\/db-from-web end of tier ⇒ allow by ingress default\/prod\/db-from-web rule 0/);
  const md = await run(['diff', '--before', before, '--after', after, '-o', 'md']);
  assert.match(md.out, /\| prod\/web \| prod\/db \| TCP 1000-1003 \| deny/);
});

test('strata diff: bad input exits 2, bad flags are usage errors', async () => {
  const bad = file('bad.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: 3}\n');
  const r = await run(['diff', '--before', before, '--after', bad]);
  assert.equal(r.code, 2);
  assert.match(r.err, /bad\.yaml:4:/);
  assert.equal((await run(['diff', '--before', before])).code, 2);
  assert.equal((await run(['diff', '--staged', '--before', before, '--after', after])).code, 2);
  assert.equal((await run(['diff', '--before', before, '--after', after, '-o', 'csv'])).code, 2);
});

test('strata diff --staged -f PATH', async () => {
  const staged = file('staged.yaml', PODS + dbPolicy('{port: 5432}') + STAGED_DENY);
  const r = await run(['diff', '--staged', '-f', staged, '-o', 'json', '--fail-on-change']);
  assert.equal(r.code, 1);
  const lines = r.out.split('\n').map((l) => JSON.parse(l) as DiffJsonLine);
  assert.deepEqual(lines.filter((l) => l.change !== 'reattributed').map((l) => `${String(l.from)} ${l.change}`), ['prod/web closed', 'prod/web-2 closed']);
  // Still denied, but by the staged policy's rule instead of the end of the tier: a reattribution.
  assert.ok(lines.filter((l) => l.change === 'reattributed').every((l) => l.before === 'deny' && l.decidedBy.after.policy === 'lock-db'));
});
