// `strata server`: the API server on a datastore. Listens on loopback unless told otherwise
// (there is no TLS: a non-loopback address needs --allow-non-loopback), authenticates with a
// kube-apiserver token file, and runs until SIGINT/SIGTERM.
import { isIP } from 'node:net';
import { formatDiagnosticLine } from '../../diagnostics/index.ts';
import { parseAllowList } from '../../feeds/index.ts';
import { createStrataServer } from '../../server/app.ts';
import { parseTokenFile } from '../../server/authn.ts';
import { openDatastore, StoreError } from '../../store/index.ts';
import { openSqliteFlowStore } from '../../flows/sqlite-store.ts';
import type { RetentionConfig } from '../../flows/store.ts';
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';

export interface ServerOptions {
  readonly listen: string;
  readonly store: string;
  readonly tokenAuthFile?: string | undefined;
  readonly auditLog?: string | undefined;
  readonly allowNonLoopback?: boolean | undefined;
  readonly tlsCertFile?: string | undefined;
  readonly tlsPrivateKeyFile?: string | undefined;
  /** false: `--no-threatfeeds`. */
  readonly threatfeeds?: boolean | undefined;
  readonly threatfeedAllow?: readonly string[] | undefined;
  readonly flowStore?: string | undefined;
  readonly flowBuckets?: string | undefined;
}

const DURATION_MS = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 } as const;

function parseDuration(text: string, what: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (m === null || Number(m[1]) === 0) throw new UsageError(`--flow-buckets: ${what} "${text}" is not a duration like 15s, 5m, 1h, 30d`);
  return Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS];
}

/** `15s:1h,5m:30d` → bucket sizes and retentions; coarse must be a multiple of fine. */
export function parseFlowBuckets(text: string): Partial<RetentionConfig> {
  const m = /^([^:,]+):([^:,]+),([^:,]+):([^:,]+)$/.exec(text);
  if (m === null) throw new UsageError(`--flow-buckets ${text}: expected FINE:KEEP,COARSE:KEEP, e.g. 15s:1h,5m:30d`);
  const r = { fineMs: parseDuration(m[1]!, 'fine bucket'), fineRetentionMs: parseDuration(m[2]!, 'fine retention'), coarseMs: parseDuration(m[3]!, 'coarse bucket'), coarseRetentionMs: parseDuration(m[4]!, 'coarse retention') };
  if (r.coarseMs % r.fineMs !== 0 || r.coarseMs <= r.fineMs) throw new UsageError(`--flow-buckets ${text}: the coarse bucket must be a multiple of the fine one`);
  if (r.fineRetentionMs < r.coarseMs) throw new UsageError(`--flow-buckets ${text}: fine buckets must be kept at least one coarse bucket long`);
  return r;
}

/** The flow file: --flow-store, else beside a sqlite: store (strata.db → strata.flows.db), else in memory. */
export function flowStorePath(opts: Pick<ServerOptions, 'flowStore' | 'store'>): string {
  if (opts.flowStore !== undefined) return opts.flowStore;
  if (!opts.store.startsWith('sqlite:')) return ':memory:';
  const file = opts.store.slice('sqlite:'.length);
  return file.endsWith('.db') ? `${file.slice(0, -3)}.flows.db` : `${file}.flows.db`;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (m === null) throw new UsageError(`--listen ${text}: expected HOST:PORT, e.g. 127.0.0.1:8001`);
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`--listen ${text}: ${port} is not a port`);
  return { host, port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export async function runServer(io: Io, opts: ServerOptions, stop: Promise<void> = signalled()): Promise<number> {
  const { host, port } = parseListen(opts.listen);
  if ((opts.tlsCertFile === undefined) !== (opts.tlsPrivateKeyFile === undefined)) throw new UsageError('--tls-cert-file and --tls-private-key-file go together');
  let tls: { cert: string; key: string } | undefined;
  if (opts.tlsCertFile !== undefined && opts.tlsPrivateKeyFile !== undefined) {
    try {
      tls = { cert: await io.readFile(opts.tlsCertFile), key: await io.readFile(opts.tlsPrivateKeyFile) };
    } catch (e) {
      throw new UsageError(`cannot read the TLS files: ${(e as Error).message}`);
    }
  }
  if (!isLoopback(host) && tls === undefined && opts.allowNonLoopback !== true) {
    throw new UsageError(`--listen ${opts.listen} is not a loopback address and the server would speak plain HTTP: give --tls-cert-file/--tls-private-key-file, or --allow-non-loopback`);
  }
  if (opts.tokenAuthFile === undefined) throw new UsageError('strata server needs --token-auth-file FILE (lines of token,user,uid,"group1,group2")');
  let text: string;
  try {
    text = await io.readFile(opts.tokenAuthFile);
  } catch (e) {
    throw new UsageError(`cannot read --token-auth-file ${opts.tokenAuthFile}: ${(e as Error).message}`);
  }
  const tokens = parseTokenFile(text, opts.tokenAuthFile);
  if (!tokens.ok) {
    io.err(tokens.diagnostics.map(formatDiagnosticLine).join('\n'));
    return EXIT.USAGE;
  }
  let allow;
  if (opts.threatfeedAllow !== undefined) {
    const parsed = parseAllowList(opts.threatfeedAllow);
    if (!parsed.ok) throw new UsageError(parsed.diagnostics.map((d) => d.message).join('\n'));
    allow = parsed.value;
  }
  const retention = parseFlowBuckets(opts.flowBuckets ?? '15s:1h,5m:30d');
  const flowPath = flowStorePath(opts);
  let flowStore;
  try {
    flowStore = openSqliteFlowStore({ path: flowPath, retention });
  } catch (e) {
    throw new UsageError(`--flow-store ${flowPath}: ${(e as Error).message}`);
  }
  let store;
  try {
    store = await openDatastore(opts.store);
  } catch (e) {
    flowStore.close();
    if (e instanceof StoreError) throw new UsageError(`--store: ${e.message}`);
    throw e;
  }
  const server = await createStrataServer({
    store,
    tokens: tokens.value,
    auditFile: opts.auditLog,
    tls,
    threatFeeds: opts.threatfeeds === false ? false : { allow },
    flowStore,
    log: (m) => io.err(`strata server: ${m}`),
  });
  const address = await server.app.listen({ host, port });
  io.err(`strata server: listening on ${address} (store ${opts.store}, flows ${flowPath}${flowPath === ':memory:' ? ' (lost on restart: give --flow-store FILE)' : ''}, ${tokens.value.size} tokens)`);
  await stop;
  io.err('strata server: stopping');
  await server.close();
  await store.close();
  return EXIT.OK;
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
