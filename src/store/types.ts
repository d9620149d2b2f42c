// The datastore contract the API server stands on: keys with revisions, all-or-nothing
// transactions, list at a revision, watch from a revision, compaction. SQLite (embedded, the
// default) and etcd v3 implement it with the same semantics; see README.md.
import { z } from 'zod';

/** One stored object: the whole object as JSON text, with etcd-style revisions. */
export interface StoredObject {
  readonly key: string;
  /** JSON text of the whole object (the store does not parse it). */
  readonly value: string;
  /** Revision of the put that created this key (since its last delete). */
  readonly createRevision: number;
  /** Revision of the last put to this key. */
  readonly modRevision: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  readonly type: WatchEventType;
  readonly key: string;
  /** The new value; for DELETED the last value before the delete. */
  readonly value: string;
  /** The revision of the change (for DELETED: the revision of the delete). */
  readonly revision: number;
}

export type TxnOp =
  | {
      readonly op: 'put';
      readonly key: string;
      readonly value: string;
      /** Compare-and-swap on the key's modRevision; 0 = the key must not exist. */
      readonly expectModRevision?: number;
    }
  | {
      readonly op: 'delete';
      readonly key: string;
      /** Compare on the key's modRevision; 0 = the key must not exist (a no-op delete). */
      readonly expectModRevision?: number;
    };

export interface TxnOpResult {
  readonly key: string;
  /** The revision of the txn for puts and deletes of existing keys; 0 for a delete of an absent key. */
  readonly modRevision: number;
  /** The object before this op, when it existed. */
  readonly prev?: StoredObject;
}

export type TxnResult =
  | { readonly ok: true; readonly revision: number; readonly results: readonly TxnOpResult[] }
  | {
      readonly ok: false;
      readonly conflict: { readonly key: string; readonly expected: number; /** 0 = absent */ readonly actual: number };
    };

export interface ListOptions {
  /** List the state as of this revision (0 or absent: the current revision). */
  readonly revision?: number;
  /** At most this many items (0 or absent: no limit). */
  readonly limit?: number;
  /** Start strictly after this key (a continue token from the previous page's last key). */
  readonly continueAfter?: string;
}

export interface ListResult {
  /** Items in key order (byte order of the UTF-8 key). */
  readonly items: readonly StoredObject[];
  /** The revision the list was taken at: pass it back as `revision` to page consistently. */
  readonly revision: number;
  /** True when `limit` cut the list short. */
  readonly more: boolean;
}

export interface Watch {
  close(): void;
  /** Resume delivery after onEvent returned `false` (backpressure; see README). */
  resume(): void;
}

export interface Datastore {
  readonly kind: 'sqlite' | 'etcd';
  /** The current store revision (the revision of the last committed change). */
  revision(): Promise<number>;
  get(key: string): Promise<StoredObject | undefined>;
  /** List keys under `prefix` at a revision; throws CompactedError below the compacted revision. */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /** All-or-nothing; one new revision for the whole batch. Conflicts are values, not throws. */
  txn(ops: readonly TxnOp[]): Promise<TxnResult>;
  /**
   * Events with revision > fromRevision under `prefix`, in revision order, batched per
   * revision or more. onError fires at most once and ends the watch: CompactedError when
   * fromRevision < the compacted revision (→ HTTP 410), WatchOverflowError for a consumer that
   * falls too far behind (→ 410 + re-list), StoreUnavailableError when the backend is gone.
   */
  watch(
    prefix: string,
    fromRevision: number,
    /** May return `false` to pause delivery until resume(); a paused watcher past its buffer is dropped. */
    onEvent: (events: readonly WatchEvent[]) => void | boolean,
    onError: (e: StoreError) => void,
  ): Watch;
  /** Forget history below `revision`: list/watch at older revisions then fail with CompactedError. */
  compact(revision: number): Promise<void>;
  compactedRevision(): Promise<number>;
  close(): Promise<void>;
}

export type StoreErrorCode =
  | 'compacted'
  | 'future-revision'
  | 'watch-overflow'
  | 'unavailable'
  | 'closed'
  | 'bad-spec'
  | 'invalid-argument'
  | 'corrupt';

/** Every error a Datastore throws or reports is a StoreError with a stable code. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** The requested revision is below the compacted revision (HTTP 410 Gone). */
export class CompactedError extends StoreError {
  readonly requestedRevision: number;
  readonly compactedRevision: number;
  constructor(requestedRevision: number, compactedRevision: number) {
    super('compacted', `revision ${requestedRevision} has been compacted (compacted revision ${compactedRevision})`);
    this.name = 'CompactedError';
    this.requestedRevision = requestedRevision;
    this.compactedRevision = compactedRevision;
  }
}

/** A watch consumer fell more than the buffer behind and was dropped (HTTP 410, re-list). */
export class WatchOverflowError extends StoreError {
  constructor(message: string) {
    super('watch-overflow', message);
    this.name = 'WatchOverflowError';
  }
}

/** The requested revision is above the current revision (kube-apiserver: "Too large resource version"). */
export class FutureRevisionError extends StoreError {
  readonly requestedRevision: number;
  readonly currentRevision: number;
  constructor(requestedRevision: number, currentRevision: number) {
    super('future-revision', `revision ${requestedRevision} is newer than the current revision ${currentRevision}`);
    this.name = 'FutureRevisionError';
    this.requestedRevision = requestedRevision;
    this.currentRevision = currentRevision;
  }
}

/** The backend cannot be reached (all etcd endpoints down, database closed underneath). */
export class StoreUnavailableError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Zod schemas for what the stores decode from disk or the network. */
export const storedObjectSchema = z.object({
  key: z.string(),
  value: z.string(),
  createRevision: z.number().int().nonnegative(),
  modRevision: z.number().int().nonnegative(),
});

export const txnOpSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('put'), key: z.string().min(1), value: z.string(), expectModRevision: z.number().int().nonnegative().optional() }),
  z.object({ op: z.literal('delete'), key: z.string().min(1), expectModRevision: z.number().int().nonnegative().optional() }),
]);
