// The spec fields Calico's four policy kinds share (NetworkPolicy, GlobalNetworkPolicy and their
// staged twins), and the spec-level checks of validator.go (validateNetworkPolicySpec,
// validateGlobalNetworkPolicySpec, the staged Delete rule) and of the CEL annotations on the specs.
// Each kind's file composes these pieces; defaults are the CRDs' (`tier: default`,
// `stagedAction: Set`). `types` is not defaulted here: the engine applies Calico's rule for it.
import { z } from 'zod';
import { checkCalicoName } from './names.ts';
import { ruleSchema } from './calico-rule.ts';
import type { Rule } from './calico-rule.ts';
import { crossCheck, oneOf, report, stringRule } from './schema-kit.ts';
import type { CheckContext } from './schema-kit.ts';
import { calicoSelector } from './selector-field.ts';

export const POLICY_TYPES = ['Ingress', 'Egress'] as const;
export const STAGED_ACTIONS = ['Set', 'Delete', 'Learn', 'Ignore'] as const;
export const PERFORMANCE_HINTS = ['AssumeNeededOnEveryNode'] as const;
export const DEFAULT_TIER_NAME = 'default';
export const MAX_RULES = 1024;

/** Fields of every Calico policy spec. */
export const policySpecShape = {
  /** Tier the policy belongs to; default `default`; the Tier must exist. */
  tier: z.string().check(stringRule('model/invalid-name', (v) => checkCalicoName(v))).default(DEFAULT_TIER_NAME),
  /** Position within the tier, lower first; absent = after every ordered policy. */
  order: z.number().optional(),
  /** Endpoints the policy applies to; empty = all (in scope); no global(); ≤ 1024 characters. */
  selector: calicoSelector('forbidden').optional(),
  /** Restricts to pods whose service account matches; no global(). */
  serviceAccountSelector: calicoSelector('forbidden').optional(),
  /** Ingress, Egress or both, no repeats; absent = from the rules present (Ingress unless only egress rules). */
  types: z.array(oneOf(POLICY_TYPES)).min(1).max(2).optional(),
  /** Ingress rules, in order; ≤ 1024. */
  ingress: z.array(ruleSchema).max(MAX_RULES).optional(),
  /** Egress rules, in order; ≤ 1024. */
  egress: z.array(ruleSchema).max(MAX_RULES).optional(),
  /** Hints that never change behaviour: only `AssumeNeededOnEveryNode`. */
  performanceHints: z.array(oneOf(PERFORMANCE_HINTS)).optional(),
};

/** Extra fields of GlobalNetworkPolicy specs. */
export const globalPolicySpecShape = {
  /** Restricts to endpoints in namespaces matching this; `all()` = every namespaced endpoint; no global(). */
  namespaceSelector: calicoSelector('forbidden').optional(),
  /** Host endpoints only: apply before connection tracking; requires applyOnForward. Default false. */
  doNotTrack: z.boolean().optional(),
  /** Host endpoints only: apply before DNAT; ingress only; requires applyOnForward. Default false. */
  preDNAT: z.boolean().optional(),
  /** Host endpoints only: also apply to forwarded traffic. Default false. */
  applyOnForward: z.boolean().optional(),
};

/** The staged kinds' extra field. */
export const stagedActionShape = {
  /** Set (default: stage this policy), Delete (stage its removal), Learn or Ignore. */
  stagedAction: oneOf(STAGED_ACTIONS, 'model/invalid-staged-action').default('Set'),
};

/** Helps for fields people put on the wrong kind. */
export const NAMESPACED_SPEC_HINTS: Readonly<Record<string, string>> = {
  namespaceSelector: 'a policy-level namespaceSelector exists only on GlobalNetworkPolicy; a NetworkPolicy applies in its own namespace',
  doNotTrack: 'doNotTrack exists only on GlobalNetworkPolicy (host endpoints)',
  preDNAT: 'preDNAT exists only on GlobalNetworkPolicy (host endpoints)',
  applyOnForward: 'applyOnForward exists only on GlobalNetworkPolicy (host endpoints)',
  podSelector: 'podSelector belongs to Kubernetes NetworkPolicy (networking.k8s.io/v1); Calico policies use a selector expression, e.g. selector: app == "web"',
  policyTypes: 'Calico policies spell it "types"',
  stagedAction: 'stagedAction exists only on the Staged… kinds',
};

export const GLOBAL_SPEC_HINTS: Readonly<Record<string, string>> = {
  podSelector: NAMESPACED_SPEC_HINTS['podSelector'] ?? '',
  policyTypes: 'Calico policies spell it "types"',
  stagedAction: 'stagedAction exists only on the Staged… kinds',
};

/** What the spec-level checks need to know about the kind. */
export interface PolicyScope {
  readonly global: boolean;
  readonly staged: boolean;
}

interface SpecView {
  readonly types?: readonly string[] | undefined;
  readonly ingress?: readonly Rule[] | undefined;
  readonly egress?: readonly Rule[] | undefined;
  readonly doNotTrack?: boolean | undefined;
  readonly preDNAT?: boolean | undefined;
  readonly applyOnForward?: boolean | undefined;
  readonly stagedAction?: string | undefined;
}

/** The spec-level checks, as one cross-field check for the kind's spec schema. */
export function policySpecCheck(scope: PolicyScope): z.core.$ZodCheck<unknown> {
  return crossCheck<unknown>((value, ctx) => {
    const spec = value as SpecView & Readonly<Record<string, unknown>>;
    if (scope.staged && spec.stagedAction === 'Delete') {
      checkDeleteIsEmpty(spec, ctx);
      return; // Calico validates nothing else of a staged delete
    }
    checkTypes(spec, ctx);
    checkDirections(spec, scope, ctx);
    if (scope.global) checkHostFlags(spec, ctx);
  });
}

function checkTypes(spec: SpecView, ctx: CheckContext): void {
  const seen = new Set<string>();
  (spec.types ?? []).forEach((t, i) => {
    if (seen.has(t)) report(ctx, ['types', i], `"${t}" is listed twice in types`, { code: 'model/duplicate-value' });
    seen.add(t);
  });
}

/** Services only where they name the far end; HTTP only on ingress; GNP services need a namespace. */
function checkDirections(spec: SpecView, scope: PolicyScope, ctx: CheckContext): void {
  (spec.egress ?? []).forEach((r, i) => {
    if (r.source?.services !== undefined) {
      report(ctx, ['egress', i, 'source', 'services'], 'services are not allowed in the source of an egress rule (use the destination)', { code: 'model/invalid-services', atKey: true });
    }
    if (r.http !== undefined) report(ctx, ['egress', i, 'http'], 'an HTTP match is not allowed in egress rules', { code: 'model/invalid-http', atKey: true });
    if (r.source?.domains !== undefined && r.source.domains.length > 0) {
      report(ctx, ['egress', i, 'source', 'domains'], 'domains are only valid in the destination of egress rules', { code: 'model/invalid-domain', atKey: true });
    }
    const svc = r.destination?.services;
    if (scope.global && svc !== undefined && (svc.namespace ?? '') === '') {
      report(ctx, ['egress', i, 'destination', 'services'], 'services in a global policy must give a namespace', { code: 'model/invalid-services', atKey: true });
    }
  });
  (spec.ingress ?? []).forEach((r, i) => {
    if (r.destination?.services !== undefined) {
      report(ctx, ['ingress', i, 'destination', 'services'], 'services are not allowed in the destination of an ingress rule (use the source)', {
        code: 'model/invalid-services',
        atKey: true,
      });
    }
    for (const side of ['source', 'destination'] as const) {
      const d = r[side]?.domains;
      if (d !== undefined && d.length > 0) {
        report(ctx, ['ingress', i, side, 'domains'], 'domains are only valid in the destination of egress rules', { code: 'model/invalid-domain', atKey: true });
      }
    }
    const svc = r.source?.services;
    if (scope.global && svc !== undefined && (svc.namespace ?? '') === '') {
      report(ctx, ['ingress', i, 'source', 'services'], 'services in a global policy must give a namespace', { code: 'model/invalid-services', atKey: true });
    }
  });
}

/** CEL rules of GlobalNetworkPolicySpec on doNotTrack/preDNAT/applyOnForward. */
function checkHostFlags(spec: SpecView, ctx: CheckContext): void {
  const dnt = spec.doNotTrack === true;
  const pre = spec.preDNAT === true;
  if (dnt && pre) report(ctx, ['preDNAT'], 'preDNAT and doNotTrack cannot both be true', { code: 'model/invalid-combination' });
  if (pre && (spec.egress ?? []).length > 0) report(ctx, ['egress'], 'a preDNAT policy cannot have egress rules', { code: 'model/invalid-combination', atKey: true });
  if (pre && (spec.types ?? []).includes('Egress')) report(ctx, ['types'], "a preDNAT policy cannot have type 'Egress'", { code: 'model/invalid-combination' });
  if ((dnt || pre) && spec.applyOnForward !== true) {
    report(ctx, [dnt ? 'doNotTrack' : 'preDNAT'], 'applyOnForward must be true when doNotTrack or preDNAT is true', { code: 'model/invalid-combination' });
  }
}

/**
 * stagedAction Delete stages the removal of the enforced policy of the same name, so the spec must
 * be Go's zero value except `tier`: strings empty, booleans false, and lists and `order` absent
 * (reflect.DeepEqual tells an empty list from a missing one).
 */
function checkDeleteIsEmpty(spec: Readonly<Record<string, unknown>>, ctx: CheckContext): void {
  for (const [k, v] of Object.entries(spec)) {
    if (k === 'tier' || k === 'stagedAction' || v === undefined || v === '' || v === false) continue;
    if (k === 'podSelector' && isEmptyObject(v)) continue;
    report(ctx, [k], `a staged Delete must leave ${k} empty: only tier may be set when stagedAction is Delete`, {
      code: 'model/invalid-staged-action',
      atKey: true,
    });
  }
}

function isEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
}
