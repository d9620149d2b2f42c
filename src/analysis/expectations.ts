// Expectations on a flow's decision — "this flow is allowed, by policy X in tier Y" — and their
// check against what explain decided. Shared by `explain --flows` (an `expect` on a JSON line) and
// `strata test` (a PolicyTest case), so both judge a flow the same way. Pure: no I/O.
import { z } from 'zod';
import { decidedBySchema } from '../model/index.ts';
import type { ExplainJson, ExplainJsonDecidedBy } from './explain.ts';

export type ExpectedVerdict = 'allow' | 'deny';

/**
 * The deciding step, as far as the user states it: every field given must equal the decision's;
 * a field left out is not compared. `null` is a value (`rule: null` = decided by the end of a
 * tier or by a profile, not by a numbered rule).
 */
export interface DecidedByExpectation {
  readonly direction?: 'egress' | 'ingress' | null | undefined;
  readonly tier?: string | null | undefined;
  readonly policy?: string | null | undefined;
  readonly namespace?: string | null | undefined;
  readonly kind?: string | null | undefined;
  readonly rule?: number | null | undefined;
  readonly reason?: string | undefined;
}

export interface Expectation {
  readonly verdict: ExpectedVerdict;
  readonly decidedBy?: DecidedByExpectation | undefined;
  /** The verdict once staged policies are enforced (explain's `pending` view). */
  readonly pending?: { readonly verdict: ExpectedVerdict; readonly decidedBy?: DecidedByExpectation | undefined } | undefined;
}

export interface ExpectationResult {
  readonly pass: boolean;
  /** One sentence per difference, e.g. `expected deny, got allow`; empty when it passes. */
  readonly mismatches: readonly string[];
}

// ---- checking

const DECIDED_BY_FIELDS = ['direction', 'tier', 'policy', 'namespace', 'kind', 'rule', 'reason'] as const;

function actualField(d: ExplainJsonDecidedBy, field: (typeof DECIDED_BY_FIELDS)[number]): string | number | null {
  if (field === 'namespace') return d.namespace ?? null;
  return d[field];
}

function show(v: string | number | null | undefined): string {
  return v === null || v === undefined ? 'none' : typeof v === 'number' ? String(v) : JSON.stringify(v);
}

function decidedByMismatches(want: DecidedByExpectation | undefined, got: ExplainJsonDecidedBy, prefix: string): string[] {
  if (want === undefined) return [];
  const out: string[] = [];
  for (const field of DECIDED_BY_FIELDS) {
    if (!(field in want) || want[field] === undefined) continue;
    const w = want[field];
    const g = actualField(got, field);
    // Kinds are compared without case: `networkpolicy` and `NetworkPolicy` are one kind to a reader.
    const same = field === 'kind' && typeof w === 'string' && typeof g === 'string' ? w.toLowerCase() === g.toLowerCase() : w === g;
    if (!same) out.push(`${prefix}decidedBy.${field}: expected ${show(w)}, got ${show(g)}`);
  }
  return out;
}

/** Judges one decision against one expectation. */
export function checkExpectation(want: Expectation, got: ExplainJson): ExpectationResult {
  const mismatches: string[] = [];
  if (want.verdict !== got.verdict) mismatches.push(`expected ${want.verdict}, got ${got.verdict}`);
  mismatches.push(...decidedByMismatches(want.decidedBy, got.decidedBy, ''));
  if (want.pending !== undefined) {
    // No pending view means no staged policy takes part: the staged verdict is today's.
    const pending = got.pending ?? { verdict: got.verdict, decidedBy: got.decidedBy };
    if (want.pending.verdict !== pending.verdict) mismatches.push(`pending: expected ${want.pending.verdict}, got ${pending.verdict}`);
    mismatches.push(...decidedByMismatches(want.pending.decidedBy, pending.decidedBy, 'pending: '));
  }
  return { pass: mismatches.length === 0, mismatches };
}

/** A short text of who decided, for reports: `ingress default/allow-frontend rule 0`. */
export function describeDecidedBy(d: ExplainJsonDecidedBy): string {
  if (d.policy === null) return d.reason;
  const ns = d.namespace === undefined ? '' : `${d.namespace}/`;
  const where = d.kind === 'Profile' ? `profile ${d.policy}` : `${d.tier ?? ''} ${d.kind ?? ''} ${ns}${d.policy}`;
  const rule = d.rule === null ? ` (${d.reason})` : ` rule ${d.rule}`;
  return `${d.direction ?? ''} ${where}${rule}`.replace(/\s+/g, ' ').trim();
}

// ---- the `expect` of a flow line (explain --flows)

const verdictSchema = z.enum(['allow', 'deny']);

const decisionObjectSchema = z.strictObject({
  verdict: verdictSchema,
  direction: z.enum(['egress', 'ingress']).nullable().optional(),
  tier: z.string().nullable().optional(),
  policy: z.string().nullable().optional(),
  namespace: z.string().nullable().optional(),
  kind: z.string().nullable().optional(),
  rule: z.number().int().min(0).nullable().optional(),
  reason: z.string().optional(),
});

/**
 * A flow line's `expect`: `"allow"`/`"deny"` (with an optional `decidedBy` beside it), or the
 * examples' object form `{verdict, direction, tier, policy, rule, reason, pending?}` where the
 * deciding step's fields sit next to the verdict.
 */
const lineExpectSchema = z.union([verdictSchema, decisionObjectSchema.extend({ pending: z.union([verdictSchema, decisionObjectSchema]).optional() })]);

type DecisionObject = z.output<typeof decisionObjectSchema>;

function fromDecisionObject(o: DecisionObject): { verdict: ExpectedVerdict; decidedBy?: DecidedByExpectation } {
  const { verdict, ...rest } = o;
  return Object.keys(rest).length === 0 ? { verdict } : { verdict, decidedBy: rest };
}

/**
 * Reads the expectation of a flow line (`expect`, and `decidedBy` beside a string `expect`):
 * undefined when there is none, a sentence when it is malformed.
 */
export function expectationOfLine(line: Readonly<Record<string, unknown>>): Expectation | undefined | string {
  // Without `expect` a line states no expectation: other fields (a corpus's `verdict` and
  // `decidedBy`, notes) are the caller's and are ignored, as explain always has.
  if (line['expect'] === undefined || line['expect'] === null) return undefined;
  const e = lineExpectSchema.safeParse(line['expect']);
  if (!e.success) return `field "expect" must be "allow", "deny" or {"verdict": "allow"|"deny", "tier", "policy", ...}: ${z.prettifyError(e.error).replace(/\s+/g, ' ')}`;
  let decidedBy: DecidedByExpectation | undefined;
  if (line['decidedBy'] !== undefined && typeof e.data === 'string') {
    const d = decidedBySchema.safeParse(line['decidedBy']);
    if (!d.success) return `field "decidedBy": ${z.prettifyError(d.error).replace(/\s+/g, ' ')}`;
    decidedBy = d.data;
  }
  if (typeof e.data === 'string') return decidedBy === undefined ? { verdict: e.data } : { verdict: e.data, decidedBy };
  const { pending, ...now } = e.data;
  const base = fromDecisionObject(now);
  if (pending === undefined) return base;
  return { ...base, pending: typeof pending === 'string' ? { verdict: pending } : fromDecisionObject(pending) };
}
