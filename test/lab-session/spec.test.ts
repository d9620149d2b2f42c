// The pure parts of a session (no root needed): where endpoints run and what they listen on,
// the addresses the engine and the lab share, flows files, the default flow matrix, and how
// kernel counters are attributed to policy rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileSession, buildFromSources, defaultFlows, groupCounters, parseFlowLines, planSessionSpec, provenanceOfDecision } from '../../src/lab-session/index.ts';
import type { RuleCounter } from '../../src/dataplane/index.ts';
import { evaluateFlow, makeFlow } from '../../src/engine/index.ts';
import { planLab } from '../../src/lab/index.ts';
import { formatIp } from '../../src/net/index.ts';

const MANIFESTS = `
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: ns, labels: {app: a}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080}, {containerPort: 53, protocol: UDP}, {containerPort: 8080}]}]}
status: {podIP: 10.1.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: ns, labels: {app: b}}
spec: {nodeName: worker-9, containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: c, namespace: ns}
spec:
  selector: {matchLabels: {app: c}}
  template:
    metadata: {labels: {app: c}}
    spec: {containers: [{name: c, image: x, ports: [{containerPort: 9000, protocol: SCTP}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: d, namespace: other}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: eth0-host}
spec: {node: worker-9, interfaceName: eth0, expectedIPs: [192.0.2.1]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-b}
spec:
  selector: app == 'b'
  ingress: [{action: Deny, source: {selector: app == 'a'}}, {action: Allow}]
`;

function built(podCidr = '10.244.0.0/16') {
  const b = buildFromSources([{ file: 'm.yaml', text: MANIFESTS }], podCidr);
  assert.deepEqual(b.diagnostics.filter((d) => d.severity === 'error'), []);
  return b;
}

describe('planSessionSpec', () => {
  it('places endpoints on the node they name, the rest round-robin by id; host endpoints stay out', () => {
    const { cluster } = built();
    const r = planSessionSpec(cluster, { labId: 't', nodes: 2 });
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    assert.deepEqual(Object.fromEntries(r.value.placement), { 'ns/a': 'node-1', 'ns/b': 'worker-9', 'ns/c': 'node-2', 'other/d': 'node-1' });
    assert.deepEqual(r.value.spec.nodes, ['node-1', 'node-2', 'worker-9']);
    assert.deepEqual([...r.value.left.keys()], ['hep:eth0-host']);
    assert.ok(planLab(r.value.spec).ok, 'the lab accepts the spec');
  });

  it('gives the lab exactly the engine\'s addresses: manifest ones kept, the others from the pod CIDR', () => {
    const { cluster } = built('10.99.0.0/24');
    const r = planSessionSpec(cluster, { labId: 't' });
    assert.ok(r.ok);
    for (const w of r.value.spec.workloads) {
      const ep = cluster.endpoint(w.id)!;
      assert.deepEqual(w.addresses, ep.addresses.map(formatIp));
    }
    assert.deepEqual(r.value.spec.workloads.find((w) => w.id === 'ns/a')?.addresses, ['10.1.0.5']);
    assert.match(r.value.spec.workloads.find((w) => w.id === 'ns/c')?.addresses[0] ?? '', /^10\.99\.0\.\d+$/);
  });

  it('listens on declared TCP/UDP/SCTP ports (deduplicated), 80/TCP when none, plus extra ports', () => {
    const { cluster } = built();
    const r = planSessionSpec(cluster, { labId: 't', extraPorts: new Map([['ns/b', [{ port: 443, protocol: 'TCP' as const }]]]) });
    assert.ok(r.ok);
    const ports = (id: string): string[] => r.value.spec.workloads.find((w) => w.id === id)!.ports.map((p) => `${p.port}/${p.protocol}`);
    assert.deepEqual(ports('ns/a'), ['53/UDP', '8080/TCP']);
    assert.deepEqual(ports('ns/b'), ['80/TCP', '443/TCP']);
    assert.deepEqual(ports('ns/c'), ['9000/SCTP']);
  });

  it('answers for external addresses, but never for a workload\'s own address', () => {
    const { cluster } = built();
    const r = planSessionSpec(cluster, {
      labId: 't',
      externals: [
        { address: '203.0.113.9', ports: [{ port: 443, protocol: 'TCP' }] },
        { address: '10.1.0.5', ports: [] },
        { address: '203.0.113.9', ports: [{ port: 53, protocol: 'UDP' }] },
      ],
    });
    assert.ok(r.ok);
    assert.deepEqual(r.value.spec.externals, [{ address: '203.0.113.9', ports: [{ port: 53, protocol: 'UDP' }, { port: 443, protocol: 'TCP' }] }]);
  });

  it('rejects a node count out of range', () => {
    const r = planSessionSpec(built().cluster, { labId: 't', nodes: 0 });
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics[0]?.code, 'lab-session/invalid-nodes');
  });
});

describe('flows', () => {
  it('reads JSON Lines with the expected verdict as `verdict` or `expect.verdict`, skipping comments', () => {
    const r = parseFlowLines(
      [
        '# a comment',
        '{"from":"ns/a","to":"ns/b","port":80,"protocol":"TCP","verdict":"deny"}',
        '',
        '{"from":"ns/a","to":"10.0.0.1","port":"53","protocol":"udp","expect":{"verdict":"allow"}}',
        '{"from":"ns/a","to":"ns/b","protocol":"ICMP"}',
      ].join('\n'),
      'f.jsonl',
    );
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    assert.deepEqual(r.value, [
      { from: 'ns/a', to: 'ns/b', protocol: 'TCP', line: 2, port: 80, expected: 'deny' },
      { from: 'ns/a', to: '10.0.0.1', protocol: 'UDP', line: 4, port: 53, expected: 'allow' },
      { from: 'ns/a', to: 'ns/b', protocol: 'ICMP', line: 5 },
    ]);
  });

  it('reports every bad line with its position', () => {
    const r = parseFlowLines('{"from":"a/b"}\nnot json\n{"from":"a/b","to":"c/d","protocol":"GRE"}\n{"from":"a/b","to":"c/d"}', 'f.jsonl');
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.diagnostics.map((d) => d.span?.line),
      [1, 2, 3, 4],
    );
  });

  it('by default probes every ordered pair of workloads on every port the destination listens on, and externals both ways', () => {
    const plan = planLab({
      labId: 't',
      nodes: ['n'],
      workloads: [
        { id: 'ns/a', node: 'n', addresses: ['10.0.0.1'], ports: [{ port: 80, protocol: 'TCP' }] },
        { id: 'ns/b', node: 'n', addresses: ['10.0.0.2'], ports: [{ port: 53, protocol: 'UDP' }, { port: 8080, protocol: 'TCP' }] },
      ],
      externals: [{ address: '203.0.113.1', ports: [{ port: 443, protocol: 'TCP' }] }],
    });
    assert.ok(plan.ok);
    assert.deepEqual(
      defaultFlows(plan.value).map((f) => `${f.from}>${f.to}:${f.port}/${f.protocol}`),
      [
        'ns/a>ns/b:53/UDP',
        'ns/a>ns/b:8080/TCP',
        'ns/b>ns/a:80/TCP',
        'ns/a>203.0.113.1:443/TCP',
        '203.0.113.1>ns/a:80/TCP',
        'ns/b>203.0.113.1:443/TCP',
        '203.0.113.1>ns/b:53/UDP',
        '203.0.113.1>ns/b:8080/TCP',
      ],
    );
  });
});

describe('counters', () => {
  it('attribute kernel rule counters to tier, policy, direction and rule, summed over nodes, structure left out', () => {
    const { cluster } = built();
    const placement = { 'ns/a': 'node-1', 'ns/b': 'worker-9' };
    const compiled = compileSession(cluster, ['node-1', 'worker-9'], placement);
    assert.ok(compiled.ok, JSON.stringify(compiled.diagnostics));
    // The comments the compiler wrote, with made-up counts, as the executor would read them.
    const fake = (node: string, n: number): RuleCounter[] =>
      compiled.value[node]!.chains.flatMap((c, ci) =>
        c.rules.map((r, ri) => ({ family: 'inet', table: 'strata', chain: c.name, handle: ci * 100 + ri, comment: r.comment, packets: n, bytes: n * 60 })),
      );
    const rows = groupCounters({ cluster }, new Map([['node-1', fake('node-1', 1)], ['worker-9', fake('worker-9', 2)]]), { includeConntrack: false });
    const deny = rows.find((r) => r.policy === 'deny-b' && r.rule === 0);
    // One API rule may be several kernel rules (one per address family): all carry its comment.
    const k = compiled.value['worker-9']!.chains.flatMap((c) => c.rules).filter((r) => r.comment === 'gnp/deny-b ingress 0 deny').length;
    assert.ok(k >= 1);
    assert.deepEqual(deny, {
      tier: 'default',
      policy: 'deny-b',
      kind: 'GlobalNetworkPolicy',
      direction: 'ingress',
      rule: 0,
      action: 'deny',
      reason: 'rule',
      provenance: 'gnp/deny-b ingress 0 deny',
      packets: 2 * k,
      bytes: 120 * k,
      nodes: { 'worker-9': { packets: 2 * k, bytes: 120 * k } },
    });
    assert.ok(rows.every((r) => r.reason !== 'conntrack'));
    assert.ok(rows.some((r) => r.kind === 'Profile' && r.policy === 'kns.ns'));
    assert.ok(rows.every((r) => !r.provenance.startsWith('forward:')), 'structural rules are not rows');

    const flow = makeFlow(cluster, { from: 'ns/a', to: 'ns/b', port: 80, protocol: 'TCP' });
    assert.ok(flow.ok);
    const e = evaluateFlow(cluster, flow.value);
    assert.equal(provenanceOfDecision({ ...e.decidedBy }, { cluster }), 'gnp/deny-b ingress 0 deny');
  });
});
