// Shrinking a failing scenario to a minimal reproduction: keep only the failing flow, then delete
// one piece at a time (a document, a rule, a field, a list element, a label) and keep every
// deletion after which the scenario is still valid and still fails. Greedy and generic over the
// scenario's plain data, so it needs no knowledge of what the engine got wrong.
import type { FlowSpec, Scenario } from './scenario.ts';
import { scenarioProblems } from './scenario.ts';

type Path = readonly (string | number)[];

/**
 * Keys never deleted as a whole: required fields and the scenario's own lists (their elements, and
 * the keys of `labels`, may still go). Other required fields (`name`, a network set's `nets`) make
 * the loader or `scenarioProblems` reject the candidate instead.
 */
const KEEP = new Set(['seed', 'flows', 'namespace', 'kind', 'action', 'cidr', 'containerPort', 'key', 'operator', 'labels', 'podSelector', 'ips', 'namespaces', 'serviceAccounts', 'pods', 'networkSets', 'tiers', 'k8sPolicies', 'calicoPolicies']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every deletable node, outermost first, so big cuts are tried before small ones. */
function deletablePaths(root: unknown): Path[] {
  const out: Path[][] = [];
  const walk = (v: unknown, path: Path, depth: number): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        (out[depth] ??= []).push([...path, i]);
        walk(x, [...path, i], depth + 1);
      });
    } else if (isObject(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'flows' || k === 'seed') continue;
        if (!KEEP.has(k)) (out[depth] ??= []).push([...path, k]);
        walk(x, [...path, k], depth + 1);
      }
    }
  };
  walk(root, [], 0);
  return out.flat();
}

function without(root: unknown, path: Path): unknown {
  if (path.length === 0) return undefined;
  const [head, ...rest] = path;
  if (Array.isArray(root)) {
    const i = head as number;
    return rest.length === 0 ? root.filter((_, j) => j !== i) : root.map((x, j) => (j === i ? without(x, rest) : x));
  }
  if (isObject(root)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(root)) {
      if (k !== head) out[k] = v;
      else if (rest.length > 0) out[k] = without(v, rest);
    }
    return out;
  }
  return root;
}

export interface ShrinkOptions {
  /** Give up refining after this long (the best so far is returned). */
  readonly budgetMs?: number;
}

/**
 * The smallest scenario found that still fails `stillFails` on `flow`. `stillFails` must return
 * false (not throw) for scenarios the engine or reference cannot handle.
 */
export function shrinkScenario(s: Scenario, flow: FlowSpec, stillFails: (candidate: Scenario) => boolean, options: ShrinkOptions = {}): Scenario {
  const deadline = performance.now() + (options.budgetMs ?? 30_000);
  let best: Scenario = { ...s, flows: [flow] };
  let progress = true;
  while (progress && performance.now() < deadline) {
    progress = false;
    const paths = deletablePaths(best);
    for (let i = 0; i < paths.length && performance.now() < deadline; i++) {
      const candidate = without(best, paths[i]!) as Scenario;
      let fails = false;
      try {
        // A deletion can remove a required field: such candidates throw somewhere; skip them.
        fails = scenarioProblems(candidate).length === 0 && stillFails(candidate);
      } catch {
        fails = false;
      }
      if (fails) {
        best = candidate;
        progress = true;
        // Paths after a deletion shift; recompute and continue from the same position.
        const next = deletablePaths(best);
        paths.splice(0, paths.length, ...next);
        i--;
      }
    }
  }
  return best;
}
