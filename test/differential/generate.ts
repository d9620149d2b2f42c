// Seeded random scenarios for the differential test: small clusters (namespaces, service accounts,
// pods with addresses and container ports, network sets), tiers, Kubernetes and Calico policies in
// every shape the semantics documents single out, and the flows to check. Labels, selectors, names,
// ports and CIDRs come from small vocabularies so that selectors actually select, orders tie,
// CIDRs overlap pod addresses and named ports resolve differently on different pods.
import type {
  CalicoPolicySpec,
  CalicoProtocol,
  CalicoRuleSpec,
  ContainerPortSpec,
  Direction,
  EntitySpec,
  FlowSpec,
  IcmpSpec,
  K8sPeerSpec,
  K8sPolicySpec,
  K8sPortSpec,
  K8sRuleSpec,
  LabelSelectorSpec,
  Labels,
  NamespaceSpec,
  NetworkSetSpec,
  PodSpec,
  PortProtocol,
  Scenario,
  ServiceAccountSpec,
  TierSpec,
} from './scenario.ts';
import { podId } from './scenario.ts';
import { cidrContainsCidr, mustParseCidr, parseCidr } from './ip.ts';

/** mulberry32: a tiny, fast, seedable PRNG; the seed alone reproduces a scenario. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  /** Up to `n` distinct elements, in random order. */
  sample<T>(xs: readonly T[], n: number): T[] {
    const pool = [...xs];
    const out: T[] = [];
    while (out.length < n && pool.length > 0) out.push(pool.splice(Math.floor(this.next() * pool.length), 1)[0]!);
    return out;
  }
  /** Picks by weight: `[[weight, value], …]`. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let x = this.next() * total;
    for (const [w, v] of choices) {
      if ((x -= w) < 0) return v;
    }
    return choices[choices.length - 1]![1];
  }
}

// ---- vocabularies

const NAMESPACE_NAMES = ['alpha', 'beta', 'gamma', 'delta'];
const POD_LABELS: Readonly<Record<string, readonly string[]>> = {
  app: ['web', 'db', 'api', 'cache'],
  tier: ['front', 'back'],
  role: ['admin', 'user'],
  team: ['a', 'b'],
};
const POD_LABEL_ODDS: Readonly<Record<string, number>> = { app: 0.75, tier: 0.5, role: 0.3, team: 0.2 };
const NAMESPACE_LABELS: Readonly<Record<string, readonly string[]>> = { env: ['prod', 'dev'], team: ['a', 'b'] };
const SA_LABELS: Readonly<Record<string, readonly string[]>> = { role: ['admin', 'user', 'ci'], team: ['a', 'b'] };
const SET_LABELS: Readonly<Record<string, readonly string[]>> = { zone: ['external', 'internal'], app: ['web', 'db'], role: ['admin'] };
const SA_NAMES = ['sa-web', 'sa-db', 'ci'];
/** ≥ 63 characters: Calico gives such pods no `projectcalico.org/serviceaccount` label. */
export const LONG_SA_NAME = 'batch-processing-service-account-with-a-name-longer-than-sixty-three';
const TIER_NAMES = ['security', 'platform', 'app', 'zeta'];
const TIER_ORDERS: readonly (number | undefined)[] = [50, 100, 100, 1_000_000, 1_000_000, 2_000_000, undefined, undefined];
/** Names chosen so that the `name/namespace/kind` tie-break differs from plain name order. */
const POLICY_NAMES = ['a', 'a-b', 'a.b', 'allow-web', 'b', 'deny-all', 'z'];
/** Names whose tie-break order differs from their name order ('/' sorts after '-' and '.'). */
const RELATED_NAMES: Readonly<Record<string, readonly string[]>> = { a: ['a-b', 'a.b'], 'a-b': ['a', 'a.b'], 'a.b': ['a', 'a-b'] };
const POLICY_ORDERS = [1, 100, 500, 1000, 1000, 1000, 1500.5, 2000];
const PORT_NAMES = ['http', 'https', 'dns', 'dns-tcp', 'metrics', 'sctp-app', 'db'];
const NUMERIC_PORTS = [53, 80, 443, 1234, 5432, 7000, 8080, 9090];

const CONTAINER_PORTS: readonly ContainerPortSpec[] = [
  { containerPort: 80, name: 'http' },
  { containerPort: 8080, protocol: 'TCP', name: 'http' },
  { containerPort: 443, name: 'https' },
  { containerPort: 53, protocol: 'UDP', name: 'dns' },
  { containerPort: 53, protocol: 'TCP', name: 'dns-tcp' },
  { containerPort: 5432, protocol: 'TCP' },
  { containerPort: 9090, protocol: 'UDP', name: 'metrics' },
  { containerPort: 9090, protocol: 'TCP', name: 'metrics' },
  { containerPort: 7000, protocol: 'SCTP', name: 'sctp-app' },
  { containerPort: 8080 },
  { containerPort: 1234, protocol: 'UDP' },
];

/** CIDRs for rules, ipBlocks and network sets; several cover pod addresses (10.0.<ns>.x, fd00::<ns+1>:x). */
const V4_CIDRS = ['10.0.0.0/16', '10.0.1.0/24', '10.0.2.0/25', '10.0.0.0/8', '10.0.3.0/28', '192.168.0.0/16', '192.168.1.0/24', '203.0.113.0/24', '8.8.8.8/32'];
const V6_CIDRS = ['fd00::/16', 'fd00::1:0/112', 'fd00::2:0/120', '2001:db8::/32', '2001:db8::/48'];
const EXTERNAL_V4 = ['192.168.1.10', '192.168.7.7', '203.0.113.9', '8.8.8.8', '10.0.200.7', '10.0.1.251', '172.16.0.1'];
const EXTERNAL_V6 = ['2001:db8::5', '2001:db8:1::9', 'fd00::2:fe', 'fd00:9::1'];

// ---- small helpers

function randomLabels(r: Rng, vocab: Readonly<Record<string, readonly string[]>>, odds: number | Readonly<Record<string, number>>): Labels {
  const out: Record<string, string> = {};
  for (const [k, values] of Object.entries(vocab)) {
    const p = typeof odds === 'number' ? odds : (odds[k] ?? 0.5);
    if (r.chance(p)) out[k] = r.pick(values);
  }
  return out;
}

function quoteSet(values: readonly string[]): string {
  return `{${values.map((v) => `'${v}'`).join(', ')}}`;
}

function combine(r: Rng, atom: () => string): string {
  return r.weighted<() => string>([
    [60, atom],
    [22, () => `${atom()} && ${atom()}`],
    [12, () => `${atom()} || ${atom()}`],
    [6, () => `!(${atom()} && ${atom()})`],
  ])();
}

interface Context {
  readonly r: Rng;
  readonly namespaces: readonly NamespaceSpec[];
  readonly serviceAccounts: readonly ServiceAccountSpec[];
  readonly pods: readonly PodSpec[];
  /** Extra CIDRs: host routes of some pod addresses. */
  readonly podHostCidrs: { readonly v4: readonly string[]; readonly v6: readonly string[] };
}

/** Calico selector over endpoint / network-set labels (policy `selector`, rule `selector` / `notSelector`). */
function endpointSelector(c: Context): string {
  const { r } = c;
  const atom = (): string =>
    r.weighted<() => string>([
      [10, () => `app == '${r.pick(POD_LABELS.app!)}'`],
      [4, () => `app != '${r.pick(POD_LABELS.app!)}'`],
      [5, () => `has(${r.pick(['app', 'tier', 'role', 'zone', 'team'])})`],
      [3, () => `!has(${r.pick(['app', 'tier', 'role', 'zone'])})`],
      [4, () => `app in ${quoteSet(r.sample(POD_LABELS.app!, 2))}`],
      [2, () => `app not in ${quoteSet(r.sample(POD_LABELS.app!, 1))}`],
      [3, () => `tier == '${r.pick(POD_LABELS.tier!)}'`],
      [2, () => `role starts with 'ad'`],
      [1, () => `app contains 'e'`],
      [1, () => `app ends with 'b'`],
      [3, () => `zone == '${r.pick(SET_LABELS.zone!)}'`],
      [6, () => 'all()'],
      [2, () => `projectcalico.org/namespace == '${r.pick(c.namespaces).name}'`],
      [2, () => 'has(projectcalico.org/namespace)'],
      [2, () => '!has(projectcalico.org/namespace)'],
      [1, () => "projectcalico.org/orchestrator == 'k8s'"],
      [1, () => `projectcalico.org/serviceaccount == '${r.pick(['default', ...SA_NAMES])}'`],
      [1, () => `team == '${r.pick(POD_LABELS.team!)}'`],
    ])();
  return combine(r, atom);
}

function namespaceSelectorText(c: Context, allowGlobal: boolean): string {
  const { r } = c;
  if (allowGlobal && r.chance(0.25)) return 'global()';
  const atom = (): string =>
    r.weighted<() => string>([
      [6, () => `env == '${r.pick(NAMESPACE_LABELS.env!)}'`],
      [3, () => `env != '${r.pick(NAMESPACE_LABELS.env!)}'`],
      [3, () => `team in ${quoteSet(r.sample(NAMESPACE_LABELS.team!, 1))}`],
      [2, () => 'has(team)'],
      [2, () => '!has(env)'],
      [4, () => 'all()'],
      [3, () => `projectcalico.org/name == '${r.pick(c.namespaces).name}'`],
      [3, () => `kubernetes.io/metadata.name == '${r.pick(c.namespaces).name}'`],
    ])();
  return combine(r, atom);
}

function serviceAccountSelectorText(c: Context): string {
  const { r } = c;
  const atom = (): string =>
    r.weighted<() => string>([
      [5, () => `role == '${r.pick(SA_LABELS.role!)}'`],
      [3, () => 'has(role)'],
      [2, () => `role != '${r.pick(SA_LABELS.role!)}'`],
      [5, () => 'all()'],
      [3, () => `projectcalico.org/name == '${r.pick(['default', ...SA_NAMES, LONG_SA_NAME])}'`],
      [2, () => `team == '${r.pick(SA_LABELS.team!)}'`],
    ])();
  return combine(r, atom);
}

function k8sLabelSelector(c: Context, vocab: Readonly<Record<string, readonly string[]>>, forNamespaces: boolean): LabelSelectorSpec {
  const { r } = c;
  const x = r.next();
  if (x < 0.3) return {};
  const keys = Object.keys(vocab);
  const matchLabels = (): Labels => {
    const out: Record<string, string> = {};
    for (const k of r.sample(keys, r.int(1, 2))) out[k] = r.pick(vocab[k]!);
    if (forNamespaces && r.chance(0.2)) return { 'kubernetes.io/metadata.name': r.pick(c.namespaces).name };
    return out;
  };
  const expression = (): LabelSelectorSpec['matchExpressions'] => {
    const key = r.pick(keys);
    const operator = r.pick(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const);
    return [operator === 'In' || operator === 'NotIn' ? { key, operator, values: r.sample(vocab[key]!, r.int(1, 2)) } : { key, operator }];
  };
  if (x < 0.75) return { matchLabels: matchLabels() };
  if (x < 0.9) return { matchExpressions: expression() ?? [] };
  return { matchLabels: matchLabels(), matchExpressions: expression() ?? [] };
}

function cidrPool(c: Context, family: 4 | 6): string[] {
  return family === 4 ? [...V4_CIDRS, ...c.podHostCidrs.v4] : [...V6_CIDRS, ...c.podHostCidrs.v6];
}

// ---- Kubernetes policies

function k8sPeer(c: Context): K8sPeerSpec {
  const { r } = c;
  return r.weighted<() => K8sPeerSpec>([
    [30, () => ({ podSelector: k8sLabelSelector(c, POD_LABELS, false) })],
    [20, () => ({ namespaceSelector: k8sLabelSelector(c, NAMESPACE_LABELS, true) })],
    [18, () => ({ podSelector: k8sLabelSelector(c, POD_LABELS, false), namespaceSelector: k8sLabelSelector(c, NAMESPACE_LABELS, true) })],
    [25, () => ({ ipBlock: ipBlock(c) })],
  ])();
}

function ipBlock(c: Context): { cidr: string; except?: string[] } {
  const { r } = c;
  const family = r.chance(0.85) ? 4 : 6;
  const cidr = r.chance(0.12) ? (family === 4 ? '0.0.0.0/0' : '::/0') : r.pick(cidrPool(c, family));
  const outer = mustParseCidr(cidr);
  // except entries must lie strictly inside the cidr.
  const inside = cidrPool(c, family).filter((t) => {
    const inner = mustParseCidr(t);
    return cidrContainsCidr(outer, inner) && inner.bits > outer.bits;
  });
  if (inside.length === 0 || r.chance(0.55)) return { cidr };
  return { cidr, except: r.sample(inside, r.int(1, 2)) };
}

function k8sPorts(c: Context): K8sPortSpec[] | undefined {
  const { r } = c;
  const x = r.next();
  if (x < 0.4) return undefined;
  if (x < 0.45) return [];
  const out: K8sPortSpec[] = [];
  for (let i = r.int(1, 2); i > 0; i--) {
    const protocol = r.weighted<PortProtocol | undefined>([
      [40, undefined],
      [30, 'TCP'],
      [15, 'UDP'],
      [15, 'SCTP'],
    ]);
    const kind = r.weighted([
      [15, 'none'],
      [55, 'number'],
      [30, 'name'],
    ] as const);
    const base: { protocol?: PortProtocol } = protocol === undefined ? {} : { protocol };
    if (kind === 'none') out.push(base);
    else if (kind === 'name') out.push({ ...base, port: r.pick(PORT_NAMES) });
    else {
      const port = r.pick(NUMERIC_PORTS);
      out.push(r.chance(0.4) ? { ...base, port, endPort: r.pick([port, port + 1, port + 100, port + 1000, 65535]) } : { ...base, port });
    }
  }
  return out;
}

function k8sRules(c: Context): K8sRuleSpec[] {
  const { r } = c;
  const out: K8sRuleSpec[] = [];
  for (let i = r.int(1, 2); i > 0; i--) {
    const x = r.next();
    const peers = x < 0.25 ? undefined : x < 0.3 ? [] : Array.from({ length: r.int(1, 2) }, () => k8sPeer(c));
    const ports = k8sPorts(c);
    out.push({ ...(peers === undefined ? {} : { peers }), ...(ports === undefined ? {} : { ports }) });
  }
  return out;
}

function optionalRules<T>(r: Rng, absent: number, empty: number, make: () => T[]): T[] | undefined {
  const x = r.next();
  if (x < absent) return undefined;
  if (x < absent + empty) return [];
  return make();
}

function k8sPolicy(c: Context, name: string, namespace: string): K8sPolicySpec {
  const { r } = c;
  const policyTypes = r.weighted<Direction[] | undefined>([
    [45, undefined],
    [20, ['Ingress']],
    [15, ['Egress']],
    [20, ['Ingress', 'Egress']],
  ]);
  const ingress = optionalRules(r, 0.25, 0.12, () => k8sRules(c));
  const egress = optionalRules(r, 0.35, 0.12, () => k8sRules(c));
  return {
    name,
    namespace,
    podSelector: k8sLabelSelector(c, POD_LABELS, false),
    ...(policyTypes === undefined ? {} : { policyTypes }),
    ...(ingress === undefined ? {} : { ingress }),
    ...(egress === undefined ? {} : { egress }),
  };
}

// ---- Calico policies

function supportsPorts(p: CalicoProtocol | undefined): boolean {
  return p === 'TCP' || p === 'UDP' || p === 'SCTP' || p === 6 || p === 17 || p === 132;
}

function portList(c: Context, numericAllowed: boolean): (number | string)[] {
  const { r } = c;
  const out: (number | string)[] = [];
  for (let i = r.int(1, 3); i > 0; i--) {
    const kind = numericAllowed ? r.weighted([[45, 'number'], [20, 'range'], [35, 'name']] as const) : 'name';
    if (kind === 'name') out.push(r.pick(PORT_NAMES));
    else if (kind === 'number') {
      // Calico reads an all-digit string as a port number too (numorstring.PortFromString).
      const port = r.pick(NUMERIC_PORTS);
      out.push(r.chance(0.1) ? String(port) : port);
    }
    else {
      const lo = r.pick(NUMERIC_PORTS);
      out.push(`${lo}:${lo + r.pick([0, 1, 50, 2000])}`);
    }
  }
  return out;
}

function serviceAccountMatch(c: Context): { names?: string[]; selector?: string } {
  const { r } = c;
  const known = [...new Set(c.serviceAccounts.map((a) => a.name))];
  const names = (): string[] => r.sample(r.chance(0.8) ? known : ['default', ...SA_NAMES, LONG_SA_NAME], r.int(1, 2));
  return r.weighted<() => { names?: string[]; selector?: string }>([
    [45, () => ({ names: names() })],
    [35, () => ({ selector: serviceAccountSelectorText(c) })],
    [20, () => ({ names: names(), selector: serviceAccountSelectorText(c) })],
  ])();
}

function entity(c: Context, side: 'source' | 'destination', protocol: CalicoProtocol | undefined, family: 4 | 6): EntitySpec | undefined {
  const { r } = c;
  if (r.chance(side === 'source' ? 0.45 : 0.35)) return undefined;
  const e: { -readonly [K in keyof EntitySpec]: EntitySpec[K] } = {};
  if (r.chance(0.38)) e.selector = endpointSelector(c);
  if (r.chance(0.14)) e.notSelector = endpointSelector(c);
  if (r.chance(0.25)) e.namespaceSelector = namespaceSelectorText(c, true);
  if (r.chance(0.12)) e.serviceAccounts = serviceAccountMatch(c);
  if (r.chance(0.16)) e.nets = r.sample(cidrPool(c, family), r.int(1, 2));
  // A catch-all in notNets is rejected by Calico's validator.
  if (r.chance(0.12)) e.notNets = r.sample(cidrPool(c, family), r.int(1, 2));
  if (side === 'destination') {
    if (supportsPorts(protocol) ? r.chance(0.5) : protocol === undefined && r.chance(0.3)) e.ports = portList(c, supportsPorts(protocol));
    if (supportsPorts(protocol) && r.chance(0.14)) e.notPorts = portList(c, true);
  }
  return e;
}

function icmpMatch(r: Rng, protocol: CalicoProtocol): IcmpSpec {
  const types = protocol === 'ICMPv6' ? [128, 129, 1] : [8, 0, 3];
  const type = r.pick(types);
  return r.chance(0.5) ? { type, code: r.pick([0, 1]) } : { type };
}

function calicoRule(c: Context): CalicoRuleSpec {
  const { r } = c;
  const action = r.weighted<CalicoRuleSpec['action']>([
    [45, 'Allow'],
    [25, 'Deny'],
    [17, 'Pass'],
    [13, 'Log'],
  ]);
  const protocol = r.weighted<CalicoProtocol | undefined>([
    [36, undefined],
    [28, 'TCP'],
    [10, 'UDP'],
    [5, 'SCTP'],
    [10, 'ICMP'],
    [4, 'ICMPv6'],
    [4, 6],
    [3, 17],
  ]);
  const notProtocol = protocol === undefined && r.chance(0.08) ? r.pick<CalicoProtocol>(['UDP', 'TCP', 'ICMP']) : undefined;
  let family: 4 | 6 = r.chance(0.8) ? 4 : 6;
  let ipVersion: 4 | 6 | undefined;
  if (protocol === 'ICMP' || notProtocol === 'ICMP') {
    family = 4;
    if (r.chance(0.2)) ipVersion = 4;
  } else if (protocol === 'ICMPv6') {
    family = 6;
    if (r.chance(0.2)) ipVersion = 6;
  } else if (r.chance(0.1)) {
    ipVersion = family;
  }
  const icmp = (protocol === 'ICMP' || protocol === 'ICMPv6') && r.chance(0.5) ? icmpMatch(r, protocol) : undefined;
  const notICMP = (protocol === 'ICMP' || protocol === 'ICMPv6') && icmp === undefined && r.chance(0.2) ? icmpMatch(r, protocol) : undefined;
  const source = entity(c, 'source', protocol, family);
  const destination = entity(c, 'destination', protocol, family);
  return {
    action,
    ...(ipVersion === undefined ? {} : { ipVersion }),
    ...(protocol === undefined ? {} : { protocol }),
    ...(notProtocol === undefined ? {} : { notProtocol }),
    ...(icmp === undefined ? {} : { icmp }),
    ...(notICMP === undefined ? {} : { notICMP }),
    ...(source === undefined ? {} : { source }),
    ...(destination === undefined ? {} : { destination }),
  };
}

function calicoPolicy(c: Context, kind: CalicoPolicySpec['kind'], name: string, namespace: string | undefined, tiers: readonly TierSpec[]): CalicoPolicySpec {
  const { r } = c;
  const tier = r.weighted<string | undefined>([
    [40, undefined],
    [10, 'default'],
    [50, tiers.length > 0 ? r.pick(tiers).name : undefined],
  ]);
  const order = r.chance(0.25) ? undefined : r.pick(POLICY_ORDERS);
  const selector = r.chance(0.3) ? undefined : endpointSelector(c);
  const namespaceSelector = kind === 'GlobalNetworkPolicy' && r.chance(0.3) ? namespaceSelectorText(c, false) : undefined;
  const serviceAccountSelector = r.chance(0.22) ? serviceAccountSelectorText(c) : undefined;
  const types = r.weighted<Direction[] | undefined>([
    [40, undefined],
    [20, ['Ingress']],
    [20, ['Egress']],
    [15, ['Ingress', 'Egress']],
    [5, ['Egress', 'Ingress']],
  ]);
  const rules = (): CalicoRuleSpec[] => Array.from({ length: r.int(1, 3) }, () => calicoRule(c));
  const ingress = optionalRules(r, 0.2, 0.1, rules);
  const egress = optionalRules(r, 0.3, 0.1, rules);
  return {
    kind,
    name,
    ...(namespace === undefined ? {} : { namespace }),
    ...(tier === undefined ? {} : { tier }),
    ...(order === undefined ? {} : { order }),
    ...(selector === undefined ? {} : { selector }),
    ...(namespaceSelector === undefined ? {} : { namespaceSelector }),
    ...(serviceAccountSelector === undefined ? {} : { serviceAccountSelector }),
    ...(types === undefined ? {} : { types }),
    ...(ingress === undefined ? {} : { ingress }),
    ...(egress === undefined ? {} : { egress }),
  };
}

function twinPolicy(
  c: Context,
  of: CalicoPolicySpec | K8sPolicySpec,
  freshName: (key: string, prefer?: readonly string[]) => string | undefined,
  tiers: readonly TierSpec[],
): CalicoPolicySpec | undefined {
  const isCalico = 'kind' in of;
  const kind = isCalico ? of.kind : 'NetworkPolicy';
  const namespace = of.namespace;
  // Prefer the same name (another kind) or a name whose tie-break order differs from name order.
  const name = freshName(`${kind}/${namespace ?? ''}`, [of.name, ...(RELATED_NAMES[of.name] ?? [])]);
  if (name === undefined) return undefined;
  const fresh = calicoPolicy(c, kind, name, namespace, tiers);
  let rules: Pick<CalicoPolicySpec, 'types' | 'ingress' | 'egress'> = {
    ...(fresh.types === undefined ? {} : { types: fresh.types }),
    ...(fresh.ingress === undefined ? {} : { ingress: fresh.ingress }),
    ...(fresh.egress === undefined ? {} : { egress: fresh.egress }),
  };
  // Half the twins contradict the original, so that which of the two acts first shows in verdicts.
  const contradict = c.r.chance(0.5);
  if (!isCalico) {
    // Beside a Kubernetes policy (all Allow rules): tier default, order 1000, all pods of its namespace.
    if (contradict) {
      const action = (): CalicoRuleSpec[] => [{ action: c.r.pick(['Deny', 'Pass'] as const) }];
      rules = { types: ['Ingress', 'Egress'], ingress: action(), egress: action() };
    }
    return { kind, name, namespace: of.namespace, order: 1000, ...(c.r.chance(0.5) ? { tier: 'default' } : {}), ...rules };
  }
  if (contradict) {
    const flip = (list: readonly CalicoRuleSpec[] | undefined): CalicoRuleSpec[] | undefined =>
      list?.map((rule) => ({ ...rule, action: rule.action === 'Allow' ? 'Deny' : rule.action === 'Log' ? 'Log' : 'Allow' }));
    const ingress = flip(of.ingress);
    const egress = flip(of.egress);
    rules = { ...(ingress === undefined ? {} : { ingress }), ...(egress === undefined ? {} : { egress }) };
  }
  const copy = <K extends keyof CalicoPolicySpec>(k: K): Partial<CalicoPolicySpec> => (of[k] === undefined ? {} : { [k]: of[k] });
  return {
    kind,
    name,
    ...(namespace === undefined ? {} : { namespace }),
    ...copy('tier'),
    ...copy('order'),
    ...copy('selector'),
    ...copy('namespaceSelector'),
    ...copy('serviceAccountSelector'),
    ...(contradict ? copy('types') : {}),
    ...rules,
  };
}

// ---- the cluster

function hex(n: number): string {
  return n.toString(16);
}

function generatePods(r: Rng, namespaces: readonly NamespaceSpec[], accounts: readonly ServiceAccountSpec[]): PodSpec[] {
  const pods: PodSpec[] = [];
  namespaces.forEach((ns, nsIndex) => {
    const hosts = r.sample(Array.from({ length: 250 }, (_, i) => i + 1), r.int(2, 5));
    const sas = accounts.filter((a) => a.namespace === ns.name).map((a) => a.name);
    hosts.forEach((host, k) => {
      const ips = [`10.0.${nsIndex}.${host}`];
      if (r.chance(0.35)) ips.push(`fd00::${hex(nsIndex + 1)}:${hex(host)}`);
      const ports: ContainerPortSpec[] = [];
      for (const p of r.sample(CONTAINER_PORTS, r.weighted([[15, 0], [40, 1], [30, 2], [15, 3]]))) {
        const clash = ports.some(
          (q) => (q.name !== undefined && q.name === p.name) || (q.containerPort === p.containerPort && (q.protocol ?? 'TCP') === (p.protocol ?? 'TCP')),
        );
        if (!clash) ports.push(p);
      }
      const sa = r.chance(0.2) ? undefined : sas.includes(LONG_SA_NAME) && r.chance(0.5) ? LONG_SA_NAME : r.pick(sas);
      pods.push({
        namespace: ns.name,
        name: `pod-${k}`,
        labels: randomLabels(r, POD_LABELS, POD_LABEL_ODDS),
        ...(sa === undefined ? {} : { serviceAccountName: sa }),
        ips,
        ports,
      });
    });
  });
  return pods;
}

function generateNetworkSets(c: Context): NetworkSetSpec[] {
  const { r } = c;
  const out: NetworkSetSpec[] = [];
  for (let i = r.weighted([[35, 0], [35, 1], [20, 2], [10, 3]]); i > 0; i--) {
    const global = r.chance(0.5);
    const nets = r.sample([...V4_CIDRS, ...c.podHostCidrs.v4, ...V6_CIDRS.slice(0, 3), ...EXTERNAL_V4.slice(0, 2)], r.int(1, 2));
    const labels = randomLabels(r, SET_LABELS, 0.5);
    out.push(
      global
        ? { kind: 'GlobalNetworkSet', name: `gset-${i}`, labels, nets }
        : { kind: 'NetworkSet', namespace: r.pick(c.namespaces).name, name: `set-${i}`, labels, nets },
    );
  }
  return out;
}

function portSpecsFor(r: Rng, pods: readonly PodSpec[]): { protocol: 'TCP' | 'UDP' | 'SCTP'; port: number }[] {
  const declared = new Map<string, { protocol: 'TCP' | 'UDP' | 'SCTP'; port: number }>();
  for (const p of pods) for (const cp of p.ports) declared.set(`${cp.protocol ?? 'TCP'}/${cp.containerPort}`, { protocol: cp.protocol ?? 'TCP', port: cp.containerPort });
  const extra = [
    { protocol: 'TCP' as const, port: r.pick([80, 8080, 8081, 443]) },
    { protocol: r.pick(['TCP', 'UDP', 'SCTP'] as const), port: r.pick([53, 1234, 7000, 9090, 5432, 1300, 8100]) },
  ];
  const chosen = [...r.sample([...declared.values()], 4), ...extra];
  const seen = new Set<string>();
  return chosen.filter((s) => {
    const k = `${s.protocol}/${s.port}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function generateFlows(r: Rng, pods: readonly PodSpec[]): FlowSpec[] {
  const flows: FlowSpec[] = [];
  const specs = portSpecsFor(r, pods);
  const icmp = (): Pick<FlowSpec, 'protocol' | 'icmpType' | 'icmpCode'> =>
    r.weighted<Pick<FlowSpec, 'protocol' | 'icmpType' | 'icmpCode'>>([
      [70, { protocol: 'ICMP' }],
      [15, { protocol: 'ICMP', icmpType: 0, icmpCode: 0 }],
      [15, { protocol: 'ICMP', icmpType: 3, icmpCode: 1 }],
    ]);
  const l4 = (s: { protocol: 'TCP' | 'UDP' | 'SCTP'; port: number }): Pick<FlowSpec, 'protocol' | 'port'> => ({ protocol: s.protocol, port: s.port });
  const some = (): Pick<FlowSpec, 'protocol' | 'port' | 'icmpType' | 'icmpCode'>[] => [...r.sample(specs, 2).map(l4), icmp()];

  // Every ordered pair of distinct pods, on every chosen port and ICMP.
  const icmpForPairs: Pick<FlowSpec, 'protocol' | 'icmpType' | 'icmpCode'>[] = [{ protocol: 'ICMP' }];
  if (r.chance(0.7)) icmpForPairs.push(r.pick([{ protocol: 'ICMP', icmpType: 0, icmpCode: 0 }, { protocol: 'ICMP', icmpType: 3, icmpCode: 1 }, { protocol: 'ICMP', icmpType: 3, icmpCode: 0 }]));
  for (const a of pods) {
    for (const b of pods) {
      if (a === b) continue;
      for (const s of specs) flows.push({ from: podId(a), to: podId(b), ...l4(s) });
      for (const i of icmpForPairs) flows.push({ from: podId(a), to: podId(b), ...i });
    }
  }
  // A pod to itself, by name and by its own address.
  for (const p of r.sample(pods, 2)) {
    flows.push({ from: podId(p), to: podId(p), ...l4(r.pick(specs)) });
    flows.push({ from: podId(p), to: p.ips[0]!, ...l4(r.pick(specs)) });
  }
  // IPv6 between pods that have it.
  const v6 = pods.filter((p) => p.ips.length > 1);
  for (const a of v6) {
    for (const b of r.sample(v6, 3)) {
      if (a === b) continue;
      for (const s of some()) flows.push({ from: a.ips[1]!, to: b.ips[1]!, ...s });
    }
  }
  // To and from external addresses, inside and outside the generated CIDRs.
  for (const p of pods) {
    for (const ext of r.sample(EXTERNAL_V4, 2)) {
      for (const s of some()) {
        flows.push({ from: podId(p), to: ext, ...s });
        flows.push({ from: ext, to: podId(p), ...s });
      }
    }
    if (p.ips.length > 1) {
      const ext = r.pick(EXTERNAL_V6);
      for (const s of some()) {
        flows.push({ from: p.ips[1]!, to: ext, ...s });
        flows.push({ from: ext, to: p.ips[1]!, ...s });
      }
    }
  }
  return flows;
}

export interface GenerateOptions {
  /** Scale factor for the number of policies (1 = default). */
  readonly policyScale?: number;
}

export function generateScenario(seed: number, options: GenerateOptions = {}): Scenario {
  const r = new Rng(seed);
  const namespaces: NamespaceSpec[] = r
    .sample(NAMESPACE_NAMES, r.int(2, 4))
    .map((name) => ({ name, labels: randomLabels(r, NAMESPACE_LABELS, 0.65) }));
  const longSaNamespace = r.chance(0.5) ? r.pick(namespaces).name : undefined;
  const serviceAccounts: ServiceAccountSpec[] = [];
  for (const ns of namespaces) {
    const names = ['default', ...r.sample(SA_NAMES, r.int(0, 2)), ...(ns.name === longSaNamespace ? [LONG_SA_NAME] : [])];
    for (const name of names) serviceAccounts.push({ namespace: ns.name, name, labels: randomLabels(r, SA_LABELS, 0.5) });
  }
  const pods = generatePods(r, namespaces, serviceAccounts);
  const hostPods = r.sample(pods, 3);
  const c: Context = {
    r,
    namespaces,
    serviceAccounts,
    pods,
    podHostCidrs: {
      v4: hostPods.map((p) => `${p.ips[0]}/32`),
      v6: hostPods.filter((p) => p.ips.length > 1).map((p) => `${p.ips[1]}/128`),
    },
  };
  const networkSets = generateNetworkSets(c);

  const tiers: TierSpec[] = r.sample(TIER_NAMES, r.weighted([[30, 0], [35, 1], [25, 2], [10, 3]])).map((name) => {
    const order = r.pick(TIER_ORDERS);
    const defaultAction = r.weighted<'Deny' | 'Pass' | undefined>([
      [30, undefined],
      [35, 'Deny'],
      [35, 'Pass'],
    ]);
    return { name, ...(order === undefined ? {} : { order }), ...(defaultAction === undefined ? {} : { defaultAction }) };
  });

  const scale = options.policyScale ?? 1;
  const used = new Set<string>();
  const freshName = (key: string, prefer: readonly string[] = []): string | undefined => {
    const free = POLICY_NAMES.filter((n) => !used.has(`${key}/${n}`));
    const preferred = prefer.filter((n) => free.includes(n));
    if (free.length === 0) return undefined;
    const n = preferred.length > 0 && r.chance(0.7) ? r.pick(preferred) : r.pick(free);
    used.add(`${key}/${n}`);
    return n;
  };
  const k8sPolicies: K8sPolicySpec[] = [];
  for (let i = Math.round(r.weighted([[20, 0], [30, 1], [25, 2], [15, 3], [10, 4]]) * scale); i > 0; i--) {
    const ns = r.pick(namespaces).name;
    const name = freshName(`knp/${ns}`);
    if (name !== undefined) k8sPolicies.push(k8sPolicy(c, name, ns));
  }
  const calicoPolicies: CalicoPolicySpec[] = [];
  for (let i = Math.round(r.weighted([[15, 0], [25, 1], [25, 2], [20, 3], [15, 5]]) * scale); i > 0; i--) {
    const earlier = [...calicoPolicies, ...k8sPolicies];
    const twinOf = earlier.length > 0 && r.chance(0.25) ? r.pick(earlier) : undefined;
    if (twinOf !== undefined) {
      // A twin: same tier, order and selection as an earlier policy, another name, other rules —
      // so the order tie-break (name/namespace/kind) decides which acts first.
      const twin = twinPolicy(c, twinOf, freshName, tiers);
      if (twin !== undefined) calicoPolicies.push(twin);
      continue;
    }
    const kind = r.chance(0.55) ? 'NetworkPolicy' : 'GlobalNetworkPolicy';
    const ns = kind === 'NetworkPolicy' ? r.pick(namespaces).name : undefined;
    const name = freshName(`${kind}/${ns ?? ''}`);
    if (name !== undefined) calicoPolicies.push(calicoPolicy(c, kind, name, ns, tiers));
  }

  return {
    seed,
    namespaces,
    serviceAccounts,
    pods,
    networkSets,
    tiers,
    k8sPolicies,
    calicoPolicies,
    flows: generateFlows(r, pods),
  };
}

/** Sanity check used by the tests: every CIDR the generator wrote parses. */
export function everyCidrParses(s: Scenario): boolean {
  const all: string[] = [...s.networkSets.flatMap((n) => n.nets)];
  for (const p of s.calicoPolicies) {
    for (const rule of [...(p.ingress ?? []), ...(p.egress ?? [])]) {
      for (const e of [rule.source, rule.destination]) all.push(...(e?.nets ?? []), ...(e?.notNets ?? []));
    }
  }
  for (const p of s.k8sPolicies) {
    for (const rule of [...(p.ingress ?? []), ...(p.egress ?? [])]) {
      for (const peer of rule.peers ?? []) if (peer.ipBlock !== undefined) all.push(peer.ipBlock.cidr, ...(peer.ipBlock.except ?? []));
    }
  }
  return all.every((t) => parseCidr(t) !== undefined);
}
