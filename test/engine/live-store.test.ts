// The live store against the batch build: random sequences of upserts and removes of real
// validated resources (JSON text through `loadText`) are applied, one change or batch at a time, to
// ONE long-lived store; after every step its snapshot must answer exactly as a fresh `buildCluster`
// of the same resources — verdicts and deciding steps of every endpoint pair on a few ports and of
// external addresses, the matrix, the compiled rules of every node, and the snapshot's lists. On
// the way: snapshots held across many later steps still answer as their state did; a batch is
// rejected exactly when the state it would leave has errors (and then nothing changes); the change
// report names every endpoint whose decisions a policy or tier edit changed, and every selector
// whose members changed.
//
// Verdicts include the pending (staged) view. Seeds are fixed; fast-check prints the seed and the (shrunk) failing step sequence on failure.
//   STRATA_SEED=N     another seed            STRATA_STEPS=N   total steps (default 1000)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { computeMatrix } from '../../src/analysis/matrix.ts';
import { compileNode, renderNft } from '../../src/dataplane/index.ts';
import { buildCluster } from '../../src/engine/build.ts';
import { cowTuning } from '../../src/engine/cow.ts';
import type { Cluster, Policy } from '../../src/engine/index.ts';
import { evaluateFlow, makeFlow, PROTOCOL } from '../../src/engine/index.ts';
import { createPolicyStore, resourceKey } from '../../src/engine/store.ts';
import type { ChangeReport, PolicyStore, ResourceKey, StoreChange } from '../../src/engine/store.ts';
import { loadText } from '../../src/load/index.ts';
import type { Resource } from '../../src/model/index.ts';
import { formatCidr, formatIp, parseCidrLenient, parseIp, cidrContainsCidr, cidrOfAddress } from '../../src/net/index.ts';
import type { Selector } from '../../src/selector/index.ts';
import { interfacesOf } from '../dataplane/fixtures.ts';

const SEED = Number(process.env['STRATA_SEED'] ?? 20261201);
const TOTAL_STEPS = Number(process.env['STRATA_STEPS'] ?? 1000);
const STEPS_PER_RUN = 50;
// Inner membership sets split into hash chunks at 1,024 elements, far beyond this universe: split
// them at 2 here, so that the store's chunked copy-on-write path is what every step checks.
cowTuning.chunkAbove = 2;

// ---- the universe: slots of resources, each a function of a small variant number

type Doc = Record<string, unknown>;
const CALICO = 'projectcalico.org/v3';

/** The i-th choice of a variant: a deterministic hash, so shrinking the variant simplifies it. */
function pick<T>(v: number, i: number, xs: readonly T[]): T {
  let h = Math.imul(v ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35);
  h ^= h >>> 13;
  h = Math.imul(h, 0x27d4eb2f);
  h ^= h >>> 16;
  return xs[(h >>> 0) % xs.length]!;
}

function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined));
}

const NAMESPACES = ['ns-a', 'ns-b', 'ns-c'];
const ADDRESSES = Array.from({ length: 14 }, (_, i) => `10.0.0.${i + 1}`);
const ADDRESS_IPS = ADDRESSES.map((a) => {
  const r = parseIp(a);
  if (!r.ok) throw new Error(a);
  return r.value;
});
const CONTAINER_PORTS = [[{ name: 'http', containerPort: 8080 }], [{ name: 'http', containerPort: 9090 }], [{ name: 'dns', containerPort: 53, protocol: 'UDP' }], []];
const POD_LABELS = [{ app: 'web' }, { app: 'db' }, { app: 'api', version: 'v1' }, { app: 'web', version: 'v2' }, {}];
const NETS = [['198.51.100.0/24'], ['203.0.113.0/25'], ['10.0.0.0/29'], ['198.51.100.0/25', '192.0.2.0/24'], []];

function namespaceDoc(name: string) {
  return (v: number): Doc => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: compact({ env: pick(v, 0, ['prod', 'dev', undefined]), team: pick(v, 1, ['x', 'y', undefined]) }) },
  });
}

function serviceAccountDoc(namespace: string, name: string) {
  return (v: number): Doc => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, labels: compact({ role: pick(v, 0, ['x', 'y', undefined]) }) } });
}

function podDoc(namespace: string, name: string, sa: string | undefined) {
  return (v: number): Doc => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: pick(v, 0, POD_LABELS) },
    spec: compact({
      // Now and then a host-network pod: a resource without a workload endpoint.
      hostNetwork: pick(v, 5, [undefined, undefined, undefined, undefined, undefined, true]),
      nodeName: pick(v, 1, ['n1', 'n2']),
      serviceAccountName: sa === undefined ? undefined : pick(v, 2, [sa, undefined]),
      containers: [{ name: 'c', ports: pick(v, 3, CONTAINER_PORTS) }],
    }),
    // Now and then a finished pod: an endpoint without addresses.
    status: compact({ podIP: pick(v, 4, ADDRESSES), phase: pick(v, 6, [undefined, undefined, undefined, undefined, 'Succeeded']) }),
  });
}

const deploymentDoc = (v: number): Doc => {
  const labels = pick(v, 0, POD_LABELS.slice(0, 4));
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd0', namespace: 'ns-b' },
    spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', ports: pick(v, 1, CONTAINER_PORTS) }] } } },
  };
};

const wepDoc = (v: number): Doc => ({
  apiVersion: CALICO,
  kind: 'WorkloadEndpoint',
  metadata: { name: 'w0', namespace: 'ns-c', labels: pick(v, 0, POD_LABELS) },
  spec: compact({
    node: pick(v, 1, ['n1', 'n2']),
    interfaceName: 'cali0',
    ipNetworks: [`${pick(v, 2, ADDRESSES)}/32`],
    ports: [{ name: 'http', port: pick(v, 3, [8080, 80]), protocol: 'TCP' }],
    // Profiles of other namespaces: the endpoint inherits their labels and re-derives when they change.
    profiles: pick(v, 4, [undefined, ['kns.ns-c'], ['kns.ns-a'], ['kns.ns-c', 'ksa.ns-b.sa2']]),
  }),
});

const hostEndpointDoc = (v: number): Doc => ({
  apiVersion: CALICO,
  kind: 'HostEndpoint',
  metadata: { name: 'h0', labels: pick(v, 0, [{ app: 'web' }, { role: 'host' }, {}]) },
  spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: [pick(v, 1, ['192.168.0.1', '10.0.0.5'])] },
});

const serviceDoc = (v: number): Doc => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'svc0', namespace: 'ns-a' },
  spec: { selector: pick(v, 0, [{ app: 'web' }, { app: 'db' }]), ports: [{ port: 80, targetPort: pick(v, 1, [8080, 'http']) }] },
});

const networkSetDoc = (v: number): Doc => ({
  apiVersion: CALICO,
  kind: 'NetworkSet',
  metadata: { name: 'set0', namespace: 'ns-a', labels: { kind: pick(v, 0, ['partner', 'threat']) } },
  spec: { nets: pick(v, 1, NETS) },
});

const globalNetworkSetDoc = (v: number): Doc => ({
  apiVersion: CALICO,
  kind: 'GlobalNetworkSet',
  metadata: { name: 'gset0', labels: { kind: pick(v, 0, ['partner', 'threat']) } },
  spec: compact({ nets: pick(v, 1, NETS), allowedEgressDomains: pick(v, 2, [undefined, ['example.com'], ['*.example.org', 'example.com']]) }),
});

function tierDoc(name: string) {
  return (v: number): Doc => ({ apiVersion: CALICO, kind: 'Tier', metadata: { name }, spec: compact({ order: pick(v, 0, [10, 20, 30, undefined]), defaultAction: pick(v, 1, [undefined, 'Pass']) }) });
}

const RULES: readonly Doc[] = [
  { action: 'Allow', protocol: 'TCP', destination: { ports: [8080] } },
  { action: 'Allow', source: { selector: "app == 'web'" } },
  { action: 'Deny', destination: { nets: ['203.0.113.0/24'] } },
  { action: 'Pass' },
  { action: 'Allow', protocol: 'TCP', destination: { ports: ['http'] } },
  { action: 'Allow', source: { namespaceSelector: "env == 'prod'" } },
  { action: 'Allow', source: { serviceAccounts: { selector: "role == 'x'" } } },
  { action: 'Allow', destination: { selector: "kind == 'partner'" } },
  { action: 'Log' },
  { action: 'Deny', source: { notSelector: "app == 'db'" } },
  { action: 'Allow', source: { selector: "kind == 'threat'" } },
  { action: 'Allow', protocol: 'UDP', destination: { selector: "app == 'db'", ports: [53] } },
];
const SELECTORS = ['all()', "app == 'web'", "app == 'db'", 'has(version)', "app in {'api', 'db'}"];
const TIERS = ['default', 't1', 't2', 'default'];

function rules(v: number, i: number): Doc[] {
  const n = pick(v, i, [0, 1, 1, 2]);
  return Array.from({ length: n }, (_, k) => pick(v, i + 10 + k, RULES));
}

function calicoSpec(v: number, global: boolean): Doc {
  return compact({
    tier: pick(v, 0, TIERS),
    order: pick(v, 1, [undefined, 10, 100]),
    selector: pick(v, 2, global ? [...SELECTORS, "projectcalico.org/namespace == 'ns-b'"] : SELECTORS),
    types: pick(v, 3, [['Ingress'], ['Egress'], ['Ingress', 'Egress'], undefined]),
    ingress: rules(v, 4),
    egress: rules(v, 5),
  });
}

function calicoPolicyDoc(kind: string, namespace: string | undefined, name: string) {
  const global = namespace === undefined;
  return (v: number): Doc => {
    const staged = kind.startsWith('Staged');
    const del = staged && pick(v, 7, [false, false, true]);
    const spec = del ? { stagedAction: 'Delete', tier: pick(v, 0, TIERS) } : { ...(staged ? { stagedAction: 'Set' } : {}), ...calicoSpec(v, global) };
    return { apiVersion: CALICO, kind, metadata: compact({ name, namespace }), spec };
  };
}

const K8S_PEERS: readonly Doc[][] = [
  [],
  [{ podSelector: { matchLabels: { app: 'api' } } }],
  [{ namespaceSelector: { matchLabels: { env: 'prod' } } }],
  [{ ipBlock: { cidr: '198.51.100.0/24', except: ['198.51.100.0/28'] } }],
  [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } }],
];

function k8sSpec(v: number): Doc {
  const rule = (i: number, dir: 'from' | 'to'): Doc[] => {
    const n = pick(v, i, [0, 1, 1, 2]);
    return Array.from({ length: n }, (_, k) =>
      compact({ [dir]: pick(v, i + 10 + k, K8S_PEERS), ports: pick(v, i + 20 + k, [undefined, [{ port: 8080 }], [{ port: 'http' }], [{ protocol: 'UDP', port: 53 }]]) }),
    );
  };
  return compact({
    podSelector: pick(v, 0, [{}, { matchLabels: { app: 'web' } }, { matchLabels: { app: 'db' } }]),
    policyTypes: pick(v, 1, [['Ingress'], ['Egress'], ['Ingress', 'Egress'], undefined]),
    ingress: rule(2, 'from'),
    egress: rule(3, 'to'),
  });
}

const k8sPolicyDoc = (v: number): Doc => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'knp0', namespace: 'ns-b' }, spec: k8sSpec(v) });
const stagedK8sPolicyDoc = (v: number): Doc => ({
  apiVersion: CALICO,
  kind: 'StagedKubernetesNetworkPolicy',
  metadata: { name: 'knp0', namespace: 'ns-b' },
  spec: pick(v, 9, [false, true]) ? { stagedAction: 'Delete' } : { stagedAction: 'Set', ...k8sSpec(v) },
});

/** Every slot: a resource identity whose content is a function of the variant. */
const SLOTS: readonly ((v: number) => Doc)[] = [
  ...NAMESPACES.map(namespaceDoc),
  serviceAccountDoc('ns-a', 'sa1'),
  serviceAccountDoc('ns-b', 'sa2'),
  podDoc('ns-a', 'p0', 'sa1'),
  podDoc('ns-a', 'p1', 'sa1'),
  podDoc('ns-b', 'p2', 'sa2'),
  podDoc('ns-b', 'p3', undefined),
  podDoc('ns-c', 'p4', undefined),
  podDoc('ns-a', 'p5', undefined),
  deploymentDoc,
  wepDoc,
  serviceDoc,
  hostEndpointDoc,
  networkSetDoc,
  globalNetworkSetDoc,
  tierDoc('t1'),
  tierDoc('t2'),
  calicoPolicyDoc('NetworkPolicy', 'ns-a', 'np0'),
  calicoPolicyDoc('NetworkPolicy', 'ns-b', 'np1'),
  calicoPolicyDoc('GlobalNetworkPolicy', undefined, 'gnp0'),
  calicoPolicyDoc('GlobalNetworkPolicy', undefined, 'gnp1'),
  calicoPolicyDoc('StagedNetworkPolicy', 'ns-a', 'np0'),
  calicoPolicyDoc('StagedGlobalNetworkPolicy', undefined, 'gnp0'),
  k8sPolicyDoc,
  stagedK8sPolicyDoc,
];
const POLICY_OR_TIER_KINDS = new Set(['Tier', 'NetworkPolicy', 'GlobalNetworkPolicy', 'StagedNetworkPolicy', 'StagedGlobalNetworkPolicy', 'StagedKubernetesNetworkPolicy']);

let loads = 0;
function load(doc: Doc): Resource {
  const file = `live-${++loads}.json`;
  const r = loadText(JSON.stringify(doc, null, 1), file);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.length, 0, `test generator made an invalid resource: ${JSON.stringify(doc)}\n${errors.map((d) => d.message).join('\n')}`);
  assert.equal(r.resources.length, 1);
  return r.resources[0]!;
}

const slotKeys = new Map<number, ResourceKey>();
function keyOfSlot(slot: number): ResourceKey {
  let k = slotKeys.get(slot);
  if (k === undefined) slotKeys.set(slot, (k = resourceKey(load(SLOTS[slot]!(0)))));
  return k;
}

// ---- steps

type Change = { readonly op: 'upsert'; readonly slot: number; readonly v: number } | { readonly op: 'remove'; readonly slot: number };
type Step = readonly Change[];

const changeArb: fc.Arbitrary<Change> = fc.oneof(
  { weight: 7, arbitrary: fc.record({ op: fc.constant('upsert' as const), slot: fc.nat(SLOTS.length - 1), v: fc.noBias(fc.nat(1 << 20)) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('remove' as const), slot: fc.nat(SLOTS.length - 1) }) },
);
const stepArb: fc.Arbitrary<Step> = fc.oneof({ weight: 9, arbitrary: changeArb.map((c) => [c]) }, { weight: 1, arbitrary: fc.array(changeArb, { minLength: 2, maxLength: 4 }) });

// ---- what a cluster answers

interface Observation {
  readonly lists: { endpoints: string[]; policies: string[]; tiers: string[]; namespaces: string[]; networkSets: string[]; owners: string[]; backends: string[] };
  /** Flow → verdict and deciding step. */
  readonly verdicts: Map<string, string>;
  /** `endpoint direction flow` → that direction's decision (for the change-report check). */
  readonly directions: Map<string, string>;
  readonly matrix: string[];
  readonly nodes: Map<string, string>;
  /** Selector canonical text → its members, for every selector the policies use. */
  readonly members: Map<string, string>;
}

const PORTS = [
  { protocol: 'TCP', port: 8080 },
  { protocol: 'TCP', port: 80 },
  { protocol: 'UDP', port: 53 },
];
const EXTERNAL = ['198.51.100.7', '198.51.100.200', '203.0.113.9', '192.0.2.1', '10.0.0.3', '10.0.0.14'];

function selectorsOf(p: Policy): Selector[] {
  const out: Selector[] = [p.selector];
  for (const r of [...p.ingress, ...p.egress]) {
    for (const side of [r.source, r.destination]) {
      if (side.selector !== undefined) out.push(side.selector);
      if (side.notSelector !== undefined) out.push(side.notSelector);
    }
  }
  return out;
}

function observe(c: Cluster): Observation {
  const eps = c.endpoints;
  const lists = {
    endpoints: eps.map((e) => `${e.id} ${e.labelKey} [${e.addresses.map(formatIp).join(',')}] ${e.node ?? '-'}`),
    policies: c.policies.map((p) => `${p.key} ${p.tier} ${p.order ?? '-'}`),
    tiers: c.tiers.map((t) => `${t.name}:${t.order ?? '-'}:${t.defaultAction}:${t.exists}`),
    namespaces: c.namespaces.map((n) => `${n.name} ${n.declared} ${[...n.labels].sort().join(',')}`).sort(),
    networkSets: c.networkSets.map((s) => `${s.id} ${[...s.labels].sort().join(',')} ${[...s.nets].map(formatCidr).join(',')}`).sort(),
    // Who owns each address (two pods may claim one: the later resource wins, as in a batch).
    owners: ADDRESS_IPS.map((a) => `${formatIp(a)} ${c.endpointByAddress(a)?.id ?? '-'}`),
    backends: c.services.map((s) => `${s.namespace}/${s.name}: ${c.serviceBackends(s.namespace, s.name).map((e) => e.id).sort().join(' ')}`),
  };
  const verdicts = new Map<string, string>();
  const directions = new Map<string, string>();
  const ids = [...new Set(eps.map((e) => e.id))];
  const flow = (from: string, to: string, protocol: string, port: number): void => {
    const name = `${from} -> ${to} ${protocol}/${port}`;
    const f = makeFlow(c, { from, to, protocol, port });
    if (!f.ok) {
      verdicts.set(name, `error ${f.diagnostics.map((d) => d.code).join(',')}`);
      return;
    }
    const d = evaluateFlow(c, f.value);
    // The pending view too (staged policies enforced, staged Deletes hiding their targets).
    const pending = d.pending === null ? 'no staged' : `${d.pending.verdict} ${JSON.stringify(d.pending.decidedBy)}`;
    verdicts.set(name, `${d.verdict} ${JSON.stringify(d.decidedBy)} | pending ${pending}`);
    const idOf = (peer: typeof f.value.src): string => (peer.kind === 'endpoint' ? peer.endpoint.id : '(outside)');
    if (d.egress !== null) directions.set(`${idOf(f.value.src)}\tegress\t${name}`, `${d.egress.verdict} ${JSON.stringify(d.egress.decidedBy)}`);
    if (d.ingress !== null) directions.set(`${idOf(f.value.dst)}\tingress\t${name}`, `${d.ingress.verdict} ${JSON.stringify(d.ingress.decidedBy)}`);
  };
  for (const a of ids) for (const b of ids) for (const p of PORTS) flow(a, b, p.protocol, p.port);
  for (const a of ids) for (const x of EXTERNAL) {
    flow(a, x, 'TCP', 8080);
    flow(x, a, 'TCP', 8080);
  }
  for (const a of ids) for (const domain of ['example.com', 'api.example.org', 'example.net']) flow(a, domain, 'TCP', 8080);

  const m = computeMatrix(c, { ports: [{ protocol: PROTOCOL.TCP, port: 8080 }, { protocol: PROTOCOL.UDP, port: 53 }] });
  const matrix = [`endpoints ${m.endpoints.map((e) => e.id).join(' ')}`];
  for (const pm of m.ports) {
    matrix.push(`port ${pm.spec.protocol}/${pm.spec.port ?? ''} dsts ${pm.destinations.join(',')}`);
    for (let s = 0; s < m.endpoints.length; s++) matrix.push(pm.destinations.map((d) => (pm.allowed(s, d) ? '1' : '0')).join(''));
  }

  const nodes = new Map<string, string>();
  const byNode = new Map<string, typeof eps[number][]>();
  for (const e of eps) {
    if (e.kind !== 'workload') continue;
    const n = e.node ?? '(none)';
    let list = byNode.get(n);
    if (list === undefined) byNode.set(n, (list = []));
    list.push(e);
  }
  const interfaces = interfacesOf(eps);
  for (const [n, list] of [...byNode].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    // The node index gives what a scan of every endpoint gives (host endpoints with a node too).
    if (n !== '(none)') {
      const scan = eps.filter((e) => e.node === n).map((e) => e.id).sort();
      nodes.set(`index ${n}`, c.endpointsOnNode(n).map((e) => e.id).sort().join(' ') === scan.join(' ') ? 'same' : `index ${c.endpointsOnNode(n).map((e) => e.id).sort().join(' ')} scan ${scan.join(' ')}`);
    }
    const r = compileNode(c, list, { interfaces });
    nodes.set(n, r.ok ? renderNft(r.value) : `error ${r.diagnostics.map((d) => d.message).join('; ')}`);
  }

  const members = new Map<string, string>();
  for (const p of c.policies) {
    for (const s of selectorsOf(p)) {
      if (members.has(s.canonical)) continue;
      const got = c.selectorMembers(s);
      const e = got.endpoints.map((x) => `${x.id}[${x.addresses.map(formatIp).join(',')}|${x.ports.map((q) => `${q.name ?? ''}:${q.protocol}/${q.port}`).join(',')}]`).sort();
      const n = got.networkSets.map((x) => `${x.id}[${x.nets.map(formatCidr).join(',')}]`).sort();
      members.set(s.canonical, `${e.join(' ')} | ${n.join(' ')}`);
    }
  }
  return { lists, verdicts, directions, matrix, nodes, members };
}

function assertSameObservation(got: Observation, want: Observation, what: () => string): void {
  // `what` is made only on failure: it lists every step so far, too slow to build at every step.
  try {
    assert.deepEqual(got.lists, want.lists, 'snapshot lists differ');
    for (const [k, v] of want.verdicts) if (got.verdicts.get(k) !== v) assert.equal(got.verdicts.get(k), v, `flow ${k}`);
    assert.equal(got.verdicts.size, want.verdicts.size, 'number of flows');
    assert.deepEqual(got.matrix, want.matrix, 'matrix differs');
    assert.deepEqual([...got.nodes.keys()], [...want.nodes.keys()], 'nodes differ');
    for (const [n, text] of want.nodes) if (got.nodes.get(n) !== text) assert.equal(got.nodes.get(n), text, `compiled rules of node ${n} differ`);
    assert.deepEqual(got.members, want.members, 'selector members differ');
  } catch (e) {
    if (e instanceof assert.AssertionError) e.message = `${what()}: ${e.message}`;
    throw e;
  }
}

/** `assert.ok` with a message made only on failure. */
function check(ok: boolean, message: () => string): void {
  if (!ok) assert.fail(message());
}

// ---- the model: the resources the store should hold, in arrival order (a Map keeps it)

function batchBuild(resources: Iterable<Resource>): { cluster: Cluster; errors: string[] } {
  const b = buildCluster([...resources]);
  return { cluster: b.cluster, errors: b.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}: ${d.message}`) };
}

function affectedBy(report: ChangeReport): Set<string> {
  return new Set([...report.plansChanged, ...report.endpoints.added, ...report.endpoints.removed, ...report.endpoints.updated]);
}

function describe(steps: readonly Step[], upTo: number): string {
  return steps
    .slice(0, upTo + 1)
    .map((s, i) => `  ${i}: ${s.map((c) => (c.op === 'upsert' ? `upsert ${keyOfSlot(c.slot)} v=${c.v}` : `remove ${keyOfSlot(c.slot)}`)).join(' + ')}`)
    .join('\n');
}

interface Held {
  readonly step: number;
  readonly snapshot: Cluster;
  readonly want: Observation;
}

/** Runs one sequence against one store; throws with the step list on the first difference. */
function runSequence(steps: readonly Step[]): void {
  const store: PolicyStore = createPolicyStore();
  const model = new Map<ResourceKey, Resource>();
  let want = observe(batchBuild([]).cluster);
  const held: Held[] = [];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const where = (): string => `step ${i} of\n${describe(steps, i)}`;
    // What the state would be, and whether the step is well-formed at all.
    const next = new Map(model);
    const changes: StoreChange[] = [];
    let malformed = false;
    const seen = new Set<ResourceKey>();
    for (const c of step) {
      const key = keyOfSlot(c.slot);
      if (seen.has(key)) malformed = true;
      seen.add(key);
      if (c.op === 'upsert') {
        const r = load(SLOTS[c.slot]!(c.v));
        changes.push({ op: 'upsert', resource: r });
        next.set(key, r);
      } else {
        if (!next.has(key)) malformed = true;
        changes.push({ op: 'remove', key });
        next.delete(key);
      }
    }
    const nextBuild = batchBuild(next.values());
    const expectReject = malformed || nextBuild.errors.length > 0;
    const generation = store.generation;
    const before = i % 5 === 0 ? store.snapshot() : undefined;
    const result = store.apply(changes);
    check(result.ok === !expectReject, () => `${where()}\nstore ${result.ok ? 'accepted' : 'rejected'} the step; batch build errors: ${nextBuild.errors.join('; ') || 'none'}${malformed ? ' (malformed batch)' : ''}\nstore diagnostics: ${result.diagnostics.map((d) => d.message).join('; ')}`);
    if (!result.ok) {
      check(store.generation === generation, () => `${where()}: a rejected step moved the generation`);
      assert.equal(result.generation, generation);
      check(result.diagnostics.some((d) => d.severity === 'error'), () => `${where()}: a rejected step without an error diagnostic`);
      assertSameObservation(observe(store.snapshot()), want, () => `${where()}\nafter a rejected step`);
      if (before !== undefined) assertSameObservation(observe(before), want, () => `${where()}\nsnapshot taken before a rejected step`);
      continue;
    }
    check(store.generation === generation + 1, () => `${where()}: generation`);
    check([...store.resources()].map(resourceKey).sort().join('\n') === [...next.keys()].sort().join('\n'), () => `${where()}: store resources`);
    const snap = store.snapshot();
    const hold = i % 7 === 3 ? store.snapshot() : undefined; // taken, not read until much later
    const got = observe(snap);
    const nowWant = observe(nextBuild.cluster);
    assertSameObservation(got, nowWant, () => `${where()}\nlive snapshot vs fresh build`);

    // The change report: a policy or tier edit names every endpoint whose decisions changed.
    const report = result.report;
    const affected = affectedBy(report);
    const policyEdit = step.every((c) => POLICY_OR_TIER_KINDS.has(keyOfSlot(c.slot).split('/')[0]!));
    if (policyEdit) {
      for (const [k, v] of nowWant.directions) {
        if (want.directions.has(k) && want.directions.get(k) !== v) {
          const ep = k.split('\t')[0]!;
          check(affected.has(ep), () => `${where()}\nthe decision ${k} changed (${want.directions.get(k)} → ${v}) but the report does not name ${ep}: ${JSON.stringify(report)}`);
        }
      }
    }
    // …and every selector (used before and after) whose members changed.
    const reported = new Set(report.selectors);
    for (const [canonical, members] of nowWant.members) {
      const was = want.members.get(canonical);
      if (was !== undefined && was !== members) {
        check(reported.has(canonical), () => `${where()}\nmembers of ${canonical} changed (${was} → ${members}) but the report's selectors are ${JSON.stringify(report.selectors)}`);
      }
    }
    // …and every network set whose labels or nets changed (added and removed ones included).
    const setsOf = (o: Observation): Map<string, string> => new Map(o.lists.networkSets.map((line) => [line.split(' ')[0]!, line]));
    const [setsBefore, setsAfter] = [setsOf(want), setsOf(nowWant)];
    for (const id of new Set([...setsBefore.keys(), ...setsAfter.keys()])) {
      if (setsBefore.get(id) !== setsAfter.get(id)) check(report.networkSets.includes(id), () => `${where()}\nnetwork set ${id} changed but the report's sets are ${JSON.stringify(report.networkSets)}`);
    }
    want = nowWant;
    model.clear();
    for (const [k, r] of next) model.set(k, r);

    if (hold !== undefined) held.push({ step: i, snapshot: hold, want });
    if (held.length > 4 || i === steps.length - 1) {
      for (const h of held.splice(0, i === steps.length - 1 ? held.length : 1)) {
        assertSameObservation(observe(h.snapshot), h.want, () => `${where()}\nsnapshot held since step ${h.step}`);
      }
    }
  }
}

test('a live store follows random upserts and removes exactly as a fresh batch build would', { timeout: 600_000 }, () => {
  const numRuns = Math.max(1, Math.ceil(TOTAL_STEPS / STEPS_PER_RUN));
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: STEPS_PER_RUN, maxLength: STEPS_PER_RUN }), (steps) => {
      runSequence(steps);
    }),
    { seed: SEED, numRuns, endOnFailure: process.env['STRATA_SHRINK'] === undefined },
  );
});

// ---- targeted cases

function mustLoad(text: string): Resource[] {
  const r = loadText(text, 'case.yaml');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  return r.resources;
}

test('adding pods under --pod-cidr never changes another pod’s address', () => {
  const cidr = parseCidrLenient('10.9.0.0/27');
  assert.ok(cidr.ok);
  fc.assert(
    fc.property(fc.array(fc.record({ add: fc.boolean(), pod: fc.nat(23), app: fc.nat(2) }), { minLength: 20, maxLength: 120 }), (ops) => {
      const store = createPolicyStore({ podCidr: '10.9.0.0/27' });
      const addressOf = new Map<string, string>();
      for (const op of ops) {
        const name = `q${op.pod}`;
        const key = `Pod/default/${name}`;
        const change: StoreChange = op.add
          ? { op: 'upsert', resource: mustLoad(`{apiVersion: v1, kind: Pod, metadata: {name: ${name}, namespace: default, labels: {app: a${op.app}}}, spec: {containers: [{name: c}]}}`)[0]! }
          : { op: 'remove', key };
        const r = store.apply([change]);
        if (!op.add && !addressOf.has(name)) {
          assert.equal(r.ok, false, 'removing a pod that is not there is rejected');
          continue;
        }
        if (!r.ok) {
          assert.ok(r.diagnostics.some((d) => d.code === 'engine/pod-cidr-exhausted'), r.diagnostics.map((d) => d.message).join('; '));
          continue;
        }
        const snap = store.snapshot();
        const now = new Map(snap.endpoints.map((e) => [e.name, formatIp(e.addresses[0]!)]));
        for (const [n, a] of addressOf) if (now.has(n)) assert.equal(now.get(n), a, `${n} was renumbered`);
        assert.equal(new Set(now.values()).size, now.size, 'two pods share an address');
        for (const a of now.values()) {
          const ip = parseIp(a);
          assert.ok(ip.ok && cidrContainsCidr(cidr.value, cidrOfAddress(ip.value)), `${a} is outside the pod CIDR`);
        }
        addressOf.clear();
        for (const [n, a] of now) addressOf.set(n, a);
      }
    }),
    { seed: SEED, numRuns: 12 },
  );
});

const BASE = `
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {env: prod}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.2}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: prod}
spec:
  tier: security
  selector: app == 'db'
  ingress: [{action: Allow, source: {selector: app == 'web'}}]
`;

test('a rejected batch changes nothing and says why', async (t) => {
  const cases: { name: string; changes: (store: PolicyStore) => StoreChange[]; code: string }[] = [
    {
      name: 'a policy in a tier that does not exist',
      changes: () => mustLoad(`{apiVersion: projectcalico.org/v3, kind: GlobalNetworkPolicy, metadata: {name: g}, spec: {tier: nosuch, selector: all()}}`).map((resource) => ({ op: 'upsert', resource })),
      code: 'engine/tier-not-found',
    },
    { name: 'removing a tier still in use', changes: () => [{ op: 'remove', key: 'Tier//security' }], code: 'store/tier-in-use' },
    {
      name: 'the same key twice in one batch',
      changes: (s) => [
        { op: 'remove', key: 'Pod/prod/web' },
        { op: 'upsert', resource: s.resource('Pod/prod/web')! },
      ],
      code: 'store/duplicate-in-batch',
    },
    { name: 'removing a key that is not there', changes: () => [{ op: 'remove', key: 'Pod/prod/nosuch' }], code: 'store/not-found' },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const store = createPolicyStore();
      assert.ok(store.apply(mustLoad(BASE).map((resource) => ({ op: 'upsert', resource }))).ok);
      const generation = store.generation;
      const before = store.snapshot();
      const want = observe(batchBuild(store.resources()).cluster);
      const r = store.apply(c.changes(store));
      assert.equal(r.ok, false);
      assert.ok(r.diagnostics.some((d) => d.code === c.code && d.severity === 'error'), r.diagnostics.map((d) => d.code).join(', '));
      assert.equal(store.generation, generation);
      assertSameObservation(observe(store.snapshot()), want, () => 'after');
      assertSameObservation(observe(before), want, () => 'held');
    });
  }
});

test('a policy edit reports exactly the endpoints it selects as re-planned', () => {
  const store = createPolicyStore();
  assert.ok(store.apply(mustLoad(BASE).map((resource) => ({ op: 'upsert', resource }))).ok);
  const edited = mustLoad(`{apiVersion: projectcalico.org/v3, kind: NetworkPolicy, metadata: {name: db-ingress, namespace: prod}, spec: {tier: security, selector: app == 'db', ingress: [{action: Deny}]}}`)[0]!;
  const r = store.upsert(edited);
  assert.ok(r.ok);
  assert.deepEqual(r.report.plansChanged, ['prod/db']);
  assert.deepEqual(r.report.policies, ['NetworkPolicy/prod/db-ingress']);
});

// Regressions found by the property test above.

function podText(name: string, app: string, ip: string): string {
  return `{apiVersion: v1, kind: Pod, metadata: {name: ${name}, namespace: default, labels: {app: ${app}}}, spec: {containers: [{name: c}]}, status: {podIP: ${ip}}}`;
}

test('a shared address stays with the later resource however the earlier one is upserted (as in a batch build)', async (t) => {
  const ip = parseIp('10.0.0.1');
  assert.ok(ip.ok);
  const cases: { name: string; edits: string[] }[] = [
    { name: 'the earlier pod is relabelled', edits: [podText('a', 'y', '10.0.0.1')] },
    { name: 'the earlier pod moves away and back', edits: [podText('a', 'x', '10.0.0.9'), podText('a', 'x', '10.0.0.1')] },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const store = createPolicyStore();
      const [a, b] = [mustLoad(podText('a', 'x', '10.0.0.1'))[0]!, mustLoad(podText('b', 'x', '10.0.0.1'))[0]!];
      assert.ok(store.apply([{ op: 'upsert', resource: a }, { op: 'upsert', resource: b }]).ok);
      let last = a;
      for (const e of c.edits) {
        last = mustLoad(e)[0]!;
        assert.ok(store.upsert(last).ok);
      }
      assert.equal(store.snapshot().endpointByAddress(ip.value)?.id, buildCluster([last, b]).cluster.endpointByAddress(ip.value)?.id);
      assert.equal(store.snapshot().endpointByAddress(ip.value)?.id, 'default/b');
    });
  }
});

test('a batch that creates and removes the same resource is rejected with a diagnostic, not a crash', () => {
  const store = createPolicyStore();
  const ns = mustLoad(`{apiVersion: v1, kind: Namespace, metadata: {name: fresh}}`)[0]!;
  const r = store.apply([
    { op: 'upsert', resource: ns },
    { op: 'remove', key: resourceKey(ns) },
  ]);
  assert.equal(r.ok, false);
  assert.ok(r.diagnostics.some((d) => d.code === 'store/duplicate-in-batch'));
  assert.equal(store.generation, 1);
  // Offline (keep going past errors): the net effect is nothing.
  const kept = store.apply([{ op: 'upsert', resource: ns }, { op: 'remove', key: resourceKey(ns) }], { onError: 'keep' });
  assert.ok(kept.ok);
  assert.equal(store.resource(resourceKey(ns)), undefined);
  assert.deepEqual(store.snapshot().namespaces.map((n) => n.name), []);
});

test('a pod that had no endpoint (host network) and gets one keeps its place in the endpoint list', () => {
  const hostNetwork = Array.from({ length: 200 }, (_, v) => v).find((v) => (SLOTS[5]!(v)['spec'] as { hostNetwork?: boolean }).hostNetwork === true)!;
  const normal = Array.from({ length: 200 }, (_, v) => v).find((v) => (SLOTS[5]!(v)['spec'] as { hostNetwork?: boolean }).hostNetwork === undefined)!;
  assert.equal(keyOfSlot(5), 'Pod/ns-a/p0');
  runSequence([
    [{ op: 'upsert', slot: 5, v: hostNetwork }],
    [{ op: 'upsert', slot: 6, v: normal }],
    [{ op: 'upsert', slot: 5, v: normal }],
  ]);
});
