// Strata's non-resource endpoints: explain and matrix over the live state (the CLI's JSON),
// SelfSubjectAccessReview ("can I", tiers included), and the audit query.
import { z } from 'zod';
import { explainFlow } from '../analysis/explain.ts';
import { computeMatrix } from '../analysis/matrix.ts';
import { classMatrix } from '../analysis/matrix-view.ts';
import { matrixJson, parsePortSpecText } from '../analysis/matrix-json.ts';
import type { PortSpec } from '../analysis/matrix.ts';
import { makeFlow } from '../engine/index.ts';
import type { UserInfo } from './authn.ts';
import { parseObject } from './body.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import type { Reply, Query } from './rest.ts';
import { nonResourceAllows, rbacAllows, tierAllows } from './rbac.ts';
import { RESOURCES } from './resources.ts';
import { fail } from './status.ts';
import { authorize } from './authz.ts';
import type { ResourceInfo } from './resources.ts';

/** Pseudo-resources of group `strata`, so RBAC can grant explain/matrix/audit like anything else. */
function strataInfo(plural: string): ResourceInfo {
  return { type: 'StrataEndpoint', kind: plural, group: 'strata', version: 'v1', plural, singular: plural, namespaced: false, shortNames: [], subresources: [], engine: false };
}

const num = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).optional();
const flowSchema = z.object({ from: z.string(), to: z.string(), port: num, protocol: z.union([z.string(), z.number()]).optional(), srcPort: num, icmpType: num, icmpCode: num });
const explainSchema = z.union([z.object({ flows: z.array(flowSchema) }), flowSchema]);

function zodMessage(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
}

export function explain(ctx: ServerContext, user: UserInfo, bodyText: string, rec: RequestRecord): Reply {
  rec.resource = 'explain';
  rec.objectRef = { resource: 'explain', apiGroup: 'strata', apiVersion: 'v1' };
  authorize(ctx.mirror, user, { info: strataInfo('explain'), verb: 'create', namespace: undefined, name: undefined }, rec);
  const parsed = explainSchema.safeParse(parseObject(bodyText));
  if (!parsed.success) throw fail(400, `expected {from,to,port,protocol} or {flows:[…]}: ${zodMessage(parsed.error)}`);
  const cluster = ctx.mirror.engine.snapshot();
  const one = (req: z.output<typeof flowSchema>, whyNot: boolean): object => {
    const flow = makeFlow(cluster, req);
    if (!flow.ok) return { from: req.from, to: req.to, port: req.port ?? null, error: flow.diagnostics.map((d) => ({ code: d.code, message: d.message, ...(d.help === undefined ? {} : { help: d.help }) })) };
    return explainFlow(cluster, flow.value, { fromText: req.from, toText: req.to, whyNot });
  };
  if ('flows' in parsed.data) return { code: 200, body: { results: parsed.data.flows.map((f) => one(f, false)) } };
  // One flow answers as `strata explain -o json` does: a denied flow with its closest Allow rules.
  const r = one(parsed.data, true);
  if ('error' in r) throw fail(400, (r as { error: { message: string }[] }).error.map((e) => e.message).join('; '));
  return { code: 200, body: r };
}

/** `format`: `json` (the default) is `strata matrix -o json` (endpoint classes), `json-pairs` its `-o json-pairs`. */
const matrixSchema = z.object({ ports: z.array(z.string()).optional(), format: z.enum(['json', 'json-pairs']).optional() });

export function matrix(ctx: ServerContext, user: UserInfo, bodyText: string, rec: RequestRecord): Reply {
  rec.resource = 'matrix';
  rec.objectRef = { resource: 'matrix', apiGroup: 'strata', apiVersion: 'v1' };
  authorize(ctx.mirror, user, { info: strataInfo('matrix'), verb: 'create', namespace: undefined, name: undefined }, rec);
  const parsed = matrixSchema.safeParse(bodyText.trim() === '' ? {} : parseObject(bodyText));
  if (!parsed.success) throw fail(400, `expected {ports:["80/TCP",…]}: ${zodMessage(parsed.error)}`);
  const ports: PortSpec[] = [];
  for (const t of parsed.data.ports ?? []) {
    const r = parsePortSpecText(t);
    if (!r.ok) throw fail(400, r.diagnostics[0]?.message ?? 'bad port');
    ports.push(r.value);
  }
  const m = computeMatrix(ctx.mirror.engine.snapshot(), { ports: ports.length === 0 ? undefined : ports });
  return { code: 200, body: parsed.data.format === 'json-pairs' ? matrixJson(m) : classMatrix(m) };
}

const ssarSchema = z.object({
  spec: z.object({
    resourceAttributes: z
      .object({ namespace: z.string().optional(), verb: z.string(), group: z.string().optional(), resource: z.string(), subresource: z.string().optional(), name: z.string().optional() })
      .optional(),
    nonResourceAttributes: z.object({ path: z.string(), verb: z.string() }).optional(),
  }),
});

/**
 * "Can I?" For a tiered policy kind the name is read as Calico writes it: `TIER.NAME`, or
 * `TIER.*` for the whole tier; without a name the tier is `default`.
 */
export function selfSubjectAccessReview(ctx: ServerContext, user: UserInfo, bodyText: string, rec: RequestRecord): Reply {
  rec.resource = 'selfsubjectaccessreviews';
  const body = parseObject(bodyText);
  const parsed = ssarSchema.safeParse(body);
  if (!parsed.success) throw fail(400, `not a SelfSubjectAccessReview: ${zodMessage(parsed.error)}`);
  const { resourceAttributes: ra, nonResourceAttributes: nra } = parsed.data.spec;
  const state = ctx.mirror.rbac();
  let allowed = false;
  let reason = '';
  if (ra !== undefined) {
    const group = ra.group ?? '';
    const info = RESOURCES.find((r) => r.group === group && r.plural === ra.resource);
    if (info?.tierResource !== undefined) {
      const name = ra.name ?? '';
      const dot = name.indexOf('.');
      const tier = dot < 0 ? 'default' : name.slice(0, dot);
      const policy = dot < 0 ? (name === '' ? undefined : name) : name.slice(dot + 1);
      const d = tierAllows(state, user, { verb: ra.verb, tierResource: info.tierResource, tier, namespace: ra.namespace, name: policy === '*' ? undefined : policy });
      allowed = d.allowed;
      reason = d.reason;
    } else {
      const d = rbacAllows(state, user, { verb: ra.verb, apiGroup: group, resource: ra.resource, subresource: ra.subresource, namespace: ra.namespace, name: ra.name });
      allowed = d.allowed;
      reason = d.reason;
    }
  } else if (nra !== undefined) {
    allowed = nonResourceAllows(state, user, nra.verb, nra.path);
  } else {
    throw fail(400, 'a SelfSubjectAccessReview needs spec.resourceAttributes or spec.nonResourceAttributes');
  }
  rec.decision = 'allow';
  return {
    code: 201,
    body: { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: {}, spec: parsed.data.spec, status: { allowed, ...(reason === '' ? {} : { reason }) } },
  };
}

/** `1h`, `30m`, `45s`, `2d`, or an RFC 3339 time. */
export function parseSince(text: string, now = new Date()): Date | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (m !== null) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(m[1]) * unit);
  }
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : new Date(t);
}

export async function auditEvents(ctx: ServerContext, user: UserInfo, q: Query, rec: RequestRecord): Promise<Reply> {
  rec.resource = 'auditevents';
  rec.objectRef = { resource: 'auditevents', apiGroup: 'strata', apiVersion: 'v1' };
  authorize(ctx.mirror, user, { info: strataInfo('auditevents'), verb: 'list', namespace: undefined, name: undefined }, rec);
  const since = q['since'] === undefined ? undefined : parseSince(q['since']);
  if (q['since'] !== undefined && since === undefined) throw fail(400, `since must be a duration (30s, 15m, 1h, 2d) or an RFC 3339 time, got "${q['since']}"`);
  const items = await ctx.audit.query(since);
  return { code: 200, body: { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items } };
}

export { nonResourceAllows };
