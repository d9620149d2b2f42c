// Facts about policy kinds that several engine modules need.
import type { PolicyKind } from './model.ts';

export function isNamespacedKind(kind: PolicyKind): boolean {
  switch (kind) {
    case 'GlobalNetworkPolicy':
    case 'StagedGlobalNetworkPolicy':
    case 'AdminNetworkPolicy':
    case 'BaselineAdminNetworkPolicy':
    case 'ClusterNetworkPolicy':
      return false;
    default:
      return true;
  }
}

export function isStagedKind(kind: PolicyKind): boolean {
  return kind === 'StagedGlobalNetworkPolicy' || kind === 'StagedNetworkPolicy' || kind === 'StagedKubernetesNetworkPolicy';
}

/** Calico's name of a kind where it differs from Strata's (the order tie-break compares it). */
export function calicoKindName(kind: PolicyKind): string {
  switch (kind) {
    case 'ClusterNetworkPolicy':
      return 'KubernetesClusterNetworkPolicy'; // libcalico-go/lib/backend/model/kubeclusternetworkpolicy.go
    case 'AdminNetworkPolicy':
      return 'KubernetesAdminNetworkPolicy'; // by analogy: Calico 3.32 no longer has this kind
    case 'BaselineAdminNetworkPolicy':
      return 'KubernetesBaselineAdminNetworkPolicy';
    default:
      return kind;
  }
}
