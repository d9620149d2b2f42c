// The CLI's window on the world, injectable so command tests run in-process: output streams,
// stdin, whether to colour. Commands never touch `process` directly.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { StringDecoder } from 'node:string_decoder';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
  readFile(path: string): Promise<string>;
  /**
   * The lines of a file, or of stdin for `-`, as they are read: batches in order, each line without
   * its `\n` or `\r\n`, so a batch of any size is processed in constant memory. Iterating rejects
   * when the file cannot be read.
   */
  readLines(path: string): AsyncIterable<readonly string[]>;
  /**
   * Resolves once stdout can take more (at once when it can): writers of long outputs await it
   * between chunks, so output waits for the reader instead of piling up in memory.
   */
  drained(): Promise<void>;
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

/**
 * Splits a byte or text stream into lines exactly as `text.split(/\r?\n/)` splits the whole of it
 * (the last, possibly empty, piece included), one batch per chunk read.
 */
export async function* linesOf(stream: AsyncIterable<string | Buffer> | Iterable<string | Buffer>): AsyncGenerator<readonly string[]> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  const strip = (l: string): string => (l.endsWith('\r') ? l.slice(0, -1) : l);
  for await (const chunk of stream) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    const nl = text.lastIndexOf('\n');
    if (nl < 0) {
      rest += text;
      continue;
    }
    const parts = (rest + text.slice(0, nl)).split('\n');
    rest = text.slice(nl + 1);
    yield parts.map(strip);
  }
  yield [strip(rest + decoder.end())];
}

async function* textLines(text: Promise<string>): AsyncGenerator<readonly string[]> {
  yield* linesOf([await text]);
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

/** Resolves when the stream's buffer is below its high-water mark again. */
export function drainedStream(stream: NodeJS.WritableStream & { readonly writableNeedDrain?: boolean }): Promise<void> {
  return stream.writableNeedDrain === true ? once(stream, 'drain').then(() => undefined) : Promise.resolve();
}

export function processIo(): Io {
  exitOnBrokenPipe(process.stdout);
  exitOnBrokenPipe(process.stderr);
  return {
    out: (t) => void process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => void process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    readStdin: () => readAll(process.stdin),
    readFile: (p) => readFile(p, 'utf8'),
    readLines: (p) => linesOf(p === '-' ? process.stdin : createReadStream(p)),
    drained: () => drainedStream(process.stdout),
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
    readLines: (p) => {
      if (p === '-') return textLines(Promise.resolve(stdin));
      const f = files[p];
      return f !== undefined ? textLines(Promise.resolve(f)) : linesOf(createReadStream(p));
    },
    drained: () => Promise.resolve(),
    stdoutColor: false,
    stderrColor: false,
  };
}
