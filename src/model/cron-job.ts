// Kubernetes `CronJob` (batch/v1): an endpoint group whose pod template is at
// spec.jobTemplate.spec.template. Names are at most 52 characters (the controller appends a suffix).
import { z } from 'zod';
import { jobSpecSchema } from './job.ts';
import { checkDns1123Subdomain } from './names.ts';
import { resourceSchema } from './resource-schema.ts';

export const cronJobSchema = resourceSchema(
  {
    /** Schedule and job template (the rest passes through). Required. */
    spec: z.looseObject({
      /** Cron schedule; not interpreted. Required. */
      schedule: z.string(),
      /** The Job each run creates. Required. */
      jobTemplate: z.looseObject({
        /** Template metadata; ignored. */
        metadata: z.looseObject({}).optional(),
        /** The Job spec: its pod template is the endpoint group. Required. */
        spec: jobSpecSchema,
      }),
    }),
    /** Last schedule times; ignored. */
    status: z.looseObject({}).optional(),
  },
  (name) => checkDns1123Subdomain(name) ?? (name.length > 52 ? `must be at most 52 characters (it has ${name.length})` : undefined),
);

export type CronJob = z.output<typeof cronJobSchema>;
