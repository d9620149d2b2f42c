// Shared by the agent tests: a real API server (SQLite in a temp dir, listening on 127.0.0.1)
// that can be stopped and started again on the same port and database, and small API helpers.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteFlowStore } from '../../src/flows/sqlite-store.ts';
import { createStrataServer } from '../../src/server/app.ts';
import type { StrataServer } from '../../src/server/app.ts';
import { parseTokenFile } from '../../src/server/authn.ts';
import { openDatastore } from '../../src/store/index.ts';
import type { Datastore } from '../../src/store/index.ts';

export const ADMIN_TOKEN = 'admin-token';
const TOKENS = `${ADMIN_TOKEN},admin,1,"system:masters"\nnode-1-token,system:node:node-1,2\n`;

export interface LiveServer {
  readonly url: string;
  readonly dir: string;
  /** Stops the server (connections are cut) but keeps its database. */
  stop(): Promise<void>;
  /** Starts it again on the same port and database. */
  start(): Promise<void>;
  running(): boolean;
  close(): Promise<void>;
}

/** `flowStore`: keep flow records in DIR/strata.flows.db (as `strata server --store sqlite:…` does), so they survive stop/start. */
export async function startLiveServer(opts: { bookmarkIntervalMs?: number; flowStore?: boolean } = {}): Promise<LiveServer> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-agent-'));
  const tokens = parseTokenFile(TOKENS, 'tokens.csv');
  if (!tokens.ok) throw new Error('bad tokens');
  let store: Datastore | undefined;
  let server: StrataServer | undefined;
  let port = 0;
  const start = async (): Promise<void> => {
    store = await openDatastore(`sqlite:${join(dir, 'strata.db')}`);
    server = await createStrataServer({
      store,
      tokens: tokens.value,
      log: () => undefined,
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 500,
      ...(opts.flowStore === true ? { flowStore: openSqliteFlowStore({ path: join(dir, 'strata.flows.db') }) } : {}),
    });
    const address = await server.app.listen({ host: '127.0.0.1', port });
    port = Number(new URL(address).port);
  };
  const stop = async (): Promise<void> => {
    await server?.close();
    await store?.close();
    server = undefined;
    store = undefined;
  };
  await start();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    dir,
    stop,
    start,
    running: () => server !== undefined,
    close: stop,
  };
}

export async function api(url: string, method: string, path: string, body?: unknown, token = ADMIN_TOKEN): Promise<{ code: number; json: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': typeof body === 'string' ? 'application/yaml' : 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { code: res.status, json };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
