// One agent per dataplane: `/run/strata-agent/<netns or node>.json` names the agent that
// programs it (pid + start time, listen address, node) and what it last programmed. A second
// agent for the same namespace refuses to start while the first lives; a file left by a killed
// agent is taken over. `strata lab status` reads these files to show each node's agent.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { isSameProcess, processStartTime } from '../lab/processes.ts';

export const DEFAULT_AGENT_RUN_DIR = '/run/strata-agent';

export const agentRunFileSchema = z.object({
  pid: z.number().int(),
  startTime: z.string().optional(),
  node: z.string(),
  netns: z.string().optional(),
  listen: z.string(),
  server: z.string(),
  state: z.string(),
  revision: z.number().int(),
  /** One line per plugin (e.g. `flow-log: collecting, …`), as of the last heartbeat. */
  plugins: z.record(z.string(), z.string()).optional(),
  updatedAt: z.string(),
});
export type AgentRunFile = z.output<typeof agentRunFileSchema>;

export function agentRunDir(override?: string): string {
  return override ?? process.env['STRATA_AGENT_RUN_DIR'] ?? DEFAULT_AGENT_RUN_DIR;
}

export function agentRunFilePath(dir: string, netns: string | undefined, node: string): string {
  return join(dir, `${netns ?? `node-${node}`}.json`);
}

/** The file's agent, when the file exists, parses and its process still runs. */
export function readLiveAgent(path: string): AgentRunFile | undefined {
  let parsed: AgentRunFile;
  try {
    const r = agentRunFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (!r.success) return undefined;
    parsed = r.data;
  } catch {
    return undefined;
  }
  return isSameProcess(parsed.pid, parsed.startTime) ? parsed : undefined;
}

export interface RunFile {
  update(patch: Partial<AgentRunFile>): void;
  remove(): void;
}

/** Claims the dataplane for this process, or says which agent holds it. */
export function claimRunFile(path: string, initial: Omit<AgentRunFile, 'pid' | 'startTime' | 'updatedAt'>): RunFile | string {
  const other = readLiveAgent(path);
  if (other !== undefined && other.pid !== process.pid) return `agent pid ${other.pid} already programs ${initial.netns ?? `node ${initial.node}`} (${path})`;
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o755 });
  const start = processStartTime(process.pid);
  let current: AgentRunFile = { ...initial, pid: process.pid, ...(start === undefined ? {} : { startTime: start }), updatedAt: new Date().toISOString() };
  const write = (): void => {
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(current));
    renameSync(tmp, path);
  };
  write();
  return {
    update(patch) {
      current = { ...current, ...patch, updatedAt: new Date().toISOString() };
      try {
        write();
      } catch {
        // The run directory went away (lab down): nothing to record any more.
      }
    },
    remove() {
      if (readLiveAgent(path)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}
