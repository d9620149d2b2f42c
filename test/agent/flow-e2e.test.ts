// Flow visibility end to end: the workshop's step 5 as an agent lab (`upAgentLab`, what
// `strata lab up --server` runs), one real `strata agent` per node collecting the kernel's nflog
// decisions and conntrack counters in its node's namespace and shipping them to a real API server
// (SQLite flow store on disk). Real packets; the records are read back through
// `GET /apis/strata/v1/flows` and compared with the server's own `POST /apis/strata/v1/explain`.
// Then the faults: the server stopped while records are spooled, the agents killed with SIGKILL
// and restarted by hand, the server started again on the same files — N connections must be N.
// Needs root (namespaces, nft), ulogd2 (+JSON), conntrack, setpriv.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import type { FlowRecord } from '../../src/flows/record.ts';
import { defaultFlowPaths } from '../../src/agent/flow-plugin.ts';
import { agentRunDir } from '../../src/agent/index.ts';
import { findProgram } from '../../src/lab/index.ts';
import type { Lab } from '../../src/lab/index.ts';
import { agentNodes, attachAgentSession, downAgentLab, flowCollectionUnavailableReason, probeSession, spawnAgent, upAgentLab, waitForAgents, withExternalsFor } from '../../src/lab-session/index.ts';
import type { Session, SessionFlow, SessionProbeResult } from '../../src/lab-session/index.ts';
import { flowsOf, REPO_ROOT, sessionSkip, sourcesOf, uniqueLabId } from '../lab-session/fixtures.ts';
import { ADMIN_TOKEN, api, eventually, sleep, startLiveServer } from './fixtures.ts';
import type { LiveServer } from './fixtures.ts';

const DIR = path.join(REPO_ROOT, 'testdata', 'workshop');
const STEP5 = ['cluster', 'common', 'original-apps', 'enforce'].map((p) => path.join(DIR, p));
const skip = sessionSkip ?? flowCollectionUnavailableReason() ?? (findProgram('setpriv') === undefined ? 'needs setpriv (util-linux)' : undefined);
// Report every second (the default is 5 s), so the test waits less.
const AGENT_ARGS = ['--flow-interval', '1'];
const CATALOG_FLOW = { from: 'hipstershop/frontend', to: 'hipstershop/productcatalogservice', port: 3550, protocol: 'TCP' } as SessionFlow;

const side = (e: FlowRecord['source'], text: string, address: string | undefined): boolean => e.ip === address || (e.namespace !== null && `${e.namespace}/${e.name}` === text);

describe('flows end to end: kernel → agent → server → API and CLI', { skip }, () => {
  const labId = uniqueLabId('fe');
  const flows = flowsOf(path.join(DIR, 'step-5.jsonl'));
  let server: LiveServer;
  let lab: Lab;
  let placement: Readonly<Record<string, string>> = {};
  const target = (): { server: string; token: string } => ({ server: server.url, token: ADMIN_TOKEN });

  const current = async (): Promise<Session> => {
    const s = await attachAgentSession(labId, target());
    assert.ok(s.ok, JSON.stringify(s.ok ? '' : s.diagnostics));
    const ext = await withExternalsFor(s.value, flows);
    assert.ok(ext.ok, JSON.stringify(ext.ok ? '' : ext.diagnostics));
    lab = ext.value.lab;
    return ext.value;
  };
  const listFlows = async (query: string): Promise<FlowRecord[]> => {
    const r = await api(server.url, 'GET', `/apis/strata/v1/flows?since=15m&limit=5000${query}`);
    assert.equal(r.code, 200, JSON.stringify(r.json));
    return r.json.items as FlowRecord[];
  };
  /** Connections of frontend → catalog:3550 the API holds, per reporter. */
  const catalogConnections = async (): Promise<{ src: number; dst: number }> => {
    const items = (await listFlows('&endpoint=hipstershop/productcatalogservice&port=3550')).filter((x) => x.source.name === 'frontend');
    const sum = (rep: 'src' | 'dst'): number => items.filter((x) => x.reporter === rep).reduce((n, x) => n + x.connections, 0);
    return { src: sum('src'), dst: sum('dst') };
  };
  const metricsOf = async (node: string): Promise<string> => {
    const n = agentNodes(lab).find((x) => x.name === node);
    assert.ok(n?.listen, `no agent for ${node}`);
    return (await fetch(`http://${n.listen}/metrics`)).text();
  };
  const gauge = (text: string, name: string): number => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
 /** `session`: one read before (the server may be down now). */
  const drive = async (n: number, session?: Session): Promise<void> => {
    const results = await probeSession(session ?? (await current()), Array.from({ length: n }, () => CATALOG_FLOW), { concurrency: 2 });
    assert.deepEqual(results.map((r) => r.observed), Array.from({ length: n }, () => 'allow'));
  };

  before(async () => {
    server = await startLiveServer({ flowStore: true });
    const up = await upAgentLab(await sourcesOf(...STEP5), { labId, target: target(), flows, reportIntervalSeconds: 1, agentArgs: AGENT_ARGS });
    assert.ok(up.ok, JSON.stringify(up.diagnostics));
    lab = up.value.session.lab;
    placement = up.value.session.record.placement;
  });
  after(async () => {
    await downAgentLab(labId);
    await server?.close();
  });

  it('every agent collects: /status says so, /metrics has the spool gauges', async () => {
    for (const n of agentNodes(lab)) {
      const status = (await (await fetch(`http://${n.listen!}/status`)).json()) as { plugins?: Record<string, { collecting?: boolean; problem?: string }> };
      assert.equal(status.plugins?.['flow-log']?.collecting, true, JSON.stringify(status.plugins));
      assert.ok(gauge(await metricsOf(n.name), 'strata_flow_spool_records') >= 0);
      assert.match(n.flowLog ?? '', /^collecting: \d+ records, \d+ shipped, \d+ spooled/);
    }
    const io = memoryIo();
    assert.equal(await main(['lab', 'status', '--lab', labId], io), 0);
    assert.match(io.stdout.join('\n'), /flow log: by the agents/);
    assert.match(io.stdout.join('\n'), /node-1 .*; flow log collecting: /);
  });

  it('N connections are N after the server stops, the agents are killed with SIGKILL and restarted, and the server starts again', async () => {
    const N1 = 4;
    const N2 = 3;
    const N3 = 2;
    const t0 = performance.now();
    await drive(N1);
    assert.ok(await eventually(async () => (await catalogConnections()).dst >= N1, 30_000), `first ${N1} connections never arrived: ${JSON.stringify(await catalogConnections())}; ${JSON.stringify((await listFlows('')).map((x) => [x.reporter, x.source.name, x.destination.name, x.port, x.connections]))}`);
    console.log(`# flows e2e: ${N1} connections driven → all queryable through the API after ${Math.round(performance.now() - t0)} ms (collector interval 1 s)`);
    await sleep(2500);
    assert.deepEqual(await catalogConnections(), { src: N1, dst: N1 });

    // The server goes away: records pile up in the agents' spools.
    const session = await current();
    await server.stop();
    await drive(N2, session);
    const nodes = [...new Set([placement['hipstershop/frontend']!, placement['hipstershop/productcatalogservice']!])];
    assert.ok(
      await eventually(async () => {
        for (const n of nodes) if (!(gauge(await metricsOf(n), 'strata_flow_spool_records') > 0)) return false;
        return true;
      }, 15_000),
      'the records were not spooled',
    );
    // Let the collectors report what is left of the N2 (one interval, and the join's grace).
    await sleep(3500);
    const before = agentNodes(lab).filter((n) => nodes.includes(n.name));
    for (const n of before) process.kill(n.agentPid!, 'SIGKILL');
    assert.ok(await eventually(() => agentNodes(lab).filter((n) => nodes.includes(n.name)).every((n) => n.agentPid === null), 5000), 'the agents did not die');
    for (const n of before) spawnAgent(lab, n.name, n.netns, target(), 1, AGENT_ARGS);
    await sleep(1000);
    await server.start();
    const rv = Number((await api(server.url, 'GET', '/apis/strata/v1/nodestatuses')).json.metadata.resourceVersion);
    const synced = await waitForAgents(lab, rv, 30_000);
    assert.ok(synced.ok, JSON.stringify(synced.ok ? '' : synced.diagnostics));
    assert.ok(await eventually(async () => (await catalogConnections()).dst >= N1 + N2 && (await catalogConnections()).src >= N1 + N2, 60_000), `spooled connections never arrived: ${JSON.stringify(await catalogConnections())}`);

    // The restarted collectors attribute new connections as before.
    await drive(N3);
    const total = N1 + N2 + N3;
    assert.ok(await eventually(async () => (await catalogConnections()).dst >= total && (await catalogConnections()).src >= total, 30_000), JSON.stringify(await catalogConnections()));
    await sleep(2500);
    assert.deepEqual(await catalogConnections(), { src: total, dst: total }, 'every connection once, none twice');
  });

  it('step 5: each probed flow is in the API with the tier, policy and rule the kernel used, equal to the server\'s explain', async () => {
    const results = (await probeSession(await current(), flows)).filter((r) => r.observed === 'allow' || r.observed === 'deny');
    assert.ok(results.length >= flows.length - 2, `probed ${results.length} of ${flows.length}`);
    assert.ok(results.some((r) => r.observed === 'allow') && results.some((r) => r.observed === 'deny'));
    const explained = await api(server.url, 'POST', '/apis/strata/v1/explain', { flows: results.map((r) => ({ from: r.from, to: r.to, port: r.port, protocol: 'TCP' })) });
    assert.equal(explained.code, 200, JSON.stringify(explained.json));
    const answers = explained.json.results as { verdict: string; decidedBy: { direction: string; tier: string; policy: string; rule: number | null; reason: string } }[];
    const deciding = (items: readonly FlowRecord[], r: SessionProbeResult, direction: string): FlowRecord[] =>
      items.filter((x) => side(x.source, r.from, r.fromAddress) && side(x.destination, r.to, r.toAddress) && x.port === r.port && (x.reporter === 'src' ? 'egress' : 'ingress') === direction);
    let items: FlowRecord[] = [];
    const complete = await eventually(async () => {
      items = await listFlows('');
      return results.every((r, i) => deciding(items, r, answers[i]!.decidedBy.direction).length > 0);
    }, 30_000, 250);
    assert.ok(complete, `missing: ${results.filter((r, i) => deciding(items, r, answers[i]!.decidedBy.direction).length === 0).map((r) => `${r.from} → ${r.to}:${r.port}`).join(', ')}`);
    results.forEach((r, i) => {
      const what = `${r.from} → ${r.to}:${r.port}`;
      const ex = answers[i]!;
      assert.equal(ex.verdict, r.observed, `${what}: the server's explain agrees with the packets`);
      for (const rec of deciding(items, r, ex.decidedBy.direction)) {
        assert.equal(rec.action, ex.verdict, what);
        assert.equal(rec.mismatch, false, `${what}: kernel ${JSON.stringify(rec.policies.enforced)} vs engine ${JSON.stringify(rec.engine)}`);
        const last = rec.policies.enforced.at(-1)!;
        assert.equal(last.tier, ex.decidedBy.tier, what);
        if (ex.decidedBy.reason === 'end-of-tier') {
          assert.equal(last.kind, 'EndOfTier', what);
          assert.equal(last.trigger?.name, ex.decidedBy.policy, what);
        } else {
          assert.equal(last.name, ex.decidedBy.policy, what);
          assert.equal(last.ruleIndex, ex.decidedBy.rule, what);
        }
      }
    });
    // And the CLI shows them.
    const io = memoryIo();
    assert.equal(await main(['flows', '--server', server.url, '--token', ADMIN_TOKEN, '--action', 'deny'], io), 0, io.stderr.join('\n'));
    assert.match(io.stdout.join('\n'), /security\.tenant-01-restrict/);
  });

  it('a staged policy denying an allowed flow: the record is allowed, its pending action deny (pendingDiffers=true)', async () => {
    const staged = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'StagedGlobalNetworkPolicy',
      metadata: { name: 'security.fe-staged-block-catalog' },
      spec: { tier: 'security', order: 1, selector: 'app == "productcatalogservice"', types: ['Ingress'], ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [3550] } }] },
    };
    const applied = await api(server.url, 'POST', '/apis/strata/v1/apply', [staged]);
    assert.equal(applied.code, 200, JSON.stringify(applied.json));
    const synced = await waitForAgents(lab, Number(applied.json.metadata.resourceVersion), 15_000);
    assert.ok(synced.ok);
    await drive(1);
    let hit: FlowRecord | undefined;
    assert.ok(
      await eventually(async () => {
        hit = (await listFlows('&pendingDiffers=true&endpoint=hipstershop/productcatalogservice')).find((x) => x.reporter === 'dst' && x.port === 3550);
        return hit !== undefined;
      }, 30_000, 250),
      'no record with a differing pending action',
    );
    assert.equal(hit!.action, 'allow');
    assert.equal(hit!.policies.pending.at(-1)?.kind, 'StagedGlobalNetworkPolicy');
    assert.equal(hit!.policies.pending.at(-1)?.name, 'security.fe-staged-block-catalog');
    assert.equal(hit!.policies.pending.at(-1)?.action, 'deny');
    assert.ok(!hit!.policies.enforced.some((h) => h.kind.startsWith('Staged')), 'the kernel never enforces a staged policy');
    // Without the filter's condition: records before the staged policy existed do not differ.
    const same = await listFlows('&pendingDiffers=false&endpoint=hipstershop/productcatalogservice');
    assert.ok(same.every((x) => x.policies.pending.at(-1)?.action === undefined || x.policies.pending.at(-1)?.action === x.action));
    assert.equal((await api(server.url, 'DELETE', '/apis/projectcalico.org/v3/stagedglobalnetworkpolicies/security.fe-staged-block-catalog')).code, 200);
  });

  it('a deny rule: its Prometheus counters move on the agent and on the server when it drops traffic', async () => {
    const flow = flows.find((f) => f.from === 'monitoring/monitoring-pod' && f.to === 'hipstershop/frontend')!;
    const node = placement['hipstershop/frontend']!;
    const series = /^strata_policy_rule_packets_total\{([^}]*)\} (\S+)$/gm;
    const rulePackets = (text: string): number => {
      let n = 0;
      for (const m of text.matchAll(series)) {
        const l = m[1]!;
        if (l.includes('policy="security.tenant-01-restrict"') && l.includes('rule_index="2"') && l.includes('action="deny"') && l.includes('direction="ingress"')) n += Number(m[2]);
      }
      return n;
    };
    const denied = (text: string): number => {
      let n = 0;
      for (const m of text.matchAll(/^strata_denied_packets_total\{([^}]*)\} (\S+)$/gm)) if (m[1]!.includes('policy="security.tenant-01-restrict"')) n += Number(m[2]);
      return n;
    };
    const serverMetrics = async (): Promise<string> => (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    const agentBefore = rulePackets(await metricsOf(node));
    const deniedBefore = denied(await metricsOf(node));
    const serverBefore = rulePackets(await serverMetrics());
    const results = await probeSession(await current(), [flow, flow, flow], { timeoutMs: 300, retryTimeoutMs: 300 });
    assert.ok(results.every((x) => x.observed === 'deny'), JSON.stringify(results.map((r) => r.observed)));
    assert.ok(await eventually(async () => rulePackets(await metricsOf(node)) - agentBefore >= 3, 15_000, 200), 'the agent\'s per-rule counter did not move by 3');
    assert.ok(denied(await metricsOf(node)) - deniedBefore >= 3, 'strata_denied_packets_total did not move');
    assert.ok(await eventually(async () => rulePackets(await serverMetrics()) - serverBefore >= 3, 30_000, 250), 'the server\'s per-rule counter did not move by 3');
  });

  it('lab traffic drives real connections on an agent lab; lab flows reads them back from the server\'s flow API', async () => {
    const t = memoryIo();
    const code = await main(['lab', 'traffic', '--lab', labId, '--rate', '20/s', '--duration', '1s'], t);
    assert.equal(code, 0, [...t.stdout, ...t.stderr].join('\n'));
    assert.match(t.stdout.join('\n'), /connections in .*: \d+ allowed, \d+ denied/);
    assert.doesNotMatch(t.stderr.join('\n'), /no flow collector/);
    const io = memoryIo();
    assert.equal(await main(['lab', 'flows', '--lab', labId, '--token', ADMIN_TOKEN, '-o', 'json'], io), 0, io.stderr.join('\n'));
    const recs = io.stdout.join('\n').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as FlowRecord);
    assert.ok(recs.some((r) => r.destination.name === 'productcatalogservice' && r.action === 'allow'));
    assert.ok(recs.some((r) => r.action === 'deny'));
    assert.ok(recs.every((r, i) => i === 0 || recs[i - 1]!.endTime <= r.endTime), 'oldest first');
    const table = memoryIo();
    assert.equal(await main(['lab', 'flows', '--lab', labId, '--token', ADMIN_TOKEN], table), 0);
    assert.match(table.stdout.join('\n'), /^TIME\s+NODE\s+REPORTER\s+SOURCE/m);
    const bad = memoryIo();
    assert.equal(await main(['lab', 'flows', '--lab', labId, '--token', 'wrong-token'], bad), 2);
    assert.match(bad.stderr.join('\n'), /HTTP 401/);
  });

  it('lab down ends the agents (their collectors with them) and removes their spools', async () => {
    const nodes = agentNodes(lab);
    const files = nodes.flatMap((n) => Object.values(defaultFlowPaths(agentRunDir(), n.netns, n.name)));
    assert.ok(files.every((f) => existsSync(f)), 'the spools and collector directories exist while the lab runs');
    const down = await downAgentLab(labId);
    assert.ok(down.ok, JSON.stringify(down.ok ? '' : down.diagnostics));
    assert.deepEqual(files.filter((f) => existsSync(f)), []);
  });
});
