// Pieces shared by the upstream network-policy-api kinds (kubernetes-sigs/network-policy-api:
// apis/v1alpha1/shared_types.go, apis/v1alpha2/clusternetworkpolicy_types.go): subjects and peers
// with exactly one field set, CIDR and domain-name peers. The engine converts these kinds in
// src/engine/convert-admin.ts.
import { z } from 'zod';
import { cidrString } from './cidr-field.ts';
import { labelSelectorSchema } from './label-selector.ts';
import { crossCheck, report, strict, stringRule } from './schema-kit.ts';

/** `+kubebuilder:validation:MinProperties=1, MaxProperties=1` as a check. */
export function exactlyOne(keys: readonly string[], what: string): z.core.$ZodCheck<unknown> {
  return crossCheck<unknown>((value, ctx) => {
    const v = value as Readonly<Record<string, unknown>>;
    const present = keys.filter((k) => v[k] !== undefined);
    // An unknown key was probably meant as one of these: its own error says enough.
    const misspelt = ctx.issues.some((i) => i.code === 'unrecognized_keys' && (i.path ?? []).length === 0);
    if (present.length === 0 && !misspelt) report(ctx, [], `${what} must set one of: ${keys.join(', ')}`, { code: 'model/missing-field' });
    else if (present.length > 1) {
      report(ctx, [present[1] ?? ''], `${what} must set exactly one of ${keys.join(', ')} (found ${present.join(' and ')})`, { code: 'model/invalid-combination', atKey: true });
    }
  });
}

/** Pods in namespaces: both selectors required. */
export const namespacedPodSchema = strict({
  /** Namespaces of the pods; `{}` = all. Required. */
  namespaceSelector: labelSelectorSchema,
  /** The pods; `{}` = all in those namespaces. Required. */
  podSelector: labelSelectorSchema,
});

/** Subjects and ingress peers: `namespaces` or `pods`. */
export const subjectSchema = strict({
  /** All pods in namespaces matching this. */
  namespaces: labelSelectorSchema.optional(),
  /** Pods matching in namespaces matching. */
  pods: namespacedPodSchema.optional(),
}).check(exactlyOne(['namespaces', 'pods'], 'a subject or peer'));

/** CIDR peers: CIDR notation, ≤ 43 characters (`isCIDR`). */
export const adminCidrSchema = cidrString('notation').max(43);

const DOMAIN_NAME = /^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$/;

/** Domain-name peers, as the CRD pattern (one leading `*.` wildcard at most). */
export const adminDomainNameSchema = z.string().check(
  stringRule('model/invalid-domain', (v) => (DOMAIN_NAME.test(v) ? undefined : `"${v}" is not a domain name (e.g. "example.com" or "*.example.com")`)),
);

/** Egress peers with networks/nodes/domainNames cannot be combined with named ports (CEL). */
export function namedPortPeerCheck(peersKey: 'to', portsKey: string, isNamed: (p: Readonly<Record<string, unknown>>) => boolean, kinds: readonly string[]): z.core.$ZodCheck<unknown> {
  return crossCheck<unknown>((value, ctx) => {
    const rule = value as Readonly<Record<string, unknown>>;
    const peers = (rule[peersKey] ?? []) as readonly Readonly<Record<string, unknown>>[];
    const ports = (rule[portsKey] ?? []) as readonly Readonly<Record<string, unknown>>[];
    const hostless = peers.some((p) => kinds.some((k) => p[k] !== undefined));
    const i = ports.findIndex(isNamed);
    if (hostless && i >= 0) {
      report(ctx, [portsKey, i], `${kinds.join('/')} peers cannot be combined with named ports: those peers have no named ports`, { code: 'model/invalid-combination' });
    }
  });
}
