// Real packets against the scenario corpus and the workshop-like example: for every flow the
// kernel's verdict (a real connection through the island's nftables), the engine's and the
// expected one must be the same. Flows the kernel cannot be asked about are skipped with the
// reason: SCTP where the kernel has none (this CI kernel has none), and domain names.
//
//   node_modules/.bin/node --test 'test/lab-session/corpus.test.ts'
//   STRATA_LAB_CORPUS=all …   also cyclonus and np-guard (≈ 80 s more), each case in its own lab
//
// The 58 k8s-e2e cases share one model cluster (9 pods, 3 namespaces), so they run in one lab:
// `up` with the first case, then `lab apply` of each case's manifests — 58 incremental updates,
// three of which also change labels (the "updated pod/namespace" cases). Needs root, ip, nft
// and ping; skips with the reason otherwise.
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applySession, downSession, probeSession, summarize, upSession } from '../../src/lab-session/index.ts';
import type { Session, SessionFlow } from '../../src/lab-session/index.ts';
import { disagreements, flowsOf, podCidrAvoiding, REPO_ROOT, sessionSkip, sourcesOf, uniqueLabId } from './fixtures.ts';

const SCENARIOS = path.join(REPO_ROOT, 'testdata', 'scenarios');
const ALL = process.env['STRATA_LAB_CORPUS'] === 'all';

function casesOf(suite: string): { name: string; dir: string }[] {
  const root = path.join(SCENARIOS, suite);
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(root, e.name, 'expect.jsonl')))
    .map((e) => ({ name: e.name, dir: path.join(root, e.name) }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** SCTP flows must be skipped for the stated reason when the kernel lacks SCTP, never probed. */
function assertSctpHandled(session: Session, flows: readonly SessionFlow[], results: Awaited<ReturnType<typeof probeSession>>): void {
  if (session.lab.sctp.supported) return;
  results.forEach((r, i) => {
    if (flows[i]!.protocol === 'SCTP') {
      assert.equal(r.observed, 'skipped');
      assert.match(r.detail, /^SCTP: .*SCTP/);
    }
  });
}

describe('lab session: the multi-tenant example', { skip: sessionSkip }, () => {
  const labId = uniqueLabId('mt');
  after(async () => {
    await downSession(labId);
  });

  it('every flow of flows.jsonl: the kernel, the engine and the example agree (domain names skipped)', async () => {
    const dir = path.join(REPO_ROOT, 'examples', 'multi-tenant');
    const flows = flowsOf(path.join(dir, 'flows.jsonl'));
    const up = await upSession(await sourcesOf(dir), { labId, flows });
    assert.ok(up.ok, JSON.stringify(up.diagnostics));
    const results = await probeSession(up.value.session, flows);
    assert.deepEqual(disagreements(results), []);
    const sum = summarize(results);
    assert.equal(sum.probed, 10);
    assert.ok(sum.allowed > 0 && sum.denied > 0);
    for (const r of results.filter((x) => x.observed === 'skipped')) {
      assert.match(r.to, /\.example\./, 'only domain-name flows are skipped');
      assert.match(r.detail, /domain name/);
    }
  });
});

describe('lab session: Kubernetes e2e corpus (one lab, policy switched by lab apply)', { skip: sessionSkip }, () => {
  const labId = uniqueLabId('e2e');
  const cases = casesOf('k8s-e2e');
  let session: Session;
  let probed = 0;
  let skipped = 0;
  const t0 = performance.now();

  before(async () => {
    const first = cases[0]!;
    // Listeners for every port any case probes (the model pods declare them all anyway).
    const flows = cases.flatMap((c) => flowsOf(path.join(c.dir, 'expect.jsonl')));
    const up = await upSession(await sourcesOf(first.dir), { labId, flows });
    assert.ok(up.ok, JSON.stringify(up.diagnostics));
    session = up.value.session;
  });

  after(async () => {
    const r = await downSession(labId);
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    console.log(`# k8s-e2e: ${cases.length} cases, ${probed} flows probed, ${skipped} skipped, in ${Math.round(performance.now() - t0)} ms`);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const applied = await applySession(session, await sourcesOf(c.dir), { mode: 'replace' });
      assert.ok(applied.ok, JSON.stringify(applied.diagnostics));
      assert.ok(
        applied.value.nodes.every((n) => n.kind !== 'replace'),
        'a policy change is an incremental transaction, never a table replacement',
      );
      session = applied.value.session;
      const flows = flowsOf(path.join(c.dir, 'expect.jsonl'));
      const results = await probeSession(session, flows);
      assert.deepEqual(disagreements(results), [], `lab ${labId}, case ${c.name}`);
      assertSctpHandled(session, flows, results);
      const sum = summarize(results);
      probed += sum.probed;
      skipped += sum.skipped;
      assert.equal(sum.probed + sum.skipped, flows.length);
    });
  }
});

for (const suite of ['cyclonus', 'np-guard']) {
  describe(`lab session: ${suite} corpus, each case in its own lab`, { skip: sessionSkip ?? (ALL ? false : 'set STRATA_LAB_CORPUS=all to run') }, () => {
    for (const c of casesOf(suite)) {
      it(c.name, async () => {
        const labId = uniqueLabId(suite === 'cyclonus' ? 'cy' : 'np');
        try {
          const sources = await sourcesOf(c.dir);
          const flows = flowsOf(path.join(c.dir, 'expect.jsonl'));
          const up = await upSession(sources, { labId, flows, podCidr: podCidrAvoiding(sources) });
          assert.ok(up.ok, JSON.stringify(up.diagnostics));
          const results = await probeSession(up.value.session, flows);
          assert.deepEqual(disagreements(results), [], `case ${c.name}`);
          assertSctpHandled(up.value.session, flows, results);
        } finally {
          await downSession(labId);
        }
      });
    }
  });
}
