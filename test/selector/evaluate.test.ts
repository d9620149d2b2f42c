// Evaluation: selector × labels → match. The first table re-expresses `selectorTests` of Calico's
// libcalico-go/lib/selector/parser/parser_test.go (projectcalico/calico
// 87c15906f20c4ca1fda55af92295e7678b0cc0b2); as there, every case is also checked after
// re-parsing the canonical form. The compiled matcher is checked against the reference
// tree-walking evaluator on every case.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Selector } from '../../src/selector/index.ts';
import { evaluateNode, parseSelector } from '../../src/selector/index.ts';

type Labels = Readonly<Record<string, string>>;

interface EvalCase {
  readonly sel: string;
  readonly matches: readonly Labels[];
  readonly nonMatches: readonly Labels[];
}

const CALICO_SELECTOR_TESTS: readonly EvalCase[] = [
  { sel: 'a == "b"', matches: [{ a: 'b' }, { a: 'b', c: 'd' }], nonMatches: [{}, { a: 'c' }, { c: 'd' }] },
  {
    sel: 'a == "b" && c == "d"',
    matches: [{ a: 'b', c: 'd' }],
    nonMatches: [{}, { a: 'b', c: 'e' }, { a: 'c', c: 'd' }, { c: 'd' }, { a: 'b' }],
  },
  {
    sel: 'a == "b" || c == "d"',
    matches: [{ a: 'b', c: 'd' }, { a: 'b' }, { c: 'd' }],
    nonMatches: [{}, { a: 'e', c: 'e' }, { c: 'e' }, { a: 'e' }],
  },
  { sel: `a in {"'", '"', "c"}`, matches: [{ a: 'c' }, { a: '"' }, { a: "'" }], nonMatches: [{}, { a: 'e' }] },
  { sel: `a not in {"'", '"', "c"}`, matches: [{}, { a: 'e' }], nonMatches: [{ a: 'c' }, { a: '"' }, { a: "'" }] },
  { sel: "a == 'a'", matches: [{ a: 'a' }], nonMatches: [] },
  { sel: 'a == "a"', matches: [{ a: 'a' }], nonMatches: [] },
  { sel: 'a != "b"', matches: [{ a: 'a' }], nonMatches: [] },
  { sel: 'a != "a"', matches: [{}], nonMatches: [] },
  {
    sel: 'a contains "a"',
    matches: [{ a: 'a' }, { a: 'bab' }, { a: 'aaa', b: 'c' }],
    nonMatches: [{}, { a: 'b' }, { b: 'aaa' }],
  },
  {
    sel: 'a starts with "a"',
    matches: [{ a: 'a' }, { a: 'abb' }, { a: 'aaa', b: 'c' }],
    nonMatches: [{}, { a: 'b' }, { a: 'baa' }, { b: 'aaa' }],
  },
  {
    sel: 'a ends with "a"',
    matches: [{ a: 'a' }, { a: 'bba' }, { a: 'aaa', b: 'c' }],
    nonMatches: [{}, { a: 'b' }, { a: 'aab' }, { b: 'aaa' }],
  },
  { sel: 'a in {"a"}', matches: [{ a: 'a' }], nonMatches: [] },
  { sel: '!a in {"a"}', matches: [{ a: 'b' }], nonMatches: [] },
  { sel: 'a in {"a", "b"}', matches: [{ a: 'a' }, { a: 'b' }], nonMatches: [] },
  { sel: 'a not in {"d", "e"}', matches: [{ a: 'a' }], nonMatches: [] },
  { sel: 'has(a)', matches: [{ a: 'b' }], nonMatches: [] },
  { sel: '!has(a)', matches: [{ b: 'b' }], nonMatches: [] },
  { sel: '', matches: [{}, { a: 'b' }], nonMatches: [] },
  { sel: ' ', matches: [{}], nonMatches: [] },
  { sel: 'all()', matches: [{}], nonMatches: [] },
  { sel: ' all()', matches: [{}, { a: 'b' }], nonMatches: [] },
  { sel: 'global()', matches: [{}], nonMatches: [] },
  { sel: ' global()', matches: [{}, { a: 'b' }], nonMatches: [] },
  { sel: "a == 'a'", matches: [], nonMatches: [{ a: 'b' }, {}] },
  { sel: 'a != "a"', matches: [], nonMatches: [{ a: 'a' }] },
  { sel: "a != 'a'", matches: [], nonMatches: [{ a: 'a' }] },
  { sel: 'a in {"a"}', matches: [], nonMatches: [{ a: 'b' }] },
  { sel: 'a not in {"a"}', matches: [], nonMatches: [{ a: 'a' }] },
  { sel: 'a in {"a", "b"}', matches: [], nonMatches: [{ a: 'c' }] },
  { sel: 'has(b)', matches: [], nonMatches: [{ a: 'b' }] },
  { sel: '!!has(b)', matches: [], nonMatches: [{ a: 'b' }] },
  { sel: '! has(a)', matches: [], nonMatches: [{ a: 'b' }] },
  { sel: '!has(a)', matches: [], nonMatches: [{ a: 'b' }] },
  { sel: '!!! has(a)', matches: [], nonMatches: [{ a: 'b' }] },
  { sel: '!!!has(a)', matches: [], nonMatches: [{ a: 'b' }] },
  { sel: '!! ! has(a)', matches: [], nonMatches: [{ a: 'b' }] },
  { sel: '! !!has(a)', matches: [], nonMatches: [{ a: 'b' }] },
  { sel: "a == 'a1' && b == 'b1'", matches: [{ a: 'a1', b: 'b1' }], nonMatches: [] },
  { sel: "a == 'a1' && b != 'b1'", matches: [], nonMatches: [{ a: 'a1', b: 'b1' }] },
  { sel: "a != 'a1' && b == 'b1'", matches: [], nonMatches: [{ a: 'a1', b: 'b1' }] },
  { sel: "a != 'a1' && b != 'b1'", matches: [], nonMatches: [{ a: 'a1', b: 'b1' }] },
  { sel: "a != 'a1' && !b == 'b1'", matches: [], nonMatches: [{ a: 'a1', b: 'b1' }] },
  { sel: "!a == 'a1' && b == 'b1'", matches: [], nonMatches: [{ a: 'a1', b: 'b1' }] },
  { sel: 'has(a) && !has(b)', matches: [{ a: 'a' }], nonMatches: [] },
  { sel: '!has(b) && has(a)', matches: [{ a: 'a' }], nonMatches: [] },
  { sel: '!(!has(a) || has(b))', matches: [{ a: 'a' }], nonMatches: [] },
  { sel: '!(has(b) || !has(a))', matches: [{ a: 'a' }], nonMatches: [] },
  { sel: "a == 'a1' || b == 'b1'", matches: [{ a: 'a1', b: 'b1' }], nonMatches: [] },
  { sel: "a == 'a1' || b != 'b1'", matches: [{ a: 'a1', b: 'b1' }], nonMatches: [] },
  { sel: "a != 'a1' || b == 'b1'", matches: [{ a: 'a1', b: 'b1' }], nonMatches: [] },
  { sel: "a != 'a1' || b != 'b1'", matches: [], nonMatches: [{ a: 'a1', b: 'b1' }] },
  { sel: "! a == 'a1' || ! b == 'b1'", matches: [], nonMatches: [{ a: 'a1', b: 'b1' }] },
];

/** The semantics checklist of docs/selectors.md, one sentence per case. */
const SEMANTICS: readonly (EvalCase & { readonly name: string })[] = [
  { name: '!= matches when the label is absent', sel: 'a != "x"', matches: [{}, { a: 'y' }, { a: '' }], nonMatches: [{ a: 'x' }] },
  { name: 'not in matches when the label is absent', sel: 'a not in {"x", "y"}', matches: [{}, { a: 'z' }], nonMatches: [{ a: 'x' }, { a: 'y' }] },
  { name: 'has() is true for an empty value', sel: 'has(a)', matches: [{ a: '' }], nonMatches: [{ b: '' }] },
  { name: "== '' matches only an empty value", sel: "a == ''", matches: [{ a: '' }], nonMatches: [{}, { a: ' ' }] },
  { name: 'in {} never matches', sel: 'a in {}', matches: [], nonMatches: [{}, { a: '' }, { a: 'x' }] },
  { name: 'not in {} always matches', sel: 'a not in {}', matches: [{}, { a: '' }, { a: 'x' }], nonMatches: [] },
  { name: 'a trailing comma in a set is accepted', sel: 'a in {"x",}', matches: [{ a: 'x' }], nonMatches: [{ a: '' }] },
  {
    name: '! binds tighter than &&',
    sel: "!a == 'x' && b == 'y'",
    matches: [{ b: 'y' }, { a: 'z', b: 'y' }],
    nonMatches: [{ a: 'x', b: 'y' }, { a: 'z' }],
  },
  { name: '&& binds tighter than ||', sel: "a == 'x' || b == 'y' && c == 'z'", matches: [{ a: 'x' }, { b: 'y', c: 'z' }], nonMatches: [{ b: 'y' }] },
  { name: 'parentheses group', sel: "(a == 'x' || b == 'y') && c == 'z'", matches: [{ a: 'x', c: 'z' }], nonMatches: [{ a: 'x' }] },
  { name: 'global() matches everything, like all()', sel: 'global()', matches: [{}, { a: 'b' }], nonMatches: [] },
  { name: '!all() matches nothing', sel: '!all()', matches: [], nonMatches: [{}, { a: 'b' }] },
  { name: 'matching is case-sensitive in values', sel: 'a == "B"', matches: [{ a: 'B' }], nonMatches: [{ a: 'b' }] },
  { name: 'matching is case-sensitive in label names', sel: 'A == "b"', matches: [{ A: 'b' }], nonMatches: [{ a: 'b' }] },
  { name: 'contains "" matches any present value', sel: 'a contains ""', matches: [{ a: '' }, { a: 'x' }], nonMatches: [{}] },
  { name: 'starts with and ends with work on non-ASCII text', sel: 'a starts with "😀" && a ends with "Ａ"', matches: [{ a: '😀 Ａ' }], nonMatches: [{ a: 'Ａ😀' }] },
  { name: 'a string may hold the other quote', sel: `a == "it's" || b == 'say "hi"'`, matches: [{ a: "it's" }, { b: 'say "hi"' }], nonMatches: [{ a: 'its' }] },
  { name: 'a backslash in a string is literal', sel: 'a == "x\\"', matches: [{ a: 'x\\' }], nonMatches: [{ a: 'x' }] },
  { name: 'operator words are labels where a label is expected', sel: "in == 'x' && contains contains 'y' && has(all)", matches: [{ in: 'x', contains: 'xyz', all: '' }], nonMatches: [{ in: 'x' }] },
  { name: 'fused operator words mean the same', sel: 'a startswith "x" && b endswith "y" && c notin {"z"}', matches: [{ a: 'xa', b: 'by' }], nonMatches: [{ a: 'xa', b: 'by', c: 'z' }] },
  { name: 'labels may use / . - _ and digits', sel: 'projectcalico.org/namespace == "ns-1" && has(k8s_app.v1)', matches: [{ 'projectcalico.org/namespace': 'ns-1', 'k8s_app.v1': '' }], nonMatches: [{ 'projectcalico.org/namespace': 'ns-1' }] },
  { name: 'tabs separate tokens', sel: 'a\t==\t"x"\t&&\thas(\tb\t)', matches: [{ a: 'x', b: '' }], nonMatches: [{ a: 'x' }] },
];

function parsed(text: string): Selector {
  const r = parseSelector(text);
  assert.ok(r.ok, `${JSON.stringify(text)}: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

function checkCase(c: EvalCase): void {
  const sel = parsed(c.sel);
  const again = parsed(sel.canonical);
  for (const [labels, expected] of [
    ...c.matches.map((l) => [l, true] as const),
    ...c.nonMatches.map((l) => [l, false] as const),
  ]) {
    const map = new Map(Object.entries(labels));
    const what = `${JSON.stringify(c.sel)} on ${JSON.stringify(labels)}`;
    assert.equal(sel.matches(map), expected, what);
    assert.equal(evaluateNode(sel.ast, map), expected, `reference evaluator: ${what}`);
    assert.equal(again.matches(map), expected, `after canonicalising to ${again.canonical}: ${what}`);
  }
}

describe('evaluate: Calico parser_test.go selectorTests', () => {
  CALICO_SELECTOR_TESTS.forEach((c, i) => {
    it(`case ${i + 1}: ${JSON.stringify(c.sel)}`, () => {
      checkCase(c);
    });
  });
});

describe('evaluate: semantics', () => {
  for (const c of SEMANTICS) {
    it(c.name, () => {
      checkCase(c);
    });
  }

  it('reads labels through any ReadonlyMap and never writes to it', () => {
    const labels = new Map([['a', 'x']]);
    const frozen: ReadonlyMap<string, string> = labels;
    assert.equal(parsed('a == "x" && !has(b)').matches(frozen), true);
    assert.deepEqual([...labels], [['a', 'x']]);
  });

  it('gives the same verdicts for large sets as for small ones', () => {
    const values = Array.from({ length: 40 }, (_, i) => `v${i}`);
    const sel = parsed(`a in {${values.map((v) => `"${v}"`).join(', ')}}`);
    const not = parsed(`a not in {${values.map((v) => `"${v}"`).join(', ')}}`);
    for (const v of [...values, 'v40', '']) {
      const labels = new Map([['a', v]]);
      assert.equal(sel.matches(labels), values.includes(v));
      assert.equal(not.matches(labels), !values.includes(v));
    }
    assert.equal(sel.matches(new Map()), false);
    assert.equal(not.matches(new Map()), true);
  });

  it('evaluates long && and || chains', () => {
    const and = parsed(Array.from({ length: 6 }, (_, i) => `has(l${i})`).join(' && '));
    const or = parsed(Array.from({ length: 6 }, (_, i) => `has(l${i})`).join(' || '));
    const all = new Map(Array.from({ length: 6 }, (_, i) => [`l${i}`, ''] as const));
    const last = new Map([['l5', '']]);
    assert.deepEqual([and.matches(all), and.matches(last), or.matches(last), or.matches(new Map())], [true, false, true, false]);
  });
});
