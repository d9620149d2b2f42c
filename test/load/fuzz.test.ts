// Properties over random and mutated input (fast-check): loadText never throws, every error has a
// span, and every span lies inside the text it points into.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Diagnostic } from '../../src/diagnostics/index.ts';
import { loadText } from '../../src/load/index.ts';

const FILE = 'fuzz.yaml';

/** The loader's contract for any text. */
function checkContract(text: string): void {
  let r: ReturnType<typeof loadText>;
  try {
    r = loadText(text, FILE);
  } catch (e) {
    assert.fail(`loadText threw on ${JSON.stringify(text)}: ${String(e)}`);
  }
  const lines = text.split('\n');
  for (const d of r.diagnostics) {
    if (d.severity === 'error') assert.ok(d.span !== undefined, `error without a span: ${show(d)}`);
    if (d.span === undefined) continue;
    assert.equal(d.span.file, FILE);
    checkPosition(lines, d.span.line, d.span.col, d, text);
    if (d.span.endLine !== undefined && d.span.endCol !== undefined) {
      checkPosition(lines, d.span.endLine, d.span.endCol, d, text);
      assert.ok(d.span.endLine > d.span.line || (d.span.endLine === d.span.line && d.span.endCol >= d.span.col), `end before start: ${show(d)}`);
    }
  }
  for (const res of r.resources) assert.ok(res.name.length > 0);
}

function checkPosition(lines: readonly string[], line: number, col: number, d: Diagnostic, text: string): void {
  const src = lines[line - 1];
  assert.ok(src !== undefined, `line ${line} outside 1..${lines.length}: ${show(d)} in ${JSON.stringify(text)}`);
  assert.ok(col >= 1 && col <= src.length + 1, `col ${col} outside 1..${src.length + 1} on line ${line}: ${show(d)} in ${JSON.stringify(text)}`);
}

function show(d: Diagnostic): string {
  return `${d.code} ${d.span?.line}:${d.span?.col}-${d.span?.endLine}:${d.span?.endCol} ${d.message}`;
}

const VALID = [
  'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: security.deny-feed\nspec:\n  tier: security\n  order: -90\n  selector: all()\n  namespaceSelector: \'\'\n  egress:\n    - action: Deny\n      protocol: TCP\n      source: {}\n      destination:\n        selector: feed == "otx"\n        nets: [10.0.0.0/8]\n        ports: [80, "1000:2000"]\n  types:\n    - Egress\n',
  'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  podSelector:\n    matchLabels: {app: web}\n  ingress:\n    - from:\n        - namespaceSelector: {}\n          podSelector:\n            matchExpressions: [{key: role, operator: In, values: [client]}]\n        - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n      ports:\n        - port: 8080\n          endPort: 8090\n  policyTypes: [Ingress]\n',
  '---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: shop, labels: {tenant: one}}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: web, namespace: shop}\n  spec:\n    selector: {matchLabels: {app: web}}\n    template:\n      metadata: {labels: {app: web}}\n      spec:\n        serviceAccountName: web\n        containers:\n        - name: c\n          ports: [{name: http, containerPort: 80}]\n---\n# comment\n',
  '{"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "platform"}, "spec": {"order": 300, "defaultAction": "Pass"}}\n',
  'apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: a.b, namespace: x}\nspec:\n  selector: >-\n    app == "x" &&\n    tier in {"a", "b"}\n  ingress:\n    - action: Allow\n      source:\n        namespaceSelector: "global()"\n        selector: \'role == "db"\'\n',
];

const TOKENS = [':', ': ', '-', '- ', ' ', '  ', '\n', '\r\n', '\t', '{', '}', '[', ']', ',', '"', "'", '&a ', '*a', '|', '>-', '#', '---', '...', '!!str ', '?', '%', '@', 'ß', '\u00a0', '\ufeff', 'null', '~', 'apiVersion', 'kind', 'metadata', 'name', 'spec', 'v1', 'Namespace', 'x', '0', '10.0.0.1/24', "'", '==', '&&', 'global()'];

/** Text made of YAML-significant pieces, more likely than raw strings to reach deep parser states. */
const yamlish = fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((ts) => ts.join(''));

type Mutation = { at: number; kind: 'insert' | 'delete' | 'replace' | 'duplicate-line'; text: string; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom<Mutation['kind']>('insert', 'delete', 'replace', 'duplicate-line'),
  text: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 4 })),
  length: fc.integer({ min: 1, max: 12 }),
});

function mutate(base: string, ms: readonly Mutation[]): string {
  let s = base;
  for (const m of ms) {
    const at = s.length === 0 ? 0 : m.at % (s.length + 1);
    switch (m.kind) {
      case 'insert':
        s = s.slice(0, at) + m.text + s.slice(at);
        break;
      case 'delete':
        s = s.slice(0, at) + s.slice(at + m.length);
        break;
      case 'replace':
        s = s.slice(0, at) + m.text + s.slice(at + m.text.length);
        break;
      case 'duplicate-line': {
        const start = s.lastIndexOf('\n', at - 1) + 1;
        const end = s.indexOf('\n', at);
        const line = s.slice(start, end < 0 ? s.length : end + 1);
        s = s.slice(0, start) + line + s.slice(start);
        break;
      }
      default: {
        const unreachable: never = m.kind;
        throw new Error(String(unreachable));
      }
    }
  }
  return s;
}

describe('loadText on hostile input', () => {
  it('never throws on arbitrary strings, and errors point inside them', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'binary' }), checkContract), { numRuns: 1500 });
  });
  it('never throws on YAML-shaped noise', () => {
    fc.assert(fc.property(yamlish, checkContract), { numRuns: 3000 });
  });
  it('never throws on mutated valid manifests, and every span is inside the text', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 5 }), (base, ms) => checkContract(mutate(base, ms))),
      { numRuns: 3000 },
    );
  });
  it('the valid manifests themselves load without errors', () => {
    for (const text of VALID) {
      const r = loadText(text, FILE);
      assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), [], text);
      assert.ok(r.resources.length > 0);
    }
  });
});
