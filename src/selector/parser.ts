// Second pass of the selector pipeline: tokens → AST, by recursive descent.
//
//   selector := <empty> | or                 (empty or blank means all())
//   or       := and ( "||" and )*            (flat n-ary node, or the single operand)
//   and      := unary ( "&&" unary )*
//   unary    := "!"* primary                 (an even number of "!" vanishes)
//   primary  := has(l) | all() | global() | "(" or ")"
//             | l ("==" | "!=" | contains | starts with | ends with) STRING
//             | l ("in" | "not in") "{" [ STRING ("," STRING)* [","] ] "}"
//
// The accepted language and the tree shape are Calico's (libcalico-go/lib/selector/parser/parser.go):
// parentheses do not make nodes, `!(!x)` keeps both negations, set values are sorted and de-duplicated
// here. Node spans cover all the text a node came from, including its parentheses and any `!` pairs.
import type { Diagnostic, Result, Span } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import type { SelectorNode, SetOp, ValueOp } from './ast.ts';
import { normaliseSetValues } from './ast.ts';
import type { Token } from './tokens.ts';
import { describeToken, joinSpans, spanOfRange } from './tokens.ts';
import { tokenizeSelector } from './tokenizer.ts';

/**
 * Deepest nesting of parentheses accepted. Calico has no limit, but its API caps selectors at
 * 1024 characters, which cannot nest deeper than 509 (`((…(has(a))…))`); this bound keeps every
 * recursive pass (parse, print, compile, evaluate) well inside JavaScript's stack.
 */
export const MAX_NESTING = 512;

/** Parses a selector expression into its AST, or reports the first error with its column. */
export function parseSelectorAst(text: string): Result<SelectorNode> {
  const lexed = tokenizeSelector(text);
  if (!lexed.ok) return fail(lexed.diagnostics);
  const tokens = lexed.value;
  const state: ParserState = { tokens, pos: 0, depth: 0, error: undefined };
  if (peek(state).kind === 'eof') return ok({ op: 'all', span: spanOfRange(0, text.length) });
  const root = parseOr(state);
  if (root === undefined) return fail([state.error ?? internalError()]);
  const rest = peek(state);
  if (rest.kind !== 'eof') {
    return fail([
      syntaxError('selector/trailing-content', `unexpected ${describeToken(rest)} after a complete expression`,
        rest.span, 'join terms with && or ||, and check that parentheses balance'),
    ]);
  }
  return ok(root);
}

interface ParserState {
  readonly tokens: readonly Token[];
  pos: number;
  depth: number;
  error: Diagnostic | undefined;
}

function peek(state: ParserState, ahead = 0): Token {
  // The tokenizer always ends with `eof`, and nothing reads past it.
  const i = Math.min(state.pos + ahead, state.tokens.length - 1);
  return state.tokens[i]!;
}

function next(state: ParserState): Token {
  const tok = peek(state);
  if (state.pos < state.tokens.length - 1) state.pos++;
  return tok;
}

function parseOr(state: ParserState): SelectorNode | undefined {
  const first = parseAnd(state);
  if (first === undefined) return undefined;
  if (peek(state).kind !== 'or') return first;
  const operands: SelectorNode[] = [first];
  while (peek(state).kind === 'or') {
    next(state);
    const operand = parseAnd(state);
    if (operand === undefined) return undefined;
    operands.push(operand);
  }
  return { op: 'or', operands, span: joinSpans(first.span, operands[operands.length - 1]!.span) };
}

function parseAnd(state: ParserState): SelectorNode | undefined {
  const first = parseUnary(state);
  if (first === undefined) return undefined;
  if (peek(state).kind !== 'and') return first;
  const operands: SelectorNode[] = [first];
  while (peek(state).kind === 'and') {
    next(state);
    const operand = parseUnary(state);
    if (operand === undefined) return undefined;
    operands.push(operand);
  }
  return { op: 'and', operands, span: joinSpans(first.span, operands[operands.length - 1]!.span) };
}

function parseUnary(state: ParserState): SelectorNode | undefined {
  const start = peek(state).span;
  let bangs = 0;
  while (peek(state).kind === 'not') {
    next(state);
    bangs++;
  }
  const operand = parsePrimary(state);
  if (operand === undefined || bangs === 0) return operand;
  const span = joinSpans(start, operand.span);
  // Calico counts the "!"s and keeps only their parity.
  return bangs % 2 === 1 ? { op: 'not', operand, span } : { ...operand, span };
}

function parsePrimary(state: ParserState): SelectorNode | undefined {
  const tok = next(state);
  switch (tok.kind) {
    case 'has':
      return { op: 'has', label: tok.value, span: tok.span };
    case 'all':
      return { op: 'all', span: tok.span };
    case 'global':
      return { op: 'global', span: tok.span };
    case 'label':
      return parseComparison(state, tok);
    case 'lparen':
      return parseGroup(state, tok);
    case 'eof':
      return setError(state, syntaxError('selector/unexpected-end',
        'unexpected end of selector: expected a label, has(…), all(), global(), "!" or "("', tok.span));
    case 'string':
      return setError(state, syntaxError('selector/unexpected-token',
        `unexpected ${describeToken(tok)}: a value must follow a label and an operator`, tok.span,
        "write the label first: label == 'value'"));
    case 'rbrace':
    case 'lbrace':
    case 'comma':
    case 'eq':
    case 'ne':
    case 'in':
    case 'not':
    case 'not-in':
    case 'contains':
    case 'starts-with':
    case 'ends-with':
    case 'rparen':
    case 'and':
    case 'or':
      return setError(state, syntaxError('selector/unexpected-token',
        `unexpected ${describeToken(tok)}: expected a label, has(…), all(), global(), "!" or "("`, tok.span));
    default: {
      const never: never = tok.kind;
      return never;
    }
  }
}

function parseGroup(state: ParserState, open: Token): SelectorNode | undefined {
  if (state.depth >= MAX_NESTING) {
    return setError(state, syntaxError('selector/too-deeply-nested',
      `parentheses nested more than ${MAX_NESTING} deep`, open.span));
  }
  state.depth++;
  const inner = parseOr(state);
  state.depth--;
  if (inner === undefined) return undefined;
  const close = peek(state);
  if (close.kind !== 'rparen') {
    return setError(state, syntaxError('selector/expected-close-paren',
      `expected ")" to close the "(" at column ${open.span.col}, found ${describeToken(close)}`, close.span,
      close.kind === 'eof' ? undefined : 'join terms with && or ||'));
  }
  next(state);
  return { ...inner, span: joinSpans(open.span, close.span) };
}

/** `label OP value` or `label (not) in {…}`; `label` has been consumed. */
function parseComparison(state: ParserState, label: Token): SelectorNode | undefined {
  const opTok = next(state);
  const valueOp = toValueOp(opTok);
  if (valueOp !== undefined) {
    const value = next(state);
    if (value.kind !== 'string') {
      return setError(state, syntaxError('selector/expected-string',
        `expected a quoted string after ${describeToken(opTok)}, found ${describeToken(value)}`, value.span,
        "selector values must be quoted: a == 'b'"));
    }
    return { op: valueOp, label: label.value, value: value.value, span: joinSpans(label.span, value.span) };
  }
  const setOp = toSetOp(opTok);
  if (setOp !== undefined) return parseSet(state, label, opTok, setOp);
  return setError(state, expectedOperator(label, opTok));
}

function parseSet(state: ParserState, label: Token, opTok: Token, op: SetOp): SelectorNode | undefined {
  const open = next(state);
  if (open.kind !== 'lbrace') {
    return setError(state, syntaxError('selector/expected-set',
      `expected a set literal "{…}" after ${describeToken(opTok)}, found ${describeToken(open)}`, open.span,
      "in and not in take a set of quoted strings: a in {'x', 'y'}"));
  }
  const values: string[] = [];
  // A string may be followed by "," and another string; a trailing "," is allowed, as in Calico.
  let afterString = false;
  while (peek(state).kind === 'string') {
    values.push(next(state).value);
    afterString = true;
    if (peek(state).kind !== 'comma') break;
    next(state);
    afterString = false;
  }
  const close = peek(state);
  if (close.kind !== 'rbrace') {
    const expected = afterString ? '"," or "}"' : 'a quoted string or "}"';
    return setError(state, syntaxError('selector/expected-close-brace',
      `expected ${expected} in the set literal, found ${describeToken(close)}`, close.span,
      "a set literal lists quoted strings separated by commas: {'a', 'b'}"));
  }
  next(state);
  return { op, label: label.value, values: normaliseSetValues(values), span: joinSpans(label.span, close.span) };
}

function toValueOp(tok: Token): ValueOp | undefined {
  switch (tok.kind) {
    case 'eq':
      return 'eq';
    case 'ne':
      return 'ne';
    case 'contains':
      return 'contains';
    case 'starts-with':
      return 'starts-with';
    case 'ends-with':
      return 'ends-with';
    default:
      return undefined;
  }
}

function toSetOp(tok: Token): SetOp | undefined {
  if (tok.kind === 'in') return 'in';
  if (tok.kind === 'not-in') return 'not-in';
  return undefined;
}

function expectedOperator(label: Token, found: Token): Diagnostic {
  const isCall = found.kind === 'lparen' && (label.value === 'has' || label.value === 'all' || label.value === 'global');
  const help = isCall
    ? `write ${label.value}( with no space before "(" — "${label.value} (" reads as a label named "${label.value}"`
    : 'after a label comes one of: ==, !=, in, not in, contains, starts with, ends with';
  return syntaxError('selector/expected-operator',
    `expected an operator after ${describeToken(label)}, found ${describeToken(found)}`, found.span, help);
}

function syntaxError(code: string, message: string, span: Span, help?: string): Diagnostic {
  return { code, severity: 'error', message, span, ...(help === undefined ? {} : { help }) };
}

function setError(state: ParserState, d: Diagnostic): undefined {
  state.error ??= d;
  return undefined;
}

function internalError(): Diagnostic {
  return { code: 'selector/internal', severity: 'error', message: 'selector parser stopped without a diagnostic' };
}
