// Calico `StagedGlobalNetworkPolicy`: a GlobalNetworkPolicy evaluated but not enforced, or the
// staged removal of one. Upstream: api/.../v3/stagedglobalnetworkpolicy.go.
import type { z } from 'zod';
import { GLOBAL_SPEC_HINTS, globalPolicySpecShape, policySpecCheck, policySpecShape, stagedActionShape } from './calico-policy-spec.ts';
import { checkGlobalPolicyName } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { hinted, strict } from './schema-kit.ts';

const { stagedAction: _stagedAction, ...hints } = GLOBAL_SPEC_HINTS;

export const stagedGlobalNetworkPolicySpecSchema = hinted(
  strict({ ...stagedActionShape, ...policySpecShape, ...globalPolicySpecShape }).check(policySpecCheck({ global: true, staged: true })),
  hints,
);

export const stagedGlobalNetworkPolicySchema = resourceSchema(
  {
    /** The staged policy. Required. */
    spec: stagedGlobalNetworkPolicySpecSchema,
  },
  checkGlobalPolicyName,
);

export type StagedGlobalNetworkPolicy = z.output<typeof stagedGlobalNetworkPolicySchema>;
