// Request bodies: JSON or YAML (one document, or several for batch apply), parsed by us so that
// malformed input is a 400 Status naming the problem, never a framework error page.
import { parseAllDocuments } from 'yaml';
import { fail } from './status.ts';
import { isObject } from './objects.ts';

/** Bodies above this are refused with 413 (kube-apiserver's limit is 3 MiB as well). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

function looksLikeJson(text: string): boolean {
  const t = text.trimStart();
  return t.startsWith('{') || t.startsWith('[');
}

/** Every document of a body: JSON (an object, or an array of objects) or multi-document YAML. */
export function parseDocuments(text: string): unknown[] {
  if (text.trim() === '') throw fail(400, 'the request body is empty');
  if (looksLikeJson(text)) {
    try {
      const v = JSON.parse(text) as unknown;
      return Array.isArray(v) ? v : [v];
    } catch (e) {
      throw fail(400, `the request body is not valid JSON: ${(e as Error).message}`);
    }
  }
  const docs = parseAllDocuments(text);
  const out: unknown[] = [];
  for (const [i, d] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    const err = d.errors[0];
    if (err !== undefined) throw fail(400, `the request body is not valid YAML (document ${i + 1}): ${err.message.split('\n')[0] ?? ''}`);
    const v = d.toJS() as unknown;
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

/** A body that must be one object. */
export function parseObject(text: string): Record<string, unknown> {
  const docs = parseDocuments(text);
  const [first] = docs;
  if (docs.length !== 1 || !isObject(first)) throw fail(400, 'the request body must be one object (use /apis/strata/v1/apply for several)');
  return first;
}

/** `kind: List` items and arrays flattened, as kubectl does with `-f`. */
export function flattenLists(docs: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const d of docs) {
    if (isObject(d) && typeof d['kind'] === 'string' && d['kind'].endsWith('List') && Array.isArray(d['items'])) out.push(...flattenLists(d['items']));
    else out.push(d);
  }
  return out;
}
