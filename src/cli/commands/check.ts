// `strata check`: load, validate, build and lint. Prints every finding as
// `file:line:col: code: message` with the source line; exits 2 on input errors (bad YAML, invalid
// resources), 1 on lint errors (e.g. a policy in a tier that does not exist) or a broken
// ConnectivityInvariant (with the counter-example flow), 0 otherwise.
import type { Diagnostic } from '../../diagnostics/index.ts';
import { hasErrors } from '../../diagnostics/index.ts';
import { lint } from '../../analysis/lint.ts';
import { loadPolicyTests } from '../../load/index.ts';
import { diagnosticsToSarif } from '../../report/sarif.ts';
import { verifyInvariants, violationDiagnostic } from '../../analysis/invariants.ts';
import type { InvariantResource } from '../../analysis/invariants.ts';
import type { Io } from '../io.ts';
import { loadWorkspace, renderFor } from '../workspace.ts';
import type { Workspace } from '../workspace.ts';
import { EXIT, UsageError } from '../exit.ts';

export interface CheckOptions {
  readonly filename: readonly string[];
  readonly output: string;
  readonly podCidr?: string | undefined;
  /** Warnings fail too (exit 1), for CI. */
  readonly strict?: boolean | undefined;
  /** Also print info notes (skipped kinds, assumed namespaces). */
  readonly verbose?: boolean | undefined;
}

const INPUT_STAGES = ['load/', 'model/', 'selector/'];

function isInputError(d: Diagnostic): boolean {
  return d.severity === 'error' && INPUT_STAGES.some((s) => d.code.startsWith(s));
}

export async function runCheck(io: Io, opts: CheckOptions): Promise<number> {
  if (opts.output !== 'text' && opts.output !== 'json' && opts.output !== 'sarif') throw new UsageError(`-o ${opts.output}: check prints text, json or sarif`);
  if (opts.filename.length === 0) throw new UsageError('check needs at least one -f PATH');
  const ws = await loadWorkspace(io, opts.filename, { podCidr: opts.podCidr });
  // PolicyTest files among the manifests are validated too (their cases run with `strata test`).
  const loaded = [...ws.diagnostics, ...loadPolicyTests(ws.sources).diagnostics];
  const inputBroken = loaded.some(isInputError);
  // Lint only a cluster that loaded cleanly: findings on half-loaded input would mislead.
  // ConnectivityInvariants are checked against the state they were loaded with.
  const invariants = ws.resources.filter((r): r is InvariantResource => r.type === 'ConnectivityInvariant');
  const violations = inputBroken ? [] : verifyInvariants(ws.cluster, invariants).map(violationDiagnostic);
  const findings = inputBroken ? loaded : [...loaded, ...lint(ws), ...violations];
  const errors = findings.filter((d) => d.severity === 'error').length;
  const warnings = findings.filter((d) => d.severity === 'warning').length;
  const code = inputBroken ? EXIT.USAGE : hasErrors(findings) || (opts.strict === true && warnings > 0) ? EXIT.FINDINGS : EXIT.OK;

  if (opts.output === 'sarif') {
    // Every finding, info notes included, as code-scanning results at file:line:col.
    io.out(JSON.stringify(diagnosticsToSarif(findings), null, 2));
    return code;
  }
  if (opts.output === 'json') {
    io.out(JSON.stringify({ ok: code === EXIT.OK, resources: ws.resources.length, errors, warnings, diagnostics: findings }, null, 2));
    return code;
  }
  const shown = findings.filter((d) => d.severity !== 'info' || opts.verbose === true);
  if (shown.length > 0) io.out(renderFor({ ...io, stderrColor: io.stdoutColor }, ws, shown) + '\n');
  io.out(checkSummary(ws, errors, warnings) + (opts.strict === true && warnings > 0 && errors === 0 ? ' (--strict: warnings fail)' : ''));
  return code;
}

/**
 * The last line of `check`: counts of what was read. Tiers are those the input declares or uses;
 * the built-in ones (default, adminnetworkpolicy, baselineadminnetworkpolicy) count only when a
 * policy is in them, so an empty input reports 0 tiers.
 */
export function checkSummary(ws: Pick<Workspace, 'resources' | 'cluster'>, errors: number, warnings: number): string {
  const tiers = countTiers(ws.cluster);
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  return (
    `${plural(ws.resources.length, 'resource')} (${ws.cluster.policies.length} polic${ws.cluster.policies.length === 1 ? 'y' : 'ies'}, ${plural(ws.cluster.endpoints.length, 'endpoint')}, ${plural(tiers, 'tier')}): ` +
    `${plural(errors, 'error')}, ${plural(warnings, 'warning')}`
  );
}

/** Tiers the input declares or puts a policy in (the built-in ones alone do not count). */
export function countTiers(cluster: Workspace['cluster']): number {
  const used = new Set(cluster.policies.map((p) => p.tier));
  return cluster.tiers.filter((t) => t.exists && (t.origin !== undefined || used.has(t.name))).length;
}
