// PolicyTest documents (`strata/v1`, kind PolicyTest) among already-read texts: the manifests of
// `-f` (tests may sit beside them) and the files of `strata test --tests`. The texts were read and
// their YAML errors reported by loadPaths; here only PolicyTest documents are picked out and
// validated, with every problem at file:line:col and its field path.
import { isMap, parseAllDocuments } from 'yaml';
import type { Document, Node } from 'yaml';
import type { Diagnostic } from '../diagnostics/index.ts';
import { isPolicyTestHeader, parseWithDiagnostics, policyTestSchema } from '../model/index.ts';
import type { Origin, PolicyTest } from '../model/index.ts';
import { makeOrigin, makeSourceText } from './yaml-origin.ts';

export interface LoadedPolicyTest {
  readonly test: PolicyTest;
  /** Where it came from: spans of its cases (`spec.cases[i].from`) for reports. */
  readonly origin: Origin;
}

export interface PolicyTestLoad {
  readonly tests: LoadedPolicyTest[];
  readonly diagnostics: Diagnostic[];
  /** Files holding at least one PolicyTest document (valid or not). */
  readonly files: ReadonlySet<string>;
}

/** `key:` with nothing after it is absent, as for resources (model.validateDocument). */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNulls(x);
  return out;
}

function header(value: unknown): { apiVersion: unknown; kind: unknown } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  return { apiVersion: o['apiVersion'], kind: o['kind'] };
}

/** The PolicyTests in `sources` (file → text), in file order then document order. */
export function loadPolicyTests(sources: ReadonlyMap<string, string>): PolicyTestLoad {
  const tests: LoadedPolicyTest[] = [];
  const diagnostics: Diagnostic[] = [];
  const files = new Set<string>();
  for (const [file, text] of sources) {
    // Cheap filter: most manifest files hold no test at all.
    if (!text.includes('PolicyTest')) continue;
    const src = makeSourceText(file, text);
    let docs: Document.Parsed[];
    try {
      docs = parseAllDocuments(text, { prettyErrors: false, merge: true, uniqueKeys: true }) as Document.Parsed[];
    } catch {
      continue; // loadPaths reported it
    }
    docs.forEach((doc, docIndex) => {
      if (doc.errors.length > 0 || !isMap(doc.contents)) return; // syntax errors: reported by loadPaths
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: 10_000 });
      } catch {
        return;
      }
      const h = header(value);
      if (h === undefined || typeof h.apiVersion !== 'string' || typeof h.kind !== 'string' || !isPolicyTestHeader(h.apiVersion, h.kind)) return;
      files.add(file);
      const origin = makeOrigin(src, doc.contents as Node, docIndex);
      const parsed = parseWithDiagnostics(policyTestSchema, withoutNulls(value), origin);
      diagnostics.push(...parsed.diagnostics);
      if (parsed.value !== undefined) tests.push({ test: parsed.value, origin });
    });
  }
  return { tests, diagnostics, files };
}
