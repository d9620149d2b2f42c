// The console in a real browser (Debian's Chromium through playwright-core) against the real
// server holding the workshop at step 5: sign-in, each view by clicking, typing and deep links,
// what is shown checked against the server's and the CLI's answers, tier RBAC with a restricted
// token, keyboard navigation, axe-core, and screenshots compared by structure (the role tree and
// the image's size, never pixels).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import { policyBoardSchema } from '../../src/server/board-wire.ts';
import { explainSchema } from '../../src/engine/wire.ts';
import { flowRecordSchema } from '../../src/flows/record.ts';
import { ALICE_RBAC, axeViolations, browserMissing, pngSize, readDocs, signIn, startBrowser, startConsoleServer, STEP5 } from './harness.ts';
import type { Browser, ConsoleServer } from './harness.ts';

const skip = browserMissing();
/** Screenshots go here; STRATA_CONSOLE_SHOTS=docs/console refreshes the documentation's. */
const KEEP_SHOTS = process.env['STRATA_CONSOLE_SHOTS'];
const SHOTS = KEEP_SHOTS ?? mkdtempSync(join(tmpdir(), 'strata-console-shots-'));
const GOLDEN = join(import.meta.dirname, 'golden');
const UPDATE = process.env['STRATA_UPDATE_GOLDEN'] === '1';

/** The role tree of a part of a view (Playwright's ARIA snapshot), compared with test/console/golden/NAME.aria.yaml. */
async function assertStructure(part: Locator, name: string): Promise<void> {
  const tree = await part.ariaSnapshot();
  const file = join(GOLDEN, `${name}.aria.yaml`);
  if (UPDATE || !existsSync(file)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, `${tree}\n`);
  }
  assert.equal(`${tree}\n`, readFileSync(file, 'utf8'), `the ${name} view's role tree changed (STRATA_UPDATE_GOLDEN=1 to accept)`);
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const png = await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  assert.deepEqual(pngSize(png), { width: 1280, height: 800 }, 'a screenshot has the viewport size');
}

async function assertAccessible(page: Page, view: string): Promise<void> {
  const v = await axeViolations(page);
  assert.deepEqual(v, [], `${view}: axe-core found serious or critical violations`);
}

describe('the web console in Chromium', { skip }, () => {
  let srv: ConsoleServer;
  let browser: Browser;
  let board: ReturnType<typeof policyBoardSchema.parse>;
  const tiers: string[] = [];
  /** Whether the server has the flow store's statistics (the board then shows rule hits). */
  let hasStats = false;

  before(async () => {
    const docs = await readDocs(STEP5);
    const tierNames = (docs as { kind?: string; metadata?: { name?: string } }[]).filter((d) => d.kind === 'Tier').map((d) => d.metadata!.name!);
    tiers.push(...tierNames);
    srv = await startConsoleServer([...docs, ...ALICE_RBAC(['default', ...tierNames.filter((t) => t !== 'security')])]);
    browser = await startBrowser();
    const r = await fetch(`${srv.url}/apis/strata/v1/policyboard`, { headers: { authorization: 'Bearer admin-token' } });
    board = policyBoardSchema.parse(await r.json());
    hasStats = (await fetch(`${srv.url}/apis/strata/v1/flows/stats`, { headers: { authorization: 'Bearer admin-token' } })).status !== 404;
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
    if (KEEP_SHOTS === undefined) rmSync(SHOTS, { recursive: true, force: true });
  });

  test('a wrong token is refused on the sign-in form; the right one opens the board with the tiers in evaluation order', async () => {
    const page = await browser.page();
    await page.goto(`${srv.url}/ui/`);
    await page.getByLabel('Bearer token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'did not accept' }).waitFor();
    await page.getByLabel('Bearer token').fill('admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('section.tier').first().waitFor();
    const shown = await page.locator('section.tier').evaluateAll((els) => els.map((e) => e.getAttribute('data-tier')));
    assert.deepEqual(shown, board.tiers.map((t) => t.name));
    assert.ok(shown.includes('security') && shown.includes('application'));
    // The token is in sessionStorage only.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('strata.token')), 'admin-token');
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    // Policies in order inside a tier, with the engine's selected count.
    const security = board.tiers.find((t) => t.name === 'security')!;
    const names = await page.locator('section[data-tier="security"] li.policy').evaluateAll((els) => els.map((e) => e.getAttribute('data-policy')));
    assert.deepEqual(names, security.policies.map((p) => p.name));
    const first = security.policies[0]!;
    const text = await page.locator(`section[data-tier="security"] li[data-policy="${first.name}"] .selected`).textContent();
    assert.equal(text, `${first.selected} of ${board.endpoints} endpoints`);
    if (hasStats) {
      // The flow store's statistics: every card has its hits line (none yet in this test's window).
      assert.equal(await page.locator('li.policy dd.hits').count(), await page.locator('li.policy').count());
    } else {
      // No flow store on this server: said so, not an error.
      const hits = await page.getByRole('status').filter({ hasText: 'Rule hit counts' }).textContent();
      assert.match(hits ?? '', /flows\/stats/);
    }
    await screenshot(page, 'board');
    await assertAccessible(page, 'board');
    await page.close();
  });

  test('board: the tier deep link, the text and namespace filters, a policy\'s YAML and a tier exported as YAML', async () => {
    const page = await browser.page();
    await signIn(page, srv.url, 'admin-token', '#/board?tier=security');
    await page.locator('section.tier').first().waitFor();
    assert.deepEqual(await page.locator('section.tier').evaluateAll((els) => els.map((e) => e.getAttribute('data-tier'))), ['security']);
    await assertStructure(page.getByRole('list', { name: 'Tiers in evaluation order' }), hasStats ? 'board-security.stats' : 'board-security');
    await page.getByLabel('Text').fill('tenant-02');
    await page.waitForFunction(`document.querySelectorAll('section[data-tier="security"] li.policy').length === 1`);
    assert.equal(await page.locator('li.policy').getAttribute('data-policy'), 'security.tenant-02-restrict');
    assert.match(currentUrl(page), /q=tenant-02/);
    // Open the YAML of the policy.
    await page.getByRole('button', { name: 'Show the YAML of security.tenant-02-restrict' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('kind: GlobalNetworkPolicy').waitFor();
    assert.match((await dialog.locator('pre').textContent()) ?? '', /name: security\.tenant-02-restrict/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    // Export the tier: every policy of it (the text filter does not narrow an export).
    await page.getByLabel('Text').fill('');
    await page.getByRole('button', { name: 'Export security as YAML' }).click();
    const yaml = (await page.getByRole('dialog').locator('pre').textContent()) ?? '';
    for (const p of board.tiers.find((t) => t.name === 'security')!.policies) assert.ok(yaml.includes(`name: ${p.name}`), `${p.name} is exported`);
    assert.ok(!yaml.includes('resourceVersion'), 'server-owned metadata is dropped from the export');
    await page.keyboard.press('Escape');
    // Namespace filter: only policies of that namespace stay, in every tier.
    await page.goto(`${srv.url}/ui/#/board?namespace=hipstershop`);
    await page.locator('li.policy').first().waitFor();
    const nss = await page.locator('li.policy dl dd:nth-of-type(2)').allTextContents();
    assert.ok(nss.length > 0 && nss.every((n) => n === 'hipstershop'), `namespaces shown: ${nss.join(',')}`);
    await page.close();
  });

  test('a user who may not read tier security sees neither the tier nor its policies (the server filters)', async () => {
    const r = await fetch(`${srv.url}/apis/strata/v1/policyboard`, { headers: { authorization: 'Bearer alice-token' } });
    assert.equal(r.status, 200);
    const restricted = policyBoardSchema.parse(await r.json());
    assert.ok(!restricted.tiers.some((t) => t.name === 'security'));
    assert.ok(restricted.tiers.some((t) => t.name === 'application'));
    // What alice may read is what she sees, whole: the same policies and counts as the admin's board.
    for (const t of restricted.tiers) assert.deepEqual(t, board.tiers.find((b) => b.name === t.name));
    const page = await browser.page();
    await signIn(page, srv.url, 'alice-token');
    await page.locator('section.tier').first().waitFor();
    const shown = await page.locator('section.tier').evaluateAll((els) => els.map((e) => e.getAttribute('data-tier')));
    assert.deepEqual(shown, restricted.tiers.map((t) => t.name));
    const body = (await page.locator('main').textContent()) ?? '';
    for (const p of board.tiers.find((t) => t.name === 'security')!.policies) assert.ok(!body.includes(p.name), `${p.name} is not shown to alice`);
    // A deep link to the tier shows nothing of it either.
    await page.goto(`${srv.url}/ui/#/board?tier=security`);
    await page.locator('p.summary').waitFor();
    assert.equal(await page.locator('section.tier').count(), 0);
    await page.close();
  });

  test('explain: the deep link shows the deciding policy strata explain names, the trace per tier and the closest rules', async () => {
    const flow = { from: 'monitoring/monitoring-pod', to: 'hipstershop/frontend', port: '8080', protocol: 'TCP' };
    const io = memoryIo();
    const code = await main(['explain', ...STEP5.flatMap((p) => ['-f', p]), '--from', flow.from, '--to', flow.to, '--port', flow.port, '-o', 'json', '-q'], io);
    assert.equal(code, 1, 'the flow is denied');
    const cli = explainSchema.parse(JSON.parse(io.stdout.join('\n')));
    assert.equal(cli.decidedBy.policy, 'security.tenant-01-restrict');
    const page = await browser.page();
    await signIn(page, srv.url, 'admin-token', `#/explain?from=${encodeURIComponent(flow.from)}&to=${encodeURIComponent(flow.to)}&port=${flow.port}&protocol=${flow.protocol}`);
    const decided = page.locator('p.decided');
    await decided.waitFor();
    assert.equal(await decided.getAttribute('data-policy'), cli.decidedBy.policy);
    assert.equal(await decided.getAttribute('data-tier'), cli.decidedBy.tier);
    assert.equal(await page.locator('[data-verdict]').textContent(), cli.verdict);
    // The deciding row is marked, in the table of its tier, in the direction that decided.
    const row = page.locator(`#trace-${cli.decidedBy.direction} ~ table tr[aria-current="true"]`);
    assert.equal(await row.count(), 1);
    assert.match((await row.textContent()) ?? '', new RegExp(cli.decidedBy.policy!.replace(/\./g, '\\.')));
    assert.equal(await row.locator('xpath=ancestor::table/caption').textContent(), `Tier ${cli.decidedBy.tier}`);
    // Closest rules, as the CLI lists them.
    const closest = await page.locator('ol.closest li').count();
    assert.equal(closest, cli.closestRules?.length ?? 0);
    await assertStructure(page.locator('article.explain-result'), 'explain-denied');
    await screenshot(page, 'explain');
    await assertAccessible(page, 'explain');
    // Typing another flow and submitting with the keyboard updates the hash and the answer.
    await page.getByLabel('Source').fill('hipstershop/frontend');
    await page.getByLabel('Destination').fill('hipstershop/cartservice');
    await page.getByLabel('Port').fill('7070');
    await page.getByLabel('Port').press('Enter');
    await page.waitForFunction(`location.hash.includes('cartservice')`);
    await page.locator('[data-verdict="allow"]').waitFor();
    await page.close();
  });

  test('service graph: namespaces as nodes, a namespace opens to its endpoints, an edge shows ports and the deciding policy each way', async () => {
    const page = await browser.page();
    await signIn(page, srv.url, 'admin-token', '#/graph');
    await page.locator('g.node').first().waitFor();
    const nodes = await page.locator('g.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')));
    const m = (await (await fetch(`${srv.url}/apis/strata/v1/matrix`, { method: 'POST', headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' }, body: '{}' })).json()) as { classes: { members: string[] }[] };
    const namespaces = [...new Set(m.classes.flatMap((c) => c.members).map((id) => id.split('/')[0]!))].sort();
    assert.deepEqual([...nodes].sort(), namespaces.map((n) => `n:${n}`));
    // Namespace level: ingress-nginx reaches yaobank on 80/TCP (the matrix's namespace aggregate).
    assert.match((await page.getByRole('button', { name: /^Edge ingress-nginx to yaobank/ }).getAttribute('aria-label')) ?? '', /allowed ports/);
    await screenshot(page, 'graph');
    await assertAccessible(page, 'graph');
    // Keyboard: focus the yaobank node and open it with Enter.
    await page.locator('g.node[data-node="n:yaobank"]').focus();
    await page.keyboard.press('Enter');
    await page.locator('g.node[data-node="e:yaobank/customer"]').waitFor();
    assert.match(currentUrl(page), /expand=yaobank/);
    // The customer → summary edge: allowed on 80/TCP by the matrix; explained both ways by the server.
    await clickEdge(page, /^Edge customer to summary/);
    const detail = page.locator('section.edge-detail');
    await detail.getByText('Allowed ports').waitFor();
    assert.match((await detail.textContent()) ?? '', /80\/TCP/);
    await detail.locator('table.edge-explain tbody tr').first().waitFor();
    const rows = await detail.locator('table.edge-explain tbody tr').allTextContents();
    assert.ok(rows.some((r) => r.startsWith('yaobank/customer → yaobank/summary') && r.includes('allow')), rows.join('\n'));
    assert.ok(rows.some((r) => r.startsWith('yaobank/summary → yaobank/customer')), 'the other way is explained too');
    await screenshot(page, 'graph-edge');
    await page.close();
  });

  test('flows and preview: the server\'s diff shown line by line, or a clear notice where the server has no flow log or diff API', async () => {
    const page = await browser.page();
    const flowsAnswer = await fetch(`${srv.url}/apis/strata/v1/flows`, { headers: { authorization: 'Bearer admin-token' } });
    await signIn(page, srv.url, 'admin-token', '#/flows?action=deny');
    if (flowsAnswer.status === 404) {
      await page.getByText('The flow log is not available on this server.').waitFor();
    } else {
      await page.locator('table.flows').waitFor();
    }
    await assertAccessible(page, 'flows');
    await screenshot(page, 'flows');
    await page.getByRole('link', { name: 'Preview' }).click();
    // The change: tenant 1's security policy denies instead of passing its own namespaces' traffic.
    const changed = readFileSync(join(STEP5[3]!, 'security.tenant-01-restrict.yaml'), 'utf8').replace('- action: Pass', '- action: Deny');
    await page.getByLabel('Changed manifests (YAML, several documents)').fill(changed);
    await page.getByRole('button', { name: 'Preview the change' }).click();
    const diffAnswer = await fetch(`${srv.url}/apis/strata/v1/diff`, { method: 'POST', headers: { authorization: 'Bearer admin-token', 'content-type': 'application/yaml' }, body: changed });
    if (diffAnswer.status === 404) await page.getByText('The diff preview is not available on this server.').waitFor();
    else {
      // The server's diff endpoint (the staging work): the page shows its lines, one row each.
      assert.equal(diffAnswer.status, 200);
      const body = (await diffAnswer.json()) as { lines: { change: string }[]; peers?: unknown[] };
      await page.locator('#diff-title').waitFor();
      const rows = await page.locator('table.diff tbody tr').allTextContents();
      assert.equal(rows.length, body.lines.length + (body.peers?.length ?? 0));
      assert.ok(body.lines.some((l) => l.change === 'closed'), 'the change closes flows');
      assert.ok(rows.some((r) => r.startsWith('closed') && r.includes('security.tenant-01-restrict')), 'a closed row names the deciding policy');
    }
    await assertAccessible(page, 'preview');
    await screenshot(page, 'preview');
    await page.close();
  });

  test('flows: stored records listed and filtered, the live tail, a row explained, rule hits on the board (when the server has the flow store)', async (t) => {
    const probe = await fetch(`${srv.url}/apis/strata/v1/flows`, { headers: { authorization: 'Bearer admin-token' } });
    if (probe.status === 404) {
      t.skip('this server has no flow API (GET /apis/strata/v1/flows is 404): the notice is checked above');
      return;
    }
    const now = Date.now();
    const ep = (ns: string, name: string, labels: Record<string, string>) => ({ kind: 'WorkloadEndpoint' as const, namespace: ns, name, ip: null, labels });
    const record = (from: [string, string], to: [string, string], port: number, action: 'allow' | 'deny', hit: { tier: string; name: string; rule: number; kind: string; namespace: string | null }, at: number) =>
      flowRecordSchema.parse({
        startTime: new Date(at - 10_000).toISOString(), endTime: new Date(at).toISOString(), reporter: 'dst', node: 'node-1',
        source: ep(from[0], from[1], {}), destination: ep(to[0], to[1], {}), srcPort: null, port, protocol: 'tcp', action,
        policies: { enforced: [{ kind: hit.kind, tier: hit.tier, namespace: hit.namespace, name: hit.name, action, ruleIndex: hit.rule, trigger: null }], pending: [] },
        engine: null, mismatch: false, packets: 3, bytes: 180, packetsIn: 3, packetsOut: 0, bytesIn: 180, bytesOut: 0, connections: 1, connectionsCompleted: 0, aggregation: 'src-port',
      });
    const deny = record(['monitoring', 'monitoring-pod'], ['hipstershop', 'frontend'], 8080, 'deny', { tier: 'security', name: 'security.tenant-01-restrict', rule: 2, kind: 'GlobalNetworkPolicy', namespace: null }, now - 60_000);
    const allow = record(['yaobank', 'customer'], ['yaobank', 'summary'], 80, 'allow', { tier: 'application', name: 'application.tenant-1-yaobank-allow', rule: 0, kind: 'NetworkPolicy', namespace: 'yaobank' }, now - 30_000);
    const post = async (seq: number, records: unknown[]): Promise<void> => {
      const r = await fetch(`${srv.url}/apis/strata/v1/flows`, { method: 'POST', headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' }, body: JSON.stringify({ agent: 'console-test', boot: 'b1', seq, records }) });
      assert.equal(r.status, 200, await r.text());
    };
    await post(0, [deny, allow]);
    const page = await browser.page();
    await signIn(page, srv.url, 'admin-token', '#/flows?action=deny');
    await page.locator('table.flows tbody tr').first().waitFor();
    const rows = await page.locator('table.flows tbody tr').allTextContents();
    assert.equal(rows.length, 1, rows.join('\n'));
    assert.match(rows[0]!, /monitoring\/monitoring-pod.*hipstershop\/frontend.*8080\/tcp.*deny.*security.tenant-01-restrict rule 2/);
    await assertAccessible(page, 'flows with records');
    await screenshot(page, 'flows');
    // The live tail: a record stored now appears without a reload.
    await page.getByLabel('live tail').check();
    await new Promise((r) => setTimeout(r, 300));
    await post(1, [record(['monitoring', 'monitoring-pod'], ['yaobank', 'customer'], 80, 'deny', { tier: 'security', name: 'security.tenant-01-restrict', rule: 2, kind: 'GlobalNetworkPolicy', namespace: null }, Date.now())]);
    await page.getByRole('cell', { name: 'yaobank/customer' }).waitFor();
    // Click through to explain: the engine's verdict for the same flow.
    await page.locator('table.flows tbody tr', { hasText: 'hipstershop/frontend' }).getByRole('link', { name: 'Explain' }).click();
    await page.locator('p.decided').waitFor();
    assert.equal(await page.locator('p.decided').getAttribute('data-policy'), 'security.tenant-01-restrict');
    // Rule hits on the board, from the flow store's statistics.
    await page.goto(`${srv.url}/ui/#/board?tier=security`);
    const hits = page.locator('li[data-policy="security.tenant-01-restrict"] dd.hits');
    await hits.waitFor();
    assert.match((await hits.textContent()) ?? '', /^\d+ packets, last /);
    await page.close();
  });

  test('keyboard: the views are reachable by Tab and Enter from the top of the page, focus is visible', async () => {
    const page = await browser.page();
    await signIn(page, srv.url, 'admin-token');
    await page.locator('section.tier').first().waitFor();
    await page.evaluate('document.activeElement?.blur()');
    const visited: string[] = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab');
      visited.push(await page.evaluate<string>(`document.activeElement?.textContent ?? ''`));
    }
    assert.deepEqual(visited, ['Policy board', 'Service graph', 'Explain', 'Flows']);
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Explain' }).waitFor();
    assert.match(currentUrl(page), /#\/explain$/);
    const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
    assert.notEqual(outline, 'none', 'the focused element shows a focus ring');
    await page.close();
  });

  test('signing out forgets the token; a deep link asks for it again and then opens the view', async () => {
    const page = await browser.page();
    await signIn(page, srv.url, 'admin-token');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Bearer token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('strata.token')), null);
    await page.goto(`${srv.url}/ui/#/explain?from=yaobank%2Fcustomer&to=yaobank%2Fsummary&port=80&protocol=TCP`);
    await page.getByLabel('Bearer token').fill('admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-verdict="allow"]').waitFor();
    await page.close();
  });
});

/**
 * A pointer click on a visible stretch of the edge's curve, as a user aims (its bounding box's
 * centre is off the curve, and nodes lie on top of edges where they cross).
 */
async function clickEdge(page: Page, name: RegExp): Promise<void> {
  const edge = page.getByRole('button', { name });
  await edge.scrollIntoViewIfNeeded();
  const label = await edge.getAttribute('aria-label');
  interface Curve { getTotalLength(): number; getPointAtLength(n: number): { x: number; y: number }; getScreenCTM(): { a: number; b: number; c: number; d: number; e: number; f: number } }
  const points = await edge.locator('path.hit').evaluate((el) => {
    const path = el as unknown as Curve;
    const m = path.getScreenCTM();
    const out: { x: number; y: number }[] = [];
    for (let k = 1; k < 20; k++) {
      const pt = path.getPointAtLength((path.getTotalLength() * k) / 20);
      out.push({ x: pt.x * m.a + pt.y * m.c + m.e, y: pt.x * m.b + pt.y * m.d + m.f });
    }
    return out;
  });
  let target: { x: number; y: number } | undefined;
  for (const p of points) {
    const over = await page.evaluate<string | null>(`document.elementFromPoint(${p.x}, ${p.y})?.closest('g.edge')?.getAttribute('aria-label') ?? null`);
    if (over === label) {
      target = p;
      break;
    }
  }
  assert.ok(target !== undefined, `some stretch of ${label} is visible to click`);
  await page.mouse.click(target.x, target.y);
  await page.locator('.edge.selected').waitFor();
  assert.equal(await page.locator('.edge.selected').getAttribute('aria-label'), label, 'the click selects that edge');
}

function currentUrl(page: Page): string {
  return page.url();
}

test('the console is served at /ui/ with a CSP, assets are immutable, nothing outside the build is served', { skip }, async () => {
  const srv = await startConsoleServer([]);
  try {
    const index = await fetch(`${srv.url}/ui/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await index.text();
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset !== undefined, 'index.html names its script');
    const js = await fetch(`${srv.url}${asset}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`${srv.url}/ui`, { redirect: 'manual' })).status, 301);
    for (const bad of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/assets/../../package.json', '/ui/nothing.js']) {
      const r = await fetch(`${srv.url}${bad}`);
      assert.ok([400, 401, 404].includes(r.status), `${bad}: ${r.status}`);
      assert.ok(!(await r.text()).includes('"devDependencies"'), `${bad} does not leak files`);
    }
    // The API stays behind authentication.
    assert.equal((await fetch(`${srv.url}/apis/strata/v1/policyboard`)).status, 401);
  } finally {
    await srv.close();
  }
});
