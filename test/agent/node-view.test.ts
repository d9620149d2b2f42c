// The API side of the agents, over real HTTP on a real SQLite store (no root needed): the
// per-node view an agent lists and watches (its node's endpoints in full, other nodes' as peers,
// events that change nothing a peer reads left out, 410 after compaction, RBAC by node name),
// NodeStatus (validation, `strata get nodes`), and the lab's registration documents (an apply
// twice creates nothing twice).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backoffDelay, calicoInterfaceName, deleteArgs, formatStatusLine, parseConntrack, watchNodeView } from '../../src/agent/index.ts';
import type { ViewEvent } from '../../src/agent/watch-client.ts';
import { memoryIo } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { renderNodeStatuses } from '../../src/cli/commands/remote-resources.ts';
import { buildFromSources, planSessionSpec, registrationDocuments } from '../../src/lab-session/index.ts';
import { effectiveNodeState } from '../../src/model/node-status.ts';
import { nodeViewObject } from '../../src/server/node-view.ts';
import { resolveResourceName } from '../../src/server/resources.ts';
import { startHarness } from '../server/harness.ts';
import type { Harness } from '../server/harness.ts';
import { eventually } from './fixtures.ts';

const wep = (name: string, node: string, ip: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name, namespace: 'shop', labels: { app: name } },
  spec: { node, interfaceName: `cali${name}`, ipNetworks: [`${ip}/32`], profiles: ['kns.shop'], ...extra },
});

const status = (over: Record<string, unknown> = {}) => ({
  apiVersion: 'strata/v1',
  kind: 'NodeStatus',
  metadata: { name: 'node-a' },
  status: { agentVersion: '0.1.0', state: 'in-sync', revision: 7, seenRevision: 7, heartbeat: new Date().toISOString(), reportIntervalSeconds: 10, endpoints: 2, rules: 40, sets: 3, ...over },
});

describe('the node view', () => {
  let h: Harness;
  let base: string;
  before(async () => {
    h = await startHarness({ bookmarkIntervalMs: 100 });
    base = await h.server.app.listen({ host: '127.0.0.1', port: 0 });
    const r = await h.call('POST', '/apis/strata/v1/apply', {
      body: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
        wep('web', 'node-a', '10.1.0.1', { mac: '02:00:00:00:00:01', containerID: 'abc' }),
        wep('db', 'node-b', '10.1.0.2', { mac: '02:00:00:00:00:02', containerID: 'def' }),
        { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'allow-web' }, spec: { selector: 'app == "db"', ingress: [{ action: 'Allow', source: { selector: 'app == "web"' } }] } },
        { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'web-to-db' }, spec: { selector: 'app == "web"', egress: [{ action: 'Allow', destination: { selector: 'app == "db"' } }] } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'agent-node-a' }, rules: [{ apiGroups: ['strata'], resources: ['nodeviews'], resourceNames: ['node-a'], verbs: ['get', 'watch'] }] },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'agent-node-a' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'agent-node-a' }, subjects: [{ kind: 'User', name: 'bob' }] },
      ],
    });
    assert.equal(r.code, 200, JSON.stringify(r.json));
  });
  after(async () => {
    await h.close();
  });

  it('lists the node\'s endpoints in full, the policies selecting them, the peers their rules read, and no RBAC objects', async () => {
    const r = await h.call('GET', '/apis/strata/v1/nodeviews/node-a');
    assert.equal(r.code, 200);
    assert.match(r.json.metadata.resourceVersion, /^\d+$/);
    const names = r.json.items.map((o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`).sort();
    // allow-web selects db (node-b): not active on node-a, not sent.
    assert.deepEqual(names, ['GlobalNetworkPolicy/web-to-db', 'Namespace/shop', 'WorkloadEndpoint/db', 'WorkloadEndpoint/web']);
    // node-b's view: db in full, allow-web, and web as its peer; web-to-db is not active there.
    const b = await h.call('GET', '/apis/strata/v1/nodeviews/node-b');
    const bNames = b.json.items.map((o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(bNames, ['GlobalNetworkPolicy/allow-web', 'Namespace/shop', 'WorkloadEndpoint/db', 'WorkloadEndpoint/web']);
    const byName = new Map(r.json.items.map((o: { metadata: { name: string } }) => [o.metadata.name, o]));
    const web = byName.get('web') as { spec: Record<string, unknown> };
    const db = byName.get('db') as { spec: Record<string, unknown>; metadata: Record<string, unknown> };
    assert.equal(web.spec['mac'], '02:00:00:00:00:01');
    assert.equal(web.spec['containerID'], 'abc');
    // The peer keeps what selectors and named ports read, and loses what only its own node needs.
    assert.deepEqual(db.spec['ipNetworks'], ['10.1.0.2/32']);
    assert.deepEqual(db.metadata['labels'], { app: 'db' });
    assert.equal(db.spec['mac'], undefined);
    assert.equal(db.spec['containerID'], undefined);
  });

  it('nodeViewObject: Pods by spec.nodeName, peers keep their addresses and drop annotations', () => {
    const info = resolveResourceName('pods')!;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop', labels: { a: 'b' }, annotations: { big: 'x' } }, spec: { nodeName: 'node-b', containers: [{ name: 'c', image: 'i' }] }, status: { podIP: '10.1.0.9', conditions: [{ type: 'Ready' }] } };
    const mine = nodeViewObject(info, pod, 'node-b')!;
    assert.deepEqual(mine, pod);
    const peer = nodeViewObject(info, pod, 'node-a')! as { metadata: Record<string, unknown>; status: Record<string, unknown> };
    assert.equal(peer.metadata['annotations'], undefined);
    assert.deepEqual(peer.status, { podIP: '10.1.0.9' });
    assert.equal(nodeViewObject(resolveResourceName('clusterroles')!, { kind: 'ClusterRole' }, 'node-a'), undefined);
  });

  it('watches from a resourceVersion: own endpoint changes in full, a peer change nobody reads is not sent, bookmarks advance', async () => {
    const listed = await h.call('GET', '/apis/strata/v1/nodeviews/node-a');
    const rv = Number(listed.json.metadata.resourceVersion);
    const events: ViewEvent[] = [];
    let bookmark = 0;
    const w = watchNodeView({
      target: { server: base, token: 'admin-token' },
      node: 'node-a',
      handlers: {
        onSnapshot: () => undefined,
        onEvents: (es) => void events.push(...es),
        onRevision: (r) => (bookmark = r),
        onConnection: () => undefined,
      },
    });
    // The peer's MAC changes (not in the view), then its labels (in the view), then our own MAC.
    const put = async (o: ReturnType<typeof wep>): Promise<number> => {
      const cur = await h.call('GET', `/apis/projectcalico.org/v3/namespaces/shop/workloadendpoints/${o.metadata.name}`);
      const r = await h.call('PUT', `/apis/projectcalico.org/v3/namespaces/shop/workloadendpoints/${o.metadata.name}`, { body: { ...o, metadata: { ...o.metadata, resourceVersion: cur.json.metadata.resourceVersion } } });
      assert.equal(r.code, 200, JSON.stringify(r.json));
      return Number(r.json.metadata.resourceVersion);
    };
    assert.ok(await eventually(() => bookmark >= rv, 3000), 'no bookmark');
    await put(wep('db', 'node-b', '10.1.0.2', { mac: '02:00:00:00:00:99', containerID: 'def' }));
    const relabelled = wep('db', 'node-b', '10.1.0.2', { mac: '02:00:00:00:00:99', containerID: 'def' });
    await put({ ...relabelled, metadata: { ...relabelled.metadata, labels: { app: 'db', tier: 'data' } as { app: string } } });
    const last = await put(wep('web', 'node-a', '10.1.0.1', { mac: '02:00:00:00:00:42', containerID: 'abc' }));
    assert.ok(await eventually(() => events.length >= 2 && bookmark >= last, 5000), JSON.stringify(events));
    w.stop();
    await w.done;
    const seen = events.map((e) => `${e.type} ${(e.object['metadata'] as { name: string }).name}`);
    // The first peer change (a MAC) changes nothing the view holds: it never arrives.
    assert.deepEqual(seen, ['MODIFIED db', 'MODIFIED web']);
    assert.deepEqual((events[0]!.object['metadata'] as { labels: unknown }).labels, { app: 'db', tier: 'data' });
    assert.equal((events[1]!.object['spec'] as { mac: string }).mac, '02:00:00:00:00:42');
  });

  it('objects enter and leave the view by relevance: ADDED / DELETED though they were not written', async () => {
    const listed = await h.call('GET', '/apis/strata/v1/nodeviews/node-a');
    const events: ViewEvent[] = [];
    let bookmark = 0;
    const w = watchNodeView({
      target: { server: base, token: 'admin-token' },
      node: 'node-a',
      handlers: { onSnapshot: () => undefined, onEvents: (es) => void events.push(...es), onRevision: (r) => (bookmark = r), onConnection: () => undefined },
    });
    assert.ok(await eventually(() => bookmark >= Number(listed.json.metadata.resourceVersion), 3000), 'no bookmark');
    const seen = (): string[] => events.map((e) => `${e.type} ${String(e.object['kind'])}/${(e.object['metadata'] as { name: string }).name}`);
    const apply = async (docs: unknown[]): Promise<number> => {
      const r = await h.call('POST', '/apis/strata/v1/apply', { body: docs });
      assert.equal(r.code, 200, JSON.stringify(r.json));
      return Number((await h.call('GET', '/apis/strata/v1/nodeviews/node-a')).json.metadata.resourceVersion);
    };
    // A new pod on node-b that the rules of node-a's policy do not select: nothing for node-a.
    let rv = await apply([wep('cache', 'node-b', '10.1.0.3')]);
    assert.ok(await eventually(() => bookmark >= rv, 3000));
    assert.deepEqual(seen(), []);
    // Relabelled into `app == "db"`: it joins node-a's view.
    const cacheAsDb = wep('cache', 'node-b', '10.1.0.3');
    rv = await apply([{ ...cacheAsDb, metadata: { ...cacheAsDb.metadata, labels: { app: 'db' } } }]);
    assert.ok(await eventually(() => bookmark >= rv, 3000));
    assert.deepEqual(seen(), ['ADDED WorkloadEndpoint/cache']);
    // The policy stops selecting web: it leaves node-a's view, and with it both peers its rule read.
    events.length = 0;
    rv = await apply([{ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'web-to-db' }, spec: { selector: 'app == "nobody"', egress: [{ action: 'Allow', destination: { selector: 'app == "db"' } }] } }]);
    assert.ok(await eventually(() => bookmark >= rv, 3000));
    assert.deepEqual(seen().sort(), ['DELETED GlobalNetworkPolicy/web-to-db', 'DELETED WorkloadEndpoint/cache', 'DELETED WorkloadEndpoint/db']);
    // And back: the policy and its peers arrive again.
    events.length = 0;
    rv = await apply([{ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'web-to-db' }, spec: { selector: 'app == "web"', egress: [{ action: 'Allow', destination: { selector: 'app == "db"' } }] } }]);
    assert.ok(await eventually(() => bookmark >= rv, 3000));
    assert.deepEqual(seen().sort(), ['ADDED GlobalNetworkPolicy/web-to-db', 'ADDED WorkloadEndpoint/cache', 'ADDED WorkloadEndpoint/db']);
    w.stop();
    await w.done;
    assert.equal((await h.call('DELETE', '/apis/projectcalico.org/v3/namespaces/shop/workloadendpoints/cache')).code, 200);
  });

  it('a watch from a compacted revision is 410 Gone; without a resourceVersion it is a 400', async () => {
    const rv = Number((await h.call('GET', '/apis/strata/v1/nodeviews/node-a')).json.metadata.resourceVersion);
    await h.store.compact(rv);
    const gone = await fetch(`${base}/apis/strata/v1/nodeviews/node-a?watch=true&resourceVersion=1`, { headers: { authorization: 'Bearer admin-token' } });
    assert.equal(gone.status, 410);
    await gone.text();
    const bad = await h.call('GET', '/apis/strata/v1/nodeviews/node-a?watch=true');
    assert.equal(bad.code, 400);
  });

  it('RBAC by node name: a token granted node-a\'s view cannot read node-b\'s', async () => {
    assert.equal((await h.call('GET', '/apis/strata/v1/nodeviews/node-a', { token: 'bob-token' })).code, 200);
    const other = await h.call('GET', '/apis/strata/v1/nodeviews/node-b', { token: 'bob-token' });
    assert.equal(other.code, 403);
    assert.match(other.json.message, /nodeviews/);
  });

  it('NodeStatus: created and replaced by name, validated, listed by `strata get nodes`', async () => {
    assert.equal((await h.call('POST', '/apis/strata/v1/nodestatuses', { body: status() })).code, 201);
    const bad = await h.call('PUT', '/apis/strata/v1/nodestatuses/node-a', { body: status({ state: 'happy' }) });
    assert.equal(bad.code, 422);
    assert.match(JSON.stringify(bad.json), /status\.state/);
    const put = await h.call('PUT', '/apis/strata/v1/nodestatuses/node-a', { body: status({ state: 'error', lastError: 'dataplane/duplicate-interface: endpoints a and b both use interface "x"' }) });
    assert.equal(put.code, 200, JSON.stringify(put.json));
    const io = memoryIo();
    assert.equal(await main(['get', 'nodes', '--server', base, '--token', 'admin-token'], io), 0);
    const lines = io.stdout.join('\n').split('\n');
    assert.match(lines[0]!, /^NAME\s+AGENT VERSION\s+REVISION\s+STATUS\s+LAST ERROR\s+AGE$/);
    assert.match(lines[1]!, /^node-a\s+0\.1\.0\s+7\s+ERROR\s+dataplane\/duplicate-interface: endpoints a and b both use .*…\s+\d+s$/);
 
    // The server's own view keeps following the store after NodeStatus writes (they are not
    // resources it mirrors): a policy written next is what explain decides with.
    const deny = { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'deny-web' }, spec: { order: 1, selector: 'app == "db"', ingress: [{ action: 'Deny', source: { selector: 'app == "web"' } }] } };
    assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: [deny] })).code, 200);
    const ex = await h.call('POST', '/apis/strata/v1/explain', { body: { from: 'shop/web', to: 'shop/db', port: 80, protocol: 'TCP' } });
    assert.equal(ex.code, 200, JSON.stringify(ex.json));
    assert.equal((ex.json as { verdict: string }).verdict, 'deny', JSON.stringify(ex.json));
    assert.equal((await h.call('DELETE', '/apis/projectcalico.org/v3/globalnetworkpolicies/deny-web')).code, 200);
  });
});

describe('agent pieces', () => {
  it('a heartbeat older than three intervals reads as STALE, whatever the agent last said', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    const body = status({ heartbeat: '2026-01-01T00:00:00Z', reportIntervalSeconds: 10 }).status as Parameters<typeof effectiveNodeState>[0];
    assert.equal(effectiveNodeState(body, now), 'stale');
    assert.equal(effectiveNodeState({ ...body, heartbeat: '2026-01-01T00:00:45Z' }, now), 'in-sync');
    const out = renderNodeStatuses([{ metadata: { name: 'n', creationTimestamp: '2026-01-01T00:00:00Z' }, ...{ status: body } } as never], 'table', now);
    assert.match(out.split('\n')[1]!, /^n\s+0\.1\.0\s+7\s+STALE\s+<none>\s+60s$/);
  });

  it('backoff: exponential, capped, jittered within [cap/2, cap]', () => {
    assert.equal(backoffDelay(0, { initialMs: 100, maxMs: 1000 }, () => 0), 50);
    assert.equal(backoffDelay(0, { initialMs: 100, maxMs: 1000 }, () => 1), 100);
    assert.equal(backoffDelay(3, { initialMs: 100, maxMs: 1000 }, () => 1), 800);
    assert.equal(backoffDelay(30, { initialMs: 100, maxMs: 1000 }, () => 1), 1000);
    assert.equal(backoffDelay(30, { initialMs: 100, maxMs: 1000 }, () => 0), 500);
  });

  it('conntrack lines → original tuples → one delete per flow (every source port)', () => {
    const text = [
      'tcp      6 431999 ESTABLISHED src=10.244.0.3 dst=10.244.0.5 sport=43210 dport=3550 src=10.244.0.5 dst=10.244.0.3 sport=3550 dport=43210 [ASSURED] mark=0 use=1',
      'udp      17 28 src=10.244.0.3 dst=203.0.113.10 sport=40001 dport=53 [UNREPLIED] src=203.0.113.10 dst=10.244.0.3 sport=53 dport=40001 mark=0 use=1',
      'icmp     1 29 src=10.244.0.3 dst=10.244.0.5 type=8 code=0 id=77 src=10.244.0.5 dst=10.244.0.3 type=0 code=0 id=77 mark=0 use=1',
      'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.',
    ].join('\n');
    const es = parseConntrack(text);
    assert.deepEqual(es, [
      { protocol: 'tcp', state: 'ESTABLISHED', src: '10.244.0.3', dst: '10.244.0.5', sport: 43210, dport: 3550 },
      { protocol: 'udp', src: '10.244.0.3', dst: '203.0.113.10', sport: 40001, dport: 53 },
      { protocol: 'icmp', src: '10.244.0.3', dst: '10.244.0.5', type: 8, code: 0, id: 77 },
    ]);
    assert.deepEqual(deleteArgs(es[0]!), ['-D', '-p', 'tcp', '-s', '10.244.0.3', '-d', '10.244.0.5', '--dport', '3550']);
    assert.deepEqual(deleteArgs(es[2]!), ['-D', '-p', 'icmp', '-s', '10.244.0.3', '-d', '10.244.0.5', '--icmp-type', '8', '--icmp-code', '0', '--icmp-id', '77']);
  });

  it('a Pod\'s interface is the name Calico\'s CNI plugin gives it', () => {
    // cni-plugin VethNameForWorkload: "cali" + the first 11 hex digits of sha1("NAMESPACE.POD"): 15 characters, a valid ifname.
    assert.match(calicoInterfaceName('shop', 'web-1'), /^cali[0-9a-f]{11}$/);
    assert.equal(calicoInterfaceName('shop', 'web-1'), calicoInterfaceName('shop', 'web-1'));
    assert.notEqual(calicoInterfaceName('shop', 'web-1'), calicoInterfaceName('shop.web', '1x'));
  });

  it('the status line says why an agent is not in sync', () => {
    const base = { state: 'stale' as const, revision: 12, seenRevision: 14, serverUp: false, serverError: 'ECONNREFUSED', lastError: undefined, lastSync: '2026-01-01T00:00:00Z', updates: 3 };
    assert.equal(formatStatusLine('node-1', base, 80), 'node node-1: stale; revision 12 (seen 14); 80 rules; server unreachable: ECONNREFUSED; keeping the last programmed rules');
  });

  it('the lab registers workloads as WorkloadEndpoints (node, interface, addresses) plus everything but the workloads themselves', () => {
    const text = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  serviceAccountName: web-sa
  containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}}
`;
    const built = buildFromSources([{ file: 'a.yaml', text }], '10.244.0.0/16');
    const planned = planSessionSpec(built.cluster, { labId: 'agx', nodes: 2 });
    assert.ok(planned.ok);
    const docs = registrationDocuments(built.resources, built.cluster, planned.value.placement);
    assert.deepEqual(docs.map((d) => `${String(d['kind'])}/${String((d['metadata'] as { name: string }).name)}`).sort(), ['Namespace/shop', 'NetworkPolicy/deny', 'WorkloadEndpoint/db', 'WorkloadEndpoint/web']);
    const web = docs.find((d) => (d['metadata'] as { name: string }).name === 'web')!;
    const spec = web['spec'] as Record<string, unknown>;
    assert.equal(spec['node'], planned.value.placement.get('shop/web'));
    assert.match(String(spec['interfaceName']), /^stw/);
    assert.match((spec['ipNetworks'] as string[])[0]!, /^10\.244\.\d+\.\d+\/32$/);
    assert.deepEqual(spec['profiles'], ['kns.shop', 'ksa.shop.web-sa']);
    assert.equal(spec['serviceAccountName'], 'web-sa');
    assert.deepEqual(spec['ports'], [{ name: 'http', protocol: 'TCP', port: 8080 }]);
    assert.deepEqual((web['metadata'] as { labels: unknown }).labels, { app: 'web' });
  });
});

describe('registering twice through the API: updated, never duplicated', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });
  it('the second apply of the same documents changes nothing', async () => {
    const text = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: i}]}
`;
    const built = buildFromSources([{ file: 'a.yaml', text }], '10.244.0.0/16');
    const planned = planSessionSpec(built.cluster, { labId: 'agx', nodes: 1 });
    assert.ok(planned.ok);
    const docs = registrationDocuments(built.resources, built.cluster, planned.value.placement);
    const first = await h.call('POST', '/apis/strata/v1/apply', { body: docs });
    assert.deepEqual(first.json.results.map((r: { action: string }) => r.action), ['created', 'created']);
    const second = await h.call('POST', '/apis/strata/v1/apply', { body: docs });
    assert.deepEqual(second.json.results.map((r: { action: string }) => r.action), ['unchanged', 'unchanged']);
    const list = await h.call('GET', '/apis/projectcalico.org/v3/workloadendpoints');
    assert.equal(list.json.items.length, 1);
  });
});
