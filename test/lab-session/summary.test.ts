// `lab probe`'s summary line (issue 11, item 8: "2 agree (1 allowed, 2 denied)" did not add up).
// Pure: results are made here, nothing is probed, no root needed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatProbeSummary, summarize } from '../../src/lab-session/probe.ts';
import type { SessionProbeResult } from '../../src/lab-session/probe.ts';

type Kind = 'agree-allow' | 'agree-deny' | 'disagree-allow' | 'disagree-deny' | 'error' | 'skipped' | 'invalid';

function result(kind: Kind): SessionProbeResult {
  const base = { from: 'a/x', to: 'a/y', port: 80, protocol: 'TCP', detail: '' };
  switch (kind) {
    case 'agree-allow':
      return { ...base, observed: 'allow', engine: 'allow', agree: true };
    case 'agree-deny':
      return { ...base, observed: 'deny', engine: 'deny', agree: true };
    case 'disagree-allow':
      return { ...base, observed: 'allow', engine: 'deny', agree: false };
    case 'disagree-deny':
      return { ...base, observed: 'deny', engine: 'allow', agree: false };
    case 'error':
      return { ...base, observed: 'error', engine: 'allow', agree: false, detail: 'no answer' };
    case 'skipped':
      return { ...base, observed: 'skipped', engine: 'allow', agree: null, detail: 'reserved address' };
    case 'invalid':
      return { ...base, observed: 'error', engine: null, agree: false, detail: 'unknown endpoint', invalid: true };
  }
}

const cases: readonly [string, readonly Kind[], string][] = [
  ['one disagreement among agreeing flows (the reported bug)', ['agree-allow', 'agree-deny', 'disagree-deny'], '3 flows: 2 agree (1 allowed, 1 denied), 1 disagree, 0 skipped; 0.0 s'],
  ['everything agrees', ['agree-allow', 'agree-allow', 'agree-deny'], '3 flows: 3 agree (2 allowed, 1 denied), 0 disagree, 0 skipped; 0.0 s'],
  ['errors, skips and invalid flows', ['agree-deny', 'error', 'skipped', 'invalid', 'disagree-allow'], '5 flows: 1 agree (0 allowed, 1 denied), 2 disagree (1 could not be probed), 1 skipped, 1 invalid; 0.0 s'],
  ['no flows', [], '0 flows: 0 agree (0 allowed, 0 denied), 0 disagree, 0 skipped; 0.0 s'],
];

describe('lab probe summary', () => {
  for (const [name, kinds, line] of cases) {
    test(`${name}: the counts add up`, () => {
      const sum = summarize(kinds.map(result));
      assert.equal(formatProbeSummary(sum), line);
      assert.equal(sum.agree + sum.disagree + sum.skipped + sum.invalid, sum.total);
      assert.equal(sum.agreeAllowed + sum.agreeDenied, sum.agree);
    });
  }
});
