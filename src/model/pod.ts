// Kubernetes `Pod` (v1): a workload endpoint. Its labels, container ports, service account and,
// when given, status.podIP(s) matter; the rest passes through.
import { z } from 'zod';
import { tryParseIp } from '../net/index.ts';
import { ipString } from './cidr-field.ts';
import { checkDns1123Subdomain } from './names.ts';
import { podSpecSchema } from './pod-spec.ts';
import { resourceSchema } from './resource-schema.ts';
import { crossCheck, report, strict } from './schema-kit.ts';

const podStatusShape = z.looseObject({
  /** Pending, Running, Succeeded, Failed or Unknown; finished pods have no address. */
  phase: z.string().optional(),
  /** The pod's primary address. */
  podIP: ipString.optional(),
  /** All its addresses, at most one per family; the first equals podIP. */
  podIPs: z.array(strict({ /** An address of the pod. */ ip: ipString })).optional(),
});

export const podStatusSchema = podStatusShape.check(
  crossCheck<z.output<typeof podStatusShape>>((s, ctx) => {
    const families = new Set<number>();
    (s.podIPs ?? []).forEach((p, i) => {
      const a = tryParseIp(p.ip);
      if (a === undefined) return;
      if (families.has(a.family)) report(ctx, ['podIPs', i, 'ip'], `a pod has at most one IPv${a.family} address`, { code: 'model/duplicate-value' });
      families.add(a.family);
    });
    const first = s.podIPs?.[0]?.ip;
    if (s.podIP !== undefined && first !== undefined && tryParseIp(first)?.value !== tryParseIp(s.podIP)?.value) {
      report(ctx, ['podIPs', 0, 'ip'], `podIPs[0] (${first}) must equal podIP (${s.podIP})`, { code: 'model/invalid-value' });
    }
  }),
);

export const podSchema = resourceSchema(
  {
    /** The pod. Required (containers). */
    spec: podSpecSchema,
    /** Observed state; only podIP, podIPs and phase are read. */
    status: podStatusSchema.optional(),
  },
  checkDns1123Subdomain,
);

export type Pod = z.output<typeof podSchema>;
