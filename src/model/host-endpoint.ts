// Calico `HostEndpoint`: a host interface (or all of a host's traffic, `interfaceName: "*"`) that
// policy applies to. Upstream: api/pkg/apis/projectcalico/v3/hostendpoint.go (+ CEL rules).
import { z } from 'zod';
import { ipString } from './cidr-field.ts';
import { endpointPortSchema } from './endpoint-port.ts';
import { checkCalicoName } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { crossCheck, report, strict, stringRule } from './schema-kit.ts';

/** Linux interface names (validator.go interfaceRegex), or "*". */
export function checkInterfaceName(v: string): string | undefined {
  return v === '*' || /^[a-zA-Z0-9_.-]{1,15}$/.test(v) ? undefined : `interface name "${v}" must be "*" or 1–15 characters of letters, digits, '_', '.', '-'`;
}

const nameField = z.string().max(253).check(stringRule('model/invalid-name', (v) => (v === '' ? undefined : checkCalicoName(v))));

const hostEndpointSpecShape = strict({
  /** Node the interface is on. Required. */
  node: nameField.optional(),
  /** Interface name, or "*" for all the host's traffic; required unless expectedIPs is given. */
  interfaceName: z.string().check(stringRule('model/invalid-value', (v) => (v === '' ? undefined : checkInterfaceName(v)))).optional(),
  /** The interface's addresses: what selectors in rules match for this endpoint. */
  expectedIPs: z.array(ipString).optional(),
  /** Profiles applied after policy, in order. */
  profiles: z.array(nameField).optional(),
  /** Named ports rules can refer to. */
  ports: z.array(endpointPortSchema).optional(),
});

export const hostEndpointSpecSchema = hostEndpointSpecShape.check(
  crossCheck<z.output<typeof hostEndpointSpecShape>>((s, ctx) => {
    if ((s.node ?? '') === '') report(ctx, ['node'], 'node must be specified', { code: 'model/missing-field' });
    if ((s.interfaceName ?? '') === '' && (s.expectedIPs ?? []).length === 0) {
      report(ctx, [], 'at least one of interfaceName or expectedIPs must be specified', { code: 'model/missing-field' });
    }
  }),
);

export const hostEndpointSchema = resourceSchema(
  {
    /** The endpoint. Required. */
    spec: hostEndpointSpecSchema,
  },
  checkCalicoName,
);

export type HostEndpoint = z.output<typeof hostEndpointSchema>;
