// Fixed-size bitsets as a flow-set algebra for the shared evaluation pipeline: one bit per peer
// class, so one pipeline run decides an endpoint's direction against every peer at once.
import type { FlowSetAlgebra } from '../engine/index.ts';

export type Bitset = Uint32Array;

export function bitsetAlgebra(size: number): FlowSetAlgebra<Bitset> & { full: Bitset; make(): Bitset } {
  const words = Math.ceil(size / 32);
  const none = new Uint32Array(words);
  const full = new Uint32Array(words);
  for (let i = 0; i < size; i++) setBit(full, i);
  const binary =
    (op: (a: number, b: number) => number) =>
    (a: Bitset, b: Bitset): Bitset => {
      const out = new Uint32Array(words);
      for (let i = 0; i < words; i++) out[i] = op(a[i]!, b[i]!);
      return out;
    };
  return {
    none,
    full,
    make: () => new Uint32Array(words),
    and: binary((a, b) => a & b),
    or: binary((a, b) => a | b),
    minus: binary((a, b) => a & ~b),
    isEmpty: (a) => {
      for (let i = 0; i < words; i++) if (a[i] !== 0) return false;
      return true;
    },
  };
}

export function setBit(b: Bitset, i: number): void {
  const w = i >>> 5;
  b[w] = (b[w] ?? 0) | (1 << (i & 31));
}

export function hasBit(b: Bitset, i: number): boolean {
  return (b[i >>> 5]! & (1 << (i & 31))) !== 0;
}
