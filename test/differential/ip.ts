// Addresses and CIDRs for the differential test, written out by hand (BigInt arithmetic) so the
// reference evaluator shares no address code with the engine.

export interface Ip {
  readonly family: 4 | 6;
  readonly value: bigint;
}

export interface Cidr {
  readonly family: 4 | 6;
  /** The network address (host bits cleared). */
  readonly base: bigint;
  readonly bits: number;
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(Number(p));
  }
  return v;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let v = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return v;
}

export function parseIp(text: string): Ip | undefined {
  if (text.includes(':')) {
    const v = parseIpv6(text);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseIpv4(text);
  return v === undefined ? undefined : { family: 4, value: v };
}

function width(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function mask(family: 4 | 6, bits: number): bigint {
  const w = BigInt(width(family));
  return bits === 0 ? 0n : ((1n << w) - 1n) ^ ((1n << (w - BigInt(bits))) - 1n);
}

/** `a.b.c.d/n`, `x::y/n`, or a bare address (a host route). Host bits are cleared. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip === undefined) return undefined;
  const bits = slash < 0 ? width(ip.family) : Number(text.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > width(ip.family)) return undefined;
  return { family: ip.family, base: ip.value & mask(ip.family, bits), bits };
}

export function mustParseCidr(text: string): Cidr {
  const c = parseCidr(text);
  if (c === undefined) throw new Error(`bad CIDR in test data: ${text}`);
  return c;
}

export function cidrContainsIp(c: Cidr, ip: Ip): boolean {
  return c.family === ip.family && (ip.value & mask(c.family, c.bits)) === c.base;
}

/** True when every address of `inner` is in `outer`. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.bits <= inner.bits && (inner.base & mask(outer.family, outer.bits)) === outer.base;
}
