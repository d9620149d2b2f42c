// The service graph: tenants (a namespace label, `tenant` unless told otherwise) as bands that
// collapse, namespaces → endpoint groups → endpoints expanding on click (level of detail), edges
// for what the matrix allows and what flows were observed (denied in red). Clicking an edge asks
// the server to explain a representative flow of each port both ways.
import { useEffect, useMemo, useState } from 'react';
import type { KeyboardEvent, ReactElement } from 'react';
import { getJson, postJson } from '../api/client.ts';
import type { Fetched } from '../api/client.ts';
import { classMatrixSchema, explainBatchSchema, flowListSchema, namespaceListSchema, namespaceMatrixSchema } from '../api/schemas.ts';
import type { ClassMatrix, FlowRecord } from '../api/schemas.ts';
import { endpointsOf, graphEdges, groupOf, NO_TENANT, NODE_H, NODE_W, placeNodes, shownNodes } from '../graph/model.ts';
import type { Detail, GraphEdge, GraphNode } from '../graph/model.ts';
import { navigate, routeHref } from '../route.ts';
import { Failure, useFetched, verdictClass } from './common.tsx';
import { z } from 'zod';

const WIDTH = 1100;
const MAX_EDGES_DRAWN = 4000;

/**
 * An edge as a quadratic curve bowed to its left: A→B and B→A bow apart, and edges along one row
 * of nodes (which would lie on top of each other as straight lines) get different bows.
 */
function curve(x1: number, y1: number, x2: number, y2: number, i: number): string {
  const dx = x2 - x1;
  const dy = y2 - y1;
  const len = Math.hypot(dx, dy) || 1;
  const bow = 18 + (i % 5) * 9 + len * 0.08;
  const cx = (x1 + x2) / 2 - (dy / len) * bow;
  const cy = (y1 + y2) / 2 + (dx / len) * bow;
  return `M ${x1} ${y1} Q ${cx} ${cy} ${x2} ${y2}`;
}

function splitSet(text: string | null): Set<string> {
  return new Set((text ?? '').split(',').filter((s) => s !== ''));
}

function activate(fn: () => void): { onClick: () => void; onKeyDown: (e: KeyboardEvent) => void } {
  return {
    onClick: fn,
    onKeyDown: (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        fn();
      }
    },
  };
}

type Explained = z.infer<typeof explainBatchSchema>['results'][number];

function EdgeDetail({ edge, nodes }: { edge: GraphEdge; nodes: ReadonlyMap<string, GraphNode> }): ReactElement {
  const label = (id: string): string => nodes.get(id)?.label ?? id;
  const flows = [...edge.sample.entries()].flatMap(([port, [s, d]]) => {
    const [num, proto] = port.includes('/') ? port.split('/') : ['', port];
    const base = { protocol: proto ?? 'TCP', ...(num === '' || num === undefined ? {} : { port: num }) };
    return [{ from: s, to: d, ...base }, { from: d, to: s, ...base }];
  });
  const key = JSON.stringify(flows);
  const res = useFetched((): Promise<Fetched<z.infer<typeof explainBatchSchema>>> => (flows.length === 0 ? Promise.resolve({ ok: true, value: { results: [] } }) : postJson('/apis/strata/v1/explain', { flows }, explainBatchSchema)), [key]);
  return (
    <section className="edge-detail" aria-labelledby="edge-title" aria-live="polite">
      <h2 id="edge-title">{label(edge.from)} → {label(edge.to)}</h2>
      <p>Allowed ports (some pair, by the server's matrix): {edge.allowed.size === 0 ? 'none' : [...edge.allowed].map((p) => (edge.partial.has(p) ? `${p} (some pairs)` : p)).join(', ')}</p>
      {edge.observedAllow + edge.observedDeny === 0 ? null : (
        <p>Observed: {edge.observedAllow} allowed, <span className="deny">{edge.observedDeny} denied</span> records.{' '}
          {edge.observed.map((o, i) => <a key={i} href={routeHref('explain', { from: o.from, to: o.to, port: o.port.split('/')[0], protocol: o.port.split('/')[1] })}>{o.from} → {o.to} {o.port} ({o.action}) </a>)}
        </p>
      )}
      {res.state === 'loading' ? <p role="status">Asking the server for the deciding policies…</p> : null}
      {res.state === 'done' && !res.result.ok ? <p role="alert" className="error">{res.result.message}</p> : null}
      {res.state === 'done' && res.result.ok && res.result.value.results.length > 0 ? (
        <table className="edge-explain">
          <caption>Deciding policy each way (one representative pair per port)</caption>
          <thead><tr><th scope="col">flow</th><th scope="col">verdict</th><th scope="col">decided by</th></tr></thead>
          <tbody>
            {res.result.value.results.map((r: Explained, i) => {
              const f = flows[i]!;
              const href = routeHref('explain', { from: f.from, to: f.to, port: 'port' in f ? f.port : undefined, protocol: f.protocol });
              if ('error' in r && !('verdict' in r)) return <tr key={i}><td>{f.from} → {f.to}</td><td colSpan={2}>{r.error.map((x) => x.message).join('; ')}</td></tr>;
              const e = r as Extract<Explained, { verdict: unknown }>;
              return (
                <tr key={i}>
                  <td><a href={href}>{f.from} → {f.to} {'port' in f ? f.port : ''}/{f.protocol}</a></td>
                  <td><span className={`verdict ${verdictClass(e.verdict)}`}>{e.verdict}</span></td>
                  <td>{e.decidedBy.direction ?? ''} {e.decidedBy.tier ?? ''} {e.decidedBy.policy ?? `(${e.decidedBy.reason})`}{e.decidedBy.rule === null ? '' : ` rule ${e.decidedBy.rule}`}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

export function GraphView({ params }: { params: URLSearchParams }): ReactElement {
  const tenantLabel = params.get('tenantLabel') ?? 'tenant';
  const port = params.get('port') ?? '';
  const detail: Detail = {
    collapsedTenants: splitSet(params.get('collapse')),
    expandedNamespaces: splitSet(params.get('expand')),
    expandedGroups: splitSet(params.get('groups')),
  };
  const expanded = [...detail.expandedNamespaces].sort();
  const ports = port === '' ? {} : { ports: [port] };
  const matrix = useFetched(() => postJson('/apis/strata/v1/matrix', { aggregate: 'namespace', around: expanded, ...ports }, namespaceMatrixSchema), [expanded.join(','), port]);
  const inside = useFetched(
    (): Promise<Fetched<ClassMatrix | undefined>> => (expanded.length === 0 ? Promise.resolve({ ok: true, value: undefined }) : postJson('/apis/strata/v1/matrix', { namespaces: expanded, ...ports }, classMatrixSchema)),
    [expanded.join(','), port],
  );
  const namespaces = useFetched(() => getJson('/api/v1/namespaces', namespaceListSchema), []);
  const flows = useFetched(() => getJson('/apis/strata/v1/flows?limit=5000', flowListSchema), []);
  const [selected, setSelected] = useState<string | undefined>(params.get('edge') ?? undefined);
  const [zoom, setZoom] = useState(1);
  const [knownPorts, setKnownPorts] = useState<string[]>([]);
  useEffect(() => {
    if (port === '' && matrix.state === 'done' && matrix.result.ok) setKnownPorts(matrix.result.value.ports.map((p) => p.spec));
  }, [matrix, port]);

  const nsLabels = useMemo(() => {
    const m = new Map<string, Record<string, string>>();
    if (namespaces.state === 'done' && namespaces.result.ok) for (const n of namespaces.result.value.items) m.set(n.metadata.name, n.metadata.labels ?? {});
    return m;
  }, [namespaces]);
  const tenantOf = (ns: string): string => nsLabels.get(ns)?.[tenantLabel] ?? NO_TENANT;
  const cm = inside.state === 'done' && inside.result.ok ? inside.result.value : undefined;
  const endpoints = useMemo(() => (cm === undefined ? [] : endpointsOf(cm)), [cm]);
  const detailKey = `${params.get('collapse') ?? ''}|${params.get('expand') ?? ''}|${params.get('groups') ?? ''}|${tenantLabel}`;
  const nsList = matrix.state === 'done' && matrix.result.ok ? matrix.result.value.namespaces : undefined;
  // `detail` and `tenantOf` are rebuilt each render; their content is what detailKey and nsLabels name.
  const layout = useMemo(() => shownNodes(nsList ?? [], tenantOf, endpoints, detail), [nsList, endpoints, detailKey, nsLabels]);
  const observed: readonly FlowRecord[] = flows.state === 'done' && flows.result.ok ? flows.result.value.items : [];
  const edges = useMemo(() => (matrix.state === 'done' && matrix.result.ok ? graphEdges(matrix.result.value, cm, layout, port, observed) : []), [matrix, cm, layout, port, observed]);
  const placed = useMemo(() => placeNodes(layout, WIDTH), [layout]);

  if (matrix.state === 'loading') return <p role="status">Loading the connectivity matrix…</p>;
  if (!matrix.result.ok) return <Failure what="The connectivity matrix" status={matrix.result.status} message={matrix.result.message} />;
  const m = matrix.result.value;
  const total = m.namespaces.reduce((n, x) => n + x.endpoints, 0);
  const setParam = (k: string, v: string): void => {
    const cur: Record<string, string> = {};
    params.forEach((val, key) => { cur[key] = val; });
    navigate('graph', { ...cur, [k]: v }, true);
  };
  const toggle = (k: 'collapse' | 'expand' | 'groups', id: string): void => {
    const s = splitSet(params.get(k));
    if (s.has(id)) s.delete(id);
    else s.add(id);
    setParam(k, [...s].join(','));
  };
  const onNode = (n: GraphNode): void => {
    if (n.kind === 'tenant') toggle('collapse', n.label);
    else if (n.kind === 'namespace') toggle('expand', n.namespace);
    else if (n.kind === 'group') toggle('groups', `${n.namespace}/${n.label}`);
    else if (n.kind === 'endpoint' && n.expanded) toggle('groups', `${n.namespace}/${groupOf(n.label)}`);
  };
  const byId = new Map(layout.nodes.map((n) => [n.id, n]));
  const drawn = edges.slice(0, MAX_EDGES_DRAWN);
  const sel = selected === undefined ? undefined : edges.find((e) => e.key === selected);
  const centre = (id: string): [number, number] => {
    const b = placed.positions.get(id);
    return b === undefined ? [0, 0] : [b.x + b.w / 2, b.y + b.h / 2];
  };
  const flowsNote = flows.state === 'done' && !flows.result.ok ? (flows.result.status === 404 ? 'no observed traffic: this server has no flow log API' : `no observed traffic: ${flows.result.message}`) : undefined;
  return (
    <>
      <form className="filters" aria-label="Graph options" onSubmit={(e) => e.preventDefault()}>
        <label>
          Port
          <select value={port} onChange={(e) => setParam('port', e.target.value)}>
            <option value="">all ports</option>
            {(knownPorts.length === 0 || (port !== '' && !knownPorts.includes(port)) ? [...knownPorts, ...(port === '' ? [] : [port])] : knownPorts).map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
        <label>Tenant label<input value={tenantLabel} onChange={(e) => setParam('tenantLabel', e.target.value)} /></label>
        <button type="button" onClick={() => setZoom((z) => Math.min(4, z * 1.25))}>Zoom in</button>
        <button type="button" onClick={() => setZoom((z) => Math.max(0.25, z / 1.25))}>Zoom out</button>
        <button type="button" onClick={() => navigate('graph', { port, tenantLabel }, true)}>Collapse all</button>
      </form>
      <p className="summary">
        {total} endpoints in {m.namespaces.length} namespaces; showing {layout.nodes.length} nodes and {edges.length} edges{edges.length > drawn.length ? ` (first ${drawn.length} drawn)` : ''}.
        {m.scope === 'around' ? ` The cluster is too large to count every namespace pair at once: edges are shown for the namespaces you open${m.around.length === 0 ? ' (none yet)' : ` (${m.around.join(', ')})`}.` : ''}
        {inside.state === 'loading' ? ' Loading the opened namespaces…' : ''}
        {inside.state === 'done' && !inside.result.ok ? ` The opened namespaces could not be loaded: ${inside.result.message}.` : ''}
        {flowsNote === undefined ? '' : ` ${flowsNote[0]!.toUpperCase()}${flowsNote.slice(1)}.`}
        {' '}Click a namespace to open its endpoint groups, a group for its endpoints, a tenant band's title to fold it.
      </p>
      <p className="legend" aria-hidden="true"><span className="sw allow" /> allowed by policy <span className="sw seen" /> observed allowed <span className="sw deny" /> observed denied</p>
      <div className="graph-wrap">
        <svg role="group" aria-label="Service graph" width={WIDTH * zoom} height={placed.height * zoom} viewBox={`0 0 ${WIDTH} ${placed.height}`}>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="currentColor" /></marker>
          </defs>
          {placed.bands.map((b) => (
            <g key={b.tenant} className="band">
              <rect x={b.box.x} y={b.box.y} width={b.box.w} height={b.box.h} rx={8} />
              <text x={b.box.x + 10} y={b.box.y + 20} className="band-title" role="button" tabIndex={0} aria-expanded={!detail.collapsedTenants.has(b.tenant)} {...activate(() => toggle('collapse', b.tenant))}>
                {detail.collapsedTenants.has(b.tenant) ? '▸' : '▾'} tenant {b.tenant}
              </text>
            </g>
          ))}
          <g className="edges">
            {drawn.map((e, i) => {
              const [x1, y1] = centre(e.from);
              const [x2, y2] = centre(e.to);
              const cls = e.observedDeny > 0 ? 'edge deny' : e.observedAllow > 0 ? 'edge seen' : 'edge allow';
              return (
                <g key={e.key} className={e.key === selected ? `${cls} selected` : cls} role="button" tabIndex={0}
                  aria-label={`Edge ${byId.get(e.from)?.label ?? e.from} to ${byId.get(e.to)?.label ?? e.to}: ${e.allowed.size} allowed ports${e.observedDeny > 0 ? `, ${e.observedDeny} denied flows` : ''}`}
                  {...activate(() => setSelected(e.key))}>
                  <path d={curve(x1, y1, x2, y2, i)} markerEnd="url(#arrow)" />
                  {/* A wide transparent twin: a 1.5-pixel line is too thin to hit with a pointer. */}
                  <path d={curve(x1, y1, x2, y2, i)} className="hit" />
                </g>
              );
            })}
          </g>
          {layout.nodes.map((n) => {
            const b = placed.positions.get(n.id)!;
            return (
              <g key={n.id} className={`node ${n.kind}`} transform={`translate(${b.x},${b.y})`} role="button" tabIndex={0} data-node={n.id}
                aria-expanded={n.kind === 'namespace' || n.kind === 'group' || n.kind === 'tenant' ? n.expanded : undefined} {...activate(() => onNode(n))}>
                <title>{`${n.kind} ${n.label}: ${n.size} endpoint${n.size === 1 ? '' : 's'}`}</title>
                <rect width={NODE_W} height={NODE_H} rx={n.kind === 'endpoint' ? 4 : 12} />
                <text x={8} y={17}>{n.label.length > 20 ? `${n.label.slice(0, 19)}…` : n.label}</text>
                <text x={8} y={33} className="sub">{n.kind}{n.kind === 'endpoint' ? '' : ` · ${n.size}`}</text>
              </g>
            );
          })}
        </svg>
      </div>
      {sel === undefined ? null : <EdgeDetail edge={sel} nodes={byId} />}
      <details className="edge-list">
        <summary>Edges as a list ({edges.length})</summary>
        <ul>
          {edges.slice(0, 500).map((e) => (
            <li key={e.key}>
              <button type="button" onClick={() => setSelected(e.key)}>{byId.get(e.from)?.label ?? e.from} → {byId.get(e.to)?.label ?? e.to}</button>{' '}
              <span className={e.observedDeny > 0 ? 'deny' : ''}>{[...e.allowed].join(', ') || 'no allowed port'}{e.observedDeny > 0 ? `, ${e.observedDeny} denied` : ''}</span>
            </li>
          ))}
        </ul>
      </details>
    </>
  );
}
