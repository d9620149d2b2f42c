// A flow as the user wrote it → its explanations: the peers resolved (Services, selectors,
// namespaces, CIDRs: see resolve-peer.ts), each concrete flow evaluated, and the resolution carried
// into the result (`service`, `fromMembers`, `toMembers`, `notes`) so the trace says what was
// resolved to what.
import type { Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import type { Cluster, FlowRequest } from '../engine/index.ts';
import { makeFlow } from '../engine/index.ts';
import { explainFlow } from './explain.ts';
import type { ExplainJson } from './explain.ts';
import { isSingle, resolveFlowRequest } from './resolve-peer.ts';
import type { ResolveOptions } from './resolve-peer.ts';

export interface ExplainRequestOptions extends ResolveOptions {
  readonly withSource?: boolean;
  /** Add `closestRules` to denied results (why the nearest Allow rules did not match). */
  readonly whyNot?: boolean;
}

export interface ExplainedRequest {
  readonly results: readonly ExplainJson[];
  /** False when either side named a set (or a Service with several backends): one result per class. */
  readonly single: boolean;
}

export function explainRequest(cluster: Cluster, req: FlowRequest, opts: ExplainRequestOptions = {}): Result<ExplainedRequest> {
  const resolved = resolveFlowRequest(cluster, req, opts);
  if (!resolved.ok) return resolved;
  const results: ExplainJson[] = [];
  for (const r of resolved.value) {
    const flow = makeFlow(cluster, r.request);
    if (!flow.ok) return fail(flow.diagnostics);
    const e = explainFlow(cluster, flow.value, { fromText: req.from, toText: req.to, ...(opts.withSource === undefined ? {} : { withSource: opts.withSource }), ...(opts.whyNot === undefined ? {} : { whyNot: opts.whyNot }) });
    results.push({
      ...e,
      ...(r.service === undefined ? {} : { service: r.service }),
      ...(r.fromMembers === undefined ? {} : { fromMembers: r.fromMembers }),
      ...(r.toMembers === undefined ? {} : { toMembers: r.toMembers }),
      ...(r.notes.length === 0 ? {} : { notes: r.notes }),
    });
  }
  return ok({ results, single: isSingle(resolved.value) });
}
