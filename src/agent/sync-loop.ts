// The agent's loop: view events → pending changes → (coalesced) one engine batch → one
// programming of the kernel. It owns the live engine store and the agent's sync state.
//
//   watch events ─► pending (by key, last wins) ──after coalesceMs (from the FIRST pending change;
//                                                  later ones do not push it back: no starvation)──►
//   store.apply(batch) ─► ChangeReport ─► nothing touched? skip : programmer.program(snapshot)
//   one run at a time; changes that arrive meanwhile form the next batch.
import type { Diagnostic } from '../diagnostics/index.ts';
import { createPolicyStore, resourceKey } from '../engine/index.ts';
import type { ChangeReport, Cluster, PolicyStore, ResourceKey, StoreChange } from '../engine/index.ts';
import type { NodeSyncState } from '../model/node-status.ts';
import { syntheticOrigin, validateDocument } from '../model/index.ts';
import type { Resource } from '../model/index.ts';
import type { ProgramOutcome, Programmer } from './programmer.ts';
import type { ViewEvent, ViewObject } from './watch-client.ts';

export interface SyncState {
  readonly state: NodeSyncState;
  /** Server revision whose state the kernel holds (0: never programmed by this agent). */
  readonly revision: number;
  /** Newest server revision seen. */
  readonly seenRevision: number;
  readonly serverUp: boolean;
  readonly serverError: string | undefined;
  /** The last compile or nft error (cleared by the next success). */
  readonly lastError: string | undefined;
  readonly lastSync: string | undefined;
  readonly updates: number;
}

export interface SyncLoopOptions {
  readonly programmer: Programmer;
  /** Coalescing window, from the first pending change. Default 5 ms. */
  readonly coalesceMs?: number;
  readonly onProgrammed?: (outcome: ProgramOutcome, cluster: Cluster, revision: number, report: ChangeReport | undefined) => void;
  /** After the conntrack sweep that follows a programming: how many entries were removed. */
  readonly onSwept?: (deleted: number) => void;
  readonly onStateChange?: (s: SyncState) => void;
  readonly log?: (message: string) => void;
}

export interface SyncLoop {
  snapshot(items: readonly ViewObject[], revision: number): void;
  events(events: readonly ViewEvent[], revision: number): void;
  revision(revision: number): void;
  connection(up: boolean, error?: string): void;
  state(): SyncState;
  cluster(): Cluster;
  /** Resolves when nothing is pending or running. */
  idle(): Promise<void>;
  /**
   * Checks that the kernel holds what was last programmed (between batches, never during one);
   * when it does not, reprograms the table whole. Returns false when it had drifted.
   */
  resync(): Promise<boolean>;
  close(): void;
}

function labelOf(o: ViewObject): string {
  const m = (o['metadata'] ?? {}) as { name?: string; namespace?: string };
  return `${String(o['kind'] ?? '?')} ${m.namespace === undefined ? '' : `${m.namespace}/`}${m.name ?? '?'}`;
}

function toResource(o: ViewObject): { resource: Resource | undefined; problem: string | undefined } {
  const r = validateDocument(o, syntheticOrigin(labelOf(o)));
  if (!r.ok) return { resource: undefined, problem: `${labelOf(o)}: ${r.diagnostics.map((d) => d.message).join('; ')}` };
  return { resource: r.value, problem: undefined };
}

function emptyReport(r: ChangeReport): boolean {
  return (
    r.endpoints.added.length + r.endpoints.removed.length + r.endpoints.updated.length + r.plansChanged.length + r.selectors.length +
      r.networkSets.length + r.policies.length + r.tiers.length + r.services.length + r.namespaces.length ===
    0
  );
}

const messageOf = (ds: readonly Diagnostic[]): string => ds.filter((d) => d.severity === 'error').map((d) => `${d.code}: ${d.message}`).join('\n') || 'failed';

export function createSyncLoop(opts: SyncLoopOptions): SyncLoop {
  const store: PolicyStore = createPolicyStore();
  const coalesceMs = opts.coalesceMs ?? 5;
  const log = opts.log ?? ((): void => undefined);
  /** Resource version of every key the store holds (to skip re-listed objects that did not change). */
  const versions = new Map<ResourceKey, string>();
  const pending = new Map<ResourceKey, StoreChange>();
  let pendingRevision = 0;
  let forceProgram = true; // the first run programs even if the engine reports nothing (empty view)
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  let st: SyncState = { state: 'syncing', revision: 0, seenRevision: 0, serverUp: false, serverError: undefined, lastError: undefined, lastSync: undefined, updates: 0 };
  let idleWaiters: (() => void)[] = [];

  const setState = (patch: Partial<SyncState>): void => {
    const next = { ...st, ...patch };
    const derived: NodeSyncState = !next.serverUp && next.lastSync !== undefined ? 'stale' : next.lastError !== undefined ? 'error' : next.lastSync === undefined ? 'syncing' : 'in-sync';
    const changed = derived !== st.state || next.revision !== st.revision || next.lastError !== st.lastError || next.serverUp !== st.serverUp;
    st = { ...next, state: derived };
    if (changed) opts.onStateChange?.(st);
  };

  const rvOf = (o: ViewObject): string => String(((o['metadata'] ?? {}) as { resourceVersion?: string }).resourceVersion ?? '');

  const stage = (type: ViewEvent['type'], o: ViewObject): void => {
    const { resource, problem } = toResource(o);
    if (resource === undefined) {
      // The server validated it; a mismatch means different versions of the model: say so, skip it.
      if (problem !== undefined) log(`ignoring ${problem}`);
      return;
    }
    const key = resourceKey(resource);
    if (type === 'DELETED') {
      if (versions.has(key) || pending.has(key)) pending.set(key, { op: 'remove', key });
      return;
    }
    if (versions.get(key) === rvOf(o) && !pending.has(key)) return;
    pending.set(key, { op: 'upsert', resource });
  };

  const schedule = (): void => {
    if (closed || timer !== undefined || running !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      running = run().finally(() => {
        running = undefined;
        if (pending.size > 0 || (pendingRevision > st.revision && st.lastError === undefined)) schedule();
        else {
          const ws = idleWaiters;
          idleWaiters = [];
          for (const w of ws) w();
        }
      });
    }, coalesceMs);
  };

  const run = async (): Promise<void> => {
    const revision = pendingRevision;
    const batch = [...pending.values()];
    pending.clear();
    let report: ChangeReport | undefined;
    if (batch.length > 0) {
      // Drop removals of keys the store does not hold (a create+delete within one window).
      const changes = batch.filter((c) => c.op === 'upsert' || store.resource(c.key) !== undefined);
      const applied = store.apply(changes, { onError: 'keep' });
      if (applied.ok) report = applied.report;
      else log(`engine refused a batch: ${messageOf(applied.diagnostics)}`);
      for (const c of changes) {
        if (c.op === 'remove') versions.delete(c.key);
        else versions.set(resourceKey(c.resource), String(c.resource.body.metadata?.resourceVersion ?? ''));
      }
    }
    const cluster = store.snapshot();
    if (!forceProgram && st.lastError === undefined && (report === undefined || emptyReport(report))) {
      // Nothing this node could program changed: the kernel already holds this revision's state.
      setState({ revision: Math.max(st.revision, revision), updates: st.updates + 1 });
      opts.onProgrammed?.({ kind: 'unchanged', skipped: true, ops: 0, scriptBytes: 0, ms: 0, diagnostics: [] }, cluster, revision, report);
      return;
    }
    const outcome = await opts.programmer.program(cluster);
    opts.onProgrammed?.(outcome, cluster, revision, report);
    if (outcome.kind === 'failed') {
      setState({ lastError: messageOf(outcome.diagnostics), updates: st.updates + 1 });
      return;
    }
    forceProgram = false;
    setState({ revision, lastError: undefined, lastSync: outcome.kind === 'unchanged' && st.lastSync !== undefined ? st.lastSync : new Date().toISOString(), updates: st.updates + 1 });
    // Flows the new rules deny lose their conntrack entries (before the next batch is programmed).
    if (outcome.kind !== 'unchanged') opts.onSwept?.(await opts.programmer.sweep(cluster));
  };

  return {
    snapshot(items, revision) {
      const keep = new Set<ResourceKey>();
      for (const o of items) {
        const { resource } = toResource(o);
        if (resource !== undefined) keep.add(resourceKey(resource));
        stage('ADDED', o);
      }
      // A re-list (after 410) is the whole truth: whatever it lacks was deleted meanwhile — also
      // what an earlier stream staged and no batch has applied yet.
      for (const key of [...pending.keys()]) if (!keep.has(key) && !versions.has(key)) pending.delete(key);
      for (const key of versions.keys()) if (!keep.has(key)) pending.set(key, { op: 'remove', key });
      pendingRevision = Math.max(pendingRevision, revision);
      setState({ seenRevision: Math.max(st.seenRevision, revision) });
      schedule();
    },
    events(events, revision) {
      for (const e of events) stage(e.type, e.object);
      pendingRevision = Math.max(pendingRevision, revision);
      setState({ seenRevision: Math.max(st.seenRevision, revision) });
      schedule();
    },
    revision(revision) {
      pendingRevision = Math.max(pendingRevision, revision);
      setState({ seenRevision: Math.max(st.seenRevision, revision) });
      if (pendingRevision > st.revision) schedule();
    },
    connection(up, error) {
      setState({ serverUp: up, serverError: up ? undefined : error });
    },
    state: () => st,
    cluster: () => store.snapshot(),
    async resync() {
      while (running !== undefined) await running;
      if (st.lastSync === undefined) return true;
      let same = true;
      running = (async () => {
        same = await opts.programmer.verify();
        if (!same) {
          log('the kernel does not hold the programmed table (changed outside the agent): replacing it');
          forceProgram = true;
        }
      })();
      await running;
      running = undefined;
      // Changes that arrived during the check wait for no further event.
      if (!same || pending.size > 0) schedule();
      if (!same) await this.idle();
      return same;
    },
    idle() {
      if (running === undefined && timer === undefined && pending.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
