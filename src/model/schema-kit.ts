// The small vocabulary every kind's schema is written in, on top of zod: checks that report with
// Strata's own diagnostic codes, schemas tagged with the code and wording their built-in failures
// should use, and cross-field checks that still run when sibling fields had problems. `issues.ts`
// turns what these produce into Diagnostics.
import { z } from 'zod';

/** What a custom issue carries so that it becomes a Diagnostic with its own code. */
export interface IssueDetail {
  readonly code: string;
  readonly help?: string | undefined;
  /** Offset inside the string value, for a caret in the middle of it (selector errors). */
  readonly offset?: number | undefined;
  readonly endOffset?: number | undefined;
  /** Point at the key rather than the value (fields that must not be there). */
  readonly atKey?: boolean | undefined;
}

/** The refinement context zod hands to checks. */
export type CheckContext = z.core.$RefinementCtx<unknown>;

export type Path = readonly (string | number)[];

/** Reports an error at `path` (relative to the schema the check is attached to). */
export function report(ctx: CheckContext, path: Path, message: string, detail: IssueDetail): void {
  ctx.addIssue({ code: 'custom', message, path: [...path], params: { strata: detail }, input: undefined, continue: true });
}

/** The detail a custom issue was reported with, if it came from `report`. */
export function detailOf(params: Record<string, unknown> | undefined): IssueDetail | undefined {
  const d = params?.['strata'];
  return typeof d === 'object' && d !== null && typeof (d as { code?: unknown }).code === 'string' ? (d as IssueDetail) : undefined;
}

/** How a schema's own failures (wrong enum value, wrong type, …) are worded and coded. */
export interface SchemaTag {
  readonly code?: string;
  /** Noun phrase for "expected …": `a port number or a port name`. */
  readonly expected?: string;
  readonly help?: string;
}

const tags = new WeakMap<object, SchemaTag>();
const keyHints = new WeakMap<object, Readonly<Record<string, string>>>();

/** Tags a schema with the wording of its failures. zod's `.check()` returns a copy, so tag last. */
export function tag<T extends z.ZodType>(schema: T, t: SchemaTag): T {
  tags.set(schema, t);
  return schema;
}

export function tagOf(schema: unknown): SchemaTag | undefined {
  return typeof schema === 'object' && schema !== null ? tags.get(schema) : undefined;
}

/** A strict object: unknown keys are errors with a did-you-mean from the known ones. */
export function strict<T extends z.core.$ZodLooseShape>(shape: T): z.ZodObject<z.core.util.Writeable<T>, z.core.$strict> {
  return z.strictObject(shape);
}

/**
 * Attaches hints for well-known confusions (a field that exists on a sibling kind, say) to an
 * object schema. zod's `.check()` returns a copy, so call this last.
 */
export function hinted<T extends z.ZodType>(schema: T, hints: Readonly<Record<string, string>>): T {
  keyHints.set(schema, hints);
  return schema;
}

export function hintsOf(schema: unknown): Readonly<Record<string, string>> | undefined {
  return typeof schema === 'object' && schema !== null ? keyHints.get(schema) : undefined;
}

/** The known keys of an object schema, for "did you mean". */
export function keysOf(schema: unknown): readonly string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/** `schema.check(check)`, keeping the tag and hints of `schema` (zod's `.check()` returns a copy). */
export function withCheck<T extends z.ZodType>(schema: T, check: z.core.$ZodCheck<z.output<T>>): T {
  const copy = schema.check(check) as T;
  const t = tags.get(schema);
  if (t !== undefined) tags.set(copy, t);
  const h = keyHints.get(schema);
  if (h !== undefined) keyHints.set(copy, h);
  return copy;
}

/** Issues that leave the value well-typed: a cross-field check can still read it safely. */
function benign(payload: z.core.ParsePayload): boolean {
  return payload.issues.every((i) => i.code === 'custom' || i.code === 'unrecognized_keys');
}

/**
 * A cross-field check. zod skips refinements once a field had any problem; this one still runs
 * when the problems were only unknown keys or other checks' findings, so one run reports them all.
 */
export function crossCheck<T>(fn: (value: T, ctx: CheckContext) => void): z.core.$ZodCheck<T> {
  return z.superRefine<T>((value, ctx) => fn(value, ctx as CheckContext), { when: benign });
}

/** A string check that reports `problem(value)` under `code` when it returns a message. */
export function stringRule(code: string, problem: (value: string) => string | undefined, help?: (value: string) => string | undefined): z.core.$ZodCheck<string> {
  return z.superRefine<string>((value, ctx) => {
    const message = problem(value);
    if (message !== undefined) report(ctx as CheckContext, [], message, { code, help: help?.(value) });
  });
}

/** An integer within [min, max], out-of-range values reported under `code`. */
export function intInRange(min: number, max: number, code: string, what: string): z.ZodNumber {
  return tag(
    z.number().check(
      z.superRefine<number>((value, ctx) => {
        if (!Number.isInteger(value)) report(ctx as CheckContext, [], `${what} must be a whole number, got ${value}`, { code: 'model/invalid-value' });
        else if (value < min || value > max) report(ctx as CheckContext, [], `${what} must be between ${min} and ${max}, got ${value}`, { code });
      }),
    ),
    { expected: `${what} (a whole number)` },
  );
}

/** Enum whose wrong values are reported under `code` (e.g. `model/invalid-action`). */
export function oneOf<const V extends readonly string[]>(values: V, code = 'model/invalid-value'): z.ZodEnum<z.core.util.ToEnum<V[number]>> {
  return tag(z.enum(values), { code });
}

/** Plain-object test for defensive reads of raw input. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
