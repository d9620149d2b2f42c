// Golden tests for the bundled examples (examples/**/flows.jsonl). For every example folder:
//   1. `strata check -f <folder>` exits 0 and reports exactly the warnings the example's README
//      says are intended (none, today);
//   2. `strata explain -f <folder> --flows <folder>/flows.jsonl -o json` decides every flow, and
//      a) each verdict and deciding step equals the hand-derived expectation written next to the
//         flow (the `expect` field of flows.jsonl, the same table as the README), and
//      b) the verdict, deciding step, pending (staged) view and both traces equal the golden file
//         testdata/golden/examples/<name>.explain.jsonl.
// Goldens are regenerated with STRATA_UPDATE_GOLDEN=1; the hand expectations are checked even
// then, so a regenerated golden can never silently accept a verdict the semantics do not give.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'strata.js');
const GOLDEN_DIR = path.join(ROOT, 'testdata', 'golden', 'examples');
const UPDATE = process.env['STRATA_UPDATE_GOLDEN'] === '1';

interface ExampleSpec {
  /** Folder relative to the repository root. */
  readonly dir: string;
  /** Golden file stem. */
  readonly name: string;
  /** Lint warning codes the example's README declares intended (sorted). */
  readonly intendedWarnings: readonly string[];
}

const EXAMPLES: readonly ExampleSpec[] = [
  { dir: 'examples/multi-tenant', name: 'multi-tenant', intendedWarnings: [] },
  { dir: 'examples/zero-trust/default-deny', name: 'zero-trust-default-deny', intendedWarnings: [] },
  { dir: 'examples/zero-trust/three-tier', name: 'zero-trust-three-tier', intendedWarnings: [] },
  { dir: 'examples/zero-trust/dev-prod-isolation', name: 'zero-trust-dev-prod-isolation', intendedWarnings: [] },
];

// ---- running the CLI

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// In-process (the command is the same code bin/strata.js runs), with paths under the repository
// root so the run does not depend on the working directory. One test below runs the real binary.
async function strata(args: readonly string[]): Promise<Run> {
  const io = memoryIo();
  const code = await main(args.map((a) => (a.startsWith('examples/') ? path.join(ROOT, a) : a)), io);
  return { code, stdout: io.stdout.join('\n'), stderr: io.stderr.join('\n') };
}

function strataProcess(args: readonly string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error !== undefined) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function describeRun(args: readonly string[], r: Run): string {
  return `strata ${args.join(' ')} exited ${String(r.code)}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

// ---- flows and their hand-derived expectations

interface Decision {
  readonly verdict: string;
  readonly direction: string | null;
  readonly tier: string | null;
  readonly policy: string | null;
  readonly rule: number | null;
  readonly reason: string;
}

interface Expectation extends Decision {
  readonly pending?: Decision;
}

interface FlowLine {
  readonly from: string;
  readonly to: string;
  readonly port?: number;
  readonly protocol?: string;
  readonly note?: string;
  readonly expect: Expectation;
}

function readFlows(file: string): FlowLine[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('//'))
    .map((l) => JSON.parse(l) as FlowLine);
}

// ---- the compared projection of an `explain -o json` result

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(x: Json | undefined): x is JsonObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Drops `source` (file:line:col of the manifests: it moves with every edit of a comment). */
function withoutSource(x: Json | undefined): Json {
  if (!isObject(x)) return x ?? null;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(x)) if (k !== 'source') out[k] = v;
  return out;
}

function projectDirection(d: Json | undefined): Json {
  if (!isObject(d)) return null;
  const trace = Array.isArray(d['trace']) ? d['trace'].map((s) => withoutSource(s)) : null;
  return { endpoint: d['endpoint'] ?? null, verdict: d['verdict'] ?? null, trace };
}

function project(r: JsonObject): JsonObject {
  const pending = r['pending'];
  return {
    from: r['from'] ?? null,
    to: r['to'] ?? null,
    port: r['port'] ?? null,
    protocol: r['protocol'] ?? null,
    verdict: r['verdict'] ?? null,
    decidedBy: withoutSource(r['decidedBy']),
    pending: isObject(pending) ? { verdict: pending['verdict'] ?? null, decidedBy: withoutSource(pending['decidedBy']) } : null,
    egress: projectDirection(r['egress']),
    ingress: projectDirection(r['ingress']),
  };
}

function decisionOf(verdict: Json | undefined, decidedBy: Json | undefined): Decision {
  const d = isObject(decidedBy) ? decidedBy : {};
  return {
    verdict: String(verdict),
    direction: (d['direction'] ?? null) as string | null,
    tier: (d['tier'] ?? null) as string | null,
    policy: (d['policy'] ?? null) as string | null,
    rule: (d['rule'] ?? null) as number | null,
    reason: String(d['reason']),
  };
}

function expected(e: Decision): Decision {
  return { verdict: e.verdict, direction: e.direction, tier: e.tier, policy: e.policy, rule: e.rule, reason: e.reason };
}

function label(f: FlowLine): string {
  return `${f.from} -> ${f.to} ${f.protocol ?? 'TCP'}/${f.port ?? ''}`;
}

// ---- the tests

describe('bundled examples', () => {
  it('every example folder with a flows.jsonl is covered here', () => {
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(path.join(ROOT, dir))) {
        const rel = path.posix.join(dir, entry);
        if (statSync(path.join(ROOT, rel)).isDirectory()) walk(rel);
        else if (entry === 'flows.jsonl') found.push(dir);
      }
    };
    walk('examples');
    assert.deepEqual(found.sort(), EXAMPLES.map((e) => e.dir).sort());
  });

  for (const ex of EXAMPLES) {
    describe(ex.dir, () => {
      const flowsFile = path.join(ex.dir, 'flows.jsonl');

      it('has a README and a flows.jsonl with a hand-derived expectation on every flow', () => {
        assert.ok(existsSync(path.join(ROOT, ex.dir, 'README.md')), `${ex.dir}/README.md is missing`);
        const flows = readFlows(path.join(ROOT, flowsFile));
        assert.ok(flows.length > 0, `${flowsFile} has no flows`);
        for (const f of flows) {
          assert.equal(typeof f.expect, 'object', `${label(f)} has no "expect"`);
          assert.ok(f.expect.verdict === 'allow' || f.expect.verdict === 'deny', `${label(f)}: expect.verdict`);
        }
      });

      it('strata check exits 0 with only the intended warnings', async () => {
        const args = ['check', '-f', ex.dir, '-o', 'json'];
        const r = await strata(args);
        assert.equal(r.code, 0, describeRun(args, r));
        const out = JSON.parse(r.stdout) as { errors: number; warnings: number; diagnostics: { code: string; severity: string; message: string }[] };
        assert.equal(out.errors, 0, describeRun(args, r));
        const warnings = out.diagnostics.filter((d) => d.severity === 'warning');
        assert.deepEqual(
          warnings.map((d) => d.code).sort(),
          [...ex.intendedWarnings],
          `unexpected warnings:\n${warnings.map((d) => `  ${d.code}: ${d.message}`).join('\n')}`,
        );
        // The human form agrees.
        const text = await strata(['check', '-f', ex.dir]);
        assert.equal(text.code, 0, describeRun(['check', '-f', ex.dir], text));
      });

      it('explain --flows matches the hand analysis and the golden file', async () => {
        const flows = readFlows(path.join(ROOT, flowsFile));
        const args = ['explain', '-f', ex.dir, '--flows', flowsFile, '-o', 'json'];
        const r = await strata(args);
        assert.equal(r.code, 0, describeRun(args, r));
        const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
        assert.equal(lines.length, flows.length, `one result per flow expected\n${describeRun(args, r)}`);
        const results = lines.map((l) => JSON.parse(l) as JsonObject);

        // a) the hand analysis (README tables): verdict and deciding step, pending view.
        results.forEach((res, i) => {
          const f = flows[i]!;
          assert.equal(res['from'], f.from);
          assert.equal(res['to'], f.to);
          const got = decisionOf(res['verdict'], res['decidedBy']);
          assert.deepEqual(got, expected(f.expect), `${label(f)} (${f.note ?? ''}): decision differs from the hand analysis`);
          const pending = res['pending'];
          if (f.expect.pending !== undefined) {
            assert.ok(isObject(pending), `${label(f)}: a pending (staged) verdict was expected`);
            assert.deepEqual(decisionOf(pending['verdict'], pending['decidedBy']), expected(f.expect.pending), `${label(f)}: pending decision differs from the hand analysis`);
          } else if (isObject(pending)) {
            // A staged policy takes part but must not change this flow.
            assert.deepEqual(decisionOf(pending['verdict'], pending['decidedBy']), got, `${label(f)}: the staged policies change this flow, but flows.jsonl does not say so`);
          }
        });

        // b) the golden file: decisions and full traces.
        const actual = results.map((res) => JSON.stringify(project(res)));
        const goldenFile = path.join(GOLDEN_DIR, `${ex.name}.explain.jsonl`);
        if (UPDATE) {
          mkdirSync(GOLDEN_DIR, { recursive: true });
          writeFileSync(goldenFile, actual.join('\n') + '\n');
          return;
        }
        assert.ok(existsSync(goldenFile), `${path.relative(ROOT, goldenFile)} is missing; run with STRATA_UPDATE_GOLDEN=1 (and review it)`);
        const golden = readFileSync(goldenFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
        assert.equal(actual.length, golden.length, `${path.relative(ROOT, goldenFile)} has ${golden.length} flows, the run ${actual.length}`);
        actual.forEach((line, i) => {
          assert.deepEqual(JSON.parse(line) as Json, JSON.parse(golden[i]!) as Json, `${label(flows[i]!)} differs from ${path.relative(ROOT, goldenFile)} line ${i + 1}`);
        });
      });
    });
  }

  it('strata demo (npm start) explains the multi-tenant flows without findings, run as the real binary', () => {
    // The one process start: `npm start` is bin/strata.js, so the process itself is what is tested.
    const args = ['demo', '-o', 'json'];
    const r = strataProcess(args);
    assert.equal(r.code, 0, describeRun(args, r));
    const out = JSON.parse(r.stdout) as { diagnostics: { code: string; severity: string }[]; flows: { verdict: string }[] };
    assert.deepEqual(out.diagnostics.filter((d) => d.severity !== 'info').map((d) => d.code), []);
    const flows = readFlows(path.join(ROOT, 'examples', 'multi-tenant', 'flows.jsonl'));
    assert.deepEqual(out.flows.map((f) => f.verdict), flows.map((f) => f.expect.verdict));
  });
});
