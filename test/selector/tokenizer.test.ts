// Tokenizer tables. The first table re-expresses the cases of Calico's
// libcalico-go/lib/selector/tokenizer/tokenizer_test.go (projectcalico/calico at
// 87c15906f20c4ca1fda55af92295e7678b0cc0b2) as `kind(value)` strings; the rest add spans and
// the lexical rules of docs/selectors.md.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Token } from '../../src/selector/index.ts';
import { tokenizeSelector } from '../../src/selector/index.ts';

function show(tokens: readonly Token[]): string {
  return tokens.map((t) => (t.value === '' && t.kind !== 'string' ? t.kind : `${t.kind}(${t.value})`)).join(' ');
}

function tokens(input: string): string {
  const r = tokenizeSelector(input);
  assert.ok(r.ok, `expected ${JSON.stringify(input)} to tokenize, got ${JSON.stringify(r.diagnostics)}`);
  return show(r.value);
}

const CALICO_TOKEN_CASES: readonly (readonly [input: string, expected: string])[] = [
  ['a=="b"', 'label(a) eq string(b) eof'],
  ['a!="b"', 'label(a) ne string(b) eof'],
  ['a != "b"', 'label(a) ne string(b) eof'],
  ['(a=="b")', 'lparen label(a) eq string(b) rparen eof'],
  ['label == "value"', 'label(label) eq string(value) eof'],
  ['label contains "value"', 'label(label) contains string(value) eof'],
  ['contains contains "contains"', 'label(contains) contains string(contains) eof'],
  ["contains contains 'contains'", 'label(contains) contains string(contains) eof'],
  ['label contains"value"', 'label(label) contains string(value) eof'],
  ['label startswith "value"', 'label(label) starts-with string(value) eof'],
  ['label endswith "value"', 'label(label) ends-with string(value) eof'],
  ['label starts with "value"', 'label(label) starts-with string(value) eof'],
  ['startswith starts with "value"', 'label(startswith) starts-with string(value) eof'],
  ['label ends with "value"', 'label(label) ends-with string(value) eof'],
  ['endswith ends with "value"', 'label(endswith) ends-with string(value) eof'],
  ['label starts  with "value"', 'label(label) starts-with string(value) eof'],
  ['label ends  with "value"', 'label(label) ends-with string(value) eof'],
  [`${'a'.repeat(512)} == "value"`, `label(${'a'.repeat(512)}) eq string(value) eof`],
  ['a not in "bar" && !has(foo) || b in c', 'label(a) not-in string(bar) and not has(foo) or label(b) in label(c) eof'],
  ['has(calico/k8s_ns)', 'has(calico/k8s_ns) eof'],
  ['has(calico/k8s_ns/role)', 'has(calico/k8s_ns/role) eof'],
  ['has(calico/k8s_NS-.1/role)', 'has(calico/k8s_NS-.1/role) eof'],
  [
    'calico/k8s_ns == "kube-system" && k8s-app == "kube-dns"',
    'label(calico/k8s_ns) eq string(kube-system) and label(k8s-app) eq string(kube-dns) eof',
  ],
  ['a  not  in  "bar"  &&  ! has( foo )  ||  b  in  c ', 'label(a) not-in string(bar) and not has(foo) or label(b) in label(c) eof'],
  ['a notin"bar"&&!has(foo)||b in"c"', 'label(a) not-in string(bar) and not has(foo) or label(b) in string(c) eof'],
  ['a not in {}', 'label(a) not-in lbrace rbrace eof'],
  ['a not in {"a"}', 'label(a) not-in lbrace string(a) rbrace eof'],
  ['a not in {"a","B"}', 'label(a) not-in lbrace string(a) comma string(B) rbrace eof'],
  ['global()', 'global eof'],
  ['global( )', 'global eof'],
  ['all()', 'all eof'],
  ['all( )', 'all eof'],
];

const CALICO_TOKEN_ERRORS: readonly string[] = [
  `${'a'.repeat(513)} == "value"`,
  'label == "value',
  "label == 'value",
  'label = "value"',
  'all(',
  'global(',
  'has()',
  'has(foo',
  'has( foo ',
  'a == "b" & has(foo)',
  'a == "b" | has(foo)',
  'label starts foo "value"',
  'label inf "value"',
  'label ends foo "value"',
  'label ends withs "value"',
  'label squiggles "value"',
];

describe('tokenizer: Calico tokenizer_test.go cases', () => {
  for (const [input, expected] of CALICO_TOKEN_CASES) {
    it(`tokenizes ${JSON.stringify(input.length > 40 ? `${input.slice(0, 37)}...` : input)}`, () => {
      assert.equal(tokens(input), expected);
    });
  }
  for (const input of CALICO_TOKEN_ERRORS) {
    it(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 37)}...` : input)}`, () => {
      assert.equal(tokenizeSelector(input).ok, false);
    });
  }
});

describe('tokenizer: lexical rules', () => {
  const cases: readonly (readonly [name: string, input: string, expected: string])[] = [
    ['the empty string is just end of input', '', 'eof'],
    ['spaces and tabs are whitespace', ' \t a\t==\t"b" \t', 'label(a) eq string(b) eof'],
    ['a string may hold the other quote', `a == "it's" || b == 'say "hi"'`, `label(a) eq string(it's) or label(b) eq string(say "hi") eof`],
    ['a backslash is an ordinary character in a string', 'a == "x\\"', 'label(a) eq string(x\\) eof'],
    ['a string may hold newlines, brackets and non-ASCII text', 'a == "(\n)😀"', 'label(a) eq string((\n)😀) eof'],
    ['an empty string is a string', "a == ''", 'label(a) eq string() eof'],
    ['"!=" is one token even right after "!"', '!a!="b"', 'not label(a) ne string(b) eof'],
    ['"!" before a space and "=" is NOT', '!!has(a)', 'not not has(a) eof'],
    ['has( takes blanks around the label', 'has(\t a \t)', 'has(a) eof'],
    ['operator words are labels unless they follow a label', 'in == "x" && not in {"a"}', 'label(in) eq string(x) and label(not) in lbrace string(a) rbrace eof'],
    ['has( all( global( after a label are not calls', 'has(all) && all == "x" && global != "y"', 'has(all) and label(all) eq string(x) and label(global) ne string(y) eof'],
    ['"not in" may be fused or spread with blanks', 'a notin {} || b not \t in {}', 'label(a) not-in lbrace rbrace or label(b) not-in lbrace rbrace eof'],
    ['an operator word may touch a brace or a quote', 'a in{"b"} && c startswith"d"', 'label(a) in lbrace string(b) rbrace and label(c) starts-with string(d) eof'],
    ['an operator word may touch a parenthesis (the parser rejects it)', 'a in(', 'label(a) in lparen eof'],
    ['"has (" is a label followed by a parenthesis', 'has (x)', 'label(has) lparen label(x) rparen eof'],
    ['"all ( )" is a label followed by parentheses', 'all ( )', 'label(all) lparen rparen eof'],
    ['a value may be unquoted text at this stage (the parser rejects it)', 'a == b', 'label(a) eq label(b) eof'],
    ['a trailing comma in a set is a comma', 'a in {"a",}', 'label(a) in lbrace string(a) comma rbrace eof'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      assert.equal(tokens(input), expected);
    });
  }
});

describe('tokenizer: spans', () => {
  it('gives every token its 1-based columns with an inclusive end', () => {
    const r = tokenizeSelector(`app == 'web' && has( tier )`);
    assert.ok(r.ok);
    const cols = r.value.map((t) => [t.kind, t.span.col, t.span.endCol]);
    assert.deepEqual(cols, [
      ['label', 1, 3],
      ['eq', 5, 6],
      ['string', 8, 12],
      ['and', 14, 15],
      ['has', 17, 27],
      ['eof', 28, 28],
    ]);
  });

  it('points a string value and a has() label at their own text', () => {
    const r = tokenizeSelector(`has( tier ) || a == 'web'`);
    assert.ok(r.ok);
    const has = r.value[0]!;
    const str = r.value[4]!;
    assert.deepEqual([has.valueSpan.col, has.valueSpan.endCol], [6, 9]);
    assert.deepEqual([str.valueSpan.col, str.valueSpan.endCol], [22, 24]);
  });

  it('spans a spread operator from its first word to its last', () => {
    const r = tokenizeSelector('a starts   with "b"');
    assert.ok(r.ok);
    assert.deepEqual([r.value[1]!.span.col, r.value[1]!.span.endCol], [3, 15]);
  });

  it('uses the pseudo file <selector> on line 1', () => {
    const r = tokenizeSelector('a == "b"');
    assert.ok(r.ok);
    for (const t of r.value) assert.deepEqual([t.span.file, t.span.line], ['<selector>', 1]);
  });
});
