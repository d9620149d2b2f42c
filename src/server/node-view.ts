// The per-node view an agent lists and watches (`GET /apis/strata/v1/nodeviews/NODE`, and with
// `?watch=true` the stream), as Typha fans out for Felix: one request instead of one watch per
// kind, and only what the node's ruleset is made of.
//
//   mirror ─ engine.apply ─► node-views.ts (per node: what is in its view) ─► list {items, resourceVersion}
//                                                  └─ log + listeners ──► ADDED/MODIFIED/DELETED, BOOKMARK, 410
//
// What is in it (node-views.ts has the why; docs/agent.md the summary):
// - Endpoints of NODE (WorkloadEndpoint spec.node, Pod spec.nodeName, HostEndpoint spec.node), in
//   full — the agent programs them.
// - The *active* policies — those in the tier plans of one of those endpoints (any kind, staged
//   too) — and their Tier objects. Other policies are not sent.
// - Peers: endpoints elsewhere that are members of a selector the active rules (and the node's
//   endpoints' profiles) use, declare a named port those rules name without a selector, or back a
//   Service they name — reduced to labels, addresses, ports, profiles, service account (MAC,
//   container id, NATs, a Pod's annotations and conditions dropped; an event changing none of
//   those is not sent). The NetworkSets and GlobalNetworkSets those selectors match (threat-feed
//   and allowedEgressDomains sets included) and the Services the rules name.
// - Every Namespace and ServiceAccount (endpoints inherit their labels).
// Nothing else: no other node's endpoint that no active rule reads, no RBAC, NodeStatus, audit,
// GlobalThreatFeed or ConnectivityInvariant. A write that moves an object into or out of the view
// (a policy starting to select a local pod, a remote pod relabelled into a used selector) arrives
// as ADDED / DELETED of that object, even when the object itself was not written.
import type { ServerResponse } from 'node:http';
import type { UserInfo } from './authn.ts';
import { authorize } from './authz.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import { endpointNodeOf, isViewKind, peerOf } from './node-views.ts';
import type { ViewEvent } from './node-views.ts';
import type { Query } from './rest.ts';
import type { ResourceInfo } from './resources.ts';
import { fail, status } from './status.ts';
import { WATCH_BUFFER_LIMIT } from './watch.ts';

export const NODE_VIEW_PATH = /^\/apis\/strata\/v1\/nodeviews\/([^/]+)$/;

const NODE_VIEW_INFO: ResourceInfo = { type: 'StrataEndpoint', kind: 'NodeView', group: 'strata', version: 'v1', plural: 'nodeviews', singular: 'nodeview', namespaced: false, shortNames: [], subresources: [], engine: false };

type Obj = Record<string, unknown>;

export { endpointNodeOf } from './node-views.ts';

/**
 * The object as NODE's view would hold it if it is relevant at all (in full for NODE's endpoints
 * and other kinds, as a peer for other nodes' endpoints), or undefined for kinds never in a view.
 * Whether it is relevant is node-views.ts's business.
 */
export function nodeViewObject(info: ResourceInfo, obj: Readonly<Obj>, node: string): Obj | undefined {
  if (!isViewKind(info)) return undefined;
  const on = endpointNodeOf(info, obj);
  if (on === undefined || on === node) return { ...obj };
  return peerOf(info, obj);
}

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

/** Every object of the view at one revision (the mirror's). */
export async function listNodeView(ctx: ServerContext, user: UserInfo, node: string, rec2: RequestRecord): Promise<{ code: number; body: object }> {
  authorizeView(ctx, user, node, 'get', rec2);
  const { revision, items } = ctx.mirror.views.list(node);
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
  // Events before the stream opens (the replay) wait here; the listener is attached now so that
  // nothing applied in between is missed.
  const early: { events: readonly ViewEvent[]; revision: number; viewWrite: boolean }[] = [];
  let deliver = (events: readonly ViewEvent[], revision: number, viewWrite: boolean): void => void early.push({ events, revision, viewWrite });
  let gone = false;
  let onGone = (): void => void (gone = true);
  const sub = ctx.mirror.views.watch(
    node,
    rv,
    (events, revision, viewWrite) => deliver(events, revision, viewWrite),
    () => onGone(),
  );
  if (sub === undefined) throw fail(410, `too old resource version: ${rv} (the view of ${node} is not kept from there: list again)`);
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
    deliver = (events, revision, viewWrite) => {
      const moved = revision > last;
      last = Math.max(last, revision);
      for (const e of events) send(e);
      // A policy, endpoint or set write that left this view alone: say so at once (Kubernetes
      // sends bookmarks only periodically; etcd's progress notifications are the model), so the
      // agent's in-sync revision follows every change, not only the ones that reach it. Writes of
      // objects outside every view (the agents' own NodeStatus reports) wait for the periodic
      // bookmark: answering those at once would make every report trigger every agent's next one.
      if (events.length === 0 && moved && viewWrite && bookmarks) send({ type: 'BOOKMARK', object: { kind: 'NodeView', apiVersion: 'strata/v1', metadata: { resourceVersion: String(last) } } });
    };
    // The server can no longer keep this view (a fault in it): the agent lists again.
    onGone = (): void => {
      send({ type: 'ERROR', object: status(410, `too old resource version: the view of ${node} must be listed again`, undefined, 'Expired') });
      end();
    };
    const bm = setInterval(() => {
      if (bookmarks) send({ type: 'BOOKMARK', object: { kind: 'NodeView', apiVersion: 'strata/v1', metadata: { resourceVersion: String(last) } } });
    }, ctx.bookmarkIntervalMs);
    for (const e of early.splice(0)) deliver(e.events, e.revision, e.viewWrite);
    if (gone) onGone();
    function end(): void {
      if (!open) return;
      open = false;
      sub!.close();
      clearInterval(bm);
      ctx.metrics.watchClosed();
      res.end();
    }
    res.on('close', end);
  };
}
