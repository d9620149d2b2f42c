// The compiled dataplane decides what the engine decides: every flow of the golden scenarios and
// of random clusters is evaluated by the engine and, as packets, by an nftables interpreter over
// the IR of the nodes it crosses (see check.ts for what is compared).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Cluster } from '../../src/engine/cluster.ts';
import type { Endpoint, EntityMatch, Flow, Peer, Policy, PolicyKind, Profile, Rule, RuleAction, Tier } from '../../src/engine/model.ts';
import type { IpAddress } from '../../src/net/index.ts';
import { checkFlow, compileNodes } from './check.ts';
import {
  cluster,
  endpoint,
  ICMP,
  ICMPV6,
  ip,
  namespaceProfile,
  nets,
  networkSet,
  policy,
  ports,
  rules,
  SCENARIOS,
  SCTP,
  sel,
  service,
  TCP,
  tier,
  UDP,
} from './fixtures.ts';
import type { RuleSpec, Scenario } from './fixtures.ts';

interface Probe {
  readonly protocol: number;
  readonly sport: number | undefined;
  readonly dport: number | undefined;
  readonly icmp: { readonly type: number; readonly code: number } | undefined;
}

function probesFor(family: 4 | 6): Probe[] {
  const out: Probe[] = [];
  for (const dport of [22, 53, 80, 443, 5353, 5432, 7000, 8000, 8080, 8081, 8100, 8443, 9000, 9090, 9443, 9444]) {
    out.push({ protocol: TCP, sport: 40000, dport, icmp: undefined });
  }
  for (const dport of [53, 100, 5353, 8081, 2000, 9444]) for (const sport of [40000, 500]) out.push({ protocol: UDP, sport, dport, icmp: undefined });
  for (const dport of [7000, 9]) out.push({ protocol: SCTP, sport: 40000, dport, icmp: undefined });
  out.push({ protocol: 136, sport: 40000, dport: 5353, icmp: undefined });
  out.push({ protocol: 47, sport: undefined, dport: undefined, icmp: undefined });
  const icmps = family === 4 ? [[8, 0], [8, 1], [0, 0], [3, 4], [3, 1]] : [[128, 0], [128, 1], [1, 4], [3, 4]];
  for (const [type, code] of icmps) out.push({ protocol: family === 4 ? ICMP : ICMPV6, sport: undefined, dport: undefined, icmp: { type: type!, code: code! } });
  return out;
}

interface Party {
  readonly peer: Peer;
  readonly address: IpAddress;
  readonly endpoint: Endpoint | undefined;
}

function parties(s: Scenario): Party[] {
  const out: Party[] = [];
  for (const ep of s.cluster.endpoints) for (const a of ep.addresses) out.push({ peer: { kind: 'endpoint', endpoint: ep, address: a }, address: a, endpoint: ep });
  for (const t of s.externals) {
    const a = ip(t);
    out.push({ peer: { kind: 'address', address: a }, address: a, endpoint: undefined });
  }
  return out;
}

interface Checked {
  flows: number;
  allowed: number;
  denied: number;
}

/** Every endpoint/external pair of one family × every protocol probe (or a sample of them). */
function checkScenario(s: Scenario, sample?: () => boolean): Checked {
  const compiled = compileNodes(s.cluster, s.nodes);
  const stats: Checked = { flows: 0, allowed: 0, denied: 0 };
  const ps = parties(s);
  for (const src of ps) {
    for (const dst of ps) {
      if (src.address.family !== dst.address.family) continue;
      for (const probe of probesFor(src.address.family)) {
        if (sample !== undefined && !sample()) continue;
        const flow: Flow = {
          src: src.peer,
          dst: dst.peer,
          protocol: probe.protocol,
          port: probe.dport,
          srcPort: probe.sport,
          icmp: probe.icmp,
          ipVersion: src.address.family,
        };
        const v = checkFlow(compiled, flow, s.name);
        if (v === undefined) continue;
        stats.flows++;
        if (v === 'accept') stats.allowed++;
        else stats.denied++;
      }
    }
  }
  return stats;
}

describe('the compiled dataplane decides every flow as the engine does', () => {
  for (const make of SCENARIOS) {
    const s = make();
    it(`scenario ${s.name}: every endpoint/external pair × protocol probe`, () => {
      const stats = checkScenario(s);
      assert.ok(stats.allowed > 0 && stats.denied > 0, `both verdicts occur (${JSON.stringify(stats)})`);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Random clusters

/** mulberry32: a small deterministic PRNG, so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomScenario(seed: number): Scenario {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number): boolean => r() < p;
  const some = <T>(xs: readonly T[], max: number): T[] => {
    const n = 1 + Math.floor(r() * max);
    return [...new Set(Array.from({ length: n }, () => pick(xs)))];
  };

  const namespaces = ['ns-a', 'ns-b'];
  const apps = ['web', 'api', 'db', 'cache'];
  const namedPorts = [
    { name: 'http', protocol: TCP, port: 8080 },
    { name: 'http', protocol: UDP, port: 8081 },
    { name: 'dns', protocol: UDP, port: 53 },
    { name: 'grpc', protocol: TCP, port: 9000 },
    { name: 'sig', protocol: SCTP, port: 7000 },
  ];
  const denyProfile: Profile = { name: 'deny-ish', labels: new Map(), ingress: rules(['pass', { protocol: UDP }], ['deny', { protocol: TCP }]), egress: [] };
  const eps: Endpoint[] = [];
  const count = 4 + Math.floor(r() * 4);
  for (let i = 0; i < count; i++) {
    const ns = pick(namespaces);
    const addresses = [`10.1.${i}.${1 + Math.floor(r() * 3)}`];
    if (chance(0.4)) addresses.push(`fd00::${i + 1}`);
    const labels: Record<string, string> = { app: pick(apps) };
    if (chance(0.5)) labels['tier'] = pick(['front', 'back']);
    const profs = chance(0.15) ? [] : chance(0.2) ? [denyProfile, namespaceProfile(ns)] : [namespaceProfile(ns)];
    eps.push(endpoint({ id: `${ns}/w${i}`, labels, addresses, ports: some(namedPorts, 3), node: chance(0.5) ? 'node-a' : 'node-b', profiles: profs }));
  }
  const selectors = ['app == "web"', 'app == "api"', 'app in {"db", "cache"}', 'has(tier)', 'tier == "front"', 'all()', 'kind == "ext"', 'kind == "wide"', '!has(app)', 'projectcalico.org/namespace == "ns-a"'];
  const cidrPool = ['10.1.0.0/16', '10.1.2.0/24', '10.1.3.2/32', '192.168.0.0/16', '0.0.0.0/0', 'fd00::/64', 'fd00::3/128', '2001:db8::/32', '8.8.8.0/24'];
  const netSets = [
    networkSet('ext', { kind: 'ext' }, some(['192.168.1.0/24', '8.8.8.8', '2001:db8::/48', '10.1.1.0/24'], 3)),
    networkSet('ns-a/wide', { kind: 'wide' }, some(['10.1.0.0/16', 'fd00::/64', '0.0.0.0/0'], 2)),
  ];
  const svcs = [
    service('ns-a', 'svc', { app: 'web' }, [
      { name: 'h', port: 80, protocol: TCP, targetPort: 'http' },
      { name: 'd', port: 53, protocol: UDP, targetPort: 53 },
    ]),
  ];
  const protocols: (number | undefined)[] = [undefined, undefined, TCP, TCP, UDP, SCTP, ICMP, ICMPV6, 47, 136];
  const portItems: (number | string)[] = [53, 80, 443, 8080, '8000:9000', '1:1023', 'http', 'dns', 'grpc', 'sig', 5353];

  const entity = (proto: number | undefined): EntityMatch => {
    const e: { -readonly [K in keyof EntityMatch]: EntityMatch[K] } = {};
    if (chance(0.2)) e.nets = nets(...some(cidrPool, 2));
    if (chance(0.15)) e.notNets = nets(...some(cidrPool, 2));
    if (chance(0.35)) e.selector = sel(pick(selectors));
    if (chance(0.15)) e.notSelector = sel(pick(selectors));
    const portable = proto === undefined || proto === TCP || proto === UDP || proto === SCTP;
    if (portable && chance(0.3)) e.ports = ports(...some(proto === undefined ? ['http', 'dns', 'grpc', 80, '8000:9000'] : portItems, 3));
    if (portable && chance(0.1)) e.notPorts = ports(...some(portItems, 2));
    if (chance(0.07)) e.service = { namespace: 'ns-a', name: pick(['svc', 'nope']) };
    return e;
  };
  const actions: RuleAction[] = ['allow', 'allow', 'allow', 'deny', 'deny', 'pass', 'log'];
  const randomRules = (n: number): Rule[] =>
    rules(
      ...Array.from({ length: n }, (): [RuleAction, RuleSpec] => {
        const protocol = pick(protocols);
        const spec: { -readonly [K in keyof RuleSpec]: RuleSpec[K] } = { source: entity(protocol), destination: entity(protocol) };
        if (protocol !== undefined) spec.protocol = protocol;
        if (chance(0.1)) spec.notProtocol = pick([TCP, UDP, ICMP]);
        if (chance(0.1)) spec.ipVersion = pick([4, 6] as const);
        if ((protocol === undefined || protocol === ICMP || protocol === ICMPV6) && chance(0.3)) {
          const icmp = chance(0.5) ? { type: pick([8, 128, 3, 0]) } : { type: pick([8, 128, 3]), code: pick([0, 1, 4]) };
          if (chance(0.5)) spec.icmp = icmp;
          else spec.notIcmp = icmp;
        }
        return [pick(actions), spec];
      }),
    );

  const tiers: Tier[] = [tier('t1', 10, chance(0.3) ? 'pass' : 'deny'), tier('t2', 20, chance(0.5) ? 'pass' : 'deny')];
  const policies: Policy[] = [];
  const npol = 2 + Math.floor(r() * 5);
  for (let i = 0; i < npol; i++) {
    const t = pick(['t1', 't2', 'default']);
    const kinds: PolicyKind[] = ['GlobalNetworkPolicy', 'GlobalNetworkPolicy', 'NetworkPolicy', 'StagedGlobalNetworkPolicy'];
    const kind = pick(kinds);
    const namespace = kind === 'NetworkPolicy' ? pick(namespaces) : undefined;
    const types: readonly ('ingress' | 'egress')[] = pick<readonly ('ingress' | 'egress')[]>([['ingress'], ['egress'], ['ingress', 'egress']]);
    policies.push(
      policy({
        kind,
        name: `p${i}`,
        ...(namespace === undefined ? {} : { namespace }),
        tier: t,
        order: chance(0.8) ? Math.floor(r() * 5) : undefined,
        selector: namespace === undefined ? pick(selectors) : `(${pick(selectors)}) && projectcalico.org/namespace == "${namespace}"`,
        types,
        ingress: types.includes('ingress') ? randomRules(Math.floor(r() * 4)) : [],
        egress: types.includes('egress') ? randomRules(Math.floor(r() * 4)) : [],
      } as Parameters<typeof policy>[0]),
    );
  }
  const c: Cluster = cluster({ tiers, policies, endpoints: eps, networkSets: netSets, services: svcs });
  const byNode = new Map<string, Endpoint[]>();
  for (const e of eps) byNode.set(e.node!, [...(byNode.get(e.node!) ?? []), e]);
  return { name: `random seed ${seed}`, cluster: c, nodes: byNode, externals: ['8.8.8.8', '192.168.1.5', '10.1.200.1', '2001:db8::5', 'fd00::99'] };
}

describe('random clusters: the compiled dataplane agrees with the engine', () => {
  const seeds = Number(process.env['STRATA_DP_SEEDS'] ?? 60);
  it(`${seeds} random clusters, sampled flows`, () => {
    let total: Checked = { flows: 0, allowed: 0, denied: 0 };
    for (let seed = 1; seed <= seeds; seed++) {
      const s = randomScenario(seed);
      const r = rng(seed * 7919);
      const st = checkScenario(s, () => r() < 0.25);
      total = { flows: total.flows + st.flows, allowed: total.allowed + st.allowed, denied: total.denied + st.denied };
    }
    assert.ok(total.allowed > 100 && total.denied > 100, JSON.stringify(total));
    if (process.env["STRATA_DP_VERBOSE"] !== undefined) console.log(total);
  });
});

