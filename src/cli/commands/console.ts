// `strata console -f PATH…`: the web console over manifests alone. Not a second implementation:
// the real API server runs on a temporary SQLite datastore, the manifests go in through its batch
// apply (so they are validated exactly as `strata apply` would be: all or nothing), and a fresh
// admin token — printed to the terminal, never written anywhere else — signs the console in.
// The datastore is deleted when the command stops.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStrataServer } from '../../server/app.ts';
import type { StrataServer } from '../../server/app.ts';
import { parseTokenFile } from '../../server/authn.ts';
import { openDatastore } from '../../store/index.ts';
import type { Datastore } from '../../store/index.ts';
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';
import { readManifests } from '../remote.ts';
import { parseListen } from './server.ts';

export interface ConsoleOptions {
  readonly filename: readonly string[];
  readonly listen: string;
  /** Where the built console is (default: dist/ui of this checkout). */
  readonly consoleDir?: string | undefined;
}

export interface RunningConsole {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly token: string;
  readonly server: StrataServer;
  close(): Promise<void>;
}

interface ApplyAnswer {
  readonly code: number;
  readonly body: { readonly results?: readonly { readonly action: string }[]; readonly message?: string; readonly details?: { readonly causes?: readonly { readonly field?: string; readonly message?: string; readonly reason?: string }[] } };
}

/** Starts the server over the documents; throws UsageError (nothing left behind) when they do not apply. */
export async function startConsole(docs: readonly unknown[], listen: string, consoleDir?: string, log: (m: string) => void = () => {}): Promise<RunningConsole> {
  const { host, port } = parseListen(listen);
  if (!(host === 'localhost' || host === '::1' || host.startsWith('127.'))) throw new UsageError(`--listen ${listen}: the offline console listens on loopback only`);
  const token = randomBytes(24).toString('base64url');
  const tokens = parseTokenFile(`${token},console-admin,console-admin,"system:masters"\n`, 'console tokens');
  if (!tokens.ok) throw new Error('the generated token table does not parse');
  const dir = mkdtempSync(join(tmpdir(), 'strata-console-'));
  let store: Datastore | undefined;
  let server: StrataServer | undefined;
  const cleanup = async (): Promise<void> => {
    await server?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    store = await openDatastore(`sqlite:${join(dir, 'console.db')}`);
    server = await createStrataServer({ store, tokens: tokens.value, consoleDir, log });
    const r = await server.app.inject({ method: 'POST', url: '/apis/strata/v1/apply', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(docs) });
    const answer: ApplyAnswer = { code: r.statusCode, body: JSON.parse(r.body) as ApplyAnswer['body'] };
    if (answer.code !== 200) {
      const causes = (answer.body.details?.causes ?? []).map((c) => `  ${c.field ?? ''}: ${c.reason === undefined ? '' : `${c.reason}: `}${c.message ?? ''}`);
      throw new UsageError([`the manifests do not apply (${answer.code}): ${answer.body.message ?? ''}`, ...causes].join('\n'));
    }
    const address = await server.app.listen({ host, port });
    return { url: address, token, server, close: cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export async function runConsole(io: Io, opts: ConsoleOptions, stop: Promise<void> = signalled()): Promise<number> {
  const docs = await readManifests(io, opts.filename);
  if (docs.length === 0) throw new UsageError('no documents in the -f inputs');
  const c = await startConsole(docs, opts.listen, opts.consoleDir, (m) => io.err(`strata console: ${m}`));
  io.err(`strata console: ${docs.length} documents loaded into a temporary datastore`);
  io.out(`console: ${c.url}/ui/`);
  io.out(`token:   ${c.token}`);
  io.err('strata console: sign in with the token above (an admin of this throw-away server); Ctrl-C stops it and deletes the datastore');
  await stop;
  await c.close();
  return EXIT.OK;
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
