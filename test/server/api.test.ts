// The API server in-process (fastify inject) on a real SQLite store: CRUD with Kubernetes'
// status codes and Status bodies, validation by the engine (422 with field causes), batch
// apply, tier RBAC on reads and writes, audit, discovery and the live explain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';
import { loadPaths } from '../../src/load/index.ts';
import { buildCluster, makeFlow } from '../../src/engine/index.ts';
import { explainFlow } from '../../src/analysis/explain.ts';
import { computeMatrix } from '../../src/analysis/matrix.ts';
import { classMatrix } from '../../src/analysis/matrix-view.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const CNP = '/apis/projectcalico.org/v3/namespaces';
const tier = (name: string, order: number) => ({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name }, spec: { order } });
const policy = (ns: string, name: string, tierName: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: ns },
  spec: { tier: tierName, selector: 'app == "web"', types: ['Ingress'], ingress: [{ action: 'Allow' }], ...extra },
});

test('create, get, list, update with optimistic concurrency, merge patch and delete follow kube-apiserver', async () => {
  assert.equal((await h.call('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'crud' } } })).code, 201);
  const created = await h.call('POST', '/api/v1/namespaces/crud/pods', {
    body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
  });
  assert.equal(created.code, 201);
  const meta = created.json.metadata;
  assert.equal(meta.namespace, 'crud');
  assert.match(meta.uid, /^[0-9a-f-]{36}$/);
  assert.match(meta.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(meta.generation, 1);
  assert.match(meta.resourceVersion, /^\d+$/);

  const again = await h.call('POST', '/api/v1/namespaces/crud/pods', { body: created.json });
  assert.equal(again.code, 409);
  assert.equal(again.json.reason, 'AlreadyExists');
  assert.equal(again.json.message, 'pods "web" already exists');

  const got = await h.call('GET', '/api/v1/namespaces/crud/pods/web');
  assert.equal(got.code, 200);
  assert.deepEqual(got.json.metadata, meta);

  const updated = await h.call('PUT', '/api/v1/namespaces/crud/pods/web', { body: { ...got.json, spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } });
  assert.equal(updated.code, 200);
  assert.equal(updated.json.metadata.generation, 2);
  assert.equal(updated.json.metadata.uid, meta.uid);

  const stale = await h.call('PUT', '/api/v1/namespaces/crud/pods/web', { body: got.json });
  assert.equal(stale.code, 409);
  assert.equal(stale.json.reason, 'Conflict');
  assert.match(stale.json.message, /^Operation cannot be fulfilled on pods "web": the object has been modified/);

  const patched = await h.call('PATCH', '/api/v1/namespaces/crud/pods/web', { body: { metadata: { labels: { app: 'web', tier: 'front' } } }, contentType: 'application/merge-patch+json' });
  assert.equal(patched.code, 200);
  assert.deepEqual(patched.json.metadata.labels, { app: 'web', tier: 'front' });
  assert.equal(patched.json.spec.containers[0].image, 'nginx:2');

  const jsonPatch = await h.call('PATCH', '/api/v1/namespaces/crud/pods/web', { body: [{ op: 'add' }], contentType: 'application/json-patch+json' });
  assert.equal(jsonPatch.code, 415);

  const selected = await h.call('GET', '/api/v1/namespaces/crud/pods?labelSelector=tier%3Dfront');
  assert.deepEqual(selected.json.items.map((i: any) => i.metadata.name), ['web']);
  assert.equal(selected.json.kind, 'PodList');
  assert.equal((await h.call('GET', '/api/v1/namespaces/crud/pods?labelSelector=tier+notin+(front)')).json.items.length, 0);
  assert.equal((await h.call('GET', '/api/v1/pods?fieldSelector=metadata.namespace%3Dcrud')).json.items.length, 1);
  assert.equal((await h.call('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dother')).json.items.length, 0);

  const status = await h.call('PUT', '/api/v1/namespaces/crud/pods/web/status', { body: { ...patched.json, spec: { containers: [] }, status: { podIP: '10.0.0.5', podIPs: [{ ip: '10.0.0.5' }] } } });
  assert.equal(status.code, 200);
  assert.equal(status.json.status.podIP, '10.0.0.5');
  assert.equal(status.json.spec.containers[0].image, 'nginx:2', '/status leaves the spec alone');

  const del = await h.call('DELETE', '/api/v1/namespaces/crud/pods/web');
  assert.equal(del.code, 200);
  assert.equal(del.json.status, 'Success');
  const gone = await h.call('GET', '/api/v1/namespaces/crud/pods/web');
  assert.equal(gone.code, 404);
  assert.equal(gone.json.message, 'pods "web" not found');
  assert.equal(gone.json.reason, 'NotFound');
});

const invalidCases: readonly { name: string; body: unknown; field: string; reason: RegExp }[] = [
  { name: 'a bad selector is refused with its field path', body: policy('crud', 'bad-sel', 'default', { selector: 'app ==' }), field: 'spec.selector', reason: /invalid-selector/ },
  { name: 'an unknown field is refused at its path', body: policy('crud', 'bad-field', 'default', { ingres: [] }), field: 'spec.ingres', reason: /^model\// },
  { name: 'a policy in a missing tier is refused by the engine', body: policy('crud', 'no-tier', 'nosuch'), field: 'spec.tier', reason: /^engine\/tier-not-found$/ },
];

for (const c of invalidCases) {
  test(`422 Invalid: ${c.name}`, async () => {
    const r = await h.call('POST', `${CNP}/crud/networkpolicies`, { body: c.body });
    assert.equal(r.code, 422, r.text);
    assert.equal(r.json.kind, 'Status');
    assert.equal(r.json.reason, 'Invalid');
    const cause = r.json.details.causes.find((x: any) => x.field === c.field);
    assert.ok(cause, JSON.stringify(r.json.details.causes));
    assert.match(cause.reason, c.reason);
    assert.equal(r.text.includes('    at '), false, 'no stack trace');
  });
}

test('malformed bodies are 400, oversized ones 413, and neither carries a stack trace', async () => {
  const bad = await h.call('POST', '/api/v1/namespaces', { body: '{"apiVersion": "v1", ' });
  assert.equal(bad.code, 400);
  assert.match(bad.json.message, /not valid JSON/);
  const badYaml = await h.call('POST', '/apis/strata/v1/apply', { body: 'a: [b\n', contentType: 'application/yaml' });
  assert.equal(badYaml.code, 400);
  assert.match(badYaml.json.message, /not valid YAML/);
  const huge = await h.call('POST', '/api/v1/namespaces', { body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', annotations: { a: 'x'.repeat(4 * 1024 * 1024) } } }) });
  assert.equal(huge.code, 413);
  assert.equal(huge.json.reason, 'RequestEntityTooLarge');
  const wrongKind = await h.call('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } } });
  assert.equal(wrongKind.code, 400);
  const wrongNs = await h.call('POST', '/api/v1/namespaces/crud/pods', { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x', namespace: 'other' }, spec: { containers: [] } } });
  assert.equal(wrongNs.code, 400);
  assert.equal((await h.call('GET', '/apis/nosuch.group/v1/things')).code, 404);
  const options = await h.call('OPTIONS', '/api/v1/namespaces');
  assert.deepEqual([options.code, options.json.kind], [405, 'Status']);
});

test('no token or an unknown token is 401; a user without RBAC is 403 in kube-apiserver words', async () => {
  for (const token of [null, 'wrong']) {
    const r = await h.call('GET', '/api/v1/namespaces', { token });
    assert.equal(r.code, 401);
    assert.equal(r.json.reason, 'Unauthorized');
  }
  const r = await h.call('GET', '/api/v1/namespaces/crud/pods', { token: 'bob-token' });
  assert.equal(r.code, 403);
  assert.equal(r.json.message, 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "crud"');
  assert.equal((await h.call('GET', '/healthz', { token: null })).code, 200);
});

test('batch apply is all or nothing and reports created, configured and unchanged per document', async () => {
  const docs = (extra: string) => `apiVersion: v1
kind: Namespace
metadata: {name: batch}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: batch-tier}
spec: {order: 50}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p1, namespace: batch}
spec: {tier: batch-tier, selector: all()${extra}}
`;
  const broken = await h.call('POST', '/apis/strata/v1/apply', { body: docs(', bogus: 1'), contentType: 'application/yaml' });
  assert.equal(broken.code, 422, broken.text);
  assert.equal(broken.json.details.causes[0].field, '[2].spec.bogus');
  assert.equal((await h.call('GET', '/api/v1/namespaces/batch')).code, 404, 'nothing half-applied');

  const first = await h.call('POST', '/apis/strata/v1/apply', { body: docs(''), contentType: 'application/yaml' });
  assert.equal(first.code, 200, first.text);
  assert.deepEqual(first.json.results.map((r: any) => r.action), ['created', 'created', 'created']);
  const second = await h.call('POST', '/apis/strata/v1/apply', { body: docs(''), contentType: 'application/yaml' });
  assert.deepEqual(second.json.results.map((r: any) => r.action), ['unchanged', 'unchanged', 'unchanged']);
  const third = await h.call('POST', '/apis/strata/v1/apply', { body: docs(', order: 5'), contentType: 'application/yaml' });
  assert.deepEqual(third.json.results.map((r: any) => r.action), ['unchanged', 'unchanged', 'configured']);

  const tierDelete = await h.call('DELETE', '/apis/projectcalico.org/v3/tiers/batch-tier');
  assert.equal(tierDelete.code, 422, 'a tier that still holds a policy stays');
  assert.match(tierDelete.json.details.causes[0].message, /NetworkPolicy\/batch\/p1/);
});

test('discovery lists resources with short names, and the OpenAPI document has their paths', async () => {
  const calico = await h.call('GET', '/apis/projectcalico.org/v3');
  const gnp = calico.json.resources.find((r: any) => r.name === 'globalnetworkpolicies');
  assert.deepEqual({ kind: gnp.kind, namespaced: gnp.namespaced, singularName: gnp.singularName }, { kind: 'GlobalNetworkPolicy', namespaced: false, singularName: 'globalnetworkpolicy' });
  assert.ok(gnp.shortNames.includes('gnp'));
  assert.ok(gnp.verbs.includes('watch'));
  const core = await h.call('GET', '/api/v1');
  assert.ok(core.json.resources.some((r: any) => r.name === 'pods/status'));
  const groups = await h.call('GET', '/apis');
  assert.ok(groups.json.groups.some((g: any) => g.name === 'rbac.authorization.k8s.io'));
  assert.equal((await h.call('GET', '/api')).json.versions[0], 'v1');
  const openapi = await h.call('GET', '/openapi/v2');
  assert.ok(openapi.json.paths['/apis/projectcalico.org/v3/namespaces/{namespace}/networkpolicies/{name}']);
  const metrics = await h.call('GET', '/metrics');
  assert.match(metrics.text, /strata_apiserver_request_total\{verb="create",resource="pods",code="201"\}/);
  assert.match(metrics.text, /strata_store_revision \d+/);
  assert.equal((await h.call('GET', '/metrics', { token: 'bob-token' })).code, 403);
});

// ---- tier RBAC

const RBAC_OBJECTS = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: get-application-tier}
rules:
- apiGroups: [projectcalico.org]
  resources: [tiers]
  resourceNames: [application]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: app-team-get-application-tier}
subjects: [{kind: Group, name: app-team, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: get-application-tier, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: edit-application-policies}
rules:
- apiGroups: [projectcalico.org]
  resources: [tier.networkpolicies]
  resourceNames: [application.*]
  verbs: ['*']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: app-team-edit, namespace: bookinfo}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: edit-application-policies, apiGroup: rbac.authorization.k8s.io}
`;

test('a user bound only to tier application in bookinfo edits there, is refused tier security, and does not see it', async () => {
  const setup = await h.call('POST', '/apis/strata/v1/apply', {
    body: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bookinfo' } },
      tier('application', 400),
      tier('security', 100),
      policy('bookinfo', 'sec-guard', 'security'),
    ],
  });
  assert.equal(setup.code, 200, setup.text);
  assert.equal((await h.call('POST', '/apis/strata/v1/apply', { body: RBAC_OBJECTS, contentType: 'application/yaml' })).code, 200);

  const alice = { token: 'alice-token' };
  const mine = await h.call('POST', `${CNP}/bookinfo/networkpolicies`, { ...alice, body: policy('bookinfo', 'app-allow', 'application') });
  assert.equal(mine.code, 201, mine.text);
  const changed = await h.call('PATCH', `${CNP}/bookinfo/networkpolicies/app-allow`, { ...alice, body: { spec: { order: 10 } }, contentType: 'application/merge-patch+json' });
  assert.equal(changed.code, 200, changed.text);

  const sec = await h.call('POST', `${CNP}/bookinfo/networkpolicies`, { ...alice, body: policy('bookinfo', 'mine-in-security', 'security') });
  assert.equal(sec.code, 403);
  assert.equal(
    sec.json.message,
    'networkpolicies.projectcalico.org "mine-in-security" is forbidden: User "alice" cannot create networkpolicies.projectcalico.org in tier "security" and namespace "bookinfo" (user cannot get tier)',
  );
  const read = await h.call('GET', `${CNP}/bookinfo/networkpolicies/sec-guard`, alice);
  assert.equal(read.code, 403);
  const move = await h.call('PATCH', `${CNP}/bookinfo/networkpolicies/app-allow`, { ...alice, body: { spec: { tier: 'security' } }, contentType: 'application/merge-patch+json' });
  assert.equal(move.code, 403, 'moving a policy into a forbidden tier is refused');
  const del = await h.call('DELETE', `${CNP}/bookinfo/networkpolicies/sec-guard`, alice);
  assert.equal(del.code, 403);

  const listed = await h.call('GET', `${CNP}/bookinfo/networkpolicies`, alice);
  assert.equal(listed.code, 200);
  assert.deepEqual(listed.json.items.map((i: any) => i.metadata.name), ['app-allow']);
  const adminList = await h.call('GET', `${CNP}/bookinfo/networkpolicies`);
  assert.deepEqual(adminList.json.items.map((i: any) => i.metadata.name).sort(), ['app-allow', 'sec-guard']);
  const elsewhere = await h.call('GET', `${CNP}/crud/networkpolicies`, alice);
  assert.equal(elsewhere.code, 403);
  assert.match(elsewhere.json.message, /cannot list networkpolicies.projectcalico.org in tier "default" and namespace "crud" \(user cannot get tier\)$/);
  const allNs = await h.call('GET', '/apis/projectcalico.org/v3/networkpolicies', alice);
  assert.deepEqual(allNs.json.items.map((i: any) => i.metadata.name), ['app-allow']);
  assert.equal((await h.call('GET', '/apis/projectcalico.org/v3/tiers/security', alice)).code, 403);
  assert.equal((await h.call('GET', '/apis/projectcalico.org/v3/tiers/application', alice)).code, 200);

  const can = async (namespace: string, verb: string, name: string) =>
    (
      await h.call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        ...alice,
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace, verb, group: 'projectcalico.org', resource: 'networkpolicies', name } } },
      })
    ).json.status.allowed;
  assert.equal(await can('bookinfo', 'create', 'application.x'), true);
  assert.equal(await can('bookinfo', 'create', 'security.x'), false);
  assert.equal(await can('default', 'create', 'application.x'), false);
});

test('writes and refusals are audited to the JSONL file and the store, with tier and decision', async () => {
  const r = await h.call('GET', '/apis/strata/v1/auditevents?since=1h');
  assert.equal(r.code, 200);
  const events = r.json.items as any[];
  const refused = events.find((e) => e.objectRef?.name === 'mine-in-security');
  assert.ok(refused, 'the refused create is audited');
  assert.equal(refused.responseStatus.code, 403);
  assert.equal(refused.verb, 'create');
  assert.equal(refused.user.username, 'alice');
  assert.equal(refused.annotations['authorization.k8s.io/decision'], 'forbid');
  assert.equal(refused.annotations['projectcalico.org/tier'], 'security');
  assert.equal(refused.stage, 'ResponseComplete');
  assert.deepEqual(refused.objectRef, { resource: 'networkpolicies', namespace: 'bookinfo', name: 'mine-in-security', apiGroup: 'projectcalico.org', apiVersion: 'v3' });
  const created = events.find((e) => e.objectRef?.name === 'app-allow' && e.verb === 'create');
  assert.equal(created.responseStatus.code, 201);
  assert.equal(created.annotations['authorization.k8s.io/decision'], 'allow');
  assert.ok(events.some((e) => e.responseStatus.code === 401 && e.user.username === 'system:anonymous'));
  assert.ok(!events.some((e) => e.verb === 'get' && e.responseStatus.code === 200), 'plain reads are not audited');
  const lines = readFileSync(join(h.dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, events.length);
  assert.equal((await h.call('GET', '/apis/strata/v1/auditevents?since=yesterday-ish')).code, 400);
  assert.equal((await h.call('GET', '/apis/strata/v1/auditevents', { token: 'alice-token' })).code, 403);
});

// ---- the workshop through the API

function yamlFiles(p: string): string[] {
  if (statSync(p).isFile()) return [p];
  return readdirSync(p).sort().flatMap((f) => yamlFiles(join(p, f)));
}

test('the workshop manifests applied through the API give the same explain answers as offline', async () => {
  const dir = join(import.meta.dirname, '../../testdata/workshop');
  const paths = ['cluster', 'common', 'original-apps', 'enforce'].map((f) => join(dir, f));
  const fresh = await startHarness();
  try {
    const body = paths.flatMap(yamlFiles).map((f) => readFileSync(f, 'utf8')).join('\n---\n');
    const applied = await fresh.call('POST', '/apis/strata/v1/apply', { body, contentType: 'application/yaml' });
    assert.equal(applied.code, 200, applied.text);
    const offline = buildCluster((await loadPaths(paths)).resources).cluster;
    const flows = readFileSync(join(dir, 'step-5.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const strip = (o: unknown): unknown => JSON.parse(JSON.stringify(o, (k, v) => (k === 'source' ? undefined : v)));
    const live = await fresh.call('POST', '/apis/strata/v1/explain', { body: { flows: flows.map(({ from, to, port, protocol }) => ({ from, to, port, protocol })) } });
    assert.equal(live.code, 200, live.text);
    flows.forEach((x, i) => {
      const flow = makeFlow(offline, x);
      assert.ok(flow.ok);
      const want = explainFlow(offline, flow.value, { fromText: x.from, toText: x.to });
      assert.deepEqual(strip(live.json.results[i]), strip(want), `${x.from} -> ${x.to}`);
      assert.equal(live.json.results[i].verdict, x.verdict);
    });
    const pairs = await fresh.call('POST', '/apis/strata/v1/matrix', { body: { ports: ['9080/TCP'], format: 'json-pairs' } });
    assert.equal(pairs.code, 200);
    assert.ok(pairs.json.results.length > 0);
    assert.deepEqual(pairs.json.ports, ['9080/TCP']);
    const classes = await fresh.call('POST', '/apis/strata/v1/matrix', { body: { ports: ['9080/TCP'] } });
    assert.deepEqual(classes.json, classMatrix(computeMatrix(offline, { ports: [{ protocol: 6, port: 9080 }] })), 'the same JSON as strata matrix -o json');
  } finally {
    await fresh.close();
  }
});
