// fast-check generators for selector tests: valid selector text written in every way the grammar
// allows (fused operator words, blanks or none, both quote styles, runs of "!", parentheses,
// keyword-named labels), mutations of it, and label maps drawn from the same small vocabulary so
// that random selectors and random labels actually meet.
import fc from 'fast-check';

/** Label names, including ones that look like keywords (legal: keywords only count after a label). */
export const LABEL_NAMES = ['a', 'b', 'app', 'tier', 'in', 'not', 'has', 'all', 'global', 'contains', 'x.y/z-1_'] as const;

/** Values, including empty, quotes of either kind, blanks, operators and non-BMP text. */
export const VALUES = ['', 'a', 'b', 'ab', 'web', "it's", 'say "hi"', 'a b', '(', '&&', 'Ａ', '😀', 'a\tb'] as const;

const blank = fc.constantFrom('', '', ' ', '\t', '  ');
const someBlank = fc.constantFrom(' ', '\t', '  ', ' \t');
const label = fc.constantFrom(...LABEL_NAMES);
const value = fc.constantFrom(...VALUES);

/** A value in a quote that can hold it (there are no escapes). */
const quoted = value.chain((v) => {
  if (v.includes('"')) return fc.constant(`'${v}'`);
  if (v.includes("'")) return fc.constant(`"${v}"`);
  return fc.constantFrom(`"${v}"`, `'${v}'`);
});

/** An operator taking one value, with the blanks it needs before it (a word needs at least one). */
const valueOperator = fc.oneof(
  fc.tuple(blank, fc.constantFrom('==', '!=')).map(([b, op]) => b + op),
  fc
    .tuple(someBlank, fc.constantFrom('contains', 'starts with', 'startswith', 'starts  with', 'ends with', 'endswith'))
    .map(([b, op]) => b + op),
);

const setOperator = fc
  .tuple(someBlank, fc.constantFrom('in', 'not in', 'notin', 'not\tin'))
  .map(([b, op]) => b + op);

const setLiteral = fc
  .tuple(blank, fc.array(fc.tuple(quoted, blank, blank), { maxLength: 4 }), fc.boolean(), blank)
  .map(([open, items, trailingComma, close]) => {
    const body = items.map(([q, b1, b2], i) => (i > 0 ? `${b1},${b2}` : '') + q).join('');
    return `{${open}${body}${trailingComma && items.length > 0 ? ',' : ''}${close}}`;
  });

const leaf = fc.oneof(
  fc.tuple(blank, label, blank).map(([b1, l, b2]) => `has(${b1}${l}${b2})`),
  blank.map((b) => `all(${b})`),
  blank.map((b) => `global(${b})`),
  fc.tuple(label, valueOperator, blank, quoted).map((parts) => parts.join('')),
  fc.tuple(label, setOperator, blank, setLiteral).map((parts) => parts.join('')),
);

/** Valid selector text (never empty; see `selectorText` for the blank forms). */
export const expressionText: fc.Arbitrary<string> = fc.letrec<{ expr: string; unary: string; primary: string }>(
  (tie) => ({
    expr: fc
      .tuple(tie('unary'), fc.array(fc.tuple(blank, fc.constantFrom('&&', '||'), blank, tie('unary')), { maxLength: 3 }))
      .map(([first, rest]) => first + rest.map((r) => r.join('')).join('')),
    unary: fc
      .tuple(fc.array(fc.tuple(fc.constant('!'), blank), { maxLength: 3 }), tie('primary'))
      .map(([bangs, p]) => bangs.map((b) => b.join('')).join('') + p),
    primary: fc.oneof(
      { maxDepth: 3, depthIdentifier: 'selector' },
      leaf,
      fc.tuple(blank, tie('expr'), blank).map(([b1, e, b2]) => `(${b1}${e}${b2})`),
    ),
  }),
).expr;

/** Valid selector text, with blanks around it, or blank only (= all()). */
export const selectorText: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(blank, expressionText, blank).map((p) => p.join('')) },
  { weight: 1, arbitrary: blank },
);

/** Characters and fragments that most often break a selector when inserted. */
const NOISE = [' ', '\t', '\n', '\r', '(', ')', '{', '}', ',', '!', '=', '==', '&', '|', '"', "'", 'a', 'in', '%', 'é', '\u00a0', 'has(', 'all('];

type Edit = { readonly kind: 'insert' | 'delete' | 'replace'; readonly at: number; readonly text: string };

const edit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom('insert', 'delete', 'replace'),
  at: fc.nat(),
  text: fc.constantFrom(...NOISE),
});

function applyEdit(s: string, e: Edit): string {
  const at = s.length === 0 ? 0 : e.at % (s.length + 1);
  switch (e.kind) {
    case 'insert':
      return s.slice(0, at) + e.text + s.slice(at);
    case 'delete':
      return s.slice(0, at) + s.slice(at + 1);
    case 'replace':
      return s.slice(0, at) + e.text + s.slice(at + 1);
    default: {
      const never: never = e.kind;
      return never;
    }
  }
}

/** Valid selector text with one to three random edits: mostly invalid, sometimes still valid. */
export const mutatedSelectorText: fc.Arbitrary<string> = fc
  .tuple(selectorText, fc.array(edit, { minLength: 1, maxLength: 3 }))
  .map(([s, edits]) => edits.reduce(applyEdit, s));

/** Labels over the same vocabulary as the selectors. */
export const labelMap: fc.Arbitrary<ReadonlyMap<string, string>> = fc
  .array(fc.tuple(label, value), { maxLength: 6 })
  .map((entries) => new Map(entries));
