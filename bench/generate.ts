// Synthetic clusters for the benchmarks: a deterministic function of (pods, namespaces, policies,
// seed) that emits multi-document YAML, so a benchmark run pays for loading and validation too.
//
// The shape follows a multi-tenant platform as people run it:
//   - platform namespaces (kube-system with kube-dns, monitoring with Prometheus, ingress-nginx)
//     and tenant namespaces grouped into tenants (~10 per tenant), labelled tenant / env / team;
//   - deployment-like groups of pods sharing app / tier / version / pod-template-hash labels, each
//     replica an individual Pod with its own address from the pod CIDR, declared container ports
//     (most named) and a service account; a few canaries (a second version) and StatefulSet-like
//     groups whose pods carry their own `statefulset.kubernetes.io/pod-name` label — so endpoint
//     classes are what real clusters have: replicas share labels, namespaces and versions split them;
//   - Calico tiers security → platform → application → default: GlobalNetworkPolicies for threat-feed
//     deny (against a GlobalNetworkSet), per-tenant isolation (namespaceSelector, Pass / Deny), DNS
//     and monitoring allows, catch-all Pass policies; platform NetworkPolicies;
//   - per tenant namespace, policies of one dialect or both: Kubernetes NetworkPolicies (default
//     deny, same-app, from namespaces by label, ipBlock egress, named ports, endPort ranges) and
//     Calico NetworkPolicies in the application tier (Allow / Deny / Pass / Log, ports and ranges,
//     named ports, selectors, namespaceSelectors, service accounts, nets / notNets, notPorts).
// `policies` counts every policy resource (both dialects, global and namespaced); the global ones
// come first, the rest are dealt round-robin over the tenant namespaces.

/** mulberry32: tiny, fast, seedable; the seed alone reproduces a cluster. */
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
  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
  /** Lowercase alphanumerics, as in generated pod names. */
  token(n: number): string {
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.next() * alphabet.length)];
    return s;
  }
}

export interface GenerateOptions {
  readonly pods: number;
  readonly namespaces: number;
  readonly policies: number;
  readonly seed: number;
}

export interface GeneratedCounts {
  readonly documents: number;
  readonly namespaces: number;
  readonly tenants: number;
  readonly pods: number;
  readonly workloads: number;
  readonly serviceAccounts: number;
  readonly tiers: number;
  readonly globalNetworkSets: number;
  readonly globalNetworkPolicies: number;
  readonly calicoNetworkPolicies: number;
  readonly kubernetesNetworkPolicies: number;
  readonly policies: number;
}

export interface GeneratedCluster {
  /** Multi-document YAML. */
  readonly text: string;
  readonly counts: GeneratedCounts;
  /** Where pod addresses come from. */
  readonly podCidr: string;
  /** External destinations worth probing: some in the threat feed, some partners, most elsewhere. */
  readonly externalAddresses: readonly string[];
}

// ---- YAML emission (block style, deterministic; strings quoted whenever plain could be misread)

type Yaml = string | number | boolean | readonly Yaml[] | { readonly [key: string]: Yaml | undefined };

const PLAIN = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
const RESERVED = /^(?:true|false|null|yes|no|on|off|y|n|~)$/i;

function scalar(v: string | number | boolean): string {
  if (typeof v !== 'string') return String(v);
  return PLAIN.test(v) && !RESERVED.test(v) ? v : JSON.stringify(v);
}

function isScalar(v: Yaml): v is string | number | boolean {
  return typeof v !== 'object';
}

function emitInto(out: string[], v: Yaml, pad: string): void {
  if (Array.isArray(v)) {
    for (const item of v as readonly Yaml[]) {
      if (isScalar(item)) out.push(`${pad}- ${scalar(item)}`);
      else if (Array.isArray(item) || Object.keys(item).length === 0) out.push(`${pad}- ${Array.isArray(item) ? '[]' : '{}'}`);
      else {
        const sub: string[] = [];
        emitInto(sub, item, `${pad}  `);
        out.push(`${pad}- ${sub[0]!.slice(pad.length + 2)}`, ...sub.slice(1));
      }
    }
    return;
  }
  for (const [k, value] of Object.entries(v as { readonly [key: string]: Yaml | undefined })) {
    if (value === undefined) continue;
    if (isScalar(value)) out.push(`${pad}${scalar(k)}: ${scalar(value)}`);
    else if (Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0) out.push(`${pad}${scalar(k)}: ${Array.isArray(value) ? '[]' : '{}'}`);
    else {
      out.push(`${pad}${scalar(k)}:`);
      emitInto(out, value, `${pad}  `);
    }
  }
}

export function emitYamlDocuments(docs: readonly Yaml[]): string {
  const out: string[] = [];
  for (const d of docs) {
    out.push('---');
    emitInto(out, d, '');
  }
  out.push('');
  return out.join('\n');
}

// ---- the cluster's vocabulary

interface PortDecl {
  readonly name?: string;
  readonly port: number;
  readonly protocol?: 'TCP' | 'UDP';
}

interface AppKind {
  readonly app: string;
  readonly tier: 'web' | 'backend' | 'data';
  readonly ports: readonly PortDecl[];
  readonly weight: number;
  /** StatefulSet-like: each pod gets its own pod-name label. */
  readonly stateful?: boolean;
}

const APPS: readonly AppKind[] = [
  { app: 'frontend', tier: 'web', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }], weight: 3 },
  { app: 'api', tier: 'backend', ports: [{ name: 'https', port: 443 }, { name: 'metrics', port: 9102 }], weight: 3 },
  { app: 'auth', tier: 'backend', ports: [{ name: 'http', port: 80 }, { name: 'metrics', port: 9102 }], weight: 1 },
  { app: 'search', tier: 'backend', ports: [{ name: 'http-alt', port: 8080 }, { port: 8443 }], weight: 1 },
  { app: 'worker', tier: 'backend', ports: [{ name: 'metrics', port: 9102 }], weight: 2 },
  { app: 'cache', tier: 'data', ports: [{ name: 'redis', port: 6379 }], weight: 1 },
  { app: 'queue', tier: 'data', ports: [{ name: 'amqp', port: 5672 }, { port: 15672 }], weight: 1 },
  { app: 'db', tier: 'data', ports: [{ name: 'postgres', port: 5432 }], weight: 1, stateful: true },
];

const WORDS = ['shop', 'ledger', 'blog', 'crm', 'billing', 'search', 'analytics', 'portal', 'mail', 'media', 'wiki', 'hr'];
const ENVS = ['prod', 'prod', 'staging', 'dev', 'dev'] as const;
const NAMESPACE_LABEL = 'projectcalico.org/namespace';

interface Workload {
  readonly namespace: string;
  readonly name: string;
  readonly kind: AppKind;
  readonly pods: number;
}

interface TenantNamespace {
  readonly name: string;
  readonly tenant: string;
  readonly env: string;
  readonly team: string;
  readonly dialect: 'k8s' | 'calico' | 'mixed';
  workloads: Workload[];
}

const POD_CIDR = '10.0.0.0/14';
const POD_BASE = 10 << 24;

function ipv4Text(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function weightedPick(rng: Rng, kinds: readonly AppKind[]): AppKind {
  const total = kinds.reduce((s, k) => s + k.weight, 0);
  let x = rng.next() * total;
  for (const k of kinds) {
    x -= k.weight;
    if (x < 0) return k;
  }
  return kinds[kinds.length - 1]!;
}

const matchLabels = (labels: Record<string, string>): Yaml => ({ matchLabels: labels });

// ---- the generator

export function generateCluster(opts: GenerateOptions): GeneratedCluster {
  if (opts.namespaces < 4) throw new Error('generateCluster: at least 4 namespaces (3 platform namespaces and a tenant one)');
  if (opts.pods < opts.namespaces + 2) throw new Error('generateCluster: at least namespaces + 2 pods');
  const rng = new Rng(opts.seed);
  const docs: Yaml[] = [];

  // ---- namespaces
  const platformNamespaces = ['kube-system', 'monitoring', 'ingress-nginx'];
  const tenantNsCount = opts.namespaces - platformNamespaces.length;
  const tenantCount = Math.max(1, Math.round(tenantNsCount / 10));
  const tenantName = (t: number): string => `t${String(t).padStart(3, '0')}`;
  const tenantNamespaces: TenantNamespace[] = [];
  for (let i = 0; i < tenantNsCount; i++) {
    const t = Math.floor((i * tenantCount) / tenantNsCount);
    const tenant = tenantName(t);
    const within = tenantNamespaces.filter((n) => n.tenant === tenant).length;
    const roll = rng.next();
    tenantNamespaces.push({
      name: `${tenant}-${String(within).padStart(2, '0')}-${rng.pick(WORDS)}`,
      tenant,
      env: rng.pick(ENVS),
      team: `team-${tenant}-${rng.int(0, 2)}`,
      dialect: roll < 0.45 ? 'k8s' : roll < 0.8 ? 'calico' : 'mixed',
      workloads: [],
    });
  }
  for (const name of platformNamespaces) {
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'platform.example.com/role': 'system' } } });
  }
  for (const ns of tenantNamespaces) {
    const labels: Record<string, string> = { tenant: ns.tenant, env: ns.env, team: ns.team };
    if (rng.chance(0.1)) labels['compliance'] = 'pci';
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.name, labels } });
  }

  // ---- workloads and pods
  let podIndex = 0;
  let podCount = 0;
  let serviceAccounts = 0;
  const nodeCount = Math.max(3, Math.ceil(opts.pods / 50));
  const podDocs: Yaml[] = [];
  const saDocs: Yaml[] = [];

  const emitGroup = (namespace: string, name: string, labels: Record<string, string>, ports: readonly PortDecl[], sa: string, replicas: number, stateful: boolean): void => {
    const hash = rng.token(9);
    for (let r = 0; r < replicas; r++) {
      const podName = stateful ? `${name}-${r}` : `${name}-${hash}-${rng.token(5)}`;
      const ip = ipv4Text(POD_BASE + 2 + podIndex++);
      podCount++;
      podDocs.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: podName,
          namespace,
          labels: stateful ? { ...labels, 'statefulset.kubernetes.io/pod-name': podName } : { ...labels, 'pod-template-hash': hash },
        },
        spec: {
          serviceAccountName: sa,
          nodeName: `node-${String(rng.int(0, nodeCount - 1)).padStart(3, '0')}`,
          containers: [
            {
              name: name.replace(/-\d+$/, ''),
              image: `registry.example.com/${labels['app'] ?? name}:${labels['version'] ?? 'v1'}`,
              ports: ports.map((p) => ({ ...(p.name === undefined ? {} : { name: p.name }), containerPort: p.port, protocol: p.protocol ?? 'TCP' })),
            },
          ],
        },
        status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
      });
    }
  };
  const emitServiceAccount = (namespace: string, name: string, labels: Record<string, string>): void => {
    serviceAccounts++;
    saDocs.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, labels } });
  };

  // Platform workloads: cluster DNS, Prometheus, the ingress controller.
  const dnsReplicas = 2;
  emitServiceAccount('kube-system', 'coredns', { role: 'dns' });
  emitGroup('kube-system', 'coredns', { 'k8s-app': 'kube-dns' }, [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }, { name: 'metrics', port: 9153 }], 'coredns', dnsReplicas, false);
  emitServiceAccount('monitoring', 'prometheus', { role: 'monitoring' });
  emitGroup('monitoring', 'prometheus', { app: 'prometheus' }, [{ name: 'web', port: 9090 }], 'prometheus', 1, false);
  emitServiceAccount('ingress-nginx', 'ingress-nginx', { role: 'ingress' });
  emitGroup('ingress-nginx', 'ingress-nginx-controller', { 'app.kubernetes.io/name': 'ingress-nginx' }, [{ name: 'http', port: 80 }, { name: 'https', port: 443 }, { name: 'metrics', port: 10254 }], 'ingress-nginx', 2, false);

  const tenantPods = opts.pods - podCount;
  let workloadCount = 3;
  tenantNamespaces.forEach((ns, i) => {
    let budget = Math.floor(tenantPods / tenantNsCount) + (i < tenantPods % tenantNsCount ? 1 : 0);
    const used = new Map<string, number>();
    let available = [...APPS];
    while (budget > 0) {
      if (available.length === 0) available = [...APPS];
      const kind = weightedPick(rng, available);
      available = available.filter((k) => k !== kind);
      const n = used.get(kind.app) ?? 0;
      used.set(kind.app, n + 1);
      const name = n === 0 ? kind.app : `${kind.app}-${n + 1}`;
      const replicas = Math.min(budget, kind.stateful === true ? rng.int(1, 3) : rng.pick([1, 2, 2, 3, 3, 4, 6]));
      budget -= replicas;
      const sa = rng.chance(0.85) ? name : 'default';
      if (sa !== 'default') emitServiceAccount(ns.name, sa, { role: kind.tier, tenant: ns.tenant });
      const base = { app: name, tier: kind.tier };
      // A canary: one replica already on the next version, with its own template hash.
      const canary = kind.stateful !== true && replicas >= 2 && rng.chance(0.15) ? 1 : 0;
      emitGroup(ns.name, name, { ...base, version: 'v1' }, kind.ports, sa, replicas - canary, kind.stateful === true);
      if (canary > 0) emitGroup(ns.name, name, { ...base, version: 'v2' }, kind.ports, sa, canary, false);
      ns.workloads.push({ namespace: ns.name, name, kind, pods: replicas });
      workloadCount++;
    }
  });

  // ---- tiers, network sets, global policies
  const policyDocs: Yaml[] = [];
  let gnps = 0;
  let calicoNps = 0;
  let k8sNps = 0;
  const tiers: Yaml[] = [
    { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'security' }, spec: { order: 100 } },
    { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'platform' }, spec: { order: 200 } },
    { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'application' }, spec: { order: 300 } },
    { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'default' }, spec: { order: 1_000_000 } },
  ];

  const threatNets: string[] = [];
  for (let i = 0; i < 48; i++) threatNets.push(i % 3 === 0 ? `198.18.${i}.0/24` : `203.0.113.${i * 5}/32`);
  const partnerNets = ['192.0.2.0/28', '100.64.10.0/24'];
  const networkSets: Yaml[] = [
    { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', metadata: { name: 'threatfeed.ip-blocklist', labels: { feed: 'ip-blocklist', 'threat-level': 'high' } }, spec: { nets: threatNets } },
    { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', metadata: { name: 'partners', labels: { 'egress-allowlist': 'partners' } }, spec: { nets: partnerNets } },
  ];

  const gnp = (name: string, spec: Yaml): Yaml => {
    gnps++;
    return { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name }, spec };
  };
  const cnp = (namespace: string, name: string, spec: Yaml): Yaml => {
    calicoNps++;
    return { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
  };
  const knp = (namespace: string, name: string, spec: Yaml): Yaml => {
    k8sNps++;
    return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
  };

  const fromIngressController: Yaml = { namespaceSelector: "projectcalico.org/name == 'ingress-nginx'", selector: "app.kubernetes.io/name == 'ingress-nginx'" };
  const fromPrometheus: Yaml = { namespaceSelector: "projectcalico.org/name == 'monitoring'", selector: "app == 'prometheus'" };
  const toKubeDns: Yaml = { namespaceSelector: "projectcalico.org/name == 'kube-system'", selector: "k8s-app == 'kube-dns'" };

  // Global policies in priority order: what a truncated budget keeps first.
  const globalPolicies: (() => Yaml)[] = [
    () =>
      gnp('threat-feed-deny', {
        tier: 'security',
        order: 10,
        selector: 'all()',
        types: ['Ingress', 'Egress'],
        ingress: [{ action: 'Deny', source: { selector: "feed == 'ip-blocklist'" } }],
        egress: [{ action: 'Deny', destination: { selector: "feed == 'ip-blocklist'" } }],
      }),
    () => gnp('security-default-pass', { tier: 'security', order: 10_000, selector: 'all()', types: ['Ingress', 'Egress'], ingress: [{ action: 'Pass' }], egress: [{ action: 'Pass' }] }),
    () =>
      gnp('allow-cluster-dns', {
        tier: 'platform',
        order: 100,
        selector: 'all()',
        types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Allow', protocol: 'UDP', source: { namespaceSelector: 'all()' }, destination: { selector: "k8s-app == 'kube-dns'", ports: [53] } },
          { action: 'Allow', protocol: 'TCP', source: { namespaceSelector: 'all()' }, destination: { selector: "k8s-app == 'kube-dns'", ports: [53] } },
        ],
        egress: [
          { action: 'Allow', protocol: 'UDP', destination: { ...(toKubeDns as object), ports: [53] } },
          { action: 'Allow', protocol: 'TCP', destination: { ...(toKubeDns as object), ports: [53] } },
        ],
      }),
    () =>
      gnp('allow-prometheus-scrape', {
        tier: 'platform',
        order: 150,
        namespaceSelector: 'has(tenant)',
        selector: 'has(app)',
        types: ['Ingress'],
        ingress: [{ action: 'Allow', protocol: 'TCP', source: fromPrometheus, destination: { ports: ['metrics', 9102] } }],
      }),
    () => gnp('platform-default-pass', { tier: 'platform', order: 10_000, selector: 'all()', types: ['Ingress', 'Egress'], ingress: [{ action: 'Pass' }], egress: [{ action: 'Pass' }] }),
    () =>
      cnp('ingress-nginx', 'ingress-controller', {
        tier: 'platform',
        order: 200,
        selector: "app.kubernetes.io/name == 'ingress-nginx'",
        types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Allow', protocol: 'TCP', destination: { ports: [80, 443] } },
          { action: 'Allow', protocol: 'TCP', source: fromPrometheus, destination: { ports: [10254] } },
          { action: 'Deny' },
        ],
        egress: [{ action: 'Allow', protocol: 'TCP', destination: { namespaceSelector: 'has(tenant)', ports: [80, 443, 8080, 'http'] } }, { action: 'Deny' }],
      }),
    () =>
      cnp('kube-system', 'kube-dns-upstream', {
        tier: 'platform',
        order: 200,
        selector: "k8s-app == 'kube-dns'",
        types: ['Egress'],
        egress: [
          { action: 'Allow', protocol: 'UDP', destination: { nets: ['0.0.0.0/0'], notNets: ['10.0.0.0/8'], ports: [53] } },
          { action: 'Allow', protocol: 'TCP', destination: { nets: ['0.0.0.0/0'], notNets: ['10.0.0.0/8'], ports: [53] } },
          { action: 'Deny' },
        ],
      }),
    () =>
      cnp('monitoring', 'prometheus', {
        tier: 'platform',
        order: 200,
        selector: "app == 'prometheus'",
        types: ['Egress'],
        egress: [{ action: 'Allow', protocol: 'TCP', destination: { namespaceSelector: 'all()', ports: [9102, 9153, 10254, 'metrics'] } }, { action: 'Deny' }],
      }),
  ];
  for (let t = 0; t < tenantCount; t++) {
    const tenant = tenantName(t);
    globalPolicies.push(() =>
      gnp(`tenant-${tenant}-isolation`, {
        tier: 'security',
        order: 100,
        namespaceSelector: `tenant == '${tenant}'`,
        types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Pass', source: { namespaceSelector: `tenant == '${tenant}'` } },
          { action: 'Pass', source: fromIngressController },
          { action: 'Pass', protocol: 'TCP', source: fromPrometheus, destination: { ports: [9102] } },
          { action: 'Deny' },
        ],
        egress: [
          { action: 'Pass', destination: { namespaceSelector: `tenant == '${tenant}'` } },
          { action: 'Pass', destination: toKubeDns },
          // HTTPS to anything that is not a pod (a global notSelector is not namespace-scoped).
          { action: 'Pass', protocol: 'TCP', destination: { notSelector: `has(${NAMESPACE_LABEL})`, ports: [443] } },
          { action: 'Deny' },
        ],
      }),
    );
  }

  let remaining = opts.policies;
  for (const make of globalPolicies) {
    if (remaining === 0) break;
    policyDocs.push(make());
    remaining--;
  }

  // ---- per-namespace policies, dealt round-robin
  const order = rng.shuffle(tenantNamespaces.map((_, i) => i));
  const nsRngs = tenantNamespaces.map((_, i) => new Rng((opts.seed * 7919 + i * 104729 + 1) >>> 0));
  const taken = tenantNamespaces.map(() => new Set<string>());
  const uniqueName = (i: number, base: string): string => {
    let name = base;
    for (let k = 2; taken[i]!.has(name); k++) name = `${base}-${k}`;
    taken[i]!.add(name);
    return name;
  };
  for (let round = 0; remaining > 0; round++) {
    let progressed = false;
    for (const i of order) {
      if (remaining === 0) break;
      const ns = tenantNamespaces[i]!;
      if (ns.workloads.length === 0) continue;
      const r = nsRngs[i]!;
      const dialect = ns.dialect === 'mixed' ? (round % 2 === 0 ? 'k8s' : 'calico') : ns.dialect;
      const doc = dialect === 'k8s' ? k8sPolicy(ns, round, r, (b) => uniqueName(i, b), knp) : calicoPolicy(ns, round, r, (b) => uniqueName(i, b), cnp);
      policyDocs.push(doc);
      remaining--;
      progressed = true;
    }
    if (!progressed) break;
  }

  // Externals: a tenth in the threat feed, some partners, the rest public addresses.
  const externalAddresses: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const roll = rng.next();
    if (roll < 0.1) externalAddresses.push(rng.chance(0.5) ? `198.18.${3 * rng.int(0, 15)}.${rng.int(1, 254)}` : `203.0.113.${5 * rng.int(0, 31)}`);
    else if (roll < 0.15) externalAddresses.push(`100.64.10.${rng.int(1, 254)}`);
    else externalAddresses.push(`${rng.pick([34, 35, 52, 54, 104, 151, 185])}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`);
  }

  const all = [...tiers, ...networkSets, ...docs, ...saDocs, ...podDocs, ...policyDocs];
  return {
    text: emitYamlDocuments(all),
    counts: {
      documents: all.length,
      namespaces: platformNamespaces.length + tenantNamespaces.length,
      tenants: tenantCount,
      pods: podCount,
      workloads: workloadCount,
      serviceAccounts,
      tiers: tiers.length,
      globalNetworkSets: networkSets.length,
      globalNetworkPolicies: gnps,
      calicoNetworkPolicies: calicoNps,
      kubernetesNetworkPolicies: k8sNps,
      policies: gnps + calicoNps + k8sNps,
    },
    podCidr: POD_CIDR,
    externalAddresses,
  };
}

type Maker = (namespace: string, name: string, spec: Yaml) => Yaml;

function portOf(w: Workload, r: Rng): string | number {
  const p = r.pick(w.kind.ports);
  return p.name !== undefined && r.chance(0.6) ? p.name : p.port;
}

/** The `round`-th Kubernetes NetworkPolicy of a namespace: default deny first, then the usual allows. */
function k8sPolicy(ns: TenantNamespace, round: number, r: Rng, name: (base: string) => string, make: Maker): Yaml {
  const w = r.pick(ns.workloads);
  const shapes = ['default-deny', 'same-app', 'web-from-tenant', 'backend-from-web', 'egress-external', 'monitoring', 'data-from-backend', 'from-env'] as const;
  const shape = round === 0 ? 'default-deny' : round === 1 ? 'same-app' : shapes[1 + ((round - 2 + r.int(0, shapes.length - 2)) % (shapes.length - 1))]!;
  switch (shape) {
    case 'default-deny':
      return make(ns.name, name('default-deny-ingress'), { podSelector: {}, policyTypes: ['Ingress'] });
    case 'same-app':
      return make(ns.name, name(`allow-same-app-${w.name}`), {
        podSelector: matchLabels({ app: w.name }),
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: matchLabels({ app: w.name }) }], ports: [{ port: portOf(w, r), protocol: w.kind.ports[0]?.protocol ?? 'TCP' }] }],
      });
    case 'web-from-tenant':
      return make(ns.name, name('allow-web-from-tenant'), {
        podSelector: matchLabels({ tier: 'web' }),
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              { namespaceSelector: matchLabels({ tenant: ns.tenant }) },
              { namespaceSelector: matchLabels({ 'kubernetes.io/metadata.name': 'ingress-nginx' }), podSelector: matchLabels({ 'app.kubernetes.io/name': 'ingress-nginx' }) },
            ],
            ports: [{ port: 80 }, { port: 'https' }],
          },
        ],
      });
    case 'backend-from-web':
      return make(ns.name, name('allow-backend-from-web'), {
        podSelector: matchLabels({ tier: 'backend' }),
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'backend'] }] } }],
            ports: [{ port: 'https' }, { port: 'http' }, { port: 8000, endPort: 8999 }],
          },
        ],
      });
    case 'egress-external':
      return make(ns.name, name('egress-backend'), {
        podSelector: matchLabels({ tier: 'backend' }),
        policyTypes: ['Egress'],
        egress: [
          { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] } }], ports: [{ port: 443 }] },
          { to: [{ namespaceSelector: {}, podSelector: matchLabels({ 'k8s-app': 'kube-dns' }) }], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
          { to: [{ podSelector: {} }] },
        ],
      });
    case 'monitoring':
      return make(ns.name, name('allow-monitoring'), {
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: matchLabels({ 'kubernetes.io/metadata.name': 'monitoring' }), podSelector: matchLabels({ app: 'prometheus' }) }],
            ports: [{ port: 'metrics' }],
          },
        ],
      });
    case 'data-from-backend':
      return make(ns.name, name('allow-data-from-backend'), {
        podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['data'] }] },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: matchLabels({ tier: 'backend' }) }], ports: [{ port: 5432 }, { port: 6379 }, { port: 5672, endPort: 5680 }] }],
      });
    case 'from-env':
      return make(ns.name, name(`allow-${w.name}-from-${ns.env}`), {
        podSelector: matchLabels({ app: w.name }),
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: matchLabels({ tenant: ns.tenant, env: ns.env }) }], ports: [{ port: 443 }, { port: portOf(w, r) }] }],
      });
  }
}

/** The `round`-th Calico NetworkPolicy of a namespace (application tier). */
function calicoPolicy(ns: TenantNamespace, round: number, r: Rng, name: (base: string) => string, make: Maker): Yaml {
  const w = r.pick(ns.workloads);
  const shapes = ['app', 'namespace-baseline', 'deny-legacy', 'web', 'service-accounts', 'data'] as const;
  const shape = round < 2 ? shapes[round]! : shapes[(round - 2 + r.int(0, shapes.length - 1)) % shapes.length]!;
  const order = 100 + r.int(0, 8) * 50;
  switch (shape) {
    case 'app':
      return make(ns.name, name(`app-${w.name}`), {
        tier: 'application',
        order,
        selector: `app == '${w.name}'`,
        types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Log', protocol: 'TCP', source: { namespaceSelector: "env == 'dev'" } },
          { action: 'Allow', protocol: 'TCP', source: { selector: "tier == 'web'" }, destination: { ports: [portOf(w, r), 443] } },
          { action: 'Allow', protocol: 'TCP', source: { namespaceSelector: `tenant == '${ns.tenant}' && env == 'prod'`, selector: "tier in {'web', 'backend'}" }, destination: { ports: [80, 443, '8000:8999'] } },
          { action: 'Deny', protocol: 'TCP', source: { namespaceSelector: "env == 'dev'" } },
          { action: 'Pass' },
        ],
        egress: [
          { action: 'Allow', protocol: 'TCP', destination: { selector: "tier == 'data'", ports: [5432, 6379, 'redis', 'amqp'] } },
          { action: 'Allow', protocol: 'TCP', destination: { nets: ['0.0.0.0/0'], notNets: ['10.0.0.0/8', '192.168.0.0/16'], ports: [443] } },
          { action: 'Allow', protocol: 'TCP', destination: { selector: 'egress-allowlist == "partners"', namespaceSelector: 'global()' } },
          { action: 'Pass' },
        ],
      });
    case 'namespace-baseline':
      return make(ns.name, name('namespace-baseline'), {
        tier: 'application',
        order: 900,
        selector: 'all()',
        types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Allow', source: { selector: 'all()' } },
          { action: 'Log', source: { namespaceSelector: `tenant == '${ns.tenant}'` } },
          { action: 'Pass', protocol: 'TCP', source: { namespaceSelector: `tenant == '${ns.tenant}'` }, destination: { ports: [80, 443] } },
        ],
        egress: [
          { action: 'Allow', destination: { selector: 'all()' } },
          { action: 'Allow', protocol: 'TCP', destination: { namespaceSelector: `tenant == '${ns.tenant}'`, notPorts: [22, '6000:6999'] } },
          { action: 'Pass' },
        ],
      });
    case 'deny-legacy':
      return make(ns.name, name(`deny-legacy-${w.name}`), {
        tier: 'application',
        order: 50,
        selector: `app == '${w.name}' && version == 'v1'`,
        types: ['Ingress'],
        ingress: [
          { action: 'Deny', protocol: 'TCP', source: { namespaceSelector: "env in {'dev', 'staging'}" }, destination: { notPorts: [443] } },
          { action: 'Pass' },
        ],
      });
    case 'web':
      return make(ns.name, name('web'), {
        tier: 'application',
        order,
        selector: "tier == 'web'",
        types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { namespaceSelector: "projectcalico.org/name == 'ingress-nginx'" }, destination: { ports: [80, 443, 'http'] } },
          { action: 'Allow', protocol: 'TCP', source: { namespaceSelector: `tenant == '${ns.tenant}'` }, destination: { ports: ['https'] } },
          { action: 'Deny' },
        ],
        egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: "tier == 'backend'", ports: ['https', 443, 8080] } }, { action: 'Pass' }],
      });
    case 'service-accounts':
      return make(ns.name, name(`sa-${w.name}`), {
        tier: 'application',
        order,
        selector: `app == '${w.name}'`,
        types: ['Ingress'],
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { serviceAccounts: { names: ['frontend', 'api'] } }, destination: { ports: [443, 'https'] } },
          { action: 'Allow', protocol: 'TCP', source: { serviceAccounts: { selector: "role == 'backend'" } }, destination: { ports: [80] } },
          { action: 'Pass' },
        ],
      });
    case 'data':
      return make(ns.name, name('data'), {
        tier: 'application',
        order,
        selector: "tier == 'data'",
        types: ['Ingress'],
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { selector: "tier == 'backend'" }, destination: { ports: [5432, 6379, 5672, 'postgres'] } },
          { action: 'Deny', source: { notSelector: "tier == 'backend'" } },
        ],
      });
  }
}
