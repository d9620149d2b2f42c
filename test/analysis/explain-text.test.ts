// Explain speaks the user's terms (issue 11, item 6): Kubernetes NetworkPolicies by their kind,
// "no policy selects this pod" instead of Calico's namespace profile, plain end-of-tier wording,
// paths relative to the working directory, and why the closest Allow rules did not match.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { join } from 'node:path';
import { loadText } from '../../src/load/index.ts';
import { buildCluster } from '../../src/engine/index.ts';
import { explainRequest } from '../../src/analysis/explain-request.ts';
import { relativeSource, renderExplainText } from '../../src/analysis/explain.ts';
import type { ExplainJson } from '../../src/analysis/explain.ts';

const TEXT = `apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: dev, labels: {app: web}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cache, namespace: prod, labels: {app: cache}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 5432, protocol: TCP}]
`;

const FILE = join(process.cwd(), 'manifests', 'shop.yaml');
const { cluster } = buildCluster(loadText(TEXT, FILE).resources);

function explain(from: string, to: string, port: number, protocol = 'TCP'): ExplainJson {
  const r = explainRequest(cluster, { from, to, port, protocol }, { whyNot: true });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.diagnostics));
  return r.value.results[0]!;
}

describe('explain text in the user\'s terms', () => {
  test('no policy selecting the pod reads as such, not as "profile kns.prod rule 0"', () => {
    const out = renderExplainText(explain('prod/db', 'prod/web', 80));
    assert.match(out, /decided by ingress at prod\/web: no policy selects prod\/web; namespace prod allows by default/);
    assert.doesNotMatch(out, /profile kns\.prod rule 0/);
  });
  test('a Kubernetes NetworkPolicy is "NetworkPolicy prod/x", and end of tier says what happened', () => {
    const out = renderExplainText(explain('prod/web', 'prod/db', 80));
    assert.match(out, /end of tier default: its policies select prod\/db but none of their rules matched, so the tier denies \(last policy: NetworkPolicy prod\/db-from-web\)/);
    assert.doesNotMatch(out, /KubernetesNetworkPolicy|knp\./);
  });
  test('source paths are relative to the working directory', () => {
    const out = renderExplainText(explain('prod/web', 'prod/db', 80));
    assert.match(out, /\(manifests\/shop\.yaml:\d+:\d+\)/);
    assert.equal(relativeSource('/elsewhere/x.yaml:1:2', '/work'), '/elsewhere/x.yaml:1:2');
    assert.equal(relativeSource('rel/x.yaml:1:2'), 'rel/x.yaml:1:2');
  });
  test('the JSON keeps every documented field and only adds closestRules', () => {
    const e = explain('prod/web', 'prod/db', 80) as unknown as Record<string, unknown>;
    for (const k of ['from', 'to', 'port', 'protocol', 'verdict', 'decidedBy', 'egress', 'ingress', 'pending', 'ipVersion', 'srcAddress', 'dstAddress']) assert.ok(k in e, k);
    assert.equal((e['decidedBy'] as { kind: string }).kind, 'KubernetesNetworkPolicy', 'the wire format is unchanged');
  });
});

describe('why the closest rule did not match: the failing criterion', () => {
  const cases: readonly [string, string, string, number, string, RegExp][] = [
    ['the port', 'prod/web', 'prod/db', 80, 'TCP', /destination port 80 is not 5432/],
    ['the namespace', 'dev/web', 'prod/db', 5432, 'TCP', /source namespace dev does not match namespace == "prod"/],
    ['the source selector', 'prod/cache', 'prod/db', 5432, 'TCP', /source selector app == "web" does not match prod\/cache/],
    ['the protocol', 'prod/web', 'prod/db', 5432, 'UDP', /protocol is UDP, the rule needs TCP/],
  ];
  for (const [what, from, to, port, protocol, why] of cases) {
    test(`${what}`, () => {
      const e = explain(from, to, port, protocol);
      assert.equal(e.verdict, 'deny');
      const miss = e.closestRules?.[0];
      assert.ok(miss !== undefined);
      assert.equal(miss.failed.length, 1, miss.failed.join('; '));
      assert.match(miss.failed[0]!, why);
      assert.match(renderExplainText(e), new RegExp(`NetworkPolicy prod/db-from-web ingress rule 0: ${why.source}`));
    });
  }
  test('allowed flows carry no closestRules', () => {
    assert.equal(explain('prod/web', 'prod/db', 5432).closestRules, undefined);
  });
});

describe('a Service with several backends: one line per backend, in the trace\'s words', () => {
  test('each line says service NS/NAME port P → backend B port T', async () => {
    const { renderExplainLine } = await import('../../src/analysis/explain.ts');
    const text = `${TEXT}---\napiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: prod}\nspec: {selector: {app: db}, ports: [{port: 5000, targetPort: 5432}]}\n`;
    const c = buildCluster(loadText(text, FILE).resources).cluster;
    const r = explainRequest(c, { from: 'prod/web', to: 'db.prod', port: 5000 });
    assert.ok(r.ok);
    assert.equal(renderExplainLine(r.value.results[0]!), 'prod/web → service prod/db port 5000 → backend prod/db port 5432  TCP: ALLOWED by ingress: NetworkPolicy prod/db-from-web in tier default, rule 0');
  });
});
