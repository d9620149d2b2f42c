// Label restrictions: the table of Calico's
// libcalico-go/lib/selector/parser/label_restriction_test.go (projectcalico/calico
// 87c15906f20c4ca1fda55af92295e7678b0cc0b2), each case also wrapped as `all() && (…)`, which
// must change nothing; then isUnsatisfiable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabelRestriction, Selector } from '../../src/selector/index.ts';
import { NO_MATCH_SELECTOR, isPossibleToSatisfy, isUnsatisfiable, labelRestrictions, parseSelector } from '../../src/selector/index.ts';

function parsed(text: string): Selector {
  const r = parseSelector(text);
  assert.ok(r.ok, `${JSON.stringify(text)}: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

/** Present, with a value that must be one of `values` (none: no value will do). */
const presentOneOf = (...values: string[]): LabelRestriction => ({
  mustBePresent: true,
  mustBeAbsent: false,
  mustHaveOneOfValues: values,
});
const PRESENT: LabelRestriction = { mustBePresent: true, mustBeAbsent: false };
const ABSENT: LabelRestriction = { mustBePresent: false, mustBeAbsent: true };

const CALICO_CASES: readonly (readonly [selector: string, expected: Readonly<Record<string, LabelRestriction>>])[] = [
  ['', {}],
  ['all()', {}],
  ['global()', {}],
  ["a == 'value'", { a: presentOneOf('value') }],
  ['has(a)', { a: PRESENT }],
  ["a in {'v1','v2'}", { a: presentOneOf('v1', 'v2') }],
  ["a not in {'v1','v2'}", {}],
  ["a contains 'foo'", { a: PRESENT }],
  ["a ends with 'foo'", { a: PRESENT }],
  ["a starts with 'foo'", { a: PRESENT }],
  ["a != 'value'", {}],
  ["a == 'v1' && a == 'v1'", { a: presentOneOf('v1') }],
  ["a == 'v1' && a == 'v2'", { a: presentOneOf() }],
  ["a == 'v1' && has(a)", { a: presentOneOf('v1') }],
  ["a in {'v1','v2'} && a in {'v2','v3'} ", { a: presentOneOf('v2') }],
  ["a in {'v1','v2', 'v3'} && a in {'v2','v3'} ", { a: presentOneOf('v2', 'v3') }],
  ["has(a) && a == 'v1'", { a: presentOneOf('v1') }],
  ['has(a) && !has(a)', { a: { mustBePresent: true, mustBeAbsent: true } }],
  ["a == 'v1' && b == 'v2'", { a: presentOneOf('v1'), b: presentOneOf('v2') }],
  ["a == 'v1' && all()", { a: presentOneOf('v1') }],
  ["all() && a == 'v1'", { a: presentOneOf('v1') }],
  ["a == 'v1' || a == 'v2'", { a: presentOneOf('v1', 'v2') }],
  ["has(a) || a == 'v2'", { a: PRESENT }],
  ["a=='v2' || has(a)", { a: PRESENT }],
  ["a=='v2' || has(b)", {}],
  ["a=='v2' || (has(b) && has(a))", { a: PRESENT }],
  ["a == 'v1' || b == 'v2'", {}],
  ["a == 'v1' || all()", {}],
  ["all() || b == 'v2'", {}],
  ["!(a == 'value')", {}],
  ['!has(a)', { a: ABSENT }],
  ['!!has(a)', { a: PRESENT }],
];

/** Cases beyond Calico's table, checked against Calico's own implementation. */
const MORE_CASES: readonly (readonly [name: string, selector: string, expected: Readonly<Record<string, LabelRestriction>>])[] = [
  ['an empty set restricts presence only (Calico stores it as "no value list")', 'a in {}', { a: PRESENT }],
  ['an empty set then intersects as if unrestricted', "a in {} && a == 'x'", { a: presentOneOf('x') }],
  ['!(!has(a)) restricts nothing: only !has() directly inverts', '!(!has(a))', {}],
  ['|| keeps absence when every side needs it', '!has(a) || (!has(a) && has(b))', { a: ABSENT }],
  ['|| unions the values of all sides', "a == 'z' || a in {'x', 'y'} || a == 'x'", { a: presentOneOf('x', 'y', 'z') }],
  ['values come out sorted by code point', "a in {'😀', 'Ａ', 'b'}", { a: presentOneOf('b', 'Ａ', '😀') }],
];

function restrictionsOf(text: string): Record<string, LabelRestriction> {
  return Object.fromEntries(labelRestrictions(parsed(text)));
}

describe('label restrictions: Calico label_restriction_test.go', () => {
  for (const [selector, expected] of CALICO_CASES) {
    it(`restricts ${JSON.stringify(selector)}`, () => {
      assert.deepEqual(restrictionsOf(selector), expected);
      if (selector !== '') assert.deepEqual(restrictionsOf(`all() && (${selector})`), expected, 'with all() && prefix');
    });
  }
});

describe('label restrictions: more cases', () => {
  for (const [name, selector, expected] of MORE_CASES) {
    it(name, () => {
      assert.deepEqual(restrictionsOf(selector), expected);
    });
  }

  it('judges a restriction satisfiable as Calico does', () => {
    assert.equal(isPossibleToSatisfy(PRESENT), true);
    assert.equal(isPossibleToSatisfy({ mustBePresent: true, mustBeAbsent: true }), false);
    assert.equal(isPossibleToSatisfy(presentOneOf()), false);
    assert.equal(isPossibleToSatisfy(presentOneOf('x')), true);
  });
});

describe('label restrictions: isUnsatisfiable', () => {
  const UNSATISFIABLE: readonly string[] = [
    "a == 'x' && a == 'y'",
    'has(a) && !has(a)',
    "a in {'x'} && a in {'y', 'z'}",
    'a in {}',
    '!all()',
    '!global()',
    '!(a not in {})',
    "(a == 'x' && a == 'y') || b in {}",
    "has(c) && (a == 'x' && a == 'y' || !all())",
    "!(has(b) || !(a == '1' && a == '2'))",
  ];
  const SATISFIABLE: readonly string[] = [
    '',
    "a == 'x'",
    "a == 'x' || a == 'y'",
    "a == 'x' && b == 'y'",
    "a != 'x' && a != 'y'",
    'a not in {}',
    "(a == 'x' && a == 'y') || has(b)",
    '!!all()',
    // Sound, not complete: these match nothing but are not proven so (nor by Calico).
    "a == 'x' && a != 'x'",
    "a starts with 'x' && a starts with 'y'",
  ];
  for (const s of UNSATISFIABLE) {
    it(`proves ${JSON.stringify(s)} matches nothing`, () => {
      assert.equal(isUnsatisfiable(parsed(s)), true);
    });
  }
  for (const s of SATISFIABLE) {
    it(`does not claim ${JSON.stringify(s)} matches nothing`, () => {
      assert.equal(isUnsatisfiable(parsed(s)), false);
    });
  }
  it('knows the NoMatch selector matches nothing', () => {
    assert.equal(isUnsatisfiable(NO_MATCH_SELECTOR), true);
  });
});
