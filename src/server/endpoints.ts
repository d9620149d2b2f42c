// Strata's non-resource endpoints: explain and matrix over the live state (the CLI's JSON),
// SelfSubjectAccessReview ("can I", tiers included), and the audit query.
import { z } from 'zod';
import { explainFlow } from '../analysis/explain.ts';
import { computeMatrix } from '../analysis/matrix.ts';
import { classMatrix } from '../analysis/matrix-view.ts';
import { matrixJson, parsePortSpecText, specLabel } from '../analysis/matrix-json.ts';
import type { Matrix, PortSpec } from '../analysis/matrix.ts';
import { makeFlow } from '../engine/index.ts';
import type { Cluster, Endpoint } from '../engine/index.ts';
import type { UserInfo } from './authn.ts';
import { parseObject } from './body.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import type { Reply, Query } from './rest.ts';
import { nonResourceAllows, rbacAllows, tierAllows } from './rbac.ts';
import { RESOURCES } from './resources.ts';
import { fail } from './status.ts';
import { ADMIN_TIERS } from './objects.ts';
import { authorize, tierRequestOf } from './authz.ts';
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

/**
 * `format`: `json` (the default) is `strata matrix -o json` (endpoint classes), `json-pairs` its
 * `-o json-pairs`. `aggregate: "namespace"` answers one cell per namespace pair and port (the
 * CLI's `--aggregate namespace`), `namespaces: [...]` the classes among those namespaces' endpoints
 * only: what the console's service graph asks for, so that a cluster of 10k endpoints is shown
 * namespace by namespace without the class refinement over every endpoint.
 */
const matrixSchema = z.object({
  ports: z.array(z.string()).optional(),
  format: z.enum(['json', 'json-pairs']).optional(),
  aggregate: z.literal('namespace').optional(),
  /** With `aggregate`: the namespaces whose pairs must be counted (all are, up to FULL_AGGREGATE_ENDPOINTS). */
  around: z.array(z.string()).optional(),
  namespaces: z.array(z.string()).optional(),
});

/**
 * Per server (its mirror), the last matrices computed, by snapshot generation and ports: the
 * graph asks again as it opens namespaces, and a generation names one state of one engine only.
 */
const matrixCaches = new WeakMap<object, { key: string; matrix: Matrix }[]>();
const MATRIX_CACHE_SIZE = 2;

function cachedMatrix(owner: object, cluster: Cluster, ports: readonly PortSpec[]): Matrix {
  const matrixCache = matrixCaches.get(owner) ?? [];
  matrixCaches.set(owner, matrixCache);
  const key = `${cluster.generation}|${ports.map((p) => `${p.protocol}/${p.port ?? ''}`).join(',')}`;
  const hit = matrixCache.find((c) => c.key === key);
  if (hit !== undefined) return hit.matrix;
  const m = computeMatrix(cluster, { ports: ports.length === 0 ? undefined : ports });
  matrixCache.unshift({ key, matrix: m });
  matrixCache.length = Math.min(matrixCache.length, MATRIX_CACHE_SIZE);
  return m;
}

/** Up to this many endpoints the namespace aggregate covers every pair; above, the pairs touching `around`. */
export const FULL_AGGREGATE_ENDPOINTS = 3000;

/**
 * One cell per (source namespace, destination namespace, port) that some pair allows: `allow`
 * when every pair of distinct endpoints is allowed, `partial` otherwise, with one allowed pair as
 * an example (the console explains it). Counted over the matrix's own verdicts. Every pair is
 * visited, so above FULL_AGGREGATE_ENDPOINTS only pairs with a side in `around` are (`scope`
 * says which): 10k endpoints are 10⁸ pairs per port.
 */
function namespaceMatrix(m: Matrix, around: readonly string[] | undefined): object {
  const nsOf = m.endpoints.map((e) => e.namespace ?? '(host)');
  const namespaces = [...new Set(nsOf)].sort();
  const counts = new Map<string, number>();
  for (const n of nsOf) counts.set(n, (counts.get(n) ?? 0) + 1);
  const full = m.endpoints.length <= FULL_AGGREGATE_ENDPOINTS;
  const focus = new Set(around ?? []);
  const inFocus = nsOf.map((n) => full || focus.has(n));
  const ports = m.ports.map((p) => {
    const cells = new Map<string, { allowed: number; total: number; example: [string, string] | undefined }>();
    const visit = (s: number, d: number): void => {
      if (nsOf[s] === nsOf[d]) return;
      const key = `${nsOf[s]}\u0000${nsOf[d]}`;
      let c = cells.get(key);
      if (c === undefined) {
        c = { allowed: 0, total: 0, example: undefined };
        cells.set(key, c);
      }
      c.total++;
      if (p.allowed(s, d)) {
        c.allowed++;
        c.example ??= [m.endpoints[s]!.id, m.endpoints[d]!.id];
      }
    };
    const all = m.endpoints.map((_e, i) => i);
    const focused = all.filter((i) => inFocus[i]);
    for (const d of p.destinations) {
      // Each pair once: a focused destination with every source; otherwise the focused sources.
      if (inFocus[d]) for (const s of all) visit(s, d);
      else for (const s of focused) visit(s, d);
    }
    return {
      spec: specLabel(p.spec),
      cells: [...cells.entries()]
        .filter(([, c]) => c.allowed > 0)
        .map(([k, c]) => {
          const [from, to] = k.split('\u0000') as [string, string];
          return { from, to, verdict: c.allowed === c.total ? 'allow' : 'partial', example: c.example! };
        }),
    };
  });
  return { kind: 'NamespaceMatrix', scope: full ? 'all' : 'around', around: full ? namespaces : [...focus].sort(), namespaces: namespaces.map((n) => ({ name: n, endpoints: counts.get(n)! })), ports };
}

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
  const m = cachedMatrix(ctx.mirror, ctx.mirror.engine.snapshot(), ports);
  if (parsed.data.aggregate === 'namespace') return { code: 200, body: namespaceMatrix(m, parsed.data.around) };
  if (parsed.data.namespaces !== undefined) {
    const keep = new Set(parsed.data.namespaces);
    const inside = (e: Endpoint): boolean => keep.has(e.namespace ?? '(host)');
    return { code: 200, body: classMatrix(m, { from: inside, to: inside }) };
  }
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
      let dot = name.indexOf('.');
      // Admin policy names may hold dots: only a leading kube-admin. / kube-baseline. is a tier.
      if (info.adminTiered === true && !(ADMIN_TIERS as readonly string[]).includes(name.slice(0, Math.max(dot, 0)))) dot = -1;
      const kindTier = info.adminTiered !== true ? 'default' : info.kind === 'BaselineAdminNetworkPolicy' ? 'kube-baseline' : 'kube-admin';
      const tier = dot < 0 ? kindTier : name.slice(0, dot);
      const policy = dot < 0 ? (name === '' ? undefined : name) : name.slice(dot + 1);
      const d = tierAllows(state, user, tierRequestOf(info, ra.verb, tier, ra.namespace, policy === '*' ? undefined : policy));
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
