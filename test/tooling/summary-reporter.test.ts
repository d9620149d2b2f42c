// The `npm test` summary reporter (issue 11, item 11): skips with their reasons, failures, one line
// per finished file, and the final `tests: N passed, N failed, N skipped` line. Fed the events the
// node:test runner emits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import summaryReporter, { summaryLine } from '../summary-reporter.ts';

const file = join(process.cwd(), 'test', 'x.test.ts');

async function* events(): AsyncGenerator<{ type: string; data: Record<string, unknown> }> {
  yield { type: 'test:pass', data: { name: 'works', nesting: 0, file, details: { type: 'test' } } };
  yield { type: 'test:pass', data: { name: 'needs root', nesting: 1, file, skip: 'needs root: creates network namespaces', details: { type: 'test' } } };
  yield { type: 'test:pass', data: { name: 'bare skip', nesting: 1, file, skip: true, details: { type: 'test' } } };
  yield { type: 'test:fail', data: { name: 'breaks', nesting: 1, file, details: { type: 'test', error: { message: 'wrapped', cause: new Error('boom\nmore') } } } };
  yield { type: 'test:pass', data: { name: 'a suite', nesting: 0, file, details: { type: 'suite' } } };
  yield { type: 'test:summary', data: { file, success: false, duration_ms: 1234 } };
  yield { type: 'test:summary', data: { success: false, duration_ms: 2000 } };
}

test('the reporter prints skips with reasons, failures, files and the final count line', async () => {
  let out = '';
  for await (const chunk of summaryReporter(events() as never)) out += chunk;
  const lines = out.trimEnd().split('\n');
  assert.ok(lines.includes('skip: test/x.test.ts › needs root: needs root: creates network namespaces'), out);
  assert.ok(lines.includes('skip: test/x.test.ts › bare skip: no reason given'), out);
  assert.ok(lines.includes('fail: test/x.test.ts › breaks: boom'), out);
  assert.ok(lines.includes('FAIL test/x.test.ts (1.2 s)'), out);
  assert.equal(lines.at(-1), 'tests: 1 passed, 1 failed, 2 skipped');
});

test('the final line has exactly the documented form', () => {
  assert.match(summaryLine({ passed: 10, failed: 0, skipped: 3 }), /^tests: \d+ passed, \d+ failed, \d+ skipped$/);
});
