// Validated resources → the engine's cluster: endpoints with Calico's effective labels, profiles,
// network sets, services, tiers (built-in ones included) and every policy in Felix's internal
// form, sorted. Cross-resource problems (a policy in a tier that does not exist, a namespace
// nobody declared) are reported here as diagnostics with the span of the offending field.
import type { Diagnostic } from '../diagnostics/index.ts';
import { didYouMean, formatPath } from '../diagnostics/index.ts';
import type { Resource } from '../model/index.ts';
import type { Origin } from '../model/origin.ts';
import { allocateAddresses, formatIp, parseCidrLenient, parseIp } from '../net/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';
import { createCluster } from './cluster.ts';
import type { Cluster } from './cluster.ts';
import { LABEL_NAME, LABEL_NAMESPACE, LABEL_ORCHESTRATOR, LABEL_SERVICE_ACCOUNT, NAMESPACE_PREFIX, SERVICE_ACCOUNT_PREFIX } from './compose.ts';
import { convertAdminPolicy } from './convert-admin.ts';
import type { AdminPolicySpec } from './convert-admin.ts';
import { convertK8sNetworkPolicy } from './convert-k8s.ts';
import type { K8sNetworkPolicySpec } from './convert-k8s.ts';
import { convertPolicy } from './convert-policy.ts';
import type { V3PolicySpec } from './convert-policy.ts';
import type {
  Endpoint,
  EndpointPort,
  NamespaceEntry,
  NetworkSetEntry,
  Policy,
  PolicyKind,
  Profile,
  Rule,
  ServiceEntry,
  Tier,
} from './model.ts';
import { PROTOCOL } from './model.ts';
import {
  compareTiers,
  comparePolicies,
  DEFAULT_TIER,
  DEFAULT_TIER_ORDER,
  KUBE_ADMIN_TIER,
  KUBE_ADMIN_TIER_ORDER,
  KUBE_BASELINE_TIER,
  KUBE_BASELINE_TIER_ORDER,
} from './ordering.ts';

export interface BuildOptions {
  /** Assign addresses from this CIDR to workloads that have none (deterministic, for what-if analysis). */
  readonly podCidr?: string | undefined;
}

export interface BuildResult {
  readonly cluster: Cluster;
  readonly diagnostics: readonly Diagnostic[];
}

const K8S_METADATA_NAME = 'kubernetes.io/metadata.name';
const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';

type Labels = Readonly<Record<string, string>> | undefined;

interface ContainerLike {
  readonly ports?: readonly { readonly containerPort?: number | undefined; readonly protocol?: string | undefined; readonly name?: string | undefined }[] | undefined;
}

interface PodSpecLike {
  readonly containers?: readonly ContainerLike[] | undefined;
  readonly initContainers?: readonly ContainerLike[] | undefined;
  readonly serviceAccountName?: string | undefined;
  readonly serviceAccount?: string | undefined;
  readonly nodeName?: string | undefined;
  readonly hostNetwork?: boolean | undefined;
}

const ALLOW_ALL: readonly Rule[] = [
  { index: 0, action: 'allow', source: {}, destination: {}, path: [], hasHttpMatch: false },
];

function protocolOf(name: string | undefined): number {
  switch (name) {
    case 'UDP':
      return PROTOCOL.UDP;
    case 'SCTP':
      return PROTOCOL.SCTP;
    default:
      return PROTOCOL.TCP;
  }
}

function containerPorts(spec: PodSpecLike, origin: Origin, specPath: readonly (string | number)[], diagnostics: Diagnostic[]): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const list of ['containers', 'initContainers'] as const) {
    (spec[list] ?? []).forEach((c, i) => {
      (c.ports ?? []).forEach((p, j) => {
        if (p.containerPort === undefined) {
          const keys = Object.keys(p).filter((k) => !['name', 'protocol', 'hostPort', 'hostIP'].includes(k));
          diagnostics.push({
            code: 'engine/port-without-number',
            severity: 'warning',
            message: `container port${p.name === undefined ? '' : ` "${p.name}"`} has no containerPort: it is ignored${keys.length > 0 ? ` (unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')})` : ''}`,
            span: origin.spanOf([...specPath, list, i, 'ports', j]),
            path: formatPath([...specPath, list, i, 'ports', j]),
          });
          return;
        }
        out.push({ name: p.name === undefined || p.name === '' ? undefined : p.name, protocol: protocolOf(p.protocol), port: p.containerPort });
      });
    });
  }
  return out;
}

/** WorkloadEndpoint / HostEndpoint `ports` (protocol by name, any case, or number). */
function calicoEndpointPorts(ports: readonly { name?: string; protocol?: string | number; port: number }[] | undefined): EndpointPort[] {
  return (ports ?? []).map((p) => ({
    name: p.name,
    protocol: typeof p.protocol === 'number' ? p.protocol : protocolOf(p.protocol?.toUpperCase()),
    port: p.port,
  }));
}

function labelKeyOf(labels: ReadonlyMap<string, string>): string {
  return [...labels.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('\u0000');
}

/** Own labels first, then each profile's labels for keys not yet present (first profile wins). */
function effectiveLabels(own: ReadonlyMap<string, string>, profiles: readonly Profile[]): Map<string, string> {
  const out = new Map(own);
  for (const p of profiles) for (const [k, v] of p.labels) if (!out.has(k)) out.set(k, v);
  return out;
}

function parseAddresses(texts: readonly string[]): IpAddress[] {
  const out: IpAddress[] = [];
  for (const t of texts) {
    const slash = t.indexOf('/');
    const r = parseIp(slash >= 0 ? t.slice(0, slash) : t);
    if (r.ok) out.push(r.value);
  }
  return out;
}

export function buildCluster(resources: readonly Resource[], options: BuildOptions = {}): BuildResult {
  const diagnostics: Diagnostic[] = [];

  // ---- namespaces, service accounts, profiles
  const namespaces = new Map<string, NamespaceEntry>();
  for (const r of resources) {
    if (r.type !== 'Namespace') continue;
    const labels = new Map(Object.entries((r.body.metadata.labels as Labels) ?? {}));
    labels.set(K8S_METADATA_NAME, r.name);
    namespaces.set(r.name, { name: r.name, labels, declared: true, origin: r.origin });
  }
  const referenced = new Map<string, Origin>();
  const namespaceOf = (name: string, origin: Origin): NamespaceEntry => {
    let ns = namespaces.get(name);
    if (ns === undefined) {
      ns = { name, labels: new Map([[K8S_METADATA_NAME, name]]), declared: false, origin: undefined };
      namespaces.set(name, ns);
      referenced.set(name, origin);
    }
    return ns;
  };

  const serviceAccountLabels = new Map<string, ReadonlyMap<string, string>>();
  for (const r of resources) {
    if (r.type !== 'ServiceAccount') continue;
    serviceAccountLabels.set(`${r.namespace}/${r.name}`, new Map(Object.entries((r.body.metadata.labels as Labels) ?? {})));
  }

  const namespaceProfiles = new Map<string, Profile>();
  const namespaceProfile = (ns: NamespaceEntry): Profile => {
    let p = namespaceProfiles.get(ns.name);
    if (p === undefined) {
      const labels = new Map<string, string>();
      for (const [k, v] of ns.labels) labels.set(NAMESPACE_PREFIX + k, v);
      labels.set(NAMESPACE_PREFIX + LABEL_NAME, ns.name);
      p = { name: `kns.${ns.name}`, labels, ingress: ALLOW_ALL, egress: ALLOW_ALL };
      namespaceProfiles.set(ns.name, p);
    }
    return p;
  };
  const serviceAccountProfile = (namespace: string, sa: string): Profile => {
    const labels = new Map<string, string>();
    for (const [k, v] of serviceAccountLabels.get(`${namespace}/${sa}`) ?? new Map<string, string>()) labels.set(SERVICE_ACCOUNT_PREFIX + k, v);
    labels.set(SERVICE_ACCOUNT_PREFIX + LABEL_NAME, sa);
    return { name: `ksa.${namespace}.${sa}`, labels, ingress: [], egress: [] };
  };
  const profileByName = (name: string, origin: Origin, path: readonly (string | number)[]): Profile | undefined => {
    if (name === DEFAULT_ALLOW_PROFILE) return { name, labels: new Map(), ingress: ALLOW_ALL, egress: ALLOW_ALL };
    if (name.startsWith('kns.')) return namespaceProfile(namespaceOf(name.slice(4), origin));
    const sa = /^ksa\.([^.]+)\.(.+)$/.exec(name);
    if (sa !== null) return serviceAccountProfile(sa[1]!, sa[2]!);
    diagnostics.push({
      code: 'engine/unknown-profile',
      severity: 'warning',
      message: `profile "${name}" is not known to Strata (only kns.<namespace>, ksa.<namespace>.<sa> and ${DEFAULT_ALLOW_PROFILE}); it is ignored`,
      span: origin.spanOf(path),
    });
    return undefined;
  };

  // ---- workload endpoints: pods, endpoint groups, WorkloadEndpoints; host endpoints
  const endpoints: Endpoint[] = [];
  const addWorkload = (
    r: Resource,
    namespace: string,
    name: string,
    ownLabels: Labels,
    spec: PodSpecLike,
    addresses: IpAddress[],
    specPath: readonly (string | number)[],
  ): void => {
    const ns = namespaceOf(namespace, r.origin);
    const sa = spec.serviceAccountName ?? spec.serviceAccount ?? 'default'; // the SA admission default
    const labels = new Map(Object.entries(ownLabels ?? {}));
    labels.set(LABEL_NAMESPACE, namespace);
    labels.set(LABEL_ORCHESTRATOR, 'k8s');
    if (sa !== '' && sa.length < 63) labels.set(LABEL_SERVICE_ACCOUNT, sa); // Calico omits longer names
    const profiles = [namespaceProfile(ns), serviceAccountProfile(namespace, sa)];
    const effective = effectiveLabels(labels, profiles);
    endpoints.push({
      id: `${namespace}/${name}`,
      kind: 'workload',
      name,
      namespace,
      resourceType: r.type,
      labels: effective,
      addresses,
      ports: containerPorts(spec, r.origin, specPath, diagnostics),
      profiles,
      serviceAccount: sa,
      node: spec.nodeName,
      interfaceName: undefined,
      origin: r.origin,
      labelKey: labelKeyOf(effective),
    });
  };

  for (const r of resources) {
    switch (r.type) {
      case 'Pod': {
        const spec = r.body.spec as PodSpecLike;
        if (spec.hostNetwork === true) {
          diagnostics.push({
            code: 'engine/host-network-pod',
            severity: 'info',
            message: `pod ${r.namespace}/${r.name} uses the host network: it is not a workload endpoint (host endpoint policy applies to it)`,
            span: r.origin.spanOf(['spec', 'hostNetwork']),
          });
          break;
        }
        const status = (r.body.status ?? {}) as { podIP?: string; podIPs?: readonly { ip: string }[]; phase?: string };
        const finished = status.phase === 'Succeeded' || status.phase === 'Failed';
        const ips = status.podIPs !== undefined && status.podIPs.length > 0 ? status.podIPs.map((p) => p.ip) : status.podIP !== undefined ? [status.podIP] : [];
        addWorkload(r, r.namespace ?? 'default', r.name, r.body.metadata.labels as Labels, spec, finished ? [] : parseAddresses(ips), ['spec']);
        break;
      }
      case 'Deployment':
      case 'StatefulSet':
      case 'DaemonSet':
      case 'ReplicaSet':
      case 'Job': {
        const template = (r.body.spec as { template?: { metadata?: { labels?: Labels }; spec?: PodSpecLike } }).template;
        addWorkload(r, r.namespace ?? 'default', r.name, template?.metadata?.labels, template?.spec ?? {}, [], ['spec', 'template', 'spec']);
        break;
      }
      case 'CronJob': {
        const template = (r.body.spec as { jobTemplate?: { spec?: { template?: { metadata?: { labels?: Labels }; spec?: PodSpecLike } } } }).jobTemplate?.spec?.template;
        addWorkload(r, r.namespace ?? 'default', r.name, template?.metadata?.labels, template?.spec ?? {}, [], ['spec', 'jobTemplate', 'spec', 'template', 'spec']);
        break;
      }
      case 'WorkloadEndpoint': {
        const namespace = r.namespace ?? 'default';
        const spec = r.body.spec as {
          orchestrator?: string;
          node?: string;
          interfaceName?: string;
          ipNetworks?: readonly string[];
          profiles?: readonly string[];
          ports?: readonly { name?: string; protocol?: string | number; port: number }[];
          serviceAccountName?: string;
        };
        namespaceOf(namespace, r.origin);
        const own = new Map(Object.entries((r.body.metadata.labels as Labels) ?? {}));
        own.set(LABEL_NAMESPACE, namespace);
        if (spec.orchestrator !== undefined) own.set(LABEL_ORCHESTRATOR, spec.orchestrator);
        if (spec.serviceAccountName !== undefined && spec.serviceAccountName !== '' && spec.serviceAccountName.length < 63) {
          own.set(LABEL_SERVICE_ACCOUNT, spec.serviceAccountName);
        }
        const profiles = (spec.profiles ?? [])
          .map((p, i) => profileByName(p, r.origin, ['spec', 'profiles', i]))
          .filter((p): p is Profile => p !== undefined);
        const labels = effectiveLabels(own, profiles);
        endpoints.push({
          id: `${namespace}/${r.name}`,
          kind: 'workload',
          name: r.name,
          namespace,
          resourceType: r.type,
          labels,
          addresses: parseAddresses(spec.ipNetworks ?? []),
          ports: calicoEndpointPorts(spec.ports),
          profiles,
          serviceAccount: spec.serviceAccountName,
          node: spec.node,
          interfaceName: spec.interfaceName,
          origin: r.origin,
          labelKey: labelKeyOf(labels),
        });
        break;
      }
      case 'HostEndpoint': {
        const spec = r.body.spec as {
          node?: string;
          interfaceName?: string;
          expectedIPs?: readonly string[];
          profiles?: readonly string[];
          ports?: readonly { name?: string; protocol?: string | number; port: number }[];
        };
        const profiles = (spec.profiles ?? [])
          .map((p, i) => profileByName(p, r.origin, ['spec', 'profiles', i]))
          .filter((p): p is Profile => p !== undefined);
        const labels = effectiveLabels(new Map(Object.entries((r.body.metadata.labels as Labels) ?? {})), profiles);
        endpoints.push({
          id: `hep:${r.name}`,
          kind: 'host',
          name: r.name,
          namespace: undefined,
          resourceType: r.type,
          labels,
          addresses: parseAddresses(spec.expectedIPs ?? []),
          ports: calicoEndpointPorts(spec.ports),
          profiles,
          serviceAccount: undefined,
          node: spec.node,
          interfaceName: spec.interfaceName,
          origin: r.origin,
          labelKey: labelKeyOf(labels),
        });
        break;
      }
      default:
        break;
    }
  }

  const finalEndpoints = options.podCidr === undefined ? endpoints : assignPodAddresses(endpoints, options.podCidr, diagnostics);
  reportDuplicateAddresses(finalEndpoints, diagnostics);

  // ---- network sets and services
  const networkSets: NetworkSetEntry[] = [];
  for (const r of resources) {
    if (r.type !== 'NetworkSet' && r.type !== 'GlobalNetworkSet') continue;
    const spec = (r.body.spec ?? {}) as { nets?: readonly string[]; allowedEgressDomains?: readonly string[] };
    const nets: Cidr[] = [];
    for (const n of spec.nets ?? []) {
      const c = parseCidrLenient(n);
      if (c.ok) nets.push(c.value);
    }
    let labels = new Map(Object.entries((r.body.metadata.labels as Labels) ?? {}));
    let id = r.name;
    let namespace: string | undefined;
    if (r.type === 'NetworkSet') {
      const ns: string = r.namespace ?? 'default';
      namespace = ns;
      id = `${ns}/${r.name}`;
      labels.set(LABEL_NAMESPACE, ns);
      labels = effectiveLabels(labels, [namespaceProfile(namespaceOf(ns, r.origin))]);
    }
    networkSets.push({ id, name: r.name, namespace, labels, nets, allowedEgressDomains: spec.allowedEgressDomains ?? [], origin: r.origin });
  }

  const services: ServiceEntry[] = [];
  for (const r of resources) {
    if (r.type !== 'Service') continue;
    const spec = (r.body.spec ?? {}) as {
      selector?: Readonly<Record<string, string>>;
      ports?: readonly { name?: string; port: number; protocol?: string; targetPort?: number | string }[];
    };
    services.push({
      namespace: r.namespace ?? 'default',
      name: r.name,
      selector: spec.selector === undefined ? undefined : new Map(Object.entries(spec.selector)),
      ports: (spec.ports ?? []).map((p) => ({ name: p.name, port: p.port, protocol: protocolOf(p.protocol), targetPort: p.targetPort ?? p.port })),
      origin: r.origin,
    });
  }

  // ---- tiers and policies
  const tiers = new Map<string, Tier>([
    [DEFAULT_TIER, { name: DEFAULT_TIER, order: DEFAULT_TIER_ORDER, defaultAction: 'deny', exists: true, origin: undefined }],
    [KUBE_ADMIN_TIER, { name: KUBE_ADMIN_TIER, order: KUBE_ADMIN_TIER_ORDER, defaultAction: 'pass', exists: true, origin: undefined }],
    [KUBE_BASELINE_TIER, { name: KUBE_BASELINE_TIER, order: KUBE_BASELINE_TIER_ORDER, defaultAction: 'pass', exists: true, origin: undefined }],
  ]);
  for (const r of resources) {
    if (r.type !== 'Tier') continue;
    const spec = (r.body.spec ?? {}) as { order?: number; defaultAction?: string };
    tiers.set(r.name, {
      name: r.name,
      order: spec.order,
      defaultAction: spec.defaultAction === 'Pass' ? 'pass' : 'deny',
      exists: true,
      origin: r.origin,
    });
  }

  const policies: Policy[] = [];
  const addPolicy = (p: Policy, r: Resource): void => {
    if (!tiers.has(p.tier)) {
      const known = [...tiers.values()].filter((t) => t.exists).map((t) => t.name);
      const hint = didYouMean(p.tier, known);
      diagnostics.push({
        code: 'engine/tier-not-found',
        severity: 'error',
        message: `${r.kind} "${p.name}" is in tier "${p.tier}", which does not exist; declare a Tier resource named "${p.tier}"`,
        span: r.origin.spanOf(['spec', 'tier']),
        path: 'spec.tier',
        ...(hint === undefined ? {} : { help: hint }),
      });
      // Calico keeps such a policy in an invalid tier sorted after all others, defaulting to Deny.
      tiers.set(p.tier, { name: p.tier, order: undefined, defaultAction: 'deny', exists: false, origin: undefined });
    }
    if (p.namespace !== undefined) namespaceOf(p.namespace, r.origin);
    policies.push(p);
  };

  for (const r of resources) {
    switch (r.type) {
      case 'NetworkPolicy':
      case 'GlobalNetworkPolicy':
      case 'StagedNetworkPolicy':
      case 'StagedGlobalNetworkPolicy': {
        const kind: PolicyKind = r.type;
        addPolicy(
          convertPolicy({ kind, name: r.name, namespace: r.namespace, spec: (r.body.spec ?? {}) as V3PolicySpec, origin: r.origin }),
          r,
        );
        break;
      }
      case 'KubernetesNetworkPolicy':
      case 'StagedKubernetesNetworkPolicy': {
        const raw = (r.body.spec ?? {}) as K8sNetworkPolicySpec & { stagedAction?: string };
        const converted = convertK8sNetworkPolicy(raw);
        const spec: V3PolicySpec =
          r.type === 'StagedKubernetesNetworkPolicy' ? { ...converted.spec, stagedAction: raw.stagedAction } : converted.spec;
        addPolicy(
          convertPolicy({ kind: r.type, name: r.name, namespace: r.namespace, spec, origin: r.origin, rulePaths: converted.rulePaths }),
          r,
        );
        break;
      }
      case 'AdminNetworkPolicy':
      case 'BaselineAdminNetworkPolicy':
      case 'ClusterNetworkPolicy': {
        const converted = convertAdminPolicy({ kind: r.type, name: r.name, spec: r.body.spec as AdminPolicySpec, origin: r.origin });
        diagnostics.push(...converted.diagnostics);
        if (converted.policy !== undefined) addPolicy(converted.policy, r);
        break;
      }
      case 'GlobalThreatFeed':
        diagnostics.push({
          code: 'engine/semantics-not-implemented',
          severity: 'warning',
          message: `${r.kind} "${r.name}" was loaded and validated, but Strata does not evaluate ${r.kind} yet: it has no effect on verdicts`,
          span: r.origin.span,
        });
        break;
      default:
        break;
    }
  }

  for (const [name, origin] of referenced) {
    diagnostics.push({
      code: 'engine/namespace-not-declared',
      severity: 'info',
      message: `namespace "${name}" is used but not declared; assuming it exists with only the label ${K8S_METADATA_NAME}=${name}`,
      span: origin.span,
    });
  }

  const sortedTiers = [...tiers.values()].sort(compareTiers);
  const tierRank = new Map(sortedTiers.map((t, i) => [t.name, i]));
  policies.sort((a, b) => tierRank.get(a.tier)! - tierRank.get(b.tier)! || comparePolicies(a, b));

  const cluster = createCluster({
    tiers: sortedTiers,
    policies,
    endpoints: finalEndpoints,
    networkSets,
    namespaces: [...namespaces.values()],
    services,
  });
  return { cluster, diagnostics };
}

/** Deterministic what-if addressing: endpoints without an address get the next free one, by id. */
function assignPodAddresses(endpoints: readonly Endpoint[], podCidr: string, diagnostics: Diagnostic[]): Endpoint[] {
  const parsed = parseCidrLenient(podCidr);
  if (!parsed.ok) {
    diagnostics.push(...parsed.diagnostics);
    return [...endpoints];
  }
  const used = new Set(endpoints.flatMap((e) => e.addresses.map(formatIp)));
  const needing = endpoints.filter((e) => e.kind === 'workload' && e.addresses.length === 0).sort((a, b) => (a.id < b.id ? -1 : 1));
  const pool = allocateAddresses(parsed.value, needing.length + used.size).filter((a) => !used.has(formatIp(a)));
  if (pool.length < needing.length) {
    diagnostics.push({
      code: 'engine/pod-cidr-exhausted',
      severity: 'error',
      message: `--pod-cidr ${podCidr} has room for ${pool.length} more addresses but ${needing.length} workloads need one`,
    });
  }
  const assigned = new Map<Endpoint, IpAddress>();
  needing.forEach((e, i) => {
    const a = pool[i];
    if (a !== undefined) assigned.set(e, a);
  });
  return endpoints.map((e) => {
    const a = assigned.get(e);
    return a === undefined ? e : { ...e, addresses: [a] };
  });
}

function reportDuplicateAddresses(endpoints: readonly Endpoint[], diagnostics: Diagnostic[]): void {
  const owner = new Map<string, Endpoint>();
  for (const e of endpoints) {
    for (const a of e.addresses) {
      const key = formatIp(a);
      const first = owner.get(key);
      if (first !== undefined && first !== e) {
        diagnostics.push({
          code: 'engine/duplicate-address',
          severity: 'warning',
          message: `${e.id} and ${first.id} both claim address ${key}; flows to it are attributed to ${e.id}`,
          span: e.origin.span,
        });
      }
      owner.set(key, e);
    }
  }
}
