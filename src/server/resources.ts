// The API surface: one row per served resource (group, version, plural, kind, scope, short
// names, subresources), and the mapping from a request path to a resource request. kubectl's
// naming (plural, kind, short name, `resource.group`) resolves through the same table.
import { KINDS } from '../model/kinds.ts';
import type { ResourceType } from '../model/resource.ts';

/** Kinds the server stores and evaluates itself (RBAC), beside the engine's. */
export type RbacType = 'Role' | 'ClusterRole' | 'RoleBinding' | 'ClusterRoleBinding';
/** `StrataEndpoint`: Strata's own RBAC pseudo-resources (explain, matrix, auditevents); `NodeStatus`: agents' reports. */
export type ServedType = ResourceType | RbacType | 'StrataEndpoint' | 'NodeStatus';

export interface ResourceInfo {
  readonly type: ServedType;
  readonly kind: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly subresources: readonly string[];
  /** Calico's RBAC pseudo-resource for tiered policies (`tier.networkpolicies`), when tiered. */
  readonly tierResource?: string;
  /**
   * The Kubernetes admin policies: tiered by kind (`kube-admin` / `kube-baseline`, where the
   * engine places them), authorized by plain RBAC on the resource plus `get` on that tier.
   */
  readonly adminTiered?: true;
  /** True for kinds the engine reads (validated and analysed); false for RBAC. */
  readonly engine: boolean;
}

const CALICO = 'projectcalico.org';
const RBAC = 'rbac.authorization.k8s.io';

interface Row {
  readonly plural: string;
  readonly shortNames?: readonly string[];
  readonly subresources?: readonly string[];
  readonly tierResource?: string;
  readonly adminTiered?: true;
}

// Plurals and short names as kube-apiserver and Calico's API server register them.
const ENGINE_ROWS: { readonly [T in ResourceType]: Row } = {
  Namespace: { plural: 'namespaces', shortNames: ['ns'] },
  Pod: { plural: 'pods', shortNames: ['po'], subresources: ['status'] },
  Service: { plural: 'services', shortNames: ['svc'] },
  ServiceAccount: { plural: 'serviceaccounts', shortNames: ['sa'] },
  Deployment: { plural: 'deployments', shortNames: ['deploy'] },
  StatefulSet: { plural: 'statefulsets', shortNames: ['sts'] },
  DaemonSet: { plural: 'daemonsets', shortNames: ['ds'] },
  ReplicaSet: { plural: 'replicasets', shortNames: ['rs'] },
  Job: { plural: 'jobs' },
  CronJob: { plural: 'cronjobs', shortNames: ['cj'] },
  KubernetesNetworkPolicy: { plural: 'networkpolicies', shortNames: ['netpol'] },
  Tier: { plural: 'tiers' },
  NetworkPolicy: { plural: 'networkpolicies', shortNames: ['cnp', 'caliconetworkpolicy', 'caliconetworkpolicies'], tierResource: 'tier.networkpolicies' },
  GlobalNetworkPolicy: { plural: 'globalnetworkpolicies', shortNames: ['gnp', 'cgnp', 'calicoglobalnetworkpolicies'], tierResource: 'tier.globalnetworkpolicies' },
  StagedNetworkPolicy: { plural: 'stagednetworkpolicies', shortNames: ['snp'], tierResource: 'tier.stagednetworkpolicies' },
  StagedGlobalNetworkPolicy: { plural: 'stagedglobalnetworkpolicies', shortNames: ['sgnp'], tierResource: 'tier.stagedglobalnetworkpolicies' },
  StagedKubernetesNetworkPolicy: { plural: 'stagedkubernetesnetworkpolicies', shortNames: ['sknp'] },
  NetworkSet: { plural: 'networksets', shortNames: ['netsets'] },
  GlobalNetworkSet: { plural: 'globalnetworksets' },
  HostEndpoint: { plural: 'hostendpoints', shortNames: ['hep', 'heps'] },
  WorkloadEndpoint: { plural: 'workloadendpoints', shortNames: ['wep', 'weps'], subresources: ['status'] },
  GlobalThreatFeed: { plural: 'globalthreatfeeds', subresources: ['status'] },
  AdminNetworkPolicy: { plural: 'adminnetworkpolicies', shortNames: ['anp'], tierResource: 'adminnetworkpolicies', adminTiered: true },
  BaselineAdminNetworkPolicy: { plural: 'baselineadminnetworkpolicies', shortNames: ['banp'], tierResource: 'baselineadminnetworkpolicies', adminTiered: true },
  ClusterNetworkPolicy: { plural: 'clusternetworkpolicies', tierResource: 'clusternetworkpolicies', adminTiered: true },
  ConnectivityInvariant: { plural: 'connectivityinvariants', shortNames: ['ci'] },
};

function engineInfo(type: ResourceType): ResourceInfo {
  const k = KINDS[type];
  // The first apiVersion is the served one (projectcalico.org/v3, not the CRD group).
  const apiVersion = k.apiVersions[0] ?? 'v1';
  const slash = apiVersion.indexOf('/');
  const row = ENGINE_ROWS[type];
  return {
    type,
    kind: k.kind,
    group: slash < 0 ? '' : apiVersion.slice(0, slash),
    version: slash < 0 ? apiVersion : apiVersion.slice(slash + 1),
    plural: row.plural,
    singular: k.kind.toLowerCase(),
    namespaced: k.namespaced,
    shortNames: row.shortNames ?? [],
    subresources: row.subresources ?? [],
    ...(row.tierResource === undefined ? {} : { tierResource: row.tierResource }),
    ...(row.adminTiered === true ? { adminTiered: true as const } : {}),
    engine: true,
  };
}

function rbacInfo(type: RbacType, namespaced: boolean): ResourceInfo {
  return { type, kind: type, group: RBAC, version: 'v1', plural: `${type.toLowerCase()}s`, singular: type.toLowerCase(), namespaced, shortNames: [], subresources: [], engine: false };
}

/** Agents' reports (`strata get nodes`): Strata's own kind, cluster scoped, not read by the engine. */
export const NODE_STATUS_INFO: ResourceInfo = {
  type: 'NodeStatus',
  kind: 'NodeStatus',
  group: 'strata',
  version: 'v1',
  plural: 'nodestatuses',
  singular: 'nodestatus',
  namespaced: false,
  shortNames: ['nodes', 'node'],
  subresources: [],
  engine: false,
};

export const RESOURCES: readonly ResourceInfo[] = [
  ...(Object.keys(ENGINE_ROWS) as ResourceType[]).map(engineInfo),
  rbacInfo('Role', true),
  rbacInfo('ClusterRole', false),
  rbacInfo('RoleBinding', true),
  rbacInfo('ClusterRoleBinding', false),
  NODE_STATUS_INFO,
];

export function apiVersionOf(info: ResourceInfo): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

/** group/version → its resources, for discovery and routing. */
export function groupVersions(): ReadonlyMap<string, readonly ResourceInfo[]> {
  const m = new Map<string, ResourceInfo[]>();
  for (const r of RESOURCES) {
    const gv = apiVersionOf(r);
    m.set(gv, [...(m.get(gv) ?? []), r]);
  }
  return m;
}

const byPath = new Map<string, ResourceInfo>(RESOURCES.map((r) => [`${r.group}/${r.version}/${r.plural}`, r]));

export function resourceAt(group: string, version: string, plural: string): ResourceInfo | undefined {
  return byPath.get(`${group}/${version}/${plural}`);
}

/** The resource an object's apiVersion/kind names (crd.projectcalico.org/v1 counts as projectcalico.org). */
export function resourceOfObject(apiVersion: string, kind: string): ResourceInfo | undefined {
  const slash = apiVersion.indexOf('/');
  let group = slash < 0 ? '' : apiVersion.slice(0, slash);
  if (group === 'crd.projectcalico.org') group = CALICO;
  return RESOURCES.find((r) => r.group === group && r.kind === kind);
}

/**
 * A resource named as kubectl accepts it: plural, singular, kind, short name, or any of these
 * followed by `.group` (or a prefix of the group: `networkpolicies.p`). Without a group, the core
 * and Kubernetes groups win over Calico's, as kubectl's discovery order does.
 */
export function resolveResourceName(text: string): ResourceInfo | undefined {
  const lower = text.toLowerCase();
  const names = (r: ResourceInfo): string[] => [r.plural, r.singular, r.kind.toLowerCase(), ...r.shortNames];
  const exact = RESOURCES.find((r) => names(r).includes(lower));
  if (exact !== undefined) return exact;
  const dot = lower.indexOf('.');
  if (dot < 0) return undefined;
  const name = lower.slice(0, dot);
  const group = lower.slice(dot + 1);
  return (
    RESOURCES.find((r) => names(r).includes(name) && r.group === group) ??
    RESOURCES.find((r) => names(r).includes(name) && r.group.startsWith(group))
  );
}

/** `networkpolicies.projectcalico.org`, or just `pods` in the core group: how Kubernetes names a resource in messages. */
export function qualifiedName(info: ResourceInfo): string {
  return info.group === '' ? info.plural : `${info.plural}.${info.group}`;
}

/** A parsed resource request path. */
export interface ResourcePath {
  readonly info: ResourceInfo;
  /** Namespace from the path; undefined for cluster-scoped kinds and all-namespaces lists. */
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
}

export type PathResult = { readonly ok: true; readonly value: ResourcePath } | { readonly ok: false; readonly reason: 'not-found'; readonly message: string };

/**
 * `/api/v1/namespaces/ns/pods/name/status`, `/apis/g/v/plural[/name]` and the namespaced forms.
 * `/api/v1/namespaces/NAME` is the Namespace object itself, as in Kubernetes.
 */
export function parseResourcePath(pathname: string): PathResult | undefined {
  const segs = pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs.length >= 3) {
    group = '';
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 4) {
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  const info = plural === undefined ? undefined : resourceAt(group, version, plural);
  const notFound = (message: string): PathResult => ({ ok: false, reason: 'not-found', message });
  if (info === undefined || extra.length > 0) return notFound(`the server could not find the requested resource`);
  if (namespace !== undefined && !info.namespaced) return notFound(`the server could not find the requested resource`);
  if (subresource !== undefined && !info.subresources.includes(subresource)) return notFound(`the server could not find the requested resource`);
  return { ok: true, value: { info, namespace, name, subresource } };
}

/** The datastore key of one object (kube-apiserver's layout). */
export function objectKey(info: ResourceInfo, namespace: string | undefined, name: string): string {
  const g = info.group === '' ? 'core' : info.group;
  return info.namespaced ? `/registry/${g}/${info.plural}/${namespace ?? 'default'}/${name}` : `/registry/${g}/${info.plural}/${name}`;
}

/** The prefix to list or watch a resource, in one namespace or all. */
export function resourcePrefix(info: ResourceInfo, namespace?: string): string {
  const g = info.group === '' ? 'core' : info.group;
  return namespace === undefined || !info.namespaced ? `/registry/${g}/${info.plural}/` : `/registry/${g}/${info.plural}/${namespace}/`;
}

/** The URL of a collection (namespace undefined: all namespaces) or, with a name, of one object. */
export function resourceUrl(info: ResourceInfo, namespace: string | undefined, name?: string): string {
  const root = info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
  const ns = info.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${root}${ns}/${info.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}
