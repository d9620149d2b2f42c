// First pass of the selector pipeline: expression text → tokens with spans.
//
// Follows Calico's hand-written scanner (libcalico-go/lib/selector/tokenizer/tokenizer.go) rule for
// rule, because which texts are accepted is part of the semantics users rely on:
//   - only space and tab are whitespace; a newline anywhere outside a string is an error;
//   - strings end at the next quote of the same kind, with no escapes;
//   - what a word means depends on the previous token: after a label it must be an operator
//     word (`contains`, `starts with`, `ends with`, `not in`, `in`, words may be fused), anywhere
//     else it is `has(`, `all(`, `global(` written exactly so, or a label.
// Like Calico, the whole input is tokenized before parsing, so a lexical error anywhere wins over
// a syntax error earlier in the text.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import type { Token, TokenKind } from './tokens.ts';
import { spanOfRange } from './tokens.ts';

/** Longest label name Calico accepts, in bytes (all label characters are ASCII). */
export const MAX_LABEL_LENGTH = 512;

const OPERATOR_HELP = 'after a label comes one of: ==, !=, in, not in, contains, starts with, ends with';
const NEWLINE_HELP =
  'newlines are not whitespace in selectors: only spaces and tabs may separate tokens ' +
  '(a YAML block scalar such as `selector: |` keeps a trailing newline; use a plain or quoted scalar, or `>-`)';

/** True for the bytes Calico allows in a label name: `[A-Za-z0-9_./-]`. */
export function isLabelChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x2e || // .
    c === 0x2f || // /
    c === 0x2d // -
  );
}

/** True when `name` is a whole, valid label name (Calico's `tokenizer.ValidLabel`). */
export function isValidLabel(name: string): boolean {
  if (name.length === 0 || name.length > MAX_LABEL_LENGTH) return false;
  for (let i = 0; i < name.length; i++) if (!isLabelChar(name.charCodeAt(i))) return false;
  return true;
}

/** Splits a selector expression into tokens ending with `eof`, or reports the first lexical error. */
export function tokenizeSelector(input: string): Result<readonly Token[]> {
  const tokens: Token[] = [];
  let pos = 0;
  for (;;) {
    pos = skipBlanks(input, pos);
    if (pos >= input.length) {
      tokens.push(makeToken('eof', '', pos, pos));
      return ok(tokens);
    }
    const step = scanToken(input, pos, tokens[tokens.length - 1]);
    if (!step.ok) return fail([refineWhitespaceError(input, step.error)]);
    tokens.push(step.token);
    pos = step.next;
  }
}

type Step =
  | { readonly ok: true; readonly token: Token; readonly next: number }
  | { readonly ok: false; readonly error: Diagnostic };

/** Scans one token starting at `pos` (not whitespace, not end of input). */
function scanToken(input: string, pos: number, previous: Token | undefined): Step {
  const c = input[pos];
  switch (c) {
    case '(':
      return single('lparen', pos);
    case ')':
      return single('rparen', pos);
    case '{':
      return single('lbrace', pos);
    case '}':
      return single('rbrace', pos);
    case ',':
      return single('comma', pos);
    case '"':
    case "'":
      return scanString(input, pos, c);
    case '=':
      return input.startsWith('==', pos)
        ? fixed('eq', pos, 2)
        : error('selector/expected-eq', 'expected "==": a lone "=" is not an operator', pos, pos + 1,
            "compare with ==: a == 'b'");
    case '!':
      // `!=` wins over `!` followed by `=`, as in Calico: `a ! = 'b'` is NOT then a lone `=`.
      return input.startsWith('!=', pos) ? fixed('ne', pos, 2) : single('not', pos);
    case '&':
      return input.startsWith('&&', pos)
        ? fixed('and', pos, 2)
        : error('selector/expected-and', 'expected "&&": a lone "&" is not an operator', pos, pos + 1);
    case '|':
      return input.startsWith('||', pos)
        ? fixed('or', pos, 2)
        : error('selector/expected-or', 'expected "||": a lone "|" is not an operator', pos, pos + 1);
    default:
      return previous?.kind === 'label' ? scanOperatorWord(input, pos, previous.value) : scanWord(input, pos);
  }
}

function scanString(input: string, pos: number, quote: '"' | "'"): Step {
  const close = input.indexOf(quote, pos + 1);
  if (close === -1) {
    const other = quote === '"' ? "'" : '"';
    return error('selector/unterminated-string', `unterminated string: no closing ${quote}`, pos, input.length,
      `strings end at the next ${quote} and have no escapes; to put a ${quote} in a value, quote it with ${other}`);
  }
  return {
    ok: true,
    token: {
      kind: 'string',
      value: input.slice(pos + 1, close),
      span: spanOfRange(pos, close + 1),
      valueSpan: spanOfRange(pos + 1, close),
    },
    next: close + 1,
  };
}

/** The operator word that must follow a label; the order of attempts is Calico's. */
function scanOperatorWord(input: string, pos: number, label: string): Step {
  for (const [kind, words] of OPERATOR_WORDS) {
    const end = matchWords(input, pos, words);
    if (end !== undefined) return fixed(kind, pos, end - pos);
  }
  const wordEnd = scanLabelEnd(input, pos);
  const end = wordEnd > pos ? wordEnd : pos + String.fromCodePoint(input.codePointAt(pos) ?? 0).length;
  return error('selector/expected-operator', `expected an operator after label "${label}", found "${input.slice(pos, end)}"`,
    pos, end, OPERATOR_HELP);
}

const OPERATOR_WORDS: readonly (readonly [TokenKind, readonly string[]])[] = [
  ['contains', ['contains']],
  ['starts-with', ['starts', 'with']],
  ['ends-with', ['ends', 'with']],
  ['not-in', ['not', 'in']],
  ['in', ['in']],
];

/**
 * Matches words separated by optional blanks (so `startswith` and `notin` are accepted) and
 * requires a word boundary after the last one: end of input or a byte that cannot be in a label.
 * Returns the offset just after the last word, or undefined.
 */
function matchWords(input: string, pos: number, words: readonly string[]): number | undefined {
  let at = pos;
  let wordEnd = pos;
  for (let w = 0; w < words.length; w++) {
    const word = words[w]!;
    if (!input.startsWith(word, at)) return undefined;
    wordEnd = at + word.length;
    // Calico skips blanks after every word of a multi-word operator, then checks the boundary.
    at = words.length > 1 ? skipBlanks(input, wordEnd) : wordEnd;
  }
  if (at < input.length && isLabelChar(input.charCodeAt(at))) return undefined;
  return wordEnd;
}

/** `has(label)`, `all()`, `global()` (each only when written exactly so), or a label. */
function scanWord(input: string, pos: number): Step {
  if (input.startsWith('has(', pos)) return scanHas(input, pos);
  if (input.startsWith('all(', pos)) return scanEmptyCall(input, pos, 'all');
  if (input.startsWith('global(', pos)) return scanEmptyCall(input, pos, 'global');
  const end = scanLabelEnd(input, pos);
  if (end === pos) return unexpectedCharacter(input, pos);
  if (end - pos > MAX_LABEL_LENGTH) return labelTooLong(pos, end);
  return {
    ok: true,
    token: { kind: 'label', value: input.slice(pos, end), span: spanOfRange(pos, end), valueSpan: spanOfRange(pos, end) },
    next: end,
  };
}

function scanHas(input: string, pos: number): Step {
  const start = skipBlanks(input, pos + 'has('.length);
  const end = scanLabelEnd(input, start);
  if (end === start) {
    return error('selector/expected-identifier', 'expected a label name inside has(…)', start, start + 1,
      'has() takes one label name: has(app)');
  }
  if (end - start > MAX_LABEL_LENGTH) return labelTooLong(start, end);
  const close = skipBlanks(input, end);
  if (input[close] !== ')') {
    return error('selector/expected-close-paren', 'no closing ")" after has(', close, close + 1,
      'has() takes exactly one label name: has(app)');
  }
  return {
    ok: true,
    token: {
      kind: 'has',
      value: input.slice(start, end),
      span: spanOfRange(pos, close + 1),
      valueSpan: spanOfRange(start, end),
    },
    next: close + 1,
  };
}

function scanEmptyCall(input: string, pos: number, kind: 'all' | 'global'): Step {
  const close = skipBlanks(input, pos + kind.length + 1);
  if (input[close] !== ')') {
    return error('selector/expected-close-paren', `no closing ")" after ${kind}(`, close, close + 1,
      `${kind}() takes no arguments`);
  }
  return fixed(kind, pos, close + 1 - pos);
}

function unexpectedCharacter(input: string, pos: number): Step {
  const ch = String.fromCodePoint(input.codePointAt(pos) ?? 0);
  const help = /[\u2018\u2019\u201c\u201d]/.test(ch)
    ? "use ASCII quotes ' or \" around values"
    : 'a term is a label comparison (app == "web"), has(label), all(), global(), "!" or "("; ' +
      'label names may contain only A-Z a-z 0-9 _ . / -';
  return error('selector/unexpected-character', `unexpected character "${ch}": expected a label`, pos,
    pos + ch.length, help);
}

function labelTooLong(start: number, end: number): Step {
  return error('selector/label-too-long', `label too long: ${end - start} characters (at most ${MAX_LABEL_LENGTH})`,
    start, end);
}

function skipBlanks(input: string, pos: number): number {
  let at = pos;
  while (at < input.length) {
    const c = input.charCodeAt(at);
    if (c !== 0x20 && c !== 0x09) break;
    at++;
  }
  return at;
}

function scanLabelEnd(input: string, pos: number): number {
  let at = pos;
  while (at < input.length && isLabelChar(input.charCodeAt(at))) at++;
  return at;
}

function makeToken(kind: TokenKind, value: string, start: number, end: number): Token {
  const span = spanOfRange(start, end);
  return { kind, value, span, valueSpan: span };
}

function single(kind: TokenKind, pos: number): Step {
  return fixed(kind, pos, 1);
}

function fixed(kind: TokenKind, pos: number, length: number): Step {
  return { ok: true, token: makeToken(kind, '', pos, pos + length), next: pos + length };
}

function error(code: string, message: string, start: number, end: number, help?: string): Step {
  const d: Diagnostic = {
    code,
    severity: 'error',
    message,
    span: spanOfRange(start, end),
    ...(help === undefined ? {} : { help }),
  };
  return { ok: false, error: d };
}

/**
 * A newline (or another character people take for whitespace) where a token should start is
 * the most common cause of a lexical error, mostly from YAML block scalars; say so directly.
 */
function refineWhitespaceError(input: string, d: Diagnostic): Diagnostic {
  if (d.span === undefined) return d;
  const offset = d.span.col - 1;
  const ch = input[offset];
  if (ch === undefined || !/\s/.test(ch) || ch === ' ' || ch === '\t') return d;
  const lineBreak = ch === '\n' || ch === '\r';
  const name = ch === '\n' ? 'a newline' : ch === '\r' ? 'a carriage return' : `character U+${hex4(ch)}`;
  return {
    code: 'selector/invalid-whitespace',
    severity: 'error',
    message: `${name} is not allowed in a selector outside a quoted value`,
    span: spanOfRange(offset, offset + 1),
    help: lineBreak ? NEWLINE_HELP : 'only spaces and tabs may separate tokens in a selector',
  };
}

function hex4(ch: string): string {
  return ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
}
