// The policy board's wire format (`GET /apis/strata/v1/policyboard`): tiers in evaluation order,
// each with its policies in order, as the engine orders them. zod only, so the console (in the
// browser) validates the answer with the same schema the server's tests read it with.
import { z } from 'zod';

export const boardPolicySchema = z.object({
  /** The policy's kind as written (`GlobalNetworkPolicy`, `KubernetesNetworkPolicy`, …). */
  kind: z.string(),
  name: z.string(),
  namespace: z.string().nullable(),
  /** `Infinity` (no order) is sent as null: it sorts last in its tier. */
  order: z.number().nullable(),
  staged: z.boolean(),
  /** For staged policies: `Set` or `Delete`. */
  stagedAction: z.string().nullable(),
  /** The selector fields as the manifest wrote them (`selector`, `namespaceSelector`, `podSelector`, …). */
  selector: z.string(),
  /** Endpoints the policy applies to, from the engine's membership index. */
  selected: z.number().int().nonnegative(),
  types: z.array(z.enum(['Ingress', 'Egress'])),
  ingressRules: z.number().int().nonnegative(),
  egressRules: z.number().int().nonnegative(),
  /** The REST path of the object (GET it for the YAML); null for kinds not served one by one. */
  path: z.string().nullable(),
});
export type BoardPolicy = z.infer<typeof boardPolicySchema>;

export const boardTierSchema = z.object({
  name: z.string(),
  order: z.number().nullable(),
  defaultAction: z.enum(['deny', 'pass']),
  policies: z.array(boardPolicySchema),
});
export type BoardTier = z.infer<typeof boardTierSchema>;

export const policyBoardSchema = z.object({
  kind: z.literal('PolicyBoard'),
  apiVersion: z.literal('strata/v1'),
  metadata: z.object({ resourceVersion: z.string() }),
  /** Endpoints in the cluster (workloads and host endpoints): the denominator of `selected`. */
  endpoints: z.number().int().nonnegative(),
  tiers: z.array(boardTierSchema),
});
export type PolicyBoard = z.infer<typeof policyBoardSchema>;
