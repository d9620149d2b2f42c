// Inputs a newcomer feeds Strata by mistake (issue 11, item 9): each gets a diagnostic that says
// what is wrong in words — never an echo of 10k characters or random bytes, never an internal error.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadText } from '../../src/load/index.ts';
import { renderDiagnostics } from '../../src/diagnostics/index.ts';

const codes = (text: string): string[] => loadText(text, 'f.yaml').diagnostics.map((d) => `${d.severity} ${d.code}`);
const rendered = (text: string): string => renderDiagnostics(loadText(text, 'f.yaml').diagnostics, { source: () => text });

describe('inputs that are not what the user thinks', () => {
  test('a binary file is one error saying so, without echoing its bytes', () => {
    const bytes = String.fromCharCode(...Array.from({ length: 300 }, (_, i) => (i * 37) % 256));
    assert.deepEqual(codes(bytes), ['error load/binary-file']);
    assert.doesNotMatch(rendered(bytes), /\u0000/);
  });
  test('a self-referential alias is a load error, not an internal error', () => {
    assert.deepEqual(codes('a: &x [*x]\n'), ['error load/recursive-alias']);
    assert.deepEqual(codes('apiVersion: v1\nkind: Pod\nmetadata: &m {name: p, labels: *m}\n'), ['error load/recursive-alias']);
  });
  test('a List inside a List is reported, not dropped silently', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: [{apiVersion: v1, kind: Namespace, metadata: {name: a}}]\n- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n';
    const r = loadText(text, 'f.yaml');
    assert.deepEqual(r.resources.map((x) => x.name), ['b']);
    assert.deepEqual(codes(text), ['warning load/nested-list']);
    assert.match(r.diagnostics[0]!.message, /its 1 item are ignored/);
  });
  test('a 10 000-character line is shown clipped around the column, and the message does not echo it', () => {
    const text = `apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: ${'x'.repeat(10_000)}}}\nspec: {containers: [{name: c}]}\n`;
    const out = rendered(text);
    assert.ok(out.length < 1200, `rendered ${out.length} characters`);
    assert.match(out, /model\/invalid-label/);
    assert.match(out, /…/);
  });
  test('order: 1e400 says the number is too large, not "Infinity"', () => {
    const text = 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  order: 1e400\n';
    const d = loadText(text, 'f.yaml').diagnostics[0];
    assert.match(d?.message ?? '', /too large/);
    assert.doesNotMatch(d?.message ?? '', /Infinity/);
  });
  test('apiVersion: 1.0 hints to quote the value as written, not as "1"', () => {
    const d = loadText('apiVersion: 1.0\nkind: Pod\nmetadata: {name: p}\n', 'f.yaml').diagnostics[0];
    assert.match(d?.help ?? '', /quote the value exactly as written/);
    assert.doesNotMatch(d?.help ?? '', /"1"/);
  });
});
