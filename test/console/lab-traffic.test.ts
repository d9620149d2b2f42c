// The console's flow log fed by real traffic: the workshop at step 5 as an agent lab (the kernel's
// deciding rules logged to nflog, collected and shipped by the agents), `lab traffic` driving real
// connections, the server storing the records — then the Flows view in Chromium lists the denied
// ones with the policy the kernel used, and its Explain link shows the same deciding policy as the
// server's explain. Root (the lab), Debian's chromium, ulogd and conntrack.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findProgram } from '../../src/lab/index.ts';
import { downAgentLab, runTraffic, upAgentLab } from '../../src/lab-session/index.ts';
import type { Session } from '../../src/lab-session/index.ts';
import type { FlowRecord } from '../../src/flows/record.ts';
import { flowsOf, REPO_ROOT, sessionSkip, sourcesOf, uniqueLabId } from '../lab-session/fixtures.ts';
import { api, eventually, startLiveServer } from '../agent/fixtures.ts';
import type { LiveServer } from '../agent/fixtures.ts';
import { browserMissing, ensureConsoleBuilt, signIn, startBrowser } from './harness.ts';
import type { Browser } from './harness.ts';

const DIR = path.join(REPO_ROOT, 'testdata', 'workshop');
const STEP5 = ['cluster', 'common', 'original-apps', 'enforce'].map((p) => path.join(DIR, p));
const skip =
  sessionSkip ??
  browserMissing() ??
  (findProgram('conntrack') === undefined ? 'needs conntrack (conntrack-tools)' : findProgram('ulogd') === undefined ? 'needs ulogd (ulogd2)' : undefined);

describe('the console shows flows from the lab traffic generator', { skip }, () => {
  const labId = uniqueLabId('ag');
  let server: LiveServer;
  let session: Session;
  let browser: Browser;
  const flows = flowsOf(path.join(DIR, 'step-5.jsonl')).filter((f) => !/[a-z]/i.test(f.to) || f.to.includes('/'));

  before(async () => {
    ensureConsoleBuilt();
    server = await startLiveServer({ flowStore: true });
    const up = await upAgentLab(await sourcesOf(...STEP5), { labId, target: { server: server.url, token: 'admin-token' }, flows, reportIntervalSeconds: 1, agentArgs: ['--resync-interval', '1', '--flow-interval', '1'] });
    assert.ok(up.ok, JSON.stringify(up.ok ? '' : up.diagnostics));
    session = up.value.session;
    browser = await startBrowser();
  });
  after(async () => {
    await browser?.close();
    await downAgentLab(labId);
    await server?.close();
  });

  it('denied traffic appears in the Flows view with the kernel\'s policy, and Explain agrees', async () => {
    const traffic = await runTraffic(session, flows, { ratePerSec: 30, durationMs: 3000 });
    assert.ok(traffic.denied > 0 && traffic.allowed > 0, JSON.stringify(traffic));
    const denied = async (): Promise<FlowRecord[]> => ((await api(server.url, 'GET', '/apis/strata/v1/flows?action=deny&since=10m')).json.items ?? []) as FlowRecord[];
    assert.ok(await eventually(async () => (await denied()).length > 0, 30_000), 'no denied flow reached the server');
    const record = (await denied()).find((r) => r.source.name !== null && r.destination.name !== null && r.policies.enforced.length > 0)!;
    assert.ok(record !== undefined, JSON.stringify(await denied()));
    const decider = record.policies.enforced[record.policies.enforced.length - 1]!;
    const policy = decider.kind === 'EndOfTier' ? decider.trigger!.name : decider.name!;

    const page = await browser.page();
    await signIn(page, server.url, 'admin-token', '#/flows?action=deny');
    const from = `${record.source.namespace}/${record.source.name}`;
    const to = `${record.destination.namespace}/${record.destination.name}`;
    const row = page.locator('table.flows tbody tr', { hasText: from }).filter({ hasText: to }).first();
    await row.waitFor();
    const text = await row.textContent();
    assert.match(text ?? '', /deny/);
    assert.ok((text ?? '').includes(policy), `the row names ${policy}: ${text}`);

    // Click through: the console's explain is the server's explain of the same flow.
    await row.getByRole('link', { name: 'Explain' }).click();
    await page.locator('p.decided').waitFor();
    const shown = await page.locator('p.decided').getAttribute('data-policy');
    const ex = await api(server.url, 'POST', '/apis/strata/v1/explain', { from, to, port: record.port, protocol: record.protocol.toUpperCase() });
    assert.equal(ex.code, 200, JSON.stringify(ex.json));
    assert.equal(shown, ex.json.decidedBy.policy);
  });
});
