// The dataplane IR: a small, backend-neutral description of one node's packet filter — named
// address sets, interface dispatch maps and chains of `{matches, statements, verdict}` rules. The
// compiler (compile.ts) produces it from engine decisions; renderers (render-nft.ts) turn it into
// a backend's text; diff.ts compares two of them. Plain readonly data, no behaviour beyond small
// pure helpers that keep its invariants (sorted, non-overlapping elements), the provenance
// grammar of rule comments and the compact decision ids deciding rules record in the kernel.
//
//   Ruleset ─┬─ sets:   name → typed elements (addresses/CIDRs, or address·protocol·port triples)
//            ├─ maps:   interface name → goto chain (workload dispatch)
//            └─ chains: base (hooked) or regular; rules evaluated in order, first verdict wins
//
// Names in the IR are *logical*: unique strings such as `po/gnp/allow-dns` that a backend maps to
// its own legal identifiers (nft: prefix + readable part + short hash, see render-nft.ts).
import { createHash } from 'node:crypto';

/** 4 or 6. */
export type IpFamily = 4 | 6;

// ---------------------------------------------------------------------------------------------
// Sets

export type SetType = 'addr4' | 'addr6' | 'addr4-proto-port' | 'addr6-proto-port';

/** One element of an address·protocol·port set (named ports, Service backends). */
export interface ProtoPortElement {
  /** Canonical address text (no prefix length). */
  readonly address: string;
  /** IANA protocol number. */
  readonly protocol: number;
  readonly port: number;
}

export type NamedSet =
  | {
      readonly name: string;
      readonly type: 'addr4' | 'addr6';
      /** Canonical CIDR text (`10.0.0.1/32`), sorted, none containing another. */
      readonly elements: readonly string[];
      /** What the set stands for (a selector's canonical text, a Service, …), for readers. */
      readonly comment: string;
      /**
       * A DNS-learned set: its elements are the addresses a node's DNS proxy learns from answers
       * for names matching these patterns (sorted, lower case; engine/domains.ts semantics), each
       * with the answer's TTL (`flags timeout`). The compiler gives it no elements; the kernel's
       * are the proxy's and no diff ever touches them. Absent for every other set.
       */
      readonly domains?: readonly string[];
    }
  | {
      readonly name: string;
      readonly type: 'addr4-proto-port' | 'addr6-proto-port';
      /** Sorted by address, protocol, port; no duplicates. */
      readonly elements: readonly ProtoPortElement[];
      readonly comment: string;
    };

export function setTypeFamily(t: SetType): IpFamily {
  return t === 'addr4' || t === 'addr4-proto-port' ? 4 : 6;
}

// ---------------------------------------------------------------------------------------------
// Verdict maps (interface dispatch)

export interface MapElement {
  readonly ifname: string;
  /** Logical name of the chain the packet goes to. */
  readonly chain: string;
}

export interface VerdictMap {
  readonly name: string;
  /** What the map is keyed on. */
  readonly key: 'iifname' | 'oifname';
  /** How the element's chain is entered: `goto` (no return into the dispatching chain). */
  readonly verdict: 'goto' | 'jump';
  /** Sorted by interface name; interface names unique. */
  readonly elements: readonly MapElement[];
}

// ---------------------------------------------------------------------------------------------
// Matches

export type AddrSide = 'saddr' | 'daddr';
export type PortSide = 'sport' | 'dport';
export type CtState = 'established' | 'related' | 'invalid' | 'new' | 'untracked';

/** An inclusive port range; a single port has min === max. */
export interface PortSpan {
  readonly min: number;
  readonly max: number;
}

export type Match =
  /** The packet's IP family. */
  | { readonly kind: 'nfproto'; readonly family: IpFamily }
  | { readonly kind: 'iifname' | 'oifname'; readonly names: readonly string[] }
  | { readonly kind: 'ct-state'; readonly states: readonly CtState[] }
  /** `mark & bits == (isSet ? bits : 0)`. */
  | { readonly kind: 'mark'; readonly bits: number; readonly isSet: boolean }
  /** L4 protocol in (or, negated, not in) the list of protocol numbers. */
  | { readonly kind: 'l4proto'; readonly protocols: readonly number[]; readonly negate: boolean }
  /** Address in a named set of the same family. */
  | { readonly kind: 'addr-set'; readonly side: AddrSide; readonly family: IpFamily; readonly set: string; readonly negate: boolean }
  /** Address in a literal CIDR list (canonical text, normalised like set elements; never empty). */
  | { readonly kind: 'addr-cidrs'; readonly side: AddrSide; readonly family: IpFamily; readonly cidrs: readonly string[]; readonly negate: boolean }
  /** Transport port in one of the ranges (sorted, merged; never empty). Needs a port protocol. */
  | { readonly kind: 'port'; readonly side: PortSide; readonly ranges: readonly PortSpan[]; readonly negate: boolean }
  /** (address, L4 protocol, port) of one side in an address·protocol·port set. */
  | {
      readonly kind: 'addr-proto-port-set';
      readonly side: 'src' | 'dst';
      readonly family: IpFamily;
      readonly set: string;
      readonly negate: boolean;
    }
  /**
   * ICMP (family 4) or ICMPv6 (family 6) type, and code when given. Negated means
   * NOT(type == T [and code == C]) — Calico's API meaning — still only for ICMP packets.
   */
  | { readonly kind: 'icmp'; readonly family: IpFamily; readonly type: number; readonly code: number | undefined; readonly negate: boolean };

// ---------------------------------------------------------------------------------------------
// Statements and verdicts

/** Non-terminal statements, executed in order after the matches hold. */
export type Statement =
  | { readonly kind: 'set-mark'; readonly bits: number }
  | { readonly kind: 'clear-mark'; readonly bits: number }
  | { readonly kind: 'log'; readonly prefix: string }
  /**
   * Record the decision in the kernel: the packet goes to nflog `group` with the rule's compact
   * decision id as its prefix (`DECISION_PREFIX` + id), where a collector reads it (flowlog/).
   * Only on rules that decide a new connection (allow, deny, pass, end-of-tier, no-profile).
   */
  | { readonly kind: 'record'; readonly group: number; readonly id: string };

export type Verdict =
  | { readonly kind: 'accept' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'return' }
  | { readonly kind: 'jump'; readonly chain: string }
  | { readonly kind: 'goto'; readonly chain: string }
  /** Look the packet's interface up in a verdict map and follow the element's verdict. */
  | { readonly kind: 'vmap'; readonly map: string };

export interface Rule {
  /** All must hold (AND). An empty list always matches. */
  readonly matches: readonly Match[];
  /** Count packets and bytes that matched. */
  readonly counter: boolean;
  readonly statements: readonly Statement[];
  /** Undefined: continue with the next rule. */
  readonly verdict: Verdict | undefined;
  /** Provenance (see formatProvenance), at most COMMENT_MAX bytes once rendered. */
  readonly comment: string;
}

// ---------------------------------------------------------------------------------------------
// Chains and the ruleset

export interface BaseHook {
  readonly type: 'filter';
  readonly hook: 'forward' | 'input' | 'output';
  /** nft priority; 0 is `filter`. */
  readonly priority: number;
  readonly policy: 'accept' | 'drop';
}

export type ChainRole = 'base' | 'dispatch' | 'endpoint' | 'policy' | 'profile';

export interface Chain {
  /** Logical name, unique in the ruleset. */
  readonly name: string;
  readonly role: ChainRole;
  /** Present for base chains only. */
  readonly hook: BaseHook | undefined;
  readonly rules: readonly Rule[];
}

export interface Ruleset {
  /** Table name (one `inet` table holds both families). */
  readonly table: string;
  /** Sorted by name. */
  readonly sets: readonly NamedSet[];
  /** Sorted by name. */
  readonly maps: readonly VerdictMap[];
  /** Base chains first, then by name. */
  readonly chains: readonly Chain[];
  /**
   * What the dataplane cannot enforce exactly as the engine decides (e.g. domain names, enforced
   * by the addresses a DNS proxy learns). Empty when the ruleset is exact.
   */
  readonly notes: readonly string[];
  /**
   * The compact id → provenance table of every rule that records its decision (sorted by id):
   * what a collector needs to turn an nflog prefix back into a policy rule. Ids are a hash of the
   * provenance text only, so they are the same on every node and across recompiles.
   */
  readonly decisions: readonly DecisionEntry[];
}

/** One row of the decision table: `id` is what the kernel logs, `provenance` what it stands for. */
export interface DecisionEntry {
  readonly id: string;
  /** formatProvenance text (kind rule, end-of-tier or no-profile). */
  readonly provenance: string;
}

/** Start of every decision prefix in nflog: a version tag, so an older collector can refuse newer ids. */
export const DECISION_PREFIX = 'sd1:';
/** Hex digits of a decision id (48 bits of sha256: collisions among a node's rules are negligible, and checked). */
export const DECISION_ID_HEX = 12;
/** Default nflog group of decision records (Calico uses 1 and 2 for its own flow logs). */
export const DEFAULT_DECISION_GROUP = 1;

/** The decision id of a provenance: the first DECISION_ID_HEX hex digits of its sha256. */
export function decisionId(provenance: string): string {
  return createHash('sha256').update(provenance).digest('hex').slice(0, DECISION_ID_HEX);
}

const DECISION_RE = new RegExp(`^${DECISION_PREFIX}([0-9a-f]{${DECISION_ID_HEX}})$`);

/** The decision id in an nflog prefix, or undefined for a prefix that is not a decision record. */
export function parseDecisionPrefix(prefix: string): string | undefined {
  return DECISION_RE.exec(prefix)?.[1];
}

// ---------------------------------------------------------------------------------------------
// Marks (Calico's bit allocation, felix/dataplane/driver.go)

/** Set by a policy chain whose rule allowed the packet; the endpoint chain then returns. */
export const MARK_ACCEPT = 0x10000;
/** Set by a policy chain whose rule passed the packet to the next tier. */
export const MARK_PASS = 0x20000;
/**
 * Scratch bit (Calico's scratch0): a Log rule split into alternatives logs a packet once — the
 * first alternative that matches sets it, the others require it clear, a last rule clears it.
 */
export const MARK_SCRATCH = 0x80000;

// ---------------------------------------------------------------------------------------------
// Invariant helpers

/** Sorts and merges overlapping or adjacent ranges, so a backend never sees conflicting intervals. */
export function normalizePortSpans(ranges: readonly PortSpan[]): PortSpan[] {
  const sorted = [...ranges].sort((a, b) => a.min - b.min || a.max - b.max);
  const out: PortSpan[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.min <= last.max + 1) {
      if (r.max > last.max) out[out.length - 1] = { min: last.min, max: r.max };
    } else {
      out.push({ min: r.min, max: r.max });
    }
  }
  return out;
}

export function compareProtoPort(a: ProtoPortElement, b: ProtoPortElement, compareAddress: (x: string, y: string) => number): number {
  return compareAddress(a.address, b.address) || a.protocol - b.protocol || a.port - b.port;
}

// ---------------------------------------------------------------------------------------------
// Provenance: what a rule comment says, so counters read back from the kernel can be attributed
// to a policy rule, an end-of-tier drop or a profile, as the engine's explanations are.
//
//   <pid> <dir> <index> <action>                 a policy or profile rule   gnp/deny-all ingress 0 deny
//   <pid> <dir> end-of-tier deny tier=<tier>     the tier's implicit drop   np/prod/web egress end-of-tier deny tier=default
//   ep/<endpoint> <dir> no-profile deny          no profile allowed         ep/prod/web-1 ingress no-profile deny
//   ep/<endpoint> <dir> conntrack <state>        established/related accept, invalid drop
//   anything else                                structure (mark handling, jumps, dispatch)
//
// <pid> is Calico's policy id (`<shortKind>/<name>`, `<shortKind>/<ns>/<name>`) or `pro/<profile>`.

export type Direction = 'ingress' | 'egress';
export type RuleActionName = 'allow' | 'deny' | 'pass' | 'log';

export type Provenance =
  | { readonly kind: 'rule'; readonly policy: string; readonly direction: Direction; readonly index: number; readonly action: RuleActionName }
  | { readonly kind: 'end-of-tier'; readonly policy: string; readonly direction: Direction; readonly tier: string }
  | { readonly kind: 'no-profile'; readonly endpoint: string; readonly direction: Direction }
  | { readonly kind: 'conntrack'; readonly endpoint: string; readonly direction: Direction; readonly state: 'established' | 'invalid' }
  | { readonly kind: 'structure'; readonly text: string };

export function formatProvenance(p: Provenance): string {
  switch (p.kind) {
    case 'rule':
      return `${p.policy} ${p.direction} ${p.index} ${p.action}`;
    case 'end-of-tier':
      return `${p.policy} ${p.direction} end-of-tier deny tier=${p.tier}`;
    case 'no-profile':
      return `ep/${p.endpoint} ${p.direction} no-profile deny`;
    case 'conntrack':
      return `ep/${p.endpoint} ${p.direction} conntrack ${p.state}`;
    case 'structure':
      return p.text;
    default:
      return assertNever(p);
  }
}

const RULE_RE = /^(\S+) (ingress|egress) (\d+) (allow|deny|pass|log)$/;
const EOT_RE = /^(\S+) (ingress|egress) end-of-tier deny tier=(\S+)$/;
const NO_PROFILE_RE = /^ep\/(\S+) (ingress|egress) no-profile deny$/;
const CONNTRACK_RE = /^ep\/(\S+) (ingress|egress) conntrack (established|invalid)$/;

/** The inverse of formatProvenance (for comments read back with counters). */
export function parseProvenance(comment: string): Provenance {
  let m = RULE_RE.exec(comment);
  if (m !== null) {
    return { kind: 'rule', policy: m[1]!, direction: m[2] as Direction, index: Number(m[3]), action: m[4] as RuleActionName };
  }
  m = EOT_RE.exec(comment);
  if (m !== null) return { kind: 'end-of-tier', policy: m[1]!, direction: m[2] as Direction, tier: m[3]! };
  m = NO_PROFILE_RE.exec(comment);
  if (m !== null) return { kind: 'no-profile', endpoint: m[1]!, direction: m[2] as Direction };
  m = CONNTRACK_RE.exec(comment);
  if (m !== null) return { kind: 'conntrack', endpoint: m[1]!, direction: m[2] as Direction, state: m[3] as 'established' | 'invalid' };
  return { kind: 'structure', text: comment };
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
