// Canonical form (Calico's Selector.String()) and unique ids. The first table re-expresses
// `canonicalisationTests` of Calico's libcalico-go/lib/selector/parser/parser_test.go
// (projectcalico/calico 87c15906f20c4ca1fda55af92295e7678b0cc0b2), including its known ids.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Selector } from '../../src/selector/index.ts';
import {
  ALL_SELECTOR,
  NO_MATCH_SELECTOR,
  andNode,
  formatCanonical,
  hasNode,
  normaliseSelector,
  notNode,
  orNode,
  parseSelector,
  selectorFromAst,
  setNode,
  valueNode,
} from '../../src/selector/index.ts';

function parsed(text: string): Selector {
  const r = parseSelector(text);
  assert.ok(r.ok, `${JSON.stringify(text)}: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

const ALL_ID = 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug';

const CALICO_CANONICAL: readonly (readonly [input: string, canonical: string, id?: string])[] = [
  ['', 'all()', ALL_ID],
  [' all() ', 'all()', ALL_ID],
  [' (all() )', 'all()', ALL_ID],
  ['! (has( b)||! has(a ))', '!(has(b) || !has(a))', 's:Iss0uCleLYv1GSv_pNm7hAO58kE9jAx1NKyG3Q'],
  ['! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")', 's:lh3haoY1ikTRkd4UZu0nWSaIBknYLPJLX16d-w'],
  [`a == "'"`, `a == "'"`],
  [`a == '"'`, `a == '"'`],
  [`a contains '"'`, `a contains '"'`],
  [`a contains "'"`, `a contains "'"`],
  [`a startswith '"'`, `a starts with '"'`],
  [`a endswith "'"`, `a ends with "'"`],
  [`a!='"'`, `a != '"'`],
  ['a in {"d"}', 'a in {"d"}'],
  ['a in {"a", "b"}', 'a in {"a", "b"}'],
  ['a in {"d", "a", "b"}', 'a in {"a", "b", "d"}'],
  ['a in {"z", "x", "y", "a"}', 'a in {"a", "x", "y", "z"}'],
  ['a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}'],
];

const MORE_CANONICAL: readonly (readonly [name: string, input: string, canonical: string])[] = [
  ['a blank selector is all()', ' \t ', 'all()'],
  ['single quotes become double quotes', "a == 'b'", 'a == "b"'],
  ['operators get single spaces', 'a==\t"b"', 'a == "b"'],
  ['"!" adds no parentheses of its own', '!(a == "b")', '!a == "b"'],
  ['&& is always parenthesised, even at the top', 'a == "b" && has(c)', '(a == "b" && has(c))'],
  ['&& inside || keeps its own parentheses', 'a == "b" && c == "d" || e == "f"', '((a == "b" && c == "d") || e == "f")'],
  ['written grouping is kept', 'a == "b" && (c == "d" || e == "f")', '(a == "b" && (c == "d" || e == "f"))'],
  ['chains are flat, nesting is not flattened', '(has(a) && has(b)) && has(c)', '((has(a) && has(b)) && has(c))'],
  ['redundant parentheses around one term vanish', '((has(a)))', 'has(a)'],
  ['an even run of "!" vanishes', '!!has(a)', 'has(a)'],
  ['an odd run of "!" is one "!"', '! ! !has(a)', '!has(a)'],
  ['"!" around "!" in parentheses is kept twice, as in Calico', '!(!has(a))', '!!has(a)'],
  ['the empty set prints as {}', 'a in {} || b not in { }', '(a in {} || b not in {})'],
  ['a trailing comma disappears', 'a not in {"b",}', 'a not in {"b"}'],
  ['each set item chooses its own quotes, " sorting before \'', `a in {"'", '"'}`, `a in {'"', "'"}`],
  ['sets sort by code point (UTF-8 byte order), not UTF-16', 'a in {"😀", "Ａ", "z"}', 'a in {"z", "Ａ", "😀"}'],
  ['global( ) prints as global()', 'global( )', 'global()'],
  ['all() is not folded away', 'a == "x" || all()', '(a == "x" || all())'],
  ['fused and spread operator words print as two words', 'a notin {"x"} && b starts  with "y"', '(a not in {"x"} && b starts with "y")'],
  ['the empty value prints as ""', "a == ''", 'a == ""'],
  ['values keep blanks and tabs', "a == ' x\ty '", 'a == " x\ty "'],
  ['the Calico visitor example (without prefix)', "!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))", '!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})'],
];

describe('canonical: Calico parser_test.go canonicalisationTests', () => {
  for (const [input, canonical, id] of CALICO_CANONICAL) {
    it(`prints ${JSON.stringify(input)} as ${canonical}${id === undefined ? '' : ` with id ${id}`}`, () => {
      const sel = parsed(input);
      assert.equal(sel.canonical, canonical);
      const again = parsed(sel.canonical);
      assert.equal(again.canonical, canonical, 'round trip');
      assert.equal(again.id, sel.id);
      if (id !== undefined) assert.equal(sel.id, id);
    });
  }
});

describe('canonical: printing rules', () => {
  for (const [name, input, canonical] of MORE_CANONICAL) {
    it(name, () => {
      assert.equal(parsed(input).canonical, canonical);
    });
  }

  it('keeps the text as given in source', () => {
    assert.equal(parsed(" a == 'b' ").source, " a == 'b' ");
  });

  it('is reached in two steps even for !(!x), whose canonical text reparses to x', () => {
    const once = parsed('!(!has(a))').canonical;
    const twice = parsed(once).canonical;
    assert.deepEqual([once, twice, parsed(twice).canonical], ['!!has(a)', 'has(a)', 'has(a)']);
  });
});

describe('canonical: selectors built from an AST', () => {
  it('prints an AST built in code', () => {
    const ast = andNode([valueNode('eq', 'app', 'web'), notNode(hasNode('legacy')), setNode('in', 'tier', ['b', 'a', 'b'])]);
    const sel = selectorFromAst(ast);
    assert.equal(sel.canonical, '(app == "web" && !has(legacy) && tier in {"a", "b"})');
    assert.equal(sel.source, sel.canonical);
    assert.equal(sel.id, parsed(sel.canonical).id);
    assert.equal(sel.matches(new Map([['app', 'web'], ['tier', 'a']])), true);
  });

  it('sorts set values that were built unsorted', () => {
    const ast = { op: 'not-in', label: 'a', values: ['b', 'a', 'a'], span: ALL_SELECTOR.ast.span } as const;
    assert.equal(formatCanonical(ast), 'a not in {"a", "b"}');
  });

  it('returns a single operand of && or || as itself', () => {
    assert.equal(formatCanonical(orNode([hasNode('a')])), 'has(a)');
  });

  it('provides all() and Calico\'s NoMatch !all()', () => {
    assert.deepEqual([ALL_SELECTOR.canonical, ALL_SELECTOR.id], ['all()', ALL_ID]);
    assert.equal(NO_MATCH_SELECTOR.canonical, '!all()');
    assert.equal(NO_MATCH_SELECTOR.matches(new Map()), false);
    assert.equal(ALL_SELECTOR.matches(new Map()), true);
  });
});

describe('canonical: normaliseSelector (Calico selector.Normalise)', () => {
  const cases: readonly (readonly [name: string, input: string, expected: string])[] = [
    ['prints a valid selector canonically', "a=='b'", 'a == "b"'],
    ['trims newlines first, so a YAML block scalar normalises', 'a == "b"\n', 'a == "b"'],
    ['trims Unicode spaces as Go does', '\u00a0\u3000has(a)\u0085', 'has(a)'],
    ['keeps U+FEFF, which Go does not count as space (and then fails to parse)', '\ufeffhas(a)', '\ufeffhas(a)'],
    ['returns invalid text trimmed but unchanged', '  a = b \n', 'a = b'],
    ['turns the empty string into all()', '', 'all()'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      assert.equal(normaliseSelector(input), expected);
    });
  }
});
