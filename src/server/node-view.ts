// The per-node view an agent lists and watches (`GET /apis/strata/v1/nodeviews/NODE`, and with
// `?watch=true` the stream), as Typha fans out for Felix: one request instead of one watch per
// kind, and only what the node needs.
//
//   store /registry/<engine kinds> ──nodeViewObject(node)──► list {items, resourceVersion}
//                                  └─ watch from rv ─────────► ADDED/MODIFIED/DELETED, BOOKMARK, ERROR(410)
//
// What is in it (the simple correct version, documented in docs/agent.md):
// - Endpoints of NODE (WorkloadEndpoint spec.node, Pod spec.nodeName, HostEndpoint spec.node):
//   in full — the agent programs them.
// - Endpoints of other nodes: as *peers* — labels, addresses, ports, profiles, service account;
//   what selector sets and named-port sets are made of. Fields only the owning node needs (MAC,
//   container id, NATs, QoS, gateways; a Pod's annotations and status conditions) are dropped,
//   and an event that changes none of the peer fields is not sent at all. Dropping remote
//   endpoints altogether would be wrong: a policy on this node that allows `app == "web"` must
//   know the addresses of web pods on every node.
// - Every other engine kind (namespaces, service accounts, services, tiers, policies, network
//   sets, controllers) in full. RBAC objects, NodeStatus, audit records and GlobalThreatFeeds (no
//   dataplane effect; their sets are in the view) are not in the view.
import type { ServerResponse } from 'node:http';
import type { StoreError, WatchEvent } from '../store/index.ts';
import type { UserInfo } from './authn.ts';
import { authorize } from './authz.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import { infoOfKey } from './mirror.ts';
import { isObject, served } from './objects.ts';
import type { Query } from './rest.ts';
import type { ResourceInfo } from './resources.ts';
import { RESOURCES, resourcePrefix } from './resources.ts';
import { fail, status } from './status.ts';
import { WATCH_BUFFER_LIMIT } from './watch.ts';

export const NODE_VIEW_PATH = /^\/apis\/strata\/v1\/nodeviews\/([^/]+)$/;

const NODE_VIEW_INFO: ResourceInfo = { type: 'StrataEndpoint', kind: 'NodeView', group: 'strata', version: 'v1', plural: 'nodeviews', singular: 'nodeview', namespaced: false, shortNames: [], subresources: [], engine: false };

type Obj = Record<string, unknown>;

const rec = (v: unknown): Obj => (isObject(v) ? v : {});

/** The node an endpoint object runs on, or undefined for kinds that are not endpoints of a node. */
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

function pick(o: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

const PEER_META = ['name', 'namespace', 'labels', 'uid', 'resourceVersion'];
const PEER_WEP_SPEC = ['orchestrator', 'workload', 'node', 'pod', 'endpoint', 'serviceAccountName', 'ipNetworks', 'profiles', 'interfaceName', 'ports'];
const PEER_HEP_SPEC = ['node', 'interfaceName', 'expectedIPs', 'profiles', 'ports'];

/** A remote endpoint reduced to what peers' rules read (see the header). */
function peerOf(info: ResourceInfo, obj: Readonly<Obj>): Obj {
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

/** The object as NODE's view holds it, or undefined when it is not in the view. */
export function nodeViewObject(info: ResourceInfo, obj: Readonly<Obj>, node: string): Obj | undefined {
  // A GlobalThreatFeed has no dataplane effect (its GlobalNetworkSet, which is in the view, has),
  // and the server rewrites its status every pull period: sending it would wake every agent then.
  if (!info.engine || info.type === 'GlobalThreatFeed') return undefined;
  const on = endpointNodeOf(info, obj);
  if (on === undefined || on === node) return { ...obj };
  return peerOf(info, obj);
}

/** Identity of a view object apart from its resourceVersion: equal ones need not be sent again. */
function viewKey(o: Readonly<Obj>): string {
  const meta = { ...rec(o['metadata']) };
  delete meta['resourceVersion'];
  return JSON.stringify({ ...o, metadata: meta });
}

const VIEW_RESOURCES = RESOURCES.filter((r) => r.engine);
const ENDPOINT_RESOURCES = RESOURCES.filter((r) => r.type === 'WorkloadEndpoint' || r.type === 'HostEndpoint' || r.type === 'Pod');

function parseRv(text: string | undefined): number | undefined {
  if (text === undefined || text === '' || text === '0') return undefined;
  if (!/^\d+$/.test(text)) throw fail(400, `resourceVersion must be a revision number, got "${text}"`);
  return Number(text);
}

function authorizeView(ctx: ServerContext, user: UserInfo, node: string, verb: 'get' | 'watch', rec2: RequestRecord): void {
  rec2.resource = 'nodeviews';
  rec2.objectRef = { resource: 'nodeviews', name: node, apiGroup: 'strata', apiVersion: 'v1' };
  // `resourceNames: [NODE]` in a ClusterRole confines an agent's token to its own node.
  authorize(ctx.mirror, user, { info: NODE_VIEW_INFO, verb, namespace: undefined, name: node }, rec2);
}

/** Every object of the view at one revision. */
export async function listNodeView(ctx: ServerContext, user: UserInfo, node: string, rec2: RequestRecord): Promise<{ code: number; body: object }> {
  authorizeView(ctx, user, node, 'get', rec2);
  const revision = await ctx.store.revision();
  const items: Obj[] = [];
  for (const info of VIEW_RESOURCES) {
    // Several kinds share a plural (networkpolicies); each prefix once.
    if (VIEW_RESOURCES.find((r) => resourcePrefix(r) === resourcePrefix(info)) !== info) continue;
    const listed = await ctx.store.list(resourcePrefix(info), { revision });
    for (const o of listed.items) {
      const i = infoOfKey(o.key);
      if (i === undefined) continue;
      const v = nodeViewObject(i, served(o.value, o.modRevision), node);
      if (v !== undefined) items.push(v);
    }
  }
  return { code: 200, body: { kind: 'NodeViewList', apiVersion: 'strata/v1', metadata: { resourceVersion: String(revision), node }, items } };
}

/** The watch of the view; throws a Status error (before any byte is written) on a bad request. */
export async function startNodeViewWatch(ctx: ServerContext, user: UserInfo, node: string, q: Query, rec2: RequestRecord): Promise<(res: ServerResponse) => void> {
  authorizeView(ctx, user, node, 'watch', rec2);
  const rv = parseRv(q['resourceVersion']);
  if (rv === undefined) throw fail(400, 'a node view watch needs resourceVersion: list first (GET without ?watch), then watch from its resourceVersion');
  const compacted = await ctx.store.compactedRevision();
  if (rv < compacted) throw fail(410, `too old resource version: ${rv} (${compacted})`);
  const bookmarks = q['allowWatchBookmarks'] === 'true' || q['allowWatchBookmarks'] === '1';
  // What the client holds of every other node's endpoint at rv (its peer projection), so that an
  // event changing nothing a peer reads is dropped from the first one on.
  const sent = new Map<string, string>();
  for (const info of ENDPOINT_RESOURCES) {
    const listed = await ctx.store.list(resourcePrefix(info), { revision: rv });
    for (const o of listed.items) {
      const obj = served(o.value, o.modRevision);
      const on = endpointNodeOf(info, obj);
      if (on !== undefined && on !== node) sent.set(o.key, viewKey(peerOf(info, obj)));
    }
  }
  return (res) => {
    let open = true;
    let last = rv;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Audit-Id': rec2.auditID });
    res.flushHeaders();
    ctx.metrics.watchOpened();
    const send = (o: object): void => {
      if (!open) return;
      res.write(`${JSON.stringify(o)}\n`);
      if (res.writableLength > WATCH_BUFFER_LIMIT) {
        ctx.log(`node view watch ${rec2.auditID} (${node}): client is not reading; dropped`);
        end();
      }
    };
    const onEvents = (events: readonly WatchEvent[]): void => {
      for (const e of events) {
        last = Math.max(last, e.revision);
        const info = infoOfKey(e.key);
        if (info === undefined || !info.engine) continue;
        let obj: Obj;
        try {
          obj = served(e.value, e.revision);
        } catch {
          continue;
        }
        const v = nodeViewObject(info, obj, node);
        if (v === undefined) continue;
        if (e.type === 'DELETED') {
          sent.delete(e.key);
          send({ type: 'DELETED', object: v });
          continue;
        }
        const k = viewKey(v);
        if (endpointNodeOf(info, obj) !== undefined && endpointNodeOf(info, obj) !== node && sent.get(e.key) === k) continue;
        sent.set(e.key, k);
        send({ type: e.type, object: v });
      }
    };
    const onError = (e: StoreError): void => {
      const gone = e.code === 'compacted' || e.code === 'watch-overflow';
      const code = gone ? 410 : e.code === 'future-revision' ? 504 : 500;
      send({ type: 'ERROR', object: status(code, gone ? `too old resource version: ${e.message}` : e.message, undefined, gone ? 'Expired' : undefined) });
      end();
    };
    const watch = ctx.store.watch('/registry/', rv, onEvents, onError);
    const bm = setInterval(() => {
      if (bookmarks) send({ type: 'BOOKMARK', object: { kind: 'NodeView', apiVersion: 'strata/v1', metadata: { resourceVersion: String(last) } } });
    }, ctx.bookmarkIntervalMs);
    function end(): void {
      if (!open) return;
      open = false;
      watch.close();
      clearInterval(bm);
      ctx.metrics.watchClosed();
      res.end();
    }
    res.on('close', end);
  };
}
