// The filtered node view against the full state: random clusters over three nodes, random writes
// through the API (creates, replaces, deletes of pods, WorkloadEndpoints, a Deployment, services,
// namespaces, service accounts, network sets, tiers, Calico / Kubernetes / admin / staged
// policies), and after every write, for every node, the ruleset the agent compiles
// (`nodeEndpoints` + `compileNode` + `renderNft`, the agent's own path) from
//   - an engine built from the node's view as listed, and
//   - an engine built from the node's view as kept by applying its watch events from the first list
// equals the ruleset compiled from the server's full engine. On the way: every policy in a view
// is in the tier plan of one of the node's endpoints (or is the staged Delete of one), so the
// filter filters. Seeds are fixed; a failure names the seed and step. STRATA_SEED=N for another.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nodeEndpoints } from '../../src/agent/programmer.ts';
import { compileNode, renderNft } from '../../src/dataplane/index.ts';
import { createPolicyStore, resourceKey } from '../../src/engine/index.ts';
import type { Cluster, StoreChange } from '../../src/engine/index.ts';
import { enforcedKeyOfStaged } from '../../src/engine/policy-keys.ts';
import { syntheticOrigin, validateDocument } from '../../src/model/index.ts';
import { createNodeViews } from '../../src/server/node-views.ts';
import type { ViewEvent } from '../../src/server/node-views.ts';
import { resolveResourceName, resourceOfObject, resourceUrl } from '../../src/server/resources.ts';
import { Rng } from '../differential/generate.ts';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

type Doc = Record<string, unknown>;
const CALICO = 'projectcalico.org/v3';
const NODES = ['n1', 'n2', 'n3', 'n4'];
const SEEDS = process.env['STRATA_SEED'] !== undefined ? [Number(process.env['STRATA_SEED'])] : [20261202, 7, 4242, 1, 2];
const STEPS = Number(process.env['STRATA_STEPS'] ?? 100);

const compact = (o: Doc): Doc => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined));

// `role: svc` is read by the Service's selector only: such pods are peers because they back it.
const POD_LABELS = [{ app: 'web' }, { app: 'db' }, { app: 'api', version: 'v1' }, { app: 'web', version: 'v2' }, {}, { app: 'cache', role: 'svc' }];
const PORTS = [[{ name: 'http', containerPort: 8080 }], [{ name: 'http', containerPort: 9090 }], [{ name: 'dns', containerPort: 53, protocol: 'UDP' }], []];

const RULES: readonly Doc[] = [
  { action: 'Allow', protocol: 'TCP', destination: { ports: [8080] } },
  { action: 'Allow', source: { selector: "app == 'web'" } },
  { action: 'Deny', destination: { nets: ['203.0.113.0/24'] } },
  { action: 'Pass' },
  { action: 'Allow', protocol: 'TCP', destination: { ports: ['http'] } },
  { action: 'Allow', protocol: 'TCP', destination: { selector: "app == 'db'", ports: ['http'] } },
  { action: 'Allow', source: { namespaceSelector: "env == 'prod'" } },
  { action: 'Allow', source: { serviceAccounts: { selector: "role == 'x'" } } },
  { action: 'Allow', destination: { selector: "kind == 'partner'" } },
  { action: 'Deny', source: { notSelector: "app == 'db'" } },
  { action: 'Allow', source: { selector: "kind == 'threat'" } },
  { action: 'Allow', protocol: 'UDP', destination: { selector: "app == 'api'", ports: [53] } },
  { action: 'Allow', protocol: 'TCP', destination: { services: { name: 'svc0', namespace: 'ns-a' } } },
  { action: 'Allow', source: { services: { name: 'svc0', namespace: 'ns-a' } } },
  { action: 'Allow', destination: { domains: ['example.com'] } },
  { action: 'Allow', destination: { selector: 'has(kind)' } },
  // The narrow shapes again, so that they often are the only reason a peer is in a view.
  { action: 'Deny', destination: { notSelector: "app == 'api'" } },
  { action: 'Allow', protocol: 'UDP', destination: { ports: ['dns'] } },
  { action: 'Allow', protocol: 'TCP', source: { ports: ['http'] } },
  { action: 'Allow', protocol: 'TCP', destination: { services: { name: 'svc0', namespace: 'ns-a' } } },
  { action: 'Allow', source: { services: { name: 'svc0', namespace: 'ns-a' } } },
  { action: 'Allow', destination: { selector: "app == 'api' && version == 'v1'" } },
  { action: 'Allow', protocol: 'TCP', destination: { services: { name: 'svc0', namespace: 'ns-a' } } },
  { action: 'Allow', source: { services: { name: 'svc0', namespace: 'ns-a' } } },
  { action: 'Deny', source: { services: { name: 'svc0', namespace: 'ns-a' } } },
];
const SELECTORS = ['all()', "app == 'web'", "app == 'db'", 'has(version)', "app in {'api', 'db'}", "app == 'nobody'"];

// Calico refuses services in an ingress rule's destination and an egress rule's source, and
// domains outside egress destinations: each direction draws from the rules valid there.
const sideOf = (rule: Doc, side: string): Doc => (rule[side] ?? {}) as Doc;
const INGRESS_RULES = RULES.filter((x) => sideOf(x, 'destination')['services'] === undefined && sideOf(x, 'destination')['domains'] === undefined);
const EGRESS_RULES = RULES.filter((x) => sideOf(x, 'source')['services'] === undefined);

function rules(r: Rng, dir: 'ingress' | 'egress'): Doc[] {
  return Array.from({ length: r.pick([0, 1, 1, 2]) }, () => r.pick(dir === 'ingress' ? INGRESS_RULES : EGRESS_RULES));
}

function calicoSpec(r: Rng, global: boolean): Doc {
  return compact({
    tier: r.pick(['default', 't1', 'default']),
    order: r.pick([undefined, 10, 100]),
    selector: r.pick(global ? [...SELECTORS, "projectcalico.org/namespace == 'ns-b'"] : SELECTORS),
    types: r.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress'], undefined]),
    ingress: rules(r, 'ingress'),
    egress: rules(r, 'egress'),
  });
}

/** A slot: one object identity, its content drawn anew at each write. */
interface Slot {
  readonly doc: (r: Rng) => Doc;
}

const slot = (doc: (r: Rng) => Doc): Slot => ({ doc });

function pod(ns: string, name: string): Slot {
  return slot((r) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: r.pick(POD_LABELS) },
    spec: compact({ nodeName: r.pick(NODES), serviceAccountName: r.pick(['sa1', undefined]), containers: [{ name: 'c', image: 'i', ports: r.pick(PORTS) }] }),
    status: { podIP: `10.0.${r.int(0, 3)}.${r.int(1, 20)}` },
  }));
}

function wep(ns: string, name: string): Slot {
  return slot((r) => ({
    apiVersion: CALICO,
    kind: 'WorkloadEndpoint',
    metadata: { name, namespace: ns, labels: r.pick(POD_LABELS) },
    spec: { node: r.pick(NODES), interfaceName: `cali${name}`, ipNetworks: [`10.1.0.${r.int(1, 30)}/32`], profiles: [`kns.${ns}`], ports: [{ name: 'http', port: r.pick([8080, 80]), protocol: 'TCP' }] },
  }));
}

function calicoPolicy(kind: string, ns: string | undefined, name: string): Slot {
  return slot((r) => {
    const staged = kind.startsWith('Staged');
    const spec = staged && r.chance(0.3) ? { stagedAction: 'Delete', tier: 'default' } : { ...(staged ? { stagedAction: 'Set' } : {}), ...calicoSpec(r, ns === undefined) };
    return { apiVersion: CALICO, kind, metadata: compact({ name, namespace: ns }), spec };
  });
}

const K8S_PEERS: readonly Doc[][] = [[], [{ podSelector: { matchLabels: { app: 'api' } } }], [{ namespaceSelector: { matchLabels: { env: 'prod' } } }], [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } }]];

const SLOTS: readonly Slot[] = [
  ...['ns-a', 'ns-b', 'ns-c'].map((name) => slot((r) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: compact({ env: r.pick(['prod', 'dev', undefined]) }) } }))),
  slot((r) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa1', namespace: 'ns-a', labels: compact({ role: r.pick(['x', 'y', undefined]) }) } })),
  slot((r) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa1', namespace: 'ns-b', labels: compact({ role: r.pick(['x', 'y', undefined]) }) } })),
  slot((r) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa1', namespace: 'ns-c', labels: compact({ role: r.pick(['x', 'y', undefined]) }) } })),
  ...['p0', 'p1', 'p2', 'p6'].map((n) => pod('ns-a', n)),
  ...['p3', 'p4', 'p5', 'p7'].map((n) => pod('ns-b', n)),
  ...['p8', 'p9'].map((n) => pod('ns-c', n)),
  wep('ns-a', 'w0'),
  wep('ns-b', 'w1'),
  slot((r) => {
    const labels = r.pick(POD_LABELS.slice(0, 4));
    return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd0', namespace: 'ns-b' }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'i', ports: r.pick(PORTS) }] } } } };
  }),
  slot((r) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc0', namespace: 'ns-a' }, spec: { selector: r.pick([{ app: 'web' }, { app: 'db' }, { role: 'svc' }, { role: 'svc' }]), ports: [{ port: 80, targetPort: r.pick([8080, 'http']) }] } })),
  slot((r) => ({ apiVersion: CALICO, kind: 'NetworkSet', metadata: { name: 'set0', namespace: 'ns-a', labels: { kind: r.pick(['partner', 'threat']) } }, spec: { nets: [r.pick(['198.51.100.0/24', '10.0.0.0/29'])] } })),
  slot((r) => ({
    apiVersion: CALICO,
    kind: 'GlobalNetworkSet',
    metadata: { name: 'gset0', labels: { kind: r.pick(['partner', 'threat', 'other']) } },
    spec: compact({ nets: [r.pick(['203.0.113.0/25', '192.0.2.0/24'])], allowedEgressDomains: r.pick([undefined, ['example.com'], ['*.example.org']]) }),
  })),
  slot(() => ({ apiVersion: CALICO, kind: 'GlobalNetworkSet', metadata: { name: 'threatfeed.bad', labels: { kind: 'threat' } }, spec: { nets: ['192.0.2.66/32'] } })),
  slot((r) => ({ apiVersion: CALICO, kind: 'Tier', metadata: { name: 't1' }, spec: compact({ order: r.pick([10, 200, undefined]), defaultAction: r.pick([undefined, 'Pass']) }) })),
  calicoPolicy('NetworkPolicy', 'ns-a', 'np0'),
  calicoPolicy('NetworkPolicy', 'ns-b', 'np1'),
  calicoPolicy('GlobalNetworkPolicy', undefined, 'gnp0'),
  calicoPolicy('GlobalNetworkPolicy', undefined, 'gnp1'),
  calicoPolicy('StagedGlobalNetworkPolicy', undefined, 'gnp0'),
  calicoPolicy('StagedNetworkPolicy', 'ns-a', 'np0'),
  slot((r) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'knp0', namespace: 'ns-b' },
    spec: compact({
      podSelector: r.pick([{}, { matchLabels: { app: 'web' } }, { matchLabels: { app: 'db' } }]),
      policyTypes: r.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']]),
      ingress: [{ from: r.pick(K8S_PEERS), ports: r.pick([undefined, [{ port: 8080 }], [{ port: 'http' }]]) }],
      egress: [{ to: r.pick(K8S_PEERS) }],
    }),
  })),
  slot((r) => ({
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy',
    metadata: { name: 'anp0' },
    spec: {
      priority: r.int(1, 50),
      subject: r.pick([{ namespaces: { matchLabels: { env: 'prod' } } }, { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } } }]),
      ingress: [{ name: 'r', action: r.pick(['Allow', 'Deny', 'Pass']), from: [r.pick([{ namespaces: { matchLabels: { env: 'dev' } } }, { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'api' } } } }])] }],
    },
  })),
];

interface Held {
  readonly key: string;
  readonly url: string;
}

function identity(d: Doc): Held {
  const info = resourceOfObject(String(d['apiVersion']), String(d['kind']));
  if (info === undefined) throw new Error(`no resource for ${String(d['kind'])}`);
  const m = d['metadata'] as { name: string; namespace?: string };
  return { key: `${info.type}/${m.namespace ?? ''}/${m.name}`, url: resourceUrl(info, m.namespace, m.name) };
}

/** An engine from view objects, as the agent's sync loop builds one (validate, upsert, keep errors). */
function engineOf(items: readonly Doc[]): Cluster {
  const store = createPolicyStore();
  const changes: StoreChange[] = [];
  const seen = new Set<string>();
  for (const o of items) {
    const r = validateDocument(o, syntheticOrigin('view'));
    if (!r.ok || r.value === undefined) continue;
    const k = resourceKey(r.value);
    if (seen.has(k)) continue;
    seen.add(k);
    changes.push({ op: 'upsert', resource: r.value });
  }
  store.apply(changes, { onError: 'keep' });
  return store.snapshot();
}

function rulesetOf(c: Cluster, node: string): string {
  const { endpoints, interfaces } = nodeEndpoints(c, node);
  const r = compileNode(c, endpoints, { interfaces });
  return r.ok ? renderNft(r.value) : `error ${r.diagnostics.map((d) => d.message).sort().join('; ')}`;
}

const viewKey = (o: Doc): string => {
  const m = o['metadata'] as { name: string; namespace?: string };
  return `${String(o['apiVersion'])}/${String(o['kind'])}/${m.namespace ?? ''}/${m.name}`;
};

describe('the filtered node view compiles as the full state', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ threatFeeds: false });
  });
  after(async () => {
    await h.close();
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: ${STEPS} random writes, every node, list and watch`, async () => {
      const rng = new Rng(seed);
      const mirror = h.server.mirror;
      // Start from an empty store: delete what an earlier seed left.
      for (const s of SLOTS) {
        const id = identity(s.doc(new Rng(0)));
        await h.call('DELETE', id.url);
      }
      // A few writes first, so the first list is not empty.
      const write = async (): Promise<string> => {
        const s = rng.pick(SLOTS);
        if (rng.chance(0.2)) {
          const id = identity(s.doc(new Rng(0)));
          const r = await h.call('DELETE', id.url);
          return `delete ${id.key} → ${r.code}`;
        }
        const d = s.doc(rng);
        const r = await h.call('POST', '/apis/strata/v1/apply', { body: [d] });
        return `apply ${JSON.stringify(d)} → ${r.code}`;
      };
      for (let i = 0; i < 8; i++) await write();
      // Every node's view as its watch keeps it, from a first list.
      const watched = new Map<string, Map<string, Doc>>();
      const subs: { close(): void }[] = [];
      for (const n of NODES) {
        const listed = await h.call('GET', `/apis/strata/v1/nodeviews/${n}`);
        assert.equal(listed.code, 200);
        const held = new Map<string, Doc>((listed.json.items as Doc[]).map((o) => [viewKey(o), o]));
        watched.set(n, held);
        const sub = mirror.views.watch(n, Number(listed.json.metadata.resourceVersion), (events: readonly ViewEvent[]) => {
          for (const e of events) {
            if (e.type === 'DELETED') held.delete(viewKey(e.object));
            else held.set(viewKey(e.object), e.object);
          }
        });
        assert.ok(sub !== undefined, 'a watch from the list revision is refused');
        subs.push(sub);
      }
      const history: string[] = [];
      try {
        for (let step = 0; step < STEPS; step++) {
          history.push(await write());
          const full = mirror.engine.snapshot();
          const where = (what: string): string => `seed ${seed} step ${step} (STRATA_SEED=${seed}): ${what}\nwrites:\n${history.slice(-6).join('\n')}`;
          for (const n of NODES) {
            const want = rulesetOf(full, n);
            const listed = await h.call('GET', `/apis/strata/v1/nodeviews/${n}`);
            const items = listed.json.items as Doc[];
            assert.equal(rulesetOf(engineOf(items), n), want, where(`node ${n}, from the list`));
            const kept = watched.get(n)!;
            assert.deepEqual([...kept.keys()].sort(), items.map(viewKey).sort(), where(`node ${n}: the watched view holds other objects than the list`));
            assert.equal(rulesetOf(engineOf([...kept.values()]), n), want, where(`node ${n}, from the watch events`));
            // The filter filters: each policy sent is active on the node.
            const active = new Set<string>();
            for (const ep of full.endpointsOnNode(n)) for (const dir of ['ingress', 'egress'] as const) for (const tp of full.plan(ep, dir)) for (const p of tp.policies) active.add(p.key);
            for (const o of items) {
              const r = validateDocument(o, syntheticOrigin('view'));
              if (!r.ok || r.value === undefined) continue;
              const p = full.policy(resourceKey(r.value));
              if (p === undefined) continue;
              const target = p.stagedAction === 'Delete' ? enforcedKeyOfStaged(p) : undefined;
              assert.ok(active.has(p.key) || (target !== undefined && active.has(target)), where(`node ${n}: policy ${p.key} is in the view but selects none of its endpoints`));
            }
          }
        }
      } finally {
        for (const s of subs) s.close();
      }
      const st = mirror.views.stats();
      assert.ok(st.fastChecks > 0 && st.recomputes > 0, JSON.stringify(st));
    });
  }
});

describe('resuming a node view watch', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ threatFeeds: false });
  });
  after(async () => {
    await h.close();
  });

  it('replays what was sent after the resourceVersion; 410 for a node nobody listed', async () => {
    const pod = (name: string, app: string): Doc => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'ns-a', labels: { app } },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] },
      status: { podIP: '10.0.0.1' },
    });
    const apply = async (d: Doc): Promise<number> => {
      const r = await h.call('POST', '/apis/strata/v1/apply', { body: [d] });
      assert.equal(r.code, 200, JSON.stringify(r.json));
      return h.server.mirror.views.revision();
    };
    await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns-a' } });
    const listed = await h.call('GET', '/apis/strata/v1/nodeviews/n1');
    const rv0 = Number(listed.json.metadata.resourceVersion);
    const rv1 = await apply(pod('a', 'web'));
    await apply(pod('b', 'web'));
    const names = (from: number): string[] => {
      const seen: string[] = [];
      const sub = h.server.mirror.views.watch('n1', from, (es) => void seen.push(...es.map((e) => `${e.type} ${(e.object['metadata'] as { name: string }).name}`)));
      assert.ok(sub !== undefined);
      sub.close();
      return seen;
    };
    assert.deepEqual(names(rv0), ['ADDED a', 'ADDED b']);
    assert.deepEqual(names(rv1), ['ADDED b']);
    assert.equal(h.server.mirror.views.watch('n9', rv0, () => undefined), undefined);
    const gone = await h.call('GET', `/apis/strata/v1/nodeviews/n9?watch=true&resourceVersion=${rv0}`);
    assert.equal(gone.code, 410);
  });
});

describe('a fault while keeping a view', () => {
  it('reaches the node\'s watchers as "list again", and the views go on for later lists', () => {
    const store = createPolicyStore();
    let broken = false;
    const messages: string[] = [];
    const views = createNodeViews(
      () => {
        if (broken) throw new Error('injected');
        return store.snapshot();
      },
      Date.now,
      (m) => void messages.push(m),
    );
    views.list('n1');
    let gone = 0;
    const sub = views.watch('n1', views.revision(), () => undefined, () => void gone++);
    assert.ok(sub !== undefined);
    const tier = resolveResourceName('tiers')!;
    broken = true;
    views.applied(1, [{ key: '/registry/projectcalico.org/tiers/t1', info: tier, obj: { apiVersion: CALICO, kind: 'Tier', metadata: { name: 't1', resourceVersion: '1' }, spec: {} }, resource: undefined }], false, undefined);
    assert.equal(gone, 1);
    assert.match(messages.join('\n'), /n1 failed \(injected\)/);
    assert.equal(views.watch('n1', 1, () => undefined), undefined, 'the node is forgotten: a watch is 410');
    broken = false;
    assert.equal(views.list('n1').items.filter((o) => o['kind'] === 'Tier').length, 0, 'listed again, the view is computed anew (a tier no policy of n1 uses is not in it)');
  });
});
