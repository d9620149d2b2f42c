// `strata explain`: one flow (`--from/--to/--port`) or a batch (`--flows FILE`, JSON Lines in,
// one JSON object per input line out, same order). Batches stream: lines are read, decided and
// written as they come, so a flow log of any length runs in constant memory.
import type { Diagnostic } from '../../diagnostics/index.ts';
import { formatDiagnosticLine } from '../../diagnostics/index.ts';
import type { Cluster, DecidedBy, FlowRequest, Verdict, VerdictDecision } from '../../engine/index.ts';
import { evaluateVerdict, makeFlow, protocolName } from '../../engine/index.ts';
import { explainFlow, jsonDecidedBy, renderExplainText } from '../../analysis/explain.ts';
import type { ExplainJsonDecidedBy } from '../../analysis/explain.ts';
import type { Io } from '../io.ts';
import { loadWorkspace, reportOrFail } from '../workspace.ts';
import { EXIT, UsageError } from '../exit.ts';

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
  readonly output: string;
  readonly quiet?: boolean | undefined;
  /** With --flows: decide verdicts only (memoised, no traces); JSON results carry no egress/ingress/pending. */
  readonly verdictOnly?: boolean | undefined;
}

function intOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  return Number(v);
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
}

/**
 * One input line's outcome: nothing (blank, comment), an error object, or a decided flow whose
 * `result` is the JSON object to print (`-o json`) or the text line. The batch loop renders it:
 * a per-result step (say, checking an expectation in `input`) goes between deciding and rendering.
 */
type LineOutcome =
  | { readonly kind: 'skip' }
  | { readonly kind: 'error'; readonly text: string }
  | { readonly kind: 'decided'; readonly input: Readonly<Record<string, unknown>>; readonly verdict: Verdict; readonly result: object | string };

const SKIP: LineOutcome = { kind: 'skip' };

// A memo hit returns the same decision object: its JSON form is built once.
const decidedByJson = new WeakMap<VerdictDecision, ExplainJsonDecidedBy>();

function verdictText(from: string, to: string, protocol: string, port: number | null, verdict: Verdict, d: DecidedBy | ExplainJsonDecidedBy): string {
  const by = d.policy === null ? d.reason : `${d.direction ?? ''} ${d.tier ?? ''} ${d.kind ?? ''} ${d.namespace === undefined || d.namespace === null ? '' : `${d.namespace}/`}${d.policy}${d.rule === null ? ` (${d.reason})` : ` rule ${d.rule}`}`;
  return `${from} -> ${to} ${protocol}${port === null ? '' : ` ${port}`}: ${verdict} by ${by.trim()}`;
}

function decideLine(cluster: Cluster, line: string, lineNo: number, file: string, mode: BatchMode): LineOutcome {
  const trimmed = line.trim();
  // Blank lines and comment lines (`//` or `#`) produce no result, as in the examples' flow files.
  if (trimmed === '' || trimmed.startsWith('//') || trimmed.startsWith('#')) return SKIP;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (e) {
    return { kind: 'error', text: errorLine(lineNo, file, {}, [{ code: 'flow/invalid-json', severity: 'error', message: (e as Error).message }]) };
  }
  const req = requestFromLine(value);
  if (typeof req === 'string') return { kind: 'error', text: errorLine(lineNo, file, {}, [{ code: 'flow/invalid-field', severity: 'error', message: req }]) };
  const input = value as Readonly<Record<string, unknown>>;
  const flow = makeFlow(cluster, req);
  if (!flow.ok) return { kind: 'error', text: errorLine(lineNo, file, { from: req.from, to: req.to, port: req.port ?? null }, flow.diagnostics) };
  const f = flow.value;
  if (mode.verdictOnly) {
    // Text prints only the verdict and its deciding step: the memoised path gives exactly those.
    const d = evaluateVerdict(cluster, f);
    const port = f.port ?? null;
    const protocol = protocolName(f.protocol);
    if (!mode.json) return { kind: 'decided', input, verdict: d.verdict, result: verdictText(req.from, req.to, protocol, port, d.verdict, d.decidedBy) };
    let by = decidedByJson.get(d);
    if (by === undefined) decidedByJson.set(d, (by = jsonDecidedBy(cluster, d.decidedBy, false)));
    return { kind: 'decided', input, verdict: d.verdict, result: { from: req.from, to: req.to, port, protocol, verdict: d.verdict, decidedBy: by } };
  }
  const e = explainFlow(cluster, f, { fromText: req.from, toText: req.to, withSource: mode.json });
  return { kind: 'decided', input, verdict: e.verdict, result: mode.json ? e : verdictText(e.from, e.to, e.protocol, e.port, e.verdict, e.decidedBy) };
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
  const mode: BatchMode = { json, verdictOnly: !json || opts.verdictOnly === true };
  const writer = new LineWriter(io);
  const input = io.readLines(file)[Symbol.asyncIterator]();
  let bad = 0;
  let lineNo = 0;
  for (;;) {
    let next: IteratorResult<readonly string[]>;
    try {
      next = await input.next();
    } catch (e) {
      throw new UsageError(`cannot read --flows ${file}: ${(e as Error).message}`);
    }
    if (next.done === true) break;
    for (const line of next.value) {
      const r = decideLine(cluster, line, ++lineNo, file, mode);
      if (r.kind === 'skip') continue;
      if (r.kind === 'error') {
        bad++;
        writer.push(r.text);
      } else {
        writer.push(typeof r.result === 'string' ? r.result : JSON.stringify(r.result));
      }
      if (writer.full) await writer.flush();
    }
  }
  await writer.end();
  if (bad > 0) {
    io.err(`strata: ${bad} of the flows in ${file} could not be evaluated (see the "error" objects)`);
    return EXIT.USAGE;
  }
  return EXIT.OK;
}

export async function runExplain(io: Io, opts: ExplainOptions): Promise<number> {
  if (opts.output !== 'text' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: explain prints text or json`);
  if (opts.filename.length === 0) throw new UsageError('explain needs at least one -f PATH');
  const single = opts.from !== undefined || opts.to !== undefined;
  if (opts.flows !== undefined && single) throw new UsageError('use either --flows FILE or --from/--to, not both');
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

  const flow = makeFlow(ws.cluster, { from: opts.from!, to: opts.to!, port, protocol: opts.protocol, srcPort, icmpType, icmpCode });
  if (!flow.ok) {
    io.err(flow.diagnostics.map(formatDiagnosticLine).join('\n') + flow.diagnostics.map((d) => (d.help === undefined ? '' : `\n  help: ${d.help}`)).join(''));
    return EXIT.USAGE;
  }
  const e = explainFlow(ws.cluster, flow.value, { fromText: opts.from!, toText: opts.to! });
  io.out(opts.output === 'json' ? JSON.stringify(e, null, 2) : renderExplainText(e, io.stdoutColor));
  return e.verdict === 'allow' ? EXIT.OK : EXIT.FINDINGS;
}
