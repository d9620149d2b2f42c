// GET /apis/strata/v1/policyboard: tiers in evaluation order, policies in order, the selector as
// written, endpoints selected counted by the engine — and filtered by tier read rights, so a
// restricted user learns nothing about a tier she may not read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { policyBoardSchema } from '../../src/server/board-wire.ts';
import { buildCluster } from '../../src/engine/index.ts';
import { loadPaths } from '../../src/load/index.ts';
import { ALICE_RBAC, readDocs, STEP5 } from '../console/harness.ts';
import { startHarness } from './harness.ts';

test('the policy board lists every tier and policy in engine order with selected counts; alice, without tier security, does not see it', async () => {
  const h = await startHarness();
  try {
    const docs = await readDocs(STEP5);
    const applied = await h.call('POST', '/apis/strata/v1/apply', { body: [...docs, ...ALICE_RBAC(['default', 'platform', 'application', 'appsec'])] });
    assert.equal(applied.code, 200, applied.text);

    const admin = await h.call('GET', '/apis/strata/v1/policyboard');
    assert.equal(admin.code, 200);
    const board = policyBoardSchema.parse(admin.json);
    // The same order and counts as the engine over the same manifests, offline.
    const loaded = await loadPaths(STEP5);
    const cluster = buildCluster(loaded.resources).cluster;
    assert.deepEqual(board.tiers.map((t) => t.name), cluster.tiers.map((t) => t.name));
    assert.deepEqual(
      board.tiers.flatMap((t) => t.policies.map((p) => `${t.name}:${p.name}:${p.selected}`)),
      cluster.policies.map((p) => `${p.tier}:${p.name}:${cluster.selectorMembers(p.selector).endpoints.length}`),
    );
    assert.equal(board.endpoints, cluster.endpoints.length);
    const restrict = board.tiers.find((t) => t.name === 'security')!.policies.find((p) => p.name === 'security.tenant-02-restrict')!;
    assert.equal(restrict.selector, 'selector: ""; namespaceSelector: projectcalico.org/name == "bookinfo"');
    assert.equal(restrict.path, '/apis/projectcalico.org/v3/globalnetworkpolicies/security.tenant-02-restrict');
    assert.ok(restrict.selected > 0 && restrict.selected < board.endpoints);

    const alice = await h.call('GET', '/apis/strata/v1/policyboard', { token: 'alice-token' });
    assert.equal(alice.code, 200);
    const seen = policyBoardSchema.parse(alice.json);
    assert.deepEqual(seen.tiers.map((t) => t.name), board.tiers.map((t) => t.name).filter((t) => t !== 'security' && seen.tiers.some((s) => s.name === t)));
    assert.ok(!JSON.stringify(seen).includes('security.'), 'no security policy name reaches alice');
    // The YAML behind a board entry is behind the same rule.
    assert.equal((await h.call('GET', restrict.path!, { token: 'alice-token' })).code, 403);

    // bob has no grants at all: an empty board, not an error and not a leak.
    const bob = policyBoardSchema.parse((await h.call('GET', '/apis/strata/v1/policyboard', { token: 'bob-token' })).json);
    assert.deepEqual(bob.tiers, []);
    assert.equal((await h.call('GET', '/apis/strata/v1/policyboard', { token: null })).code, 401);
  } finally {
    await h.close();
  }
});
