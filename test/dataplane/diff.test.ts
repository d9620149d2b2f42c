// Incremental updates: an unrelated change touches nothing else; every update script, applied to
// the previous ruleset, yields the next one (checked by the nft tests against the kernel, and here
// at IR level by replaying the operations).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffRulesets, endpointChainName, renderNftUpdate } from '../../src/dataplane/index.ts';
import type { Ruleset, UpdateOp } from '../../src/dataplane/index.ts';
import { changes } from './changes.ts';
import { canonical, replay } from './replay.ts';

function opsOf(before: Ruleset, after: Ruleset): readonly UpdateOp[] {
  const d = diffRulesets(before, after);
  assert.equal(d.kind, 'update');
  return d.kind === 'update' ? d.ops : [];
}

function touchedChains(ops: readonly UpdateOp[]): string[] {
  return ops.flatMap((o) => (o.op === 'fill-chain' ? [o.chain.name] : o.op === 'flush-chain' || o.op === 'delete-chain' || o.op === 'add-chain' ? [o.name] : []));
}

describe('incremental updates', () => {
  for (const c of changes()) {
    it(`${c.name}: replaying the operations on the previous ruleset gives the next one`, () => {
      const after = replay(c.before, opsOf(c.before, c.after));
      assert.deepEqual(canonical(after), canonical(c.after));
    });
  }

  const byName = new Map(changes().map((c) => [c.name, c]));
  const get = (n: string): { before: Ruleset; after: Ruleset } => byName.get(n)!;

  it('nothing changed: no operations and an empty script', () => {
    const { before, after } = get('nothing changed');
    assert.deepEqual(opsOf(before, after), []);
    assert.equal(renderNftUpdate(diffRulesets(before, after)), '');
  });

  it('a policy rule changed: only that policy’s chain is rewritten, no endpoint chain is touched', () => {
    const { before, after } = get('a policy rule changed');
    const ops = opsOf(before, after);
    assert.deepEqual(touchedChains(ops), ['po/gnp/security.allow-dns']);
    assert.ok(ops.some((o) => o.op === 'add-set' && o.set.name === 's4/(app == "dns" || app == "dns-cache")'));
    assert.ok(ops.some((o) => o.op === 'delete-set' && o.name === 's4/app == "dns"'));
    const text = renderNftUpdate(diffRulesets(before, after));
    assert.match(text, /^flush chain inet strata po-gnp\.security\.allow-dns-[0-9a-f]{8}$/m);
    assert.doesNotMatch(text, /chain inet strata (fw|tw)-/);
  });

  it('a pod was added: its chains and map elements are added, other endpoint chains are untouched', () => {
    const { before, after } = get('a pod was added');
    const ops = opsOf(before, after);
    const touched = touchedChains(ops);
    assert.ok(touched.includes(endpointChainName('tenant-1/worker', 'egress')));
    assert.ok(touched.includes(endpointChainName('tenant-1/worker', 'ingress')));
    assert.ok(!touched.some((n) => n.startsWith('fw/tenant-1/frontend') || n.startsWith('tw/tenant-1/backend')));
    assert.ok(ops.some((o) => o.op === 'add-map-elements' && o.map === 'from-wl' && o.elements.some((e) => e.chain === 'fw/tenant-1/worker')));
    assert.ok(ops.some((o) => o.op === 'add-elements' && o.set.name === 's4/tenant == "t1"'));
  });

  it('a policy was removed: its chain is flushed and deleted after the jumps to it are gone', () => {
    const { before, after } = get('a policy was removed');
    const ops = opsOf(before, after);
    const i = (pred: (o: UpdateOp) => boolean): number => ops.findIndex(pred);
    const refill = i((o) => o.op === 'fill-chain' && o.chain.name === 'tw/tenant-1/backend');
    const del = i((o) => o.op === 'delete-chain' && o.name === 'pi/gnp/platform.monitoring');
    assert.ok(refill >= 0 && del > refill);
    assert.ok(ops.some((o) => o.op === 'delete-set' && o.name === 'n4/metrics'));
  });

  it('a remote pod moved: only set elements change', () => {
    const { before, after } = get('a remote pod moved');
    const ops = opsOf(before, after);
    assert.ok(ops.length > 0);
    assert.ok(ops.every((o) => o.op === 'add-elements' || o.op === 'delete-elements'), JSON.stringify(ops.map((o) => o.op)));
  });

  it('an interface was renamed: only map elements change', () => {
    const { before, after } = get('an interface was renamed');
    assert.deepEqual(
      opsOf(before, after).map((o) => o.op),
      ['delete-map-elements', 'add-map-elements', 'delete-map-elements', 'add-map-elements'],
    );
  });

  it('without a previous ruleset, or with another table name, the table is replaced', () => {
    const { before } = get('nothing changed');
    assert.equal(diffRulesets(undefined, before).kind, 'replace');
    assert.equal(diffRulesets(before, { ...before, table: 'other' }).kind, 'replace');
    assert.match(renderNftUpdate(diffRulesets(undefined, before)), /^add table inet strata\ndelete table inet strata\ntable inet strata \{/m);
  });
});
