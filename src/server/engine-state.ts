// Every use of the engine by the server goes through this module: the server's current engine
// resources, validation of a candidate change set against them (cross-resource problems such as
// a policy in a missing tier, or a tier deleted under its policies), and a snapshot for explain
// and matrix. It stands on the engine's live policy store: changes are incremental, snapshots
// O(1).
import type { Diagnostic } from '../diagnostics/index.ts';
import { createPolicyStore, resourceKey } from '../engine/index.ts';
import type { Cluster, ResourceKey, StoreChange } from '../engine/index.ts';
import type { Resource } from '../model/index.ts';

/** One change: put `resource` at `key` (a datastore key), or remove the key (`resource` undefined). */
export interface EngineChange {
  readonly key: string;
  readonly resource: Resource | undefined;
}

export interface Validation {
  readonly ok: boolean;
  /** The errors the change would introduce. */
  readonly diagnostics: readonly Diagnostic[];
}

export interface EngineState {
  validateChanges(changes: readonly EngineChange[]): Validation;
  apply(changes: readonly EngineChange[]): void;
  snapshot(): Cluster;
  /** The validated resource the engine holds under its key (`TYPE/NAMESPACE/NAME`), as written. */
  resource(key: ResourceKey): Resource | undefined;
  /** How many resources the engine holds (for readiness and metrics). */
  size(): number;
}

export function createEngineState(): EngineState {
  const live = createPolicyStore();
  /** Datastore key → the engine's key of the resource stored there. */
  const keys = new Map<string, ResourceKey>();

  const storeChanges = (changes: readonly EngineChange[]): StoreChange[] =>
    changes.flatMap((c): StoreChange[] => {
      const prev = keys.get(c.key);
      if (c.resource === undefined) return prev === undefined ? [] : [{ op: 'remove', key: prev }];
      const k = resourceKey(c.resource);
      return prev !== undefined && prev !== k ? [{ op: 'remove', key: prev }, { op: 'upsert', resource: c.resource }] : [{ op: 'upsert', resource: c.resource }];
    });

  return {
    validateChanges(changes) {
      const sc = storeChanges(changes);
      if (sc.length === 0) return { ok: true, diagnostics: [] };
      const touched = sc.map((c) => (c.op === 'upsert' ? resourceKey(c.resource) : c.key));
      const before = touched.map((k) => live.resource(k));
      // The live store rejects an invalid batch without changing anything; a valid one is taken
      // back at once — the datastore's watch brings it in for good once it is committed.
      const r = live.apply(sc, { onError: 'reject' });
      if (!r.ok) return { ok: false, diagnostics: r.diagnostics.filter((d) => d.severity === 'error') };
      const undo: StoreChange[] = [];
      const seen = new Set<ResourceKey>();
      touched.forEach((k, i) => {
        if (seen.has(k)) return;
        seen.add(k);
        const prev = before[i];
        undo.push(prev === undefined ? { op: 'remove', key: k } : { op: 'upsert', resource: prev });
      });
      live.apply(undo, { onError: 'keep' });
      return { ok: true, diagnostics: [] };
    },
    apply(changes) {
      if (changes.length === 0) return;
      const sc = storeChanges(changes);
      for (const c of changes) {
        if (c.resource === undefined) keys.delete(c.key);
        else keys.set(c.key, resourceKey(c.resource));
      }
      // What is in the datastore is the truth: keep it even where it has errors (another server's
      // write, an older version's data), as Calico keeps a policy of a missing tier.
      if (sc.length > 0) live.apply(sc, { onError: 'keep' });
    },
    snapshot() {
      return live.snapshot();
    },
    resource(key) {
      return live.resource(key);
    },
    size() {
      return keys.size;
    },
  };
}
