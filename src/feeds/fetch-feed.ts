// Pulling a feed's text over HTTP(S) with Node's fetch, within limits: a deadline for the whole
// exchange (headers and body), a size cap enforced while the body streams in (a declared
// Content-Length over the cap is refused before reading; a body that grows past it is cut off at
// the cap, so an endless or huge feed never fills memory), and only 2xx answers count. Failures
// are values with stable codes, never exceptions.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';

export interface FetchLimits {
  /** Deadline for the whole pull, headers and body. */
  readonly timeoutMs: number;
  /** Largest body accepted, in bytes. */
  readonly maxBytes: number;
  /** Aborts the pull (a stopping scheduler). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Why a URL may not be fetched, or undefined when it may (the server's allow-list). Checked for
   * the feed's URL and for every redirect target, which are then followed by hand: otherwise an
   * allowed host could redirect the pull to one that is not.
   */
  readonly checkUrl?: ((url: URL) => string | undefined) | undefined;
}

/** Redirects followed by hand when `checkUrl` is set (fetch's own limit is 20). */
export const MAX_CHECKED_REDIRECTS = 5;

export const DEFAULT_FETCH_LIMITS: FetchLimits = { timeoutMs: 30_000, maxBytes: 16 * 1024 * 1024 };

export type FetchErrorCode = 'feeds/http-status' | 'feeds/timeout' | 'feeds/too-large' | 'feeds/network' | 'feeds/aborted' | 'feeds/not-text' | 'feeds/url-not-allowed';

function error(code: FetchErrorCode, message: string): Result<never> {
  const d: Diagnostic = { code, severity: 'error', message };
  return fail([d]);
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB`;
  return `${n} bytes`;
}

export async function fetchFeedText(url: string, headers: readonly (readonly [string, string])[], limits: FetchLimits = DEFAULT_FETCH_LIMITS): Promise<Result<string>> {
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  const signal = limits.signal === undefined ? timeout : AbortSignal.any([timeout, limits.signal]);
  const why = (e: unknown): Result<never> => {
    if (timeout.aborted) return error('feeds/timeout', `GET ${url} did not complete within ${limits.timeoutMs} ms`);
    if (limits.signal?.aborted === true) return error('feeds/aborted', `GET ${url} was cancelled`);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return error('feeds/network', `GET ${url} failed: ${cause?.code ?? cause?.message ?? (e as Error).message ?? String(e)}`);
  };
  let res: Response;
  const check = limits.checkUrl;
  let target = url;
  for (let hop = 0; ; hop++) {
    if (check !== undefined) {
      let parsed: URL;
      try {
        parsed = new URL(target);
      } catch {
        return error('feeds/network', `GET ${url}: redirected to "${target}", which is not a URL`);
      }
      const refused = check(parsed);
      if (refused !== undefined) return error('feeds/url-not-allowed', target === url ? `GET ${url}: ${refused}` : `GET ${url}: redirected to ${target}: ${refused}`);
    }
    try {
      res = await fetch(target, { headers: headers.map(([k, v]) => [k, v]), signal, redirect: check === undefined ? 'follow' : 'manual' });
    } catch (e) {
      return why(e);
    }
    const location = res.headers.get('location');
    if (check === undefined || res.status < 300 || res.status >= 400 || location === null) break;
    await res.body?.cancel().catch(() => undefined);
    if (hop >= MAX_CHECKED_REDIRECTS) return error('feeds/network', `GET ${url}: more than ${MAX_CHECKED_REDIRECTS} redirects`);
    try {
      target = new URL(location, target).toString();
    } catch {
      return error('feeds/network', `GET ${url}: redirected to "${location}", which is not a URL`);
    }
  }
  const body = res.body;
  if (!res.ok) {
    await body?.cancel().catch(() => undefined);
    return error('feeds/http-status', `GET ${url} answered ${res.status}${res.statusText === '' ? '' : ` ${res.statusText}`}; only 2xx answers are feed content`);
  }
  const tooLarge = (): Result<never> => error('feeds/too-large', `GET ${url}: the feed is larger than the ${formatBytes(limits.maxBytes)} limit; refused`);
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    await body?.cancel().catch(() => undefined);
    return tooLarge();
  }
  if (body === null) return ok('');
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limits.maxBytes) {
        await reader.cancel().catch(() => undefined);
        return tooLarge();
      }
      chunks.push(value);
    }
  } catch (e) {
    return why(e);
  }
  try {
    return ok(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)));
  } catch {
    return error('feeds/not-text', `GET ${url}: the feed is not UTF-8 text`);
  }
}
