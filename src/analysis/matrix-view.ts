// Views of a computed connectivity matrix that answer questions: only some sources or
// destinations (`--from`/`--to`), one cell per namespace pair, one combined cell over all ports,
// and class-level JSON where endpoints treated alike are listed once. Built on computeMatrix's
// result only (its `allowed(src, dst)`), never on its internals.
import type { Endpoint } from '../engine/index.ts';
import { parseSelector } from '../selector/index.ts';
import type { Matrix, PortMatrix, PortSpec } from './matrix.ts';

// ---- endpoint filters

/** Which endpoints a `--from`/`--to` value stands for. */
export type EndpointFilter = (e: Endpoint) => boolean;

/**
 * `NS/NAME` or `hep:NAME` (one endpoint), `NS/*` (a namespace), `k=v[,k=v]` (labels, as kubectl
 * writes them) or a Calico selector (`app == "web" && has(tier)`). A string for a bad filter.
 */
export function parseEndpointFilter(text: string, ids: ReadonlySet<string>): EndpointFilter | string {
  const t = text.trim();
  if (ids.has(t)) return (e) => e.id === t;
  const ns = /^([^/=\s]+)\/\*$/.exec(t);
  if (ns !== null) return (e) => e.namespace === ns[1];
  let expr = t;
  if (/^[A-Za-z0-9][\w./-]*=[^=]*(,[A-Za-z0-9][\w./-]*=[^=,]*)*$/.test(t) && !t.includes('==')) {
    expr = t
      .split(',')
      .map((kv) => {
        const i = kv.indexOf('=');
        return `${kv.slice(0, i)} == ${JSON.stringify(kv.slice(i + 1))}`;
      })
      .join(' && ');
  }
  const sel = parseSelector(expr);
  if (!sel.ok) {
    return `"${text}" is neither an endpoint (NS/NAME), a namespace (NS/*) nor a label selector: ${sel.diagnostics[0]?.message ?? 'syntax error'}`;
  }
  return (e) => sel.value.matches(e.labels);
}

// ---- cells

export type CellVerdict = 'allow' | 'partial' | 'deny';

/** all true → allow, all false → deny, mixed → partial, nothing → undefined (not evaluated). */
function fold(allowed: number, total: number): CellVerdict | undefined {
  if (total === 0) return undefined;
  return allowed === total ? 'allow' : allowed === 0 ? 'deny' : 'partial';
}

export { specLabel } from './matrix-json.ts';
import { specLabel } from './matrix-json.ts';

/** One block of a view: a port, or every port at once (`--all-ports`). */
export interface ViewBlock {
  readonly label: string;
  readonly ports: readonly PortMatrix[];
}

export interface MatrixView {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly blocks: readonly {
    readonly label: string;
    /** `cells[r][c]`: undefined where nothing was evaluated (no port applies to the destination). */
    readonly cells: readonly (readonly (CellVerdict | undefined)[])[];
    /** For a combined block, the ports each cell allows (pair views only). */
    readonly allowedPorts?: readonly (readonly (readonly string[])[])[];
  }[];
}

export interface ViewOptions {
  readonly from?: EndpointFilter | undefined;
  readonly to?: EndpointFilter | undefined;
  /** One row and column per namespace (host endpoints: `(host)`). */
  readonly aggregate?: 'namespace' | undefined;
  /** One combined block over every port instead of one block per port. */
  readonly allPorts?: boolean | undefined;
}

function groupOf(e: Endpoint, aggregate: boolean): string {
  return aggregate ? (e.namespace ?? '(host)') : e.id;
}

/** The matrix as rows × columns × blocks, filtered, aggregated and combined as asked. */
export function matrixView(m: Matrix, opts: ViewOptions = {}): MatrixView {
  const aggregate = opts.aggregate === 'namespace';
  const srcs = m.endpoints.map((_e, i) => i).filter((i) => opts.from === undefined || opts.from(m.endpoints[i]!));
  const dstOk = (i: number): boolean => opts.to === undefined || opts.to(m.endpoints[i]!);
  const blocks: ViewBlock[] = opts.allPorts === true ? [{ label: `all ports (${m.ports.map((p) => specLabel(p.spec)).join(', ')})`, ports: m.ports }] : m.ports.map((p) => ({ label: specLabel(p.spec), ports: [p] }));
  const dstsOfBlock = (b: ViewBlock): number[] => [...new Set(b.ports.flatMap((p) => p.destinations))].filter(dstOk).sort((a, c) => a - c);

  const rows = [...new Set(srcs.map((i) => groupOf(m.endpoints[i]!, aggregate)))].sort();
  // Columns: every destination any block evaluates (a per-port table keeps only its own columns
  // when rendered, see columnsOf).
  const allDsts = [...new Set(blocks.flatMap(dstsOfBlock))];
  const columns = [...new Set(allDsts.map((i) => groupOf(m.endpoints[i]!, aggregate)))].sort();
  const rowIndex = new Map(rows.map((r, i) => [r, i]));
  const colIndex = new Map(columns.map((c, i) => [c, i]));

  return {
    rows,
    columns,
    blocks: blocks.map((b) => {
      const allowed = rows.map(() => columns.map(() => 0));
      const total = rows.map(() => columns.map(() => 0));
      const ports = opts.allPorts === true && !aggregate ? rows.map(() => columns.map((): string[] => [])) : undefined;
      for (const p of b.ports) {
        const dsts = p.destinations.filter(dstOk);
        for (const s of srcs) {
          const r = rowIndex.get(groupOf(m.endpoints[s]!, aggregate))!;
          for (const d of dsts) {
            // Aggregates are about distinct endpoints: an endpoint always reaches itself.
            if (aggregate && s === d) continue;
            const c = colIndex.get(groupOf(m.endpoints[d]!, aggregate))!;
            total[r]![c]!++;
            if (p.allowed(s, d)) {
              allowed[r]![c]!++;
              ports?.[r]![c]!.push(specLabel(p.spec));
            }
          }
        }
      }
      const cells = rows.map((_r, r) => columns.map((_c, c) => fold(allowed[r]![c]!, total[r]![c]!)));
      return { label: b.label, cells, ...(ports === undefined ? {} : { allowedPorts: ports }) };
    }),
  };
}

// ---- class-level JSON

export interface ClassMatrix {
  readonly classes: readonly { readonly id: string; readonly members: readonly string[] }[];
  readonly ports: readonly { readonly spec: string; readonly allowed: readonly (readonly [string, string])[] }[];
}

/**
 * Endpoints that every source and destination treats alike, listed once: a class pair is in a
 * port's `allowed` when every (source, destination) pair of distinct members is allowed, and no
 * pair of distinct members of two classes differs (classes are refined until that holds). An
 * endpoint always reaches itself; that is not listed.
 */
export function classMatrix(m: Matrix, opts: Pick<ViewOptions, 'from' | 'to'> = {}): ClassMatrix {
  const n = m.endpoints.length;
  const isSrc = m.endpoints.map((e) => opts.from === undefined || opts.from(e));
  const isDst = m.endpoints.map((e) => opts.to === undefined || opts.to(e));
  const dstOf = m.ports.map((p) => {
    const set = new Uint8Array(n);
    for (const d of p.destinations) if (isDst[d]) set[d] = 1;
    return set;
  });
  const members = m.endpoints.map((_e, i) => i).filter((i) => isSrc[i] || dstOf.some((s) => s[i] === 1));
  // Start from roles: source or not, and on which ports a destination.
  let classOf = new Map<number, number>();
  const start = new Map<string, number>();
  for (const i of members) {
    const key = `${isSrc[i] ? 1 : 0}:${dstOf.map((s) => s[i]).join('')}`;
    if (!start.has(key)) start.set(key, start.size);
    classOf.set(i, start.get(key)!);
  }
  // Relation of one endpoint to one class, per port and direction: T all allowed, F none, M mixed.
  const relation = (cells: boolean[]): string => (cells.length === 0 ? '-' : cells.every((x) => x) ? 'T' : cells.some((x) => x) ? 'M' : 'F');
  const signature = (i: number, cls: Map<number, number>, count: number): { key: string; mixed: boolean } => {
    const parts: string[] = [String(cls.get(i))];
    let mixed = false;
    m.ports.forEach((p, pi) => {
      const out: boolean[][] = Array.from({ length: count }, () => []);
      const inn: boolean[][] = Array.from({ length: count }, () => []);
      for (const j of members) {
        if (j === i) continue;
        const c = cls.get(j)!;
        if (isSrc[i] && dstOf[pi]![j] === 1) out[c]!.push(p.allowed(i, j));
        if (isSrc[j] && dstOf[pi]![i] === 1) inn[c]!.push(p.allowed(j, i));
      }
      const o = out.map(relation).join('');
      const r = inn.map(relation).join('');
      if (o.includes('M') || r.includes('M')) mixed = true;
      parts.push(`${o}|${r}`);
    });
    return { key: parts.join('/'), mixed };
  };
  let count = start.size;
  // Each round only splits classes (keys include the old class), so at most one round per endpoint.
  for (let round = 0; round <= members.length + 1; round++) {
    const next = new Map<number, number>();
    const keys = new Map<string, number>();
    const mixedClasses = new Set<number>();
    for (const i of members) {
      const s = signature(i, classOf, count);
      if (s.mixed) mixedClasses.add(classOf.get(i)!);
      // A class whose members see another class mixed cannot be summarised: split it to singletons.
      const key = s.mixed ? `single:${i}` : s.key;
      if (!keys.has(key)) keys.set(key, keys.size);
      next.set(i, keys.get(key)!);
    }
    const stable = keys.size === count && mixedClasses.size === 0;
    classOf = next;
    if (stable) break;
    count = keys.size;
  }
  // Name classes by their first member (endpoints are sorted by id).
  const byClass = new Map<number, number[]>();
  for (const i of members) {
    const c = classOf.get(i)!;
    const list = byClass.get(c);
    if (list === undefined) byClass.set(c, [i]);
    else list.push(i);
  }
  const ordered = [...byClass.values()].sort((a, b) => a[0]! - b[0]!);
  const idOf = new Map<number, string>();
  ordered.forEach((list, k) => idOf.set(classOf.get(list[0]!)!, `c${k}`));
  return {
    classes: ordered.map((list) => ({ id: idOf.get(classOf.get(list[0]!)!)!, members: list.map((i) => m.endpoints[i]!.id) })),
    ports: m.ports.map((p, pi) => {
      const allowed: [string, string][] = [];
      for (const a of ordered) {
        if (!isSrc[a[0]!]) continue;
        for (const b of ordered) {
          // One representative pair of distinct members decides (the classes are uniform).
          const s = a[0]!;
          const d = b.find((x) => x !== s && dstOf[pi]![x] === 1);
          if (d === undefined) continue;
          if (p.allowed(s, d)) allowed.push([idOf.get(classOf.get(s)!)!, idOf.get(classOf.get(d)!)!]);
        }
      }
      return { spec: specLabel(p.spec), allowed };
    }),
  };
}
