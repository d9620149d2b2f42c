// One pull of one feed: plan → fetch → parse → the GlobalNetworkSet `threatfeed.<name>` and the
// feed's status. A pull that fails — the server errs, times out, sends too much, or sends more
// bad lines than the threshold allows — changes nothing but the status: the last good set stays in
// force, so a broken feed never opens (or empties) a deny list.
import type { Diagnostic } from '../diagnostics/index.ts';
import type { FetchLimits } from './fetch-feed.ts';
import { DEFAULT_FETCH_LIMITS, fetchFeedText } from './fetch-feed.ts';
import type { FeedPlan } from './feed-plan.ts';
import { networkSetNameOf } from './feed-plan.ts';
import type { FeedLineProblem, ParsedFeed } from './parse-feed.ts';
import { parseFeed } from './parse-feed.ts';

/** The GlobalNetworkSet manifest a feed produces, as `kubectl apply` / `strata -f` read it. */
export interface ThreatFeedNetworkSet {
  readonly apiVersion: 'projectcalico.org/v3';
  readonly kind: 'GlobalNetworkSet';
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>> };
  /** `nets` for IPSet feeds, `allowedEgressDomains` for DomainNameSet feeds. */
  readonly spec: { readonly nets?: readonly string[]; readonly allowedEgressDomains?: readonly string[] };
}

/** What the last pull read (also when it was rejected). */
export interface PullSummary {
  /** Lines holding something other than a comment. */
  readonly lines: number;
  /** Distinct valid entries. */
  readonly entries: number;
  readonly invalidLines: number;
  /** The first invalid lines, with their line numbers (at most MAX_INVALID_SAMPLES). */
  readonly invalidSamples: readonly FeedLineProblem[];
}

export interface FeedStatus {
  readonly feed: string;
  readonly networkSet: string;
  /** `spec.mode: Disabled`: not pulled, no set. */
  readonly disabled: boolean;
  /** ISO time of the last pull, successful or not. */
  readonly lastSyncAttempt?: string;
  /** ISO time of the last pull whose content became the set (Calico's `lastSuccessfulSync`). */
  readonly lastSuccessfulSync?: string;
  /** Why the last pull was rejected; absent after a successful one. */
  readonly lastSyncError?: { readonly code: string; readonly message: string; readonly at: string };
  /** Members of the set in force (the last good one). */
  readonly entries: number;
  readonly lastPull?: PullSummary;
  /** Calico's status shape: one `{type, message}` per current problem. */
  readonly errorConditions: readonly { readonly type: string; readonly message: string }[];
}

export interface FeedState {
  readonly plan: FeedPlan;
  /** The last good set; undefined before the first successful pull or for a disabled feed. */
  readonly set: ThreatFeedNetworkSet | undefined;
  readonly status: FeedStatus;
}

export interface SyncOptions {
  readonly limits?: Partial<FetchLimits>;
  /**
   * Largest share of non-comment lines that may be invalid for a pull to be accepted (its valid
   * lines become the set, the invalid ones are listed on the status). Above it the whole pull is
   * rejected: a feed that is mostly garbage is more likely a wrong URL or an error page than a
   * list with a few typos. Default 0.1.
   */
  readonly maxInvalidFraction?: number;
  readonly now?: () => Date;
}

export const DEFAULT_MAX_INVALID_FRACTION = 0.1;
export const MAX_INVALID_SAMPLES = 10;

export function buildNetworkSet(plan: FeedPlan, parsed: ParsedFeed): ThreatFeedNetworkSet {
  const labels = Object.keys(plan.labels).length > 0 ? { labels: { ...plan.labels } } : {};
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkSet',
    metadata: { name: networkSetNameOf(plan.name), ...labels },
    spec: parsed.content === 'IPSet' ? { nets: [...parsed.entries] } : { allowedEgressDomains: [...parsed.entries] },
  };
}

function summarize(parsed: ParsedFeed): PullSummary {
  return { lines: parsed.entryLines, entries: parsed.entries.length, invalidLines: parsed.invalid.length, invalidSamples: parsed.invalid.slice(0, MAX_INVALID_SAMPLES) };
}

function entriesOf(set: ThreatFeedNetworkSet | undefined): number {
  return (set?.spec.nets ?? set?.spec.allowedEgressDomains ?? []).length;
}

/** The state of a feed never pulled. */
export function initialFeedState(plan: FeedPlan): FeedState {
  return { plan, set: undefined, status: { feed: plan.name, networkSet: networkSetNameOf(plan.name), disabled: !plan.enabled, entries: 0, errorConditions: [] } };
}

/** Whether the parsed content is acceptable, or the diagnostic rejecting it. */
export function judgeParsed(plan: FeedPlan, parsed: ParsedFeed, maxInvalidFraction: number): Diagnostic | undefined {
  const bad = parsed.invalid.length;
  if (bad === 0 || bad <= parsed.entryLines * maxInvalidFraction) return undefined;
  const first = parsed.invalid[0];
  const example = first === undefined ? '' : `; line ${first.line}: ${first.reason}`;
  return {
    code: 'feeds/too-many-invalid-lines',
    severity: 'error',
    message: `feed "${plan.name}": ${bad} of ${parsed.entryLines} lines are not ${plan.content === 'IPSet' ? 'addresses or CIDRs' : 'domain names'} (more than ${Math.round(maxInvalidFraction * 100)}% allowed)${example}`,
  };
}

/** Pulls `plan` once; `previous` holds the last good set to keep if this pull fails. */
export async function pullFeed(plan: FeedPlan, previous: FeedState | undefined, opts: SyncOptions = {}): Promise<FeedState> {
  const now = (opts.now ?? (() => new Date()))().toISOString();
  const base = previous !== undefined && previous.plan.name === plan.name ? previous : initialFeedState(plan);
  if (!plan.enabled) return initialFeedState(plan);
  const limits: FetchLimits = { ...DEFAULT_FETCH_LIMITS, ...opts.limits };
  const fetched = await fetchFeedText(plan.url, plan.headers, limits);
  // A rejected pull keeps the last good set; lastPull then says what this pull read, if anything.
  const rejected = (d: Diagnostic, lastPull: PullSummary | undefined): FeedState => {
    const { lastPull: _previousPull, ...kept } = base.status;
    return {
      plan,
      set: base.set,
      status: {
        ...kept,
        disabled: false,
        lastSyncAttempt: now,
        lastSyncError: { code: d.code, message: d.message, at: now },
        entries: entriesOf(base.set),
        ...(lastPull !== undefined ? { lastPull } : {}),
        errorConditions: [{ type: 'GlobalNetworkSetSyncFailed', message: d.message }],
      },
    };
  };
  if (!fetched.ok) return rejected(fetched.diagnostics[0] ?? { code: 'feeds/network', severity: 'error', message: `GET ${plan.url} failed` }, undefined);
  const parsed = parseFeed(plan.content, fetched.value);
  const verdict = judgeParsed(plan, parsed, opts.maxInvalidFraction ?? DEFAULT_MAX_INVALID_FRACTION);
  if (verdict !== undefined) return rejected(verdict, summarize(parsed));
  const set = buildNetworkSet(plan, parsed);
  const { lastSyncError: _cleared, ...kept } = base.status;
  return {
    plan,
    set,
    status: { ...kept, disabled: false, lastSyncAttempt: now, lastSuccessfulSync: now, entries: entriesOf(set), lastPull: summarize(parsed), errorConditions: [] },
  };
}
