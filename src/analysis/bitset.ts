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

/**
 * A set of small integers stored by its non-zero word range, possibly complemented: the set is
 * the bits of `words` placed at word `lo` (every other word zero), or — when `neg` — everything
 * *but* those bits. Words are 32-bit (as signed int32 values); `words` is trimmed: its first and
 * last word are non-zero (or it is empty). Immutable once made.
 *
 * `words` is a plain array, not a `Uint32Array`: a typed array longer than 64 bytes gets its own
 * off-heap backing store, and at the matrix's allocation rate (hundreds of thousands of sets of
 * hundreds of words) V8 answered the external memory with full mark-compact collections of the
 * whole heap — the cluster included. Int32 values are small integers in Node's (uncompressed)
 * heap, so a plain array is one young-generation object that dies young.
 */
export interface RangedSet {
  readonly neg: boolean;
  readonly lo: number;
  readonly words: readonly number[];
}

/** Whether `i` is in the set. */
export function rangedHas(s: RangedSet, i: number): boolean {
  const w = (i >>> 5) - s.lo;
  const inWords = w >= 0 && w < s.words.length && (s.words[w]! & (1 << (i & 31))) !== 0;
  return inWords !== s.neg;
}

export interface RangedSetAlgebra extends FlowSetAlgebra<RangedSet> {
  readonly full: RangedSet;
  /** The set of these members (any order, repeats allowed; each in [0, size)). */
  of(members: readonly number[]): RangedSet;
  has(set: RangedSet, i: number): boolean;
}

/**
 * The flow-set algebra of the connectivity matrix: sets of peer classes stored by word range and
 * possibly complemented, so the cost of an operation follows the operands' ranges, never the
 * width of the cluster.
 *
 * Why: most of the pipeline's sets are narrow. Classes are numbered in endpoint-id order, so a
 * namespace's (and a tenant's) classes are neighbours, and a rule side scoped to a namespace
 * matches a few words of a set 46,000 classes wide. But a pipeline run starts from *every* peer
 * (`full`) and removes what each rule decides (`undecided = all ∖ hit`), so with plain bitsets
 * every step allocated a full-width array (721 words at 100k pods). With the complement flag,
 * `full ∖ hit` is `hit`'s words flagged, `undecided ∩ side` is `side ∖ decided` over the side's
 * range, and unions of a few namespaces stay a few words wide.
 *
 * - `none` and `full` are shared objects; an empty result is always `none` (so emptiness is an
 *   identity test), and a complemented set whose words cover the whole universe is `none` too.
 * - An operation that would return an operand unchanged returns the operand itself (sets are
 *   immutable, so sharing is safe and allocates nothing).
 */
export function rangedSetAlgebra(size: number): RangedSetAlgebra {
  const universeWords = Math.ceil(size / 32);
  const lastMask = size % 32 === 0 ? -1 : (2 ** (size % 32) - 1) | 0; // in-universe bits of the last word
  const none: RangedSet = { neg: false, lo: 0, words: [] };
  // Over an empty universe everything is nothing.
  const full: RangedSet = size === 0 ? none : { neg: true, lo: 0, words: [] };

  // A complemented set whose words cover the whole universe is empty.
  const complete = (s: RangedSet): RangedSet => {
    if (!s.neg || s.lo !== 0 || s.words.length !== universeWords) return s;
    for (let i = 0; i < universeWords - 1; i++) if (s.words[i] !== -1) return s;
    return (s.words[universeWords - 1]! & lastMask) === lastMask ? none : s;
  };
  // `out` placed at word `lo`, its zero words at either end dropped.
  const trimmed = (out: number[], lo: number, neg: boolean): RangedSet => {
    let a = 0;
    let b = out.length;
    while (a < b && out[a] === 0) a++;
    while (b > a && out[b - 1] === 0) b--;
    if (a === b) return neg ? full : none;
    return complete({ neg, lo: lo + a, words: a === 0 && b === out.length ? out : out.slice(a, b) });
  };
  const flagged = (s: RangedSet, neg: boolean): RangedSet => (s.neg === neg ? s : complete({ neg, lo: s.lo, words: s.words }));
  const hiOf = (s: RangedSet): number => s.lo + s.words.length;

  // The three kernels, on the words of two sets; `neg` flags the result.
  const intersect = (a: RangedSet, b: RangedSet, neg: boolean): RangedSet => {
    const lo = Math.max(a.lo, b.lo);
    const hi = Math.min(hiOf(a), hiOf(b));
    if (lo >= hi) return neg ? full : none;
    const n = hi - lo;
    const out = new Array<number>(n);
    const wa = a.words;
    const wb = b.words;
    const oa = lo - a.lo;
    const ob = lo - b.lo;
    for (let i = 0; i < n; i++) out[i] = wa[oa + i]! & wb[ob + i]!;
    return trimmed(out, lo, neg);
  };
  const union = (a: RangedSet, b: RangedSet, neg: boolean): RangedSet => {
    if (b.words.length === 0) return flagged(a, neg);
    if (a.words.length === 0) return flagged(b, neg);
    if (a.lo > b.lo) [a, b] = [b, a]; // a starts first
    const wa = a.words;
    const wb = b.words;
    const lo = a.lo;
    const aHi = hiOf(a);
    const bHi = hiOf(b);
    const hi = Math.max(aHi, bHi);
    const out = new Array<number>(hi - lo);
    // [lo, b.lo): a only (or a gap); [b.lo, min hi): both; then whichever is longer.
    const bLo = b.lo;
    let i = lo;
    for (; i < bLo && i < aHi; i++) out[i - lo] = wa[i - lo]!;
    for (; i < bLo; i++) out[i - lo] = 0;
    for (; i < aHi && i < bHi; i++) out[i - lo] = wa[i - lo]! | wb[i - bLo]!;
    for (; i < aHi; i++) out[i - lo] = wa[i - lo]!;
    for (; i < bHi; i++) out[i - lo] = wb[i - bLo]!;
    // Both ends are non-zero already (an operand's end word is); only a full cover needs a check.
    return complete({ neg, lo, words: out });
  };
  // a ∖ b, over a's range
  const diff = (a: RangedSet, b: RangedSet, neg: boolean): RangedSet => {
    const lo = Math.max(a.lo, b.lo);
    const hi = Math.min(hiOf(a), hiOf(b));
    if (lo >= hi) return flagged(a, neg);
    const wa = a.words;
    const wb = b.words;
    const out = wa.slice();
    for (let i = lo; i < hi; i++) out[i - a.lo] = wa[i - a.lo]! & ~wb[i - b.lo]!;
    return trimmed(out, a.lo, neg);
  };

  const and = (a: RangedSet, b: RangedSet): RangedSet => {
    if (a === none || b === none) return none;
    if (a === full) return b;
    if (b === full) return a;
    if (!a.neg) return b.neg ? diff(a, b, false) : intersect(a, b, false);
    return b.neg ? union(a, b, true) : diff(b, a, false);
  };
  const or = (a: RangedSet, b: RangedSet): RangedSet => {
    if (a === none || b === full) return b;
    if (b === none || a === full) return a;
    if (!a.neg) return b.neg ? diff(b, a, true) : union(a, b, false);
    return b.neg ? intersect(a, b, true) : diff(a, b, true);
  };
  const minus = (a: RangedSet, b: RangedSet): RangedSet => {
    if (a === none || b === none) return a;
    if (b === full) return none;
    if (!a.neg) return b.neg ? intersect(a, b, false) : diff(a, b, false);
    return b.neg ? diff(b, a, false) : union(a, b, true);
  };
  return {
    none,
    full,
    and,
    or,
    minus,
    isEmpty: (a) => a === none,
    has: rangedHas,
    of(members) {
      if (members.length === 0) return none;
      let min = members[0]!;
      let max = min;
      for (const m of members) {
        if (m < min) min = m;
        else if (m > max) max = m;
      }
      const lo = min >>> 5;
      const out = new Array<number>((max >>> 5) - lo + 1).fill(0);
      for (const m of members) {
        const w = (m >>> 5) - lo;
        out[w] = out[w]! | (1 << (m & 31));
      }
      return complete({ neg: false, lo, words: out });
    },
  };
}
