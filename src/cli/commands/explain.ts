// `strata explain`: one flow (`--from/--to/--port`) or a batch (`--flows FILE`, JSON Lines in,
// one JSON object per input line out, same order).
import type { Diagnostic } from '../../diagnostics/index.ts';
import { formatDiagnosticLine } from '../../diagnostics/index.ts';
import type { Cluster, FlowRequest } from '../../engine/index.ts';
import { renderExplainLine, renderExplainText } from '../../analysis/explain.ts';
import type { ExplainJson } from '../../analysis/explain.ts';
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

async function runBatch(io: Io, cluster: Cluster, opts: ExplainOptions): Promise<number> {
  const file = opts.flows!;
  let text: string;
  try {
    text = file === '-' ? await io.readStdin() : await io.readFile(file);
  } catch (e) {
    throw new UsageError(`cannot read --flows ${file}: ${readProblem(e)}`);
  }
  const json = opts.output === 'json';
  let bad = 0;
  const failed: number[] = [];
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
    const want = expectationOfLine(value as Record<string, unknown>);
    if (typeof want === 'string') {
      bad++;
      out.push(errorLine(i + 1, file, {}, [{ code: 'flow/invalid-field', severity: 'error', message: want }]));
      return;
    }
    const explained = explainRequest(cluster, req, { namespace: opts.namespace, withSource: json });
    if (!explained.ok) {
      bad++;
      out.push(errorLine(i + 1, file, { from: req.from, to: req.to, port: req.port ?? null }, explained.diagnostics));
      return;
    }
    // A set or a multi-backend Service yields several results for the line, in order.
    for (const e of explained.value.results) {
    // An `expect` on the line (analysis/expectations.ts): each result says whether it held.
    const judged = want === undefined ? undefined : checkExpectation(want, e);
    if (judged !== undefined && !judged.pass && failed[failed.length - 1] !== i + 1) failed.push(i + 1);
    const result: ExplainJson & { expected?: unknown; pass?: boolean; mismatches?: readonly string[] } =
      judged === undefined ? e : { ...e, expected: want, pass: judged.pass, ...(judged.pass ? {} : { mismatches: judged.mismatches }) };
    if (json) out.push(JSON.stringify(result));
    else {
      const d = e.decidedBy;
      const by = d.policy === null ? d.reason : `${d.direction ?? ''} ${d.tier ?? ''} ${d.kind ?? ''} ${d.namespace === undefined ? '' : `${d.namespace}/`}${d.policy}${d.rule === null ? ` (${d.reason})` : ` rule ${d.rule}`}`;
      const verdictText = judged === undefined ? '' : judged.pass ? '  ✓ as expected' : `  ✗ line ${i + 1}: ${judged.mismatches.join('; ')}`;
      out.push(`${e.from} -> ${e.to} ${e.protocol}${e.port === null ? '' : ` ${e.port}`}: ${e.verdict} by ${by.trim()}${verdictText}`);
    }
    }
  });
  io.out(out.join('\n'));
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
