// A tiny deterministic allocator for `--pod-cidr`: what-if analysis needs addresses for workloads
// whose manifests have none, and the same input must always give the same addresses.
import type { IpAddress } from './address.ts';
import { ipv4, ipv6 } from './address.ts';
import type { Cidr } from './cidr.ts';

/**
 * The first `count` host addresses of `cidr`, ascending. The network address is skipped (and, for
 * IPv4 prefixes up to /30, the broadcast address), as a person would number hosts; /31, /32,
 * /127 and /128 use every address. Returns fewer than `count` when the CIDR is too small.
 */
export function allocateAddresses(cidr: Cidr, count: number): IpAddress[] {
  const out: IpAddress[] = [];
  if (!(count > 0)) return out;
  if (cidr.family === 4) {
    const size = 2 ** (32 - cidr.prefix);
    const first = size > 2 ? 1 : 0;
    const last = size > 2 ? size - 2 : size - 1; // offsets from the base, inclusive
    for (let off = first; off <= last && out.length < count; off++) out.push(ipv4(cidr.base + off));
    return out;
  }
  const size = 1n << BigInt(128 - cidr.prefix);
  const first = size > 2n ? 1n : 0n;
  for (let off = first; off < size && out.length < count; off++) out.push(ipv6(cidr.base + off));
  return out;
}
