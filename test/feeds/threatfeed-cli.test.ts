// End to end, offline but over real HTTP: a GlobalThreatFeed served on loopback, `strata
// threatfeed sync` turns it into GlobalNetworkSet threatfeed.NAME, and `strata explain` with a
// security-tier policy denying `threatfeed == "bad"` denies egress to a listed address and not to
// others; a change to the feed reaches explain at the next sync. Also the command's contract:
// YAML/JSON output, --out, exit 1 with the good sets still printed when a feed fails.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import type { FeedServer } from './feed-server.ts';
import { startFeedServer } from './feed-server.ts';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

const dir = mkdtempSync(join(tmpdir(), 'strata-feeds-'));
const clusterDir = join(dir, 'cluster');
const feedsDir = join(dir, 'feeds');
mkdirSync(clusterDir);
mkdirSync(feedsDir);

writeFileSync(
  join(clusterDir, 'cluster.yaml'),
  `apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c}]}
status: {podIP: 10.244.0.5}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.threatfeed-block}
spec:
  tier: security
  order: 10
  selector: all()
  types: [Egress]
  egress:
    - action: Deny
      destination: {selector: threatfeed == "bad"}
    - action: Pass
`,
);

let server: FeedServer;
before(async () => {
  server = await startFeedServer();
  server.set('/bad-ips.txt', { kind: 'content', text: '# malicious\n198.51.100.7\n203.0.113.0/24\n' });
  writeFileSync(
    join(feedsDir, 'feed.yaml'),
    `apiVersion: projectcalico.org/v3
kind: GlobalThreatFeed
metadata: {name: bad-ips}
spec:
  content: IPSet
  globalNetworkSet: {labels: {threatfeed: bad}}
  pull:
    period: 2s
    http: {url: '${server.url('/bad-ips.txt')}'}
`,
  );
});
after(async () => {
  await server.close();
});

async function verdict(sets: string, to: string): Promise<{ verdict: string; policy: string | null }> {
  const r = await run(['explain', '-f', clusterDir, '-f', sets, '--from', 'prod/web', '--to', to, '--port', '443', '-o', 'json']);
  const j = JSON.parse(r.out) as { verdict: string; decidedBy: { policy: string | null } };
  assert.equal(r.code, j.verdict === 'allow' ? 0 : 1);
  return { verdict: j.verdict, policy: j.decidedBy.policy };
}

test('threatfeed sync prints the GlobalNetworkSet, and explain denies egress to a listed address only', async () => {
  const r = await run(['threatfeed', 'sync', '-f', feedsDir]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(parse(r.out), {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkSet',
    metadata: { name: 'threatfeed.bad-ips', labels: { threatfeed: 'bad' } },
    spec: { nets: ['198.51.100.7/32', '203.0.113.0/24'] },
  });
  assert.match(r.err, /threatfeed\.bad-ips: 2 entries from http:\/\/127\.0\.0\.1:\d+\/bad-ips\.txt/);
  const sets = join(dir, 'sets.yaml');
  writeFileSync(sets, r.out);
  assert.deepEqual(await verdict(sets, '198.51.100.7'), { verdict: 'deny', policy: 'security.threatfeed-block' });
  assert.deepEqual(await verdict(sets, '203.0.113.200'), { verdict: 'deny', policy: 'security.threatfeed-block' });
  assert.deepEqual(await verdict(sets, '192.0.2.1'), { verdict: 'allow', policy: 'kns.prod' });
});

test('a change to the feed reaches explain at the next sync (--out, JSON output)', async () => {
  server.set('/bad-ips.txt', { kind: 'content', text: '192.0.2.1\n' });
  const sets = join(dir, 'sets.json');
  const r = await run(['threatfeed', 'sync', '-f', feedsDir, '-o', 'json', '--out', sets, '-q']);
  assert.deepEqual(r, { code: 0, out: '', err: '' });
  const list = JSON.parse(readFileSync(sets, 'utf8')) as { kind: string; items: { spec: { nets: string[] } }[] };
  assert.equal(list.kind, 'List');
  assert.deepEqual(list.items[0]?.spec.nets, ['192.0.2.1/32']);
  assert.deepEqual(await verdict(sets, '192.0.2.1'), { verdict: 'deny', policy: 'security.threatfeed-block' });
  assert.deepEqual(await verdict(sets, '198.51.100.7'), { verdict: 'allow', policy: 'kns.prod' });
});

test('the engine says a GlobalThreatFeed acts only through its synced set', async () => {
  const r = await run(['explain', '-f', clusterDir, '-f', feedsDir, '--from', 'prod/web', '--to', '192.0.2.1', '--port', '443']);
  assert.match(r.err, /GlobalThreatFeed bad-ips has no effect by itself: run `strata threatfeed sync` \(or the server\) to turn it into GlobalNetworkSet threatfeed\.bad-ips/);
});

test('a failing feed or one Strata cannot pull exits 1 with its error while the good sets are still printed', async () => {
  server.set('/broken', { kind: 'status', status: 500 });
  const both = join(dir, 'both.yaml');
  writeFileSync(
    both,
    readFileSync(join(feedsDir, 'feed.yaml'), 'utf8') +
      `---\napiVersion: projectcalico.org/v3\nkind: GlobalThreatFeed\nmetadata: {name: broken}\nspec: {pull: {http: {url: '${server.url('/broken')}'}}}\n` +
      `---\napiVersion: projectcalico.org/v3\nkind: GlobalThreatFeed\nmetadata: {name: off}\nspec: {mode: Disabled, pull: {http: {url: '${server.url('/off')}'}}}\n` +
      `---\napiVersion: projectcalico.org/v3\nkind: GlobalThreatFeed\nmetadata: {name: secret}\nspec: {pull: {http: {url: '${server.url('/x')}', headers: [{name: Authorization, valueFrom: {secretKeyRef: {name: feed-token, key: token}}}]}}}\n`,
  );
  const r = await run(['threatfeed', 'sync', '-f', both]);
  assert.equal(r.code, 1);
  assert.equal((parse(r.out) as { metadata: { name: string } }).metadata.name, 'threatfeed.bad-ips');
  assert.match(r.err, /GlobalThreatFeed "broken": feeds\/http-status: GET http:\/\/127\.0\.0\.1:\d+\/broken answered 500/);
  assert.match(r.err, /GlobalThreatFeed "off" is Disabled: not pulled/);
  assert.match(r.err, /feeds\/unsupported-header-source: GlobalThreatFeed "secret": header "Authorization" takes its value from a Secret/);
  assert.match(r.err, /at spec\.pull\.http\.headers\[0\]\.valueFrom\.secretKeyRef/);
});

test('an oversized feed is refused with a clear error and exit 1', async () => {
  server.set('/bad-ips.txt', { kind: 'endless', chunk: '10.0.0.1\n'.repeat(64) });
  const r = await run(['threatfeed', 'sync', '-f', feedsDir, '--max-bytes', '4096']);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(r.err, /feeds\/too-large: .*larger than the 4 KiB limit; refused/);
});

const usage: readonly [string, string[], RegExp][] = [
  ['an unknown output format', ['-o', 'xml'], /prints yaml or json/],
  ['no -f', [], /needs at least one -f PATH/],
  ['a bad --timeout', ['--timeout', '0'], /--timeout must be a positive integer/],
];

for (const [name, extra, message] of usage) {
  test(`threatfeed sync: ${name} is a usage error (exit 2)`, async () => {
    const args = extra.includes('-o') || extra.includes('--timeout') ? ['-f', feedsDir, ...extra] : extra;
    const r = await run(['threatfeed', 'sync', ...args]);
    assert.equal(r.code, 2);
    assert.match(r.err, message);
  });
}

test('threatfeed sync: an invalid feed URL is an input error with file, line and field path (exit 2)', async () => {
  const bad = join(dir, 'bad-url.yaml');
  writeFileSync(bad, `apiVersion: projectcalico.org/v3\nkind: GlobalThreatFeed\nmetadata: {name: x}\nspec:\n  pull:\n    http: {url: 'ftp://feeds.example/x'}\n`);
  const r = await run(['threatfeed', 'sync', '-f', bad]);
  assert.equal(r.code, 2);
  assert.match(r.err, /bad-url\.yaml:6:\d+: model\/invalid-value: the feed URL must use http or https, got "ftp"/);
  assert.match(r.err, /spec\.pull\.http\.url/);
});
