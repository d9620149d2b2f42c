// One resource → the engine entity it stands for (endpoint, namespace, network set, service, tier,
// policies), as pure functions over the resource and a small context that resolves what it
// inherits (namespace and service-account profiles). The store calls them for exactly the
// resources a change touches; Calico's rules for each (effective labels, profiles, container
// ports, Pod status addresses) are documented where they apply and in docs/semantics.md.
import type { Diagnostic } from '../diagnostics/index.ts';
import { formatPath } from '../diagnostics/index.ts';
import type { Resource } from '../model/index.ts';
import type { Origin } from '../model/origin.ts';
import { parseCidrLenient, parseIp } from '../net/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';
import { LABEL_NAME, LABEL_NAMESPACE, LABEL_ORCHESTRATOR, LABEL_SERVICE_ACCOUNT, NAMESPACE_PREFIX, SERVICE_ACCOUNT_PREFIX } from './compose.ts';
import { convertAdminPolicy } from './convert-admin.ts';
import type { AdminPolicySpec } from './convert-admin.ts';
import { convertK8sNetworkPolicy } from './convert-k8s.ts';
import type { K8sNetworkPolicySpec } from './convert-k8s.ts';
import { convertPolicy } from './convert-policy.ts';
import type { V3PolicySpec } from './convert-policy.ts';
import { InheritedLabels, labelKeyOf } from './labels.ts';
import type { Endpoint, EndpointPort, NamespaceEntry, NetworkSetEntry, Policy, PolicyKind, Profile, Rule, ServiceEntry, Tier } from './model.ts';
import { PROTOCOL } from './model.ts';

export const K8S_METADATA_NAME = 'kubernetes.io/metadata.name';
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

/** Own labels first, then each profile's labels for keys not yet present (first profile wins). */
function effectiveLabels(own: ReadonlyMap<string, string>, profiles: readonly Profile[]): InheritedLabels {
  return new InheritedLabels(own, profiles.map((p) => p.labels));
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


/** What a derivation needs from the rest of the state: the profiles an endpoint inherits. */
export interface DeriveContext {
  /** The namespace's profile (`kns.NAME`); referencing an undeclared namespace assumes it exists. */
  namespaceProfile(name: string, origin: Origin): Profile;
  /** The service account's profile (`ksa.NS.NAME`): only labels. */
  serviceAccountProfile(namespace: string, name: string): Profile;
  /** Records that the resource lives in (or names) a namespace. */
  referenceNamespace(name: string, origin: Origin): void;
  readonly diagnostics: Diagnostic[];
}

/** A declared namespace: its labels plus Kubernetes' automatic `kubernetes.io/metadata.name`. */
export function deriveNamespace(r: Extract<Resource, { type: 'Namespace' }>): NamespaceEntry {
  const labels = new Map(Object.entries((r.body.metadata.labels as Labels) ?? {}));
  labels.set(K8S_METADATA_NAME, r.name);
  return { name: r.name, labels, declared: true, origin: r.origin };
}

/** A namespace only referenced (a pod in an undeclared namespace). */
export function implicitNamespace(name: string): NamespaceEntry {
  return { name, labels: new Map([[K8S_METADATA_NAME, name]]), declared: false, origin: undefined };
}

/** Calico's namespace profile: every namespace label under `pcns.`, allow-all rules. */
export function namespaceProfileOf(ns: NamespaceEntry): Profile {
  const labels = new Map<string, string>();
  for (const [k, v] of ns.labels) labels.set(NAMESPACE_PREFIX + k, v);
  labels.set(NAMESPACE_PREFIX + LABEL_NAME, ns.name);
  return { name: `kns.${ns.name}`, labels, ingress: ALLOW_ALL, egress: ALLOW_ALL };
}

export function serviceAccountLabelsOf(r: Extract<Resource, { type: 'ServiceAccount' }>): ReadonlyMap<string, string> {
  return new Map(Object.entries((r.body.metadata.labels as Labels) ?? {}));
}

/** Calico's service-account profile: the SA's labels under `pcsa.`, no rules. */
export function serviceAccountProfileOf(namespace: string, sa: string, saLabels: ReadonlyMap<string, string> | undefined): Profile {
  const labels = new Map<string, string>();
  for (const [k, v] of saLabels ?? new Map<string, string>()) labels.set(SERVICE_ACCOUNT_PREFIX + k, v);
  labels.set(SERVICE_ACCOUNT_PREFIX + LABEL_NAME, sa);
  return { name: `ksa.${namespace}.${sa}`, labels, ingress: [], egress: [] };
}

const DEFAULT_ALLOW: Profile = { name: DEFAULT_ALLOW_PROFILE, labels: new Map(), ingress: ALLOW_ALL, egress: ALLOW_ALL };

function profileByName(ctx: DeriveContext, name: string, origin: Origin, path: readonly (string | number)[]): Profile | undefined {
  if (name === DEFAULT_ALLOW_PROFILE) return DEFAULT_ALLOW;
  if (name.startsWith('kns.')) return ctx.namespaceProfile(name.slice(4), origin);
  const sa = /^ksa\.([^.]+)\.(.+)$/.exec(name);
  if (sa !== null) return ctx.serviceAccountProfile(sa[1]!, sa[2]!);
  ctx.diagnostics.push({
    code: 'engine/unknown-profile',
    severity: 'warning',
    message: `profile "${name}" is not known to Strata (only kns.<namespace>, ksa.<namespace>.<sa> and ${DEFAULT_ALLOW_PROFILE}); it is ignored`,
    span: origin.spanOf(path),
  });
  return undefined;
}

function workload(ctx: DeriveContext, r: Resource, namespace: string, name: string, ownLabels: Labels, spec: PodSpecLike, addresses: IpAddress[], specPath: readonly (string | number)[]): Endpoint {
  const sa = spec.serviceAccountName ?? spec.serviceAccount ?? 'default'; // the SA admission default
  const nsProfile = ctx.namespaceProfile(namespace, r.origin);
  const labels = new Map(Object.entries(ownLabels ?? {}));
  labels.set(LABEL_NAMESPACE, namespace);
  labels.set(LABEL_ORCHESTRATOR, 'k8s');
  if (sa !== '' && sa.length < 63) labels.set(LABEL_SERVICE_ACCOUNT, sa); // Calico omits longer names
  const profiles = [nsProfile, ctx.serviceAccountProfile(namespace, sa)];
  const effective = effectiveLabels(labels, profiles);
  return {
    id: `${namespace}/${name}`,
    kind: 'workload',
    name,
    namespace,
    resourceType: r.type,
    labels: effective,
    addresses,
    ports: containerPorts(spec, r.origin, specPath, ctx.diagnostics),
    profiles,
    serviceAccount: sa,
    node: spec.nodeName,
    interfaceName: undefined,
    origin: r.origin,
    labelKey: labelKeyOf(effective),
  };
}

/** The endpoint a workload or host resource stands for; undefined for other kinds and host-network pods. */
export function deriveEndpoint(ctx: DeriveContext, r: Resource): Endpoint | undefined {
  switch (r.type) {
    case 'Pod': {
      const spec = r.body.spec as PodSpecLike;
      if (spec.hostNetwork === true) {
        ctx.diagnostics.push({
          code: 'engine/host-network-pod',
          severity: 'info',
          message: `pod ${r.namespace}/${r.name} uses the host network: it is not a workload endpoint (host endpoint policy applies to it)`,
          span: r.origin.spanOf(['spec', 'hostNetwork']),
        });
        return undefined;
      }
      const status = (r.body.status ?? {}) as { podIP?: string; podIPs?: readonly { ip: string }[]; phase?: string };
      const finished = status.phase === 'Succeeded' || status.phase === 'Failed';
      const ips = status.podIPs !== undefined && status.podIPs.length > 0 ? status.podIPs.map((p) => p.ip) : status.podIP !== undefined ? [status.podIP] : [];
      return workload(ctx, r, r.namespace ?? 'default', r.name, r.body.metadata.labels as Labels, spec, finished ? [] : parseAddresses(ips), ['spec']);
    }
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job': {
      const template = (r.body.spec as { template?: { metadata?: { labels?: Labels }; spec?: PodSpecLike } }).template;
      return workload(ctx, r, r.namespace ?? 'default', r.name, template?.metadata?.labels, template?.spec ?? {}, [], ['spec', 'template', 'spec']);
    }
    case 'CronJob': {
      const template = (r.body.spec as { jobTemplate?: { spec?: { template?: { metadata?: { labels?: Labels }; spec?: PodSpecLike } } } }).jobTemplate?.spec?.template;
      return workload(ctx, r, r.namespace ?? 'default', r.name, template?.metadata?.labels, template?.spec ?? {}, [], ['spec', 'jobTemplate', 'spec', 'template', 'spec']);
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
      ctx.referenceNamespace(namespace, r.origin);
      const own = new Map(Object.entries((r.body.metadata.labels as Labels) ?? {}));
      own.set(LABEL_NAMESPACE, namespace);
      if (spec.orchestrator !== undefined) own.set(LABEL_ORCHESTRATOR, spec.orchestrator);
      if (spec.serviceAccountName !== undefined && spec.serviceAccountName !== '' && spec.serviceAccountName.length < 63) {
        own.set(LABEL_SERVICE_ACCOUNT, spec.serviceAccountName);
      }
      const profiles = (spec.profiles ?? []).map((p, i) => profileByName(ctx, p, r.origin, ['spec', 'profiles', i])).filter((p): p is Profile => p !== undefined);
      const labels = effectiveLabels(own, profiles);
      return {
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
      };
    }
    case 'HostEndpoint': {
      const spec = r.body.spec as {
        node?: string;
        interfaceName?: string;
        expectedIPs?: readonly string[];
        profiles?: readonly string[];
        ports?: readonly { name?: string; protocol?: string | number; port: number }[];
      };
      const profiles = (spec.profiles ?? []).map((p, i) => profileByName(ctx, p, r.origin, ['spec', 'profiles', i])).filter((p): p is Profile => p !== undefined);
      const labels = effectiveLabels(new Map(Object.entries((r.body.metadata.labels as Labels) ?? {})), profiles);
      return {
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
      };
    }
    default:
      return undefined;
  }
}

export function isEndpointType(type: Resource['type']): boolean {
  switch (type) {
    case 'Pod':
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
    case 'CronJob':
    case 'WorkloadEndpoint':
    case 'HostEndpoint':
      return true;
    default:
      return false;
  }
}

export function deriveNetworkSet(ctx: DeriveContext, r: Extract<Resource, { type: 'NetworkSet' | 'GlobalNetworkSet' }>): NetworkSetEntry {
  const spec = (r.body.spec ?? {}) as { nets?: readonly string[]; allowedEgressDomains?: readonly string[] };
  const nets: Cidr[] = [];
  for (const n of spec.nets ?? []) {
    const c = parseCidrLenient(n);
    if (c.ok) nets.push(c.value);
  }
  const own = new Map(Object.entries((r.body.metadata.labels as Labels) ?? {}));
  if (r.type === 'NetworkSet') {
    const ns: string = r.namespace ?? 'default';
    own.set(LABEL_NAMESPACE, ns);
    const labels = effectiveLabels(own, [ctx.namespaceProfile(ns, r.origin)]);
    return { id: `${ns}/${r.name}`, name: r.name, namespace: ns, labels, nets, allowedEgressDomains: spec.allowedEgressDomains ?? [], origin: r.origin };
  }
  return { id: r.name, name: r.name, namespace: undefined, labels: own, nets, allowedEgressDomains: spec.allowedEgressDomains ?? [], origin: r.origin };
}

export function deriveService(r: Extract<Resource, { type: 'Service' }>): ServiceEntry {
  const spec = (r.body.spec ?? {}) as {
    selector?: Readonly<Record<string, string>>;
    ports?: readonly { name?: string; port: number; protocol?: string; targetPort?: number | string }[];
    clusterIP?: string;
    clusterIPs?: readonly string[];
    type?: string;
  };
  const clusterIPs: IpAddress[] = [];
  for (const t of spec.clusterIPs ?? (spec.clusterIP === undefined ? [] : [spec.clusterIP])) {
    const ip = parseIp(t);
    if (ip.ok) clusterIPs.push(ip.value);
  }
  return {
    clusterIPs,
    headless: spec.clusterIP === 'None',
    type: spec.type ?? 'ClusterIP',
    namespace: r.namespace ?? 'default',
    name: r.name,
    selector: spec.selector === undefined ? undefined : new Map(Object.entries(spec.selector)),
    ports: (spec.ports ?? []).map((p) => ({ name: p.name, port: p.port, protocol: protocolOf(p.protocol), targetPort: p.targetPort ?? p.port })),
    origin: r.origin,
  };
}

export function deriveTier(r: Extract<Resource, { type: 'Tier' }>): Tier {
  const spec = (r.body.spec ?? {}) as { order?: number; defaultAction?: string };
  return { name: r.name, order: spec.order, defaultAction: spec.defaultAction === 'Pass' ? 'pass' : 'deny', exists: true, origin: r.origin };
}

/** Converters for policy kinds beyond Calico's and Kubernetes' own (admin policies), by type. */
export type PolicyConverter = (r: Resource, diagnostics: Diagnostic[]) => readonly Policy[] | undefined;

/** The engine policies a resource stands for (none for other kinds). */
export function derivePolicies(r: Resource, diagnostics: Diagnostic[]): readonly Policy[] {
  switch (r.type) {
    case 'NetworkPolicy':
    case 'GlobalNetworkPolicy':
    case 'StagedNetworkPolicy':
    case 'StagedGlobalNetworkPolicy': {
      const kind: PolicyKind = r.type;
      return [convertPolicy({ kind, name: r.name, namespace: r.namespace, spec: (r.body.spec ?? {}) as V3PolicySpec, origin: r.origin })];
    }
    case 'KubernetesNetworkPolicy':
    case 'StagedKubernetesNetworkPolicy': {
      const raw = (r.body.spec ?? {}) as K8sNetworkPolicySpec & { stagedAction?: string };
      const converted = convertK8sNetworkPolicy(raw);
      const spec: V3PolicySpec = r.type === 'StagedKubernetesNetworkPolicy' ? { ...converted.spec, stagedAction: raw.stagedAction } : converted.spec;
      return [convertPolicy({ kind: r.type, name: r.name, namespace: r.namespace, spec, origin: r.origin, rulePaths: converted.rulePaths })];
    }
    case 'AdminNetworkPolicy':
    case 'BaselineAdminNetworkPolicy':
    case 'ClusterNetworkPolicy': {
      // Upstream admin policies, in the kube-admin / kube-baseline tiers (convert-admin.ts).
      const converted = convertAdminPolicy({ kind: r.type, name: r.name, spec: r.body.spec as AdminPolicySpec, origin: r.origin });
      diagnostics.push(...converted.diagnostics);
      return converted.policy === undefined ? [] : [converted.policy];
    }
    case 'GlobalThreatFeed':
      // A feed acts only through the network set it is pulled into (src/feeds), never by itself.
      diagnostics.push({
        code: 'engine/threatfeed-not-synced',
        severity: 'warning',
        message: `GlobalThreatFeed ${r.name} has no effect by itself: run \`strata threatfeed sync\` (or the server) to turn it into GlobalNetworkSet threatfeed.${r.name}`,
        span: r.origin.span,
      });
      return [];
    default:
      return [];
  }
}

export function isPolicyType(type: Resource['type']): boolean {
  switch (type) {
    case 'NetworkPolicy':
    case 'GlobalNetworkPolicy':
    case 'StagedNetworkPolicy':
    case 'StagedGlobalNetworkPolicy':
    case 'KubernetesNetworkPolicy':
    case 'StagedKubernetesNetworkPolicy':
    case 'AdminNetworkPolicy':
    case 'BaselineAdminNetworkPolicy':
    case 'ClusterNetworkPolicy':
    case 'GlobalThreatFeed':
      return true;
    default:
      return false;
  }
}
