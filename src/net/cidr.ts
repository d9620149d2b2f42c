// CIDRs as (base, prefix, mask) with the mask precomputed, so `cidrContains` is one AND and one
// compare. Two parsing modes, because Calico has two:
//   strict  — rule `nets`/`notNets` (validator.go validateRule → net.ParseCIDR, validateIPNetwork):
//             `a/p` notation required, host bits must be zero (`10.0.0.1/24` is rejected);
//   lenient — (Global)NetworkSet `nets` (cnet.ParseCIDROrIP, then masked) and Kubernetes ipBlock
//             after Calico's conversion: a bare IP is a /32 or /128, host bits are masked off.
// Prefix lengths follow Go's ParseCIDR (decimal, leading zeros tolerated). An IPv4-mapped IPv6
// CIDR `::ffff:a.b.c.d/p` is the IPv4 CIDR a.b.c.d/(p−96), as Go's IPNet treats it; with p < 96 it
// is rejected here (Go would silently make it 0.0.0.0/0).
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import type { IpAddress, IpFamily } from './address.ts';
import { familyBits, formatIp, ipv4, ipv6, parseAddressText } from './address.ts';

export interface Ipv4Cidr {
  readonly family: 4;
  /** Network address (host bits zero), unsigned 32-bit. */
  readonly base: number;
  readonly prefix: number;
  /** `prefix` leading one bits, unsigned 32-bit. */
  readonly mask: number;
}

export interface Ipv6Cidr {
  readonly family: 6;
  readonly base: bigint;
  readonly prefix: number;
  readonly mask: bigint;
}

export type Cidr = Ipv4Cidr | Ipv6Cidr;

/** Everything the text said, before a mode decides what is acceptable. */
export interface CidrText {
  /** The network, host bits masked off. */
  readonly cidr: Cidr;
  /** The address as written (host bits kept). */
  readonly address: IpAddress;
  /** False for a bare address (`10.0.0.1`). */
  readonly hasPrefix: boolean;
  /** True when the written address had bits set beyond the prefix (`10.0.0.1/24`). */
  readonly hostBitsSet: boolean;
}

export type CidrMode = 'strict' | 'lenient';

export function ipv4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function ipv6Mask(prefix: number): bigint {
  return prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
}

/** The network of `address` with `prefix` bits (host bits masked off). */
export function makeCidr(address: IpAddress, prefix: number): Cidr {
  if (address.family === 4) {
    const mask = ipv4Mask(prefix);
    return { family: 4, base: (address.value & mask) >>> 0, prefix, mask };
  }
  const mask = ipv6Mask(prefix);
  return { family: 6, base: address.value & mask, prefix, mask };
}

/** The single-address CIDR (/32 or /128). */
export function cidrOfAddress(address: IpAddress): Cidr {
  return makeCidr(address, familyBits(address.family));
}

/** Parses `ip` or `ip/prefix` and reports what it found; modes are thin layers over this. */
export function parseCidrText(text: string): Result<CidrText> {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const parsed = parseAddressText(addrText);
  if (!parsed.ok) return fail([invalid(text, parsed.reason)]);
  const address = parsed.address;
  if (slash < 0) {
    return ok({ cidr: cidrOfAddress(address), address, hasPrefix: false, hostBitsSet: false });
  }
  const prefixText = text.slice(slash + 1);
  if (!/^[0-9]+$/.test(prefixText)) return fail([invalid(text, 'the prefix length after "/" must be a decimal number')]);
  let prefix = Number(prefixText);
  const textBits = familyBits(parsed.textFamily);
  if (prefix > textBits) return fail([invalid(text, `the prefix length must be at most ${textBits} for an IPv${parsed.textFamily} address`)]);
  if (parsed.textFamily === 6 && address.family === 4) {
    if (prefix < 96) return fail([invalid(text, 'an IPv4-mapped CIDR needs a prefix of at least /96')]);
    prefix -= 96;
  }
  const cidr = makeCidr(address, prefix);
  const hostBitsSet = cidr.base !== address.value;
  return ok({ cidr, address, hasPrefix: true, hostBitsSet });
}

/** Rule `nets`: `a/p` notation, host bits zero. */
export function parseCidrStrict(text: string): Result<Cidr> {
  return parseCidr(text, 'strict');
}

/** NetworkSet `nets`, ipBlock after conversion, `--pod-cidr`: bare IPs allowed, host bits masked. */
export function parseCidrLenient(text: string): Result<Cidr> {
  return parseCidr(text, 'lenient');
}

export function parseCidr(text: string, mode: CidrMode): Result<Cidr> {
  const r = parseCidrText(text);
  if (!r.ok) return r;
  if (mode === 'strict') {
    if (!r.value.hasPrefix) {
      const bits = familyBits(r.value.address.family);
      return fail([
        {
          code: 'net/cidr-missing-prefix',
          severity: 'error',
          message: `"${text}" is not in CIDR notation: expected ADDRESS/PREFIX such as "${formatIp(r.value.address)}/${bits}"`,
        },
      ]);
    }
    if (r.value.hostBitsSet) {
      return fail([
        {
          code: 'net/cidr-host-bits',
          severity: 'error',
          message: `"${text}" has bits set beyond the /${r.value.cidr.prefix} prefix: expected the network address "${formatCidr(r.value.cidr)}"`,
        },
      ]);
    }
  }
  return ok(r.value.cidr);
}

function invalid(text: string, reason: string): Diagnostic {
  return { code: 'net/invalid-cidr', severity: 'error', message: `"${text}" is not a valid CIDR: ${reason}` };
}

export function formatCidr(c: Cidr): string {
  const base = c.family === 4 ? ipv4(c.base) : ipv6(c.base);
  return `${formatIp(base)}/${c.prefix}`;
}

/** address ∈ cidr. The engine's hot path: no allocation. */
export function cidrContains(c: Cidr, a: IpAddress): boolean {
  if (c.family === 4) return a.family === 4 && ((a.value & c.mask) >>> 0) === c.base;
  return a.family === 6 && (a.value & c.mask) === c.base;
}

/** inner ⊆ outer. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  if (inner.prefix < outer.prefix) return false;
  if (outer.family === 4) return inner.family === 4 && ((inner.base & outer.mask) >>> 0) === outer.base;
  return inner.family === 6 && (inner.base & outer.mask) === outer.base;
}

/** The two CIDRs share at least one address (one contains the other). */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrContainsCidr(a, b) || cidrContainsCidr(b, a);
}

export function cidrEquals(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.prefix === b.prefix && a.base === b.base;
}

/** `0.0.0.0/0` or `::/0`. */
export function isCatchAll(c: Cidr): boolean {
  return c.prefix === 0;
}

/** Number of addresses in the CIDR (a bigint: an IPv6 /0 has 2¹²⁸). */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(familyBits(c.family) - c.prefix);
}

export function cidrFamily(c: Cidr): IpFamily {
  return c.family;
}
