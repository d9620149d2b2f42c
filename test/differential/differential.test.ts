// The differential property test: random clusters and policies, the engine's verdict for every
// flow against the naive reference evaluator's, and the bulk matrix against per-flow evaluation.
//
//   STRATA_DIFF_SEED=N   base seed (scenario i uses seed N+i); default 20261201 (CI repeats), printed
//   STRATA_DIFF_RUNS=K   number of random scenarios (default 200)
//
// A failure prints the seed of each failing scenario, and for the first one a shrunk reproduction:
// the YAML, the flow, both verdicts, the engine's explain JSON and the reference's reasoning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/load/index.ts';
import { buildCluster, evaluateFlow, makeFlow } from '../../src/engine/index.ts';
import type { Cluster, Flow, FlowDecision } from '../../src/engine/index.ts';
import { computeMatrix } from '../../src/analysis/matrix.ts';
import type { PortSpec } from '../../src/analysis/matrix.ts';
import { explainJson } from '../../src/analysis/explain.ts';
import { everyCidrParses, generateScenario } from './generate.ts';
import { buildReferenceModel, evaluateReference } from './reference.ts';
import type { ReferenceResult } from './reference.ts';
import { formatFlow, formatScenarioYaml, scenarioProblems } from './scenario.ts';
import type { FlowSpec, Scenario } from './scenario.ts';
import { shrinkScenario } from './shrink.ts';
import { REGRESSIONS } from './regressions.ts';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(raw)}`);
  return n;
}

const RUNS = envInt('STRATA_DIFF_RUNS', 200);
// Fixed by default so CI is repeatable; set the variable (any number) for a soak with new seeds.
const BASE_SEED = envInt('STRATA_DIFF_SEED', 20261201);
const MAX_REPORTED = 12;

const seeds = Array.from({ length: RUNS }, (_, i) => (BASE_SEED + i) >>> 0);

function reproduce(seed: number): string {
  return `STRATA_DIFF_SEED=${seed} STRATA_DIFF_RUNS=1 node_modules/.bin/node --test test/differential/differential.test.ts`;
}

// ---- running the engine

type Loaded = { readonly ok: true; readonly cluster: Cluster } | { readonly ok: false; readonly problem: string };

function loadIntoEngine(s: Scenario): Loaded {
  const yaml = formatScenarioYaml(s);
  const loaded = loadText(yaml, `differential-${s.seed}.yaml`);
  const loadErrors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (loadErrors.length > 0) return { ok: false, problem: `the loader rejected the scenario:\n${JSON.stringify(loadErrors, null, 2)}` };
  const built = buildCluster(loaded.resources);
  const buildErrors = built.diagnostics.filter((d) => d.severity === 'error');
  if (buildErrors.length > 0) return { ok: false, problem: `buildCluster reported errors:\n${JSON.stringify(buildErrors, null, 2)}` };
  return { ok: true, cluster: built.cluster };
}

function engineFlow(cluster: Cluster, f: FlowSpec): Flow {
  const r = makeFlow(cluster, {
    from: f.from,
    to: f.to,
    protocol: f.protocol,
    port: f.port,
    icmpType: f.icmpType,
    icmpCode: f.icmpCode,
  });
  if (!r.ok) throw new Error(`makeFlow rejected ${formatFlow(f)}: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

// ---- comparing

interface VerdictMismatch {
  readonly scenario: Scenario;
  readonly flow: FlowSpec;
  readonly engine: string;
  readonly reference: ReferenceResult;
}

interface MatrixMismatch {
  readonly seed: number;
  readonly from: string;
  readonly to: string;
  readonly port: PortSpec;
  readonly matrix: boolean;
  readonly evaluateFlow: string;
  readonly options: string;
}

interface Outcome {
  readonly scenarios: number;
  readonly flows: number;
  readonly matrixCells: number;
  readonly allowed: number;
  readonly ms: number;
  readonly invalid: string[];
  readonly verdicts: VerdictMismatch[];
  readonly matrix: MatrixMismatch[];
}

const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

function checkMatrix(cluster: Cluster, seed: number, out: Outcome & { matrixCells: number }): number {
  let cells = 0;
  const runs: { label: string; ports: readonly PortSpec[] | undefined }[] = [
    { label: 'declared ports', ports: undefined },
    { label: 'explicit ports', ports: [{ protocol: 1, port: undefined }, { protocol: 6, port: 80 }, { protocol: 17, port: 53 }] },
  ];
  for (const run of runs) {
    const m = computeMatrix(cluster, run.ports === undefined ? {} : { ports: run.ports });
    for (const pm of m.ports) {
      for (let src = 0; src < m.endpoints.length; src++) {
        for (const dst of pm.destinations) {
          const from = m.endpoints[src]!.id;
          const to = m.endpoints[dst]!.id;
          const protocol = PROTOCOL_NAMES[pm.spec.protocol];
          if (protocol === undefined) throw new Error(`matrix port with protocol ${pm.spec.protocol}`);
          const flow = engineFlow(cluster, { from, to, protocol: protocol as FlowSpec['protocol'], ...(pm.spec.port === undefined ? {} : { port: pm.spec.port }) });
          const single = evaluateFlow(cluster, flow).verdict;
          const bulk = pm.allowed(src, dst);
          cells++;
          if (bulk !== (single === 'allow')) {
            out.matrix.push({ seed, from, to, port: pm.spec, matrix: bulk, evaluateFlow: single, options: run.label });
          }
        }
      }
    }
  }
  return cells;
}

let outcome: Outcome | undefined;

function runAll(): Outcome {
  if (outcome !== undefined) return outcome;
  const started = performance.now();
  const out = { scenarios: 0, flows: 0, matrixCells: 0, allowed: 0, ms: 0, invalid: [] as string[], verdicts: [] as VerdictMismatch[], matrix: [] as MatrixMismatch[] };
  for (const seed of seeds) {
    const s = generateScenario(seed);
    out.scenarios++;
    const problems = scenarioProblems(s);
    if (problems.length > 0 || !everyCidrParses(s)) {
      out.invalid.push(`seed ${seed}: the generator wrote an invalid scenario: ${problems.join('; ')}`);
      continue;
    }
    try {
      const loaded = loadIntoEngine(s);
      if (!loaded.ok) {
        out.invalid.push(`seed ${seed}: ${loaded.problem}\n--- YAML ---\n${formatScenarioYaml(s)}`);
        continue;
      }
      const model = buildReferenceModel(s);
      for (const f of s.flows) {
        const engine = evaluateFlow(loaded.cluster, engineFlow(loaded.cluster, f)).verdict;
        const reference = evaluateReference(model, f);
        out.flows++;
        if (engine === 'allow') out.allowed++;
        if (engine !== reference.verdict) out.verdicts.push({ scenario: s, flow: f, engine, reference });
      }
      out.matrixCells += checkMatrix(loaded.cluster, seed, out);
    } catch (e) {
      // A crash in the engine, the matrix or the reference: report it with its seed, don't stop.
      const what = e instanceof Error ? (e.stack ?? e.message) : String(e);
      out.invalid.push(`seed ${seed}: threw ${what}\nreproduce: ${reproduce(seed)}\n--- YAML ---\n${formatScenarioYaml(s)}`);
    }
  }
  out.ms = performance.now() - started;
  outcome = out;
  return out;
}

// ---- reporting

function stillMismatches(flow: FlowSpec): (candidate: Scenario) => boolean {
  return (candidate) => {
    const loaded = loadIntoEngine(candidate);
    if (!loaded.ok) return false;
    const engine = evaluateFlow(loaded.cluster, engineFlow(loaded.cluster, flow)).verdict;
    return engine !== evaluateReference(buildReferenceModel(candidate), flow).verdict;
  };
}

function describeVerdictMismatch(m: VerdictMismatch, shrink: boolean): string {
  const s = shrink ? shrinkScenario(m.scenario, m.flow, stillMismatches(m.flow), { budgetMs: 20_000 }) : m.scenario;
  const loaded = loadIntoEngine(s);
  let engineSide = '(the shrunk scenario no longer loads)';
  let engineVerdict = m.engine;
  if (loaded.ok) {
    const flow = engineFlow(loaded.cluster, m.flow);
    const decision: FlowDecision = evaluateFlow(loaded.cluster, flow);
    engineVerdict = decision.verdict;
    engineSide = JSON.stringify(explainJson(loaded.cluster, flow, decision), null, 2);
  }
  const reference = evaluateReference(buildReferenceModel(s), m.flow);
  return [
    `scenario seed ${m.scenario.seed} — reproduce: ${reproduce(m.scenario.seed)}`,
    `flow: ${formatFlow(m.flow)}`,
    `engine: ${engineVerdict}   reference: ${reference.verdict}`,
    `reference egress: ${reference.egress?.decidedBy ?? '(none)'} => ${reference.egress?.verdict ?? '-'}`,
    `reference ingress: ${reference.ingress?.decidedBy ?? '(none)'} => ${reference.ingress?.verdict ?? '-'}`,
    `--- ${shrink ? 'shrunk ' : ''}YAML ---`,
    formatScenarioYaml(s),
    '--- engine explain JSON ---',
    engineSide,
  ].join('\n');
}

function oneLine(m: VerdictMismatch): string {
  return `seed ${m.scenario.seed}: ${formatFlow(m.flow)}: engine ${m.engine}, reference ${m.reference.verdict} (egress: ${m.reference.egress?.decidedBy ?? '-'}; ingress: ${m.reference.ingress?.decidedBy ?? '-'})`;
}

// ---- the tests

test('every generated scenario is valid, loads, builds and evaluates without throwing', (t) => {
  const out = runAll();
  t.diagnostic(`base seed ${BASE_SEED}, ${out.scenarios} scenarios, ${out.flows} flows (${out.allowed} allowed), ${out.matrixCells} matrix cells, ${Math.round(out.ms)} ms`);
  assert.deepEqual(out.invalid.slice(0, 3), [], `${out.invalid.length} generated scenarios could not be checked`);
});

test('evaluateFlow agrees with the naive reference evaluator on every flow', (t) => {
  const out = runAll();
  if (out.verdicts.length === 0) return;
  const seedsHit = [...new Set(out.verdicts.map((m) => m.scenario.seed))];
  t.diagnostic(`mismatching seeds: ${seedsHit.join(', ')}`);
  const first = out.verdicts[0]!;
  const message = [
    `${out.verdicts.length} of ${out.flows} flows disagree, in ${seedsHit.length} of ${out.scenarios} scenarios (base seed ${BASE_SEED}).`,
    '',
    describeVerdictMismatch(first, true),
    '',
    `--- first ${Math.min(MAX_REPORTED, out.verdicts.length)} mismatches ---`,
    ...out.verdicts.slice(0, MAX_REPORTED).map(oneLine),
  ].join('\n');
  assert.fail(message);
});

test('the matrix (equivalence classes, bitsets) agrees with evaluateFlow for every pod pair and port', (t) => {
  const out = runAll();
  if (out.matrix.length === 0) return;
  const seedsHit = [...new Set(out.matrix.map((m) => m.seed))];
  t.diagnostic(`mismatching seeds: ${seedsHit.join(', ')}`);
  const lines = out.matrix
    .slice(0, MAX_REPORTED)
    .map((m) => `seed ${m.seed} (${m.options}): ${m.from} -> ${m.to} ${PROTOCOL_NAMES[m.port.protocol]}/${m.port.port ?? '-'}: matrix ${m.matrix ? 'allow' : 'deny'}, evaluateFlow ${m.evaluateFlow}`);
  const first = out.matrix[0]!;
  assert.fail(
    [
      `${out.matrix.length} of ${out.matrixCells} matrix cells disagree with evaluateFlow, in ${seedsHit.length} scenarios (base seed ${BASE_SEED}).`,
      `reproduce the first: ${reproduce(first.seed)}`,
      ...lines,
      '--- YAML of the first ---',
      formatScenarioYaml(generateScenario(first.seed)),
    ].join('\n'),
  );
});

// Minimal reproductions of past disagreements (regressions.ts, analysed in known-failures.md).
for (const r of REGRESSIONS) {
  test(`regression (seed ${r.seed}): ${r.title}`, () => {
    assert.deepEqual(scenarioProblems(r.scenario), []);
    const reference = evaluateReference(buildReferenceModel(r.scenario), r.flow);
    assert.equal(reference.verdict, r.expected, `the reference no longer gives the upstream verdict for ${formatFlow(r.flow)}`);
    const loaded = loadIntoEngine(r.scenario);
    if (!loaded.ok) assert.fail(loaded.problem);
    const flow = engineFlow(loaded.cluster, r.flow);
    const decision = evaluateFlow(loaded.cluster, flow);
    assert.equal(
      decision.verdict,
      r.expected,
      [
        `${formatFlow(r.flow)}: engine ${decision.verdict}, upstream ${r.expected}`,
        `reference egress: ${reference.egress?.decidedBy ?? '(none)'}; ingress: ${reference.ingress?.decidedBy ?? '(none)'}`,
        '--- YAML ---',
        formatScenarioYaml(r.scenario),
        '--- engine explain JSON ---',
        JSON.stringify(explainJson(loaded.cluster, flow, decision), null, 2),
      ].join('\n'),
    );
  });
}
