// Runs the scenario corpus (testdata/scenarios/) through the `strata` command: for each case
// folder, `strata explain -f <folder> --flows <folder>/expect.jsonl -o json` must print one
// result per flow, in order, whose verdict is the expected one and whose decidedBy has every
// field the expectation gives. One test per case; cases run a few at a time.
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, flowLabel, listCases, readExpect } from './corpus.ts';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import type { ExpectedFlow, ScenarioCase } from './corpus.ts';

const CONCURRENCY = Math.max(1, Math.min(4, os.availableParallelism() - 1));
const TIMEOUT_MS = 120_000;
const MAX_REPORTED = 40;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

// In-process, as the CLI tests run: 120 process starts were most of `npm test`'s time. The command
// is the same code `bin/strata.js` runs; only the process around it is left out.
async function runStrata(args: readonly string[]): Promise<Run> {
  const io = memoryIo();
  const code = await main(args, io);
  return { code, stdout: io.stdout.join('\n'), stderr: io.stderr.join('\n') };
}

/** The JSON values in `text`: JSON Lines, pretty-printed objects one after another, or one array. */
function parseJsonStream(text: string): unknown[] {
  const t = text.trim();
  if (t === '') return [];
  if (t.startsWith('[')) {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v)) return v;
  }
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0) {
        values.push(JSON.parse(t.slice(start, i + 1)));
        start = -1;
      }
    } else if (depth === 0 && !/\s/.test(ch ?? '')) {
      throw new Error(`unexpected ${JSON.stringify(ch)} at offset ${i} between JSON values`);
    }
  }
  if (depth !== 0) throw new Error('output ends inside a JSON value');
  return values;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Differences between a result and its expectation (empty when it agrees). */
function compare(expected: ExpectedFlow, actual: unknown): string[] {
  if (!isRecord(actual)) return [`result is not an object: ${JSON.stringify(actual)}`];
  const diffs: string[] = [];
  // the result must be about the same flow (endpoint names compared when they are names, not addresses,
  // since an address may come back in another spelling)
  for (const k of ['from', 'to'] as const) {
    const a = actual[k];
    if (typeof a === 'string' && isIP(expected[k]) === 0 && a !== expected[k]) diffs.push(`${k}: result is for ${a}`);
  }
  if (actual['port'] !== undefined && Number(actual['port']) !== expected.port) diffs.push(`port: result is for ${String(actual['port'])}`);
  if (typeof actual['protocol'] === 'string' && actual['protocol'].toUpperCase() !== expected.protocol) diffs.push(`protocol: result is for ${actual['protocol']}`);
  if (actual['verdict'] !== expected.verdict) diffs.push(`verdict: expected ${expected.verdict}, got ${JSON.stringify(actual['verdict'])}`);
  if (expected.decidedBy) {
    const got = actual['decidedBy'];
    if (!isRecord(got)) diffs.push(`decidedBy: expected ${JSON.stringify(expected.decidedBy)}, got ${JSON.stringify(got)}`);
    else
      for (const [k, want] of Object.entries(expected.decidedBy)) {
        const have = got[k];
        const same = want === null ? have === null || have === undefined : JSON.stringify(have) === JSON.stringify(want);
        if (!same) diffs.push(`decidedBy.${k}: expected ${JSON.stringify(want)}, got ${JSON.stringify(have)}`);
      }
  }
  return diffs;
}

async function runCase(c: ScenarioCase): Promise<void> {
  const expected = readExpect(c.dir);
  const flowsFile = path.join(c.dir, 'expect.jsonl');
  const run = await runStrata(['explain', '-f', c.dir, '--flows', flowsFile, '-o', 'json']);
  const rel = path.relative(REPO_ROOT, c.dir);
  // exit 0, or 1 where the command reports denied flows; 2 is a usage or input error
  if (run.code !== 0 && run.code !== 1) {
    assert.fail(`${rel}: strata explain exited with ${String(run.code)}\n${run.stderr.trim().slice(0, 4000)}`);
  }
  let results: unknown[];
  try {
    results = parseJsonStream(run.stdout);
  } catch (e) {
    assert.fail(`${rel}: output is not JSON (${(e as Error).message})\n${run.stdout.slice(0, 2000)}\n${run.stderr.trim().slice(0, 2000)}`);
  }
  assert.equal(results.length, expected.length, `${rel}: ${expected.length} flows in, ${results.length} results out\n${run.stderr.trim().slice(0, 2000)}`);

  const mismatches: string[] = [];
  expected.forEach((want, i) => {
    const diffs = compare(want, results[i]);
    if (diffs.length) {
      const got = results[i];
      const gotVerdict = isRecord(got) ? JSON.stringify(got['verdict']) : '?';
      const gotBy = isRecord(got) ? ` decidedBy=${JSON.stringify(got['decidedBy'])}` : '';
      mismatches.push(`  line ${i + 1}: ${flowLabel(want)}: expected ${want.verdict}, got ${gotVerdict}${gotBy}\n      ${diffs.join('; ')}`);
    }
  });
  if (mismatches.length) {
    const shown = mismatches.slice(0, MAX_REPORTED).join('\n');
    const more = mismatches.length > MAX_REPORTED ? `\n  … and ${mismatches.length - MAX_REPORTED} more` : '';
    assert.fail(`${rel}: ${mismatches.length} of ${expected.length} flows disagree\n${shown}${more}`);
  }
}

describe('scenario corpus through `strata explain`', { concurrency: CONCURRENCY }, () => {
  for (const c of listCases()) {
    it(c.id, { timeout: TIMEOUT_MS + 10_000 }, () => runCase(c));
  }
});
