// Small clusters for the dataplane tests, built directly in the engine's model (createCluster takes
// plain data), so these tests depend on the engine's semantics but not on the loader. Policies are
// written in Felix's internal form: selectors already scoped the way compose.ts would scope them.
import type { Cluster, ClusterData } from '../../src/engine/cluster.ts';
import { createCluster, policyKey } from '../../src/engine/cluster.ts';
import type {
  EntityMatch,
  Endpoint,
  EndpointPort,
  NetList,
  NetworkSetEntry,
  Policy,
  PolicyKind,
  PortList,
  Profile,
  Rule,
  RuleAction,
  ServiceEntry,
  Tier,
} from '../../src/engine/model.ts';
import { PROTOCOL } from '../../src/engine/model.ts';
import { comparePolicies, compareTiers } from '../../src/engine/ordering.ts';
import { nodeInterfaceOf } from '../../src/lab/topology.ts';
import type { Origin } from '../../src/model/origin.ts';
import { parseCidrLenient, parseIp } from '../../src/net/index.ts';
import type { Cidr, IpAddress } from '../../src/net/index.ts';
import { parseSelector } from '../../src/selector/index.ts';
import type { Selector } from '../../src/selector/index.ts';

const SPAN = { file: 'test', line: 1, col: 1 };
export const ORIGIN: Origin = { file: 'test', docIndex: 0, span: SPAN, spanOf: () => SPAN, spanInString: () => SPAN };

export function sel(text: string): Selector {
  const r = parseSelector(text);
  if (!r.ok) throw new Error(`bad selector in test data: ${text}`);
  return r.value;
}

export function ip(text: string): IpAddress {
  const r = parseIp(text);
  if (!r.ok) throw new Error(`bad address in test data: ${text}`);
  return r.value;
}

export function cidr(text: string): Cidr {
  const r = parseCidrLenient(text);
  if (!r.ok) throw new Error(`bad CIDR in test data: ${text}`);
  return r.value;
}

export function nets(...texts: string[]): NetList {
  const cs = texts.map(cidr);
  return { v4: cs.filter((c) => c.family === 4), v6: cs.filter((c) => c.family === 6) };
}

/** `80`, `'1000:2000'`, or a named port. */
export function ports(...items: (number | string)[]): PortList {
  const ranges: { min: number; max: number }[] = [];
  const named: string[] = [];
  for (const p of items) {
    if (typeof p === 'number') ranges.push({ min: p, max: p });
    else if (/^\d+:\d+$/.test(p)) {
      const [a, b] = p.split(':').map(Number);
      ranges.push({ min: a!, max: b! });
    } else named.push(p);
  }
  return { ranges, named };
}

export const TCP = PROTOCOL.TCP;
export const UDP = PROTOCOL.UDP;
export const SCTP = PROTOCOL.SCTP;
export const ICMP = PROTOCOL.ICMP;
export const ICMPV6 = PROTOCOL.ICMPV6;

export interface RuleSpec {
  readonly ipVersion?: 4 | 6;
  readonly protocol?: number;
  readonly notProtocol?: number;
  readonly icmp?: { readonly type: number; readonly code?: number };
  readonly notIcmp?: { readonly type: number; readonly code?: number };
  readonly source?: EntityMatch;
  readonly destination?: EntityMatch;
  readonly http?: boolean;
}

export function rules(...specs: readonly [RuleAction, RuleSpec?][]): Rule[] {
  return specs.map(([action, s = {}], index) => {
    const r: { -readonly [K in keyof Rule]: Rule[K] } = {
      index,
      action,
      source: s.source ?? {},
      destination: s.destination ?? {},
      path: ['spec', index],
      hasHttpMatch: s.http === true,
    };
    if (s.ipVersion !== undefined) r.ipVersion = s.ipVersion;
    if (s.protocol !== undefined) r.protocol = s.protocol;
    if (s.notProtocol !== undefined) r.notProtocol = s.notProtocol;
    if (s.icmp !== undefined) r.icmp = s.icmp;
    if (s.notIcmp !== undefined) r.notIcmp = s.notIcmp;
    return r;
  });
}

export const ALLOW_ALL: readonly Rule[] = rules(['allow']);

export function tier(name: string, order: number | undefined, defaultAction: 'deny' | 'pass' = 'deny'): Tier {
  return { name, order, defaultAction, exists: true, origin: undefined };
}

export interface PolicySpec {
  readonly kind?: PolicyKind;
  readonly name: string;
  readonly namespace?: string;
  readonly tier?: string;
  readonly order?: number;
  readonly selector: string;
  readonly types?: readonly ('ingress' | 'egress')[];
  readonly ingress?: readonly Rule[];
  readonly egress?: readonly Rule[];
  readonly stagedAction?: 'Set' | 'Delete';
}

export function policy(p: PolicySpec): Policy {
  const kind = p.kind ?? (p.namespace === undefined ? 'GlobalNetworkPolicy' : 'NetworkPolicy');
  const staged = kind.startsWith('Staged');
  const ingress = p.ingress ?? [];
  const egress = p.egress ?? [];
  const types = p.types ?? (egress.length > 0 && ingress.length === 0 ? ['egress'] : egress.length > 0 ? ['ingress', 'egress'] : ['ingress']);
  return {
    key: policyKey(kind, p.namespace, p.name),
    kind,
    name: p.name,
    namespace: p.namespace,
    tier: p.tier ?? 'default',
    order: p.order ?? Infinity,
    staged,
    stagedAction: staged ? (p.stagedAction ?? 'Set') : undefined,
    selector: sel(p.selector),
    types: { ingress: types.includes('ingress'), egress: types.includes('egress') },
    ingress,
    egress,
    doNotTrack: false,
    preDNAT: false,
    applyOnForward: false,
    origin: ORIGIN,
  };
}

const profiles = new Map<string, Profile>();

/** Calico's namespace profile `kns.<ns>`: allow all, labels `pcns.*`. */
export function namespaceProfile(ns: string): Profile {
  let p = profiles.get(ns);
  if (p === undefined) {
    p = { name: `kns.${ns}`, labels: new Map([['pcns.projectcalico.org/name', ns]]), ingress: ALLOW_ALL, egress: ALLOW_ALL };
    profiles.set(ns, p);
  }
  return p;
}

export interface EndpointSpec {
  readonly id: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly addresses: readonly string[];
  readonly ports?: readonly EndpointPort[];
  readonly node?: string;
  readonly profiles?: readonly Profile[];
}

export function endpoint(e: EndpointSpec): Endpoint {
  const [namespace, name] = e.id.split('/') as [string, string];
  const labels = new Map(Object.entries(e.labels ?? {}));
  labels.set('projectcalico.org/namespace', namespace);
  labels.set('projectcalico.org/orchestrator', 'k8s');
  const profs = e.profiles ?? [namespaceProfile(namespace)];
  for (const p of profs) for (const [k, v] of p.labels) if (!labels.has(k)) labels.set(k, v);
  return {
    id: e.id,
    kind: 'workload',
    name,
    namespace,
    resourceType: 'Pod',
    labels,
    addresses: e.addresses.map(ip),
    ports: e.ports ?? [],
    profiles: profs,
    serviceAccount: undefined,
    node: e.node,
    interfaceName: undefined,
    origin: ORIGIN,
    labelKey: [...labels.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('\u0000'),
  };
}

export function networkSet(id: string, labels: Readonly<Record<string, string>>, cidrs: readonly string[], domains: readonly string[] = []): NetworkSetEntry {
  const slash = id.indexOf('/');
  const namespace = slash < 0 ? undefined : id.slice(0, slash);
  const l = new Map(Object.entries(labels));
  if (namespace !== undefined) l.set('projectcalico.org/namespace', namespace);
  return { id, name: slash < 0 ? id : id.slice(slash + 1), namespace, labels: l, nets: cidrs.map(cidr), allowedEgressDomains: domains, origin: ORIGIN };
}

export function service(namespace: string, name: string, selector: Readonly<Record<string, string>>, ps: ServiceEntry['ports']): ServiceEntry {
  return { namespace, name, selector: new Map(Object.entries(selector)), ports: ps, origin: ORIGIN };
}

export interface ClusterSpec {
  readonly tiers?: readonly Tier[];
  readonly policies?: readonly Policy[];
  readonly endpoints: readonly Endpoint[];
  readonly networkSets?: readonly NetworkSetEntry[];
  readonly services?: readonly ServiceEntry[];
}

/** Sorts tiers and policies the way the builder does and creates the cluster. */
export function cluster(spec: ClusterSpec): Cluster {
  const tiers = [...(spec.tiers ?? []), ...(spec.tiers?.some((t) => t.name === 'default') === true ? [] : [tier('default', 1_000_000)])].sort(compareTiers);
  const rank = new Map(tiers.map((t, i) => [t.name, i]));
  const policies = [...(spec.policies ?? [])].sort((a, b) => rank.get(a.tier)! - rank.get(b.tier)! || comparePolicies(a, b));
  const namespaces = [...new Set(spec.endpoints.map((e) => e.namespace).filter((n): n is string => n !== undefined))].map((name) => ({
    name,
    labels: new Map([['kubernetes.io/metadata.name', name]]),
    declared: true,
    origin: undefined,
  }));
  const data: ClusterData = {
    tiers,
    policies,
    endpoints: spec.endpoints,
    networkSets: spec.networkSets ?? [],
    namespaces,
    services: spec.services ?? [],
  };
  return createCluster(data);
}

/** The node-side interface name of an endpoint: the lab's naming (`stw` + readable + hash). */
export function ifnameOf(endpointId: string): string {
  return nodeInterfaceOf(endpointId);
}

export function interfacesOf(eps: readonly Endpoint[]): Map<string, string> {
  return new Map(eps.map((e) => [e.id, ifnameOf(e.id)]));
}

// ---------------------------------------------------------------------------------------------
// The golden clusters

export interface Scenario {
  readonly name: string;
  readonly cluster: Cluster;
  /** Node name → its endpoints. */
  readonly nodes: ReadonlyMap<string, readonly Endpoint[]>;
  /** Addresses outside the cluster worth sending packets from and to. */
  readonly externals: readonly string[];
}

function byNode(eps: readonly Endpoint[]): Map<string, Endpoint[]> {
  const out = new Map<string, Endpoint[]>();
  for (const e of eps) {
    const n = e.node ?? 'node-a';
    out.set(n, [...(out.get(n) ?? []), e]);
  }
  return out;
}

/**
 * Two tenants: a security tier that passes intra-tenant traffic and denies the rest, a platform
 * tier with defaultAction Pass, and Kubernetes-style policies in the default tier.
 */
export function tenantsScenario(): Scenario {
  const eps = [
    endpoint({ id: 'tenant-1/frontend', labels: { app: 'frontend', tenant: 't1' }, addresses: ['10.10.1.1'], ports: [{ name: 'http', protocol: TCP, port: 8080 }], node: 'node-a' }),
    endpoint({
      id: 'tenant-1/backend',
      labels: { app: 'backend', tenant: 't1' },
      addresses: ['10.10.1.2', 'fd10::1:2'],
      ports: [
        { name: 'http', protocol: TCP, port: 8080 },
        { name: 'metrics', protocol: TCP, port: 9090 },
      ],
      node: 'node-a',
    }),
    endpoint({ id: 'tenant-2/web', labels: { app: 'web', tenant: 't2' }, addresses: ['10.10.2.1'], ports: [{ name: 'http', protocol: TCP, port: 8080 }], node: 'node-b' }),
    endpoint({ id: 'kube-system/dns', labels: { app: 'dns' }, addresses: ['10.10.0.10'], ports: [{ name: 'dns', protocol: UDP, port: 53 }], node: 'node-b' }),
  ];
  const policies = [
    policy({
      name: 'security.allow-dns',
      tier: 'security',
      order: 10,
      selector: 'all()',
      types: ['egress'],
      egress: rules(['allow', { protocol: UDP, destination: { selector: sel('app == "dns"'), ports: ports(53) } }]),
    }),
    policy({
      name: 'security.tenant-isolation',
      tier: 'security',
      order: 20,
      selector: 'has(tenant)',
      ingress: rules(
        ['pass', { source: { selector: sel('tenant == "t1"') }, destination: { selector: sel('tenant == "t1"') } }],
        ['pass', { source: { selector: sel('tenant == "t2"') }, destination: { selector: sel('tenant == "t2"') } }],
        ['log', { source: { nets: nets('10.0.0.0/8') } }],
        ['deny'],
      ),
      egress: rules(['pass', { destination: { notNets: nets('10.10.0.0/16') } }], ['pass', { destination: { selector: sel('has(tenant)') } }]),
    }),
    policy({
      name: 'platform.monitoring',
      tier: 'platform',
      order: 100,
      selector: 'app == "backend"',
      ingress: rules(['allow', { protocol: TCP, source: { nets: nets('192.168.50.0/24', 'fd99::/64') }, destination: { ports: ports('metrics') } }]),
    }),
    policy({
      kind: 'KubernetesNetworkPolicy',
      name: 'backend-from-frontend',
      namespace: 'tenant-1',
      order: 1000,
      selector: '(projectcalico.org/orchestrator == "k8s" && app == "backend") && projectcalico.org/namespace == "tenant-1"',
      ingress: rules([
        'allow',
        { protocol: TCP, source: { selector: sel('(projectcalico.org/namespace == "tenant-1" && (projectcalico.org/orchestrator == "k8s" && app == "frontend"))') }, destination: { ports: ports(8080) } },
      ]),
    }),
    policy({
      kind: 'KubernetesNetworkPolicy',
      name: 'default-deny',
      namespace: 'tenant-2',
      order: 1000,
      selector: 'projectcalico.org/orchestrator == "k8s" && projectcalico.org/namespace == "tenant-2"',
      types: ['ingress'],
    }),
  ];
  const c = cluster({
    tiers: [tier('security', 100), tier('platform', 200, 'pass')],
    policies,
    endpoints: eps,
  });
  return { name: 'tenants', cluster: c, nodes: byNode(eps), externals: ['192.168.50.7', '8.8.8.8', '10.99.0.1', 'fd99::7', '2001:db8::1'] };
}

/** Protocols, ports (numeric, named, negated, ranges), ICMP, IP versions. */
export function portsScenario(): Scenario {
  const eps = [
    endpoint({
      id: 'prod/api',
      labels: { app: 'api' },
      addresses: ['10.20.0.1', 'fd20::1'],
      ports: [
        { name: 'http', protocol: TCP, port: 8080 },
        { name: 'http', protocol: UDP, port: 8081 },
        { name: 'grpc', protocol: TCP, port: 9000 },
      ],
    }),
    endpoint({ id: 'prod/client', labels: { app: 'client' }, addresses: ['10.20.0.2', 'fd20::2'], ports: [{ name: 'http', protocol: SCTP, port: 7000 }] }),
    endpoint({ id: 'prod/other', labels: { app: 'other' }, addresses: ['10.20.0.3'] }),
  ];
  const apiSel = sel('projectcalico.org/namespace == "prod" && app == "api"');
  const policies = [
    policy({
      name: 'api-ingress',
      namespace: 'prod',
      order: 1,
      selector: 'app == "api" && projectcalico.org/namespace == "prod"',
      ingress: rules(
        ['log', { protocol: TCP, destination: { ports: ports(8080, 'http') } }],
        ['allow', { protocol: TCP, destination: { ports: ports(443, '8000:8100', 'grpc') } }],
        ['allow', { destination: { ports: ports('http') } }],
        ['deny', { protocol: UDP, destination: { notPorts: ports('1:1023', 'http') } }],
        ['allow', { protocol: ICMP, icmp: { type: 8, code: 0 } }],
        ['allow', { icmp: { type: 128 } }],
        ['deny', { notIcmp: { type: 3, code: 4 } }],
        ['allow', { protocol: 47 }],
        ['allow', { ipVersion: 6, notProtocol: TCP, source: { notNets: nets('fd20::3/128') } }],
        ['allow', { protocol: UDP, source: { ports: ports('1024:65535'), notNets: nets('10.20.0.0/30') }, destination: { ports: ports(5353) } }],
        ['deny', { protocol: SCTP, destination: { selector: apiSel, notSelector: sel('app == "nobody"') } }],
        ['allow', { notProtocol: UDP, destination: { notPorts: ports(22) } }],
      ),
      egress: rules(['allow', { notProtocol: ICMP, destination: { selector: sel('projectcalico.org/namespace == "prod"'), ports: ports('http') } }], ['deny', { ipVersion: 4 }]),
    }),
  ];
  const c = cluster({ policies, endpoints: eps });
  return { name: 'ports', cluster: c, nodes: byNode(eps), externals: ['10.20.0.9', 'fd20::3', '1.2.3.4'] };
}

/**
 * Network sets (with a domain list), Services on both sides, staged policies (a staged-only tier,
 * a staged policy among enforced ones), an HTTP rule, and an endpoint with no profile.
 */
export function setsScenario(): Scenario {
  const eps = [
    endpoint({ id: 'shop/cart', labels: { app: 'cart' }, addresses: ['10.30.0.1'], ports: [{ name: 'web', protocol: TCP, port: 8443 }], node: 'node-a' }),
    endpoint({
      id: 'shop/pay',
      labels: { app: 'pay' },
      addresses: ['10.30.0.2', 'fd30::2'],
      ports: [
        { name: 'web', protocol: TCP, port: 9443 },
        { name: 'web', protocol: UDP, port: 9444 },
      ],
      node: 'node-a',
    }),
    endpoint({ id: 'shop/lonely', labels: { app: 'lonely' }, addresses: ['10.30.0.3'], node: 'node-a', profiles: [] }),
    endpoint({ id: 'data/db', labels: { app: 'db', pci: 'true' }, addresses: ['10.30.1.1'], ports: [{ name: 'pg', protocol: TCP, port: 5432 }], node: 'node-b' }),
  ];
  const sets = [
    networkSet('partners', { kind: 'partner' }, ['203.0.113.0/24', '203.0.113.128/25', '2001:db8:1::/48']),
    networkSet('saas', { kind: 'saas' }, ['198.51.100.10'], ['api.example.com', '*.stripe.com']),
    networkSet('shop/office', { kind: 'office' }, ['192.0.2.0/28']),
    networkSet('catch-all', { kind: 'everything' }, ['0.0.0.0/0']),
  ];
  const svcs = [
    service('shop', 'pay', { app: 'pay' }, [
      { name: 'https', port: 443, protocol: TCP, targetPort: 'web' },
      { name: 'alt', port: 80, protocol: TCP, targetPort: 8080 },
    ]),
    service('data', 'db', { app: 'db' }, [{ name: 'pg', port: 5432, protocol: TCP, targetPort: 5432 }]),
  ];
  const policies = [
    policy({ kind: 'StagedGlobalNetworkPolicy', name: 'audit.lockdown', tier: 'audit', order: 1, selector: 'all()', ingress: rules(['deny']) }),
    policy({
      name: 'security.pci',
      tier: 'security',
      order: 1,
      selector: 'pci == "true"',
      ingress: rules(
        ['allow', { protocol: TCP, source: { service: { namespace: 'shop', name: 'pay' } } }],
        ['allow', { source: { selector: sel('kind == "partner"') } }],
      ),
    }),
    policy({ kind: 'StagedGlobalNetworkPolicy', name: 'security.pci-tight', tier: 'security', order: 2, selector: 'pci == "true"', ingress: rules(['deny']) }),
    policy({
      name: 'shop-egress',
      namespace: 'shop',
      order: 10,
      selector: 'projectcalico.org/namespace == "shop"',
      types: ['egress'],
      egress: rules(
        ['allow', { destination: { service: { namespace: 'data', name: 'db' } } }],
        ['allow', { protocol: TCP, destination: { service: { namespace: 'shop', name: 'pay' } } }],
        ['allow', { protocol: TCP, destination: { selector: sel('kind == "saas"'), ports: ports(443) } }],
        ['allow', { destination: { selector: sel('(projectcalico.org/namespace == "shop") && (kind == "office")') } }],
        ['deny', { destination: { selector: sel('kind == "everything"'), notSelector: sel('kind == "partner"') } }],
        ['allow', { destination: { service: { namespace: 'shop', name: 'missing' } } }],
      ),
    }),
    policy({
      name: 'shop-ingress',
      namespace: 'shop',
      order: 20,
      selector: 'projectcalico.org/namespace == "shop"',
      ingress: rules(['allow', { protocol: TCP, destination: { ports: ports('web') }, http: true }], ['allow', { source: { selector: sel('projectcalico.org/namespace == "shop"') } }]),
    }),
  ];
  const c = cluster({
    tiers: [tier('audit', 10), tier('security', 100)],
    policies,
    endpoints: eps,
    networkSets: sets,
    services: svcs,
  });
  return { name: 'sets', cluster: c, nodes: byNode(eps), externals: ['203.0.113.5', '203.0.113.200', '198.51.100.10', '192.0.2.3', '8.8.4.4', '2001:db8:1::9', '2001:db8:2::9'] };
}

export const SCENARIOS: readonly (() => Scenario)[] = [tenantsScenario, portsScenario, setsScenario];
