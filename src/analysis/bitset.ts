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
 * The bitset algebra with shortcuts for the common cases of a pipeline run, and word ranges.
 *
 * - Most rules match no peer for a given endpoint (their bitset is the shared `none`), and an
 *   empty result is returned as `none` itself, so emptiness tests and operations with an empty
 *   operand cost nothing and allocate nothing.
 * - Every set remembers the range of its non-zero words. Classes are numbered in endpoint-id order,
 *   so a namespace's classes are neighbours and a rule side scoped to a namespace touches a few
 *   words of a bitset 46,000 classes wide: `and` loops over the operands' common range only, and
 *   `minus` copies its left operand natively and loops over the common range only. (Measured: 8%
 *   off a 30k-pod matrix; the rest is allocation — every result is a full-width array — and GC.)
 *
 * Operands are never mutated, so returning one of them is safe. A bitset filled with `setBit`
 * after `make()` gets its range on first use; it must not be changed after that.
 */
export function sparseBitsetAlgebra(size: number): FlowSetAlgebra<Bitset> & { full: Bitset; make(): Bitset } {
  const base = bitsetAlgebra(size);
  const { none, full } = base;
  const words = none.length;
  // [lo, hi): the first and one past the last non-zero word (lo === hi: empty).
  const ranges = new WeakMap<Bitset, { lo: number; hi: number }>();
  const tight = (b: Bitset, lo: number, hi: number): { lo: number; hi: number } => {
    while (lo < hi && b[lo] === 0) lo++;
    while (hi > lo && b[hi - 1] === 0) hi--;
    return { lo, hi };
  };
  const rangeOf = (b: Bitset): { lo: number; hi: number } => {
    let r = ranges.get(b);
    if (r === undefined) ranges.set(b, (r = tight(b, 0, words)));
    return r;
  };
  ranges.set(none, { lo: 0, hi: 0 });
  ranges.set(full, tight(full, 0, words));
  const result = (out: Bitset, lo: number, hi: number): Bitset => {
    const r = tight(out, lo, hi);
    if (r.lo === r.hi) return none;
    ranges.set(out, r);
    return out;
  };
  return {
    none,
    full,
    make: base.make,
    and(a, b) {
      if (a === none || b === none) return none;
      if (a === full) return b;
      if (b === full) return a;
      const ra = rangeOf(a);
      const rb = rangeOf(b);
      const lo = Math.max(ra.lo, rb.lo);
      const hi = Math.min(ra.hi, rb.hi);
      if (lo >= hi) return none;
      const out = new Uint32Array(words);
      for (let i = lo; i < hi; i++) out[i] = a[i]! & b[i]!;
      return result(out, lo, hi);
    },
    or(a, b) {
      if (a === none) return b;
      if (b === none) return a;
      const ra = rangeOf(a);
      const rb = rangeOf(b);
      // Copy the wider operand natively, then OR the other's range into it.
      const [wide, narrow, rn] = ra.hi - ra.lo >= rb.hi - rb.lo ? [a, b, rb] : [b, a, ra];
      const out = wide.slice();
      for (let i = rn.lo; i < rn.hi; i++) out[i] = out[i]! | narrow[i]!;
      const rw = wide === a ? ra : rb;
      ranges.set(out, { lo: Math.min(rw.lo, rn.lo), hi: Math.max(rw.hi, rn.hi) });
      return out;
    },
    minus(a, b) {
      if (a === none || b === none) return a;
      const ra = rangeOf(a);
      const rb = rangeOf(b);
      const lo = Math.max(ra.lo, rb.lo);
      const hi = Math.min(ra.hi, rb.hi);
      if (lo >= hi) return a; // nothing in common: a unchanged
      const out = a.slice();
      for (let i = lo; i < hi; i++) out[i] = out[i]! & ~b[i]!;
      return result(out, ra.lo, ra.hi);
    },
    isEmpty: (a) => a === none || rangeOf(a).lo === rangeOf(a).hi,
  };
}
