// `strata flows`, `strata flows stats` and `strata policies unused`, run in-process against a
// real server listening on loopback (SQLite datastore, in-memory flow store).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import { flowStorePath, parseFlowBuckets } from '../../src/cli/commands/server.ts';
import type { FlowRecord } from '../../src/flows/record.ts';
import { hit, makeRecord } from '../../bench/flow-data.ts';
import { startHarness } from '../server/harness.ts';
import type { Harness } from '../server/harness.ts';

let h: Harness;
let url: string;
let seq = 0;

async function cli(argv: string[], token = 'admin-token'): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main([...argv, '--server', url, '--token', token], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

async function post(records: FlowRecord[]): Promise<void> {
  const r = await h.call('POST', '/apis/strata/v1/flows', { body: { agent: 'node-1', boot: 'b', seq: seq++, records } });
  assert.equal(r.code, 200, r.text);
}

const policies = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
  { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'security' }, spec: { order: 100 } },
  { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'quarantine' }, spec: { tier: 'security', selector: 'all()', ingress: [{ action: 'Pass' }] } },
  {
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: { name: 'allow-web', namespace: 'shop' },
    spec: { selector: "app == 'db'", ingress: [{ action: 'Allow', source: { selector: "app == 'web'" } }, { action: 'Allow', protocol: 'TCP', destination: { ports: [6379] } }] },
  },
  { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'forgotten', namespace: 'shop' }, spec: { selector: "app == 'old'", ingress: [{ action: 'Deny' }] } },
];

before(async () => {
  h = await startHarness({ flowMaintenanceMs: 0 });
  url = await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  const applied = await h.call('POST', '/apis/strata/v1/apply', { body: policies });
  assert.equal(applied.code, 200, applied.text);
  const t = Date.now() - 60_000;
  await post([
    makeRecord({ start: t, src: 'web', dst: 'db', packets: 10, enforced: [hit('GlobalNetworkPolicy', 'security', null, 'quarantine', 'pass', 0), hit('NetworkPolicy', 'default', 'shop', 'allow-web', 'allow', 0)] }),
    makeRecord({ start: t + 1000, src: 'api', dst: 'db', action: 'deny', packets: 4, enforced: [hit('GlobalNetworkPolicy', 'security', null, 'quarantine', 'pass', 0), hit('EndOfTier', 'default', null, null, 'deny', null)] }),
  ]);
});
after(async () => h.close());

test('strata flows: a table by default, JSON Lines and CSV on request, filters passed through', async () => {
  const table = await cli(['flows', '--since', '1h']);
  assert.equal(table.code, 0, table.err);
  const lines = table.out.split('\n');
  assert.match(lines[0]!, /^TIME\s+SOURCE\s+DESTINATION\s+PORT\s+ACTION\s+POLICY\s+PACKETS\s+BYTES\s+CONNS$/);
  assert.ok(lines.some((l) => /shop\/web\s+shop\/db\s+5432\/tcp\s+allow\s+shop\/default\.allow-web\[0\]\s+10/.test(l)), table.out);
  assert.ok(lines.some((l) => /shop\/api\s+shop\/db\s+5432\/tcp\s+deny\s+end-of-tier default\s+4/.test(l)), table.out);

  const json = await cli(['flows', '--since', '1h', '--action', 'deny', '-o', 'json']);
  assert.equal(json.code, 0, json.err);
  const recs = json.out.split('\n').map((l) => JSON.parse(l) as FlowRecord);
  assert.deepEqual(recs.map((r) => r.source.name), ['api']);

  const csv = await cli(['flows', '--since', '1h', '--policy', 'shop/allow-web', '-o', 'csv']);
  assert.equal(csv.code, 0, csv.err);
  assert.equal(csv.out.split('\n')[0], 'startTime,endTime,reporter,node,srcNamespace,srcName,dstNamespace,dstName,port,protocol,action,policy,pendingPolicy,packets,bytes,connections');
  assert.equal(csv.out.split('\n').length, 2);

  assert.match((await cli(['flows', '--since', '1h', '--namespace', 'nowhere'])).err, /No flows/);
});

test('strata flows: a bad parameter is the server\'s 400, exit 2; no rights is exit 1', async () => {
  const bad = await cli(['flows', '--port', 'http']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /Error from server \(BadRequest\) \[400\]: invalid query parameter "port"/);
  assert.match(bad.err, /port: FieldValueInvalid/);
  const bob = await cli(['flows'], 'bob-token');
  assert.equal(bob.code, 1);
  assert.match(bob.err, /Forbidden/);
  assert.equal((await cli(['flows', '-o', 'yaml'])).code, 2);
});

test('strata flows --follow prints the list, then new flows as they arrive, until --timeout', async () => {
  const running = cli(['flows', '--since', '1h', '--follow', '--timeout', '2', '--namespace', 'shop', '-o', 'json']);
  await new Promise((r) => setTimeout(r, 400));
  await post([makeRecord({ start: Date.now(), src: 'late', dst: 'db', packets: 1 }), makeRecord({ start: Date.now(), srcNs: 'x', dstNs: 'x', src: 'elsewhere' })]);
  const r = await running;
  assert.equal(r.code, 0, r.err);
  const names = r.out.split('\n').map((l) => (JSON.parse(l) as FlowRecord).source.name);
  assert.deepEqual(names.slice(-1), ['late']);
  assert.ok(names.includes('web') && !names.includes('elsewhere'));
});

test('strata flows stats: one row per rule and direction', async () => {
  const r = await cli(['flows', 'stats', '--since', '1h']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out.split('\n')[0]!, /^KIND\s+TIER\s+NAMESPACE\s+NAME\s+DIR\s+RULE\s+ACTION\s+PACKETS/);
  assert.match(r.out, /GlobalNetworkPolicy\s+security\s+quarantine\s+ingress\s+0\s+pass\s+1[45]/);
  assert.match(r.out, /EndOfTier\s+default\s+ingress\s+-\s+deny\s+4/);
  const json = JSON.parse((await cli(['flows', 'stats', '--since', '1h', '-o', 'json'])).out) as { kind: string };
  assert.equal(json.kind, 'FlowStats');
});

test('strata policies unused: whole policies and single rules nothing hit, from the live policies and the stats', async () => {
  const r = await cli(['policies', 'unused', '--since', '30d']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /NetworkPolicy\s+default\s+shop\s+forgotten\s+whole policy/);
  assert.match(r.out, /NetworkPolicy\s+default\s+shop\s+allow-web\s+ingress\[1\]/);
  assert.doesNotMatch(r.out, /quarantine/);
  const json = (await cli(['policies', 'unused', '-o', 'json'])).out.split('\n').map((l) => JSON.parse(l) as { name: string; unused: string; rules: unknown[] });
  assert.deepEqual(json.map((u) => [u.name, u.unused, u.rules]).sort(), [['allow-web', 'rules', [{ direction: 'ingress', index: 1 }]], ['forgotten', 'policy', []]]);
});

test('strata server: the flow file sits beside a sqlite store; bucket specs are checked', () => {
  assert.equal(flowStorePath({ store: 'sqlite:/var/lib/strata/strata.db' }), '/var/lib/strata/strata.flows.db');
  assert.equal(flowStorePath({ store: 'sqlite:data' }), 'data.flows.db');
  assert.equal(flowStorePath({ store: 'etcd:http://127.0.0.1:2379' }), ':memory:');
  assert.equal(flowStorePath({ store: 'etcd:http://127.0.0.1:2379', flowStore: '/x/flows.db' }), '/x/flows.db');
  assert.deepEqual(parseFlowBuckets('10s:30m,1m:7d'), { fineMs: 10_000, fineRetentionMs: 1_800_000, coarseMs: 60_000, coarseRetentionMs: 7 * 86_400_000 });
  assert.throws(() => parseFlowBuckets('15s:1h,20s:30d'), /multiple/);
  assert.throws(() => parseFlowBuckets('15s:1h'), /FINE:KEEP,COARSE:KEEP/);
  assert.throws(() => parseFlowBuckets('0s:1h,5m:1d'), /not a duration/);
});
