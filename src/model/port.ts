// Ports as the two dialects write them.
//   Calico (`numorstring.Port`, validator.go validatePort/validatePortName): a number 1–65535, the
//   same as a string ("80"), a range "min:max" (inclusive, min ≤ max), or a named port matching
//   [A-Za-z0-9_.-]{1,128} that is also a valid Kubernetes port name.
//   Kubernetes (`NetworkPolicyPort`, networking/validation ValidateNetworkPolicyPort): `port` is a
//   number 1–65535 or an IANA port name; `endPort` only with a numeric port and ≥ it; protocol
//   TCP (default), UDP or SCTP.
import { z } from 'zod';
import type { Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import { describeValue } from './issues.ts';
import { checkPortName } from './names.ts';
import { kubernetesProtocolSchema } from './protocol.ts';
import { crossCheck, report, strict, tag } from './schema-kit.ts';
import type { CheckContext } from './schema-kit.ts';

export type CalicoPort = { readonly kind: 'range'; readonly min: number; readonly max: number } | { readonly kind: 'named'; readonly name: string };

export const PORT_MIN = 1;
export const PORT_MAX = 65535;
const CALICO_PORT_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;

type PortProblem = { code: string; severity: 'error'; message: string; help?: string };

function problem(code: string, message: string, help?: string): Result<never> {
  const d: PortProblem = help === undefined ? { code, severity: 'error', message } : { code, severity: 'error', message, help };
  return fail([d]);
}

function outOfRange(value: unknown): Result<never> {
  return problem('model/port-out-of-range', `port numbers must be from ${PORT_MIN} to ${PORT_MAX}, got ${describeValue(value)}`);
}

/** A Calico port (rule `ports`/`notPorts`) → a range or a name. */
export function parseCalicoPort(value: unknown): Result<CalicoPort> {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return problem('model/invalid-port', `a port must be a whole number, got ${value}`);
    if (value < PORT_MIN || value > PORT_MAX) return outOfRange(value);
    return ok({ kind: 'range', min: value, max: value });
  }
  if (typeof value !== 'string') {
    return problem('model/invalid-port', `expected a port number, a range "min:max" or a port name, got ${describeValue(value)}`);
  }
  if (/^[0-9]+$/.test(value)) {
    const n = Number(value);
    if (n < PORT_MIN || n > PORT_MAX) return outOfRange(value);
    return ok({ kind: 'range', min: n, max: n });
  }
  const range = /^([0-9]+):([0-9]+)$/.exec(value);
  if (range !== null) {
    const min = Number(range[1]);
    const max = Number(range[2]);
    if (min < PORT_MIN || min > PORT_MAX || max < PORT_MIN || max > PORT_MAX) return outOfRange(value);
    if (min > max) {
      return problem('model/port-out-of-range', `port range "${value}" is inverted: the first port must not exceed the second`, `did you mean "${max}:${min}"?`);
    }
    return ok({ kind: 'range', min, max });
  }
  const dashed = /^([0-9]+)-([0-9]+)$/.exec(value);
  if (dashed !== null) {
    return problem('model/invalid-port', `"${value}" is not a port range: ranges are written "min:max"`, `did you mean "${dashed[1] ?? ''}:${dashed[2] ?? ''}"?`);
  }
  if (!CALICO_PORT_NAME.test(value)) {
    return problem('model/invalid-port', `"${value}" is not a port: expected a number 1–65535, a range "min:max" or a port name of [A-Za-z0-9_.-] (1–128 characters)`);
  }
  const k8s = checkPortName(value);
  if (k8s !== undefined) return problem('model/invalid-port', `named port "${value}" is not a valid port name: it ${k8s}`);
  return ok({ kind: 'named', name: value });
}

/** True when every port is a name (Calico allows those without a rule protocol). */
export function allPortsNamed(ports: readonly unknown[]): boolean {
  return ports.every((p) => {
    const r = parseCalicoPort(p);
    return r.ok && r.value.kind === 'named';
  });
}

function reportResult(r: Result<unknown>, ctx: CheckContext): void {
  if (r.ok) return;
  const d = r.diagnostics[0];
  if (d !== undefined) report(ctx, [], d.message, { code: d.code, help: d.help });
}

/** One entry of Calico `ports`/`notPorts`, kept as written in the body. */
export const calicoPortSchema = tag(
  z.union([z.number(), z.string()]).check(z.superRefine((v, ctx) => reportResult(parseCalicoPort(v), ctx as CheckContext))),
  { code: 'model/invalid-port', expected: 'a port number, a range "min:max" or a port name' },
);

/** A Kubernetes port number (1–65535) or IANA port name, as in NetworkPolicyPort and targetPort. */
export function checkKubernetesPort(value: number | string): Result<number | string> {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return problem('model/invalid-port', `a port must be a whole number, got ${value}`);
    if (value < PORT_MIN || value > PORT_MAX) return outOfRange(value);
    return ok(value);
  }
  const p = checkPortName(value);
  if (p === undefined) return ok(value);
  // `port: "80"` is a string in Kubernetes, so it must be a name: the quotes are the mistake.
  const help = /^[0-9]+$/.test(value) ? `remove the quotes to make it a number: ${value}` : undefined;
  return problem('model/invalid-port', `port "${value}" is not a valid port name: it ${p}`, help);
}

const kubernetesPortValue = tag(
  z.union([z.number(), z.string()]).check(z.superRefine((v, ctx) => reportResult(checkKubernetesPort(v), ctx as CheckContext))),
  { code: 'model/invalid-port', expected: 'a port number or a port name' },
);

/** networking.k8s.io/v1 NetworkPolicyPort. */
export const networkPolicyPortSchema = strict({
  /** TCP (default), UDP or SCTP. */
  protocol: kubernetesProtocolSchema.default('TCP'),
  /** A number 1–65535 or a named container port; absent = every port of the protocol. */
  port: kubernetesPortValue.optional(),
  /** Last port of a range starting at `port`; only with a numeric `port`, ≥ it, ≤ 65535. */
  endPort: z.number().optional(),
}).check(
  crossCheck<{ port?: number | string | undefined; endPort?: number | undefined }>((p, ctx) => {
    if (p.endPort === undefined) return;
    if (p.port === undefined) {
      report(ctx, ['endPort'], 'endPort may not be specified without port', { code: 'model/invalid-port', atKey: true });
    } else if (typeof p.port === 'string') {
      report(ctx, ['endPort'], 'endPort may not be specified when port is a name', { code: 'model/invalid-port', atKey: true });
    } else if (!Number.isInteger(p.endPort) || p.endPort < PORT_MIN || p.endPort > PORT_MAX) {
      report(ctx, ['endPort'], `endPort must be from ${PORT_MIN} to ${PORT_MAX}, got ${p.endPort}`, { code: 'model/port-out-of-range' });
    } else if (p.endPort < p.port) {
      report(ctx, ['endPort'], `endPort (${p.endPort}) must be greater than or equal to port (${p.port})`, { code: 'model/port-out-of-range' });
    }
  }),
);

export type NetworkPolicyPort = z.output<typeof networkPolicyPortSchema>;
