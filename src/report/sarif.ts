// SARIF 2.1.0 logs (OASIS Static Analysis Results Interchange Format) for code-scanning UIs:
// every finding a result at file:line:col, artifact URIs relative to the working directory and
// resolved through %SRCROOT%, so annotations land on the right line of a pull request. One
// function per source of findings: `check`'s diagnostics and `test`'s failed cases.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Diagnostic, Span } from '../diagnostics/index.ts';

export interface SarifOptions {
  /** Directory artifact URIs are relative to; default the working directory. */
  readonly cwd?: string | undefined;
  readonly toolVersion?: string | undefined;
}

export interface SarifFinding {
  readonly ruleId: string;
  readonly level: 'error' | 'warning' | 'note';
  readonly message: string;
  readonly span?: Span | undefined;
}

/** The rule descriptions shown next to findings; codes not listed get their code as text. */
export type RuleTexts = Readonly<Record<string, string>>;

const SRCROOT = '%SRCROOT%';

/**
 * Where a file is, for SARIF: `a/b c.yaml` → `a/b%20c.yaml` relative to `cwd` (resolved through
 * %SRCROOT%), or an absolute `file:` URI for a file outside `cwd` (a relative `../` would climb
 * out of the repository root that code-scanning UIs resolve against).
 */
export function artifactLocation(file: string, cwd: string): { uri: string; uriBaseId?: string } {
  const abs = path.resolve(file);
  const rel = path.relative(path.resolve(cwd), abs);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return { uri: pathToFileURL(abs).href };
  return { uri: rel.split(path.sep).map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
}

function region(span: Span): Record<string, number> {
  const r: Record<string, number> = { startLine: span.line, startColumn: span.col };
  if (span.endLine !== undefined && span.endCol !== undefined) {
    r['endLine'] = span.endLine;
    // SARIF's endColumn is exclusive; our spans' end is inclusive.
    r['endColumn'] = span.endCol + 1;
  }
  return r;
}

export function sarifLog(findings: readonly SarifFinding[], rules: RuleTexts, opts: SarifOptions = {}): Record<string, unknown> {
  const cwd = opts.cwd ?? '.';
  const ids = [...new Set(findings.map((f) => f.ruleId))].sort();
  const index = new Map(ids.map((id, i) => [id, i]));
  const results = findings.map((f) => {
    // stdin ("-") and span-less findings have no file to point at; SARIF allows results without locations.
    const located = f.span !== undefined && f.span.file !== '-' && !f.span.file.startsWith('<');
    return {
      ruleId: f.ruleId,
      ruleIndex: index.get(f.ruleId) ?? 0,
      level: f.level,
      message: { text: f.message },
      ...(located
        ? { locations: [{ physicalLocation: { artifactLocation: artifactLocation(f.span!.file, cwd), region: region(f.span!) } }] }
        : {}),
    };
  });
  let base = pathToFileURL(path.resolve(cwd)).href;
  if (!base.endsWith('/')) base += '/';
  return {
    $schema: 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'strata',
            ...(opts.toolVersion === undefined ? {} : { version: opts.toolVersion }),
            rules: ids.map((id) => ({ id, shortDescription: { text: rules[id] ?? id } })),
          },
        },
        originalUriBaseIds: { [SRCROOT]: { uri: base } },
        // Columns count UTF-16 code units: they are offsets into the JavaScript string of the line.
        columnKind: 'utf16CodeUnits',
        results,
      },
    ],
  };
}

const LEVEL: Readonly<Record<Diagnostic['severity'], SarifFinding['level']>> = { error: 'error', warning: 'warning', info: 'note' };

/** `strata check`'s findings: ruleId = the diagnostic's code. */
export function diagnosticsToSarif(ds: readonly Diagnostic[], opts: SarifOptions = {}): Record<string, unknown> {
  const findings = ds.map((d) => ({
    ruleId: d.code,
    level: LEVEL[d.severity],
    message: `${d.message}${d.path === undefined ? '' : ` (at ${d.path})`}${d.help === undefined ? '' : `; help: ${d.help}`}`,
    span: d.span,
  }));
  return sarifLog(findings, {}, opts);
}
