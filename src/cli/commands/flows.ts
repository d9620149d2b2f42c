// `strata flows`, `strata flows stats` and `strata policies unused` against a server: the flow
// API (GET /apis/strata/v1/flows, …/stats, ?watch=true) rendered as a table, JSON Lines or CSV,
// and the unused-policies review (Calico Enterprise's): the live policies and their rules
// compared with the hits counted over a window.
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';
import type { Target, TargetOptions } from '../config.ts';
import { call, remote, requireTarget, RemoteError } from '../remote.ts';
import { age } from './remote-resources.ts';
import { RESOURCES, resourceUrl } from '../../server/resources.ts';
import type { ResourceInfo } from '../../server/resources.ts';
import type { FlowRecord, PolicyHit } from '../../flows/record.ts';
import type { PolicyRuleStat } from '../../flows/store.ts';

const FLOWS = '/apis/strata/v1/flows';

export interface FlowsOptions extends TargetOptions {
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly follow?: boolean | undefined;
  readonly namespace?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly policy?: string | undefined;
  readonly tier?: string | undefined;
  readonly action?: string | undefined;
  readonly port?: string | undefined;
  readonly protocol?: string | undefined;
  readonly pendingDiffers?: boolean | undefined;
  readonly sort?: string | undefined;
  readonly limit?: string | undefined;
  /** Stop following after this many seconds. */
  readonly timeout?: string | undefined;
  readonly output?: string | undefined;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function side(e: FlowRecord['source']): string {
  const name = e.name ?? e.ip ?? '*';
  return e.namespace === null ? name : `${e.namespace}/${name}`;
}

/** `tier.name[rule]` for a global policy, `ns/tier.name[rule]` for a namespaced one. */
export function hitLabel(h: PolicyHit): string {
  if (h.kind === 'EndOfTier') return `end-of-tier ${h.tier ?? ''}`;
  if (h.kind === 'NoProfile') return 'no-profile';
  const name = `${h.kind.startsWith('Staged') ? 'staged:' : ''}${h.tier === null ? '' : `${h.tier}.`}${h.name ?? ''}`;
  return `${h.namespace === null ? '' : `${h.namespace}/`}${name}${h.ruleIndex === null ? '' : `[${h.ruleIndex}]`}`;
}

/** The hit that decided: the last enforced allow or deny. */
function decidingHit(r: FlowRecord): PolicyHit | undefined {
  for (let i = r.policies.enforced.length - 1; i >= 0; i--) if (r.policies.enforced[i]!.action !== 'pass') return r.policies.enforced[i];
  return r.policies.enforced[r.policies.enforced.length - 1];
}

const HEADER = ['TIME', 'SOURCE', 'DESTINATION', 'PORT', 'ACTION', 'POLICY', 'PACKETS', 'BYTES', 'CONNS'];
const CSV_HEADER = ['startTime', 'endTime', 'reporter', 'node', 'srcNamespace', 'srcName', 'dstNamespace', 'dstName', 'port', 'protocol', 'action', 'policy', 'pendingPolicy', 'packets', 'bytes', 'connections'];

function tableRow(r: FlowRecord): string[] {
  const h = decidingHit(r);
  return [r.endTime.replace(/\.\d+Z$/, 'Z'), side(r.source), side(r.destination), r.port === null ? r.protocol : `${r.port}/${r.protocol}`, r.action, h === undefined ? '' : hitLabel(h), String(r.packets), String(r.bytes), String(r.connections)];
}

function csvRow(r: FlowRecord): string {
  const h = decidingHit(r);
  const pending = r.policies.pending[r.policies.pending.length - 1];
  return [r.startTime, r.endTime, r.reporter, r.node, r.source.namespace ?? '', r.source.name ?? r.source.ip ?? '', r.destination.namespace ?? '', r.destination.name ?? r.destination.ip ?? '', r.port === null ? '' : String(r.port), r.protocol, r.action, h === undefined ? '' : hitLabel(h), pending === undefined ? '' : hitLabel(pending), String(r.packets), String(r.bytes), String(r.connections)]
    .map(csvCell)
    .join(',');
}

function queryOf(opts: FlowsOptions, pageLimit: number | undefined): URLSearchParams {
  const p = new URLSearchParams();
  const add = (k: string, v: string | undefined): void => {
    if (v !== undefined) p.set(k, v);
  };
  add('since', opts.since ?? '15m');
  add('until', opts.until);
  add('namespace', opts.namespace);
  add('endpoint', opts.endpoint);
  add('policy', opts.policy);
  add('tier', opts.tier);
  add('action', opts.action);
  add('port', opts.port);
  add('protocol', opts.protocol);
  if (opts.pendingDiffers === true) p.set('pendingDiffers', 'true');
  add('sort', opts.sort);
  if (pageLimit !== undefined) p.set('limit', String(pageLimit));
  return p;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return 100;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--limit ${text}: expected a positive number`);
  return Number(text);
}

/** Reads a newline-delimited JSON stream, one callback per line. */
async function follow(t: Target, path: string, onLine: (line: string) => void): Promise<void> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (t.token !== undefined) headers['authorization'] = `Bearer ${t.token}`;
  let res: Response;
  try {
    res = await fetch(`${t.server}${path}`, { headers });
  } catch (e) {
    throw new UsageError(`cannot reach the server at ${t.server}: ${(e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message}`);
  }
  if (!res.ok || res.body === null) {
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    throw new RemoteError(res.status, body, (body as { message?: string }).message ?? `HTTP ${res.status}`);
  }
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() !== '') onLine(line);
    }
  }
}

export async function runFlows(io: Io, given: FlowsOptions): Promise<number> {
  const opts = { ...given, output: given.output ?? 'table' };
  if (!['table', 'json', 'csv'].includes(opts.output)) throw new UsageError(`-o ${opts.output}: flows prints table, json (JSON Lines) or csv`);
  const limit = parseLimit(opts.limit);
  if (opts.timeout !== undefined && !/^\d+$/.test(opts.timeout)) throw new UsageError(`--timeout ${opts.timeout}: expected whole seconds`);
  const t = await requireTarget(opts);
  return remote(io, async () => {
    const items: FlowRecord[] = [];
    let cont: string | undefined;
    do {
      const q = queryOf(opts, Math.min(5000, limit - items.length));
      if (cont !== undefined) q.set('continue', cont);
      const r = (await call(t, 'GET', `${FLOWS}?${q.toString()}`)) as { metadata: { continue?: string }; items: FlowRecord[] };
      items.push(...r.items);
      cont = r.metadata.continue;
    } while (cont !== undefined && items.length < limit);
    const print = (rs: readonly FlowRecord[], first: boolean): void => {
      if (opts.output === 'json') for (const r of rs) io.out(JSON.stringify(r));
      else if (opts.output === 'csv') {
        if (first) io.out(CSV_HEADER.join(','));
        for (const r of rs) io.out(csvRow(r));
      } else if (first) io.out(table([HEADER, ...rs.map(tableRow)]));
      else for (const r of rs) io.out(tableRow(r).join('  '));
    };
    if (items.length === 0 && opts.output === 'table' && opts.follow !== true) io.err('No flows');
    else print(items, true);
    if (opts.follow !== true) return EXIT.OK;
    const q = queryOf(opts, undefined);
    q.delete('since');
    q.delete('until');
    q.delete('sort');
    q.set('watch', 'true');
    if (opts.timeout !== undefined) q.set('timeoutSeconds', opts.timeout);
    await follow(t, `${FLOWS}?${q.toString()}`, (line) => {
      const e = JSON.parse(line) as { type: string; object: FlowRecord };
      if (e.type === 'FLOW') print([e.object], false);
    });
    return EXIT.OK;
  });
}

export interface FlowStatsOptions extends TargetOptions {
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly namespace?: string | undefined;
  readonly policy?: string | undefined;
  readonly tier?: string | undefined;
  readonly output?: string | undefined;
}

interface StatsBody {
  readonly items: readonly PolicyRuleStat[];
}

async function fetchStats(t: Target, o: { since?: string | undefined; until?: string | undefined; namespace?: string | undefined; policy?: string | undefined; tier?: string | undefined }): Promise<StatsBody> {
  const q = new URLSearchParams();
  q.set('since', o.since ?? '1h');
  for (const k of ['until', 'namespace', 'policy', 'tier'] as const) if (o[k] !== undefined) q.set(k, o[k]);
  return (await call(t, 'GET', `${FLOWS}/stats?${q.toString()}`)) as StatsBody;
}

export async function runFlowStats(io: Io, given: FlowStatsOptions): Promise<number> {
  const opts = { ...given, output: given.output ?? 'table' };
  if (!['table', 'json'].includes(opts.output)) throw new UsageError(`-o ${opts.output}: flows stats prints table or json`);
  const t = await requireTarget(opts);
  return remote(io, async () => {
    const body = await fetchStats(t, opts);
    if (opts.output === 'json') {
      io.out(JSON.stringify(body, null, 2));
      return EXIT.OK;
    }
    if (body.items.length === 0) {
      io.err('No policy hits');
      return EXIT.OK;
    }
    const rows = body.items.map((s) => [
      s.kind,
      s.tier ?? '',
      s.namespace ?? '',
      s.name ?? '',
      s.direction,
      s.ruleIndex === null ? '-' : String(s.ruleIndex),
      s.action,
      String(s.packets),
      String(s.bytes),
      String(s.connections),
      String(s.allowed),
      String(s.denied),
      String(s.passed),
      s.lastHit.replace(/\.\d+Z$/, 'Z'),
    ]);
    io.out(table([['KIND', 'TIER', 'NAMESPACE', 'NAME', 'DIR', 'RULE', 'ACTION', 'PACKETS', 'BYTES', 'CONNS', 'ALLOWED', 'DENIED', 'PASSED', 'LAST HIT'], ...rows]));
    return EXIT.OK;
  });
}

export interface UnusedOptions extends TargetOptions {
  readonly since?: string | undefined;
  readonly output: string;
}

/** Policy kinds as flow hits name them, and where the server serves them. */
const POLICY_TYPES = ['GlobalNetworkPolicy', 'NetworkPolicy', 'KubernetesNetworkPolicy', 'StagedGlobalNetworkPolicy', 'StagedNetworkPolicy', 'StagedKubernetesNetworkPolicy', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy'] as const;

interface PolicyObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly creationTimestamp?: string };
  readonly spec?: { readonly tier?: string; readonly ingress?: readonly unknown[]; readonly egress?: readonly unknown[] };
}

interface Unused {
  readonly kind: string;
  readonly tier: string | null;
  readonly namespace: string | null;
  readonly name: string;
  /** `policy`: nothing hit it; `rules`: some of its rules were never hit. */
  readonly unused: 'policy' | 'rules';
  readonly rules: readonly { readonly direction: 'ingress' | 'egress'; readonly index: number }[];
  readonly created: string | null;
}

function tierOf(type: string, o: PolicyObject): string | null {
  if (type === 'AdminNetworkPolicy' || type === 'BaselineAdminNetworkPolicy') return null;
  return o.spec?.tier ?? 'default';
}

/** Older Calico spells policies of a tier `TIER.NAME`; hits may carry either form. */
function bareName(name: string, tier: string | null): string {
  return tier !== null && name.startsWith(`${tier}.`) ? name.slice(tier.length + 1) : name;
}

export async function runPoliciesUnused(io: Io, opts: UnusedOptions): Promise<number> {
  if (!['table', 'json'].includes(opts.output)) throw new UsageError(`-o ${opts.output}: policies unused prints table or json (JSON Lines)`);
  const t = await requireTarget(opts);
  return remote(io, async () => {
    const since = opts.since ?? '30d';
    const stats = await fetchStats(t, { since });
    const hit = new Set<string>();
    const used = new Set<string>();
    for (const s of stats.items) {
      const id = `${s.kind}|${s.namespace ?? ''}|${bareName(s.name ?? '', s.tier)}`;
      used.add(id);
      if (s.ruleIndex !== null) hit.add(`${id}|${s.direction}|${s.ruleIndex}`);
    }
    const out: Unused[] = [];
    for (const type of POLICY_TYPES) {
      const info = RESOURCES.find((r: ResourceInfo) => r.type === type);
      if (info === undefined) continue;
      let list: { items: PolicyObject[] };
      try {
        list = (await call(t, 'GET', resourceUrl(info, undefined))) as { items: PolicyObject[] };
      } catch (e) {
        if (e instanceof RemoteError && (e.code === 403 || e.code === 404)) {
          io.err(`strata: skipping ${info.plural}.${info.group}: ${e.message}`);
          continue;
        }
        throw e;
      }
      for (const o of list.items) {
        const name = o.metadata?.name ?? '';
        const namespace = info.namespaced ? (o.metadata?.namespace ?? 'default') : null;
        const tier = tierOf(type, o);
        const id = `${type}|${namespace ?? ''}|${bareName(name, tier)}`;
        const created = o.metadata?.creationTimestamp ?? null;
        if (!used.has(id)) {
          out.push({ kind: type, tier, namespace, name, unused: 'policy', rules: [], created });
          continue;
        }
        const rules: { direction: 'ingress' | 'egress'; index: number }[] = [];
        for (const direction of ['ingress', 'egress'] as const) {
          const n = o.spec?.[direction]?.length ?? 0;
          for (let i = 0; i < n; i++) if (!hit.has(`${id}|${direction}|${i}`)) rules.push({ direction, index: i });
        }
        if (rules.length > 0) out.push({ kind: type, tier, namespace, name, unused: 'rules', rules, created });
      }
    }
    if (opts.output === 'json') {
      for (const u of out) io.out(JSON.stringify(u));
      return EXIT.OK;
    }
    if (out.length === 0) {
      io.err(`Every policy and rule was hit in the last ${since}`);
      return EXIT.OK;
    }
    const rows = out.map((u) => [u.kind, u.tier ?? '', u.namespace ?? '', u.name, u.unused === 'policy' ? 'whole policy' : u.rules.map((r) => `${r.direction}[${r.index}]`).join(' '), u.created === null ? '' : age(u.created)]);
    io.out(table([['KIND', 'TIER', 'NAMESPACE', 'NAME', 'UNUSED', 'AGE'], ...rows]));
    io.err(`${out.length} ${out.length === 1 ? 'policy' : 'policies'} with unused parts over the last ${since} (a policy younger than that had less time to be hit: see AGE)`);
    return EXIT.OK;
  });
}
