// `BaselineAdminNetworkPolicy` (policy.networking.k8s.io/v1alpha1): the single cluster baseline,
// named `default`, below NetworkPolicies; actions Allow/Deny. Loaded and validated only.
// Upstream: network-policy-api apis/v1alpha1/baselineadminnetworkpolicy_types.go.
import { z } from 'zod';
import { adminPortSchema, adminEgressPeerShape } from './admin-network-policy.ts';
import { exactlyOne, namedPortPeerCheck, subjectSchema } from './admin-policy-common.ts';
import { checkDns1123Subdomain } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { oneOf, strict } from './schema-kit.ts';

const ACTIONS = ['Allow', 'Deny'] as const;
const isNamedPort = (p: Readonly<Record<string, unknown>>): boolean => p['namedPort'] !== undefined;

const egressPeerSchema = strict({ ...adminEgressPeerShape }).check(exactlyOne(['namespaces', 'pods', 'nodes', 'networks'], 'an egress peer'));

const ingressRuleSchema = strict({
  /** Rule name, ≤ 100 characters. */
  name: z.string().max(100).optional(),
  /** Allow or Deny. Required. */
  action: oneOf(ACTIONS, 'model/invalid-action'),
  /** Sources, 1–100. Required. */
  from: z.array(subjectSchema).min(1).max(100),
  /** Destination ports, 1–100; absent = all. */
  ports: z.array(adminPortSchema).min(1).max(100).optional(),
});

const egressRuleSchema = strict({
  /** Rule name, ≤ 100 characters. */
  name: z.string().max(100).optional(),
  /** Allow or Deny. Required. */
  action: oneOf(ACTIONS, 'model/invalid-action'),
  /** Destinations, 1–100. Required. */
  to: z.array(egressPeerSchema).min(1).max(100),
  /** Destination ports, 1–100; absent = all. */
  ports: z.array(adminPortSchema).min(1).max(100).optional(),
}).check(namedPortPeerCheck('to', 'ports', isNamedPort, ['networks', 'nodes']));

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
