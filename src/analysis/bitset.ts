// Fixed-size bitsets as a flow-set algebra for the shared evaluation pipeline: one bit per peer
// class, so one pipeline run decides an endpoint's direction against every peer at once.
import type { FlowSetAlgebra } from '../engine/algebra.ts';

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

/**
 * The bitset algebra with shortcuts for the common cases of a pipeline run: most rules match no
 * peer for a given endpoint (their bitset is the shared `none`), and an empty result is returned
 * as `none` itself, so emptiness tests and operations with an empty operand cost nothing and
 * allocate nothing. Operands are never mutated, so returning one of them is safe.
 */
export function sparseBitsetAlgebra(size: number): FlowSetAlgebra<Bitset> & { full: Bitset; make(): Bitset } {
  const base = bitsetAlgebra(size);
  const { none, full } = base;
  const words = none.length;
  return {
    none,
    full,
    make: base.make,
    and(a, b) {
      if (a === none || b === none) return none;
      if (a === full) return b;
      if (b === full) return a;
      const out = new Uint32Array(words);
      let any = 0;
      for (let i = 0; i < words; i++) any |= out[i] = a[i]! & b[i]!;
      return any === 0 ? none : out;
    },
    or(a, b) {
      if (a === none) return b;
      if (b === none) return a;
      return base.or(a, b);
    },
    minus(a, b) {
      if (a === none || b === none) return a;
      const out = new Uint32Array(words);
      let any = 0;
      for (let i = 0; i < words; i++) any |= out[i] = a[i]! & ~b[i]!;
      return any === 0 ? none : out;
    },
    isEmpty: (a) => a === none || base.isEmpty(a),
  };
}
