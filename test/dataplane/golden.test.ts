// Golden nft scripts for the scenario clusters, one per node, and determinism: the script is a
// pure function of the cluster, byte-identical whatever the order of its inputs.
// Regenerate with STRATA_UPDATE_GOLDEN=1 after an intended change, and read the diff.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderNft } from '../../src/dataplane/index.ts';
import type { Chain, NamedSet, Ruleset } from '../../src/dataplane/index.ts';
import { createCluster } from '../../src/engine/cluster.ts';
import { interfacesOf, SCENARIOS } from './fixtures.ts';
import { compileOrThrow, goldenCases } from './goldens.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GOLDEN_DIR = join(ROOT, 'testdata', 'golden', 'dataplane');
const UPDATE = process.env['STRATA_UPDATE_GOLDEN'] === '1';

function checkGolden(file: string, actual: string): void {
  const path = join(GOLDEN_DIR, file);
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `missing golden ${path}: run with STRATA_UPDATE_GOLDEN=1`);
  assert.equal(actual, readFileSync(path, 'utf8'), `${file} differs from its golden (STRATA_UPDATE_GOLDEN=1 to accept)`);
}

/** Deterministic shuffle (the order must not matter, so any permutation will do). */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let a = seed;
  for (let i = out.length - 1; i > 0; i--) {
    a = (a * 1103515245 + 12345) % 2147483648;
    const j = a % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function reversedRuleset(rs: Ruleset): Ruleset {
  return {
    ...rs,
    sets: [...rs.sets].reverse().map((s): NamedSet => {
      switch (s.type) {
        case 'addr4':
        case 'addr6':
          return { ...s, elements: [...s.elements].reverse() };
        default:
          return { ...s, elements: [...s.elements].reverse() };
      }
    }),
    maps: [...rs.maps].reverse().map((m) => ({ ...m, elements: [...m.elements].reverse() })),
    chains: [...rs.chains].reverse() as Chain[],
  };
}

describe('golden nft scripts', () => {
  for (const c of goldenCases()) {
    it(`${c.file} matches its golden`, () => checkGolden(c.file, c.script));
  }
});

describe('determinism', () => {
  for (const make of SCENARIOS) {
    const s = make();
    it(`${s.name}: same output for shuffled endpoints, network sets, services and node endpoint lists`, () => {
      const ifnames = interfacesOf(s.cluster.endpoints);
      for (const seed of [1, 2, 3]) {
        const c2 = createCluster({
          tiers: s.cluster.tiers,
          policies: s.cluster.policies, // their order is the engine's semantics, not input order
          endpoints: shuffled(s.cluster.endpoints, seed),
          networkSets: shuffled(s.cluster.networkSets, seed + 10),
          namespaces: shuffled(s.cluster.namespaces, seed + 20),
          services: shuffled(s.cluster.services, seed + 30),
        });
        const ifs2 = new Map(shuffled([...ifnames], seed + 40));
        for (const [node, eps] of s.nodes) {
          const a = renderNft(compileOrThrow(s.cluster, eps, ifnames));
          const b = renderNft(compileOrThrow(c2, shuffled([...eps, ...eps], seed + 50), ifs2));
          assert.equal(b, a, `${s.name}/${node} with seed ${seed}`);
        }
      }
    });
    it(`${s.name}: the renderer sorts what the IR leaves unsorted`, () => {
      const ifnames = interfacesOf(s.cluster.endpoints);
      for (const eps of s.nodes.values()) {
        const rs = compileOrThrow(s.cluster, eps, ifnames);
        assert.equal(renderNft(reversedRuleset(rs)), renderNft(rs));
        assert.equal(renderNft(rs), renderNft(compileOrThrow(s.cluster, eps, ifnames)));
      }
    });
  }
});
