// Kubernetes `Namespace` (v1): its labels are what namespace selectors match (plus the automatic
// kubernetes.io/metadata.name). Names are DNS-1123 labels.
import { z } from 'zod';
import { checkDns1123Label } from './names.ts';
import { resourceSchema } from './resource-schema.ts';

export const namespaceSchema = resourceSchema(
  {
    /** Finalizers; ignored. */
    spec: z.looseObject({}).optional(),
    /** Phase; ignored. */
    status: z.looseObject({}).optional(),
  },
  checkDns1123Label,
);

export type Namespace = z.output<typeof namespaceSchema>;
