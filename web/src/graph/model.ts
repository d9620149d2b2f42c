// The service graph's model, pure: what to draw from the server's answers. Namespaces come from
// the namespace aggregate of the matrix (src/server/endpoints.ts), endpoints only for the
// namespaces the user opened (the class matrix among them), so the graph of a 10k-endpoint
// cluster starts as one node per namespace. Nodes: tenant (a namespace label) → namespace →
// endpoint group → endpoint; edges: the namespace pairs the matrix allows, the class pairs among
// opened namespaces, and observed flows. No policy semantics here: grouping of answers only.
import type { ClassMatrix, FlowRecord, NamespaceMatrix } from '../api/schemas.ts';

export interface Endpoint {
  readonly id: string;
  readonly namespace: string;
  readonly group: string;
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
  readonly expanded: boolean;
}

export interface GraphEdge {
  readonly key: string;
  readonly from: string;
  readonly to: string;
  /** Ports the matrix allows from → to for some pair. */
  readonly allowed: ReadonlySet<string>;
  /** Ports allowed for some pairs only (namespace level). */
  readonly partial: ReadonlySet<string>;
  /** A representative allowed endpoint pair per port, for explain. */
  readonly sample: ReadonlyMap<string, readonly [string, string]>;
  readonly observedAllow: number;
  readonly observedDeny: number;
  readonly observed: readonly { readonly from: string; readonly to: string; readonly port: string; readonly action: string }[];
}

export const NO_TENANT = '(no tenant)';
/** Members of an expanded group or namespace shown one by one; beyond that, one "more" node. */
export const MAX_CHILDREN = 200;

/**
 * Calico's flow-log name aggregation in spirit (`name_aggr`): a pod's generated suffixes (the
 * ReplicaSet hash `-7d4b9c8f6d`, the pod's `-x2k9q`, a StatefulSet ordinal) are dropped, so
 * replicas fall in one group. A suffix counts as generated only when it has a digit.
 */
export function groupOf(name: string): string {
  return name.replace(/-(?=[a-z]*\d)[a-z0-9]{5}$/, '').replace(/-(?=[a-z]*\d)[a-z0-9]{6,10}$/, '').replace(/-\d+$/, '');
}

export function endpointsOf(matrix: ClassMatrix): Endpoint[] {
  const seen = new Set<string>();
  const out: Endpoint[] = [];
  for (const c of matrix.classes) {
    for (const id of c.members) {
      if (seen.has(id)) continue;
      seen.add(id);
      const slash = id.indexOf('/');
      const namespace = slash < 0 ? '(host)' : id.slice(0, slash);
      const name = slash < 0 ? id : id.slice(slash + 1);
      out.push({ id, namespace, group: `${namespace}/${groupOf(name)}` });
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

export interface Layout {
  readonly nodes: readonly GraphNode[];
  /** Namespace → the node that stands for it (its own, or its folded tenant's). */
  readonly namespaceNode: ReadonlyMap<string, string>;
  /** Endpoint id → its node, for endpoints of opened namespaces. */
  readonly shownAs: ReadonlyMap<string, string>;
  /** Tenant → its nodes, in order. */
  readonly byTenant: ReadonlyMap<string, readonly GraphNode[]>;
}

export function shownNodes(namespaces: NamespaceMatrix['namespaces'], tenantOf: (ns: string) => string, endpoints: readonly Endpoint[], d: Detail): Layout {
  const nodes: GraphNode[] = [];
  const namespaceNode = new Map<string, string>();
  const shownAs = new Map<string, string>();
  const tenantNodes = new Map<string, { index: number; size: number }>();
  const byNs = new Map<string, Endpoint[]>();
  for (const e of endpoints) {
    const l = byNs.get(e.namespace) ?? [];
    l.push(e);
    byNs.set(e.namespace, l);
  }
  for (const ns of namespaces) {
    const tenant = tenantOf(ns.name);
    if (d.collapsedTenants.has(tenant)) {
      const t = tenantNodes.get(tenant);
      if (t === undefined) {
        tenantNodes.set(tenant, { index: nodes.length, size: ns.endpoints });
        nodes.push({ id: `t:${tenant}`, kind: 'tenant', label: tenant, tenant, namespace: '', size: ns.endpoints, expanded: false });
      } else {
        t.size += ns.endpoints;
        nodes[t.index] = { ...nodes[t.index]!, size: t.size };
      }
      namespaceNode.set(ns.name, `t:${tenant}`);
      continue;
    }
    const open = d.expandedNamespaces.has(ns.name);
    nodes.push({ id: `n:${ns.name}`, kind: 'namespace', label: ns.name, tenant, namespace: ns.name, size: ns.endpoints, expanded: open });
    namespaceNode.set(ns.name, `n:${ns.name}`);
    if (!open) continue;
    const members = byNs.get(ns.name) ?? [];
    const groupSize = new Map<string, number>();
    for (const e of members) groupSize.set(e.group, (groupSize.get(e.group) ?? 0) + 1);
    const children = new Map<string, GraphNode>();
    for (const e of members) {
      const single = (groupSize.get(e.group) ?? 0) <= 1;
      const asEndpoint = single || d.expandedGroups.has(e.group);
      let id = asEndpoint ? `e:${e.id}` : `g:${e.group}`;
      if (!children.has(id) && children.size >= MAX_CHILDREN) id = `m:${ns.name}`;
      const prev = children.get(id);
      if (prev !== undefined) children.set(id, { ...prev, size: prev.size + 1 });
      else if (id.startsWith('m:')) children.set(id, { id, kind: 'more', label: `more in ${ns.name}`, tenant, namespace: ns.name, size: 1, expanded: false });
      else if (id.startsWith('g:')) children.set(id, { id, kind: 'group', label: e.group.slice(ns.name.length + 1), tenant, namespace: ns.name, size: 1, expanded: false });
      else children.set(id, { id, kind: 'endpoint', label: e.id.slice(ns.name.length + 1), tenant, namespace: ns.name, size: 1, expanded: !single });
      shownAs.set(e.id, id);
    }
    nodes.push(...children.values());
  }
  const byTenant = new Map<string, GraphNode[]>();
  for (const n of nodes) {
    const l = byTenant.get(n.tenant) ?? [];
    l.push(n);
    byTenant.set(n.tenant, l);
  }
  return { nodes, namespaceNode, shownAs, byTenant };
}

interface MutableEdge {
  key: string;
  from: string;
  to: string;
  allowed: Set<string>;
  partial: Set<string>;
  sample: Map<string, readonly [string, string]>;
  observedAllow: number;
  observedDeny: number;
  observed: { from: string; to: string; port: string; action: string }[];
}

export function graphEdges(nsm: NamespaceMatrix, cm: ClassMatrix | undefined, layout: Layout, port: string, flows: readonly FlowRecord[]): GraphEdge[] {
  const edges = new Map<string, MutableEdge>();
  const edge = (a: string, b: string): MutableEdge => {
    const key = `${a}→${b}`;
    let e = edges.get(key);
    if (e === undefined) {
      e = { key, from: a, to: b, allowed: new Set(), partial: new Set(), sample: new Map(), observedAllow: 0, observedDeny: 0, observed: [] };
      edges.set(key, e);
    }
    return e;
  };
  // Namespace level: between the nodes standing for the namespaces (an opened one keeps its own).
  for (const p of nsm.ports) {
    if (port !== '' && p.spec !== port) continue;
    for (const c of p.cells) {
      const a = layout.namespaceNode.get(c.from);
      const b = layout.namespaceNode.get(c.to);
      if (a === undefined || b === undefined || a === b) continue;
      const e = edge(a, b);
      e.allowed.add(p.spec);
      if (c.verdict === 'partial') e.partial.add(p.spec);
      if (!e.sample.has(p.spec)) e.sample.set(p.spec, c.example);
    }
  }
  // Inside opened namespaces: class pairs, expanded per class to the shown nodes of its members.
  if (cm !== undefined) {
    const classNodes = new Map<string, Map<string, string>>();
    for (const c of cm.classes) {
      const m = new Map<string, string>();
      for (const id of c.members) {
        const n = layout.shownAs.get(id);
        if (n !== undefined && !m.has(n)) m.set(n, id);
      }
      classNodes.set(c.id, m);
    }
    for (const p of cm.ports) {
      if (port !== '' && p.spec !== port) continue;
      for (const [ca, cb] of p.allowed) {
        for (const [a, srcId] of classNodes.get(ca) ?? []) {
          for (const [b, dstId] of classNodes.get(cb) ?? []) {
            if (a === b) continue;
            const e = edge(a, b);
            e.allowed.add(p.spec);
            if (!e.sample.has(p.spec)) e.sample.set(p.spec, [srcId, dstId]);
          }
        }
      }
    }
  }
  const nodeOf = (e: FlowRecord['source']): string | undefined => {
    if (e.namespace === null) return undefined;
    return (e.name === null ? undefined : layout.shownAs.get(`${e.namespace}/${e.name}`)) ?? layout.namespaceNode.get(e.namespace);
  };
  for (const f of flows) {
    const s = nodeOf(f.source);
    const t = nodeOf(f.destination);
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
