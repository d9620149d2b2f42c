// One text (a file's contents or stdin) → documents with positions → validated resources.
// Multi-document YAML, JSON (the YAML parser reads it), `List` kinds; empty documents are skipped;
// syntax errors are reported with their position and the broken document is skipped; nothing
// throws.
import { isMap, isSeq, parseAllDocuments } from 'yaml';
import type { Document, Node } from 'yaml';
import type { Diagnostic } from '../diagnostics/index.ts';
import { isListDocument, validateDocument, withListDefaults } from '../model/index.ts';
import type { Resource } from '../model/index.ts';
import { reconcileDuplicates } from './duplicates.ts';
import { makeDocRef, makeOrigin, makeSourceText, rememberDocument, spanOfRange } from './yaml-origin.ts';
import type { SourceText } from './yaml-origin.ts';

export interface LoadResult {
  readonly resources: Resource[];
  readonly diagnostics: Diagnostic[];
  /** The texts, by the file names used in spans, for rendering snippets. */
  readonly sources: ReadonlyMap<string, string>;
}

/** Aliases may expand to at most this many nodes per document (a "billion laughs" guard). */
const MAX_ALIAS_COUNT = 10_000;

/** Loads one text; duplicates within it are reported as in loadPaths. */
export function loadText(text: string, file: string): LoadResult {
  const one = loadDocuments(text, file);
  const reconciled = reconcileDuplicates(one.resources);
  return {
    resources: reconciled.resources,
    diagnostics: orderDiagnostics([...one.diagnostics, ...reconciled.diagnostics], [file]),
    sources: new Map([[file, text]]),
  };
}

/** Resources and diagnostics of one text, without the cross-file duplicate pass. */
export function loadDocuments(text: string, file: string): { resources: Resource[]; diagnostics: Diagnostic[] } {
  const resources: Resource[] = [];
  const diagnostics: Diagnostic[] = [];
  const src: SourceText = makeSourceText(file, text);
  if (looksBinary(text)) {
    // Echoing random bytes as "the value" helps nobody: say what the file is and skip it.
    return { resources, diagnostics: [{ code: 'load/binary-file', severity: 'error', message: `"${file}" is not a text file (it holds NUL or control bytes); it is skipped`, span: spanOfRange(src, 0, 0) }] };
  }
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { prettyErrors: false, merge: true, uniqueKeys: true }) as Document.Parsed[];
  } catch (e) {
    return { resources, diagnostics: [internalError(src, 0, e)] };
  }
  docs.forEach((doc, docIndex) => {
    try {
      loadDocument(src, doc, docIndex, resources, diagnostics);
    } catch (e) {
      diagnostics.push(internalError(src, doc.range[0], e));
    }
  });
  return { resources, diagnostics };
}

function loadDocument(src: SourceText, doc: Document.Parsed, docIndex: number, resources: Resource[], diagnostics: Diagnostic[]): void {
  for (const w of doc.warnings) diagnostics.push(yamlProblem(src, 'load/yaml-warning', 'warning', w.message, w.pos));
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    // Later errors in a broken document are mostly echoes of the first (as in kubectl, report one).
    const more = doc.errors.length - 1;
    const d = yamlProblem(src, 'load/yaml-syntax', 'error', firstError.message, firstError.pos);
    diagnostics.push(more > 0 ? { ...d, help: `${more} more YAML error${more === 1 ? '' : 's'} in this document may follow from this one; the document is skipped` } : { ...d, help: 'the document is skipped' });
    return;
  }
  const root = doc.contents;
  if (root === null) return; // an empty document (`---` alone, or only comments)
  const ref = makeDocRef(src, doc.range[0], doc.range[2]);
  rememberDocument(ref, root as Node);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // toJS throws for too many aliases and, as a RangeError, for nesting deeper than the stack.
    const message = e instanceof RangeError ? 'the document is nested too deeply to load' : e instanceof Error ? e.message : String(e);
    diagnostics.push(yamlProblem(src, 'load/yaml-syntax', 'error', message, [doc.range[0], doc.range[0]]));
    return;
  }
  if (value === null || value === undefined) return;
  if (isCyclic(value)) {
    diagnostics.push(yamlProblem(src, 'load/recursive-alias', 'error', 'an alias refers to a node that contains it (the value would be infinite)', [doc.range[0], doc.range[0]]));
    return;
  }
  if (isListDocument(value) && isMap(root)) {
    const itemsNode = root.get('items', true);
    value.items.forEach((item, i) => {
      const node = isSeq(itemsNode) ? (itemsNode.items[i] as Node | undefined) : undefined;
      const origin = node === undefined ? makeOrigin(src, root as Node, docIndex, i, ref) : makeOrigin(src, node, docIndex, i, ref, ['items', i]);
      if (isListDocument(item)) {
        // kubectl does not flatten nested lists either; say so instead of dropping it silently.
        diagnostics.push({ code: 'load/nested-list', severity: 'warning', message: `a ${item.kind} inside a ${value.kind} is not read: its ${item.items.length} item${item.items.length === 1 ? '' : 's'} are ignored`, span: origin.spanOf(['kind']), path: `items[${i}]`, help: 'move the inner items into the outer list' });
        return;
      }
      accept(validateDocument(withListDefaults(value, item), origin), resources, diagnostics);
    });
    return;
  }
  accept(validateDocument(value, makeOrigin(src, root as Node, docIndex, undefined, ref)), resources, diagnostics);
}

function accept(r: ReturnType<typeof validateDocument>, resources: Resource[], diagnostics: Diagnostic[]): void {
  diagnostics.push(...r.diagnostics);
  if (r.ok && r.value !== undefined) resources.push(r.value);
}

/** NUL bytes or many control characters: not a manifest (kubectl would fail to decode it too). */
function looksBinary(text: string): boolean {
  const sample = text.slice(0, 8192);
  if (sample.includes('\u0000')) return true;
  let control = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 0xfffd) control++;
  }
  return sample.length > 0 && control / sample.length > 0.1;
}

/** Whether a value contains itself (YAML `&a [*a]`): every later stage would recurse forever. */
function isCyclic(value: unknown, ancestors: Set<object> = new Set()): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (ancestors.has(value)) return true;
  ancestors.add(value);
  const children = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  const cyclic = children.some((c) => isCyclic(c, ancestors));
  ancestors.delete(value);
  return cyclic;
}

function yamlProblem(src: SourceText, code: string, severity: 'error' | 'warning', message: string, pos: readonly [number, number]): Diagnostic {
  const start = Math.min(pos[0], src.text.length);
  const end = Math.min(Math.max(pos[1], start), src.text.length);
  return { code, severity, message: `YAML: ${firstLine(message)}`, span: spanOfRange(src, start, end) };
}

function firstLine(message: string): string {
  if (message.includes('Maximum call stack size exceeded')) return 'the document is nested too deeply to load';
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
}

/** A bug in Strata, reported instead of thrown so that the rest of the input still loads. */
function internalError(src: SourceText, offset: number, e: unknown): Diagnostic {
  return {
    code: 'load/internal-error',
    severity: 'error',
    message: `internal error while loading this document (please report it): ${e instanceof Error ? e.message : String(e)}`,
    span: spanOfRange(src, Math.min(offset, src.text.length), Math.min(offset, src.text.length)),
  };
}

/** Files in load order, then positions within a file; diagnostics without a span keep their place. */
export function orderDiagnostics(ds: readonly Diagnostic[], files: readonly string[]): Diagnostic[] {
  const rank = new Map(files.map((f, i) => [f, i]));
  return ds
    .map((d, i) => ({ d, i }))
    .sort((x, y) => {
      const fx = x.d.span === undefined ? -1 : (rank.get(x.d.span.file) ?? files.length);
      const fy = y.d.span === undefined ? -1 : (rank.get(y.d.span.file) ?? files.length);
      if (fx !== fy || x.d.span === undefined || y.d.span === undefined) return fx !== fy ? fx - fy : x.i - y.i;
      return x.d.span.line - y.d.span.line || x.d.span.col - y.d.span.col || x.i - y.i;
    })
    .map((x) => x.d);
}
