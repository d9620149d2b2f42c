// `strata lab up --server …` and its companions through the CLI (in-process `main`), as an
// operator runs them: up registers and starts agents, `lab status -o json` names each node's
// namespace, agent pid and revision, `lab apply` refuses (policy goes through the API), `strata
// apply` changes the kernel, `lab probe` compares with the server, `lab down` ends the agents.
// Needs root.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSameProcess } from '../../src/lab/index.ts';
import { memoryIo } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { sessionSkip, uniqueLabId } from '../lab-session/fixtures.ts';
import { eventually, startLiveServer } from './fixtures.ts';
import type { LiveServer } from './fixtures.ts';

const MANIFESTS = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]
`;
const DENY_ALL = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
`;

async function strata(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(args, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('strata lab up --server: the CLI of an agent lab', { skip: sessionSkip }, () => {
  const labId = uniqueLabId('ag');
  const dir = mkdtempSync(path.join(tmpdir(), 'strata-agent-cli-'));
  const manifests = path.join(dir, 'app.yaml');
  const change = path.join(dir, 'deny.yaml');
  const flows = path.join(dir, 'flows.jsonl');
  let server: LiveServer;
  before(async () => {
    writeFileSync(manifests, MANIFESTS);
    writeFileSync(change, DENY_ALL);
    writeFileSync(flows, '{"from":"shop/web","to":"shop/db","port":5432,"protocol":"TCP"}\n');
    server = await startLiveServer();
  });
  after(async () => {
    await strata('lab', 'down', '--lab', labId);
    await server.close();
  });

  it('up, status, lab apply (refused), strata apply, probe, down, up again (nothing duplicated)', async () => {
    const up = await strata('lab', 'up', '--lab', labId, '--server', server.url, '--token', 'admin-token', '-f', manifests, '--flows', flows);
    assert.equal(up.code, 0, up.err);
    assert.match(up.out, /registered with .* at revision \d+ \(4 created, 0 updated, 0 unchanged\); agents in sync/);

    const st = await strata('lab', 'status', '--lab', labId, '-o', 'json');
    assert.equal(st.code, 0, st.err);
    const status = JSON.parse(st.out) as { server: string; nodes: { name: string; netns: string; agentPid: number; revision: number }[] };
    assert.equal(status.server, server.url);
    assert.equal(status.nodes.length, 2);
    for (const n of status.nodes) {
      assert.match(n.netns, new RegExp(`^stl-${labId}-`));
      assert.ok(isSameProcess(n.agentPid, undefined), `agent ${n.agentPid} of ${n.name} is not running`);
      assert.ok(n.revision > 0);
    }

    const refused = await strata('lab', 'apply', '--lab', labId, '-f', change);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /follows the API server .*strata apply/);

    const probeArgs = ['lab', 'probe', '--lab', labId, '--flows', flows, '--token', 'admin-token', '-o', 'json', '-q'];
    const allowed = JSON.parse((await strata(...probeArgs)).out) as { observed: string; engine: string };
    assert.deepEqual([allowed.observed, allowed.engine], ['allow', 'allow']);
    assert.equal((await strata('apply', '--server', server.url, '--token', 'admin-token', '-f', change)).code, 0);
    assert.ok(
      await eventually(async () => {
        const r = JSON.parse((await strata(...probeArgs)).out) as { observed: string; engine: string; agree: boolean };
        return r.observed === 'deny' && r.engine === 'deny' && r.agree;
      }, 10_000),
      'the change never reached the kernel',
    );

    const pids = status.nodes.map((n) => n.agentPid);
    const down = await strata('lab', 'down', '--lab', labId);
    assert.equal(down.code, 0, down.err);
    assert.ok(await eventually(() => pids.every((p) => !isSameProcess(p, undefined)), 5000), 'lab down left agents running');

    // Up again against the same server: every object is already there — updated (the policy the
    // API changed goes back to the manifests' version) or unchanged, never created twice.
    const up2 = await strata('lab', 'up', '--lab', labId, '--server', server.url, '--token', 'admin-token', '-f', manifests, '--flows', flows);
    assert.equal(up2.code, 0, up2.err);
    assert.match(up2.out, /\(0 created, 1 updated, 3 unchanged\)/);
    const weps = await strata('get', 'weps', '-A', '--server', server.url, '--token', 'admin-token', '-o', 'name');
    assert.deepEqual(weps.out.split('\n').sort(), ['workloadendpoint.projectcalico.org/db', 'workloadendpoint.projectcalico.org/web']);
    const pods = await strata('get', 'pods', '-A', '--server', server.url, '--token', 'admin-token', '-o', 'name');
    assert.equal(pods.out, '');
  });
});
