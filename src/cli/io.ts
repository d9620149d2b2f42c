// The CLI's window on the world, injectable so command tests run in-process: output streams,
// stdin, whether to colour. Commands never touch `process` directly.
import { readFile } from 'node:fs/promises';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
  readFile(path: string): Promise<string>;
  readonly stdoutColor: boolean;
  readonly stderrColor: boolean;
  /**
   * A transient status line on a terminal's stderr (a progress bar), replaced by each call and
   * erased with `undefined`. Absent when stderr is not a terminal: then nothing is shown.
   */
  readonly status?: (line: string | undefined) => void;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function colorWanted(stream: NodeJS.WriteStream): boolean {
  if (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') return false;
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return true;
  return stream.isTTY === true;
}

/**
 * A reader that went away (`strata … | head`) is not an error of ours: stop quietly, as Unix
 * tools do, instead of dying on an unhandled EPIPE with a stack trace.
 */
function exitOnBrokenPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

export function processIo(): Io {
  exitOnBrokenPipe(process.stdout);
  exitOnBrokenPipe(process.stderr);
  return {
    out: (t) => void process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => void process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    readStdin: () => readAll(process.stdin),
    readFile: (p) => readFile(p, 'utf8'),
    stdoutColor: colorWanted(process.stdout),
    stderrColor: colorWanted(process.stderr),
    ...(process.stderr.isTTY === true
      ? { status: (line: string | undefined) => void process.stderr.write(line === undefined ? '\r\x1b[K' : `\r\x1b[K${line.slice(0, (process.stderr.columns || 80) - 1)}`) }
      : {}),
  };
}

/** An Io that records output, for tests. */
export function memoryIo(stdin = '', files: Readonly<Record<string, string>> = {}): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => void stdout.push(t),
    err: (t) => void stderr.push(t),
    readStdin: async () => stdin,
    readFile: async (p) => {
      const f = files[p];
      if (f !== undefined) return f;
      return readFile(p, 'utf8');
    },
    stdoutColor: false,
    stderrColor: false,
  };
}
