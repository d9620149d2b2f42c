// The benchmark's generator at a tiny size: deterministic, loads and builds without a single
// problem, uses every policy dialect the benchmark claims, and the matrix over it equals pairwise
// evaluateFlow cell by cell (on the benchmark's ports and on every destination's declared ports).
// A correctness test: nothing here is timed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateCluster } from '../../bench/generate.ts';
import type { GenerateOptions } from '../../bench/generate.ts';
import { computeMatrix } from '../../src/analysis/matrix.ts';
import type { MatrixOptions } from '../../src/analysis/matrix.ts';
import { buildCluster, evaluateFlow, PROTOCOL } from '../../src/engine/index.ts';
import type { Cluster, Endpoint, Flow } from '../../src/engine/index.ts';
import { loadText } from '../../src/load/index.ts';

const SIZES: readonly GenerateOptions[] = [
  { pods: 60, namespaces: 6, policies: 30, seed: 1 },
  { pods: 120, namespaces: 14, policies: 60, seed: 7 },
  { pods: 90, namespaces: 23, policies: 80, seed: 42 },
];

function load(opts: GenerateOptions): Cluster {
  const text = generateCluster(opts).text;
  const loaded = loadText(text, 'generated.yaml');
  const problems = loaded.diagnostics.filter((d) => d.severity !== 'info');
  assert.deepEqual(problems.map((d) => `${d.code}: ${d.message}`), [], 'loadText reports no errors or warnings');
  const built = buildCluster(loaded.resources);
  const buildProblems = built.diagnostics.filter((d) => d.severity !== 'info');
  assert.deepEqual(buildProblems.map((d) => `${d.code}: ${d.message}`), [], 'buildCluster reports no errors or warnings');
  return built.cluster;
}

function pairFlow(src: Endpoint, dst: Endpoint, protocol: number, port: number | undefined): Flow {
  const v4 = (e: Endpoint) => e.addresses.find((a) => a.family === 4);
  return {
    src: { kind: 'endpoint', endpoint: src, address: v4(src) },
    dst: { kind: 'endpoint', endpoint: dst, address: v4(dst) },
    protocol,
    port,
    srcPort: undefined,
    icmp: undefined,
    ipVersion: 4,
  };
}

/** Every cell of the matrix against evaluateFlow; returns the number of cells compared. */
function assertMatrixEqualsPairwise(cluster: Cluster, opts: MatrixOptions): number {
  const m = computeMatrix(cluster, opts);
  let cells = 0;
  const mismatches: string[] = [];
  for (const pm of m.ports) {
    for (let s = 0; s < m.endpoints.length; s++) {
      for (const d of pm.destinations) {
        const src = m.endpoints[s]!;
        const dst = m.endpoints[d]!;
        const single = evaluateFlow(cluster, pairFlow(src, dst, pm.spec.protocol, pm.spec.port)).verdict === 'allow';
        if (pm.allowed(s, d) !== single) mismatches.push(`${src.id} → ${dst.id} ${pm.spec.port ?? ''}/${pm.spec.protocol}: matrix ${!single}, evaluateFlow ${single}`);
        cells++;
      }
    }
  }
  assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} of ${cells} cells differ`);
  return cells;
}

describe('bench generator', () => {
  it('is a pure function of its options', () => {
    const a = generateCluster(SIZES[0]!);
    const b = generateCluster(SIZES[0]!);
    assert.equal(a.text, b.text);
    assert.notEqual(generateCluster({ ...SIZES[0]!, seed: 2 }).text, a.text);
  });

  it('produces the sizes asked for, with both dialects and every Calico kind', () => {
    for (const opts of SIZES) {
      const c = generateCluster(opts).counts;
      assert.equal(c.pods, opts.pods);
      assert.equal(c.namespaces, opts.namespaces);
      assert.equal(c.policies, opts.policies);
      assert.ok(c.globalNetworkPolicies > 0 && c.calicoNetworkPolicies > 0 && c.kubernetesNetworkPolicies > 0, JSON.stringify(c));
      assert.ok(c.globalNetworkSets > 0 && c.tiers > 0 && c.serviceAccounts > 0, JSON.stringify(c));
    }
  });

  for (const opts of SIZES) {
    const name = `${opts.pods} pods / ${opts.namespaces} ns / ${opts.policies} policies, seed ${opts.seed}`;
    it(`loads without problems and gives every pod its own address: ${name}`, () => {
      const cluster = load(opts);
      assert.equal(cluster.endpoints.length, opts.pods);
      const addresses = new Set(cluster.endpoints.map((e) => e.addresses.map((a) => a.value).join(',')));
      assert.equal(addresses.size, opts.pods);
      // Replicas share labels: fewer label sets than pods.
      assert.ok(new Set(cluster.endpoints.map((e) => e.labelKey)).size < opts.pods);
    });

    it(`matrix equals pairwise evaluateFlow on 80/TCP and 443/TCP: ${name}`, () => {
      const cluster = load(opts);
      const ports = [
        { protocol: PROTOCOL.TCP, port: 80 },
        { protocol: PROTOCOL.TCP, port: 443 },
      ];
      assert.equal(assertMatrixEqualsPairwise(cluster, { ports }), opts.pods * opts.pods * ports.length);
    });

    it(`matrix equals pairwise evaluateFlow on every declared port: ${name}`, () => {
      assert.ok(assertMatrixEqualsPairwise(load(opts), {}) > 0);
    });
  }
});
