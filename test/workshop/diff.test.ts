// The workshop's step 3 (fail-safe) → step 5 (default deny), as `strata diff` sees it, and the
// tenant-isolation promise as a ConnectivityInvariant. Lesson 15 ("Introduce New Flows") sends
// new flows at step 5 and asks which security policy denies each: those flows were already denied
// at step 3 (by the end of the application tiers), so the diff lists them as *reattributed* — same
// verdict, now decided by the rule the lesson names — while ratings → www.github.com, decided by
// the same end of tier at both steps, is not listed. Step 5 only tightens: nothing opens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPaths, loadText } from '../../src/load/index.ts';
import { buildCluster } from '../../src/engine/index.ts';
import type { Cluster } from '../../src/engine/index.ts';
import { hasErrors } from '../../src/diagnostics/index.ts';
import type { Resource } from '../../src/model/index.ts';
import { diffClusters, diffLines } from '../../src/analysis/diff.ts';
import type { DiffJsonLine } from '../../src/analysis/diff.ts';
import { verifyInvariants } from '../../src/analysis/invariants.ts';
import type { InvariantResource } from '../../src/analysis/invariants.ts';

const dir = join(import.meta.dirname, '../../testdata/workshop');
const STEP3 = ['cluster', 'common', 'original-apps', 'failsafe'];
const STEP5 = ['cluster', 'common', 'original-apps', 'enforce'];

async function resources(folders: readonly string[]): Promise<Resource[]> {
  const loaded = await loadPaths(folders.map((f) => join(dir, f)));
  assert.equal(hasErrors(loaded.diagnostics), false);
  return [...loaded.resources];
}

function build(rs: readonly Resource[]): Cluster {
  const built = buildCluster(rs);
  assert.equal(hasErrors(built.diagnostics), false);
  return built.cluster;
}

interface Expectation {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: string;
  readonly verdict: 'allow' | 'deny';
  readonly decidedBy: Record<string, unknown>;
}
const step5 = readFileSync(join(dir, 'step-5.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Expectation);
const expectation = (from: string, to: string): Expectation => step5.find((x) => x.from === from && x.to === to)!;

/** The lesson's new flows (modules/new-flows.md). */
const LESSON_15 = [
  ['monitoring/monitoring-pod', 'hipstershop/frontend'],
  ['monitoring/monitoring-pod', 'yaobank/customer'],
  ['monitoring/monitoring-pod', 'bookinfo/productpage-v1'],
  ['hipstershop/loadgeneratorv2', 'hipstershop/frontend'],
  ['bookinfo/ratings-v1', 'www.github.com'],
] as const;

function covering(lines: readonly DiffJsonLine[], from: string, to: string, protocol: string, port: number): DiffJsonLine[] {
  return lines.filter((l) => {
    if (l.from !== from || l.to !== to || l.protocol !== protocol || l.ports === null) return false;
    const [lo, hi] = l.ports.includes('-') ? l.ports.split('-').map(Number) : [Number(l.ports), Number(l.ports)];
    return port >= lo! && port <= hi!;
  });
}

test('workshop step 3 → step 5: the lesson 15 flows, reattributed to the rules the lesson names', async () => {
  const before = build(await resources(STEP3));
  const after = build(await resources(STEP5));
  const lines = diffLines(diffClusters(before, after, { withSource: false }));
  for (const [from, to] of LESSON_15) {
    const x = expectation(from, to);
    const found = covering(lines, from, to, x.protocol, x.port);
    if (to === 'www.github.com') {
      assert.deepEqual(found, [], 'ratings → github is denied by the same end of tier at both steps');
      continue;
    }
    assert.equal(found.length, 1, `${from} → ${to} ${x.port}`);
    const l = found[0]!;
    assert.deepEqual([l.change, l.before, l.after], ['reattributed', 'deny', 'deny'], `${from} → ${to}`);
    for (const [k, v] of Object.entries(x.decidedBy)) assert.equal((l.decidedBy.after as unknown as Record<string, unknown>)[k], v, `${from} → ${to}: decidedBy.after.${k}`);
  }
  assert.deepEqual(lines.filter((l) => l.change === 'opened'), [], 'step 5 opens nothing');
  // Lesson 14's default deny closes what the fail-safe allowed, e.g. paymentservice → the internet.
  const pay = covering(lines, 'hipstershop/paymentservice', '0.0.0.0/0', 'TCP', 443);
  assert.equal(pay.length, 1);
  assert.deepEqual([pay[0]!.change, pay[0]!.decidedBy.after.policy], ['closed', expectation('hipstershop/paymentservice', '203.0.113.10').decidedBy['policy']]);
});

const INVARIANT = `apiVersion: strata/v1
kind: ConnectivityInvariant
metadata: {name: tenant-1-never-reaches-tenant-2}
spec:
  from: {namespaceSelector: 'projectcalico.org/name in {"hipstershop", "yaobank"}'}
  to: {namespaceSelector: 'projectcalico.org/name == "bookinfo"'}
  must: deny
`;

/** A write that opens a door from tenant 1 to tenant 2, ahead of the tenant isolation policies. */
const OPENING = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.reviews-for-hipstershop}
spec:
  tier: security
  order: 1
  namespaceSelector: projectcalico.org/name in {"hipstershop", "bookinfo"}
  types: [Ingress, Egress]
  ingress:
    - action: Allow
      protocol: TCP
      source: {namespaceSelector: projectcalico.org/name == "hipstershop"}
      destination: {ports: [9080]}
  egress:
    - action: Allow
      protocol: TCP
      destination: {namespaceSelector: projectcalico.org/name == "bookinfo", ports: [9080]}
`;

function invariants(text: string): InvariantResource[] {
  const loaded = loadText(text, 'invariants.yaml');
  assert.deepEqual(loaded.diagnostics.filter((d) => d.severity === 'error'), []);
  return loaded.resources.filter((r): r is InvariantResource => r.type === 'ConnectivityInvariant');
}

test('workshop: "tenant 1 must not reach tenant 2" holds at steps 3 and 5, and a write that breaks it is reported with the flow', async () => {
  const inv = invariants(INVARIANT);
  assert.deepEqual(verifyInvariants(build(await resources(STEP3)), inv), []);
  const step5Resources = await resources(STEP5);
  assert.deepEqual(verifyInvariants(build(step5Resources), inv), []);
  const opened = build([...step5Resources, ...loadText(OPENING, 'opening.yaml').resources]);
  const [v, ...more] = verifyInvariants(opened, inv);
  assert.deepEqual(more, []);
  assert.ok(v !== undefined);
  assert.equal(v.invariant, 'tenant-1-never-reaches-tenant-2');
  assert.match(v.example.from, /^hipstershop\//);
  assert.match(v.example.to, /^bookinfo\//);
  assert.deepEqual([v.example.protocol, v.example.port, v.example.verdict], ['TCP', 9080, 'allow']);
  assert.deepEqual([v.example.decidedBy.policy, v.example.decidedBy.rule, v.example.decidedBy.direction], ['security.reviews-for-hipstershop', 0, 'ingress']);
  assert.deepEqual([v.span.file, v.span.line], ['invariants.yaml', 7]);
});
