// `BaselineAdminNetworkPolicy` (policy.networking.k8s.io/v1alpha1): the single cluster baseline,
// named `default`, below NetworkPolicies; actions Allow/Deny.
// Upstream: network-policy-api apis/v1alpha1/baselineadminnetworkpolicy_types.go.
import { z } from 'zod';
import { adminEgressPeerShape, adminRuleSchemas } from './admin-network-policy.ts';
import { exactlyOne, subjectSchema } from './admin-policy-common.ts';
import { checkDns1123Subdomain } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { strict } from './schema-kit.ts';

const egressPeerSchema = strict({ ...adminEgressPeerShape }).check(exactlyOne(['namespaces', 'pods', 'nodes', 'networks'], 'an egress peer'));
const rules = adminRuleSchemas(['Allow', 'Deny'] as const, egressPeerSchema);
const ingressRuleSchema = rules.ingress;
const egressRuleSchema = rules.egress;

export const baselineAdminNetworkPolicySchema = resourceSchema(
  {
    /** The policy. Required. */
    spec: strict({
      /** Pods it applies to: namespaces or pods. Required. */
      subject: subjectSchema,
      /** Ingress rules, in order, ≤ 100. */
      ingress: z.array(ingressRuleSchema).max(100).optional(),
      /** Egress rules, in order, ≤ 100. */
      egress: z.array(egressRuleSchema).max(100).optional(),
    }),
    /** Conditions; ignored. */
    status: z.looseObject({}).optional(),
  },
  (name) => checkDns1123Subdomain(name) ?? (name === 'default' ? undefined : 'must be "default": there is only one baseline admin network policy'),
);

export type BaselineAdminNetworkPolicy = z.output<typeof baselineAdminNetworkPolicySchema>;
