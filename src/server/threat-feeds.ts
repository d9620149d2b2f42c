// The server's threat-feed controller: every GlobalThreatFeed the store holds is pulled on its
// period (src/feeds' FeedScheduler) and its GlobalNetworkSet `threatfeed.<name>` and `status`
// are kept in step, written through the same checks as any write (per-object validation, the
// engine's cross-resource checks and ConnectivityInvariants), in one transaction, audited as the
// server's own identity. Of several servers on one store only the holder of a lease key pulls:
//
//   mirror event on globalthreatfeeds/ ─▶ reconcile (list feeds, plan) ─▶ scheduler.setFeeds
//   lease tick ─▶ acquire / renew / stand by          pull done ─▶ write(set, status, lease CAS)
//
// The lease is fenced: every write carries a compare-and-swap on the lease key at the revision
// this server last wrote it, so a server that lost the lease (paused, partitioned) cannot write
// even before it notices. Expiry is judged as client-go's leader election judges it — by how long
// this server has seen the record unchanged, on its own monotonic clock, never by comparing
// another server's wall-clock stamp with its own.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { checkAllowed, FeedScheduler, networkSetNameOf, planFeed } from '../feeds/index.ts';
import type { AllowEntry, FeedPlan, FeedState, FeedStatus, FetchLimits, FeedUpdate } from '../feeds/index.ts';
import type { Diagnostic } from '../diagnostics/index.ts';
import type { TxnOp } from '../store/index.ts';
import { auditEvent } from './audit.ts';
import type { AuditEvent } from './audit.ts';
import type { UserInfo } from './authn.ts';
import type { ServerContext } from './context.ts';
import { forStorage, metaOf, sameContent, validateObject } from './objects.ts';
import { checkWrites, engineChangesOf } from './rest.ts';
import type { PlannedWrite } from './rest.ts';
import { RESOURCES, objectKey, resourcePrefix, resourceUrl } from './resources.ts';
import type { ResourceInfo } from './resources.ts';

/** The identity the controller's writes are validated and audited as. */
export const THREATFEED_CONTROLLER: UserInfo = { username: 'system:strata:threatfeed-controller', uid: 'strata-threatfeed-controller', groups: ['system:strata'] };

/** The store key of the lease: outside every served resource, so the mirror and watches ignore it. */
export const THREATFEED_LEASE_KEY = '/registry/strata/leases/threatfeeds';

/** Marks a GlobalNetworkSet as produced by a feed: only sets carrying it are ever deleted by the controller. */
export const FEED_ANNOTATION = 'strata.dev/threat-feed';

export interface ThreatFeedOptions {
  /** `--threatfeed-allow`: when given, only these origins are pulled (redirects included). */
  readonly allow?: readonly AllowEntry[] | undefined;
  /** Fetch deadline and size cap (defaults: 30 s, 16 MiB). */
  readonly limits?: Partial<Omit<FetchLimits, 'signal' | 'checkUrl'>> | undefined;
  /** How long a lease not renewed stays another server's (default 15 s). */
  readonly leaseDurationMs?: number | undefined;
  /** How often the lease is renewed or tried (default a third of the duration). */
  readonly renewIntervalMs?: number | undefined;
  /** This server's name in the lease (default host/pid/random). */
  readonly holder?: string | undefined;
}

export interface ThreatFeedController {
  /** Whether this server holds the lease (and pulls). */
  leader(): boolean;
  readonly holder: string;
  /** Stops pulling and releases the lease, so another server takes over at once. */
  close(): Promise<void>;
}

const leaseSchema = z.object({ holder: z.string(), leaseDurationMs: z.number().int().positive(), renewTime: z.string() });
type LeaseRecord = z.output<typeof leaseSchema>;

function infoOf(type: 'GlobalThreatFeed' | 'GlobalNetworkSet'): ResourceInfo {
  const info = RESOURCES.find((r) => r.type === type);
  if (info === undefined) throw new Error(`no resource row for ${type}`);
  return info;
}

/** What the status of a feed records: Calico's GlobalThreatFeedStatus fields plus Strata's detail. */
export function statusOf(s: FeedStatus): Record<string, unknown> {
  const { feed: _feed, ...rest } = s;
  return { ...rest };
}

/** The status of a feed that cannot be pulled at all (spec refused by the planner). */
function refusedStatus(name: string, ds: readonly Diagnostic[]): Record<string, unknown> {
  return {
    networkSet: networkSetNameOf(name),
    disabled: false,
    entries: 0,
    errorConditions: ds.map((d) => ({ type: 'GlobalNetworkSetSyncFailed', message: `${d.path === undefined ? '' : `${d.path}: `}${d.message}` })),
  };
}

function errorsKey(status: unknown): string {
  const e = (status as { errorConditions?: unknown } | undefined)?.errorConditions;
  return JSON.stringify(e ?? []);
}

export function startThreatFeedController(ctx: ServerContext, opts: ThreatFeedOptions = {}): ThreatFeedController {
  const feedInfo = infoOf('GlobalThreatFeed');
  const setInfo = infoOf('GlobalNetworkSet');
  const holder = opts.holder ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const leaseDurationMs = opts.leaseDurationMs ?? 15_000;
  const renewIntervalMs = opts.renewIntervalMs ?? Math.max(100, Math.floor(leaseDurationMs / 3));
  const allow = opts.allow;
  let closed = false;
  /** The lease's modRevision as this server last wrote it; undefined while not the holder. */
  let leaseRevision: number | undefined;
  /** When this server last renewed (monotonic ms). */
  let renewedAt = 0;
  /** Another holder's record as last seen, and since when (monotonic ms) it has not changed. */
  let observed: { revision: number; at: number } | undefined;
  /** The plans of the pullable feeds, and how many feeds the store holds, as of the last reconcile. */
  let plans: FeedPlan[] = [];
  let feedCount = 0;
  /** Feeds whose sets this controller manages, for deleting the set when the feed goes. */
  const managed = new Set<string>();

  const scheduler = new FeedScheduler({
    limits: { ...opts.limits, ...(allow === undefined ? {} : { checkUrl: (u: URL) => checkAllowed(allow, u) }) },
    onUpdate: (u) => onPulled(u),
    onError: (feed, e) => ctx.log(`threatfeeds: ${feed}: ${(e as Error).stack ?? String(e)}`),
  });

  const isLeader = (): boolean => leaseRevision !== undefined && performance.now() - renewedAt < leaseDurationMs;

  const leaseOp = (): TxnOp => {
    const rec: LeaseRecord = { holder, leaseDurationMs, renewTime: new Date().toISOString() };
    return { op: 'put', key: THREATFEED_LEASE_KEY, value: JSON.stringify(rec), expectModRevision: leaseRevision ?? 0 };
  };

  /** Becomes or stays the holder when it may; steps down when it may not. Runs serialized with writes. */
  const tickLease = async (): Promise<void> => {
    if (closed) return;
    if (feedCount === 0 && leaseRevision === undefined) return; // nothing to pull: no lease traffic
    const cur = await ctx.store.get(THREATFEED_LEASE_KEY);
    const now = performance.now();
    let expect: number | undefined;
    if (cur === undefined) expect = 0;
    else {
      const parsed = leaseSchema.safeParse((() => {
        try {
          return JSON.parse(cur.value) as unknown;
        } catch {
          return undefined;
        }
      })());
      if (parsed.success && parsed.data.holder === holder && cur.modRevision === leaseRevision) expect = cur.modRevision;
      else {
        if (observed === undefined || observed.revision !== cur.modRevision) observed = { revision: cur.modRevision, at: now };
        const duration = parsed.success ? parsed.data.leaseDurationMs : leaseDurationMs;
        if (now - observed.at > duration) expect = cur.modRevision;
      }
    }
    if (expect === undefined) return stepDown('another server holds the lease');
    if (feedCount === 0) {
      // No feeds left: give the lease up rather than renew it for nothing.
      if (leaseRevision !== undefined) await ctx.store.txn([{ op: 'delete', key: THREATFEED_LEASE_KEY, expectModRevision: leaseRevision }]);
      return stepDown(undefined);
    }
    const was = leaseRevision;
    leaseRevision = expect;
    const r = await ctx.store.txn([leaseOp()]);
    if (!r.ok) return stepDown('lost the lease to another server');
    leaseRevision = r.revision;
    renewedAt = performance.now();
    observed = undefined;
    if (was === undefined && !closed) {
      ctx.log(`threatfeeds: ${holder} holds the lease: pulling ${feedCount} feed(s)`);
      await collectOrphans();
      scheduler.setFeeds(plans);
      trigger(); // sets of feeds deleted while nobody held the lease, statuses of refused specs
    }
  };

  const stepDown = (why: string | undefined): void => {
    if (leaseRevision !== undefined && why !== undefined) ctx.log(`threatfeeds: ${holder} stops pulling: ${why}`);
    if (leaseRevision !== undefined) for (const feed of managed) ctx.metrics.threatFeedRemoved(feed); // the holder's gauges are the truth
    leaseRevision = undefined;
    if (!closed) scheduler.setFeeds([]);
  };

  /** Marks the sets of feeds deleted while no server held the lease, for the next reconcile to remove. */
  const collectOrphans = async (): Promise<void> => {
    const sets = await ctx.store.list(resourcePrefix(setInfo));
    const feeds = new Set((await ctx.store.list(resourcePrefix(feedInfo))).items.map((o) => o.key.slice(o.key.lastIndexOf('/') + 1)));
    for (const o of sets.items) {
      const feed = (metaOf(JSON.parse(o.value) as Record<string, unknown>) as { annotations?: Record<string, string> }).annotations?.[FEED_ANNOTATION];
      if (feed !== undefined && !feeds.has(feed)) managed.add(feed);
    }
  };

  /** The feeds in the store → plans; feeds whose spec cannot be pulled get that on their status. */
  const reconcile = async (): Promise<void> => {
    if (closed) return;
    const listed = await ctx.store.list(resourcePrefix(feedInfo));
    if (closed) return;
    const next: FeedPlan[] = [];
    const refused: { name: string; ds: readonly Diagnostic[]; status: unknown }[] = [];
    const present = new Set<string>();
    for (const o of listed.items) {
      const obj = JSON.parse(o.value) as Record<string, unknown>;
      const v = validateObject(feedInfo, obj);
      if (!v.ok || v.value.resource?.type !== 'GlobalThreatFeed') continue;
      const name = v.value.resource.name;
      present.add(name);
      const p = planFeed(v.value.resource.body);
      if (p.ok) next.push(p.value);
      else refused.push({ name, ds: p.diagnostics, status: obj['status'] });
    }
    plans = next;
    feedCount = listed.items.length;
    const gone = [...managed].filter((n) => !present.has(n));
    for (const n of next) managed.add(n.name);
    if (isLeader()) scheduler.setFeeds(plans);
    else if (leaseRevision === undefined && feedCount > 0) await ctx.serialize(tickLease);
    if (!isLeader()) return;
    for (const name of gone) await write(name, { kind: 'deleted' });
    for (const r of refused) {
      const status = refusedStatus(r.name, r.ds);
      if (errorsKey(r.status) !== errorsKey(status)) await write(r.name, { kind: 'refused', status });
    }
  };

  type Outcome = { kind: 'pulled'; update: FeedUpdate } | { kind: 'refused'; status: Record<string, unknown> } | { kind: 'deleted' };

  const onPulled = async (u: FeedUpdate): Promise<void> => {
    const state = u.state;
    const err = state.status.lastSyncError;
    const result = err === undefined ? 'success' : err.code.replace(/^feeds\//, '');
    const written = await write(u.feed, { kind: 'pulled', update: u });
    if (written === 'skipped') return; // stale, or no longer the holder: not this server's pull to count
    if (state.status.disabled) return ctx.metrics.threatFeedRemoved(u.feed); // not pulled: no series
    let entries = state.status.entries;
    if (written === 'rejected') {
      // The set in force is the stored one, not the refused one.
      const stored = await ctx.store.get(objectKey(setInfo, undefined, networkSetNameOf(u.feed)));
      const spec = stored === undefined ? undefined : ((JSON.parse(stored.value) as { spec?: { nets?: unknown[]; allowedEgressDomains?: unknown[] } }).spec ?? {});
      entries = (spec?.nets ?? spec?.allowedEgressDomains ?? []).length;
    }
    const last = state.status.lastSuccessfulSync;
    ctx.metrics.threatFeedSynced(u.feed, written === 'rejected' ? 'rejected' : result, entries, last === undefined ? undefined : new Date(last));
  };

  /**
   * One transaction for one feed: its set (put, or delete when the feed is gone or disabled), its
   * status, and the lease compare-and-swap. Retried on a conflict with a concurrent user write.
   */
  const write = (feed: string, outcome: Outcome): Promise<'written' | 'rejected' | 'skipped'> =>
    ctx.serialize(async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (closed || !isLeader()) return 'skipped';
        const feedKey = objectKey(feedInfo, undefined, feed);
        const setName = networkSetNameOf(feed);
        const setKey = objectKey(setInfo, undefined, setName);
        const [feedCur, setCur] = await Promise.all([ctx.store.get(feedKey), ctx.store.get(setKey)]);
        const feedObj = feedCur === undefined ? undefined : (JSON.parse(feedCur.value) as Record<string, unknown>);
        const setObj = setCur === undefined ? undefined : (JSON.parse(setCur.value) as Record<string, unknown>);
        const ours = setObj !== undefined && (metaOf(setObj) as { annotations?: Record<string, string> }).annotations?.[FEED_ANNOTATION] === feed;
        const writes: PlannedWrite[] = [];
        const events: { write: PlannedWrite; verb: string; subresource?: string }[] = [];
        const deleteSet = (): void => {
          if (setCur === undefined || !ours) return;
          const w: PlannedWrite = { info: setInfo, key: setKey, object: undefined, expect: setCur.modRevision, name: setName, namespace: undefined };
          writes.push(w);
          events.push({ write: w, verb: 'delete' });
        };
        let status: Record<string, unknown> | undefined;
        let rejected: string | undefined;
        if (outcome.kind === 'deleted') {
          if (feedObj !== undefined) return 'skipped'; // created again meanwhile
          deleteSet();
        } else {
          if (feedObj === undefined) return 'skipped'; // deleted meanwhile: the reconcile that follows removes the set
          if (outcome.kind === 'refused') status = outcome.status;
          else {
            const state: FeedState = outcome.update.state;
            // A result for a spec the feed no longer has is stale: the rescheduled pull brings the new one.
            const v = validateObject(feedInfo, feedObj);
            const now = v.ok && v.value.resource?.type === 'GlobalThreatFeed' ? planFeed(v.value.resource.body) : undefined;
            if (now === undefined || !now.ok || JSON.stringify(now.value) !== JSON.stringify(state.plan)) return 'skipped';
            status = statusOf(state.status);
            if (state.set === undefined) {
              if (state.plan.enabled === false) deleteSet();
            } else {
              const desired: Record<string, unknown> = {
                ...state.set,
                metadata: { ...state.set.metadata, annotations: { [FEED_ANNOTATION]: feed } },
              };
              const stored = forStorage(setInfo, desired, setObj);
              if (setObj === undefined || !sameContent(setObj, stored)) {
                const w: PlannedWrite = { info: setInfo, key: setKey, object: stored, expect: setCur?.modRevision ?? 0, name: setName, namespace: undefined };
                try {
                  checkWrites(ctx, THREATFEED_CONTROLLER, [w]);
                  writes.push(w);
                  events.push({ write: w, verb: setCur === undefined ? 'create' : 'update' });
                } catch (e) {
                  // Refused like any write (an invariant it would break): the last set stays, the status says why.
                  rejected = (e as { status?: { message?: string } }).status?.message ?? (e as Error).message;
                  status = {
                    ...status,
                    entries: setObj === undefined ? 0 : ((setObj['spec'] as { nets?: unknown[] } | undefined)?.nets?.length ?? 0),
                    lastSyncError: { code: 'feeds/rejected-by-server', message: rejected, at: new Date().toISOString() },
                    errorConditions: [{ type: 'GlobalNetworkSetSyncFailed', message: rejected }],
                  };
                  const { lastSuccessfulSync: _drop, ...rest } = status;
                  const prevOk = (feedObj['status'] as { lastSuccessfulSync?: string } | undefined)?.lastSuccessfulSync;
                  status = prevOk === undefined ? rest : { ...rest, lastSuccessfulSync: prevOk };
                }
              }
            }
          }
          const nextFeed = forStorage(feedInfo, { ...feedObj, status }, feedObj);
          if (!sameContent(feedObj, nextFeed)) {
            const w: PlannedWrite = { info: feedInfo, key: feedKey, object: nextFeed, expect: feedCur!.modRevision, name: feed, namespace: undefined };
            writes.push(w);
            // A status refresh that only moves timestamps is not worth an audit record every period.
            if (writes.length > 1 || errorsKey(feedObj['status']) !== errorsKey(status)) events.push({ write: w, verb: 'update', subresource: 'status' });
          }
        }
        const forget = (): void => {
          if (outcome.kind !== 'deleted') return;
          managed.delete(feed);
          ctx.metrics.threatFeedRemoved(feed);
        };
        if (writes.length === 0) {
          forget();
          return rejected === undefined ? 'written' : 'rejected';
        }
        try {
          // The status write is validated as an object (a GlobalThreatFeed has no effect the engine
          // could check, and running the invariant checks every period for a timestamp would be
          // waste); a set deletion goes through every check, as a user's would (a must-deny
          // invariant may depend on the set).
          engineChangesOf(writes.filter((w) => w.info === feedInfo));
          const deletions = writes.filter((w) => w.info === setInfo && w.object === undefined);
          if (deletions.length > 0) checkWrites(ctx, THREATFEED_CONTROLLER, deletions);
        } catch (e) {
          ctx.log(`threatfeeds: ${feed}: the server refused its own write: ${(e as { status?: { message?: string } }).status?.message ?? (e as Error).message}`);
          return 'rejected';
        }
        const ops: TxnOp[] = writes.map((w) =>
          w.object === undefined ? { op: 'delete', key: w.key, expectModRevision: w.expect } : { op: 'put', key: w.key, value: JSON.stringify(w.object), expectModRevision: w.expect },
        );
        ops.push(leaseOp());
        const r = await ctx.store.txn(ops);
        if (!r.ok) {
          if (r.conflict.key === THREATFEED_LEASE_KEY) {
            stepDown('the lease changed under this server (another server took it)');
            return 'skipped';
          }
          continue; // a user wrote the feed or the set meanwhile: read again
        }
        leaseRevision = r.revision;
        renewedAt = performance.now();
        forget();
        await ctx.mirror.waitFor(r.revision);
        await audit(events);
        return rejected === undefined ? 'written' : 'rejected';
      }
      ctx.log(`threatfeeds: ${feed}: gave up writing after repeated conflicts; the next pull tries again`);
      return 'skipped';
    });

  const audit = async (events: readonly { write: PlannedWrite; verb: string; subresource?: string }[]): Promise<void> => {
    if (events.length === 0) return;
    const auditID = randomUUID();
    const received = new Date();
    const out: AuditEvent[] = events.map((e) =>
      auditEvent({
        auditID,
        requestURI: `${resourceUrl(e.write.info, undefined, e.write.name)}${e.subresource === undefined ? '' : `/${e.subresource}`}`,
        verb: e.verb,
        user: THREATFEED_CONTROLLER,
        sourceIP: '127.0.0.1',
        userAgent: 'strata-threatfeed-controller',
        objectRef: {
          resource: e.write.info.plural,
          ...(e.subresource === undefined ? {} : { subresource: e.subresource }),
          name: e.write.name,
          apiGroup: e.write.info.group,
          apiVersion: e.write.info.version,
        },
        code: 200,
        received,
        decision: 'allow',
        reason: 'the server\'s threat-feed controller',
      }),
    );
    await ctx.audit.record(out).catch((err: unknown) => ctx.log(`audit: ${(err as Error).message}`));
  };

  let pending: Promise<void> = Promise.resolve();
  let queued = false;
  /** Coalesces a burst of feed events into one reconcile after the one running. */
  const trigger = (): void => {
    if (queued || closed) return;
    queued = true;
    pending = pending.then(async () => {
      queued = false;
      await reconcile().catch((e: unknown) => ctx.log(`threatfeeds: reconcile failed: ${(e as Error).message}`));
    });
  };

  const unsubscribe = ctx.mirror.subscribe(resourcePrefix(feedInfo), trigger);
  let ticking = false;
  const ticker = setInterval(() => {
    if (ticking) return; // a slow store: do not queue renewals behind one another
    ticking = true;
    pending = pending.then(() =>
      ctx
        .serialize(tickLease)
        .catch((e: unknown) => ctx.log(`threatfeeds: lease: ${(e as Error).message}`))
        .finally(() => {
          ticking = false;
        }),
    );
  }, renewIntervalMs);
  ticker.unref();
  trigger();

  return {
    holder,
    leader: isLeader,
    async close() {
      closed = true;
      unsubscribe();
      clearInterval(ticker);
      await scheduler.stop();
      await pending.catch(() => undefined);
      if (leaseRevision !== undefined) {
        const rev = leaseRevision;
        leaseRevision = undefined;
        await ctx.serialize(() => ctx.store.txn([{ op: 'delete', key: THREATFEED_LEASE_KEY, expectModRevision: rev }])).catch(() => undefined);
      }
    },
  };
}
