// Policy identities: the key every index uses, and which enforced policy a staged one stands for.
import type { Policy } from './model.ts';

export function policyKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

/** Which enforced policy a staged policy stands for (same name, namespace, tier, dialect). */
export function enforcedKeyOfStaged(p: Pick<Policy, 'kind' | 'name' | 'namespace'>): string | undefined {
  switch (p.kind) {
    case 'StagedGlobalNetworkPolicy':
      return `GlobalNetworkPolicy//${p.name}`;
    case 'StagedNetworkPolicy':
      return `NetworkPolicy/${p.namespace ?? ''}/${p.name}`;
    case 'StagedKubernetesNetworkPolicy':
      return `KubernetesNetworkPolicy/${p.namespace ?? ''}/${p.name}`;
    default:
      return undefined;
  }
}
