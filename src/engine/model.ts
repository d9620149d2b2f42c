// The engine's data model: what the builder produces from validated resources and what the
// evaluation pipeline, the analyses and the dataplane compiler consume. Plain readonly data;
// behaviour lives in the functions of the other engine modules.
//
// Every policy here is already in Calico's *internal* form: Kubernetes NetworkPolicies have been
// converted, namespace and service-account scoping has been folded into the selectors, ports and
// protocols are numbers. Nothing downstream needs to know which dialect a policy was written in,
// except to name it.
import type { Labels, Selector } from '../selector/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';
import type { Origin, FieldPath } from '../model/origin.ts';

export type Direction = 'ingress' | 'egress';
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

export type RuleAction = 'allow' | 'deny' | 'pass' | 'log';

/** Kinds as Calico names them in policy keys (v3.32+); they take part in the order tie-break. */
export type PolicyKind =
  | 'GlobalNetworkPolicy'
  | 'NetworkPolicy'
  | 'KubernetesNetworkPolicy'
  | 'StagedGlobalNetworkPolicy'
  | 'StagedNetworkPolicy'
  | 'StagedKubernetesNetworkPolicy'
  // The upstream admin policies keep the kind the user wrote (Calico's own kind for a converted
  // ClusterNetworkPolicy, KubernetesClusterNetworkPolicy, only shows in the order tie-break).
  | 'AdminNetworkPolicy'
  | 'BaselineAdminNetworkPolicy'
  | 'ClusterNetworkPolicy';

export type StagedAction = 'Set' | 'Delete' | 'Learn' | 'Ignore';

/** Calico's short kind names, used in flow-log policy strings and nft comments. */
export const SHORT_KIND: Readonly<Record<PolicyKind, string>> = {
  GlobalNetworkPolicy: 'gnp',
  NetworkPolicy: 'np',
  KubernetesNetworkPolicy: 'knp',
  StagedGlobalNetworkPolicy: 'sgnp',
  StagedNetworkPolicy: 'snp',
  StagedKubernetesNetworkPolicy: 'sknp',
  // felix/types/policy_id.go (v3.32) for kcnp; kanp/kbanp are the prefixes Calico ≤ 3.31 gave
  // AdminNetworkPolicy and BaselineAdminNetworkPolicy (libcalico-go/lib/names/policy.go).
  AdminNetworkPolicy: 'kanp',
  BaselineAdminNetworkPolicy: 'kbanp',
  ClusterNetworkPolicy: 'kcnp',
};

/** An inclusive port range; a single port has min === max. */
export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** A list of ports as Calico holds it: numeric ranges OR-ed with named ports. */
export interface PortList {
  readonly ranges: readonly PortRange[];
  readonly named: readonly string[];
}

export interface IcmpMatch {
  readonly type: number;
  readonly code?: number;
}

/**
 * CIDRs split by family up front: Calico renders a rule per IP family with only that family's
 * CIDRs, and a non-empty list with nothing left for the family makes the rule inapplicable.
 */
export interface NetList {
  readonly v4: readonly Cidr[];
  readonly v6: readonly Cidr[];
}

/** One end of a rule (Calico's EntityRule) after selector composition. */
export interface EntityMatch {
  readonly nets?: NetList;
  readonly notNets?: NetList;
  /** Namespace / service-account / rule selector folded into one, exactly as Calico composes it. */
  readonly selector?: Selector;
  /** Carried unscoped, as Calico does. */
  readonly notSelector?: Selector;
  readonly ports?: PortList;
  readonly notPorts?: PortList;
  readonly service?: { readonly namespace: string; readonly name: string };
  /**
   * Calico Enterprise `domains` (egress Allow destinations): exact names or `*` wildcards. Only a
   * destination that is a domain name can match; the addresses DNS would return are unknown here.
   */
  readonly domains?: readonly string[];
}

export interface Rule {
  /** Zero-based index in its policy's rule list for this direction. */
  readonly index: number;
  readonly action: RuleAction;
  readonly ipVersion?: 4 | 6;
  readonly protocol?: number;
  readonly notProtocol?: number;
  readonly icmp?: IcmpMatch;
  readonly notIcmp?: IcmpMatch;
  readonly source: EntityMatch;
  readonly destination: EntityMatch;
  /** Where the rule sits in its resource, for spans in explanations and lint. */
  readonly path: FieldPath;
  /**
   * An HTTP match is only enforced by Calico's application layer; the L3/L4 engine ignores it,
   * but says so in explanations.
   */
  readonly hasHttpMatch: boolean;
}

export interface Policy {
  /** Unique key: `kind/namespace/name` (namespace empty for global kinds). */
  readonly key: string;
  readonly kind: PolicyKind;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly tier: string;
  /** `Infinity` when the policy has no order (it sorts last in its tier). */
  readonly order: number;
  readonly staged: boolean;
  readonly stagedAction: StagedAction | undefined;
  /** The endpoint selector after namespace / namespaceSelector / serviceAccountSelector folding. */
  readonly selector: Selector;
  readonly types: { readonly ingress: boolean; readonly egress: boolean };
  readonly ingress: readonly Rule[];
  readonly egress: readonly Rule[];
  /** GNP-only flags: doNotTrack and preDNAT policies never apply to workload endpoints. */
  readonly doNotTrack: boolean;
  readonly preDNAT: boolean;
  readonly applyOnForward: boolean;
  readonly origin: Origin;
}

export interface Tier {
  readonly name: string;
  /** Undefined sorts after every ordered tier. */
  readonly order: number | undefined;
  readonly defaultAction: 'deny' | 'pass';
  /** False for tiers only referenced by policies (Calico sorts them last; Strata reports an error). */
  readonly exists: boolean;
  readonly origin: Origin | undefined;
}

/** A Calico profile: namespace profiles (`kns.<ns>`) allow everything; SA profiles only carry labels. */
export interface Profile {
  readonly name: string;
  readonly labels: Labels;
  readonly ingress: readonly Rule[];
  readonly egress: readonly Rule[];
}

export interface EndpointPort {
  readonly name: string | undefined;
  readonly protocol: number;
  readonly port: number;
}

export type EndpointKind = 'workload' | 'host';

export interface Endpoint {
  /** `NS/NAME` for workloads; `hep:NAME` for host endpoints. */
  readonly id: string;
  readonly kind: EndpointKind;
  readonly name: string;
  readonly namespace: string | undefined;
  /** Which resource it came from (`Pod`, `Deployment`, `WorkloadEndpoint`, `HostEndpoint`, …). */
  readonly resourceType: string;
  /** Effective labels: own labels, then inherited profile labels (first profile wins). */
  readonly labels: Labels;
  readonly addresses: readonly IpAddress[];
  readonly ports: readonly EndpointPort[];
  readonly profiles: readonly Profile[];
  readonly serviceAccount: string | undefined;
  /** Node the endpoint runs on, when known (Pod spec.nodeName, WEP/HEP spec.node). */
  readonly node: string | undefined;
  /** Interface name, when known (WEP/HEP spec.interfaceName). */
  readonly interfaceName: string | undefined;
  readonly origin: Origin;
  /** Canonical text of the effective labels: endpoints with equal keys are selected by the same policies. */
  readonly labelKey: string;
}

export interface NetworkSetEntry {
  /** `NS/NAME` for NetworkSets, `NAME` for GlobalNetworkSets. */
  readonly id: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly labels: Labels;
  readonly nets: readonly Cidr[];
  readonly allowedEgressDomains: readonly string[];
  readonly origin: Origin;
}

export interface ServiceEntry {
  readonly namespace: string;
  readonly name: string;
  /** Label selector of the Service; undefined for selector-less Services. */
  readonly selector: Labels | undefined;
  readonly ports: readonly {
    readonly name: string | undefined;
    readonly port: number;
    readonly protocol: number;
    /** Number, or a container port name resolved per endpoint. */
    readonly targetPort: number | string;
  }[];
  /** spec.clusterIPs (or clusterIP): the virtual addresses kube-proxy translates; empty when headless or unset. */
  readonly clusterIPs?: readonly IpAddress[];
  /** `clusterIP: None`: no virtual IP, no port translation; clients reach the pods directly. */
  readonly headless?: boolean;
  /** spec.type; `ExternalName` Services are DNS aliases and have no backends. Optional: ClusterIP. */
  readonly type?: string;
  readonly origin: Origin;
}

export interface NamespaceEntry {
  readonly name: string;
  /** The namespace's own labels plus Kubernetes' automatic `kubernetes.io/metadata.name`. */
  readonly labels: Labels;
  /** False when only referenced (a pod in an undeclared namespace). */
  readonly declared: boolean;
  readonly origin: Origin | undefined;
}

/** A peer of a flow: a known endpoint, a bare address, or (destination only) a domain name. */
export type Peer =
  | { readonly kind: 'endpoint'; readonly endpoint: Endpoint; readonly address: IpAddress | undefined }
  | { readonly kind: 'address'; readonly address: IpAddress }
  | { readonly kind: 'domain'; readonly domain: string };

export interface Flow {
  readonly src: Peer;
  readonly dst: Peer;
  /** IANA protocol number. */
  readonly protocol: number;
  /** Destination port (TCP/UDP/SCTP); undefined for ICMP or when unknown. */
  readonly port: number | undefined;
  /** Source port, when known; rules with source ports never match an unknown one. */
  readonly srcPort: number | undefined;
  readonly icmp: { readonly type: number; readonly code: number } | undefined;
  /** 4 or 6: from the addresses, or 4 when no address is known. */
  readonly ipVersion: 4 | 6;
}

export const PROTOCOL = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132, UDPLITE: 136 } as const;
