// `strata threatfeed sync`: pull every GlobalThreatFeed in the manifests once and print (or write)
// the GlobalNetworkSets `threatfeed.<name>` they produce, as manifests other commands read back
// (`strata explain -f cluster/ -f sets.yaml`). Exit 0 when every enabled feed was pulled, 1 when
// any failed (the good sets are still printed), 2 for bad flags or invalid manifests.
import { rename, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { Diagnostic } from '../../diagnostics/index.ts';
import { hasErrors, renderDiagnostics } from '../../diagnostics/index.ts';
import { loadPaths } from '../../load/index.ts';
import type { FeedPlan, FeedState, ThreatFeedNetworkSet } from '../../feeds/index.ts';
import { DEFAULT_FETCH_LIMITS, planFeeds, pullFeed } from '../../feeds/index.ts';
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';

export interface ThreatFeedSyncOptions {
  readonly filename: readonly string[];
  readonly output: string;
  readonly out?: string | undefined;
  readonly timeout?: string | undefined;
  readonly maxBytes?: string | undefined;
  readonly quiet?: boolean | undefined;
}

function positiveInt(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^[1-9][0-9]*$/.test(v)) throw new UsageError(`--${flag} must be a positive integer, got "${v}"`);
  return Number(v);
}

/** Manifests in the order given: YAML documents, or one JSON `List` (as kubectl prints them). */
export function formatNetworkSets(sets: readonly ThreatFeedNetworkSet[], output: 'yaml' | 'json'): string {
  if (output === 'json') return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: sets }, null, 2) + '\n';
  return sets.map((s) => stringify(s, { lineWidth: 0 })).join('---\n');
}

function describe(state: FeedState): string {
  const s = state.status;
  const pull = s.lastPull;
  const skipped =
    pull !== undefined && pull.invalidLines > 0
      ? `; ${pull.invalidLines} invalid line${pull.invalidLines === 1 ? '' : 's'} skipped (${pull.invalidSamples.map((p) => `line ${p.line}: ${p.reason}`).join('; ')})`
      : '';
  return `${s.networkSet}: ${s.entries} entr${s.entries === 1 ? 'y' : 'ies'} from ${state.plan.url}${skipped}`;
}

export async function runThreatFeedSync(io: Io, opts: ThreatFeedSyncOptions): Promise<number> {
  if (opts.output !== 'yaml' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: threatfeed sync prints yaml or json`);
  const output = opts.output;
  if (opts.filename.length === 0) throw new UsageError('threatfeed sync needs at least one -f PATH');
  const limits = { timeoutMs: positiveInt('timeout', opts.timeout, DEFAULT_FETCH_LIMITS.timeoutMs), maxBytes: positiveInt('max-bytes', opts.maxBytes, DEFAULT_FETCH_LIMITS.maxBytes) };

  const loaded = await loadPaths(opts.filename, { readStdin: io.readStdin });
  const render = (ds: readonly Diagnostic[]): string => renderDiagnostics(ds, { source: (f) => loaded.sources.get(f), color: io.stderrColor });
  const loadErrors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (hasErrors(loadErrors)) {
    io.err(render(loadErrors));
    return EXIT.USAGE;
  }

  const feedCount = loaded.resources.filter((r) => r.type === 'GlobalThreatFeed').length;
  if (feedCount === 0 && opts.quiet !== true) io.err('strata: no GlobalThreatFeed in the manifests: nothing to pull');
  const planned = planFeeds(loaded.resources);
  const planErrors = planned.diagnostics;
  let failed = planErrors.length > 0;
  const plans: FeedPlan[] = [];
  for (const p of planned.plans) {
    if (p.enabled) plans.push(p);
    else if (opts.quiet !== true) io.err(`strata: GlobalThreatFeed "${p.name}" is Disabled: not pulled`);
  }
  if (planErrors.length > 0) io.err(render(planErrors));

  // Feeds are independent: pull them all at once, report in manifest order.
  const states = await Promise.all(plans.map((p) => pullFeed(p, undefined, { limits })));
  const sets: ThreatFeedNetworkSet[] = [];
  for (const state of states) {
    const err = state.status.lastSyncError;
    if (err !== undefined) {
      failed = true;
      io.err(`strata: GlobalThreatFeed "${state.plan.name}": ${err.code}: ${err.message}`);
      continue;
    }
    if (state.set !== undefined) sets.push(state.set);
    if (opts.quiet !== true) io.err(`strata: ${describe(state)}`);
  }

  const text = formatNetworkSets(sets, output);
  if (opts.out === undefined) {
    if (text !== '') io.out(text.replace(/\n$/, ''));
  } else {
    // Write-then-rename: a reader of --out never sees half a file.
    const tmp = `${opts.out}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, opts.out);
  }
  return failed ? EXIT.FINDINGS : EXIT.OK;
}
