// The staged-policy workflow from the command line against a real server (listening on
// 127.0.0.1, real SQLite store), the CLI in-process: `diff -f` against the live state equals the
// offline diff of the same two states, and stage → diff --staged → enforce → unstage round-trip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import { createStrataServer } from '../../src/server/app.ts';
import type { StrataServer } from '../../src/server/app.ts';
import { parseTokenFile } from '../../src/server/authn.ts';
import { openDatastore } from '../../src/store/index.ts';
import type { Datastore } from '../../src/store/index.ts';
import { TOKENS } from '../server/harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'strata-staging-'));
let server: StrataServer;
let store: Datastore;
let url = '';
const savedHome = process.env['HOME'];

const yaml = (docs: readonly unknown[]): string => docs.map((d) => stringify(d)).join('---\n');
const file = (name: string, docs: readonly unknown[]): string => {
  const p = join(dir, name);
  writeFileSync(p, yaml(docs));
  return p;
};

const pod = (name: string, app: string, ip: string, port?: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app } },
  spec: { containers: [{ name: 'c', image: 'x', ...(port === undefined ? {} : { ports: [{ containerPort: port }] }) }] },
  status: { podIP: ip },
});
const BASE = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
  { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'application' }, spec: { order: 400 } },
  pod('web', 'web', '10.1.0.1'),
  pod('db', 'db', '10.1.0.2', 5432),
];
const DB_ALLOW = {
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name: 'db-allow', namespace: 'shop' },
  spec: { tier: 'application', selector: 'app == "db"', types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'app == "web"' }, destination: { ports: [5432] } }] },
};

async function cli(argv: string[], token = 'admin-token'): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main([...argv, ...(argv.includes('--before') ? [] : ['--server', url, '--token', token])], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}
async function offline(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}
const jsonLines = (t: string): any[] => (t === '' ? [] : t.split('\n').map((l) => JSON.parse(l)));
const noSource = (v: unknown): unknown => JSON.parse(JSON.stringify(v), (k, x) => (k === 'source' ? undefined : x));
const flowKey = (l: any): string => `${l.from}>${l.to} ${l.protocol}/${l.ports ?? l.icmp ?? ''} ${l.before}>${l.after} ${l.change}`;

before(async () => {
  process.env['HOME'] = mkdtempSync(join(tmpdir(), 'strata-home-'));
  store = await openDatastore(`sqlite:${join(dir, 'strata.db')}`);
  const tokens = parseTokenFile(TOKENS, 'tokens.csv');
  if (!tokens.ok) throw new Error('bad tokens');
  server = await createStrataServer({ store, tokens: tokens.value, log: () => undefined });
  url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  const r = await cli(['apply', '-f', file('base.yaml', BASE)]);
  assert.equal(r.code, 0, r.err);
});
after(async () => {
  await server.close();
  await store.close();
  if (savedHome === undefined) delete process.env['HOME'];
  else process.env['HOME'] = savedHome;
});

test('diff -f against the server is the offline diff of the live state and the state with the change', async () => {
  const changed = file('db-allow.yaml', [DB_ALLOW]);
  const live = await cli(['diff', '-f', changed, '-o', 'json']);
  assert.equal(live.code, 0, live.err);
  const off = await offline(['diff', '--before', join(dir, 'base.yaml'), '--after', join(dir, 'base.yaml'), changed, '-o', 'json']);
  assert.equal(off.code, 0, off.err);
  assert.ok(jsonLines(off.out).length > 0);
  assert.deepEqual(noSource(jsonLines(live.out)), noSource(jsonLines(off.out)));
  const text = await cli(['diff', '-f', changed]);
  assert.match(text.out, /^\d+ changed flows: 0 opened \(deny → allow\), \d+ closed \(allow → deny\)/);
  assert.match(text.out, /from shop\/web/);
  assert.equal((await cli(['diff', '-f', changed, '--fail-on-change'])).code, 1);
  const md = await cli(['diff', '-f', changed, '-o', 'md', '--port', '5432/TCP']);
  assert.match(md.out, /^\| shop\/web \| shop\/db \| TCP 5432 \| allow/m);
  assert.equal((await cli(['get', 'cnp', 'db-allow', '-n', 'shop'])).code, 1, 'a diff applies nothing');

  const bad = await cli(['diff', '-f', file('bad.yaml', [{ ...DB_ALLOW, spec: { ...DB_ALLOW.spec, selector: 'app ==' } }])]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^Error from server \(Invalid\) \[422\]/);
  assert.match(bad.err, /\[0\]\.spec\.selector: model\/invalid-selector: /);
  assert.equal((await cli(['diff', '-f', changed], 'bob-token')).code, 1, 'bob may not apply it, so he may not preview it');
});

test('stage, diff --staged, enforce and unstage round-trip through the server', async () => {
  const policy = join(dir, 'db-allow.yaml');
  const staged = await cli(['stage', '-f', policy]);
  assert.equal(staged.code, 0, staged.err);
  assert.equal(staged.out, 'stagednetworkpolicy.projectcalico.org/db-allow created');
  assert.equal((await cli(['get', 'snp', 'db-allow', '-n', 'shop', '-o', 'json'])).out.includes('"stagedAction": "Set"'), true);

  // What enforcing changes, on the server, is what the offline staged diff says (enforced vs pending view).
  const pending = await cli(['diff', '--staged', '-o', 'json']);
  assert.equal(pending.code, 0, pending.err);
  const off = await offline(['diff', '--staged', '-f', join(dir, 'base.yaml'), '-f', file('staged.yaml', [{ ...DB_ALLOW, kind: 'StagedNetworkPolicy', spec: { stagedAction: 'Set', ...DB_ALLOW.spec } }]), '-o', 'json']);
  assert.equal(off.code, 0, off.err);
  assert.deepEqual(jsonLines(pending.out).map(flowKey).sort(), jsonLines(off.out).map(flowKey).sort());
  assert.ok(jsonLines(pending.out).some((l) => l.change === 'closed'));
  const named = await cli(['diff', '--staged', 'snp/db-allow', '-n', 'shop', '-o', 'json']);
  assert.deepEqual(jsonLines(named.out).map(flowKey).sort(), jsonLines(pending.out).map(flowKey).sort());

  const enforced = await cli(['enforce', 'snp/db-allow', '-n', 'shop']);
  assert.equal(enforced.code, 0, enforced.err);
  assert.equal(enforced.out, 'networkpolicy.projectcalico.org/db-allow created\nstagednetworkpolicy.projectcalico.org/db-allow deleted');
  assert.equal((await cli(['get', 'cnp', 'db-allow', '-n', 'shop'])).code, 0);
  assert.equal((await cli(['get', 'snp', 'db-allow', '-n', 'shop'])).code, 1);
  assert.match((await cli(['diff', '--staged'])).err, /no staged policies/);

  // A staged deletion: previewed (the closed flows open again), then enforced by file.
  assert.equal((await cli(['stage', '--delete', '-f', policy])).code, 0);
  const reopen = await cli(['diff', '--staged', 'cnp/shop/db-allow', '-o', 'json']);
  assert.equal(reopen.code, 0, reopen.err);
  assert.ok(jsonLines(reopen.out).some((l) => l.change === 'opened' && l.from === 'shop/web' && l.to === 'shop/db'));
  assert.equal((await cli(['enforce', '-f', policy], 'bob-token')).code, 1, 'bob may not enforce');
  const removed = await cli(['enforce', '-f', policy]);
  assert.equal(removed.code, 0, removed.err);
  assert.equal(removed.out, 'stagednetworkpolicy.projectcalico.org/db-allow deleted\nnetworkpolicy.projectcalico.org/db-allow deleted');
  assert.equal((await cli(['get', 'cnp', 'db-allow', '-n', 'shop'])).code, 1);

  assert.equal((await cli(['stage', '-f', policy])).code, 0);
  const un = await cli(['unstage', 'stagednetworkpolicies/shop/db-allow']);
  assert.equal(un.code, 0, un.err);
  assert.equal(un.out, 'stagednetworkpolicy.projectcalico.org/db-allow deleted');
  assert.equal((await cli(['unstage', 'pods/web', '-n', 'shop'])).code, 2, 'only policy kinds have staged counterparts');
  assert.equal((await cli(['stage', '-f', join(dir, 'base.yaml')])).code, 2, 'a Namespace cannot be staged');
});

const record = (srcName: string | null, srcIp: string | null, port: number, connections: number) => ({
  startTime: '2026-12-02T01:00:00Z',
  endTime: '2026-12-02T01:00:15Z',
  reporter: 'dst',
  node: 'n1',
  source: { kind: 'WorkloadEndpoint', namespace: 'shop', name: srcName, ip: srcIp, labels: { app: 'web' } },
  destination: { kind: 'WorkloadEndpoint', namespace: 'shop', name: 'db', ip: '10.1.0.2', labels: { app: 'db' } },
  srcPort: null,
  port,
  protocol: 'tcp',
  action: 'allow',
  policies: { enforced: [], pending: [] },
  engine: null,
  mismatch: false,
  packets: connections * 10,
  bytes: connections * 1000,
  packetsIn: connections * 5,
  packetsOut: connections * 5,
  bytesIn: 0,
  bytesOut: 0,
  connections,
  connectionsCompleted: connections,
  aggregation: 'src-port',
});

test('diff --flows replays observed flows against the change: which seen traffic it would cut', async () => {
  const flows = join(dir, 'flows.jsonl');
  writeFileSync(flows, [record('web', '10.1.0.1', 5432, 7), record('web', '10.1.0.1', 80, 2), record('web', '10.1.0.1', 80, 1), record('web-*', null, 80, 4)].map((r) => JSON.stringify(r)).join('\n'));
  const r = await cli(['diff', '-f', join(dir, 'db-allow.yaml'), '--flows', flows, '-o', 'json']);
  assert.equal(r.code, 0, r.err);
  const replayed = jsonLines(r.out).filter((l) => l.observed !== undefined);
  assert.deepEqual(
    replayed.map((l) => ({ from: l.from, to: l.to, port: l.port, change: l.change, seen: l.observed.connections, records: l.observed.records, after: l.decidedBy.after.reason })),
    [{ from: 'shop/web', to: 'shop/db', port: 80, change: 'closed', seen: 3, records: 2, after: 'end-of-tier' }],
    'port 5432 stays allowed; the two port-80 records are one flow',
  );
  assert.match(r.err, /1 of 4 flow records name neither end/);
  const text = await cli(['diff', '-f', join(dir, 'db-allow.yaml'), '--flows', flows]);
  assert.match(text.out, /^observed flows \(in .*flows\.jsonl\) whose verdict would change: 1 of 2 distinct flows:$/m);
  assert.match(text.out, /^  closed shop\/web → shop\/db  TCP 80 \(3 connections, 30 packets\): allow by .* ⇒ deny by ingress application\/shop\/db-allow end of tier$/m);
  const offlineFlows = await offline(['diff', '--before', join(dir, 'base.yaml'), '--after', join(dir, 'base.yaml'), '--flows', flows]);
  assert.equal(offlineFlows.code, 2, 'replay needs a server');
});

test('get shows an admin policy in the tier the engine places it in', async () => {
  const banp = { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'BaselineAdminNetworkPolicy', metadata: { name: 'default' }, spec: { subject: { namespaces: {} }, ingress: [{ name: 'd', action: 'Deny', from: [{ namespaces: {} }] }] } };
  assert.equal((await cli(['apply', '-f', file('banp.yaml', [banp])])).code, 0);
  assert.match((await cli(['get', 'banp'])).out, /^default\s+kube-baseline\s+\d+s$/m);
  assert.equal((await cli(['delete', 'banp', 'default'])).code, 0);
});
