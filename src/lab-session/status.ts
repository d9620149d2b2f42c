// What `lab status` shows: every lab with a state file (or one), its phase, its nodes and
// workloads, whether its agents still run, and — for labs built from manifests — what the
// session programmed and when. Read only; works on half-built and crashed labs too.
import { isSameProcess, listLabIds, readState, runDirOf, stateDirOf } from '../lab/index.ts';
import { agentNodes } from './control-plane.ts';
import type { AgentNode } from './control-plane.ts';
import { readSession } from './store.ts';

export interface LabStatus {
  readonly labId: string;
  /** `building`, `ready`, `tearing-down`, or `unreadable`. */
  readonly phase: string;
  readonly createdAt?: string;
  /**
   * Every node: its network namespace and, for a lab built with `--server`, the policy agent
   * programming it (pid, the server revision it has programmed, its state); nulls otherwise.
   */
  readonly nodes: readonly AgentNode[];
  /** Set for a lab built with `--server`: the API server its agents follow. */
  readonly server?: string;
  readonly workloads: number;
  readonly externals: number;
  readonly namespaces: number;
  readonly agents: { readonly running: number; readonly recorded: number };
  /** The flow collector daemon: its PID and whether it still runs; absent when none was started. */
  readonly flowCollector?: { readonly pid: number; readonly running: boolean };
  readonly sctp?: string;
  /** Present for labs built by `lab up` (a session). */
  readonly session?: {
    readonly generation: number;
    readonly updatedAt: string;
    readonly podCidr: string;
    readonly files: readonly string[];
    readonly rules: Readonly<Record<string, number>>;
    readonly notes: readonly string[];
  };
  readonly problem?: string;
}

export function labStatus(labId: string, stateDir?: string): LabStatus | undefined {
  const dir = stateDirOf(stateDir);
  const state = readState(labId, dir);
  if (state === undefined) return undefined;
  if (state instanceof Error) {
    return { labId, phase: 'unreadable', nodes: [], workloads: 0, externals: 0, namespaces: 0, agents: { running: 0, recorded: 0 }, problem: state.message };
  }
  const running = state.agents.filter((a) => isSameProcess(a.pid, a.startTime)).length;
  const record = readSession(runDirOf(labId, dir), labId);
  const collector = state.processes?.find((p) => p.role === 'flow-collector');
  const base: LabStatus = {
    labId,
    phase: state.phase,
    createdAt: state.createdAt,
    nodes: agentNodes(state),
    workloads: state.plan.workloads.length,
    externals: state.plan.externals.length,
    namespaces: state.namespaces.length,
    agents: { running, recorded: state.agents.length },
    ...(collector === undefined ? {} : { flowCollector: { pid: collector.pid, running: isSameProcess(collector.pid, collector.startTime) } }),
    sctp: state.sctp.supported ? 'supported' : state.sctp.detail,
  };
  if (record instanceof Error) return { ...base, problem: `session record unreadable: ${record.message}` };
  if (record === undefined) return base;
  return {
    ...base,
    ...(record.controlPlane === undefined ? {} : { server: record.controlPlane.server }),
    session: {
      generation: record.generation,
      updatedAt: record.updatedAt,
      podCidr: record.podCidr,
      files: record.sources.map((s) => s.file),
      rules: Object.fromEntries(Object.entries(record.rulesets).map(([n, rs]) => [n, rs.chains.reduce((s, c) => s + c.rules.length, 0)])),
      notes: [...new Set(Object.values(record.rulesets).flatMap((r) => r.notes))].sort(),
    },
  };
}

export function allLabStatus(stateDir?: string): LabStatus[] {
  return listLabIds(stateDirOf(stateDir)).flatMap((id) => labStatus(id, stateDir) ?? []);
}
