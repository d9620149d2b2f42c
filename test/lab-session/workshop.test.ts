// The workshop's methodology in the kernel: one lab built from the cluster, then step 3
// (fail-safe), step 5 (default deny) and the remediated policies applied with `lab apply`; at each
// stage every flow of testdata/workshop/<stage>.jsonl is probed with real packets and the kernel,
// the engine and the lessons must agree. External addresses the flow files name were not given
// at `up`: the outside host is taught them on the fly (withExternalsFor), as `strata lab probe
// --flows` does. Domain-name flows are skipped (the dataplane sees no names). Needs root.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { applySession, downSession, probeSession, summarize, upSession, withExternalsFor } from '../../src/lab-session/index.ts';
import type { Session } from '../../src/lab-session/index.ts';
import { disagreements, flowsOf, REPO_ROOT, sessionSkip, sourcesOf, uniqueLabId } from './fixtures.ts';

const DIR = path.join(REPO_ROOT, 'testdata', 'workshop');
const at = (...parts: string[]): string[] => parts.map((p) => path.join(DIR, p));

const STAGES: readonly [string, string[]][] = [
  ['step-3', at('cluster', 'common', 'original-apps', 'failsafe')],
  ['step-5', at('cluster', 'common', 'original-apps', 'enforce')],
  ['remediated', at('cluster', 'common', 'remediated', 'enforce/default.tenant-1-default-deny.yaml', 'enforce/default.tenant-2-default-deny.yaml')],
];

describe('lab session: the workshop, stage by stage', { skip: sessionSkip }, () => {
  const labId = uniqueLabId('ws');
  let session: Session | undefined;
  after(async () => {
    await downSession(labId);
  });

  for (const [stage, paths] of STAGES) {
    it(`${stage}: kernel == engine == lesson`, async () => {
      const sources = await sourcesOf(...paths);
      if (session === undefined) {
        const up = await upSession(sources, { labId });
        assert.ok(up.ok, JSON.stringify(up.diagnostics));
        session = up.value.session;
      } else {
        const applied = await applySession(session, sources, { mode: 'replace' });
        assert.ok(applied.ok, JSON.stringify(applied.ok ? '' : applied.diagnostics));
        session = applied.value.session;
      }
      const flows = flowsOf(path.join(DIR, `${stage}.jsonl`));
      const extended = await withExternalsFor(session, flows);
      assert.ok(extended.ok, JSON.stringify(extended.ok ? '' : extended.diagnostics));
      session = extended.value;
      const results = await probeSession(session, flows);
      assert.deepEqual(disagreements(results), []);
      for (const r of results.filter((x) => x.observed === 'skipped')) assert.match(r.detail, /domain name/, `${r.from} -> ${r.to}`);
      assert.ok(summarize(results).probed >= flows.length - 2);
    });
  }
});
