// A packet interpreter for the dataplane IR, following nftables' evaluation rules: base chains
// run with their policy as the fallback, `jump` returns to the caller, `goto` does not (a
// `return` in a goto'd chain returns to the last jump), a verdict map without a matching element
// continues with the next rule, matches short-circuit in order. It lets the tests check, packet by
// packet, that the compiled IR decides what the engine decides; the lab later checks the kernel.
//
// It is strict where nft would read garbage: a port match on a packet without ports throws, since
// the compiler must always guard port matches with a protocol match first.
import { cidrContains, parseCidrLenient, tryParseIp } from '../../src/net/index.ts';
import type { IpAddress } from '../../src/net/index.ts';
import type { Chain, Match, NamedSet, ProtoPortElement, Rule, Ruleset } from '../../src/dataplane/ir.ts';

export interface Packet {
  readonly family: 4 | 6;
  readonly saddr: IpAddress;
  readonly daddr: IpAddress;
  readonly l4proto: number;
  /** Present for TCP, UDP, SCTP, UDPLite. */
  readonly sport: number | undefined;
  readonly dport: number | undefined;
  readonly icmp: { readonly type: number; readonly code: number } | undefined;
  readonly iifname: string;
  readonly oifname: string;
  readonly ct: 'new' | 'established' | 'related' | 'invalid';
}

export interface Hit {
  readonly chain: string;
  readonly rule: Rule;
}

export interface SimResult {
  readonly verdict: 'accept' | 'drop';
  /** Every rule whose matches held, in order. */
  readonly hits: readonly Hit[];
  /** Log prefixes written. */
  readonly logs: readonly string[];
  /** Decision ids recorded (the `record` statements executed), in order. */
  readonly records: readonly string[];
}

const PORT_PROTOCOLS = new Set([6, 17, 132, 136]);

type Outcome = 'accept' | 'drop' | 'return';

export function simulate(rs: Ruleset, pkt: Packet): SimResult {
  const chains = new Map(rs.chains.map((c) => [c.name, c]));
  const sets = new Map(rs.sets.map((s) => [s.name, s]));
  const maps = new Map(rs.maps.map((m) => [m.name, m]));
  const hits: Hit[] = [];
  const logs: string[] = [];
  const records: string[] = [];
  let mark = 0;
  let depth = 0;

  const inSet = (name: string, key: { address: IpAddress; proto?: number; port?: number }): boolean => {
    const s: NamedSet | undefined = sets.get(name);
    if (s === undefined) throw new Error(`unknown set ${name}`);
    switch (s.type) {
      case 'addr4':
      case 'addr6':
        return s.elements.some((e) => {
          const c = parseCidrLenient(e);
          if (!c.ok) throw new Error(`bad element ${e}`);
          return cidrContains(c.value, key.address);
        });
      case 'addr4-proto-port':
      case 'addr6-proto-port':
        return s.elements.some((e: ProtoPortElement) => {
          const a = tryParseIp(e.address);
          return a !== undefined && a.family === key.address.family && a.value === key.address.value && e.protocol === key.proto && e.port === key.port;
        });
    }
  };

  const needPorts = (m: Match): void => {
    if (!PORT_PROTOCOLS.has(pkt.l4proto)) throw new Error(`port match ${JSON.stringify(m)} reached a protocol ${pkt.l4proto} packet`);
  };

  const matches = (m: Match): boolean => {
    switch (m.kind) {
      case 'nfproto':
        return pkt.family === m.family;
      case 'iifname':
        return m.names.includes(pkt.iifname);
      case 'oifname':
        return m.names.includes(pkt.oifname);
      case 'ct-state':
        return (m.states as readonly string[]).includes(pkt.ct);
      case 'mark':
        return (mark & m.bits) === (m.isSet ? m.bits : 0);
      case 'l4proto':
        return m.protocols.includes(pkt.l4proto) !== m.negate;
      case 'addr-set': {
        if (pkt.family !== m.family) return false; // implicit `meta nfproto` dependency
        const a = m.side === 'saddr' ? pkt.saddr : pkt.daddr;
        return inSet(m.set, { address: a }) !== m.negate;
      }
      case 'addr-cidrs': {
        if (pkt.family !== m.family) return false;
        const a = m.side === 'saddr' ? pkt.saddr : pkt.daddr;
        const hit = m.cidrs.some((t) => {
          const c = parseCidrLenient(t);
          if (!c.ok) throw new Error(`bad CIDR ${t}`);
          return cidrContains(c.value, a);
        });
        return hit !== m.negate;
      }
      case 'port': {
        needPorts(m);
        const p = m.side === 'sport' ? pkt.sport! : pkt.dport!;
        return m.ranges.some((r) => p >= r.min && p <= r.max) !== m.negate;
      }
      case 'addr-proto-port-set': {
        if (pkt.family !== m.family) return false;
        needPorts(m);
        const key = m.side === 'src' ? { address: pkt.saddr, proto: pkt.l4proto, port: pkt.sport! } : { address: pkt.daddr, proto: pkt.l4proto, port: pkt.dport! };
        return inSet(m.set, key) !== m.negate;
      }
      case 'icmp': {
        const proto = m.family === 4 ? 1 : 58;
        if (pkt.family !== m.family || pkt.l4proto !== proto || pkt.icmp === undefined) return false;
        const eq = pkt.icmp.type === m.type && (m.code === undefined || pkt.icmp.code === m.code);
        return eq !== m.negate;
      }
      default:
        throw new Error(`unknown match ${JSON.stringify(m)}`);
    }
  };

  const run = (chain: Chain): Outcome => {
    if (++depth > 64) throw new Error('chain depth exceeded');
    try {
      for (const r of chain.rules) {
        if (!r.matches.every(matches)) continue;
        hits.push({ chain: chain.name, rule: r });
        for (const s of r.statements) {
          if (s.kind === 'set-mark') mark = (mark | s.bits) >>> 0;
          else if (s.kind === 'clear-mark') mark = (mark & ~s.bits) >>> 0;
          else if (s.kind === 'record') records.push(s.id);
          else logs.push(s.prefix);
        }
        const v = r.verdict;
        if (v === undefined) continue;
        switch (v.kind) {
          case 'accept':
          case 'drop':
          case 'return':
            return v.kind;
          case 'jump': {
            const o = run(chainOf(v.chain));
            if (o !== 'return') return o;
            continue;
          }
          case 'goto':
            return run(chainOf(v.chain));
          case 'vmap': {
            const map = maps.get(v.map);
            if (map === undefined) throw new Error(`unknown map ${v.map}`);
            const key = map.key === 'iifname' ? pkt.iifname : pkt.oifname;
            const el = map.elements.find((e) => e.ifname === key);
            if (el === undefined) continue;
            if (map.verdict === 'goto') return run(chainOf(el.chain));
            const o = run(chainOf(el.chain));
            if (o !== 'return') return o;
            continue;
          }
        }
      }
      return 'return';
    } finally {
      depth--;
    }
  };

  const chainOf = (name: string): Chain => {
    const c = chains.get(name);
    if (c === undefined) throw new Error(`unknown chain ${name}`);
    return c;
  };

  let verdict: 'accept' | 'drop' = 'accept';
  for (const base of rs.chains.filter((c) => c.hook?.hook === 'forward')) {
    const o = run(base);
    verdict = o === 'return' ? base.hook!.policy : o;
    if (verdict === 'drop') break;
  }
  return { verdict, hits, logs, records };
}
