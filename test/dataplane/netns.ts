// Throwaway network namespaces for the nft tests: each is named `stdp-<pid>-<n>` (a prefix only
// these tests use), created for one test and deleted by that exact name afterwards. The root
// namespace's ruleset is never touched.
import { spawnSync } from 'node:child_process';
import { labUnavailableReason } from '../../src/lab/system.ts';

/** Why nft cannot be exercised here (a skip reason), or undefined. */
export const nftSkip: string | undefined = labUnavailableReason(['ip', 'nft']);

// STRATA_TEST_LAB_PREFIX (as for lab ids) replaces it, for one person's runs on a shared machine.
const own = process.env['STRATA_TEST_LAB_PREFIX'];
export const NETNS_PREFIX = own !== undefined && /^[a-z][a-z0-9]{0,3}$/.test(own) ? `${own}dp-` : 'stdp-';
let counter = 0;

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: readonly string[], input?: string): Run {
  const r = spawnSync(cmd, args, { input: input ?? '', encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

/** Runs `fn` with a fresh, empty network namespace, deleting it afterwards whatever happens. */
export async function withNetns<T>(fn: (ns: string) => Promise<T> | T): Promise<T> {
  const ns = `${NETNS_PREFIX}${process.pid}-${counter++}`;
  const add = run('ip', ['netns', 'add', ns]);
  if (add.code !== 0) throw new Error(`ip netns add ${ns}: ${add.stderr}`);
  try {
    return await fn(ns);
  } finally {
    run('ip', ['netns', 'delete', ns]);
  }
}

/** `nft ARGS` inside the namespace, the script (if any) on stdin. */
export function nftIn(ns: string, args: readonly string[], input?: string): Run {
  return run('ip', ['netns', 'exec', ns, 'nft', ...args], input);
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function stable(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k]!)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The table as the kernel holds it, independent of how it got there: no handles, counters
 * zeroed, set and map elements sorted, objects keyed by name. Rule order inside a chain is kept.
 */
export function kernelTable(ns: string, table: string): unknown {
  const r = nftIn(ns, ['-j', 'list', 'table', 'inet', table]);
  if (r.code !== 0) throw new Error(`nft list table: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as { nftables: { [k: string]: { [k: string]: Json } }[] };
  const sets: Record<string, Json> = {};
  const chains: Record<string, Json> = {};
  const rules: Record<string, Json[]> = {};
  const scrub = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(scrub);
    if (v !== null && typeof v === 'object') {
      if ('counter' in v && typeof v['counter'] === 'object') return { counter: true };
      const out: { [k: string]: Json } = {};
      for (const [k, x] of Object.entries(v)) if (k !== 'handle') out[k] = scrub(x);
      if (Array.isArray(out['elem'])) out['elem'] = [...out['elem']].sort((a, b) => (stable(a) < stable(b) ? -1 : stable(a) > stable(b) ? 1 : 0));
      return out;
    }
    return v;
  };
  for (const item of doc.nftables) {
    const [kind, body] = Object.entries(item)[0]!;
    if (kind === 'set' || kind === 'map') sets[`${kind}:${String(body['name'])}`] = scrub(body);
    else if (kind === 'chain') chains[String(body['name'])] = scrub(body);
    else if (kind === 'rule') (rules[String(body['chain'])] ??= []).push(scrub(body));
  }
  const sorted = (o: Record<string, Json | Json[]>): Record<string, Json | Json[]> => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { sets: sorted(sets), chains: sorted(chains), rules: sorted(rules) };
}
