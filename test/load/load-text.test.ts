// loadText: documents, formats, List kinds, syntax errors, duplicates and namespace merging.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadText } from '../../src/load/index.ts';

const ns = (name: string, labels = ''): string => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n${labels === '' ? '' : `  labels: {${labels}}\n`}`;
const codes = (text: string): string[] => loadText(text, 'f.yaml').diagnostics.map((d) => `${d.severity} ${d.code} ${d.span?.line ?? '-'}:${d.span?.col ?? '-'}`);
const names = (text: string): string[] => loadText(text, 'f.yaml').resources.map((r) => `${r.type}/${r.name}`);

describe('documents and formats', () => {
  test('several YAML documents load in order', () => {
    assert.deepEqual(names(`${ns('a')}---\n${ns('b')}---\n${ns('c')}`), ['Namespace/a', 'Namespace/b', 'Namespace/c']);
  });
  test('empty documents and comment-only documents are skipped silently', () => {
    const text = `---\n# just a comment\n---\n${ns('a')}---\n---\n...\n`;
    assert.deepEqual(names(text), ['Namespace/a']);
    assert.deepEqual(codes(text), []);
  });
  test('an empty text loads nothing', () => {
    assert.deepEqual(loadText('', 'f.yaml').resources, []);
    assert.deepEqual(loadText('', 'f.yaml').diagnostics, []);
  });
  test('a JSON object loads', () => {
    assert.deepEqual(names('{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "j"}}'), ['Namespace/j']);
  });
  test('a JSON v1 List loads every item', () => {
    const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } }] }, null, 2);
    const r = loadText(text, 'f.json');
    assert.deepEqual(r.resources.map((x) => x.name), ['a', 'b']);
    assert.deepEqual(r.resources.map((x) => x.origin.itemIndex), [0, 1]);
  });
  test('a typed list fills in the items\' apiVersion and kind', () => {
    const text = 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicyList\nitems:\n  - metadata: {name: a}\n    spec: {}\n  - metadata: {name: b}\n    spec: {}\n';
    assert.deepEqual(names(text), ['GlobalNetworkPolicy/a', 'GlobalNetworkPolicy/b']);
  });
  test('an item of a List points at its own lines', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: Bad}\n';
    assert.deepEqual(codes(text), ['error model/invalid-name 9:20']);
  });
  test('an indented document (as in kubectl docs) loads', () => {
    assert.deepEqual(names('  apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: x\n'), ['Namespace/x']);
  });
  test('CRLF line endings load and positions ignore the CR', () => {
    const r = loadText('apiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: Bad\r\n', 'f.yaml');
    assert.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.span?.line}:${d.span?.col}-${d.span?.endCol}`), ['model/invalid-name 4:9-11']);
  });
  test('YAML merge keys work as in kubectl', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: &l {app: a}\nspec:\n  containers:\n    - name: c\n      ports:\n        - <<: {containerPort: 80}\n          name: http\n';
    assert.deepEqual(codes(text), []);
  });
  test('the source text is returned for rendering', () => {
    assert.equal(loadText('a: b', 'x.yaml').sources.get('x.yaml'), 'a: b');
  });
});

describe('problems are diagnostics, never exceptions', () => {
  test('a YAML syntax error is reported once, with its position, and the document is skipped', () => {
    const text = `${ns('a')}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: [b\n---\n${ns('c')}`;
    assert.deepEqual(names(text), ['Namespace/a', 'Namespace/c']);
    const d = loadText(text, 'f.yaml').diagnostics;
    assert.equal(d.length, 1);
    assert.equal(d[0]?.code, 'load/yaml-syntax');
    assert.equal(d[0]?.span?.line, 10, 'where the parser finds the flow sequence unterminated');
  });
  test('a duplicate key is a syntax error', () => {
    assert.deepEqual(codes('apiVersion: v1\nkind: Namespace\nkind: Namespace\nmetadata: {name: a}\n'), ['error load/yaml-syntax 3:1']);
  });
  test('a tab in indentation is a syntax error', () => {
    assert.equal(codes('apiVersion: v1\nkind: Namespace\nmetadata:\n\tname: a\n')[0]?.split(' ')[1], 'load/yaml-syntax');
  });
  test('a document without apiVersion and kind is an error', () => {
    assert.deepEqual(codes('metadata: {name: a}\n'), ['error model/missing-field 1:1', 'error model/missing-field 1:1']);
  });
  test('a plain string document is an error', () => {
    assert.deepEqual(codes('https://example.com/deploy.yaml\n'), ['error model/invalid-document 1:1']);
  });
  test('unknown kinds are skipped with an info note at their kind', () => {
    assert.deepEqual(codes('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n'), ['info load/skipped-kind 2:7']);
  });
  test('an alias bomb is stopped', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`);
    const r = loadText(lines.join('\n'), 'bomb.yaml');
    assert.equal(r.resources.length, 0);
    assert.equal(r.diagnostics[0]?.code, 'load/yaml-syntax');
  });
  test('every problem of a document is reported, not just the first', () => {
    const text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: Bad}\nspec:\n  selectr: x\n  ingress:\n    - action: allow\n      protocol: tcp\n";
    assert.deepEqual(codes(text), ['error model/invalid-name 3:18', 'error model/unknown-field 5:3', 'error model/invalid-action 7:15', 'error model/invalid-protocol 8:17']);
  });
});

describe('duplicates and namespace merging', () => {
  test('a duplicate resource is an error at the second one, naming the first', () => {
    const gnp = (n: string): string => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: ${n}\nspec: {}\n`;
    const r = loadText(`${gnp('a')}---\n${gnp('a')}`, 'p.yaml');
    assert.equal(r.resources.length, 1);
    assert.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.span?.line}:${d.span?.col}`), ['load/duplicate-resource 10:9']);
    assert.equal(r.diagnostics[0]?.help, 'first declared at p.yaml:4:9; remove one of them or rename it');
  });
  test('the same name in two namespaces is not a duplicate', () => {
    const pol = (n: string): string => `apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: a, namespace: ${n}}\nspec: {}\n`;
    assert.equal(loadText(`${pol('x')}---\n${pol('y')}`, 'p.yaml').resources.length, 2);
  });
  test('a Kubernetes and a Calico NetworkPolicy may share a name', () => {
    const text = 'apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {}\n';
    assert.equal(loadText(text, 'p.yaml').resources.length, 2);
  });
  test('the same namespace declared twice merges its labels with an info note', () => {
    const r = loadText(`${ns('app')}---\n${ns('app', 'team: a')}---\n${ns('app', 'tier: web, team: a')}`, 'n.yaml');
    assert.equal(r.resources.length, 1);
    const only = r.resources[0];
    if (only?.type !== 'Namespace') assert.fail('expected a namespace');
    assert.deepEqual(only.body.metadata.labels, { team: 'a', tier: 'web' });
    assert.equal(only.origin.span.line, 1, 'the merged namespace keeps the first origin');
    assert.deepEqual(r.diagnostics.map((d) => `${d.severity} ${d.code}`), ['info load/merged-namespace', 'info load/merged-namespace']);
  });
  test('a namespace label with two values is an error at the second', () => {
    const r = loadText(`${ns('app', 'team: a')}---\n${ns('app', 'team: b')}`, 'n.yaml');
    assert.deepEqual(r.diagnostics.map((d) => `${d.severity} ${d.code} ${d.span?.line}:${d.span?.col}`), ['error load/namespace-label-conflict 11:18']);
    assert.equal(r.diagnostics[0]?.help, 'first declared at n.yaml:5:18; give the label one value');
    const only = r.resources[0];
    if (only?.type !== 'Namespace') assert.fail('expected a namespace');
    assert.deepEqual(only.body.metadata.labels, { team: 'a' });
  });
});
