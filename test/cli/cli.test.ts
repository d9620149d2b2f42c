// The `strata` command's contract (DESIGN.md "The strata command"): outputs, exit codes, and bad
// input reported as file:line:col with the field path and no stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';

async function run(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo(stdin);
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

const dir = mkdtempSync(join(tmpdir(), 'strata-cli-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const CLUSTER = `apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 5432}]
`;
const cluster = file('cluster.yaml', CLUSTER);

test('selector: canonical form without labels, match with labels, JSON shapes', async () => {
  assert.deepEqual(await run(['selector', "a == 'b'  &&has(c)"]), { code: 0, out: '(a == "b" && has(c))', err: '' });
  assert.equal((await run(['selector', 'has(c)', '--labels', 'c=,d=e'])).out, 'true');
  assert.equal((await run(['selector', 'x in {"a"}', '--labels-json', '{"x":"b"}'])).out, 'false');
  assert.deepEqual(JSON.parse((await run(['selector', 'has(c)', '--labels', 'c=1', '-o', 'json'])).out), { match: true, canonical: 'has(c)' });
  assert.deepEqual(JSON.parse((await run(['selector', '-o', 'json', '--', ''])).out), { canonical: 'all()', id: 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug' });
  assert.equal((await run(['selector', '--', '-a == "x"'])).out, '-a == "x"');
});

test('selector: a syntax error prints the column and exits 2', async () => {
  const r = await run(['selector', "a = 'b'"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /^<selector>:1:3: selector\//);
  assert.match(r.err, /\n1 \| a = 'b'\n {2}\| {3}\^/);
});

test('explain: one flow as JSON, exit 0 when allowed and 1 when denied', async () => {
  const ok = await run(['explain', '-f', cluster, '--from', 'prod/web', '--to', 'prod/db', '--port', '5432', '-o', 'json']);
  assert.equal(ok.code, 0);
  const e = JSON.parse(ok.out) as Record<string, unknown>;
  assert.equal(e['verdict'], 'allow');
  assert.deepEqual(
    { ...(e['decidedBy'] as object), source: undefined },
    { direction: 'ingress', tier: 'default', policy: 'db-from-web', namespace: 'prod', kind: 'KubernetesNetworkPolicy', rule: 0, action: 'allow', reason: 'rule', source: undefined },
  );
  assert.equal((e['egress'] as { verdict: string }).verdict, 'allow');
  const self = await run(['explain', '-f', cluster, '--from', 'prod/db', '--to', 'prod/db', '--port', '5432']);
  assert.equal(self.code, 0, 'loopback is allowed');
  const d = await run(['explain', '-f', cluster, '--from', '203.0.113.1', '--to', 'prod/db', '--port', '5432']);
  assert.equal(d.code, 1);
  assert.match(d.out, /DENIED/);
  assert.match(d.out, /egress: not evaluated \(source is not a cluster endpoint\)/);
});

test('explain names an AdminNetworkPolicy that decides, with its tier, kind and the rule in the manifest', async () => {
  const anp = file(
    'anp.yaml',
    `${CLUSTER}---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: guard-db}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}
  ingress:
    - name: no-web
      action: Deny
      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: prod}}}]
      ports: [{portNumber: {port: 5432}}]
`,
  );
  const r = await run(['explain', '-f', anp, '--from', 'prod/web', '--to', 'prod/db', '--port', '5432', '-o', 'json']);
  assert.equal(r.code, 1);
  const e = JSON.parse(r.out) as { verdict: string; decidedBy: Record<string, unknown> };
  assert.equal(e.verdict, 'deny');
  assert.deepEqual(
    { ...e.decidedBy, source: undefined },
    { direction: 'ingress', tier: 'kube-admin', policy: 'guard-db', kind: 'AdminNetworkPolicy', rule: 0, action: 'deny', reason: 'rule', source: undefined },
  );
  const [, line, col] = /anp\.yaml:(\d+):(\d+)$/.exec(String(e.decidedBy['source'])) ?? [];
  const at = (readFileSync(anp, 'utf8').split('\n')[Number(line) - 1] ?? '').slice(Number(col) - 1);
  assert.ok(at.startsWith('{namespaces:'), `the source is the peer the rule matched, got "${at}"`);
  const text = await run(['explain', '-f', anp, '--from', 'prod/web', '--to', 'prod/db', '--port', '5432']);
  assert.match(text.out, /AdminNetworkPolicy guard-db in tier kube-admin/);
});

test('explain --flows: one JSON result per input line, same order; bad lines get error objects and exit 2', async () => {
  const flows = file(
    'flows.jsonl',
    ['{"from":"prod/web","to":"prod/db","port":5432,"protocol":"TCP"}', '', '{"from":"prod/db","to":"prod/web","port":80}', '{"from":"prod/nope","to":"prod/web","port":80}', 'not json'].join('\n'),
  );
  const r = await run(['explain', '-f', cluster, '--flows', flows, '-o', 'json']);
  const lines = r.out.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l['verdict'] ?? 'error'), ['allow', 'allow', 'error', 'error']);
  assert.equal((lines[2]!['error'] as { code: string }[])[0]!.code, 'flow/unknown-endpoint');
  assert.equal(r.code, 2);
});

test('explain reads manifests from stdin with -f -', async () => {
  const r = await run(['explain', '-f', '-', '--from', 'prod/web', '--to', 'prod/db', '--port', '80'], CLUSTER);
  assert.equal(r.code, 1);
  assert.match(r.out, /end of tier default/);
});

test('matrix: truth table, CSV and JSON agree', async () => {
  const t = await run(['matrix', '-f', cluster, '--port', '5432/TCP']);
  assert.equal(t.code, 0);
  assert.match(t.out, /5432\/TCP/);
  const csv = await run(['matrix', '-f', cluster, '--port', '5432', '-o', 'csv']);
  assert.ok(csv.out.split('\n').includes('prod/web,prod/db,5432,TCP,allow'));
  assert.ok(csv.out.split('\n').includes('prod/db,prod/db,5432,TCP,allow'), 'loopback');
  const json = JSON.parse((await run(['matrix', '-f', cluster, '--port', '5432', '-o', 'json-pairs'])).out) as { results: { from: string; to: string; verdict: string }[] };
  assert.equal(json.results.find((c) => c.from === 'prod/db' && c.to === 'prod/web')?.verdict, 'allow');
});

// ---- bad input: each caught with file:line:col, the field path and what was expected

const badCases: readonly [string, string, number, RegExp][] = [
  [
    'a duplicate resource',
    `${CLUSTER}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-from-web, namespace: prod}\nspec: {podSelector: {}}\n`,
    2,
    /dup\.yaml:\d+:\d+: load\/duplicate-resource: .*\n[\s\S]*help: .*cluster-dup|help: .*dup\.yaml:\d+:\d+/,
  ],
  [
    'a policy in a tier that does not exist',
    'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  tier: securty\n  selector: all()\n---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 1}\n',
    1,
    /:5:9: engine\/tier-not-found: .*"securty"[\s\S]*help: did you mean "security"\?/,
  ],
  ['an invalid CIDR', 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  egress:\n    - action: Allow\n      destination:\n        nets: [10.0.0.300/8]\n', 2, /:8:16: model\/invalid-cidr: [\s\S]*spec\.egress\[0\]\.destination\.nets\[0\]/],
  ['a port out of range', 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  ingress:\n    - ports: [{port: 70000}]\n', 2, /:7:22: model\/port-out-of-range: [\s\S]*spec\.ingress\[0\]\.ports\[0\]\.port/],
  ['an unknown field', 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelectr: {}\n', 2, /:5:3: model\/unknown-field: [\s\S]*did you mean "podSelector"/],
  ['an invalid action', 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n    - action: allow\n', 2, /:6:15: model\/invalid-action: [\s\S]*spec\.ingress\[0\]\.action/],
  ['a selector syntax error', "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  selector: app = 'x'\n", 2, /:5:17: model\/invalid-selector: /],
];

for (const [name, text, code, pattern] of badCases) {
  test(`check catches ${name}: exit ${code}, file:line:col, no stack trace`, async () => {
    const f = file(`${name.replace(/\W+/g, '-')}-dup.yaml`, text);
    const r = await run(['check', '-f', f]);
    assert.equal(r.code, code, r.out + r.err);
    assert.match(r.out, pattern);
    assert.doesNotMatch(r.out + r.err, /\n\s+at .*\.ts:\d+/, 'no stack trace');
  });
}

test('explain refuses input with errors (exit 2) and reports them on stderr', async () => {
  const f = file('bad-explain.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n');
  const r = await run(['explain', '-f', f, '--from', 'default/p', '--to', '10.0.0.1', '--port', '80']);
  assert.equal(r.code, 2);
  assert.match(r.err, /bad-explain\.yaml:\d+:\d+: /);
});

test('usage errors exit 2 with a message', async () => {
  assert.equal((await run(['explain', '-f', cluster, '--from', 'prod/web'])).code, 2);
  assert.equal((await run(['explain', '-f', cluster, '--from', 'prod/web', '--to', 'prod/db'])).code, 2, 'TCP needs a port');
  assert.equal((await run(['matrix', '-f', cluster, '--port', '80/XTP'])).code, 2);
  assert.equal((await run(['frobnicate'])).code, 2);
  assert.equal((await run(['check', '-f', join(dir, 'missing.yaml')])).code, 2);
});
