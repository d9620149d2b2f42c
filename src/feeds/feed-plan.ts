// A validated GlobalThreatFeed → what pulling it takes: URL, literal headers, period, content and
// the labels of its network set. Everything Strata cannot honour offline is refused here, with the
// field path, rather than silently pulled without it (secret/config-map header values, JSON and
// CSV formats).
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, formatPath, ok } from '../diagnostics/index.ts';
import type { GlobalThreatFeed } from '../model/global-threat-feed.ts';
import { DEFAULT_PULL_PERIOD_MS, parseGoDuration } from '../model/global-threat-feed.ts';
import type { FieldPath, Origin } from '../model/origin.ts';
import type { Resource } from '../model/index.ts';
import type { FeedContent } from './parse-feed.ts';

export interface FeedPlan {
  /** The GlobalThreatFeed's name. */
  readonly name: string;
  readonly content: FeedContent;
  /** `spec.mode: Disabled` feeds are not pulled. */
  readonly enabled: boolean;
  readonly url: string;
  /** Literal request headers, in order. */
  readonly headers: readonly (readonly [string, string])[];
  /** `spec.pull.period`, default 24h. */
  readonly periodMs: number;
  /** `spec.globalNetworkSet.labels`; empty when the feed gives none. */
  readonly labels: Readonly<Record<string, string>>;
}

/** The GlobalNetworkSet a feed is synced into (Calico's naming). */
export function networkSetNameOf(feedName: string): string {
  return `threatfeed.${feedName}`;
}

export function planFeed(feed: GlobalThreatFeed, origin?: Origin): Result<FeedPlan> {
  const name = feed.metadata.name ?? '';
  const spec = feed.spec;
  const problems: Diagnostic[] = [];
  const at = (path: FieldPath, code: string, message: string): void => {
    problems.push({ code, severity: 'error', message, path: formatPath(path), ...(origin !== undefined ? { span: origin.spanOf(path) } : {}) });
  };
  const http = spec.pull?.http;
  if (http === undefined) {
    at(['spec', 'pull'], 'feeds/no-pull', `GlobalThreatFeed "${name}" has no spec.pull.http: there is nothing to pull (feeds pushed by other means are not supported)`);
    return fail(problems);
  }
  const format = http.format;
  if (format?.json !== undefined) at(['spec', 'pull', 'http', 'format', 'json'], 'feeds/unsupported-format', `GlobalThreatFeed "${name}": the JSON feed format is not supported yet; serve one entry a line (newlineDelimited)`);
  if (format?.csv !== undefined) at(['spec', 'pull', 'http', 'format', 'csv'], 'feeds/unsupported-format', `GlobalThreatFeed "${name}": the CSV feed format is not supported yet; serve one entry a line (newlineDelimited)`);
  const headers: (readonly [string, string])[] = [];
  (http.headers ?? []).forEach((h, i) => {
    const from = h.valueFrom;
    if (from !== undefined) {
      const ref = from.secretKeyRef !== undefined ? 'secretKeyRef' : from.configMapKeyRef !== undefined ? 'configMapKeyRef' : undefined;
      const path: FieldPath = ['spec', 'pull', 'http', 'headers', i, 'valueFrom', ...(ref === undefined ? [] : [ref])];
      at(
        path,
        'feeds/unsupported-header-source',
        `GlobalThreatFeed "${name}": header "${h.name}" takes its value from a ${ref === 'configMapKeyRef' ? 'ConfigMap' : 'Secret'}, which Strata cannot read; give a literal value instead`,
      );
      return;
    }
    headers.push([h.name, h.value ?? '']);
  });
  const period = spec.pull?.period;
  const periodMs = period === undefined ? DEFAULT_PULL_PERIOD_MS : parseGoDuration(period);
  if (periodMs === undefined || periodMs <= 0) at(['spec', 'pull', 'period'], 'feeds/invalid-period', `GlobalThreatFeed "${name}": "${period ?? ''}" is not a positive Go duration`);
  if (problems.length > 0 || periodMs === undefined) return fail(problems);
  return ok({
    name,
    content: spec.content,
    enabled: spec.mode === 'Enabled',
    url: http.url,
    headers,
    periodMs,
    labels: spec.globalNetworkSet?.labels ?? {},
  });
}

/** The plans of every GlobalThreatFeed among `resources` (for the server and the CLI), with the problems of those that cannot be pulled. */
export function planFeeds(resources: readonly Resource[]): { readonly plans: readonly FeedPlan[]; readonly diagnostics: readonly Diagnostic[] } {
  const plans: FeedPlan[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const r of resources) {
    if (r.type !== 'GlobalThreatFeed') continue;
    const p = planFeed(r.body, r.origin);
    if (p.ok) plans.push(p.value);
    else diagnostics.push(...p.diagnostics);
  }
  return { plans, diagnostics };
}
