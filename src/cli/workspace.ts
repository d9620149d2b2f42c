// What every analysing command does first: load the `-f` inputs, validate, build the engine's
// cluster, and report problems the same way (rendered with source snippets on stderr).
import type { Diagnostic } from '../diagnostics/index.ts';
import { hasErrors, renderDiagnostics } from '../diagnostics/index.ts';
import type { Cluster } from '../engine/index.ts';
import { buildCluster } from '../engine/index.ts';
import { loadPaths } from '../load/index.ts';
import type { Resource } from '../model/index.ts';
import type { Io } from './io.ts';

export interface Workspace {
  readonly resources: readonly Resource[];
  readonly cluster: Cluster;
  /** Load, validation and build diagnostics, in that order. */
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
}

export interface WorkspaceOptions {
  readonly podCidr?: string | undefined;
}

export async function loadWorkspace(io: Io, paths: readonly string[], opts: WorkspaceOptions = {}): Promise<Workspace> {
  const loaded = await loadPaths(paths, { readStdin: io.readStdin });
  const built = buildCluster(loaded.resources, { podCidr: opts.podCidr });
  return {
    resources: loaded.resources,
    cluster: built.cluster,
    diagnostics: [...loaded.diagnostics, ...built.diagnostics, ...emptyInputNote(paths, loaded.resources.length, loaded.diagnostics)],
    sources: loaded.sources,
  };
}

export function renderFor(io: Io, ws: Pick<Workspace, 'sources'>, ds: readonly Diagnostic[]): string {
  return renderDiagnostics(ds, { source: (f) => ws.sources.get(f), color: io.stderrColor });
}

/**
 * For commands that need a trustworthy cluster (explain, matrix): any error means exit 2 with the
 * errors shown; warnings are shown too (on stderr, so machine output stays clean).
 */
export function reportOrFail(io: Io, ws: Workspace, quiet: boolean): boolean {
  const shown = ws.diagnostics.filter((d) => d.severity === 'error' || (!quiet && d.severity === 'warning'));
  if (shown.length > 0) io.err(renderFor(io, ws, shown));
  return !hasErrors(ws.diagnostics);
}

/** Nothing to analyse is almost always a wrong path or an empty pipe: say so instead of a bare "0 resources". */
export function emptyInputNote(paths: readonly string[], resources: number, loadDiagnostics: readonly Diagnostic[]): Diagnostic[] {
  if (resources > 0 || hasErrors(loadDiagnostics)) return [];
  const where = paths.map((p) => (p === '-' ? 'stdin' : `"${p}"`)).join(', ');
  return [
    {
      code: 'load/empty-input',
      severity: 'warning',
      message: `no resources found in ${where}`,
      help: paths.includes('-') ? 'stdin was empty or held only kinds Strata does not read (see -v); pipe manifests in, e.g. kubectl get netpol,pods -A -o yaml | strata check -f -' : 'check the path; -v lists the kinds that were skipped',
    },
  ];
}
