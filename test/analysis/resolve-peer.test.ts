// Explain by what users know (issue 11): Services resolved as kube-proxy resolves them (DNS names,
// `NS/NAME`, ClusterIP, port → targetPort with named ports per backend), label selectors in kubectl
// and Calico syntax, namespaces, IPs and CIDRs — a set on either side gives one result per class.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadText } from '../../src/load/index.ts';
import { buildCluster } from '../../src/engine/index.ts';
import { explainRequest } from '../../src/analysis/explain-request.ts';
import { kubectlSelectorToCalico } from '../../src/analysis/resolve-peer.ts';
import { hasErrors } from '../../src/diagnostics/index.ts';

const SHOP = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: shop, labels: {app: frontend}}
spec: {containers: [{name: c}]}
status: {podIPs: [{ip: 10.1.0.1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cart-1, namespace: shop, labels: {app: cart}}
spec: {containers: [{name: c, ports: [{name: grpc, containerPort: 8080}]}]}
status: {podIPs: [{ip: 10.1.0.2}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cart-2, namespace: shop, labels: {app: cart}}
spec: {containers: [{name: c, ports: [{name: grpc, containerPort: 9090}]}]}
status: {podIPs: [{ip: 10.1.0.3}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cart-old, namespace: shop, labels: {app: cart}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}
status: {podIPs: [{ip: 10.1.0.4}]}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  clusterIP: 10.96.0.50
  selector: {app: cart}
  ports: [{name: grpc, port: 5000, targetPort: grpc}]
---
apiVersion: v1
kind: Service
metadata: {name: cart-headless, namespace: shop}
spec: {clusterIP: None, selector: {app: cart}, ports: [{port: 5000}]}
---
apiVersion: v1
kind: Service
metadata: {name: ghost, namespace: shop}
spec: {selector: {app: ghost}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: email, namespace: shop}
spec:
  selector: {matchLabels: {app: email}}
  template:
    metadata: {labels: {app: email}}
    spec: {containers: [{name: c, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: email, namespace: shop}
spec: {selector: {app: email}, ports: [{name: grpc, port: 5000, targetPort: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cart-grpc, namespace: shop}
spec:
  podSelector: {matchLabels: {app: cart}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}], ports: [{port: grpc}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: email-8080, namespace: shop}
spec:
  podSelector: {matchLabels: {app: email}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}], ports: [{port: 8080}]}]
`;

const loaded = loadText(SHOP, 'shop.yaml');
assert.equal(hasErrors(loaded.diagnostics), false, JSON.stringify(loaded.diagnostics));
const { cluster } = buildCluster(loaded.resources);

function explain(from: string, to: string, port?: number, namespace?: string) {
  const r = explainRequest(cluster, { from, to, port, protocol: 'TCP' }, { namespace });
  if (!r.ok) return { ok: false as const, message: r.diagnostics.map((d) => `${d.code}: ${d.message}`).join('; ') };
  return { ok: true as const, ...r.value };
}

describe('a Service is resolved as kube-proxy resolves it', () => {
  for (const name of ['cart.shop', 'cart.shop.svc', 'cart.shop.svc.cluster.local', 'cart.shop.svc.cluster.local.', 'shop/cart', '10.96.0.50']) {
    test(`--to ${name} --port 5000 reaches each backend on its own named targetPort`, () => {
      const r = explain('shop/frontend', name, 5000);
      assert.ok(r.ok, r.ok ? '' : r.message);
      assert.deepEqual(
        r.results.map((e) => [e.service?.backend, e.service?.targetPort, e.port, e.verdict]),
        [['shop/cart-1', 8080, 8080, 'allow'], ['shop/cart-2', 9090, 9090, 'allow']],
      );
      assert.equal(r.single, false, 'two backends: one result each');
      assert.equal(r.results[0]!.service?.targetPortName, 'grpc');
      assert.equal(r.results[0]!.to, name, 'the user\'s words are echoed');
      assert.match((r.results[0]!.notes ?? []).join('\n'), /shop\/cart-old has no container port named "grpc"/);
    });
  }
  test('a Service port that does not exist is an error listing the ports', () => {
    const r = explain('shop/frontend', 'cart.shop', 8080);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.message, /has no port 8080\/TCP: its ports are 5000\/TCP \(grpc\)/);
  });
  test('a Service that selects no pod is an error, not a silent deny', () => {
    const r = explain('shop/frontend', 'ghost.shop', 80);
    assert.match(r.ok ? '' : r.message, /selects no pod/);
  });
  test('a misspelt Service DNS name is an error with a did-you-mean', () => {
    const r = explainRequest(cluster, { from: 'shop/frontend', to: 'crat.shop.svc.cluster.local', port: 5000 });
    assert.equal(r.ok, false);
    assert.equal(r.ok ? '' : r.diagnostics[0]?.help, 'did you mean "cart.shop"?');
  });
  test('name.namespace with a namespace of the input but no such Service is an error, not an external domain', () => {
    const r = explainRequest(cluster, { from: 'shop/frontend', to: 'crat.shop', port: 5000 });
    assert.equal(r.ok, false);
    assert.equal(r.ok ? '' : r.diagnostics[0]?.help, 'did you mean "cart.shop"?');
    assert.equal(explainRequest(cluster, { from: 'shop/frontend', to: 'example.com', port: 443 }).ok, true, 'an external domain stays one');
  });
  test('a headless Service is not translated: the pods are dialled directly', () => {
    const r = explain('shop/frontend', 'cart-headless.shop', 8080);
    assert.ok(r.ok);
    assert.deepEqual(r.results.map((e) => [e.ingress?.endpoint, e.port, e.service]), [['shop/cart-1', 8080, undefined], ['shop/cart-2', 8080, undefined], ['shop/cart-old', 8080, undefined]]);
    assert.match((r.results[0]!.notes ?? []).join(), /headless/);
  });
  test('NS/NAME that is both a Deployment and a Service: the Deployment wins on its own port, the Service on the Service port', () => {
    const own = explain('shop/frontend', 'shop/email', 8080);
    assert.ok(own.ok && own.single);
    assert.equal(own.results[0]!.service, undefined);
    assert.match((own.results[0]!.notes ?? []).join(), /is the Deployment shop\/email \(a Service of the same name exists/);
    const viaService = explain('shop/frontend', 'shop/email', 5000);
    assert.ok(viaService.ok && viaService.single);
    assert.deepEqual(viaService.results[0]!.service, { service: 'shop/email', port: 5000, protocol: 'TCP', backend: 'shop/email', targetPort: 8080 });
    assert.equal(viaService.results[0]!.verdict, 'allow', 'issue 11: --to hipstershop/emailservice --port 5000 was denied');
  });
});

describe('sets on either side explain each class of alike endpoints', () => {
  test('a kubectl selector with -n gives one result per class', () => {
    const r = explain('shop/frontend', 'app=cart', 8080, 'shop');
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.deepEqual(r.results.map((e) => [e.toMembers, e.verdict]), [[['shop/cart-1'], 'allow'], [['shop/cart-2'], 'deny'], [['shop/cart-old'], 'deny']]);
  });
  test('the same selector in Calico syntax selects the same endpoints', () => {
    const r = explain('app == "frontend"', 'shop/cart-1', 8080);
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.deepEqual(r.results.map((e) => e.fromMembers), [['shop/frontend']]);
  });
  test('a namespace (shop/*) is every endpoint in it', () => {
    const r = explain('shop/*', 'shop/cart-1', 8080);
    assert.ok(r.ok);
    assert.equal(r.results.flatMap((e) => e.fromMembers ?? []).length, 5);
  });
  test('a CIDR holding endpoints is those endpoints; an empty one is its first address', () => {
    const r = explain('10.1.0.0/30', 'shop/cart-1', 8080);
    assert.ok(r.ok);
    assert.deepEqual(r.results.flatMap((e) => e.fromMembers ?? []), ['shop/cart-1', 'shop/cart-2', 'shop/frontend']);
    const ext = explain('203.0.113.0/24', 'shop/cart-1', 8080);
    assert.ok(ext.ok && ext.single);
    assert.equal(ext.results[0]!.srcAddress, '203.0.113.0');
  });
  test('with -n a bare NAME is NAMESPACE/NAME (a pod or a Service), as kubectl reads it', () => {
    const r = explain('frontend', 'cart', 5000, 'shop');
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.deepEqual(r.results.map((e) => [e.egress?.endpoint, e.service?.backend]), [['shop/frontend', 'shop/cart-1'], ['shop/frontend', 'shop/cart-2']]);
  });
  test('a selector that matches nothing is an error', () => {
    assert.match(explain('app=nope', 'shop/cart-1', 8080).ok ? '' : 'error', /error/);
  });
});

describe('kubectl selector syntax becomes Calico syntax', () => {
  const cases: readonly [string, string | undefined][] = [
    ['app=web', 'app == "web"'],
    ['app==web,tier!=db', 'app == "web" && tier != "db"'],
    ['env in (a, b)', 'env in {"a", "b"}'],
    ['env notin (a)', 'env not in {"a"}'],
    ['has-key,!gone', 'has(has-key) && !has(gone)'],
    ['app == "web"', undefined],
  ];
  for (const [text, want] of cases) test(`${text} → ${String(want)}`, () => assert.equal(kubectlSelectorToCalico(text), want));
});
