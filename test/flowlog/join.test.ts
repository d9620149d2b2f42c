// The join of decision records and conntrack events, on the recorded samples and on made-up
// sequences for the orderings two independent pipes can deliver.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decisionId, parseProvenance } from '../../src/dataplane/index.ts';
import { classifyProvenance, createFlowJoiner, parseConntrackLine, parseUlogdJson } from '../../src/flowlog/index.ts';
import type { Classify, ConntrackEvent, NflogEvent, Tuple } from '../../src/flowlog/index.ts';

const DIR = join(import.meta.dirname, '..', '..', 'testdata', 'flowlog');
const lines = (f: string): string[] => readFileSync(join(DIR, f), 'utf8').split('\n').filter((l) => l.trim() !== '' && !/^conntrack v/.test(l.trim()));

const PROVENANCE = [
  'gnp/allow-web ingress 0 allow',
  'gnp/deny-81 ingress 0 deny',
  'gnp/pass-all egress 0 pass',
  'np/prod/web egress 1 allow',
  'np/prod/db ingress end-of-tier deny tier=default',
];
const TABLE = new Map(PROVENANCE.map((p) => [decisionId(p), p]));
const classify: Classify = (id) => {
  const t = TABLE.get(id);
  return t === undefined ? undefined : classifyProvenance(parseProvenance(t));
};
const id = (p: string): string => decisionId(p);

function samples(): { nflog: NflogEvent[]; ct: ConntrackEvent[] } {
  const nflog = lines('ulogd-json.jsonl').map((l) => parseUlogdJson(l)).flatMap((r) => (r.ok && r.value !== undefined ? [r.value] : []));
  const ct = lines('conntrack-events.txt').map((l) => parseConntrackLine(l)).flatMap((r) => (r.ok ? [r.value] : []));
  return { nflog, ct };
}

const T: Tuple = { family: 4, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80, icmp: undefined };
const pkt = (decision: string, timeMs: number, tuple: Tuple = T): NflogEvent => ({ kind: 'nflog', timeMs, decision, tuple, iif: 'a', oif: 'b', bytes: 60 });
const ct = (type: ConntrackEvent['type'], ctId: number, timeMs: number, counters?: [number, number, number, number], tuple: Tuple = T): ConntrackEvent => ({
  kind: 'conntrack',
  type,
  timeMs,
  id: ctId,
  orig: tuple,
  origCounters: counters === undefined ? undefined : { packets: counters[0], bytes: counters[1] },
  replyCounters: counters === undefined ? undefined : { packets: counters[2], bytes: counters[3] },
  mark: 0,
  state: undefined,
});

describe('join on the recorded samples', () => {
  it('each connection once: allowed ones with conntrack counters, the denied one with its logged packet', () => {
    const { nflog, ct: events } = samples();
    const j = createFlowJoiner({ classify, idleMs: 1000 });
    for (const e of nflog) j.addNflog(e);
    for (const e of events) j.addConntrack(e);
    const end = Math.max(...nflog.map((e) => e.timeMs)) + 5000;
    const out = j.flush(end);
    const byPort = new Map(out.map((o) => [o.tuple.dport ?? `icmp${o.tuple.icmp?.type}`, o]));
    assert.equal(out.length, 5, JSON.stringify(out.map((o) => o.key)));
    assert.equal(out.filter((o) => o.started).length, 5);
    const denied = byPort.get(81)!;
    assert.equal(denied.paths.get('ingress')?.verdict, 'deny');
    assert.deepEqual(denied.paths.get('ingress')?.decisions, [id('gnp/deny-81 ingress 0 deny')]);
    assert.equal(denied.conntrackId, undefined);
    assert.equal(denied.origPackets, 1);
    assert.equal(denied.origBytes, 60);
    assert.ok(denied.completed, 'a denied attempt idle past idleMs is over');
    const udp = out.find((o) => o.tuple.sport === 40001)!;
    assert.equal(udp.conntrackId, 1546161710);
    assert.deepEqual([udp.origPackets, udp.origBytes, udp.replyPackets, udp.replyBytes], [1, 30, 1, 33]);
    assert.ok(udp.completed);
    const tcp = byPort.get(80)!;
    assert.equal(tcp.paths.get('ingress')?.verdict, 'allow');
    assert.ok(!tcp.completed, 'TIME_WAIT: not destroyed yet');
    assert.deepEqual(j.flush(end + 1000), [], 'nothing moved: nothing reported');
  });
});

describe('join orderings', () => {
  it('conntrack NEW before the nflog record: still one observation with the decision', () => {
    const j = createFlowJoiner({ classify, graceMs: 100 });
    j.addConntrack(ct('new', 7, 1000));
    j.addNflog(pkt(id('gnp/allow-web ingress 0 allow'), 999));
    j.addConntrack(ct('destroy', 7, 1500, [3, 180, 2, 120]));
    const out = j.flush(2000);
    assert.equal(out.length, 1);
    assert.deepEqual([out[0]!.origPackets, out[0]!.replyPackets, out[0]!.started, out[0]!.completed], [3, 2, true, true]);
  });

  it('the decision after DESTROY still joins its entry (within the grace period)', () => {
    const j = createFlowJoiner({ classify, graceMs: 1000 });
    j.addConntrack(ct('new', 8, 1000));
    j.addConntrack(ct('destroy', 8, 1100, [1, 60, 1, 60]));
    assert.deepEqual(j.flush(1200), [], 'held back for its decisions');
    j.addNflog(pkt(id('gnp/allow-web ingress 0 allow'), 1000));
    const out = j.flush(1300);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.conntrackId, 8);
    assert.equal(out[0]!.paths.get('ingress')?.verdict, 'allow');
  });

  it('a pass then an allow in egress and an end-of-tier deny in ingress: two paths of one packet, retries counted as packets', () => {
    const j = createFlowJoiner({ classify, idleMs: 500 });
    for (const t of [1000, 2000, 4000]) {
      j.addNflog(pkt(id('gnp/pass-all egress 0 pass'), t));
      j.addNflog(pkt(id('np/prod/web egress 1 allow'), t));
      j.addNflog(pkt(id('np/prod/db ingress end-of-tier deny tier=default'), t));
    }
    const out = j.flush(5000);
    assert.equal(out.length, 1);
    const o = out[0]!;
    assert.deepEqual(o.paths.get('egress')?.decisions, [id('gnp/pass-all egress 0 pass'), id('np/prod/web egress 1 allow')]);
    assert.equal(o.paths.get('egress')?.verdict, 'allow');
    assert.equal(o.paths.get('ingress')?.verdict, 'deny');
    assert.equal(o.origPackets, 3, 'three SYNs met policy');
    assert.ok(o.started && o.completed);
  });

  it('the same tuple after DESTROY is a new connection; a long one reports only what moved per interval', () => {
    const j = createFlowJoiner({ classify, graceMs: 10 });
    j.addNflog(pkt(id('gnp/allow-web ingress 0 allow'), 1000));
    j.addConntrack(ct('new', 1, 1000));
    j.addConntrack(ct('list', 1, 1000, [10, 1000, 10, 2000]));
    const a = j.flush(2000);
    assert.deepEqual([a[0]!.origPackets, a[0]!.replyBytes, a[0]!.started], [10, 2000, true]);
    j.addConntrack(ct('list', 1, 2500, [15, 1500, 12, 2400]));
    const b = j.flush(3000);
    assert.deepEqual([b[0]!.origPackets, b[0]!.replyBytes, b[0]!.started, b[0]!.completed], [5, 400, false, false]);
    j.addConntrack(ct('destroy', 1, 3100, [15, 1500, 12, 2400]));
    const c = j.flush(4000);
    assert.deepEqual([c[0]!.origPackets, c[0]!.completed], [0, true]);
    j.addNflog(pkt(id('gnp/allow-web ingress 0 allow'), 5000));
    j.addConntrack(ct('new', 2, 5000));
    const d = j.flush(6000);
    assert.equal(d.length, 1);
    assert.ok(d[0]!.started);
    assert.equal(d[0]!.conntrackId, 2);
  });

  it('an entry no rule of this node decided is forgotten after the grace period, never reported', () => {
    const j = createFlowJoiner({ classify, graceMs: 100 });
    j.addConntrack(ct('new', 3, 1000));
    assert.deepEqual(j.flush(1050), []);
    assert.deepEqual(j.flush(1200), []);
    assert.equal(j.size(), 0);
  });

  it('unknown decision ids are kept aside, named in the report', () => {
    const j = createFlowJoiner({ classify, idleMs: 10 });
    j.addNflog(pkt('0123456789ab', 1000));
    j.addNflog(pkt(id('gnp/deny-81 ingress 0 deny'), 1000));
    const out = j.flush(2000);
    assert.deepEqual(out[0]!.unknownDecisions, ['0123456789ab']);
  });
});
