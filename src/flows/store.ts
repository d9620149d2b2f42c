// The flow store's contract: what the server's flow endpoints need from storage, so that the
// SQLite store (sqlite-store.ts) can be joined by a column store later without touching the API.
//
//   agent ──FlowBatch──▶ ingest ──▶ buckets (fine, then rolled up to coarse) ──▶ query / stats
//                          │                                                     ▲
//                          └──▶ subscribers (live stream, same filters) ─────────┘ scope (RBAC)
//
// Everything a caller filters on is a `FlowFilter`; everything RBAC restricts is a `FlowScope`.
// The store applies both; the server only translates HTTP and RBAC into them.
import type { FlowBatch, FlowRecord, PolicyHit } from './record.ts';

/** Bucket sizes and how long each level is kept. */
export interface RetentionConfig {
  /** Fine bucket size, ms (default 15 s). */
  readonly fineMs: number;
  /** How long fine buckets are kept, ms (default 1 h). */
  readonly fineRetentionMs: number;
  /** Coarse (roll-up) bucket size, ms; a multiple of `fineMs` (default 5 min). */
  readonly coarseMs: number;
  /** How long coarse buckets are kept, ms (default 30 days). */
  readonly coarseRetentionMs: number;
  /** A coarse window is rolled up this long after it ends, so late records still land in fine buckets (default 60 s). */
  readonly rollupDelayMs: number;
}

export const DEFAULT_RETENTION: RetentionConfig = {
  fineMs: 15_000,
  fineRetentionMs: 3_600_000,
  coarseMs: 300_000,
  coarseRetentionMs: 30 * 86_400_000,
  rollupDelayMs: 60_000,
};

/** A policy named as the API accepts it: `TIER.NAME` (global kinds) or `NS/NAME` (namespaced; `NS/TIER.NAME` also). */
export interface PolicyRef {
  readonly tier: string | undefined;
  readonly namespace: string | undefined;
  readonly name: string;
}

/** Query filters; every field present must match (AND). */
export interface FlowFilter {
  /** Either side's namespace. */
  readonly namespace?: string | undefined;
  /** Either side's endpoint: `NAME` or `NS/NAME`. */
  readonly endpoint?: { readonly namespace: string | undefined; readonly name: string } | undefined;
  /** A hit (enforced or pending) of this policy. */
  readonly policy?: PolicyRef | undefined;
  /** A hit (enforced or pending) in this tier. */
  readonly tier?: string | undefined;
  readonly action?: 'allow' | 'deny' | undefined;
  readonly port?: number | undefined;
  readonly protocol?: string | undefined;
  /** The pending (staged-enforced) verdict differs from the enforced one. */
  readonly pendingDiffers?: boolean | undefined;
}

/**
 * What the caller may see (RBAC). `namespaces`: a flow is visible when at least one side's
 * namespace is in the set ('all': any flow, including ones between two global endpoints).
 * `tiers`: a flow is visible only when every tier its hits name is in the set.
 */
export interface FlowScope {
  readonly namespaces: 'all' | ReadonlySet<string>;
  readonly tiers: 'all' | ReadonlySet<string>;
}

export const FULL_SCOPE: FlowScope = { namespaces: 'all', tiers: 'all' };

export type FlowSort = 'time' | 'packets' | 'bytes' | 'connections';

export interface FlowQuery {
  /** Inclusive start, ms since the epoch. */
  readonly since: number;
  /** Exclusive end, ms. */
  readonly until: number;
  readonly filter: FlowFilter;
  readonly scope: FlowScope;
  readonly sort: FlowSort;
  readonly limit: number;
  /** Keyset position after the last item of the previous page (from `FlowPage.next`). */
  readonly after?: { readonly value: number; readonly key: string } | undefined;
}

export interface FlowPage {
  /** One item per distinct flow over the window: counters summed, startTime/endTime the extremes seen. */
  readonly items: readonly FlowRecord[];
  /** Position to continue from, when there may be more. */
  readonly next?: { readonly value: number; readonly key: string } | undefined;
}

export type StatsDirection = 'ingress' | 'egress';

/** Per policy rule (or per policy, ruleIndex null) and direction: what went through it. */
export interface PolicyRuleStat {
  readonly kind: PolicyHit['kind'];
  readonly tier: string | null;
  readonly namespace: string | null;
  readonly name: string | null;
  readonly direction: StatsDirection;
  readonly ruleIndex: number | null;
  /** The hit's action (a rule has one; end of tier is deny). */
  readonly action: PolicyHit['action'];
  readonly packets: number;
  readonly bytes: number;
  readonly connections: number;
  /** Packets of flows through this hit that were finally allowed. */
  readonly allowed: number;
  /** Packets of flows through this hit that were finally denied. */
  readonly denied: number;
  /** Packets this hit passed on to the next tier. */
  readonly passed: number;
  /** RFC 3339: the end of the last interval that counted here. */
  readonly lastHit: string;
}

export interface StatsQuery {
  readonly since: number;
  readonly until: number;
  readonly scope: FlowScope;
  readonly filter?: Pick<FlowFilter, 'namespace' | 'policy' | 'tier'> | undefined;
}

export interface IngestResult {
  /** Records stored (0 for a duplicate batch). */
  readonly accepted: number;
  /** The batch (agent, boot, seq) was stored before: nothing was added. */
  readonly duplicate: boolean;
  /** Records older than the coarse retention: counted, not stored. */
  readonly expired: number;
}

/** Why a write failed; the batch was not stored and may be sent again. */
export class FlowStoreUnavailable extends Error {
  override readonly name = 'FlowStoreUnavailable';
  /** `busy`: the database is locked; `full`: the disk is full; `io`: another I/O error. */
  readonly reason: 'busy' | 'full' | 'io';
  constructor(reason: 'busy' | 'full' | 'io', message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface FlowStoreStatus {
  readonly backend: string;
  /** The database file, or `:memory:`. */
  readonly location: string;
  readonly retention: RetentionConfig;
  readonly batches: { readonly accepted: number; readonly duplicate: number; readonly failed: number };
  readonly records: { readonly accepted: number; readonly duplicate: number; readonly dropped: number; readonly expired: number };
  /** The last write failure, RFC 3339 time and message. */
  readonly lastError: { readonly time: string; readonly message: string } | null;
  /** Rows per level and distinct flow keys. */
  readonly rows: { readonly fine: number; readonly coarse: number; readonly keys: number };
  /** Database size, bytes (pages × page size). */
  readonly bytes: number;
  /** Coarse windows before this time (RFC 3339) are rolled up. */
  readonly rolledUpTo: string;
}

export type FlowListener = (records: readonly FlowRecord[]) => void;

export interface FlowStore {
  /**
   * Stores a batch once (by agent, boot, seq), merged into buckets; resolves once it is durable.
   * Rejects with FlowStoreUnavailable when it cannot write (locked, disk full): then nothing of
   * the batch is stored.
   */
  ingest(batch: FlowBatch): Promise<IngestResult>;
  /** Records a batch the server refused to store (counted as dropped). */
  noteDropped(records: number, error: Error): void;
  query(q: FlowQuery): FlowPage;
  stats(q: StatsQuery): PolicyRuleStat[];
  /** Called with each stored batch's records after it commits. Returns the unsubscribe function. */
  subscribe(listener: FlowListener): () => void;
  /** Rolls up completed coarse windows and applies retention at `now` (the store's clock when omitted). */
  maintain(now?: number): void;
  status(): FlowStoreStatus;
  close(): void;
}

/** The verdict of a hit list: the last allow or deny (a pass hands on); undefined when none. */
export function verdictOf(hits: readonly PolicyHit[]): 'allow' | 'deny' | undefined {
  for (let i = hits.length - 1; i >= 0; i--) {
    const a = hits[i]!.action;
    if (a !== 'pass') return a;
  }
  return undefined;
}

/** True when the staged-enforced (pending) trace ends in another verdict than the kernel's. */
export function pendingDiffers(r: FlowRecord): boolean {
  if (r.policies.pending.length === 0) return false;
  const v = verdictOf(r.policies.pending);
  return v !== undefined && v !== r.action;
}

function hitMatchesPolicy(h: PolicyHit, p: PolicyRef): boolean {
  // Older Calico spells a tiered policy's name `TIER.NAME`; either spelling of the hit matches.
  if (h.name !== p.name && (p.tier === undefined || h.name !== `${p.tier}.${p.name}`)) return false;
  if (p.namespace !== undefined && h.namespace !== p.namespace) return false;
  if (p.namespace === undefined && h.namespace !== null) return false;
  return p.tier === undefined || h.tier === p.tier;
}

function endpointMatches(e: FlowRecord['source'], want: NonNullable<FlowFilter['endpoint']>): boolean {
  return e.name === want.name && (want.namespace === undefined || e.namespace === want.namespace);
}

/** The filter as a predicate on one record: the live stream's half of the query (the store's SQL is the other). */
export function matchesFilter(r: FlowRecord, f: FlowFilter): boolean {
  if (f.namespace !== undefined && r.source.namespace !== f.namespace && r.destination.namespace !== f.namespace) return false;
  if (f.endpoint !== undefined && !endpointMatches(r.source, f.endpoint) && !endpointMatches(r.destination, f.endpoint)) return false;
  if (f.action !== undefined && r.action !== f.action) return false;
  if (f.port !== undefined && r.port !== f.port) return false;
  if (f.protocol !== undefined && r.protocol !== f.protocol) return false;
  if (f.pendingDiffers !== undefined && pendingDiffers(r) !== f.pendingDiffers) return false;
  const hits = [...r.policies.enforced, ...r.policies.pending];
  if (f.tier !== undefined && !hits.some((h) => h.tier === f.tier)) return false;
  if (f.policy !== undefined && !hits.some((h) => hitMatchesPolicy(h, f.policy!))) return false;
  return true;
}

/** The tiers a record's hits name (enforced, pending and the engine's). */
export function tiersOf(r: FlowRecord): Set<string> {
  const out = new Set<string>();
  for (const h of r.policies.enforced) if (h.tier !== null) out.add(h.tier);
  for (const h of r.policies.pending) if (h.tier !== null) out.add(h.tier);
  for (const h of r.engine?.enforced ?? []) if (h.tier !== null) out.add(h.tier);
  return out;
}

export function inScope(r: FlowRecord, s: FlowScope): boolean {
  if (s.namespaces !== 'all') {
    const src = r.source.namespace;
    const dst = r.destination.namespace;
    if (!((src !== null && s.namespaces.has(src)) || (dst !== null && s.namespaces.has(dst)))) return false;
  }
  if (s.tiers !== 'all') {
    for (const t of tiersOf(r)) if (!s.tiers.has(t)) return false;
  }
  return true;
}
