// Explain names the network sets an external peer's address belongs to (`fromNetworkSets` /
// `toNetworkSets`, and a line of text), so a flow record can say a peer is in a threat-feed set.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadText } from '../../src/load/index.ts';
import { buildCluster } from '../../src/engine/index.ts';
import { explainRequest } from '../../src/analysis/explain-request.ts';
import { renderExplainText } from '../../src/analysis/explain.ts';
import { explainSchema } from '../../src/engine/wire.ts';

const TEXT = `apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.5}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: threatfeed.bad-ips, labels: {threat: bad}}
spec: {nets: [198.51.100.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: all-partners}
spec: {nets: [198.51.100.7/32]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: internal}
spec: {nets: [10.0.0.0/8]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: inbound, namespace: prod}
spec: {nets: [203.0.113.0/24]}
`;

const { cluster } = buildCluster(loadText(TEXT, 'sets.yaml').resources);

function explain(from: string, to: string) {
  const r = explainRequest(cluster, { from, to, port: 443, protocol: 'TCP' });
  assert.ok(r.ok, JSON.stringify(r));
  const one = r.value.results[0]!;
  assert.ok(explainSchema.safeParse(one).success, 'the wire schema reads it');
  return one;
}

const cases = [
  { name: 'a destination in two global sets names both, sorted', from: 'prod/web', to: '198.51.100.7', toSets: ['all-partners', 'threatfeed.bad-ips'], fromSets: undefined },
  { name: 'a source in a namespaced set names it NS/NAME', from: '203.0.113.9', to: 'prod/web', toSets: undefined, fromSets: ['prod/inbound'] },
  { name: 'an address in no set has neither field', from: 'prod/web', to: '192.0.2.1', toSets: undefined, fromSets: undefined },
  { name: 'an endpoint is never described by sets, even when a set covers its address', from: '198.51.100.9', to: 'prod/web', toSets: undefined, fromSets: ['threatfeed.bad-ips'] },
];

for (const c of cases) {
  test(`explain network sets: ${c.name}`, () => {
    const e = explain(c.from, c.to);
    assert.deepEqual(e.toNetworkSets, c.toSets);
    assert.deepEqual(e.fromNetworkSets, c.fromSets);
  });
}

test('the text names the sets of the external side', () => {
  const text = renderExplainText(explain('prod/web', '198.51.100.7'));
  assert.match(text, /^ {2}destination 198\.51\.100\.7 is in GlobalNetworkSet all-partners, GlobalNetworkSet threatfeed\.bad-ips$/m);
  assert.match(renderExplainText(explain('203.0.113.9', 'prod/web')), /^ {2}source 203\.0\.113\.9 is in NetworkSet prod\/inbound$/m);
});
