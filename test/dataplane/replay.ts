// Update operations replayed on an IR ruleset, with nft's transaction rules checked as it goes
// (what the kernel would refuse fails an assertion), and an order-independent view of a ruleset
// to compare a replay with its target. Shared by the diff and incremental-compiler tests.
import assert from 'node:assert/strict';
import type { Chain, NamedSet, Ruleset, UpdateOp, VerdictMap } from '../../src/dataplane/index.ts';

/** Replays update operations on an IR ruleset, with nft's transaction rules checked as it goes. */
export function replay(before: Ruleset, ops: readonly UpdateOp[]): Ruleset {
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
export function canonical(rs: Ruleset): unknown {
  const sortBy = <T>(xs: readonly T[], k: (x: T) => string): T[] => [...xs].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
  return {
    table: rs.table,
    sets: sortBy(rs.sets, (s) => s.name).map((s) => ({ ...s, elements: sortBy(s.elements as readonly unknown[], (e) => JSON.stringify(e)) })),
    maps: sortBy(rs.maps, (m) => m.name).map((m) => ({ ...m, elements: sortBy(m.elements, (e) => e.ifname) })),
    chains: sortBy(rs.chains, (c) => c.name).map((c) => ({ name: c.name, hook: c.hook, rules: c.rules })),
  };
}

