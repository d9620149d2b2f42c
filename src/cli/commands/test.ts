// `strata test`: PolicyTest files (apiVersion strata/v1) state flows and the decisions they must
// get; each case is decided by the engine exactly as `explain` decides it. Reports as text, JSON,
// JUnit XML or SARIF 2.1.0. Exit 0 when every case passes, 1 when one fails, 2 for input errors
// (bad manifests or test files, a case naming an endpoint that does not exist).
import { performance } from 'node:perf_hooks';
import { describeDecidedBy } from '../../analysis/expectations.ts';
import { caseSpan, runPolicyTestCase } from '../../analysis/policy-test.ts';
import type { CaseResult } from '../../analysis/policy-test.ts';
import type { Diagnostic, Span } from '../../diagnostics/index.ts';
import { formatDiagnosticLine, hasErrors } from '../../diagnostics/index.ts';
import { loadPaths, loadPolicyTests } from '../../load/index.ts';
import { junitXml } from '../../report/junit.ts';
import type { JunitSuite } from '../../report/junit.ts';
import { diagnosticsToSarif, sarifLog } from '../../report/sarif.ts';
import type { Io } from '../io.ts';
import { loadWorkspace, renderFor } from '../workspace.ts';
import { EXIT, UsageError } from '../exit.ts';

export interface TestOptions {
  readonly filename: readonly string[];
  readonly tests: readonly string[];
  readonly output: string;
  readonly podCidr?: string | undefined;
  readonly quiet?: boolean | undefined;
}

const FORMATS = ['text', 'json', 'junit', 'sarif'];

interface Timed extends CaseResult {
  readonly seconds: number;
}

function location(s: Span): string {
  return `${s.file}:${s.line}:${s.col}`;
}

function flowText(r: CaseResult): string {
  return `${r.from} → ${r.to} ${r.protocol}${r.port === null ? '' : ` ${r.port}`}`;
}

/** What a failed or errored case says, in one paragraph (JUnit details, SARIF message). */
function explainFailure(r: CaseResult): string {
  const lines = [...r.mismatches];
  if (r.counterExample !== undefined) lines.push(`counter-example: ${r.counterExample.from} → ${r.counterExample.to} (after ${r.pairs ?? 0} pair${r.pairs === 1 ? '' : 's'})`);
  if (r.decision !== undefined) {
    const d = r.decision.decidedBy;
    lines.push(`decided: ${r.decision.verdict} by ${describeDecidedBy(d)}${d.source === undefined ? '' : ` (${d.source})`}`);
  }
  return lines.join('\n');
}

function renderText(results: readonly Timed[], color: boolean): string {
  const paint = (code: string, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const out: string[] = [];
  for (const r of results) {
    if (r.status === 'pass') {
      const by = r.decision === undefined ? `${r.pairs ?? 0} pair${r.pairs === 1 ? '' : 's'} ${r.expected.verdict}` : `${r.decision.verdict} by ${describeDecidedBy(r.decision.decidedBy)}`;
      out.push(`${paint('32', '✓')} ${r.suite}: ${r.name}  (${flowText(r)}: ${by})`);
      continue;
    }
    const mark = r.status === 'fail' ? paint('31;1', '✗') : paint('33;1', '!');
    out.push(`${mark} ${r.suite}: ${r.name}  ${location(r.span)}`);
    out.push(`    ${flowText(r)}`);
    for (const line of explainFailure(r).split('\n')) out.push(`    ${line}`);
  }
  return out.join('\n');
}

function summary(results: readonly CaseResult[], suites: number): { passed: number; failed: number; errors: number; text: string } {
  const passed = results.filter((r) => r.status === 'pass').length;
  const failed = results.filter((r) => r.status === 'fail').length;
  const errors = results.filter((r) => r.status === 'error').length;
  const text = `strata test: ${passed} passed, ${failed} failed, ${errors} error${errors === 1 ? '' : 's'} (${results.length} case${results.length === 1 ? '' : 's'} in ${suites} PolicyTest${suites === 1 ? '' : 's'})`;
  return { passed, failed, errors, text };
}

function caseJson(r: Timed): Record<string, unknown> {
  return {
    suite: r.suite,
    name: r.name,
    status: r.status,
    location: location(r.span),
    from: r.from,
    to: r.to,
    port: r.port,
    protocol: r.protocol,
    expected: r.expected,
    mismatches: r.mismatches,
    ...(r.pairs === undefined ? {} : { pairs: r.pairs }),
    ...(r.counterExample === undefined ? {} : { counterExample: r.counterExample }),
    ...(r.decision === undefined ? {} : { decision: { verdict: r.decision.verdict, decidedBy: r.decision.decidedBy, pending: r.decision.pending } }),
    ...(r.diagnostics === undefined ? {} : { diagnostics: r.diagnostics }),
  };
}

function junitSuites(results: readonly Timed[]): JunitSuite[] {
  const bySuite = new Map<string, { file: string; cases: Timed[] }>();
  for (const r of results) {
    let s = bySuite.get(r.suite);
    if (s === undefined) bySuite.set(r.suite, (s = { file: r.span.file, cases: [] }));
    s.cases.push(r);
  }
  return [...bySuite].map(([name, s]) => ({
    name,
    file: s.file,
    cases: s.cases.map((r) => {
      const problem = { message: r.mismatches[0] ?? r.status, details: `${location(r.span)}: ${flowText(r)}\n${explainFailure(r)}` };
      return {
        name: r.name,
        classname: `strata.${name}`,
        seconds: r.seconds,
        ...(r.status === 'fail' ? { failure: problem } : r.status === 'error' ? { error: problem } : {}),
      };
    }),
  }));
}

const RULES = {
  'policy-test/failed': 'A PolicyTest case did not get the decision it expects',
  'policy-test/error': 'A PolicyTest case could not be evaluated',
};

export async function runTest(io: Io, opts: TestOptions): Promise<number> {
  if (!FORMATS.includes(opts.output)) throw new UsageError(`-o ${opts.output}: test prints ${FORMATS.join(', ')}`);
  if (opts.filename.length === 0) throw new UsageError('test needs at least one -f PATH (the manifests; PolicyTest files may be among them or given with --tests)');
  if (opts.filename.includes('-') && opts.tests.includes('-')) throw new UsageError('-f - and --tests - cannot both read standard input');
  const ws = await loadWorkspace(io, opts.filename, { podCidr: opts.podCidr });
  const extra = opts.tests.length === 0 ? undefined : await loadPaths(opts.tests, { readStdin: io.readStdin });
  const sources = new Map([...ws.sources, ...(extra?.sources ?? [])]);
  const loaded = loadPolicyTests(sources);
  const notes: Diagnostic[] = [];
  // Manifests in --tests files would silently not count: say so.
  for (const r of extra?.resources ?? []) {
    notes.push({ code: 'policy-test/ignored-resource', severity: 'warning', message: `${r.kind} ${r.name} in a --tests file is ignored: give manifests with -f`, span: r.origin.span });
  }
  const problems = [...ws.diagnostics, ...(extra?.diagnostics ?? []).filter((d) => d.code !== 'load/empty-directory' || opts.tests.length === 0), ...loaded.diagnostics, ...notes];
  const shown = problems.filter((d) => d.severity === 'error' || (opts.quiet !== true && d.severity === 'warning'));
  const render = { sources };
  if (shown.length > 0) io.err(renderFor(io, render, shown));
  if (hasErrors(problems)) {
    // A CI job uploads the report whatever happened: give it one that says why nothing ran.
    const errors = problems.filter((d) => d.severity === 'error');
    if (opts.output === 'sarif') io.out(JSON.stringify(diagnosticsToSarif(errors), null, 2));
    if (opts.output === 'junit') {
      const cases = errors.map((d) => ({ name: `${d.span === undefined ? '' : `${d.span.file}:${d.span.line}:${d.span.col}: `}${d.code}`, classname: 'strata.input', seconds: 0, error: { message: d.message, details: formatDiagnosticLine(d) } }));
      io.out(junitXml('strata test', [{ name: 'input', cases }]));
    }
    return EXIT.USAGE;
  }
  const suites = loaded.tests.map((t) => ({ name: t.test.metadata.name, cases: t.test.spec.cases, origin: t.origin }));
  if (suites.length === 0) {
    io.err(`strata: no PolicyTest (apiVersion strata/v1, kind PolicyTest) found in ${[...opts.filename, ...opts.tests].join(', ')}`);
    return EXIT.USAGE;
  }

  const results: Timed[] = [];
  for (const s of suites) {
    for (const [i, c] of s.cases.entries()) {
      const start = performance.now();
      const r = runPolicyTestCase(ws.cluster, s.name, c, caseSpan(s.origin, i));
      results.push({ ...r, seconds: (performance.now() - start) / 1000 });
    }
  }
  const sum = summary(results, suites.length);
  const code = sum.errors > 0 ? EXIT.USAGE : sum.failed > 0 ? EXIT.FINDINGS : EXIT.OK;

  switch (opts.output) {
    case 'json':
      io.out(JSON.stringify({ ok: code === EXIT.OK, passed: sum.passed, failed: sum.failed, errors: sum.errors, cases: results.map(caseJson) }, null, 2));
      break;
    case 'junit':
      io.out(junitXml('strata test', junitSuites(results)));
      break;
    case 'sarif': {
      const findings = results
        .filter((r) => r.status !== 'pass')
        .map((r) => ({
          ruleId: r.status === 'fail' ? 'policy-test/failed' : 'policy-test/error',
          level: 'error' as const,
          message: `${r.suite}: ${r.name}: ${flowText(r)}: ${explainFailure(r).replace(/\n/g, '; ')}`,
          span: r.span,
        }));
      io.out(JSON.stringify(sarifLog(findings, RULES), null, 2));
      break;
    }
    default:
      io.out(renderText(results, io.stdoutColor));
      io.out(sum.text);
  }
  if (opts.output !== 'text' && opts.quiet !== true) io.err(sum.text);
  return code;
}
