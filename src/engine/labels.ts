// Effective labels with inheritance: an endpoint's own labels in front of its profiles' labels
// (namespace, service account), the way Felix's label index resolves them
// (felix/labelindex/labelnamevalueindex and calc/label_inheritance_index.go): parents are
// *referenced*, never copied, so a namespace label change replaces one parent map and the
// endpoints that inherit it are re-keyed without copying anyone's labels.
import type { Labels } from '../selector/index.ts';

/**
 * A read-only label map: `own` first, then each parent for keys not seen yet (first parent
 * wins). Implements ReadonlyMap so the selector evaluator and every analysis read it as a map.
 */
export class InheritedLabels implements ReadonlyMap<string, string> {
  readonly own: Labels;
  readonly parents: readonly Labels[];
  #size = -1;

  constructor(own: Labels, parents: readonly Labels[]) {
    this.own = own;
    this.parents = parents;
  }

  get(key: string): string | undefined {
    const v = this.own.get(key);
    if (v !== undefined) return v;
    for (const p of this.parents) {
      const pv = p.get(key);
      if (pv !== undefined) return pv;
    }
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  get size(): number {
    if (this.#size < 0) {
      let n = 0;
      for (const _ of this.entries()) n++;
      this.#size = n;
    }
    return this.#size;
  }

  *entries(): MapIterator<[string, string]> {
    yield* this.own.entries();
    const seen = this.parents.length === 0 ? undefined : new Set(this.own.keys());
    for (const p of this.parents) {
      for (const [k, v] of p) {
        if (seen!.has(k)) continue;
        seen!.add(k);
        yield [k, v];
      }
    }
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<string> {
    for (const [, v] of this.entries()) yield v;
  }

  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }
}

/**
 * Canonical text of a label set: endpoints with equal keys are selected by exactly the same
 * selectors, so the key names a *label class* — the unit membership and tier plans are kept for.
 */
export function labelKeyOf(labels: Labels): string {
  return [...labels.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('\u0000');
}
