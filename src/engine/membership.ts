// The one selector ↔ endpoint membership index, updated by delta (Felix's calc/labelindex and
// active-rules calculator, in one small module). Endpoints are grouped into *label classes*
// (equal effective labels): membership is kept per class, so ten thousand replicas of one
// deployment cost one selector evaluation, not ten thousand.
//
//   class added   ──► test the selectors its labels could satisfy (label-restriction index)
//   selector used ──► test the classes its restrictions admit (label/value index over classes)
//   member moved  ──► the selectors of its old and new class changed members
//
// Forward (selector → classes) and reverse (class → selectors) sets are copy-on-write, so a
// snapshot reads them as of its generation; the candidate indexes are private to the store.
import type { Labels, Selector } from '../selector/index.ts';
import { labelRestrictions } from '../selector/index.ts';
import { CowMap, CowSetMap } from './cow.ts';
import type { Epoch } from './cow.ts';

export interface LabelClass {
  /** Canonical label text (labels.ts `labelKeyOf`). */
  readonly key: string;
  readonly labels: Labels;
}

/** What a snapshot reads: immutable as of the generation it was taken at. */
export interface MembershipView {
  readonly classes: ReadonlyMap<string, LabelClass>;
  /** Class key → endpoint keys. */
  readonly members: ReadonlyMap<string, { readonly set: ReadonlySet<string> }>;
  /** Selector id → class keys it matches (registered selectors only). */
  readonly selectorClasses: ReadonlyMap<string, { readonly set: ReadonlySet<string> }>;
  /** Class key → ids of the registered selectors matching it. */
  readonly classSelectors: ReadonlyMap<string, { readonly set: ReadonlySet<string> }>;
  /** Registered selectors by id. */
  readonly selectors: ReadonlyMap<string, Selector>;
}

interface Registered {
  readonly selector: Selector;
  refs: number;
  /** Where it sits in the candidate index: a (label, value) pair, a label's presence, or nowhere. */
  readonly slot: Slot;
}

type Slot = { readonly kind: 'value'; readonly label: string; readonly values: readonly string[] } | { readonly kind: 'present'; readonly label: string } | { readonly kind: 'any' };

/** Labels every endpoint of the cluster carries: useless for narrowing candidates. */
const UNSELECTIVE = new Set(['projectcalico.org/orchestrator']);

/**
 * Where to index a selector: the restriction that admits the fewest label classes *now* (a value
 * list on a label, or a label's presence), so both directions of the index test few candidates.
 * `count` says how many classes a (label, values | presence) restriction admits.
 */
function slotOf(sel: Selector, count: (label: string, values: readonly string[] | undefined) => number): Slot {
  let best: Slot = { kind: 'any' };
  let bestCount = Number.POSITIVE_INFINITY;
  for (const [label, r] of labelRestrictions(sel)) {
    if (UNSELECTIVE.has(label)) continue;
    let slot: Slot;
    let n: number;
    if (r.mustHaveOneOfValues !== undefined) {
      slot = { kind: 'value', label, values: r.mustHaveOneOfValues };
      n = count(label, r.mustHaveOneOfValues);
    } else if (r.mustBePresent) {
      slot = { kind: 'present', label };
      // Presence is kept in a coarser list than a value: prefer a value at equal counts.
      n = count(label, undefined) + 0.5;
    } else continue;
    if (n < bestCount) {
      best = slot;
      bestCount = n;
    }
  }
  return best;
}

export class MembershipIndex {
  readonly #classes: CowMap<LabelClass>;
  readonly #members: CowSetMap<string>;
  readonly #selectorClasses: CowSetMap<string>;
  readonly #classSelectors: CowSetMap<string>;
  readonly #selectors = new Map<string, Registered>();
  readonly #registered: CowMap<Selector>;
  // Candidate indexes (store-private, mutated in place).
  readonly #classesByLabel = new Map<string, Map<string, Set<string>>>();
  readonly #selectorsByValue = new Map<string, Map<string, Set<string>>>();
  readonly #selectorsByLabel = new Map<string, Set<string>>();
  readonly #unrestricted = new Set<string>();
  /** Selector ids whose members changed since the last `takeChanged()`. */
  #changed = new Set<string>();

  constructor(clock: Epoch) {
    this.#classes = new CowMap(clock);
    this.#members = new CowSetMap(clock);
    this.#selectorClasses = new CowSetMap(clock);
    this.#classSelectors = new CowSetMap(clock);
    this.#registered = new CowMap(clock);
  }

  get view(): MembershipView {
    return {
      classes: this.#classes.view,
      members: this.#members.view,
      selectorClasses: this.#selectorClasses.view,
      classSelectors: this.#classSelectors.view,
      selectors: this.#registered.view,
    };
  }

  selector(id: string): Selector | undefined {
    return this.#selectors.get(id)?.selector;
  }

  /** Class keys a registered selector matches. */
  classesOf(selectorId: string): ReadonlySet<string> {
    return this.#selectorClasses.get(selectorId);
  }

  /** Ids of registered selectors matching a class. */
  selectorsOf(classKey: string): ReadonlySet<string> {
    return this.#classSelectors.get(classKey);
  }

  membersOf(classKey: string): ReadonlySet<string> {
    return this.#members.get(classKey);
  }

  // ---- endpoints

  /** Puts an endpoint into its label class (creating the class and its memberships if new). */
  addMember(classKey: string, labels: Labels, endpointKey: string): void {
    if (!this.#classes.has(classKey)) this.#addClass({ key: classKey, labels });
    this.#members.add(classKey, endpointKey);
    for (const id of this.#classSelectors.get(classKey)) this.#changed.add(id);
  }

  removeMember(classKey: string, endpointKey: string): void {
    if (!this.#members.remove(classKey, endpointKey)) return;
    for (const id of this.#classSelectors.get(classKey)) this.#changed.add(id);
    if (this.#members.get(classKey).size === 0) this.#removeClass(classKey);
  }

  /** Marks the selectors of a class changed (a member's addresses or ports changed). */
  touchClass(classKey: string): void {
    for (const id of this.#classSelectors.get(classKey)) this.#changed.add(id);
  }

  #addClass(c: LabelClass): void {
    this.#classes.set(c.key, c);
    for (const [k, v] of c.labels) {
      let values = this.#classesByLabel.get(k);
      if (values === undefined) this.#classesByLabel.set(k, (values = new Map()));
      let set = values.get(v);
      if (set === undefined) values.set(v, (set = new Set()));
      set.add(c.key);
    }
    for (const id of this.#candidateSelectors(c.labels)) {
      if (this.#selectors.get(id)!.selector.matches(c.labels)) {
        this.#selectorClasses.add(id, c.key);
        this.#classSelectors.add(c.key, id);
      }
    }
  }

  #removeClass(key: string): void {
    const c = this.#classes.get(key);
    if (c === undefined) return;
    this.#classes.delete(key);
    for (const [k, v] of c.labels) {
      const values = this.#classesByLabel.get(k);
      const set = values?.get(v);
      set?.delete(key);
      if (set?.size === 0) values!.delete(v);
      if (values?.size === 0) this.#classesByLabel.delete(k);
    }
    for (const id of this.#classSelectors.get(key)) this.#selectorClasses.remove(id, key);
    this.#classSelectors.deleteKey(key);
  }

  #candidateSelectors(labels: Labels): Set<string> {
    const out = new Set(this.#unrestricted);
    for (const [k, v] of labels) {
      const byValue = this.#selectorsByValue.get(k)?.get(v);
      if (byValue !== undefined) for (const id of byValue) out.add(id);
      const byLabel = this.#selectorsByLabel.get(k);
      if (byLabel !== undefined) for (const id of byLabel) out.add(id);
    }
    return out;
  }

  // ---- selectors

  /** Counts a use of the selector; the first use computes its members. Returns its id. */
  retain(sel: Selector): string {
    const id = sel.id;
    const cur = this.#selectors.get(id);
    if (cur !== undefined) {
      cur.refs++;
      return id;
    }
    const slot = slotOf(sel, (label, values) => {
      const byValue = this.#classesByLabel.get(label);
      if (byValue === undefined) return 0;
      let n = 0;
      if (values === undefined) for (const set of byValue.values()) n += set.size;
      else for (const v of values) n += byValue.get(v)?.size ?? 0;
      return n;
    });
    this.#selectors.set(id, { selector: sel, refs: 1, slot });
    this.#registered.set(id, sel);
    switch (slot.kind) {
      case 'value':
        for (const v of slot.values) addTo(mapOf(this.#selectorsByValue, slot.label), v, id);
        break;
      case 'present':
        addTo(this.#selectorsByLabel, slot.label, id);
        break;
      case 'any':
        this.#unrestricted.add(id);
        break;
    }
    for (const key of this.#candidateClasses(slot)) {
      const c = this.#classes.get(key)!;
      if (sel.matches(c.labels)) {
        this.#selectorClasses.add(id, key);
        this.#classSelectors.add(key, id);
      }
    }
    this.#changed.add(id);
    return id;
  }

  /** Drops a use; the last one removes the selector and its memberships. */
  release(sel: Selector): void {
    const id = sel.id;
    const cur = this.#selectors.get(id);
    if (cur === undefined) return;
    if (--cur.refs > 0) return;
    this.#selectors.delete(id);
    this.#registered.delete(id);
    const slot = cur.slot;
    switch (slot.kind) {
      case 'value': {
        const values = this.#selectorsByValue.get(slot.label);
        for (const v of slot.values) removeFrom(values, v, id);
        if (values?.size === 0) this.#selectorsByValue.delete(slot.label);
        break;
      }
      case 'present':
        removeFrom(this.#selectorsByLabel, slot.label, id);
        break;
      case 'any':
        this.#unrestricted.delete(id);
        break;
    }
    for (const key of this.#selectorClasses.get(id)) this.#classSelectors.remove(key, id);
    this.#selectorClasses.deleteKey(id);
    this.#changed.add(id);
  }

  #candidateClasses(slot: Slot): Iterable<string> {
    switch (slot.kind) {
      case 'value': {
        const values = this.#classesByLabel.get(slot.label);
        const out: string[] = [];
        if (values !== undefined) for (const v of slot.values) for (const k of values.get(v) ?? []) out.push(k);
        return out;
      }
      case 'present': {
        const values = this.#classesByLabel.get(slot.label);
        const out: string[] = [];
        if (values !== undefined) for (const set of values.values()) for (const k of set) out.push(k);
        return out;
      }
      case 'any':
        return [...this.#classes.keys()];
    }
  }

  /** Registered selectors that match a label set (e.g. a network set's), via the candidate index. */
  matching(labels: Labels): Selector[] {
    const out: Selector[] = [];
    for (const id of this.#candidateSelectors(labels)) {
      const sel = this.#selectors.get(id)!.selector;
      if (sel.matches(labels)) out.push(sel);
    }
    return out;
  }

  /** Marks a selector changed (its network-set members changed). */
  touchSelector(id: string): void {
    if (this.#selectors.has(id)) this.#changed.add(id);
  }

  /** Selector ids whose members changed since the last call (registered or released ones too). */
  takeChanged(): ReadonlySet<string> {
    const out = this.#changed;
    this.#changed = new Set();
    return out;
  }
}

function mapOf<K, V>(m: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let inner = m.get(key);
  if (inner === undefined) m.set(key, (inner = new Map()));
  return inner;
}

function addTo(m: Map<string, Set<string>>, key: string, id: string): void {
  let set = m.get(key);
  if (set === undefined) m.set(key, (set = new Set()));
  set.add(id);
}

function removeFrom(m: Map<string, Set<string>> | undefined, key: string, id: string): void {
  const set = m?.get(key);
  if (set === undefined) return;
  set.delete(id);
  if (set.size === 0) m!.delete(key);
}
