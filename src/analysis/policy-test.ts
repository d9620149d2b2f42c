// Running PolicyTest cases (`strata test`): each case is a flow — or every pair of two endpoint
// sets — decided by explain's own evaluation and judged by analysis/expectations.ts, the same
// judgement `explain --flows` applies to an `expect`. Pure: the cluster and the parsed tests in,
// results out.
import type { Diagnostic, Span } from '../diagnostics/index.ts';
import type { Cluster, Endpoint, FlowRequest } from '../engine/index.ts';
import { makeFlow } from '../engine/index.ts';
import type { Origin, PolicyTestCase } from '../model/index.ts';
import { parseSelector } from '../selector/index.ts';
import { checkExpectation } from './expectations.ts';
import type { Expectation } from './expectations.ts';
import { explainFlow } from './explain.ts';
import type { ExplainJson } from './explain.ts';

export type CaseStatus = 'pass' | 'fail' | 'error';

export interface CaseResult {
  /** The PolicyTest's `metadata.name`. */
  readonly suite: string;
  readonly name: string;
  /** The case's `from:` in the test file: where a failure is reported. */
  readonly span: Span;
  /** The sides as written, for reports (`dev/web`, `namespace dev`). */
  readonly from: string;
  readonly to: string;
  readonly port: number | null;
  readonly protocol: string;
  readonly expected: Expectation;
  readonly status: CaseStatus;
  /** Why it failed (one sentence each) or could not run. */
  readonly mismatches: readonly string[];
  /** The decision of the flow (of the counter-example, for a failing set case). */
  readonly decision?: ExplainJson;
  /** Set cases: the first pair that did not meet the expectation. */
  readonly counterExample?: { readonly from: string; readonly to: string };
  /** Set cases: pairs checked (all of them when it passed). */
  readonly pairs?: number;
  readonly diagnostics?: readonly Diagnostic[];
}

export interface SuiteInput {
  readonly name: string;
  readonly cases: readonly PolicyTestCase[];
  readonly origin: Origin;
}

type Side = PolicyTestCase['from'];

function describeSide(s: Side): string {
  if (typeof s === 'string') return s;
  if (s.selector === undefined) return `namespace ${s.namespace ?? ''}`;
  return s.namespace === undefined ? `endpoints with ${s.selector}` : `namespace ${s.namespace} with ${s.selector}`;
}

/** The endpoint ids a set side stands for, sorted (or the side's text itself). */
function members(cluster: Cluster, s: Side): readonly string[] | string {
  if (typeof s === 'string') return [s];
  let matches: ((e: Endpoint) => boolean) | undefined;
  if (s.selector !== undefined) {
    const sel = parseSelector(s.selector);
    if (!sel.ok) return `invalid selector: ${sel.diagnostics[0]?.message ?? 'syntax error'}`;
    matches = (e) => sel.value.matches(e.labels);
  }
  const ids = [...cluster.endpoints]
    .filter((e) => (s.namespace === undefined || e.namespace === s.namespace) && (matches === undefined || matches(e)))
    .map((e) => e.id)
    .sort();
  return ids.length === 0 ? `${describeSide(s)} contains no endpoint: the case would check nothing` : ids;
}

export function expectationOfCase(c: PolicyTestCase): Expectation {
  const pendingVerdict = c.pending ?? (c.pendingDecidedBy === undefined ? undefined : c.expect);
  return {
    verdict: c.expect,
    ...(c.decidedBy === undefined ? {} : { decidedBy: c.decidedBy }),
    ...(pendingVerdict === undefined ? {} : { pending: { verdict: pendingVerdict, ...(c.pendingDecidedBy === undefined ? {} : { decidedBy: c.pendingDecidedBy }) } }),
  };
}

/** Runs one case; `span` is where it is reported (its `from:`). */
export function runPolicyTestCase(cluster: Cluster, suite: string, c: PolicyTestCase, span: Span): CaseResult {
  const expected = expectationOfCase(c);
  const base = {
    suite,
    name: c.name,
    span,
    from: describeSide(c.from),
    to: describeSide(c.to),
    port: c.port ?? null,
    protocol: typeof c.protocol === 'number' ? String(c.protocol) : (c.protocol ?? 'TCP'),
    expected,
  };
  const error = (message: string, diagnostics: readonly Diagnostic[] = []): CaseResult => ({
    ...base,
    status: 'error',
    mismatches: [message],
    diagnostics: diagnostics.length > 0 ? diagnostics : [{ code: 'policy-test/invalid-case', severity: 'error', message, span }],
  });
  const srcs = members(cluster, c.from);
  if (typeof srcs === 'string') return error(`from: ${srcs}`);
  const dsts = members(cluster, c.to);
  if (typeof dsts === 'string') return error(`to: ${dsts}`);
  const isSet = typeof c.from !== 'string' || typeof c.to !== 'string';
  let pairs = 0;
  let last: ExplainJson | undefined;
  for (const from of srcs) {
    for (const to of dsts) {
      // An endpoint talking to itself is always allowed: a set case is about distinct endpoints.
      if (isSet && from === to) continue;
      const req: FlowRequest = { from, to, port: c.port, protocol: c.protocol, srcPort: c.srcPort, icmpType: c.icmpType, icmpCode: c.icmpCode };
      const flow = makeFlow(cluster, req);
      if (!flow.ok) {
        const first = flow.diagnostics[0]?.message ?? 'the flow cannot be evaluated';
        return error(isSet ? `${from} → ${to}: ${first}` : first, flow.diagnostics.map((d) => ({ ...d, span: d.span ?? span })));
      }
      pairs++;
      const decision = explainFlow(cluster, flow.value, { fromText: from, toText: to, withSource: !isSet });
      last = decision;
      const judged = checkExpectation(expected, decision);
      if (!judged.pass) {
        const withSource = isSet ? explainFlow(cluster, flow.value, { fromText: from, toText: to }) : decision;
        return { ...base, status: 'fail', mismatches: judged.mismatches, decision: withSource, ...(isSet ? { counterExample: { from, to }, pairs } : {}) };
      }
    }
  }
  if (pairs === 0) return error(`${base.from} → ${base.to}: no pair of distinct endpoints to check`);
  return { ...base, status: 'pass', mismatches: [], ...(isSet ? { pairs } : last === undefined ? {} : { decision: last }) };
}

/** Where case `i` of a suite is reported: its `from:` line. */
export function caseSpan(origin: Origin, i: number): Span {
  return origin.spanOf(['spec', 'cases', i, 'from']);
}

/** Runs every case of every suite, in order. */
export function runPolicyTests(cluster: Cluster, suites: readonly SuiteInput[]): CaseResult[] {
  return suites.flatMap((s) => s.cases.map((c, i) => runPolicyTestCase(cluster, s.name, c, caseSpan(s.origin, i))));
}
