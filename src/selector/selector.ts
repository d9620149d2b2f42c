// The Selector value: a parsed expression together with everything derived from it once — its
// canonical text, unique id and compiled matcher — so the engine, analyses and UI share them.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import type { SelectorNode } from './ast.ts';
import { allNode, notNode } from './ast.ts';
import { formatCanonical } from './canonical.ts';
import type { Labels } from './evaluate.ts';
import { compileSelector } from './evaluate.ts';
import type { LabelRestriction } from './label-restrictions.ts';
import { computeLabelRestrictions, isUnsatisfiableNode } from './label-restrictions.ts';
import { parseSelectorAst } from './parser.ts';
import { prefixLabels } from './prefix.ts';
import { SELECTOR_FILE } from './tokens.ts';
import { makeSelectorId } from './unique-id.ts';

export interface Selector {
  /** The text as given; for selectors made from an AST, their canonical text. */
  readonly source: string;
  /** The tree; node spans are columns in `source` (for a prefixed selector: in the original's). */
  readonly ast: SelectorNode;
  /** Calico's `String()`: the selector's identity. */
  readonly canonical: string;
  /** Calico's unique id of the canonical text, `s:` + base64url(SHA-224). */
  readonly id: string;
  /** The compiled evaluator; allocation-free. */
  readonly matches: (labels: Labels) => boolean;
}

/** Parses a selector expression. Never throws: errors come back as diagnostics with columns. */
export function parseSelector(text: string): Result<Selector> {
  try {
    const parsed = parseSelectorAst(text);
    if (!parsed.ok) return fail(parsed.diagnostics);
    return ok(buildSelector(text, parsed.value));
  } catch (e) {
    // MAX_NESTING keeps recursion shallow, but a caller may already be deep in its own stack.
    if (e instanceof RangeError) return fail([stackExhausted(text)]);
    throw e;
  }
}

function stackExhausted(text: string): Diagnostic {
  return {
    code: 'selector/too-deeply-nested',
    severity: 'error',
    message: 'selector is nested too deeply to process here',
    span: { file: SELECTOR_FILE, line: 1, col: 1, endLine: 1, endCol: Math.max(1, text.length) },
  };
}

/** A selector from a tree built in code; its `source` is its canonical text. */
export function selectorFromAst(ast: SelectorNode): Selector {
  return buildSelector(undefined, ast);
}

/**
 * Calico's PrefixVisitor applied to a selector: every label name gets `prefix`. The result keeps
 * the original's spans, so problems found in it still point at what the user wrote.
 */
export function prefixSelector(sel: Selector, prefix: string): Selector {
  return buildSelector(undefined, prefixLabels(sel.ast, prefix));
}

/** Per label, what every matching label set must satisfy (Calico's `LabelRestrictions()`). */
export function labelRestrictions(sel: Selector): ReadonlyMap<string, LabelRestriction> {
  return computeLabelRestrictions(sel.ast);
}

/** True when the selector provably matches nothing (`a == 'x' && a == 'y'`, `!all()`, …). */
export function isUnsatisfiable(sel: Selector): boolean {
  return isUnsatisfiableNode(sel.ast);
}

/**
 * Calico's `selector.Normalise`: trim Unicode whitespace (Go's `strings.TrimSpace`), parse, print
 * canonically; text that does not parse is returned trimmed but otherwise unchanged.
 */
export function normaliseSelector(text: string): string {
  const trimmed = trimGoSpace(text);
  const parsed = parseSelectorAst(trimmed);
  return parsed.ok ? formatCanonical(parsed.value) : trimmed;
}

function buildSelector(source: string | undefined, ast: SelectorNode): Selector {
  const canonical = formatCanonical(ast);
  return Object.freeze({
    source: source ?? canonical,
    ast,
    canonical,
    id: makeSelectorId(canonical),
    matches: compileSelector(ast),
  });
}

// Go's unicode.IsSpace: ASCII \t \n \v \f \r and space, U+0085, U+00A0, and the White_Space
// characters above Latin-1. Not JavaScript's trim(), which also strips U+FEFF and keeps U+0085.
const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

function trimGoSpace(text: string): string {
  return text.replace(GO_SPACE, '');
}

/** `all()`: matches every label set. */
export const ALL_SELECTOR: Selector = selectorFromAst(allNode());

/** `!all()`: matches nothing (Calico's `selector.NoMatch`). */
export const NO_MATCH_SELECTOR: Selector = selectorFromAst(notNode(allNode()));
