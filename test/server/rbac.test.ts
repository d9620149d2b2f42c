// Pure parts of the server: kube-apiserver RBAC rule matching, Calico's tier rules, the token
// file, kubectl's resource names, label selectors and merge patch — as tables of cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTokenFile, authenticate, splitCsvLine } from '../../src/server/authn.ts';
import { rbacAllows, ruleAllows, tierAllows } from '../../src/server/rbac.ts';
import type { RbacState, ResourceAttributes } from '../../src/server/rbac.ts';
import type { PolicyRule } from '../../src/model/rbac.ts';
import { parseResourcePath, resolveResourceName } from '../../src/server/resources.ts';
import { labelsMatch, mergePatch, parseLabelSelector } from '../../src/server/objects.ts';
import type { UserInfo } from '../../src/server/authn.ts';

const attrs = (a: Partial<ResourceAttributes>): ResourceAttributes => ({ verb: 'get', apiGroup: '', resource: 'pods', ...a });

const ruleCases: readonly [string, PolicyRule, ResourceAttributes, boolean][] = [
  ['a star verb matches every verb', { verbs: ['*'], apiGroups: [''], resources: ['pods'] }, attrs({ verb: 'delete' }), true],
  ['a verb not listed does not match', { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, attrs({ verb: 'list' }), false],
  ['the API group must match', { verbs: ['get'], apiGroups: ['apps'], resources: ['pods'] }, attrs({}), false],
  ['a star group matches any group', { verbs: ['get'], apiGroups: ['*'], resources: ['pods'] }, attrs({ apiGroup: 'projectcalico.org' }), true],
  ['a resource does not grant its subresources', { verbs: ['update'], apiGroups: [''], resources: ['pods'] }, attrs({ verb: 'update', subresource: 'status' }), false],
  ['resource/subresource grants the subresource', { verbs: ['update'], apiGroups: [''], resources: ['pods/status'] }, attrs({ verb: 'update', subresource: 'status' }), true],
  ['star/subresource grants it for every resource', { verbs: ['update'], apiGroups: [''], resources: ['*/status'] }, attrs({ verb: 'update', subresource: 'status' }), true],
  ['resourceNames restrict to those names', { verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }, attrs({ name: 'b' }), false],
  ['resourceNames match the named object', { verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }, attrs({ name: 'a' }), true],
  ['resourceNames never match a request without a name (list)', { verbs: ['list'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }, attrs({ verb: 'list' }), false],
];

for (const [name, rule, a, want] of ruleCases) {
  test(`RBAC rule: ${name}`, () => assert.equal(ruleAllows(rule, a), want));
}

const alice: UserInfo = { username: 'alice', uid: '1', groups: ['devs', 'system:authenticated'] };
const sa: UserInfo = { username: 'system:serviceaccount:ci:deployer', uid: '2', groups: ['system:authenticated'] };
const root: UserInfo = { username: 'root', uid: '0', groups: ['system:masters'] };

const state: RbacState = {
  roles: new Map([['team/pod-reader', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pod-reader', namespace: 'team' }, rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }] }]]),
  clusterRoles: new Map([
    ['tier-app', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'tier-app' }, rules: [{ verbs: ['get'], apiGroups: ['projectcalico.org'], resources: ['tiers'], resourceNames: ['app'] }] }],
    ['app-policies', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'app-policies' }, rules: [{ verbs: ['get', 'create'], apiGroups: ['projectcalico.org'], resources: ['tier.networkpolicies'], resourceNames: ['app.*'] }, { verbs: ['delete'], apiGroups: ['projectcalico.org'], resources: ['tier.networkpolicies'], resourceNames: ['app.one'] }] }],
  ]),
  roleBindings: [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'b1', namespace: 'team' }, subjects: [{ kind: 'Group', name: 'devs' }, { kind: 'ServiceAccount', name: 'deployer', namespace: 'ci' }], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'b2', namespace: 'team' }, subjects: [{ kind: 'User', name: 'alice' }], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'app-policies' } },
  ],
  clusterRoleBindings: [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'c1' }, subjects: [{ kind: 'User', name: 'alice' }], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tier-app' } }],
};

const bindingCases: readonly [string, UserInfo, ResourceAttributes, boolean][] = [
  ['a RoleBinding grants inside its namespace through a group', alice, attrs({ verb: 'list', namespace: 'team' }), true],
  ['a RoleBinding grants nothing in another namespace', alice, attrs({ verb: 'list', namespace: 'other' }), false],
  ['a RoleBinding grants nothing cluster-wide (all-namespaces list)', alice, attrs({ verb: 'list' }), false],
  ['a service account subject matches system:serviceaccount:NS:NAME', sa, attrs({ namespace: 'team' }), true],
  ['a ClusterRoleBinding grants at cluster scope', alice, attrs({ verb: 'get', apiGroup: 'projectcalico.org', resource: 'tiers', name: 'app' }), true],
  ['system:masters may do anything', root, attrs({ verb: 'delete', resource: 'secrets', namespace: 'x' }), true],
];

for (const [name, user, a, want] of bindingCases) {
  test(`RBAC bindings: ${name}`, () => assert.equal(rbacAllows(state, user, a).allowed, want));
}

const tierCases: readonly [string, Parameters<typeof tierAllows>[2], boolean, boolean][] = [
  ['the tier and TIER.* allow the verb in the bound namespace', { verb: 'create', tierResource: 'tier.networkpolicies', tier: 'app', namespace: 'team', name: 'x' }, true, true],
  ['a namespace without the binding refuses', { verb: 'create', tierResource: 'tier.networkpolicies', tier: 'app', namespace: 'other', name: 'x' }, false, true],
  ['a tier the user cannot get refuses, whatever the policy rules', { verb: 'get', tierResource: 'tier.networkpolicies', tier: 'security', namespace: 'team', name: 'x' }, false, false],
  ['TIER.NAME grants that one policy', { verb: 'delete', tierResource: 'tier.networkpolicies', tier: 'app', namespace: 'team', name: 'one' }, true, true],
  ['TIER.NAME does not grant another policy', { verb: 'delete', tierResource: 'tier.networkpolicies', tier: 'app', namespace: 'team', name: 'two' }, false, true],
  ['another pseudo-resource is not granted', { verb: 'get', tierResource: 'tier.globalnetworkpolicies', tier: 'app', name: 'x' }, false, true],
];

for (const [name, req, allowed, canGetTier] of tierCases) {
  test(`tier rules: ${name}`, () => {
    const d = tierAllows(state, alice, req);
    assert.deepEqual([d.allowed, d.canGetTier], [allowed, canGetTier]);
  });
}

test('the token file reads kube-apiserver CSV: quoted groups, comments, duplicate tokens refused', () => {
  assert.deepEqual(splitCsvLine('t,u,1,"a,b"'), ['t', 'u', '1', 'a,b']);
  const r = parseTokenFile('# comment\nt1,alice,1,"devs,ops"\nt2,bob\n', 'tokens.csv');
  assert.ok(r.ok);
  assert.deepEqual(authenticate(r.value, 'Bearer t1'), { username: 'alice', uid: '1', groups: ['devs', 'ops', 'system:authenticated'] });
  assert.equal(authenticate(r.value, 'Bearer t2')?.uid, 'bob');
  assert.equal(authenticate(r.value, 'Basic t1'), undefined);
  assert.equal(authenticate(r.value, undefined), undefined);
  const dup = parseTokenFile('t,a\nt,b\n', 'tokens.csv');
  assert.equal(dup.ok, false);
  assert.equal(dup.ok ? 0 : dup.diagnostics[0]!.span?.line, 2);
});

const nameCases: readonly [string, string | undefined][] = [
  ['pods', 'core/pods'],
  ['po', 'core/pods'],
  ['Pod', 'core/pods'],
  ['networkpolicies', 'networking.k8s.io/networkpolicies'],
  ['netpol', 'networking.k8s.io/networkpolicies'],
  ['networkpolicies.projectcalico.org', 'projectcalico.org/networkpolicies'],
  ['networkpolicies.p', 'projectcalico.org/networkpolicies'],
  ['cnp', 'projectcalico.org/networkpolicies'],
  ['gnp', 'projectcalico.org/globalnetworkpolicies'],
  ['tier', 'projectcalico.org/tiers'],
  ['clusterrolebindings', 'rbac.authorization.k8s.io/clusterrolebindings'],
  ['configmaps', undefined],
];

for (const [text, want] of nameCases) {
  test(`kubectl resource name "${text}" resolves to ${want ?? 'nothing'}`, () => {
    const r = resolveResourceName(text);
    assert.equal(r === undefined ? undefined : `${r.group === '' ? 'core' : r.group}/${r.plural}`, want);
  });
}

test('request paths parse as kube-apiserver lays them out', () => {
  const p = parseResourcePath('/api/v1/namespaces/ns/pods/web/status');
  assert.ok(p?.ok);
  assert.deepEqual([p.value.info.plural, p.value.namespace, p.value.name, p.value.subresource], ['pods', 'ns', 'web', 'status']);
  const n = parseResourcePath('/api/v1/namespaces/ns');
  assert.ok(n?.ok);
  assert.deepEqual([n.value.info.plural, n.value.namespace, n.value.name], ['namespaces', undefined, 'ns']);
  assert.equal(parseResourcePath('/apis/projectcalico.org/v3/namespaces/x/tiers')?.ok, false, 'tiers are cluster-scoped');
  assert.equal(parseResourcePath('/apis/projectcalico.org/v3/tiers/t/status')?.ok, false, 'no such subresource');
  assert.equal(parseResourcePath('/healthz'), undefined);
});

const selectorCases: readonly [string, Record<string, string>, boolean][] = [
  ['app=web', { app: 'web' }, true],
  ['app==web,tier!=db', { app: 'web', tier: 'db' }, false],
  ['env in (prod, staging)', { env: 'staging' }, true],
  ['env notin (prod)', {}, true],
  ['app', { app: '' }, true],
  ['!app', { app: 'x' }, false],
];

for (const [text, labels, want] of selectorCases) {
  test(`label selector "${text}" on ${JSON.stringify(labels)} is ${want}`, () => {
    const r = parseLabelSelector(text);
    assert.ok(r.ok);
    assert.equal(labelsMatch(r.value, labels), want);
  });
}

test('a malformed label selector is an error, merge patch follows RFC 7386', () => {
  assert.equal(parseLabelSelector('a in b').ok, false);
  assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { b: { c: null, x: 1 }, e: [2], f: 'g' }), { a: 1, b: { d: 3, x: 1 }, e: [2], f: 'g' });
});
