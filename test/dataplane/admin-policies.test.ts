// The admin policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy) in
// the compiled dataplane: their chains carry Calico's policy ids (kanp/, kbanp/, kcnp/) and, for
// every pair of pods on every probed port, the IR decides as the engine does (check.ts) — Pass
// into the NetworkPolicies and on to the baseline, named ports, ranges and networks included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCluster } from '../../src/engine/build.ts';
import { makeFlow } from '../../src/engine/flow.ts';
import type { Endpoint } from '../../src/engine/model.ts';
import { loadText } from '../../src/load/index.ts';
import { checkFlow, compileNodes } from './check.ts';

const pod = (ns: string, name: string, ip: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${name}}}
spec:
  containers:
  - {name: c, ports: [{name: web, containerPort: 80}, {containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}, {containerPort: 9003, protocol: SCTP}]}
status: {podIP: ${ip}}
---
`;

const MANIFESTS = `apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {house: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {house: b}}
---
${pod('a', 'p', '10.1.0.1')}${pod('a', 'q', '10.1.0.2')}${pod('b', 'p', '10.2.0.1')}${pod('b', 'q', '10.2.0.2')}apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: admin}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {house: a}}}
  ingress:
  - {action: Pass, from: [{namespaces: {matchLabels: {house: b}}}], ports: [{portNumber: {port: 8080}}]}
  - {action: Allow, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: q}}}}], ports: [{namedPort: web}, {portRange: {protocol: UDP, start: 50, end: 60}}]}
  - {action: Deny, from: [{namespaces: {}}]}
  egress:
  - {action: Deny, to: [{networks: [10.2.0.2/32]}], ports: [{portNumber: {protocol: SCTP, port: 9003}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: cluster}
spec:
  tier: Admin
  priority: 10
  subject: {pods: {namespaceSelector: {matchLabels: {house: b}}, podSelector: {}}}
  egress:
  - {action: Accept, to: [{pods: {podSelector: {matchLabels: {app: p}}}}], protocols: [{destinationNamedPort: dns}, {tcp: {destinationPort: {number: 8080}}}]}
  - {action: Pass, to: [{namespaces: {}}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-p, namespace: b}
spec:
  podSelector: {matchLabels: {app: q}}
  egress: [{to: [{podSelector: {}}]}]
  policyTypes: [Egress]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, from: [{namespaces: {matchLabels: {house: b}}}], ports: [{portNumber: {port: 8080}}]}
  egress:
  - {action: Allow, to: [{namespaces: {}}], ports: [{portNumber: {protocol: UDP, port: 53}}]}
  - {action: Deny, to: [{networks: [10.0.0.0/8]}]}
`;

describe('admin policies in the compiled dataplane', () => {
  const loaded = loadText(MANIFESTS, 'admin.yaml');
  const { cluster, diagnostics } = buildCluster(loaded.resources);
  const workloads = [...cluster.endpoints].sort((x, y) => (x.id < y.id ? -1 : 1));
  const compiled = compileNodes(
    cluster,
    new Map<string, Endpoint[]>([
      ['node-a', workloads.filter((_, i) => i % 2 === 0)],
      ['node-b', workloads.filter((_, i) => i % 2 === 1)],
    ]),
  );

  it('loads without errors', () => {
    assert.deepEqual([...loaded.diagnostics, ...diagnostics].filter((d) => d.severity === 'error'), []);
  });

  it("names the policies' chains with Calico's policy ids", () => {
    const names = new Set([...compiled.rulesets.values()].flatMap((rs) => rs.chains.map((c) => c.name)));
    for (const chain of ['pi/kanp/admin', 'po/kanp/admin', 'po/kcnp/cluster', 'pi/kbanp/default', 'po/kbanp/default']) {
      assert.ok(names.has(chain), `chain ${chain} (have ${[...names].filter((n) => n.startsWith('p')).join(', ')})`);
    }
  });

  it('decides every pod pair on every probed port as the engine does', () => {
    const probes: readonly [number, number][] = [
      [6, 80],
      [6, 8080],
      [6, 81],
      [17, 53],
      [17, 55],
      [17, 61],
      [132, 9003],
    ];
    const verdicts = new Set<string>();
    let checked = 0;
    for (const src of workloads) {
      for (const dst of workloads) {
        for (const [protocol, port] of probes) {
          const flow = makeFlow(cluster, { from: src.id, to: dst.id, port, protocol, srcPort: 40000 });
          assert.ok(flow.ok);
          const v = checkFlow(compiled, flow.value, `${src.id} -> ${dst.id} ${protocol}/${port}`);
          if (v !== undefined) {
            checked++;
            verdicts.add(v);
          }
        }
      }
    }
    assert.equal(checked, 12 * probes.length);
    assert.deepEqual([...verdicts].sort(), ['accept', 'drop'], 'both verdicts occur');
  });
});
