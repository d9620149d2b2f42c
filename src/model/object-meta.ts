// ObjectMeta (`metadata`), the label map and the annotation map: shared by every kind. The full
// field list of metav1.ObjectMeta is accepted, so that `kubectl get -o yaml` output loads; any
// other key is an unknown field.
import { z } from 'zod';
import { checkDns1123Label, checkQualifiedName, checkLabelValue } from './names.ts';
import { crossCheck, hinted, report, strict, tag } from './schema-kit.ts';
import { describeValue } from './issues.ts';

const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** Labels: keys are qualified names (`[prefix/]name`), values ≤ 63 label characters. */
export const labelMapSchema = tag(
  z.record(z.string(), z.string()).check(
    crossCheck<Record<string, string>>((labels, ctx) => {
    for (const [k, v] of Object.entries(labels)) {
      const keyProblem = checkQualifiedName(k);
      if (keyProblem !== undefined) report(ctx, [k], `label name "${k}" ${keyProblem}`, { code: 'model/invalid-label', atKey: true });
      const valueProblem = checkLabelValue(v);
      if (valueProblem !== undefined) report(ctx, [k], `label value ${describeValue(v)} ${valueProblem}`, { code: 'model/invalid-label' });
    }
    }),
  ),
  { expected: 'a mapping of label names to string values' },
);

/** Annotations: keys are qualified names (checked case-insensitively), 256 KiB in total. */
export const annotationMapSchema = tag(
  z.record(z.string(), z.string()).check(
    crossCheck<Record<string, string>>((annotations, ctx) => {
    let size = 0;
    for (const [k, v] of Object.entries(annotations)) {
      const problem = checkQualifiedName(k.toLowerCase());
      if (problem !== undefined) report(ctx, [k], `annotation name "${k}" ${problem}`, { code: 'model/invalid-label', atKey: true });
      size += Buffer.byteLength(k) + Buffer.byteLength(v);
    }
    if (size > ANNOTATIONS_MAX_BYTES) report(ctx, [], `annotations must total at most 256 KiB (they have ${size} bytes)`, { code: 'model/invalid-value' });
    }),
  ),
  { expected: 'a mapping of annotation names to string values' },
);

/** metav1.ObjectMeta. Name rules differ per kind and are checked by the kind (resource-schema.ts). */
export const objectMetaSchema = hinted(
  strict({
    /** Name, unique per kind and namespace. Required (no generateName support); syntax per kind. */
    name: z.string().optional(),
    /** Server-side name prefix. Ignored: Strata needs a stable name. */
    generateName: z.string().optional(),
    /** Namespace of a namespaced resource; default `default` (as kubectl). DNS-1123 label. */
    namespace: z.string().optional(),
    /** Server-set; ignored. */
    selfLink: z.string().optional(),
    /** Server-set; ignored. */
    uid: z.string().optional(),
    /** Server-set; ignored. */
    resourceVersion: z.string().optional(),
    /** Server-set; ignored. */
    generation: z.number().optional(),
    /** Server-set (kubectl writes `null`); ignored. */
    creationTimestamp: z.string().nullable().optional(),
    /** Server-set; ignored. */
    deletionTimestamp: z.string().nullable().optional(),
    /** Server-set; ignored. */
    deletionGracePeriodSeconds: z.number().optional(),
    /** Labels; what selectors match. Keys qualified names, values label values. */
    labels: labelMapSchema.optional(),
    /** Annotations; not interpreted. Keys qualified names, 256 KiB in total. */
    annotations: annotationMapSchema.optional(),
    /** Owners; ignored. */
    ownerReferences: z.array(z.looseObject({})).optional(),
    /** Finalizers; ignored. */
    finalizers: z.array(z.string()).optional(),
    /** Server-side apply bookkeeping; ignored. */
    managedFields: z.array(z.looseObject({})).optional(),
  }).check(
    crossCheck<{ namespace?: string | undefined }>((meta, ctx) => {
      if (meta.namespace === undefined) return;
      const problem = checkDns1123Label(meta.namespace);
      if (problem !== undefined) report(ctx, ['namespace'], `namespace "${meta.namespace}" ${problem}`, { code: 'model/invalid-name' });
    }),
  ),
  {
    clusterName: 'metadata.clusterName was removed from Kubernetes in 1.24; delete it',
    label: 'did you mean "labels"?',
  },
);

export type ObjectMeta = z.output<typeof objectMetaSchema>;
export type LabelMap = z.output<typeof labelMapSchema>;
