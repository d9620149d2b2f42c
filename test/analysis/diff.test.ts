// `diff` against brute force: random tiered scenarios (the differential generator's), random
// mutations, and `explain` (evaluateFlow) on every flow of a small universe in both states — every
// pair of endpoints, the first address of every block between CIDR boundaries, every port 1…N where
// N is one past the highest port any rule or container uses (ports are remapped to small numbers
// first, keeping their order, so N is small and port N stands for every higher port), every ICMP
// type/code the rules name and a few others, every protocol the rules name and one they do not.
// The set of changed flows the diff reports, expanded onto that universe, must equal the brute
// force's exactly: no missed change, no spurious one — in the enforced and the pending view (some
// mutations add staged policies), and for `diff --staged` (enforced vs pending of one state).
//
//   STRATA_DIFF_SEED=N   base seed (default 20261201, so CI repeats; printed on failure)
//   STRATA_DIFF_RUNS=K   scenarios (default 6)
//   STRATA_DIFF_MAX_FLOWS=F  skip scenarios whose brute force exceeds F flows (default 300,000)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { loadText } from '../../src/load/index.ts';
import { buildCluster, evaluateFlow, makeFlow, PROTOCOL, protocolName } from '../../src/engine/index.ts';
import type { Cluster, Rule } from '../../src/engine/index.ts';
import { cidrContains, formatIp, parseCidrStrict, parseIp } from '../../src/net/index.ts';
import type { Cidr } from '../../src/net/index.ts';
import { diffClusters, diffLines, diffStaged } from '../../src/analysis/diff.ts';
import type { DiffJsonLine, DiffResult } from '../../src/analysis/diff.ts';
import { buildFlowSpace, enforcedView, pendingView, SpaceEvaluator } from '../../src/analysis/flow-space.ts';
import { generateScenario, Rng } from '../differential/generate.ts';
import { formatScenarioYaml } from '../differential/scenario.ts';
import type { CalicoPolicySpec, CalicoRuleSpec, Scenario } from '../differential/scenario.ts';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  return Number(raw);
}
const RUNS = envInt('STRATA_DIFF_RUNS', 6);
// Fixed by default so CI is repeatable; set the variable (any number) for a soak with new seeds.
const BASE_SEED = envInt('STRATA_DIFF_SEED', 20261201);
/** Flows (× 2 states) the brute force may evaluate for one scenario. */
const MAX_BRUTE_FORCE_FLOWS = envInt('STRATA_DIFF_MAX_FLOWS', 300_000);

// ---- scenarios

/** Maps every port number the scenario uses onto 2, 4, 6, … in order (ranges stay ranges). */
function remapPorts(s: Scenario): Scenario {
  const used = new Set<number>();
  const visit = (x: unknown, key: string | undefined, f: (n: number) => number): unknown => {
    if (Array.isArray(x)) return x.map((v) => visit(v, key, f));
    if (x !== null && typeof x === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(x)) out[k] = visit(v, k, f);
      return out;
    }
    const portish = key === 'port' || key === 'endPort' || key === 'containerPort' || key === 'ports' || key === 'notPorts';
    if (!portish) return x;
    if (typeof x === 'number') return f(x);
    if (typeof x === 'string' && /^\d+$/.test(x)) return String(f(Number(x)));
    if (typeof x === 'string' && /^\d+:\d+$/.test(x)) {
      const [a, b] = x.split(':').map(Number);
      return `${f(a!)}:${f(b!)}`;
    }
    return x;
  };
  const policies = { k8sPolicies: s.k8sPolicies, calicoPolicies: s.calicoPolicies, pods: s.pods };
  visit(policies, undefined, (n) => (used.add(n), n));
  const sorted = [...used].sort((a, b) => a - b);
  const map = new Map(sorted.map((v, i) => [v, 2 * (i + 1)]));
  const mapped = visit(policies, undefined, (n) => map.get(n)!) as typeof policies;
  return { ...s, ...mapped, flows: [] };
}

function rulesOf(p: CalicoPolicySpec): CalicoRuleSpec[] {
  return [...(p.ingress ?? []), ...(p.egress ?? [])];
}

/** One random change: the kinds a real edit makes (policies, rules, ports, orders, labels, sets, pods). */
function mutate(s: Scenario, r: Rng): { scenario: Scenario; what: string } {
  const kinds = ['remove-policy', 'flip-action', 'port', 'order', 'labels', 'set', 'remove-pod', 'add-policy', 'add-policy', 'add-policy'] as const;
  for (let attempt = 0; attempt < 20; attempt++) {
    const kind = r.pick(kinds);
    switch (kind) {
      case 'add-policy': {
        // A new policy early in a tier: opens or closes a slice of ports, maybe towards a CIDR.
        const action = r.pick(['Allow', 'Deny', 'Pass'] as const);
        const port = r.pick([1, 2, 3, 4, 5, 7]);
        const rule: CalicoRuleSpec = {
          action,
          protocol: r.pick(['TCP', 'UDP'] as const),
          destination: {
            ports: [r.chance(0.5) ? port : `${port}:${port + r.int(1, 3)}`],
            ...(r.chance(0.4) ? { nets: [r.pick(['203.0.113.0/24', '10.0.1.0/24', '8.8.8.8/32', '192.168.1.10/32', '0.0.0.0/1'])] } : {}),
          },
        };
        const dir = r.chance(0.5) ? 'Ingress' : 'Egress';
        const tier = s.tiers.length > 0 && r.chance(0.7) ? r.pick(s.tiers).name : undefined;
        const policy: CalicoPolicySpec = {
          kind: 'GlobalNetworkPolicy',
          // Some new policies are staged (see `load`): the pending view is compared too.
          name: `${r.chance(0.3) ? 'staged-' : ''}mut-${s.calicoPolicies.length}`,
          ...(tier === undefined ? {} : { tier }),
          order: r.pick([1, 50, 1000]),
          selector: r.pick(['all()', "app == 'web'", "app == 'db'", "tier == 'front'"]),
          types: [dir],
          ...(dir === 'Ingress' ? { ingress: [rule] } : { egress: [rule] }),
        };
        return { scenario: { ...s, calicoPolicies: [...s.calicoPolicies, policy] }, what: `add ${JSON.stringify(policy)}` };
      }
      case 'remove-policy': {
        const all = [...s.calicoPolicies.map((p) => ['c', p.name, p.namespace] as const), ...s.k8sPolicies.map((p) => ['k', p.name, p.namespace] as const)];
        if (all.length === 0) continue;
        const [k, name, ns] = r.pick(all);
        return {
          scenario: {
            ...s,
            calicoPolicies: k === 'c' ? s.calicoPolicies.filter((p) => !(p.name === name && p.namespace === ns)) : s.calicoPolicies,
            k8sPolicies: k === 'k' ? s.k8sPolicies.filter((p) => !(p.name === name && p.namespace === ns)) : s.k8sPolicies,
          },
          what: `remove policy ${ns ?? ''}/${name}`,
        };
      }
      case 'flip-action':
      case 'port': {
        const withRules = s.calicoPolicies.filter((p) => rulesOf(p).length > 0);
        if (withRules.length === 0) continue;
        const p = r.pick(withRules);
        const dir = (p.ingress ?? []).length > 0 && ((p.egress ?? []).length === 0 || r.chance(0.5)) ? 'ingress' : 'egress';
        const rules = [...(p[dir] ?? [])];
        const i = r.int(0, rules.length - 1);
        const rule = rules[i]!;
        if (kind === 'flip-action') {
          const next = { Allow: 'Deny', Deny: 'Allow', Pass: 'Allow', Log: 'Deny' } as const;
          rules[i] = { ...rule, action: next[rule.action] };
        } else {
          if (rule.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(String(rule.protocol))) continue;
          const port = r.pick([3, 5, 7, 2, 4]);
          rules[i] = { ...rule, ...(rule.protocol === undefined ? { protocol: 'TCP' as const } : {}), destination: { ...(rule.destination ?? {}), ports: [r.chance(0.5) ? port : `${port}:${port + 2}`] } };
        }
        const q: CalicoPolicySpec = { ...p, [dir]: rules };
        return { scenario: { ...s, calicoPolicies: s.calicoPolicies.map((x) => (x === p ? q : x)) }, what: `${kind} in ${p.name} ${dir} rule ${i}` };
      }
      case 'order': {
        if (s.calicoPolicies.length === 0) continue;
        const p = r.pick(s.calicoPolicies);
        const q = { ...p, order: r.pick([1, 500, 1000, 5000]) };
        return { scenario: { ...s, calicoPolicies: s.calicoPolicies.map((x) => (x === p ? q : x)) }, what: `order of ${p.name}` };
      }
      case 'labels': {
        if (s.pods.length === 0) continue;
        const p = r.pick(s.pods);
        const q = { ...p, labels: { ...p.labels, app: r.pick(['web', 'db', 'api', 'cache']) } };
        return { scenario: { ...s, pods: s.pods.map((x) => (x === p ? q : x)) }, what: `labels of ${p.namespace}/${p.name}` };
      }
      case 'set': {
        if (s.networkSets.length === 0) continue;
        const n = r.pick(s.networkSets);
        const m = { ...n, nets: [...n.nets, r.pick(['192.168.1.10/32', '203.0.113.9/32', '8.8.8.0/24', '2001:db8::5/128'])] };
        return { scenario: { ...s, networkSets: s.networkSets.map((x) => (x === n ? m : x)) }, what: `nets of set ${n.name}` };
      }
      case 'remove-pod': {
        if (s.pods.length < 2) continue;
        const p = r.pick(s.pods);
        return { scenario: { ...s, pods: s.pods.filter((x) => x !== p) }, what: `remove pod ${p.namespace}/${p.name}` };
      }
    }
  }
  return { scenario: s, what: 'nothing' };
}

/** Loads a scenario; policies named `staged-…` become StagedGlobalNetworkPolicies. */
function load(s: Scenario): Cluster | undefined {
  const yaml = stagedYaml(s);
  const loaded = loadText(yaml, `diff-${s.seed}.yaml`);
  if (loaded.diagnostics.some((d) => d.severity === 'error')) return undefined;
  const built = buildCluster(loaded.resources);
  if (built.diagnostics.some((d) => d.severity === 'error')) return undefined;
  return built.cluster;
}

function stagedYaml(s: Scenario): string {
  return formatScenarioYaml(s).replace(/kind: GlobalNetworkPolicy\nmetadata:\n {2}name: staged-/g, 'kind: StagedGlobalNetworkPolicy\nmetadata:\n  name: staged-');
}

// ---- the universe and brute force

interface Universe {
  readonly endpoints: readonly string[];
  readonly externals: readonly string[];
  readonly maxPort: number;
  readonly portProtocols: readonly number[];
  /** ICMP (type, code) samples per protocol number (1 or 58, as makeFlow picks by family). */
  readonly icmp: readonly [number, number][];
  /** Protocols without ports: the ones rules name, and 47 (GRE) for "every other". */
  readonly bare: readonly number[];
}

function allRules(c: Cluster): Rule[] {
  return [...c.policies.flatMap((p) => [...p.ingress, ...p.egress]), ...c.endpoints.flatMap((e) => e.profiles.flatMap((p) => [...p.ingress, ...p.egress]))];
}

function cidrsOf(c: Cluster): Cidr[] {
  const out: Cidr[] = [];
  for (const r of allRules(c)) for (const s of [r.source, r.destination]) for (const l of [s.nets, s.notNets]) if (l !== undefined) out.push(...l.v4, ...l.v6);
  for (const s of c.networkSets) out.push(...s.nets);
  return out;
}

function universeOf(b: Cluster, a: Cluster, extraAddresses: readonly string[]): Universe {
  const ids = new Set(a.endpoints.map((e) => e.id));
  const endpoints = b.endpoints.map((e) => e.id).filter((id) => ids.has(id)).sort();
  const owned = (text: string): boolean => {
    const ip = parseIp(text);
    return ip.ok && (b.endpointByAddress(ip.value) !== undefined || a.endpointByAddress(ip.value) !== undefined);
  };
  const addresses = new Set<string>(['192.168.7.7', '172.16.0.1', '8.8.8.8', '2001:db8::5', 'fd00:9::1', ...extraAddresses]);
  for (const c of [...cidrsOf(b), ...cidrsOf(a)]) {
    const block = { start: BigInt(c.base), end: BigInt(c.base) + (1n << BigInt((c.family === 4 ? 32 : 128) - c.prefix)) - 1n };
    const top = 1n << BigInt(c.family === 4 ? 32 : 128);
    // Every atom of the diff starts at one of these cuts: one address per atom, each checked.
    for (const v of [block.start, block.end + 1n]) {
      if (v < 0n || v >= top) continue;
      addresses.add(formatIp(c.family === 4 ? { family: 4, value: Number(v) } : { family: 6, value: v }));
    }
  }
  let maxPort = 1;
  const mentioned = new Set<number>();
  const icmp = new Set<string>(['8,0', '0,0', '250,3', '128,0', '1,0']);
  for (const c of [b, a]) {
    for (const r of allRules(c)) {
      for (const l of [r.destination.ports, r.destination.notPorts]) for (const x of l?.ranges ?? []) maxPort = Math.max(maxPort, x.min, x.max < 65535 ? x.max : x.min);
      if (r.protocol !== undefined) mentioned.add(r.protocol);
      if (r.notProtocol !== undefined) mentioned.add(r.notProtocol);
      for (const m of [r.icmp, r.notIcmp]) if (m !== undefined) for (const code of [m.code ?? 0, (m.code ?? 0) + 1, 0]) icmp.add(`${m.type},${code}`);
    }
    for (const e of c.endpoints) for (const p of e.ports) maxPort = Math.max(maxPort, p.port);
  }
  const special = new Set<number>([PROTOCOL.TCP, PROTOCOL.UDP, PROTOCOL.SCTP, PROTOCOL.ICMP, PROTOCOL.ICMPV6]);
  return {
    endpoints,
    externals: [...addresses].filter((x) => !owned(x)).sort(),
    maxPort: maxPort + 1,
    portProtocols: [PROTOCOL.TCP, PROTOCOL.UDP, PROTOCOL.SCTP, ...(mentioned.has(PROTOCOL.UDPLITE) ? [PROTOCOL.UDPLITE] : [])],
    icmp: [...icmp].map((t) => t.split(',').map(Number) as [number, number]),
    bare: [...[...mentioned].filter((p) => !special.has(p) && p !== PROTOCOL.UDPLITE), ...(mentioned.has(47) ? [] : [47])],
  };
}

type Key = string;
function key(from: string, to: string, protocol: string, what: string, before: string, after: string): Key {
  return `${from} → ${to} ${protocol} ${what}: ${before} → ${after}`;
}

type Views = 'states' | 'staged';

/**
 * explain on every flow of the universe: enforced before vs after and pending before vs after
 * (`states`), or — for `diff --staged` — the enforced vs the pending view of `a` alone (`staged`).
 */
function bruteForce(b: Cluster, a: Cluster, u: Universe, views: Views = 'states'): Set<Key> {
  const out = new Set<Key>();
  // The diff compares pending views only when a state has staged policies (else they are the enforced ones).
  const pendingToo = [b, a].some((c) => c.policies.some((p) => p.staged));
  const ends = [...u.endpoints, ...u.externals];
  for (const from of ends) {
    for (const to of ends) {
      if (from === to) continue;
      const fromEp = u.endpoints.includes(from);
      const toEp = u.endpoints.includes(to);
      if (!fromEp && !toEp) continue;
      const requests: { protocol: number; port?: number; icmpType?: number; icmpCode?: number; what: string }[] = [];
      for (const protocol of u.portProtocols) for (let port = 1; port <= u.maxPort; port++) requests.push({ protocol, port, what: String(port) });
      for (const [t, c] of u.icmp) requests.push({ protocol: PROTOCOL.ICMP, icmpType: t, icmpCode: c, what: `${t}/${c}` });
      for (const p of u.bare) requests.push({ protocol: p, what: '' });
      for (const req of requests) {
        const fb = makeFlow(b, { from, to, protocol: req.protocol, port: req.port, icmpType: req.icmpType, icmpCode: req.icmpCode });
        const fa = makeFlow(a, { from, to, protocol: req.protocol, port: req.port, icmpType: req.icmpType, icmpCode: req.icmpCode });
        if (!fb.ok || !fa.ok) continue; // mixed families: not a flow
        const db = evaluateFlow(b, fb.value);
        const da = evaluateFlow(a, fa.value);
        const protocol = protocolName(fb.value.protocol);
        if (views === 'staged') {
          const pa = da.pending?.verdict ?? da.verdict;
          if (da.verdict !== pa) out.add(key(from, to, protocol, req.what, da.verdict, pa));
          continue;
        }
        if (db.verdict !== da.verdict) out.add(key(from, to, protocol, req.what, db.verdict, da.verdict));
        if (!pendingToo) continue;
        const pb = db.pending?.verdict ?? db.verdict;
        const pa = da.pending?.verdict ?? da.verdict;
        if (pb !== pa) out.add(`pending ${key(from, to, protocol, req.what, pb, pa)}`);
      }
    }
  }
  return out;
}

/** The diff's lines, expanded onto the universe; lines that cover nothing in it are returned apart. */
function expand(r: DiffResult, lines: readonly DiffJsonLine[], u: Universe): { keys: Set<Key>; uncovered: DiffJsonLine[] } {
  const keys = new Set<Key>();
  const uncovered: DiffJsonLine[] = [];
  // ICMP labels name atoms of the diff's own split: rebuild which (type, code) each covers.
  const named = new Map<number, Map<number, Set<number>>>(); // protocol → type → codes named
  for (const s of r.space.services) {
    if (s.kind !== 'icmp') continue;
    let types = named.get(s.protocol);
    if (types === undefined) named.set(s.protocol, (types = new Map()));
    const m = /^type (\d+) code (\d+)$/.exec(s.label);
    if (m !== null) {
      const set = types.get(Number(m[1])) ?? new Set<number>();
      set.add(Number(m[2]));
      types.set(Number(m[1]), set);
    } else if (/^type (\d+)/.test(s.label)) {
      const t = Number(/^type (\d+)/.exec(s.label)![1]);
      if (!types.has(t)) types.set(t, new Set());
    }
  }
  const icmpCovers = (protocol: number, label: string, t: number, c: number): boolean => {
    const types = named.get(protocol) ?? new Map<number, Set<number>>();
    if (label === 'any') return true;
    if (label === 'other types') return !types.has(t);
    const exact = /^type (\d+) code (\d+)$/.exec(label);
    if (exact !== null) return t === Number(exact[1]) && c === Number(exact[2]);
    const typed = /^type (\d+)/.exec(label);
    if (typed !== null) return t === Number(typed[1]) && !(types.get(t)?.has(c) ?? false);
    throw new Error(`unknown ICMP label ${label}`);
  };
  const peersOf = (p: DiffJsonLine['from']): string[] => {
    if (typeof p !== 'string') return [...p.members];
    if (u.endpoints.includes(p)) return [p];
    const cidr = parseCidrStrict(p);
    if (!cidr.ok) return [p];
    return u.externals.filter((x) => {
      const ip = parseIp(x);
      return ip.ok && cidrContains(cidr.value, ip.value);
    });
  };
  for (const l of lines) {
    if (l.change === 'reattributed') continue;
    const pairs: [string, string, string][] = [];
    if (l.before !== l.after) pairs.push(['', l.before, l.after]);
    if (l.pendingBefore !== undefined && l.pendingAfter !== undefined && l.pendingBefore !== l.pendingAfter) pairs.push(['pending ', l.pendingBefore, l.pendingAfter]);
    let n = 0;
    const whats: { protocol: string; what: string }[] = [];
    if (l.ports !== null) {
      const [lo, hi] = l.ports.includes('-') ? l.ports.split('-').map(Number) : [Number(l.ports), Number(l.ports)];
      for (let p = lo!; p <= Math.min(hi!, u.maxPort); p++) whats.push({ protocol: l.protocol, what: String(p) });
    } else if (l.protocol === 'ICMP' || l.protocol === 'ICMPv6') {
      const protocol = l.protocol === 'ICMP' ? PROTOCOL.ICMP : PROTOCOL.ICMPV6;
      for (const [t, c] of u.icmp) if (icmpCovers(protocol, l.icmp ?? 'any', t, c)) whats.push({ protocol: l.protocol, what: `${t}/${c}` });
    } else if (l.protocol === 'other') {
      for (const p of u.bare) if (!r.space.services.some((s) => s.kind === 'protocol' && !s.other && s.protocol === p)) whats.push({ protocol: protocolName(p), what: '' });
    } else whats.push({ protocol: l.protocol, what: '' });
    for (const from of peersOf(l.from)) {
      for (const to of peersOf(l.to)) {
        if (from === to) continue;
        for (const w of whats) {
          for (const [prefix, b, a] of pairs) keys.add(`${prefix}${key(from, to, w.protocol, w.what, b, a)}`);
          n++;
        }
      }
    }
    if (n === 0) uncovered.push(l);
  }
  return { keys, uncovered };
}

/** explain agrees with a line at one address of its CIDR (not an endpoint's) and its first port. */
function confirmedByExplain(b: Cluster, a: Cluster, l: DiffJsonLine, views: Views): boolean {
  const pick = (p: DiffJsonLine['from']): string | undefined => {
    if (typeof p !== 'string') return p.members[0];
    const c = parseCidrStrict(p);
    if (!c.ok) return p;
    const size = 1n << BigInt((c.value.family === 4 ? 32 : 128) - c.value.prefix);
    const start = BigInt(c.value.base);
    for (const v of [start, start + 1n, start + size - 1n]) {
      if (v >= start + size) continue;
      const text = formatIp(c.value.family === 4 ? { family: 4, value: Number(v) } : { family: 6, value: v });
      const ip = parseIp(text);
      if (ip.ok && b.endpointByAddress(ip.value) === undefined && a.endpointByAddress(ip.value) === undefined) return text;
    }
    return undefined;
  };
  const from = pick(l.from);
  const to = pick(l.to);
  if (from === undefined || to === undefined) return false;
  const icmp = /^type (\d+) code (\d+)$/.exec(l.icmp ?? '');
  // "type N" stands for the codes of N no rule names: 254 is one the generator never names.
  const typeOnly = /^type (\d+)$/.exec(l.icmp ?? '');
  const req = {
    from,
    to,
    protocol: l.protocol === 'other' ? 47 : l.protocol === 'ICMPv6' ? 'ICMP' : l.protocol,
    ...(l.ports === null ? {} : { port: Number(l.ports.split('-')[0]) }),
    ...(icmp === null ? {} : { icmpType: Number(icmp[1]), icmpCode: Number(icmp[2]) }),
    ...(typeOnly === null ? {} : { icmpType: Number(typeOnly[1]), icmpCode: 254 }),
  };
  const fb = makeFlow(b, req);
  const fa = makeFlow(a, req);
  if (!fb.ok || !fa.ok) return false;
  const db = evaluateFlow(b, fb.value);
  const da = evaluateFlow(a, fa.value);
  if (views === 'staged') return da.verdict === l.before && (da.pending?.verdict ?? da.verdict) === l.after;
  return db.verdict === l.before && da.verdict === l.after;
}

function check(b: Cluster, a: Cluster, label: string, views: Views = 'states'): { flows: number; changes: number } {
  const r = views === 'staged' ? diffStaged(a, { withSource: false, reattributed: false }) : diffClusters(b, a, { withSource: false, reattributed: false });
  const lines = diffLines(r);
  const u = universeOf(b, a, []);
  // Brute force is quadratic in the ends: a scenario too large for it is skipped, not sampled.
  const ends = u.endpoints.length + u.externals.length;
  const perPair = u.portProtocols.length * u.maxPort + u.icmp.length + u.bare.length;
  if (ends * ends * perPair > MAX_BRUTE_FORCE_FLOWS) return { flows: -1, changes: lines.length };
  const expected = bruteForce(b, a, u, views);
  const { keys, uncovered: apart } = expand(r, lines, u);
  const missed = [...expected].filter((k) => !keys.has(k));
  const spurious = [...keys].filter((k) => !expected.has(k));
  // A line on a CIDR piece holding no address of the universe is checked by explain on its own.
  const uncovered = apart.filter((l) => !confirmedByExplain(b, a, l, views)).map((l) => JSON.stringify(l));
  assert.deepEqual(
    { missed: missed.slice(0, 10), spurious: spurious.slice(0, 10), uncovered: uncovered.slice(0, 5) },
    { missed: [], spurious: [], uncovered: [] },
    `${label}: diff ≠ brute force (${missed.length} missed, ${spurious.length} spurious)`,
  );
  return { flows: expected.size, changes: lines.length };
}

test('diff equals brute force on random tiered scenarios and random mutations', () => {
  let checked = 0;
  let changed = 0;
  for (let i = 0; i < RUNS; i++) {
    const seed = (BASE_SEED + i) >>> 0;
    const before = remapPorts(generateScenario(seed));
    const r = new Rng(seed ^ 0x5eed);
    const b = load(before);
    if (b === undefined) continue;
    // Many random edits change nothing (a rule shadowed, a deny behind a deny): draw again, a few
    // times, for one that changes something — the last draw is checked whatever it does.
    let after = before;
    let a: Cluster | undefined;
    let whats: string[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      after = before;
      whats = [];
      for (let m = r.int(1, 2); m > 0; m--) {
        const x = mutate(after, r);
        after = x.scenario;
        whats.push(x.what);
      }
      a = load(after);
      if (a !== undefined && diffClusters(b, a, { withSource: false, reattributed: false }).changes.length > 0) break;
    }
    if (a === undefined) continue;
    const dump = process.env['STRATA_DIFF_DUMP'];
    if (dump !== undefined) {
      writeFileSync(`${dump}-before.yaml`, stagedYaml(before));
      writeFileSync(`${dump}-after.yaml`, stagedYaml(after));
    }
    const label = `seed ${seed} (STRATA_DIFF_SEED=${seed} STRATA_DIFF_RUNS=1), mutations: ${whats.join('; ')}`;
    if (process.env['STRATA_DIFF_VERBOSE'] !== undefined) console.log('checking', label);
    const { flows, changes } = check(b, a, label);
    if (process.env['STRATA_DIFF_VERBOSE'] !== undefined) console.log(label, flows, changes);
    if (flows < 0) continue; // too large for brute force
    checked++;
    if (flows > 0) changed++;
    if (a.policies.some((p) => p.staged)) check(a, a, `${label}, --staged`, 'staged');
    // The identity: a state against itself changes nothing.
    assert.equal(diffLines(diffClusters(b, b, { withSource: false })).length, 0, `${label}: a state differs from itself`);
  }
  assert.ok(checked >= Math.ceil(RUNS / 3), `only ${checked} of ${RUNS} scenarios loaded and fit the brute force`);
  assert.ok(RUNS < 4 || changed > 0, 'no mutation changed anything: the test would prove nothing');
});

test('the flow space evaluator agrees with evaluateFlow on the representative flow of every atom triple', () => {
  for (let i = 0; i < RUNS; i++) {
    const seed = (BASE_SEED + 1000 + i) >>> 0;
    const c = load(remapPorts(generateScenario(seed)));
    if (c === undefined) continue;
    for (const view of [enforcedView(c), pendingView(c)]) {
      const space = buildFlowSpace([c]);
      const ev = new SpaceEvaluator(space, [view]);
      for (let s = 0; s < space.atoms.length; s++) {
        for (let d = 0; d < space.atoms.length; d++) {
          const cls = space.atoms[s]!;
          if (s === d && cls.kind === 'class' && space.classes[cls.index]!.members.length < 2) continue;
          for (let q = 0; q < space.services.length; q++) {
            const v = ev.verdict(0, s, d, q);
            if (v === undefined) continue;
            const flow = ev.flow(0, s, d, q, ev.family(0, s, d)!);
            const decision = evaluateFlow(c, flow);
            const expected = (view.mode.stagedAsEnforced && decision.pending !== null ? decision.pending : decision).verdict === 'allow';
            if (v !== expected) assert.fail(`seed ${seed}: atoms ${s} → ${d}, service ${JSON.stringify(space.services[q])}: bitset ${v}, evaluateFlow ${expected}`);
          }
        }
      }
    }
  }
});
