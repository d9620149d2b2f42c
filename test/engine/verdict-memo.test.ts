// The memoised verdict path against evaluateFlow: on random clusters (the differential test's
// generator: selectors, named ports, network sets, CIDR rules, tiers, Pass/Log, staged policies,
// external addresses), every replayed flow must get exactly evaluateFlow's enforced verdict and
// deciding step — with a memo large enough to hit and with one so small it empties all the time.
//
//   STRATA_MEMO_SEED=N   base seed (default fixed; printed on failure)
//   STRATA_MEMO_RUNS=K   random clusters (default 60)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/load/index.ts';
import { buildCluster, createVerdictMemo, decideVerdict, evaluateFlow, evaluateVerdict, makeFlow } from '../../src/engine/index.ts';
import type { Cluster, Flow } from '../../src/engine/index.ts';
import { generateScenario, Rng } from '../differential/generate.ts';
import { formatScenarioYaml } from '../differential/scenario.ts';

const BASE_SEED = Number(process.env['STRATA_MEMO_SEED'] ?? 20261201);
const RUNS = Number(process.env['STRATA_MEMO_RUNS'] ?? 60);

function clusterOf(seed: number): { cluster: Cluster; flows: Flow[] } | undefined {
  const s = generateScenario(seed);
  const loaded = loadText(formatScenarioYaml(s), `memo-${seed}.yaml`);
  if (loaded.diagnostics.some((d) => d.severity === 'error')) return undefined;
  const built = buildCluster(loaded.resources);
  if (built.diagnostics.some((d) => d.severity === 'error')) return undefined;
  const cluster = built.cluster;
  const rng = new Rng(seed ^ 0x3e3e);
  const flows: Flow[] = [];
  for (const f of s.flows) {
    // Some with a source port and an explicit family, so those parts of the key are exercised.
    const srcPort = rng.chance(0.2) ? rng.pick([1024, 5353, 40000]) : undefined;
    const r = makeFlow(cluster, { from: f.from, to: f.to, protocol: f.protocol, port: f.port, icmpType: f.icmpType, icmpCode: f.icmpCode, srcPort });
    if (r.ok) flows.push(r.value);
  }
  return { cluster, flows };
}

function same(cluster: Cluster, flow: Flow, got: ReturnType<typeof evaluateVerdict>, seed: number): void {
  const want = evaluateFlow(cluster, flow);
  assert.deepEqual(got, { verdict: want.verdict, decidedBy: want.decidedBy }, `seed ${seed}: STRATA_MEMO_SEED=${seed} STRATA_MEMO_RUNS=1`);
}

test('memoised verdicts equal evaluateFlow on random clusters, replayed many times, with large and tiny memos', () => {
  let compared = 0;
  let hits = 0;
  let resets = 0;
  for (let i = 0; i < RUNS; i++) {
    const seed = (BASE_SEED + i) >>> 0;
    const c = clusterOf(seed);
    if (c === undefined || c.flows.length === 0) continue;
    const rng = new Rng(seed);
    const large = createVerdictMemo(c.cluster);
    const tiny = createVerdictMemo(c.cluster, { capacity: 3 });
    // A replayed log: each flow about 5 times, in random order.
    for (let k = 0; k < c.flows.length * 5; k++) {
      const flow = rng.pick(c.flows);
      same(c.cluster, flow, large.evaluate(flow), seed);
      same(c.cluster, flow, tiny.evaluate(flow), seed);
      same(c.cluster, flow, evaluateVerdict(c.cluster, flow), seed);
      same(c.cluster, flow, decideVerdict(c.cluster, flow), seed);
      compared++;
    }
    hits += large.stats().hits;
    resets += tiny.stats().resets;
  }
  assert.ok(compared > 20_000, `compared only ${compared} flows`);
  assert.ok(hits > compared / 2, `the memo hit only ${hits} of ${compared} flows`);
  assert.ok(resets > 100, 'the tiny memo was emptied and refilled');
});

test('a memo keyed by classes answers for replicas: two pods with the same labels share an entry', () => {
  const yaml = `apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80, name: http}]}]}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80, name: http}]}]}
status: {podIP: 10.1.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}
status: {podIP: 10.1.0.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]
`;
  const built = buildCluster(loadText(yaml, 'replicas.yaml').resources);
  const cluster = built.cluster;
  const memo = createVerdictMemo(cluster);
  const flow = (from: string): Flow => {
    const r = makeFlow(cluster, { from, to: 'prod/db', port: 5432 });
    assert.ok(r.ok);
    return r.value;
  };
  assert.equal(memo.evaluate(flow('prod/web-1')).verdict, 'allow');
  assert.equal(memo.evaluate(flow('prod/web-2')).verdict, 'allow');
  assert.equal(memo.evaluate(flow('prod/db')).decidedBy.reason, 'loopback');
  const s = memo.stats();
  assert.equal(s.misses, 1);
  assert.equal(s.hits, 1);
});

test('pods with the same labels but different named-port numbers, or addresses in different CIDRs, are different classes', () => {
  const pod = (name: string, ip: string, port: number): string => `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: prod, labels: {app: api}}
spec: {containers: [{name: c, ports: [{containerPort: ${port}, name: http}]}]}
status: {podIP: ${ip}}
`;
  const yaml = `apiVersion: v1
kind: Namespace
metadata: {name: prod}
${pod('a', '10.1.0.1', 8080)}${pod('b', '10.1.0.2', 9090)}${pod('c', '10.2.0.1', 8080)}---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: prod, labels: {app: client}}
spec: {containers: [{name: c}]}
status: {podIP: 10.1.0.9}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: api, namespace: prod}
spec:
  selector: app == 'api'
  ingress:
    - action: Deny
      destination: {nets: [10.2.0.0/16]}
    - action: Allow
      destination: {ports: [http]}
`;
  const built = buildCluster(loadText(yaml, 'named-ports.yaml').resources);
  assert.deepEqual(built.diagnostics.filter((d) => d.severity === 'error'), []);
  const cluster = built.cluster;
  const memo = createVerdictMemo(cluster);
  const cases: readonly [string, number, 'allow' | 'deny'][] = [
    ['prod/a', 8080, 'allow'],
    ['prod/b', 8080, 'deny'],
    ['prod/b', 9090, 'allow'],
    ['prod/a', 9090, 'deny'],
    ['prod/c', 8080, 'deny'],
  ];
  for (const [to, port, verdict] of cases) {
    const r = makeFlow(cluster, { from: 'prod/client', to, port });
    assert.ok(r.ok);
    assert.equal(memo.evaluate(r.value).verdict, verdict, `${to}:${port}`);
    assert.equal(evaluateFlow(cluster, r.value).verdict, verdict, `${to}:${port} (evaluateFlow)`);
  }
});
