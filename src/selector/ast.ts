// The selector AST: plain readonly data, one node kind per Calico node type (parser/ast.go),
// discriminated on `op`. Evaluation, printing, prefixing and label restrictions are functions
// over it in their own files.
import type { Span } from '../diagnostics/index.ts';
import { SELECTOR_FILE } from './tokens.ts';

/** `all()`: matches everything. */
export interface AllNode {
  readonly op: 'all';
  readonly span: Span;
}

/** `global()`: matches everything; only a textual rewrite in rule namespaceSelectors gives it meaning. */
export interface GlobalNode {
  readonly op: 'global';
  readonly span: Span;
}

/** `has(label)`: the label is present, whatever its value (even `''`). */
export interface HasNode {
  readonly op: 'has';
  readonly label: string;
  readonly span: Span;
}

/** The operators comparing a label's value with one string. */
export type ValueOp = 'eq' | 'ne' | 'contains' | 'starts-with' | 'ends-with';

/** `label == "v"`, `label != "v"`, `label contains "v"`, `label starts with "v"`, `label ends with "v"`. */
export interface ValueNode {
  readonly op: ValueOp;
  readonly label: string;
  readonly value: string;
  readonly span: Span;
}

/** The operators testing a label's value against a set literal. */
export type SetOp = 'in' | 'not-in';

/** `label in {…}`, `label not in {…}`. */
export interface SetNode {
  readonly op: SetOp;
  readonly label: string;
  /** Sorted by code point (= Calico's byte order over UTF-8) and without duplicates. */
  readonly values: readonly string[];
  readonly span: Span;
}

/** `!X`. An even run of `!` never produces a node; `!(!X)` keeps both, as Calico does. */
export interface NotNode {
  readonly op: 'not';
  readonly operand: SelectorNode;
  readonly span: Span;
}

/** `X && Y && …` (at least two operands; parentheses nest, chains are flat). */
export interface AndNode {
  readonly op: 'and';
  readonly operands: readonly SelectorNode[];
  readonly span: Span;
}

/** `X || Y || …` (at least two operands). */
export interface OrNode {
  readonly op: 'or';
  readonly operands: readonly SelectorNode[];
  readonly span: Span;
}

export type SelectorNode = AllNode | GlobalNode | HasNode | ValueNode | SetNode | NotNode | AndNode | OrNode;

/** Nodes that test one label (the ones the prefix visitor rewrites). */
export type LabelNode = HasNode | ValueNode | SetNode;

/** The span given to nodes that were built in code rather than parsed from text. */
export const SYNTHETIC_SPAN: Span = Object.freeze({ file: SELECTOR_FILE, line: 1, col: 1, endLine: 1, endCol: 1 });

/**
 * Orders strings by Unicode code point, which is the byte order of their UTF-8 encodings — the
 * order Calico sorts set literals in. Plain `<` compares UTF-16 code units and would put
 * U+E000..U+FFFF after astral characters.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codeUnitRank(x) - codeUnitRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates above the rest of the BMP so code-unit comparison follows code points. */
function codeUnitRank(u: number): number {
  if (u >= 0xd800 && u <= 0xdfff) return u + 0x2000;
  if (u >= 0xe000) return u - 0x800;
  return u;
}

/** Sorted, de-duplicated copy of set values, as Calico stores a set literal. */
export function normaliseSetValues(values: Iterable<string>): readonly string[] {
  const sorted = [...new Set(values)].sort(compareCodePoints);
  return sorted;
}

/** True when the values are already strictly increasing (sorted and without duplicates). */
export function isNormalisedSet(values: readonly string[]): boolean {
  for (let i = 1; i < values.length; i++) if (compareCodePoints(values[i - 1]!, values[i]!) >= 0) return false;
  return true;
}

// Builders for code that makes selectors without text (tests, the engine's own selectors).

export function allNode(span: Span = SYNTHETIC_SPAN): AllNode {
  return { op: 'all', span };
}

export function globalNode(span: Span = SYNTHETIC_SPAN): GlobalNode {
  return { op: 'global', span };
}

export function hasNode(label: string, span: Span = SYNTHETIC_SPAN): HasNode {
  return { op: 'has', label, span };
}

export function valueNode(op: ValueOp, label: string, value: string, span: Span = SYNTHETIC_SPAN): ValueNode {
  return { op, label, value, span };
}

export function setNode(op: SetOp, label: string, values: Iterable<string>, span: Span = SYNTHETIC_SPAN): SetNode {
  return { op, label, values: normaliseSetValues(values), span };
}

export function notNode(operand: SelectorNode, span: Span = SYNTHETIC_SPAN): NotNode {
  return { op: 'not', operand, span };
}

/** `&&` of the operands; a single operand is returned as is, as Calico's parser does. */
export function andNode(operands: readonly SelectorNode[], span: Span = SYNTHETIC_SPAN): SelectorNode {
  if (operands.length === 0) throw new RangeError('andNode needs at least one operand');
  return operands.length === 1 ? operands[0]! : { op: 'and', operands, span };
}

/** `||` of the operands; a single operand is returned as is. */
export function orNode(operands: readonly SelectorNode[], span: Span = SYNTHETIC_SPAN): SelectorNode {
  if (operands.length === 0) throw new RangeError('orNode needs at least one operand');
  return operands.length === 1 ? operands[0]! : { op: 'or', operands, span };
}
