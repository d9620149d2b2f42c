// The lab's memory of what it created: written before anything is created and rewritten as
// processes start, so `down` can remove exactly that after a crash. Lives under /run (tmpfs),
// which, like network namespaces, does not survive a reboot.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPlan, LabSpec } from './topology.ts';

export const DEFAULT_STATE_DIR = '/run/strata-lab';

/** The state directory: `STRATA_LAB_STATE_DIR` or /run/strata-lab. */
export function stateDirOf(override?: string): string {
  return override ?? process.env['STRATA_LAB_STATE_DIR'] ?? DEFAULT_STATE_DIR;
}

export interface AgentRecord {
  /** Workload id, or `outside` for the outside host. */
  readonly owner: string;
  readonly namespace: string;
  readonly pid: number;
  /** Kernel start time of `pid`, guarding against PID reuse. */
  readonly startTime?: string;
  /** Unix socket the agent serves JSON lines on. */
  readonly socket: string;
}

/** A helper process the lab started outside its namespaces (a node's flow collector daemon). */
export interface LabProcessRecord {
  /** What it is, e.g. `flow-collector`. */
  readonly role: string;
  readonly pid: number;
  /** Kernel start time of `pid`, guarding against PID reuse. */
  readonly startTime?: string;
  /** A string its command line contains (checked before it is signalled). */
  readonly marker: string;
}

export interface SctpSupport {
  readonly supported: boolean;
  /** Why not, or how (e.g. which tool). */
  readonly detail: string;
}

export interface LabState {
  readonly version: 1;
  readonly labId: string;
  readonly createdAt: string;
  readonly phase: 'building' | 'ready' | 'tearing-down';
  /** Every namespace that may exist, recorded before it is created. */
  readonly namespaces: readonly string[];
  /** Sockets and agent logs. */
  readonly runDir: string;
  readonly agents: readonly AgentRecord[];
  /** Helper processes in the root namespace (absent in state files written before they existed). */
  readonly processes?: readonly LabProcessRecord[];
  readonly sctp: SctpSupport;
  readonly spec: LabSpec;
  readonly plan: LabPlan;
}

export function statePathOf(labId: string, stateDir: string): string {
  return join(stateDir, `${labId}.json`);
}

export function runDirOf(labId: string, stateDir: string): string {
  return join(stateDir, labId);
}

/** Writes atomically (temp file + rename), so a crash never leaves half a state file. */
export function writeState(stateDir: string, state: LabState): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = statePathOf(state.labId, stateDir);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** The recorded state, `undefined` when there is none, or an Error when it is unreadable. */
export function readState(labId: string, stateDir: string): LabState | undefined | Error {
  let text: string;
  try {
    text = readFileSync(statePathOf(labId, stateDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return e instanceof Error ? e : new Error(String(e));
  }
  try {
    const parsed = JSON.parse(text) as LabState;
    if (parsed.version !== 1 || parsed.labId !== labId || !Array.isArray(parsed.namespaces)) {
      return new Error(`state file for lab "${labId}" has an unexpected shape`);
    }
    return parsed;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

export function removeState(labId: string, stateDir: string): void {
  rmSync(statePathOf(labId, stateDir), { force: true });
  rmSync(runDirOf(labId, stateDir), { recursive: true, force: true });
}

/** Ids of the labs with a state file. */
export function listLabIds(stateDir: string): string[] {
  try {
    return readdirSync(stateDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
  } catch {
    return [];
  }
}
