// What each node's view holds, kept current as the mirror applies store changes: the relevance
// filtering behind `GET /apis/strata/v1/nodeviews/NODE` (node-view.ts serves it). In the spirit of
// Felix's calculation graph (felix/calc/active_rules_calculator.go: a policy is *active* on a host
// when its selector matches a local endpoint; rule_scanner.go: the selectors, named ports and
// services an active rule uses; the IP-set member index: which endpoints and network sets are in
// them), but on the server, per node, so that an agent receives only its share (as Typha would
// if it filtered):
//
//   own      the node's endpoints (engine `endpointsOnNode`), in full
//   active   every policy (any kind, staged ones too: the flow log's pending column reads them)
//            in the tier plans of an own endpoint, both directions; staged Deletes of an active
//            policy; the Tier objects of active policies
//   peers    endpoints (any node, and controllers' templates) that are members of a selector an
//            active policy's or an own endpoint's profile's rules use (selector, notSelector —
//            namespaceSelector and serviceAccounts are folded into them by the engine), that
//            declare a named port such a rule names without a selector, or that back a Service
//            such a rule names; as peers (the projection node-view.ts makes)
//   sets     NetworkSets / GlobalNetworkSets those selectors match (threat-feed sets and
//            allowedEgressDomains sets included); Services such rules name
//   always   every Namespace and ServiceAccount: endpoints inherit their labels (and namespaced
//            network sets the namespace's), so an agent needs them to derive the same endpoints;
//            they are few and small next to pods
//
// Why that is exactly enough: `compileNode` reads `plan` of own endpoints (active policies and
// their tiers), `selectorMembers` / `endpointsWithPortName` / `serviceBackends` / `service` for
// what those rules use, and network sets' domains of the selectors. Each of those answers, on an
// engine holding only the view, equals the full engine's, because every member the full engine
// has is in the view (and every endpoint in the view is derived the same way: its namespace and
// service account are there). test/server/node-view-relevance.test.ts checks it on random
// clusters and writes.
//
// Incremental, from the engine's indexes and change report, never a scan of every object:
// - endpoint writes (and the endpoints a namespace or service-account write re-derived, from the
//   change report) that keep a node's set of own label classes are checked against the node's
//   selectors, named ports and services (O(changes × selectors)); one that adds or removes an own
//   class (the active policies follow the classes) recomputes that node;
// - a policy write that is neither in a node's view nor selects one of its own classes skips it;
// - a network set write is checked against the node's selectors; a Service write recomputes only
//   the nodes whose rules name it;
// - tiers, a namespace write that re-labelled network sets, and a re-list recompute every node
//   (O(view) each, from `endpointsOnNode`, tier plans, `selectorMembers`).
// Each node keeps a bounded log of what it sent, so a watch resumes from a list's or an event's
// resourceVersion; a watch from before the log (or for a node nobody listed) is 410 and the agent
// lists again.
import type { ChangeReport, Cluster, Endpoint, EntityMatch, NetworkSetEntry, Policy, Profile, ResourceKey } from '../engine/index.ts';
import { resourceKey } from '../engine/index.ts';
import { enforcedKeyOfStaged } from '../engine/policy-keys.ts';
import { serviceSelects } from '../engine/match.ts';
import type { Resource } from '../model/index.ts';
import type { Selector } from '../selector/index.ts';
import { isObject } from './objects.ts';
import type { ResourceInfo } from './resources.ts';

type Obj = Record<string, unknown>;

/** One stored object the mirror applied (value undefined: deleted). */
export interface Touched {
  readonly key: string;
  readonly info: ResourceInfo;
  /** The object as served (resourceVersion = its modRevision), or undefined when deleted. */
  readonly obj: Obj | undefined;
  /** The validated resource the engine holds for it (undefined when deleted or invalid). */
  readonly resource: Resource | undefined;
}

export interface ViewEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}

export interface NodeViewStats {
  /** Nodes whose view is kept. */
  readonly tracked: number;
  /** Batches applied. */
  readonly batches: number;
  /** Node recomputations from the engine's indexes, and node checks by the endpoint fast path. */
  readonly recomputes: number;
  readonly fastChecks: number;
  /** Events emitted, summed over nodes. */
  readonly events: number;
  /** CPU (user + system, µs) spent keeping the views (in `applied`). */
  readonly cpuMicros: number;
}

export interface NodeViews {
  /** After the engine applied a batch (or a re-list: `relist`, everything may have changed). */
  applied(revision: number, touched: readonly Touched[], relist: boolean, report: ChangeReport | undefined): void;
  /** The view of `node` now (and from now on it is kept, for a watch to resume from). */
  list(node: string): { readonly revision: number; readonly items: readonly Obj[] };
  /**
   * Follows the view of `node` from `rv`: replays what was sent after rv, then calls `listener`
   * after every batch (events possibly empty, with the revision reached). Undefined when rv is
   * older than what is kept (the caller answers 410).
   */
  watch(node: string, rv: number, listener: (events: readonly ViewEvent[], revision: number, viewWrite: boolean) => void, gone?: () => void): { close(): void } | undefined;
  revision(): number;
  stats(): NodeViewStats;
}

// Kinds whose every object is in every view (see the header).
const ALWAYS = new Set(['Namespace', 'ServiceAccount']);
// Engine kinds that never have a dataplane effect on an agent: a GlobalThreatFeed acts through its
// GlobalNetworkSet (and the server rewrites its status every pull period); invariants are the
// server's admission checks.
const NEVER = new Set(['GlobalThreatFeed', 'ConnectivityInvariant']);
const NET_SET_KINDS = new Set(['NetworkSet', 'GlobalNetworkSet']);
const ENDPOINT_KINDS = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'WorkloadEndpoint', 'HostEndpoint']);
/** Kinds projected to a peer when on another node (node-view.ts `peerOf`); other endpoint kinds have no node. */
const NODE_ENDPOINT_KINDS = new Set(['Pod', 'WorkloadEndpoint', 'HostEndpoint']);
const POLICY_KINDS = new Set([
  'NetworkPolicy',
  'GlobalNetworkPolicy',
  'StagedNetworkPolicy',
  'StagedGlobalNetworkPolicy',
  'KubernetesNetworkPolicy',
  'StagedKubernetesNetworkPolicy',
  'AdminNetworkPolicy',
  'BaselineAdminNetworkPolicy',
  'ClusterNetworkPolicy',
]);

/** Events a node keeps for watches to resume from. */
export const NODE_LOG_LIMIT = 4096;
/** A node nobody watches is forgotten this long after its last list. */
const IDLE_MS = 10 * 60 * 1000;

/** Whether a kind can be in a node view at all. */
export function isViewKind(info: ResourceInfo): boolean {
  return info.engine && !NEVER.has(info.type);
}

interface Entry {
  readonly info: ResourceInfo;
  readonly obj: Obj;
  /** Its modRevision: the token of the object held in full. */
  readonly rev: number;
  /**
   * Node endpoints (Pod/WEP/HEP): the peer projection, its identity apart from resourceVersion,
   * and a generation that changes only when that identity does (the token of the object held as a
   * peer, negated).
   */
  readonly peer: { readonly obj: Obj; readonly sig: string; readonly gen: number } | undefined;
}

/** How a node holds an object: > 0 in full at that resourceVersion, < 0 as a peer of that generation. */
type Held = number;

interface Listener {
  /** `viewWrite`: the batch wrote view kinds (false for a NodeStatus or an RBAC object alone). */
  readonly fn: (events: readonly ViewEvent[], revision: number, viewWrite: boolean) => void;
  /** The view can no longer be followed from what was sent (the caller answers 410). */
  readonly gone: () => void;
}

interface NodeState {
  readonly node: string;
  /** Datastore key → how it was sent (see Held). */
  sent: Map<string, Held>;
  /** Datastore key of each own endpoint → its class (labels and profiles: what its plans and profile rules follow). */
  ownOf: Map<string, string>;
  /**
   * Classes of the own endpoints, with how many have each: the active policies follow the set of
   * classes only, so an own endpoint changing within it recomputes nothing; a policy change
   * selecting none of their labels skips the node.
   */
  ownClasses: Map<string, { count: number; readonly labelKey: string }>;
  /** What the active rules use. */
  selectors: Map<string, Selector>;
  portNames: Set<string>;
  services: Set<string>;
  log: { readonly revision: number; readonly event: ViewEvent }[];
  /** Events at or below this revision may be gone from the log. */
  floor: number;
  listeners: Set<Listener>;
  lastListed: number;
}

const rec = (v: unknown): Obj => (isObject(v) ? v : {});

function pick(o: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

const PEER_META = ['name', 'namespace', 'labels', 'uid', 'resourceVersion'];
const PEER_WEP_SPEC = ['orchestrator', 'workload', 'node', 'pod', 'endpoint', 'serviceAccountName', 'ipNetworks', 'profiles', 'interfaceName', 'ports'];
const PEER_HEP_SPEC = ['node', 'interfaceName', 'expectedIPs', 'profiles', 'ports'];

/** A remote endpoint reduced to what peers' rules read: labels, addresses, ports, profiles, service account. */
export function peerOf(info: ResourceInfo, obj: Readonly<Obj>): Obj {
  const base = { apiVersion: obj['apiVersion'], kind: obj['kind'], metadata: pick(rec(obj['metadata']), PEER_META) };
  const spec = rec(obj['spec']);
  switch (info.type) {
    case 'WorkloadEndpoint':
      return { ...base, spec: pick(spec, PEER_WEP_SPEC) };
    case 'HostEndpoint':
      return { ...base, spec: pick(spec, PEER_HEP_SPEC) };
    case 'Pod': {
      const st = rec(obj['status']);
      const status = pick(st, ['podIP', 'podIPs', 'phase']);
      return { ...base, spec, ...(Object.keys(status).length > 0 ? { status } : {}) };
    }
    default:
      return { ...obj };
  }
}

/** The node an endpoint object runs on ('' without one), or undefined for kinds that are not endpoints of a node. */
export function endpointNodeOf(info: ResourceInfo, obj: Readonly<Obj>): string | undefined {
  const spec = rec(obj['spec']);
  switch (info.type) {
    case 'WorkloadEndpoint':
    case 'HostEndpoint':
      return typeof spec['node'] === 'string' ? spec['node'] : '';
    case 'Pod':
      return typeof spec['nodeName'] === 'string' ? spec['nodeName'] : '';
    default:
      return undefined;
  }
}

function peerSig(o: Readonly<Obj>): string {
  const meta = { ...rec(o['metadata']) };
  delete meta['resourceVersion'];
  return JSON.stringify({ ...o, metadata: meta });
}

const held = (e: Entry, asPeer: boolean): Held => (asPeer && e.peer !== undefined ? -e.peer.gen : e.rev);
const objectOf = (e: Entry, h: Held): Obj => (h < 0 && e.peer !== undefined ? e.peer.obj : e.obj);

/** Engine resource key (`TYPE/NS/NAME`) of an endpoint, policy, network set, tier, service. */
const endpointRk = (ep: Endpoint): ResourceKey => `${ep.resourceType}/${ep.namespace ?? ''}/${ep.name}`;
const netSetRk = (s: { namespace: string | undefined; name: string }): ResourceKey => (s.namespace === undefined ? `GlobalNetworkSet//${s.name}` : `NetworkSet/${s.namespace}/${s.name}`);

function cpuNow(): number {
  const u = process.threadCpuUsage();
  return u.user + u.system;
}

export function createNodeViews(snapshot: () => Cluster, now: () => number = Date.now, log: (message: string) => void = () => undefined): NodeViews {
  const objects = new Map<string, Entry>();
  /** Engine resource key → datastore key. */
  const byRk = new Map<ResourceKey, string>();
  /** Datastore key → its engine resource key (to undo `byRk`). */
  const rkOf = new Map<string, ResourceKey>();
  const always = new Set<string>();
  const nodes = new Map<string, NodeState>();
  /** Endpoint object (immutable, shared by snapshots) → datastore key of its resource. */
  const endpointKeys = new WeakMap<Endpoint, string>();
  let peerGens = 0;
  let revision = 0;
  let batches = 0;
  let recomputes = 0;
  let fastChecks = 0;
  let events = 0;
  let cpuMicros = 0;

  /** What the node's view is, from the engine's indexes: datastore key → how it is held. */
  function compute(snap: Cluster, st: NodeState, stagedDeletes: readonly Policy[]): Map<string, Held> {
    recomputes++;
    const out = new Map<string, Held>();
    const add = (rk: ResourceKey, asPeer: boolean): void => {
      const key = byRk.get(rk);
      if (key === undefined) return;
      const e = objects.get(key);
      if (e === undefined) return;
      const prev = out.get(key);
      // Own in full wins over peer.
      if (prev !== undefined && (!asPeer || prev > 0)) return;
      out.set(key, held(e, asPeer));
    };
    // Peers by the hundred thousand (every member of every selector): by endpoint identity, no key text.
    const addPeer = (ep: Endpoint): void => {
      let key = endpointKeys.get(ep);
      if (key === undefined) {
        key = byRk.get(endpointRk(ep));
        if (key === undefined) return;
        endpointKeys.set(ep, key);
      }
      if (out.has(key)) return;
      const e = objects.get(key);
      if (e !== undefined) out.set(key, held(e, true));
    };
    for (const key of always) {
      const e = objects.get(key);
      if (e !== undefined) out.set(key, held(e, false));
    }
    const own = snap.endpointsOnNode(st.node);
    const active = new Map<string, Policy>();
    const profiles = new Map<string, Profile>();
    st.ownOf = new Map();
    st.ownClasses = new Map();
    for (const ep of own) {
      add(endpointRk(ep), false);
      const k = byRk.get(endpointRk(ep));
      const cls = classOf(ep);
      if (k !== undefined) st.ownOf.set(k, cls);
      const c = st.ownClasses.get(cls);
      if (c === undefined) st.ownClasses.set(cls, { count: 1, labelKey: ep.labelKey });
      else c.count++;
      for (const dir of ['ingress', 'egress'] as const) for (const tp of snap.plan(ep, dir)) for (const p of tp.policies) active.set(p.key, p);
      for (const pr of ep.profiles) profiles.set(pr.name, pr);
    }
    for (const d of stagedDeletes) {
      const target = enforcedKeyOfStaged(d);
      if (target !== undefined && active.has(target)) active.set(d.key, d);
    }
    const selectors = new Map<string, Selector>();
    const portNames = new Set<string>();
    const services = new Set<string>();
    const side = (e: EntityMatch): void => {
      if (e.selector !== undefined) selectors.set(e.selector.id, e.selector);
      if (e.notSelector !== undefined) selectors.set(e.notSelector.id, e.notSelector);
      // Named ports with a selector on the same side are filtered by its members (compile.ts).
      if (e.selector === undefined) for (const n of [...(e.ports?.named ?? []), ...(e.notPorts?.named ?? [])]) portNames.add(n);
      if (e.service !== undefined) services.add(`${e.service.namespace}/${e.service.name}`);
    };
    const rules = (x: Pick<Policy, 'ingress' | 'egress'>): void => {
      for (const r of x.ingress) (side(r.source), side(r.destination));
      for (const r of x.egress) (side(r.source), side(r.destination));
    };
    for (const p of active.values()) {
      add(p.key, false);
      add(`Tier//${p.tier}`, false);
      rules(p);
    }
    for (const pr of profiles.values()) rules(pr);
    for (const sel of selectors.values()) {
      const m = snap.selectorMembers(sel);
      for (const ep of m.endpoints) addPeer(ep);
      for (const s of m.networkSets) add(netSetRk(s), false);
    }
    for (const n of portNames) for (const ep of snap.endpointsWithPortName(n)) addPeer(ep);
    for (const ref of services) {
      const [ns, name] = [ref.slice(0, ref.indexOf('/')), ref.slice(ref.indexOf('/') + 1)];
      add(`Service/${ns}/${name}`, false);
      for (const ep of snap.serviceBackends(ns, name)) addPeer(ep);
    }
    st.selectors = selectors;
    st.portNames = portNames;
    st.services = services;
    return out;
  }

  /** Whether the (new) endpoint of a changed resource belongs to the node's view as a peer. */
  function isPeer(snap: Cluster, st: NodeState, ep: Endpoint): boolean {
    for (const sel of st.selectors.values()) if (snap.selectorClasses(sel).has(ep.labelKey)) return true;
    for (const p of ep.ports) if (p.name !== undefined && st.portNames.has(p.name)) return true;
    for (const ref of st.services) {
      const svc = snap.service(ref.slice(0, ref.indexOf('/')), ref.slice(ref.indexOf('/') + 1));
      if (svc !== undefined && serviceSelects(svc, ep)) return true;
    }
    return false;
  }

  /** Datastore keys of the endpoint resources that may stand for an engine endpoint id. */
  function keysOfEndpointId(id: string): string[] {
    const out: string[] = [];
    if (id.startsWith('hep:')) {
      const k = byRk.get(`HostEndpoint//${id.slice(4)}`);
      if (k !== undefined) out.push(k);
      return out;
    }
    const slash = id.indexOf('/');
    for (const type of ENDPOINT_KINDS) {
      const k = byRk.get(`${type}/${id.slice(0, slash)}/${id.slice(slash + 1)}`);
      if (k !== undefined) out.push(k);
    }
    return out;
  }

  /** Whether a written policy may change the node's view: it is in it, or selects an own endpoint now. */
  function policyConcerns(snap: Cluster, st: NodeState, t: Touched): boolean {
    if (st.sent.has(t.key)) return true;
    if (t.resource === undefined) return false;
    const p = snap.policy(resourceKey(t.resource));
    if (p === undefined) return false;
    if (p.staged && p.stagedAction === 'Delete') return true;
    const classes = snap.selectorClasses(p.selector);
    for (const c of st.ownClasses.values()) if (classes.has(c.labelKey)) return true;
    return false;
  }

  /**
   * Moves the node's view on by changed endpoints (written or re-derived), without recomputing:
   * own ones are sent in full, others checked against what the active rules use. False when the
   * node must recompute instead: an own endpoint's class appeared or vanished (the active
   * policies may change), or an endpoint cannot be told apart from another kind's of the same id.
   */
  function endpointsMoved(snap: Cluster, st: NodeState, candidates: ReadonlySet<string>, gone: ReadonlyMap<string, Entry>, out: ViewEvent[]): boolean {
    fastChecks++;
    const counts = new Map<string, number>();
    const labelKeys = new Map<string, string>();
    const plan: { key: string; ep: Endpoint | undefined; own: boolean }[] = [];
    for (const key of candidates) {
      const e = objects.get(key);
      const ep = e === undefined ? undefined : endpointOfEntry(snap, e);
      if (ep === 'ambiguous') return false;
      const own = ep !== undefined && ep.node === st.node;
      const before = st.ownOf.get(key);
      const after = own ? classOf(ep) : undefined;
      if (before !== after) {
        if (before !== undefined) counts.set(before, (counts.get(before) ?? 0) - 1);
        if (after !== undefined) {
          counts.set(after, (counts.get(after) ?? 0) + 1);
          labelKeys.set(after, ep!.labelKey);
        }
      }
      plan.push({ key, ep, own });
    }
    for (const [cls, d] of counts) {
      const had = st.ownClasses.get(cls)?.count ?? 0;
      if ((had === 0) !== (had + d === 0)) return false;
    }
    // The set of own classes stays: apply the counts, then the objects.
    for (const [cls, d] of counts) {
      const c = st.ownClasses.get(cls);
      if (c === undefined) st.ownClasses.set(cls, { count: d, labelKey: labelKeys.get(cls)! });
      else if ((c.count += d) === 0) st.ownClasses.delete(cls);
    }
    for (const { key, ep, own } of plan) {
      if (own) st.ownOf.set(key, classOf(ep!));
      else st.ownOf.delete(key);
      const e = objects.get(key);
      const want = e === undefined || ep === undefined ? undefined : own ? held(e, false) : isPeer(snap, st, ep) ? held(e, NODE_ENDPOINT_KINDS.has(e.info.type)) : undefined;
      const prev = st.sent.get(key);
      if (want === prev) continue;
      if (want === undefined) {
        emit(st, out, 'DELETED', deletedObject(key, prev!, gone));
        st.sent.delete(key);
      } else {
        emit(st, out, prev === undefined ? 'ADDED' : 'MODIFIED', objectOf(e!, want));
        st.sent.set(key, want);
      }
    }
    return true;
  }

  function emit(st: NodeState, out: ViewEvent[], type: ViewEvent['type'], object: Obj): void {
    const event = { type, object };
    out.push(event);
    st.log.push({ revision, event });
    events++;
  }

  /** Moves `st.sent` to `next`, emitting the differences. `gone` holds the entries of objects deleted in this batch. */
  function diffInto(st: NodeState, next: Map<string, Held>, gone: ReadonlyMap<string, Entry>, out: ViewEvent[]): void {
    for (const [key, h] of next) {
      const prev = st.sent.get(key);
      if (prev === h) continue;
      emit(st, out, prev === undefined ? 'ADDED' : 'MODIFIED', objectOf(objects.get(key)!, h));
    }
    for (const [key, h] of st.sent) if (!next.has(key)) emit(st, out, 'DELETED', deletedObject(key, h, gone));
    st.sent = next;
  }

  function deletedObject(key: string, h: Held, gone: ReadonlyMap<string, Entry>): Obj {
    const e = gone.get(key) ?? objects.get(key);
    if (e === undefined) return {};
    const o = objectOf(e, h);
    // A delete is at the batch's revision (as the store's DELETED event is), so a watch resuming
    // from the last object it saw does not replay it.
    return { ...o, metadata: { ...rec(o['metadata']), resourceVersion: String(revision) } };
  }

  function trim(st: NodeState): void {
    if (st.log.length <= NODE_LOG_LIMIT) return;
    const drop = st.log.length - NODE_LOG_LIMIT;
    st.floor = Math.max(st.floor, st.log[drop - 1]!.revision);
    st.log.splice(0, drop);
  }

  function track(node: string): NodeState {
    let st = nodes.get(node);
    if (st === undefined) {
      st = {
        node,
        sent: new Map(),
        ownOf: new Map(),
        ownClasses: new Map(),
        selectors: new Map(),
        portNames: new Set(),
        services: new Set(),
        log: [],
        floor: revision,
        listeners: new Set(),
        lastListed: now(),
      };
      const snap = snapshot();
      st.sent = compute(snap, st, stagedDeletesOf(snap));
      nodes.set(node, st);
    }
    return st;
  }

  function stagedDeletesOf(snap: Cluster): Policy[] {
    return snap.policies.filter((p) => p.staged && p.stagedAction === 'Delete');
  }

  return {
    applied(rev, touched, relist, report) {
      const t0 = cpuNow();
      batches++;
      revision = Math.max(revision, rev);
      const gone = new Map<string, Entry>();
      for (const t of touched) {
        if (!isViewKind(t.info)) continue;
        const prev = objects.get(t.key);
        const oldRk = rkOf.get(t.key);
        if (oldRk !== undefined && byRk.get(oldRk) === t.key) byRk.delete(oldRk);
        rkOf.delete(t.key);
        if (t.obj === undefined) {
          if (prev !== undefined) gone.set(t.key, prev);
          objects.delete(t.key);
          always.delete(t.key);
          continue;
        }
        let peer: Entry['peer'];
        if (NODE_ENDPOINT_KINDS.has(t.info.type)) {
          const obj = peerOf(t.info, t.obj);
          const sig = peerSig(obj);
          peer = { obj, sig, gen: prev?.peer?.sig === sig ? prev.peer.gen : ++peerGens };
        }
        const e: Entry = { info: t.info, obj: t.obj, rev: Number(rec(t.obj['metadata'])['resourceVersion'] ?? 0), peer };
        objects.set(t.key, e);
        const rk = t.resource === undefined ? resourceKeyOfEntry(e) : resourceKey(t.resource);
        byRk.set(rk, t.key);
        rkOf.set(t.key, rk);
        if (ALWAYS.has(t.info.type)) always.add(t.key);
      }
      // Forget nodes nobody follows.
      for (const [n, st] of nodes) if (st.listeners.size === 0 && now() - st.lastListed > IDLE_MS) nodes.delete(n);
      if (nodes.size > 0) {
        const viewTouched = touched.filter((t) => isViewKind(t.info));
        const alwaysTouched = viewTouched.filter((t) => ALWAYS.has(t.info.type));
        const policyTouched = viewTouched.filter((t) => POLICY_KINDS.has(t.info.type));
        // Tiers (or a re-list): every node recomputes; so does a namespace change that re-labelled
        // network sets (namespaced sets inherit the namespace's labels).
        const setTouched = viewTouched.filter((t) => NET_SET_KINDS.has(t.info.type));
        const serviceTouched = viewTouched.filter((t) => t.info.type === 'Service');
        const anyFull =
          relist ||
          viewTouched.some((t) => !ALWAYS.has(t.info.type) && !POLICY_KINDS.has(t.info.type) && !ENDPOINT_KINDS.has(t.info.type) && !NET_SET_KINDS.has(t.info.type) && t.info.type !== 'Service') ||
          (alwaysTouched.length > 0 && (report === undefined || report.networkSets.length > 0));
        let setsById: Map<string, NetworkSetEntry> | undefined;
        // The endpoints to look at: those written, and those the engine re-derived (a namespace's or
        // service account's labels are inherited: the engine's report names the endpoints).
        const candidates = new Set(viewTouched.filter((t) => ENDPOINT_KINDS.has(t.info.type)).map((t) => t.key));
        if (alwaysTouched.length > 0 && report !== undefined) {
          for (const id of [...report.endpoints.added, ...report.endpoints.removed, ...report.endpoints.updated]) for (const k of keysOfEndpointId(id)) candidates.add(k);
        }
        let snap: Cluster | undefined;
        let staged: Policy[] | undefined;
        const snapOf = (): Cluster => (snap ??= snapshot());
        const stagedOf = (): Policy[] => (staged ??= stagedDeletesOf(snapOf()));
        for (const st of [...nodes.values()]) {
          const out: ViewEvent[] = [];
          try {
            if (viewTouched.length > 0) {
              let full = anyFull;
              if (!full && policyTouched.length > 0) full = policyTouched.some((t) => policyConcerns(snapOf(), st, t));
              // A Service the active rules name: its backends may change (recompute); others are not read.
              if (!full && serviceTouched.length > 0) full = serviceTouched.some((t) => st.sent.has(t.key) || st.services.has(`${String(rec(t.obj?.['metadata'])['namespace'])}/${String(rec(t.obj?.['metadata'])['name'])}`));
              if (!full && candidates.size > 0) full = !endpointsMoved(snapOf(), st, candidates, gone, out);
              // A network set is in the view when a selector the active rules use matches it (as
              // selectorMembers decides); nothing else depends on it.
              if (!full && setTouched.length > 0) {
                setsById ??= new Map(snapOf().networkSets.map((n) => [n.id, n]));
                for (const t of setTouched) {
                  const e = objects.get(t.key);
                  const m = rec(e?.obj['metadata']);
                  const entry = e === undefined ? undefined : setsById.get(e.info.type === 'NetworkSet' ? `${String(m['namespace'] ?? 'default')}/${String(m['name'])}` : String(m['name']));
                  let want: Held | undefined;
                  if (e !== undefined && entry !== undefined) for (const sel of st.selectors.values()) if (sel.matches(entry.labels)) want = held(e, false);
                  const prev = st.sent.get(t.key);
                  if (want === prev) continue;
                  if (want === undefined) {
                    emit(st, out, 'DELETED', deletedObject(t.key, prev!, gone));
                    st.sent.delete(t.key);
                  } else {
                    emit(st, out, prev === undefined ? 'ADDED' : 'MODIFIED', e!.obj);
                    st.sent.set(t.key, want);
                  }
                }
              }
              if (!full) {
                for (const t of alwaysTouched) {
                  const e = objects.get(t.key);
                  const prev = st.sent.get(t.key);
                  if (e === undefined) {
                    if (prev !== undefined) {
                      emit(st, out, 'DELETED', deletedObject(t.key, prev, gone));
                      st.sent.delete(t.key);
                    }
                    continue;
                  }
                  const h = held(e, false);
                  if (prev === h) continue;
                  emit(st, out, prev === undefined ? 'ADDED' : 'MODIFIED', e.obj);
                  st.sent.set(t.key, h);
                }
              } else {
                diffInto(st, compute(snapOf(), st, stagedOf()), gone, out);
              }
              trim(st);
            }
          } catch (e) {
            // A fault here must not stop the mirror; the node's watchers list again.
            log(`node views: keeping the view of ${st.node} failed (${(e as Error).message}); its watchers are sent 410`);
            nodes.delete(st.node);
            for (const l of st.listeners) l.gone();
            continue;
          }
          for (const l of st.listeners) {
            try {
              l.fn(out, revision, viewTouched.length > 0);
            } catch (e) {
              log(`node views: a watcher of ${st.node} failed (${(e as Error).message}); dropped`);
              st.listeners.delete(l);
            }
          }
        }
      }
      cpuMicros += cpuNow() - t0;
    },
    list(node) {
      const st = track(node);
      st.lastListed = now();
      const items: Obj[] = [];
      for (const [key, h] of st.sent) {
        const e = objects.get(key);
        if (e !== undefined) items.push(objectOf(e, h));
      }
      return { revision, items };
    },
    watch(node, rv, fn, gone = () => undefined) {
      const st = nodes.get(node);
      if (st === undefined || rv < st.floor || rv > revision) return undefined;
      const replay = st.log.filter((l) => l.revision > rv).map((l) => l.event);
      if (replay.length > 0) fn(replay, revision, true);
      const listener: Listener = { fn, gone };
      st.listeners.add(listener);
      return {
        close() {
          st.listeners.delete(listener);
          st.lastListed = now();
        },
      };
    },
    revision: () => revision,
    stats: () => ({ tracked: nodes.size, batches, recomputes, fastChecks, events, cpuMicros }),
  };
}

function resourceKeyOfEntry(e: Entry): ResourceKey {
  const m = rec(e.obj['metadata']);
  const ns = e.info.namespaced ? (typeof m['namespace'] === 'string' ? m['namespace'] : 'default') : '';
  return `${e.info.type}/${ns}/${String(m['name'] ?? '')}`;
}

/** What an own endpoint's plans and profile rules follow: its labels and its profiles' names. */
function classOf(ep: Endpoint): string {
  return `${ep.labelKey}\u0000${ep.profiles.map((p) => p.name).join(',')}`;
}

/** The engine endpoint an endpoint object stands for, by id and kind; 'ambiguous' when another kind holds the id. */
function endpointOfEntry(snap: Cluster, e: Entry): Endpoint | undefined | 'ambiguous' {
  const m = rec(e.obj['metadata']);
  const name = String(m['name'] ?? '');
  const id = e.info.type === 'HostEndpoint' ? `hep:${name}` : `${typeof m['namespace'] === 'string' ? m['namespace'] : 'default'}/${name}`;
  const ep = snap.endpoint(id);
  if (ep === undefined) return undefined;
  if (ep.resourceType !== e.info.type) return 'ambiguous';
  return ep;
}
