// Watch over real HTTP (the in-process server listening on a loopback port, a real SQLite
// store): events after a resourceVersion, the initial ADDED list, bookmarks, tier filtering,
// and 410 Gone once the revision is compacted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

let h: Harness;
let base: string;
before(async () => {
  h = await startHarness({ bookmarkIntervalMs: 100 });
  base = await h.server.app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await h.close();
});

interface WatchLine {
  readonly type: string;
  readonly object: { metadata: { name?: string; resourceVersion: string }; code?: number; reason?: string };
}

/** Read watch events until `until` says stop (or the timeout), then abort the stream. */
async function watch(path: string, until: (lines: WatchLine[]) => boolean, token = 'admin-token', timeoutMs = 5000): Promise<{ status: number; lines: WatchLine[]; body?: any }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  if (res.status !== 200) {
    clearTimeout(timer);
    return { status: res.status, lines: [], body: await res.json() };
  }
  const lines: WatchLine[] = [];
  let buf = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, nl)) as WatchLine);
        buf = buf.slice(nl + 1);
      }
      if (until(lines)) break;
    }
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return { status: 200, lines };
}

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { team: 'w' } } });

test('a watch from a resourceVersion streams later ADDED, MODIFIED and DELETED events in order', async () => {
  const first = await h.call('POST', '/api/v1/namespaces', { body: ns('w1') });
  const rv = first.json.metadata.resourceVersion;
  const stream = watch(`/api/v1/namespaces?watch=true&resourceVersion=${rv}`, (l) => l.filter((x) => x.type !== 'BOOKMARK').length >= 3);
  await new Promise((r) => setTimeout(r, 150));
  await h.call('POST', '/api/v1/namespaces', { body: ns('w2') });
  await h.call('PATCH', '/api/v1/namespaces/w2', { body: { metadata: { labels: { team: 'x' } } }, contentType: 'application/merge-patch+json' });
  await h.call('DELETE', '/api/v1/namespaces/w2');
  const { lines } = await stream;
  const events = lines.filter((x) => x.type !== 'BOOKMARK');
  assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED w2', 'MODIFIED w2', 'DELETED w2']);
  const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
  assert.ok(rvs.every((v, i) => i === 0 || v > rvs[i - 1]!) && rvs[0]! > Number(rv));
});

test('a watch without a resourceVersion starts with the current objects; selectors filter; bookmarks come when asked', async () => {
  const { lines } = await watch('/api/v1/namespaces?watch=1&labelSelector=team%3Dw&allowWatchBookmarks=true', (l) => l.some((x) => x.type === 'BOOKMARK'));
  assert.deepEqual(lines.filter((x) => x.type === 'ADDED').map((x) => x.object.metadata.name), ['w1']);
  const bm = lines.find((x) => x.type === 'BOOKMARK')!;
  assert.match(bm.object.metadata.resourceVersion, /^\d+$/);
});

test('a watch from a compacted revision is 410 Gone with an Expired Status', async () => {
  const a = await h.call('POST', '/api/v1/namespaces', { body: ns('w3') });
  await h.call('POST', '/api/v1/namespaces', { body: ns('w4') });
  const rev = await h.store.revision();
  await h.store.compact(rev);
  const r = await watch(`/api/v1/namespaces?watch=true&resourceVersion=${a.json.metadata.resourceVersion}`, () => true);
  assert.equal(r.status, 410);
  assert.equal(r.body.reason, 'Expired');
  assert.equal(r.body.kind, 'Status');
  // A watch from the compacted revision itself still works.
  const ok = watch(`/api/v1/namespaces?watch=true&resourceVersion=${rev}`, (l) => l.some((x) => x.type === 'ADDED'));
  await new Promise((res) => setTimeout(res, 150));
  await h.call('POST', '/api/v1/namespaces', { body: ns('w5') });
  assert.equal((await ok).lines.find((x) => x.type === 'ADDED')?.object.metadata.name, 'w5');
});

test('a watch of tiered policies shows only the tiers the user may read', async () => {
  await h.call('POST', '/apis/strata/v1/apply', {
    body: `apiVersion: v1
kind: Namespace
metadata: {name: wb}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: visible}
spec: {order: 10}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: hidden}
spec: {order: 20}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: watch-visible}
rules:
- {apiGroups: [projectcalico.org], resources: [tiers], resourceNames: [visible], verbs: [get]}
- {apiGroups: [projectcalico.org], resources: [tier.networkpolicies], resourceNames: [visible.*], verbs: [watch, list, get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-watch-visible}
subjects: [{kind: User, name: bob}]
roleRef: {kind: ClusterRole, name: watch-visible, apiGroup: rbac.authorization.k8s.io}
`,
    contentType: 'application/yaml',
  });
  const start = await h.store.revision();
  const stream = watch(`/apis/projectcalico.org/v3/namespaces/wb/networkpolicies?watch=true&resourceVersion=${start}`, (l) => l.some((x) => x.object.metadata.name === 'last'), 'bob-token');
  await new Promise((r) => setTimeout(r, 150));
  const pol = (name: string, tier: string) => ({ apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name, namespace: 'wb' }, spec: { tier, selector: 'all()' } });
  for (const [n, t] of [['secret', 'hidden'], ['open', 'visible'], ['last', 'visible']] as const) {
    assert.equal((await h.call('POST', '/apis/projectcalico.org/v3/namespaces/wb/networkpolicies', { body: pol(n, t) })).code, 201);
  }
  const { lines } = await stream;
  assert.deepEqual(lines.map((x) => x.object.metadata.name), ['open', 'last']);
  const anon = await fetch(`${base}/api/v1/namespaces?watch=true`);
  assert.equal(anon.status, 401);
});

test('a watcher that stops reading is dropped once its buffer passes the bound; the server keeps serving', async () => {
  const { connect } = await import('node:net');
  const openWatches = async (): Promise<number> => (await h.server.metrics.registry.getSingleMetric('strata_apiserver_watches')!.get()).values[0]?.value ?? 0;
  const url = new URL(base);
  const sock = connect(Number(url.port), url.hostname);
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const before = await openWatches();
  sock.write(`GET /api/v1/namespaces?watch=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin-token\r\n\r\n`);
  sock.pause(); // never read: the kernel buffers fill, then the server's queue for this client
  while ((await openWatches()) === before) await new Promise((r) => setTimeout(r, 20));
  const big = 'x'.repeat(200 * 1024);
  let writes = 0;
  // Loopback kernel buffers hold a few MiB, the server's bound 8 MiB more: ~20 MiB of events drop it.
  while ((await openWatches()) > before && writes < 150) {
    const t0 = Date.now();
    const r = await h.call('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `big-${writes}`, annotations: { blob: big } } } });
    assert.equal(r.code, 201);
    assert.ok(Date.now() - t0 < 2000, 'writes are not held up by the stuck watcher');
    writes++;
  }
  sock.destroy();
  assert.equal(await openWatches(), before, `dropped after ${writes} writes`);
  assert.equal((await h.call('GET', '/api/v1/namespaces/big-0')).code, 200);
});
