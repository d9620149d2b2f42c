// `ClusterNetworkPolicy` (policy.networking.k8s.io/v1alpha2): tier Admin or Baseline, priority
// 0–1000, actions Accept/Deny/Pass, protocol-first port matches. Calico (and
// src/engine/convert-admin.ts) maps it to tiers kube-admin/kube-baseline. Upstream: network-policy-api
// apis/v1alpha2/clusternetworkpolicy_types.go.
import { z } from 'zod';
import { adminCidrSchema, adminDomainNameSchema, exactlyOne, namespacedPodSchema, subjectSchema } from './admin-policy-common.ts';
import { labelSelectorSchema } from './label-selector.ts';
import { checkDns1123Subdomain } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { crossCheck, intInRange, oneOf, report, strict } from './schema-kit.ts';

const rangeShape = strict({
  /** First port, 1–65535, less than end. Required. */
  start: intInRange(1, 65535, 'model/port-out-of-range', 'start'),
  /** Last port, 1–65535. Required. */
  end: intInRange(1, 65535, 'model/port-out-of-range', 'end'),
});

const rangeSchema = rangeShape.check(
  crossCheck<z.output<typeof rangeShape>>((r, ctx) => {
    if (r.start >= r.end) report(ctx, ['end'], 'Start port must be less than End port', { code: 'model/port-out-of-range' });
  }),
);

const destinationPortSchema = strict({
  /** One port, 1–65535. */
  number: intInRange(1, 65535, 'model/port-out-of-range', 'port').optional(),
  /** An inclusive range. */
  range: rangeSchema.optional(),
}).check(exactlyOne(['number', 'range'], 'a destinationPort'));

const protocolMatch = strict({
  /** Destination port; absent = all ports of the protocol (the object must not be empty). */
  destinationPort: destinationPortSchema.optional(),
}).check(exactlyOne(['destinationPort'], 'a protocol match'));

const protocolSchema = strict({
  /** TCP traffic, optionally to a port. */
  tcp: protocolMatch.optional(),
  /** UDP traffic, optionally to a port. */
  udp: protocolMatch.optional(),
  /** SCTP traffic, optionally to a port. */
  sctp: protocolMatch.optional(),
  /** A container port by name (any protocol). */
  destinationNamedPort: z.string().optional(),
}).check(exactlyOne(['tcp', 'udp', 'sctp', 'destinationNamedPort'], 'a protocol'));

const egressPeerSchema = strict({
  /** Pods in namespaces matching this. */
  namespaces: labelSelectorSchema.optional(),
  /** Pods matching in namespaces matching. */
  pods: namespacedPodSchema.optional(),
  /** Nodes matching this. */
  nodes: labelSelectorSchema.optional(),
  /** CIDRs, 1–25. */
  networks: z.array(adminCidrSchema).min(1).max(25).optional(),
  /** Domain names, 1–25. */
  domainNames: z.array(adminDomainNameSchema).min(1).max(25).optional(),
}).check(exactlyOne(['namespaces', 'pods', 'nodes', 'networks', 'domainNames'], 'an egress peer'));

const ACTIONS = ['Accept', 'Deny', 'Pass'] as const;

const ingressRuleSchema = strict({
  /** Rule name, ≤ 100 characters. */
  name: z.string().max(100).optional(),
  /** Accept, Deny or Pass. Required. */
  action: oneOf(ACTIONS, 'model/invalid-action'),
  /** Sources, 1–25. Required. */
  from: z.array(subjectSchema).min(1).max(25),
  /** Protocols and ports, 1–25; absent = all. */
  protocols: z.array(protocolSchema).min(1).max(25).optional(),
});

const egressRuleSchema = strict({
  /** Rule name, ≤ 100 characters. */
  name: z.string().max(100).optional(),
  /** Accept, Deny or Pass. Required. */
  action: oneOf(ACTIONS, 'model/invalid-action'),
  /** Destinations, 1–25. Required. */
  to: z.array(egressPeerSchema).min(1).max(25),
  /** Protocols and ports, 1–25; absent = all. */
  protocols: z.array(protocolSchema).min(1).max(25).optional(),
});

export const clusterNetworkPolicySchema = resourceSchema(
  {
    /** The policy. Required. */
    spec: strict({
      /** Admin (before NetworkPolicies, tier kube-admin) or Baseline (after, kube-baseline). Required. */
      tier: oneOf(['Admin', 'Baseline']),
      /** 0–1000, lower first within the tier. Required. */
      priority: intInRange(0, 1000, 'model/invalid-value', 'priority'),
      /** Pods it applies to: namespaces or pods. Required. */
      subject: subjectSchema,
      /** Ingress rules, in order, ≤ 25. */
      ingress: z.array(ingressRuleSchema).max(25).optional(),
      /** Egress rules, in order, ≤ 25. */
      egress: z.array(egressRuleSchema).max(25).optional(),
    }),
    /** Conditions; ignored. */
    status: z.looseObject({}).optional(),
  },
  checkDns1123Subdomain,
);

export type ClusterNetworkPolicy = z.output<typeof clusterNetworkPolicySchema>;
