// Every use of the engine by the server goes through this module: the server's current engine
// resources, validation of a candidate change set against them (cross-resource problems such as
// a policy in a missing tier), and a snapshot for explain and matrix. Today it rebuilds the
// cluster with buildCluster on the candidate state; the incremental engine store can replace the
// inside without changing these function names.
import type { Diagnostic } from '../diagnostics/index.ts';
import { buildCluster } from '../engine/index.ts';
import type { Cluster } from '../engine/index.ts';
import type { Resource } from '../model/index.ts';

/** One change: put `resource` at `key`, or remove the key (`resource` undefined). */
export interface EngineChange {
  readonly key: string;
  readonly resource: Resource | undefined;
}

export interface Validation {
  readonly ok: boolean;
  /** The errors the change would introduce (the state's existing errors are not repeated). */
  readonly diagnostics: readonly Diagnostic[];
}

export interface EngineState {
  validateChanges(changes: readonly EngineChange[]): Validation;
  apply(changes: readonly EngineChange[]): void;
  snapshot(): Cluster;
  /** How many resources the engine holds (for readiness and metrics). */
  size(): number;
}

function errorKey(d: Diagnostic): string {
  return `${d.code}\u0000${d.span?.file ?? ''}\u0000${d.path ?? ''}\u0000${d.message}`;
}

function withChanges(current: ReadonlyMap<string, Resource>, changes: readonly EngineChange[]): Map<string, Resource> {
  const next = new Map(current);
  for (const c of changes) {
    if (c.resource === undefined) next.delete(c.key);
    else next.set(c.key, c.resource);
  }
  return next;
}

/** Resources in key order, so a rebuilt cluster does not depend on the order of arrival. */
function ordered(m: ReadonlyMap<string, Resource>): Resource[] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

export function createEngineState(): EngineState {
  let resources = new Map<string, Resource>();
  let built: { cluster: Cluster; errors: Set<string> } | undefined;

  const build = (): { cluster: Cluster; errors: Set<string> } => {
    if (built === undefined) {
      const r = buildCluster(ordered(resources));
      built = { cluster: r.cluster, errors: new Set(r.diagnostics.filter((d) => d.severity === 'error').map(errorKey)) };
    }
    return built;
  };

  return {
    validateChanges(changes) {
      const before = build().errors;
      const candidate = buildCluster(ordered(withChanges(resources, changes)));
      const introduced = candidate.diagnostics.filter((d) => d.severity === 'error' && !before.has(errorKey(d)));
      return { ok: introduced.length === 0, diagnostics: introduced };
    },
    apply(changes) {
      if (changes.length === 0) return;
      resources = withChanges(resources, changes);
      built = undefined;
    },
    snapshot() {
      return build().cluster;
    },
    size() {
      return resources.size;
    },
  };
}
