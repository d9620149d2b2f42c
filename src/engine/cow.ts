// Copy-on-write maps and sets: how a snapshot stays consistent while the store moves on.
// Taking a snapshot only advances the shared *epoch* (O(1)); the first write to a structure
// after that copies what it changes, so every snapshot keeps the objects it was handed,
// untouched. Between two snapshots (e.g. while a batch of a million resources is applied)
// writes go in place.
//
// A map is split into SHARDS hash-addressed sub-maps, so the copy a write makes after a
// snapshot is one shard (≈ n/256 entries) plus the shard table, not the whole map: one change at
// 100k endpoints copies a few hundred entries per touched map.

/** Counts snapshots taken; a structure last copied in an older epoch may be shared. */
export class Epoch {
  value = 0;
  advance(): void {
    this.value++;
  }
}

const SHARDS = 256;

/** FNV-1a over the key's characters: cheap, and spreads keys that share long prefixes. */
function shardOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) & (SHARDS - 1);
}

interface Slot<V> {
  /** Insertion sequence of the key (kept across updates), for ordered iteration. */
  readonly seq: number;
  readonly value: V;
}

/** An immutable view of a CowMap as of one epoch. */
export class MapView<V> implements ReadonlyMap<string, V> {
  readonly #shards: readonly ReadonlyMap<string, Slot<V>>[];
  readonly size: number;
  /** Every slot's seq is below this. */
  readonly #seqLimit: number;
  #ordered: readonly [string, V][] | undefined;

  constructor(shards: readonly ReadonlyMap<string, Slot<V>>[], size: number, seqLimit: number) {
    this.#shards = shards;
    this.size = size;
    this.#seqLimit = seqLimit;
  }

  get(key: string): V | undefined {
    return this.#shards[shardOf(key)]!.get(key)?.value;
  }

  has(key: string): boolean {
    return this.#shards[shardOf(key)]!.has(key);
  }

  /** Entries in insertion order (the order keys were first set). */
  #inOrder(): readonly [string, V][] {
    if (this.#ordered === undefined) {
      // Each new view orders its entries again (a snapshot's endpoint list at 100k endpoints):
      // placed by seq when the seqs are dense enough, which needs no comparisons; sorted otherwise
      // (a map whose keys churned a lot).
      if (this.#seqLimit <= 4 * this.size + 1024) {
        const bySeq: ([string, V] | undefined)[] = new Array(this.#seqLimit);
        for (const shard of this.#shards) for (const [k, s] of shard) bySeq[s.seq] = [k, s.value];
        const out: [string, V][] = [];
        for (const e of bySeq) if (e !== undefined) out.push(e);
        this.#ordered = out;
      } else {
        const all: [string, Slot<V>][] = [];
        for (const shard of this.#shards) for (const e of shard) all.push(e);
        all.sort((a, b) => a[1].seq - b[1].seq);
        this.#ordered = all.map(([k, s]) => [k, s.value]);
      }
    }
    return this.#ordered;
  }

  *entries(): MapIterator<[string, V]> {
    for (const [k, v] of this.#inOrder()) yield [k, v];
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.#inOrder()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.#inOrder()) yield v;
  }

  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [k, v] of this.#inOrder()) fn(v, k, this);
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
}

export class CowMap<V> {
  #shards: Map<string, Slot<V>>[];
  /** Epoch each shard was last copied in; the table itself is copied with the epoch below. */
  #shardEpochs: number[];
  #tableEpoch: number;
  #size = 0;
  #seq = 0;
  #view: MapView<V> | undefined;
  readonly #clock: Epoch;

  constructor(clock: Epoch) {
    this.#clock = clock;
    this.#shards = Array.from({ length: SHARDS }, () => new Map());
    this.#shardEpochs = new Array<number>(SHARDS).fill(clock.value);
    this.#tableEpoch = clock.value;
  }

  /** The current contents, for a snapshot: it will not change after the next `Epoch.advance()`. */
  get view(): MapView<V> {
    this.#view ??= new MapView(this.#shards, this.#size, this.#seq);
    return this.#view;
  }

  get(key: string): V | undefined {
    return this.#shards[shardOf(key)]!.get(key)?.value;
  }

  has(key: string): boolean {
    return this.#shards[shardOf(key)]!.has(key);
  }

  get size(): number {
    return this.#size;
  }

  set(key: string, value: V): void {
    const i = shardOf(key);
    const shard = this.#writable(i);
    const cur = shard.get(key);
    if (cur === undefined) this.#size++;
    shard.set(key, { seq: cur?.seq ?? this.#seq++, value });
  }

  delete(key: string): boolean {
    const i = shardOf(key);
    if (!this.#shards[i]!.has(key)) return false;
    this.#writable(i).delete(key);
    this.#size--;
    return true;
  }

  *values(): IterableIterator<V> {
    for (const shard of this.#shards) for (const s of shard.values()) yield s.value;
  }

  *keys(): IterableIterator<string> {
    for (const shard of this.#shards) yield* shard.keys();
  }

  #writable(i: number): Map<string, Slot<V>> {
    const now = this.#clock.value;
    this.#view = undefined;
    if (this.#tableEpoch !== now) {
      this.#shards = [...this.#shards];
      this.#shardEpochs = [...this.#shardEpochs];
      this.#tableEpoch = now;
    }
    if (this.#shardEpochs[i] !== now) {
      this.#shards[i] = new Map(this.#shards[i]);
      this.#shardEpochs[i] = now;
    }
    return this.#shards[i]!;
  }
}

const CHUNKS = 256;

/**
 * `chunkAbove`: at this many elements an inner set of a CowSetMap is split into CHUNKS hash
 * chunks (a copy of up to ~1,000 elements is cheaper than a chunk table of 256). Tests lower it so
 * that their small clusters go through the chunked path too.
 */
export const cowTuning = { chunkAbove: 1024 };

/**
 * An inner set of a CowSetMap: persistent by chunk. A small set is one `Set`; a large one is
 * CHUNKS hash-addressed `Set`s, and a fork (the first write after a snapshot) copies the chunk
 * table and, on each write, only the chunk it touches — so a selector matching 40,000 label
 * classes costs ~400 element copies per snapshot generation it changes in, not 40,000.
 *
 * Readers see an immutable set: a ChunkedSet is only written by its CowSetMap in the epoch that
 * made it (no snapshot holds it yet); a snapshot keeps the object it was handed, and later writes
 * go to a fork. Iteration order is per chunk (insertion order within one), not global insertion
 * order: no reader depends on it (snapshots sort or index what they read).
 */
export class ChunkedSet<E extends string> implements ReadonlySet<E> {
  /** One set while small (most inner sets: a class's few members), CHUNKS sets once large. */
  #small: Set<E> | undefined;
  #chunks: Set<E>[] | undefined;
  /** Epoch each chunk was copied in (-1: shared with the set this one was forked from). */
  #chunkEpochs: number[] | undefined;
  #size: number;

  private constructor(small: Set<E> | undefined, chunks: Set<E>[] | undefined, chunkEpochs: number[] | undefined, size: number) {
    this.#small = small;
    this.#chunks = chunks;
    this.#chunkEpochs = chunkEpochs;
    this.#size = size;
  }

  static empty<E extends string>(): ChunkedSet<E> {
    return new ChunkedSet<E>(new Set(), undefined, undefined, 0);
  }

  /** A set equal to `from`, sharing its chunks until written. */
  static fork<E extends string>(from: ChunkedSet<E>): ChunkedSet<E> {
    // A small set is copied right away: it is small, and the copy is what a write needs.
    if (from.#small !== undefined) return new ChunkedSet(new Set(from.#small), undefined, undefined, from.#size);
    return new ChunkedSet<E>(undefined, [...from.#chunks!], new Array<number>(CHUNKS).fill(-1), from.#size);
  }

  get size(): number {
    return this.#size;
  }

  has(e: E): boolean {
    return (this.#small ?? this.#chunks![shardOf(e) & (CHUNKS - 1)]!).has(e);
  }

  /** Only by the owning CowSetMap, in the epoch the set was made or forked in. */
  add(e: E, epoch: number): boolean {
    if (this.has(e)) return false;
    if (this.#small !== undefined && this.#size >= cowTuning.chunkAbove) this.#split(epoch);
    if (this.#small !== undefined) this.#small.add(e);
    else this.#writable(shardOf(e) & (CHUNKS - 1), epoch).add(e);
    this.#size++;
    return true;
  }

  /** Only by the owning CowSetMap, in the epoch the set was made or forked in. */
  delete(e: E, epoch: number): boolean {
    if (this.#small !== undefined) {
      if (!this.#small.delete(e)) return false;
    } else {
      const i = shardOf(e) & (CHUNKS - 1);
      if (!this.#chunks![i]!.has(e)) return false;
      this.#writable(i, epoch).delete(e);
    }
    this.#size--;
    return true;
  }

  #writable(i: number, epoch: number): Set<E> {
    const chunks = this.#chunks!;
    if (this.#chunkEpochs![i] !== epoch) {
      chunks[i] = new Set(chunks[i]);
      this.#chunkEpochs![i] = epoch;
    }
    return chunks[i]!;
  }

  #split(epoch: number): void {
    const chunks = Array.from({ length: CHUNKS }, () => new Set<E>());
    for (const e of this.#small!) chunks[shardOf(e) & (CHUNKS - 1)]!.add(e);
    this.#small = undefined;
    this.#chunks = chunks;
    this.#chunkEpochs = new Array<number>(CHUNKS).fill(epoch);
  }

  *#all(): SetIterator<E> {
    for (const chunk of this.#chunks!) yield* chunk;
  }

  [Symbol.iterator](): SetIterator<E> {
    return this.#small !== undefined ? this.#small.values() : this.#all();
  }

  values(): SetIterator<E> {
    return this[Symbol.iterator]();
  }

  keys(): SetIterator<E> {
    return this[Symbol.iterator]();
  }

  *entries(): SetIterator<[E, E]> {
    for (const e of this) yield [e, e];
  }

  forEach(fn: (value: E, key: E, set: ReadonlySet<E>) => void): void {
    for (const e of this) fn(e, e, this);
  }

  // The ES2025 set algebra, through a plain copy (no reader of the engine uses it on a hot path).
  union<U>(other: ReadonlySetLike<U>): Set<E | U> {
    return new Set<E>(this).union(other);
  }

  intersection<U>(other: ReadonlySetLike<U>): Set<E & U> {
    return new Set<E>(this).intersection(other);
  }

  difference<U>(other: ReadonlySetLike<U>): Set<E> {
    return new Set<E>(this).difference(other);
  }

  symmetricDifference<U>(other: ReadonlySetLike<U>): Set<E | U> {
    return new Set<E>(this).symmetricDifference(other);
  }

  isSubsetOf(other: ReadonlySetLike<unknown>): boolean {
    return new Set<E>(this).isSubsetOf(other);
  }

  isSupersetOf(other: ReadonlySetLike<unknown>): boolean {
    return new Set<E>(this).isSupersetOf(other);
  }

  isDisjointFrom(other: ReadonlySetLike<unknown>): boolean {
    return new Set<E>(this).isDisjointFrom(other);
  }
}

/**
 * A map of sets where each inner set is copied on write too: membership sets are read by
 * snapshots and changed one element at a time by the store. Inner sets are ChunkedSets, so the
 * first write after a snapshot copies one chunk of a large set, not the set.
 */
export class CowSetMap<E extends string> {
  readonly #outer: CowMap<{ readonly epoch: number; readonly set: ChunkedSet<E> }>;
  readonly #clock: Epoch;
  static readonly #EMPTY: ReadonlySet<never> = new Set();

  constructor(clock: Epoch) {
    this.#clock = clock;
    this.#outer = new CowMap(clock);
  }

  /** The sets as they are now, for a snapshot. */
  get view(): ReadonlyMap<string, { readonly set: ReadonlySet<E> }> {
    return this.#outer.view;
  }

  get(key: string): ReadonlySet<E> {
    return this.#outer.get(key)?.set ?? (CowSetMap.#EMPTY as ReadonlySet<E>);
  }

  keys(): IterableIterator<string> {
    return this.#outer.keys();
  }

  add(key: string, element: E): boolean {
    const cur = this.#outer.get(key);
    if (cur?.set.has(element) === true) return false;
    return this.#writableSet(key, cur).add(element, this.#clock.value);
  }

  remove(key: string, element: E): boolean {
    const cur = this.#outer.get(key);
    if (cur === undefined || !cur.set.has(element)) return false;
    if (cur.set.size === 1) {
      this.#outer.delete(key);
      return true;
    }
    return this.#writableSet(key, cur).delete(element, this.#clock.value);
  }

  deleteKey(key: string): void {
    this.#outer.delete(key);
  }

  #writableSet(key: string, cur: { readonly epoch: number; readonly set: ChunkedSet<E> } | undefined): ChunkedSet<E> {
    const now = this.#clock.value;
    if (cur !== undefined && cur.epoch === now) return cur.set;
    const set = cur === undefined ? ChunkedSet.empty<E>() : ChunkedSet.fork(cur.set);
    this.#outer.set(key, { epoch: now, set });
    return set;
  }
}
