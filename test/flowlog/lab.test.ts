// The kernel's own record of its decisions, in a real lab: the workshop at step 5 (default deny),
// flows of testdata/workshop/step-5.jsonl probed with real packets, and the collected records must
// name the tier, policy and rule that `explain` (the engine) names — from nflog decision ids, not
// from a second evaluation. Also: a staged policy whose pending action differs, a deny rule whose
// counter and records move with dropped traffic, and a known number of connections counted once.
// Needs root, nftables, ulogd2 (+JSON output) and conntrack.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  applySession,
  downSession,
  flowCollectionUnavailableReason,
  flushFlowCollection,
  probeSession,
  readCounters,
  readLabFlows,
  startFlowCollection,
  upSession,
  withExternalsFor,
} from '../../src/lab-session/index.ts';
import type { Session, SessionFlow, SessionProbeResult } from '../../src/lab-session/index.ts';
import type { FlowRecord } from '../../src/flows/record.ts';
import { isSameProcess, readState } from '../../src/lab/index.ts';
import { flowsOf, REPO_ROOT, sessionSkip, sourcesOf, uniqueLabId } from '../lab-session/fixtures.ts';

const DIR = path.join(REPO_ROOT, 'testdata', 'workshop');
const STEP5 = ['cluster', 'common', 'original-apps', 'enforce'].map((p) => path.join(DIR, p));
const skip = sessionSkip ?? flowCollectionUnavailableReason();

interface Lesson {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly decidedBy: { readonly direction: string; readonly tier: string; readonly policy: string; readonly rule: number | null; readonly reason: string };
}
const lessons: Lesson[] = readFileSync(path.join(DIR, 'step-5.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Lesson);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The records of one probe: same endpoints (by namespace/name or address), port and source port. */
function recordsOfProbe(records: readonly FlowRecord[], r: SessionProbeResult): FlowRecord[] {
  const side = (e: FlowRecord['source'], text: string, address: string | undefined): boolean =>
    e.ip === address || (e.namespace !== null && `${e.namespace}/${e.name}` === text);
  return records.filter(
    (x) => side(x.source, r.from, r.fromAddress) && side(x.destination, r.to, r.toAddress) && x.port === r.port && (r.srcPort === undefined || x.srcPort === r.srcPort),
  );
}

async function collected(session: Session, sinceMs: number): Promise<FlowRecord[]> {
  // Let ulogd's and conntrack's pipes drain, then ask the collector for what it holds — again
  // until two flushes in a row read the same records (a loaded machine delivers some late).
  let last = -1;
  let records: FlowRecord[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    await sleep(400);
    assert.ok(await flushFlowCollection(session), 'the collector answered the flush');
    const r = readLabFlows(session, sinceMs);
    assert.ok(r.ok, JSON.stringify(r.ok ? '' : r.diagnostics));
    records = [...r.value];
    const seen = records.reduce((n, x) => n + x.packets + x.connections, 0);
    if (seen === last) break;
    last = seen;
  }
  return records;
}

describe('flowlog in the lab: the kernel records its decisions', { skip }, () => {
  const labId = uniqueLabId('fk');
  let session: Session;
  let flows: SessionFlow[];

  before(async () => {
    const up = await upSession(await sourcesOf(...STEP5), { labId });
    assert.ok(up.ok, JSON.stringify(up.ok ? '' : up.diagnostics));
    session = up.value.session;
    flows = flowsOf(path.join(DIR, 'step-5.jsonl'));
    const ext = await withExternalsFor(session, flows);
    assert.ok(ext.ok);
    session = ext.value;
    const started = await startFlowCollection(session, { flushMs: 500 });
    assert.ok(started.ok, JSON.stringify(started.ok ? '' : started.diagnostics));
  });
  after(async () => {
    await downSession(labId);
  });

  it('step 5: every probed flow has records whose kernel hits are the engine\'s, deciding step as the lesson says', async () => {
    const t0 = Date.now();
    const results = await probeSession(session, flows);
    const records = await collected(session, t0);
    const probed = results.filter((r) => r.observed === 'allow' || r.observed === 'deny');
    assert.ok(probed.length >= flows.length - 2, `probed ${probed.length} of ${flows.length}`);
    for (const r of probed) {
      const mine = recordsOfProbe(records, r);
      const what = `${r.from} → ${r.to}:${r.port}`;
      const decided = mine.filter((x) => (x.reporter === 'src' ? 'egress' : 'ingress') === r.decidedBy?.direction);
      assert.ok(decided.length >= 1, `${what}: a record from the deciding side (${r.decidedBy?.direction}); have ${JSON.stringify(mine.map((x) => [x.reporter, x.action]))}`);
      for (const x of mine) {
        assert.equal(x.mismatch, false, `${what}: kernel ${JSON.stringify(x.policies.enforced)} vs engine ${JSON.stringify(x.engine)}`);
        assert.deepEqual(x.policies.enforced, x.engine?.enforced);
      }
      const rec = decided[0]!;
      assert.equal(rec.action, r.observed, what);
      const last = rec.policies.enforced.at(-1)!;
      const d = lessons.find((l) => l.from === r.from && l.to === r.to && l.port === r.port)?.decidedBy;
      assert.equal(r.decidedBy?.policy, d?.policy, `${what}: the engine agrees with the lesson`);
      if (d !== undefined) {
        if (d.reason === 'end-of-tier') {
          assert.equal(last.kind, 'EndOfTier', what);
          assert.equal(last.trigger?.name, d.policy, what);
        } else {
          assert.equal(last.name, d.policy, what);
          assert.equal(last.ruleIndex, d.rule, what);
        }
        assert.equal(last.tier, d.tier, what);
      }
    }
  });

  it('a staged policy: the kernel allows, the pending trace (engine, staged enforced) denies', async () => {
    const staged = `apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata:
  name: appsec.fk-staged-lockdown
  namespace: hipstershop
spec:
  tier: appsec
  order: 100
  selector: app == "productcatalogservice"
  ingress:
    - action: Deny
      protocol: TCP
      source:
        selector: app == "frontend"
  types:
    - Ingress
`;
    const applied = await applySession(session, [{ file: 'staged.yaml', text: staged }]);
    assert.ok(applied.ok, JSON.stringify(applied.ok ? '' : applied.diagnostics));
    session = applied.value.session;
    await sleep(1200); // the collector reloads the engine when the session's generation changes
    const t0 = Date.now();
    const flow: SessionFlow = { from: 'hipstershop/frontend', to: 'hipstershop/productcatalogservice', port: 3550, protocol: 'TCP' } as SessionFlow;
    const [r] = await probeSession(session, [flow]);
    assert.equal(r?.observed, 'allow');
    const rec = recordsOfProbe(await collected(session, t0), r!).find((x) => x.reporter === 'dst');
    assert.ok(rec !== undefined, 'an ingress record');
    assert.equal(rec.action, 'allow');
    assert.equal(rec.mismatch, false);
    const pendingLast = rec.policies.pending.at(-1);
    assert.equal(pendingLast?.kind, 'StagedNetworkPolicy');
    assert.equal(pendingLast?.name, 'appsec.fk-staged-lockdown');
    assert.equal(pendingLast?.action, 'deny');
    assert.ok(!rec.policies.enforced.some((h) => h.kind.startsWith('Staged')), 'the kernel never enforces a staged policy');
  });

  it('a deny rule: its counter and its records move with dropped traffic', async () => {
    const flow = flows.find((f) => f.from === 'monitoring/monitoring-pod' && f.to === 'hipstershop/frontend')!;
    const ruleOf = (rows: Awaited<ReturnType<typeof readCounters>>): number => {
      return rows.filter((x) => x.policy === 'security.tenant-01-restrict' && x.direction === 'ingress' && x.rule === 2).reduce((n, x) => n + x.packets, 0);
    };
    const before = ruleOf(await readCounters(session));
    const t0 = Date.now();
    const results = await probeSession(session, [flow, flow, flow], { timeoutMs: 300, retryTimeoutMs: 300 });
    assert.ok(results.every((x) => x.observed === 'deny'));
    const movedBy = ruleOf(await readCounters(session)) - before;
    assert.ok(movedBy >= 3, `counter moved by ${movedBy}`);
    const recs = (await collected(session, t0)).filter(
      (x) => x.action === 'deny' && x.destination.name === 'frontend' && x.policies.enforced.at(-1)?.name === 'security.tenant-01-restrict',
    );
    assert.equal(recs.reduce((n, x) => n + x.connections, 0), 3, 'three attempts, three source ports');
    // Every dropped packet met the rule and was recorded (SYN retransmits included).
    assert.equal(recs.reduce((n, x) => n + x.packets, 0), movedBy);
  });

  it('N connections are counted exactly once each, with conntrack\'s packets and bytes both ways', async () => {
    const flow: SessionFlow = { from: 'hipstershop/frontend', to: 'hipstershop/productcatalogservice', port: 3550, protocol: 'TCP' } as SessionFlow;
    const n = 7;
    const t0 = Date.now();
    const results = await probeSession(session, Array.from({ length: n }, () => flow), { concurrency: 3 });
    assert.ok(results.every((x) => x.observed === 'allow'));
    await sleep(300);
    const recs = (await collected(session, t0)).filter((x) => x.source.name === 'frontend' && x.destination.name === 'productcatalogservice' && x.port === 3550);
    for (const reporter of ['src', 'dst'] as const) {
      const mine = recs.filter((x) => x.reporter === reporter);
      assert.equal(mine.reduce((s, x) => s + x.connections, 0), n, `${reporter}: ${n} connections`);
      assert.equal(new Set(mine.map((x) => x.srcPort)).size, n);
      // Per connection (its records over the intervals): conntrack's counters, both ways.
      for (const port of new Set(mine.map((x) => x.srcPort))) {
        const conn = mine.filter((x) => x.srcPort === port);
        const sum = (k: 'packetsIn' | 'packetsOut' | 'bytesIn' | 'bytesOut'): number => conn.reduce((s, x) => s + x[k], 0);
        assert.ok(sum('packetsIn') > 0 && sum('packetsOut') > 0, `${reporter} ${port}: packets both ways (${sum('packetsIn')}/${sum('packetsOut')})`);
        assert.ok(sum('bytesIn') > 0 && sum('bytesOut') > 0);
        // A TCP exchange: at least SYN, ACK, data, FIN from the client; SYN-ACK, data, FIN from the server.
        const fromClient = reporter === 'src' ? sum('packetsOut') : sum('packetsIn');
        assert.ok(fromClient >= 4, `${reporter} ${port}: ${fromClient} packets from the client`);
      }
    }
  });

  it('lab down ends the collector by its recorded PID, and its ulogd and conntrack children with the namespaces', async () => {
    const state = readState(labId, session.lab.stateDir);
    assert.ok(state !== undefined && !(state instanceof Error));
    const recorded = (state.processes ?? []).filter((p) => p.role === 'flow-collector');
    assert.equal(recorded.length, 1);
    const pid = recorded[0]!.pid;
    assert.ok(isSameProcess(pid, recorded[0]!.startTime), 'the collector runs');
    const down = await downSession(labId);
    assert.ok(down.ok);
    assert.ok(down.value.processesEnded.includes(pid), 'ended by PID');
    assert.ok(!isSameProcess(pid, recorded[0]!.startTime), 'and gone');
  });
});
