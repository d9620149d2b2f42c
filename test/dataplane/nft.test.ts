// The kernel's word: every golden script is accepted by nft, loads, and holds one counter per IR
// rule; every incremental update, applied on top of the previous ruleset, leaves the kernel with
// exactly what the full script of the next ruleset gives. Runs as root with nft installed, each
// test inside its own throwaway network namespace (see netns.ts); skipped otherwise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNetnsNftExecutor, diffRulesets, parseProvenance, renderNft, renderNftUpdate } from '../../src/dataplane/index.ts';
import { changes } from './changes.ts';
import { compileOrThrow, goldenCases } from './goldens.ts';
import { interfacesOf, tenantsScenario } from './fixtures.ts';
import { kernelTable, nftIn, nftSkip, withNetns } from './netns.ts';

const opts = nftSkip === undefined ? {} : { skip: nftSkip };

describe('nft accepts what the compiler writes', opts, () => {
  for (const c of goldenCases()) {
    it(`${c.file}: nft -c accepts it, and it loads`, async () => {
      await withNetns((ns) => {
        const check = nftIn(ns, ['-c', '-f', '-'], c.script);
        assert.equal(check.code, 0, check.stderr);
        const load = nftIn(ns, ['-f', '-'], c.script);
        assert.equal(load.code, 0, load.stderr);
        // Loading twice replaces the table atomically (add + delete + define), no error.
        const again = nftIn(ns, ['-f', '-'], c.script);
        assert.equal(again.code, 0, again.stderr);
      });
    });
  }

  it('every IR rule is one kernel rule with a counter and its provenance comment (read by the executor)', async () => {
    const s = tenantsScenario();
    const ifnames = interfacesOf(s.cluster.endpoints);
    const rs = compileOrThrow(s.cluster, s.nodes.get('node-a')!, ifnames);
    await withNetns(async (ns) => {
      const exec = createNetnsNftExecutor({ namespaceOf: (node) => (node === 'node-a' ? ns : undefined) });
      const applied = await exec.apply('node-a', renderNft(rs));
      assert.ok(applied.ok, applied.ok ? '' : applied.diagnostics.map((d) => d.message).join('; '));
      const counters = (await exec.counters('node-a')).filter((c) => c.table === rs.table);
      const irRules = rs.chains.flatMap((c) => c.rules);
      assert.equal(counters.length, irRules.length);
      assert.deepEqual(counters.map((c) => c.comment ?? '').sort(), irRules.map((r) => r.comment).sort());
      const deciding = counters.map((c) => parseProvenance(c.comment ?? '')).filter((p) => p.kind === 'rule' || p.kind === 'end-of-tier' || p.kind === 'no-profile');
      assert.ok(deciding.length > 0);
    });
  });
});

describe('incremental updates in the kernel', opts, () => {
  for (const c of changes()) {
    it(`${c.name}: previous + update == next`, async () => {
      const update = renderNftUpdate(diffRulesets(c.before, c.after));
      await withNetns((ns) => {
        const full = nftIn(ns, ['-f', '-'], renderNft(c.before));
        assert.equal(full.code, 0, full.stderr);
        if (update !== '') {
          const applied = nftIn(ns, ['-f', '-'], update);
          assert.equal(applied.code, 0, `${applied.stderr}\n--- update script ---\n${update}`);
        }
        const incremental = kernelTable(ns, c.after.table);
        const fresh = nftIn(ns, ['-f', '-'], renderNft(c.after));
        assert.equal(fresh.code, 0, fresh.stderr);
        assert.deepEqual(incremental, kernelTable(ns, c.after.table));
      });
    });
  }
});
