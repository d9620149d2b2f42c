// What every handler shares: the store, the mirror, audit, metrics, and the per-request record
// that audit and metrics are written from.
import type { Datastore } from '../store/index.ts';
import type { AuditLog, ObjectRef } from './audit.ts';
import type { TokenTable, UserInfo } from './authn.ts';
import type { Metrics } from './metrics.ts';
import type { Mirror } from './mirror.ts';

export interface ServerContext {
  readonly store: Datastore;
  readonly mirror: Mirror;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly bookmarkIntervalMs: number;
  /** Where the built console's files are (served at /ui/). */
  readonly consoleDir: string;
  readonly log: (message: string) => void;
  /** The token table (a function, so a reload can swap it). */
  tokensRef(): TokenTable;
  /** Writes validate against the mirror and commit one at a time, so two never validate against the same state. */
  serialize<T>(fn: () => Promise<T>): Promise<T>;
}

/** Filled in while a request is handled; audit and metrics read it when the response is done. */
export interface RequestRecord {
  readonly auditID: string;
  readonly received: Date;
  readonly uri: string;
  readonly sourceIP: string;
  readonly userAgent: string | undefined;
  user: UserInfo | undefined;
  verb: string;
  /** Metrics label: the plural resource, or the endpoint name. */
  resource: string;
  objectRef: ObjectRef | undefined;
  tier: string | undefined;
  decision: 'allow' | 'forbid' | 'unauthenticated' | undefined;
  reason: string | undefined;
  /** True when the request changes state (audited even when it succeeds). */
  writes: boolean;
  /** Set when the handler wrote its own audit events (batch apply: one per document). */
  audited: boolean;
}
