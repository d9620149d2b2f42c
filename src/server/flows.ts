// The flow endpoints: agents POST batches, users list, stream and summarise flows. HTTP and
// RBAC are translated here into the flow store's filter and scope (src/flows/store.ts); the
// store does the rest. Who sees what:
//
//   * namespaces: a flow is visible when the user may `list flows.strata` in the namespace of at
//     least one of its sides (a cluster-wide grant shows every flow, also those between two
//     global endpoints). A tenant must see who reaches its workloads and where they go, which is
//     always a flow with one side elsewhere; Calico Enterprise filters flow logs the same way.
//   * tiers: a flow is visible only when the user may `get tiers T` for every tier its hits name
//     (Calico's condition for seeing anything of a tier), so a flow never shows policy names of
//     a tier the user cannot read.
//   * stats rows: a namespaced policy's row needs the namespace, a global policy's a cluster-wide
//     grant, a tiered one the tier.
import type { ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { Counter } from 'prom-client';
import { z } from 'zod';
import type { Cluster } from '../engine/index.ts';
import { describeAddress } from '../flowlog/index.ts';
import { createFlowMetrics } from '../flows/metrics.ts';
import type { FlowMetrics } from '../flows/metrics.ts';
import { flowBatchSchema } from '../flows/record.ts';
import type { FlowRecord } from '../flows/record.ts';
import { FlowStoreUnavailable, inScope, matchesFilter } from '../flows/store.ts';
import type { FlowFilter, FlowScope, FlowSort, FlowStore, PolicyRef, PolicyRuleStat } from '../flows/store.ts';
import type { UserInfo } from './authn.ts';
import { authorize } from './authz.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import { parseSince } from './endpoints.ts';
import { rbacAllows } from './rbac.ts';
import type { ResourceInfo } from './resources.ts';
import type { Query, Reply } from './rest.ts';
import { fail } from './status.ts';

export const FLOWS_PATH = '/apis/strata/v1/flows';

/** Bytes queued to one flow stream before the client is considered dead and dropped. */
export const FLOW_STREAM_BUFFER_LIMIT = 8 * 1024 * 1024;

const FLOWS_INFO: ResourceInfo = { type: 'StrataEndpoint', kind: 'flows', group: 'strata', version: 'v1', plural: 'flows', singular: 'flows', namespaced: true, shortNames: [], subresources: ['stats', 'status'], engine: false };

export interface FlowService {
  readonly store: FlowStore;
  readonly metrics: FlowMetrics;
  ingest(ctx: ServerContext, user: UserInfo, body: string, rec: RequestRecord): Promise<Reply>;
  list(ctx: ServerContext, user: UserInfo, q: Query, rec: RequestRecord): Reply;
  /** Validates and authorizes (throwing a Status) before the caller hijacks the response. */
  watch(ctx: ServerContext, user: UserInfo, q: Query, rec: RequestRecord): (res: ServerResponse) => void;
  stats(ctx: ServerContext, user: UserInfo, q: Query, rec: RequestRecord): Reply;
  status(ctx: ServerContext, user: UserInfo, rec: RequestRecord): Reply;
}

function badParam(field: string, message: string): Error {
  return fail(400, `invalid query parameter "${field}": ${message}`, { kind: 'flows', group: 'strata', causes: [{ reason: 'FieldValueInvalid', message, field }] });
}

/** `TIER.NAME`, `NAME` (global kinds), `NS/NAME` or `NS/TIER.NAME`. The first dot separates the tier. */
export function parsePolicyRef(text: string): PolicyRef | undefined {
  const slash = text.indexOf('/');
  const ns = slash < 0 ? undefined : text.slice(0, slash);
  const rest = slash < 0 ? text : text.slice(slash + 1);
  if (rest === '' || ns === '' || rest.includes('/')) return undefined;
  const dot = rest.indexOf('.');
  if (dot === 0 || dot === rest.length - 1) return undefined;
  return dot < 0 ? { tier: undefined, namespace: ns, name: rest } : { tier: rest.slice(0, dot), namespace: ns, name: rest.slice(dot + 1) };
}

const LIST_PARAMS = ['since', 'until', 'namespace', 'endpoint', 'policy', 'tier', 'action', 'port', 'protocol', 'pendingDiffers', 'sort', 'limit', 'continue', 'watch', 'timeoutSeconds'] as const;
const FILTER_PARAMS = ['namespace', 'endpoint', 'policy', 'tier', 'action', 'port', 'protocol', 'pendingDiffers', 'sort'] as const;

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 5000;

interface ListParams {
  readonly since: number;
  readonly until: number;
  readonly filter: FlowFilter;
  readonly sort: FlowSort;
  readonly limit: number;
  readonly after: { readonly value: number; readonly key: string } | undefined;
  readonly fingerprint: string;
  readonly timeoutSeconds: number | undefined;
}

const continueSchema = z.object({ v: z.number(), k: z.string(), s: z.number(), u: z.number(), f: z.string() });

function parseTime(field: string, text: string, now: Date): number {
  const t = parseSince(text, now);
  if (t === undefined) throw badParam(field, `expected a duration (30s, 15m, 1h, 2d) or an RFC 3339 time, got "${text}"`);
  return t.getTime();
}

function parseListParams(q: Query, allowed: readonly string[], now = new Date()): ListParams {
  for (const k of Object.keys(q)) if (!allowed.includes(k) && q[k] !== undefined) throw badParam(k, `unknown parameter; known: ${allowed.join(', ')}`);
  const str = (k: string): string | undefined => {
    const v = q[k];
    if (v === undefined) return undefined;
    if (v === '') throw badParam(k, 'must not be empty');
    return v;
  };
  const filter: { -readonly [K in keyof FlowFilter]: FlowFilter[K] } = {};
  const ns = str('namespace');
  if (ns !== undefined) filter.namespace = ns;
  const ep = str('endpoint');
  if (ep !== undefined) {
    const parts = ep.split('/');
    if (parts.length > 2 || parts.some((p) => p === '')) throw badParam('endpoint', `expected NAME or NAMESPACE/NAME, got "${ep}"`);
    filter.endpoint = parts.length === 2 ? { namespace: parts[0], name: parts[1]! } : { namespace: undefined, name: parts[0]! };
  }
  const pol = str('policy');
  if (pol !== undefined) {
    const p = parsePolicyRef(pol);
    if (p === undefined) throw badParam('policy', `expected TIER.NAME, NAMESPACE/NAME or NAMESPACE/TIER.NAME, got "${pol}"`);
    filter.policy = p;
  }
  const tier = str('tier');
  if (tier !== undefined) filter.tier = tier;
  const action = str('action');
  if (action !== undefined) {
    if (action !== 'allow' && action !== 'deny') throw badParam('action', `expected allow or deny, got "${action}"`);
    filter.action = action;
  }
  const port = str('port');
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw badParam('port', `expected a port number 0-65535, got "${port}"`);
    filter.port = Number(port);
  }
  const proto = str('protocol');
  if (proto !== undefined) filter.protocol = proto.toLowerCase();
  const pd = str('pendingDiffers');
  if (pd !== undefined) {
    if (pd !== 'true' && pd !== 'false') throw badParam('pendingDiffers', `expected true or false, got "${pd}"`);
    filter.pendingDiffers = pd === 'true';
  }
  const sort = str('sort') ?? 'time';
  if (sort !== 'time' && sort !== 'packets' && sort !== 'bytes' && sort !== 'connections') throw badParam('sort', `expected time, packets, bytes or connections, got "${sort}"`);
  const limitText = str('limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== undefined) {
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) throw badParam('limit', `expected 1-${MAX_LIMIT}, got "${limitText}"`);
    limit = Number(limitText);
  }
  let timeoutSeconds: number | undefined;
  const ts = str('timeoutSeconds');
  if (ts !== undefined) {
    if (!/^\d+$/.test(ts)) throw badParam('timeoutSeconds', `expected a whole number of seconds, got "${ts}"`);
    timeoutSeconds = Number(ts);
  }
  const w = q['watch'];
  if (w !== undefined && !['true', '1', 'false', '0'].includes(w)) throw badParam('watch', `expected true or false, got "${w}"`);
  // What a continue token is bound to: the filters as given (times are fixed in the token).
  const fingerprint = createHash('sha256').update(JSON.stringify(FILTER_PARAMS.map((k) => q[k] ?? null))).digest('base64url').slice(0, 16);
  let since = parseTime('since', str('since') ?? '15m', now);
  let until = str('until') === undefined ? now.getTime() : parseTime('until', q['until']!, now);
  let after: ListParams['after'];
  const cont = str('continue');
  if (cont !== undefined) {
    let token: z.output<typeof continueSchema>;
    try {
      token = continueSchema.parse(JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')));
    } catch {
      throw badParam('continue', 'not a continue token from this server');
    }
    if (token.f !== fingerprint) throw badParam('continue', 'the token belongs to a list with other filters or sort');
    since = token.s;
    until = token.u;
    after = { value: token.v, key: token.k };
  }
  if (since >= until) throw badParam('since', `must be before until (${new Date(since).toISOString()} is not before ${new Date(until).toISOString()})`);
  return { since, until, filter, sort, limit, after, fingerprint, timeoutSeconds };
}

function parseStatsParams(q: Query, now = new Date()): { since: number; until: number; filter: Pick<FlowFilter, 'namespace' | 'policy' | 'tier'> } {
  const p = parseListParams(q, ['since', 'until', 'namespace', 'policy', 'tier'], now);
  return { since: p.since, until: p.until, filter: { namespace: p.filter.namespace, policy: p.filter.policy, tier: p.filter.tier } };
}

/** The user's flow scope for `verb` (list or watch); 403 when no namespace at all is granted. */
export function flowScope(ctx: ServerContext, user: UserInfo, verb: string, rec: RequestRecord): FlowScope {
  const state = ctx.mirror.rbac();
  const attrs = { verb, apiGroup: 'strata', resource: 'flows' };
  let namespaces: FlowScope['namespaces'];
  const cluster = rbacAllows(state, user, attrs);
  if (cluster.allowed) {
    namespaces = 'all';
    rec.reason = cluster.reason;
  } else {
    const set = new Set<string>();
    for (const b of state.roleBindings) {
      const ns = b.metadata.namespace ?? 'default';
      if (!set.has(ns) && rbacAllows(state, user, { ...attrs, namespace: ns }).allowed) set.add(ns);
    }
    if (set.size === 0) {
      rec.decision = 'forbid';
      throw fail(403, `flows.strata is forbidden: User "${user.username}" cannot ${verb} resource "flows" in API group "strata" in any namespace`, { group: 'strata', kind: 'flows' });
    }
    namespaces = set;
    rec.reason = `RBAC: ${verb} flows in ${[...set].sort().join(', ')}`;
  }
  rec.decision = 'allow';
  let tiers: FlowScope['tiers'];
  if (rbacAllows(state, user, { verb: 'get', apiGroup: 'projectcalico.org', resource: 'tiers' }).allowed) tiers = 'all';
  else {
    const names = new Set(['default', ...ctx.mirror.tiers()]);
    tiers = new Set([...names].filter((t) => rbacAllows(state, user, { verb: 'get', apiGroup: 'projectcalico.org', resource: 'tiers', name: t }).allowed));
  }
  return { namespaces, tiers };
}

function zodCauses(e: z.ZodError): { reason: string; message: string; field: string }[] {
  return e.issues.slice(0, 20).map((i) => ({
    reason: 'FieldValueInvalid',
    message: i.message,
    field: i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(body)',
  }));
}

function continueToken(p: ListParams, next: { value: number; key: string }): string {
  return Buffer.from(JSON.stringify({ v: next.value, k: next.key, s: p.since, u: p.until, f: p.fingerprint })).toString('base64url');
}

/** Per policy (all its rules and directions summed), from the per-rule rows. */
function policyRows(rules: readonly PolicyRuleStat[]): object[] {
  const by = new Map<string, { kind: string; tier: string | null; namespace: string | null; name: string | null; packets: number; bytes: number; connections: number; allowed: number; denied: number; passed: number; lastHit: string }>();
  for (const r of rules) {
    const k = JSON.stringify([r.kind, r.tier, r.namespace, r.name]);
    const p = by.get(k);
    if (p === undefined) {
      by.set(k, { kind: r.kind, tier: r.tier, namespace: r.namespace, name: r.name, packets: r.packets, bytes: r.bytes, connections: r.connections, allowed: r.allowed, denied: r.denied, passed: r.passed, lastHit: r.lastHit });
      continue;
    }
    p.packets += r.packets;
    p.bytes += r.bytes;
    p.connections += r.connections;
    p.allowed += r.allowed;
    p.denied += r.denied;
    p.passed += r.passed;
    if (r.lastHit > p.lastHit) p.lastHit = r.lastHit;
  }
  return [...by.values()].map((p) => ({ ...p, ruleIndex: null, action: null }));
}

/**
 * An agent names only the endpoints its node view holds: the peers its own rules read
 * (`node-views.ts`). A side it could not name (`Network`, address kept) is named here from the
 * server's whole state, so a flow from a pod no rule of the reporting node reads still shows
 * that pod — as Felix's flow logs do from its full endpoint cache. Aggregated records whose
 * address was dropped at the agent stay as they came.
 */
function namedByServer<B extends { readonly records: readonly FlowRecord[] }>(batch: B, clusterNow: () => Cluster): B {
  // Most batches name every side: the snapshot is taken only for one that does not.
  let cluster: Cluster | undefined;
  const side = (e: FlowRecord['source']): FlowRecord['source'] => {
    if (e.kind !== 'Network' || e.ip === null) return e;
    const named = describeAddress((cluster ??= clusterNow()), e.ip);
    return named.kind === 'Network' ? e : named;
  };
  let changed = false;
  const records = batch.records.map((r) => {
    const source = side(r.source);
    const destination = side(r.destination);
    if (source === r.source && destination === r.destination) return r;
    changed = true;
    return { ...r, source, destination };
  });
  return changed ? { ...batch, records } : batch;
}

export function createFlowService(store: FlowStore, ctx: Pick<ServerContext, 'metrics'>): FlowService {
  const registry = ctx.metrics.registry;
  const metrics = createFlowMetrics(registry);
  const records = new Counter({ name: 'strata_flow_ingest_records_total', help: 'Flow records received from agents, by result (accepted, duplicate, dropped, expired)', labelNames: ['result'], registers: [registry] });
  const batches = new Counter({ name: 'strata_flow_ingest_batches_total', help: 'Flow batches received from agents, by result (accepted, duplicate, dropped)', labelNames: ['result'], registers: [registry] });
  for (const r of ['accepted', 'duplicate', 'dropped', 'expired']) records.inc({ result: r }, 0);
  for (const r of ['accepted', 'duplicate', 'dropped']) batches.inc({ result: r }, 0);

  return {
    store,
    metrics,
    async ingest(c, user, body, rec) {
      rec.resource = 'flows';
      rec.objectRef = { resource: 'flows', apiGroup: 'strata', apiVersion: 'v1' };
      // Agents post every few seconds: audited only when refused (401/403), like reads.
      rec.writes = false;
      authorize(c.mirror, user, { info: FLOWS_INFO, verb: 'create', namespace: undefined, name: undefined }, rec);
      let raw: unknown;
      try {
        raw = JSON.parse(body);
      } catch (e) {
        throw fail(400, `the request body is not valid JSON: ${(e as Error).message}`);
      }
      const parsed = flowBatchSchema.safeParse(raw);
      if (!parsed.success) {
        const causes = zodCauses(parsed.error);
        throw fail(400, `not a FlowBatch: ${causes.slice(0, 3).map((x) => `${x.field}: ${x.message}`).join('; ')}`, { kind: 'flows', group: 'strata', causes });
      }
      const batch = namedByServer(parsed.data, () => c.mirror.engine.snapshot());
      try {
        const r = await store.ingest(batch);
        if (r.duplicate) {
          batches.inc({ result: 'duplicate' });
          records.inc({ result: 'duplicate' }, batch.records.length);
        } else {
          batches.inc({ result: 'accepted' });
          records.inc({ result: 'accepted' }, r.accepted);
          if (r.expired > 0) records.inc({ result: 'expired' }, r.expired);
          metrics.observe(batch.records);
        }
        return { code: 200, body: { accepted: r.accepted, duplicate: r.duplicate } };
      } catch (e) {
        if (!(e instanceof FlowStoreUnavailable)) throw e;
        batches.inc({ result: 'dropped' });
        records.inc({ result: 'dropped' }, batch.records.length);
        c.log(`flows: dropped a batch of ${batch.records.length} records from ${batch.agent}: ${e.message}`);
        // 503: the batch is not marked as seen, so the agent's retry can still store it.
        throw fail(503, `flow records dropped: ${e.message}`, { kind: 'flows', group: 'strata', causes: [{ reason: e.reason, message: e.message }] });
      }
    },

    list(c, user, q, rec) {
      rec.resource = 'flows';
      rec.objectRef = { resource: 'flows', apiGroup: 'strata', apiVersion: 'v1' };
      const p = parseListParams(q, LIST_PARAMS);
      const scope = flowScope(c, user, 'list', rec);
      const page = store.query({ since: p.since, until: p.until, filter: p.filter, scope, sort: p.sort, limit: p.limit, after: p.after });
      return {
        code: 200,
        body: { apiVersion: 'strata/v1', kind: 'FlowList', metadata: page.next === undefined ? {} : { continue: continueToken(p, page.next) }, items: page.items },
      };
    },

    watch(c, user, q, rec) {
      rec.resource = 'flows';
      rec.objectRef = { resource: 'flows', apiGroup: 'strata', apiVersion: 'v1' };
      const p = parseListParams(q, LIST_PARAMS);
      const scope = flowScope(c, user, 'watch', rec);
      return (res) => {
        let open = true;
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Audit-Id': rec.auditID });
        res.flushHeaders();
        c.metrics.watchOpened();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const end = (): void => {
          if (!open) return;
          open = false;
          unsubscribe();
          if (timer !== undefined) clearTimeout(timer);
          c.metrics.watchClosed();
          res.end();
        };
        const onRecords = (rs: readonly FlowRecord[]): void => {
          if (!open) return;
          let out = '';
          for (const r of rs) if (matchesFilter(r, p.filter) && inScope(r, scope)) out += `${JSON.stringify({ type: 'FLOW', object: r })}\n`;
          if (out === '') return;
          res.write(out);
          if (res.writableLength > FLOW_STREAM_BUFFER_LIMIT) {
            c.log(`flow watch ${rec.auditID}: client is not reading; dropped`);
            end();
          }
        };
        const unsubscribe = store.subscribe(onRecords);
        res.on('close', end);
        if (p.timeoutSeconds !== undefined && p.timeoutSeconds > 0) timer = setTimeout(end, p.timeoutSeconds * 1000);
      };
    },

    stats(c, user, q, rec) {
      rec.resource = 'flows/stats';
      rec.objectRef = { resource: 'flows', subresource: 'stats', apiGroup: 'strata', apiVersion: 'v1' };
      const p = parseStatsParams(q);
      const scope = flowScope(c, user, 'list', rec);
      const rules = store.stats({ since: p.since, until: p.until, scope, filter: p.filter });
      return {
        code: 200,
        body: { apiVersion: 'strata/v1', kind: 'FlowStats', metadata: {}, since: new Date(p.since).toISOString(), until: new Date(p.until).toISOString(), policies: policyRows(rules), items: rules },
      };
    },

    status(c, user, rec) {
      rec.resource = 'flows/status';
      rec.objectRef = { resource: 'flows', subresource: 'status', apiGroup: 'strata', apiVersion: 'v1' };
      authorize(c.mirror, user, { info: FLOWS_INFO, verb: 'get', namespace: undefined, name: undefined, subresource: 'status' }, rec);
      return { code: 200, body: { apiVersion: 'strata/v1', kind: 'FlowStoreStatus', metadata: {}, status: store.status() } };
    },
  };
}
