// The elements of the compiler's named sets: normalised (sorted, no duplicates, no CIDR inside
// another — nft rejects overlapping intervals), and, for selector sets, kept up to date by delta.
//
// Why by delta: a pod's label change moves one endpoint in or out of the sets of every selector
// its labels meet. Broad selectors (a tenant's namespaces, `all()`) have tens of thousands of
// members at 100k pods, and re-sorting each one after every change cost seconds per recompile.
// The engine shares one member list per selector across the snapshots a change did not touch, so
// an unchanged set is found by identity; a changed one is derived from the last elements computed
// for the same selector by adding and removing the endpoints that moved — the same thing the
// kernel receives (diffRulesets turns element differences into `add element`/`delete element`).
import { LRUCache } from 'lru-cache';
import type { Endpoint, SelectorMembers } from '../engine/index.ts';
import { memberDeltaOf } from '../engine/snapshot.ts';
import { cidrContainsCidr, cidrOfAddress, compareIp, formatCidr, formatIp } from '../net/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';
import type { IpFamily, ProtoPortElement } from './ir.ts';

/** Sorted, without duplicates or CIDRs contained in another (nft rejects overlapping intervals). */
export function normalizeCidrs(cidrs: readonly Cidr[]): string[] {
  return normalizeCidrList(cidrs).map(formatCidr);
}

function normalizeCidrList(cidrs: readonly Cidr[]): Cidr[] {
  const sorted = [...cidrs].sort(compareCidr);
  const kept: Cidr[] = [];
  for (const c of sorted) {
    const last = kept[kept.length - 1];
    // Sorted by base then prefix, disjoint kept CIDRs: only the last one can contain `c`.
    if (last !== undefined && cidrContainsCidr(last, c)) continue;
    kept.push(c);
  }
  return kept;
}

export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.base !== b.base) return a.base < b.base ? -1 : 1;
  return a.prefix - b.prefix;
}

export interface Triple {
  readonly address: IpAddress;
  readonly protocol: number;
  readonly port: number;
}

export function normalizeTriples(ts: readonly Triple[]): ProtoPortElement[] {
  const sorted = [...ts].sort((a, b) => compareIp(a.address, b.address) || a.protocol - b.protocol || a.port - b.port);
  const out: ProtoPortElement[] = [];
  let prev: Triple | undefined;
  for (const t of sorted) {
    if (prev !== undefined && compareIp(prev.address, t.address) === 0 && prev.protocol === t.protocol && prev.port === t.port) continue;
    out.push({ address: formatIp(t.address), protocol: t.protocol, port: t.port });
    prev = t;
  }
  return out;
}

// ---- elements kept by delta

/**
 * A normalised element list with what moving it on needs: the sort keys beside the elements, and
 * how many members contribute each key (endpoints may share an address).
 */
interface Sorted<K, E> {
  readonly keys: readonly K[];
  readonly elements: readonly E[];
  /** Owned by the newest list of its set: a delta moves it on rather than copying it. */
  readonly count: Map<string, number>;
}

interface ElementSpec<K, E> {
  compare(a: K, b: K): number;
  /** Identity of a key, for counting. */
  id(k: K): string;
  element(k: K): E;
  /** Keys a member endpoint contributes. */
  keysOf(ep: Endpoint): readonly K[];
}

/**
 * Sets of fewer members than this are rebuilt (cheap), so the trackers hold only the sets worth
 * it. Counted in members, not elements: the IPv6 set of 20,000 IPv4-only members is empty, but
 * finding that out reads all of them.
 */
const DELTA_MIN_MEMBERS = 256;

/**
 * The endpoints that left and joined between two member lists; undefined when so many moved that
 * a rebuild is the better deal.
 */
function movedEndpoints(before: readonly Endpoint[], after: readonly Endpoint[]): { left: Iterable<Endpoint>; joined: Endpoint[] } | undefined {
  const limit = Math.max(8, Math.floor(Math.max(before.length, after.length) / 8));
  const inBefore = new Set(before);
  const joined: Endpoint[] = [];
  for (const ep of after) {
    if (!inBefore.delete(ep)) {
      joined.push(ep);
      if (joined.length > limit) return undefined;
    }
  }
  // What is left in `inBefore` left the list.
  if (joined.length + inBefore.size > limit) return undefined;
  return { left: inBefore, joined };
}

/** The snapshot's own account of the move, when it made `after` from `before` (no comparison of lists). */
function hinted(before: readonly Endpoint[], after: readonly Endpoint[]): { left: Iterable<Endpoint>; joined: readonly Endpoint[] } | undefined {
  const d = memberDeltaOf(after);
  return d !== undefined && d.from.deref() === before ? d : undefined;
}

/** Index of `k` in the sorted list, or −(insertion point) − 1. */
function search<K>(list: readonly K[], k: K, compare: (a: K, b: K) => number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const d = compare(list[mid]!, k);
    if (d === 0) return mid;
    if (d < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

/**
 * `prev` moved on: keys of endpoints that left lose a count (and their element at zero), keys of
 * endpoints that joined gain one (and an element at one). `covered` keys have no element of their
 * own (a network set's CIDR holds them). Never alters `prev`'s arrays: earlier snapshots' sets
 * still hold them.
 */
function moveSorted<K, E>(prev: Sorted<K, E>, left: Iterable<Endpoint>, joined: Iterable<Endpoint>, spec: ElementSpec<K, E>, covered: (k: K) => boolean): Sorted<K, E> {
  // Copied on the first element that comes or goes: a move that changes no element (an endpoint
  // re-set with its addresses, or one leaving as another with its address joins) keeps the very
  // same lists, which every consumer then passes by identity (the diff, the kernel update).
  let keys = prev.keys as K[];
  let elements = prev.elements as E[];
  let copied = false;
  const own = (): void => {
    if (copied) return;
    keys = keys.slice();
    elements = elements.slice();
    copied = true;
  };
  const count = prev.count;
  // Joins first: an endpoint re-set with its addresses (it leaves and joins) changes counts only.
  for (const ep of joined) {
    for (const k of spec.keysOf(ep)) {
      const id = spec.id(k);
      const n = count.get(id) ?? 0;
      count.set(id, n + 1);
      if (n > 0 || covered(k)) continue;
      const i = search(keys, k, spec.compare);
      if (i < 0) {
        own();
        keys.splice(-i - 1, 0, k);
        elements.splice(-i - 1, 0, spec.element(k));
      }
    }
  }
  for (const ep of left) {
    for (const k of spec.keysOf(ep)) {
      const id = spec.id(k);
      const n = count.get(id) ?? 0;
      if (n > 1) {
        count.set(id, n - 1);
        continue;
      }
      count.delete(id);
      if (covered(k)) continue;
      const i = search(keys, k, spec.compare);
      if (i >= 0) {
        own();
        keys.splice(i, 1);
        elements.splice(i, 1);
      }
    }
  }
  return { keys, elements, count };
}

/** Each endpoint's keys counted; the distinct ones returned unsorted. */
function countKeys<K>(endpoints: Iterable<Endpoint>, spec: ElementSpec<K, unknown>): { distinct: K[]; count: Map<string, number> } {
  const count = new Map<string, number>();
  const distinct: K[] = [];
  for (const ep of endpoints) {
    for (const k of spec.keysOf(ep)) {
      const id = spec.id(k);
      const n = count.get(id) ?? 0;
      count.set(id, n + 1);
      if (n === 0) distinct.push(k);
    }
  }
  return { distinct, count };
}

// ---- selector sets

/** Elements of one member list, by its identity (shared by every snapshot that did not change it). */
const byMembers = new WeakMap<SelectorMembers, Map<IpFamily, readonly string[]>>();

/** The last elements computed for a selector and family, the member list and network CIDRs they came from. */
interface SelectorTracker extends Sorted<Cidr, string> {
  readonly members: SelectorMembers;
  readonly nets: readonly Cidr[];
}

/** Bounded: each tracker holds a set's elements twice over; the least recently used go first. */
const selectorTrackers = new LRUCache<string, SelectorTracker>({ max: 1024 });

const hostSpec = (family: IpFamily): ElementSpec<Cidr, string> => ({
  compare: compareCidr,
  id: formatCidr,
  element: formatCidr,
  keysOf: (ep) => {
    const out: Cidr[] = [];
    for (const a of ep.addresses) if (a.family === family) out.push(cidrOfAddress(a));
    return out;
  },
});
const HOST_SPECS = { 4: hostSpec(4), 6: hostSpec(6) } as const;

/**
 * `selectorMatchesPeer` as set elements: every member endpoint's addresses of the family and every
 * member network set's CIDRs, normalised. `selectorId` names the selector across snapshots.
 */
export function selectorElements(selectorId: string, members: SelectorMembers, family: IpFamily): readonly string[] {
  let byFamily = byMembers.get(members);
  if (byFamily === undefined) byMembers.set(members, (byFamily = new Map()));
  const cached = byFamily.get(family);
  if (cached !== undefined) return cached;
  const key = `${family}|${selectorId}`;
  const prev = selectorTrackers.get(key);
  const spec = HOST_SPECS[family];
  let next: SelectorTracker | undefined;
  // The network sets' CIDRs may cover host addresses: a change of them is a rebuild.
  const moved = prev !== undefined && sameList(prev.members.networkSets, members.networkSets) ? hinted(prev.members.endpoints, members.endpoints) ?? movedEndpoints(prev.members.endpoints, members.endpoints) : undefined;
  if (prev !== undefined && moved !== undefined) {
    const nets = prev.nets;
    next = { ...moveSorted(prev, moved.left, moved.joined, spec, (c) => nets.some((n) => cidrContainsCidr(n, c))), members, nets };
  } else {
    const { distinct, count } = countKeys(members.endpoints, spec);
    const nets: Cidr[] = [];
    for (const ns of members.networkSets) for (const c of ns.nets) if (c.family === family) nets.push(c);
    const keys = normalizeCidrList([...distinct, ...nets]);
    next = { keys, elements: keys.map(formatCidr), count, members, nets };
  }
  if (members.endpoints.length >= DELTA_MIN_MEMBERS) selectorTrackers.set(key, next);
  else if (prev !== undefined) selectorTrackers.delete(key);
  byFamily.set(family, next.elements);
  return next.elements;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---- named-port sets

const namedPortElementCache = new WeakMap<readonly Endpoint[], Map<string, readonly ProtoPortElement[]>>();

interface PortTracker extends Sorted<Triple, ProtoPortElement> {
  readonly owners: readonly (readonly Endpoint[])[];
}
const portTrackers = new LRUCache<string, PortTracker>({ max: 1024 });

const compareTriple = (a: Triple, b: Triple): number => compareIp(a.address, b.address) || a.protocol - b.protocol || a.port - b.port;

function portSpec(names: readonly string[], family: IpFamily): ElementSpec<Triple, ProtoPortElement> {
  const wanted = new Set(names);
  return {
    compare: compareTriple,
    id: (t) => `${formatIp(t.address)}|${t.protocol}|${t.port}`,
    element: (t) => ({ address: formatIp(t.address), protocol: t.protocol, port: t.port }),
    keysOf: (ep) => {
      const out: Triple[] = [];
      for (const p of ep.ports) {
        if (p.name === undefined || !wanted.has(p.name)) continue;
        for (const a of ep.addresses) if (a.family === family) out.push({ address: a, protocol: p.protocol, port: p.port });
      }
      return out;
    },
  };
}

/**
 * (address, protocol, port) of every owner's port with one of the names. `setId` names the set
 * across snapshots: owner lists (a selector's members, or one list per port name) that changed are
 * moved on by delta. An endpoint in two of the lists (it declares two of the names) is counted
 * once per list, symmetrically when it joins and leaves, so its elements appear once.
 */
export function namedPortElements(setId: string, owners: readonly (readonly Endpoint[])[], names: readonly string[], family: IpFamily): readonly ProtoPortElement[] {
  const single = owners.length === 1 ? owners[0]! : undefined;
  const key = `${family}/${names.join(',')}`;
  const cached = single === undefined ? undefined : namedPortElementCache.get(single)?.get(key);
  if (cached !== undefined) return cached;
  const spec = portSpec(names, family);
  const trackerKey = `${family}|${setId}`;
  const prev = portTrackers.get(trackerKey);
  if (prev !== undefined && single === undefined && sameList(prev.owners, owners)) return prev.elements;
  let next: PortTracker | undefined;
  if (prev !== undefined && prev.owners.length === owners.length) {
    const left: Endpoint[] = [];
    const joined: Endpoint[] = [];
    let ok = true;
    for (let i = 0; i < owners.length && ok; i++) {
      const m = hinted(prev.owners[i]!, owners[i]!) ?? movedEndpoints(prev.owners[i]!, owners[i]!);
      if (m === undefined) ok = false;
      else {
        for (const ep of m.left) left.push(ep);
        for (const ep of m.joined) joined.push(ep);
      }
    }
    if (ok) next = { ...moveSorted(prev, left, joined, spec, () => false), owners };
  }
  if (next === undefined) {
    const { distinct, count } = countKeys(owners.flat(), spec);
    const keys = distinct.sort(compareTriple);
    next = { keys, elements: keys.map(spec.element), count, owners };
  }
  if (owners.reduce((n, l) => n + l.length, 0) >= DELTA_MIN_MEMBERS) portTrackers.set(trackerKey, next);
  else if (prev !== undefined) portTrackers.delete(trackerKey);
  if (single !== undefined) {
    let byKey = namedPortElementCache.get(single);
    if (byKey === undefined) namedPortElementCache.set(single, (byKey = new Map()));
    byKey.set(key, next.elements);
  }
  return next.elements;
}
