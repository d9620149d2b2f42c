// `strata selector EXPR`: parse a Calico selector; with labels, say whether it matches; without,
// print its canonical form (and, with -o json, Calico's unique id).
import { renderDiagnostics } from '../../diagnostics/index.ts';
import { parseSelector } from '../../selector/index.ts';
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';

export interface SelectorOptions {
  readonly labels?: string | undefined;
  readonly labelsJson?: string | undefined;
  readonly output: string;
}

/** `k=v,k2=v2` (a value may be empty: `k=`). */
export function parseLabelList(text: string): Map<string, string> {
  const out = new Map<string, string>();
  if (text.trim() === '') return out;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--labels: "${part}" is not KEY=VALUE (use --labels-json for values with commas)`);
    out.set(part.slice(0, eq).trim(), part.slice(eq + 1));
  }
  return out;
}

function parseLabelsJson(text: string): Map<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--labels-json is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError('--labels-json must be a JSON object of strings');
  const out = new Map<string, string>();
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw new UsageError(`--labels-json: the value of "${k}" must be a string`);
    out.set(k, val);
  }
  return out;
}

export function runSelector(io: Io, expression: string, opts: SelectorOptions): number {
  if (opts.output !== 'text' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: selector prints text or json`);
  if (opts.labels !== undefined && opts.labelsJson !== undefined) throw new UsageError('use either --labels or --labels-json');
  const labels =
    opts.labels !== undefined ? parseLabelList(opts.labels) : opts.labelsJson !== undefined ? parseLabelsJson(opts.labelsJson) : undefined;
  const parsed = parseSelector(expression);
  if (!parsed.ok) {
    io.err(renderDiagnostics(parsed.diagnostics, { source: (f) => (f === '<selector>' ? expression : undefined), color: io.stderrColor }));
    return EXIT.USAGE;
  }
  const sel = parsed.value;
  if (labels !== undefined) {
    const match = sel.matches(labels);
    io.out(opts.output === 'json' ? JSON.stringify({ match, canonical: sel.canonical }) : String(match));
  } else {
    io.out(opts.output === 'json' ? JSON.stringify({ canonical: sel.canonical, id: sel.id }) : sel.canonical);
  }
  return EXIT.OK;
}
