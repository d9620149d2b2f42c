// Strata's own `ConnectivityInvariant` (apiVersion strata/v1): a promise about connectivity that
// every state must keep — "tenant 1 must never reach tenant 2", "monitoring must always reach the
// exporters on 9100". Ends are written as in Calico rules (a namespaceSelector and a selector), or
// as a list of CIDRs for external addresses; `strata check` verifies every invariant against the
// state it loads (analysis/invariants.ts).
import { z } from 'zod';
import { cidrString } from './cidr-field.ts';
import { checkCalicoName } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { calicoSelector } from './selector-field.ts';
import { crossCheck, oneOf, report, strict, stringRule, withCheck } from './schema-kit.ts';

export const INVARIANT_PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ICMP'] as const;
export const INVARIANT_MUST = ['deny', 'allow'] as const;
/** What `strata server` does with a write that breaks the invariant: refuse it, or accept it with a warning. */
export const INVARIANT_ADMISSION = ['reject', 'warn'] as const;

const PORT_TEXT = /^(\d+)(?:[-:](\d+))?$/;

function portProblem(text: string): string | undefined {
  const m = PORT_TEXT.exec(text);
  if (m === null) return `"${text}" is not a port or a range such as "8000-8999"`;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535) return `"${text}": ports are 1 to 65535`;
  if (lo > hi) return `"${text}": the range runs backwards`;
  return undefined;
}

const endSchema = withCheck(
  strict({
    /** Calico selector over namespace labels (`all()` for every namespace). */
    namespaceSelector: calicoSelector('forbidden').optional(),
    /** Calico selector over endpoint labels; with a namespaceSelector, both must match. */
    selector: calicoSelector('forbidden').optional(),
    /** External addresses (addresses no endpoint owns), as CIDRs or bare addresses. */
    nets: z.array(cidrString('lenient')).optional(),
  }),
  crossCheck<{ namespaceSelector?: string | undefined; selector?: string | undefined; nets?: string[] | undefined }>((e, ctx) => {
    const hasSelector = e.namespaceSelector !== undefined || e.selector !== undefined;
    if (e.nets !== undefined && hasSelector) report(ctx, ['nets'], 'an end is either endpoints (namespaceSelector/selector) or external addresses (nets), not both', { code: 'model/invalid-invariant' });
    if (e.nets === undefined && !hasSelector) report(ctx, [], 'an end needs a namespaceSelector, a selector or nets', { code: 'model/invalid-invariant' });
  }),
);

export const connectivityInvariantSpecSchema = strict({
  /** Who the promise is about. Required. */
  from: endSchema,
  /** Whom they must (not) reach. Required. */
  to: endSchema,
  /** Destination ports and ranges ("80", "8000-8999"); default every port. */
  ports: z.array(z.union([z.number().int().min(1).max(65535), z.string().check(stringRule('model/invalid-port', portProblem))])).optional(),
  /** Default TCP, UDP and SCTP. */
  protocols: z.array(oneOf(INVARIANT_PROTOCOLS, 'model/invalid-protocol')).optional(),
  /** `deny`: no such flow may be allowed; `allow`: every such flow must be allowed. Required. */
  must: oneOf(INVARIANT_MUST, 'model/invalid-value'),
  /** `strata server`: `reject` (the default) refuses a write that newly breaks the promise (422); `warn` accepts it with a `Warning` header. */
  admission: oneOf(INVARIANT_ADMISSION, 'model/invalid-value').optional(),
  /** Free text, shown with a violation. */
  description: z.string().optional(),
});

export const connectivityInvariantSchema = resourceSchema(
  {
    /** The promise. Required. */
    spec: connectivityInvariantSpecSchema,
  },
  checkCalicoName,
);

export type ConnectivityInvariant = z.output<typeof connectivityInvariantSchema>;
export type ConnectivityInvariantSpec = z.output<typeof connectivityInvariantSpecSchema>;

/** A validated port entry as an inclusive range. */
export function invariantPortRange(p: number | string): { min: number; max: number } {
  if (typeof p === 'number') return { min: p, max: p };
  const m = PORT_TEXT.exec(p)!;
  const lo = Number(m[1]);
  return { min: lo, max: m[2] === undefined ? lo : Number(m[2]) };
}
