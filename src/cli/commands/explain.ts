// `strata explain`: one flow (`--from/--to/--port`) or a batch (`--flows FILE`, JSON Lines in,
// one JSON object per input line out, same order).
import type { Diagnostic } from '../../diagnostics/index.ts';
import { formatDiagnosticLine } from '../../diagnostics/index.ts';
import type { Result } from '../../diagnostics/index.ts';
import { fail, ok } from '../../diagnostics/index.ts';
import type { Cluster, FlowRequest, VerdictDecision } from '../../engine/index.ts';
import { evaluateVerdict, makeFlow, protocolName } from '../../engine/index.ts';
import { jsonDecidedBy, renderExplainLine, renderExplainText } from '../../analysis/explain.ts';
import type { ExplainJson, ExplainJsonDecidedBy } from '../../analysis/explain.ts';
import { resolveFlowRequest } from '../../analysis/resolve-peer.ts';
import { explainRequest } from '../../analysis/explain-request.ts';
import { checkExpectation, expectationOfLine } from '../../analysis/expectations.ts';
import type { Io } from '../io.ts';
import { loadWorkspace, reportOrFail } from '../workspace.ts';
import { EXIT, UsageError } from '../exit.ts';
import { analysisTarget } from '../remote.ts';
import { runRemoteExplain } from './remote-analysis.ts';

export interface ExplainOptions {
  readonly filename: readonly string[];
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly port?: string | undefined;
  readonly protocol?: string | undefined;
  readonly srcPort?: string | undefined;
  readonly icmpType?: string | undefined;
  readonly icmpCode?: string | undefined;
  readonly flows?: string | undefined;
  readonly podCidr?: string | undefined;
  /** `-n`: the namespace label selectors in --from/--to look in. */
  readonly namespace?: string | undefined;
  readonly output: string;
  readonly quiet?: boolean | undefined;
  /** With --flows: decide verdicts only (memoised, no traces); JSON results carry no egress/ingress/pending. */
  readonly verdictOnly?: boolean | undefined;
  readonly server?: string | undefined;
  readonly token?: string | undefined;
}

function intOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  return Number(v);
}

/** An unreadable file in words, not as a raw `ENOENT: no such file or directory, open '…'`. */
function readProblem(e: unknown): string {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory (give a JSON Lines file)';
  return e instanceof Error ? e.message : String(e);
}

function requestFromLine(value: unknown): FlowRequest | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object {"from","to","port","protocol"}';
  const o = value as Record<string, unknown>;
  if (typeof o['from'] !== 'string') return 'field "from" must be a string (NS/NAME or an IP address)';
  if (typeof o['to'] !== 'string') return 'field "to" must be a string (NS/NAME, an IP address or a domain name)';
  const num = (k: string): number | undefined | string => {
    const x = o[k];
    if (x === undefined || x === null) return undefined;
    if (typeof x === 'number') return x;
    if (typeof x === 'string' && /^\d+$/.test(x)) return Number(x);
    return `field "${k}" must be a number`;
  };
  const port = num('port');
  const srcPort = num('srcPort');
  const icmpType = num('icmpType');
  const icmpCode = num('icmpCode');
  for (const v of [port, srcPort, icmpType, icmpCode]) if (typeof v === 'string') return v;
  const protocol = o['protocol'];
  if (protocol !== undefined && protocol !== null && typeof protocol !== 'string' && typeof protocol !== 'number') {
    return 'field "protocol" must be a string such as "TCP" or a number';
  }
  return {
    from: o['from'],
    to: o['to'],
    port: port as number | undefined,
    protocol: (protocol ?? undefined) as string | number | undefined,
    srcPort: srcPort as number | undefined,
    icmpType: icmpType as number | undefined,
    icmpCode: icmpCode as number | undefined,
  };
}

function errorLine(lineNo: number, file: string, extra: Record<string, unknown>, ds: readonly Diagnostic[]): string {
  return JSON.stringify({
    ...extra,
    error: ds.map((d) => ({ code: d.code, message: d.message, ...(d.help === undefined ? {} : { help: d.help }) })),
    line: lineNo,
    file,
  });
}

/** How a batch decides and prints: full explanations (JSON), or verdicts only (text, `--verdict-only`). */
interface BatchMode {
  readonly json: boolean;
  readonly verdictOnly: boolean;
  readonly namespace: string | undefined;
}

/** The printed outcome of one input line: no output (blank, comment), or its result lines. */
interface LineOutcome {
  readonly lines: readonly string[];
  /** The line could not be evaluated (an error object was printed). */
  readonly bad: boolean;
  /** The line had an `expect` that failed for at least one of its results. */
  readonly failed: boolean;
}

const SKIP: LineOutcome = { lines: [], bad: false, failed: false };
const badLine = (text: string): LineOutcome => ({ lines: [text], bad: true, failed: false });

// A memo hit returns the same decision object: its JSON form is built once.
const decidedByJson = new WeakMap<VerdictDecision, ExplainJsonDecidedBy>();

function verdictLine(e: { from: string; to: string; protocol: string; port: number | null; verdict: string; decidedBy: ExplainJsonDecidedBy }, suffix: string): string {
  const d = e.decidedBy;
  const by = d.policy === null ? d.reason : `${d.direction ?? ''} ${d.tier ?? ''} ${d.kind ?? ''} ${d.namespace === undefined ? '' : `${d.namespace}/`}${d.policy}${d.rule === null ? ` (${d.reason})` : ` rule ${d.rule}`}`;
  return `${e.from} -> ${e.to} ${e.protocol}${e.port === null ? '' : ` ${e.port}`}: ${e.verdict} by ${by.trim()}${suffix}`;
}

/**
 * The verdict-only results of a line: the same resolution as `explainRequest` (Services, sets),
 * each concrete flow decided by the memoised `evaluateVerdict` instead of a full explanation.
 */
function verdictResults(cluster: Cluster, req: FlowRequest, mode: BatchMode): Result<readonly Record<string, unknown>[]> {
  const resolved = resolveFlowRequest(cluster, req, { namespace: mode.namespace });
  if (!resolved.ok) return resolved;
  const out: Record<string, unknown>[] = [];
  for (const r of resolved.value) {
    const flow = makeFlow(cluster, r.request);
    if (!flow.ok) return fail(flow.diagnostics);
    const d = evaluateVerdict(cluster, flow.value);
    let by = decidedByJson.get(d);
    if (by === undefined) decidedByJson.set(d, (by = jsonDecidedBy(cluster, d.decidedBy, false)));
    out.push({
      from: req.from,
      to: req.to,
      port: flow.value.port ?? null,
      protocol: protocolName(flow.value.protocol),
      verdict: d.verdict,
      decidedBy: by,
      ...(r.service === undefined ? {} : { service: r.service }),
      ...(r.fromMembers === undefined ? {} : { fromMembers: r.fromMembers }),
      ...(r.toMembers === undefined ? {} : { toMembers: r.toMembers }),
      ...(r.notes.length === 0 ? {} : { notes: r.notes }),
    });
  }
  return ok(out);
}

function decideLine(cluster: Cluster, line: string, lineNo: number, file: string, mode: BatchMode): LineOutcome {
  const trimmed = line.trim();
  // Blank lines and comment lines (`//` or `#`) produce no result, as in the examples' flow files.
  if (trimmed === '' || trimmed.startsWith('//') || trimmed.startsWith('#')) return SKIP;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (e) {
    return badLine(errorLine(lineNo, file, {}, [{ code: 'flow/invalid-json', severity: 'error', message: (e as Error).message }]));
  }
  const req = requestFromLine(value);
  if (typeof req === 'string') return badLine(errorLine(lineNo, file, {}, [{ code: 'flow/invalid-field', severity: 'error', message: req }]));
  const want = expectationOfLine(value as Record<string, unknown>);
  if (typeof want === 'string') return badLine(errorLine(lineNo, file, {}, [{ code: 'flow/invalid-field', severity: 'error', message: want }]));
  // Verdicts only, memoised — unless an expectation needs the full decision (its pending view).
  if (mode.verdictOnly && want === undefined) {
    const results = verdictResults(cluster, req, mode);
    if (!results.ok) return badLine(errorLine(lineNo, file, { from: req.from, to: req.to, port: req.port ?? null }, results.diagnostics));
    const lines = results.value.map((r) => (mode.json ? JSON.stringify(r) : verdictLine(r as unknown as ExplainJson, '')));
    return { lines, bad: false, failed: false };
  }
  const explained = explainRequest(cluster, req, { namespace: mode.namespace, withSource: mode.json && !mode.verdictOnly });
  if (!explained.ok) return badLine(errorLine(lineNo, file, { from: req.from, to: req.to, port: req.port ?? null }, explained.diagnostics));
  // A set or a multi-backend Service yields several results for the line, in order.
  const lines: string[] = [];
  let failed = false;
  for (const e of explained.value.results) {
    // An `expect` on the line (analysis/expectations.ts): each result says whether it held.
    const judged = want === undefined ? undefined : checkExpectation(want, e);
    if (judged !== undefined && !judged.pass) failed = true;
    const result: ExplainJson & { expected?: unknown; pass?: boolean; mismatches?: readonly string[] } =
      judged === undefined ? e : { ...e, expected: want, pass: judged.pass, ...(judged.pass ? {} : { mismatches: judged.mismatches }) };
    if (mode.json && mode.verdictOnly) {
      const { egress: _eg, ingress: _in, pending: _p, ipVersion: _v, srcAddress: _s, dstAddress: _d, icmp: _i, closestRules: _c, ...rest } = result as ExplainJson & { closestRules?: unknown };
      lines.push(JSON.stringify(rest));
    } else if (mode.json) {
      lines.push(JSON.stringify(result));
    } else {
      lines.push(verdictLine(e, judged === undefined ? '' : judged.pass ? '  ✓ as expected' : `  ✗ line ${lineNo}: ${judged.mismatches.join('; ')}`));
    }
  }
  return { lines, bad: false, failed };
}

/**
 * Result lines to stdout in chunks of about 64 KiB, waiting for stdout to drain after each: a
 * batch of any length holds at most one chunk here plus what the stream buffers. The text is
 * byte for byte what joining every line with `\n` and printing it once gives.
 */
export class LineWriter {
  static readonly CHUNK = 64 * 1024;
  private readonly io: Io;
  private lines: string[] = [];
  private size = 0;
  private written = 0;

  constructor(io: Io) {
    this.io = io;
  }
  /** True when the caller should `await flush()` before pushing more. */
  get full(): boolean {
    return this.size >= LineWriter.CHUNK;
  }
  /** Results pushed and not yet handed to stdout. */
  get pending(): number {
    return this.lines.length;
  }
  push(line: string): void {
    this.lines.push(line);
    this.size += line.length + 1;
  }
  async flush(): Promise<void> {
    if (this.lines.length === 0) return;
    this.io.out(this.lines.join('\n'));
    this.written += this.lines.length;
    this.lines = [];
    this.size = 0;
    await this.io.drained();
  }
  async end(): Promise<void> {
    await this.flush();
    if (this.written === 0) this.io.out(''); // as printing the empty join: one newline
  }
}

async function runBatch(io: Io, cluster: Cluster, opts: ExplainOptions): Promise<number> {
  const file = opts.flows!;
  const json = opts.output === 'json';
  const mode: BatchMode = { json, verdictOnly: !json || opts.verdictOnly === true, namespace: opts.namespace };
  const writer = new LineWriter(io);
  const input = io.readLines(file)[Symbol.asyncIterator]();
  let bad = 0;
  const failed: number[] = [];
  let lineNo = 0;
  for (;;) {
    let next: IteratorResult<readonly string[]>;
    try {
      next = await input.next();
    } catch (e) {
      throw new UsageError(`cannot read --flows ${file}: ${readProblem(e)}`);
    }
    if (next.done === true) break;
    for (const line of next.value) {
      const r = decideLine(cluster, line, ++lineNo, file, mode);
      if (r.bad) bad++;
      if (r.failed) failed.push(lineNo);
      for (const l of r.lines) writer.push(l);
      if (writer.full) await writer.flush();
    }
  }
  await writer.end();
  if (bad > 0) {
    io.err(`strata: ${bad} of the flows in ${file} could not be evaluated (see the "error" objects)`);
    return EXIT.USAGE;
  }
  if (failed.length > 0) {
    io.err(`strata: ${failed.length} expectation${failed.length === 1 ? '' : 's'} in ${file} failed: line${failed.length === 1 ? '' : 's'} ${failed.join(', ')}`);
    return EXIT.FINDINGS;
  }
  return EXIT.OK;
}

export async function runExplain(io: Io, opts: ExplainOptions): Promise<number> {
  if (opts.output !== 'text' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: explain prints text or json`);
  const target = await analysisTarget(opts);
  if (target !== undefined) {
    return runRemoteExplain(io, target, {
      ...opts,
      port: intOption('port', opts.port),
      srcPort: intOption('src-port', opts.srcPort),
      icmpType: intOption('icmp-type', opts.icmpType),
      icmpCode: intOption('icmp-code', opts.icmpCode),
    });
  }
  if (opts.filename.length === 0) throw new UsageError('explain needs at least one -f PATH (or --server URL)');
  const single = opts.from !== undefined || opts.to !== undefined;
  if (opts.flows !== undefined && single) throw new UsageError('use either --flows FILE or --from/--to, not both');
  if (opts.flows === '-' && opts.filename.includes('-')) {
    throw new UsageError('-f - and --flows - cannot both read stdin: write the manifests or the flows to a file');
  }
  if (opts.verdictOnly === true && opts.flows === undefined) throw new UsageError('--verdict-only applies to batches (--flows FILE)');
  if (opts.flows === undefined && (opts.from === undefined || opts.to === undefined)) {
    throw new UsageError('explain needs --from SRC and --to DST (or --flows FILE)');
  }
  const port = intOption('port', opts.port);
  const srcPort = intOption('src-port', opts.srcPort);
  const icmpType = intOption('icmp-type', opts.icmpType);
  const icmpCode = intOption('icmp-code', opts.icmpCode);

  const ws = await loadWorkspace(io, opts.filename, { podCidr: opts.podCidr });
  if (!reportOrFail(io, ws, opts.quiet === true)) return EXIT.USAGE;
  if (opts.flows !== undefined) return runBatch(io, ws.cluster, opts);

  const explained = explainRequest(ws.cluster, { from: opts.from!, to: opts.to!, port, protocol: opts.protocol, srcPort, icmpType, icmpCode }, { namespace: opts.namespace, whyNot: true });
  if (!explained.ok) {
    io.err(explained.diagnostics.map(formatDiagnosticLine).join('\n') + explained.diagnostics.map((d) => (d.help === undefined ? '' : `\n  help: ${d.help}`)).join(''));
    return EXIT.USAGE;
  }
  const { results, single: one } = explained.value;
  if (one) {
    const e = results[0]!;
    io.out(opts.output === 'json' ? JSON.stringify(e, null, 2) : renderExplainText(e, io.stdoutColor));
    return e.verdict === 'allow' ? EXIT.OK : EXIT.FINDINGS;
  }
  // A set on either side: one result per class (or Service backend), JSON Lines for machines.
  if (opts.output === 'json') io.out(results.map((e) => JSON.stringify(e)).join('\n'));
  else {
    const denied = results.filter((e) => e.verdict === 'deny').length;
    const head = `${opts.from!} → ${opts.to!}: ${results.length} flow${results.length === 1 ? '' : 's'} (one per class of alike endpoints${results.some((e) => e.service !== undefined) ? ' or Service backend' : ''}), ${results.length - denied} allowed, ${denied} denied`;
    const notes = [...new Set(results.flatMap((e) => e.notes ?? []))].map((n) => `  note: ${n}`);
    io.out([head, ...notes, ...results.map((e) => `  ${renderExplainLine(e, io.stdoutColor)}`)].join('\n'));
  }
  return results.every((e) => e.verdict === 'allow') ? EXIT.OK : EXIT.FINDINGS;
}
