// The server's threat-feed allow-list: entries, matching, and redirects checked hop by hop
// against a real HTTP server on 127.0.0.1.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { checkAllowed, fetchFeedText, parseAllowEntry, parseAllowList } from '../../src/feeds/index.ts';
import { startFeedServer } from './feed-server.ts';
import type { FeedServer } from './feed-server.ts';

let feeds: FeedServer;
before(async () => {
  feeds = await startFeedServer();
});
after(async () => {
  await feeds.close();
});

test('allow entries: scheme, host (or *.domain) and an optional port, nothing else', () => {
  for (const bad of ['feeds.example.com', 'ftp://feeds.example.com', 'https://feeds.example.com/path', 'https://*', 'http://a.example:99999', 'https://ex*ample.com']) {
    const r = parseAllowEntry(bad);
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.match(r.diagnostics[0]!.message, new RegExp(`^--threatfeed-allow "${bad.replace(/[.*/?]/g, '\\$&')}": `));
  }
  const all = parseAllowList(['http://a', 'nope', 'ftp://b']);
  assert.equal(all.ok, false);
  if (!all.ok) assert.equal(all.diagnostics.length, 2, 'every bad entry is reported');
});

const cases: readonly { name: string; allow: string[]; url: string; ok: boolean }[] = [
  { name: 'an exact origin', allow: ['https://feeds.example.com'], url: 'https://feeds.example.com/list.txt', ok: true },
  { name: 'a host without a port allows any port', allow: ['http://127.0.0.1'], url: 'http://127.0.0.1:8080/x', ok: true },
  { name: 'a port must match, the scheme default counting as the port', allow: ['https://feeds.example.com:443'], url: 'https://feeds.example.com/x', ok: true },
  { name: 'another port is refused', allow: ['https://feeds.example.com:8443'], url: 'https://feeds.example.com/x', ok: false },
  { name: 'another scheme is refused', allow: ['https://feeds.example.com'], url: 'http://feeds.example.com/x', ok: false },
  { name: '*.domain allows names below it', allow: ['https://*.example.com'], url: 'https://a.b.example.com/x', ok: true },
  { name: '*.domain does not allow the domain itself', allow: ['https://*.example.com'], url: 'https://example.com/x', ok: false },
  { name: 'a suffix that is not a label boundary is refused', allow: ['https://*.example.com'], url: 'https://badexample.com/x', ok: false },
  { name: 'hosts compare case-insensitively', allow: ['https://Feeds.Example.com'], url: 'https://FEEDS.example.COM/x', ok: true },
  { name: 'IPv6 literals', allow: ['http://[::1]'], url: 'http://[::1]:9000/x', ok: true },
];

for (const c of cases) {
  test(`allow-list: ${c.name}`, () => {
    const allow = parseAllowList(c.allow);
    assert.ok(allow.ok);
    const why = checkAllowed(allow.value, new URL(c.url));
    assert.equal(why === undefined, c.ok, why);
  });
}

test('a redirect from an allowed origin to one that is not is refused before it is followed', async () => {
  const allow = parseAllowList(['http://127.0.0.1']);
  assert.ok(allow.ok);
  const checkUrl = (u: URL): string | undefined => checkAllowed(allow.value, u);
  feeds.set('/moved', { kind: 'redirect', location: '/list' });
  feeds.set('/list', { kind: 'content', text: '198.51.100.1\n' });
  const followed = await fetchFeedText(feeds.url('/moved'), [], { timeoutMs: 5000, maxBytes: 1024, checkUrl });
  assert.equal(followed.ok && followed.value, '198.51.100.1\n', 'an allowed redirect is followed');
  feeds.set('/away', { kind: 'redirect', location: 'http://localhost:1/metadata' });
  const before = feeds.requests.length;
  const refused = await fetchFeedText(feeds.url('/away'), [], { timeoutMs: 5000, maxBytes: 1024, checkUrl });
  assert.equal(refused.ok, false);
  if (!refused.ok) {
    assert.equal(refused.diagnostics[0]!.code, 'feeds/url-not-allowed');
    assert.match(refused.diagnostics[0]!.message, /redirected to http:\/\/localhost:1\/metadata: http:\/\/localhost:1 is not in the server's threat-feed allow-list \(http:\/\/127\.0\.0\.1\)/);
  }
  assert.equal(feeds.requests.length - before, 1, 'only the first hop was requested');
  feeds.set('/loop', { kind: 'redirect', location: '/loop' });
  const loop = await fetchFeedText(feeds.url('/loop'), [], { timeoutMs: 5000, maxBytes: 1024, checkUrl });
  assert.equal(!loop.ok && loop.diagnostics[0]!.message.includes('more than 5 redirects'), true);
});
