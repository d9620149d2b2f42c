// Observed flows replayed against a change: each distinct (source, destination, port, protocol)
// that was seen (from the flow store, `strata diff --flows-since 1h`) is decided on the live
// state and on the state after the change, and the ones whose verdict would change are reported
// with the deciding step of each side and the traffic that was seen — "this change would have cut
// 1,204 connections of the last hour", beside the exhaustive diff's "these flows could change".
// Flow record → observed flow (aggregation of records) is the client's job (`observedOfRecords`),
// so a request carries one entry per distinct flow, not every record.
import { z } from 'zod';
import { jsonDecidedBy } from '../analysis/explain.ts';
import type { ExplainJsonDecidedBy } from '../analysis/explain.ts';
import type { Cluster } from '../engine/index.ts';
import { decideVerdict, evaluateFlow, makeFlow } from '../engine/index.ts';

/** At most this many distinct observed flows in one request (the client aggregates records). */
export const MAX_OBSERVED = 20_000;

export const observedFlowSchema = z
  .object({
    /** An endpoint id (`ns/name`, `hep:name`) or an address, as `strata explain --from` takes it. */
    from: z.string().min(1),
    to: z.string().min(1),
    port: z.number().int().min(1).max(65535).nullable().optional(),
    protocol: z.string().min(1),
    /** What the kernel did when it was seen. */
    action: z.enum(['allow', 'deny']).optional(),
    packets: z.number().int().nonnegative().optional(),
    connections: z.number().int().nonnegative().optional(),
    /** How many flow records this entry sums. */
    records: z.number().int().nonnegative().optional(),
  })
  .strict();
export type ObservedFlow = z.infer<typeof observedFlowSchema>;

export interface ReplayLine {
  readonly from: string;
  readonly to: string;
  readonly port: number | null;
  readonly protocol: string;
  readonly before: 'allow' | 'deny';
  readonly after: 'allow' | 'deny';
  readonly change: 'opened' | 'closed';
  readonly decidedBy: { readonly before: ExplainJsonDecidedBy; readonly after: ExplainJsonDecidedBy };
  readonly observed: { readonly action: 'allow' | 'deny' | null; readonly packets: number; readonly connections: number; readonly records: number };
}

export interface Replay {
  /** Distinct observed flows given. */
  readonly flows: number;
  /** Those that could not be decided on one side (an endpoint no longer there, a name aggregated away). */
  readonly skipped: number;
  readonly lines: readonly ReplayLine[];
}

/** Every observed flow whose verdict differs between `before` and `after`. */
export function replayFlows(before: Cluster, after: Cluster, flows: readonly ObservedFlow[]): Replay {
  let skipped = 0;
  const lines: ReplayLine[] = [];
  for (const o of flows) {
    const req = { from: o.from, to: o.to, protocol: o.protocol, ...(o.port === null || o.port === undefined ? {} : { port: o.port }) };
    const fb = makeFlow(before, req);
    const fa = makeFlow(after, req);
    if (!fb.ok || !fa.ok) {
      skipped++;
      continue;
    }
    const b = decideVerdict(before, fb.value);
    const a = decideVerdict(after, fa.value);
    if (b.verdict === a.verdict) continue;
    lines.push({
      from: o.from,
      to: o.to,
      port: o.port ?? null,
      protocol: o.protocol.toUpperCase(),
      before: b.verdict,
      after: a.verdict,
      change: a.verdict === 'allow' ? 'opened' : 'closed',
      // The traced evaluation names the step with its source, as explain and diff do.
      decidedBy: { before: jsonDecidedBy(before, evaluateFlow(before, fb.value).decidedBy, true), after: jsonDecidedBy(after, evaluateFlow(after, fa.value).decidedBy, true) },
      observed: { action: o.action ?? null, packets: o.packets ?? 0, connections: o.connections ?? 0, records: o.records ?? 1 },
    });
  }
  // Most traffic first: what the change would cut (or open) the most of.
  lines.sort((x, y) => y.observed.connections - x.observed.connections || y.observed.packets - x.observed.packets);
  return { flows: flows.length, skipped, lines };
}

/** The parts of a flow record (src/flows/record.ts) that name and count a flow. */
const recordPartsSchema = z.object({
  source: z.object({ kind: z.string(), namespace: z.string().nullable(), name: z.string().nullable(), ip: z.string().nullable() }),
  destination: z.object({ kind: z.string(), namespace: z.string().nullable(), name: z.string().nullable(), ip: z.string().nullable() }),
  port: z.number().int().nullable(),
  protocol: z.string(),
  action: z.enum(['allow', 'deny']),
  packets: z.number().int().nonnegative(),
  connections: z.number().int().nonnegative(),
});

type End = z.infer<typeof recordPartsSchema>['source'];

/** How `explain` names a flow end: the endpoint when the record names one whole, else its address. */
function endText(e: End): string | undefined {
  const whole = e.name !== null && !e.name.endsWith('*');
  if (e.kind === 'WorkloadEndpoint' && whole && e.namespace !== null) return `${e.namespace}/${e.name}`;
  if (e.kind === 'HostEndpoint' && whole) return `hep:${e.name}`;
  return e.ip ?? undefined;
}

/**
 * Flow records → distinct observed flows, counters summed. Records that name neither end (an
 * aggregation level that dropped names and addresses) are counted as unreplayable.
 */
export function observedOfRecords(records: readonly unknown[]): { flows: ObservedFlow[]; unreplayable: number } {
  const byKey = new Map<string, { from: string; to: string; port: number | null; protocol: string; action: 'allow' | 'deny'; packets: number; connections: number; records: number }>();
  let unreplayable = 0;
  for (const r of records) {
    const p = recordPartsSchema.safeParse(r);
    if (!p.success) {
      unreplayable++;
      continue;
    }
    const from = endText(p.data.source);
    const to = endText(p.data.destination);
    if (from === undefined || to === undefined) {
      unreplayable++;
      continue;
    }
    const key = `${from}\u0000${to}\u0000${p.data.port ?? ''}\u0000${p.data.protocol.toLowerCase()}`;
    const cur = byKey.get(key);
    if (cur === undefined) {
      byKey.set(key, { from, to, port: p.data.port === 0 ? null : p.data.port, protocol: p.data.protocol, action: p.data.action, packets: p.data.packets, connections: p.data.connections, records: 1 });
    } else {
      cur.packets += p.data.packets;
      cur.connections += p.data.connections;
      cur.records++;
      // A flow seen both allowed and denied (a change during the window): the latest record's action is not known here; keep deny visible.
      if (p.data.action === 'deny') cur.action = 'deny';
    }
  }
  return { flows: [...byKey.values()], unreplayable };
}
