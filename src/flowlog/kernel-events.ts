// Kernel event parsing (pure): the two streams a node's collector reads, as text, into plain
// events. Both formats are those of maintained tools, not of our own probes:
//
//   ulogd2 (NFLOG → BASE → IFINDEX → IP2STR → JSON), one JSON object a line: a packet that a
//     deciding rule logged to nflog with prefix `sd1:<decision id>` (dataplane/ir.ts).
//   conntrack-tools `conntrack -E -o extended,id,timestamp` (events) and
//     `conntrack -L -o extended,id` (dumps): a connection's tuples, counters (with
//     net.netfilter.nf_conntrack_acct=1), mark and id.
//
// Errors are values: a line that is not what the tool writes is reported with why, never thrown.
import { z } from 'zod';
import { parseDecisionPrefix } from '../dataplane/ir.ts';

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** The 5-tuple of a connection's original direction (ICMP: echo id as the source "port", type as the destination). */
export interface Tuple {
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  /** TCP/UDP/SCTP ports; undefined for ICMP and others. */
  readonly sport: number | undefined;
  readonly dport: number | undefined;
  /** ICMP / ICMPv6 request: type, code and echo id. */
  readonly icmp: { readonly type: number; readonly code: number; readonly id: number | undefined } | undefined;
}

/** One packet a deciding rule recorded. */
export interface NflogEvent {
  readonly kind: 'nflog';
  /** Kernel timestamp of the packet, ms since the epoch. */
  readonly timeMs: number;
  /** Decision id (the prefix without `sd1:`). */
  readonly decision: string;
  readonly tuple: Tuple;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  /** Bytes of the packet (network header on). */
  readonly bytes: number;
}

export interface CtCounters {
  readonly packets: number;
  readonly bytes: number;
}

/** One conntrack event (`new`, `update`, `destroy`) or one entry of a dump (`list`). */
export interface ConntrackEvent {
  readonly kind: 'conntrack';
  readonly type: 'new' | 'update' | 'destroy' | 'list';
  /** When conntrack printed it (events: its `[sec.usec]` stamp), ms; undefined for dumps. */
  readonly timeMs: number | undefined;
  /** Conntrack id: unique among live entries of the table. */
  readonly id: number;
  readonly orig: Tuple;
  /** Counters of the original and reply directions; undefined without nf_conntrack_acct (or on NEW). */
  readonly origCounters: CtCounters | undefined;
  readonly replyCounters: CtCounters | undefined;
  readonly mark: number;
  /** TCP state (ESTABLISHED, TIME_WAIT…) when the protocol has one. */
  readonly state: string | undefined;
}

// ---------------------------------------------------------------------------------------------
// ulogd JSON

const int = z.number().int();
/** The keys we read of ulogd's JSON output (it writes many more; they are ignored). */
const ulogdJsonSchema = z.object({
  'oob.prefix': z.string(),
  'oob.time.sec': int.nonnegative(),
  'oob.time.usec': int.nonnegative(),
  'oob.family': int,
  'raw.pktlen': int.nonnegative(),
  'ip.protocol': int.optional(),
  'ip6.nexthdr': int.optional(),
  src_ip: z.string(),
  dest_ip: z.string(),
  src_port: int.optional(),
  dest_port: int.optional(),
  'icmp.type': int.optional(),
  'icmp.code': int.optional(),
  'icmp.echoid': int.optional(),
  'icmpv6.type': int.optional(),
  'icmpv6.code': int.optional(),
  'icmpv6.echoid': int.optional(),
  'oob.in': z.string().optional(),
  'oob.out': z.string().optional(),
});

type UlogdJson = z.infer<typeof ulogdJsonSchema>;

const REQUIRED_INTS = ['oob.time.sec', 'oob.time.usec', 'oob.family', 'raw.pktlen'] as const;
const OPTIONAL_INTS = ['ip.protocol', 'ip6.nexthdr', 'src_port', 'dest_port', 'icmp.type', 'icmp.code', 'icmp.echoid', 'icmpv6.type', 'icmpv6.code', 'icmpv6.echoid'] as const;

/** Exactly ulogdJsonSchema's conditions, without building a copy of the object. */
function looksLikeUlogd(v: unknown): v is UlogdJson {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if (typeof o['oob.prefix'] !== 'string' || typeof o['src_ip'] !== 'string' || typeof o['dest_ip'] !== 'string') return false;
  for (const k of REQUIRED_INTS) {
    const x = o[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || (k !== 'oob.family' && x < 0)) return false;
  }
  for (const k of OPTIONAL_INTS) {
    const x = o[k];
    if (x !== undefined && !(typeof x === 'number' && Number.isInteger(x))) return false;
  }
  for (const k of ['oob.in', 'oob.out'] as const) if (o[k] !== undefined && typeof o[k] !== 'string') return false;
  return true;
}

const AF_INET = 2;
const AF_INET6 = 10;

/**
 * One line of ulogd's JSON output. `{ok: true, value: undefined}` for a packet that is not a
 * decision record (another nflog user's prefix): not an error, just not ours.
 */
export function parseUlogdJson(line: string): ParseResult<NflogEvent | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  // The schema is the contract; a hand-written check of the same fields is the hot path (a
  // collector reads one line per logged packet), and zod explains any line that fails it.
  let j: UlogdJson;
  if (looksLikeUlogd(raw)) {
    j = raw;
  } else {
    const r = ulogdJsonSchema.safeParse(raw);
    if (!r.success) {
      const i = r.error.issues[0];
      return { ok: false, error: `ulogd JSON: ${i?.path.join('.') ?? ''}: ${i?.message ?? 'invalid'}` };
    }
    j = r.data;
  }
  const decision = parseDecisionPrefix(j['oob.prefix']);
  if (decision === undefined) return { ok: true, value: undefined };
  const family = j['oob.family'] === AF_INET ? 4 : j['oob.family'] === AF_INET6 ? 6 : undefined;
  if (family === undefined) return { ok: false, error: `ulogd JSON: oob.family ${j['oob.family']} is neither AF_INET nor AF_INET6` };
  const protocol = family === 4 ? j['ip.protocol'] : j['ip6.nexthdr'];
  if (protocol === undefined) return { ok: false, error: `ulogd JSON: no ${family === 4 ? 'ip.protocol' : 'ip6.nexthdr'}` };
  const icmpType = family === 4 ? j['icmp.type'] : j['icmpv6.type'];
  const icmpCode = family === 4 ? j['icmp.code'] : j['icmpv6.code'];
  const icmpId = family === 4 ? j['icmp.echoid'] : j['icmpv6.echoid'];
  const tuple: Tuple = {
    family,
    protocol,
    src: j.src_ip,
    dst: j.dest_ip,
    sport: j.src_port,
    dport: j.dest_port,
    icmp: icmpType === undefined ? undefined : { type: icmpType, code: icmpCode ?? 0, id: icmpId },
  };
  return {
    ok: true,
    value: {
      kind: 'nflog',
      timeMs: j['oob.time.sec'] * 1000 + j['oob.time.usec'] / 1000,
      decision,
      tuple,
      iif: j['oob.in'] === '' ? undefined : j['oob.in'],
      oif: j['oob.out'] === '' ? undefined : j['oob.out'],
      bytes: j['raw.pktlen'],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// conntrack text

const EVENT_TYPES: Readonly<Record<string, ConntrackEvent['type']>> = { NEW: 'new', UPDATE: 'update', DESTROY: 'destroy' };
const TUPLE_KEYS = new Set(['src', 'dst', 'sport', 'dport', 'type', 'code', 'id', 'packets', 'bytes']);
const L3 = /^ipv[46]$/;

interface SideFields {
  readonly fields: Map<string, string>;
}

function tupleOf(family: 4 | 6, protocol: number, side: SideFields): ParseResult<Tuple> {
  const f = side.fields;
  const src = f.get('src');
  const dst = f.get('dst');
  if (src === undefined || dst === undefined) return { ok: false, error: 'a tuple without src= or dst=' };
  const num = (k: string): number | undefined => {
    const v = f.get(k);
    return v === undefined ? undefined : Number(v);
  };
  const type = num('type');
  return {
    ok: true,
    value: {
      family,
      protocol,
      src,
      dst,
      sport: num('sport'),
      dport: num('dport'),
      icmp: type === undefined ? undefined : { type, code: num('code') ?? 0, id: num('id') },
    },
  };
}

function countersOf(side: SideFields): CtCounters | undefined {
  const p = side.fields.get('packets');
  const b = side.fields.get('bytes');
  return p === undefined || b === undefined ? undefined : { packets: Number(p), bytes: Number(b) };
}

/** One line of `conntrack -E -o extended,id,timestamp` or `conntrack -L -o extended,id`. */
export function parseConntrackLine(line: string): ParseResult<ConntrackEvent> {
  const tokens = line.trim().split(/\s+/);
  let i = 0;
  let timeMs: number | undefined;
  let type: ConntrackEvent['type'] = 'list';
  const stamp = /^\[(\d+)\.(\d+)\]$/.exec(tokens[i] ?? '');
  if (stamp !== null) {
    timeMs = Number(stamp[1]) * 1000 + Number(`0.${stamp[2]}`) * 1000;
    i++;
  }
  const ev = /^\[([A-Z]+)\]$/.exec(tokens[i] ?? '');
  if (ev !== null) {
    const t = EVENT_TYPES[ev[1]!];
    if (t === undefined) return { ok: false, error: `unknown conntrack event [${ev[1]}]` };
    type = t;
    i++;
  }
  if (!L3.test(tokens[i] ?? '')) return { ok: false, error: `expected ipv4 or ipv6 at "${tokens[i] ?? ''}" (use -o extended)` };
  const family = tokens[i] === 'ipv4' ? 4 : 6;
  i += 2; // name, number
  i++; // l4 name
  const protocol = Number(tokens[i]);
  if (!Number.isInteger(protocol)) return { ok: false, error: `expected the protocol number at "${tokens[i] ?? ''}"` };
  i++;
  const isIcmp = protocol === 1 || protocol === 58;
  const orig: SideFields = { fields: new Map() };
  const reply: SideFields = { fields: new Map() };
  const meta = new Map<string, string>();
  let side: 'none' | 'orig' | 'reply' | 'meta' = 'none';
  let state: string | undefined;
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    const eq = t.indexOf('=');
    if (eq < 0) {
      // timeout (number), TCP state, [UNREPLIED] / [ASSURED] / [USERSPACE] flags
      if (side === 'none' && /^[A-Z_]+$/.test(t)) state = t;
      continue;
    }
    const k = t.slice(0, eq);
    const v = t.slice(eq + 1);
    if (k === 'src') {
      if (side === 'none') side = 'orig';
      else if (side === 'orig') side = 'reply';
    } else if (!TUPLE_KEYS.has(k) || (side !== 'orig' && side !== 'reply')) {
      side = side === 'none' ? 'none' : 'meta';
    }
    if (side === 'orig' || side === 'reply') {
      const target = side === 'orig' ? orig : reply;
      // `id=` inside a tuple is the ICMP echo id (once); otherwise it is the entry's id.
      if (k === 'id' && (!isIcmp || target.fields.has('id'))) {
        meta.set('id', v);
        side = 'meta';
        continue;
      }
      if (TUPLE_KEYS.has(k)) {
        target.fields.set(k, v);
        continue;
      }
    }
    meta.set(k, v);
  }
  const t = tupleOf(family, protocol, orig);
  if (!t.ok) return t;
  const id = meta.get('id');
  if (id === undefined) return { ok: false, error: 'no conntrack id (use -o id)' };
  return {
    ok: true,
    value: {
      kind: 'conntrack',
      type,
      timeMs,
      id: Number(id),
      orig: t.value,
      origCounters: countersOf(orig),
      replyCounters: countersOf(reply),
      mark: Number(meta.get('mark') ?? 0),
      state,
    },
  };
}

/** The join key of a tuple: equal for a packet and the conntrack entry it created. */
export function tupleKey(t: Tuple): string {
  const l4 = t.icmp !== undefined ? `i${t.icmp.type}/${t.icmp.code}/${t.icmp.id ?? ''}` : `${t.sport ?? ''}-${t.dport ?? ''}`;
  return `${t.family}|${t.protocol}|${t.src}|${t.dst}|${l4}`;
}
