// `strata matrix`: who can reach whom, per port, as a truth table (table/md), CSV, JSON or a
// Graphviz graph. Computed over equivalence classes of endpoints (analysis/matrix.ts).
import { computeMatrix } from '../../analysis/matrix.ts';
import type { Matrix, PortSpec } from '../../analysis/matrix.ts';
import { matrixCells, matrixJson, parsePortSpecText, specLabel } from '../../analysis/matrix-json.ts';
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
  readonly server?: string | undefined;
  readonly token?: string | undefined;
}

/** `80`, `80/TCP`, `53/udp`, `ICMP`. */
export function parsePortSpec(text: string): PortSpec {
  const r = parsePortSpecText(text);
  if (!r.ok) throw new UsageError(r.diagnostics[0]?.message ?? `--port "${text}" is not valid`);
  return r.value;
}

const cells = matrixCells;

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

export async function runMatrix(io: Io, opts: MatrixCommandOptions): Promise<number> {
  const formats = ['table', 'json', 'csv', 'md', 'dot'];
  if (!formats.includes(opts.output)) throw new UsageError(`-o ${opts.output}: matrix prints ${formats.join(', ')}`);
  const target = await analysisTarget(opts);
  if (target !== undefined) return runRemoteMatrix(io, target, opts);
  if (opts.filename.length === 0) throw new UsageError('matrix needs at least one -f PATH (or --server URL)');
  const ports = opts.port.length === 0 ? undefined : opts.port.map(parsePortSpec);
  const ws = await loadWorkspace(io, opts.filename, { podCidr: opts.podCidr });
  if (!reportOrFail(io, ws, opts.quiet === true)) return EXIT.USAGE;
  const m = computeMatrix(ws.cluster, { ports });
  if (m.ports.length === 0) {
    io.err('strata: no ports to evaluate: no container declares a port; pass --port PORT[/PROTOCOL]');
    return EXIT.USAGE;
  }
  switch (opts.output) {
    case 'json':
      io.out(JSON.stringify(matrixJson(m)));
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
