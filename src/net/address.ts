// IP addresses as numbers, so that membership tests on the engine's hot path are a mask and a
// compare: IPv4 as an unsigned 32-bit integer in a `number`, IPv6 as a 128-bit `bigint`.
// Parsing follows Go's net.ParseIP (Go ≥ 1.22, i.e. netip.ParseAddr without zones), because that
// is what Calico and Kubernetes run: no leading zeros in IPv4 octets, every IPv6 text form
// (`::`, embedded dotted quad), no `%zone`. An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) *is*
// the IPv4 address, as `net.IP.To4()` makes it in Calico.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';

export type IpFamily = 4 | 6;

export interface Ipv4Address {
  readonly family: 4;
  /** Unsigned: 0 … 2³²−1 (`>>> 0` after bit operations). */
  readonly value: number;
}

export interface Ipv6Address {
  readonly family: 6;
  /** 0 … 2¹²⁸−1, most significant group first. */
  readonly value: bigint;
}

export type IpAddress = Ipv4Address | Ipv6Address;

export const IPV4_BITS = 32;
export const IPV6_BITS = 128;
export const IPV6_MAX = (1n << 128n) - 1n;

export function ipv4(value: number): Ipv4Address {
  return { family: 4, value: value >>> 0 };
}

export function ipv6(value: bigint): Ipv6Address {
  return { family: 6, value: BigInt.asUintN(128, value) };
}

/** Bits in an address of this family. */
export function familyBits(family: IpFamily): number {
  return family === 4 ? IPV4_BITS : IPV6_BITS;
}

/** The outcome of parsing without building diagnostics: fast, and the reason when it fails. */
export type ParsedAddress =
  | { readonly ok: true; readonly address: IpAddress; readonly textFamily: IpFamily }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses an address. `textFamily` is the family of the text form (6 for `::ffff:1.2.3.4` although
 * the address is IPv4), which CIDR parsing needs to interpret the prefix length.
 */
export function parseAddressText(text: string): ParsedAddress {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '.') {
      const v4 = parseIpv4Fields(text);
      return typeof v4 === 'string' ? bad(v4) : { ok: true, address: ipv4(v4), textFamily: 4 };
    }
    if (c === ':') {
      if (text.includes('%')) return bad('zones (the "%eth0" suffix) are not allowed');
      const v6 = parseIpv6(text);
      if (typeof v6 === 'string') return bad(v6);
      // Go's To4(): an IPv4-mapped address is the IPv4 address.
      if (v6 >> 32n === 0xffffn) return { ok: true, address: ipv4(Number(v6 & 0xffffffffn)), textFamily: 6 };
      return { ok: true, address: ipv6(v6), textFamily: 6 };
    }
    if (c === '%') return bad('zones (the "%eth0" suffix) are not allowed');
  }
  return bad(text === '' ? 'the address is empty' : 'expected a dotted IPv4 address (10.0.0.1) or an IPv6 address (fd00::1)');
}

function bad(reason: string): ParsedAddress {
  return { ok: false, reason };
}

/** Returns the address, or undefined: for hot paths that do not need a reason. */
export function tryParseIp(text: string): IpAddress | undefined {
  const p = parseAddressText(text);
  return p.ok ? p.address : undefined;
}

export function parseIp(text: string): Result<IpAddress> {
  const p = parseAddressText(text);
  if (p.ok) return ok(p.address);
  return fail([invalidIp(text, p.reason)]);
}

function invalidIp(text: string, reason: string): Diagnostic {
  return { code: 'net/invalid-ip', severity: 'error', message: `"${text}" is not a valid IP address: ${reason}` };
}

/** Dotted quad, as netip: exactly four decimal octets, each 0–255, no leading zeros. */
function parseIpv4Fields(s: string): number | string {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let fields = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      // A leading zero would be octal to libc but decimal to Go: reject the ambiguity.
      if (digits === 1 && octet === 0) return 'IPv4 octets must not have leading zeros';
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) return 'IPv4 octets must be at most 255';
    } else if (c === 46) {
      if (digits === 0) return 'each IPv4 octet needs at least one digit';
      if (fields === 3) return 'an IPv4 address has exactly four octets';
      value = value * 256 + octet;
      fields++;
      octet = 0;
      digits = 0;
    } else {
      return `unexpected character "${s[i] ?? ''}" in an IPv4 address`;
    }
  }
  if (digits === 0) return 'each IPv4 octet needs at least one digit';
  if (fields < 3) return 'an IPv4 address has exactly four octets';
  return value * 256 + octet;
}

/** IPv6 text (RFC 4291 §2.2) to a 128-bit value, following netip.parseIPv6 step by step. */
function parseIpv6(input: string): bigint | string {
  const groups: number[] = []; // 16-bit groups, in order
  let ellipsis = -1; // index in groups where `::` stands
  let s = input;
  if (s.startsWith('::')) {
    ellipsis = 0;
    s = s.slice(2);
    if (s === '') return 0n;
  }
  while (groups.length < 8) {
    let off = 0;
    let acc = 0;
    for (; off < s.length; off++) {
      const d = hexDigit(s.charCodeAt(off));
      if (d < 0) break;
      if (off > 3) return 'each IPv6 group has at most 4 hex digits';
      acc = acc * 16 + d;
    }
    if (off === 0) return 'each colon-separated IPv6 group needs at least one hex digit';
    if (off < s.length && s[off] === '.') {
      // A dotted quad may only stand in for the last two groups.
      if (ellipsis < 0 && groups.length !== 6) return 'an embedded IPv4 address must replace the last two groups';
      if (groups.length + 2 > 8) return 'too many groups to fit an embedded IPv4 address';
      const v4 = parseIpv4Fields(s);
      if (typeof v4 === 'string') return v4;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
      s = '';
      break;
    }
    groups.push(acc);
    s = s.slice(off);
    if (s === '') break;
    if (s[0] !== ':') return `unexpected character "${s[0] ?? ''}" in an IPv6 address`;
    if (s.length === 1) return 'an IPv6 address must not end with a single ":"';
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) return 'an IPv6 address may contain "::" only once';
      ellipsis = groups.length;
      s = s.slice(1);
      if (s === '') break;
    }
  }
  if (s !== '') return 'unexpected characters after the end of the IPv6 address';
  if (groups.length < 8) {
    if (ellipsis < 0) return 'an IPv6 address has eight groups unless "::" abbreviates some';
    groups.splice(ellipsis, 0, ...new Array<number>(8 - groups.length).fill(0));
  } else if (ellipsis >= 0) {
    return '"::" must stand for at least one group of zeros';
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Canonical text: dotted quad; RFC 5952 for IPv6 (lower case, longest zero run as `::`). */
export function formatIp(a: IpAddress): string {
  return a.family === 4 ? formatIpv4(a.value) : formatIpv6(a.value);
}

function formatIpv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function formatIpv6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  // Longest run of zero groups (first one on a tie); a single zero group is not abbreviated.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: readonly number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** Total order: IPv4 before IPv6, then numerically. */
export function compareIp(a: IpAddress, b: IpAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.value === b.value) return 0;
  return a.value < b.value ? -1 : 1;
}

export function ipEquals(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.value === b.value;
}
