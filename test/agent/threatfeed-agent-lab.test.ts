// A threat feed, end to end on the real kernel: a feed served over HTTP on loopback, pulled by the
// API server into the GlobalNetworkSet `threatfeed.bad`, which a security-tier policy denies; the
// node agents program the set, so a workload's connection to an address the feed lists is dropped
// by the kernel once the feed names it, and passes again once the feed drops it. Real HTTP, a
// real server with its threat-feed controller, real agents, real packets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { probe } from '../../src/lab/index.ts';
import type { Lab, LabFlow } from '../../src/lab/index.ts';
import { downAgentLab, upAgentLab } from '../../src/lab-session/index.ts';
import type { SessionFlow } from '../../src/lab-session/index.ts';
import { findProgram } from '../../src/lab/index.ts';
import { sessionSkip, uniqueLabId } from '../lab-session/fixtures.ts';
import { startFeedServer } from '../feeds/feed-server.ts';
import type { FeedServer } from '../feeds/feed-server.ts';
import { api, eventually, startLiveServer } from './fixtures.ts';
import type { LiveServer } from './fixtures.ts';

const skip = sessionSkip ?? (findProgram('conntrack') === undefined ? 'needs conntrack (conntrack-tools)' : undefined);

const BAD = '198.51.100.7';
const OK = '198.51.100.8';

function manifests(feedUrl: string): string {
  return `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  nodeName: node-1
  containers: [{name: c, ports: [{containerPort: 80}]}]
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.block-threatfeed}
spec:
  tier: security
  order: 10
  selector: all()
  types: [Egress]
  egress:
    - action: Deny
      destination: {selector: threatfeed == "bad"}
    - action: Pass
---
apiVersion: projectcalico.org/v3
kind: GlobalThreatFeed
metadata: {name: bad}
spec:
  content: IPSet
  pull:
    period: 1s
    http: {url: "${feedUrl}"}
  globalNetworkSet:
    labels: {threatfeed: bad}
`;
}

describe('a threat feed reaches the kernel through the server and the agents', { skip }, () => {
  const labId = uniqueLabId('ag');
  let feed: FeedServer;
  let server: LiveServer;
  let lab: Lab;
  const flows: LabFlow[] = [
    { from: 'shop/web', to: BAD, port: 443, protocol: 'TCP' },
    { from: 'shop/web', to: OK, port: 443, protocol: 'TCP' },
  ];
  const observed = async (): Promise<string[]> => (await probe(lab, flows, { timeoutMs: 400 })).map((r) => `${r.to} ${r.observed}`);

  before(async () => {
    feed = await startFeedServer();
    feed.set('/feed', { kind: 'content', text: '# nothing bad yet\n' });
    server = await startLiveServer();
    const up = await upAgentLab([{ file: 'threatfeed.yaml', text: manifests(feed.url('/feed')) }], {
      labId,
      target: { server: server.url, token: 'admin-token' },
      flows: flows.map((f): SessionFlow => ({ from: f.from, to: f.to, port: f.port!, protocol: 'TCP' })),
      reportIntervalSeconds: 1,
      agentArgs: ['--resync-interval', '1', '--no-flow-log'],
    });
    assert.ok(up.ok, JSON.stringify(up.ok ? '' : up.diagnostics));
    lab = up.value.session.lab;
  });
  after(async () => {
    await downAgentLab(labId);
    await server?.close();
    await feed?.close();
  });

  it('listed → denied by the kernel within a few periods; delisted → allowed again', async () => {
    assert.deepEqual(await observed(), [`${BAD} allow`, `${OK} allow`], 'an empty feed blocks nothing');

    feed.set('/feed', { kind: 'content', text: `# one bad address\n${BAD}\n` });
    const t0 = Date.now();
    assert.ok(await eventually(async () => (await observed())[0] === `${BAD} deny`, 20_000), `the kernel never dropped ${BAD}: ${JSON.stringify(await observed())}`);
    console.log(`# threat feed: listed address dropped by the kernel ${Date.now() - t0} ms after the feed changed (period 1 s)`);
    assert.deepEqual(await observed(), [`${BAD} deny`, `${OK} allow`], 'only the listed address');
    const set = await api(server.url, 'GET', '/apis/projectcalico.org/v3/globalnetworksets/threatfeed.bad');
    assert.equal(set.code, 200);
    assert.deepEqual(set.json.spec.nets, [`${BAD}/32`]);
    const ex = await api(server.url, 'POST', '/apis/strata/v1/explain', { from: 'shop/web', to: BAD, port: 443, protocol: 'TCP' });
    assert.equal(ex.json.verdict, 'deny');
    assert.equal(ex.json.decidedBy.policy, 'security.block-threatfeed');

    feed.set('/feed', { kind: 'content', text: '# clean again\n' });
    assert.ok(await eventually(async () => (await observed())[0] === `${BAD} allow`, 20_000), `${BAD} stayed blocked: ${JSON.stringify(await observed())}`);
  });
});
