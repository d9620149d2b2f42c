// Kubernetes NetworkPolicy → Calico, re-expressing the cases of Calico's
// libcalico-go/lib/backend/k8s/conversion/conversion_test.go (commit 87c15906) as tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertK8sNetworkPolicy, simplifyPorts } from '../../src/engine/convert-k8s.ts';

test('SimplifyPorts merges numeric ports into ranges, named ports first', () => {
  assert.deepEqual(simplifyPorts(['81:90', 4, 2, 'foo', '80:81', 3, 1, 9090, 'http']), ['foo', 'http', '1:4', '80:90', 9090]);
  assert.deepEqual(simplifyPorts([1, 2]), ['1:2']);
  assert.deepEqual(simplifyPorts([80]), [80]);
  assert.deepEqual(simplifyPorts([80, 80]), [80]);
});

test('rules explode per protocol (sorted) × peer (in order)', () => {
  const { spec } = convertK8sNetworkPolicy({
    podSelector: {},
    ingress: [{ ports: [{ protocol: 'UDP', port: 90 }, { port: 80 }], from: [{ podSelector: { matchLabels: { k: 'v' } } }, { podSelector: { matchLabels: { k2: 'v2' } } }] }],
  });
  assert.deepEqual(
    spec.ingress?.map((r) => [r.protocol, r.destination?.ports, r.source?.selector]),
    [
      ['TCP', [80], "projectcalico.org/orchestrator == 'k8s' && k == 'v'"],
      ['TCP', [80], "projectcalico.org/orchestrator == 'k8s' && k2 == 'v2'"],
      ['UDP', [90], "projectcalico.org/orchestrator == 'k8s' && k == 'v'"],
      ['UDP', [90], "projectcalico.org/orchestrator == 'k8s' && k2 == 'v2'"],
    ],
  );
});

test('a port entry without a port allows its protocol on every port, and wins over numeric ports', () => {
  const { spec } = convertK8sNetworkPolicy({ podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP' }] }] });
  assert.deepEqual(spec.ingress, [{ action: 'Allow', protocol: 'TCP', source: {}, destination: {} }]);
});

test('endPort makes a range; named ports pass through; protocol defaults to TCP', () => {
  const { spec } = convertK8sNetworkPolicy({ podSelector: {}, egress: [{ ports: [{ port: 8000, endPort: 8010 }, { port: 'http' }] }], policyTypes: ['Egress'] });
  assert.deepEqual(spec.egress?.[0]?.destination?.ports, ['http', '8000:8010']);
  assert.equal(spec.egress?.[0]?.protocol, 'TCP');
});

test('an empty rule allows everything; no rules with the type set is default deny', () => {
  assert.deepEqual(convertK8sNetworkPolicy({ podSelector: {}, ingress: [{}] }).spec.ingress, [{ action: 'Allow', source: {}, destination: {} }]);
  const deny = convertK8sNetworkPolicy({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] }).spec;
  assert.deepEqual([deny.ingress, deny.egress, deny.types], [[], [], ['Ingress', 'Egress']]);
});

test('policyTypes: the API server default is Ingress, plus Egress when there are egress rules', () => {
  assert.deepEqual(convertK8sNetworkPolicy({ podSelector: {} }).spec.types, ['Ingress']);
  assert.deepEqual(convertK8sNetworkPolicy({ podSelector: {}, egress: [{}] }).spec.types, ['Ingress', 'Egress']);
  assert.deepEqual(convertK8sNetworkPolicy({ podSelector: {}, egress: [{}], policyTypes: ['Ingress'] }).spec.types, ['Ingress']);
});

test('peers: ipBlock → nets/notNets without selectors; namespaceSelector {} → all(); both selectors AND-ed', () => {
  const { spec } = convertK8sNetworkPolicy({
    podSelector: { matchLabels: { app: 'db' } },
    ingress: [
      {
        from: [
          { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
          { namespaceSelector: {} },
          { namespaceSelector: { matchLabels: { team: 'x' } }, podSelector: { matchLabels: { app: 'web' } } },
        ],
      },
    ],
  });
  assert.equal(spec.selector, "projectcalico.org/orchestrator == 'k8s' && app == 'db'");
  assert.deepEqual(spec.ingress?.map((r) => r.source), [
    { nets: ['10.0.0.0/8'], notNets: ['10.1.0.0/16'] },
    { selector: "projectcalico.org/orchestrator == 'k8s'", namespaceSelector: 'all()' },
    { selector: "projectcalico.org/orchestrator == 'k8s' && app == 'web'", namespaceSelector: "team == 'x'" },
  ]);
  assert.deepEqual([spec.tier, spec.order], ['default', 1000]);
});
