// `strata lab traffic` and `strata lab flows`: real connections through a running lab, and the
// flow records its collectors made of them (the kernel's decisions, nflog + conntrack per node,
// with the engine's explanation beside them). Helpers shared with the other lab commands come
// from lab.ts.
import { aggregateFlows } from '../../flows/aggregate.ts';
import { aggregationSchema, flowRecordSchema } from '../../flows/record.ts';
import type { FlowRecord, PolicyHit } from '../../flows/record.ts';
import {
  collectorRunning,
  defaultFlows,
  flushFlowCollection,
  parseDuration,
  parseRate,
  readLabFlows,
  runTraffic,
  withExternalsFor,
} from '../../lab-session/index.ts';
import type { SessionFlow } from '../../lab-session/index.ts';
import type { Session } from '../../lab-session/index.ts';
import { resolveTarget } from '../config.ts';
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';
import { attach, labIdOf, readFlows, render, requireLab, table } from './lab.ts';
import type { LabCommon } from './lab.ts';

export interface LabTrafficOptions extends LabCommon {
  readonly rate: string;
  readonly duration: string;
  readonly flows?: string | undefined;
  readonly timeout?: string | undefined;
  readonly quiet?: boolean | undefined;
}

export interface LabFlowsOptions extends LabCommon {
  readonly output: string;
  readonly since?: string | undefined;
  readonly aggregate?: string | undefined;
  /** Bearer token for an agent lab's server (default $STRATA_TOKEN). */
  readonly token?: string | undefined;
}

/** The default mix: every pair's listening ports, plus an ICMP echo per pair (TCP, UDP and ICMP). */
function withEcho(flows: readonly SessionFlow[]): SessionFlow[] {
  const pairs = new Map<string, SessionFlow>();
  for (const f of flows) pairs.set(`${f.from}\u0000${f.to}`, { from: f.from, to: f.to, protocol: 'ICMP' });
  return [...flows, ...pairs.values()];
}

function must<T>(v: T | string): T {
  if (typeof v === 'string') throw new UsageError(v);
  return v;
}

export async function runLabTraffic(io: Io, opts: LabTrafficOptions): Promise<number> {
  const rate = must(parseRate(opts.rate));
  const durationMs = must(parseDuration(opts.duration, '--duration'));
  const timeoutMs = opts.timeout === undefined ? undefined : must(parseDuration(opts.timeout, '--timeout'));
  const labId = labIdOf(opts);
  if (!requireLab(io)) return EXIT.USAGE;
  const attached = attach(io, labId);
  if (attached === undefined) return EXIT.USAGE;
  const flows = opts.flows === undefined ? withEcho(defaultFlows(attached.lab.plan)) : await readFlows(io, opts.flows);
  if (flows === undefined) return EXIT.USAGE;
  if (flows.length === 0) throw new UsageError('no flows to drive (the lab has fewer than two endpoints and no --flows)');
  const extended = await withExternalsFor(attached, flows);
  if (!extended.ok) {
    render(io, extended.diagnostics);
    return EXIT.USAGE;
  }
  // An agent lab's flows are collected by its agents (and shipped to the server), not by a lab daemon.
  if (extended.value.record.controlPlane === undefined && !collectorRunning(extended.value) && opts.quiet !== true) io.err('note: no flow collector runs for this lab (built with --no-flow-log?): `lab flows` will show nothing new');
  const sum = await runTraffic(extended.value, flows, {
    ratePerSec: rate,
    durationMs,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    onProgress: (p) => io.status?.(`traffic: ${p.started} started, ${p.allowed} allowed, ${p.denied} denied${p.errors > 0 ? `, ${p.errors} errors` : ''}`),
  });
  io.status?.(undefined);
  io.out(
    `lab ${labId}: ${sum.started} connections in ${(sum.ms / 1000).toFixed(1)} s (${sum.rate}/s): ${sum.allowed} allowed, ${sum.denied} denied` +
      `${sum.errors > 0 ? `, ${sum.errors} errors` : ''}${sum.skipped > 0 ? `, ${sum.skipped} skipped` : ''}${sum.behind > 0 ? `; fell behind the rate in ${sum.behind} ticks` : ''}`,
  );
  for (const d of sum.disagreements.slice(0, 10)) io.err(`disagreement: ${d.from} → ${d.to} ${d.port ?? d.protocol}: kernel ${d.observed}, engine ${d.engine ?? '-'}`);
  return sum.disagreements.length > 0 ? EXIT.FINDINGS : EXIT.OK;
}

function endpointText(e: FlowRecord['source']): string {
  if (e.kind === 'WorkloadEndpoint' || e.kind === 'HostEndpoint' || e.kind === 'NetworkSet') return `${e.namespace === null ? '' : `${e.namespace}/`}${e.name ?? e.ip ?? '?'}`;
  if (e.kind === 'GlobalNetworkSet') return `gns:${e.name ?? '?'}`;
  return e.ip ?? e.name ?? '?';
}

function hitText(h: PolicyHit): string {
  switch (h.kind) {
    case 'EndOfTier':
      return `${h.tier ?? '?'}: end of tier (${h.trigger?.name ?? '?'})`;
    case 'NoProfile':
      return 'no profile';
    case 'Profile':
      return `profile ${h.name ?? '?'} rule ${h.ruleIndex ?? '-'} ${h.action}`;
    default:
      return `${h.tier ?? '?'}: ${h.namespace === null ? '' : `${h.namespace}/`}${h.name ?? '?'} rule ${h.ruleIndex ?? '-'} ${h.action}`;
  }
}

export async function runLabFlows(io: Io, opts: LabFlowsOptions): Promise<number> {
  if (opts.output !== 'table' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: lab flows prints table or json`);
  const sinceMs = opts.since === undefined ? 0 : Date.now() - must(parseDuration(opts.since, '--since'));
  let level: FlowRecord['aggregation'] | undefined;
  if (opts.aggregate !== undefined) {
    const a = aggregationSchema.safeParse(opts.aggregate);
    if (!a.success) throw new UsageError(`--aggregate ${opts.aggregate}: one of ${aggregationSchema.options.join(', ')}`);
    level = a.data;
  }
  const labId = labIdOf(opts);
  if (!requireLab(io)) return EXIT.USAGE;
  const session = attach(io, labId);
  if (session === undefined) return EXIT.USAGE;
  let collected: FlowRecord[];
  if (session.record.controlPlane !== undefined) {
    // An agent lab: its agents ship what they collect to the server; read it back from there.
    const fromServer = await serverFlows(io, session, opts);
    if (fromServer === undefined) return EXIT.USAGE;
    collected = fromServer;
  } else {
    // What the collectors hold is reported first, so the newest connections show too.
    const fresh = await flushFlowCollection(session);
    if (!fresh) io.err(collectorRunning(session) ? 'note: the flow collector did not answer; showing what it wrote before' : 'note: no flow collector runs for this lab; showing what was collected before');
    const read = readLabFlows(session, sinceMs);
    if (!read.ok) {
      render(io, read.diagnostics);
      return EXIT.USAGE;
    }
    collected = read.value;
  }
  const records = level === undefined ? collected : aggregateFlows(collected, { allow: level, deny: level });
  if (opts.output === 'json') {
    if (records.length > 0) io.out(records.map((r) => JSON.stringify(r)).join('\n'));
    return EXIT.OK;
  }
  const head = ['TIME', 'NODE', 'REPORTER', 'SOURCE', 'DESTINATION', 'PORT', 'ACTION', 'CONNS', 'PKTS IN/OUT', 'DECIDED BY (KERNEL)', ''];
  const rows = records.map((r) => [
    r.endTime.slice(11, 19),
    r.node,
    r.reporter,
    `${endpointText(r.source)}${r.srcPort === null ? '' : `:${r.srcPort}`}`,
    endpointText(r.destination),
    `${r.port === null ? '' : `${r.port}/`}${r.protocol}`,
    r.action,
    String(r.connections),
    `${r.packetsIn}/${r.packetsOut}`,
    r.policies.enforced.map(hitText).join(' → ') || '-',
    r.mismatch ? `MISMATCH (engine: ${r.engine === null ? 'no view' : `${r.engine.action} by ${r.engine.enforced.map(hitText).at(-1) ?? '-'}`})` : r.policies.pending.length > 0 && r.policies.pending.at(-1)?.action !== r.action ? `pending: ${r.policies.pending.at(-1)?.action}` : '',
  ]);
  io.out(table([head, ...rows]).join('\n'));
  if (records.length === 0) io.err('no flow records yet (drive some with `strata lab traffic` or `strata lab probe`)');
  const mismatches = records.filter((r) => r.mismatch).length;
  if (mismatches > 0) io.err(`${mismatches} record(s) where the kernel's decision differs from the engine's explanation`);
  return EXIT.OK;
}

/**
 * An agent lab's records from its server's flow API (`GET /apis/strata/v1/flows`, oldest first,
 * up to 5,000 per page, every page of the window). undefined after saying why on stderr.
 */
async function serverFlows(io: Io, session: Session, opts: LabFlowsOptions): Promise<FlowRecord[] | undefined> {
  const server = session.record.controlPlane!.server;
  const target = await resolveTarget({ server, token: opts.token });
  const since = opts.since === undefined ? '15m' : `${Math.max(1, Math.ceil(must(parseDuration(opts.since, '--since')) / 1000))}s`;
  const out: FlowRecord[] = [];
  let cont: string | undefined;
  for (;;) {
    const url = `${server}/apis/strata/v1/flows?since=${since}&limit=5000${cont === undefined ? '' : `&continue=${encodeURIComponent(cont)}`}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: { accept: 'application/json', ...(target?.token === undefined ? {} : { authorization: `Bearer ${target.token}` }) } });
    } catch (e) {
      io.err(`strata lab flows: cannot reach the lab's server ${server}: ${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message} (or use strata flows --server URL)`);
      return undefined;
    }
    const body = (await res.json().catch(() => ({}))) as { items?: unknown[]; metadata?: { continue?: string }; message?: string };
    if (res.status !== 200) {
      io.err(`strata lab flows: ${server} answered HTTP ${res.status}: ${body.message ?? ''}${res.status === 401 ? ' (pass --token or set STRATA_TOKEN)' : ''}`);
      return undefined;
    }
    for (const [i, item] of (body.items ?? []).entries()) {
      const r = flowRecordSchema.safeParse(item);
      if (!r.success) {
        io.err(`strata lab flows: ${server}: items[${i}].${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
        return undefined;
      }
      out.push(r.data);
    }
    cont = body.metadata?.continue;
    if (cont === undefined || cont === '') break;
  }
  // The API answers newest first; the lab's table reads oldest first.
  return out.sort((a, b) => (a.endTime < b.endTime ? -1 : a.endTime > b.endTime ? 1 : 0));
}
