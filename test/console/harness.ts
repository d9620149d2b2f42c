// The console's end-to-end set-up: the real server (SQLite in a temp directory, the server
// tests' token table) listening on a loopback port with the workshop at step 5 applied through
// the batch endpoint, a restricted user (alice: every tier but `security`), the built console,
// and Debian's Chromium driven by playwright-core with a fresh profile. Nothing is faked.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { createStrataServer, DEFAULT_CONSOLE_DIR } from '../../src/server/app.ts';
import type { StrataServer } from '../../src/server/app.ts';
import { parseTokenFile } from '../../src/server/authn.ts';
import { openDatastore } from '../../src/store/index.ts';
import type { Datastore } from '../../src/store/index.ts';
import { readManifests } from '../../src/cli/remote.ts';
import { processIo } from '../../src/cli/io.ts';
import { TOKENS } from '../server/harness.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const ROOT = join(import.meta.dirname, '../..');
export const WORKSHOP = join(ROOT, 'testdata/workshop');
/** The workshop at step 5 (default deny), as test/workshop/diff.test.ts reads it. */
export const STEP5 = ['cluster', 'common', 'original-apps', 'enforce'].map((f) => join(WORKSHOP, f));

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (scripts/ensure-system-deps.sh installs it as root)`;
}

/** The console build the server serves; built once if a test runs before `npm run build:ui`. */
export function ensureConsoleBuilt(): void {
  if (existsSync(join(DEFAULT_CONSOLE_DIR, 'index.html'))) return;
  execFileSync(join(ROOT, 'node_modules/.bin/vite'), ['build', '--config', join(ROOT, 'web/vite.config.ts')], { cwd: ROOT, stdio: 'inherit' });
}

/** The documents of manifest paths, read as `strata apply -f` reads them. */
export async function readDocs(paths: readonly string[]): Promise<unknown[]> {
  return readManifests(processIo(), paths);
}

/** alice may read every tier and its policies except `security`'s, and use explain and matrix. */
export const ALICE_RBAC = (tiers: readonly string[]): unknown[] => [
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'console-reader' },
    rules: [
      { verbs: ['get'], apiGroups: ['projectcalico.org'], resources: ['tiers'], resourceNames: tiers },
      { verbs: ['get', 'list', 'watch'], apiGroups: ['projectcalico.org'], resources: ['tier.networkpolicies', 'tier.globalnetworkpolicies', 'tier.stagednetworkpolicies', 'tier.stagedglobalnetworkpolicies'], resourceNames: tiers.map((t) => `${t}.*`) },
      { verbs: ['get', 'list'], apiGroups: ['', 'networking.k8s.io'], resources: ['namespaces', 'pods', 'networkpolicies'] },
    ],
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'alice-console-reader' },
    subjects: [{ kind: 'User', name: 'alice' }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'console-reader' },
  },
];

export interface ConsoleServer {
  readonly url: string;
  readonly server: StrataServer;
  readonly store: Datastore;
  close(): Promise<void>;
}

export async function startConsoleServer(docs: readonly unknown[]): Promise<ConsoleServer> {
  ensureConsoleBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'strata-console-test-'));
  const store = await openDatastore(`sqlite:${join(dir, 'strata.db')}`);
  const tokens = parseTokenFile(TOKENS, 'tokens.csv');
  if (!tokens.ok) throw new Error('bad tokens');
  const server = await createStrataServer({ store, tokens: tokens.value, log: (m) => { if (process.env['STRATA_TEST_LOG'] !== undefined) process.stderr.write(`${m}\n`); } });
  const r = docs.length === 0 ? { statusCode: 200, body: '' } : await server.app.inject({ method: 'POST', url: '/apis/strata/v1/apply', headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' }, payload: JSON.stringify(docs) });
  if (r.statusCode !== 200) throw new Error(`apply failed: ${r.statusCode} ${r.body}`);
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    server,
    store,
    async close() {
      await server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Browser {
  readonly context: BrowserContext;
  page(): Promise<Page>;
  close(): Promise<void>;
}

export async function startBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'strata-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
  });
  return {
    context,
    async page() {
      const p = await context.newPage();
      // Generous: the suite runs two files at a time on two cores, beside lab tests.
      p.setDefaultTimeout(30_000);
      return p;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Sign in through the form, as a user does. */
export async function signIn(page: Page, url: string, token: string, hash = ''): Promise<void> {
  await page.goto(`${url}/ui/${hash}`);
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Views' }).waitFor();
}

const AXE = readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');

/** axe-core's violations of impact serious or critical on the page as it is. */
export async function axeViolations(page: Page): Promise<{ id: string; impact: string; help: string; nodes: string[] }[]> {
  // Evaluated through the DevTools protocol (not a <script>): the console's CSP stays on.
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: object): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
    const r = await axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({ id: v.id, impact: v.impact ?? '', help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.readUInt32BE(0) !== 0x89504e47 || png.toString('ascii', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
