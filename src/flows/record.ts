// The flow record wire format: what agents push, what the server stores and serves
// (`GET /apis/strata/v1/flows`), what `strata flows -o json` prints and what the console shows.
// Shaped like Calico's Goldmane `Flow` (api/pkg/goldmane proto: FlowKey + counters), extended with
// the node that reported it, the engine's explanation beside the kernel's, and connection counts.
// One zod schema per object is both the type and the validation every reader applies.
import { z } from 'zod';

/** What a side of a flow is, as far as the reporter could tell. */
export const flowEndpointKindSchema = z.enum([
  'WorkloadEndpoint',
  'HostEndpoint',
  'NetworkSet',
  'GlobalNetworkSet',
  /** An address nobody in the cluster model owns. */
  'Network',
]);
export type FlowEndpointKind = z.infer<typeof flowEndpointKindSchema>;

export const flowEndpointSchema = z.object({
  kind: flowEndpointKindSchema,
  /** null for global kinds and plain networks. */
  namespace: z.string().nullable(),
  /** The endpoint's name; at endpoint-group aggregation a prefix ending in `*` (Calico's `name_aggr`). */
  name: z.string().nullable(),
  /** null once aggregation has dropped the address (endpoint-group level and above). */
  ip: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
});
export type FlowEndpoint = z.infer<typeof flowEndpointSchema>;

/** Kinds of a policy hit, as Goldmane names them (PolicyKind), plus ours. */
export const policyHitKindSchema = z.enum([
  'GlobalNetworkPolicy',
  'NetworkPolicy',
  'KubernetesNetworkPolicy',
  'StagedGlobalNetworkPolicy',
  'StagedNetworkPolicy',
  'StagedKubernetesNetworkPolicy',
  'AdminNetworkPolicy',
  'BaselineAdminNetworkPolicy',
  /** The admin policies' successor (sig-network-policy-api ClusterNetworkPolicy), which the engine decides too. */
  'ClusterNetworkPolicy',
  'Profile',
  /** The tier's implicit deny: no rule of any policy selecting the endpoint matched. */
  'EndOfTier',
  /** The endpoint had no policy and no profile allowed it. */
  'NoProfile',
]);
export type PolicyHitKind = z.infer<typeof policyHitKindSchema>;

export const policyHitActionSchema = z.enum(['allow', 'deny', 'pass']);

/** One step that acted on the flow, in evaluation order. */
export const policyHitSchema = z.object({
  kind: policyHitKindSchema,
  tier: z.string().nullable(),
  namespace: z.string().nullable(),
  name: z.string().nullable(),
  action: policyHitActionSchema,
  /** Zero-based rule index in the direction's rule list; null for end-of-tier and no-profile. */
  ruleIndex: z.number().int().nonnegative().nullable(),
  /** For EndOfTier: the last policy of the tier that selected the endpoint (Goldmane's `trigger`). */
  trigger: z
    .object({ kind: policyHitKindSchema, namespace: z.string().nullable(), name: z.string() })
    .nullable(),
});
export type PolicyHit = z.infer<typeof policyHitSchema>;

/** How much of the 5-tuple a record keeps (Calico's flow log aggregation levels). */
export const aggregationSchema = z.enum([
  /** Full 5-tuple. */
  'none',
  /** Source port dropped (Calico's default for allowed flows, level 1). */
  'src-port',
  /** Endpoints by group (name prefix) / network set; addresses dropped (level 2). */
  'endpoint-group',
  /** Destination port dropped too (level 3). */
  'dst-port',
]);
export type Aggregation = z.infer<typeof aggregationSchema>;

export const flowRecordSchema = z.object({
  /** RFC 3339, start of the interval the counters cover. */
  startTime: z.iso.datetime({ offset: true }),
  endTime: z.iso.datetime({ offset: true }),
  /** Which side's node observed it: the source's node decides egress, the destination's ingress. */
  reporter: z.enum(['src', 'dst']),
  node: z.string(),
  source: flowEndpointSchema,
  destination: flowEndpointSchema,
  /** Source port; null when aggregated away or not applicable. */
  srcPort: z.number().int().min(0).max(65535).nullable(),
  /** Destination port; null for ICMP or when aggregated away. */
  port: z.number().int().min(0).max(65535).nullable(),
  /** tcp, udp, sctp, icmp, icmpv6, or the protocol number as a string. */
  protocol: z.string(),
  action: z.enum(['allow', 'deny']),
  policies: z.object({
    /** What the kernel did, from the rule ids it recorded. */
    enforced: z.array(policyHitSchema),
    /** The same flow with staged policies enforced (the engine's pending trace); empty when none applies. */
    pending: z.array(policyHitSchema),
  }),
  /** The engine's verdict for the same packet; `mismatch` is true when it differs from the kernel's. */
  engine: z.object({ action: z.enum(['allow', 'deny']), enforced: z.array(policyHitSchema) }).nullable(),
  mismatch: z.boolean(),
  packets: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  packetsIn: z.number().int().nonnegative(),
  packetsOut: z.number().int().nonnegative(),
  bytesIn: z.number().int().nonnegative(),
  bytesOut: z.number().int().nonnegative(),
  /** Connections started in the interval. */
  connections: z.number().int().nonnegative(),
  connectionsCompleted: z.number().int().nonnegative(),
  aggregation: aggregationSchema,
});
export type FlowRecord = z.infer<typeof flowRecordSchema>;

/**
 * What an agent pushes: records with a batch identity, so that a batch resent after a reconnect
 * or a restart is stored once (`agent` + `boot` + `seq` is unique; the server keeps the highest
 * seq per agent boot it has stored).
 */
export const flowBatchSchema = z.object({
  agent: z.string(),
  /** A random id chosen when the agent process starts, persisted with its spool. */
  boot: z.string(),
  seq: z.number().int().nonnegative(),
  records: z.array(flowRecordSchema),
});
export type FlowBatch = z.infer<typeof flowBatchSchema>;
