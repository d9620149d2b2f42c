// The server's threat-feed controller, end to end: a real HTTP feed server on 127.0.0.1, a real
// API server (SQLite store) pulling it on a 1 s period, a security-tier policy denying the set by
// label, and the live explain; bad pulls keep the last good set; deletion stops the pulls and
// removes the set; the lease lets one server of several pull, and fences one that lost it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';
import { startFeedServer } from '../feeds/feed-server.ts';
import type { FeedServer } from '../feeds/feed-server.ts';
import { etcdSkipReason, startEtcdCluster } from '../store/etcd-process.ts';
import { parseAllowList } from '../../src/feeds/index.ts';
import { THREATFEED_LEASE_KEY } from '../../src/server/threat-feeds.ts';

let feeds: FeedServer;
before(async () => {
  feeds = await startFeedServer();
});
after(async () => {
  await feeds.close();
});

const GTF = '/apis/projectcalico.org/v3/globalthreatfeeds';
const GNS = '/apis/projectcalico.org/v3/globalnetworksets';

const feed = (name: string, url: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalThreatFeed',
  metadata: { name },
  spec: { content: 'IPSet', pull: { period: '1s', http: { url } }, globalNetworkSet: { labels: { threat: name } }, ...extra },
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (last !== undefined) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function setOf(h: Harness, name: string): Promise<{ nets?: string[]; labels?: Record<string, string> } | undefined> {
  const r = await h.call('GET', `${GNS}/threatfeed.${name}`);
  return r.code === 200 ? { nets: r.json.spec.nets, labels: r.json.metadata.labels } : undefined;
}

async function statusOf(h: Harness, name: string): Promise<any> {
  const r = await h.call('GET', `${GTF}/${name}/status`);
  assert.equal(r.code, 200, r.text);
  return r.json.status;
}

const SECURITY = `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.block-threats}
spec:
  tier: security
  order: 10
  selector: all()
  types: [Egress]
  egress:
  - action: Deny
    destination: {selector: threat == "bad-ips"}
  - action: Pass
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.0.0.5}
`;

async function explainTo(h: Harness, to: string): Promise<any> {
  const r = await h.call('POST', '/apis/strata/v1/explain', { body: { from: 'shop/web', to, port: 443, protocol: 'TCP' } });
  assert.equal(r.code, 200, r.text);
  return r.json;
}

test('a feed served on loopback becomes a labelled network set that a security-tier policy denies, and follows the feed', async () => {
  feeds.set('/bad', { kind: 'content', text: '# bad hosts\n198.51.100.7\n203.0.113.0/24 # a range\n' });
  const h = await startHarness({ threatFeeds: { limits: { maxBytes: 4096 } } });
  try {
    assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: SECURITY, contentType: 'application/yaml' })).code, 200);
    assert.equal((await h.call('POST', GTF, { body: feed('bad-ips', feeds.url('/bad')) })).code, 201);

    const set = await until('the set', () => setOf(h, 'bad-ips'));
    assert.deepEqual(set, { nets: ['198.51.100.7/32', '203.0.113.0/24'], labels: { threat: 'bad-ips' } });
    const gns = (await h.call('GET', `${GNS}/threatfeed.bad-ips`)).json;
    assert.equal(gns.metadata.annotations['strata.dev/threat-feed'], 'bad-ips');
    const status = await statusOf(h, 'bad-ips');
    assert.equal(status.entries, 2);
    assert.match(status.lastSuccessfulSync, /^\d{4}-/);
    assert.deepEqual(status.errorConditions, []);

    const denied = await explainTo(h, '198.51.100.7');
    assert.equal(denied.verdict, 'deny');
    assert.deepEqual([denied.decidedBy.tier, denied.decidedBy.policy], ['security', 'security.block-threats']);
    assert.deepEqual(denied.toNetworkSets, ['threatfeed.bad-ips'], 'explain names the threat-feed set the peer is in');
    const other = await explainTo(h, '192.0.2.9');
    assert.equal(other.verdict, 'allow');
    assert.equal(other.toNetworkSets, undefined);

    // The feed changes: within its period the set, and explain, follow.
    feeds.set('/bad', { kind: 'content', text: '192.0.2.9\n' });
    await until('the new content', async () => ((await setOf(h, 'bad-ips'))?.nets?.join() === '192.0.2.9/32' ? true : undefined), 5000);
    assert.equal((await explainTo(h, '192.0.2.9')).verdict, 'deny');
    assert.equal((await explainTo(h, '198.51.100.7')).verdict, 'allow');

    // Bad pulls keep the last good set and say why on the status.
    const cases = [
      { behaviour: { kind: 'status', status: 500, text: 'oops' } as const, code: 'feeds/http-status', message: /answered 500/ },
      { behaviour: { kind: 'content', text: 'garbage\nnot an address\n192.0.2.200\n' } as const, code: 'feeds/too-many-invalid-lines', message: /2 of 3 lines/ },
      { behaviour: { kind: 'sized', bytes: 10_000 } as const, code: 'feeds/too-large', message: /larger than the 4 KiB limit/ },
    ];
    for (const c of cases) {
      feeds.set('/bad', c.behaviour);
      const st = await until(`status ${c.code}`, async () => {
        const s = await statusOf(h, 'bad-ips');
        return s.lastSyncError?.code === c.code ? s : undefined;
      }, 5000);
      assert.match(st.errorConditions[0].message, c.message);
      assert.equal(st.errorConditions[0].type, 'GlobalNetworkSetSyncFailed');
      assert.equal(st.entries, 1);
      assert.deepEqual((await setOf(h, 'bad-ips'))?.nets, ['192.0.2.9/32'], `${c.code}: the last good set stays`);
      assert.equal((await explainTo(h, '192.0.2.9')).verdict, 'deny');
    }

    // Metrics count pulls by result and show the set's size.
    const metrics = await until('the too-large count', async () => {
      const t = (await h.call('GET', '/metrics')).text;
      return /strata_threatfeed_syncs_total\{feed="bad-ips",result="too-large"\} [1-9]/.test(t) ? t : undefined;
    });
    assert.match(metrics, /strata_threatfeed_syncs_total\{feed="bad-ips",result="success"\} [1-9]/);
    assert.match(metrics, /strata_threatfeed_syncs_total\{feed="bad-ips",result="http-status"\} [1-9]/);
    assert.match(metrics, /strata_threatfeed_syncs_total\{feed="bad-ips",result="too-large"\} [1-9]/);
    assert.match(metrics, /strata_threatfeed_entries\{feed="bad-ips"\} 1\b/);
    assert.match(metrics, /strata_threatfeed_last_success_timestamp_seconds\{feed="bad-ips"\} \d/);

    // Re-applying the feed manifest (no status in it) keeps the status the server wrote.
    const reapplied = await h.call('PUT', `${GTF}/bad-ips`, { body: feed('bad-ips', feeds.url('/bad')) });
    assert.equal(reapplied.code, 200, reapplied.text);
    assert.ok(reapplied.json.status?.lastSuccessfulSync !== undefined, 'a main-resource write keeps the server-owned status');

    // The set's writes are audited as the server's own identity.
    const audit = readFileSync(join(h.dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const own = audit.filter((e) => e.objectRef?.resource === 'globalnetworksets' && e.objectRef?.name === 'threatfeed.bad-ips');
    assert.ok(own.length >= 2, 'a create and an update of the set');
    assert.ok(own.every((e) => e.user.username === 'system:strata:threatfeed-controller'));
    assert.deepEqual([...new Set(own.map((e) => e.verb))].sort(), ['create', 'update']);

    // Deleting the feed removes its set and stops the pulls.
    feeds.set('/bad', { kind: 'content', text: '192.0.2.9\n' });
    assert.equal((await h.call('DELETE', `${GTF}/bad-ips`)).code, 200);
    await until('the set removed', async () => ((await h.call('GET', `${GNS}/threatfeed.bad-ips`)).code === 404 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    const pulls = feeds.requests.filter((r) => r.path === '/bad').length;
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(feeds.requests.filter((r) => r.path === '/bad').length, pulls, 'no pull after the feed is deleted');
    assert.equal((await explainTo(h, '192.0.2.9')).verdict, 'allow');
    assert.doesNotMatch((await h.call('GET', '/metrics')).text, /strata_threatfeed_entries\{feed="bad-ips"\}/);
  } finally {
    await h.close();
  }
});

test('agents see the set change in their node view within the period, and never the feed or its status', async () => {
  feeds.set('/view', { kind: 'content', text: '198.51.100.60\n' });
  const h = await startHarness();
  try {
    const base = await h.server.app.listen({ host: '127.0.0.1', port: 0 });
    // node-a runs a pod whose policy denies the feed's set: its view reads the set (a node whose
    // rules select no feed set gets none of them).
    const reader = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
      { apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } }, spec: { node: 'node-a', interfaceName: 'caliweb', ipNetworks: ['10.1.0.1/32'], profiles: ['kns.shop'] } },
      { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'deny-feeds' }, spec: { selector: 'all()', types: ['Egress'], egress: [{ action: 'Deny', destination: { selector: 'has(threat)' } }, { action: 'Allow' }] } },
    ];
    assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: reader })).code, 200);
    assert.equal((await h.call('POST', GTF, { body: feed('view', feeds.url('/view')) })).code, 201);
    await until('the set', () => setOf(h, 'view'));
    assert.equal((await h.call('GET', '/apis/strata/v1/nodeviews/node-b')).json.items.filter((o: any) => o.kind === 'GlobalNetworkSet').length, 0);
    const listed = await h.call('GET', '/apis/strata/v1/nodeviews/node-a');
    assert.deepEqual(listed.json.items.filter((o: any) => o.kind === 'GlobalNetworkSet').map((o: any) => [o.metadata.name, o.spec.nets]), [['threatfeed.view', ['198.51.100.60/32']]]);
    assert.equal(listed.json.items.filter((o: any) => o.kind === 'GlobalThreatFeed').length, 0);
    const ac = new AbortController();
    const res = await fetch(`${base}/apis/strata/v1/nodeviews/node-a?watch=true&resourceVersion=${listed.json.metadata.resourceVersion}`, { headers: { authorization: 'Bearer admin-token' }, signal: ac.signal });
    const events: any[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body!) {
          buf += decoder.decode(chunk as Uint8Array, { stream: true });
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            events.push(JSON.parse(buf.slice(0, i)));
            buf = buf.slice(i + 1);
          }
        }
      } catch {
        // aborted
      }
    })();
    feeds.set('/view', { kind: 'content', text: '198.51.100.61\n' });
    await until('the set change in the view', async () => (events.some((e) => e.object?.kind === 'GlobalNetworkSet' && e.object.spec.nets?.[0] === '198.51.100.61/32') ? true : undefined), 5000);
    await new Promise((r) => setTimeout(r, 1500)); // more pulls, each rewriting the feed's status
    ac.abort();
    await reading;
    assert.equal(events.filter((e) => e.object?.kind === 'GlobalThreatFeed').length, 0, 'status rewrites do not reach agents');
    assert.equal(events.filter((e) => e.object?.kind === 'GlobalNetworkSet').length, 1, 'an unchanged pull writes no set');
  } finally {
    await h.close();
  }
});

test('a set that would break a ConnectivityInvariant is refused like any write: the last good set stays and the status says why', async () => {
  feeds.set('/inv', { kind: 'content', text: '198.51.100.20\n' });
  const h = await startHarness();
  try {
    assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: SECURITY.replaceAll('bad-ips', 'inv'), contentType: 'application/yaml' })).code, 200);
    assert.equal((await h.call('POST', GTF, { body: feed('inv', feeds.url('/inv')) })).code, 201);
    await until('the set', () => setOf(h, 'inv'));
    const invariant = {
      apiVersion: 'strata/v1',
      kind: 'ConnectivityInvariant',
      metadata: { name: 'web-reaches-partner' },
      spec: { from: { namespaceSelector: 'all()', selector: 'app == "web"' }, to: { nets: ['192.0.2.77/32'] }, ports: [443], protocols: ['TCP'], must: 'allow' },
    };
    const created = await h.call('POST', '/apis/strata/v1/connectivityinvariants', { body: invariant });
    assert.equal(created.code, 201, created.text);
    feeds.set('/inv', { kind: 'content', text: '198.51.100.20\n192.0.2.77\n' });
    const st = await until('the refusal', async () => {
      const s = await statusOf(h, 'inv');
      return s.lastSyncError?.code === 'feeds/rejected-by-server' ? s : undefined;
    }, 5000);
    assert.match(st.errorConditions[0].message, /web-reaches-partner/);
    assert.deepEqual((await setOf(h, 'inv'))?.nets, ['198.51.100.20/32']);
    // The counter moves just after the write the status shows.
    const metrics = await until('the rejected count', async () => {
      const t = (await h.call('GET', '/metrics')).text;
      return /strata_threatfeed_syncs_total\{feed="inv",result="rejected"\} [1-9]/.test(t) ? t : undefined;
    });
    assert.match(metrics, /strata_threatfeed_entries\{feed="inv"\} 1\b/, 'the set in force, not the refused one');

    // A must-deny promise that rests on the set: deleting the feed leaves the set, since removing it would break the promise.
    const mustDeny = { ...invariant, metadata: { name: 'web-never-reaches-threats' }, spec: { ...invariant.spec, to: { nets: ['198.51.100.20/32'] }, must: 'deny' } };
    assert.equal((await h.call('POST', '/apis/strata/v1/connectivityinvariants', { body: mustDeny })).code, 201);
    assert.equal((await h.call('DELETE', `${GTF}/inv`)).code, 200);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual((await setOf(h, 'inv'))?.nets, ['198.51.100.20/32'], 'the set stays while an invariant depends on it');
    assert.equal((await explainTo(h, '198.51.100.20')).verdict, 'deny');
  } finally {
    await h.close();
  }
});

test('Disabled stops the pulls and removes the set; a spec the server cannot pull says why with its field; a new URL is pulled at once', async () => {
  feeds.set('/mode', { kind: 'content', text: '198.51.100.50\n' });
  feeds.set('/mode2', { kind: 'content', text: '198.51.100.51\n' });
  const h = await startHarness();
  try {
    assert.equal((await h.call('POST', GTF, { body: feed('mode', feeds.url('/mode'), { pull: { period: '1h', http: { url: feeds.url('/mode') } } }) })).code, 201);
    await until('the set', () => setOf(h, 'mode'));
    // A 1 h period: only a spec change explains a pull within the test.
    const moved = await h.call('PATCH', `${GTF}/mode`, { body: { spec: { pull: { http: { url: feeds.url('/mode2') } } } }, contentType: 'application/merge-patch+json' });
    assert.equal(moved.code, 200, moved.text);
    await until('the new URL pulled', async () => ((await setOf(h, 'mode'))?.nets?.join() === '198.51.100.51/32' ? true : undefined));

    const off = await h.call('PATCH', `${GTF}/mode`, { body: { spec: { mode: 'Disabled' } }, contentType: 'application/merge-patch+json' });
    assert.equal(off.code, 200, off.text);
    await until('the set removed', async () => ((await h.call('GET', `${GNS}/threatfeed.mode`)).code === 404 ? true : undefined));
    const st = await until('the disabled status', async () => {
      const s = await statusOf(h, 'mode');
      return s.disabled === true ? s : undefined;
    });
    assert.equal(st.entries, 0);

    // A DomainNameSet feed: its names in allowedEgressDomains (Calico allows it no labels).
    feeds.set('/domains', { kind: 'content', text: 'Bad.Example.COM.\n*.evil.example\n' });
    const domains = { apiVersion: 'projectcalico.org/v3', kind: 'GlobalThreatFeed', metadata: { name: 'domains' }, spec: { content: 'DomainNameSet', pull: { period: '1s', http: { url: feeds.url('/domains') } } } };
    assert.equal((await h.call('POST', GTF, { body: domains })).code, 201);
    const dset = await until('the domain set', async () => {
      const r = await h.call('GET', `${GNS}/threatfeed.domains`);
      return r.code === 200 ? r.json : undefined;
    });
    assert.deepEqual(dset.spec, { allowedEgressDomains: ['*.evil.example', 'bad.example.com'] });

    const secret = feed('secret', feeds.url('/mode'), {
      pull: { period: '1s', http: { url: feeds.url('/mode'), headers: [{ name: 'Authorization', valueFrom: { secretKeyRef: { name: 'feed-token', key: 'token' } } }] } },
    });
    const before = feeds.requests.length;
    assert.equal((await h.call('POST', GTF, { body: secret })).code, 201);
    const refused = await until('the refusal on the status', async () => {
      const s = (await h.call('GET', `${GTF}/secret/status`)).json?.status;
      return s?.errorConditions?.length > 0 ? s : undefined;
    });
    assert.match(refused.errorConditions[0].message, /^spec\.pull\.http\.headers\[0\]\.valueFrom\.secretKeyRef: .*Secret, which Strata cannot read/);
    assert.equal((await h.call('GET', `${GNS}/threatfeed.secret`)).code, 404);
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(feeds.requests.slice(before).filter((r) => r.path === '/mode').length, 0, 'a refused spec is never pulled');
  } finally {
    await h.close();
  }
});

test('--threatfeed-allow: a feed outside the allow-list is not pulled, and its status says so', async () => {
  const allow = parseAllowList(['https://feeds.example.com', 'http://*.example.org:8080']);
  assert.ok(allow.ok);
  const before = feeds.requests.length;
  const h = await startHarness({ threatFeeds: { allow: allow.value } });
  try {
    feeds.set('/allow', { kind: 'content', text: '198.51.100.9\n' });
    assert.equal((await h.call('POST', GTF, { body: feed('outside', feeds.url('/allow')) })).code, 201);
    const st = await until('the refusal', async () => {
      const s = (await h.call('GET', `${GTF}/outside/status`)).json?.status;
      return s?.lastSyncError !== undefined ? s : undefined;
    });
    assert.equal(st.lastSyncError.code, 'feeds/url-not-allowed');
    assert.match(st.errorConditions[0].message, /127\.0\.0\.1:\d+ is not in the server's threat-feed allow-list \(https:\/\/feeds\.example\.com, http:\/\/\*\.example\.org:8080\)/);
    assert.equal(feeds.requests.slice(before).filter((r) => r.path === '/allow').length, 0, 'no request left the server');
    assert.equal((await h.call('GET', `${GNS}/threatfeed.outside`)).code, 404);
  } finally {
    await h.close();
  }
});

test('--no-threatfeeds: feeds are stored but not pulled', async () => {
  const h = await startHarness({ threatFeeds: false });
  try {
    feeds.set('/off', { kind: 'content', text: '198.51.100.9\n' });
    assert.equal((await h.call('POST', GTF, { body: feed('off', feeds.url('/off')) })).code, 201);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(feeds.requests.filter((r) => r.path === '/off').length, 0);
    assert.equal((await h.call('GET', `${GNS}/threatfeed.off`)).code, 404);
  } finally {
    await h.close();
  }
});

test('a server that lost the lease writes nothing more: the lease is fenced', async () => {
  feeds.set('/fence', { kind: 'content', text: '198.51.100.30\n' });
  const h = await startHarness({ threatFeeds: { leaseDurationMs: 60_000, renewIntervalMs: 200 } });
  try {
    assert.equal((await h.call('POST', GTF, { body: feed('fence', feeds.url('/fence')) })).code, 201);
    await until('the set', () => setOf(h, 'fence'));
    assert.equal(h.server.threatFeeds?.leader(), true);
    // Another holder takes the lease (as a server would after this one paused past the duration).
    const cur = await h.store.get(THREATFEED_LEASE_KEY);
    assert.ok(cur !== undefined);
    const taken = await h.store.txn([{ op: 'put', key: THREATFEED_LEASE_KEY, value: JSON.stringify({ holder: 'other', leaseDurationMs: 60_000, renewTime: new Date().toISOString() }), expectModRevision: cur.modRevision }]);
    assert.ok(taken.ok);
    feeds.set('/fence', { kind: 'content', text: '198.51.100.31\n' });
    await until('stepping down', async () => (h.server.threatFeeds?.leader() === false ? true : undefined));
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual((await setOf(h, 'fence'))?.nets, ['198.51.100.30/32'], 'the set is no longer written by this server');
    assert.equal(JSON.parse((await h.store.get(THREATFEED_LEASE_KEY))!.value).holder, 'other');
  } finally {
    await h.close();
  }
});

test('a lease left by a server that died is taken over after its duration, not before', async () => {
  feeds.set('/dead', { kind: 'content', text: '198.51.100.80\n' });
  const h = await startHarness({ threatFeeds: { leaseDurationMs: 2000, renewIntervalMs: 200 } });
  try {
    const dead = { holder: 'crashed-server', leaseDurationMs: 2000, renewTime: new Date().toISOString() };
    assert.ok((await h.store.txn([{ op: 'put', key: THREATFEED_LEASE_KEY, value: JSON.stringify(dead), expectModRevision: 0 }])).ok);
    const t0 = Date.now();
    assert.equal((await h.call('POST', GTF, { body: feed('dead', feeds.url('/dead')) })).code, 201);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(h.server.threatFeeds?.leader(), false, 'a lease seen unchanged for less than its duration is still held');
    assert.equal(feeds.requests.filter((r) => r.path === '/dead').length, 0);
    await until('the take-over', () => setOf(h, 'dead'), 6000);
    assert.ok(Date.now() - t0 >= 2000, 'not before the duration has passed');
    assert.equal(JSON.parse((await h.store.get(THREATFEED_LEASE_KEY))!.value).holder, h.server.threatFeeds?.holder);
  } finally {
    await h.close();
  }
});

test('two servers on one etcd: one pulls; when it stops, the other takes over', { skip: etcdSkipReason() }, async () => {
  const etcd = await startEtcdCluster(1);
  const opts = { leaseDurationMs: 1500, renewIntervalMs: 250 };
  const a = await startHarness({ storeSpec: etcd.spec, threatFeeds: { ...opts, holder: 'server-a' } });
  const b = await startHarness({ storeSpec: etcd.spec, threatFeeds: { ...opts, holder: 'server-b' } });
  const closed = new Set<Harness>();
  const close = async (h: Harness): Promise<void> => {
    if (closed.has(h)) return;
    closed.add(h);
    await h.close();
  };
  try {
    feeds.set('/two', { kind: 'content', text: '198.51.100.40\n' });
    assert.equal((await a.call('POST', GTF, { body: feed('two', feeds.url('/two')) })).code, 201);
    await until('the set on b', () => setOf(b, 'two'));
    await new Promise((r) => setTimeout(r, 1500));
    const leaders = [a, b].filter((h) => h.server.threatFeeds?.leader() === true);
    assert.equal(leaders.length, 1, 'exactly one server holds the lease');
    // Every pull is one request: with both pulling, a 1 s period would show about twice as many.
    const t0 = feeds.requests.filter((r) => r.path === '/two').length;
    await new Promise((r) => setTimeout(r, 3000));
    const pulled = feeds.requests.filter((r) => r.path === '/two').length - t0;
    assert.ok(pulled >= 2 && pulled <= 4, `one server pulls once a second (saw ${pulled} pulls in 3 s)`);
    const holder = leaders[0]!;
    const other = holder === a ? b : a;
    await close(holder);
    feeds.set('/two', { kind: 'content', text: '198.51.100.41\n' });
    await until('the other server takes over', async () => ((await setOf(other, 'two'))?.nets?.join() === '198.51.100.41/32' ? true : undefined), 6000);
    assert.equal(other.server.threatFeeds?.leader(), true);
  } finally {
    await close(a).catch(() => undefined);
    await close(b).catch(() => undefined);
    await etcd.destroy();
  }
});
