// Talking to `strata server`: one request helper (bearer token, JSON), manifests read for
// upload, and server errors shown as kubectl shows them — status code, message and each cause.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { MANIFEST_EXTENSIONS } from '../load/index.ts';
import type { Io } from './io.ts';
import { EXIT, UsageError } from './exit.ts';
import { resolveTarget } from './config.ts';
import type { Target, TargetOptions } from './config.ts';

export interface Response {
  readonly code: number;
  readonly body: unknown;
}

export class RemoteError extends Error {
  override readonly name = 'RemoteError';
  readonly code: number;
  readonly body: unknown;
  constructor(code: number, body: unknown, message: string) {
    super(message);
    this.code = code;
    this.body = body;
  }
}

export async function requireTarget(opts: TargetOptions): Promise<Target> {
  const t = await resolveTarget(opts);
  if (t === undefined) throw new UsageError('no server: pass --server URL (and --token T), set STRATA_SERVER, or `strata config set-context` and `use-context`');
  return t;
}

export async function request(t: Target, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (t.token !== undefined) headers['authorization'] = `Bearer ${t.token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    headers['content-type'] = contentType;
  }
  let res: globalThis.Response;
  try {
    res = await fetch(`${t.server}${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new UsageError(`cannot reach the server at ${t.server}: ${cause ?? (e as Error).message}`);
  }
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (metrics, health): keep the text
  }
  return { code: res.status, body: json };
}

/** The body of a successful request, or a RemoteError carrying the Status. */
export async function call(t: Target, method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
  const r = await request(t, method, path, body, contentType);
  if (r.code >= 400) throw new RemoteError(r.code, r.body, statusMessage(r.body, r.code));
  return r.body;
}

interface StatusLike {
  readonly message?: string;
  readonly reason?: string;
  readonly details?: { readonly causes?: readonly { readonly reason?: string; readonly message?: string; readonly field?: string }[] };
}

function statusMessage(body: unknown, code: number): string {
  const s = (typeof body === 'object' && body !== null ? body : {}) as StatusLike;
  return s.message ?? (typeof body === 'string' && body !== '' ? body : `HTTP ${code}`);
}

/** `Error from server (Forbidden) [403]: message`, then one line per cause. */
export function renderRemoteError(e: RemoteError): string {
  const s = (typeof e.body === 'object' && e.body !== null ? e.body : {}) as StatusLike;
  const lines = [`Error from server (${s.reason ?? 'Unknown'}) [${e.code}]: ${e.message}`];
  for (const c of s.details?.causes ?? []) lines.push(`  ${c.field ?? '(object)'}: ${c.reason ?? ''}: ${c.message ?? ''}`);
  return lines.join('\n');
}

/** 400/413/422 are the input's fault (exit 2); other refusals are findings of the server (exit 1). */
export function exitCodeOf(e: RemoteError): number {
  return e.code === 400 || e.code === 413 || e.code === 422 ? EXIT.USAGE : EXIT.FINDINGS;
}

/** Run a remote action, printing a server error and mapping it to the exit code. */
export async function remote(io: Io, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RemoteError) {
      io.err(renderRemoteError(e));
      return exitCodeOf(e);
    }
    throw e;
  }
}

async function manifestFiles(path: string): Promise<string[]> {
  const s = await stat(path);
  if (!s.isDirectory()) return [path];
  const out: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(path, entry.name);
    if (entry.isDirectory()) out.push(...(await manifestFiles(p)));
    else if (MANIFEST_EXTENSIONS.some((ext) => entry.name.endsWith(ext))) out.push(p);
  }
  return out;
}

/** Every document of the `-f` inputs as plain values (YAML and JSON; `-` is stdin). */
export async function readManifests(io: Io, paths: readonly string[]): Promise<unknown[]> {
  if (paths.length === 0) throw new UsageError('needs at least one -f PATH');
  const docs: unknown[] = [];
  for (const p of paths) {
    let files: string[];
    try {
      files = p === '-' ? ['-'] : await manifestFiles(p);
    } catch (e) {
      throw new UsageError(`cannot read ${p}: ${(e as Error).message}`);
    }
    for (const f of files) {
      const text = f === '-' ? await io.readStdin() : await io.readFile(f);
      for (const d of parseAllDocuments(text)) {
        const err = d.errors[0];
        if (err !== undefined) throw new UsageError(`${f}: not valid YAML: ${err.message.split('\n')[0] ?? ''}`);
        const v = d.toJS() as unknown;
        if (v !== null && v !== undefined) docs.push(v);
      }
    }
  }
  return docs;
}

/**
 * Whether an analysing command (explain, matrix) runs against a server: when `--server` is
 * given, or when no `-f` is given and STRATA_SERVER or a current context names one.
 */
export async function analysisTarget(opts: TargetOptions & { readonly filename: readonly string[] }): Promise<Target | undefined> {
  if (opts.server !== undefined) return resolveTarget(opts);
  if (opts.filename.length > 0) return undefined;
  return resolveTarget(opts);
}
