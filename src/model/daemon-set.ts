// Kubernetes `DaemonSet` (apps/v1): an endpoint group; its pod template gives labels, ports and
// service account. Only the selector and template are validated.
import type { z } from 'zod';
import { checkDns1123Subdomain } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { controllerShape } from './workload-spec.ts';

export const daemonSetSchema = resourceSchema({ ...controllerShape }, checkDns1123Subdomain);

export type DaemonSet = z.output<typeof daemonSetSchema>;
