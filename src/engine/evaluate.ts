// Deciding one flow: egress at the source endpoint, ingress at the destination endpoint, each
// through the shared pipeline with booleans, recording the trace as it goes (the explanation *is*
// the evaluation). When egress denies, that is the deciding step; an external end has no
// direction of its own; an endpoint talking to itself is allowed without policy (as Kubernetes).
import { BOOLEAN_ALGEBRA, runPipeline } from './pipeline.ts';
import type { PipelineMode, PipelineObserver } from './pipeline.ts';
import { matchRule } from './match.ts';
import type { Cluster } from './cluster.ts';
import type { Direction, Endpoint, Flow, Policy, PolicyKind, Profile, Rule, Tier } from './model.ts';

export type Verdict = 'allow' | 'deny';
export type StepAction = 'allow' | 'deny' | 'pass' | 'log' | 'no-match';
export type StepReason = 'rule' | 'end-of-tier' | 'profile' | 'no-match';
export type DecisionReason = 'rule' | 'end-of-tier' | 'profile' | 'no-endpoint' | 'loopback';

/** One thing that happened while evaluating a direction, in order. */
export interface TraceStep {
  /** Tier name; null for profile steps. */
  readonly tier: string | null;
  /** Policy or profile name; null for the final drop when no profile exists. */
  readonly policy: string | null;
  readonly namespace: string | null;
  readonly kind: PolicyKind | 'Profile' | null;
  /** Zero-based rule index in that direction's rule list; null for end-of-tier, misses, no-profile. */
  readonly rule: number | null;
  readonly action: StepAction;
  readonly reason: StepReason;
  readonly staged: boolean;
}

export interface DirectionDecision {
  readonly verdict: Verdict;
  /** The step that made the verdict (Allow/Deny rule, end-of-tier, profile). */
  readonly decidedBy: TraceStep;
  readonly trace: readonly TraceStep[];
}

export interface DecidedBy {
  readonly direction: Direction | null;
  readonly tier: string | null;
  readonly policy: string | null;
  readonly namespace: string | null;
  readonly kind: PolicyKind | 'Profile' | null;
  readonly rule: number | null;
  readonly action: Verdict;
  readonly reason: DecisionReason;
}

export interface Evaluation {
  readonly verdict: Verdict;
  readonly decidedBy: DecidedBy;
  readonly egress: DirectionDecision | null;
  readonly ingress: DirectionDecision | null;
}

export interface FlowDecision extends Evaluation {
  /**
   * The verdict if staged policies were enforced (Calico's pending view). Present only when a staged
   * policy applies to one of the endpoints; otherwise identical to the enforced verdict.
   */
  readonly pending: Evaluation | null;
}

class TraceRecorder implements PipelineObserver<boolean> {
  readonly steps: TraceStep[] = [];
  decided: TraceStep | undefined;

  rule(tier: Tier, policy: Policy, rule: Rule): void {
    const step = policyStep(tier, policy, rule.index, rule.action, 'rule');
    this.steps.push(step);
    if (rule.action === 'allow' || rule.action === 'deny') this.decided = step;
  }
  policyMiss(tier: Tier, policy: Policy): void {
    this.steps.push(policyStep(tier, policy, null, 'no-match', 'no-match'));
  }
  endOfTier(tier: Tier, lastPolicy: Policy, action: 'deny' | 'pass'): void {
    const step = policyStep(tier, lastPolicy, null, action, 'end-of-tier');
    this.steps.push(step);
    if (action === 'deny') this.decided = step;
  }
  profileRule(profile: Profile, rule: Rule): void {
    const step: TraceStep = {
      tier: null,
      policy: profile.name,
      namespace: null,
      kind: 'Profile',
      rule: rule.index,
      action: rule.action,
      reason: 'profile',
      staged: false,
    };
    this.steps.push(step);
    if (rule.action === 'allow' || rule.action === 'deny') this.decided = step;
  }
  noProfile(): void {
    const step: TraceStep = {
      tier: null,
      policy: null,
      namespace: null,
      kind: null,
      rule: null,
      action: 'deny',
      reason: 'profile',
      staged: false,
    };
    this.steps.push(step);
    this.decided = step;
  }
}

function policyStep(tier: Tier, policy: Policy, rule: number | null, action: StepAction, reason: StepReason): TraceStep {
  return {
    tier: tier.name,
    policy: policy.name,
    namespace: policy.namespace ?? null,
    kind: policy.kind,
    rule,
    action,
    reason,
    staged: policy.staged,
  };
}

const ENFORCED: PipelineMode = { stagedAsEnforced: false };

/** Evaluates one direction at one endpoint for one flow, with its trace. */
export function evaluateDirection(cluster: Cluster, endpoint: Endpoint, dir: Direction, flow: Flow, mode: PipelineMode = ENFORCED): DirectionDecision {
  const recorder = new TraceRecorder();
  const out = runPipeline(
    BOOLEAN_ALGEBRA,
    true,
    cluster.plan(endpoint, dir),
    endpoint.profiles,
    dir,
    (_policy, rule) => matchRule(cluster, rule, flow),
    mode,
    recorder,
  );
  const decided = recorder.decided;
  if (decided === undefined) throw new Error('internal: pipeline ended without a deciding step');
  return { verdict: out.allowed ? 'allow' : 'deny', decidedBy: decided, trace: recorder.steps };
}

function decidedByOf(direction: Direction, d: DirectionDecision): DecidedBy {
  const s = d.decidedBy;
  return {
    direction,
    tier: s.tier,
    policy: s.policy,
    namespace: s.namespace,
    kind: s.kind,
    rule: s.rule,
    action: d.verdict,
    reason: s.reason === 'no-match' ? 'rule' : s.reason,
  };
}

function noPolicy(reason: 'loopback' | 'no-endpoint'): DecidedBy {
  return { direction: null, tier: null, policy: null, namespace: null, kind: null, rule: null, action: 'allow', reason };
}

function evaluateWith(cluster: Cluster, flow: Flow, mode: PipelineMode): Evaluation {
  const srcEp = flow.src.kind === 'endpoint' ? flow.src.endpoint : undefined;
  const dstEp = flow.dst.kind === 'endpoint' ? flow.dst.endpoint : undefined;
  if (srcEp !== undefined && srcEp === dstEp) {
    return { verdict: 'allow', decidedBy: noPolicy('loopback'), egress: null, ingress: null };
  }
  const egress = srcEp === undefined ? null : evaluateDirection(cluster, srcEp, 'egress', flow, mode);
  // Ingress is evaluated even when egress denies: the explanation shows both sides.
  const ingress = dstEp === undefined ? null : evaluateDirection(cluster, dstEp, 'ingress', flow, mode);
  if (egress !== null && egress.verdict === 'deny') {
    return { verdict: 'deny', decidedBy: decidedByOf('egress', egress), egress, ingress };
  }
  if (ingress !== null) {
    return { verdict: ingress.verdict, decidedBy: decidedByOf('ingress', ingress), egress, ingress };
  }
  if (egress !== null) return { verdict: 'allow', decidedBy: decidedByOf('egress', egress), egress, ingress };
  return { verdict: 'allow', decidedBy: noPolicy('no-endpoint'), egress: null, ingress: null };
}

/** Decides one flow: the enforced verdict with both traces, and the pending (staged) view. */
export function evaluateFlow(cluster: Cluster, flow: Flow): FlowDecision {
  const enforced = evaluateWith(cluster, flow, ENFORCED);
  const staged =
    (flow.src.kind === 'endpoint' && cluster.hasStaged(flow.src.endpoint, 'egress')) ||
    (flow.dst.kind === 'endpoint' && cluster.hasStaged(flow.dst.endpoint, 'ingress'));
  const pending = staged ? evaluateWith(cluster, flow, cluster.pendingMode) : null;
  return { ...enforced, pending };
}

/** The verdict of a flow and the step that made it, without the traces: what flow replay needs. */
export interface VerdictDecision {
  readonly verdict: Verdict;
  readonly decidedBy: DecidedBy;
}

/**
 * Remembers only the deciding step. The pipeline stops at the first Allow or Deny, so the last
 * deciding call is the decision, as in TraceRecorder, but nothing is pushed for the other steps.
 */
class DecisionRecorder implements PipelineObserver<boolean> {
  decided: TraceStep | undefined;

  rule(tier: Tier, policy: Policy, rule: Rule): void {
    if (rule.action === 'allow' || rule.action === 'deny') this.decided = policyStep(tier, policy, rule.index, rule.action, 'rule');
  }
  policyMiss(): void {}
  endOfTier(tier: Tier, lastPolicy: Policy, action: 'deny' | 'pass'): void {
    if (action === 'deny') this.decided = policyStep(tier, lastPolicy, null, action, 'end-of-tier');
  }
  profileRule(profile: Profile, rule: Rule): void {
    if (rule.action !== 'allow' && rule.action !== 'deny') return;
    this.decided = { tier: null, policy: profile.name, namespace: null, kind: 'Profile', rule: rule.index, action: rule.action, reason: 'profile', staged: false };
  }
  noProfile(): void {
    this.decided = { tier: null, policy: null, namespace: null, kind: null, rule: null, action: 'deny', reason: 'profile', staged: false };
  }
}

function decideDirection(cluster: Cluster, endpoint: Endpoint, dir: Direction, flow: Flow): DecidedBy {
  const recorder = new DecisionRecorder();
  const out = runPipeline(BOOLEAN_ALGEBRA, true, cluster.plan(endpoint, dir), endpoint.profiles, dir, (_policy, rule) => matchRule(cluster, rule, flow), ENFORCED, recorder);
  const decided = recorder.decided;
  if (decided === undefined) throw new Error('internal: pipeline ended without a deciding step');
  return decidedByOf(dir, { verdict: out.allowed ? 'allow' : 'deny', decidedBy: decided, trace: [] });
}

/**
 * The enforced verdict and deciding step of `evaluateFlow`, computed without traces and without
 * evaluating ingress once egress has denied (the explanation shows both sides; the verdict does
 * not need the second). Equal to `evaluateFlow(cluster, flow)`'s `verdict` and `decidedBy`.
 */
export function decideVerdict(cluster: Cluster, flow: Flow): VerdictDecision {
  const srcEp = flow.src.kind === 'endpoint' ? flow.src.endpoint : undefined;
  const dstEp = flow.dst.kind === 'endpoint' ? flow.dst.endpoint : undefined;
  if (srcEp !== undefined && srcEp === dstEp) return { verdict: 'allow', decidedBy: noPolicy('loopback') };
  if (srcEp !== undefined) {
    const egress = decideDirection(cluster, srcEp, 'egress', flow);
    if (egress.action === 'deny' || dstEp === undefined) return { verdict: egress.action, decidedBy: egress };
  }
  if (dstEp !== undefined) {
    const ingress = decideDirection(cluster, dstEp, 'ingress', flow);
    return { verdict: ingress.action, decidedBy: ingress };
  }
  return { verdict: 'allow', decidedBy: noPolicy('no-endpoint') };
}
