// `strata lab …`: real enforcement on one machine. `up` builds an island of network namespaces
// for the manifests and programs every node's nftables from the engine; `probe` sends real
// packets and compares the kernel's verdicts with the engine's; `apply` changes policy on the
// running lab incrementally; `counters` shows per-rule packet counts in the engine's words;
// `status` and `down`. The logic lives in src/lab-session; this file parses flags and prints.
import type { Diagnostic } from '../../diagnostics/index.ts';
import { hasErrors, renderDiagnostics } from '../../diagnostics/index.ts';
import {
  allLabStatus,
  applySession,
  attachSession,
  DEFAULT_LAB_ID,
  DEFAULT_NODES,
  DEFAULT_POD_CIDR,
  defaultFlows,
  downSession,
  labStatus,
  parseFlowLines,
  probeSession,
  withExternalsFor,
  readCounters,
  sessionUnavailableReason,
  formatProbeSummary,
  summarize,
  startFlowCollection,
  upSession,
  upAgentLab,
  attachAgentSession,
} from '../../lab-session/index.ts';
import type { CounterRow, LabStatus, ManifestSource, Session, SessionFlow, SessionProbeResult } from '../../lab-session/index.ts';
import { labUnavailableReason } from '../../lab/index.ts';
import type { LabDnsRecord } from '../../lab/index.ts';
import { loadPaths } from '../../load/index.ts';
import { resolveTarget } from '../config.ts';
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';

export interface LabCommon {
  readonly lab?: string | undefined;
}

export interface LabUpOptions extends LabCommon {
  readonly filename: readonly string[];
  readonly nodes?: string | undefined;
  readonly podCidr?: string | undefined;
  readonly flows?: string | undefined;
  /** `NAME=IP` or `NAME=TARGET` (CNAME), repeatable. */
  readonly dns?: readonly string[] | undefined;
  readonly quiet?: boolean | undefined;
  readonly server?: string | undefined;
  readonly token?: string | undefined;
  /** `--no-flow-log`: do not start the flow collectors. */
  readonly flowLog?: boolean | undefined;
}

export interface LabProbeOptions extends LabCommon {
  readonly flows?: string | undefined;
  readonly token?: string | undefined;
  readonly output: string;
  readonly timeout?: string | undefined;
  readonly quiet?: boolean | undefined;
}

export interface LabApplyOptions extends LabCommon {
  readonly filename: readonly string[];
  readonly quiet?: boolean | undefined;
  /** The manifests are the whole new state (resources not in them are removed). */
  readonly prune?: boolean | undefined;
}

export interface LabCountersOptions extends LabCommon {
  readonly output: string;
  readonly all?: boolean | undefined;
}

export interface LabStatusOptions extends LabCommon {
  readonly output: string;
}

export const labIdOf = (o: LabCommon): string => o.lab ?? process.env['STRATA_LAB'] ?? DEFAULT_LAB_ID;

/** Root, ip, nft, ping: said plainly, exit 2. */
export function requireLab(io: Io, programs?: readonly string[]): boolean {
  const why = programs === undefined ? sessionUnavailableReason() : labUnavailableReason(programs);
  if (why === undefined) return true;
  io.err(`strata lab: ${why}`);
  return false;
}

export function render(io: Io, ds: readonly Diagnostic[], sources: ReadonlyMap<string, string> = new Map()): void {
  if (ds.length > 0) io.err(renderDiagnostics(ds, { source: (f) => sources.get(f), color: io.stderrColor }));
}

function shown(ds: readonly Diagnostic[], quiet: boolean): Diagnostic[] {
  return ds.filter((d) => d.severity === 'error' || (!quiet && d.severity === 'warning'));
}

async function readSources(io: Io, paths: readonly string[], quiet: boolean): Promise<ManifestSource[] | undefined> {
  if (paths.length === 0) throw new UsageError('needs at least one -f PATH');
  const loaded = await loadPaths(paths, { readStdin: io.readStdin });
  if (hasErrors(loaded.diagnostics)) {
    render(io, shown(loaded.diagnostics, quiet), loaded.sources);
    return undefined;
  }
  return [...loaded.sources].map(([file, text]) => ({ file, text }));
}

export async function readFlows(io: Io, file: string): Promise<SessionFlow[] | undefined> {
  let text: string;
  try {
    text = file === '-' ? await io.readStdin() : await io.readFile(file);
  } catch (e) {
    throw new UsageError(`cannot read --flows ${file}: ${(e as Error).message}`);
  }
  const parsed = parseFlowLines(text, file);
  if (!parsed.ok) {
    render(io, parsed.diagnostics, new Map([[file, text]]));
    return undefined;
  }
  return parsed.value;
}

function intFlag(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return Number(v);
}

function sourcesMap(sources: readonly ManifestSource[]): Map<string, string> {
  return new Map(sources.map((s) => [s.file, s.text]));
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function bar(done: number, total: number, width = 24): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

// ---------------------------------------------------------------------------------------------
// up

/** `--dns NAME=ANSWER` flags; the names and answers themselves are checked by the lab's planner. */
function dnsFlags(values: readonly string[] | undefined): LabDnsRecord[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  return values.map((v) => {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new UsageError(`--dns ${v}: expected NAME=IP or NAME=OTHER.NAME (e.g. --dns api.example.test=203.0.113.10)`);
    return { name: v.slice(0, eq), answer: v.slice(eq + 1) };
  });
}

export async function runLabUp(io: Io, opts: LabUpOptions): Promise<number> {
  const nodes = intFlag('nodes', opts.nodes, 1, 64) ?? DEFAULT_NODES;
  const quiet = opts.quiet === true;
  const labId = labIdOf(opts);
  if (!requireLab(io)) return EXIT.USAGE;
  const sources = await readSources(io, opts.filename, quiet);
  if (sources === undefined) return EXIT.USAGE;
  const flows = opts.flows === undefined ? [] : await readFlows(io, opts.flows);
  if (flows === undefined) return EXIT.USAGE;

  const dns = dnsFlags(opts.dns);
  if (opts.server !== undefined) return runAgentLabUp(io, opts, { labId, nodes, sources, flows, quiet, dns });
  const up = await upSession(sources, {
    labId,
    nodes,
    podCidr: opts.podCidr ?? DEFAULT_POD_CIDR,
    flows,
    ...(dns === undefined ? {} : { dns }),
    onProgress: (phase) => io.status?.(`lab ${labId}: ${phase}…`),
  });
  io.status?.(undefined);
  render(io, shown(up.diagnostics, quiet), sourcesMap(sources));
  if (!up.ok) return EXIT.USAGE;
  const { session, timings, left, notes } = up.value;
  const plan = session.lab.plan;
  const t = timings;
  io.out(
    `lab ${labId}: ${plural(plan.nodes.length, 'node')}, ${plural(plan.workloads.length, 'workload')}, ${plural(plan.externals.length, 'external address', 'external addresses')}; ` +
      `up in ${t.totalMs} ms (engine ${t.buildMs}, compile ${t.compileMs}, island ${t.lab.totalMs}, nftables ${t.applyMs})`,
  );
  for (const n of plan.nodes) {
    const ws = plan.workloads.filter((w) => w.node === n.name);
    const rs = session.record.rulesets[n.name];
    const rules = rs === undefined ? 0 : rs.chains.reduce((s, c) => s + c.rules.length, 0);
    const sets = rs?.sets.length ?? 0;
    io.out(`  ${n.name.padEnd(10)} ${plural(ws.length, 'workload').padEnd(13)} ${plural(rules, 'rule')}, ${plural(sets, 'set')}  (${n.namespace})`);
  }
  for (const [id, why] of left) io.out(`  left out: ${id}: ${why}`);
  if (opts.flowLog !== false) {
    // The kernel's record of its decisions (nflog + conntrack per node): `strata lab flows`.
    const collecting = await startFlowCollection(session);
    if (collecting.ok) io.out(`  flow log: collector pid ${collecting.value.pid} (ulogd + conntrack in every node namespace)`);
    else render(io, collecting.diagnostics.map((d) => ({ ...d, severity: 'warning' as const, message: `no flow log: ${d.message}` })));
  }
  for (const n of notes) io.err(`note: ${n}`);
  if (!session.lab.sctp.supported && plan.workloads.some((w) => w.ports.some((p) => p.protocol === 'SCTP'))) {
    io.err(`note: SCTP flows will be skipped: ${session.lab.sctp.detail}`);
  }
  const l = labId === DEFAULT_LAB_ID ? '' : ` --lab ${labId}`;
  io.out(`next: strata lab probe${l}   ·   strata lab traffic${l}   ·   strata lab flows${l}   ·   strata lab down${l}`);
  return EXIT.OK;
}

async function runAgentLabUp(
  io: Io,
  opts: LabUpOptions,
  x: { labId: string; nodes: number; sources: ManifestSource[]; flows: SessionFlow[]; quiet: boolean; dns: LabDnsRecord[] | undefined },
): Promise<number> {
  const target = await resolveTarget({ server: opts.server, token: opts.token });
  if (target === undefined) throw new UsageError('--server needs a URL');
  const t0 = performance.now();
  const up = await upAgentLab(x.sources, {
    labId: x.labId,
    nodes: x.nodes,
    podCidr: opts.podCidr ?? DEFAULT_POD_CIDR,
    flows: x.flows,
    ...(x.dns === undefined ? {} : { dns: x.dns }),
    target: { server: target.server, token: target.token },
    // The agents collect and ship the flows (docs/flows.md, "End to end"); no lab daemon.
    ...(opts.flowLog === false ? { agentArgs: ['--no-flow-log'] } : {}),
    onProgress: (phase) => io.status?.(`lab ${x.labId}: ${phase}…`),
  });
  io.status?.(undefined);
  render(io, shown(up.diagnostics, x.quiet), sourcesMap(x.sources));
  if (!up.ok) return EXIT.USAGE;
  const { session, nodes, revision, registered } = up.value;
  const plan = session.lab.plan;
  io.out(
    `lab ${x.labId}: ${plural(plan.nodes.length, 'node')}, ${plural(plan.workloads.length, 'workload')}; registered with ${target.server} at revision ${revision} ` +
      `(${registered.created} created, ${registered.configured} updated, ${registered.unchanged} unchanged); agents in sync in ${Math.round(performance.now() - t0)} ms`,
  );
  for (const n of nodes) io.out(`  ${n.name.padEnd(10)} agent pid ${String(n.agentPid).padEnd(8)} revision ${n.revision ?? '-'}  (${n.netns}, http ${n.listen ?? '-'})`);
  io.out(`policy now changes through the API: strata apply -f … / strata delete …   ·   strata get nodes   ·   strata lab probe${x.labId === DEFAULT_LAB_ID ? '' : ` --lab ${x.labId}`}`);
  if (opts.flowLog !== false) io.out(`flows: every agent collects its node's flows and ships them to the server: strata flows --server ${target.server}   ·   strata lab flows${x.labId === DEFAULT_LAB_ID ? '' : ` --lab ${x.labId}`}`);
  return EXIT.OK;
}

// ---------------------------------------------------------------------------------------------
// probe

export function attach(io: Io, labId: string): Session | undefined {
  const s = attachSession(labId);
  if (!s.ok) {
    render(io, s.diagnostics);
    return undefined;
  }
  return s.value;
}

function portText(r: Pick<SessionProbeResult, 'port' | 'protocol'>): string {
  return r.port === null ? r.protocol : `${r.port}/${r.protocol}`;
}

export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

function probeJson(r: SessionProbeResult): string {
  return JSON.stringify({
    from: r.from,
    to: r.to,
    port: r.port,
    protocol: r.protocol,
    observed: r.observed,
    engine: r.engine,
    ...(r.expected === undefined ? {} : { expected: r.expected }),
    agree: r.agree,
    detail: r.detail,
    ...(r.decidedBy === undefined ? {} : { decidedBy: r.decidedBy }),
    ...(r.matchedDomain === undefined ? {} : { matchedDomain: r.matchedDomain }),
    ...(r.srcPort === undefined ? {} : { srcPort: r.srcPort }),
    ...(r.fromAddress === undefined ? {} : { fromAddress: r.fromAddress }),
    ...(r.toAddress === undefined ? {} : { toAddress: r.toAddress }),
    ...(r.line === undefined ? {} : { line: r.line }),
  });
}

export async function runLabProbe(io: Io, opts: LabProbeOptions): Promise<number> {
  if (opts.output !== 'table' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: lab probe prints table or json`);
  const timeoutMs = intFlag('timeout', opts.timeout, 50, 60_000);
  const labId = labIdOf(opts);
  if (!requireLab(io)) return EXIT.USAGE;
  let attached = attach(io, labId);
  if (attached === undefined) return EXIT.USAGE;
  const server = attached.record.controlPlane?.server;
  if (server !== undefined) {
    // An agent lab: the kernel follows the server, so the verdicts to compare with are the server's.
    const target = await resolveTarget({ server, token: opts.token });
    const fromServer = await attachAgentSession(labId, { server, token: target?.token });
    if (!fromServer.ok) {
      render(io, fromServer.diagnostics);
      return EXIT.USAGE;
    }
    attached = fromServer.value;
  }
  const flows = opts.flows === undefined ? defaultFlows(attached.lab.plan) : await readFlows(io, opts.flows);
  if (flows === undefined) return EXIT.USAGE;
  const extended = await withExternalsFor(attached, flows);
  if (!extended.ok) {
    io.err(renderDiagnostics(extended.diagnostics, { color: io.stderrColor }));
    return EXIT.USAGE;
  }
  const session = extended.value;

  const t = performance.now();
  let drawn = 0;
  const results = await probeSession(session, flows, {
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    onProgress: (p) => {
      // At most 20 redraws a second: thousands of probes finish within one.
      if (p.done < p.total && performance.now() - drawn < 50) return;
      drawn = performance.now();
      io.status?.(`probing ${bar(p.done, p.total)}  allowed ${p.allowed}  denied ${p.denied}${p.errors > 0 ? `  errors ${p.errors}` : ''}`);
    },
  });
  io.status?.(undefined);
  const sum = summarize(results, Math.round(performance.now() - t));

  if (opts.output === 'json') {
    io.out(results.map(probeJson).join('\n'));
  } else {
    const withExpected = results.some((r) => r.expected !== undefined);
    const head = ['FROM', 'TO', 'PORT', 'OBSERVED', 'ENGINE', ...(withExpected ? ['EXPECTED'] : []), ''];
    const rows = results.map((r) => {
      const mark = r.agree === null ? `skipped: ${r.detail}` : r.agree ? '' : r.invalid === true ? `invalid: ${r.detail}` : `DISAGREE (${r.detail})`;
      return [r.from, r.to, portText(r), r.observed, r.engine ?? '-', ...(withExpected ? [r.expected ?? '-'] : []), mark];
    });
    const lines = table([head, ...rows]);
    const red = (s: string): string => (io.stdoutColor ? `\x1b[31m${s}\x1b[0m` : s);
    io.out(lines.map((l, i) => (i > 0 && results[i - 1]!.agree === false ? red(l) : l)).join('\n'));
  }
  const summary = formatProbeSummary(sum);
  if (!(opts.quiet === true && opts.output === 'json')) {
    io.err(summary);
    for (const [why, n] of Object.entries(sum.skipReasons)) io.err(`  skipped ${n}: ${why}`);
  }
  if (sum.invalid > 0) return EXIT.USAGE;
  return sum.disagree > 0 ? EXIT.FINDINGS : EXIT.OK;
}

// ---------------------------------------------------------------------------------------------
// apply

export async function runLabApply(io: Io, opts: LabApplyOptions): Promise<number> {
  const quiet = opts.quiet === true;
  const labId = labIdOf(opts);
  if (!requireLab(io)) return EXIT.USAGE;
  const sources = await readSources(io, opts.filename, quiet);
  if (sources === undefined) return EXIT.USAGE;
  const session = attach(io, labId);
  if (session === undefined) return EXIT.USAGE;
  if (session.record.controlPlane !== undefined) {
    io.err(`strata lab apply: lab ${labId} follows the API server ${session.record.controlPlane.server}: change policy there (strata apply -f …, strata delete …); its agents program the nodes`);
    return EXIT.USAGE;
  }
  const r = await applySession(session, sources, { mode: opts.prune === true ? 'replace' : 'upsert' });
  render(io, shown(r.diagnostics, quiet), sourcesMap(sources));
  if (!r.ok) return EXIT.USAGE;
  const changed = r.value.nodes.filter((n) => n.kind !== 'unchanged');
  io.out(
    `lab ${labId}: generation ${r.value.session.record.generation}; ${changed.length === 0 ? 'nothing changed' : `${plural(changed.length, 'node')} updated`} in ${r.value.totalMs} ms (compile ${r.value.compileMs})`,
  );
  for (const n of r.value.nodes) {
    io.out(`  ${n.node.padEnd(10)} ${n.kind === 'unchanged' ? 'unchanged' : `${n.kind === 'replace' ? 'table replaced' : `${plural(n.ops, 'operation')}`}, ${n.scriptBytes} bytes, one transaction, ${n.ms} ms`}`);
  }
  for (const n of r.value.notes) io.err(`note: ${n}`);
  return EXIT.OK;
}

// ---------------------------------------------------------------------------------------------
// counters

function counterJson(r: CounterRow): string {
  return JSON.stringify(r);
}

export async function runLabCounters(io: Io, opts: LabCountersOptions): Promise<number> {
  if (opts.output !== 'table' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: lab counters prints table or json`);
  const labId = labIdOf(opts);
  if (!requireLab(io)) return EXIT.USAGE;
  const session = attach(io, labId);
  if (session === undefined) return EXIT.USAGE;
  const rows = await readCounters(session, { includeZero: opts.all === true });
  if (opts.output === 'json') {
    if (rows.length > 0) io.out(rows.map(counterJson).join('\n'));
    return EXIT.OK;
  }
  const head = ['TIER', 'POLICY', 'DIRECTION', 'RULE', 'ACTION', 'PACKETS', 'BYTES', 'NODES'];
  const body = rows.map((r) => [
    r.tier ?? (r.kind === 'Profile' ? '(profile)' : '-'),
    r.kind === 'Endpoint' ? `${r.policy} (${r.reason})` : `${r.namespace === undefined ? '' : `${r.namespace}/`}${r.policy}${r.kind === 'Profile' ? '' : ` [${r.kind}]`}`,
    r.direction,
    r.rule === null ? r.reason : String(r.rule),
    r.action,
    String(r.packets),
    String(r.bytes),
    Object.keys(r.nodes).join(','),
  ]);
  io.out(table([head, ...body]).join('\n'));
  if (rows.length === 0) io.err('no rule has counted a packet yet (run `strata lab probe` first; --all shows every rule)');
  return EXIT.OK;
}

// ---------------------------------------------------------------------------------------------
// status, down

function statusText(s: LabStatus): string[] {
  const lines = [
    `lab ${s.labId}: ${s.phase}${s.createdAt === undefined ? '' : `, created ${s.createdAt}`}`,
    `  ${plural(s.nodes.length, 'node')} (${s.nodes.map((n) => n.name).join(', ')}), ${plural(s.workloads, 'workload')}, ${plural(s.externals, 'external address', 'external addresses')}, ${plural(s.namespaces, 'namespace')}`,
    `  agents: ${s.agents.running} of ${s.agents.recorded} running${s.sctp === undefined ? '' : `; SCTP: ${s.sctp}`}`,
    `  flow log: ${s.flowCollector !== undefined ? `collector pid ${s.flowCollector.pid}${s.flowCollector.running ? ', running' : ', NOT running'}` : s.server !== undefined ? 'by the agents (below), shipped to the server' : 'off'}`,
  ];
  if (s.server !== undefined) {
    lines.push(`  control plane: ${s.server}`);
    for (const n of s.nodes) lines.push(`    ${n.name.padEnd(10)} ${n.netns.padEnd(24)} ${n.agentPid === null ? 'no agent running' : `agent pid ${n.agentPid}, ${n.state ?? '?'} at revision ${n.revision ?? 0}, http ${n.listen ?? '-'}; flow log ${n.flowLog ?? 'off'}`}`);
  }
  if (s.session !== undefined && s.server !== undefined) {
    lines.push(`  manifests registered at up: ${plural(s.session.files.length, 'file')}; policy changes through the API since`);
  } else if (s.session !== undefined) {
    lines.push(
      `  policy generation ${s.session.generation}, updated ${s.session.updatedAt}; pod CIDR ${s.session.podCidr}`,
      `  rules per node: ${Object.entries(s.session.rules).map(([n, k]) => `${n} ${k}`).join(', ')}`,
      `  manifests: ${plural(s.session.files.length, 'file')} (${s.session.files.slice(0, 3).join(', ')}${s.session.files.length > 3 ? ', …' : ''})`,
    );
    for (const n of s.session.notes) lines.push(`  note: ${n}`);
  } else {
    lines.push('  no session record (built without manifests, or `lab up` was interrupted)');
  }
  if (s.problem !== undefined) lines.push(`  problem: ${s.problem}`);
  return lines;
}

export function runLabStatus(io: Io, opts: LabStatusOptions): number {
  if (opts.output !== 'text' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: lab status prints text or json`);
  if (!requireLab(io, [])) return EXIT.USAGE;
  const all = opts.lab === undefined && process.env['STRATA_LAB'] === undefined;
  const list = all ? allLabStatus() : [labStatus(labIdOf(opts))].filter((s): s is LabStatus => s !== undefined);
  if (opts.output === 'json') {
    if (list.length > 0) io.out(list.map((s) => JSON.stringify(s)).join('\n'));
  } else if (list.length === 0) {
    io.out(all ? 'no lab' : `no lab "${labIdOf(opts)}"`);
  } else {
    io.out(list.flatMap(statusText).join('\n'));
  }
  return !all && list.length === 0 ? EXIT.FINDINGS : EXIT.OK;
}

export async function runLabDown(io: Io, opts: LabCommon): Promise<number> {
  const labId = labIdOf(opts);
  if (!requireLab(io, ['ip'])) return EXIT.USAGE;
  const r = await downSession(labId);
  render(io, r.diagnostics);
  if (!r.ok) return EXIT.USAGE;
  if (!r.value.existed) {
    io.out(`lab ${labId}: nothing to remove`);
    return EXIT.OK;
  }
  io.out(
    `lab ${labId}: removed ${plural(r.value.namespacesRemoved.length, 'namespace')} (and their links), ended ${plural(r.value.processesEnded.length, 'process', 'processes')}, removed the state in ${r.value.ms} ms`,
  );
  return EXIT.OK;
}
