// metav1.LabelSelector (Kubernetes `podSelector`, `namespaceSelector`, workload `selector`, admin
// policy subjects), validated as apimachinery's ValidateLabelSelector does: keys are qualified
// names, values label values; In/NotIn need values, Exists/DoesNotExist must have none.
import { z } from 'zod';
import { checkLabelValue, checkQualifiedName } from './names.ts';
import { labelMapSchema } from './object-meta.ts';
import { crossCheck, oneOf, report, strict } from './schema-kit.ts';
import { describeValue } from './issues.ts';

export const LABEL_SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

export const labelSelectorRequirementSchema = strict({
  /** Label name the requirement tests; a qualified name. */
  key: z.string(),
  /** In, NotIn, Exists or DoesNotExist (exact spelling). */
  operator: oneOf(LABEL_SELECTOR_OPERATORS, 'model/invalid-selector'),
  /** Values for In/NotIn (at least one); must be absent or empty for Exists/DoesNotExist. */
  values: z.array(z.string()).optional(),
}).check(
  crossCheck<{ key: string; operator: string; values?: string[] | undefined }>((r, ctx) => {
    const keyProblem = checkQualifiedName(r.key);
    if (keyProblem !== undefined) report(ctx, ['key'], `label name "${r.key}" ${keyProblem}`, { code: 'model/invalid-label' });
    const values = r.values ?? [];
    if ((r.operator === 'In' || r.operator === 'NotIn') && values.length === 0) {
      report(ctx, ['values'], `values must be given when operator is ${r.operator}`, { code: 'model/invalid-selector' });
    }
    if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && values.length > 0) {
      report(ctx, ['values'], `values may not be given when operator is ${r.operator}`, { code: 'model/invalid-selector', atKey: true });
    }
    values.forEach((v, i) => {
      const p = checkLabelValue(v);
      if (p !== undefined) report(ctx, ['values', i], `label value ${describeValue(v)} ${p}`, { code: 'model/invalid-label' });
    });
  }),
);

export const labelSelectorSchema = strict({
  /** Labels that must all be present with these values. */
  matchLabels: labelMapSchema.optional(),
  /** Requirements that must all hold. */
  matchExpressions: z.array(labelSelectorRequirementSchema).optional(),
});

export type LabelSelector = z.output<typeof labelSelectorSchema>;

/** `{}`: selects everything (in its scope). */
export function isEmptyLabelSelector(s: LabelSelector): boolean {
  return Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
}

/** Kubernetes semantics of a label selector against a label set. */
export function labelSelectorMatches(s: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const r of s.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    const values = r.values ?? [];
    switch (r.operator) {
      case 'In':
        if (!has || value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (has && value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default: {
        const unreachable: never = r.operator;
        return unreachable;
      }
    }
  }
  return true;
}
