// The decision wire format's zod schema (engine/wire.ts) accepts everything `explain` produces,
// and rejects what a reader must not take for a decision.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { explainRequest } from '../../src/analysis/explain-request.ts';
import { buildCluster, explainSchema } from '../../src/engine/index.ts';
import type { FlowRequest } from '../../src/engine/index.ts';
import { loadPaths } from '../../src/load/index.ts';

const EXAMPLES = ['examples/multi-tenant', 'examples/zero-trust/default-deny', 'examples/zero-trust/three-tier', 'examples/zero-trust/dev-prod-isolation'];

describe('the explain wire format', () => {
  for (const dir of EXAMPLES) {
    it(`every explanation of ${dir}'s flows parses with explainSchema, sources and all`, async () => {
      const loaded = await loadPaths([dir]);
      const { cluster } = buildCluster(loaded.resources);
      const lines = readFileSync(`${dir}/flows.jsonl`, 'utf8').split('\n').filter((l) => l.trim() !== '');
      assert.ok(lines.length > 0);
      for (const line of lines) {
        const req = JSON.parse(line) as FlowRequest;
        const r = explainRequest(cluster, req, { withSource: true });
        assert.ok(r.ok, line);
        for (const e of r.value.results) {
          const parsed = explainSchema.safeParse(e);
          assert.ok(parsed.success, `${line}: ${parsed.success ? '' : parsed.error.message}`);
          assert.deepEqual(parsed.data, e, 'nothing is lost or renamed by the schema');
        }
      }
    });
  }

  it('rejects a decision without a verdict, or with a verdict that is neither allow nor deny', () => {
    const ok = { from: 'a/b', to: 'c/d', port: 80, protocol: 'TCP', verdict: 'allow', decidedBy: { direction: 'ingress', tier: 't', policy: 'p', kind: 'NetworkPolicy', rule: 0, action: 'allow', reason: 'rule' }, egress: null, ingress: null, pending: null, ipVersion: 4, srcAddress: null, dstAddress: null };
    assert.equal(explainSchema.safeParse(ok).success, true);
    assert.equal(explainSchema.safeParse({ ...ok, verdict: 'maybe' }).success, false);
    const { verdict: _v, ...noVerdict } = ok;
    assert.equal(explainSchema.safeParse(noVerdict).success, false);
    assert.equal(explainSchema.safeParse({ ...ok, decidedBy: { ...ok.decidedBy, rule: -1 } }).success, false);
  });
});
