// Calico `NetworkPolicy` (projectcalico.org/v3, also crd.projectcalico.org/v1): namespaced; applies
// to endpoints in its own namespace. Upstream: api/pkg/apis/projectcalico/v3/networkpolicy.go.
import type { z } from 'zod';
import { NAMESPACED_SPEC_HINTS, policySpecCheck, policySpecShape } from './calico-policy-spec.ts';
import { checkCalicoPolicyName } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { hinted, strict } from './schema-kit.ts';

export const networkPolicySpecSchema = hinted(strict({ ...policySpecShape }).check(policySpecCheck({ global: false, staged: false })), NAMESPACED_SPEC_HINTS);

export const networkPolicySchema = resourceSchema(
  {
    /** The policy. Required. */
    spec: networkPolicySpecSchema,
  },
  checkCalicoPolicyName,
);

export type NetworkPolicy = z.output<typeof networkPolicySchema>;
export type NetworkPolicySpec = z.output<typeof networkPolicySpecSchema>;
