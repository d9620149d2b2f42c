// The console's only way to the server: fetch with the bearer token the user signed in with,
// every answer validated with the wire schema the server and CLI share (src/engine/wire.ts,
// src/flows/record.ts, src/server/board-wire.ts). Failures are values, never exceptions, so each
// view can say what went wrong (401: sign in again; 404: that API is not on this server).
import type { z } from 'zod';

export type Fetched<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly status: number; readonly message: string };

const TOKEN_KEY = 'strata.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** Listeners told when the server answers 401: the token is gone or wrong. */
const unauthorized = new Set<() => void>();
export function onUnauthorized(fn: () => void): () => void {
  unauthorized.add(fn);
  return () => unauthorized.delete(fn);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = storedToken();
  return { accept: 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...extra };
}

async function failure(r: Response): Promise<{ ok: false; status: number; message: string }> {
  if (r.status === 401) for (const fn of unauthorized) fn();
  let message = `${r.status} ${r.statusText}`;
  try {
    const body = (await r.json()) as { message?: unknown };
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // Not a Status body: keep the status line.
  }
  return { ok: false, status: r.status, message };
}

function validated<S extends z.ZodType>(schema: S, data: unknown, what: string): Fetched<z.output<S>> {
  const p = schema.safeParse(data);
  if (p.success) return { ok: true, value: p.data };
  const issue = p.error.issues[0];
  return { ok: false, status: 0, message: `the server's ${what} answer does not match its schema: ${issue === undefined ? '' : `${issue.path.join('.') || '(root)'}: ${issue.message}`}` };
}

async function request(method: string, path: string, body?: string, contentType = 'application/json'): Promise<Response | { ok: false; status: number; message: string }> {
  try {
    return await fetch(path, { method, headers: headers(body === undefined ? {} : { 'content-type': contentType }), ...(body === undefined ? {} : { body }) });
  } catch (e) {
    return { ok: false, status: 0, message: `cannot reach the server: ${(e as Error).message}` };
  }
}

export async function getJson<S extends z.ZodType>(path: string, schema: S): Promise<Fetched<z.output<S>>> {
  const r = await request('GET', path);
  if (!(r instanceof Response)) return r;
  if (!r.ok) return failure(r);
  return validated(schema, await r.json(), path);
}

export async function postJson<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<Fetched<z.output<S>>> {
  const r = await request('POST', path, JSON.stringify(body));
  if (!(r instanceof Response)) return r;
  if (!r.ok) return failure(r);
  return validated(schema, await r.json(), path);
}

/** POST a text body (YAML) and read the answer as text (JSON, or JSON Lines). */
export async function postText(path: string, body: string, contentType: string): Promise<Fetched<{ text: string; contentType: string }>> {
  const r = await request('POST', path, body, contentType);
  if (!(r instanceof Response)) return r;
  if (!r.ok) return failure(r);
  return { ok: true, value: { text: await r.text(), contentType: r.headers.get('content-type') ?? '' } };
}

/** GET an object as the server stores it (for YAML views and export). */
export async function getObject(path: string): Promise<Fetched<Record<string, unknown>>> {
  const r = await request('GET', path);
  if (!(r instanceof Response)) return r;
  if (!r.ok) return failure(r);
  const data = (await r.json()) as unknown;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, status: 0, message: `${path}: not an object` };
  return { ok: true, value: data as Record<string, unknown> };
}

/**
 * A newline-delimited JSON stream (watch=true): each complete line is handed to `onLine`; ends
 * when the server ends it or `signal` aborts. Resolves to the failure when the server refuses.
 */
export async function streamLines(path: string, onLine: (value: unknown) => void, signal: AbortSignal): Promise<Fetched<null>> {
  let r: Response;
  try {
    r = await fetch(path, { headers: headers(), signal });
  } catch (e) {
    if (signal.aborted) return { ok: true, value: null };
    return { ok: false, status: 0, message: `cannot reach the server: ${(e as Error).message}` };
  }
  if (!r.ok) return failure(r);
  if (r.body === null) return { ok: true, value: null };
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line !== '') onLine(JSON.parse(line) as unknown);
      }
    }
  } catch (e) {
    if (!signal.aborted) return { ok: false, status: 0, message: `the stream broke: ${(e as Error).message}` };
  }
  return { ok: true, value: null };
}
