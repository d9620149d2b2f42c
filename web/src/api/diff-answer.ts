// The diff endpoint's answer read into lines (src/server/diff.ts on the staging branch answers a
// DiffResult; `strata diff -o json` prints JSON Lines): kept out of the view so it is tested in
// Node against the documented answer.
import { diffLineSchema } from './schemas.ts';
import type { DiffLine } from './schemas.ts';

export interface DiffAnswer {
  readonly lines: DiffLine[];
  readonly bad: number;
  /** The server's DiffResult summary, when it sent one. */
  readonly summary: Record<string, unknown> | undefined;
}

/**
 * The answer: a DiffResult (`{kind: DiffResult, peers, lines, summary}`), or bare lines as JSON
 * Lines or a JSON array — the lines of `strata diff -o json` either way.
 */
export function parseDiffAnswer(text: string): DiffAnswer {
  const trimmed = text.trim();
  let values: unknown[];
  let summary: Record<string, unknown> | undefined;
  try {
    const whole = JSON.parse(trimmed) as unknown;
    if (Array.isArray(whole)) values = whole;
    else if (typeof whole === 'object' && whole !== null && Array.isArray((whole as { lines?: unknown }).lines)) {
      const r = whole as { lines: unknown[]; peers?: unknown; summary?: unknown };
      values = [...(Array.isArray(r.peers) ? r.peers : []), ...r.lines];
      summary = typeof r.summary === 'object' && r.summary !== null ? (r.summary as Record<string, unknown>) : undefined;
    } else values = [whole];
  } catch {
    values = trimmed === '' ? [] : trimmed.split('\n').map((l) => { try { return JSON.parse(l) as unknown; } catch { return undefined; } });
  }
  const lines: DiffLine[] = [];
  let bad = 0;
  for (const v of values) {
    const p = diffLineSchema.safeParse(v);
    if (p.success) lines.push(p.data);
    else bad++;
  }
  return { lines, bad, summary };
}

