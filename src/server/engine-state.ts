// Every use of the engine by the server goes through this module: the server's current engine
// resources, validation of a candidate change set against them (cross-resource problems such as
// a policy in a missing tier, or a tier deleted under its policies, and the ConnectivityInvariants
// the change would break), a preview of a change set (the live snapshot and the snapshot with the
// change applied, for `POST /apis/strata/v1/diff`), and a snapshot for explain and matrix. It
// stands on the engine's live policy store: changes are incremental, snapshots O(1) and
// immutable, so the after-state of a candidate batch is the live store with the batch applied,
// snapshotted, and taken back — never a rebuild.
import { AdmissionCache, admissionScope, invariantBreaksOfChange } from '../analysis/admission.ts';
import { diffClusters } from '../analysis/diff.ts';
import type { DiffOptions, DiffResult } from '../analysis/diff.ts';
import { invariantBreaksOfDiff, newlyCovered, verifyInvariants, violationDiagnostic } from '../analysis/invariants.ts';
import type { InvariantResource, Violation } from '../analysis/invariants.ts';
import type { Diagnostic } from '../diagnostics/index.ts';
import { createPolicyStore, isEndpointType, isPolicyType, resourceKey } from '../engine/index.ts';
import type { ChangeReport, Cluster, ResourceKey, StoreChange } from '../engine/index.ts';
import type { Resource } from '../model/index.ts';

/** One change: put `resource` at `key` (a datastore key), or remove the key (`resource` undefined). */
export interface EngineChange {
  readonly key: string;
  readonly resource: Resource | undefined;
}

/** A ConnectivityInvariant the change would newly break. */
export interface InvariantBreak {
  readonly violation: Violation;
  readonly admission: 'reject' | 'warn';
  readonly diagnostic: Diagnostic;
}

export interface Validation {
  /** False on an engine error or an invariant with `admission: reject` broken. */
  readonly ok: boolean;
  /** The engine's errors about the change (cross-resource checks). */
  readonly diagnostics: readonly Diagnostic[];
  /** The invariants the change breaks; those with `admission: warn` are accepted, but said. */
  readonly breaks: readonly InvariantBreak[];
}

export type Preview =
  | {
      readonly ok: true;
      readonly before: Cluster;
      readonly after: Cluster;
      /** `strata diff` of before and after. */
      readonly diff: DiffResult;
      /** Invariants the change breaks (see `breaksOf`). */
      readonly breaks: readonly InvariantBreak[];
    }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

export interface EngineState {
  validateChanges(changes: readonly EngineChange[]): Validation;
  /** The live state and the state after `changes`, and their diff, without committing anything. */
  preview(changes: readonly EngineChange[], options?: DiffOptions): Preview;
  /** Commits `changes`; the engine's report of what changed (undefined when nothing was applied). */
  apply(changes: readonly EngineChange[]): ChangeReport | undefined;
  snapshot(): Cluster;
  /** The validated resource the engine holds under its key (`TYPE/NAMESPACE/NAME`), as written. */
  resource(key: ResourceKey): Resource | undefined;
  /** How many resources the engine holds (for readiness and metrics). */
  size(): number;
}

function isInvariant(r: Resource | undefined): r is InvariantResource {
  return r !== undefined && r.type === 'ConnectivityInvariant';
}

export interface EngineStateOptions {
  /**
   * How `validateChanges` finds what a write breaks of the invariants it keeps: `delta` (the
   * default) from what the write changes (analysis/admission.ts), `diff` from the write's
   * exhaustive diff — the reference the delta is tested against.
   */
  readonly admission?: 'delta' | 'diff';
}

/** The change a batch made, as the store reported it, and the resource types it touched. */
interface Applied {
  readonly report: ChangeReport | undefined;
  readonly types: readonly string[];
}

export function createEngineState(options: EngineStateOptions = {}): EngineState {
  const live = createPolicyStore();
  const admissionMode = options.admission ?? 'delta';
  /** Kept across writes: endpoint classification keys and invariant-end coverage. */
  const admissionCache = new AdmissionCache();
  /** Datastore key → the engine's key of the resource stored there. */
  const keys = new Map<string, ResourceKey>();
  /** Datastore key → the ConnectivityInvariants the server holds (the engine does not read them). */
  const invariants = new Map<string, InvariantResource>();

  const storeChanges = (changes: readonly EngineChange[]): StoreChange[] =>
    changes.flatMap((c): StoreChange[] => {
      const prev = keys.get(c.key);
      if (c.resource === undefined) return prev === undefined ? [] : [{ op: 'remove', key: prev }];
      const k = resourceKey(c.resource);
      return prev !== undefined && prev !== k ? [{ op: 'remove', key: prev }, { op: 'upsert', resource: c.resource }] : [{ op: 'upsert', resource: c.resource }];
    });

  /**
   * Runs `fn` on the after-state of `changes` (applied to the live store, then taken back) — or
   * returns the engine's errors when the batch is invalid. The datastore's watch brings a valid
   * batch in for good once it is committed.
   */
  const withChanges = <T>(changes: readonly EngineChange[], fn: (after: Cluster, afterInvariants: readonly InvariantResource[], applied: Applied) => T): { ok: true; value: T } | { ok: false; diagnostics: Diagnostic[] } => {
    const after = new Map(invariants);
    for (const c of changes) {
      if (isInvariant(c.resource)) after.set(c.key, c.resource);
      else after.delete(c.key);
    }
    const types = changes.map((c) => c.resource?.type ?? keys.get(c.key)?.split('/')[0] ?? 'ConnectivityInvariant');
    const sc = storeChanges(changes);
    if (sc.length === 0) return { ok: true, value: fn(live.snapshot(), [...after.values()], { report: undefined, types }) };
    const touched = sc.map((c) => (c.op === 'upsert' ? resourceKey(c.resource) : c.key));
    const prior = touched.map((k) => live.resource(k));
    const r = live.apply(sc, { onError: 'reject' });
    if (!r.ok) return { ok: false, diagnostics: r.diagnostics.filter((d) => d.severity === 'error') };
    admissionCache.live.note(r.report);
    const snap = live.snapshot();
    const undo: StoreChange[] = [];
    const seen = new Set<ResourceKey>();
    touched.forEach((k, i) => {
      if (seen.has(k)) return;
      seen.add(k);
      const prev = prior[i];
      undo.push(prev === undefined ? { op: 'remove', key: k } : { op: 'upsert', resource: prev });
    });
    const back = live.apply(undo, { onError: 'keep' });
    if (back.ok) admissionCache.live.note(back.report);
    return { ok: true, value: fn(snap, [...after.values()], { report: r.report, types }) };
  };

  /**
   * The invariants a change breaks. A write is judged by what it changes: it breaks a kept
   * invariant where it opens a flow a `must: deny` covers or closes one a `must: allow` covers
   * (`keptBreaks`: from what the change touched — analysis/admission.ts — or from its exhaustive
   * diff; never a verification of the whole state), or where an endpoint it adds, or moves into
   * an invariant's ends (a relabel), has a forbidden flow. So a state already broken elsewhere
   * (data written before the invariant, another server's write) blocks no write that leaves
   * those flows alone, and never a repair. An invariant the batch adds or changes is verified on
   * the whole after-state.
   */
  const breaksOf = (after: Cluster, afterInvariants: readonly InvariantResource[], keptBreaks: (kept: readonly InvariantResource[]) => Violation[]): InvariantBreak[] => {
    if (afterInvariants.length === 0) return [];
    const liveSpecs = new Map([...invariants.values()].map((i) => [i.name, JSON.stringify(i.body.spec)]));
    const kept = afterInvariants.filter((i) => liveSpecs.get(i.name) === JSON.stringify(i.body.spec));
    const fresh = afterInvariants.filter((i) => !kept.includes(i));
    const found = new Map<string, Violation>();
    const take = (vs: readonly Violation[]): void => {
      for (const v of vs) if (!found.has(v.invariant)) found.set(v.invariant, v);
    };
    take(verifyInvariants(after, fresh));
    if (kept.length > 0) take(keptBreaks(kept));
    const byName = new Map(afterInvariants.map((i) => [i.name, i]));
    return [...found.values()].map((violation) => {
      const admission = byName.get(violation.invariant)?.body.spec.admission ?? 'reject';
      const d = violationDiagnostic(violation);
      return { violation, admission, diagnostic: admission === 'warn' ? { ...d, severity: 'warning' } : d };
    });
  };

  /** What the kept invariants lose by a change, from its exhaustive diff (the preview has it anyway). */
  const byDiff =
    (diff: DiffResult, before: Cluster, after: Cluster) =>
    (kept: readonly InvariantResource[]): Violation[] => {
      const out = invariantBreaksOfDiff(diff, after, kept);
      const involving = new Set([...diff.added, ...newlyCovered(diff, before, after, kept)]);
      if (involving.size > 0) {
        const broken = new Set(out.map((v) => v.invariant));
        out.push(...verifyInvariants(after, kept.filter((i) => !broken.has(i.name)), { involving }));
      }
      return out;
    };
  /** The same from what the change touched (analysis/admission.ts), when it is a change of policies and endpoints. */
  const keptBreaks = (before: Cluster, after: Cluster, applied: Applied): ((kept: readonly InvariantResource[]) => Violation[]) => {
    const report = applied.report;
    // No store change (a batch of invariants only): the state is the same, nothing kept can break.
    if (report === undefined) return () => [];
    if (admissionMode === 'diff' || admissionScope(applied.types, (t) => isPolicyType(t as Resource['type']), (t) => isEndpointType(t as Resource['type'])) !== undefined) {
      return (kept) => byDiff(diffClusters(before, after, { reattributed: false }), before, after)(kept);
    }
    const endpoints = [...report.endpoints.added, ...report.endpoints.removed, ...report.endpoints.updated, ...report.plansChanged];
    return (kept) => invariantBreaksOfChange(before, after, { endpoints, policies: report.policies, live: true }, kept, admissionCache).violations;
  };

  return {
    validateChanges(changes) {
      if (changes.length === 0) return { ok: true, diagnostics: [], breaks: [] };
      const before = live.snapshot();
      const r = withChanges(changes, (after, afterInvariants, applied) => (afterInvariants.length === 0 ? [] : breaksOf(after, afterInvariants, keptBreaks(before, after, applied))));
      if (!r.ok) return { ok: false, diagnostics: r.diagnostics, breaks: [] };
      return { ok: !r.value.some((b) => b.admission === 'reject'), diagnostics: [], breaks: r.value };
    },
    preview(changes, options = {}) {
      const before = live.snapshot();
      const r = withChanges(changes, (after, afterInvariants) => {
        const diff = diffClusters(before, after, options);
        return { after, diff, breaks: breaksOf(after, afterInvariants, byDiff(diff, before, after)) };
      });
      if (!r.ok) return { ok: false, diagnostics: r.diagnostics };
      return { ok: true, before, ...r.value };
    },
    apply(changes) {
      if (changes.length === 0) return undefined;
      const sc = storeChanges(changes);
      for (const c of changes) {
        if (c.resource === undefined) keys.delete(c.key);
        else keys.set(c.key, resourceKey(c.resource));
        if (isInvariant(c.resource)) invariants.set(c.key, c.resource);
        else invariants.delete(c.key);
      }
      // What is in the datastore is the truth: keep it even where it has errors (another server's
      // write, an older version's data), as Calico keeps a policy of a missing tier.
      if (sc.length === 0) return undefined;
      const r = live.apply(sc, { onError: 'keep' });
      if (!r.ok) return undefined;
      admissionCache.live.note(r.report);
      return r.report;
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
