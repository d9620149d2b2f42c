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
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = { timeoutMs: 30_000, maxBytes: 16 * 1024 * 1024 };

export type FetchErrorCode = 'feeds/http-status' | 'feeds/timeout' | 'feeds/too-large' | 'feeds/network' | 'feeds/aborted' | 'feeds/not-text';

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
  try {
    res = await fetch(url, { headers: headers.map(([k, v]) => [k, v]), signal, redirect: 'follow' });
  } catch (e) {
    return why(e);
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
