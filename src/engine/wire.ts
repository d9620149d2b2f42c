// The decision wire format: `strata explain -o json`, the server's explain endpoint, the agent's
// flow attribution and the console all speak it. One zod schema per object is both the
// TypeScript type and the validation a reader applies at its boundary (docs/cli.md documents it).
import { z } from 'zod';

const verdict = z.enum(['allow', 'deny']);
const direction = z.enum(['egress', 'ingress']);

/** One step of a direction's trace. */
export const explainStepSchema = z.object({
  tier: z.string().nullable(),
  policy: z.string().nullable(),
  namespace: z.string().exactOptional(),
  kind: z.string().nullable(),
  /** Zero-based rule index in that direction's list; null for end-of-tier, misses, no-profile. */
  rule: z.number().int().nonnegative().nullable(),
  action: z.string(),
  reason: z.string(),
  staged: z.literal(true).exactOptional(),
  /** `file:line:col` of the rule (or policy) in the user's manifests. */
  source: z.string().exactOptional(),
});
export type ExplainJsonStep = z.infer<typeof explainStepSchema>;

export const explainDirectionSchema = z.object({
  endpoint: z.string(),
  verdict,
  trace: z.array(explainStepSchema).readonly(),
});
export type ExplainJsonDirection = z.infer<typeof explainDirectionSchema>;

/** The step that decided the flow. */
export const decidedBySchema = z.object({
  direction: direction.nullable(),
  tier: z.string().nullable(),
  policy: z.string().nullable(),
  namespace: z.string().exactOptional(),
  kind: z.string().nullable(),
  rule: z.number().int().nonnegative().nullable(),
  action: verdict,
  reason: z.string(),
  source: z.string().exactOptional(),
});
export type ExplainJsonDecidedBy = z.infer<typeof decidedBySchema>;

/** kube-proxy's translation when the destination was a Service. */
export const serviceHopSchema = z.object({
  /** `NS/NAME` of the Service. */
  service: z.string(),
  /** The port the client dialled (the Service port). */
  port: z.number().int(),
  protocol: z.string(),
  /** The backend endpoint the connection is translated to. */
  backend: z.string(),
  /** The backend port: targetPort as a number, or the named container port resolved on this backend. */
  targetPort: z.number().int(),
  /** The targetPort as the Service wrote it when it was a name. */
  targetPortName: z.string().exactOptional(),
});
export type ServiceHop = z.infer<typeof serviceHopSchema>;

/** An Allow rule that came close to matching a denied flow, and what failed. */
export const ruleMissSchema = z.object({
  direction,
  tier: z.string(),
  policy: z.string(),
  namespace: z.string().exactOptional(),
  kind: z.string(),
  rule: z.number().int().nonnegative(),
  /** The criteria that failed, in words; empty when the rule matches but an earlier step decided. */
  failed: z.array(z.string()).readonly(),
  source: z.string().exactOptional(),
});
export type ExplainJsonMiss = z.infer<typeof ruleMissSchema>;

/** One flow's decision: what `explain -o json` prints per flow. Readers ignore unknown fields. */
export const explainSchema = z.looseObject({
  from: z.string(),
  to: z.string(),
  port: z.number().int().nullable(),
  protocol: z.string(),
  verdict,
  decidedBy: decidedBySchema,
  egress: explainDirectionSchema.nullable(),
  ingress: explainDirectionSchema.nullable(),
  /** The verdict with staged policies enforced; null when no staged policy is involved. */
  pending: z.object({ verdict, decidedBy: decidedBySchema }).nullable(),
  ipVersion: z.union([z.literal(4), z.literal(6)]),
  srcAddress: z.string().nullable(),
  dstAddress: z.string().nullable(),
  icmp: z.object({ type: z.number().int(), code: z.number().int() }).exactOptional(),
  service: serviceHopSchema.exactOptional(),
  /** When a side named a set: the endpoints this result stands for (one class). */
  fromMembers: z.array(z.string()).readonly().exactOptional(),
  toMembers: z.array(z.string()).readonly().exactOptional(),
  /** For an external address: the network sets containing it (`NAME` global, `NS/NAME` namespaced), sorted; absent when none. */
  fromNetworkSets: z.array(z.string()).readonly().exactOptional(),
  toNetworkSets: z.array(z.string()).readonly().exactOptional(),
  /** How the user's words were resolved, for people. */
  notes: z.array(z.string()).readonly().exactOptional(),
  /** For a denied flow (when asked): the Allow rules that came closest, with what failed. */
  closestRules: z.array(ruleMissSchema).readonly().exactOptional(),
  /**
   * A flow to a domain name decided by a rule that matched it by name: the name, the pattern
   * that matched, and where the pattern was written (`rule`, or the network set's id whose
   * `allowedEgressDomains` held it).
   */
  matchedDomain: z.object({ name: z.string(), pattern: z.string(), via: z.string() }).exactOptional(),
});
export type ExplainJson = z.infer<typeof explainSchema>;
