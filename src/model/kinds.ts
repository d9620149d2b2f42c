// The table of accepted kinds: which apiVersion/kind pairs map to which resource type, whether the
// type is namespaced, its schema, and its non-fatal findings. One row per type; see
// docs/resources.md for the user-facing list.
import type { z } from 'zod';
import { formatCidr, parseCidrText } from '../net/index.ts';
import { adminNetworkPolicySchema } from './admin-network-policy.ts';
import { baselineAdminNetworkPolicySchema } from './baseline-admin-network-policy.ts';
import { missingSelectorWarnings, namedPortPeerWarnings } from './admin-policy-common.ts';
import type { AdminPolicyView } from './admin-policy-common.ts';
import { clusterNetworkPolicySchema } from './cluster-network-policy.ts';
import { connectivityInvariantSchema } from './connectivity-invariant.ts';
import { cronJobSchema } from './cron-job.ts';
import { daemonSetSchema } from './daemon-set.ts';
import { deploymentSchema } from './deployment.ts';
import { globalNetworkPolicySchema } from './global-network-policy.ts';
import { globalNetworkSetSchema } from './global-network-set.ts';
import { globalThreatFeedSchema } from './global-threat-feed.ts';
import { hostEndpointSchema } from './host-endpoint.ts';
import { jobSchema } from './job.ts';
import { ipBlockWarnings, kubernetesNetworkPolicySchema } from './kubernetes-network-policy.ts';
import type { Warning } from './kubernetes-network-policy.ts';
import { namespaceSchema } from './namespace.ts';
import { networkPolicySchema } from './network-policy.ts';
import { networkSetSchema } from './network-set.ts';
import { podSchema } from './pod.ts';
import { replicaSetSchema } from './replica-set.ts';
import type { BodyByType, ResourceType } from './resource.ts';
import type { Path } from './schema-kit.ts';
import { serviceAccountSchema } from './service-account.ts';
import { serviceSchema } from './service.ts';
import { stagedGlobalNetworkPolicySchema } from './staged-global-network-policy.ts';
import { stagedKubernetesNetworkPolicySchema } from './staged-kubernetes-network-policy.ts';
import { stagedNetworkPolicySchema } from './staged-network-policy.ts';
import { statefulSetSchema } from './stateful-set.ts';
import { tierSchema } from './tier.ts';
import { workloadEndpointSchema } from './workload-endpoint.ts';

export const CALICO_API_VERSIONS = ['projectcalico.org/v3', 'crd.projectcalico.org/v1'] as const;

export interface KindInfo<T extends ResourceType> {
  readonly type: T;
  /** The `kind` as written in manifests. */
  readonly kind: string;
  readonly apiVersions: readonly string[];
  readonly namespaced: boolean;
  readonly schema: z.ZodType<BodyByType[T]>;
  /** Findings that do not make the resource invalid (paths from the resource root). */
  readonly warnings?: (body: BodyByType[T]) => readonly Warning[];
}

/** Host bits in lenient CIDR fields: accepted, masked, worth a note. */
function maskedCidrWarnings(texts: readonly string[] | undefined, base: Path): Warning[] {
  const out: Warning[] = [];
  (texts ?? []).forEach((text, i) => {
    const r = parseCidrText(text);
    if (r.ok && r.value.hasPrefix && r.value.hostBitsSet) {
      out.push({ path: [...base, i], code: 'model/cidr-host-bits', message: `"${text}" has bits set beyond the prefix; it is used as "${formatCidr(r.value.cidr)}"` });
    }
  });
  return out;
}

interface NetworksView {
  readonly spec: { readonly egress?: readonly { readonly to: readonly { readonly networks?: readonly string[] | undefined }[] }[] | undefined };
}

function adminNetworkWarnings(body: NetworksView): Warning[] {
  return (body.spec.egress ?? []).flatMap((r, i) => r.to.flatMap((peer, j) => maskedCidrWarnings(peer.networks, ['spec', 'egress', i, 'to', j, 'networks'])));
}

/** v1alpha1 (AdminNetworkPolicy, BaselineAdminNetworkPolicy) or v1alpha2 (ClusterNetworkPolicy). */
function adminPolicyWarnings(body: NetworksView & AdminPolicyView, v1alpha2: boolean): Warning[] {
  return [
    ...adminNetworkWarnings(body),
    ...missingSelectorWarnings(body, !v1alpha2),
    ...(v1alpha2
      ? namedPortPeerWarnings(body, 'protocols', 'destinationNamedPort', ['networks', 'nodes', 'domainNames'])
      : namedPortPeerWarnings(body, 'ports', 'namedPort', ['networks', 'nodes', 'domainNames'])),
  ];
}

const CORE = ['v1'];
const APPS = ['apps/v1'];
const BATCH = ['batch/v1'];

export const KINDS: { readonly [T in ResourceType]: KindInfo<T> } = {
  Namespace: { type: 'Namespace', kind: 'Namespace', apiVersions: CORE, namespaced: false, schema: namespaceSchema },
  Pod: { type: 'Pod', kind: 'Pod', apiVersions: CORE, namespaced: true, schema: podSchema },
  Service: { type: 'Service', kind: 'Service', apiVersions: CORE, namespaced: true, schema: serviceSchema },
  ServiceAccount: { type: 'ServiceAccount', kind: 'ServiceAccount', apiVersions: CORE, namespaced: true, schema: serviceAccountSchema },
  Deployment: { type: 'Deployment', kind: 'Deployment', apiVersions: APPS, namespaced: true, schema: deploymentSchema },
  StatefulSet: { type: 'StatefulSet', kind: 'StatefulSet', apiVersions: APPS, namespaced: true, schema: statefulSetSchema },
  DaemonSet: { type: 'DaemonSet', kind: 'DaemonSet', apiVersions: APPS, namespaced: true, schema: daemonSetSchema },
  ReplicaSet: { type: 'ReplicaSet', kind: 'ReplicaSet', apiVersions: APPS, namespaced: true, schema: replicaSetSchema },
  Job: { type: 'Job', kind: 'Job', apiVersions: BATCH, namespaced: true, schema: jobSchema },
  CronJob: { type: 'CronJob', kind: 'CronJob', apiVersions: BATCH, namespaced: true, schema: cronJobSchema },
  KubernetesNetworkPolicy: {
    type: 'KubernetesNetworkPolicy',
    kind: 'NetworkPolicy',
    apiVersions: ['networking.k8s.io/v1'],
    namespaced: true,
    schema: kubernetesNetworkPolicySchema,
    warnings: (b) => ipBlockWarnings(b.spec, ['spec']),
  },
  Tier: { type: 'Tier', kind: 'Tier', apiVersions: CALICO_API_VERSIONS, namespaced: false, schema: tierSchema },
  NetworkPolicy: { type: 'NetworkPolicy', kind: 'NetworkPolicy', apiVersions: CALICO_API_VERSIONS, namespaced: true, schema: networkPolicySchema },
  GlobalNetworkPolicy: { type: 'GlobalNetworkPolicy', kind: 'GlobalNetworkPolicy', apiVersions: CALICO_API_VERSIONS, namespaced: false, schema: globalNetworkPolicySchema },
  StagedNetworkPolicy: { type: 'StagedNetworkPolicy', kind: 'StagedNetworkPolicy', apiVersions: CALICO_API_VERSIONS, namespaced: true, schema: stagedNetworkPolicySchema },
  StagedGlobalNetworkPolicy: {
    type: 'StagedGlobalNetworkPolicy',
    kind: 'StagedGlobalNetworkPolicy',
    apiVersions: CALICO_API_VERSIONS,
    namespaced: false,
    schema: stagedGlobalNetworkPolicySchema,
  },
  StagedKubernetesNetworkPolicy: {
    type: 'StagedKubernetesNetworkPolicy',
    kind: 'StagedKubernetesNetworkPolicy',
    apiVersions: CALICO_API_VERSIONS,
    namespaced: true,
    schema: stagedKubernetesNetworkPolicySchema,
    warnings: (b) => ipBlockWarnings(b.spec, ['spec']),
  },
  NetworkSet: {
    type: 'NetworkSet',
    kind: 'NetworkSet',
    apiVersions: CALICO_API_VERSIONS,
    namespaced: true,
    schema: networkSetSchema,
    warnings: (b) => maskedCidrWarnings(b.spec.nets, ['spec', 'nets']),
  },
  GlobalNetworkSet: {
    type: 'GlobalNetworkSet',
    kind: 'GlobalNetworkSet',
    apiVersions: CALICO_API_VERSIONS,
    namespaced: false,
    schema: globalNetworkSetSchema,
    warnings: (b) => maskedCidrWarnings(b.spec.nets, ['spec', 'nets']),
  },
  HostEndpoint: { type: 'HostEndpoint', kind: 'HostEndpoint', apiVersions: CALICO_API_VERSIONS, namespaced: false, schema: hostEndpointSchema },
  WorkloadEndpoint: { type: 'WorkloadEndpoint', kind: 'WorkloadEndpoint', apiVersions: CALICO_API_VERSIONS, namespaced: true, schema: workloadEndpointSchema },
  GlobalThreatFeed: { type: 'GlobalThreatFeed', kind: 'GlobalThreatFeed', apiVersions: CALICO_API_VERSIONS, namespaced: false, schema: globalThreatFeedSchema },
  AdminNetworkPolicy: {
    type: 'AdminNetworkPolicy',
    kind: 'AdminNetworkPolicy',
    apiVersions: ['policy.networking.k8s.io/v1alpha1'],
    namespaced: false,
    schema: adminNetworkPolicySchema,
    warnings: (b) => adminPolicyWarnings(b, false),
  },
  BaselineAdminNetworkPolicy: {
    type: 'BaselineAdminNetworkPolicy',
    kind: 'BaselineAdminNetworkPolicy',
    apiVersions: ['policy.networking.k8s.io/v1alpha1'],
    namespaced: false,
    schema: baselineAdminNetworkPolicySchema,
    warnings: (b) => adminPolicyWarnings(b, false),
  },
  ClusterNetworkPolicy: {
    type: 'ClusterNetworkPolicy',
    kind: 'ClusterNetworkPolicy',
    apiVersions: ['policy.networking.k8s.io/v1alpha2'],
    namespaced: false,
    schema: clusterNetworkPolicySchema,
    warnings: (b) => adminPolicyWarnings(b, true),
  },
  ConnectivityInvariant: {
    type: 'ConnectivityInvariant',
    kind: 'ConnectivityInvariant',
    apiVersions: ['strata/v1'],
    namespaced: false,
    schema: connectivityInvariantSchema,
  },
};

export const RESOURCE_TYPES: readonly ResourceType[] = Object.keys(KINDS) as ResourceType[];

const byKey = new Map<string, ResourceType>();
for (const t of RESOURCE_TYPES) for (const v of KINDS[t].apiVersions) byKey.set(`${v}\u0000${KINDS[t].kind}`, t);

/** The resource type of an apiVersion/kind pair, if Strata accepts it. */
export function resourceTypeOf(apiVersion: string, kind: string): ResourceType | undefined {
  return byKey.get(`${apiVersion}\u0000${kind}`);
}

/** Every kind name Strata accepts (for "did you mean"). */
export const KNOWN_KINDS: readonly string[] = [...new Set(RESOURCE_TYPES.map((t) => KINDS[t].kind))];

/** The apiVersions that serve `kind`, when Strata knows the kind under some apiVersion. */
export function apiVersionsOfKind(kind: string): readonly string[] {
  return RESOURCE_TYPES.filter((t) => KINDS[t].kind === kind).flatMap((t) => KINDS[t].apiVersions);
}

/** API groups Strata reads from, so a known kind under another version there is an error, not a skip. */
export const KNOWN_GROUPS: ReadonlySet<string> = new Set(['', 'apps', 'batch', 'extensions', 'networking.k8s.io', 'projectcalico.org', 'crd.projectcalico.org', 'policy.networking.k8s.io', 'strata']);

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * The kinds the policy API groups serve that Strata deliberately does not read (from the upstream
 * API definitions: Calico's api/pkg/apis/projectcalico/v3, Kubernetes' networking/v1 and the
 * network-policy-api CRDs). Any other kind in these groups is a mistake, not a kind to skip.
 */
const OTHER_CALICO_KINDS: readonly string[] = [
      'BGPConfiguration', 'BGPFilter', 'BGPPeer', 'BlockAffinity', 'CalicoNodeStatus', 'ClusterInformation',
    'FelixConfiguration', 'IPAMConfiguration', 'IPAMBlock', 'IPAMHandle', 'IPPool', 'IPReservation',
    'KubeControllersConfiguration', 'Node', 'Profile', 'LicenseKey', 'ManagedCluster', 'PacketCapture',
    'DeepPacketInspection', 'UISettings', 'UISettingsGroup', 'GlobalAlert', 'GlobalAlertTemplate', 'GlobalReport',
    'GlobalReportType', 'RemoteClusterConfiguration', 'AlertException', 'EgressGatewayPolicy', 'ExternalNetwork',
    'BFDConfiguration', 'SecurityEventWebhook', 'PolicyRecommendationScope', 'Tenant', 'StagedAction',
];
const OTHER_KINDS_OF_POLICY_GROUPS: Readonly<Record<string, readonly string[]>> = {
  'networking.k8s.io': ['Ingress', 'IngressClass', 'IPAddress', 'ServiceCIDR'],
  'policy.networking.k8s.io': [],
  'projectcalico.org': OTHER_CALICO_KINDS,
  'crd.projectcalico.org': OTHER_CALICO_KINDS,
};

/** True when `group` is a policy API group and serves no kind called `kind` (a mistake, not a skip). */
export function isUnknownKindOfPolicyGroup(group: string, kind: string): boolean {
  const others = OTHER_KINDS_OF_POLICY_GROUPS[group];
  if (others === undefined) return false;
  // `XxxList` documents are handled before this; a list kind of the group is still a real kind.
  const base = kind.endsWith('List') ? kind.slice(0, -4) : kind;
  return !others.includes(base) && !KNOWN_KINDS.includes(base);
}
