// The flow API on a real server (SQLite datastore and flow file): ingest and dedup, query
// filters and pagination, 400s naming the field, RBAC by namespace and tier, the live stream,
// stats, metrics, the status endpoint, a locked flow database, and a restart on the same files.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openSqliteFlowStore } from '../../src/flows/sqlite-store.ts';
import type { FlowRecord } from '../../src/flows/record.ts';
import { hit, makeRecord } from '../../bench/flow-data.ts';
import { startHarness } from '../server/harness.ts';
import type { Harness } from '../server/harness.ts';

const FLOWS = '/apis/strata/v1/flows';
let h: Harness;
let seq = 0;
const now = Date.now();

function batch(records: FlowRecord[], agent = 'node-1'): object {
  return { agent, boot: 'boot-1', seq: seq++, records };
}

const rbac = [
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'flow-reader' }, rules: [{ apiGroups: ['strata'], resources: ['flows'], verbs: ['list', 'watch'] }] },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'tier-default' }, rules: [{ apiGroups: ['projectcalico.org'], resources: ['tiers'], verbs: ['get'], resourceNames: ['default'] }] },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'alice-flows', namespace: 'shop' }, subjects: [{ kind: 'User', name: 'alice' }], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flow-reader' } },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'alice-tier' }, subjects: [{ kind: 'User', name: 'alice' }], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tier-default' } },
];

const security = (action: 'pass' | 'deny'): ReturnType<typeof hit> => hit('GlobalNetworkPolicy', 'security', null, 'quarantine', action, 0);

// shop → shop (default tier), bank → bank, shop → bank, shop → shop through the security tier, a deny.
const fixture: FlowRecord[] = [
  makeRecord({ start: now - 120_000, src: 'web', dst: 'db', port: 5432, packets: 10, connections: 2 }),
  makeRecord({ start: now - 110_000, srcNs: 'bank', dstNs: 'bank', src: 'teller', dst: 'vault', port: 443, packets: 20, connections: 3 }),
  makeRecord({ start: now - 100_000, srcNs: 'shop', dstNs: 'bank', src: 'web', dst: 'vault', port: 443, packets: 30, connections: 4 }),
  makeRecord({ start: now - 90_000, src: 'web', dst: 'cache', port: 6379, protocol: 'tcp', packets: 40, connections: 5, enforced: [security('pass'), hit('NetworkPolicy', 'default', 'shop', 'allow-web', 'allow', 1)] }),
  makeRecord({
    start: now - 80_000,
    src: 'api',
    dst: 'db',
    port: 5432,
    action: 'deny',
    packets: 50,
    connections: 6,
    enforced: [hit('NetworkPolicy', 'default', 'shop', 'db-lockdown', 'deny', 0)],
    pending: [hit('StagedNetworkPolicy', 'default', 'shop', 'db-open', 'allow', 2)],
  }),
];

before(async () => {
  h = await startHarness({ flowMaintenanceMs: 0 });
  const applied = await h.call('POST', '/apis/strata/v1/apply', { body: rbac });
  assert.equal(applied.code, 200, applied.text);
  const r = await h.call('POST', FLOWS, { body: batch(fixture) });
  assert.equal(r.code, 200, r.text);
  assert.deepEqual(r.json, { accepted: 5, duplicate: false });
});
after(async () => h.close());

async function list(query: string, token = 'admin-token'): Promise<{ code: number; json: any; text: string }> {
  return h.call('GET', `${FLOWS}?${query}`, { token });
}

const sum = (items: readonly FlowRecord[]): number => items.reduce((n, r) => n + r.packets, 0);

test('a resent batch is a duplicate and adds nothing', async () => {
  const b = batch([makeRecord({ start: now - 60_000, srcNs: 'dup', dstNs: 'dup', packets: 7 })]);
  assert.deepEqual((await h.call('POST', FLOWS, { body: b })).json, { accepted: 1, duplicate: false });
  assert.deepEqual((await h.call('POST', FLOWS, { body: b })).json, { accepted: 0, duplicate: true });
  assert.equal(sum((await list('since=1h&namespace=dup')).json.items), 7);
});

const filterCases: [string, string, number][] = [
  ['no filter', 'since=1h&namespace=shop', 10 + 30 + 40 + 50],
  ['either side\'s namespace', 'since=1h&namespace=bank', 20 + 30],
  ['an endpoint by name', 'since=1h&endpoint=vault', 20 + 30],
  ['an endpoint by namespace/name', 'since=1h&endpoint=shop/web', 10 + 30 + 40],
  ['a global policy as TIER.NAME', 'since=1h&policy=security.quarantine', 40],
  ['a namespaced policy as NS/NAME', 'since=1h&policy=shop/db-lockdown', 50],
  ['a staged policy in the pending trace', 'since=1h&policy=shop/default.db-open', 50],
  ['a tier', 'since=1h&tier=security', 40],
  ['the action', 'since=1h&action=deny', 50],
  ['port and protocol (case-insensitive)', 'since=1h&port=443&protocol=TCP', 20 + 30],
  ['pending verdict differs', 'since=1h&pendingDiffers=true', 50],
  ['a window that ends before the flows', `since=1h&until=${new Date(now - 150_000).toISOString()}`, 0],
  ['a window that starts after them', 'since=1m&namespace=shop', 0],
];

for (const [name, query, want] of filterCases) {
  test(`query filter: ${name}`, async () => {
    const r = await list(query);
    assert.equal(r.code, 200, r.text);
    assert.equal(r.json.apiVersion, 'strata/v1');
    assert.equal(r.json.kind, 'FlowList');
    assert.equal(sum(r.json.items), want);
  });
}

test('pagination: limit and continue walk every flow once, sorted; the token is bound to its filters', async () => {
  const seen: number[] = [];
  let cont: string | undefined;
  do {
    const r = await list(`since=1h&namespace=shop&sort=packets&limit=2${cont === undefined ? '' : `&continue=${cont}`}`);
    assert.equal(r.code, 200, r.text);
    assert.ok(r.json.items.length <= 2);
    for (const f of r.json.items as FlowRecord[]) seen.push(f.packets);
    cont = r.json.metadata.continue;
  } while (cont !== undefined);
  assert.deepEqual(seen, [50, 40, 30, 10]);
  const first = await list('since=1h&namespace=shop&sort=packets&limit=2');
  const other = await list(`since=1h&namespace=bank&sort=packets&limit=2&continue=${first.json.metadata.continue}`);
  assert.equal(other.code, 400);
  assert.equal(other.json.details.causes[0].field, 'continue');
});

const badParams: [string, string][] = [
  ['since=yesterday', 'since'],
  ['until=soon', 'until'],
  ['since=5m&until=10m', 'since'],
  ['port=http', 'port'],
  ['port=70000', 'port'],
  ['action=drop', 'action'],
  ['policy=a/b/c', 'policy'],
  ['policy=.x', 'policy'],
  ['endpoint=/x', 'endpoint'],
  ['limit=0', 'limit'],
  ['limit=100000', 'limit'],
  ['sort=name', 'sort'],
  ['pendingDiffers=yes', 'pendingDiffers'],
  ['continue=garbage', 'continue'],
  ['namespace=', 'namespace'],
  ['colour=blue', 'colour'],
];

for (const [query, field] of badParams) {
  test(`400 naming the field: ${query}`, async () => {
    const r = await list(query);
    assert.equal(r.code, 400, r.text);
    assert.equal(r.json.kind, 'Status');
    assert.equal(r.json.reason, 'BadRequest');
    assert.equal(r.json.details.causes[0].field, field);
    assert.match(r.json.message, new RegExp(`"${field}"`));
  });
}

test('a malformed batch is a 400 naming the record field; nothing of it is stored', async () => {
  const good = makeRecord({ start: now - 1000, srcNs: 'half', dstNs: 'half' });
  const r = await h.call('POST', FLOWS, { body: { agent: 'n', boot: 'b', seq: 0, records: [good, { ...good, protocol: 7 }] } });
  assert.equal(r.code, 400);
  assert.equal(r.json.details.causes[0].field, 'records[1].protocol');
  assert.equal((await list('since=1h&namespace=half')).json.items.length, 0);
  assert.equal((await h.call('POST', FLOWS, { body: '{"agent":' })).code, 400);
});

test('RBAC: alice sees flows with a side in her namespace and only tiers she may get; bob sees nothing; agents need create', async () => {
  const alice = await list('since=1h&limit=100', 'alice-token');
  assert.equal(alice.code, 200, alice.text);
  const pairs = (alice.json.items as FlowRecord[]).map((r) => `${r.source.namespace}/${r.source.name}>${r.destination.namespace}/${r.destination.name}`).sort();
  // Not bank→bank (no side in shop), not web→cache (security tier).
  assert.deepEqual(pairs, ['shop/api>shop/db', 'shop/web>bank/vault', 'shop/web>shop/db']);
  assert.equal((await list('since=1h&tier=security', 'alice-token')).json.items.length, 0);
  assert.equal((await list('since=1h&namespace=bank', 'alice-token')).json.items.length, 1);
  const bob = await list('since=1h', 'bob-token');
  assert.equal(bob.code, 403);
  assert.match(bob.json.message, /cannot list resource "flows"/);
  assert.equal((await h.call('POST', FLOWS, { token: 'alice-token', body: batch([]) })).code, 403);
  assert.equal((await h.call('GET', `${FLOWS}?since=1h`, { token: null })).code, 401);
  // Stats: only default-tier policies of shop (global and security-tier rows need more).
  const stats = await h.call('GET', `${FLOWS}/stats?since=1h`, { token: 'alice-token' });
  assert.equal(stats.code, 200, stats.text);
  const names = new Set((stats.json.items as { namespace: string; name: string; tier: string }[]).map((s) => `${s.tier}/${s.namespace}/${s.name}`));
  assert.deepEqual([...names].sort(), ['default/shop/allow-web', 'default/shop/db-lockdown', 'default/shop/db-open']);
});

test('stats: per rule and per policy, with allowed/denied/passed and the staged policy of the pending trace', async () => {
  const r = await h.call('GET', `${FLOWS}/stats?since=1h&namespace=shop`);
  assert.equal(r.code, 200, r.text);
  assert.equal(r.json.kind, 'FlowStats');
  const rule = (name: string): any => (r.json.items as any[]).find((s) => s.name === name);
  assert.deepEqual(
    { ...rule('db-lockdown'), lastHit: undefined },
    { kind: 'NetworkPolicy', tier: 'default', namespace: 'shop', name: 'db-lockdown', direction: 'ingress', ruleIndex: 0, action: 'deny', packets: 50, bytes: 1000, connections: 6, allowed: 0, denied: 50, passed: 0, lastHit: undefined },
  );
  assert.equal(rule('db-open').kind, 'StagedNetworkPolicy');
  assert.equal(rule('db-open').ruleIndex, 2);
  // shop's allow-web: rule 0 (flow 1) and rule 1 (flow 4, after a pass): two rules, one policy row.
  const allowWeb = (r.json.items as any[]).filter((s) => s.name === 'allow-web');
  assert.equal(allowWeb.length, 2);
  const policy = (r.json.policies as any[]).find((p) => p.name === 'allow-web');
  assert.equal(policy.packets, 10 + 40);
  assert.equal(policy.ruleIndex, null);
  const all = await h.call('GET', `${FLOWS}/stats?since=1h&policy=security.quarantine`);
  assert.equal(all.json.items[0].passed, 40);
  assert.equal(all.json.items[0].allowed, 40);
  assert.equal((await h.call('GET', `${FLOWS}/stats?since=1h&port=80`)).code, 400);
});

test('metrics: per-rule series with staged:NAME, denied packets, ingest counters', async () => {
  const text = (await h.call('GET', '/metrics')).text;
  assert.match(text, /strata_policy_rule_packets_total\{tier="default",policy="db-lockdown",namespace="shop",rule_index="0",action="deny",direction="ingress"\} 50/);
  assert.match(text, /strata_policy_rule_packets_total\{tier="default",policy="staged:db-open",namespace="shop",rule_index="2",action="allow",direction="ingress"\} 50/);
  assert.match(text, /strata_policy_rule_connections_total\{tier="security",policy="quarantine",namespace="",rule_index="0",action="pass",direction="ingress"\} 5/);
  assert.match(text, /strata_denied_packets_total\{tier="default",policy="db-lockdown",namespace="shop"\} 50/);
  assert.match(text, /strata_flow_ingest_batches_total\{result="duplicate"\} [1-9]/);
  assert.match(text, /strata_flow_ingest_records_total\{result="accepted"\} [1-9]/);
});

test('the live stream delivers new records that pass the filters and the caller\'s scope', async () => {
  const url = await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  const res = await fetch(`${url}${FLOWS}?watch=true&namespace=shop&action=deny&timeoutSeconds=10`, { headers: { authorization: 'Bearer alice-token' } });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const posted = await h.call('POST', FLOWS, {
    body: batch([
      makeRecord({ start: Date.now(), src: 'nope', action: 'allow' }),
      makeRecord({ start: Date.now(), srcNs: 'bank', dstNs: 'bank', action: 'deny' }),
      makeRecord({ start: Date.now(), src: 'hidden', action: 'deny', enforced: [security('deny')] }),
      makeRecord({ start: Date.now(), src: 'live', action: 'deny', packets: 3 }),
    ]),
  });
  assert.equal(posted.code, 200);
  let text = '';
  while (!text.includes('\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
  }
  await reader.cancel();
  const events = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: FlowRecord });
  assert.deepEqual(events.map((e) => [e.type, e.object.source.name]), [['FLOW', 'live']]);
  assert.equal((await fetch(`${url}${FLOWS}?watch=true&port=x`, { headers: { authorization: 'Bearer admin-token' } })).status, 400);
});

test('a locked flow database: batches are dropped with a counter (503, metrics, status), the server stays up, a retry lands', async () => {
  const dir = h.dir;
  const path = join(dir, 'locked-flows.db');
  const h2 = await startHarness({ flowStore: openSqliteFlowStore({ path, busyTimeoutMs: 50 }), flowMaintenanceMs: 0 });
  try {
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    const b = batch([makeRecord({ start: Date.now() - 1000, packets: 9 })]);
    const r = await h2.call('POST', FLOWS, { body: b });
    assert.equal(r.code, 503, r.text);
    assert.match(r.json.message, /locked/);
    assert.equal((await h2.call('GET', '/healthz')).text, 'ok');
    const st = await h2.call('GET', `${FLOWS}/status`);
    assert.equal(st.json.status.records.dropped, 1);
    assert.match(st.json.status.lastError.message, /locked/);
    assert.match((await h2.call('GET', '/metrics')).text, /strata_flow_ingest_records_total\{result="dropped"\} 1/);
    other.exec('ROLLBACK');
    other.close();
    assert.deepEqual((await h2.call('POST', FLOWS, { body: b })).json, { accepted: 1, duplicate: false });
    assert.equal((await h2.call('GET', `${FLOWS}/status`, { token: 'alice-token' })).code, 403);
  } finally {
    await h2.close();
  }
});

test('a server restart on the same files keeps every flow and the dedup state', async () => {
  const h1 = await startHarness({ flowMaintenanceMs: 0 });
  const dir = h1.dir;
  await h1.close();
  const path = join(dir, 'flows.db');
  let s = await startHarness({ dir, flowStore: openSqliteFlowStore({ path }), flowMaintenanceMs: 0 });
  const b = batch([makeRecord({ start: Date.now() - 5000, packets: 11 }), makeRecord({ start: Date.now() - 4000, dst: 'x', packets: 12 })]);
  assert.equal((await s.call('POST', FLOWS, { body: b })).json.accepted, 2);
  await s.close();
  s = await startHarness({ dir, flowStore: openSqliteFlowStore({ path }), flowMaintenanceMs: 0 });
  try {
    assert.equal(sum((await s.call('GET', `${FLOWS}?since=1h`)).json.items), 23);
    assert.deepEqual((await s.call('POST', FLOWS, { body: b })).json, { accepted: 0, duplicate: true });
  } finally {
    await s.close();
  }
});

test('a side the agent could not name (its node view holds only the peers its rules read) is named from the server state', async () => {
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'remote', labels: { team: 'r' } } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'far-pod', namespace: 'remote', labels: { app: 'far' } }, spec: { nodeName: 'node-9', containers: [{ name: 'c', image: 'far' }] }, status: { podIP: '10.99.0.7', podIPs: [{ ip: '10.99.0.7' }] } },
  ];
  const applied = await h.call('POST', '/apis/strata/v1/apply', { body: objects });
  assert.equal(applied.code, 200, applied.text);
  const base = makeRecord({ start: now - 50_000, srcNs: 'named', dstNs: 'named', packets: 3 });
  const unnamed = (ip: string): FlowRecord['source'] => ({ kind: 'Network', namespace: null, name: null, ip, labels: {} });
  const r = await h.call('POST', FLOWS, { body: batch([{ ...base, source: unnamed('10.99.0.7') }, { ...base, source: unnamed('203.0.113.9'), packets: 4 }]) });
  assert.equal(r.code, 200, r.text);
  const items: FlowRecord[] = (await list('since=1h&namespace=named')).json.items;
  const bySource = new Map(items.map((i) => [i.source.ip, i.source]));
  const far = bySource.get('10.99.0.7');
  assert.deepEqual([far?.kind, far?.namespace, far?.name, far?.labels['app']], ['WorkloadEndpoint', 'remote', 'far-pod', 'far']);
  assert.deepEqual(bySource.get('203.0.113.9'), { kind: 'Network', namespace: null, name: null, ip: '203.0.113.9', labels: {} });
});
