// Calico `StagedNetworkPolicy`: a NetworkPolicy that is evaluated and reported but not enforced
// (`stagedAction: Set`), or the staged removal of one (`Delete`). Upstream: .../v3/stagednetworkpolicy.go.
import type { z } from 'zod';
import { NAMESPACED_SPEC_HINTS, policySpecCheck, policySpecShape, stagedActionShape } from './calico-policy-spec.ts';
import { checkCalicoPolicyName } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { hinted, strict } from './schema-kit.ts';

const { stagedAction: _stagedAction, ...hints } = NAMESPACED_SPEC_HINTS;

export const stagedNetworkPolicySpecSchema = hinted(
  strict({ ...stagedActionShape, ...policySpecShape }).check(policySpecCheck({ global: false, staged: true })),
  hints,
);

export const stagedNetworkPolicySchema = resourceSchema(
  {
    /** The staged policy. Required. */
    spec: stagedNetworkPolicySpecSchema,
  },
  checkCalicoPolicyName,
);

export type StagedNetworkPolicy = z.output<typeof stagedNetworkPolicySchema>;
