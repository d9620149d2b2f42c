// Calico `StagedKubernetesNetworkPolicy`: a Kubernetes NetworkPolicy spec plus `stagedAction`,
// evaluated but not enforced. Upstream: api/.../v3/stagedkubernetesnetworkpolicy.go and
// validator.go validateStagedKubernetesNetworkPolicy (Delete: every other field zero).
import type { z } from 'zod';
import { policySpecCheck, stagedActionShape } from './calico-policy-spec.ts';
import { KUBERNETES_SPEC_HINTS, kubernetesNetworkPolicySpecShape } from './kubernetes-network-policy.ts';
import { checkDns1123Subdomain } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { hinted, strict } from './schema-kit.ts';

export const stagedKubernetesNetworkPolicySpecSchema = hinted(
  // policySpecCheck's staged part: a Delete must leave the rest empty; Kubernetes specs have no
  // Calico-only fields for its other checks to find.
  strict({ ...stagedActionShape, ...kubernetesNetworkPolicySpecShape }).check(policySpecCheck({ global: false, staged: true })),
  KUBERNETES_SPEC_HINTS,
);

export const stagedKubernetesNetworkPolicySchema = resourceSchema(
  {
    /** The staged policy. Required. */
    spec: stagedKubernetesNetworkPolicySpecSchema,
  },
  checkDns1123Subdomain,
);

export type StagedKubernetesNetworkPolicy = z.output<typeof stagedKubernetesNetworkPolicySchema>;
