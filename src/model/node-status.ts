// `NodeStatus` (strata/v1, cluster scoped): what one node's agent reports about itself — the
// revision of the API server's state it has programmed, whether it is in sync, and the last
// error. Agents write it; `strata get nodes` reads it. It is Strata's own kind (Calico's closest
// is `CalicoNodeStatus`, which reports BGP instead), so it lives in group `strata`.
import { z } from 'zod';

/** What the agent says about its dataplane. */
export const NODE_SYNC_STATES = ['syncing', 'in-sync', 'stale', 'error'] as const;
export type NodeSyncState = (typeof NODE_SYNC_STATES)[number];

export const nodeStatusBodySchema = z.strictObject({
  /** Agent build, `strata agent --version`. Required. */
  agentVersion: z.string().min(1).max(64),
  /** `syncing` before the first programmed state; `in-sync`; `stale` (server unreachable, rules kept); `error` (last update not programmed). */
  state: z.enum(NODE_SYNC_STATES),
  /** Server resourceVersion whose state the kernel holds; 0 before the first programming. */
  revision: z.number().int().nonnegative(),
  /** Newest resourceVersion the agent has seen (≥ revision). */
  seenRevision: z.number().int().nonnegative(),
  /** When the kernel was last programmed (RFC 3339). */
  lastSync: z.string().optional(),
  /** When the agent wrote this status (RFC 3339): readers call an old heartbeat stale. */
  heartbeat: z.string(),
  /** How often the agent reports, in seconds: a heartbeat older than 3 intervals is stale. */
  reportIntervalSeconds: z.number().positive(),
  /** The last problem (compile or nft error), cleared by the next successful programming. */
  lastError: z.string().max(4096).optional(),
  /** Network namespace the agent programs, when not its own. */
  netns: z.string().optional(),
  /** Endpoints of the node, rules and sets programmed. */
  endpoints: z.number().int().nonnegative(),
  rules: z.number().int().nonnegative(),
  sets: z.number().int().nonnegative(),
});

export const nodeStatusSchema = z.strictObject({
  /** `strata/v1`. */
  apiVersion: z.literal('strata/v1'),
  kind: z.literal('NodeStatus'),
  metadata: z.looseObject({ name: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a DNS subdomain name (the node name)') }),
  status: nodeStatusBodySchema,
});

export type NodeStatusBody = z.output<typeof nodeStatusBodySchema>;
export type NodeStatus = z.output<typeof nodeStatusSchema>;

/** What a reader should make of a status: the agent's word, unless its heartbeat is too old. */
export function effectiveNodeState(s: NodeStatusBody, now = Date.now()): NodeSyncState {
  const beat = Date.parse(s.heartbeat);
  if (!Number.isFinite(beat) || now - beat > 3 * s.reportIntervalSeconds * 1000) return 'stale';
  return s.state;
}
