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

// ---- selector sets

/** Elements of one member list, by its identity (shared by every snapshot that did not change it). */
const byMembers = new WeakMap<SelectorMembers, Map<IpFamily, readonly string[]>>();

/**
 * The last elements computed for a selector and family, with what a delta needs: the member list
 * they came from, the kept CIDRs beside their texts, how many members hold each host address
 * (endpoints may share one), and the network sets' CIDRs (which may cover a host address).
 */
interface Tracker {
  readonly members: SelectorMembers;
  readonly kept: readonly Cidr[];
  readonly text: readonly string[];
  /** Owned by the newest tracker of the selector: a delta moves it on rather than copying it. */
  readonly hostCount: Map<string, number>;
  readonly nets: readonly Cidr[];
}

/** Sets smaller than this are rebuilt (cheap), so the trackers hold only the sets worth it. */
const DELTA_MIN_ELEMENTS = 256;
/** Bounded: each tracker holds a set's elements twice over; the least recently used go first. */
const trackers = new LRUCache<string, Tracker>({ max: 1024 });

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
  const prev = trackers.get(key);
  const next = (prev !== undefined ? moved(prev, members, family) : undefined) ?? track(members, family);
  if (next.text.length >= DELTA_MIN_ELEMENTS) trackers.set(key, next);
  else if (prev !== undefined) trackers.delete(key);
  byFamily.set(family, next.text);
  return next.text;
}

function hostCidrs(ep: Endpoint, family: IpFamily): Cidr[] {
  const out: Cidr[] = [];
  for (const a of ep.addresses) if (a.family === family) out.push(cidrOfAddress(a));
  return out;
}

function netsOfMembers(members: SelectorMembers, family: IpFamily): Cidr[] {
  const out: Cidr[] = [];
  for (const ns of members.networkSets) for (const c of ns.nets) if (c.family === family) out.push(c);
  return out;
}

/** From scratch. */
function track(members: SelectorMembers, family: IpFamily): Tracker {
  const hostCount = new Map<string, number>();
  const cidrs: Cidr[] = [];
  for (const ep of members.endpoints) {
    for (const c of hostCidrs(ep, family)) {
      const t = formatCidr(c);
      const n = hostCount.get(t) ?? 0;
      hostCount.set(t, n + 1);
      if (n === 0) cidrs.push(c);
    }
  }
  const nets = netsOfMembers(members, family);
  const kept = normalizeCidrList([...cidrs, ...nets]);
  return { members, kept, text: kept.map(formatCidr), hostCount, nets };
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The previous elements moved to `members` by the endpoints that left and joined; undefined when
 * a rebuild is the better deal (the network sets changed, or many endpoints moved).
 */
function moved(prev: Tracker, members: SelectorMembers, family: IpFamily): Tracker | undefined {
  if (!sameList(prev.members.networkSets, members.networkSets)) return undefined;
  const before = prev.members.endpoints;
  const after = members.endpoints;
  const limit = Math.max(8, Math.floor(Math.max(before.length, after.length) / 8));
  const inBefore = new Set(before);
  const joined: Endpoint[] = [];
  for (const ep of after) {
    if (!inBefore.delete(ep)) {
      joined.push(ep);
      if (joined.length > limit) return undefined;
    }
  }
  // What is left in `inBefore` left the selector.
  if (joined.length + inBefore.size > limit) return undefined;
  const kept = prev.kept.slice();
  const text = prev.text.slice();
  const hostCount = prev.hostCount;
  const covered = (c: Cidr): boolean => prev.nets.some((n) => cidrContainsCidr(n, c));
  for (const ep of inBefore) {
    for (const c of hostCidrs(ep, family)) {
      const t = formatCidr(c);
      const n = hostCount.get(t) ?? 0;
      if (n > 1) hostCount.set(t, n - 1);
      else {
        hostCount.delete(t);
        if (!covered(c)) {
          const i = search(kept, c);
          if (i >= 0) {
            kept.splice(i, 1);
            text.splice(i, 1);
          }
        }
      }
    }
  }
  for (const ep of joined) {
    for (const c of hostCidrs(ep, family)) {
      const t = formatCidr(c);
      const n = hostCount.get(t) ?? 0;
      hostCount.set(t, n + 1);
      if (n === 0 && !covered(c)) {
        const i = search(kept, c);
        if (i < 0) {
          kept.splice(-i - 1, 0, c);
          text.splice(-i - 1, 0, t);
        }
      }
    }
  }
  return { members, kept, text, hostCount, nets: prev.nets };
}

/** Index of `c` in the sorted list, or −(insertion point) − 1. */
function search(list: readonly Cidr[], c: Cidr): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const d = compareCidr(list[mid]!, c);
    if (d === 0) return mid;
    if (d < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

// ---- named-port sets

const namedPortElementCache = new WeakMap<readonly Endpoint[], Map<string, ProtoPortElement[]>>();

/** (address, protocol, port) of every owner's port with one of the names. */
export function namedPortElements(owners: readonly (readonly Endpoint[])[], names: readonly string[], family: IpFamily): ProtoPortElement[] {
  // One owner list (a selector's members, or one name's owners) is cacheable by its identity.
  const single = owners.length === 1 ? owners[0]! : undefined;
  const key = `${family}/${names.join(',')}`;
  const cached = single === undefined ? undefined : namedPortElementCache.get(single)?.get(key);
  if (cached !== undefined) return cached;
  const wanted = new Set(names);
  const elements: Triple[] = [];
  const seen = new Set<Endpoint>();
  for (const list of owners) {
    for (const ep of list) {
      if (seen.has(ep)) continue;
      seen.add(ep);
      for (const p of ep.ports) {
        if (p.name === undefined || !wanted.has(p.name)) continue;
        for (const a of ep.addresses) if (a.family === family) elements.push({ address: a, protocol: p.protocol, port: p.port });
      }
    }
  }
  const out = normalizeTriples(elements);
  if (single !== undefined) {
    let byKey = namedPortElementCache.get(single);
    if (byKey === undefined) namedPortElementCache.set(single, (byKey = new Map()));
    byKey.set(key, out);
  }
  return out;
}
