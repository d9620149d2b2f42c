// The shape every resource document shares: `apiVersion`, `kind`, `metadata` (with a name whose
// syntax depends on the kind), then the kind's own top-level fields (usually `spec`, `status`).
// Top-level keys are strict for every kind: a misspelt `spec` would otherwise drop silently.
import { z } from 'zod';
import { objectMetaSchema } from './object-meta.ts';
import { crossCheck, report, strict, withCheck } from './schema-kit.ts';

export type NameCheck = (name: string) => string | undefined;

const envelope = {
  /** Group/version, e.g. `projectcalico.org/v3`. Required. */
  apiVersion: z.string(),
  /** Kind, e.g. `GlobalNetworkPolicy`. Required. */
  kind: z.string(),
  /** Name, namespace, labels, annotations. Required (for the name). */
  metadata: objectMetaSchema,
};

/** metadata with the kind's name rule: checked on its own, so problems in `spec` do not hide it. */
function metadataWithName(checkName: NameCheck): typeof objectMetaSchema {
  return withCheck(
    objectMetaSchema,
    crossCheck<unknown>((value, ctx) => {
      const meta = value as { name?: string | undefined; generateName?: string | undefined };
      if (meta.name === undefined) {
        const help = meta.generateName !== undefined ? 'generateName is not supported: give the resource a fixed name' : undefined;
        report(ctx, ['name'], 'required field "name" is missing', { code: 'model/missing-field', help });
        return;
      }
      const problem = checkName(meta.name);
      if (problem !== undefined) report(ctx, ['name'], `name "${meta.name}" ${problem}`, { code: 'model/invalid-name' });
    }),
  );
}

type Envelope = typeof envelope;

/** A resource document: the envelope plus `shape`, with `metadata.name` required and checked. */
export function resourceSchema<T extends z.core.$ZodLooseShape>(
  shape: T,
  checkName: NameCheck,
): z.ZodObject<z.core.util.Writeable<Envelope & T>, z.core.$strict> {
  return strict({ ...envelope, metadata: metadataWithName(checkName), ...shape }) as z.ZodObject<z.core.util.Writeable<Envelope & T>, z.core.$strict>;
}
