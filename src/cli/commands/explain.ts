// `strata explain`: one flow (`--from/--to/--port`) or a batch (`--flows FILE`, JSON Lines in,
// one JSON object per input line out, same order).
import type { Diagnostic } from '../../diagnostics/index.ts';
import { formatDiagnosticLine } from '../../diagnostics/index.ts';
import type { Cluster, FlowRequest } from '../../engine/index.ts';
import { makeFlow } from '../../engine/index.ts';
import { explainFlow, renderExplainText } from '../../analysis/explain.ts';
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
  readonly output: string;
  readonly quiet?: boolean | undefined;
  readonly server?: string | undefined;
  readonly token?: string | undefined;
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

async function runBatch(io: Io, cluster: Cluster, opts: ExplainOptions): Promise<number> {
  const file = opts.flows!;
  let text: string;
  try {
    text = file === '-' ? await io.readStdin() : await io.readFile(file);
  } catch (e) {
    throw new UsageError(`cannot read --flows ${file}: ${(e as Error).message}`);
  }
  const json = opts.output === 'json';
  let bad = 0;
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    // Blank lines and comment lines (`//` or `#`) produce no result, as in the examples' flow files.
    if (trimmed === '' || trimmed.startsWith('//') || trimmed.startsWith('#')) return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      bad++;
      out.push(errorLine(i + 1, file, {}, [{ code: 'flow/invalid-json', severity: 'error', message: (e as Error).message }]));
      return;
    }
    const req = requestFromLine(value);
    if (typeof req === 'string') {
      bad++;
      out.push(errorLine(i + 1, file, {}, [{ code: 'flow/invalid-field', severity: 'error', message: req }]));
      return;
    }
    const flow = makeFlow(cluster, req);
    if (!flow.ok) {
      bad++;
      out.push(errorLine(i + 1, file, { from: req.from, to: req.to, port: req.port ?? null }, flow.diagnostics));
      return;
    }
    const e = explainFlow(cluster, flow.value, { fromText: req.from, toText: req.to, withSource: json });
    if (json) out.push(JSON.stringify(e));
    else {
      const d = e.decidedBy;
      const by = d.policy === null ? d.reason : `${d.direction ?? ''} ${d.tier ?? ''} ${d.kind ?? ''} ${d.namespace === undefined ? '' : `${d.namespace}/`}${d.policy}${d.rule === null ? ` (${d.reason})` : ` rule ${d.rule}`}`;
      out.push(`${e.from} -> ${e.to} ${e.protocol}${e.port === null ? '' : ` ${e.port}`}: ${e.verdict} by ${by.trim()}`);
    }
  });
  io.out(out.join('\n'));
  if (bad > 0) {
    io.err(`strata: ${bad} of the flows in ${file} could not be evaluated (see the "error" objects)`);
    return EXIT.USAGE;
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
