// Origins backed by the YAML syntax tree: every field path of a loaded resource maps back to the
// exact place in the user's file (the node's source range), and a column inside a string value
// maps back through the scalar's quoting and folding. An origin keeps where its document is, not
// the tree: the tree is found again on demand (bounded cache, re-parse of that one document).
import { LRUCache } from 'lru-cache';
import { Scalar, isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node, Pair } from 'yaml';
import type { Span } from '../diagnostics/index.ts';
import type { FieldPath, Origin } from '../model/index.ts';

interface Found {
  /** The deepest node reached along the path. */
  readonly node: Node;
  /** The pair whose value is `node` (or whose value is missing), when the last step was a map key. */
  readonly pair: Pair | undefined;
  /** True when every segment of the path was found. */
  readonly complete: boolean;
}

export interface SourceText {
  readonly file: string;
  readonly text: string;
  /** Offsets where lines start (0, then after each "\n"), ascending. */
  readonly lineStarts: readonly number[];
}

export function makeSourceText(file: string, text: string): SourceText {
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  return { file, text, lineStarts };
}

/**
 * 1-based line and column of an offset (clamped to the text). Computed from the text itself rather
 * than the parser's LineCounter, which only knows the lines the lexer reached before an error.
 */
export function positionOf(src: SourceText, offset: number): { line: number; col: number } {
  const o = Math.max(0, Math.min(offset, src.text.length));
  let lo = 0;
  let hi = src.lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((src.lineStarts[mid] ?? 0) <= o) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: o - (src.lineStarts[lo] ?? 0) + 1 };
}

/** Span of the half-open source range [start, end). */
export function spanOfRange(src: SourceText, start: number, end: number): Span {
  const s = positionOf(src, start);
  if (end <= start) return { file: src.file, line: s.line, col: s.col };
  const e = positionOf(src, end - 1);
  return { file: src.file, line: s.line, col: s.col, endLine: e.line, endCol: e.col };
}

function nodeRange(n: Node): readonly [number, number] {
  const r = n.range;
  return r === null || r === undefined ? [0, 0] : [r[0], r[1]];
}

/** Walks `path` from `root` through maps (by key) and sequences (by index). */
function walk(root: Node, path: FieldPath): Found {
  let node: Node = root;
  let pair: Pair | undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const p = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
      if (p === undefined) return { node, pair, complete: false };
      pair = p;
      const v = p.value;
      if (v === null || v === undefined || !isNodeLike(v)) return { node: p.key as Node, pair: p, complete: false };
      node = v;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined || item === null || !isNodeLike(item)) return { node, pair, complete: false };
      pair = undefined;
      node = item;
    } else {
      return { node, pair, complete: false };
    }
  }
  return { node, pair, complete: true };
}

function isNodeLike(v: unknown): v is Node {
  return isMap(v) || isSeq(v) || isScalar(v) || isAlias(v);
}

/**
 * Where a resource's document sits in its source: enough to find the resource's YAML node again
 * without keeping the syntax tree alive (a cluster of 100k pods would otherwise hold every tree).
 */
export interface DocRef {
  readonly src: SourceText;
  /** The document's source range [start, end). */
  readonly start: number;
  readonly end: number;
}

interface Resolved {
  /** The document's contents node; node ranges are offsets in `text`. */
  readonly contents: Node;
  readonly text: string;
  /** Add to a node offset to get an offset in the source. */
  readonly base: number;
}

/** Parsed documents recently used for spans: bounded, so spans cost memory only while in use. */
const resolvedDocs = new LRUCache<DocRef, Resolved>({ max: 256 });

export function makeDocRef(src: SourceText, start: number, end: number): DocRef {
  return { src, start, end };
}

/** The load pass already has the tree: seeding the cache makes validation's spans free. */
export function rememberDocument(ref: DocRef, contents: Node): void {
  resolvedDocs.set(ref, { contents, text: ref.src.text, base: 0 });
}

function resolveDocument(ref: DocRef): Resolved | undefined {
  let r = resolvedDocs.get(ref);
  if (r === undefined) {
    // Re-parse just this document: its nodes' ranges are offsets in the slice.
    const text = ref.src.text.slice(ref.start, ref.end);
    const doc = parseDocument(text, { prettyErrors: false, merge: true, uniqueKeys: true });
    if (doc.contents === null) return undefined;
    r = { contents: doc.contents as Node, text, base: ref.start };
    resolvedDocs.set(ref, r);
  }
  return r;
}

/**
 * Builds the Origin of the resource at `rootPath` inside the document `ref` (`[]` for the
 * document itself, `['items', i]` for a List item). `root` is the node as the loader has it now:
 * it sets the resource's own span and seeds the span cache, and is not kept.
 */
export function makeOrigin(src: SourceText, root: Node, docIndex: number, itemIndex?: number, ref?: DocRef, rootPath: FieldPath = []): Origin {
  const [rs] = nodeRange(root);
  const span = spanOfRange(src, rs, rs);
  // Without a document reference (origins made outside the loader) the tree is kept, as before.
  const pinned: Resolved | undefined = ref === undefined ? { contents: root, text: src.text, base: 0 } : undefined;
  const at = (path: FieldPath): { f: Found; r: Resolved } | undefined => {
    const r = pinned ?? resolveDocument(ref!);
    if (r === undefined) return undefined;
    const base = pinned !== undefined ? { node: root, complete: true } : walk(r.contents, rootPath);
    if (!base.complete) return undefined;
    return { f: walk(base.node, path), r };
  };
  const range = (r: Resolved, n: Node): readonly [number, number] => {
    const [s, e] = nodeRange(n);
    return [s + r.base, e + r.base];
  };
  const spanOfNode = (r: Resolved, n: Node, pair: Pair | undefined): Span => {
    const [s, e] = range(r, n);
    // `key:` with nothing after it: the value has an empty range, point at the key instead.
    if (e <= s && pair !== undefined && isScalar(pair.key)) {
      const [ks, ke] = range(r, pair.key);
      return spanOfRange(src, ks, ke);
    }
    // A collection's range runs to its last line; its start is what a caret should show.
    if (isMap(n) || isSeq(n)) return spanOfRange(src, s, s);
    let end = e;
    while (end > s && (src.text[end - 1] === '\n' || src.text[end - 1] === '\r')) end--; // block scalars keep their final break
    return spanOfRange(src, s, end);
  };
  const origin: Origin = {
    file: src.file,
    docIndex,
    span,
    spanOf: (path) => {
      const a = at(path);
      return a === undefined ? span : spanOfNode(a.r, a.f.node, a.f.pair);
    },
    keySpanOf: (path) => {
      const a = at(path);
      if (a === undefined) return span;
      const { f, r } = a;
      if (f.complete && f.pair !== undefined && isScalar(f.pair.key) && typeof path[path.length - 1] === 'string') {
        const [ks, ke] = range(r, f.pair.key);
        return spanOfRange(src, ks, ke);
      }
      return spanOfNode(r, f.node, f.pair);
    },
    spanInString: (path, offset) => {
      const a = at(path);
      if (a === undefined) return span;
      const { f, r } = a;
      if (!f.complete || !isScalar(f.node)) return spanOfNode(r, f.node, f.pair);
      const pos = scalarSourceOffset(r.text, f.node, offset) + r.base;
      return spanOfRange(src, pos, pos + 1);
    },
  };
  return itemIndex === undefined ? origin : { ...origin, itemIndex };
}

/**
 * Source offset of character `offset` of a scalar's value. Exact for single-line plain and quoted
 * scalars; line-by-line for multi-line and block scalars (each line break counted as one
 * character, which is exact unless blank lines are folded away).
 */
export function scalarSourceOffset(text: string, node: Scalar, offset: number): number {
  const [start, end] = nodeRange(node);
  switch (node.type) {
    case Scalar.QUOTE_DOUBLE:
      return mapLines(text, start + 1, Math.max(start + 1, end - 1), offset, doubleQuotedStep);
    case Scalar.QUOTE_SINGLE:
      return mapLines(text, start + 1, Math.max(start + 1, end - 1), offset, singleQuotedStep);
    case Scalar.BLOCK_LITERAL:
    case Scalar.BLOCK_FOLDED:
      return blockOffset(text, start, end, offset);
    case Scalar.PLAIN:
    case undefined:
    default:
      return mapLines(text, start, end, offset, plainStep);
  }
}

/** How many source characters make the next value character, starting at `i`. */
type Step = (text: string, i: number) => number;

const plainStep: Step = () => 1;
const singleQuotedStep: Step = (text, i) => (text[i] === "'" && text[i + 1] === "'" ? 2 : 1);
const doubleQuotedStep: Step = (text, i) => {
  if (text[i] !== '\\') return 1;
  switch (text[i + 1]) {
    case 'x':
      return 4;
    case 'u':
      return 6;
    case 'U':
      return 10;
    default:
      return 2;
  }
};

/**
 * Walks the source lines of a flow scalar in [start, end): continuation lines lose their leading
 * blanks and each line break becomes one value character (the folding space).
 */
function mapLines(text: string, start: number, end: number, offset: number, step: Step): number {
  let i = start;
  let n = 0;
  while (i < end) {
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      const lineEnd = i;
      i += text[i] === '\r' ? 2 : 1;
      while (i < end && (text[i] === ' ' || text[i] === '\t')) i++;
      if (n === offset) return lineEnd;
      n++;
      continue;
    }
    if (n === offset) return i;
    i += step(text, i);
    n++;
  }
  return Math.max(start, Math.min(i, end));
}

/** `|` and `>` scalars: skip the header line, strip the indentation of each content line. */
function blockOffset(text: string, start: number, end: number, offset: number): number {
  const headerEnd = text.indexOf('\n', start);
  if (headerEnd < 0 || headerEnd >= end) return start;
  let lineStart = headerEnd + 1;
  let indent = -1;
  let n = 0;
  while (lineStart < end) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0 || lineEnd > end) lineEnd = end;
    const raw = text.slice(lineStart, lineEnd).replace(/\r$/, '');
    if (indent < 0 && raw.trim() !== '') indent = raw.length - raw.trimStart().length;
    const from = Math.min(raw.length, Math.max(indent, 0));
    const len = raw.length - from;
    if (offset < n + len) return lineStart + from + (offset - n);
    n += len;
    if (offset === n) return lineStart + from + len; // the line break
    n += 1;
    lineStart = lineEnd + 1;
  }
  return start;
}
