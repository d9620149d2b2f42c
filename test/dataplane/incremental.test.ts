// The incremental node compiler (an agent's) against compileNode: random sequences of changes —
// pods added, removed, relabelled, moved on and off the node, readdressed; namespaces and service
// accounts relabelled; policies of every kind added, edited, re-tiered, staged and removed; tiers
// reordered and their default action flipped; network sets (CIDRs, labels, allowedEgressDomains);
// Services re-pointed — applied to a live store. After every step the incremental compile of the
// snapshot must equal a fresh compileNode of the same snapshot exactly, and the update diffed from
// the previous incremental ruleset must render the same nft script as the one diffed between the
// fresh rulesets and, replayed on the previous ruleset, give the next one. Fixed seeds; a failure
// names its seed, step and the steps that led there.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileNode, diffRulesets, renderNft, renderNftUpdate } from '../../src/dataplane/index.ts';
import type { CompileOptions, Ruleset } from '../../src/dataplane/index.ts';
import { createNodeCompiler } from '../../src/dataplane/incremental.ts';
import type { Cluster } from '../../src/engine/index.ts';
import { createPolicyStore, resourceKey } from '../../src/engine/store.ts';
import type { StoreChange } from '../../src/engine/store.ts';
import { loadText } from '../../src/load/index.ts';
import { kernelTable, nftIn, nftSkip, withNetns } from './netns.ts';
import { canonical, replay } from './replay.ts';

type Doc = Record<string, unknown>;

/** mulberry32: small, fast, reproducible. */
function rngOf(seed: number): { next(): number; int(n: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)]!, chance: (p) => next() < p };
}

const NODE = 'node-a';
const NAMESPACES = ['shop', 'bank', 'ops'];
const APPS = ['web', 'api', 'db', 'dns', 'cache'];
const SAS = ['default', 'robot'];
const TIERS = ['security', 'platform'];

type Rng = ReturnType<typeof rngOf>;

/** The cluster as documents by resource key; every step edits it and the store gets the difference. */
class World {
  readonly docs = new Map<string, Doc>();
  private n = 0;
  private readonly rng: Rng;
  constructor(rng: Rng) {
    this.rng = rng;
  }

  private set(doc: Doc): void {
    this.docs.set(keyOf(doc), doc);
  }

  private ofKind(kind: string): Doc[] {
    return [...this.docs.values()].filter((d) => d['kind'] === kind);
  }

  private uid(): number {
    return this.n++;
  }

  namespace(name: string): void {
    this.set({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { team: this.rng.pick(['a', 'b']), env: this.rng.pick(['prod', 'dev']) } } });
  }

  serviceAccount(ns: string, name: string): void {
    this.set({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, labels: { role: this.rng.pick(['front', 'back']) } } });
  }

  pod(): void {
    const i = this.uid();
    const ns = this.rng.pick(NAMESPACES);
    const ports: Doc[] = [];
    if (this.rng.chance(0.6)) ports.push({ name: 'http', containerPort: 8080 + this.rng.int(2) });
    if (this.rng.chance(0.3)) ports.push({ name: 'metrics', containerPort: 9090 });
    if (this.rng.chance(0.2)) ports.push({ name: 'dns', containerPort: 53, protocol: 'UDP' });
    const ip4 = `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`;
    const dual = this.rng.chance(0.3);
    this.set({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `p${i}`, namespace: ns, labels: { app: this.rng.pick(APPS), ...(this.rng.chance(0.3) ? { tier: this.rng.pick(['web', 'data']) } : {}) } },
      spec: { nodeName: this.rng.chance(0.5) ? NODE : 'node-b', serviceAccountName: this.rng.pick(SAS), containers: [{ name: 'c', ports }] },
      status: dual ? { podIP: ip4, podIPs: [{ ip: ip4 }, { ip: `fd00::${i.toString(16)}` }] } : { podIP: ip4 },
    });
  }

  tier(name: string, order: number): void {
    this.set({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name }, spec: { order, ...(this.rng.chance(0.4) ? { defaultAction: 'Pass' } : {}) } });
  }

  private selector(): string {
    return this.rng.pick([
      'all()',
      `app == "${this.rng.pick(APPS)}"`,
      `app in {"${this.rng.pick(APPS)}", "${this.rng.pick(APPS)}"}`,
      'has(tier)',
      `tier == "web" || app == "${this.rng.pick(APPS)}"`,
      `projectcalico.org/namespace == "${this.rng.pick(NAMESPACES)}"`,
      `pcns.team == "${this.rng.pick(['a', 'b'])}"`,
      `pcsa.role == "${this.rng.pick(['front', 'back'])}"`,
      'kind == "partner"',
    ]);
  }

  private entity(role: 'src' | 'dst'): Doc {
    const e: Doc = {};
    const r = this.rng;
    if (r.chance(0.5)) e['selector'] = this.selector();
    if (r.chance(0.15)) e['namespaceSelector'] = r.pick(['all()', `team == "${r.pick(['a', 'b'])}"`, 'global()']);
    if (r.chance(0.15)) e['nets'] = r.pick([['10.0.0.0/16'], ['192.0.2.0/24', '10.1.0.0/16'], ['fd00::/64']]);
    if (r.chance(0.08)) e['notNets'] = ['10.0.1.0/24'];
    if (r.chance(0.1)) e['notSelector'] = `app == "${r.pick(APPS)}"`;
    if (role === 'dst' && r.chance(0.3)) e['ports'] = r.pick([[80], [443, '8000:8100'], ['http'], ['http', 'metrics', 5432], ['dns']]);
    if (role === 'dst' && r.chance(0.08)) e['notPorts'] = r.pick([[22], ['metrics']]);
    if (role === 'src' && r.chance(0.08)) e['ports'] = [1024];
    if (role === 'dst' && r.chance(0.1) && e['nets'] === undefined && e['notNets'] === undefined) e['domains'] = r.pick([['api.example.com'], ['*.example.net', 'API.example.com.']]);
    if (role === 'dst' && r.chance(0.08) && e['domains'] === undefined) e['services'] = { name: `svc-${r.pick(APPS)}`, namespace: r.pick(NAMESPACES) };
    if (r.chance(0.05)) e['serviceAccounts'] = { names: [r.pick(SAS)] };
    return e;
  }

  /** A rule the model accepts: random ones until one validates (domains and HTTP have their rules). */
  private rule(dir: 'ingress' | 'egress'): Doc {
    for (;;) {
      const rule = this.anyRule();
      const d = rule['destination'] as Doc | undefined;
      if (dir === 'ingress' && d?.['domains'] !== undefined) delete d['domains'];
      const doc = { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'probe' }, spec: { selector: 'all()', [dir]: [rule] } };
      if (loadText(JSON.stringify(doc), 'probe.json').diagnostics.every((x) => x.severity !== 'error')) return rule;
    }
  }

  private anyRule(): Doc {
    const r = this.rng;
    const action = r.pick(['Allow', 'Allow', 'Allow', 'Deny', 'Pass', 'Log']);
    const rule: Doc = { action };
    const proto = r.pick([undefined, 'TCP', 'UDP', 'ICMP', 'ICMPv6']);
    const src = this.entity('src');
    const dst = this.entity('dst');
    const hasPorts = src['ports'] !== undefined || dst['ports'] !== undefined || dst['notPorts'] !== undefined;
    if (proto !== undefined && !(hasPorts && (proto === 'ICMP' || proto === 'ICMPv6'))) rule['protocol'] = proto;
    else if (hasPorts) rule['protocol'] = 'TCP';
    if (rule['protocol'] === 'ICMP' && r.chance(0.5)) rule['icmp'] = { type: 8, ...(r.chance(0.5) ? { code: 0 } : {}) };
    if (rule['protocol'] === undefined && r.chance(0.1)) rule['notProtocol'] = 'UDP';
    if (r.chance(0.1)) rule['ipVersion'] = r.pick([4, 6]);
    if (r.chance(0.05)) rule['http'] = { methods: ['GET'] };
    if (Object.keys(src).length > 0) rule['source'] = src;
    if (Object.keys(dst).length > 0) rule['destination'] = dst;
    return rule;
  }

  private rules(dir: 'ingress' | 'egress'): Doc[] {
    return Array.from({ length: this.rng.int(4) }, () => this.rule(dir));
  }

  policy(): void {
    const i = this.uid();
    const r = this.rng;
    const kind = r.pick(['GlobalNetworkPolicy', 'NetworkPolicy', 'NetworkPolicy', 'StagedGlobalNetworkPolicy', 'K8sNetworkPolicy']);
    if (kind === 'K8sNetworkPolicy') {
      const ns = r.pick(NAMESPACES);
      const peer = (): Doc => r.pick([{ podSelector: { matchLabels: { app: r.pick(APPS) } } }, { namespaceSelector: { matchLabels: { team: r.pick(['a', 'b']) } } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.2.0/24'] } }]);
      const ports = (): Doc[] => r.pick([[], [{ port: 80 }], [{ port: 'http' }], [{ protocol: 'UDP', port: 53 }]]);
      this.set({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: `k${i}`, namespace: ns },
        spec: {
          podSelector: r.chance(0.3) ? {} : { matchLabels: { app: r.pick(APPS) } },
          policyTypes: r.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']]),
          ingress: r.chance(0.8) ? [{ from: [peer()], ports: ports() }] : [],
          egress: r.chance(0.8) ? [{ to: [peer()], ports: ports() }] : [],
        },
      });
      return;
    }
    const spec: Doc = {
      tier: r.pick([...TIERS, 'default']),
      order: r.int(5) * 10,
      selector: r.chance(0.3) ? 'all()' : this.selector(),
      types: r.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']]),
      ingress: this.rules('ingress'),
      egress: this.rules('egress'),
    };
    if (kind === 'StagedGlobalNetworkPolicy') spec['stagedAction'] = 'Set';
    const namespaced = kind === 'NetworkPolicy';
    const name = `${spec['tier'] === 'default' ? '' : `${String(spec['tier'])}.`}x${i}`;
    this.set({ apiVersion: 'projectcalico.org/v3', kind, metadata: { name, ...(namespaced ? { namespace: r.pick(NAMESPACES) } : {}) }, spec });
  }

  networkSet(): void {
    const i = this.uid();
    const r = this.rng;
    this.set({
      apiVersion: 'projectcalico.org/v3',
      kind: r.chance(0.5) ? 'GlobalNetworkSet' : 'NetworkSet',
      metadata: { name: `ns${i}`, ...(r.chance(0.5) ? {} : { namespace: r.pick(NAMESPACES) }), labels: { kind: r.pick(['partner', 'feed']) } },
      spec: { nets: r.pick([['192.0.2.0/28'], ['198.51.100.7/32', 'fd01::/48'], [`10.0.${r.int(4)}.0/24`]]), ...(r.chance(0.5) ? { allowedEgressDomains: r.pick([['api.example.com'], ['*.partner.example', 'x.example.org']]) } : {}) },
    });
  }

  service(): void {
    const r = this.rng;
    const app = r.pick(APPS);
    this.set({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${app}`, namespace: r.pick(NAMESPACES) },
      spec: { selector: { app: r.pick(APPS) }, ports: [{ name: 'p', port: 80, targetPort: r.pick([8080, 'http']) }, ...(r.chance(0.4) ? [{ name: 'm', port: 9, targetPort: 'metrics' }] : [])] },
    });
  }

  /** One random edit; returns what it did. */
  step(): string {
    const r = this.rng;
    const pick = (kind: string): Doc | undefined => {
      const xs = this.ofKind(kind);
      return xs.length === 0 ? undefined : r.pick(xs);
    };
    const edit = (d: Doc | undefined, f: (copy: Doc) => void): string => {
      if (d === undefined) return 'nothing to edit';
      const copy = structuredClone(d);
      f(copy);
      this.set(copy);
      return keyOf(copy);
    };
    const remove = (d: Doc | undefined): string => {
      if (d === undefined) return 'nothing to remove';
      this.docs.delete(keyOf(d));
      return keyOf(d);
    };
    const meta = (d: Doc): Doc => d['metadata'] as Doc;
    const spec = (d: Doc): Doc => d['spec'] as Doc;
    const kinds = 21;
    switch (r.int(kinds)) {
      case 0:
        this.pod();
        return 'pod added';
      case 1:
        return `pod removed ${remove(pick('Pod'))}`;
      case 2:
        return `pod relabelled ${edit(pick('Pod'), (d) => ((meta(d)['labels'] as Doc)['app'] = r.pick(APPS)))}`;
      case 3:
        return `pod moved ${edit(pick('Pod'), (d) => (spec(d)['nodeName'] = spec(d)['nodeName'] === NODE ? 'node-b' : NODE))}`;
      case 4:
        return `pod readdressed / re-ported ${edit(pick('Pod'), (d) => {
          const st = d['status'] as Doc;
          st['podIP'] = `10.9.${r.int(256)}.${r.int(256)}`;
          delete st['podIPs'];
          const c = (spec(d)['containers'] as Doc[])[0]!;
          c['ports'] = r.chance(0.5) ? [{ name: 'http', containerPort: 7000 + r.int(3) }] : [];
        })}`;
      case 5:
        return `namespace relabelled ${edit(pick('Namespace'), (d) => (meta(d)['labels'] = { team: r.pick(['a', 'b']), env: r.pick(['prod', 'dev']) }))}`;
      case 6:
        return `service account relabelled ${edit(pick('ServiceAccount'), (d) => (meta(d)['labels'] = { role: r.pick(['front', 'back']) }))}`;
      case 7:
      case 8:
        this.policy();
        return 'policy added';
      case 9:
      case 17:
      case 18:
      case 19:
        return `policy edited ${edit(r.pick([...this.ofKind('GlobalNetworkPolicy'), ...this.ofKind('NetworkPolicy'), ...this.ofKind('StagedGlobalNetworkPolicy')].filter((d) => d['apiVersion'] !== 'networking.k8s.io/v1').concat([undefined as unknown as Doc])), (d) => {
          const s = spec(d);
          const which = r.int(7);
          const dir = r.pick(['ingress', 'egress'] as const);
          const list = s[dir] as Doc[];
          if (which === 0) s['ingress'] = this.rules('ingress');
          else if (which === 1) s['egress'] = this.rules('egress');
          else if (which === 2) s['order'] = r.int(5) * 10;
          else if (which === 3) s['selector'] = this.selector();
          // One rule replaced in place: the chain keeps its length, its content changes.
          else if (list.length > 0) list[r.int(list.length)] = this.rule(dir);
          else s[dir] = [this.rule(dir)];
        })}`;
      case 10:
        return `policy removed ${remove(r.pick([...this.ofKind('GlobalNetworkPolicy'), ...this.ofKind('NetworkPolicy'), ...this.ofKind('StagedGlobalNetworkPolicy')].concat([undefined as unknown as Doc])))}`;
      case 11:
        return `tier edited ${edit(pick('Tier'), (d) => {
          const s = spec(d);
          if (r.chance(0.5)) s['order'] = r.int(4) * 100;
          else if (s['defaultAction'] === 'Pass') delete s['defaultAction'];
          else s['defaultAction'] = 'Pass';
        })}`;
      case 12:
        this.networkSet();
        return 'network set added';
      case 13:
        return `network set edited ${edit(r.pick([...this.ofKind('GlobalNetworkSet'), ...this.ofKind('NetworkSet')].concat([undefined as unknown as Doc])), (d) => {
          const s = spec(d);
          if (r.chance(0.4)) s['allowedEgressDomains'] = r.pick([[], ['api.example.com'], ['*.partner.example']]);
          else if (r.chance(0.5)) (meta(d)['labels'] as Doc)['kind'] = r.pick(['partner', 'feed']);
          else s['nets'] = [`10.0.${r.int(4)}.0/24`];
        })}`;
      case 14:
        return `network set removed ${remove(r.pick([...this.ofKind('GlobalNetworkSet'), ...this.ofKind('NetworkSet')].concat([undefined as unknown as Doc])))}`;
      case 15:
        this.service();
        return 'service added or replaced';
      case 16:
        return `service removed ${remove(pick('Service'))}`;
      case 20: {
        // One batch: a pod leaves the node and another arrives (as many endpoints, other ids).
        const on = this.ofKind('Pod').filter((d) => spec(d)['nodeName'] === NODE);
        const off = this.ofKind('Pod').filter((d) => spec(d)['nodeName'] !== NODE);
        if (on.length === 0 || off.length === 0) return 'no pods to swap';
        const a = edit(r.pick(on), (d) => (spec(d)['nodeName'] = 'node-b'));
        const b = edit(r.pick(off), (d) => (spec(d)['nodeName'] = NODE));
        return `pods swapped ${a} ${b}`;
      }
      default:
        throw new Error('unreachable');
    }
  }
}

function keyOf(doc: Doc): string {
  const r = loadOne(doc);
  return resourceKey(r);
}

const loaded = new Map<string, ReturnType<typeof loadText>['resources'][number]>();
function loadOne(doc: Doc): ReturnType<typeof loadText>['resources'][number] {
  const text = JSON.stringify(doc);
  let r = loaded.get(text);
  if (r === undefined) {
    const l = loadText(text, 'case.json');
    const errors = l.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0 || l.resources.length !== 1) throw new Error(`test generator wrote an invalid document: ${text}: ${JSON.stringify(errors)}`);
    r = l.resources[0]!;
    loaded.set(text, r);
  }
  return r;
}

/** The store changes from one world to the next. */
function changesBetween(before: ReadonlyMap<string, Doc>, after: ReadonlyMap<string, Doc>): StoreChange[] {
  const out: StoreChange[] = [];
  for (const [k, d] of after) if (before.get(k) !== d) out.push({ op: 'upsert', resource: loadOne(d) });
  for (const k of before.keys()) if (!after.has(k)) out.push({ op: 'remove', key: k });
  return out;
}

function interfacesOf(c: Cluster): Map<string, string> {
  return new Map(c.endpoints.map((e) => [e.id, `v${e.id.replace(/[^a-z0-9]/g, '').slice(0, 14)}`]));
}

/** `onUpdate`: each step's update, as the kernel would get it (first the full script), with the ruleset it must give. */
type OnUpdate = (script: string, next: Ruleset, where: () => string) => void;

function runSeed(seed: number, steps: number, opts: Omit<CompileOptions, 'interfaces'>, onUpdate?: OnUpdate): { chainsReused: number; chainsMade: number } {
  const rng = rngOf(seed);
  const world = new World(rng);
  for (const ns of NAMESPACES) {
    world.namespace(ns);
    for (const sa of SAS) world.serviceAccount(ns, sa);
  }
  TIERS.forEach((t, i) => world.tier(t, (i + 1) * 100));
  for (let i = 0; i < 14; i++) world.pod();
  for (let i = 0; i < 10; i++) world.policy();
  world.networkSet();
  world.networkSet();
  world.service();

  const store = createPolicyStore();
  const compiler = createNodeCompiler();
  let docs = new Map(world.docs);
  const history: string[] = ['initial cluster'];
  let prevInc: Ruleset | undefined;
  let prevFresh: Ruleset | undefined;
  let reusedTotal = 0;
  let madeTotal = 0;
  for (let step = 0; step <= steps; step++) {
    if (step > 0) history.push(world.step());
    const changes = changesBetween(docs, world.docs);
    docs = new Map(world.docs);
    const where = (): string => `seed ${seed}, step ${step} (${opts.decisionGroup === null ? 'no records' : 'records'}):\n  ${history.join('\n  ')}`;
    const applied = store.apply(changes, { onError: 'keep' });
    assert.ok(applied.ok, `${where()}\nthe store refused: ${JSON.stringify(!applied.ok && applied.diagnostics)}`);
    const snap = store.snapshot();
    const eps = snap.endpointsOnNode(NODE).filter((e) => e.kind === 'workload');
    const interfaces = interfacesOf(snap);
    // Sometimes an interface renamed (the maps), or missing (a failed compile: the same failure).
    if (rng.chance(0.1) && eps.length > 0) interfaces.set(rng.pick(eps).id, `vrenamed${rng.int(9)}`);
    if (rng.chance(0.03) && eps.length > 0) interfaces.delete(rng.pick(eps).id);
    const all = { ...opts, interfaces };
    const inc = compiler.compile(snap, eps, all);
    const fresh = compileNode(snap, eps, all);
    assert.deepStrictEqual(inc, fresh, `${where()}\nthe incremental compile differs from compileNode`);
    const s = compiler.stats();
    reusedTotal += s.chainsReused;
    madeTotal += s.chainsMade;
    if (!inc.ok || !fresh.ok) continue;
    onUpdate?.(prevInc === undefined ? renderNft(inc.value) : renderNftUpdate(diffRulesets(prevInc, inc.value)), inc.value, where);
    if (prevInc !== undefined && prevFresh !== undefined) {
      const dInc = diffRulesets(prevInc, inc.value);
      const dFresh = diffRulesets(prevFresh, fresh.value);
      assert.equal(renderNftUpdate(dInc), renderNftUpdate(dFresh), `${where()}\nthe update script differs from the one diffed between fresh compiles`);
      if (dInc.kind === 'update') assert.deepEqual(canonical(replay(prevInc, dInc.ops)), canonical(fresh.value), `${where()}\nthe update replayed is not the next ruleset`);
    }
    prevInc = inc.value;
    prevFresh = fresh.value;
  }
  return { chainsReused: reusedTotal, chainsMade: madeTotal };
}

describe('incremental node compiler', () => {
  it('equals compileNode after every step of random change sequences on a live store (fixed seeds)', () => {
    let reused = 0;
    let made = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const s = runSeed(seed, 40, seed % 5 === 0 ? { decisionGroup: null, logPrefix: 'x' } : {});
      reused += s.chainsReused;
      made += s.chainsMade;
    }
    // The point of it: most chains are reused (and the test would pass vacuously if none were).
    assert.ok(reused > made, `reused ${reused} chains, made ${made}`);
  });

  it('starts from nothing when the options its chains depend on change, and after reset()', () => {
    const store = createPolicyStore();
    const w = new World(rngOf(7));
    w.namespace('shop');
    for (let i = 0; i < 6; i++) w.pod();
    for (let i = 0; i < 4; i++) w.policy();
    assert.ok(store.apply(changesBetween(new Map(), w.docs), { onError: 'keep' }).ok);
    const snap = store.snapshot();
    const eps = snap.endpointsOnNode(NODE);
    const interfaces = interfacesOf(snap);
    const c = createNodeCompiler();
    assert.deepStrictEqual(c.compile(snap, eps, { interfaces }), compileNode(snap, eps, { interfaces }));
    assert.equal(c.stats().cold, true);
    c.compile(snap, eps, { interfaces });
    assert.equal(c.stats().chainsMade, 0, 'an unchanged snapshot makes no chain');
    assert.deepStrictEqual(c.compile(snap, eps, { interfaces, decisionGroup: 7 }), compileNode(snap, eps, { interfaces, decisionGroup: 7 }));
    assert.equal(c.stats().cold, true);
    assert.deepStrictEqual(c.compile(snap, eps, { interfaces, logPrefix: 'other' }), compileNode(snap, eps, { interfaces, logPrefix: 'other' }));
    c.reset();
    c.compile(snap, eps, { interfaces, logPrefix: 'other' });
    assert.equal(c.stats().cold, true);
  });
});

// The kernel's word on the same sequences: the full script of the first ruleset, then every update
// diffed from the incremental compiles, applied in a throwaway namespace, leave after each step
// exactly the table the fresh full script of that step's ruleset gives.
describe('incremental node compiler, in the kernel', nftSkip === undefined ? {} : { skip: nftSkip }, () => {
  for (const seed of [3, 11, 25]) {
    it(`seed ${seed}: previous + update == the next ruleset, at every step`, async () => {
      await withNetns((ns) => {
        runSeed(seed, 30, {}, (script, next, where) => {
          if (script !== '') {
            const applied = nftIn(ns, ['-f', '-'], script);
            assert.equal(applied.code, 0, `${where()}\n${applied.stderr}\n--- script ---\n${script}`);
          }
          const incremental = kernelTable(ns, next.table);
          const full = nftIn(ns, ['-f', '-'], renderNft(next));
          assert.equal(full.code, 0, `${where()}\n${full.stderr}`);
          assert.deepEqual(incremental, kernelTable(ns, next.table), `${where()}\nthe kernel after the update differs from the full script's`);
        });
      });
    });
  }
});
