// Incremental updates: an unrelated change touches nothing else; every update script, applied to
// the previous ruleset, yields the next one (checked by the nft tests against the kernel, and here
// at IR level by replaying the operations).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffRulesets, endpointChainName, renderNftUpdate } from '../../src/dataplane/index.ts';
import type { Chain, NamedSet, Ruleset, UpdateOp, VerdictMap } from '../../src/dataplane/index.ts';
import { changes } from './changes.ts';

function opsOf(before: Ruleset, after: Ruleset): readonly UpdateOp[] {
  const d = diffRulesets(before, after);
  assert.equal(d.kind, 'update');
  return d.kind === 'update' ? d.ops : [];
}

function touchedChains(ops: readonly UpdateOp[]): string[] {
  return ops.flatMap((o) => (o.op === 'fill-chain' ? [o.chain.name] : o.op === 'flush-chain' || o.op === 'delete-chain' || o.op === 'add-chain' ? [o.name] : []));
}

/** Replays update operations on an IR ruleset, with nft's transaction rules checked as it goes. */
function replay(before: Ruleset, ops: readonly UpdateOp[]): Ruleset {
  const chains = new Map<string, Chain>(before.chains.map((c) => [c.name, c]));
  const sets = new Map<string, NamedSet>(before.sets.map((s) => [s.name, s]));
  const maps = new Map<string, VerdictMap>(before.maps.map((m) => [m.name, m]));
  const referenced = (name: string): boolean =>
    [...chains.values()].some((c) => c.rules.some((r) => (r.verdict?.kind === 'jump' || r.verdict?.kind === 'goto') && r.verdict.chain === name)) ||
    [...maps.values()].some((m) => m.elements.some((e) => e.chain === name));
  const setUsed = (name: string): boolean => [...chains.values()].some((c) => c.rules.some((r) => r.matches.some((m) => 'set' in m && m.set === name)));
  const key = (e: unknown): string => JSON.stringify(e);
  for (const o of ops) {
    switch (o.op) {
      case 'add-chain':
        assert.ok(!chains.has(o.name), `add existing chain ${o.name}`);
        chains.set(o.name, { name: o.name, role: 'policy', hook: undefined, rules: [] });
        break;
      case 'add-set':
        assert.ok(!sets.has(o.set.name));
        sets.set(o.set.name, { ...o.set, elements: [] } as NamedSet);
        break;
      case 'add-elements':
      case 'delete-elements': {
        const s = sets.get(o.set.name)!;
        const have = new Map((s.elements as readonly unknown[]).map((e) => [key(e), e]));
        for (const e of o.set.elements as readonly unknown[]) {
          if (o.op === 'add-elements') {
            assert.ok(!have.has(key(e)), `element ${key(e)} added twice`);
            have.set(key(e), e);
          } else {
            assert.ok(have.delete(key(e)), `element ${key(e)} deleted but absent`);
          }
        }
        sets.set(s.name, { ...s, elements: [...have.values()] } as NamedSet);
        break;
      }
      case 'add-map-elements': {
        const m = maps.get(o.map)!;
        for (const e of o.elements) {
          assert.ok(!m.elements.some((x) => x.ifname === e.ifname), `map element ${e.ifname} exists`);
          assert.ok(chains.has(e.chain), `map element to missing chain ${e.chain}`);
        }
        maps.set(o.map, { ...m, elements: [...m.elements, ...o.elements] });
        break;
      }
      case 'delete-map-elements': {
        const m = maps.get(o.map)!;
        maps.set(o.map, { ...m, elements: m.elements.filter((e) => !o.ifnames.includes(e.ifname)) });
        break;
      }
      case 'fill-chain': {
        const c = chains.get(o.chain.name);
        assert.ok(c !== undefined, `fill missing chain ${o.chain.name}`);
        assert.ok(o.flush || c.rules.length === 0, `fill non-empty chain ${o.chain.name} without flush`);
        for (const r of o.chain.rules) {
          if (r.verdict?.kind === 'jump' || r.verdict?.kind === 'goto') assert.ok(chains.has(r.verdict.chain), `jump to missing ${r.verdict.chain}`);
          for (const m of r.matches) if ('set' in m) assert.ok(sets.has(m.set), `rule uses missing set ${m.set}`);
        }
        chains.set(o.chain.name, o.chain);
        break;
      }
      case 'flush-chain':
        chains.set(o.name, { ...chains.get(o.name)!, rules: [] });
        break;
      case 'delete-chain':
        assert.equal(chains.get(o.name)?.rules.length, 0, `delete non-empty chain ${o.name}`);
        chains.delete(o.name);
        assert.ok(!referenced(o.name), `chain ${o.name} deleted while referenced`);
        break;
      case 'delete-set':
        assert.ok(!setUsed(o.name), `set ${o.name} deleted while used`);
        sets.delete(o.name);
        break;
    }
  }
  return { ...before, chains: [...chains.values()], sets: [...sets.values()], maps: [...maps.values()] };
}

/** Order-independent view of a ruleset, for comparing a replay with the target. */
function canonical(rs: Ruleset): unknown {
  const sortBy = <T>(xs: readonly T[], k: (x: T) => string): T[] => [...xs].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
  return {
    table: rs.table,
    sets: sortBy(rs.sets, (s) => s.name).map((s) => ({ ...s, elements: sortBy(s.elements as readonly unknown[], (e) => JSON.stringify(e)) })),
    maps: sortBy(rs.maps, (m) => m.name).map((m) => ({ ...m, elements: sortBy(m.elements, (e) => e.ifname) })),
    chains: sortBy(rs.chains, (c) => c.name).map((c) => ({ name: c.name, hook: c.hook, rules: c.rules })),
  };
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
