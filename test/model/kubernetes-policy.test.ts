// Kubernetes NetworkPolicy (and Calico's staged twin): networking/validation, one sentence each.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { knp, validateYaml } from './helpers.ts';

const cases: readonly [string, string, readonly string[]][] = [
  ['a default-deny policy', 'podSelector: {}\npolicyTypes: [Ingress, Egress]', []],
  ['no spec at all', '{}', []],
  [
    'a full policy',
    "podSelector:\n  matchLabels: {app: web}\ningress:\n  - from:\n      - podSelector: {matchLabels: {app: client}}\n        namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [a]}]}\n      - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n    ports:\n      - {port: 80}\n      - {port: http, protocol: UDP}\n      - {port: 8000, endPort: 8080}\negress:\n  - to: [{namespaceSelector: {}}]\n  - {}",
    [],
  ],
  ['a quoted port number', "ingress:\n  - ports: [{port: '80'}]", ['model/invalid-port@spec.ingress[0].ports[0].port']],
  ['an inverted endPort', 'ingress:\n  - ports: [{port: 90, endPort: 80}]', ['model/port-out-of-range@spec.ingress[0].ports[0].endPort']],
  ['endPort with a named port', 'egress:\n  - ports: [{port: dns, endPort: 80}]', ['model/invalid-port@spec.egress[0].ports[0].endPort']],
  ['protocol ICMP', 'ingress:\n  - ports: [{protocol: ICMP}]', ['model/invalid-protocol@spec.ingress[0].ports[0].protocol']],
  ['an empty peer', 'ingress:\n  - from: [{}]', ['model/missing-field@spec.ingress[0].from[0]']],
  ['ipBlock with a podSelector', 'ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]', ['model/invalid-combination@spec.ingress[0].from[0].ipBlock']],
  ['ipBlock with a bare address', 'egress:\n  - to: [{ipBlock: {cidr: 10.0.0.1}}]', ['model/invalid-cidr@spec.egress[0].to[0].ipBlock.cidr']],
  ['ipBlock with leading zeros', 'egress:\n  - to: [{ipBlock: {cidr: 010.0.0.0/8}}]', ['model/invalid-cidr@spec.egress[0].to[0].ipBlock.cidr']],
  ['an except outside cidr', 'egress:\n  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]', ['model/invalid-cidr@spec.egress[0].to[0].ipBlock.except[0]']],
  ['an except equal to cidr', 'egress:\n  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]', ['model/invalid-cidr@spec.egress[0].to[0].ipBlock.except[0]']],
  ['a missing cidr', 'egress:\n  - to: [{ipBlock: {except: [10.0.0.0/16]}}]', ['model/missing-field@spec.egress[0].to[0].ipBlock.cidr']],
  ['a bad policy type', 'policyTypes: [Ingress, egress]', ['model/invalid-value@spec.policyTypes[1]']],
  ['three policy types', 'policyTypes: [Ingress, Egress, Ingress]', ['model/invalid-value@spec.policyTypes']],
  ['from in an egress rule', 'egress:\n  - from: []', ['model/unknown-field@spec.egress[0].from']],
  ['a Calico action in a Kubernetes rule', 'ingress:\n  - action: Allow', ['model/unknown-field@spec.ingress[0].action']],
  ['a Calico selector string', "selector: app == 'web'", ['model/unknown-field@spec.selector']],
  ['In without values', 'podSelector:\n  matchExpressions: [{key: a, operator: In}]', ['model/invalid-selector@spec.podSelector.matchExpressions[0].values']],
];

describe('Kubernetes NetworkPolicy validation', () => {
  for (const [name, spec, errors] of cases) {
    test(name, () => {
      const o = validateYaml(knp(spec));
      assert.deepEqual(o.errors, errors, o.diagnostics.map((d) => `${d.code}@${d.path}: ${d.message}`).join('\n'));
    });
  }
  test('a missing namespace means default', () => {
    const r = validateYaml('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {}').resource;
    assert.equal(r?.namespace, 'default');
    assert.equal(r?.type, 'KubernetesNetworkPolicy');
  });
  test('port protocols default to TCP in the body', () => {
    const r = validateYaml(knp('ingress:\n  - ports: [{port: 80}]')).resource;
    if (r?.type !== 'KubernetesNetworkPolicy') assert.fail('expected a Kubernetes policy');
    assert.equal(r.body.spec?.ingress?.[0]?.ports?.[0]?.protocol, 'TCP');
  });
  test('status: {} from kubectl get is accepted', () => {
    assert.deepEqual(validateYaml(`${knp('{}')}\nstatus: {}`).errors, []);
  });
  test('a name must be a DNS-1123 subdomain', () => {
    assert.deepEqual(validateYaml(knp('{}', 'Web_Policy')).errors, ['model/invalid-name@metadata.name']);
  });
  test('the hint for an action explains that Kubernetes rules only allow', () => {
    assert.match(validateYaml(knp('ingress:\n  - action: Allow')).diagnostics[0]?.help ?? '', /can only allow/);
  });
});

describe('ipBlock host bits are accepted with a warning, as Calico masks them', () => {
  test('10.0.0.1/24 warns and suggests both readings', () => {
    const o = validateYaml(knp('egress:\n  - to: [{ipBlock: {cidr: 10.0.0.1/24, except: [10.0.0.1/30]}}]'));
    assert.deepEqual(o.errors, []);
    assert.deepEqual(o.warnings, ['model/cidr-host-bits@spec.egress[0].to[0].ipBlock.cidr', 'model/cidr-host-bits@spec.egress[0].to[0].ipBlock.except[0]']);
    assert.match(o.diagnostics[0]?.help ?? '', /"10\.0\.0\.0\/24", or "10\.0\.0\.1\/32"/);
  });
});

describe('StagedKubernetesNetworkPolicy is a Kubernetes spec plus stagedAction', () => {
  const staged = (spec: string): string => `apiVersion: projectcalico.org/v3\nkind: StagedKubernetesNetworkPolicy\nmetadata: {name: s, namespace: prod}\nspec:\n${spec.replace(/^/gm, '  ')}`;
  test('a staged Set policy validates like a Kubernetes one', () => {
    assert.deepEqual(validateYaml(staged("stagedAction: Set\ningress:\n  - ports: [{port: '80'}]")).errors, ['model/invalid-port@spec.ingress[0].ports[0].port']);
  });
  test('stagedAction defaults to Set', () => {
    const r = validateYaml(staged('podSelector: {}')).resource;
    if (r?.type !== 'StagedKubernetesNetworkPolicy') assert.fail('expected a staged policy');
    assert.equal(r.body.spec.stagedAction, 'Set');
  });
});
