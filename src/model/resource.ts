// The loaded-resource union: one member per resource type, discriminated on `type` (not on `kind`,
// because Kubernetes and Calico both have a kind named NetworkPolicy).
import type { AdminNetworkPolicy } from './admin-network-policy.ts';
import type { BaselineAdminNetworkPolicy } from './baseline-admin-network-policy.ts';
import type { ClusterNetworkPolicy } from './cluster-network-policy.ts';
import type { ConnectivityInvariant } from './connectivity-invariant.ts';
import type { CronJob } from './cron-job.ts';
import type { DaemonSet } from './daemon-set.ts';
import type { Deployment } from './deployment.ts';
import type { GlobalNetworkPolicy } from './global-network-policy.ts';
import type { GlobalNetworkSet } from './global-network-set.ts';
import type { GlobalThreatFeed } from './global-threat-feed.ts';
import type { HostEndpoint } from './host-endpoint.ts';
import type { Job } from './job.ts';
import type { KubernetesNetworkPolicy } from './kubernetes-network-policy.ts';
import type { Namespace } from './namespace.ts';
import type { NetworkPolicy } from './network-policy.ts';
import type { NetworkSet } from './network-set.ts';
import type { Origin } from './origin.ts';
import type { Pod } from './pod.ts';
import type { ReplicaSet } from './replica-set.ts';
import type { ServiceAccount } from './service-account.ts';
import type { Service } from './service.ts';
import type { StagedGlobalNetworkPolicy } from './staged-global-network-policy.ts';
import type { StagedKubernetesNetworkPolicy } from './staged-kubernetes-network-policy.ts';
import type { StagedNetworkPolicy } from './staged-network-policy.ts';
import type { StatefulSet } from './stateful-set.ts';
import type { Tier } from './tier.ts';
import type { WorkloadEndpoint } from './workload-endpoint.ts';

/** The validated body of each resource type: the whole object, upstream field names, defaults applied. */
export interface BodyByType {
  readonly Namespace: Namespace;
  readonly Pod: Pod;
  readonly Service: Service;
  readonly ServiceAccount: ServiceAccount;
  readonly Deployment: Deployment;
  readonly StatefulSet: StatefulSet;
  readonly DaemonSet: DaemonSet;
  readonly ReplicaSet: ReplicaSet;
  readonly Job: Job;
  readonly CronJob: CronJob;
  /** networking.k8s.io/v1 NetworkPolicy. */
  readonly KubernetesNetworkPolicy: KubernetesNetworkPolicy;
  readonly Tier: Tier;
  /** Calico projectcalico.org/v3 NetworkPolicy. */
  readonly NetworkPolicy: NetworkPolicy;
  readonly GlobalNetworkPolicy: GlobalNetworkPolicy;
  readonly StagedNetworkPolicy: StagedNetworkPolicy;
  readonly StagedGlobalNetworkPolicy: StagedGlobalNetworkPolicy;
  readonly StagedKubernetesNetworkPolicy: StagedKubernetesNetworkPolicy;
  readonly NetworkSet: NetworkSet;
  readonly GlobalNetworkSet: GlobalNetworkSet;
  readonly HostEndpoint: HostEndpoint;
  readonly WorkloadEndpoint: WorkloadEndpoint;
  readonly GlobalThreatFeed: GlobalThreatFeed;
  readonly AdminNetworkPolicy: AdminNetworkPolicy;
  readonly BaselineAdminNetworkPolicy: BaselineAdminNetworkPolicy;
  readonly ClusterNetworkPolicy: ClusterNetworkPolicy;
  /** strata/v1 ConnectivityInvariant: a connectivity promise `check` verifies. */
  readonly ConnectivityInvariant: ConnectivityInvariant;
}

export type ResourceType = keyof BodyByType;

export interface Loaded<T extends ResourceType, B> {
  readonly type: T;
  /** As written (`projectcalico.org/v3` or `crd.projectcalico.org/v1` for the same type). */
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** The namespace of namespaced types (`default` when the manifest gives none); undefined otherwise. */
  readonly namespace: string | undefined;
  readonly body: B;
  readonly origin: Origin;
}

export type Resource = { [T in ResourceType]: Loaded<T, BodyByType[T]> }[ResourceType];

/** The resource of one type: `ResourceOf<'Tier'>`. */
export type ResourceOf<T extends ResourceType> = Extract<Resource, { readonly type: T }>;
