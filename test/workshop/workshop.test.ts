// The workshop's methodology, replayed: at step 3 (fail-safe), step 5 (default deny) and after
// remediation, explain must name the tier, policy and rule the lessons name (testdata/workshop).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPaths } from '../../src/load/index.ts';
import { buildCluster, evaluateFlow, makeFlow } from '../../src/engine/index.ts';
import { hasErrors } from '../../src/diagnostics/index.ts';

const dir = join(import.meta.dirname, '../../testdata/workshop');

interface Expectation {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: string;
  readonly verdict: 'allow' | 'deny';
  readonly decidedBy: Record<string, unknown>;
  readonly egressBy?: Record<string, unknown>;
}

const stages: readonly [string, readonly string[]][] = [
  ['step-3', ['cluster', 'common', 'original-apps', 'failsafe']],
  ['step-5', ['cluster', 'common', 'original-apps', 'enforce']],
  ['remediated', ['cluster', 'common', 'remediated', 'enforce/default.tenant-1-default-deny.yaml', 'enforce/default.tenant-2-default-deny.yaml']],
];

for (const [stage, folders] of stages) {
  test(`workshop ${stage}: explain names the deciding tier, policy and rule`, async () => {
    const loaded = await loadPaths(folders.map((f) => join(dir, f)));
    assert.equal(hasErrors(loaded.diagnostics), false, JSON.stringify(loaded.diagnostics.filter((d) => d.severity === 'error')));
    const { cluster, diagnostics } = buildCluster(loaded.resources);
    assert.equal(hasErrors(diagnostics), false);
    const expectations = readFileSync(join(dir, `${stage}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Expectation);
    for (const x of expectations) {
      const flow = makeFlow(cluster, x);
      assert.ok(flow.ok, `${x.from} -> ${x.to}`);
      const d = evaluateFlow(cluster, flow.value);
      const what = `${stage}: ${x.from} -> ${x.to} ${x.protocol}/${x.port}`;
      assert.equal(d.verdict, x.verdict, what);
      for (const [k, v] of Object.entries(x.decidedBy)) assert.equal((d.decidedBy as unknown as Record<string, unknown>)[k], v, `${what}: decidedBy.${k}`);
      if (x.egressBy !== undefined) {
        assert.ok(d.egress !== null, what);
        for (const [k, v] of Object.entries(x.egressBy)) assert.equal((d.egress.decidedBy as unknown as Record<string, unknown>)[k], v, `${what}: egress ${k}`);
      }
    }
  });
}
