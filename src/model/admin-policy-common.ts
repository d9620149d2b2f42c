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

/**
 * Pods in namespaces. The v1alpha1 CRDs require both selectors and v1alpha2 the pod selector; an
 * absent one is read as `{}` (Go's zero value — what Calico's conversion and np-guard see) and
 * reported by `missingSelectorWarnings`, so manifests written against a laxer CRD still load.
 */
export const namespacedPodSchema = strict({
  /** Namespaces of the pods; `{}` = all. Required in v1alpha1; absent = `{}`. */
  namespaceSelector: labelSelectorSchema.optional(),
  /** The pods; `{}` = all in those namespaces. Required; absent = `{}`. */
  podSelector: labelSelectorSchema.optional(),
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

interface PeerView {
  readonly pods?: { readonly namespaceSelector?: unknown; readonly podSelector?: unknown } | undefined;
  readonly [key: string]: unknown;
}

interface RuleView {
  readonly from?: readonly PeerView[] | undefined;
  readonly to?: readonly PeerView[] | undefined;
  readonly ports?: readonly Readonly<Record<string, unknown>>[] | undefined;
  readonly protocols?: readonly Readonly<Record<string, unknown>>[] | undefined;
}

export interface AdminPolicyView {
  readonly spec: { readonly subject: PeerView; readonly ingress?: readonly RuleView[] | undefined; readonly egress?: readonly RuleView[] | undefined };
}

export interface AdminWarning {
  readonly path: (string | number)[];
  readonly code: string;
  readonly message: string;
}

/** `pods` subjects and peers without the selectors the CRD requires (read as `{}`). */
export function missingSelectorWarnings(body: AdminPolicyView, namespaceSelectorRequired: boolean): AdminWarning[] {
  const out: AdminWarning[] = [];
  const check = (peer: PeerView, path: (string | number)[]): void => {
    if (peer.pods === undefined) return;
    const missing = [...(namespaceSelectorRequired && peer.pods.namespaceSelector === undefined ? ['namespaceSelector'] : []), ...(peer.pods.podSelector === undefined ? ['podSelector'] : [])];
    for (const key of missing) {
      out.push({
        path: [...path, 'pods'],
        code: 'model/missing-selector',
        message: `pods.${key} is required by the CRD; it is read as {} (all ${key === 'podSelector' ? 'pods' : 'namespaces'}), as Calico's conversion would read it`,
      });
    }
  };
  check(body.spec.subject, ['spec', 'subject']);
  for (const dir of ['ingress', 'egress'] as const) {
    (body.spec[dir] ?? []).forEach((rule, i) => {
      const key = dir === 'ingress' ? 'from' : 'to';
      (rule[key] ?? []).forEach((peer, j) => check(peer, ['spec', dir, i, key, j]));
    });
  }
  return out;
}

/**
 * Named ports with networks/nodes/domainNames peers: the experimental CRDs' CEL rule rejects the
 * combination. Strata loads it and warns: the named port is a port of the pods that own it, so an
 * outside address never matches it (as in Calico and np-guard).
 */
export function namedPortPeerWarnings(body: AdminPolicyView, portsKey: 'ports' | 'protocols', namedKey: string, kinds: readonly string[]): AdminWarning[] {
  const out: AdminWarning[] = [];
  (body.spec.egress ?? []).forEach((rule, i) => {
    const hostless = (rule.to ?? []).some((p) => kinds.some((k) => p[k] !== undefined));
    const j = (rule[portsKey] ?? []).findIndex((p) => p[namedKey] !== undefined);
    if (hostless && j >= 0) {
      out.push({
        path: ['spec', 'egress', i, portsKey, j],
        code: 'model/named-port-without-pods',
        message: `${kinds.join('/')} peers have no named ports (the CRD rejects this combination): the named port only matches pods that own it`,
      });
    }
  });
  return out;
}
