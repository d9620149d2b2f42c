// Renders diagnostics for people: `file:line:col: severity code: message`, then the source line
// with a caret under the column, then the field path and help. Colour only when asked (TTY).
import type { Diagnostic } from './diagnostic.ts';

export interface RenderOptions {
  /** Looks up the text of a file by the name used in spans; undefined when unknown. */
  readonly source?: (file: string) => string | undefined;
  readonly color?: boolean;
}

const paint = (on: boolean, code: string, s: string): string => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

export function formatLocation(d: Diagnostic): string {
  if (d.span === undefined) return '';
  return `${d.span.file}:${d.span.line}:${d.span.col}: `;
}

/** The one-line form, stable for scripts and tests: `file:line:col: code: message`. */
export function formatDiagnosticLine(d: Diagnostic): string {
  const path = d.path !== undefined && d.path !== '' ? ` (at ${d.path})` : '';
  const sev = d.severity === 'error' ? '' : `${d.severity}: `;
  return `${formatLocation(d)}${sev}${d.code}: ${clipMessage(d.message)}${path}`;
}

export function renderDiagnostic(d: Diagnostic, opts: RenderOptions = {}): string {
  const color = opts.color === true;
  const sevColor = d.severity === 'error' ? '31;1' : d.severity === 'warning' ? '33;1' : '36';
  const lines: string[] = [];
  // The first line is the stable one-line form (`file:line:col: code: message`), coloured.
  const sev = d.severity === 'error' ? '' : `${paint(color, sevColor, d.severity)}: `;
  lines.push(`${formatLocation(d)}${sev}${paint(color, d.severity === 'error' ? sevColor : '1', d.code)}: ${clipMessage(d.message)}`);
  const text = d.span !== undefined ? opts.source?.(d.span.file) : undefined;
  if (d.span !== undefined && text !== undefined) {
    const fullLine = text.split(/\r?\n/)[d.span.line - 1];
    // Control bytes (a binary file) would garble the terminal: no snippet for such a line.
    // eslint-disable-next-line no-control-regex
    if (fullLine !== undefined && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(fullLine)) {
      // A 10k-character line would flood the terminal: show a window around the column.
      const { line: srcLine, shift } = clipLine(fullLine, d.span.col);
      const gutter = String(d.span.line);
      const pad = ' '.repeat(gutter.length);
      const width =
        d.span.endLine === d.span.line && d.span.endCol !== undefined
          ? Math.max(1, Math.min(srcLine.length - (d.span.col - 1 - shift), d.span.endCol - d.span.col + 1))
          : 1;
      // Tabs are kept so the caret lines up under the same characters in a terminal.
      const lead = srcLine.slice(0, d.span.col - 1 - shift).replace(/[^\t]/g, ' ');
      lines.push(`${pad} |`);
      lines.push(`${gutter} | ${srcLine}`);
      lines.push(`${pad} | ${lead}${paint(color, sevColor, '^'.repeat(width))}`);
    }
  }
  if (d.path !== undefined && d.path !== '') lines.push(`  at ${d.path}`);
  if (d.help !== undefined) lines.push(`  help: ${d.help}`);
  return lines.join('\n');
}

const MAX_SNIPPET = 160;

/** At most MAX_SNIPPET characters of `line` around `col`, with `…` where cut; `shift` = characters dropped on the left (counting the `…`). */
export function clipLine(line: string, col: number): { line: string; shift: number } {
  if (line.length <= MAX_SNIPPET) return { line, shift: 0 };
  const start = Math.max(0, Math.min(col - 1 - 40, line.length - MAX_SNIPPET));
  const body = line.slice(start, start + MAX_SNIPPET);
  const left = start > 0 ? '…' : '';
  const right = start + MAX_SNIPPET < line.length ? '…' : '';
  return { line: `${left}${body}${right}`, shift: start - left.length };
}

/** A message that echoes user input is cut at 400 characters (the input itself is in the file). */
export function clipMessage(message: string): string {
  return message.length > 400 ? `${message.slice(0, 399)}…` : message;
}

export function renderDiagnostics(ds: readonly Diagnostic[], opts: RenderOptions = {}): string {
  return ds.map((d) => renderDiagnostic(d, opts)).join('\n\n');
}
