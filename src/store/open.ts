// openDatastore("sqlite:PATH" | "etcd:URL[,URL...]"): parse the spec (an error value with a
// clear message for a bad one), then open the implementation.
import { StoreError } from './types.ts';
import type { Datastore } from './types.ts';

export type StoreSpec =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'etcd'; readonly endpoints: readonly string[] };

export type SpecResult = { readonly ok: true; readonly value: StoreSpec } | { readonly ok: false; readonly message: string };

const SPEC_HELP = 'expected "sqlite:PATH" or "etcd:URL[,URL...]" (e.g. sqlite:./strata.db, etcd:http://127.0.0.1:2379)';

/** Parse a store spec. Pure; never throws. */
export function parseStoreSpec(spec: string): SpecResult {
  const colon = spec.indexOf(':');
  if (colon <= 0) return { ok: false, message: `bad store spec ${JSON.stringify(spec)}: ${SPEC_HELP}` };
  const scheme = spec.slice(0, colon);
  const rest = spec.slice(colon + 1);
  switch (scheme) {
    case 'sqlite': {
      if (rest === '') return { ok: false, message: `bad store spec ${JSON.stringify(spec)}: the SQLite path is empty; ${SPEC_HELP}` };
      return { ok: true, value: { kind: 'sqlite', path: rest } };
    }
    case 'etcd': {
      const endpoints: string[] = [];
      for (const raw of rest.split(',')) {
        const item = raw.trim();
        if (item === '') return { ok: false, message: `bad store spec ${JSON.stringify(spec)}: an empty etcd endpoint; ${SPEC_HELP}` };
        const withScheme = /^[a-z]+:\/\//i.test(item) ? item : `http://${item}`;
        let url: URL;
        try {
          url = new URL(withScheme);
        } catch {
          return { ok: false, message: `bad store spec ${JSON.stringify(spec)}: ${JSON.stringify(item)} is not a URL; ${SPEC_HELP}` };
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
          return { ok: false, message: `bad store spec ${JSON.stringify(spec)}: etcd endpoint ${JSON.stringify(item)} must be http:// or https://` };
        }
        if (url.port === '' || (url.pathname !== '/' && url.pathname !== '')) {
          return { ok: false, message: `bad store spec ${JSON.stringify(spec)}: etcd endpoint ${JSON.stringify(item)} needs host:port and no path` };
        }
        endpoints.push(`${url.protocol}//${url.host}`);
      }
      return { ok: true, value: { kind: 'etcd', endpoints } };
    }
    default:
      return { ok: false, message: `bad store spec ${JSON.stringify(spec)}: unknown store ${JSON.stringify(scheme)}; ${SPEC_HELP}` };
  }
}

export interface OpenOptions {
  /** Max events buffered per watcher before it is dropped with WatchOverflowError (default 10000). */
  readonly watchBufferLimit?: number;
  /** SQLite: how often to poll the revision log for other processes' writes (ms, default 100). */
  readonly pollIntervalMs?: number;
  /** SQLite: how long a writer waits for another process's write lock (ms, default 5000). */
  readonly busyTimeoutMs?: number;
  /** etcd: the budget of one call, retries on other members included (ms, default 5000). */
  readonly requestTimeoutMs?: number;
  /** etcd: a watch that reaches no member for this long fails with StoreUnavailableError (ms, default 15000). */
  readonly watchUnavailableMs?: number;
}

/** Open a datastore; throws StoreError('bad-spec') with a clear message for a bad spec. */
export async function openDatastore(spec: string, options: OpenOptions = {}): Promise<Datastore> {
  const parsed = parseStoreSpec(spec);
  if (!parsed.ok) throw new StoreError('bad-spec', parsed.message);
  switch (parsed.value.kind) {
    case 'sqlite': {
      const { openSqliteDatastore } = await import('./sqlite.ts');
      return openSqliteDatastore(parsed.value.path, options);
    }
    case 'etcd': {
      const { openEtcdDatastore } = await import('./etcd.ts');
      return openEtcdDatastore(parsed.value.endpoints, options);
    }
  }
}
