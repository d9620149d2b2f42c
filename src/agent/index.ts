// Front door of `agent`: the per-node agent (`strata agent`) that programs a node's nftables
// from the API server's state. See README.md.
export { DEFAULT_AGENT_TABLE, formatStatusLine, startAgent } from './agent.ts';
export type { Agent, AgentOptions } from './agent.ts';
export type { AgentContext, AgentPlugin, ProgrammedUpdate } from './plugins.ts';
export { calicoInterfaceName, deniedEntries, nodeEndpoints } from './programmer.ts';
export { parseConntrack, deleteArgs } from './conntrack.ts';
export type { ConntrackEntry } from './conntrack.ts';
export { agentRunDir, agentRunFilePath, readLiveAgent } from './run-file.ts';
export type { AgentRunFile } from './run-file.ts';
export { backoffDelay, watchNodeView } from './watch-client.ts';
export type { SyncState } from './sync-loop.ts';
