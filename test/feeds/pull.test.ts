// Pulling feeds from a real HTTP server on loopback: parsed sets, the last good set kept through
// a 500, a timeout, an oversized body and garbage content, and the status saying why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FeedPlan, FeedState } from '../../src/feeds/index.ts';
import { fetchFeedText, planFeed, pullFeed } from '../../src/feeds/index.ts';
import { loadText } from '../../src/load/index.ts';
import type { FeedServer } from './feed-server.ts';
import { startFeedServer } from './feed-server.ts';

let server: FeedServer;
before(async () => {
  server = await startFeedServer();
});
after(async () => {
  await server.close();
});

function plan(over: Partial<FeedPlan> = {}): FeedPlan {
  return { name: 'bad-ips', content: 'IPSet', enabled: true, url: server.url('/feed'), headers: [], periodMs: 2000, labels: { threatfeed: 'bad' }, ...over };
}

let clock = 0;
const now = (): Date => new Date(Date.UTC(2026, 0, 1, 0, 0, clock++));

test('an IPSet feed becomes GlobalNetworkSet threatfeed.NAME with the feed labels and canonical nets', async () => {
  server.set('/ips', { kind: 'content', text: '# feed\n198.51.100.7\n203.0.113.0/24\n2001:db8::1\n' });
  const s = await pullFeed(plan({ url: server.url('/ips') }), undefined, { now });
  assert.deepEqual(s.set, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkSet',
    metadata: { name: 'threatfeed.bad-ips', labels: { threatfeed: 'bad' } },
    spec: { nets: ['198.51.100.7/32', '203.0.113.0/24', '2001:db8::1/128'] },
  });
  assert.equal(s.status.entries, 3);
  assert.equal(s.status.lastSyncError, undefined);
  assert.equal(s.status.lastSuccessfulSync, s.status.lastSyncAttempt);
  assert.deepEqual(s.status.errorConditions, []);
});

test('a DomainNameSet feed becomes a set of allowedEgressDomains', async () => {
  server.set('/names', { kind: 'content', text: 'Evil.Example.\n*.bad.example\n' });
  const s = await pullFeed(plan({ name: 'bad-names', content: 'DomainNameSet', url: server.url('/names'), labels: {} }), undefined, { now });
  assert.deepEqual(s.set, { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', metadata: { name: 'threatfeed.bad-names' }, spec: { allowedEgressDomains: ['*.bad.example', 'evil.example'] } });
});

test('literal headers are sent with the request', async () => {
  server.set('/auth', { kind: 'content', text: '10.9.9.9\n' });
  await pullFeed(plan({ url: server.url('/auth'), headers: [['Authorization', 'Bearer t0k3n'], ['X-Feed', 'a']] }), undefined, { now });
  const req = server.requests.filter((r) => r.path === '/auth').at(-1);
  assert.equal(req?.headers['authorization'], 'Bearer t0k3n');
  assert.equal(req?.headers['x-feed'], 'a');
});

test('a few invalid lines (at most 10%) are skipped and listed on the status with line numbers', async () => {
  const lines = Array.from({ length: 10 }, (_, i) => `10.0.0.${i + 1}`);
  lines.splice(4, 0, 'garbage');
  server.set('/few-bad', { kind: 'content', text: lines.join('\n') });
  const s = await pullFeed(plan({ url: server.url('/few-bad') }), undefined, { now });
  assert.equal(s.set?.spec.nets?.length, 10);
  assert.equal(s.status.lastSyncError, undefined);
  assert.deepEqual(s.status.lastPull && { lines: s.status.lastPull.lines, invalid: s.status.lastPull.invalidLines, at: s.status.lastPull.invalidSamples.map((p) => [p.line, p.text]) }, {
    lines: 11,
    invalid: 1,
    at: [[5, 'garbage']],
  });
});

interface Failure {
  readonly name: string;
  readonly serve: Parameters<FeedServer['set']>[1];
  readonly code: string;
  readonly message: RegExp;
  readonly limits?: { timeoutMs?: number; maxBytes?: number };
}

const failures: readonly Failure[] = [
  { name: 'a 500 answer', serve: { kind: 'status', status: 500, text: 'oops' }, code: 'feeds/http-status', message: /answered 500/ },
  { name: 'a 404 answer', serve: { kind: 'status', status: 404 }, code: 'feeds/http-status', message: /answered 404/ },
  { name: 'a server that never sends the body', serve: { kind: 'hang' }, code: 'feeds/timeout', message: /did not complete within 300 ms/, limits: { timeoutMs: 300 } },
  { name: 'a declared Content-Length over the cap', serve: { kind: 'sized', bytes: 5000 }, code: 'feeds/too-large', message: /larger than the 1 KiB limit/, limits: { maxBytes: 1024 } },
  { name: 'an endless chunked body', serve: { kind: 'endless', chunk: '10.0.0.1\n'.repeat(100) }, code: 'feeds/too-large', message: /larger than the 64 KiB limit/, limits: { maxBytes: 64 * 1024 } },
  { name: 'mostly garbage (an error page served as 200)', serve: { kind: 'content', text: '<html>\n<body>Login</body>\n</html>\n10.0.0.1\n' }, code: 'feeds/too-many-invalid-lines', message: /3 of 4 lines are not addresses or CIDRs .*line 1:/ },
];

for (const f of failures) {
  test(`${f.name} keeps the last good set and reports ${f.code} on the status`, async () => {
    const path = `/flaky-${f.code}-${f.name.length}`;
    server.set(path, { kind: 'content', text: '192.0.2.1\n192.0.2.2\n' });
    const p = plan({ url: server.url(path) });
    const good: FeedState = await pullFeed(p, undefined, { now });
    assert.equal(good.status.entries, 2);
    server.set(path, f.serve);
    const started = Date.now();
    const bad = await pullFeed(p, good, { now, ...(f.limits !== undefined ? { limits: f.limits } : {}) });
    assert.ok(Date.now() - started < 5000, 'the pull ends within its limits');
    assert.deepEqual(bad.set, good.set, 'the last good set stays in force');
    assert.equal(bad.status.entries, 2);
    assert.equal(bad.status.lastSyncError?.code, f.code);
    assert.match(bad.status.lastSyncError?.message ?? '', f.message);
    assert.equal(bad.status.lastSuccessfulSync, good.status.lastSuccessfulSync);
    assert.notEqual(bad.status.lastSyncAttempt, good.status.lastSyncAttempt);
    assert.deepEqual(bad.status.errorConditions.map((c) => c.type), ['GlobalNetworkSetSyncFailed']);
    // The feed recovers: the next good pull replaces the set and clears the error.
    server.set(path, { kind: 'content', text: '192.0.2.3\n' });
    const healed = await pullFeed(p, bad, { now });
    assert.deepEqual(healed.set?.spec.nets, ['192.0.2.3/32']);
    assert.equal(healed.status.lastSyncError, undefined);
    assert.deepEqual(healed.status.errorConditions, []);
  });
}

test('an endless body is cut off at the cap, not read to the end', async () => {
  server.set('/endless', { kind: 'endless', chunk: 'x'.repeat(1024) });
  const before = server.endlessBytes();
  const r = await fetchFeedText(server.url('/endless'), [], { timeoutMs: 5000, maxBytes: 256 * 1024 });
  assert.equal(r.ok, false);
  await new Promise((resolve) => setTimeout(resolve, 200));
  // Socket buffers hold a little more than the cap; far from unbounded.
  assert.ok(server.endlessBytes() - before < 16 * 1024 * 1024, `server wrote ${server.endlessBytes() - before} bytes`);
});

test('a refused connection is a network error, and a first pull that fails has no set', async () => {
  const closed = await startFeedServer();
  const url = closed.url('/gone');
  await closed.close();
  const s = await pullFeed(plan({ url }), undefined, { now, limits: { timeoutMs: 2000 } });
  assert.equal(s.set, undefined);
  assert.equal(s.status.lastSyncError?.code, 'feeds/network');
  assert.match(s.status.lastSyncError?.message ?? '', /ECONNREFUSED/);
});

test('a disabled feed is not pulled and has no set', async () => {
  const count = server.requests.length;
  const s = await pullFeed(plan({ enabled: false }), undefined, { now });
  assert.equal(s.set, undefined);
  assert.equal(s.status.disabled, true);
  assert.equal(server.requests.length, count);
});

const feedDoc = (spec: string): string => `apiVersion: projectcalico.org/v3\nkind: GlobalThreatFeed\nmetadata: {name: f}\nspec: ${spec}\n`;

const planCases: readonly [string, string, readonly string[]][] = [
  ['a feed with literal headers and a 2s period', "{pull: {period: 2s, http: {url: 'http://127.0.0.1/x', headers: [{name: A, value: b}]}}}", []],
  ['a feed without pull', '{}', ['feeds/no-pull@spec.pull']],
  ['a header from a Secret', "{pull: {http: {url: 'http://h/x', headers: [{name: A, valueFrom: {secretKeyRef: {name: s, key: k}}}]}}}", ['feeds/unsupported-header-source@spec.pull.http.headers[0].valueFrom.secretKeyRef']],
  ['a header from a ConfigMap', "{pull: {http: {url: 'http://h/x', headers: [{name: A, value: b}, {name: C, valueFrom: {configMapKeyRef: {name: s, key: k}}}]}}}", ['feeds/unsupported-header-source@spec.pull.http.headers[1].valueFrom.configMapKeyRef']],
  ['a JSON format', "{pull: {http: {url: 'http://h/x', format: {json: {path: $.ips}}}}}", ['feeds/unsupported-format@spec.pull.http.format.json']],
];

for (const [name, spec, expected] of planCases) {
  test(`plan: ${name}`, () => {
    const loaded = loadText(feedDoc(spec), 'f.yaml');
    assert.deepEqual(loaded.diagnostics, []);
    const r = loaded.resources[0];
    assert.ok(r !== undefined && r.type === 'GlobalThreatFeed');
    const p = planFeed(r.body, r.origin);
    assert.deepEqual(p.diagnostics.map((d) => `${d.code}@${d.path ?? ''}`), expected);
    if (p.ok) {
      assert.equal(p.value.periodMs, 2000);
      assert.deepEqual(p.value.headers, [['A', 'b']]);
    } else {
      assert.ok(p.diagnostics.every((d) => d.span?.file === 'f.yaml' && d.span.line === 4));
    }
  });
}

test('plan: the default period is 24h and labels come from spec.globalNetworkSet', () => {
  const loaded = loadText(feedDoc("{globalNetworkSet: {labels: {threatfeed: bad}}, pull: {http: {url: 'https://feeds.example/x'}}}"), 'f.yaml');
  const r = loaded.resources[0];
  assert.ok(r !== undefined && r.type === 'GlobalThreatFeed');
  const p = planFeed(r.body);
  assert.ok(p.ok);
  assert.equal(p.value.periodMs, 24 * 3600 * 1000);
  assert.deepEqual(p.value.labels, { threatfeed: 'bad' });
  assert.equal(p.value.content, 'IPSet');
});
