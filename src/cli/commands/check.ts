// `strata check`: load, validate, build and lint. Prints every finding as
// `file:line:col: code: message` with the source line; exits 2 on input errors (bad YAML, invalid
// resources), 1 on lint errors (e.g. a policy in a tier that does not exist) or a broken
// ConnectivityInvariant (with the counter-example flow), 0 otherwise.
import type { Diagnostic } from '../../diagnostics/index.ts';
import { hasErrors } from '../../diagnostics/index.ts';
import { lint } from '../../analysis/lint.ts';
import { verifyInvariants, violationDiagnostic } from '../../analysis/invariants.ts';
import type { InvariantResource } from '../../analysis/invariants.ts';
import type { Io } from '../io.ts';
import { loadWorkspace, renderFor } from '../workspace.ts';
import { EXIT, UsageError } from '../exit.ts';

export interface CheckOptions {
  readonly filename: readonly string[];
  readonly output: string;
  readonly podCidr?: string | undefined;
  /** Also print info notes (skipped kinds, assumed namespaces). */
  readonly verbose?: boolean | undefined;
}

const INPUT_STAGES = ['load/', 'model/', 'selector/'];

function isInputError(d: Diagnostic): boolean {
  return d.severity === 'error' && INPUT_STAGES.some((s) => d.code.startsWith(s));
}

export async function runCheck(io: Io, opts: CheckOptions): Promise<number> {
  if (opts.output !== 'text' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: check prints text or json`);
  if (opts.filename.length === 0) throw new UsageError('check needs at least one -f PATH');
  const ws = await loadWorkspace(io, opts.filename, { podCidr: opts.podCidr });
  const inputBroken = ws.diagnostics.some(isInputError);
  // Lint only a cluster that loaded cleanly: findings on half-loaded input would mislead.
  // ConnectivityInvariants are checked against the state they were loaded with.
  const invariants = ws.resources.filter((r): r is InvariantResource => r.type === 'ConnectivityInvariant');
  const violations = inputBroken ? [] : verifyInvariants(ws.cluster, invariants).map(violationDiagnostic);
  const findings = inputBroken ? [...ws.diagnostics] : [...ws.diagnostics, ...lint(ws), ...violations];
  const code = inputBroken ? EXIT.USAGE : hasErrors(findings) ? EXIT.FINDINGS : EXIT.OK;
  const errors = findings.filter((d) => d.severity === 'error').length;
  const warnings = findings.filter((d) => d.severity === 'warning').length;

  if (opts.output === 'json') {
    io.out(JSON.stringify({ ok: code === EXIT.OK, resources: ws.resources.length, errors, warnings, diagnostics: findings }, null, 2));
    return code;
  }
  const shown = findings.filter((d) => d.severity !== 'info' || opts.verbose === true);
  if (shown.length > 0) io.out(renderFor({ ...io, stderrColor: io.stdoutColor }, ws, shown) + '\n');
  const policies = ws.cluster.policies.length;
  const endpoints = ws.cluster.endpoints.length;
  io.out(
    `${ws.resources.length} resources (${policies} policies, ${endpoints} endpoints, ${ws.cluster.tiers.filter((t) => t.exists).length} tiers): ` +
      `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`,
  );
  return code;
}
