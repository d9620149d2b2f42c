// Golden rendered diagnostics for the bad manifests in testdata/bad/: each `x.yaml` (whose header
// comment says what is wrong) has `x.golden`, exactly what `renderDiagnostics` prints for it.
// Regenerate after an intended change with: STRATA_UPDATE_GOLDEN=1 node --test test/load/golden.test.ts
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { renderDiagnostics } from '../../src/diagnostics/index.ts';
import { loadPaths } from '../../src/load/index.ts';

const DIR = join('testdata', 'bad');
const update = process.env['STRATA_UPDATE_GOLDEN'] === '1';
const files = (await readdir(DIR)).filter((f) => f.endsWith('.yaml')).sort();

describe('rendered diagnostics of testdata/bad match their golden files', () => {
  test('there are bad manifests to check', () => assert.ok(files.length >= 5));
  for (const file of files) {
    test(file, async () => {
      const path = join(DIR, file);
      const r = await loadPaths([path]);
      assert.ok(r.diagnostics.some((d) => d.severity === 'error'), `${file} should have errors`);
      const rendered = `${renderDiagnostics(r.diagnostics, { source: (f) => r.sources.get(f) })}\n`;
      const goldenPath = path.replace(/\.yaml$/, '.golden');
      if (update) await writeFile(goldenPath, rendered);
      assert.equal(rendered, await readFile(goldenPath, 'utf8'));
    });
  }
});
