// Calico Enterprise `GlobalThreatFeed`: a feed of malicious IPs or domains, optionally synced into
// a GlobalNetworkSet named `threatfeed.<name>` that policies match by label. The engine gives the
// resource itself no effect; src/feeds pulls it into that set (`strata threatfeed sync`, the
// server). Upstream: tigera/api pkg/apis/projectcalico/v3/globalthreatfeed.go.
import { z } from 'zod';
import { labelMapSchema } from './object-meta.ts';
import { checkCalicoName } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { crossCheck, oneOf, report, strict, stringRule } from './schema-kit.ts';

/**
 * Calico's API says MinPullPeriod = 5m; Strata accepts periods down to one second so that a lab or
 * a test sees a feed change within seconds (issue: "may be as short as `2s`").
 */
export const MIN_PULL_PERIOD_MS = 1000;

/** Calico's DefaultPullPeriod. */
export const DEFAULT_PULL_PERIOD_MS = 24 * 3600 * 1000;

const MAX_GO_DURATION_MS = 9_223_372_036_854.775;

/** Go's time.ParseDuration, in milliseconds; undefined when it is not a duration. */
export function parseGoDuration(text: string): number | undefined {
  const unit: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1 : 1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  const re = /^([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/;
  while (s !== '') {
    const m = re.exec(s);
    if (m === null || m[1] === '' || m[1] === '.') return undefined;
    total += Number(m[1]) * (unit[m[2] ?? ''] ?? Number.NaN);
    s = s.slice(m[0].length);
  }
  // Go refuses durations beyond int64 nanoseconds (about 292 years).
  return Number.isFinite(total) && total <= MAX_GO_DURATION_MS ? sign * total : undefined;
}

/** Calico accepts only http and https feed URLs (the CRD's `^https?://` pattern plus `url`). */
export function checkFeedUrl(s: string): string | undefined {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return `"${s}" is not a URL: expected http://HOST/PATH or https://HOST/PATH`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `the feed URL must use http or https, got "${u.protocol.slice(0, -1)}" in "${s}"`;
  if (!/^https?:\/\/[^/]/i.test(s) || u.hostname === '') return `the feed URL "${s}" has no host: expected "//HOST" after the scheme`;
  return undefined;
}

const keySelector = strict({
  /** Name of the ConfigMap or Secret. */
  name: z.string().optional(),
  /** Key in it. Required. */
  key: z.string(),
  /** Whether it may be missing. */
  optional: z.boolean().optional(),
});

const headerShape = strict({
  /** Header name; printable ASCII. Required. */
  name: z.string(),
  /** Literal value; excludes valueFrom. */
  value: z.string().optional(),
  /** Value from a ConfigMap or Secret key; excludes value. */
  valueFrom: strict({
    /** A ConfigMap key. */
    configMapKeyRef: keySelector.optional(),
    /** A Secret key. */
    secretKeyRef: keySelector.optional(),
  }).optional(),
});

const headerSchema = headerShape.check(
  crossCheck<z.output<typeof headerShape>>((h, ctx) => {
    if (!/^[\x20-\x7e]+$/.test(h.name)) report(ctx, ['name'], 'header names must be printable ASCII', { code: 'model/invalid-value' });
    if (h.value !== undefined && h.valueFrom !== undefined) report(ctx, ['valueFrom'], 'value and valueFrom are mutually exclusive', { code: 'model/invalid-combination', atKey: true });
  }),
);

const csvShape = strict({
  /** Column number holding the value; excludes fieldName. */
  fieldNum: z.number().int().min(0).optional(),
  /** Column name holding the value (needs header); excludes fieldNum. */
  fieldName: z.string().optional(),
  /** The first row is a header. Default false. */
  header: z.boolean().optional(),
  /** Column delimiter; default ",". */
  columnDelimiter: z.string().optional(),
  /** Comment delimiter. */
  commentDelimiter: z.string().optional(),
  /** Expected columns per record; > 0. */
  recordSize: z.number().int().min(1).optional(),
  /** Accept records of other sizes. Default false. */
  disableRecordSizeValidation: z.boolean().optional(),
});

const csvSchema = csvShape.check(
  crossCheck<z.output<typeof csvShape>>((c, ctx) => {
    const byName = (c.fieldName ?? '') !== '';
    if (c.fieldNum !== undefined && byName) report(ctx, ['fieldName'], 'fieldNum and fieldName are mutually exclusive', { code: 'model/invalid-combination', atKey: true });
    if (c.fieldNum === undefined && !byName) report(ctx, [], 'a CSV format needs fieldNum or fieldName', { code: 'model/missing-field' });
  }),
);

const formatShape = strict({
  /** One entry per line (the default format). */
  newlineDelimited: strict({}).optional(),
  /** JSON; `path` is a JSONPath to the entries. */
  json: strict({ /** JSONPath to the entries. Required. */ path: z.string().min(1) }).optional(),
  /** CSV. */
  csv: csvSchema.optional(),
});

const formatSchema = formatShape.check(
  crossCheck<z.output<typeof formatShape>>((f, ctx) => {
    const n = [f.newlineDelimited, f.json, f.csv].filter((x) => x !== undefined).length;
    if (n > 1) report(ctx, [], 'only one format type may be specified', { code: 'model/invalid-combination' });
  }),
);

const pullSchema = strict({
  /** How often to pull, a Go duration ≥ 5m; default 24h. */
  period: z.string().optional(),
  /** Where and how. Required. */
  http: strict({
    /** Entry format; default newline-delimited. */
    format: formatSchema.optional(),
    /** http:// or https:// URL with a host. Required. */
    url: z.string().check(stringRule('model/invalid-value', checkFeedUrl)),
    /** Request headers. */
    headers: z.array(headerSchema).optional(),
  }),
}).check(
  crossCheck<{ period?: string | undefined }>((p, ctx) => {
    if (p.period === undefined) return;
    const ms = parseGoDuration(p.period);
    if (ms === undefined) report(ctx, ['period'], `"${p.period}" is not a duration (e.g. "24h", "30m")`, { code: 'model/invalid-value' });
    else if (ms < MIN_PULL_PERIOD_MS) report(ctx, ['period'], `the pull period must be at least 1s, got "${p.period}"`, { code: 'model/invalid-value' });
  }),
);

const globalThreatFeedSpecShape = strict({
  /** IPSet (default) or DomainNameSet. */
  content: oneOf(['IPSet', 'DomainNameSet']).default('IPSet'),
  /** Enabled (default) or Disabled. */
  mode: oneOf(['Enabled', 'Disabled']).default('Enabled'),
  /** Human-readable description; ≤ 256 characters. */
  description: z.string().max(256).optional(),
  /** Builtin or Custom (default). */
  feedType: oneOf(['Builtin', 'Custom']).default('Custom'),
  /** Sync the feed into GlobalNetworkSet `threatfeed.<name>` with these labels (IPSet only). */
  globalNetworkSet: strict({ /** Labels of the synced set. */ labels: labelMapSchema.optional() }).optional(),
  /** Pull the feed over HTTP. */
  pull: pullSchema.optional(),
});

export const globalThreatFeedSpecSchema = globalThreatFeedSpecShape.check(
  crossCheck<z.output<typeof globalThreatFeedSpecShape>>((s, ctx) => {
    if (s.content === 'DomainNameSet' && s.globalNetworkSet !== undefined) {
      report(ctx, ['globalNetworkSet'], 'DomainNameSet feeds cannot be synced to a GlobalNetworkSet', { code: 'model/invalid-combination', atKey: true });
    }
  }),
);

export const globalThreatFeedSchema = resourceSchema(
  {
    /** The feed. Required. */
    spec: globalThreatFeedSpecSchema,
    /** Sync status written by the controller; ignored. */
    status: z.looseObject({}).optional(),
  },
  checkCalicoName,
);

export type GlobalThreatFeed = z.output<typeof globalThreatFeedSchema>;
