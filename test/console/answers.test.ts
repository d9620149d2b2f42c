// The console's readers of the answers of APIs other branches serve (the staged-diff endpoint's
// DiffResult, the flow store's FlowStats), run in Node on the documented answers: what the views
// show comes out of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDiffAnswer } from '../../web/src/api/diff-answer.ts';
import { hitsByPolicy, policyId } from '../../web/src/api/rule-hits.ts';
import { flowStatsSchema } from '../../web/src/api/schemas.ts';

test('a DiffResult reads into its peer and flow lines and its summary; bare JSON Lines too; a malformed line is counted, not shown', () => {
  const result = {
    apiVersion: 'strata/v1',
    kind: 'DiffResult',
    metadata: { resourceVersion: '42' },
    peers: [{ peer: 'shop/new-pod', change: 'added' }],
    lines: [
      {
        from: 'shop/web', to: 'shop/db', ports: '1-5431', protocol: 'TCP', before: 'allow', after: 'deny', change: 'closed',
        decidedBy: { before: { direction: 'ingress', tier: 'default', policy: 'x', rule: 0, action: 'allow', reason: 'rule' }, after: { direction: 'ingress', tier: 'application', policy: 'db-allow', namespace: 'shop', kind: 'NetworkPolicy', rule: null, action: 'deny', reason: 'end-of-tier' } },
      },
      { from: 'shop/web', change: 'closed' },
    ],
    summary: { opened: 0, closed: 4, pending: 0, reattributed: 1, added: 1, removed: 0, changed: true, redacted: 0, invariants: [] },
  };
  const a = parseDiffAnswer(JSON.stringify(result));
  assert.equal(a.lines.length, 2);
  assert.deepEqual(a.lines.map((l) => l.change), ['added', 'closed']);
  assert.equal(a.bad, 1);
  assert.equal(a.summary?.['closed'], 4);
  const jsonl = parseDiffAnswer(`${JSON.stringify(result.lines[0])}\n${JSON.stringify(result.peers[0])}\n`);
  assert.deepEqual([jsonl.lines.length, jsonl.bad, jsonl.summary], [2, 0, undefined]);
  assert.deepEqual(parseDiffAnswer('').lines, []);
});

test('FlowStats rows sum into hits per policy and rule, with the last hit; end-of-tier rows without a name are not a policy', () => {
  const stats = flowStatsSchema.parse({
    apiVersion: 'strata/v1', kind: 'FlowStats', metadata: {}, since: '2026-12-01T00:00:00.000Z', until: '2026-12-02T00:00:00.000Z',
    items: [
      { kind: 'GlobalNetworkPolicy', tier: 'security', namespace: null, name: 'security.tenant-01-restrict', direction: 'ingress', ruleIndex: 2, action: 'deny', packets: 7, bytes: 420, connections: 2, allowed: 0, denied: 7, passed: 0, lastHit: '2026-12-01T10:00:00Z' },
      { kind: 'GlobalNetworkPolicy', tier: 'security', namespace: null, name: 'security.tenant-01-restrict', direction: 'egress', ruleIndex: 0, action: 'pass', packets: 5, bytes: 300, connections: 1, allowed: 5, denied: 0, passed: 5, lastHit: '2026-12-01T11:00:00Z' },
      { kind: 'EndOfTier', tier: 'application', namespace: null, name: null, direction: 'ingress', ruleIndex: null, action: 'deny', packets: 3, bytes: 1, connections: 1, allowed: 0, denied: 3, passed: 0, lastHit: '2026-12-01T09:00:00Z' },
    ],
    policies: [],
  });
  const hits = hitsByPolicy(stats);
  const h = hits.get(policyId('security', null, 'security.tenant-01-restrict'));
  assert.deepEqual(h, { hits: 12, lastHit: '2026-12-01T11:00:00Z', rules: [{ direction: 'ingress', rule: 2, packets: 7 }, { direction: 'egress', rule: 0, packets: 5 }] });
  assert.equal(hits.size, 1);
});
