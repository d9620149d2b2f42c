// Facts about policy kinds that several engine modules need.
import type { PolicyKind } from './model.ts';

export function isNamespacedKind(kind: PolicyKind): boolean {
  return kind !== 'GlobalNetworkPolicy' && kind !== 'StagedGlobalNetworkPolicy';
}

export function isStagedKind(kind: PolicyKind): boolean {
  return kind === 'StagedGlobalNetworkPolicy' || kind === 'StagedNetworkPolicy' || kind === 'StagedKubernetesNetworkPolicy';
}
