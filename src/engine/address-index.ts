// Network sets by address: which (Global)NetworkSets hold a CIDR containing an address. One
// hash table per prefix length in use, keyed by the masked address, so a lookup costs one probe
// per distinct prefix length — bounded, no per-address cache that grows with the traffic seen
// (the previous design memoised every address ever asked for). Immutable once built: a change
// to the sets builds a new index, which is what lets snapshots share it safely.
import { ipv4Mask, ipv6Mask } from '../net/index.ts';
import type { IpAddress } from '../net/index.ts';
import type { NetworkSetEntry } from './model.ts';

const NONE: readonly NetworkSetEntry[] = [];

export interface NetworkSetAddressIndex {
  containing(address: IpAddress): readonly NetworkSetEntry[];
}

export function indexNetworkSets(sets: readonly NetworkSetEntry[]): NetworkSetAddressIndex {
  // Per family: prefix length in use → masked base → sets (in the sets' order).
  const v4 = new Map<number, Map<number, NetworkSetEntry[]>>();
  const v6 = new Map<number, Map<bigint, NetworkSetEntry[]>>();
  const rank = new Map<NetworkSetEntry, number>();
  sets.forEach((s, i) => {
    rank.set(s, i);
    for (const c of s.nets) {
      if (c.family === 4) push(v4, c.prefix, c.base, s);
      else push(v6, c.prefix, c.base, s);
    }
  });
  if (v4.size === 0 && v6.size === 0) return { containing: () => NONE };
  // Masks computed once per prefix length in use (an IPv6 mask is a bigint: no allocation per lookup).
  const masks4 = [...v4].map(([prefix, table]) => [ipv4Mask(prefix), table] as const);
  const masks6 = [...v6].map(([prefix, table]) => [ipv6Mask(prefix), table] as const);
  return {
    containing(address) {
      let found: NetworkSetEntry[] | undefined;
      let single: readonly NetworkSetEntry[] | undefined;
      const collect = (list: readonly NetworkSetEntry[] | undefined): void => {
        if (list === undefined) return;
        if (single === undefined && found === undefined) {
          single = list;
          return;
        }
        found ??= [...single!];
        for (const s of list) if (!found.includes(s)) found.push(s);
      };
      if (address.family === 4) {
        for (const [mask, table] of masks4) collect(table.get((address.value & mask) >>> 0));
      } else {
        for (const [mask, table] of masks6) collect(table.get(address.value & mask));
      }
      if (found === undefined) return single ?? NONE;
      // Several prefix lengths hit: keep the sets' own order, as a filter over them would.
      return found.sort((a, b) => rank.get(a)! - rank.get(b)!);
    },
  };
}

function push<V>(m: Map<number, Map<V, NetworkSetEntry[]>>, prefix: number, base: V, s: NetworkSetEntry): void {
  let table = m.get(prefix);
  if (table === undefined) m.set(prefix, (table = new Map()));
  const list = table.get(base);
  if (list === undefined) table.set(base, [s]);
  else if (!list.includes(s)) list.push(s);
}
