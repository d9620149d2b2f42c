// analysis/expectations.ts on its own: reading a flow line's `expect` and judging a decision.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExplainJson } from '../../src/analysis/explain.ts';
import { checkExpectation, expectationOfLine } from '../../src/analysis/expectations.ts';
import type { Expectation } from '../../src/analysis/expectations.ts';

const decidedBy = { direction: 'egress', tier: 'default', policy: 'p', namespace: 'dev', kind: 'NetworkPolicy', rule: null, action: 'deny', reason: 'end-of-tier' } as const;
const decision: ExplainJson = {
  from: 'dev/a',
  to: 'prod/b',
  port: 80,
  protocol: 'TCP',
  verdict: 'deny',
  decidedBy,
  egress: null,
  ingress: null,
  pending: { verdict: 'allow', decidedBy: { ...decidedBy, policy: 'staged', rule: 0, action: 'allow', reason: 'rule' } },
  ipVersion: 4,
  srcAddress: null,
  dstAddress: null,
};

describe('checkExpectation', () => {
  const table: readonly { name: string; want: Expectation; mismatches: string[] }[] = [
    { name: 'the verdict alone', want: { verdict: 'deny' }, mismatches: [] },
    { name: 'a wrong verdict', want: { verdict: 'allow' }, mismatches: ['expected allow, got deny'] },
    { name: 'null is a value: rule null matches an end of tier', want: { verdict: 'deny', decidedBy: { rule: null, reason: 'end-of-tier' } }, mismatches: [] },
    { name: 'a rule number where none decided', want: { verdict: 'deny', decidedBy: { rule: 0 } }, mismatches: ['decidedBy.rule: expected 0, got none'] },
    { name: 'kinds compare without case', want: { verdict: 'deny', decidedBy: { kind: 'networkpolicy', namespace: 'dev' } }, mismatches: [] },
    { name: 'the pending view', want: { verdict: 'deny', pending: { verdict: 'allow', decidedBy: { policy: 'staged' } } }, mismatches: [] },
    { name: 'a wrong pending verdict and policy', want: { verdict: 'deny', pending: { verdict: 'deny', decidedBy: { policy: 'p' } } }, mismatches: ['pending: expected deny, got allow', 'pending: decidedBy.policy: expected "p", got "staged"'] },
  ];
  for (const t of table) {
    it(t.name, () => {
      const r = checkExpectation(t.want, decision);
      assert.deepEqual(r.mismatches, t.mismatches);
      assert.equal(r.pass, t.mismatches.length === 0);
    });
  }

  it('without a pending view the staged verdict is today\'s', () => {
    assert.equal(checkExpectation({ verdict: 'deny', pending: { verdict: 'deny' } }, { ...decision, pending: null }).pass, true);
  });
});

describe('expectationOfLine', () => {
  const table: readonly { name: string; line: Record<string, unknown>; want: Expectation | undefined | RegExp }[] = [
    { name: 'no expect', line: { from: 'a/b' }, want: undefined },
    { name: 'a string', line: { expect: 'allow' }, want: { verdict: 'allow' } },
    { name: 'a string with decidedBy beside it', line: { expect: 'deny', decidedBy: { tier: 't', rule: null } }, want: { verdict: 'deny', decidedBy: { tier: 't', rule: null } } },
    {
      name: 'the examples\' object form with pending',
      line: { expect: { verdict: 'deny', tier: 'security', rule: 2, pending: { verdict: 'allow', policy: 'x' } } },
      want: { verdict: 'deny', decidedBy: { tier: 'security', rule: 2 }, pending: { verdict: 'allow', decidedBy: { policy: 'x' } } },
    },
    { name: 'an unknown verdict', line: { expect: 'maybe' }, want: /field "expect" must be/ },
    // The scenario corpus's lines carry `verdict` and `decidedBy` as data for their own checker.
    { name: 'decidedBy without expect states no expectation', line: { verdict: 'deny', decidedBy: { tier: 't' } }, want: undefined },
    { name: 'an expect object wins over a decidedBy beside it', line: { expect: { verdict: 'deny', tier: 'a' }, decidedBy: { tier: 'b' } }, want: { verdict: 'deny', decidedBy: { tier: 'a' } } },
    { name: 'an unknown decidedBy field', line: { expect: 'deny', decidedBy: { teir: 'a' } }, want: /field "decidedBy"/ },
  ];
  for (const t of table) {
    it(t.name, () => {
      const got = expectationOfLine(t.line);
      if (t.want instanceof RegExp) {
        assert.equal(typeof got, 'string');
        assert.match(got as string, t.want);
      } else assert.deepEqual(got, t.want);
    });
  }
});
