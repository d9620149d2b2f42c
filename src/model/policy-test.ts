// Strata's own kind `PolicyTest` (apiVersion `strata/v1`): flows and the decisions they must get,
// run by `strata test`. Not a cluster resource: the loader recognises it (and leaves it out of
// the cluster), `strata test` and `strata check` validate it with this schema. The JSON Schema in
// docs/schemas/policy-test.schema.json is generated from it (scripts/generate-schemas.ts).
import { z } from 'zod';
import { annotationMapSchema, labelMapSchema } from './object-meta.ts';
import { calicoSelector } from './selector-field.ts';
import { crossCheck, intInRange, report, tag } from './schema-kit.ts';

export const POLICY_TEST_API_VERSION = 'strata/v1';
export const POLICY_TEST_KIND = 'PolicyTest';

export function isPolicyTestHeader(apiVersion: string, kind: string): boolean {
  return apiVersion === POLICY_TEST_API_VERSION && kind === POLICY_TEST_KIND;
}

const verdict = tag(z.enum(['allow', 'deny']), { expected: '"allow" or "deny"' });

/** The deciding step's fields; those left out are not compared. Shared with `explain --flows`. */
export const decidedBySchema = z
  .strictObject({
    direction: z.enum(['egress', 'ingress']).nullable().optional().describe('the side that decided: egress (at the source) or ingress (at the destination)'),
    tier: z.string().nullable().optional().describe('tier of the deciding policy; null for a namespace profile'),
    policy: z.string().nullable().optional().describe('name of the deciding policy or profile (profiles are kns.NAMESPACE)'),
    namespace: z.string().nullable().optional().describe('namespace of the deciding policy; null for a global one'),
    kind: z.string().nullable().optional().describe('kind of the deciding policy: NetworkPolicy, GlobalNetworkPolicy, KubernetesNetworkPolicy, Profile, ... (any case)'),
    rule: z.number().int().min(0).nullable().optional().describe('index of the deciding rule; null when the end of a tier or a profile decided'),
    reason: z.string().optional().describe('why it decided: rule, end-of-tier, profile, loopback, ...'),
  })
  .describe('the deciding step; fields left out are not compared, null is a value');

const endpointSetSchema = z
  .strictObject({
    namespace: z.string().min(1).optional().describe('every endpoint of this namespace'),
    selector: tag(calicoSelector('forbidden').describe('a Calico selector over the endpoints\' labels, e.g. app == "web"'), {
      expected: 'a selector expression (a string)',
      code: 'model/invalid-selector',
    }),
  })
  .partial()
  .check(
    crossCheck<{ namespace?: string | undefined; selector?: string | undefined }>((v, ctx) => {
      if (v.namespace === undefined && v.selector === undefined) report(ctx, [], 'an endpoint set needs a namespace, a selector or both', { code: 'model/missing-field' });
    }),
  )
  .describe('a set of endpoints: every pair of the two sides must meet the expectation');

const sideSchema = tag(
  z.union([
    z.string().min(1).describe('anything explain accepts: NAMESPACE/NAME, hep:NAME, an IP address, a domain name (as destination)'),
    endpointSetSchema,
  ]),
  { expected: 'an endpoint (NAMESPACE/NAME, an address) or a set {namespace, selector}' },
);

export const policyTestCaseSchema = z
  .strictObject({
    name: z.string().min(1).describe('what the case checks, in words; the test report names it'),
    from: sideSchema.describe('source: an endpoint or address, or a set {namespace, selector}'),
    to: sideSchema.describe('destination: an endpoint, address or domain name, or a set {namespace, selector}'),
    port: intInRange(1, 65535, 'model/invalid-port', 'port').optional().describe('destination port (not for ICMP)'),
    protocol: tag(z.union([z.string(), z.number().int()]), { expected: 'a protocol name (TCP, UDP, SCTP, ICMP, ICMPv6) or number' })
      .optional()
      .describe('TCP (default), UDP, SCTP, ICMP, ICMPv6 or a protocol number'),
    srcPort: intInRange(1, 65535, 'model/invalid-port', 'srcPort').optional().describe('source port'),
    icmpType: intInRange(0, 255, 'model/invalid-value', 'icmpType').optional().describe('ICMP type (default echo request)'),
    icmpCode: intInRange(0, 255, 'model/invalid-value', 'icmpCode').optional().describe('ICMP code (default 0)'),
    expect: verdict.describe('the verdict the flow must get'),
    decidedBy: decidedBySchema.optional(),
    pending: verdict.optional().describe('the verdict once staged policies are enforced'),
    pendingDecidedBy: decidedBySchema.optional().describe('the deciding step once staged policies are enforced'),
  })
  .describe('one flow (or every pair of two endpoint sets) and the decision it must get');

export const policyTestSchema = z
  .strictObject({
    apiVersion: z.literal(POLICY_TEST_API_VERSION),
    kind: z.literal(POLICY_TEST_KIND),
    metadata: z.strictObject({
      name: z.string().min(1).describe('the test suite\'s name in reports'),
      labels: labelMapSchema.optional(),
      annotations: annotationMapSchema.optional(),
    }),
    spec: z.strictObject({
      description: z.string().optional().describe('what the suite is about'),
      cases: z.array(policyTestCaseSchema).min(1).describe('the cases, run in order'),
    }),
  })
  .describe('Strata PolicyTest: flows and the decisions Strata must give them (strata test)');

export type PolicyTest = z.output<typeof policyTestSchema>;
export type PolicyTestCase = z.output<typeof policyTestCaseSchema>;
export type DecidedByFields = z.output<typeof decidedBySchema>;

/** The published JSON Schema (docs/schemas/policy-test.schema.json) as an object. */
export function policyTestJsonSchema(): Record<string, unknown> {
  return { title: 'Strata PolicyTest', ...z.toJSONSchema(policyTestSchema, { io: 'input', unrepresentable: 'any' }) };
}
