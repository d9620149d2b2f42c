// The spec shape of the apps/v1 controllers (Deployment, StatefulSet, DaemonSet, ReplicaSet):
// a required selector that must match the pod template's labels (apps/validation), and the
// template. Everything else (replicas, strategy, …) passes through.
import { z } from 'zod';
import { LABEL_SELECTOR_OPERATORS, isEmptyLabelSelector, labelSelectorMatches, labelSelectorSchema } from './label-selector.ts';
import type { LabelSelector } from './label-selector.ts';
import { podTemplateSchema } from './pod-spec.ts';
import { isRecord, report } from './schema-kit.ts';
import type { CheckContext } from './schema-kit.ts';

const controllerSpecShape = z.looseObject({
  /** Which pods the controller owns; must match the template's labels; not empty. Required. */
  selector: labelSelectorSchema,
  /** The pods' labels and spec: the endpoint group. Required. */
  template: podTemplateSchema,
});

/** The selector, when it is well-formed (other problems in the spec must not hide a mismatch). */
function wellFormedSelector(v: unknown): LabelSelector | undefined {
  if (!isRecord(v)) return undefined;
  const labels = v['matchLabels'];
  const exprs = v['matchExpressions'];
  if (labels !== undefined && !(isRecord(labels) && Object.values(labels).every((x) => typeof x === 'string'))) return undefined;
  if (exprs !== undefined && !(Array.isArray(exprs) && exprs.every(isRequirement))) return undefined;
  return v as LabelSelector;
}

function isRequirement(e: unknown): boolean {
  if (!isRecord(e) || typeof e['key'] !== 'string' || !(LABEL_SELECTOR_OPERATORS as readonly unknown[]).includes(e['operator'])) return false;
  const values = e['values'];
  return values === undefined || (Array.isArray(values) && values.every((x) => typeof x === 'string'));
}

function templateLabels(spec: Readonly<Record<string, unknown>>): Readonly<Record<string, string>> | undefined {
  const t = spec['template'];
  const meta = isRecord(t) ? t['metadata'] : undefined;
  const labels = isRecord(meta) ? (meta['labels'] ?? {}) : meta === undefined ? {} : undefined;
  return isRecord(labels) && Object.values(labels).every((x) => typeof x === 'string') ? (labels as Record<string, string>) : undefined;
}

export const controllerSpecSchema = controllerSpecShape.check(
  z.superRefine<unknown>(
    (value, raw) => {
      const ctx = raw as CheckContext;
      if (!isRecord(value)) return;
      const selector = wellFormedSelector(value['selector']);
      const labels = templateLabels(value);
      if (selector === undefined || labels === undefined) return;
      if (isEmptyLabelSelector(selector)) {
        report(ctx, ['selector'], 'selector must not be empty: it has to select the pods of the template', { code: 'model/invalid-selector' });
      }
      // A selector that misses the template's labels is refused by the API server, but it does not
      // change what policy sees (the pods carry the template's labels): a warning (controllerWarnings),
      // so inputs written for other analysers (np-guard's, say) still load.
    },
    // Runs even when other parts of the spec are broken: it reads only what it checks.
    { when: () => true },
  ),
);

export type ControllerSpec = z.output<typeof controllerSpecSchema>;

/** What kube-apiserver would refuse but the analysis can still read: the selector missing the template's labels. */
export function controllerWarnings(body: { readonly spec: unknown }): { path: (string | number)[]; code: string; message: string; help?: string }[] {
  const spec = body.spec;
  if (!isRecord(spec)) return [];
  const selector = wellFormedSelector(spec['selector']);
  const labels = templateLabels(spec);
  if (selector === undefined || labels === undefined || isEmptyLabelSelector(selector) || labelSelectorMatches(selector, labels)) return [];
  return [
    {
      path: ['spec', 'template', 'metadata', 'labels'],
      code: 'model/selector-template-mismatch',
      message: 'spec.selector does not match the template labels: the API server would refuse this object; Strata reads the template labels as the pods\' labels',
      help: 'give the template every label the selector requires',
    },
  ];
}

/** Shared wording of the apps/v1 kinds' top-level shape. */
export const controllerShape = {
  /** Selector and pod template (the rest passes through). Required. */
  spec: controllerSpecSchema,
  /** Rollout status; ignored. */
  status: z.looseObject({}).optional(),
};
