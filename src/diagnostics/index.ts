// Front door of `diagnostics`: the shared shape of every problem report, and its renderers.
export type { Diagnostic, Result, Severity, Span } from './diagnostic.ts';
export { fail, formatPath, hasErrors, ok } from './diagnostic.ts';
export { didYouMean, editDistance, suggest } from './suggest.ts';
export { formatDiagnosticLine, formatLocation, renderDiagnostic, renderDiagnostics } from './render.ts';
export type { RenderOptions } from './render.ts';
