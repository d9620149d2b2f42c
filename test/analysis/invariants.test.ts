// ConnectivityInvariant: validation with file:line:col, and verification — positive and negative
// cases for must deny / must allow, external nets, port ranges and protocols — plus `strata check`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadText } from '../../src/load/index.ts';
import { buildCluster } from '../../src/engine/index.ts';
import { invariantBreaksOfDiff, verifyInvariants } from '../../src/analysis/invariants.ts';
import { diffClusters } from '../../src/analysis/diff.ts';
import type { InvariantResource } from '../../src/analysis/invariants.ts';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';

const CLUSTER = `apiVersion: v1
kind: Namespace
metadata: {name: t1, labels: {tenant: tenant-1}}
---
apiVersion: v1
kind: Namespace
metadata: {name: t2, labels: {tenant: tenant-2}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: t1, labels: {app: a}}
spec: {containers: [{name: c}]}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: t2, labels: {app: b}}
spec: {containers: [{name: c}]}
status: {podIP: 10.2.0.1}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: isolate}
spec:
  namespaceSelector: has(tenant)
  types: [Ingress, Egress]
  ingress:
    - action: Allow
      source: {namespaceSelector: has(tenant)}
      protocol: TCP
      destination: {ports: ['8000:8999']}
  egress:
    - action: Allow
      protocol: TCP
      destination: {ports: ['8000:8999']}
    - action: Allow
      protocol: TCP
      destination: {nets: [198.51.100.7/32], ports: [443]}
`;

function invariant(spec: string, name = 'i'): string {
  return `apiVersion: strata/v1\nkind: ConnectivityInvariant\nmetadata: {name: ${name}}\nspec:\n${spec}`;
}

function verify(invariantText: string) {
  const loaded = loadText(`${CLUSTER}---\n${invariantText}`, 'in.yaml');
  assert.deepEqual(loaded.diagnostics.filter((d) => d.severity === 'error'), []);
  const { cluster } = buildCluster(loaded.resources);
  return verifyInvariants(cluster, loaded.resources.filter((r): r is InvariantResource => r.type === 'ConnectivityInvariant'));
}

const T1 = "  from: {namespaceSelector: tenant == 'tenant-1'}\n";
const T2 = "  to: {namespaceSelector: tenant == 'tenant-2'}\n";

const cases: { name: string; spec: string; broken: undefined | { port: number | null; ports: string | null; protocol: string; to?: string } }[] = [
  { name: 'must deny on every port is broken by the one allowed range, reported with its first port', spec: `${T1}${T2}  must: deny\n`, broken: { port: 8000, ports: '8000-8999', protocol: 'TCP' } },
  { name: 'must deny outside the allowed range holds', spec: `${T1}${T2}  ports: ['1-7999', '9000-65535']\n  must: deny\n`, broken: undefined },
  { name: 'must deny over UDP only holds', spec: `${T1}${T2}  protocols: [UDP]\n  must: deny\n`, broken: undefined },
  { name: 'must deny on a range straddling the allowed one is broken at the overlap', spec: `${T1}${T2}  ports: ['8990-9010']\n  must: deny\n`, broken: { port: 8990, ports: '8990-8999', protocol: 'TCP' } },
  { name: 'must allow inside the allowed range holds', spec: `${T1}${T2}  ports: [8080, '8000-8100']\n  protocols: [TCP]\n  must: allow\n`, broken: undefined },
  { name: 'must allow on a port outside it is broken', spec: `${T1}${T2}  ports: [9000]\n  protocols: [TCP]\n  must: allow\n`, broken: { port: 9000, ports: '9000', protocol: 'TCP' } },
  { name: 'must deny towards external nets is broken by the one /32 egress allows', spec: `${T1}  to: {nets: [198.51.100.0/24]}\n  ports: [443]\n  must: deny\n`, broken: { port: 443, ports: '443', protocol: 'TCP', to: '198.51.100.7/32' } },
  { name: 'must deny towards the rest of the /24 holds', spec: `${T1}  to: {nets: [198.51.100.0/30]}\n  ports: [443]\n  must: deny\n`, broken: undefined },
  { name: 'must deny from the internet to tenant 2 holds (ingress admits tenants only)', spec: `  from: {nets: [0.0.0.0/0]}\n${T2}  must: deny\n`, broken: undefined },
];

for (const c of cases) {
  test(c.name, () => {
    const vs = verify(invariant(c.spec));
    if (c.broken === undefined) {
      assert.deepEqual(vs, []);
      return;
    }
    assert.equal(vs.length, 1);
    const e = vs[0]!.example;
    assert.deepEqual({ port: e.port, ports: e.ports, protocol: e.protocol, ...(c.broken.to === undefined ? {} : { to: e.to }) }, c.broken);
    assert.equal(e.from, 't1/a');
    if (c.broken.to === undefined) assert.equal(e.to, 't2/b');
    assert.equal(e.decidedBy.policy, 'isolate');
  });
}

// The server's admission check finds breaks from a change's diff: from a state that keeps the
// invariant, it must find exactly what verifying the whole after-state finds.
const DENY_ALL = CLUSTER.slice(0, CLUSTER.indexOf('  ingress:'));
for (const c of cases) {
  test(`from the diff of a change: ${c.name}`, () => {
    const inv = loadText(invariant(c.spec), 'inv.yaml').resources as InvariantResource[];
    const open = buildCluster(loadText(CLUSTER, 'open.yaml').resources).cluster;
    const shut = buildCluster(loadText(DENY_ALL, 'shut.yaml').resources).cluster;
    const mustDeny = c.spec.includes('must: deny');
    const [before, after] = mustDeny ? [shut, open] : [open, shut];
    if (verifyInvariants(before, inv).length > 0) return; // only changes from a state that keeps it
    const full = verifyInvariants(after, inv);
    const fromDiff = invariantBreaksOfDiff(diffClusters(before, after), after, inv);
    assert.equal(fromDiff.length, full.length);
    if (full.length === 0) return;
    // `ports` (the range decided alike) may be wider: the diff's atoms are not cut at the invariant's own bounds.
    const pick = (v: (typeof full)[number]) => ({ port: v.example.port, protocol: v.example.protocol, from: v.example.from, to: v.example.to, verdict: v.example.verdict, policy: v.example.decidedBy.policy });
    assert.deepEqual(pick(fromDiff[0]!), pick(full[0]!));
  });
}

test('an invalid invariant is an input error at file:line:col with the field path', () => {
  const loaded = loadText(invariant("  from: {namespaceSelector: 'tenant =='}\n  to: {nets: [10.0.0.0/8], selector: all()}\n  ports: ['9-2']\n  must: maybe\n"), 'bad.yaml');
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.span?.line}:${d.span?.col} ${d.path} ${d.code}`);
  assert.deepEqual(errors, [
    '5:39 spec.from.namespaceSelector model/invalid-selector',
    '6:14 spec.to.nets model/invalid-invariant',
    '7:11 spec.ports[0] model/invalid-port',
    '8:9 spec.must model/invalid-value',
  ]);
});

test('strata check reports a broken invariant as an error at its must, with the flow, and exits 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-inv-'));
  const p = join(dir, 'all.yaml');
  writeFileSync(p, `${CLUSTER}---\n${invariant(`${T1}${T2}  must: deny\n`, 'tenant-1-never-reaches-tenant-2')}`);
  const io = memoryIo();
  const code = await main(['check', '-f', p], io);
  const out = io.stdout.join('\n');
  assert.equal(code, 1, out);
  assert.match(out, /all\.yaml:46:9: invariant\/violated: ConnectivityInvariant "tenant-1-never-reaches-tenant-2" \(must deny\) is broken: t1\/a → t2\/b TCP 8000 \(ports 8000-8999 alike\) is allowed by ingress GlobalNetworkPolicy isolate in tier default, rule 0/);
  assert.match(out, /help: the deciding rule is at .*all\.yaml:28:7/);
});
