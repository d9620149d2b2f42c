// The evaluation pipeline — tier order, policy order, Pass, Log, end-of-tier and profiles — defined
// once. It is generic over a *flow-set algebra* so the same code decides one flow (booleans, for
// `explain`, with a trace) and many flows at once (bitsets over peers, for the matrix):
//
//   endpoint, direction ──► tier 1 ──► tier 2 ──► … ──► profiles ──► deny
//                            │
//                            ├─ policy a: rule 0, rule 1, …   first matching rule acts:
//                            ├─ policy b: …                     Allow / Deny  → final
//                            │                                  Pass          → next tier
//                            │                                  Log           → keep going
//                            └─ end of tier: Deny, or Pass when tier.defaultAction is Pass
//
// A tier is consulted only when at least one (enforced) policy of it selects the endpoint for the
// direction; otherwise traffic goes straight past it. Staged policies are skipped unless the
// caller asks for the *pending* view (Calico's StagedAsEnforced), in which case `stagedAction:
// Delete` also hides the enforced policy it would delete. This mirrors felix/rules/endpoints.go and
// app-policy/checker/check.go (see docs/semantics.md).
import type { Direction, Policy, Profile, Rule, Tier } from './model.ts';

/** Sets of flows under evaluation: `boolean` for one flow, bitsets for many. */
export interface FlowSetAlgebra<S> {
  readonly none: S;
  and(a: S, b: S): S;
  or(a: S, b: S): S;
  /** a ∖ b */
  minus(a: S, b: S): S;
  isEmpty(a: S): boolean;
}

/** The policies of one tier that select the endpoint for one direction, in evaluation order. */
export interface TierPlan {
  readonly tier: Tier;
  /** Sorted; includes staged policies (they are skipped unless evaluating the pending view). */
  readonly policies: readonly Policy[];
}

export interface PipelineMode {
  /** Evaluate staged policies as if enforced (Calico's pending / StagedAsEnforced view). */
  readonly stagedAsEnforced: boolean;
  /** Keys of enforced policies hidden in the pending view by a staged `Delete`. */
  readonly hidden?: ReadonlySet<string>;
}

/** Receives what happened to which flows; the explain path turns these calls into a trace. */
export interface PipelineObserver<S> {
  rule(tier: Tier, policy: Policy, rule: Rule, hit: S): void;
  /** The policy was consulted for `undecided` and none of its rules matched any of them. */
  policyMiss(tier: Tier, policy: Policy, missed: S): void;
  /** `lastPolicy` is the last policy of the tier that applied: Calico attributes the drop to it. */
  endOfTier(tier: Tier, lastPolicy: Policy, action: 'deny' | 'pass', hit: S): void;
  profileRule(profile: Profile, rule: Rule, hit: S): void;
  /** No profile decided: the endpoint's final default drop. */
  noProfile(hit: S): void;
}

export interface PipelineOutcome<S> {
  readonly allowed: S;
  readonly denied: S;
}

export type RuleMatcher<S> = (policy: Policy | undefined, rule: Rule) => S;

function rulesOf(policy: Policy, dir: Direction): readonly Rule[] {
  return dir === 'ingress' ? policy.ingress : policy.egress;
}

export function isActive(policy: Policy, mode: PipelineMode): boolean {
  if (policy.staged) return mode.stagedAsEnforced && (policy.stagedAction ?? 'Set') === 'Set';
  return !(mode.stagedAsEnforced && mode.hidden?.has(policy.key) === true);
}

/**
 * Runs `all` flows through the tiers and profiles of one endpoint in one direction and returns
 * which were allowed and which denied (the two partition `all`).
 */
export function runPipeline<S>(
  alg: FlowSetAlgebra<S>,
  all: S,
  plan: readonly TierPlan[],
  profiles: readonly Profile[],
  dir: Direction,
  match: RuleMatcher<S>,
  mode: PipelineMode,
  observer?: PipelineObserver<S>,
): PipelineOutcome<S> {
  let allowed = alg.none;
  let denied = alg.none;
  let remaining = all; // flows not yet allowed or denied, entering the next tier

  for (const { tier, policies } of plan) {
    if (alg.isEmpty(remaining)) break;
    let undecided = remaining; // still being evaluated inside this tier
    let passed = alg.none;
    let lastPolicy: Policy | undefined;
    for (const policy of policies) {
      if (!isActive(policy, mode)) continue;
      lastPolicy = policy;
      if (alg.isEmpty(undecided)) continue; // keep scanning: lastPolicy must be the tier's last
      // What the policy's rules matched, for the observer's policyMiss only: without an observer
      // it is not kept (one union per matching rule saved — the matrix runs tens of thousands of
      // pipelines).
      let touched = alg.none;
      for (const rule of rulesOf(policy, dir)) {
        if (alg.isEmpty(undecided)) break;
        const hit = alg.and(undecided, match(policy, rule));
        if (alg.isEmpty(hit)) continue;
        observer?.rule(tier, policy, rule, hit);
        switch (rule.action) {
          case 'allow':
            allowed = alg.or(allowed, hit);
            undecided = alg.minus(undecided, hit);
            break;
          case 'deny':
            denied = alg.or(denied, hit);
            undecided = alg.minus(undecided, hit);
            break;
          case 'pass':
            passed = alg.or(passed, hit);
            undecided = alg.minus(undecided, hit);
            break;
          case 'log':
            if (observer !== undefined) touched = alg.or(touched, hit);
            continue; // Log never terminates evaluation.
          default:
            return assertNever(rule.action);
        }
        if (observer !== undefined) touched = alg.or(touched, hit);
      }
      if (observer !== undefined) {
        const missed = alg.minus(undecided, touched);
        if (!alg.isEmpty(missed)) observer.policyMiss(tier, policy, missed);
      }
    }
    if (lastPolicy === undefined) continue; // only staged (or hidden) policies: the tier is skipped
    if (!alg.isEmpty(undecided)) {
      if (tier.defaultAction === 'pass') {
        observer?.endOfTier(tier, lastPolicy, 'pass', undecided);
        passed = alg.or(passed, undecided);
      } else {
        observer?.endOfTier(tier, lastPolicy, 'deny', undecided);
        denied = alg.or(denied, undecided);
      }
    }
    remaining = passed;
  }

  // Profiles: the first profile rule that matches decides; a Pass in a profile only moves on to the
  // next profile (the endpoint chain checks just the accept mark), and nothing matching means drop.
  for (const profile of profiles) {
    if (alg.isEmpty(remaining)) break;
    let undecided = remaining;
    for (const rule of dir === 'ingress' ? profile.ingress : profile.egress) {
      if (alg.isEmpty(undecided)) break;
      const hit = alg.and(undecided, match(undefined, rule));
      if (alg.isEmpty(hit)) continue;
      observer?.profileRule(profile, rule, hit);
      if (rule.action === 'log') continue;
      if (rule.action === 'allow') allowed = alg.or(allowed, hit);
      else if (rule.action === 'deny') denied = alg.or(denied, hit);
      undecided = alg.minus(undecided, hit); // a Pass leaves this profile but stays in `remaining`
    }
    remaining = alg.minus(remaining, alg.or(allowed, denied));
  }
  if (!alg.isEmpty(remaining)) {
    observer?.noProfile(remaining);
    denied = alg.or(denied, remaining);
  }
  return { allowed, denied };
}

export const BOOLEAN_ALGEBRA: FlowSetAlgebra<boolean> = {
  none: false,
  and: (a, b) => a && b,
  or: (a, b) => a || b,
  minus: (a, b) => a && !b,
  isEmpty: (a) => !a,
};

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${String(x)}`);
}
