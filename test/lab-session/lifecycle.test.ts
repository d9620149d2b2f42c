// A session's life: policy changes on a running lab (`applySession`) keep allowed long-lived
// connections, deny new ones a new policy forbids (an established connection keeps flowing:
// conntrack accepts it before any policy, as in Calico — reference §5.6), and refuse to change
// the workloads; counters attribute every probed flow to the rule that decided it; the `strata
// lab` command does all of it with its documented output and exit codes; and `down` leaves no
// namespace, link, process or state file behind. Needs root, ip, nft, ping; skips otherwise.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  applySession,
  attachSession,
  defaultFlows,
  downSession,
  probeSession,
  provenanceOfDecision,
  readCounters,
  upSession,
} from '../../src/lab-session/index.ts';
import type { ManifestSource, Session } from '../../src/lab-session/index.ts';
import { openConnection } from '../../src/lab/index.ts';
import type { HeldConnection } from '../../src/lab/index.ts';
import { assertLabGone, labNamespacesNow, rootLinkNames } from '../lab/fixtures.ts';
import { disagreements, REPO_ROOT, sessionSkip, uniqueLabId } from './fixtures.ts';

const WORKLOADS = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {tenant: acme}}
---
apiVersion: v1
kind: Namespace
metadata: {name: tools}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080, name: http}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080, name: http}, {containerPort: 9090, protocol: UDP, name: metrics}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 5432}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: tools, labels: {app: client}}
spec: {containers: [{name: c, image: x}]}
`;

/** Web takes HTTP from anyone; shop pods may talk to each other. */
const BASE_POLICY = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: http}]}]
`;

/** Unrelated to client → web: the db takes nothing. */
const DB_LOCKDOWN = `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-default-deny, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
`;

/** The tools namespace may no longer reach the api. */
const API_FROM_TOOLS_DENY = `
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: no-tools-to-api}
spec:
  order: 10
  selector: app == 'api'
  types: [Ingress]
  ingress:
    - action: Deny
      source: {namespaceSelector: projectcalico.org/name == 'tools'}
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** PIDs whose command line mentions `text` (read from /proc; nothing is signalled). */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').includes(text)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function src(...texts: string[]): ManifestSource[] {
  return [{ file: 'lifecycle.yaml', text: texts.join('\n---\n') }];
}

describe('lab session life cycle: updates, connections, counters', { skip: sessionSkip }, () => {
  const labId = uniqueLabId('lc');
  let session: Session;
  const held: HeldConnection[] = [];

  before(async () => {
    const up = await upSession(src(WORKLOADS, BASE_POLICY), { labId });
    assert.ok(up.ok, JSON.stringify(up.diagnostics));
    session = up.value.session;
    assert.deepEqual(
      Object.values(session.record.placement).sort(),
      ['node-1', 'node-1', 'node-2', 'node-2'],
      'four endpoints round-robin over two nodes',
    );
    assert.equal(session.lab.plan.workloads.find((w) => w.id === 'tools/client')?.ports[0]?.port, 80, 'an endpoint without ports listens on 80/TCP');
  });

  after(async () => {
    for (const h of held) await h.close().catch(() => undefined);
    const pids = session.lab.agents.map((a) => a.pid);
    const r = await downSession(labId);
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    assertLabGone(labId, pids);
  });

  it('an allowed long-lived connection survives an unrelated policy update', async () => {
    const h = await openConnection(session.lab, { from: 'tools/client', to: 'shop/web', port: 8080 });
    assert.ok(h.ok, JSON.stringify(h.diagnostics));
    held.push(h.value);
    const applied = await applySession(session, src(WORKLOADS, BASE_POLICY + DB_LOCKDOWN), { mode: 'replace' });
    assert.ok(applied.ok, JSON.stringify(applied.diagnostics));
    session = applied.value.session;
    assert.ok(applied.value.nodes.some((n) => n.kind === 'update' && n.ops > 0), 'an incremental transaction was applied');
    assert.ok(applied.value.nodes.every((n) => n.kind !== 'replace'));
    assert.deepEqual(await h.value.check(), { observed: 'allow', detail: 'held connection still carries data' });
    const results = await probeSession(session, [
      { from: 'tools/client', to: 'shop/web', port: 8080, protocol: 'TCP', expected: 'allow' },
      { from: 'shop/api', to: 'shop/db', port: 5432, protocol: 'TCP', expected: 'deny' },
    ]);
    assert.deepEqual(disagreements(results), []);
  });

  it('a connection a new policy denies cannot be re-opened; an established one keeps flowing (conntrack, as in Calico)', async () => {
    const h = await openConnection(session.lab, { from: 'tools/client', to: 'shop/api', port: 8080 });
    assert.ok(h.ok, JSON.stringify(h.diagnostics));
    held.push(h.value);
    const applied = await applySession(session, src(WORKLOADS, BASE_POLICY + DB_LOCKDOWN + API_FROM_TOOLS_DENY), { mode: 'replace' });
    assert.ok(applied.ok, JSON.stringify(applied.diagnostics));
    session = applied.value.session;
    // Established before the change: the first rule of every endpoint chain accepts it.
    assert.deepEqual(await h.value.check(), { observed: 'allow', detail: 'held connection still carries data' });
    const [fresh] = await probeSession(session, [{ from: 'tools/client', to: 'shop/api', port: 8080, protocol: 'TCP', expected: 'deny' }]);
    assert.ok(fresh !== undefined);
    assert.equal(fresh.observed, 'deny', fresh.detail);
    assert.equal(fresh.agree, true);
    assert.equal(fresh.decidedBy?.policy, 'no-tools-to-api');
    assert.equal(fresh.decidedBy?.rule, 0);
  });

  it('refuses an apply that adds or removes workloads, and changes nothing', async () => {
    const before = session.record.generation;
    const r = await applySession(session, src(BASE_POLICY + DB_LOCKDOWN), { mode: 'replace' });
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics.at(-1)?.code, 'lab-session/endpoints-changed');
    const again = attachSession(labId);
    assert.ok(again.ok);
    assert.equal(again.value.record.generation, before);
  });

  it('a partial apply upserts just the changed resources; everything else stays programmed', async () => {
    // The deny becomes an allow: tools reach the api again, by that rule; db stays locked down.
    const narrowed = API_FROM_TOOLS_DENY.replace('- action: Deny', '- action: Allow');
    const applied = await applySession(session, [{ file: 'narrowed.yaml', text: narrowed }]);
    assert.ok(applied.ok, JSON.stringify(applied.diagnostics));
    session = applied.value.session;
    assert.ok(applied.value.nodes.every((n) => n.kind !== 'replace'), 'an incremental update, not a replacement');
    const results = await probeSession(session, [
      { from: 'tools/client', to: 'shop/api', port: 8080, protocol: 'TCP', expected: 'allow' },
      { from: 'shop/api', to: 'shop/db', port: 5432, protocol: 'TCP', expected: 'deny' },
      { from: 'tools/client', to: 'shop/web', port: 8080, protocol: 'TCP', expected: 'allow' },
    ]);
    assert.deepEqual(disagreements(results), []);
    assert.equal(results[0]?.decidedBy?.policy, 'no-tools-to-api');
    // A later command rebuilds the same state from the session's layers.
    const again = attachSession(labId);
    assert.ok(again.ok);
    assert.equal(again.value.record.sources.at(-1)?.layer, 1);
    // Back to the full state, for the tests after this one.
    const restored = await applySession(session, src(WORKLOADS, BASE_POLICY + DB_LOCKDOWN + API_FROM_TOOLS_DENY), { mode: 'replace' });
    assert.ok(restored.ok, JSON.stringify(restored.diagnostics));
    session = restored.value.session;
  });

  it('counters: the rule that decided each probed flow counted its packets', async () => {
    const flows = defaultFlows(session.lab.plan);
    const results = await probeSession(session, flows);
    assert.deepEqual(disagreements(results), []);
    const counters = await readCounters(session);
    const byProvenance = new Map(counters.map((c) => [c.provenance, c]));
    let checked = 0;
    for (const r of results) {
      const d = r.decidedBy;
      if (d === undefined || d.direction === null) continue;
      const prov = provenanceOfDecision(d, session);
      assert.ok(prov !== undefined, `a kernel rule stands for ${JSON.stringify(d)}`);
      const row = byProvenance.get(prov);
      assert.ok(row !== undefined && row.packets > 0, `${prov} (deciding ${r.from} → ${r.to} ${r.port}/${r.protocol}) counted packets`);
      checked++;
    }
    assert.ok(checked >= flows.length - 1, `checked ${checked} of ${flows.length}`);
    const deny = counters.find((c) => c.policy === 'no-tools-to-api');
    assert.ok(deny !== undefined && deny.tier === 'default' && deny.kind === 'GlobalNetworkPolicy' && deny.rule === 0 && deny.action === 'deny');
  });
});

describe('strata lab (the command)', { skip: sessionSkip }, () => {
  const labId = uniqueLabId('cli');
  const dir = mkdtempSync(path.join(tmpdir(), 'strata-lab-cli-'));
  const env = { ...process.env, NO_COLOR: '1', STRATA_LAB: labId };
  const strata = (...args: string[]): { code: number; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'strata.js'), 'lab', ...args], { encoding: 'utf8', env, timeout: 120_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  let pids: number[] = [];

  before(() => {
    writeFileSync(path.join(dir, 'workloads.yaml'), WORKLOADS);
    writeFileSync(path.join(dir, 'policy.yaml'), BASE_POLICY);
    writeFileSync(
      path.join(dir, 'flows.jsonl'),
      [
        '{"from":"tools/client","to":"shop/web","port":8080,"protocol":"TCP","verdict":"allow"}',
        '{"from":"tools/client","to":"shop/db","port":5432,"protocol":"TCP","verdict":"allow"}',
        '{"from":"shop/api","to":"203.0.113.7","port":443,"protocol":"TCP","verdict":"allow"}',
        '{"from":"shop/web","to":"api.example.com","port":443,"protocol":"TCP","verdict":"allow"}',
      ].join('\n'),
    );
  });

  after(async () => {
    await downSession(labId);
    rmSync(dir, { recursive: true, force: true });
  });

  it('up, probe, apply, counters, status, down: output and exit codes', () => {
    const up = strata('up', '-f', dir, '--flows', path.join(dir, 'flows.jsonl'), '--nodes', '3');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`^lab ${labId}: 3 nodes, 4 workloads, 1 external address; up in \\d+ ms`));
    const attached = attachSession(labId);
    assert.ok(attached.ok);
    pids = attached.value.lab.agents.map((a) => a.pid);

    const probe = strata('probe', '--flows', path.join(dir, 'flows.jsonl'), '-o', 'json');
    assert.equal(probe.code, 0, probe.stdout + probe.stderr);
    const lines = probe.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 4);
    for (const l of lines.slice(0, 3)) {
      assert.deepEqual(Object.keys(l).slice(0, 6), ['from', 'to', 'port', 'protocol', 'observed', 'engine']);
      assert.equal(l['observed'], 'allow');
      assert.equal(l['engine'], 'allow');
    }
    assert.equal(lines[3]!['observed'], 'skipped');
    assert.match(probe.stderr, /4 flows: 3 agree \(3 allowed, 0 denied\), 0 disagree, 1 skipped/);

    writeFileSync(path.join(dir, 'policy.yaml'), BASE_POLICY + DB_LOCKDOWN);
    const apply = strata('apply', '-f', dir);
    assert.equal(apply.code, 0, apply.stderr);
    assert.match(apply.stdout, /generation 2; 1 node updated/);
    assert.match(apply.stdout, /operations?, \d+ bytes, one transaction/);

    // The flows file still expects client → db to be allowed: the kernel and the engine now
    // both deny it, which disagrees with the expectation: exit 1.
    const table = strata('probe', '--flows', path.join(dir, 'flows.jsonl'));
    assert.equal(table.code, 1, table.stdout + table.stderr);
    assert.match(table.stdout, /^FROM\s+TO\s+PORT\s+OBSERVED\s+ENGINE\s+EXPECTED/);
    assert.match(table.stdout, /tools\/client\s+shop\/db\s+5432\/TCP\s+deny\s+deny\s+allow\s+DISAGREE/);

    const all = strata('probe');
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.match(all.stderr, /flows: \d+ agree .*, 0 disagree/);

    const counters = strata('counters', '-o', 'json');
    assert.equal(counters.code, 0, counters.stderr);
    const rows = counters.stdout.trim().split('\n').map((l) => JSON.parse(l) as { policy: string; reason: string; packets: number });
    assert.ok(rows.some((r) => r.policy === 'db-default-deny' && r.reason === 'end-of-tier' && r.packets > 0));
    assert.match(strata('counters').stdout, /^TIER\s+POLICY\s+DIRECTION\s+RULE\s+ACTION\s+PACKETS\s+BYTES\s+NODES/);

    const status = strata('status', '-o', 'json');
    assert.equal(status.code, 0);
    const st = JSON.parse(status.stdout) as { labId: string; phase: string; agents: { running: number }; session: { generation: number } };
    assert.equal(st.labId, labId);
    assert.equal(st.phase, 'ready');
    assert.equal(st.agents.running, 5);
    assert.equal(st.session.generation, 2);

    // Without --prune a file is a change: upserting what is already there changes nothing.
    const partial = strata('apply', '-f', path.join(dir, 'policy.yaml'));
    assert.equal(partial.code, 0, partial.stderr);
    assert.match(partial.stdout, /nothing changed/);
    // With --prune it is the whole state: the workloads it leaves out would be removed.
    const bad = strata('apply', '--prune', '-f', path.join(dir, 'policy.yaml'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /lab-session\/endpoints-changed/);

    const down = strata('down');
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`lab ${labId}: removed 9 namespaces \\(and their links\\), ended \\d+ processes`));
  });

  it('lab down after `lab up` was killed half-way removes everything it had created', async () => {
    const crashId = uniqueLabId('crash');
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'strata.js'), 'lab', 'up', '-f', dir, '--lab', crashId], { env, stdio: 'ignore' });
    // Killed once the island exists in part: the state file is written before anything is created.
    const deadline = Date.now() + 20_000;
    while (!existsSync(`/run/strata-lab/${crashId}.json`) && Date.now() < deadline) await sleep(10);
    await sleep(150);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const r = await downSession(crashId);
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    console.log(`# killed up: down removed ${r.value.namespacesRemoved.length} namespaces and ended ${r.value.processesEnded.length} processes`);
    assertLabGone(crashId, []);
    assert.deepEqual(processesMentioning(`/run/strata-lab/${crashId}/`), [], 'no agent of the killed up is left');
  });

  it('lab down leaves no namespace, link, process or state file behind', () => {
    assertLabGone(labId, pids);
    assert.deepEqual(labNamespacesNow(labId), []);
    const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(netns, new RegExp(`stl-${labId}-`));
    assert.deepEqual(rootLinkNames().filter((n) => /^(stw|stn|stl-)/.test(n)), []);
    assert.equal(existsSync(`/run/strata-lab/${labId}.json`), false);
    assert.equal(existsSync(`/run/strata-lab/${labId}`), false);
    const again = strata('down');
    assert.equal(again.code, 0);
    assert.match(again.stdout, /nothing to remove/);
    assert.equal(strata('probe').code, 2, 'probe of a lab that is gone is an input error');
  });
});
