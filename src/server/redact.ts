// What a user may see of a deciding step: a step in a policy the user may not read (a tiered
// policy in a tier they may not see, a Kubernetes NetworkPolicy in a namespace they may not
// read) keeps its verdict, direction, kind and reason, and loses the policy, namespace, rule and
// source — and the tier's name when they may not even `get` the tier. Used by the diff preview
// (its lines and replayed flows) and by invariant refusals and warnings, which name the step
// that lets a forbidden flow through.
import type { DiffJsonDecided, DiffJsonLine } from '../analysis/diff.ts';
import type { ExplainJsonDecidedBy } from '../analysis/explain.ts';
import { violationDiagnostic } from '../analysis/invariants.ts';
import type { Diagnostic } from '../diagnostics/index.ts';
import type { UserInfo } from './authn.ts';
import { tierVisible } from './authz.ts';
import type { ServerContext } from './context.ts';
import type { InvariantBreak } from './engine-state.ts';
import { rbacAllows } from './rbac.ts';
import { RESOURCES } from './resources.ts';

const POLICY_INFO = new Map(RESOURCES.filter((r) => r.engine).map((r) => [r.type as string, r]));

/** Redact one deciding step for `user`; undefined when it is visible as it is. */
export function redactStep(ctx: ServerContext, user: UserInfo, d: ExplainJsonDecidedBy): ExplainJsonDecidedBy | undefined {
  if (d.policy === null || d.kind === null || d.kind === 'Profile') return undefined;
  const info = POLICY_INFO.get(d.kind);
  if (info === undefined) return undefined;
  let visible: boolean;
  let tierVisibleName = true;
  if (info.tierResource !== undefined) {
    const v = tierVisible(ctx.mirror, user, info, 'get', d.tier ?? 'default', d.namespace);
    visible = v?.allowed === true;
    tierVisibleName = v?.canGetTier === true;
  } else {
    visible = rbacAllows(ctx.mirror.rbac(), user, { verb: 'get', apiGroup: info.group, resource: info.plural, namespace: d.namespace, name: d.policy }).allowed;
  }
  if (visible) return undefined;
  return { direction: d.direction, tier: tierVisibleName ? d.tier : null, policy: null, kind: d.kind, rule: null, action: d.action, reason: d.reason };
}

export function redactDecided(ctx: ServerContext, user: UserInfo, d: DiffJsonDecided): { value: DiffJsonDecided; redacted: boolean } {
  const b = redactStep(ctx, user, d.before);
  const a = redactStep(ctx, user, d.after);
  return { value: { before: b ?? d.before, after: a ?? d.after }, redacted: b !== undefined || a !== undefined };
}

export function redactLine(ctx: ServerContext, user: UserInfo, l: DiffJsonLine): { line: DiffJsonLine; redacted: boolean } {
  const main = redactDecided(ctx, user, l.decidedBy);
  const pend = l.pendingDecidedBy === undefined ? undefined : redactDecided(ctx, user, l.pendingDecidedBy);
  if (!main.redacted && pend?.redacted !== true) return { line: l, redacted: false };
  return { line: { ...l, decidedBy: main.value, ...(pend === undefined ? {} : { pendingDecidedBy: pend.value }) }, redacted: true };
}

/** An invariant break's diagnostic as `user` may read it. */
export function redactBreak(ctx: ServerContext, user: UserInfo, b: InvariantBreak): Diagnostic {
  const step = redactStep(ctx, user, b.violation.example.decidedBy);
  if (step === undefined) return b.diagnostic;
  const { help: _help, ...d } = violationDiagnostic({ ...b.violation, example: { ...b.violation.example, decidedBy: step } });
  return { ...d, severity: b.diagnostic.severity };
}
