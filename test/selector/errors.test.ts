// Rejected selectors: every bad selector of Calico's parser_test.go (`badSelectors`,
// projectcalico/calico 87c15906f20c4ca1fda55af92295e7678b0cc0b2,
// libcalico-go/lib/selector/parser/parser_test.go) is rejected, and each error has a stable
// code and the column of the offending character.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_NESTING, parseSelector } from '../../src/selector/index.ts';

const CALICO_BAD_SELECTORS: readonly string[] = [
  'b == b',
  'b contains b',
  'b starts with b',
  'b ends with b',
  "'b1' == b",
  'b',
  'a b',
  '!',
  'foo == "bar" &',
  'foo == "bar" |',
  'foo != ||',
  'foo in {"", ||',
  'foo in ""',
  '"FOO',
  `"FOO'`,
  "'FOO",
  '(',
  '(a == "foo"',
  ')',
  '()',
  '%',
  'a == "b" && %',
  'a == "b" || %',
  'a ',
  'has(foo) &&',
];

describe('errors: Calico parser_test.go bad selectors are rejected', () => {
  for (const input of CALICO_BAD_SELECTORS) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.equal(parseSelector(input).ok, false);
    });
  }
});

interface ErrorCase {
  readonly name: string;
  readonly input: string;
  readonly code: string;
  /** 1-based column of the offending character (input length + 1 for "at the end"). */
  readonly col: number;
}

const ERROR_CASES: readonly ErrorCase[] = [
  { name: 'an unterminated string points at its opening quote', input: 'a == "b', code: 'selector/unterminated-string', col: 6 },
  { name: 'a backslash does not escape a quote', input: 'a == "x\\"y"', code: 'selector/unterminated-string', col: 11 },
  { name: 'a string may not end with the other quote', input: `"FOO'`, code: 'selector/unterminated-string', col: 1 },
  { name: 'a lone = is not an operator', input: 'label = "value"', code: 'selector/expected-eq', col: 7 },
  { name: '=== is == followed by a lone =', input: 'a === "b"', code: 'selector/expected-eq', col: 5 },
  { name: '=! is not !=', input: 'a =! "b"', code: 'selector/expected-eq', col: 3 },
  { name: '"! =" is NOT followed by a lone =', input: 'a ! = "b"', code: 'selector/expected-eq', col: 5 },
  { name: 'a lone & is not an operator', input: 'a == "b" & has(foo)', code: 'selector/expected-and', col: 10 },
  { name: 'a lone | is not an operator', input: 'a == "b" | has(foo)', code: 'selector/expected-or', col: 10 },
  { name: 'a label must be followed by an operator', input: 'a b', code: 'selector/expected-operator', col: 3 },
  { name: 'an operator word needs a word boundary', input: 'a inx {"a"}', code: 'selector/expected-operator', col: 3 },
  { name: '"ends withs" is not an operator', input: 'label ends withs "value"', code: 'selector/expected-operator', col: 7 },
  { name: '"starts foo" is not an operator', input: 'label starts foo "value"', code: 'selector/expected-operator', col: 7 },
  { name: '"not in" followed by a label is no operator at all', input: 'a not in c', code: 'selector/expected-operator', col: 3 },
  { name: 'a label at the end lacks its operator', input: 'b', code: 'selector/expected-operator', col: 2 },
  { name: 'a label and blanks at the end lack an operator', input: 'a ', code: 'selector/expected-operator', col: 3 },
  { name: '"has (x)" is the label has followed by "("', input: 'has (x)', code: 'selector/expected-operator', col: 5 },
  { name: '"all ( )" is the label all followed by "("', input: 'all ( )', code: 'selector/expected-operator', col: 5 },
  { name: 'a label followed by a string lacks an operator', input: 'a "b"', code: 'selector/expected-operator', col: 3 },
  { name: 'has() needs a label', input: 'has()', code: 'selector/expected-identifier', col: 5 },
  { name: 'has( needs its closing parenthesis', input: 'has(foo', code: 'selector/expected-close-paren', col: 8 },
  { name: 'has( takes a single label', input: 'has(a b)', code: 'selector/expected-close-paren', col: 7 },
  { name: 'all( needs its closing parenthesis', input: 'all(', code: 'selector/expected-close-paren', col: 5 },
  { name: 'global() takes no argument', input: 'global(x)', code: 'selector/expected-close-paren', col: 8 },
  { name: 'a label of 513 characters is too long', input: `${'a'.repeat(513)} == "v"`, code: 'selector/label-too-long', col: 1 },
  { name: 'a has() label of 513 characters is too long', input: `has(${'a'.repeat(513)})`, code: 'selector/label-too-long', col: 5 },
  { name: 'a character outside the label set cannot start a term', input: '%', code: 'selector/unexpected-character', col: 1 },
  { name: 'an unexpected character is found after &&', input: 'a == "b" && %', code: 'selector/unexpected-character', col: 13 },
  { name: 'a label may not contain ":"', input: 'a:b == "c"', code: 'selector/expected-operator', col: 2 },
  { name: 'a label may not contain non-ASCII letters', input: 'é == "x"', code: 'selector/unexpected-character', col: 1 },
  { name: 'typographic quotes are not quotes', input: 'a == \u201cb\u201d', code: 'selector/unexpected-character', col: 6 },
  { name: 'a trailing newline is an error', input: 'a == "b"\n', code: 'selector/invalid-whitespace', col: 9 },
  { name: 'a newline between tokens is an error', input: 'a\n== "b"', code: 'selector/invalid-whitespace', col: 2 },
  { name: 'a leading newline is an error', input: '\na == "b"', code: 'selector/invalid-whitespace', col: 1 },
  { name: 'a carriage return is an error', input: 'a == "b"\r\n', code: 'selector/invalid-whitespace', col: 9 },
  { name: 'a no-break space is not whitespace', input: 'a ==\u00a0"b"', code: 'selector/invalid-whitespace', col: 5 },
  { name: 'a newline inside has( is an error', input: 'has(\na)', code: 'selector/invalid-whitespace', col: 5 },
  { name: 'a value must be quoted', input: 'b == b', code: 'selector/expected-string', col: 6 },
  { name: 'a number is not a string', input: 'a == 1', code: 'selector/expected-string', col: 6 },
  { name: 'contains needs a quoted value', input: 'b contains b', code: 'selector/expected-string', col: 12 },
  { name: 'an operator needs a value', input: 'foo != ||', code: 'selector/expected-string', col: 8 },
  { name: 'a value cannot come first', input: "'b1' == b", code: 'selector/unexpected-token', col: 1 },
  { name: 'a closing parenthesis cannot start a term', input: ')', code: 'selector/unexpected-token', col: 1 },
  { name: 'empty parentheses hold no term', input: '()', code: 'selector/unexpected-token', col: 2 },
  { name: 'a string cannot follow &&', input: 'a == "b" && "c"', code: 'selector/unexpected-token', col: 13 },
  { name: 'a set literal alone is not a term', input: '{"a"}', code: 'selector/unexpected-token', col: 1 },
  { name: '"!" alone lacks its operand', input: '!', code: 'selector/unexpected-end', col: 2 },
  { name: '&& at the end lacks its operand', input: 'has(foo) &&', code: 'selector/unexpected-end', col: 12 },
  { name: 'an open parenthesis alone lacks a term', input: '(', code: 'selector/unexpected-end', col: 2 },
  { name: 'in needs a set literal', input: 'foo in ""', code: 'selector/expected-set', col: 8 },
  { name: 'in needs braces, not a label', input: 'a in c', code: 'selector/expected-set', col: 6 },
  { name: 'a set literal needs its closing brace', input: 'a in {"a"', code: 'selector/expected-close-brace', col: 10 },
  { name: 'a set literal cannot start with a comma', input: 'a in {,}', code: 'selector/expected-close-brace', col: 7 },
  { name: 'a set literal cannot have two commas in a row', input: 'a in {"a",,"b"}', code: 'selector/expected-close-brace', col: 11 },
  { name: 'set items need commas between them', input: 'a in {"a" "b"}', code: 'selector/expected-close-brace', col: 11 },
  { name: 'set items must be strings', input: 'a in {b}', code: 'selector/expected-close-brace', col: 7 },
  { name: 'a set literal stops at ||', input: 'foo in {"", ||', code: 'selector/expected-close-brace', col: 13 },
  { name: 'an open parenthesis needs its closing one', input: '(a == "foo"', code: 'selector/expected-close-paren', col: 12 },
  { name: 'terms need && or || between them', input: 'a == "b" c == "d"', code: 'selector/trailing-content', col: 10 },
  { name: 'an extra closing parenthesis is trailing content', input: '(a == "b"))', code: 'selector/trailing-content', col: 11 },
  {
    name: 'parentheses nested deeper than the limit are refused',
    input: `${'('.repeat(MAX_NESTING + 1)}has(a)${')'.repeat(MAX_NESTING + 1)}`,
    code: 'selector/too-deeply-nested',
    col: MAX_NESTING + 1,
  },
];

describe('errors: codes and columns', () => {
  for (const c of ERROR_CASES) {
    it(c.name, () => {
      const r = parseSelector(c.input);
      assert.equal(r.ok, false, `expected ${JSON.stringify(c.input)} to be rejected`);
      const [d, ...rest] = r.diagnostics;
      assert.ok(d !== undefined);
      assert.equal(rest.length, 0, 'one error per selector');
      assert.equal(d.code, c.code, d.message);
      assert.equal(d.severity, 'error');
      assert.equal(d.span?.file, '<selector>');
      assert.equal(d.span?.line, 1);
      assert.equal(d.span?.col, c.col, `${d.code}: ${d.message}`);
      assert.ok((d.span?.endCol ?? 0) >= c.col);
    });
  }
});

describe('errors: messages and help', () => {
  function only(input: string): { message: string; help: string | undefined } {
    const r = parseSelector(input);
    assert.ok(!r.ok);
    const d = r.diagnostics[0]!;
    return { message: d.message, help: d.help };
  }

  it('tells people that values must be quoted', () => {
    assert.equal(only('app == web').help, "selector values must be quoted: a == 'b'");
  });

  it('tells people that newlines are not whitespace', () => {
    assert.match(only('a == "b"\n').help ?? '', /newlines are not whitespace in selectors/);
  });

  it('names the label that lacks an operator, as Calico does', () => {
    assert.match(only('app web').message, /label "app"/);
  });

  it('explains "has (" as a label named has', () => {
    assert.match(only('has (x)').help ?? '', /no space before/);
  });

  it('says where the unclosed parenthesis opened', () => {
    assert.match(only('a == "b" && (c == "d"').message, /column 13/);
  });

  it('spans a too-long label from its first character to its last', () => {
    const r = parseSelector(`x == "1" && ${'a'.repeat(600)} == "v"`);
    assert.ok(!r.ok);
    assert.deepEqual([r.diagnostics[0]!.span?.col, r.diagnostics[0]!.span?.endCol], [13, 612]);
  });

  it('reports a lexical error anywhere before a syntax error earlier on, as Calico tokenizes first', () => {
    const r = parseSelector(') && "unterminated');
    assert.ok(!r.ok);
    assert.equal(r.diagnostics[0]!.code, 'selector/unterminated-string');
  });
});
