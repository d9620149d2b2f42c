// The `npm test` reporter people read (the full `spec` report goes to a file next to it): one line
// per test file as it finishes, one line per skipped test with its reason, one per failure, and a
// last line `tests: N passed, N failed, N skipped` that scripts can grep.
// A node:test custom reporter: an async generator over the runner's events.
import { relative } from 'node:path';

interface TestEventData {
  readonly name: string;
  readonly nesting: number;
  readonly file?: string;
  readonly skip?: string | boolean;
  readonly todo?: string | boolean;
  readonly details?: { readonly type?: string; readonly duration_ms?: number; readonly error?: { readonly message?: string; readonly cause?: unknown } };
}

interface TestEvent {
  readonly type: string;
  readonly data: TestEventData;
}

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** The last line, exactly as scripts expect it. */
export function summaryLine(c: Counts): string {
  return `tests: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;
}

function where(d: TestEventData): string {
  return d.file === undefined ? d.name : `${relative(process.cwd(), d.file)} › ${d.name}`;
}

function reasonOf(v: string | boolean | undefined): string {
  return typeof v === 'string' && v !== '' ? v : 'no reason given';
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0] ?? '';
}

export default async function* summaryReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string, void> {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  const failures: string[] = [];
  for await (const event of source) {
    if (event.type === 'test:summary') {
      // One per test file as it finishes (the run's own summary has no file).
      const s = event.data as unknown as { file?: string; success?: boolean; duration_ms?: number };
      if (s.file !== undefined) yield `${s.success === false ? 'FAIL' : 'ok  '} ${relative(process.cwd(), s.file)} (${((s.duration_ms ?? 0) / 1000).toFixed(1)} s)\n`;
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    if (d.details?.type === 'suite') continue;
    if (event.type === 'test:fail') {
      counts.failed++;
      // A file that crashed before or between its tests is reported as a test named by its path.
      const crashed = d.nesting === 0 && d.file !== undefined && d.file.endsWith(d.name.replace(/^\.\//, ''));
      const cause = d.details?.error?.cause;
      const message = crashed ? 'the file failed to run (its output is in the spec report)' : firstLine(cause instanceof Error ? cause.message : d.details?.error?.message);
      const line = `fail: ${crashed ? relative(process.cwd(), d.file!) : where(d)}: ${message}`;
      failures.push(line);
      yield `${line}\n`;
    } else if (d.skip !== undefined && d.skip !== false) {
      counts.skipped++;
      yield `skip: ${where(d)}: ${reasonOf(d.skip)}\n`;
    } else if (d.todo !== undefined && d.todo !== false) {
      counts.skipped++;
      yield `todo: ${where(d)}: ${reasonOf(d.todo)}\n`;
    } else {
      counts.passed++;
    }
  }
  if (failures.length > 0) yield `\n${failures.length} failure${failures.length === 1 ? '' : 's'} (details in the spec report):\n${failures.map((f) => `  ${f}`).join('\n')}\n`;
  yield `${summaryLine(counts)}\n`;
}
