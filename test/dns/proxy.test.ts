// The DNS proxy with real UDP and TCP sockets on 127.0.0.1: an authoritative upstream (the lab's
// server), a hostile one (malformed, mismatched, poisoned answers), and a set writer that records
// what it was asked to add — the kernel side is proven by the lab test (test/lab-session/dns.test.ts).
import { strict as assert } from 'node:assert';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { describe, it, after } from 'node:test';
import dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import { renderSetAdditions, resolveName, respond, startDnsProxy, startDnsServer } from '../../src/dns/index.ts';
import type { DomainBinding, DnsProxy, DnsRecord, Learned, ProxyEvent, SetWriter } from '../../src/dns/index.ts';
import { exchangeTcp, exchangeUdp } from '../../src/dns/wire.ts';

const LOCAL = '127.0.0.1';

const RECORDS: DnsRecord[] = [
  { name: 'api.example.test', type: 'A', data: '203.0.113.10', ttl: 30 },
  { name: 'api.example.test', type: 'AAAA', data: '2001:db8::10', ttl: 30 },
  { name: 'other.example.org', type: 'A', data: '203.0.113.10', ttl: 30 },
  { name: 'alias.cdn.test', type: 'CNAME', data: 'edge.cdn.test', ttl: 5 },
  { name: 'edge.cdn.test', type: 'A', data: '198.51.100.7', ttl: 60 },
  { name: 'zero.example.test', type: 'A', data: '203.0.113.20', ttl: 0 },
  { name: 'long.example.test', type: 'A', data: '203.0.113.21', ttl: 86_400 },
];

const BINDINGS: DomainBinding[] = [
  { set: 'd4-api-11111111', family: 4, patterns: ['api.example.test'] },
  { set: 'd6-api-22222222', family: 6, patterns: ['api.example.test'] },
  { set: 'd4-wild-33333333', family: 4, patterns: ['*.example.test', 'edge.cdn.test'] },
];

/** Records every addition; can be slowed down or made to fail. */
class RecordingWriter implements SetWriter {
  readonly calls: { learned: readonly Learned[]; doneAt: number }[] = [];
  delayMs = 0;
  failWith: string | undefined;
  async add(learned: readonly Learned[]): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failWith !== undefined) throw new Error(this.failWith);
    this.calls.push({ learned, doneAt: performance.now() });
  }
  get learned(): Learned[] {
    return this.calls.flatMap((c) => [...c.learned]);
  }
  reset(): void {
    this.calls.length = 0;
    this.delayMs = 0;
    this.failWith = undefined;
  }
}

function query(name: string, type: 'A' | 'AAAA' = 'A', id = 4242): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });
}

type Decoded = ReturnType<typeof dnsPacket.decode> & { rcode?: string };

/** A UDP "upstream" that answers every query with whatever `reply` makes of it. */
async function hostileUpstream(reply: (q: ReturnType<typeof dnsPacket.decode>, raw: Buffer) => Buffer | undefined): Promise<{ port: number; queries: number; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const state = { port: 0, queries: 0, close: () => sock.close() };
  sock.on('message', (msg, rinfo) => {
    state.queries++;
    const out = reply(dnsPacket.decode(msg), msg);
    if (out !== undefined) sock.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, LOCAL, () => r()));
  state.port = (sock.address() as AddressInfo).port;
  return state;
}

function responseTo(q: ReturnType<typeof dnsPacket.decode>, answers: Answer[], id = q.id): Buffer {
  return dnsPacket.encode({ type: 'response', id: id ?? 0, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: q.questions ?? [], answers });
}

describe('dns proxy', async () => {
  const server = await startDnsServer({ address: LOCAL, port: 0 }, RECORDS);
  const writer = new RecordingWriter();
  const events: ProxyEvent[] = [];
  let bindings: DomainBinding[] = BINDINGS;
  const proxy: DnsProxy = await startDnsProxy({
    listen: { address: LOCAL, port: 0 },
    upstreams: [{ address: LOCAL, port: server.port }],
    bindings: () => bindings,
    writer,
    ttl: { minSeconds: 2, maxSeconds: 3600 },
    timeoutMs: 500,
    onEvent: (e) => events.push(e),
  });
  const at = { address: LOCAL, port: proxy.port };
  after(async () => {
    await proxy.close();
    await server.close();
  });

  const ask = async (name: string, type: 'A' | 'AAAA' = 'A'): Promise<Decoded> => dnsPacket.decode(await exchangeUdp(at, query(name, type), 2000)) as Decoded;

  it('answers an allowed name and adds its A record to the bound set with the record TTL', async () => {
    writer.reset();
    const r = await ask('api.example.test');
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.answers?.map((a) => (a as { data?: unknown }).data), ['203.0.113.10']);
    assert.deepEqual(writer.learned, [
      { set: 'd4-api-11111111', family: 4, address: '203.0.113.10', ttl: 30, name: 'api.example.test' },
      { set: 'd4-wild-33333333', family: 4, address: '203.0.113.10', ttl: 30, name: 'api.example.test' },
    ]);
  });

  it('adds AAAA answers to the IPv6 set only', async () => {
    writer.reset();
    await ask('API.Example.Test.', 'AAAA');
    assert.deepEqual(writer.learned, [{ set: 'd6-api-22222222', family: 6, address: '2001:db8::10', ttl: 30, name: 'api.example.test' }]);
  });

  it('releases the answer only after the set writer has finished', async () => {
    writer.reset();
    writer.delayMs = 150;
    const sent = performance.now();
    const raw = await exchangeUdp(at, query('api.example.test'), 2000);
    const received = performance.now();
    assert.ok(raw.length > 0);
    assert.equal(writer.calls.length, 1);
    assert.ok(writer.calls[0]!.doneAt <= received, 'the answer arrived before the addresses were written');
    assert.ok(received - sent >= 150);
  });

  it('learns nothing for a name no binding allows, though it resolves to the same address', async () => {
    writer.reset();
    const r = await ask('other.example.org');
    assert.deepEqual(r.answers?.map((a) => (a as { data?: unknown }).data), ['203.0.113.10']);
    assert.deepEqual(writer.calls, []);
    const ev = events.at(-1);
    assert.ok(ev?.kind === 'answered' && ev.learned.length === 0);
  });

  it('follows a CNAME chain: the target matches, the TTL is the shortest on the chain', async () => {
    writer.reset();
    const r = await ask('alias.cdn.test');
    assert.deepEqual(r.answers?.map((a) => a.type), ['CNAME', 'A']);
    assert.deepEqual(writer.learned, [{ set: 'd4-wild-33333333', family: 4, address: '198.51.100.7', ttl: 5, name: 'edge.cdn.test' }]);
  });

  it('clamps TTLs: 0 is raised to the minimum, a day lowered to the maximum', async () => {
    writer.reset();
    await ask('zero.example.test');
    await ask('long.example.test');
    assert.deepEqual(
      writer.learned.map((l) => [l.address, l.ttl]),
      [
        ['203.0.113.20', 2],
        ['203.0.113.21', 3600],
      ],
    );
  });

  it('applies changed bindings at the next answer', async () => {
    writer.reset();
    bindings = [{ set: 'd4-org-44444444', family: 4, patterns: ['*.example.org'] }];
    try {
      await ask('other.example.org');
      await ask('api.example.test');
      assert.deepEqual(
        writer.learned.map((l) => [l.set, l.name]),
        [['d4-org-44444444', 'other.example.org']],
      );
    } finally {
      bindings = BINDINGS;
    }
  });

  it('answers over TCP too, with the same learning', async () => {
    writer.reset();
    const r = dnsPacket.decode(await exchangeTcp(at, query('api.example.test'), 2000)) as Decoded;
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(writer.learned.length, 2);
  });

  it('answers NXDOMAIN for an unknown name and learns nothing', async () => {
    writer.reset();
    const r = await ask('nope.example.test');
    assert.equal(r.rcode, 'NXDOMAIN');
    assert.deepEqual(writer.calls, []);
  });

  it('fails closed (SERVFAIL) when the sets cannot be written', async () => {
    writer.reset();
    writer.failWith = 'nft: No such file or directory';
    const r = await ask('api.example.test');
    assert.equal(r.rcode, 'SERVFAIL');
    assert.deepEqual(r.answers, []);
  });

  it('drops a malformed query without asking upstream', async () => {
    const sock = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    sock.on('message', (m) => got.push(m));
    await new Promise<void>((r) => sock.bind(0, LOCAL, () => r()));
    const before = events.length;
    sock.send(Buffer.from([0x12, 0x34, 0x01]), proxy.port, LOCAL);
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    assert.deepEqual(got, []);
    assert.equal(events.slice(before).map((e) => e.kind).join(), 'malformed-query');
  });

  it('the stub resolver reaches the answer through the proxy', async () => {
    writer.reset();
    const r = await resolveName(at, 'alias.cdn.test', 4, 2000);
    assert.deepEqual(r, { ok: true, address: '198.51.100.7', chain: ['alias.cdn.test', 'edge.cdn.test'] });
  });
});

describe('dns proxy with a hostile upstream: nothing is learned from a bad answer', async () => {
  const cases: { name: string; reply: (q: ReturnType<typeof dnsPacket.decode>, raw: Buffer) => Buffer | undefined }[] = [
    { name: 'garbage bytes', reply: () => Buffer.from('not a dns message at all') },
    { name: 'a header whose counts promise records that are not there', reply: (q) => responseTo(q, [{ type: 'A', name: 'api.example.test', ttl: 30, data: '203.0.113.66' }]).subarray(0, 40) },
    { name: 'another query id', reply: (q) => responseTo(q, [{ type: 'A', name: 'api.example.test', ttl: 30, data: '203.0.113.66' }], ((q.id ?? 0) + 1) % 65_536) },
    { name: 'a query echoed back instead of a response', reply: (_q, raw) => raw },
    {
      name: 'another question answered',
      reply: (q) =>
        dnsPacket.encode({ type: 'response', id: q.id ?? 0, questions: [{ type: 'A', name: 'evil.test' }], answers: [{ type: 'A', name: 'api.example.test', ttl: 30, data: '203.0.113.66' }] }),
    },
    {
      name: 'a CNAME loop',
      reply: (q) =>
        responseTo(q, [
          { type: 'CNAME', name: 'api.example.test', ttl: 30, data: 'b.example.test' },
          { type: 'CNAME', name: 'b.example.test', ttl: 30, data: 'api.example.test' },
        ]),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: SERVFAIL, no addition`, async () => {
      const up = await hostileUpstream(c.reply);
      const writer = new RecordingWriter();
      const proxy = await startDnsProxy({ listen: { address: LOCAL, port: 0 }, upstreams: [{ address: LOCAL, port: up.port }], bindings: () => BINDINGS, writer, timeoutMs: 300 });
      try {
        const r = dnsPacket.decode(await exchangeUdp({ address: LOCAL, port: proxy.port }, query('api.example.test'), 2000)) as Decoded;
        assert.equal(r.rcode, 'SERVFAIL');
        assert.deepEqual(writer.calls, []);
        assert.equal(up.queries, 1);
      } finally {
        await proxy.close();
        up.close();
      }
    });
  }

  it('records off the chain (an extra A record for an allowed name) are ignored', async () => {
    const up = await hostileUpstream((q) =>
      responseTo(q, [
        { type: 'A', name: 'other.example.org', ttl: 30, data: '203.0.113.10' },
        // Not asked for: a poisoning attempt that would open api.example.test's sets.
        { type: 'A', name: 'api.example.test', ttl: 30, data: '203.0.113.66' },
      ]),
    );
    const writer = new RecordingWriter();
    const proxy = await startDnsProxy({ listen: { address: LOCAL, port: 0 }, upstreams: [{ address: LOCAL, port: up.port }], bindings: () => BINDINGS, writer, timeoutMs: 300 });
    try {
      const r = dnsPacket.decode(await exchangeUdp({ address: LOCAL, port: proxy.port }, query('other.example.org'), 2000)) as Decoded;
      assert.equal(r.rcode, 'NOERROR');
      assert.deepEqual(writer.calls, []);
    } finally {
      await proxy.close();
      up.close();
    }
  });

  it('trusted upstreams in order: a silent one is passed over, the next one answers and is learned from', async () => {
    const silent = await hostileUpstream(() => undefined);
    const good = await startDnsServer({ address: LOCAL, port: 0 }, RECORDS);
    const writer = new RecordingWriter();
    const proxy = await startDnsProxy({
      listen: { address: LOCAL, port: 0 },
      upstreams: [{ address: LOCAL, port: silent.port }, { address: LOCAL, port: good.port }],
      bindings: () => BINDINGS,
      writer,
      timeoutMs: 200,
    });
    try {
      const r = dnsPacket.decode(await exchangeUdp({ address: LOCAL, port: proxy.port }, query('api.example.test'), 2000)) as Decoded;
      assert.equal(r.rcode, 'NOERROR');
      assert.equal(silent.queries, 1);
      assert.equal(writer.learned.length, 2);
    } finally {
      await proxy.close();
      await good.close();
      silent.close();
    }
  });

  it('an upstream that never answers: SERVFAIL after the timeout', async () => {
    const up = await hostileUpstream(() => undefined);
    const writer = new RecordingWriter();
    const proxy = await startDnsProxy({ listen: { address: LOCAL, port: 0 }, upstreams: [{ address: LOCAL, port: up.port }], bindings: () => BINDINGS, writer, timeoutMs: 200 });
    try {
      const r = dnsPacket.decode(await exchangeUdp({ address: LOCAL, port: proxy.port }, query('api.example.test'), 2000)) as Decoded;
      assert.equal(r.rcode, 'SERVFAIL');
    } finally {
      await proxy.close();
      up.close();
    }
  });
});

describe('set additions (the nft transaction)', () => {
  const l: Learned = { set: 'd4-api-11111111', family: 4, address: '203.0.113.10', ttl: 30, name: 'api.example.test' };
  it('adds, deletes and adds again so the element ends with this TTL', () => {
    assert.equal(
      renderSetAdditions('strata', [l], () => undefined, 0),
      'add element inet strata d4-api-11111111 { 203.0.113.10 timeout 30s }\n' +
        'delete element inet strata d4-api-11111111 { 203.0.113.10 }\n' +
        'add element inet strata d4-api-11111111 { 203.0.113.10 timeout 30s }\n',
    );
  });
  it('an element already held longer is added with the time it has left (never shortened, back after a table replace)', () => {
    assert.equal(renderSetAdditions('strata', [l], () => 60_000, 1_000), 'add element inet strata d4-api-11111111 { 203.0.113.10 timeout 59s }\n');
  });
  it('two answers for one address in one batch: one element, the longer TTL', () => {
    assert.equal(
      renderSetAdditions('strata', [l, { ...l, ttl: 100 }, { ...l, ttl: 5 }], () => undefined, 0),
      'add element inet strata d4-api-11111111 { 203.0.113.10 timeout 100s }\n' +
        'delete element inet strata d4-api-11111111 { 203.0.113.10 }\n' +
        'add element inet strata d4-api-11111111 { 203.0.113.10 timeout 100s }\n',
    );
  });
  it('refuses names that could smuggle nft syntax', () => {
    assert.throws(() => renderSetAdditions('strata', [{ ...l, set: 'x } ; flush ruleset' }], () => undefined, 0), /bad set name/);
  });
});

describe('authoritative server (pure)', () => {
  it('returns undefined for garbage and FORMERR for a response sent as a query', () => {
    assert.equal(respond(RECORDS, Buffer.from([1, 2, 3])), undefined);
    const resp = dnsPacket.encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'api.example.test' }] });
    assert.equal((dnsPacket.decode(respond(RECORDS, resp)!) as Decoded).rcode, 'FORMERR');
  });
});
