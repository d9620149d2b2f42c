// IR → nftables script text. Deterministic: the same ruleset renders byte-identically whatever the
// order of its sets, elements and chains (they are sorted here), and names are a pure function of
// the IR's logical names. Everything nft-specific lives here: identifier rules, name lengths,
// keyword clashes, quoting, comment limits, statement syntax.
//
// A full script replaces the table in one `nft -f` transaction (Debian 12's nft 1.0.6 has no
// `destroy`, so: `add table` (creates it if missing), `delete table`, then the definition):
// packets see the old ruleset or the new one, never a mix.
import { createHash } from 'node:crypto';
import { parseCidrLenient, tryParseIp } from '../net/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';
import type { Chain, Match, NamedSet, ProtoPortElement, Rule, Ruleset, Statement, Verdict, VerdictMap } from './ir.ts';
import { assertNever, DECISION_PREFIX, normalizePortSpans, setTypeFamily } from './ir.ts';
import type { RulesetDiff, UpdateOp } from './diff.ts';

/** nft identifiers this long or shorter are accepted by every kernel we target. */
export const NAME_MAX = 64;
/** NFT_USERDATA comment limit is 128 bytes including the terminating NUL. */
export const COMMENT_MAX = 127;
/** NF_LOG_PREFIXLEN is 128 including the NUL. */
export const LOG_PREFIX_MAX = 127;

const FAMILY = 'inet';

// ---------------------------------------------------------------------------------------------
// Names

/** Logical names that are already good nft names (lower case, with a dash, so never a keyword). */
const VERBATIM = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$/;

/** First 8 hex digits of sha256: stable across runs and machines. */
function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 8);
}

/**
 * The nft identifier of a logical name: `prefix-readable-hash`, at most NAME_MAX characters, only
 * `[A-Za-z0-9_.-]`, always containing a dash (so it can never collide with an nft keyword such as
 * `fwd`). The hash is over the whole logical name, so truncation never merges two names.
 */
export function nftName(logical: string): string {
  if (VERBATIM.test(logical) && logical.length <= 32) return logical;
  const slash = logical.indexOf('/');
  const rawPrefix = slash < 0 ? 'x' : logical.slice(0, slash);
  const prefix = /^[a-z][a-z0-9]{0,7}$/.test(rawPrefix) ? rawPrefix : 'x';
  const rest = slash < 0 ? logical : logical.slice(slash + 1);
  const hash = shortHash(logical);
  const room = NAME_MAX - prefix.length - hash.length - 2;
  const readable = rest
    .replaceAll('projectcalico.org/', '')
    .replace(/\//g, '.')
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .slice(0, room)
    .replace(/^[._-]+|[._-]+$/g, '');
  return readable === '' ? `${prefix}-${hash}` : `${prefix}-${readable}-${hash}`;
}

// ---------------------------------------------------------------------------------------------
// Strings

/** Printable ASCII without `"` and `\` (nft quoted strings have no escapes), at most `max` bytes. */
function quoted(text: string, max: number): string {
  let s = text.replace(/"/g, "'").replace(/[^\x20-\x7e]|\\/g, '_');
  if (s.length > max) {
    const h = shortHash(text);
    s = `${s.slice(0, max - h.length - 1)}~${h}`;
  }
  return `"${s}"`;
}

/** A `#` script comment: one line, printable. */
function scriptComment(text: string): string {
  return `# ${text.replace(/[^\x20-\x7e]/g, '_')}`;
}

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

/** Names nft knows without /etc/protocols; numbers otherwise. */
function protocolText(p: number): string {
  return PROTOCOL_NAMES[p] ?? String(p);
}

function list(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

// ---------------------------------------------------------------------------------------------
// Ordering

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cidrOf(text: string): Cidr {
  const r = parseCidrLenient(text);
  if (!r.ok) throw new Error(`internal: set element "${text}" is not a CIDR`);
  return r.value;
}

function addressOf(text: string): IpAddress {
  const a = tryParseIp(text);
  if (a === undefined) throw new Error(`internal: set element "${text}" is not an address`);
  return a;
}

function compareCidrText(a: string, b: string): number {
  const x = cidrOf(a);
  const y = cidrOf(b);
  if (x.family !== y.family) return x.family - y.family;
  if (x.base !== y.base) return x.base < y.base ? -1 : 1;
  return x.prefix - y.prefix;
}

function compareAddressText(a: string, b: string): number {
  const x = addressOf(a);
  const y = addressOf(b);
  if (x.family !== y.family) return x.family - y.family;
  return x.value === y.value ? 0 : x.value < y.value ? -1 : 1;
}

function compareTriple(a: ProtoPortElement, b: ProtoPortElement): number {
  return compareAddressText(a.address, b.address) || a.protocol - b.protocol || a.port - b.port;
}

/** A host CIDR prints as its address, as `nft list` does. */
function cidrText(text: string): string {
  const c = cidrOf(text);
  const host = c.prefix === (c.family === 4 ? 32 : 128);
  return host ? text.slice(0, text.indexOf('/') < 0 ? text.length : text.indexOf('/')) : text;
}

function tripleText(e: ProtoPortElement): string {
  return `${e.address} . ${protocolText(e.protocol)} . ${e.port}`;
}

/** Element texts of a set, sorted. */
export function renderSetElements(set: NamedSet): string[] {
  switch (set.type) {
    case 'addr4':
    case 'addr6':
      return [...set.elements].sort(compareCidrText).map(cidrText);
    case 'addr4-proto-port':
    case 'addr6-proto-port':
      return [...set.elements].sort(compareTriple).map(tripleText);
    default:
      return assertNever(set);
  }
}

function setTypeText(set: NamedSet): string {
  const addr = setTypeFamily(set.type) === 4 ? 'ipv4_addr' : 'ipv6_addr';
  return set.type === 'addr4' || set.type === 'addr6' ? addr : `${addr} . inet_proto . inet_service`;
}

const ROLE_ORDER: Readonly<Record<Chain['role'], number>> = { base: 0, dispatch: 1, endpoint: 2, policy: 3, profile: 4 };

/** Base chains, dispatch, endpoint, policy, profile chains; by name within each. */
function sortedChains(chains: readonly Chain[]): Chain[] {
  return [...chains].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || compareText(a.name, b.name));
}

// ---------------------------------------------------------------------------------------------
// Matches, statements, verdicts, rules

function ipKeyword(family: 4 | 6): string {
  return family === 4 ? 'ip' : 'ip6';
}

function op(negate: boolean): string {
  return negate ? '!= ' : '';
}

export function renderMatch(m: Match): string {
  switch (m.kind) {
    case 'nfproto':
      return `meta nfproto ${m.family === 4 ? 'ipv4' : 'ipv6'}`;
    case 'iifname':
    case 'oifname':
      return `${m.kind} ${list([...m.names].sort(compareText).map((n) => quoted(n, 15)))}`;
    case 'ct-state':
      return `ct state ${m.states.join(',')}`;
    case 'mark':
      return `meta mark & ${hex32(m.bits)} == ${hex32(m.isSet ? m.bits : 0)}`;
    case 'l4proto':
      return `meta l4proto ${op(m.negate)}${list([...m.protocols].sort((a, b) => a - b).map(protocolText))}`;
    case 'addr-set':
      return `${ipKeyword(m.family)} ${m.side} ${op(m.negate)}@${nftName(m.set)}`;
    case 'addr-cidrs':
      return `${ipKeyword(m.family)} ${m.side} ${op(m.negate)}${list([...m.cidrs].sort(compareCidrText).map(cidrText))}`;
    case 'port':
      return `th ${m.side} ${op(m.negate)}${list(normalizePortSpans(m.ranges).map((r) => (r.min === r.max ? String(r.min) : `${r.min}-${r.max}`)))}`;
    case 'addr-proto-port-set': {
      const addr = m.side === 'src' ? 'saddr' : 'daddr';
      const port = m.side === 'src' ? 'sport' : 'dport';
      return `${ipKeyword(m.family)} ${addr} . meta l4proto . th ${port} ${op(m.negate)}@${nftName(m.set)}`;
    }
    case 'icmp': {
      const k = m.family === 4 ? 'icmp' : 'icmpv6';
      if (m.code === undefined) return `${k} type ${op(m.negate)}${m.type}`;
      // NOT(type == T and code == C) in one match: a negated concatenation (reference §6.4 caveat:
      // `icmp type != T icmp code != C` would mean "both differ").
      if (m.negate) return `${k} type . ${k} code != { ${m.type} . ${m.code} }`;
      return `${k} type ${m.type} ${k} code ${m.code}`;
    }
    default:
      return assertNever(m);
  }
}

export function renderStatement(s: Statement): string {
  switch (s.kind) {
    case 'set-mark':
      return `meta mark set meta mark | ${hex32(s.bits)}`;
    case 'clear-mark':
      return `meta mark set meta mark & ${hex32(~s.bits)}`;
    case 'log':
      return `log prefix ${quoted(s.prefix, LOG_PREFIX_MAX)} level info`;
    case 'record':
      // nflog: the packet (headers included) goes to userspace with the id as its prefix.
      return `log prefix ${quoted(`${DECISION_PREFIX}${s.id}`, LOG_PREFIX_MAX)} group ${s.group}`;
    default:
      return assertNever(s);
  }
}

export function renderVerdict(v: Verdict): string {
  switch (v.kind) {
    case 'accept':
    case 'drop':
    case 'return':
      return v.kind;
    case 'jump':
    case 'goto':
      return `${v.kind} ${nftName(v.chain)}`;
    case 'vmap':
      // The key (iifname/oifname) is the map's; the dispatch rule names it.
      return `vmap @${nftName(v.map)}`;
    default:
      return assertNever(v);
  }
}

/** One rule as nft text (without the `add rule` prefix). `vmapKey` resolves a vmap's key. */
export function renderRule(r: Rule, vmapKey: (map: string) => string): string {
  const parts = r.matches.map(renderMatch);
  if (r.verdict?.kind === 'vmap') {
    // `iifname vmap @m` is one expression: the lookup key comes first.
    parts.push(`${vmapKey(r.verdict.map)} vmap @${nftName(r.verdict.map)}`);
    if (r.counter) parts.splice(parts.length - 1, 0, 'counter');
    if (r.statements.length > 0) throw new Error('internal: statements before a vmap dispatch');
  } else {
    if (r.counter) parts.push('counter');
    parts.push(...r.statements.map(renderStatement));
    if (r.verdict !== undefined) parts.push(renderVerdict(r.verdict));
  }
  parts.push(`comment ${quoted(r.comment, COMMENT_MAX)}`);
  return parts.join(' ');
}

function mapKeyResolver(maps: readonly VerdictMap[]): (name: string) => string {
  const keys = new Map(maps.map((m) => [m.name, m.key]));
  return (name) => {
    const k = keys.get(name);
    if (k === undefined) throw new Error(`internal: rule dispatches on unknown map "${name}"`);
    return k;
  };
}

function hookText(c: Chain): string | undefined {
  if (c.hook === undefined) return undefined;
  const prio = c.hook.priority === 0 ? 'filter' : String(c.hook.priority);
  return `type ${c.hook.type} hook ${c.hook.hook} priority ${prio}; policy ${c.hook.policy};`;
}

// ---------------------------------------------------------------------------------------------
// Whole scripts

function renderSetBody(set: NamedSet, indent: string): string[] {
  const out = [`${indent}type ${setTypeText(set)}`];
  // DNS-learned sets hold single addresses, each with the timeout of the answer that taught it.
  if ((set.type === 'addr4' || set.type === 'addr6') && set.domains !== undefined) out.push(`${indent}flags timeout`);
  else if (set.type === 'addr4' || set.type === 'addr6') out.push(`${indent}flags interval`);
  const elements = renderSetElements(set);
  if (elements.length > 0) out.push(`${indent}elements = {`, ...elements.map((e, i) => `${indent}\t${e}${i < elements.length - 1 ? ',' : ''}`), `${indent}}`);
  return out;
}

function mapElementText(e: { readonly ifname: string; readonly chain: string }, verdict: 'goto' | 'jump'): string {
  return `${quoted(e.ifname, 15)} : ${verdict} ${nftName(e.chain)}`;
}

function renderMapBody(map: VerdictMap, indent: string): string[] {
  const out = [`${indent}type ifname : verdict`];
  const elements = [...map.elements].sort((a, b) => compareText(a.ifname, b.ifname)).map((e) => mapElementText(e, map.verdict));
  if (elements.length > 0) out.push(`${indent}elements = {`, ...elements.map((e, i) => `${indent}\t${e}${i < elements.length - 1 ? ',' : ''}`), `${indent}}`);
  return out;
}

/** Throws when two logical names would share an nft name (a hash collision: a bug to report). */
function checkNames(rs: Ruleset): void {
  const seen = new Map<string, string>();
  for (const logical of [...rs.sets.map((s) => s.name), ...rs.maps.map((m) => m.name), ...rs.chains.map((c) => c.name)]) {
    const n = nftName(logical);
    const prev = seen.get(n);
    if (prev !== undefined && prev !== logical) throw new Error(`internal: nft name ${n} for both "${prev}" and "${logical}"`);
    if (prev === logical) throw new Error(`internal: "${logical}" defined twice`);
    seen.set(n, logical);
  }
}

/** The table's full definition, replacing whatever table of that name exists, atomically. */
export function renderNft(rs: Ruleset): string {
  checkNames(rs);
  const t = `${FAMILY} ${rs.table}`;
  const out: string[] = [
    '#!/usr/sbin/nft -f',
    scriptComment(`strata dataplane: table ${t}. Generated from the engine's decisions; do not edit.`),
    ...rs.notes.map((n) => scriptComment(`note: ${n}`)),
    `add table ${t}`,
    `delete table ${t}`,
    `table ${t} {`,
  ];
  const blocks: string[][] = [];
  for (const set of [...rs.sets].sort((a, b) => compareText(a.name, b.name))) {
    blocks.push([`\t${scriptComment(set.comment)}`, `\tset ${nftName(set.name)} {`, ...renderSetBody(set, '\t\t'), '\t}']);
  }
  for (const map of [...rs.maps].sort((a, b) => compareText(a.name, b.name))) {
    blocks.push([`\tmap ${nftName(map.name)} {`, ...renderMapBody(map, '\t\t'), '\t}']);
  }
  const vmapKey = mapKeyResolver(rs.maps);
  for (const chain of sortedChains(rs.chains)) {
    const head = hookText(chain);
    const named = nftName(chain.name) === chain.name ? [] : [`\t${scriptComment(chain.name)}`];
    blocks.push([
      ...named,
      `\tchain ${nftName(chain.name)} {`,
      ...(head === undefined ? [] : [`\t\t${head}`]),
      ...chain.rules.map((r) => `\t\t${renderRule(r, vmapKey)}`),
      '\t}',
    ]);
  }
  blocks.forEach((b, i) => {
    if (i > 0) out.push('');
    out.push(...b);
  });
  out.push('}', '');
  return out.join('\n');
}

/** One nft transaction applying an incremental update; empty when nothing changed. */
export function renderNftUpdate(d: RulesetDiff): string {
  if (d.kind === 'replace') return renderNft(d.next);
  if (d.ops.length === 0) return '';
  const t = `${FAMILY} ${d.table}`;
  const out: string[] = ['#!/usr/sbin/nft -f', scriptComment(`strata dataplane: incremental update of table ${t}`)];
  const vmapKey = mapKeyResolver(d.maps);
  for (const o of d.ops) out.push(...renderOp(o, t, vmapKey));
  out.push('');
  return out.join('\n');
}

function renderOp(o: UpdateOp, t: string, vmapKey: (map: string) => string): string[] {
  switch (o.op) {
    case 'add-chain':
      return [`add chain ${t} ${nftName(o.name)}`];
    case 'add-set':
      return [`add set ${t} ${nftName(o.set.name)} { ${renderSetBody({ ...o.set, elements: [] } as NamedSet, '').join('; ')}; }`];
    case 'add-elements':
    case 'delete-elements': {
      const elements = renderSetElements(o.set);
      if (elements.length === 0) return [];
      const verb = o.op === 'add-elements' ? 'add' : 'delete';
      return [`${verb} element ${t} ${nftName(o.set.name)} { ${elements.join(', ')} }`];
    }
    case 'add-map-elements':
      return o.elements.length === 0 ? [] : [`add element ${t} ${nftName(o.map)} { ${o.elements.map((e) => mapElementText(e, o.verdict)).join(', ')} }`];
    case 'delete-map-elements':
      return o.ifnames.length === 0 ? [] : [`delete element ${t} ${nftName(o.map)} { ${o.ifnames.map((n) => quoted(n, 15)).join(', ')} }`];
    case 'fill-chain': {
      const name = nftName(o.chain.name);
      return [...(o.flush ? [`flush chain ${t} ${name}`] : []), ...o.chain.rules.map((r) => `add rule ${t} ${name} ${renderRule(r, vmapKey)}`)];
    }
    case 'flush-chain':
      return [`flush chain ${t} ${nftName(o.name)}`];
    case 'delete-chain':
      return [`delete chain ${t} ${nftName(o.name)}`];
    case 'delete-set':
      return [`delete set ${t} ${nftName(o.name)}`];
    default:
      return assertNever(o);
  }
}

// ---------------------------------------------------------------------------------------------
// DNS-learned sets, for the node's DNS proxy

export interface DomainSetBinding {
  /** The set's nft name. */
  readonly set: string;
  readonly family: 4 | 6;
  /** The patterns whose answers fill it (sorted, lower case). */
  readonly patterns: readonly string[];
}

/** Which nft set the proxy fills for which domain patterns: the compiler's word, never the proxy's. */
export function renderDomainBindings(rs: Ruleset): DomainSetBinding[] {
  const out: DomainSetBinding[] = [];
  for (const s of [...rs.sets].sort((a, b) => compareText(a.name, b.name))) {
    if ((s.type === 'addr4' || s.type === 'addr6') && s.domains !== undefined) out.push({ set: nftName(s.name), family: s.type === 'addr4' ? 4 : 6, patterns: s.domains });
  }
  return out;
}
