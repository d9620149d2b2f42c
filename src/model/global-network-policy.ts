// Calico `GlobalNetworkPolicy`: cluster-wide; applies to workload and host endpoints in every
// namespace (narrowed by `namespaceSelector`). Upstream: api/.../v3/globalnetworkpolicy.go.
import type { z } from 'zod';
import { GLOBAL_SPEC_HINTS, globalPolicySpecShape, policySpecCheck, policySpecShape } from './calico-policy-spec.ts';
import { checkGlobalPolicyName } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { hinted, strict } from './schema-kit.ts';

export const globalNetworkPolicySpecSchema = hinted(
  strict({ ...policySpecShape, ...globalPolicySpecShape }).check(policySpecCheck({ global: true, staged: false })),
  GLOBAL_SPEC_HINTS,
);

export const globalNetworkPolicySchema = resourceSchema(
  {
    /** The policy. Required. */
    spec: globalNetworkPolicySpecSchema,
  },
  checkGlobalPolicyName,
);

export type GlobalNetworkPolicy = z.output<typeof globalNetworkPolicySchema>;
export type GlobalNetworkPolicySpec = z.output<typeof globalNetworkPolicySpecSchema>;
