// Which feed URLs a server may pull: `--threatfeed-allow` entries. A GlobalThreatFeed makes the
// server issue GET requests to a URL anyone allowed to create feeds chooses, and the status shows
// lines of what came back — without a limit, a way to read internal services (cloud metadata
// endpoints, admin ports on loopback) through the server. An entry is `SCHEME://HOST[:PORT]`:
// the scheme must be http or https, HOST a name, an IPv4 address, `[IPv6]`, or `*.DOMAIN`
// (any name under DOMAIN, not DOMAIN itself); without a port any port is allowed.
import type { Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';

export interface AllowEntry {
  readonly scheme: 'http' | 'https';
  /** Lower-cased host; a leading `*.` matches any name below the rest. */
  readonly host: string;
  /** undefined: any port. */
  readonly port: number | undefined;
  /** The entry as written, for messages. */
  readonly text: string;
}

export function parseAllowEntry(text: string): Result<AllowEntry> {
  const m = /^(https?):\/\/(\*\.[^/:]+|\[[0-9a-fA-F:.]+\]|[^/:[\]*]+)(?::(\d{1,5}))?\/?$/.exec(text.trim());
  const bad = (why: string): Result<never> => fail([{ code: 'feeds/bad-allow-entry', severity: 'error', message: `--threatfeed-allow "${text}": ${why}` }]);
  if (m === null) return bad('expected http://HOST[:PORT] or https://HOST[:PORT] (HOST may be *.DOMAIN), without a path');
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return bad(`${port} is not a port`);
  return ok({ scheme: m[1] as 'http' | 'https', host: m[2]!.toLowerCase(), port, text: text.trim() });
}

export function parseAllowList(entries: readonly string[]): Result<readonly AllowEntry[]> {
  const out: AllowEntry[] = [];
  const problems = [];
  for (const e of entries) {
    const r = parseAllowEntry(e);
    if (r.ok) out.push(r.value);
    else problems.push(...r.diagnostics);
  }
  return problems.length > 0 ? fail(problems) : ok(out);
}

function defaultPort(scheme: string): number {
  return scheme === 'https' ? 443 : 80;
}

/** Why `url` may not be pulled under `allow`, or undefined when an entry allows it. */
export function checkAllowed(allow: readonly AllowEntry[], url: URL): string | undefined {
  const scheme = url.protocol.replace(/:$/, '');
  const host = url.hostname.toLowerCase();
  const port = url.port === '' ? defaultPort(scheme) : Number(url.port);
  for (const e of allow) {
    if (e.scheme !== scheme) continue;
    if (e.port !== undefined && e.port !== port) continue;
    const hostOk = e.host.startsWith('*.') ? host.endsWith(e.host.slice(1)) && host.length > e.host.length - 1 : host === e.host;
    if (hostOk) return undefined;
  }
  const list = allow.map((e) => e.text).join(', ');
  return `${scheme}://${url.host} is not in the server's threat-feed allow-list (${list === '' ? 'empty' : list})`;
}
