// Tokens of the selector language: the tokenizer's output and the parser's input. Every token
// carries its position in the expression, which Calico's tokens do not, so that errors and
// editors can point at a column.
import type { Span } from '../diagnostics/index.ts';

/** The pseudo file name of spans inside a selector expression; the loader maps them into YAML. */
export const SELECTOR_FILE = '<selector>';

export type TokenKind =
  | 'label'
  | 'string'
  | 'lbrace'
  | 'rbrace'
  | 'comma'
  | 'eq'
  | 'ne'
  | 'in'
  | 'not'
  | 'not-in'
  | 'contains'
  | 'starts-with'
  | 'ends-with'
  | 'all'
  | 'has'
  | 'global'
  | 'lparen'
  | 'rparen'
  | 'and'
  | 'or'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** The label name (`label`, `has`), the literal's contents without quotes (`string`), else `''`. */
  readonly value: string;
  /** The whole token as written, e.g. `has( app )`, `'web'`, `starts  with`. */
  readonly span: Span;
  /** Where `value` itself is written: the label inside `has(…)`, the text between the quotes. */
  readonly valueSpan: Span;
}

/**
 * A span over the half-open range [start, end) of 0-based offsets into the expression.
 * Columns are 1-based UTF-16 code units (a JavaScript string index + 1), with an inclusive end;
 * an empty range (end of input) gets `endCol === col`.
 */
export function spanOfRange(start: number, end: number): Span {
  return { file: SELECTOR_FILE, line: 1, col: start + 1, endLine: 1, endCol: Math.max(start + 1, end) };
}

/** The smallest span covering both spans (both from the same expression). */
export function joinSpans(first: Span, last: Span): Span {
  return {
    file: first.file,
    line: first.line,
    col: Math.min(first.col, last.col),
    endLine: first.line,
    endCol: Math.max(first.endCol ?? first.col, last.endCol ?? last.col),
  };
}

/** How a token is described to people in error messages. */
export function describeToken(tok: Token): string {
  switch (tok.kind) {
    case 'label':
      return `label "${tok.value}"`;
    case 'string':
      return `string ${quoteForMessage(tok.value)}`;
    case 'lbrace':
      return '"{"';
    case 'rbrace':
      return '"}"';
    case 'comma':
      return '","';
    case 'eq':
      return '"=="';
    case 'ne':
      return '"!="';
    case 'in':
      return '"in"';
    case 'not':
      return '"!"';
    case 'not-in':
      return '"not in"';
    case 'contains':
      return '"contains"';
    case 'starts-with':
      return '"starts with"';
    case 'ends-with':
      return '"ends with"';
    case 'all':
      return '"all()"';
    case 'has':
      return `"has(${tok.value})"`;
    case 'global':
      return '"global()"';
    case 'lparen':
      return '"("';
    case 'rparen':
      return '")"';
    case 'and':
      return '"&&"';
    case 'or':
      return '"||"';
    case 'eof':
      return 'end of selector';
    default: {
      const never: never = tok.kind;
      return never;
    }
  }
}

function quoteForMessage(s: string): string {
  return s.includes("'") ? `"${s}"` : `'${s}'`;
}
