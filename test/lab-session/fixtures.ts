// Shared by the lab-session tests: the skip reason, unique lab ids, manifests as session sources,
// flows files, a pod CIDR that no policy CIDR covers, and readable disagreement reports.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sessionUnavailableReason, parseFlowLines } from '../../src/lab-session/index.ts';
import type { ManifestSource, SessionFlow, SessionProbeResult } from '../../src/lab-session/index.ts';
import { loadPaths } from '../../src/load/index.ts';
import { cidrOverlaps, parseCidrLenient } from '../../src/net/index.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Why these tests cannot run here (a skip reason), or undefined. */
export const sessionSkip: string | undefined = sessionUnavailableReason();

let counter = 0;
/**
 * A lab id no other test run on this machine uses: prefix + pid + counter, ≤ 12 of [a-z0-9].
 * STRATA_TEST_LAB_PREFIX replaces the prefix (several people running root tests on one machine
 * each keep to their own).
 */
export function uniqueLabId(prefix: string): string {
  const own = process.env['STRATA_TEST_LAB_PREFIX'];
  return `${own !== undefined && /^[a-z][a-z0-9]{0,3}$/.test(own) ? own : prefix}${process.pid.toString(36)}${(counter++).toString(36)}`.slice(0, 12);
}

/** Manifests as `strata -f PATH…` loads them. */
export async function sourcesOf(...paths: string[]): Promise<ManifestSource[]> {
  const loaded = await loadPaths(paths);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`cannot load ${paths.join(' ')}: ${JSON.stringify(errors)}`);
  return [...loaded.sources].map(([file, text]) => ({ file, text }));
}

export function flowsOf(file: string): SessionFlow[] {
  const r = parseFlowLines(readFileSync(file, 'utf8'), file);
  if (!r.ok) throw new Error(`bad flows file ${file}: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

const CANDIDATE_POD_CIDRS = ['10.244.0.0/16', '172.30.0.0/16', '100.64.0.0/16', '198.18.0.0/16', '192.168.250.0/24'];

/**
 * A pod CIDR no CIDR written in the manifests overlaps (catch-alls aside). Corpus verdicts for
 * pods without addresses were decided with the pods matched by selectors only; lab addresses
 * inside a policy's ipBlock would change them (the engine and the kernel would still agree).
 */
export function podCidrAvoiding(sources: readonly ManifestSource[]): string {
  const written = sources
    .flatMap((s) => s.text.match(/\b\d{1,3}(?:\.\d{1,3}){3}\/\d{1,2}\b/g) ?? [])
    .map((t) => parseCidrLenient(t))
    .flatMap((r) => (r.ok && r.value.prefix > 0 ? [r.value] : []));
  for (const c of CANDIDATE_POD_CIDRS) {
    const cidr = parseCidrLenient(c);
    if (cidr.ok && !written.some((w) => cidrOverlaps(w, cidr.value))) return c;
  }
  return CANDIDATE_POD_CIDRS[0]!;
}

export function describeResult(r: SessionProbeResult): string {
  const port = r.port === null ? r.protocol : `${r.port}/${r.protocol}`;
  const d = r.decidedBy;
  const by = d === undefined ? '' : ` [engine: ${d.direction ?? '-'} ${d.tier ?? ''} ${d.namespace === undefined ? '' : `${d.namespace}/`}${d.policy ?? ''} ${d.rule ?? d.reason}]`;
  return `${r.from} → ${r.to} ${port}: observed ${r.observed}, engine ${r.engine ?? '-'}${r.expected === undefined ? '' : `, expected ${r.expected}`} (${r.detail})${by}`;
}

/** Every result that is not an agreement (skips aside). */
export function disagreements(results: readonly SessionProbeResult[]): string[] {
  return results.filter((r) => r.agree === false).map(describeResult);
}
