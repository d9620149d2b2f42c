// Copy-on-write maps and sets: how a snapshot stays consistent while the store moves on.
// Taking a snapshot only advances the shared *epoch* (O(1)); the first write to a structure
// after that clones it, so every snapshot keeps the objects it was handed, untouched. Between
// two snapshots (e.g. while a batch of a million resources is applied) writes go in place.

/** Counts snapshots taken; a structure last cloned in an older epoch may be shared. */
export class Epoch {
  value = 0;
  advance(): void {
    this.value++;
  }
}

export class CowMap<K, V> {
  #map: Map<K, V>;
  #epoch: number;
  readonly #clock: Epoch;

  constructor(clock: Epoch, init?: Map<K, V>) {
    this.#clock = clock;
    this.#map = init ?? new Map();
    this.#epoch = clock.value;
  }

  /** The current map, for a snapshot: it will not change after the next `Epoch.advance()`. */
  get view(): ReadonlyMap<K, V> {
    return this.#map;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  get size(): number {
    return this.#map.size;
  }

  set(key: K, value: V): void {
    this.#writable().set(key, value);
  }

  delete(key: K): boolean {
    if (!this.#map.has(key)) return false;
    return this.#writable().delete(key);
  }

  values(): MapIterator<V> {
    return this.#map.values();
  }

  entries(): MapIterator<[K, V]> {
    return this.#map.entries();
  }

  keys(): MapIterator<K> {
    return this.#map.keys();
  }

  #writable(): Map<K, V> {
    if (this.#epoch !== this.#clock.value) {
      this.#map = new Map(this.#map);
      this.#epoch = this.#clock.value;
    }
    return this.#map;
  }
}

/**
 * A map of sets where each inner set is copied on write too: membership sets are read by
 * snapshots and changed one element at a time by the store.
 */
export class CowSetMap<K, E> {
  readonly #outer: CowMap<K, { readonly epoch: number; readonly set: Set<E> }>;
  readonly #clock: Epoch;
  static readonly #EMPTY: ReadonlySet<never> = new Set();

  constructor(clock: Epoch) {
    this.#clock = clock;
    this.#outer = new CowMap(clock);
  }

  /** The sets as they are now, for a snapshot. */
  get view(): ReadonlyMap<K, { readonly set: ReadonlySet<E> }> {
    return this.#outer.view;
  }

  get(key: K): ReadonlySet<E> {
    return this.#outer.get(key)?.set ?? (CowSetMap.#EMPTY as ReadonlySet<E>);
  }

  keys(): MapIterator<K> {
    return this.#outer.keys();
  }

  add(key: K, element: E): boolean {
    const cur = this.#outer.get(key);
    if (cur?.set.has(element) === true) return false;
    this.#writableSet(key, cur).add(element);
    return true;
  }

  remove(key: K, element: E): boolean {
    const cur = this.#outer.get(key);
    if (cur === undefined || !cur.set.has(element)) return false;
    if (cur.set.size === 1) {
      this.#outer.delete(key);
      return true;
    }
    this.#writableSet(key, cur).delete(element);
    return true;
  }

  deleteKey(key: K): void {
    this.#outer.delete(key);
  }

  #writableSet(key: K, cur: { readonly epoch: number; readonly set: Set<E> } | undefined): Set<E> {
    if (cur !== undefined && cur.epoch === this.#clock.value) return cur.set;
    const set = new Set(cur?.set);
    this.#outer.set(key, { epoch: this.#clock.value, set });
    return set;
  }
}
