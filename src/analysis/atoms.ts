// Splitting the port and address spaces into *atoms*: maximal pieces inside which no rule, network
// set or invariant can tell two values apart. Cutting at every boundary any of them uses makes one
// representative per atom decide the whole atom, which is what lets `diff` and the invariant check
// be exhaustive over 65,535 ports and 2³² + 2¹²⁸ addresses with a handful of evaluations.
import { ipv4, ipv6, makeCidr } from '../net/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';

/** An inclusive range of ports, 1 … 65535. */
export interface PortInterval {
  readonly min: number;
  readonly max: number;
}

/** An inclusive range of addresses of one family; bigint for both families so the arithmetic is one. */
export interface AddressBlock {
  readonly family: 4 | 6;
  readonly start: bigint;
  readonly end: bigint;
}

export const MAX_PORT = 65535;

/**
 * The atoms of 1…65535 for the given ranges: cut before every range's first port and after its
 * last, so each range is a union of atoms and no atom straddles a boundary.
 */
export function portAtoms(ranges: Iterable<PortInterval>): PortInterval[] {
  const cuts = new Set<number>([1, MAX_PORT + 1]);
  for (const r of ranges) {
    const min = Math.max(1, r.min);
    const max = Math.min(MAX_PORT, r.max);
    if (min > max) continue;
    cuts.add(min);
    cuts.add(max + 1);
  }
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: PortInterval[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) out.push({ min: sorted[i]!, max: sorted[i + 1]! - 1 });
  return out;
}

function bits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function cidrBounds(c: Cidr): { start: bigint; end: bigint } {
  const start = BigInt(c.base);
  const size = 1n << BigInt(bits(c.family) - c.prefix);
  return { start, end: start + size - 1n };
}

/** The atoms of one family's address space for the given CIDRs (cut at each CIDR's first and past its last address). */
export function addressAtoms(family: 4 | 6, cidrs: Iterable<Cidr>): AddressBlock[] {
  const top = 1n << BigInt(bits(family));
  const cuts = new Set<bigint>([0n, top]);
  for (const c of cidrs) {
    if (c.family !== family) continue;
    const { start, end } = cidrBounds(c);
    cuts.add(start);
    cuts.add(end + 1n);
  }
  const sorted = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: AddressBlock[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) out.push({ family, start: sorted[i]!, end: sorted[i + 1]! - 1n });
  return out;
}

export function blockAddress(family: 4 | 6, value: bigint): IpAddress {
  return family === 4 ? ipv4(Number(value)) : ipv6(value);
}

/** The minimal list of CIDRs whose union is exactly the block (largest aligned piece first, in order). */
export function blockCidrs(b: AddressBlock): Cidr[] {
  const width = bits(b.family);
  const out: Cidr[] = [];
  let at = b.start;
  while (at <= b.end) {
    // The largest power-of-two piece aligned at `at` that does not run past the end.
    let size = at === 0n ? 1n << BigInt(width) : at & -at;
    while (at + size - 1n > b.end) size >>= 1n;
    let prefix = width;
    for (let s = size; s > 1n; s >>= 1n) prefix--;
    out.push(makeCidr(blockAddress(b.family, at), prefix));
    at += size;
  }
  return out;
}

/** The smallest value of 0…max not in `used`. */
export function firstUnused(used: ReadonlySet<number>, from: number, max: number): number | undefined {
  for (let v = from; v <= max; v++) if (!used.has(v)) return v;
  return undefined;
}

export function formatPorts(r: PortInterval): string {
  return r.min === r.max ? String(r.min) : `${r.min}-${r.max}`;
}
