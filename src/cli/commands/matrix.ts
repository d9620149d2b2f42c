// `strata matrix`: who can reach whom, per port, as a truth table (table/md), CSV, JSON or a
// Graphviz graph. Computed over equivalence classes of endpoints (analysis/matrix.ts).
import { computeMatrix } from '../../analysis/matrix.ts';
import { classMatrix, matrixView, parseEndpointFilter } from '../../analysis/matrix-view.ts';
import type { EndpointFilter, MatrixView } from '../../analysis/matrix-view.ts';
import type { Matrix, PortSpec } from '../../analysis/matrix.ts';
import { parseFlowProtocol, PROTOCOL, protocolName } from '../../engine/index.ts';
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
  readonly server?: string | undefined;
  readonly token?: string | undefined;
}

/** `80`, `80/TCP`, `53/udp`, `ICMP`. */
export function parsePortSpec(text: string): PortSpec {
  const m = /^(?:(\d+)(?:\/([A-Za-z0-9]+))?|([A-Za-z]+[A-Za-z0-9]*))$/.exec(text.trim());
  if (m === null) throw new UsageError(`--port "${text}" is not PORT[/PROTOCOL] (e.g. 80/TCP) or ICMP`);
  if (m[3] !== undefined) {
    const p = parseFlowProtocol(m[3]);
    if (p !== PROTOCOL.ICMP && p !== PROTOCOL.ICMPV6) throw new UsageError(`--port "${text}": only ICMP/ICMPv6 may be given without a port`);
    return { protocol: p, port: undefined };
  }
  const port = Number(m[1]);
  if (port < 1 || port > 65535) throw new UsageError(`--port "${text}": ${port} is not a port from 1 to 65535`);
  const protocol = parseFlowProtocol(m[2] ?? 'TCP');
  if (protocol === undefined || protocol === PROTOCOL.ICMP || protocol === PROTOCOL.ICMPV6) {
    throw new UsageError(`--port "${text}": the protocol must be TCP, UDP or SCTP`);
  }
  return { protocol, port };
}

function specLabel(s: PortSpec): string {
  return s.port === undefined ? protocolName(s.protocol) : `${s.port}/${protocolName(s.protocol)}`;
}

interface Cell {
  readonly from: string;
  readonly to: string;
  readonly port: number | null;
  readonly protocol: string;
  readonly verdict: 'allow' | 'deny';
}

function* cells(m: Matrix): Generator<Cell> {
  for (const pm of m.ports) {
    for (let s = 0; s < m.endpoints.length; s++) {
      for (const d of pm.destinations) {
        yield {
          from: m.endpoints[s]!.id,
          to: m.endpoints[d]!.id,
          port: pm.spec.port ?? null,
          protocol: protocolName(pm.spec.protocol),
          verdict: pm.allowed(s, d) ? 'allow' : 'deny',
        };
      }
    }
  }
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
  for (const c of cells(m)) {
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
  if (opts.output === 'json') {
    io.out(JSON.stringify(classMatrix(m, { from, to })));
    return EXIT.OK;
  }
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
    return EXIT.OK;
  }
  switch (opts.output) {
    case 'json-pairs':
      io.out(JSON.stringify({ endpoints: m.endpoints.map((e) => e.id), ports: m.ports.map((p) => specLabel(p.spec)), results: [...cells(m)] }));
      break;
    case 'csv':
      io.out(['from,to,port,protocol,verdict', ...[...cells(m)].map((c) => `${c.from},${c.to},${c.port ?? ''},${c.protocol},${c.verdict}`)].join('\n'));
      break;
    case 'dot':
      io.out(renderDot(m));
      break;
    default:
      io.out(renderTable(m, opts.output === 'md'));
  }
  return EXIT.OK;
}
