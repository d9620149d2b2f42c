// Named ports of Calico host and workload endpoints (EndpointPort, WorkloadEndpointPort): rules
// refer to them by name. validator.go validateEndpointPort: the protocol must have ports.
import { z } from 'zod';
import { checkPortName } from './names.ts';
import { calicoProtocolSchema, parseProtocol, protocolSupportsPorts } from './protocol.ts';
import { crossCheck, intInRange, report, stringRule, strict } from './schema-kit.ts';
import { ipString } from './cidr-field.ts';

const portNameField = z.string().check(stringRule('model/invalid-port', (v) => {
  const p = checkPortName(v);
  return p === undefined ? undefined : `port name "${v}" ${p}`;
}));

function protocolHasPorts(value: unknown, ctx: z.core.$RefinementCtx<unknown>): void {
  const p = (value as { protocol?: number | string }).protocol;
  if (p === undefined) return;
  const n = parseProtocol(p);
  if (n.ok && !protocolSupportsPorts(n.value)) {
    report(ctx, ['protocol'], `a named port needs protocol TCP, UDP or SCTP, not ${String(p)}`, { code: 'model/invalid-protocol' });
  }
}

/** HostEndpoint `ports[]`. */
export const endpointPortSchema = strict({
  /** The name rules use; a Kubernetes port name. Required. */
  name: portNameField,
  /** TCP, UDP or SCTP (by name or number). Required. */
  protocol: calicoProtocolSchema,
  /** 1–65535. Required. */
  port: intInRange(1, 65535, 'model/port-out-of-range', 'port'),
}).check(crossCheck<unknown>(protocolHasPorts));

/** WorkloadEndpoint `ports[]`. */
export const workloadEndpointPortSchema = strict({
  /** The name rules use; a Kubernetes port name; may be empty only with a hostPort. */
  name: portNameField.optional(),
  /** TCP, UDP or SCTP (by name or number). Required. */
  protocol: calicoProtocolSchema,
  /** 1–65535. Required. */
  port: intInRange(1, 65535, 'model/port-out-of-range', 'port'),
  /** Host port mapped to it; 0 or absent = none. */
  hostPort: intInRange(0, 65535, 'model/port-out-of-range', 'hostPort').optional(),
  /** Host address of the mapping. */
  hostIP: ipString.optional(),
}).check(
  crossCheck<unknown>((value, ctx) => {
    protocolHasPorts(value, ctx);
    const p = value as { name?: string | undefined; hostPort?: number | undefined };
    if ((p.name ?? '') === '' && (p.hostPort ?? 0) === 0) report(ctx, [], 'a workload endpoint port needs a name unless it has a hostPort', { code: 'model/missing-field' });
  }),
);
