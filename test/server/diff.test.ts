// The server's change preview and its admission checks, in-process on a real SQLite store:
// POST /apis/strata/v1/diff against the live state (authorized as apply, nothing committed,
// steps in unreadable tiers redacted), batch apply with deletions (the enforce transaction),
// ConnectivityInvariants refusing or warning on writes, and tier RBAC for the admin policies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';
import { buildCluster } from '../../src/engine/index.ts';
import { diffClusters, diffLines } from '../../src/analysis/diff.ts';
import { validateDocument, syntheticOrigin } from '../../src/model/index.ts';
import type { Resource } from '../../src/model/index.ts';
import { enforcementOf, stagedOf } from '../../src/server/staging.ts';
import type { DeleteSpec } from '../../src/server/staging.ts';
import { createEngineState } from '../../src/server/engine-state.ts';

let h: Harness;
after(async () => {
  await h.close();
});

const pod = (name: string, app: string, ip: string, port?: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app } },
  spec: { containers: [{ name: 'c', image: 'x', ...(port === undefined ? {} : { ports: [{ containerPort: port }] }) }] },
  status: { podIP: ip },
});
const tier = (name: string, order: number) => ({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name }, spec: { order } });
const secGuard = (ingress: unknown[]) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name: 'sec-guard', namespace: 'shop' },
  spec: { tier: 'security', selector: 'app == "db"', types: ['Ingress'], ingress },
});
const GUARD_RULES = [
  { action: 'Allow', source: { selector: 'app == "admin"' } },
  { action: 'Pass', source: { selector: 'app == "web"' } },
  { action: 'Deny' },
];
const dbAllow = {
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name: 'db-allow', namespace: 'shop' },
  spec: { tier: 'application', selector: 'app == "db"', types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'app == "web"' }, destination: { ports: [5432] } }] },
};

const BASE = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
  tier('security', 100),
  tier('application', 400),
  pod('web', 'web', '10.1.0.1'),
  pod('db', 'db', '10.1.0.2', 5432),
  pod('tool', 'tool', '10.1.0.3'),
  secGuard(GUARD_RULES),
];

// alice: edits application-tier policies and pods in shop, may read tier application only.
const RBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: get-application-tier}
rules:
- {apiGroups: [projectcalico.org], resources: [tiers], resourceNames: [application], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: alice-get-application-tier}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: get-application-tier, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: shop-editor, namespace: shop}
rules:
- {apiGroups: [projectcalico.org], resources: [tier.networkpolicies, tier.stagednetworkpolicies], resourceNames: [application.*], verbs: ['*']}
- {apiGroups: [''], resources: [pods], verbs: ['*']}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-shop-editor, namespace: shop}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: shop-editor, apiGroup: rbac.authorization.k8s.io}
`;

before(async () => {
  h = await startHarness();
  const r = await h.call('POST', '/apis/strata/v1/apply', { body: BASE });
  assert.equal(r.code, 200, r.text);
  const rb = await h.call('POST', '/apis/strata/v1/apply', { body: RBAC, contentType: 'application/yaml' });
  assert.equal(rb.code, 200, rb.text);
});

function resources(objs: readonly unknown[]): Resource[] {
  return objs.map((o, i) => {
    const r = validateDocument(o, syntheticOrigin(`doc ${i}`));
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    return r.value!;
  });
}

/** The offline diff of the same two states, without sources (which name files vs objects). */
function offlineLines(beforeObjs: readonly unknown[], afterObjs: readonly unknown[]): unknown[] {
  const r = diffClusters(buildCluster(resources(beforeObjs)).cluster, buildCluster(resources(afterObjs)).cluster);
  return diffLines(r);
}
const noSource = (v: unknown): unknown => JSON.parse(JSON.stringify(v), (k, x) => (k === 'source' ? undefined : x));

test('a diff is the offline diff of the live state and the state after the change, and commits nothing', async () => {
  const r = await h.call('POST', '/apis/strata/v1/diff', { token: 'alice-token', body: [dbAllow] });
  assert.equal(r.code, 200, r.text);
  assert.equal(r.json.kind, 'DiffResult');
  assert.equal(r.json.apiVersion, 'strata/v1');
  assert.deepEqual(noSource(r.json.lines), noSource(offlineLines(BASE, [...BASE, dbAllow])));
  const s = r.json.summary;
  assert.ok(s.closed > 0, 'web → db closes on every port but 5432');
  assert.equal(s.opened, 0);
  assert.equal(s.changed, true);
  assert.equal(s.redacted, 0, 'every step of these lines is in a tier alice may read or a profile');
  assert.deepEqual(s.documents, [{ kind: 'NetworkPolicy', namespace: 'shop', name: 'db-allow', action: 'created' }]);
  const tcp5432 = r.json.lines.find((l: any) => l.from === 'shop/web' && l.to === 'shop/db' && l.protocol === 'TCP' && l.ports === '5432');
  assert.equal(tcp5432.change, 'reattributed');
  assert.equal(tcp5432.decidedBy.after.policy, 'db-allow');
  assert.match(tcp5432.decidedBy.after.source, /^NetworkPolicy shop\/db-allow:\d+:\d+$/);
  const closed = r.json.lines.find((l: any) => l.from === 'shop/web' && l.to === 'shop/db' && l.protocol === 'TCP' && l.ports === '1-5431');
  assert.deepEqual([closed.before, closed.after, closed.change, closed.decidedBy.after.reason], ['allow', 'deny', 'closed', 'end-of-tier']);
  assert.equal((await h.call('GET', '/apis/projectcalico.org/v3/namespaces/shop/networkpolicies/db-allow')).code, 404, 'nothing was applied');

  const only = await h.call('POST', '/apis/strata/v1/diff?ports=5432/TCP', { token: 'alice-token', body: [dbAllow] });
  assert.deepEqual(only.json.lines.map((l: any) => `${l.from}>${l.to} ${l.protocol}/${l.ports} ${l.change}`), ['shop/web>shop/db TCP/5432 reattributed']);
  const noMoves = await h.call('POST', '/apis/strata/v1/diff', { token: 'alice-token', body: { apiVersion: 'strata/v1', kind: 'ChangeSet', documents: [dbAllow], reattributed: false, ports: ['5432/TCP'] } });
  assert.deepEqual(noMoves.json.lines, []);
});

test('steps in tiers the user cannot read are redacted; an admin sees them', async () => {
  const relabel = pod('tool', 'admin', '10.1.0.3');
  const alice = await h.call('POST', '/apis/strata/v1/diff', { token: 'alice-token', body: [relabel] });
  assert.equal(alice.code, 200, alice.text);
  const line = alice.json.lines.find((l: any) => l.from === 'shop/tool' && l.to === 'shop/db' && l.protocol === 'TCP');
  assert.equal(line.change, 'opened');
  assert.deepEqual(line.decidedBy.after, { direction: 'ingress', tier: null, policy: null, kind: 'NetworkPolicy', rule: null, action: 'allow', reason: 'rule' });
  assert.equal(line.decidedBy.before.policy, null);
  assert.ok(alice.json.summary.redacted >= 1);
  assert.doesNotMatch(alice.text, /sec-guard|"security"/, 'neither the policy nor the tier is named');

  // Observed flows replayed: redacted alike; a flow that cannot be decided is counted, not fatal.
  const observed = [
    { from: 'shop/tool', to: 'shop/db', port: 5432, protocol: 'tcp', action: 'deny', connections: 4 },
    { from: 'shop/gone', to: 'shop/db', port: 5432, protocol: 'tcp' },
  ];
  const replayed = await h.call('POST', '/apis/strata/v1/diff', { token: 'alice-token', body: { apiVersion: 'strata/v1', kind: 'ChangeSet', documents: [relabel], flows: observed } });
  assert.equal(replayed.code, 200, replayed.text);
  assert.equal(replayed.json.replay.flows, 2);
  assert.equal(replayed.json.replay.skipped, 1);
  assert.deepEqual(replayed.json.replay.lines.map((l: any) => [l.from, l.to, l.port, l.change, l.observed.connections, l.decidedBy.after.policy, l.decidedBy.after.tier]), [['shop/tool', 'shop/db', 5432, 'opened', 4, null, null]]);
  const badFlows = await h.call('POST', '/apis/strata/v1/diff', { body: { apiVersion: 'strata/v1', kind: 'ChangeSet', documents: [relabel], flows: [{ from: 'a' }] } });
  assert.equal(badFlows.code, 400);
  assert.match(badFlows.json.message, /flows\.0\.to/);

  const admin = await h.call('POST', '/apis/strata/v1/diff', { body: [relabel] });
  const full = admin.json.lines.find((l: any) => l.from === 'shop/tool' && l.to === 'shop/db' && l.protocol === 'TCP');
  assert.equal(full.decidedBy.after.tier, 'security');
  assert.equal(full.decidedBy.after.policy, 'sec-guard');
  assert.equal(full.decidedBy.after.rule, 0);
  assert.equal(admin.json.summary.redacted, 0);
});

test('a preview is authorized as the apply would be, and bad documents are 400/422 with field paths', async () => {
  const inSecurity = { ...dbAllow, metadata: { name: 'x', namespace: 'shop' }, spec: { ...dbAllow.spec, tier: 'security' } };
  const refused = await h.call('POST', '/apis/strata/v1/diff', { token: 'alice-token', body: [inSecurity] });
  assert.equal(refused.code, 403);
  assert.match(refused.json.message, /cannot create networkpolicies.projectcalico.org in tier "security"/);
  assert.equal((await h.call('POST', '/apis/strata/v1/diff', { token: 'bob-token', body: [dbAllow] })).code, 403);
  assert.equal((await h.call('POST', '/apis/strata/v1/diff', { token: 'alice-token', body: { apiVersion: 'strata/v1', kind: 'ChangeSet', delete: ['cnp/shop/sec-guard'] } })).code, 403);

  const bad = await h.call('POST', '/apis/strata/v1/diff', { body: [dbAllow, { ...dbAllow, metadata: { name: 'y', namespace: 'shop' }, spec: { ...dbAllow.spec, selector: 'app ==' } }] });
  assert.equal(bad.code, 422, bad.text);
  assert.ok(bad.json.details.causes.some((c: any) => c.field === '[1].spec.selector'), bad.text);
  const noTier = await h.call('POST', '/apis/strata/v1/diff', { body: [{ ...dbAllow, spec: { ...dbAllow.spec, tier: 'nope' } }] });
  assert.equal(noTier.code, 422);
  assert.ok(noTier.json.details.causes.some((c: any) => c.reason === 'engine/tier-not-found' && c.field === '[0].spec.tier'), noTier.text);
  assert.equal((await h.call('POST', '/apis/strata/v1/diff', { body: 'a: [' , contentType: 'application/yaml' })).code, 400);
  const badRef = await h.call('POST', '/apis/strata/v1/diff?delete=nosuchkind/x', { body: '' });
  assert.equal(badRef.code, 400);
  assert.match(badRef.json.message, /delete\[0\]: the server doesn't have a resource type "nosuchkind"/);
  const missing = await h.call('POST', '/apis/strata/v1/diff?delete=cnp/shop/not-there', { body: '' });
  assert.equal(missing.code, 404);
});

test('deleting through a preview: removing the guard opens tool → db; a batch apply with deletions is one transaction', async () => {
  const r = await h.call('POST', '/apis/strata/v1/diff?delete=networkpolicies.projectcalico.org/shop/sec-guard', { body: '' });
  assert.equal(r.code, 200, r.text);
  assert.deepEqual(noSource(r.json.lines), noSource(offlineLines(BASE, BASE.filter((o) => o !== BASE[6]))));
  assert.ok(r.json.lines.some((l: any) => l.from === 'shop/tool' && l.to === 'shop/db' && l.change === 'opened'));

  // Stage → enforce, as `strata stage` and `strata enforce` do it.
  const staged = stagedOf(dbAllow);
  assert.ok(staged.ok);
  assert.equal((await h.call('POST', '/apis/strata/v1/apply', { token: 'alice-token', body: [staged.value] })).code, 200);
  const stored = await h.call('GET', '/apis/projectcalico.org/v3/namespaces/shop/stagednetworkpolicies/db-allow', { token: 'alice-token' });
  assert.equal(stored.json.spec.stagedAction, 'Set');
  const enforce = enforcementOf(stored.json, false);
  assert.ok(enforce.ok);
  // The staged policy is deleted at the resourceVersion it was read at.
  assert.deepEqual(enforce.value.delete, [{ kind: 'stagednetworkpolicies', namespace: 'shop', name: 'db-allow', resourceVersion: stored.json.metadata.resourceVersion }]);
  const cs: { apiVersion: string; kind: string; documents: unknown[]; delete: readonly DeleteSpec[] } = { apiVersion: 'strata/v1', kind: 'ChangeSet', documents: [enforce.value.put], delete: enforce.value.delete };

  // Changed between the read and the enforcing batch: 409, and nothing is written.
  const touched = await h.call('PATCH', '/apis/projectcalico.org/v3/namespaces/shop/stagednetworkpolicies/db-allow', { token: 'alice-token', body: { metadata: { labels: { edited: 'yes' } } }, contentType: 'application/merge-patch+json' });
  assert.equal(touched.code, 200, touched.text);
  const stale = await h.call('POST', '/apis/strata/v1/apply', { token: 'alice-token', body: cs });
  assert.equal(stale.code, 409, stale.text);
  assert.equal((await h.call('GET', '/apis/projectcalico.org/v3/namespaces/shop/networkpolicies/db-allow')).code, 404, 'nothing enforced');
  const reread = await h.call('GET', '/apis/projectcalico.org/v3/namespaces/shop/stagednetworkpolicies/db-allow', { token: 'alice-token' });
  const again = enforcementOf(reread.json, false);
  assert.ok(again.ok);
  cs.documents = [again.value.put];
  cs.delete = again.value.delete;
  // The preview of enforcing equals the diff of adding the enforced policy (the staged one only changes pending verdicts).
  const preview = await h.call('POST', '/apis/strata/v1/diff', { token: 'alice-token', body: cs });
  assert.equal(preview.code, 200, preview.text);
  assert.ok(preview.json.lines.every((l: any) => l.pendingBefore !== undefined), 'the live state has a staged policy: pending verdicts are compared too');
  assert.ok(preview.json.summary.closed > 0);

  const applied = await h.call('POST', '/apis/strata/v1/apply', { token: 'alice-token', body: cs });
  assert.equal(applied.code, 200, applied.text);
  assert.deepEqual(applied.json.results.map((x: any) => `${x.kind} ${x.name} ${x.action}`), ['NetworkPolicy db-allow created', 'StagedNetworkPolicy db-allow deleted']);
  assert.equal((await h.call('GET', '/apis/projectcalico.org/v3/namespaces/shop/stagednetworkpolicies/db-allow')).code, 404);
  assert.equal((await h.call('GET', '/apis/projectcalico.org/v3/namespaces/shop/networkpolicies/db-allow')).json.spec.stagedAction, undefined);

  // All or nothing: a batch whose deletion is refused writes nothing either.
  const mixed = await h.call('POST', '/apis/strata/v1/apply', { token: 'alice-token', body: { apiVersion: 'strata/v1', kind: 'ChangeSet', documents: [{ ...dbAllow, metadata: { name: 'z', namespace: 'shop' } }], delete: ['cnp/shop/sec-guard'] } });
  assert.equal(mixed.code, 403);
  assert.equal((await h.call('GET', '/apis/projectcalico.org/v3/namespaces/shop/networkpolicies/z')).code, 404);
  const audit = await h.call('GET', '/apis/strata/v1/auditevents');
  assert.ok(audit.json.items.some((e: any) => e.verb === 'delete' && e.objectRef?.resource === 'stagednetworkpolicies' && e.user.username === 'alice'));
  // Back to the base state for the other tests.
  assert.equal((await h.call('POST', '/apis/strata/v1/apply?delete=cnp/shop/db-allow', { body: '' })).code, 200);
});

test('a staged Delete enforces as the removal of the enforced policy and of the staged one', () => {
  const del = stagedOf(secGuard(GUARD_RULES), true);
  assert.ok(del.ok);
  assert.deepEqual(del.value.spec, { stagedAction: 'Delete', tier: 'security' });
  assert.ok(validateDocument(del.value, syntheticOrigin('x')).ok, 'Calico accepts a Delete with only the tier set');
  const e = enforcementOf(del.value, true);
  assert.ok(e.ok);
  assert.deepEqual(e.value, { put: undefined, delete: ['stagednetworkpolicies/shop/sec-guard', 'networkpolicies.projectcalico.org/shop/sec-guard'], action: 'Delete' });
  const k8s = stagedOf({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'k', namespace: 'shop', uid: 'u', resourceVersion: '3' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
  assert.ok(k8s.ok);
  assert.deepEqual(k8s.value, { apiVersion: 'projectcalico.org/v3', kind: 'StagedKubernetesNetworkPolicy', metadata: { name: 'k', namespace: 'shop' }, spec: { stagedAction: 'Set', podSelector: {}, policyTypes: ['Ingress'] } });
  const back = enforcementOf(k8s.value, false);
  assert.ok(back.ok);
  assert.deepEqual(back.value.put, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'k', namespace: 'shop' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
  assert.equal(stagedOf(del.value).ok, false, 'a staged policy has no staged counterpart');
});

const invariant = (name: string, admission?: 'reject' | 'warn') => ({
  apiVersion: 'strata/v1',
  kind: 'ConnectivityInvariant',
  metadata: { name },
  spec: { from: { namespaceSelector: 'all()', selector: 'app == "tool"' }, to: { namespaceSelector: 'all()', selector: 'app == "db"' }, must: 'deny', ...(admission === undefined ? {} : { admission }) },
});

test('writes that break a stored ConnectivityInvariant are refused (or warned), naming the invariant and a flow', async () => {
  assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: [invariant('tool-never-db')] })).code, 200);
  const open = secGuard([{ action: 'Allow' }]);
  const refused = await h.call('PUT', '/apis/projectcalico.org/v3/namespaces/shop/networkpolicies/sec-guard', { body: open });
  assert.equal(refused.code, 422, refused.text);
  const cause = refused.json.details.causes.find((c: any) => c.reason === 'invariant/violated');
  assert.equal(cause.field, undefined, 'the field is the invariant\'s, not the written policy\'s');
  assert.match(cause.message, /^ConnectivityInvariant "tool-never-db" \(must deny\) is broken: shop\/tool → shop\/db TCP 1 \(ports 1-5431 alike\) is allowed by ingress NetworkPolicy shop\/sec-guard in tier security, rule 0/);
  assert.equal((await h.call('GET', '/apis/projectcalico.org/v3/namespaces/shop/networkpolicies/sec-guard')).json.spec.ingress.length, 3, 'not applied');
  const batch = await h.call('POST', '/apis/strata/v1/apply', { body: [open] });
  assert.equal(batch.code, 422);
  // alice's relabel would let tool through the security tier: refused, without naming what she may not read.
  const nonWeb = { ...invariant('non-web-never-db'), spec: { ...invariant('x').spec, from: { namespaceSelector: 'all()', selector: 'app != "web"' } } };
  assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: [nonWeb] })).code, 200);
  const relabel = await h.call('PUT', '/api/v1/namespaces/shop/pods/tool', { token: 'alice-token', body: pod('tool', 'admin', '10.1.0.3') });
  assert.equal(relabel.code, 422, relabel.text);
  assert.match(relabel.json.details.causes[0].message, /^ConnectivityInvariant "non-web-never-db" \(must deny\) is broken: shop\/tool → shop\/db TCP 1 \(ports 1-5431 alike\) is allowed by ingress NetworkPolicy \(not shown\)/);
  assert.doesNotMatch(relabel.text, /sec-guard|security/);
  assert.equal((await h.call('DELETE', '/apis/strata/v1/connectivityinvariants/non-web-never-db')).code, 200);
  // The preview says what apply would refuse, and still shows the lines.
  const preview = await h.call('POST', '/apis/strata/v1/diff', { body: [open] });
  assert.equal(preview.code, 200);
  assert.deepEqual(preview.json.summary.invariants.map((i: any) => [i.name, i.admission]), [['tool-never-db', 'reject']]);
  assert.ok(preview.json.lines.some((l: any) => l.from === 'shop/tool' && l.to === 'shop/db' && l.change === 'opened'));
  // A new invariant the state already breaks is refused too; one the change does not touch is no obstacle.
  const broken = { ...invariant('web-never-db'), spec: { ...invariant('x').spec, from: { namespaceSelector: 'all()', selector: 'app == "web"' } } };
  const br = await h.call('POST', '/apis/strata/v1/apply', { body: [broken] });
  assert.equal(br.code, 422, 'web reaches db through the profile');
  assert.ok(br.json.details.causes.some((c: any) => c.reason === 'invariant/violated' && c.field === '[0].spec.must' && /web-never-db/.test(c.message)), br.text);
  assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: [pod('web2', 'web', '10.1.0.4')] })).code, 200);
  // An endpoint the write adds is checked too: its flows are in no diff (it has no before).
  const admins = { ...invariant('admins-never-db'), spec: { ...invariant('x').spec, from: { namespaceSelector: 'all()', selector: 'app == "admin"' } } };
  assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: [admins] })).code, 200, 'no admin pod yet: kept');
  const newAdmin = await h.call('POST', '/api/v1/namespaces/shop/pods', { body: pod('a1', 'admin', '10.1.0.5') });
  assert.equal(newAdmin.code, 422, newAdmin.text);
  assert.match(newAdmin.json.details.causes[0].message, /^ConnectivityInvariant "admins-never-db" \(must deny\) is broken: shop\/a1 → shop\/db .* is allowed by ingress NetworkPolicy shop\/sec-guard in tier security, rule 0/);
  assert.equal((await h.call('DELETE', '/apis/strata/v1/connectivityinvariants/admins-never-db')).code, 200);

  // admission: warn — accepted, with a Warning header and the warning in the ApplyResult.
  assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: [invariant('tool-never-db', 'warn')] })).code, 200);
  const warned = await h.server.app.inject({ method: 'PUT', url: '/apis/projectcalico.org/v3/namespaces/shop/networkpolicies/sec-guard', headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' }, payload: JSON.stringify(open) });
  assert.equal(warned.statusCode, 200, warned.body);
  assert.match(String(warned.headers['warning']), /^299 - "ConnectivityInvariant \\"tool-never-db\\" \(must deny\) is broken: shop\/tool -> shop\/db/);
  // Already broken: a write that changes none of its flows is not blocked by it, and restoring the guard is allowed.
  assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: [pod('web3', 'web', '10.1.0.6')] })).json.warnings, undefined);
  const restore = await h.call('POST', '/apis/strata/v1/apply', { body: [secGuard(GUARD_RULES)] });
  assert.equal(restore.code, 200, restore.text);
  assert.equal(restore.json.warnings, undefined);
  assert.equal((await h.call('POST', '/apis/strata/v1/apply?delete=connectivityinvariants/tool-never-db,pods/shop/web2,pods/shop/web3', { body: '' })).code, 200);
});

const ADMIN_RBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: admin-policy-editor}
rules:
- {apiGroups: [policy.networking.k8s.io], resources: [clusternetworkpolicies, adminnetworkpolicies, baselineadminnetworkpolicies], verbs: ['*']}
- {apiGroups: [projectcalico.org], resources: [tiers], resourceNames: [kube-baseline], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-admin-policy-editor}
subjects: [{kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: admin-policy-editor, apiGroup: rbac.authorization.k8s.io}
`;

const cnp = (name: string, tierName: string) => ({
  apiVersion: 'policy.networking.k8s.io/v1alpha2',
  kind: 'ClusterNetworkPolicy',
  metadata: { name },
  spec: { tier: tierName, priority: 10, subject: { namespaces: {} }, ingress: [{ name: 'deny-all', action: 'Deny', from: [{ namespaces: {} }] }] },
});

test('admin policies are tiered by where the engine puts them: kube-admin and kube-baseline', async () => {
  assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: ADMIN_RBAC, contentType: 'application/yaml' })).code, 200);
  const CNPS = '/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies';
  const bob = { token: 'bob-token' };
  const base = await h.call('POST', CNPS, { ...bob, body: cnp('baseline-one', 'Baseline') });
  assert.equal(base.code, 201, base.text);
  const adm = await h.call('POST', CNPS, { ...bob, body: cnp('admin-one', 'Admin') });
  assert.equal(adm.code, 403);
  assert.equal(adm.json.message, 'clusternetworkpolicies.policy.networking.k8s.io "admin-one" is forbidden: User "bob" cannot create clusternetworkpolicies.policy.networking.k8s.io in tier "kube-admin" (user cannot get tier)');
  assert.equal((await h.call('POST', CNPS, { body: cnp('admin-one', 'Admin') })).code, 201);
  assert.equal((await h.call('GET', `${CNPS}/admin-one`, bob)).code, 403, 'nor read it');
  assert.equal((await h.call('GET', `${CNPS}/baseline-one`, bob)).code, 200);
  const listed = await h.call('GET', CNPS, bob);
  assert.deepEqual(listed.json.items.map((i: any) => i.metadata.name), ['baseline-one'], 'a list leaves out the kube-admin tier');
  const move = await h.call('PUT', `${CNPS}/baseline-one`, { ...bob, body: cnp('baseline-one', 'Admin') });
  assert.equal(move.code, 403, 'moving it into kube-admin is refused');
  assert.equal((await h.call('DELETE', `${CNPS}/admin-one`, bob)).code, 403);
  const anp = { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'AdminNetworkPolicy', metadata: { name: 'a' }, spec: { priority: 1, subject: { namespaces: {} }, ingress: [{ name: 'd', action: 'Deny', from: [{ namespaces: {} }] }] } };
  const banp = { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'BaselineAdminNetworkPolicy', metadata: { name: 'default' }, spec: { subject: { namespaces: {} }, ingress: [{ name: 'd', action: 'Deny', from: [{ namespaces: {} }] }] } };
  assert.equal((await h.call('POST', '/apis/strata/v1/apply', { ...bob, body: [anp] })).code, 403);
  const b = await h.call('POST', '/apis/strata/v1/apply', { ...bob, body: [banp] });
  assert.equal(b.code, 200, b.text);
  // Plain RBAC on the resource is still needed: alice may get no tier of these.
  assert.equal((await h.call('GET', CNPS, { token: 'alice-token' })).code, 403);
  const can = async (name: string) =>
    (await h.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { ...bob, body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'create', group: 'policy.networking.k8s.io', resource: 'clusternetworkpolicies', name } } } })).json.status.allowed;
  assert.equal(await can('kube-baseline.x'), true);
  assert.equal(await can('kube-admin.x'), false);
  for (const url of [`${CNPS}/admin-one`, `${CNPS}/baseline-one`, '/apis/policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies/default']) assert.equal((await h.call('DELETE', url)).code, 200);
});

test('admission sees a relabel that moves an endpoint into an invariant without changing any verdict', () => {
  const engine = createEngineState();
  const v = (o: unknown): Resource => {
    const r = validateDocument(o, syntheticOrigin('x'));
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    return r.value!;
  };
  const p = (name: string, app: string, ip: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'n', labels: { app } }, spec: { containers: [{ name: 'c' }] }, status: { podIP: ip } });
  engine.apply([
    { key: 'ns', resource: v({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } }) },
    { key: 'a', resource: v(p('a', 'x', '10.9.0.1')) },
    { key: 'db', resource: v(p('db', 'db', '10.9.0.2')) },
    { key: 'inv', resource: v({ apiVersion: 'strata/v1', kind: 'ConnectivityInvariant', metadata: { name: 'secret-never-db' }, spec: { from: { namespaceSelector: 'all()', selector: 'app == "secret"' }, to: { namespaceSelector: 'all()', selector: 'app == "db"' }, must: 'deny' } }) },
  ]);
  // No policy: a → db is allowed before and after (by the profile), so the diff is empty.
  const change = [{ key: 'a', resource: v(p('a', 'secret', '10.9.0.1')) }];
  const preview = engine.preview(change);
  assert.ok(preview.ok);
  assert.deepEqual(preview.diff.changes.filter((c) => c.before !== c.after), []);
  const r = engine.validateChanges(change);
  assert.equal(r.ok, false);
  assert.match(r.breaks[0]!.diagnostic.message, /^ConnectivityInvariant "secret-never-db" \(must deny\) is broken: n\/a → n\/db /);
  assert.equal(engine.validateChanges([{ key: 'a', resource: v(p('a', 'y', '10.9.0.1')) }]).ok, true, 'a relabel the promise does not cover');
});
