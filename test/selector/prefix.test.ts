// Prefixing: the `Visitor` table of Calico's libcalico-go/lib/selector/parser/parser_test.go
// (projectcalico/calico 87c15906f20c4ca1fda55af92295e7678b0cc0b2), with prefix "visited/".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Selector } from '../../src/selector/index.ts';
import { ALL_SELECTOR, parseSelector, prefixSelector } from '../../src/selector/index.ts';

function parsed(text: string): Selector {
  const r = parseSelector(text);
  assert.ok(r.ok, `${JSON.stringify(text)}: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

const CALICO_VISITOR_CASES: readonly (readonly [name: string, input: string, output: string])[] = [
  ['prefixes the label of ==', "k == 'v'", 'visited/k == "v"'],
  ['prefixes the label of !=', "k != 'v'", 'visited/k != "v"'],
  ['prefixes the label of contains', "k contains 'v'", 'visited/k contains "v"'],
  ['prefixes the label of starts with', "k starts with 'v'", 'visited/k starts with "v"'],
  ['prefixes the label of ends with', "k ends with 'v'", 'visited/k ends with "v"'],
  ['prefixes every operand of &&', "k == 'v' && x == 'y'", '(visited/k == "v" && visited/x == "y")'],
  ['prefixes every operand of ||', "k == 'v' || has(x)", '(visited/k == "v" || has(visited/x))'],
  ['prefixes under !', "!(k == 'v')", '!visited/k == "v"'],
  ['prefixes the label of in', "k in {'v'}", 'visited/k in {"v"}'],
  ['prefixes the label of not in', "k not in {'v'}", 'visited/k not in {"v"}'],
  [
    'prefixes a big complex selector and leaves all() alone',
    "!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
    '!(!((visited/k == "v" && has(visited/t)) || all()) && visited/a in {"b", "c"})',
  ],
];

describe('prefix: Calico PrefixVisitor cases', () => {
  for (const [name, input, output] of CALICO_VISITOR_CASES) {
    it(name, () => {
      assert.equal(prefixSelector(parsed(input), 'visited/').canonical, output);
    });
  }
});

describe('prefix: behaviour', () => {
  it('leaves all() and global() alone', () => {
    assert.equal(prefixSelector(parsed('all() || global()'), 'pcns.').canonical, '(all() || global())');
    assert.equal(prefixSelector(ALL_SELECTOR, 'pcns.').id, ALL_SELECTOR.id);
  });

  it('gives the prefixed selector its own id, source and matcher', () => {
    const sel = prefixSelector(parsed("team == 'a'"), 'pcns.');
    assert.equal(sel.source, 'pcns.team == "a"');
    assert.equal(sel.id, parsed('pcns.team == "a"').id);
    assert.equal(sel.matches(new Map([['pcns.team', 'a']])), true);
    assert.equal(sel.matches(new Map([['team', 'a']])), false);
  });

  it('keeps the original spans, so findings point at what the user wrote', () => {
    const original = parsed("  team == 'a'");
    const sel = prefixSelector(original, 'pcns.');
    assert.deepEqual(sel.ast.span, original.ast.span);
  });

  it('does not change the selector it was given', () => {
    const original = parsed("has(a) && b == 'c'");
    prefixSelector(original, 'p/');
    assert.equal(original.canonical, '(has(a) && b == "c")');
  });
});
