// Calico's selector composition, checked against the worked outputs in the reference study
// (shared/reference/calico-semantics.md §3.2, §3.4, §8.2), which were computed from
// libcalico-go/lib/backend/syncersv1/updateprocessors/{rules,networkpolicyprocessor,
// globalnetworkpolicyprocessor}.go at commit 87c15906.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeEntitySelector, composeGlobalPolicySelector, composeNamespacedPolicySelector, k8sSelectorText } from '../../src/engine/compose.ts';
import { parseSelector } from '../../src/selector/index.ts';

const canon = (text: string): string => {
  const r = parseSelector(text);
  assert.ok(r.ok, text);
  return r.value.canonical;
};
const entity = (e: Partial<Parameters<typeof composeEntitySelector>[0]>, ns: string | undefined): string | undefined =>
  composeEntitySelector({ selector: '', notSelector: '', namespaceSelector: '', serviceAccountNames: [], serviceAccountSelector: '', ...e }, ns)?.canonical;

const ruleCases: readonly [string, Partial<Parameters<typeof composeEntitySelector>[0]>, string | undefined, string | undefined][] = [
  ['a namespaced rule selector is confined to the policy namespace', { selector: "app == 'web'" }, 'prod', '(projectcalico.org/namespace == "prod" && app == "web")'],
  ['a namespaceSelector replaces the namespace confinement', { namespaceSelector: "team == 'x'", selector: "app == 'web'" }, 'prod', '(pcns.team == "x" && app == "web")'],
  ['service account names become a set on the SA label', { serviceAccountNames: ['sa1', 'sa2'] }, 'prod', '(projectcalico.org/namespace == "prod" && projectcalico.org/serviceaccount in {"sa1", "sa2"})'],
  [
    'an SA selector and names are AND-ed, SA labels prefixed pcsa.',
    { serviceAccountSelector: "role == 'admin'", serviceAccountNames: ['sa1'] },
    'prod',
    '(projectcalico.org/namespace == "prod" && (pcsa.role == "admin" && projectcalico.org/serviceaccount in {"sa1"}))',
  ],
  [
    'a GNP namespaceSelector is prefixed and AND-ed',
    { namespaceSelector: "team in {'a','b'} && !has(legacy)", selector: "app == 'web'" },
    undefined,
    '((pcns.team in {"a", "b"} && !has(pcns.legacy)) && app == "web")',
  ],
  ['all() in a namespaceSelector means any namespaced endpoint', { namespaceSelector: 'all()' }, 'prod', 'has(projectcalico.org/namespace)'],
  ['global() in a namespaceSelector means no namespace', { namespaceSelector: 'global()', selector: "feed == 'x'" }, 'prod', '(!has(projectcalico.org/namespace) && feed == "x")'],
  ['a lone notSelector in a namespaced policy still confines to the namespace', { notSelector: "app == 'x'" }, 'prod', 'projectcalico.org/namespace == "prod"'],
  ['a lone notSelector in a GNP adds no positive selector', { notSelector: "app == 'x'" }, undefined, undefined],
  ['nets- or ports-only sides have no selector at all', {}, 'prod', undefined],
];

for (const [name, input, ns, want] of ruleCases) {
  test(`rule selector: ${name}`, () => assert.equal(entity(input, ns), want === undefined ? undefined : canon(want)));
}

test('policy selector: a NetworkPolicy adds its namespace clause', () => {
  assert.equal(
    composeNamespacedPolicySelector({ selector: "app == 'web'", namespaceSelector: '', serviceAccountSelector: '' }, 'prod').canonical,
    canon("(app == 'web') && projectcalico.org/namespace == 'prod'"),
  );
  assert.equal(composeNamespacedPolicySelector({ selector: '', namespaceSelector: '', serviceAccountSelector: '' }, 'prod').canonical, canon("projectcalico.org/namespace == 'prod'"));
});

test('policy selector: a NetworkPolicy serviceAccountSelector all() is not rewritten (matches pods without SA)', () => {
  assert.equal(
    composeNamespacedPolicySelector({ selector: '', namespaceSelector: '', serviceAccountSelector: 'all()' }, 'prod').canonical,
    canon("(projectcalico.org/namespace == 'prod') && all()"),
  );
});

test('policy selector: a GNP namespaceSelector all() becomes has(projectcalico.org/namespace) everywhere, SA all() has(serviceaccount)', () => {
  assert.equal(composeGlobalPolicySelector({ selector: 'all()', namespaceSelector: 'all()', serviceAccountSelector: '' }).canonical, canon('(has(projectcalico.org/namespace)) && has(projectcalico.org/namespace)'));
  assert.equal(composeGlobalPolicySelector({ selector: '', namespaceSelector: '', serviceAccountSelector: 'all()' }).canonical, canon('has(projectcalico.org/serviceaccount)'));
  assert.equal(composeGlobalPolicySelector({ selector: '', namespaceSelector: '', serviceAccountSelector: '' }).canonical, 'all()');
});

test('Kubernetes label selectors → Calico text (k8sSelectorToCalico)', () => {
  assert.equal(k8sSelectorText({ matchLabels: { podC: 'D', podA: 'B' } }, 'pod'), "projectcalico.org/orchestrator == 'k8s' && podA == 'B' && podC == 'D'");
  assert.equal(k8sSelectorText({}, 'pod'), "projectcalico.org/orchestrator == 'k8s'");
  assert.equal(k8sSelectorText(undefined, 'pod'), "projectcalico.org/orchestrator == 'k8s'");
  assert.equal(k8sSelectorText({}, 'namespace'), 'all()');
  assert.equal(k8sSelectorText(undefined, 'namespace'), '');
  assert.equal(
    k8sSelectorText({ matchExpressions: [{ key: 'a', operator: 'In', values: ['x', 'y'] }, { key: 'b', operator: 'NotIn', values: ['z'] }, { key: 'c', operator: 'Exists' }, { key: 'd', operator: 'DoesNotExist' }] }, 'namespace'),
    "a in { 'x', 'y' } && b not in { 'z' } && has(c) && ! has(d)",
  );
});
