// Calico `NetworkSet` (namespaced) and the fields it shares with GlobalNetworkSet: a labelled set of
// CIDRs that rule selectors can match. Upstream: api/.../v3/networkset.go, validator.go
// validateNetworkSet; `allowedEgressDomains` is Calico Enterprise's (tigera/api).
import { z } from 'zod';
import { cidrString } from './cidr-field.ts';
import { checkCalicoName, checkDomainName } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { crossCheck, report, strict, stringRule } from './schema-kit.ts';

export const networkSetSpecSchema = strict({
  /** Member networks: CIDRs or bare addresses (= /32, /128); host bits are masked off. */
  nets: z.array(cidrString('lenient')).optional(),
  /** Calico Enterprise: domain names (with `*` wildcards) honoured by egress Allow rules only. */
  allowedEgressDomains: z.array(z.string().check(stringRule('model/invalid-domain', checkDomainName))).optional(),
});

/** The label Calico adds itself; a set may not claim it. */
export const RESERVED_NAMESPACE_LABEL = 'projectcalico.org/namespace';

/** Network sets may not carry Calico's own namespace label (validateNetworkSet). */
export function reservedLabelCheck(): z.core.$ZodCheck<unknown> {
  return crossCheck<unknown>((value, ctx) => {
    const labels = (value as { metadata: { labels?: Record<string, string> | undefined } }).metadata.labels ?? {};
    if (Object.hasOwn(labels, RESERVED_NAMESPACE_LABEL)) {
      report(ctx, ['metadata', 'labels', RESERVED_NAMESPACE_LABEL], `${RESERVED_NAMESPACE_LABEL} is set by Calico and may not be used as a label here`, {
        code: 'model/invalid-label',
        atKey: true,
      });
    }
  });
}

export const networkSetSchema = resourceSchema(
  {
    /** The networks. Required. */
    spec: networkSetSpecSchema,
  },
  checkCalicoName,
).check(reservedLabelCheck());

export type NetworkSet = z.output<typeof networkSetSchema>;
