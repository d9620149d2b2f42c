// Diagnostics are data: every stage (selector parser, loader, validator, engine builder, lint)
// reports problems as these objects, the CLI renders them, the API will return them as JSON.

/** A position in a source text. Lines and columns are 1-based, as editors show them. */
export interface Span {
  /** File path as the user gave it, `-` for stdin, or a pseudo-name such as `<selector>`. */
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Inclusive end, when known; single-position spans omit it. */
  readonly endLine?: number;
  readonly endCol?: number;
}

export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  /** Stable, namespaced code such as `selector/unterminated-string` or `model/unknown-field`. */
  readonly code: string;
  readonly severity: Severity;
  /** One sentence saying what is wrong and what was expected. */
  readonly message: string;
  readonly span?: Span;
  /** Field path inside the resource, e.g. `spec.ingress[0].source.selector`. */
  readonly path?: string;
  /** A hint for fixing it ("did you mean …?"). */
  readonly help?: string;
}

/** Results at the core, exceptions for bugs: stages return this instead of throwing. */
export type Result<T> =
  | { readonly ok: true; readonly value: T; readonly diagnostics: readonly Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

export function ok<T>(value: T, diagnostics: readonly Diagnostic[] = []): Result<T> {
  return { ok: true, value, diagnostics };
}

export function fail<T = never>(diagnostics: readonly Diagnostic[]): Result<T> {
  return { ok: false, diagnostics };
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Formats a field path from its segments: `['spec','ingress',0,'ports']` → `spec.ingress[0].ports`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}
