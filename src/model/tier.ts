// Calico `Tier`: an ordered group of policies with a default action for traffic that a policy in
// the tier selected but no rule decided. Upstream: api/pkg/apis/projectcalico/v3/tier.go (CEL rules
// for the built-in tiers) and validator.go validateTier (single-label names ≤ 63).
import { z } from 'zod';
import { checkTierName } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { crossCheck, oneOf, report, strict } from './schema-kit.ts';

export const TIER_DEFAULT_ACTIONS = ['Deny', 'Pass'] as const;

/** The built-in tiers and what their CEL rules pin: order and default action. */
export const BUILT_IN_TIERS: Readonly<Record<string, { readonly order: number; readonly defaultAction: 'Deny' | 'Pass' }>> = {
  'kube-admin': { order: 1_000, defaultAction: 'Pass' },
  default: { order: 1_000_000, defaultAction: 'Deny' },
  'kube-baseline': { order: 10_000_000, defaultAction: 'Pass' },
};

export const tierSpecSchema = strict({
  /** Position among tiers, lower first; absent = after every ordered tier; ties by name. */
  order: z.number().optional(),
  /** Deny (default) or Pass: the verdict when a policy of the tier matched but no rule did. */
  defaultAction: oneOf(TIER_DEFAULT_ACTIONS, 'model/invalid-action').default('Deny'),
});

const tierShape = resourceSchema(
  {
    /** Order and default action. Required (may be empty). */
    spec: tierSpecSchema,
    /** Conditions written by the tier controller; ignored. */
    status: z.looseObject({}).optional(),
  },
  checkTierName,
);

export const tierSchema = tierShape.check(
  crossCheck<z.output<typeof tierShape>>((t, ctx) => {
    const name = t.metadata.name;
    const builtIn = name === undefined ? undefined : BUILT_IN_TIERS[name];
    if (name === undefined || builtIn === undefined) return;
    if (t.spec.order !== builtIn.order) {
      report(ctx, t.spec.order === undefined ? ['spec'] : ['spec', 'order'], `the built-in tier "${name}" must have order ${builtIn.order}`, { code: 'model/invalid-tier' });
    }
    if (t.spec.defaultAction !== builtIn.defaultAction) {
      report(ctx, ['spec', 'defaultAction'], `the built-in tier "${name}" must have defaultAction ${builtIn.defaultAction}`, { code: 'model/invalid-tier' });
    }
  }),
);

export type Tier = z.output<typeof tierSchema>;
