// Parsing the kernel's records as the maintained tools print them (recorded samples in
// testdata/flowlog, see its README), and refusing what they never print.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConntrackLine, parseUlogdJson, tupleKey } from '../../src/flowlog/index.ts';
import type { ConntrackEvent, NflogEvent } from '../../src/flowlog/index.ts';

const DIR = join(import.meta.dirname, '..', '..', 'testdata', 'flowlog');
const lines = (f: string): string[] => readFileSync(join(DIR, f), 'utf8').split('\n').filter((l) => l.trim() !== '' && !/^conntrack v/.test(l.trim()));

function nflog(): NflogEvent[] {
  return lines('ulogd-json.jsonl').map((l) => {
    const r = parseUlogdJson(l);
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.ok(r.value !== undefined);
    return r.value;
  });
}

function events(f: string): ConntrackEvent[] {
  return lines(f).map((l) => {
    const r = parseConntrackLine(l);
    assert.ok(r.ok, r.ok ? '' : `${r.error}: ${l}`);
    return r.value;
  });
}

describe('ulogd JSON', () => {
  it('reads decision id, tuple, interfaces, length and kernel time of each logged packet', () => {
    const [tcp, denied, udp, icmp] = nflog();
    assert.equal(tcp?.decision, '8abde7e8e6bd');
    assert.deepEqual(tcp?.tuple, { family: 4, protocol: 6, src: '10.9.1.2', dst: '10.9.2.2', sport: 47256, dport: 80, icmp: undefined });
    assert.equal(tcp?.iif, 'va');
    assert.equal(tcp?.oif, 'vb');
    assert.equal(tcp?.bytes, 60);
    assert.equal(tcp?.timeMs, 1796178892961.081);
    assert.equal(denied?.decision, '3ce206837e7d');
    assert.equal(denied?.tuple.dport, 81);
    assert.equal(udp?.tuple.protocol, 17);
    assert.deepEqual(icmp?.tuple.icmp, { type: 8, code: 0, id: 6528 });
  });

  it('a packet with another prefix is not ours (no event, no error); broken lines are errors with the reason', () => {
    const other = JSON.parse(lines('ulogd-json.jsonl')[0]!) as Record<string, unknown>;
    other['oob.prefix'] = 'strata gnp/x ingress 0: ';
    assert.deepEqual(parseUlogdJson(JSON.stringify(other)), { ok: true, value: undefined });
    const bad = parseUlogdJson('{"oob.prefix": 3}');
    assert.ok(!bad.ok);
    assert.match(bad.error, /oob\.prefix/);
    assert.ok(!parseUlogdJson('not json').ok);
  });

  it('every field the schema requires is checked on the fast path too: a broken one is an error naming it', () => {
    const good = JSON.parse(lines('ulogd-json.jsonl')[0]!) as Record<string, unknown>;
    const cases: [string, unknown][] = [
      ['oob.time.sec', undefined],
      ['oob.time.usec', 1.5],
      ['raw.pktlen', -1],
      ['src_port', 'x'],
      ['src_ip', 7],
      ['oob.in', 3],
      ['oob.family', undefined],
    ];
    for (const [field, value] of cases) {
      const broken = { ...good };
      if (value === undefined) delete broken[field];
      else broken[field] = value;
      const r = parseUlogdJson(JSON.stringify(broken));
      assert.ok(!r.ok, `${field} = ${String(value)} is refused`);
      assert.ok(r.error.includes(field), `${r.error} names ${field}`);
    }
  });
});

describe('IPv6', () => {
  it('ulogd: ip6.nexthdr and icmpv6.* fields; conntrack: the entry id without a mark, after the reply\'s echo id; keys join', () => {
    const [udp, icmp] = lines('ulogd-json-ipv6.jsonl').map((l) => {
      const r = parseUlogdJson(l);
      assert.ok(r.ok && r.value !== undefined, r.ok ? '' : r.error);
      return r.value;
    });
    assert.deepEqual(udp?.tuple, { family: 6, protocol: 17, src: 'fd09:1::2', dst: 'fd09:2::2', sport: 37364, dport: 53, icmp: undefined });
    assert.deepEqual(icmp?.tuple.icmp, { type: 128, code: 0, id: 30225 });
    const evs = events('conntrack-events-ipv6.txt');
    const ctIcmp = evs.find((e) => e.orig.protocol === 58 && e.type === 'new')!;
    assert.equal(ctIcmp.id, 2016964611);
    assert.equal(ctIcmp.mark, 0);
    assert.equal(evs.find((e) => e.orig.protocol === 17)!.id, 134766862);
    const keys = new Set(evs.map((e) => tupleKey(e.orig)));
    assert.ok(keys.has(tupleKey(udp!.tuple)) && keys.has(tupleKey(icmp!.tuple)));
  });
});

describe('conntrack text', () => {
  it('events: type, stamp, id, original tuple, mark; TCP state; ICMP echo id apart from the entry id', () => {
    const evs = events('conntrack-events.txt');
    const first = evs[0]!;
    assert.equal(first.type, 'new');
    assert.equal(first.id, 3999637815);
    assert.equal(first.mark, 4660);
    assert.equal(first.state, 'SYN_SENT');
    assert.deepEqual(first.orig, { family: 4, protocol: 6, src: '10.9.1.2', dst: '10.9.2.2', sport: 47256, dport: 80, icmp: undefined });
    assert.equal(first.origCounters, undefined);
    const icmp = evs.find((e) => e.orig.protocol === 1)!;
    assert.equal(icmp.id, 230032066);
    assert.deepEqual(icmp.orig.icmp, { type: 8, code: 0, id: 6528 });
    const destroy = evs.find((e) => e.type === 'destroy')!;
    assert.equal(destroy.orig.sport, 40001);
    assert.deepEqual(destroy.origCounters, { packets: 1, bytes: 30 });
    assert.deepEqual(destroy.replyCounters, { packets: 1, bytes: 33 });
    assert.equal(destroy.id, 1546161710);
  });

  it('dumps: counters of both directions; the key of an entry equals the key of the packet that made it', () => {
    const list = events('conntrack-list.txt');
    const tcp = list.find((e) => e.orig.protocol === 6)!;
    assert.equal(tcp.type, 'list');
    assert.equal(tcp.timeMs, undefined);
    assert.deepEqual(tcp.origCounters, { packets: 6, bytes: 322 });
    assert.deepEqual(tcp.replyCounters, { packets: 4, bytes: 219 });
    // The 40001 exchange was deleted before the dump: its entry is in the event stream only.
    const keys = new Set([...list, ...events('conntrack-events.txt')].map((e) => tupleKey(e.orig)));
    const logged = nflog().filter((e) => e.decision === '8abde7e8e6bd');
    for (const e of logged) assert.ok(keys.has(tupleKey(e.tuple)), `${tupleKey(e.tuple)} has its entry`);
  });

  it('refuses lines conntrack does not print with these options, saying which option is missing', () => {
    const noExt = parseConntrackLine('tcp      6 103 TIME_WAIT src=10.9.1.2 dst=10.9.2.2 sport=1 dport=2 src=10.9.2.2 dst=10.9.1.2 sport=2 dport=1 id=5');
    assert.ok(!noExt.ok);
    assert.match(noExt.error, /-o extended/);
    const noId = parseConntrackLine('ipv4     2 udp      17 29 src=10.9.1.2 dst=10.9.2.2 sport=1 dport=2 src=10.9.2.2 dst=10.9.1.2 sport=2 dport=1 mark=0');
    assert.ok(!noId.ok);
    assert.match(noId.error, /-o id/);
    assert.ok(!parseConntrackLine('[1.2]\t[WEIRD] ipv4 2 udp 17 src=1 dst=2 id=3').ok);
  });
});
