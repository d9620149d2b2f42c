// `strata explain` and `strata matrix` over a server's live state: the server computes with the
// same analysis functions and returns the same JSON; text and table output are rendered here.
import { renderExplainText } from '../../analysis/explain.ts';
import type { ExplainJson } from '../../analysis/explain.ts';
import type { MatrixJson } from '../../analysis/matrix-json.ts';
import type { Target } from '../config.ts';
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';
import { call, remote } from '../remote.ts';

export interface RemoteExplainOptions {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly port?: number | undefined;
  readonly protocol?: string | undefined;
  readonly srcPort?: number | undefined;
  readonly icmpType?: number | undefined;
  readonly icmpCode?: number | undefined;
  readonly flows?: string | undefined;
  readonly output: string;
}

export async function runRemoteExplain(io: Io, t: Target, opts: RemoteExplainOptions): Promise<number> {
  return remote(io, async () => {
    if (opts.flows !== undefined) {
      const file = opts.flows;
      const text = file === '-' ? await io.readStdin() : await io.readFile(file).catch((e: unknown) => Promise.reject(new UsageError(`cannot read --flows ${file}: ${(e as Error).message}`)));
      const flows: unknown[] = [];
      for (const [i, line] of text.split(/\r?\n/).entries()) {
        const s = line.trim();
        if (s === '' || s.startsWith('//') || s.startsWith('#')) continue;
        try {
          flows.push(JSON.parse(s));
        } catch (e) {
          throw new UsageError(`${file}:${i + 1}: not JSON: ${(e as Error).message}`);
        }
      }
      const r = (await call(t, 'POST', '/apis/strata/v1/explain', { flows })) as { results: (ExplainJson | { error: unknown })[] };
      io.out(r.results.map((x) => JSON.stringify(x)).join('\n'));
      const bad = r.results.filter((x) => 'error' in x).length;
      if (bad > 0) io.err(`strata: ${bad} of the flows in ${file} could not be evaluated (see the "error" objects)`);
      return bad > 0 ? EXIT.USAGE : EXIT.OK;
    }
    if (opts.from === undefined || opts.to === undefined) throw new UsageError('explain needs --from SRC and --to DST (or --flows FILE)');
    const body = { from: opts.from, to: opts.to, port: opts.port, protocol: opts.protocol, srcPort: opts.srcPort, icmpType: opts.icmpType, icmpCode: opts.icmpCode };
    const e = (await call(t, 'POST', '/apis/strata/v1/explain', body)) as ExplainJson;
    io.out(opts.output === 'json' ? JSON.stringify(e, null, 2) : renderExplainText(e, io.stdoutColor));
    return e.verdict === 'allow' ? EXIT.OK : EXIT.FINDINGS;
  });
}

function renderTable(m: MatrixJson): string {
  const blocks: string[] = [];
  for (const port of m.ports) {
    const cells = m.results.filter((c) => (c.port === null ? c.protocol : `${c.port}/${c.protocol}`) === port);
    const cols = [...new Set(cells.map((c) => c.to))];
    const allowed = new Set(cells.filter((c) => c.verdict === 'allow').map((c) => `${c.from}\u0000${c.to}`));
    const header = ['from \\ to', ...cols];
    const rows = m.endpoints.map((e) => [e, ...cols.map((d) => (allowed.has(`${e}\u0000${d}`) ? '.' : 'X'))]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
    blocks.push([`${port}   (. allowed, X denied)`, fmt(header), ...rows.map(fmt)].join('\n'));
  }
  return blocks.join('\n\n');
}

export async function runRemoteMatrix(io: Io, t: Target, opts: { readonly port: readonly string[]; readonly output: string }): Promise<number> {
  if (!['table', 'json', 'json-pairs', 'csv'].includes(opts.output)) throw new UsageError(`-o ${opts.output}: against a server, matrix prints table, json, json-pairs or csv`);
  return remote(io, async () => {
    if (opts.output === 'json') {
      // The server's default answer is `strata matrix -o json` itself.
      io.out(JSON.stringify(await call(t, 'POST', '/apis/strata/v1/matrix', { ports: opts.port })));
      return EXIT.OK;
    }
    const m = (await call(t, 'POST', '/apis/strata/v1/matrix', { ports: opts.port, format: 'json-pairs' })) as MatrixJson;
    if (m.ports.length === 0) {
      io.err('strata: no ports to evaluate: no container declares a port; pass --port PORT[/PROTOCOL]');
      return EXIT.USAGE;
    }
    if (opts.output === 'json-pairs') io.out(JSON.stringify(m));
    else if (opts.output === 'csv') io.out(['from,to,port,protocol,verdict', ...m.results.map((c) => `${c.from},${c.to},${c.port ?? ''},${c.protocol},${c.verdict}`)].join('\n'));
    else io.out(renderTable(m));
    return EXIT.OK;
  });
}
