// The answers the console reads. Where the repository has a schema for a wire format it is
// imported, not copied: explain (src/engine/wire.ts), flow records (src/flows/record.ts), the
// policy board (src/server/board-wire.ts). The rest describe formats whose TypeScript types live
// with code that cannot load in a browser (the class matrix in src/analysis/matrix-view.ts, the
// diff's lines in src/analysis/diff.ts): these schemas mirror those interfaces field for field.
import { z } from 'zod';
import { explainSchema } from '../../../src/engine/wire.ts';
import { flowRecordSchema } from '../../../src/flows/record.ts';
import { policyBoardSchema } from '../../../src/server/board-wire.ts';

export { explainSchema, flowRecordSchema, policyBoardSchema };
export type { ExplainJson, ExplainJsonStep, ExplainJsonMiss, ExplainJsonDecidedBy } from '../../../src/engine/wire.ts';
export type { FlowRecord, PolicyHit } from '../../../src/flows/record.ts';
export type { BoardPolicy, BoardTier, PolicyBoard } from '../../../src/server/board-wire.ts';

/** `POST /apis/strata/v1/explain` with `{flows:[…]}`: one result (or error) per flow. */
export const explainBatchSchema = z.object({
  results: z.array(z.union([explainSchema, z.looseObject({ from: z.string(), to: z.string(), error: z.array(z.object({ code: z.string(), message: z.string() })) })])),
});

/** `strata matrix -o json` (ClassMatrix in src/analysis/matrix-view.ts). */
export const classMatrixSchema = z.object({
  classes: z.array(z.object({ id: z.string(), members: z.array(z.string()) })),
  ports: z.array(z.object({ spec: z.string(), allowed: z.array(z.tuple([z.string(), z.string()])) })),
});
export type ClassMatrix = z.infer<typeof classMatrixSchema>;

/**
 * `POST /apis/strata/v1/matrix` with `aggregate: "namespace"` (src/server/endpoints.ts): per port,
 * the namespace pairs some endpoint pair allows, with an allowed example pair; `scope: around`
 * when the cluster is too large to count every pair and only pairs touching `around` were.
 */
export const namespaceMatrixSchema = z.object({
  kind: z.literal('NamespaceMatrix'),
  scope: z.enum(['all', 'around']),
  around: z.array(z.string()),
  namespaces: z.array(z.object({ name: z.string(), endpoints: z.number().int() })),
  ports: z.array(z.object({ spec: z.string(), cells: z.array(z.object({ from: z.string(), to: z.string(), verdict: z.enum(['allow', 'partial']), example: z.tuple([z.string(), z.string()]) })) })),
});
export type NamespaceMatrix = z.infer<typeof namespaceMatrixSchema>;

/** `GET /apis/strata/v1/flows` (the flow store's list). */
export const flowListSchema = z.object({
  kind: z.literal('FlowList'),
  items: z.array(flowRecordSchema),
  metadata: z.looseObject({ continue: z.string().optional() }),
});
export type FlowList = z.infer<typeof flowListSchema>;

/** One event of `GET /apis/strata/v1/flows?watch=true`. */
export const flowEventSchema = z.object({ type: z.literal('FLOW'), object: flowRecordSchema });

const diffDecided = z.looseObject({});
const diffPeer = z.union([z.string(), z.object({ members: z.array(z.string()) })]);
const verdict = z.enum(['allow', 'deny']);

/** One line of `strata diff -o json` (DiffJsonLine / DiffJsonPeer in src/analysis/diff.ts). */
export const diffLineSchema = z.union([
  z.looseObject({
    from: diffPeer,
    to: diffPeer,
    ports: z.string().nullable(),
    protocol: z.string(),
    icmp: z.string().optional(),
    before: verdict,
    after: verdict,
    change: z.enum(['opened', 'closed', 'reattributed', 'pending']),
    decidedBy: diffDecided,
    pendingBefore: verdict.optional(),
    pendingAfter: verdict.optional(),
    pendingDecidedBy: diffDecided.optional(),
  }),
  z.looseObject({ peer: z.string(), change: z.enum(['added', 'removed']) }),
]);
export type DiffLine = z.infer<typeof diffLineSchema>;

/**
 * `GET /apis/strata/v1/flows/stats`: hits per policy rule. Read loosely (the flow store defines
 * it): any item naming a policy and a count is used, other fields are ignored.
 */
export const flowStatsSchema = z.looseObject({
  items: z.array(
    z.looseObject({
      tier: z.string().nullable().optional(),
      namespace: z.string().nullable().optional(),
      name: z.string().nullable().optional(),
      policy: z.string().nullable().optional(),
      kind: z.string().nullable().optional(),
      ruleIndex: z.number().nullable().optional(),
      rule: z.number().nullable().optional(),
      hits: z.number().optional(),
      count: z.number().optional(),
      packets: z.number().optional(),
      lastHit: z.string().nullable().optional(),
      lastSeen: z.string().nullable().optional(),
    }),
  ),
});
export type FlowStats = z.infer<typeof flowStatsSchema>;

/** `GET /api/v1/namespaces`: names and labels (for tenants). */
export const namespaceListSchema = z.object({
  items: z.array(z.looseObject({ metadata: z.looseObject({ name: z.string(), labels: z.record(z.string(), z.string()).optional() }) })),
});

/** Any authenticated answer: `GET /api` (APIVersions) checks a token. */
export const apiVersionsSchema = z.looseObject({ kind: z.literal('APIVersions') });
