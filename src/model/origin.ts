// Where a loaded resource came from, so every later stage (engine, lint, explain) can point
// at the exact field in the user's file.
import type { Span } from '../diagnostics/index.ts';

export type FieldPath = readonly (string | number)[];

export interface Origin {
  /** File path as the user gave it (`-` for stdin). */
  readonly file: string;
  /** 0-based index of the YAML document in the file. */
  readonly docIndex: number;
  /** 0-based index inside a `List` document's `items`, when the resource came from one. */
  readonly itemIndex?: number;
  /** Span of the resource itself (the start of its mapping). */
  readonly span: Span;
  /**
   * Span of the value at `path` relative to the resource root (e.g. `['spec','ingress',0,'action']`).
   * Falls back to the nearest ancestor that exists in the source, so it never fails.
   */
  spanOf(path: FieldPath): Span;
  /**
   * Span of the key naming the last segment of `path` in its mapping (where an unknown or misplaced
   * field is written); for list items and missing keys, the same as `spanOf`. Optional, so that
   * hand-made origins stay valid: use `keySpanOf(origin, path)`, which falls back to `spanOf`.
   */
  keySpanOf?(path: FieldPath): Span;
  /**
   * Span of a character offset inside a string value at `path` (for selector errors pointing at a
   * column of the expression). Exact for plain and single-line quoted scalars; best effort for
   * block and folded scalars (falls back to the value's start).
   */
  spanInString(path: FieldPath, offset: number): Span;
}

/** The span of the key at `path`, or of its value when the origin cannot tell keys apart. */
export function keySpanOf(origin: Origin, path: FieldPath): Span {
  return origin.keySpanOf?.(path) ?? origin.spanOf(path);
}

/**
 * An origin with no source text behind it (resources built in code, tests): every span is the
 * start of `file`.
 */
export function syntheticOrigin(file: string, docIndex = 0): Origin {
  const span: Span = { file, line: 1, col: 1 };
  return { file, docIndex, span, spanOf: () => span, keySpanOf: () => span, spanInString: () => span };
}
