// The service graph's model, pure: endpoints (from the server's class matrix) placed in a
// hierarchy tenant → namespace → endpoint group → endpoint, the node each endpoint shows as at
// the current level of detail, and the edges between shown nodes. Edges come from the matrix's
// allowed class pairs (the engine's decisions), expanded per class to the shown nodes of its
// members — never member by member, so a namespace-level view of 10k endpoints stays cheap —
// and from observed flows. No policy semantics here: only grouping of the server's answers.
import type { ClassMatrix, FlowRecord } from '../api/schemas.ts';

export interface Endpoint {
  readonly id: string;
  readonly namespace: string;
  readonly group: string;
  readonly tenant: string;
}

/** Where the grouping stands: what is collapsed or expanded. */
export interface Detail {
  readonly collapsedTenants: ReadonlySet<string>;
  readonly expandedNamespaces: ReadonlySet<string>;
  readonly expandedGroups: ReadonlySet<string>;
}

export type NodeKind = 'tenant' | 'namespace' | 'group' | 'endpoint' | 'more';

export interface GraphNode {
  readonly id: string;
  readonly kind: NodeKind;
  readonly label: string;
  readonly tenant: string;
  readonly namespace: string;
  /** Endpoints it stands for. */
  readonly size: number;
}

export interface GraphEdge {
  readonly key: string;
  readonly from: string;
  readonly to: string;
  /** Ports the matrix allows from → to (some member pair). */
  readonly allowed: ReadonlySet<string>;
  /** A representative endpoint pair per allowed port, for explain. */
  readonly sample: ReadonlyMap<string, readonly [string, string]>;
  readonly observedAllow: number;
  readonly observedDeny: number;
  /** A representative observed flow (source, destination, port/protocol) per verdict. */
  readonly observed: readonly { readonly from: string; readonly to: string; readonly port: string; readonly action: string }[];
}

export const NO_TENANT = '(no tenant)';
export const HOSTS = '(host endpoints)';
/** Members of an expanded group or namespace shown one by one; beyond that, one "more" node. */
export const MAX_CHILDREN = 200;

/**
 * Calico's flow-log name aggregation in spirit (`name_aggr`): a pod's generated suffixes (the
 * ReplicaSet hash `-7d4b9c8f6d`, the pod's `-x2k9q`) are dropped, so replicas fall in one group.
 */
export function groupOf(name: string): string {
  return name.replace(/-[a-z0-9]{5}$/, '').replace(/-[a-f0-9]{8,10}$/, '').replace(/-\d+$/, '');
}

export function endpointsOf(matrix: ClassMatrix, nsLabels: ReadonlyMap<string, Readonly<Record<string, string>>>, tenantLabel: string): Endpoint[] {
  const seen = new Set<string>();
  const out: Endpoint[] = [];
  for (const c of matrix.classes) {
    for (const id of c.members) {
      if (seen.has(id)) continue;
      seen.add(id);
      const slash = id.indexOf('/');
      const namespace = slash < 0 ? HOSTS : id.slice(0, slash);
      const name = slash < 0 ? id : id.slice(slash + 1);
      out.push({ id, namespace, group: `${namespace}/${groupOf(name)}`, tenant: nsLabels.get(namespace)?.[tenantLabel] ?? NO_TENANT });
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

export interface Layout {
  readonly nodes: readonly GraphNode[];
  /** Endpoint id → the id of the node it shows as. */
  readonly shownAs: ReadonlyMap<string, string>;
  /** Tenant → its shown nodes, in order. */
  readonly byTenant: ReadonlyMap<string, readonly GraphNode[]>;
}

export function shownNodes(endpoints: readonly Endpoint[], d: Detail): Layout {
  const nodes = new Map<string, { node: GraphNode; size: number }>();
  const shownAs = new Map<string, string>();
  const groupSizes = new Map<string, number>();
  for (const e of endpoints) groupSizes.set(e.group, (groupSizes.get(e.group) ?? 0) + 1);
  const childCount = new Map<string, number>();
  const add = (id: string, kind: NodeKind, label: string, e: Endpoint): void => {
    const n = nodes.get(id);
    if (n === undefined) nodes.set(id, { node: { id, kind, label, tenant: e.tenant, namespace: e.namespace, size: 0 }, size: 1 });
    else n.size++;
    shownAs.set(e.id, id);
  };
  for (const e of endpoints) {
    if (d.collapsedTenants.has(e.tenant)) {
      add(`t:${e.tenant}`, 'tenant', e.tenant, e);
      continue;
    }
    if (!d.expandedNamespaces.has(e.namespace)) {
      add(`n:${e.namespace}`, 'namespace', e.namespace, e);
      continue;
    }
    const single = (groupSizes.get(e.group) ?? 0) <= 1;
    const parent = single || !d.expandedGroups.has(e.group) ? e.namespace : e.group;
    const nodeId = single ? `e:${e.id}` : d.expandedGroups.has(e.group) ? `e:${e.id}` : `g:${e.group}`;
    if (!nodes.has(nodeId)) {
      const k = childCount.get(parent) ?? 0;
      if (k >= MAX_CHILDREN) {
        add(`m:${parent}`, 'more', `more in ${parent}`, e);
        continue;
      }
      childCount.set(parent, k + 1);
    }
    if (nodeId.startsWith('g:')) add(nodeId, 'group', e.group.slice(e.namespace.length + 1), e);
    else add(nodeId, 'endpoint', e.id.slice(e.id.indexOf('/') + 1), e);
  }
  const list = [...nodes.values()].map((n) => ({ ...n.node, size: n.size }));
  const byTenant = new Map<string, GraphNode[]>();
  for (const n of list) {
    const l = byTenant.get(n.tenant) ?? [];
    l.push(n);
    byTenant.set(n.tenant, l);
  }
  return { nodes: list, shownAs, byTenant };
}

interface MutableEdge {
  key: string;
  from: string;
  to: string;
  allowed: Set<string>;
  sample: Map<string, readonly [string, string]>;
  observedAllow: number;
  observedDeny: number;
  observed: { from: string; to: string; port: string; action: string }[];
}

export function graphEdges(matrix: ClassMatrix, layout: Layout, port: string, flows: readonly FlowRecord[]): GraphEdge[] {
  // Per class: each shown node with one member in it (the representative for explain).
  const classNodes = new Map<string, Map<string, string>>();
  for (const c of matrix.classes) {
    const m = new Map<string, string>();
    for (const id of c.members) {
      const n = layout.shownAs.get(id);
      if (n !== undefined && !m.has(n)) m.set(n, id);
    }
    classNodes.set(c.id, m);
  }
  const edges = new Map<string, MutableEdge>();
  const edge = (a: string, b: string): MutableEdge => {
    const key = `${a}→${b}`;
    let e = edges.get(key);
    if (e === undefined) {
      e = { key, from: a, to: b, allowed: new Set(), sample: new Map(), observedAllow: 0, observedDeny: 0, observed: [] };
      edges.set(key, e);
    }
    return e;
  };
  for (const p of matrix.ports) {
    if (port !== '' && p.spec !== port) continue;
    for (const [ca, cb] of p.allowed) {
      const an = classNodes.get(ca);
      const bn = classNodes.get(cb);
      if (an === undefined || bn === undefined) continue;
      for (const [a, srcId] of an) {
        for (const [b, dstId] of bn) {
          if (a === b) continue;
          const e = edge(a, b);
          e.allowed.add(p.spec);
          if (!e.sample.has(p.spec)) e.sample.set(p.spec, [srcId, dstId]);
        }
      }
    }
  }
  for (const f of flows) {
    const s = f.source.namespace !== null && f.source.name !== null ? layout.shownAs.get(`${f.source.namespace}/${f.source.name}`) : undefined;
    const t = f.destination.namespace !== null && f.destination.name !== null ? layout.shownAs.get(`${f.destination.namespace}/${f.destination.name}`) : undefined;
    if (s === undefined || t === undefined || s === t) continue;
    const e = edge(s, t);
    if (f.action === 'allow') e.observedAllow++;
    else e.observedDeny++;
    if (e.observed.length < 5) e.observed.push({ from: `${f.source.namespace}/${f.source.name}`, to: `${f.destination.namespace}/${f.destination.name}`, port: `${f.port ?? ''}/${f.protocol.toUpperCase()}`, action: f.action });
  }
  return [...edges.values()];
}

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export const NODE_W = 150;
export const NODE_H = 40;
const GAP = 16;
const BAND_HEAD = 30;

/** Tenants as bands (rows), their nodes in a grid: deterministic, so screenshots compare. */
export function placeNodes(layout: Layout, width: number): { positions: Map<string, Box>; bands: { tenant: string; box: Box }[]; height: number } {
  const cols = Math.max(1, Math.floor((width - GAP) / (NODE_W + GAP)));
  const positions = new Map<string, Box>();
  const bands: { tenant: string; box: Box }[] = [];
  let y = GAP;
  for (const tenant of [...layout.byTenant.keys()].sort()) {
    const nodes = layout.byTenant.get(tenant) ?? [];
    const rows = Math.ceil(nodes.length / cols);
    const h = BAND_HEAD + rows * (NODE_H + GAP);
    bands.push({ tenant, box: { x: 4, y, w: width - 8, h } });
    nodes.forEach((n, i) => {
      positions.set(n.id, { x: GAP + (i % cols) * (NODE_W + GAP), y: y + BAND_HEAD + Math.floor(i / cols) * (NODE_H + GAP), w: NODE_W, h: NODE_H });
    });
    y += h + GAP;
  }
  return { positions, bands, height: y };
}
