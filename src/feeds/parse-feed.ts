// Feed content → entries. Pure: the text a feed served becomes the canonical members of its set
// plus every line that could not be read, with its line number. `IPSet` lines are addresses or
// CIDRs (bare addresses are /32 or /128, host bits masked as GlobalNetworkSet `nets` are);
// `DomainNameSet` lines are DNS names, lower-cased, without a trailing dot, `*` wildcards as
// Calico's domain fields allow. `#` starts a comment, anywhere on a line; blank lines are skipped.
import type { Cidr } from '../net/index.ts';
import { formatCidr, parseCidrText } from '../net/index.ts';
import { checkDomainName } from '../model/names.ts';

export type FeedContent = 'IPSet' | 'DomainNameSet';

/** A line the parser could not read. */
export interface FeedLineProblem {
  /** 1-based line number in the served text. */
  readonly line: number;
  /** The line without its comment, trimmed. */
  readonly text: string;
  readonly reason: string;
}

export interface ParsedFeed {
  readonly content: FeedContent;
  /** Canonical, deduplicated and sorted members: CIDRs (IPv4 first) or domain names. */
  readonly entries: readonly string[];
  /** Lines that held something other than a comment (valid or not). */
  readonly entryLines: number;
  readonly invalid: readonly FeedLineProblem[];
}

export function parseFeed(content: FeedContent, text: string): ParsedFeed {
  switch (content) {
    case 'IPSet':
      return parseIpSet(text);
    case 'DomainNameSet':
      return parseDomainNameSet(text);
    default: {
      const never: never = content;
      throw new Error(`unknown feed content ${String(never)}`);
    }
  }
}

/** The meaningful lines: comment stripped, trimmed, non-empty, with their line numbers. */
function entryLinesOf(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const lines = text.split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const hash = raw.indexOf('#');
    const t = (hash < 0 ? raw : raw.slice(0, hash)).trim();
    if (t !== '') out.push({ line: i + 1, text: t });
  }
  return out;
}

export function parseIpSet(text: string): ParsedFeed {
  const lines = entryLinesOf(text);
  const invalid: FeedLineProblem[] = [];
  const cidrs = new Map<string, Cidr>();
  for (const l of lines) {
    const r = parseCidrText(l.text);
    if (!r.ok) {
      invalid.push({ line: l.line, text: l.text, reason: r.diagnostics[0]?.message ?? 'not an address or CIDR' });
      continue;
    }
    const c = r.value.cidr;
    cidrs.set(formatCidr(c), c);
  }
  const sorted = [...cidrs.values()].sort(compareCidr);
  return { content: 'IPSet', entries: sorted.map(formatCidr), entryLines: lines.length, invalid };
}

function compareCidr(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  const ab = BigInt(a.base);
  const bb = BigInt(b.base);
  if (ab !== bb) return ab < bb ? -1 : 1;
  return a.prefix - b.prefix;
}

export function parseDomainNameSet(text: string): ParsedFeed {
  const lines = entryLinesOf(text);
  const invalid: FeedLineProblem[] = [];
  const names = new Set<string>();
  for (const l of lines) {
    const name = l.text.toLowerCase().replace(/\.$/, '');
    const problem = name === '' ? 'must not be empty' : checkDomainName(name);
    if (problem !== undefined) {
      invalid.push({ line: l.line, text: l.text, reason: `"${l.text}" is not a domain name: ${problem}` });
      continue;
    }
    names.add(name);
  }
  return { content: 'DomainNameSet', entries: [...names].sort(), entryLines: lines.length, invalid };
}
