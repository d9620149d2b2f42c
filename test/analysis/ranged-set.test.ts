// The matrix's ranged, complemented sets against plain arrays of booleans: every operation of
// random expressions over sets of every shape (empty, narrow, wide, complemented, the universe).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rangedSetAlgebra } from '../../src/analysis/bitset.ts';
import type { RangedSet } from '../../src/analysis/bitset.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('rangedSetAlgebra', () => {
  for (const size of [0, 1, 31, 32, 33, 64, 95, 300]) {
    it(`agrees with boolean arrays, universe of ${size}`, () => {
      const alg = rangedSetAlgebra(size);
      const r = rng(size);
      const bools = (s: RangedSet): boolean[] => Array.from({ length: size }, (_, i) => alg.has(s, i));
      const randomSet = (): [RangedSet, boolean[]] => {
        const shape = Math.floor(r() * (size === 0 ? 2 : 6)); // an empty universe has only none (= full)
        if (shape === 0) return [alg.none, new Array<boolean>(size).fill(false)];
        if (shape === 1) return [alg.full, new Array<boolean>(size).fill(true)];
        // A dense cluster somewhere (a namespace), sometimes two far apart, sometimes everything.
        const members: number[] = [];
        const at = Math.floor(r() * size);
        const width = shape === 5 ? size : 1 + Math.floor(r() * 40);
        for (let i = at; i < Math.min(size, at + width); i++) if (r() < 0.6) members.push(i);
        if (shape === 3) for (let i = 0; i < 5; i++) members.push(Math.floor(r() * size));
        if (shape === 5) for (let i = 0; i < size; i++) members.push(i);
        const s = alg.of(members);
        const b = new Array<boolean>(size).fill(false);
        for (const m of members) b[m] = true;
        return [s, b];
      };
      let pool: [RangedSet, boolean[]][] = Array.from({ length: 8 }, randomSet);
      for (let step = 0; step < 4000; step++) {
        const [a, ab] = pool[Math.floor(r() * pool.length)]!;
        const [b, bb] = r() < 0.2 ? randomSet() : pool[Math.floor(r() * pool.length)]!;
        const op = Math.floor(r() * 3);
        const out = op === 0 ? alg.and(a, b) : op === 1 ? alg.or(a, b) : alg.minus(a, b);
        const expected = ab.map((x, i) => (op === 0 ? x && bb[i]! : op === 1 ? x || bb[i]! : x && !bb[i]!));
        assert.deepEqual(bools(out), expected, `step ${step}, op ${op}`);
        assert.equal(alg.isEmpty(out), !expected.includes(true), `isEmpty, step ${step}`);
        if (alg.isEmpty(out)) assert.equal(out, alg.none, 'an empty result is none');
        // Words are trimmed: no zero word at either end.
        if (out.words.length > 0) assert.ok(out.words[0] !== 0 && out.words[out.words.length - 1] !== 0, 'trimmed');
        pool[Math.floor(r() * pool.length)] = [out, expected];
        if (step % 500 === 0) pool = pool.map((p) => (r() < 0.5 ? randomSet() : p));
      }
    });
  }
});
