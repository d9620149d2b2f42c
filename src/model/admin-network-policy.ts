// `AdminNetworkPolicy` (policy.networking.k8s.io/v1alpha1), cluster-scoped, priority 0–1000,
// actions Allow/Deny/Pass; src/engine/convert-admin.ts gives it effect. Upstream: network-policy-api
// apis/v1alpha1/adminnetworkpolicy_types.go and shared_types.go.
import { z } from 'zod';
import { adminCidrSchema, adminDomainNameSchema, exactlyOne, namespacedPodSchema, subjectSchema } from './admin-policy-common.ts';
import { labelSelectorSchema } from './label-selector.ts';
import { checkDns1123Subdomain } from './names.ts';
import { kubernetesProtocolSchema } from './protocol.ts';
import { resourceSchema } from './resource-schema.ts';
import { crossCheck, intInRange, oneOf, report, strict } from './schema-kit.ts';

const portRangeShape = strict({
  /** TCP (default), UDP or SCTP. */
  protocol: kubernetesProtocolSchema.default('TCP'),
  /** First port, 1–65535, less than end. Required. */
  start: intInRange(1, 65535, 'model/port-out-of-range', 'start'),
  /** Last port, 1–65535. Required. */
  end: intInRange(1, 65535, 'model/port-out-of-range', 'end'),
});

export const portRangeSchema = portRangeShape.check(
  crossCheck<z.output<typeof portRangeShape>>((r, ctx) => {
    if (r.start >= r.end) report(ctx, ['end'], `the range start (${r.start}) must be less than its end (${r.end})`, { code: 'model/port-out-of-range' });
  }),
);

/** v1alpha1 AdminNetworkPolicyPort: exactly one of portNumber, namedPort, portRange. */
export const adminPortSchema = strict({
  /** One port: protocol (default TCP) and number 1–65535. */
  portNumber: strict({
    /** TCP (default), UDP or SCTP. */
    protocol: kubernetesProtocolSchema.default('TCP'),
    /** 1–65535. Required. */
    port: intInRange(1, 65535, 'model/port-out-of-range', 'port'),
  }).optional(),
  /** A container port name (experimental). */
  namedPort: z.string().optional(),
  /** An inclusive range. */
  portRange: portRangeSchema.optional(),
}).check(exactlyOne(['portNumber', 'namedPort', 'portRange'], 'a port'));

export const adminEgressPeerShape = {
  /** Pods in namespaces matching this. */
  namespaces: labelSelectorSchema.optional(),
  /** Pods matching in namespaces matching. */
  pods: namespacedPodSchema.optional(),
  /** Nodes matching this. */
  nodes: labelSelectorSchema.optional(),
  /** CIDRs, 1–25. */
  networks: z.array(adminCidrSchema).min(1).max(25).optional(),
};

const egressPeerSchema = strict({
  ...adminEgressPeerShape,
  /** Domain names, 1–25; `*.` wildcard allowed at the start. */
  domainNames: z.array(adminDomainNameSchema).min(1).max(25).optional(),
}).check(exactlyOne(['namespaces', 'pods', 'nodes', 'networks', 'domainNames'], 'an egress peer'));

/**
 * The ingress and egress rule schemas of AdminNetworkPolicy and BaselineAdminNetworkPolicy, which
 * differ only in their actions and in the egress peers they accept.
 */
// The return type is inferred on purpose: it carries each kind's exact zod output types.
export function adminRuleSchemas<const A extends readonly [string, ...string[]], P extends z.ZodType>(actions: A, egressPeer: P) {
  const common = {
    /** Rule name, ≤ 100 characters. */
    name: z.string().max(100).optional(),
    /** One of the kind's actions. Required. */
    action: oneOf(actions, 'model/invalid-action'),
    /** Destination ports, 1–100; absent = all. */
    ports: z.array(adminPortSchema).min(1).max(100).optional(),
  };
  return {
    /** Sources, 1–100. Required. */
    ingress: strict({ ...common, from: z.array(subjectSchema).min(1).max(100) }),
    /** Destinations, 1–100. Required. */
    egress: strict({ ...common, to: z.array(egressPeer).min(1).max(100) }),
  };
}

const rules = adminRuleSchemas(['Allow', 'Deny', 'Pass'] as const, egressPeerSchema);
const ingressRuleSchema = rules.ingress;
const egressRuleSchema = rules.egress;

export const adminNetworkPolicySchema = resourceSchema(
  {
    /** The policy. Required. */
    spec: strict({
      /** 0–1000, lower first. Required. */
      priority: intInRange(0, 1000, 'model/invalid-value', 'priority'),
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
  checkDns1123Subdomain,
);

export type AdminNetworkPolicy = z.output<typeof adminNetworkPolicySchema>;
