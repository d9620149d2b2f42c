// Kubernetes `ServiceAccount` (v1): its labels are what `serviceAccountSelector`s match.
import { z } from 'zod';
import { checkDns1123Subdomain } from './names.ts';
import { resourceSchema } from './resource-schema.ts';

export const serviceAccountSchema = resourceSchema(
  {
    /** Token secrets; ignored. */
    secrets: z.array(z.looseObject({})).optional(),
    /** Image pull secrets; ignored. */
    imagePullSecrets: z.array(z.looseObject({})).optional(),
    /** Token automount; ignored. */
    automountServiceAccountToken: z.boolean().optional(),
  },
  checkDns1123Subdomain,
);

export type ServiceAccount = z.output<typeof serviceAccountSchema>;
