// `strata server`: the API server on a datastore. Listens on loopback unless told otherwise
// (there is no TLS: a non-loopback address needs --allow-non-loopback), authenticates with a
// kube-apiserver token file, and runs until SIGINT/SIGTERM.
import { isIP } from 'node:net';
import { formatDiagnosticLine } from '../../diagnostics/index.ts';
import { parseAllowList } from '../../feeds/index.ts';
import { createStrataServer } from '../../server/app.ts';
import { parseTokenFile } from '../../server/authn.ts';
import { openDatastore, StoreError } from '../../store/index.ts';
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
  let store;
  try {
    store = await openDatastore(opts.store);
  } catch (e) {
    if (e instanceof StoreError) throw new UsageError(`--store: ${e.message}`);
    throw e;
  }
  const server = await createStrataServer({
    store,
    tokens: tokens.value,
    auditFile: opts.auditLog,
    tls,
    threatFeeds: opts.threatfeeds === false ? false : { allow },
    log: (m) => io.err(`strata server: ${m}`),
  });
  const address = await server.app.listen({ host, port });
  io.err(`strata server: listening on ${address} (store ${opts.store}, ${tokens.value.size} tokens)`);
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
