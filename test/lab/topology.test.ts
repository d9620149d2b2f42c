// The lab's plan is a pure function of its spec: deterministic names within kernel limits,
// every spec problem reported at once, and command batches that never leave the lab's
// namespaces. Runs anywhere (no root needed).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fabricBatch, nodeBatch, outsideBatch, workloadBatch } from '../../src/lab/island.ts';
import {
  IFNAMSIZ_MAX,
  isLabNamespace,
  namespacesOf,
  nodeInterfaceOf,
  nodeNamespaceOf,
  planLab,
  workloadNamespaceOf,
} from '../../src/lab/topology.ts';
import type { LabSpec } from '../../src/lab/topology.ts';
import { smallSpec } from './fixtures.ts';

describe('lab naming', () => {
  it('gives each workload a node-side interface that fits IFNAMSIZ and is stable', () => {
    const ids = ['tenant-1/frontend', 'a/b', 'very-long-namespace-name/very-long-deployment-name-abc', 'x/ß∂ƒ'];
    for (const id of ids) {
      const name = nodeInterfaceOf(id);
      assert.ok(name.length <= IFNAMSIZ_MAX, `${name} ≤ 15`);
      assert.match(name, /^stw[a-z0-9]{8,12}$/);
      assert.equal(nodeInterfaceOf(id), name, 'deterministic');
    }
    assert.equal(nodeInterfaceOf('tenant-1/frontend').slice(0, 7), 'stwfron', 'readable part first');
    assert.notEqual(nodeInterfaceOf('a/frontend'), nodeInterfaceOf('b/frontend'), 'the hash tells namespaces apart');
  });

  it('prefixes every namespace with stl-<labId>- and keeps it readable', () => {
    assert.equal(workloadNamespaceOf('lab1', 'tenant-1/frontend').startsWith('stl-lab1-w-tenant-1-frontend-'), true);
    assert.equal(nodeNamespaceOf('lab1', 'node-a').startsWith('stl-lab1-n-node-a-'), true);
    const long = workloadNamespaceOf('lab1', `${'n'.repeat(80)}/${'p'.repeat(80)}`);
    assert.ok(long.length <= 64);
    assert.ok(isLabNamespace('lab1', long));
    assert.equal(isLabNamespace('lab1', 'stl-lab2-fabric'), false, 'another lab is not ours');
    assert.equal(isLabNamespace('lab1', 'default'), false);
  });
});

describe('planLab', () => {
  it('plans the small spec: 2 nodes, 6 workloads, 2 externals, 10 namespaces', () => {
    const r = planLab(smallSpec('plan1'));
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    assert.equal(r.value.nodes.length, 2);
    assert.equal(r.value.workloads.length, 6);
    assert.equal(namespacesOf(r.value).length, 10);
    const backend = r.value.workloads.find((w) => w.id === 'tenant-1/backend');
    assert.deepEqual(backend?.ipv4, ['10.10.1.2']);
    assert.deepEqual(backend?.ipv6, ['fd10::1:2']);
    assert.deepEqual(
      r.value.externals.map((e) => [e.address, e.ports.length]),
      [
        ['198.51.100.10', 6], // a bare external listens on every port any workload declares
        ['2001:db8:ff::10', 1],
      ],
    );
  });

  it('reports every problem of a bad spec at once, with paths', () => {
    const bad: LabSpec = {
      labId: 'Bad_Id',
      nodes: ['n1', 'n1'],
      workloads: [
        { id: 'noslash', node: 'n1', addresses: ['10.0.0.1'], ports: [] },
        { id: 'a/b', node: 'n9', addresses: ['169.254.1.1', '10.0.0.2'], ports: [{ port: 0, protocol: 'TCP' }] },
        { id: 'a/c', node: 'n1', addresses: ['2001:DB8::1'], ports: [] },
        { id: 'a/c', node: 'n1', addresses: ['10.0.0.3'], ports: [] },
      ],
      externals: ['2001:db8:0:0::1', 'not-an-ip'],
    };
    const r = planLab(bad);
    assert.equal(r.ok, false);
    const codes = r.diagnostics.map((d) => `${d.code} ${d.path ?? ''}`);
    assert.deepEqual(codes, [
      'lab/invalid-lab-id labId',
      'lab/duplicate-node nodes[1]',
      'lab/invalid-workload-id workloads[0].id',
      'lab/unknown-node workloads[1].node',
      'lab/invalid-address workloads[1].addresses[0]',
      'lab/invalid-port workloads[1].ports[0].port',
      'lab/duplicate-workload workloads[3].id',
      'lab/duplicate-address externals[0]',
      'lab/invalid-address externals[1]',
    ]);
  });
});

describe('command batches', () => {
  it('only ever name namespaces of their own lab', () => {
    const r = planLab(smallSpec('plan2'));
    assert.ok(r.ok);
    const plan = r.value;
    const lines = [
      ...fabricBatch(plan),
      ...plan.nodes.flatMap((n) => nodeBatch(plan, n)),
      ...plan.workloads.flatMap((w) => workloadBatch(w)),
      ...outsideBatch(plan),
    ];
    const targets = lines.flatMap((l) => [...l.matchAll(/\bnetns (\S+)/g)].map((m) => m[1] ?? ''));
    assert.ok(targets.length > 0);
    for (const t of targets) assert.ok(isLabNamespace('plan2', t), `${t} belongs to the lab`);
    for (const l of lines) assert.doesNotMatch(l, /^netns|^-/, 'no line switches namespace on its own');
  });

  it('gives a workload /32 and /128 addresses and default routes via the node', () => {
    const r = planLab(smallSpec('plan3'));
    assert.ok(r.ok);
    const backend = r.value.workloads.find((w) => w.id === 'tenant-1/backend');
    assert.ok(backend !== undefined);
    assert.deepEqual(workloadBatch(backend), [
      'link set lo up',
      'link set eth0 addrgenmode none',
      'addr add 10.10.1.2/32 dev eth0',
      'addr add fd10::1:2/128 dev eth0 nodad',
      'addr add fe80::2/64 dev eth0 nodad',
      'link set eth0 up',
      'route add 169.254.1.1/32 dev eth0 scope link',
      'route add default via 169.254.1.1 dev eth0',
      'route add default via fe80::1 dev eth0',
    ]);
  });
});
