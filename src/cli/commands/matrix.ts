// `strata matrix`: who can reach whom, per port, as a truth table (table/md), CSV, JSON or a
// Graphviz graph. Computed over equivalence classes of endpoints (analysis/matrix.ts).
import { computeMatrix } from '../../analysis/matrix.ts';
import { matrixCells, matrixJson, parsePortSpecText, specLabel } from '../../analysis/matrix-json.ts';
import { classMatrix, matrixView, parseEndpointFilter } from '../../analysis/matrix-view.ts';
import { computeExternals } from '../../analysis/matrix-externals.ts';
import type { ExternalMatrix } from '../../analysis/matrix-externals.ts';
import type { EndpointFilter, MatrixView } from '../../analysis/matrix-view.ts';
import type { Matrix, PortSpec } from '../../analysis/matrix.ts';
import { protocolName } from '../../engine/index.ts';
import type { Io } from '../io.ts';
import { loadWorkspace, reportOrFail } from '../workspace.ts';
import { EXIT, UsageError } from '../exit.ts';
import { analysisTarget } from '../remote.ts';
import { runRemoteMatrix } from './remote-analysis.ts';

export interface MatrixCommandOptions {
  readonly filename: readonly string[];
  readonly port: readonly string[];
  readonly output: string;
  readonly podCidr?: string | undefined;
  readonly quiet?: boolean | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly aggregate?: string | undefined;
  readonly allPorts?: boolean | undefined;
  readonly pending?: boolean | undefined;
  readonly externals?: boolean | undefined;
  readonly server?: string | undefined;
  readonly token?: string | undefined;
}

/** `80`, `80/TCP`, `53/udp`, `ICMP` (analysis/matrix-json.ts, shared with the server). */
export function parsePortSpec(text: string): PortSpec {
  const r = parsePortSpecText(text);
  if (!r.ok) throw new UsageError(r.diagnostics[0]?.message ?? `--port "${text}" is not PORT[/PROTOCOL]`);
  return r.value;
}

function renderTable(m: Matrix, markdown: boolean): string {
  const blocks: string[] = [];
  for (const pm of m.ports) {
    const cols = pm.destinations.map((d) => m.endpoints[d]!.id);
    const header = ['from \\ to', ...cols];
    const rows = m.endpoints.map((e, s) => [e.id, ...pm.destinations.map((d) => (pm.allowed(s, d) ? '.' : 'X'))]);
    if (markdown) {
      blocks.push(
        [`### ${specLabel(pm.spec)}`, '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n'),
      );
    } else {
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const fmt = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
      blocks.push([`${specLabel(pm.spec)}   (. allowed, X denied)`, fmt(header), ...rows.map(fmt)].join('\n'));
    }
  }
  return blocks.join('\n\n');
}

function renderDot(m: Matrix): string {
  const lines = ['digraph connectivity {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
  for (const e of m.endpoints) lines.push(`  ${JSON.stringify(e.id)};`);
  const edges = new Map<string, string[]>();
  for (const c of matrixCells(m)) {
    if (c.verdict !== 'allow' || c.from === c.to) continue;
    const k = `${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`;
    const label = c.port === null ? c.protocol : `${c.port}/${c.protocol}`;
    edges.set(k, [...(edges.get(k) ?? []), label]);
  }
  for (const [k, labels] of edges) lines.push(`  ${k} [label=${JSON.stringify(labels.join(','))}];`);
  lines.push('}');
  return lines.join('\n');
}

const SYMBOL = { allow: '.', deny: 'X', partial: '~' } as const;

/** External destinations: one table per port, a column per network set (and `external`). */
function renderExternals(x: ExternalMatrix, markdown: boolean): string {
  const cols = x.columns.map((c) => `${c.id} (${c.address})`);
  return x.ports
    .map(({ spec, cells }) => {
      const rows = new Map<string, string[]>();
      for (const c of cells) {
        let row = rows.get(c.from);
        if (row === undefined) rows.set(c.from, (row = x.columns.map(() => '-')));
        row[x.columns.findIndex((k) => k.id === c.to)] = c.verdict === 'allow' ? '.' : 'X';
      }
      const header = ['from \\ to', ...cols];
      const body = [...rows].map(([from, r]) => [from, ...r]);
      const label = `${specLabel(spec)} to external destinations`;
      if (markdown) return [`### ${label}`, '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
      const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
      const fmt = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
      return [`${label}   (. allowed, X denied, - no address of that family)`, fmt(header), ...body.map(fmt)].join('\n');
    })
    .join('\n\n');
}

function externalJson(x: ExternalMatrix): unknown {
  return {
    columns: x.columns,
    results: x.ports.flatMap(({ cells }) => cells.map((c) => ({ from: c.from, to: c.to, address: c.address, port: c.port, protocol: protocolName(c.protocol), verdict: c.verdict }))),
  };
}

/** A view (filtered, aggregated or combined) as tables: only the columns a block evaluates. */
function renderView(v: MatrixView, markdown: boolean): string {
  return v.blocks
    .map((b) => ({ b, cols: v.columns.map((_c, i) => i).filter((i) => b.cells.some((row) => row[i] !== undefined)) }))
    // A port none of the chosen destinations listens on says nothing: leave it out.
    .filter(({ cols }) => cols.length > 0)
    .map(({ b, cols }) => {
      const header = ['from \\ to', ...cols.map((i) => v.columns[i]!)];
      const rows = v.rows.map((r, ri) => [r, ...cols.map((i) => { const c = b.cells[ri]![i]; return c === undefined ? '-' : SYMBOL[c]; })]);
      if (markdown) return [`### ${b.label}`, '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const fmt = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
      return [`${b.label}   (. allowed, ~ partly, X denied, - not evaluated)`, fmt(header), ...rows.map(fmt)].join('\n');
    })
    .join('\n\n');
}

function viewCells(v: MatrixView): { block: string; from: string; to: string; verdict: string; allowedPorts?: readonly string[] }[] {
  return v.blocks.flatMap((b) =>
    v.rows.flatMap((r, ri) =>
      v.columns.flatMap((c, ci) => {
        const verdict = b.cells[ri]![ci];
        if (verdict === undefined) return [];
        const ports = b.allowedPorts?.[ri]?.[ci];
        return [{ block: b.label, from: r, to: c, verdict, ...(ports === undefined ? {} : { allowedPorts: ports }) }];
      }),
    ),
  );
}

export async function runMatrix(io: Io, opts: MatrixCommandOptions): Promise<number> {
  const formats = ['table', 'json', 'json-pairs', 'csv', 'md', 'dot'];
  if (!formats.includes(opts.output)) throw new UsageError(`-o ${opts.output}: matrix prints ${formats.join(', ')}`);
  const target = await analysisTarget(opts);
  if (target !== undefined) return runRemoteMatrix(io, target, opts);
  if (opts.filename.length === 0) throw new UsageError('matrix needs at least one -f PATH (or --server URL)');
  if (opts.aggregate !== undefined && opts.aggregate !== 'namespace') throw new UsageError(`--aggregate ${opts.aggregate}: only "namespace" is supported`);
  const reshaped = opts.aggregate !== undefined || opts.allPorts === true;
  if (reshaped && (opts.output === 'json' || opts.output === 'dot')) {
    throw new UsageError(`-o ${opts.output} shows endpoint classes per port; with --aggregate or --all-ports use -o table, md, csv or json-pairs`);
  }
  const ports = opts.port.length === 0 ? undefined : opts.port.map(parsePortSpec);
  const ws = await loadWorkspace(io, opts.filename, { podCidr: opts.podCidr });
  if (!reportOrFail(io, ws, opts.quiet === true)) return EXIT.USAGE;
  const ids = new Set(ws.cluster.endpoints.map((e) => e.id));
  const filter = (flag: string, text: string | undefined): EndpointFilter | undefined => {
    if (text === undefined) return undefined;
    const f = parseEndpointFilter(text, ids);
    if (typeof f === 'string') throw new UsageError(`--${flag} ${f}`);
    return f;
  };
  const from = filter('from', opts.from);
  const to = filter('to', opts.to);
  const m = computeMatrix(ws.cluster, { ports, pending: opts.pending === true });
  if (m.ports.length === 0) {
    io.err('strata: no ports to evaluate: no container declares a port; pass --port PORT[/PROTOCOL]');
    return EXIT.USAGE;
  }
  const sources = from === undefined ? m.endpoints : m.endpoints.filter(from);
  const externals = opts.externals === true ? computeExternals(ws.cluster, m, sources) : undefined;
  if (opts.output === 'json') {
    const classes = classMatrix(m, { from, to });
    io.out(JSON.stringify(externals === undefined ? classes : { ...classes, externals: externalJson(externals) }));
    return EXIT.OK;
  }
  if (externals !== undefined && opts.output === 'dot') throw new UsageError('--externals: use -o table, md, csv, json or json-pairs');
  if (reshaped || from !== undefined || to !== undefined) {
    if (opts.output === 'dot') throw new UsageError('-o dot draws the whole matrix; drop --from/--to or use -o table');
    const v = matrixView(m, { from, to, aggregate: opts.aggregate === 'namespace' ? 'namespace' : undefined, allPorts: opts.allPorts === true });
    if (v.rows.length === 0 || v.columns.length === 0) io.err('strata: the --from/--to filters leave no endpoint on one side');
    switch (opts.output) {
      case 'json-pairs':
        io.out(JSON.stringify({ rows: v.rows, columns: v.columns, blocks: v.blocks.map((b) => b.label), results: viewCells(v) }));
        break;
      case 'csv':
        io.out(['block,from,to,verdict', ...viewCells(v).map((c) => `${c.block.includes(',') ? JSON.stringify(c.block) : c.block},${c.from},${c.to},${c.verdict}`)].join('\n'));
        break;
      default:
        io.out(renderView(v, opts.output === 'md'));
    }
    printExternals(io, externals, opts.output);
    return EXIT.OK;
  }
  switch (opts.output) {
    case 'json-pairs':
      io.out(JSON.stringify(matrixJson(m)));
      break;
    case 'csv':
      io.out(['from,to,port,protocol,verdict', ...[...matrixCells(m)].map((c) => `${c.from},${c.to},${c.port ?? ''},${c.protocol},${c.verdict}`)].join('\n'));
      break;
    case 'dot':
      io.out(renderDot(m));
      break;
    default:
      io.out(renderTable(m, opts.output === 'md'));
  }
  printExternals(io, externals, opts.output);
  return EXIT.OK;
}

/** The external destinations after the endpoint matrix, in the same format. */
function printExternals(io: Io, x: ExternalMatrix | undefined, output: string): void {
  if (x === undefined) return;
  switch (output) {
    case 'json-pairs':
      io.out(JSON.stringify({ externals: externalJson(x) }));
      return;
    case 'csv':
      io.out(x.ports.flatMap(({ cells }) => cells.map((c) => `${c.from},${c.to} (${c.address}),${c.port ?? ''},${protocolName(c.protocol)},${c.verdict}`)).join('\n'));
      return;
    default:
      io.out(`\n${renderExternals(x, output === 'md')}`);
  }
}
