// The matrix endpoint's views for the console's service graph: the namespace aggregate equals the
// CLI's `matrix --aggregate namespace` (matrixView) cell for cell, its example pairs are allowed
// pairs, and `namespaces: [...]` is the class matrix among those namespaces' endpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCluster } from '../../src/engine/index.ts';
import { loadPaths } from '../../src/load/index.ts';
import { computeMatrix } from '../../src/analysis/matrix.ts';
import { classMatrix, matrixView } from '../../src/analysis/matrix-view.ts';
import { readDocs, STEP5 } from '../console/harness.ts';
import { startHarness } from './harness.ts';

test('the namespace aggregate is matrixView\'s, with allowed example pairs; namespaces:[…] is the class matrix inside them', async () => {
  const h = await startHarness();
  try {
    assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: await readDocs(STEP5) })).code, 200);
    const cluster = buildCluster((await loadPaths(STEP5)).resources).cluster;
    const m = computeMatrix(cluster, {});
    const v = matrixView(m, { aggregate: 'namespace' });
    const want = v.blocks.flatMap((b) => b.cells.flatMap((row, r) => row.flatMap((c, k) => ((c === 'allow' || c === 'partial') && v.rows[r] !== v.columns[k] ? [`${b.label} ${v.rows[r]}→${v.columns[k]} ${c}`] : []))));
    const r = await h.call('POST', '/apis/strata/v1/matrix', { body: { aggregate: 'namespace' } });
    assert.equal(r.code, 200, r.text);
    assert.equal(r.json.scope, 'all');
    const got = (r.json.ports as { spec: string; cells: { from: string; to: string; verdict: string; example: [string, string] }[] }[]).flatMap((p) => p.cells.map((c) => `${p.spec} ${c.from}→${c.to} ${c.verdict}`));
    assert.deepEqual(got.sort(), want.sort());
    assert.ok(got.length > 0);
    // Each example is an allowed pair of those namespaces, as explain decides it.
    const examples = (r.json.ports as { spec: string; cells: { from: string; to: string; example: [string, string] }[] }[]).flatMap((p) => p.cells.map((c) => ({ spec: p.spec, ...c })));
    const flows = examples.map((e) => ({ from: e.example[0], to: e.example[1], port: Number(e.spec.split('/')[0]), protocol: e.spec.split('/')[1] }));
    const ex = await h.call('POST', '/apis/strata/v1/explain', { body: { flows } });
    examples.forEach((e, i) => {
      assert.equal(e.example[0].split('/')[0], e.from);
      assert.equal(e.example[1].split('/')[0], e.to);
      assert.equal(ex.json.results[i].verdict, 'allow', `${e.example.join(' → ')} ${e.spec}`);
    });
    // The class matrix among two namespaces' endpoints, as the CLI computes it with those filters.
    const inside = (e: { namespace: string | undefined }): boolean => e.namespace === 'yaobank' || e.namespace === 'hipstershop';
    const sub = await h.call('POST', '/apis/strata/v1/matrix', { body: { namespaces: ['yaobank', 'hipstershop'] } });
    assert.deepEqual(sub.json, JSON.parse(JSON.stringify(classMatrix(m, { from: inside, to: inside }))));
    assert.equal((await h.call('POST', '/apis/strata/v1/matrix', { body: { aggregate: 'namespaces' } })).code, 400);
  } finally {
    await h.close();
  }
});
