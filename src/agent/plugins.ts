// Hooks for what runs beside the agent on a node — first of all a flow collector (flow logs
// attributed to policies need the node's namespace, the engine snapshot the kernel enforces, and
// the ruleset it holds). Plugins observe; they cannot block or change the sync loop, except for
// `transformRuleset`, which may add statements (e.g. nflog) to the compiled rules before they
// are applied.
import type { Registry } from 'prom-client';
import type { Ruleset } from '../dataplane/index.ts';
import type { ChangeReport, Cluster } from '../engine/index.ts';
import type { ProgramOutcome } from './programmer.ts';

export interface AgentContext {
  readonly node: string;
  /** The network namespace the agent programs; undefined for its own. */
  readonly netns: string | undefined;
  readonly table: string;
  /** The engine's state the kernel enforces now (immutable snapshot, O(1)). */
  snapshot(): Cluster;
  /** The ruleset the kernel holds, or undefined before the first programming. */
  ruleset(): Ruleset | undefined;
  /** Server revision the kernel holds. */
  revision(): number;
  /** The agent's Prometheus registry (its /metrics): a plugin registers its own series here. */
  readonly registry: Registry;
  /** The agent's log. */
  log(line: string): void;
}

export interface ProgrammedUpdate {
  readonly revision: number;
  readonly outcome: ProgramOutcome;
  readonly cluster: Cluster;
  /** The engine's change report of the batch (undefined for a programming without changes). */
  readonly report: ChangeReport | undefined;
}

export interface AgentPlugin {
  readonly name: string;
  /** Once, after the agent's HTTP endpoint is up and before the first list. */
  onStart?(ctx: AgentContext): void | Promise<void>;
  /** After every batch, programmed or not (`outcome.kind`). */
  onProgrammed?(update: ProgrammedUpdate): void;
  /** Applied to every compiled ruleset before it is diffed and applied. Must be pure. */
  transformRuleset?(rs: Ruleset): Ruleset;
  onStop?(): void | Promise<void>;
  /** What the plugin adds to the agent's /status (under `plugins.NAME`) and NodeStatus; cheap, called per request. */
  status?(): Record<string, unknown>;
  /** One line of health for the agent's run file (what `strata lab status` shows); refreshed with every heartbeat. */
  summary?(): string;
}
