// zod's issues → Strata's Diagnostics: a stable code, a message saying what was expected, the
// field path, and a span from the resource's Origin. Built-in issues are worded here (with the
// tags schema-kit attached to schemas); custom issues carry their own code and wording.
import type { z } from 'zod';
import type { Diagnostic, Span } from '../diagnostics/index.ts';
import { didYouMean } from '../diagnostics/index.ts';
import { formatPath } from '../diagnostics/index.ts';
import type { FieldPath, Origin } from './origin.ts';
import { keySpanOf } from './origin.ts';
import { detailOf, hintsOf, keysOf, tagOf } from './schema-kit.ts';
import type { IssueDetail } from './schema-kit.ts';

/** Messages of built-in issues are replaced by this token + the index of the raw issue. */
const TOKEN = '\u0000strata-issue:';

export interface Parsed<T> {
  readonly value: T | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Runs `schema` on `input`; every problem becomes a Diagnostic positioned through `origin` (no
 * spans without one: values that did not come from a file).
 */
export function parseWithDiagnostics<S extends z.ZodType>(schema: S, input: unknown, origin: Origin | undefined): Parsed<z.output<S>> {
  const raw: z.core.$ZodRawIssue[] = [];
  // The raw issue still knows which schema raised it (`inst`); the final one does not.
  const error = (iss: z.core.$ZodRawIssue): string => {
    raw.push(iss);
    return `${TOKEN}${raw.length - 1}`;
  };
  const r = schema.safeParse(input, { error, reportInput: true });
  if (r.success) return { value: r.data, diagnostics: [] };
  const out: Diagnostic[] = [];
  for (const issue of r.error.issues) out.push(...toDiagnostics(issue, raw, origin, []));
  return { value: undefined, diagnostics: sortBySpan(withoutEchoes(out)) };
}

/**
 * `containerport: 80` is one mistake, not two: when an unknown field's did-you-mean names a
 * required field that is missing beside it, the "missing" report only repeats it.
 */
function withoutEchoes(ds: readonly Diagnostic[]): Diagnostic[] {
  const meant = new Set<string>();
  for (const d of ds) {
    const m = d.code === 'model/unknown-field' ? /^did you mean "(.+)"\?$/.exec(d.help ?? '') : null;
    if (m !== null && d.path !== undefined) meant.add(`${d.path.slice(0, d.path.lastIndexOf('.') + 1)}${m[1] ?? ''}`);
  }
  return ds.filter((d) => !(d.code === 'model/missing-field' && d.path !== undefined && meant.has(d.path)));
}

function toDiagnostics(issue: z.core.$ZodIssue, raw: readonly z.core.$ZodRawIssue[], origin: Origin | undefined, base: FieldPath): Diagnostic[] {
  const path: FieldPath = [...base, ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
  if (issue.code === 'custom') {
    const detail = detailOf(issue.params);
    if (detail !== undefined) return [fromDetail(detail, issue.message, path, origin)];
  }
  const source = rawOf(issue.message, raw);
  const schema = source?.inst;
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'invalid_union') && issue.input === undefined) {
    const name = path[path.length - 1];
    return [make('model/missing-field', `required field "${String(name ?? '')}" is missing`, path, origin?.spanOf(path), tagOf(schema)?.help)];
  }
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = keysOf(schema);
      const hints = hintsOf(schema);
      return issue.keys.map((key) => {
        const at = [...path, key];
        const help = hints?.[key] ?? didYouMean(key, known) ?? (known.length > 0 && known.length <= 12 ? `expected one of: ${known.join(', ')}` : undefined);
        return make('model/unknown-field', `unknown field "${key}"`, at, origin === undefined ? undefined : keySpanOf(origin, at), help);
      });
    }
    case 'invalid_type': {
      const t = tagOf(schema);
      const expected = t?.expected ?? expectedType(issue.expected);
      const help = t?.help ?? (issue.expected === 'string' && (typeof issue.input === 'number' || typeof issue.input === 'boolean') ? quoteHelp(issue.input) : undefined);
      return [make(t?.code ?? 'model/invalid-value', `expected ${expected}, got ${describeValue(issue.input)}`, path, origin?.spanOf(path), help)];
    }
    case 'invalid_value': {
      const t = tagOf(schema);
      const values = issue.values.map((v) => String(v));
      const got = issue.input;
      const help = t?.help ?? (typeof got === 'string' ? didYouMean(got, values) : undefined);
      return [make(t?.code ?? 'model/invalid-value', `expected ${listOf(values)}, got ${describeValue(got)}`, path, origin?.spanOf(path), help)];
    }
    case 'too_small':
    case 'too_big': {
      const t = tagOf(schema);
      const bound = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
      const word = issue.code === 'too_small' ? 'at least' : 'at most';
      const unit = issue.origin === 'array' ? (bound === 1 ? ' item' : ' items') : issue.origin === 'string' ? (bound === 1 ? ' character' : ' characters') : '';
      const subject = issue.origin === 'array' ? 'a list with' : issue.origin === 'string' ? 'a string with' : 'a number';
      const exact = issue.exact === true ? 'exactly' : word;
      return [make(t?.code ?? 'model/invalid-value', `expected ${subject} ${exact} ${bound}${unit}, got ${describeValue(issue.input)}`, path, origin?.spanOf(path), t?.help)];
    }
    case 'invalid_union': {
      const t = tagOf(schema);
      return [make(t?.code ?? 'model/invalid-value', `expected ${t?.expected ?? 'a value of another form'}, got ${describeValue(issue.input)}`, path, origin?.spanOf(path), t?.help)];
    }
    case 'invalid_format': {
      const t = tagOf(schema);
      return [make(t?.code ?? 'model/invalid-value', `expected ${t?.expected ?? `a value matching ${issue.pattern ?? issue.format}`}, got ${describeValue(issue.input)}`, path, origin?.spanOf(path), t?.help)];
    }
    case 'invalid_key':
      return issue.issues.flatMap((inner) => toDiagnostics(inner, raw, origin, path));
    case 'invalid_element':
    case 'not_multiple_of':
    case 'custom':
      return [make('model/invalid-value', readable(issue.message), path, origin?.spanOf(path), undefined)];
    default: {
      const unreachable: never = issue;
      return [make('model/invalid-value', String((unreachable as { message?: unknown }).message), path, origin?.spanOf(path), undefined)];
    }
  }
}

function fromDetail(d: IssueDetail, message: string, path: FieldPath, origin: Origin | undefined): Diagnostic {
  let span: Span | undefined;
  if (origin === undefined) {
    span = undefined;
  } else if (d.offset !== undefined) {
    const start = origin.spanInString(path, d.offset);
    const end = d.endOffset !== undefined && d.endOffset > d.offset ? origin.spanInString(path, d.endOffset - 1) : undefined;
    span = end !== undefined && end.line === start.line && end.col >= start.col ? { ...start, endLine: end.line, endCol: end.col } : start;
  } else {
    span = d.atKey === true ? keySpanOf(origin, path) : origin.spanOf(path);
  }
  return make(d.code, message, path, span, d.help);
}

function make(code: string, message: string, path: FieldPath, span: Span | undefined, help: string | undefined): Diagnostic {
  const base: Diagnostic = span === undefined ? { code, severity: 'error', message, path: formatPath(path) } : { code, severity: 'error', message, span, path: formatPath(path) };
  return help === undefined ? base : { ...base, help };
}

function rawOf(message: string, raw: readonly z.core.$ZodRawIssue[]): z.core.$ZodRawIssue | undefined {
  return message.startsWith(TOKEN) ? raw[Number(message.slice(TOKEN.length))] : undefined;
}

function readable(message: string): string {
  return message.startsWith(TOKEN) ? 'invalid value' : message;
}

function expectedType(t: string): string {
  switch (t) {
    case 'string':
      return 'a string';
    case 'number':
    case 'int':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'array':
    case 'tuple':
      return 'a list';
    case 'object':
    case 'record':
    case 'map':
      return 'a mapping';
    case 'null':
      return 'null';
    default:
      return t;
  }
}

/** How a value from the user's file is named in messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value (null)';
  if (typeof v === 'string') return v.length > 60 ? `${JSON.stringify(v.slice(0, 57))}…` : JSON.stringify(v);
  // YAML reads `1e400` as Infinity: say what was written is too large, not "Infinity".
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'a value that is not a number (NaN)' : 'a number too large to represent';
  if (typeof v === 'number' || typeof v === 'bigint') return `the number ${String(v)}`;
  if (typeof v === 'boolean') return `the boolean ${String(v)}`;
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

/**
 * YAML turns unquoted `1.0` into the number 1 and `true` into a boolean; the value as written is
 * lost, so the hint must not propose the converted text (`"1"` for `1.0` would change the value).
 */
export function quoteHelp(v: unknown): string {
  if (typeof v === 'boolean') return `quote it to make it a string: "${String(v)}"`;
  return 'quote the value exactly as written to make it a string (YAML read it as a number)';
}

/** `"A", "B" or "C"`. */
export function listOf(values: readonly string[]): string {
  const q = values.map((v) => JSON.stringify(v));
  if (q.length <= 1) return q[0] ?? 'nothing';
  return `${q.slice(0, -1).join(', ')} or ${q[q.length - 1] ?? ''}`;
}

/** Diagnostics in reading order (stable for equal positions). */
export function sortBySpan(ds: readonly Diagnostic[]): Diagnostic[] {
  return ds
    .map((d, i) => ({ d, i }))
    .sort((a, b) => {
      const la = a.d.span?.line ?? 0;
      const lb = b.d.span?.line ?? 0;
      if (la !== lb) return la - lb;
      const ca = a.d.span?.col ?? 0;
      const cb = b.d.span?.col ?? 0;
      return ca !== cb ? ca - cb : a.i - b.i;
    })
    .map((x) => x.d);
}
