// Shared set-up for the server tests: a real SQLite store in a temp directory, a token table,
// and a server answering in-process (fastify inject) — no stubs.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatastore } from '../../src/store/index.ts';
import type { Datastore } from '../../src/store/index.ts';
import { createStrataServer } from '../../src/server/app.ts';
import type { StrataServer } from '../../src/server/app.ts';
import { parseTokenFile } from '../../src/server/authn.ts';
import type { ThreatFeedOptions } from '../../src/server/threat-feeds.ts';
import type { FlowStore } from '../../src/flows/store.ts';

export const TOKENS = `admin-token,admin,1,"system:masters"
alice-token,alice,2,"app-team"
bob-token,bob,3
`;

export interface Harness {
  readonly server: StrataServer;
  readonly store: Datastore;
  readonly dir: string;
  call(method: string, url: string, opts?: { token?: string | null; body?: unknown; contentType?: string }): Promise<{ code: number; json: any; text: string }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  bodyLimit?: number;
  bookmarkIntervalMs?: number;
  threatFeeds?: ThreatFeedOptions | false;
  /** A datastore other than a SQLite file in the directory (e.g. an etcd member's). */
  storeSpec?: string;
  /** Reuse this directory (a server restart on the same files). */
  dir?: string;
  /** The flow store the server gets (it closes it). */
  flowStore?: FlowStore;
  flowMaintenanceMs?: number;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const { dir: given, storeSpec, ...serverExtra } = opts;
  const dir = given ?? mkdtempSync(join(tmpdir(), 'strata-server-'));
  const store = await openDatastore(storeSpec ?? `sqlite:${join(dir, 'strata.db')}`);
  const tokens = parseTokenFile(TOKENS, 'tokens.csv');
  if (!tokens.ok) throw new Error('bad tokens');
  const server = await createStrataServer({ store, tokens: tokens.value, auditFile: join(dir, 'audit.jsonl'), log: (m) => { if (process.env['STRATA_TEST_LOG'] !== undefined) process.stderr.write(`${m}\n`); }, ...serverExtra });
  return {
    server,
    store,
    dir,
    async call(method, url, opts = {}) {
      const token = opts.token === undefined ? 'admin-token' : opts.token;
      const headers: Record<string, string> = {};
      if (token !== null) headers['authorization'] = `Bearer ${token}`;
      let payload: string | undefined;
      if (opts.body !== undefined) {
        payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
        headers['content-type'] = opts.contentType ?? 'application/json';
      }
      const r = await server.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) });
      let json: unknown;
      try {
        json = JSON.parse(r.body);
      } catch {
        json = undefined;
      }
      return { code: r.statusCode, json, text: r.body };
    },
    async close() {
      await server.close();
      await store.close();
    },
  };
}
