// Incremental updates: the previous and the next ruleset of a node → the operations of one
// transaction that turns the first into the second, touching only what changed. A policy edit
// flushes and refills that policy's chains (and the endpoint chains whose tier plan changed); a
// new pod adds its chains and map elements and updates set elements; nothing else is rewritten,
// so other chains keep their counters, and established connections keep flowing because the
// first rule of every endpoint chain accepts them and the transaction is atomic.
//
// Order inside the transaction (each step only refers to what exists at that point):
//   1 declare new chains          4 map elements: delete removed/changed, add new/changed
//   2 add new sets (+ elements)   5 fill new chains, flush + refill changed ones
//   3 set elements: delete, add   6 flush, then delete removed chains   7 delete removed sets
// Anything the steps cannot express (another table, a changed hook or set type) is a full replace.
import type { Chain, MapElement, NamedSet, ProtoPortElement, Ruleset, VerdictMap } from './ir.ts';

export type UpdateOp =
  | { readonly op: 'add-chain'; readonly name: string }
  /** Declares the set (type and flags); its elements follow in an `add-elements`. */
  | { readonly op: 'add-set'; readonly set: NamedSet }
  /** `set.elements` holds the elements to add or delete. */
  | { readonly op: 'add-elements'; readonly set: NamedSet }
  | { readonly op: 'delete-elements'; readonly set: NamedSet }
  | { readonly op: 'add-map-elements'; readonly map: string; readonly verdict: 'goto' | 'jump'; readonly elements: readonly MapElement[] }
  | { readonly op: 'delete-map-elements'; readonly map: string; readonly ifnames: readonly string[] }
  /** Writes the chain's rules; `flush` first empties an existing chain. */
  | { readonly op: 'fill-chain'; readonly chain: Chain; readonly flush: boolean }
  | { readonly op: 'flush-chain'; readonly name: string }
  | { readonly op: 'delete-chain'; readonly name: string }
  | { readonly op: 'delete-set'; readonly name: string };

export type RulesetDiff =
  | { readonly kind: 'replace'; readonly next: Ruleset; readonly reason: string }
  | {
      readonly kind: 'update';
      readonly table: string;
      /** The next ruleset's maps (a dispatch rule needs its map's key to be written). */
      readonly maps: readonly VerdictMap[];
      /** Empty when the rulesets are equal. */
      readonly ops: readonly UpdateOp[];
    };

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** JSON with object keys sorted: structural equality independent of construction order. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => compareText(a, b));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Structural equality with stableJson's meaning (key order and `undefined`-valued keys ignored),
 * without building strings: comparing the rules of two 5 000-policy rulesets this way takes a
 * tenth of the time, which is most of the cost of diffing them.
 */
function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k of Object.keys(x)) {
    if (x[k] === undefined) continue;
    n++;
    if (!sameData(x[k], y[k])) return false;
  }
  let m = 0;
  for (const k of Object.keys(y)) if (y[k] !== undefined) m++;
  return n === m;
}

// By-name indexes of a ruleset's lists, by list identity: the list diffed as `next` is the next
// diff's `prev` (and an incremental compile hands on unchanged lists), so each is indexed once.
const indexes = new WeakMap<readonly { readonly name: string }[], Map<string, unknown>>();

function byName<T extends { readonly name: string }>(items: readonly T[]): Map<string, T> {
  let m = indexes.get(items) as Map<string, T> | undefined;
  if (m === undefined) indexes.set(items, (m = new Map(items.map((i) => [i.name, i]))));
  return m;
}

function elementKey(e: string | ProtoPortElement): string {
  return typeof e === 'string' ? e : `${e.address}|${e.protocol}|${e.port}`;
}

/** The elements of `a` not in `b`, as a set of the same name and type. */
function elementsMinus(a: NamedSet, b: NamedSet | undefined): NamedSet {
  const drop = new Set<string>();
  for (const e of b?.elements ?? []) drop.add(elementKey(e));
  switch (a.type) {
    case 'addr4':
    case 'addr6':
      return { name: a.name, type: a.type, comment: a.comment, elements: a.elements.filter((e) => !drop.has(e)) };
    case 'addr4-proto-port':
    case 'addr6-proto-port':
      return { name: a.name, type: a.type, comment: a.comment, elements: a.elements.filter((e) => !drop.has(elementKey(e))) };
  }
}

/** Two lists of named items paired up: what is only in one, and what differs under one name. */
interface Paired<T> {
  /** [before, after] under one name, where they are not the same object. */
  readonly changed: readonly (readonly [T, T])[];
  readonly added: readonly T[];
  readonly removed: readonly T[];
}

/**
 * Pairs items by name. Two lists of the same names in the same order (an incremental compile's,
 * when nothing came or went) are walked place by place, without indexing either; the same object
 * on both sides (a chain or set the change did not touch) is passed in O(1).
 */
function pairUp<T extends { readonly name: string }>(before: readonly T[], after: readonly T[]): Paired<T> {
  if (before.length === after.length) {
    const changed: (readonly [T, T])[] = [];
    let aligned = true;
    for (let i = 0; i < before.length; i++) {
      const x = before[i]!;
      const y = after[i]!;
      if (x === y) continue;
      if (x.name !== y.name) {
        aligned = false;
        break;
      }
      changed.push([x, y]);
    }
    if (aligned) return { changed, added: [], removed: [] };
  }
  const b = byName(before);
  const a = byName(after);
  const changed: (readonly [T, T])[] = [];
  const added: T[] = [];
  for (const y of after) {
    const x = b.get(y.name);
    if (x === undefined) added.push(y);
    else if (x !== y) changed.push([x, y]);
  }
  return { changed, added, removed: before.filter((x) => !a.has(x.name)) };
}

const byItemName = <T extends { readonly name: string }>(x: T, y: T): number => compareText(x.name, y.name);

/**
 * The transaction from `prev` (what the kernel holds, as last applied) to `next`. Without a
 * previous ruleset, or when the change cannot be made in place, the whole table is replaced.
 */
export function diffRulesets(prev: Ruleset | undefined, next: Ruleset): RulesetDiff {
  if (prev === undefined) return { kind: 'replace', next, reason: 'no previous ruleset' };
  if (prev.table !== next.table) return { kind: 'replace', next, reason: `table renamed from ${prev.table} to ${next.table}` };

  const chains = pairUp(prev.chains, next.chains);
  const sets = pairUp(prev.sets, next.sets);
  const prevMaps = byName(prev.maps);
  const nextMaps = byName(next.maps);

  for (const c of chains.added) if (c.hook !== undefined) return { kind: 'replace', next, reason: `base chain ${c.name} added or its hook changed` };
  for (const [p, c] of chains.changed) {
    if (p.hook !== c.hook && stableJson(p.hook) !== stableJson(c.hook)) return { kind: 'replace', next, reason: `base chain ${c.name} added or its hook changed` };
  }
  for (const c of chains.removed) if (c.hook !== undefined) return { kind: 'replace', next, reason: `base chain ${c.name} removed` };
  for (const [p, s] of sets.changed) if (p.type !== s.type) return { kind: 'replace', next, reason: `set ${s.name} changed type` };
  if (stableJson([...prevMaps.keys()].sort(compareText)) !== stableJson([...nextMaps.keys()].sort(compareText))) {
    return { kind: 'replace', next, reason: 'verdict maps added or removed' };
  }
  for (const m of next.maps) {
    const p = prevMaps.get(m.name)!;
    if (p.key !== m.key || p.verdict !== m.verdict) return { kind: 'replace', next, reason: `map ${m.name} changed kind` };
  }

  const ops: UpdateOp[] = [];
  const sortedNames = (names: Iterable<string>): string[] => [...names].sort(compareText);

  // 1. New chains, declared empty so every later step may refer to them.
  const added = [...chains.added].sort(byItemName);
  for (const c of added) ops.push({ op: 'add-chain', name: c.name });

  // 2–3. Sets: new ones whole, changed ones element by element (deletes first: a new interval
  // may cover a removed one).
  const touchedSets: (readonly [NamedSet | undefined, NamedSet])[] = [...sets.added.map((s) => [undefined, s] as const), ...sets.changed.filter(([p, s]) => p.elements !== s.elements)];
  for (const [p, s] of touchedSets.sort(([, x], [, y]) => byItemName(x, y))) {
    if (p === undefined) {
      ops.push({ op: 'add-set', set: s });
      if (s.elements.length > 0) ops.push({ op: 'add-elements', set: s });
      continue;
    }
    const removed = elementsMinus(p, s);
    const fresh = elementsMinus(s, p);
    if (removed.elements.length > 0) ops.push({ op: 'delete-elements', set: removed });
    if (fresh.elements.length > 0) ops.push({ op: 'add-elements', set: fresh });
  }

  // 4. Dispatch maps: an interface that left, or now leads elsewhere, is removed before chains go.
  for (const name of sortedNames(nextMaps.keys())) {
    const m = nextMaps.get(name)!;
    const pm = prevMaps.get(name)!;
    if (pm === m || pm.elements === m.elements) continue;
    const before = new Map(pm.elements.map((e) => [e.ifname, e.chain]));
    const after = new Map(m.elements.map((e) => [e.ifname, e.chain]));
    const gone = sortedNames([...before.keys()].filter((i) => after.get(i) !== before.get(i)));
    const fresh = m.elements.filter((e) => before.get(e.ifname) !== e.chain).sort((a, b) => compareText(a.ifname, b.ifname));
    if (gone.length > 0) ops.push({ op: 'delete-map-elements', map: name, ifnames: gone });
    if (fresh.length > 0) ops.push({ op: 'add-map-elements', map: name, verdict: m.verdict, elements: fresh });
  }

  // 5. Rules: new chains filled, changed chains flushed and refilled, unchanged ones untouched.
  const fills: { readonly chain: Chain; readonly flush: boolean }[] = [];
  for (const c of added) if (c.rules.length > 0) fills.push({ chain: c, flush: false });
  for (const [p, c] of chains.changed) if (p.rules !== c.rules && !sameData(p.rules, c.rules)) fills.push({ chain: c, flush: true });
  for (const f of fills.sort((x, y) => byItemName(x.chain, y.chain))) ops.push({ op: 'fill-chain', chain: f.chain, flush: f.flush });

  // 6. Removed chains: emptied first, so none still jumps to another when it is deleted.
  const removedChains = sortedNames(chains.removed.map((c) => c.name));
  for (const name of removedChains) ops.push({ op: 'flush-chain', name });
  for (const name of removedChains) ops.push({ op: 'delete-chain', name });

  // 7. Removed sets: every rule that used them was rewritten or deleted above.
  for (const name of sortedNames(sets.removed.map((s) => s.name))) ops.push({ op: 'delete-set', name });

  return { kind: 'update', table: next.table, maps: next.maps, ops };
}
