// `strata test`, `check -o sarif` and `explain --flows` with `expect`: exit codes, the reports'
// validity against the official SARIF 2.1.0 schema and the JUnit XSD, positions of failures and
// of errors in test files, and set cases with their first counter-example. In-process.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import { policyTestSchemaText, POLICY_TEST_SCHEMA_FILE } from '../../scripts/generate-schemas.ts';
import { junitProblems, sarifProblems } from '../report/validators.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = ['examples/multi-tenant', 'examples/zero-trust/default-deny', 'examples/zero-trust/dev-prod-isolation', 'examples/zero-trust/three-tier'];

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

const dir = mkdtempSync(path.join(tmpdir(), 'strata-policy-test-'));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}
const ex = (d: string): string => path.join(ROOT, d);

// The dev-prod-isolation example's manifests, without its tests.
const DEV_PROD = ['-f', ex('examples/zero-trust/dev-prod-isolation/workloads.yaml'), '-f', ex('examples/zero-trust/dev-prod-isolation/policies.yaml')];

/** The example's PolicyTest with every `expect` turned round. */
function inverted(): string {
  const text = readFileSync(ex('examples/zero-trust/dev-prod-isolation/policy-tests.yaml'), 'utf8');
  return file('inverted.yaml', text.replace(/expect: (allow|deny)/g, (_m, v: string) => `expect: ${v === 'allow' ? 'deny' : 'allow'}`));
}

describe('strata test on the bundled examples', () => {
  for (const d of EXAMPLES) {
    it(`${d}: every case passes, exit 0`, async () => {
      const r = await run(['test', '-f', ex(d), '-o', 'json', '-q']);
      assert.equal(r.code, 0, r.out + r.err);
      const out = JSON.parse(r.out) as { ok: boolean; failed: number; errors: number; passed: number; cases: { status: string }[] };
      assert.equal(out.ok, true);
      assert.ok(out.passed >= 7);
      assert.deepEqual(out.cases.filter((c) => c.status !== 'pass'), []);
    });
  }

  it('each example\'s PolicyTest states the same flows and expectations as its flows.jsonl', async () => {
    const { parseAllDocuments } = await import('yaml');
    for (const d of EXAMPLES) {
      const flows = readFileSync(ex(`${d}/flows.jsonl`), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('//')).map((l) => JSON.parse(l) as { from: string; to: string; port: number; protocol: string; expect: { verdict: string; pending?: { verdict: string } } });
      const doc = parseAllDocuments(readFileSync(ex(`${d}/policy-tests.yaml`), 'utf8'))[0]!.toJS() as { spec: { cases: { from: unknown; to: unknown; port: number; protocol: string; expect: string; pending?: string }[] } };
      const single = doc.spec.cases.filter((c) => typeof c.from === 'string' && typeof c.to === 'string');
      assert.deepEqual(
        single.map((c) => [c.from, c.to, c.port, c.protocol, c.expect, c.pending ?? null]),
        flows.map((f) => [f.from, f.to, f.port, f.protocol, f.expect.verdict, f.expect.pending?.verdict ?? null]),
        d,
      );
    }
  });

  it('the inverted expectations fail: exit 1, one ✗ line per case and the summary', async () => {
    const r = await run(['test', ...DEV_PROD, '--tests', inverted()]);
    assert.equal(r.code, 1, r.err);
    const lines = r.out.split('\n');
    assert.equal(lines.filter((l) => l.startsWith('✗ ')).length, 8);
    assert.match(lines.at(-1) ?? '', /^strata test: 0 passed, 8 failed, 0 errors \(8 cases in 1 PolicyTest\)$/);
    // The failure points at the case's from: line in the test file.
    assert.match(r.out, /✗ dev-prod-isolation: dev talks to dev {2}.*inverted\.yaml:\d+:13/);
    assert.match(r.out, /expected deny, got allow/);
  });

  it('the inverted run writes a JUnit report valid against the JUnit XSD, with one failure per case', async () => {
    const r = await run(['test', ...DEV_PROD, '--tests', inverted(), '-o', 'junit', '-q']);
    assert.equal(r.code, 1);
    assert.deepEqual(await junitProblems(r.out), []);
    assert.match(r.out, /<testsuites name="strata test" tests="8" failures="8" errors="0"/);
    assert.equal(r.out.match(/<failure /g)?.length, 8);
    assert.equal(r.err, '');
  });

  it('a passing run writes a valid JUnit report without failures', async () => {
    const r = await run(['test', '-f', ex('examples/multi-tenant'), '-o', 'junit', '-q']);
    assert.equal(r.code, 0);
    assert.deepEqual(await junitProblems(r.out), []);
    assert.doesNotMatch(r.out, /<failure/);
  });

  it('the inverted run writes SARIF 2.1.0 valid against the official schema, located at each case\'s from: line', async () => {
    const tests = inverted();
    const r = await run(['test', ...DEV_PROD, '--tests', tests, '-o', 'sarif', '-q']);
    assert.equal(r.code, 1);
    const log = JSON.parse(r.out) as { runs: { results: { ruleId: string; level: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number; startColumn: number } } }[] }[] }[] };
    assert.deepEqual(sarifProblems(log), []);
    const results = log.runs[0]!.results;
    assert.equal(results.length, 8);
    const lines = readFileSync(tests, 'utf8').split('\n');
    for (const res of results) {
      assert.equal(res.ruleId, 'policy-test/failed');
      assert.equal(res.level, 'error');
      const loc = res.locations[0]!.physicalLocation;
      assert.ok(loc.artifactLocation.uri.endsWith('inverted.yaml'), loc.artifactLocation.uri);
      assert.match(lines[loc.region.startLine - 1] ?? '', /^\s+from: /);
      assert.equal(loc.region.startColumn, (lines[loc.region.startLine - 1] ?? '').indexOf('from:') + 7);
    }
  });
});

describe('set cases', () => {
  const MANIFESTS = file(
    'sets.yaml',
    `apiVersion: v1
kind: Namespace
metadata: {name: dev}
---
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: dev, labels: {app: a}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: dev, labels: {app: b}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: prod, labels: {app: api}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-dev-b, namespace: prod}
spec:
  podSelector: {}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: dev}}, podSelector: {matchLabels: {app: b}}}]
`,
  );
  const cases = (body: string): string => file(`cases-${Math.random().toString(36).slice(2)}.yaml`, `apiVersion: strata/v1\nkind: PolicyTest\nmetadata: {name: sets}\nspec:\n  cases:\n${body}`);

  it('every pair must meet the expectation: the first counter-example is reported', async () => {
    const t = cases(`    - name: dev cannot reach prod
      from: {namespace: dev}
      to: {namespace: prod}
      port: 80
      expect: deny
`);
    const r = await run(['test', '-f', MANIFESTS, '--tests', t, '-o', 'json', '-q']);
    assert.equal(r.code, 1);
    const c = (JSON.parse(r.out) as { cases: { status: string; counterExample: unknown; pairs: number; decision: { verdict: string; decidedBy: { policy: string } } }[] }).cases[0]!;
    assert.equal(c.status, 'fail');
    assert.deepEqual(c.counterExample, { from: 'dev/b', to: 'prod/api' });
    assert.equal(c.pairs, 2); // dev/a → prod/api was denied, dev/b → prod/api is the counter-example
    assert.equal(c.decision.verdict, 'allow');
    assert.equal(c.decision.decidedBy.policy, 'only-dev-b');
  });

  const table: readonly { name: string; from: string; to: string; expect: string; code: number; pairs?: number }[] = [
    { name: 'a selector narrows the set: dev/a reaches nothing in prod', from: '{namespace: dev, selector: app == "a"}', to: '{namespace: prod}', expect: 'deny', code: 0, pairs: 1 },
    { name: 'a selector alone spans namespaces; self pairs are skipped', from: '{selector: has(app)}', to: 'prod/api', expect: 'deny', code: 1 },
    { name: 'inside dev everything is allowed (no policy selects dev)', from: '{namespace: dev}', to: '{namespace: dev}', expect: 'allow', code: 0, pairs: 2 },
    { name: 'an empty set is an input error, not a silent pass', from: '{namespace: staging}', to: '{namespace: prod}', expect: 'deny', code: 2 },
  ];
  for (const t of table) {
    it(t.name, async () => {
      const f = cases(`    - name: x\n      from: ${t.from}\n      to: ${t.to}\n      port: 80\n      expect: ${t.expect}\n`);
      const r = await run(['test', '-f', MANIFESTS, '--tests', f, '-o', 'json', '-q']);
      assert.equal(r.code, t.code, r.out + r.err);
      if (t.pairs !== undefined) assert.equal((JSON.parse(r.out) as { cases: { pairs: number }[] }).cases[0]!.pairs, t.pairs);
    });
  }

  it('a case naming an unknown endpoint is an error (exit 2) and a JUnit <error>', async () => {
    const f = cases(`    - name: typo
      from: dev/aa
      to: prod/api
      port: 80
      expect: deny
`);
    const r = await run(['test', '-f', MANIFESTS, '--tests', f, '-o', 'junit', '-q']);
    assert.equal(r.code, 2);
    assert.deepEqual(await junitProblems(r.out), []);
    assert.match(r.out, /<error message="[^"]*dev\/aa/);
  });

  it('decidedBy and pending are compared field by field', async () => {
    const f = cases(`    - name: right verdict, wrong policy
      from: dev/b
      to: prod/api
      port: 80
      expect: allow
      decidedBy: {tier: default, policy: someone-else, rule: 0}
      pending: allow
`);
    const r = await run(['test', '-f', MANIFESTS, '--tests', f]);
    assert.equal(r.code, 1);
    assert.match(r.out, /decidedBy\.policy: expected "someone-else", got "only-dev-b"/);
    assert.doesNotMatch(r.out, /decidedBy\.tier|decidedBy\.rule|pending:/);
  });
});

describe('PolicyTest files: validation and loading', () => {
  const manifests = file('m.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: dev}\n');
  const bad: readonly { name: string; body: string; code: string; at: string; path: string }[] = [
    { name: 'a misspelt field', body: '    - name: x\n      form: dev/a\n      to: dev/b\n      expect: allow\n', code: 'model/unknown-field', at: ':7:7', path: 'spec.cases[0].form' },
    { name: 'a verdict that is not allow or deny', body: '    - name: x\n      from: dev/a\n      to: dev/b\n      expect: allowed\n', code: 'model/invalid-value', at: ':9:15', path: 'spec.cases[0].expect' },
    { name: 'a port out of range', body: '    - name: x\n      from: dev/a\n      to: dev/b\n      port: 70000\n      expect: deny\n', code: 'model/invalid-port', at: ':9:13', path: 'spec.cases[0].port' },
    { name: 'a selector with a syntax error, at its column', body: '    - name: x\n      from: {selector: "app = a"}\n      to: dev/b\n      expect: deny\n', code: 'model/invalid-selector', at: ':7:29', path: 'spec.cases[0].from.selector' },
  ];
  for (const b of bad) {
    it(`${b.name}: exit 2 with file:line:col and field path`, async () => {
      const f = file(`bad-${b.code.replace('/', '-')}-${b.at.replace(/:/g, '')}.yaml`, `apiVersion: strata/v1\nkind: PolicyTest\nmetadata: {name: bad}\nspec:\n  cases:\n${b.body}`);
      const r = await run(['test', '-f', manifests, '--tests', f]);
      assert.equal(r.code, 2, r.out + r.err);
      assert.ok(r.err.includes(`${f}${b.at}`), r.err);
      assert.ok(r.err.includes(b.code), r.err);
      const c = await run(['check', '-f', manifests, '-f', f, '-o', 'json']);
      assert.equal(c.code, 2, 'check validates PolicyTest files too');
      const d = (JSON.parse(c.out) as { diagnostics: { code: string; path?: string }[] }).diagnostics.find((x) => x.code === b.code);
      assert.equal(d?.path, b.path);
    });
  }

  it('an invalid test file still yields a valid SARIF log and JUnit report naming the error', async () => {
    const f = file('bad-for-reports.yaml', 'apiVersion: strata/v1\nkind: PolicyTest\nmetadata: {name: bad}\nspec:\n  cases:\n    - name: x\n      from: dev/a\n      to: dev/b\n      expect: allowed\n');
    const s = await run(['test', '-f', manifests, '--tests', f, '-o', 'sarif', '-q']);
    assert.equal(s.code, 2);
    const log = JSON.parse(s.out) as { runs: { results: { ruleId: string; locations: { physicalLocation: { region: { startLine: number } } }[] }[] }[] };
    assert.deepEqual(sarifProblems(log), []);
    assert.deepEqual(log.runs[0]!.results.map((r) => [r.ruleId, r.locations[0]!.physicalLocation.region.startLine]), [['model/invalid-value', 9]]);
    const j = await run(['test', '-f', manifests, '--tests', f, '-o', 'junit', '-q']);
    assert.equal(j.code, 2);
    assert.deepEqual(await junitProblems(j.out), []);
    assert.match(j.out, /<error message="expected &quot;allow&quot; or &quot;deny&quot;, got &quot;allowed&quot;"/);
  });

  const headers: readonly [string, string, string][] = [
    ['a misspelt strata kind', 'apiVersion: strata/v1\nkind: PolicyTset\n', 'model/unknown-kind'],
    ['a PolicyTest at another version', 'apiVersion: strata/v2\nkind: PolicyTest\n', 'model/unsupported-api-version'],
    ['a PolicyTest in another group', 'apiVersion: v1\nkind: PolicyTest\n', 'model/unsupported-api-version'],
  ];
  for (const [name, head, code] of headers) {
    it(`${name} is an error, not a silently skipped test`, async () => {
      const f = file(`header-${code.replace('/', '-')}-${head.length}.yaml`, `${head}metadata: {name: x}\nspec: {cases: [{name: x, from: a/b, to: a/c, expect: deny}]}\n`);
      const r = await run(['check', '-f', f, '-o', 'json']);
      assert.equal(r.code, 2);
      assert.deepEqual((JSON.parse(r.out) as { diagnostics: { code: string }[] }).diagnostics.map((d) => d.code), [code]);
    });
  }

  it('check on a directory holding manifests and tests exits 0 and notes the tests', async () => {
    const r = await run(['check', '-f', ex('examples/multi-tenant'), '-o', 'json', '-v']);
    assert.equal(r.code, 0, r.out);
    const ds = (JSON.parse(r.out) as { diagnostics: { code: string; severity: string }[] }).diagnostics;
    assert.deepEqual(ds.filter((d) => d.code === 'load/policy-test').map((d) => d.severity), ['info']);
  });

  it('no PolicyTest anywhere is a usage error', async () => {
    const r = await run(['test', '-f', manifests]);
    assert.equal(r.code, 2);
    assert.match(r.err, /no PolicyTest/);
  });

  it('unknown output formats are usage errors', async () => {
    assert.equal((await run(['test', '-f', manifests, '-o', 'xml'])).code, 2);
  });
});

describe('check -o sarif', () => {
  it('every diagnostic is a result with ruleId = code, level and a region; valid SARIF 2.1.0', async () => {
    const f = file('broken.yaml', 'apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: x, namespace: dev}\nspec:\n  selector: all()\n  tier: missing\n  ingress: [{action: Allow}]\n');
    const r = await run(['check', '-f', f, '-o', 'sarif']);
    const log = JSON.parse(r.out) as { runs: { results: { ruleId: string; level: string; locations?: { physicalLocation: { region: { startLine: number } } }[] }[] }[] };
    assert.deepEqual(sarifProblems(log), []);
    const json = JSON.parse((await run(['check', '-f', f, '-o', 'json'])).out) as { diagnostics: { code: string; severity: string; span?: { line: number } }[] };
    const results = log.runs[0]!.results;
    assert.deepEqual(results.map((x) => x.ruleId), json.diagnostics.map((d) => d.code));
    assert.deepEqual(results.map((x) => x.level), json.diagnostics.map((d) => (d.severity === 'info' ? 'note' : d.severity)));
    assert.deepEqual(results.map((x) => x.locations?.[0]?.physicalLocation.region.startLine), json.diagnostics.map((d) => d.span?.line));
    assert.ok(results.some((x) => x.level === 'error'));
  });

  it('a clean example gives a valid log with relative URIs', async () => {
    const r = await run(['check', '-f', 'examples/zero-trust/three-tier', '-o', 'sarif']);
    assert.equal(r.code, 0);
    assert.deepEqual(sarifProblems(JSON.parse(r.out)), []);
  });
});

describe('explain --flows honours expect', () => {
  const flows = (name: string, lines: readonly object[]): string => file(name, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const base = { from: 'dev/web', to: 'prod/api', port: 8080, protocol: 'TCP' };

  it('the bundled examples\' expectations hold: pass on every line, exit 0', async () => {
    for (const d of EXAMPLES) {
      const r = await run(['explain', '-f', ex(d), '--flows', ex(`${d}/flows.jsonl`), '-o', 'json']);
      assert.equal(r.code, 0, r.err);
      const lines = r.out.split('\n').map((l) => JSON.parse(l) as { pass: boolean; expected: unknown });
      assert.ok(lines.every((l) => l.pass === true && l.expected !== undefined));
    }
  });

  const table: readonly { name: string; line: object; code: number; pass?: boolean; mismatch?: RegExp }[] = [
    { name: 'a string expect that holds', line: { ...base, expect: 'deny' }, code: 0, pass: true },
    { name: 'a string expect that fails', line: { ...base, expect: 'allow' }, code: 1, pass: false, mismatch: /expected allow, got deny/ },
    { name: 'decidedBy beside the expect', line: { ...base, expect: 'deny', decidedBy: { tier: 'default', policy: 'nope' } }, code: 1, pass: false, mismatch: /decidedBy\.policy: expected "nope", got "isolate-dev-from-prod"/ },
    { name: 'the examples\' object form', line: { ...base, expect: { verdict: 'deny', direction: 'egress', rule: null, reason: 'end-of-tier' } }, code: 0, pass: true },
    { name: 'pending as a verdict, no staged policy: today\'s verdict', line: { ...base, expect: { verdict: 'deny', pending: 'allow' } }, code: 1, pass: false, mismatch: /pending: expected allow, got deny/ },
    { name: 'no expect: no pass field, exit 0', line: base, code: 0 },
    { name: 'a malformed expect is an input error', line: { ...base, expect: 'maybe' }, code: 2 },
  ];
  for (const t of table) {
    it(t.name, async () => {
      const f = flows(`flows-${Math.random().toString(36).slice(2)}.jsonl`, [t.line]);
      const r = await run(['explain', ...DEV_PROD, '--flows', f, '-o', 'json']);
      assert.equal(r.code, t.code, r.out + r.err);
      const out = JSON.parse(r.out) as { pass?: boolean; mismatches?: string[] };
      assert.equal(out.pass, t.pass);
      if (t.mismatch !== undefined) assert.match((out.mismatches ?? []).join('\n'), t.mismatch);
    });
  }

  it('the text output and stderr say which line failed', async () => {
    const f = flows('mixed.jsonl', [{ ...base, expect: 'deny' }, { ...base, expect: 'allow' }]);
    const r = await run(['explain', ...DEV_PROD, '--flows', f]);
    assert.equal(r.code, 1);
    const [first, second] = r.out.split('\n');
    assert.match(first ?? '', /✓ as expected$/);
    assert.match(second ?? '', /✗ line 2: expected allow, got deny$/);
    assert.match(r.err, /1 expectation in .*mixed\.jsonl failed: line 2/);
  });
});

describe('the PolicyTest JSON Schema', () => {
  it('docs/schemas/policy-test.schema.json is the one generated from the zod schema (node scripts/generate-schemas.ts)', () => {
    assert.equal(readFileSync(POLICY_TEST_SCHEMA_FILE, 'utf8'), policyTestSchemaText());
  });

  it('the examples\' PolicyTest files validate against it; an inverted field name does not', async () => {
    const { parseAllDocuments } = await import('yaml');
    const ajv = new Ajv2020.default({ strict: false });
    const validate = ajv.compile(JSON.parse(readFileSync(POLICY_TEST_SCHEMA_FILE, 'utf8')) as object);
    for (const d of EXAMPLES) {
      for (const doc of parseAllDocuments(readFileSync(ex(`${d}/policy-tests.yaml`), 'utf8'))) {
        assert.ok(validate(doc.toJS()), `${d}: ${JSON.stringify(validate.errors)}`);
      }
    }
    assert.equal(validate({ apiVersion: 'strata/v1', kind: 'PolicyTest', metadata: { name: 'x' }, spec: { cases: [{ name: 'x', form: 'a/b', to: 'a/c', expect: 'allow' }] } }), false);
  });
});
