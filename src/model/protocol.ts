// IP protocols as the two dialects spell them. Calico (`numorstring.Protocol` + validator.go
// `protocolRegex`): the exact names TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite, or a number 1–255
// (also as a decimal string, which Go unmarshals to a number). Kubernetes: TCP, UDP or SCTP.
import { z } from 'zod';
import type { Result } from '../diagnostics/index.ts';
import { didYouMean, fail, ok } from '../diagnostics/index.ts';
import { describeValue } from './issues.ts';
import { report, tag } from './schema-kit.ts';
import type { CheckContext } from './schema-kit.ts';

export const PROTOCOL_NUMBERS = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, SCTP: 132, UDPLite: 136 } as const;
export type CalicoProtocolName = keyof typeof PROTOCOL_NUMBERS;
export const CALICO_PROTOCOL_NAMES: readonly CalicoProtocolName[] = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'];
export const KUBERNETES_PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export type KubernetesProtocol = (typeof KUBERNETES_PROTOCOLS)[number];

function isCalicoName(s: string): s is CalicoProtocolName {
  return Object.hasOwn(PROTOCOL_NUMBERS, s);
}

/** A Calico rule protocol (`protocol`/`notProtocol`) → its IP protocol number. */
export function parseProtocol(value: unknown): Result<number> {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 1 && value <= 255) return ok(value);
    return fail([protocolError(value, 'a protocol number must be a whole number from 1 to 255')]);
  }
  if (typeof value !== 'string') return fail([protocolError(value, undefined)]);
  if (/^[0-9]+$/.test(value)) {
    const n = Number(value);
    if (n >= 1 && n <= 255) return ok(n);
    return fail([protocolError(value, 'a protocol number must be from 1 to 255')]);
  }
  if (isCalicoName(value)) return ok(PROTOCOL_NUMBERS[value]);
  return fail([protocolError(value, undefined)]);
}

function protocolError(value: unknown, why: string | undefined): { code: string; severity: 'error'; message: string; help?: string } {
  const expected = 'TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite (exact spelling) or a protocol number 1–255';
  const hint = typeof value === 'string' ? didYouMean(value, CALICO_PROTOCOL_NAMES) : undefined;
  const base = { code: 'model/invalid-protocol', severity: 'error' as const, message: `${why ?? `expected ${expected}`}, got ${describeValue(value)}` };
  return hint === undefined ? base : { ...base, help: hint };
}

/** A Kubernetes protocol (NetworkPolicyPort, ContainerPort, ServicePort) → its number. */
export function parseKubernetesProtocol(value: unknown): Result<number> {
  if (value === 'TCP' || value === 'UDP' || value === 'SCTP') return ok(PROTOCOL_NUMBERS[value]);
  const hint = typeof value === 'string' ? didYouMean(value, KUBERNETES_PROTOCOLS) : undefined;
  const base = { code: 'model/invalid-protocol', severity: 'error' as const, message: `expected "TCP", "UDP" or "SCTP", got ${describeValue(value)}` };
  return fail([hint === undefined ? base : { ...base, help: hint }]);
}

/** Protocols that have ports: TCP, UDP, SCTP (Calico's `SupportsPorts`; UDPLite does not). */
export function protocolSupportsPorts(protocol: number): boolean {
  return protocol === 6 || protocol === 17 || protocol === 132;
}

/** Reports a failed parse at the current path of a check. */
function reportParse(r: Result<unknown>, ctx: CheckContext): void {
  if (r.ok) return;
  const d = r.diagnostics[0];
  if (d !== undefined) report(ctx, [], d.message, { code: d.code, help: d.help });
}

/** Calico `protocol`/`notProtocol`: a name or a number; kept as written in the body. */
export const calicoProtocolSchema = tag(
  z.union([z.number(), z.string()]).check(z.superRefine((v, ctx) => reportParse(parseProtocol(v), ctx as CheckContext))),
  { code: 'model/invalid-protocol', expected: 'a protocol name (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite) or number 1–255' },
);

/** Kubernetes `protocol`: TCP, UDP or SCTP. */
export const kubernetesProtocolSchema = tag(z.enum(KUBERNETES_PROTOCOLS), { code: 'model/invalid-protocol' });
