// Per-node agents driven by the API server, in the lab: the workshop's step 5 registered through
// the API (`upAgentLab`, what `strata lab up --server` runs), one `strata agent` process per node,
// and real packets. Then the faults: an agent killed with SIGKILL and restarted by hand, the
// server stopped and started again, an object the compiler cannot program — with probes running
// the whole time, none of which may see a denied flow pass. Needs root (network namespaces, nft,
// conntrack).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nodeEndpoints } from '../../src/agent/index.ts';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import { compileNode, nftName } from '../../src/dataplane/index.ts';
import { nodeInterfaceOf, openConnection, probe } from '../../src/lab/index.ts';
import type { Lab, LabFlow } from '../../src/lab/index.ts';
import { runCommand } from '../../src/agent/conntrack.ts';
import {
  agentNodes,
  attachAgentSession,
  clusterFromServer,
  downAgentLab,
  probeSession,
  spawnAgent,
  upAgentLab,
  waitForAgents,
  withExternalsFor,
} from '../../src/lab-session/index.ts';
import type { Session, SessionFlow } from '../../src/lab-session/index.ts';
import { findProgram } from '../../src/lab/index.ts';
import { disagreements, flowsOf, REPO_ROOT, sessionSkip, sourcesOf, uniqueLabId } from '../lab-session/fixtures.ts';
import { openDatastore } from '../../src/store/index.ts';
import { api, eventually, sleep, startLiveServer } from './fixtures.ts';
import type { LiveServer } from './fixtures.ts';

const DIR = path.join(REPO_ROOT, 'testdata', 'workshop');
const STEP5 = ['cluster', 'common', 'original-apps', 'enforce'].map((p) => path.join(DIR, p));
const skip = sessionSkip ?? (findProgram('conntrack') === undefined ? 'needs conntrack (conntrack-tools)' : undefined);

const CATALOG = 'hipstershop/productcatalogservice';
const BLOCK = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: security.block-catalog
spec:
  tier: security
  order: 1
  selector: app == "productcatalogservice"
  types: [Ingress]
  ingress:
    - action: Deny
      protocol: TCP
      destination:
        ports: [3550]
`;
// Check the kernel against the programmed table every second (the default is 30 s).
const AGENT_ARGS = ['--resync-interval', '1'];
const BLOCK_PATH = '/apis/projectcalico.org/v3/globalnetworkpolicies/security.block-catalog';

interface Prober {
  stop(): Promise<{ rounds: number; violations: string[] }>;
}

/** Probes `denied` over and over until stopped; every denied flow seen passing is a violation. */
function startProber(lab: () => Lab, denied: readonly LabFlow[]): Prober {
  let running = true;
  let rounds = 0;
  const violations: string[] = [];
  const loop = (async () => {
    while (running) {
      const results = await probe(lab(), denied, { timeoutMs: 300 });
      for (const r of results) if (r.observed === 'allow') violations.push(`${new Date().toISOString()} ${r.from} → ${r.to}:${r.port ?? ''} passed (${r.detail})`);
      rounds++;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { rounds, violations };
    },
  };
}

const asLabFlow = (f: SessionFlow): LabFlow => ({ from: f.from, to: f.to, protocol: f.protocol as LabFlow['protocol'], ...(f.port === undefined || f.port === null ? {} : { port: f.port }) });

describe('agents in the lab: API server → agent → kernel', { skip }, () => {
  const labId = uniqueLabId('ag');
  const flows = flowsOf(path.join(DIR, 'step-5.jsonl'));
  let server: LiveServer;
  let lab: Lab;
  const target = (): { server: string; token: string } => ({ server: server.url, token: 'admin-token' });

  /** The session with its engine read from the server now (what the kernel must follow). */
  const current = async (): Promise<Session> => {
    const s = await attachAgentSession(labId, target());
    assert.ok(s.ok, JSON.stringify(s.ok ? '' : s.diagnostics));
    const ext = await withExternalsFor(s.value, flows);
    assert.ok(ext.ok, JSON.stringify(ext.ok ? '' : ext.diagnostics));
    lab = ext.value.lab;
    return ext.value;
  };
  const nodeOf = (id: string): { name: string; netns: string } => {
    const n = agentNodes(lab).find((x) => x.name === placement[id]);
    assert.ok(n !== undefined, `no node for ${id}`);
    return { name: n.name, netns: n.netns };
  };
  let placement: Readonly<Record<string, string>> = {};
  const observe = async (from: string, to: string, port: number): Promise<string> => (await probe(lab, [{ from, to, port, protocol: 'TCP' }], { timeoutMs: 400 }))[0]!.observed;
  const revisionNow = async (): Promise<number> => Number((await api(server.url, 'GET', '/apis/strata/v1/nodestatuses')).json.metadata.resourceVersion);

  /** Every node's kernel holds exactly the chains and sets compiled from the server's state. */
  const assertNoStaleRules = async (): Promise<void> => {
    const cluster = await clusterFromServer(target(), agentNodes(lab).map((n) => n.name));
    assert.ok(cluster.ok);
    for (const n of agentNodes(lab)) {
      const { endpoints, interfaces } = nodeEndpoints(cluster.value, n.name);
      const want = compileNode(cluster.value, endpoints, { interfaces, table: 'strata' });
      assert.ok(want.ok, JSON.stringify(want.ok ? '' : want.diagnostics));
      const r = await runCommand('ip', ['netns', 'exec', n.netns, 'nft', '-j', 'list', 'table', 'inet', 'strata']);
      assert.equal(r.code, 0, r.stderr);
      const items = (JSON.parse(r.stdout) as { nftables: Record<string, { name?: string }>[] }).nftables;
      const kernelChains = items.flatMap((i) => (i['chain']?.name === undefined ? [] : [i['chain'].name])).sort();
      const kernelSets = items.flatMap((i) => (i['set']?.name === undefined ? [] : [i['set'].name])).sort();
      const kernelRules = items.filter((i) => i['rule'] !== undefined).length;
      assert.deepEqual(kernelChains, want.value.chains.map((c) => nftName(c.name)).sort(), `${n.name}: chains`);
      assert.deepEqual(kernelSets, want.value.sets.map((s) => nftName(s.name)).sort(), `${n.name}: sets`);
      assert.equal(kernelRules, want.value.chains.reduce((s, c) => s + c.rules.length, 0), `${n.name}: rules`);
    }
  };

  // Domain-name destinations cannot be probed (the dataplane sees no names).
  const isDomainName = (to: string): boolean => !to.includes('/') && /[a-z]/i.test(to) && !to.includes(':');
  const denied = (): LabFlow[] => flows.filter((f) => f.expected === 'deny' && !isDomainName(f.to)).map(asLabFlow);

  before(async () => {
    server = await startLiveServer();
    const up = await upAgentLab(await sourcesOf(...STEP5), { labId, target: target(), flows, reportIntervalSeconds: 1, agentArgs: AGENT_ARGS });
    assert.ok(up.ok, JSON.stringify(up.diagnostics));
    lab = up.value.session.lab;
    placement = up.value.session.record.placement;
  });
  after(async () => {
    await downAgentLab(labId);
    await server?.close();
  });

  it('step 5 of the workshop: every probe matches the lesson and the server\'s engine', async () => {
    const results = await probeSession(await current(), flows);
    assert.deepEqual(disagreements(results), []);
    assert.ok(results.filter((r) => r.observed !== 'skipped').length >= flows.length - 1);
    const nodes = agentNodes(lab);
    assert.equal(nodes.length, 2);
    for (const n of nodes) {
      assert.ok(n.agentPid !== null && n.revision !== null && n.revision > 0, JSON.stringify(n));
      const health = await fetch(`http://${n.listen!}/healthz`);
      assert.equal(health.status, 200);
      assert.match(await health.text(), /in-sync/);
      const metrics = await (await fetch(`http://${n.listen!}/metrics`)).text();
      assert.match(metrics, /strata_agent_programmed_rules\{node="[^"]+"\} [1-9]/);
      assert.match(metrics, /strata_agent_apply_duration_seconds_count\{node="[^"]+"\} [1-9]/);
    }
    const io = memoryIo();
    assert.equal(await main(['get', 'nodes', '--server', server.url, '--token', 'admin-token'], io), 0);
    const out = io.stdout.join('\n');
    assert.match(out, /^NAME\s+AGENT VERSION\s+REVISION\s+STATUS\s+LAST ERROR\s+AGE/);
    assert.match(out, /node-1\s+\S+\s+\d+\s+IN SYNC\s+<none>/);
    assert.match(out, /node-2\s+\S+\s+\d+\s+IN SYNC\s+<none>/);
    await assertNoStaleRules();
  });

  it('a policy applied through the API reaches the kernel and cuts established connections it denies; deleting it reopens the flow', async () => {
    await current();
    assert.equal(await observe('hipstershop/frontend', CATALOG, 3550), 'allow');
    const held = await openConnection(lab, { from: 'hipstershop/frontend', to: CATALOG, port: 3550 });
    assert.ok(held.ok, JSON.stringify(held.ok ? '' : held.diagnostics));
    assert.equal((await held.value.check()).observed, 'allow');
    assert.equal((await api(server.url, 'POST', '/apis/strata/v1/apply', BLOCK)).code, 200);
    assert.ok(await eventually(async () => (await observe('hipstershop/frontend', CATALOG, 3550)) === 'deny', 10_000), 'the block never reached the kernel');
    // Its conntrack entry was removed: the next segment is "new", meets the policy, and is dropped.
    assert.equal((await held.value.check(800)).observed, 'deny');
    await held.value.close();
    assert.equal((await api(server.url, 'DELETE', BLOCK_PATH)).code, 200);
    assert.ok(await eventually(async () => (await observe('hipstershop/frontend', CATALOG, 3550)) === 'allow', 10_000), 'the delete never reached the kernel');
    await assertNoStaleRules();
  });

  it('a burst of API writes is coalesced into fewer nft transactions, and the kernel ends with the last one', async () => {
    await current();
    const node = agentNodes(lab).find((n) => n.name === nodeOf(CATALOG).name)!;
    const programmed = async (): Promise<number> => {
      const text = await (await fetch(`http://${node.listen!}/metrics`)).text();
      return Number(/strata_agent_updates_total\{result="programmed",node="[^"]+"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const policy = (i: number): string => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.burst}
spec:
  tier: security
  order: 5
  selector: app == "productcatalogservice"
  types: [Ingress]
  ingress: [{action: Deny, source: {nets: [10.99.${i}.0/24]}}]
`;
    const WRITES = 30;
    const before = await programmed();
    const replies = await Promise.all(Array.from({ length: WRITES }, (_, i) => api(server.url, 'POST', '/apis/strata/v1/apply', policy(i))));
    for (const r of replies) assert.equal(r.code, 200);
    const final = (await api(server.url, 'GET', '/apis/projectcalico.org/v3/globalnetworkpolicies/security.burst')).json;
    const rv = Number(final.metadata.resourceVersion);
    const synced = await waitForAgents(lab, rv, 10_000);
    assert.ok(synced.ok, JSON.stringify(synced.ok ? '' : synced.diagnostics));
    const transactions = (await programmed()) - before;
    assert.ok(transactions >= 1 && transactions < WRITES, `${WRITES} writes became ${transactions} transactions`);
    const lastNet = final.spec.ingress[0].source.nets[0] as string;
    const kernel = (await runCommand('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'table', 'inet', 'strata'])).stdout;
    assert.ok(kernel.includes(lastNet), `the kernel does not hold the last write (${lastNet})`);
    assert.equal((kernel.match(/10\.99\.\d+\.0\/24/g) ?? []).length, 1, 'older writes left rules behind');
    assert.equal((await api(server.url, 'DELETE', '/apis/projectcalico.org/v3/globalnetworkpolicies/security.burst')).code, 200);
    assert.ok(await eventually(async () => !(await runCommand('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'table', 'inet', 'strata'])).stdout.includes('10.99.'), 10_000));
  });

  it('kill -9 an agent: enforcement stays; restarted by hand it converges without opening anything', async () => {
    await current();
    const node = nodeOf(CATALOG);
    const before = agentNodes(lab).find((n) => n.name === node.name)!;
    assert.ok(before.agentPid !== null);
    const prober = startProber(() => lab, denied());
    process.kill(before.agentPid, 'SIGKILL');
    assert.ok(await eventually(() => agentNodes(lab).find((n) => n.name === node.name)!.agentPid === null, 5000), 'the agent did not die');
    await sleep(500);
    // With no agent, the kernel keeps the last rules: the catalog still answers, denied flows stay denied.
    assert.equal(await observe('hipstershop/frontend', CATALOG, 3550), 'allow');
    // A change while the agent is down: the restarted agent must bring it.
    assert.equal((await api(server.url, 'POST', '/apis/strata/v1/apply', BLOCK)).code, 200);
    const rv = await revisionNow();
    const pid = spawnAgent(lab, node.name, node.netns, target(), 1, AGENT_ARGS);
    const synced = await waitForAgents(lab, rv, 30_000);
    assert.ok(synced.ok, JSON.stringify(synced.ok ? '' : synced.diagnostics));
    assert.equal(agentNodes(lab).find((n) => n.name === node.name)!.agentPid, pid);
    assert.equal(await observe('hipstershop/frontend', CATALOG, 3550), 'deny');
    await sleep(300);
    const { rounds, violations } = await prober.stop();
    assert.deepEqual(violations, []);
    assert.ok(rounds >= 3, `only ${rounds} probe rounds ran`);
    await assertNoStaleRules();
  });

  it('stop the server: agents keep enforcing and say they are stale, an agent restarted meanwhile keeps the rules; a change after the server returns reaches the kernel', async () => {
    await current();
    const prober = startProber(() => lab, [...denied(), { from: 'hipstershop/frontend', to: CATALOG, port: 3550, protocol: 'TCP' }]);
    await server.stop();
    for (const n of agentNodes(lab)) {
      assert.ok(
        await eventually(async () => {
          const r = await fetch(`http://${n.listen!}/healthz`);
          return r.status === 503 && /stale/.test(await r.text());
        }, 10_000),
        `${n.name} never said it was stale`,
      );
    }
    // An agent restarted while the server is down has nothing to program from: it must leave its
    // predecessor's rules alone (fail-static from the start), and converge once the server is back.
    const node = nodeOf(CATALOG);
    const old = agentNodes(lab).find((n) => n.name === node.name)!;
    const rulesBefore = (await runCommand('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'table', 'inet', 'strata'])).stdout;
    process.kill(old.agentPid!, 'SIGKILL');
    assert.ok(await eventually(() => agentNodes(lab).find((n) => n.name === node.name)!.agentPid === null, 5000));
    const restarted = spawnAgent(lab, node.name, node.netns, target(), 1, AGENT_ARGS);
    assert.ok(await eventually(() => agentNodes(lab).find((n) => n.name === node.name)!.agentPid === restarted, 10_000), 'the restarted agent never recorded itself');
    await sleep(1000);
    const fresh = agentNodes(lab).find((n) => n.name === node.name)!;
    assert.equal(fresh.state, 'syncing');
    const rulesAfter = (await runCommand('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'table', 'inet', 'strata'])).stdout;
    assert.equal(rulesAfter.replace(/packets \d+ bytes \d+/g, ''), rulesBefore.replace(/packets \d+ bytes \d+/g, ''));
    const during = await prober.stop();
    assert.deepEqual(during.violations, []);
    assert.ok(during.rounds >= 2, `only ${during.rounds} probe rounds ran`);

    await server.start();
    const again = startProber(() => lab, denied());
    assert.equal((await api(server.url, 'DELETE', BLOCK_PATH)).code, 200);
    assert.ok(await eventually(async () => (await observe('hipstershop/frontend', CATALOG, 3550)) === 'allow', 20_000), 'the change made after the restart never reached the kernel');
    const rv = await revisionNow();
    const synced = await waitForAgents(lab, rv, 20_000);
    assert.ok(synced.ok, JSON.stringify(synced.ok ? '' : synced.diagnostics));
    const after2 = await again.stop();
    assert.deepEqual(after2.violations, []);
    await assertNoStaleRules();
  });

  it('a watch the server can no longer resume (410 Gone) is replaced by a list: a deletion made meanwhile is not missed', async () => {
    await current();
    const node = agentNodes(lab).find((n) => n.name === nodeOf(CATALOG).name)!;
    const lists = async (): Promise<number> => Number(/strata_agent_lists_total\{node="[^"]+"\} (\d+)/.exec(await (await fetch(`http://${node.listen!}/metrics`)).text())?.[1] ?? 0);
    assert.equal((await api(server.url, 'POST', '/apis/strata/v1/apply', BLOCK)).code, 200);
    assert.ok(await eventually(async () => (await observe('hipstershop/frontend', CATALOG, 3550)) === 'deny', 10_000));
    const listsBefore = await lists();
    await server.stop();
    // Behind the agents' backs: the policy is deleted and the history compacted past their revision.
    const store = await openDatastore(`sqlite:${path.join(server.dir, 'strata.db')}`);
    const del = await store.txn([{ op: 'delete', key: '/registry/projectcalico.org/globalnetworkpolicies/security.block-catalog' }]);
    assert.ok(del.ok);
    await store.compact(del.revision);
    await store.close();
    await server.start();
    assert.ok(await eventually(async () => (await observe('hipstershop/frontend', CATALOG, 3550)) === 'allow', 20_000), 'the deletion never reached the kernel');
    assert.ok((await lists()) > listsBefore, 'the agent did not list again');
    await assertNoStaleRules();
  });

  it('a table changed behind the agent\'s back is put back whole', async () => {
    await current();
    const node = nodeOf(CATALOG);
    const nft = (...args: string[]): Promise<{ code: number; stdout: string }> => runCommand('ip', ['netns', 'exec', node.netns, 'nft', ...args]);
    const prober = startProber(() => lab, denied());
    // Someone flushes the catalog's ingress chain by hand: its policy is gone from the kernel.
    const chains = (JSON.parse((await nft('-j', 'list', 'chains', 'inet')).stdout) as { nftables: Record<string, { name?: string; table?: string }>[] }).nftables;
    const tw = chains.flatMap((i) => (i['chain']?.table === 'strata' && i['chain'].name?.startsWith('tw-hipstershop.productcatalogse') ? [i['chain'].name] : []));
    assert.equal(tw.length, 1, JSON.stringify(tw));
    assert.equal((await nft('flush', 'chain', 'inet', 'strata', tw[0]!)).code, 0);
    assert.ok(await eventually(async () => (await nft('list', 'chain', 'inet', 'strata', tw[0]!)).stdout.includes('counter'), 10_000), 'the agent never put the chain back');
    const { violations } = await prober.stop();
    await assertNoStaleRules();
    // While the chain was empty the catalog's ingress was open (what the check exists for); the
    // other nodes' and endpoints' denied flows probed meanwhile must have stayed denied.
    assert.deepEqual(violations, []);
    const metrics = await (await fetch(`http://${agentNodes(lab).find((n) => n.name === node.name)!.listen!}/metrics`)).text();
    assert.match(metrics, /strata_agent_errors_total\{kind="drift",node="[^"]+"\} [1-9]/);
  });

  it('an object the compiler cannot program: reported on the node\'s status and by `strata get nodes`; the previous rules stay', async () => {
    await current();
    const node = nodeOf(CATALOG);
    const clash = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: { name: 'intruder', namespace: 'hipstershop', labels: { app: 'intruder' } },
      // The catalog's interface: two endpoints on one interface cannot be dispatched.
      spec: { node: node.name, interfaceName: nodeInterfaceOf(CATALOG), ipNetworks: ['10.244.255.250/32'], profiles: ['kns.hipstershop'] },
    };
    const rulesBefore = (await runCommand('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'table', 'inet', 'strata'])).stdout;
    assert.equal((await api(server.url, 'POST', '/apis/projectcalico.org/v3/namespaces/hipstershop/workloadendpoints', clash)).code, 201);
    const statusPath = `/apis/strata/v1/nodestatuses/${node.name}`;
    assert.ok(await eventually(async () => (await api(server.url, 'GET', statusPath)).json?.status?.state === 'error', 10_000), 'the error never reached the NodeStatus');
    const st = (await api(server.url, 'GET', statusPath)).json.status;
    assert.match(st.lastError, /dataplane\/duplicate-interface/);
    const io = memoryIo();
    assert.equal(await main(['get', 'nodes', '--server', server.url, '--token', 'admin-token'], io), 0);
    assert.match(io.stdout.join('\n'), new RegExp(`${node.name}\\s+\\S+\\s+\\d+\\s+ERROR\\s+dataplane/duplicate-interface`));
    // Nothing was programmed: the kernel holds what it held, and still enforces it.
    const rulesDuring = (await runCommand('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'table', 'inet', 'strata'])).stdout;
    assert.equal(rulesDuring.replace(/packets \d+ bytes \d+/g, ''), rulesBefore.replace(/packets \d+ bytes \d+/g, ''));
    const results = await probeSession(await current(), flows);
    assert.deepEqual(disagreements(results), []);
    assert.equal((await api(server.url, 'DELETE', '/apis/projectcalico.org/v3/namespaces/hipstershop/workloadendpoints/intruder')).code, 200);
    assert.ok(await eventually(async () => (await api(server.url, 'GET', statusPath)).json?.status?.state === 'in-sync', 10_000), 'the agent did not recover');
    await assertNoStaleRules();
  });
});
