// createFlowCollector on its own (no lab code): three namespaces of this test's own (client →
// node → server), the node programmed by the real compiler, ulogd and conntrack started by the
// collector's default `ip netns exec` wrapper. TCP allowed and denied, UDP and ICMP echo through
// the real kernel: every connection recorded once per deciding direction, as the engine names it.
// Needs root, nft, socat, ping, ulogd2 (+JSON) and conntrack.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { compileNode, renderNft } from '../../src/dataplane/index.ts';
import { createFlowCollector, decisionTableOf } from '../../src/flowlog/index.ts';
import type { FlowCollector } from '../../src/flowlog/index.ts';
import type { FlowRecord } from '../../src/flows/record.ts';
import { findProgram, isRoot } from '../../src/lab/index.ts';
import { cluster, endpoint, policy, ports, rules, TCP, UDP, ICMP } from '../dataplane/fixtures.ts';

const missing = ['ip', 'nft', 'socat', 'ping', 'ulogd', 'conntrack'].filter((p) => findProgram(p) === undefined);
const skip = !isRoot() ? 'needs root (network namespaces)' : missing.length > 0 ? `missing ${missing.join(', ')}` : undefined;

const ID = `stl-fkt${process.pid.toString(36)}`;
const NS = { client: `${ID}-c`, node: `${ID}-n`, server: `${ID}-s` };
const run = (args: string[], input?: string): { code: number; out: string; err: string } => {
  const r = spawnSync('ip', args, { encoding: 'utf8', input: input ?? '', timeout: 20_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
};
const inNs = (ns: string, argv: string[], input?: string): { code: number; out: string; err: string } => run(['netns', 'exec', ns, ...argv], input);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const client = endpoint({ id: 'prod/client', labels: { app: 'client' }, addresses: ['10.9.1.2'], profiles: [] });
const server = endpoint({ id: 'prod/server', labels: { app: 'server' }, addresses: ['10.9.2.2'], ports: [{ name: 'http', protocol: TCP, port: 80 }], profiles: [] });
const allowOut = policy({ name: 'client-out', selector: 'app == "client"', types: ['egress'], egress: rules(['allow']) });
const serverIn = policy({
  name: 'server-in',
  selector: 'app == "server"',
  ingress: rules(['deny', { protocol: TCP, destination: { ports: ports(81) } }], ['allow', { protocol: TCP, destination: { ports: ports(80) } }], ['allow', { protocol: UDP }], ['allow', { protocol: ICMP }]),
});
const c = cluster({ policies: [allowOut, serverIn], endpoints: [client, server] });
const compiled = compileNode(c, [client, server], { interfaces: new Map([['prod/client', 'vc'], ['prod/server', 'vs']]) });

describe('createFlowCollector in a namespace of its own', { skip }, () => {
  const records: FlowRecord[] = [];
  const children: ChildProcess[] = [];
  let collector: FlowCollector;

  before(async () => {
    assert.ok(compiled.ok);
    for (const ns of Object.values(NS)) assert.equal(run(['netns', 'add', ns]).code, 0);
    const node = [
      `link add vc type veth peer name eth0 netns ${NS.client}`,
      `link add vs type veth peer name eth0 netns ${NS.server}`,
      'addr add 10.9.1.1/24 dev vc',
      'addr add 10.9.2.1/24 dev vs',
      'link set vc up',
      'link set vs up',
      'link set lo up',
    ];
    assert.equal(run(['-n', NS.node, '-batch', '-'], node.join('\n')).code, 0);
    for (const [ns, a, gw] of [[NS.client, '10.9.1.2/24', '10.9.1.1'], [NS.server, '10.9.2.2/24', '10.9.2.1']] as const) {
      assert.equal(run(['-n', ns, '-batch', '-'], [`addr add ${a} dev eth0`, 'link set eth0 up', 'link set lo up', `route add default via ${gw}`].join('\n')).code, 0);
    }
    assert.equal(inNs(NS.node, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']).code, 0);
    const applied = inNs(NS.node, ['nft', '-f', '-'], renderNft(compiled.value));
    assert.equal(applied.code, 0, applied.err);
    // The server: a small Node process in its namespace answering `pong` on TCP 80 and UDP 53
    // (no fork per connection, so a loaded machine does not lose answers).
    const server = [
      "const net = require('node:net'); const dgram = require('node:dgram');",
      "net.createServer((c) => { c.on('error', () => {}); c.once('data', () => c.end('pong\\n')); }).listen(80, '10.9.2.2');",
      "const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send('pong\\n', r.port, r.address)); u.bind(53, '10.9.2.2');",
    ].join(' ');
    children.push(spawn('ip', ['netns', 'exec', NS.server, process.execPath, '-e', server], { stdio: 'ignore' }));
    collector = createFlowCollector({
      node: 'node',
      netns: NS.node,
      ruleTable: () => decisionTableOf([compiled.value]),
      cluster: () => c,
      onRecords: (rs) => records.push(...rs),
      flushIntervalMs: 60_000, // flushed by the test
    });
    assert.equal(await collector.ready, undefined);
    // The listeners are up once the server's namespace lists them (ss), not before.
    for (let i = 0; i < 50 && !/:80\b/.test(inNs(NS.server, ['ss', '-Hltn']).out); i++) await sleep(50);
    for (let i = 0; i < 50 && !/:53\b/.test(inNs(NS.server, ['ss', '-Hlun']).out); i++) await sleep(50);
  });

  after(async () => {
    await collector?.stop();
    for (const ch of children) if (ch.pid !== undefined && ch.exitCode === null) ch.kill('SIGTERM');
    await sleep(100);
    for (const ns of Object.values(NS)) run(['netns', 'del', ns]);
  });

  it('TCP allowed and denied, UDP and ICMP: one record per deciding direction each, the engine\'s hits, counters both ways', async () => {
    const socat = findProgram('socat')!;
    const tcp = inNs(NS.client, [socat, '-t3', '-T3', '-', 'TCP:10.9.2.2:80,connect-timeout=3'], 'hi\n');
    assert.match(tcp.out, /pong/, `tcp: exit ${tcp.code}: ${tcp.err}`);
    const denied = inNs(NS.client, [socat, '-T1', '-', 'TCP:10.9.2.2:81,connect-timeout=1'], '');
    assert.notEqual(denied.code, 0);
    // A loaded machine can lose the forked UDP responder's answer: up to three exchanges, each from
    // its own source port (its own conntrack entry), the first answered one is checked below.
    let udpPort = 0;
    for (const port of [40123, 40124, 40125]) {
      const udp = inNs(NS.client, [socat, '-t3', '-T3', '-', `UDP:10.9.2.2:53,sourceport=${port}`], 'q\n');
      if (/pong/.test(udp.out)) {
        udpPort = port;
        break;
      }
    }
    assert.notEqual(udpPort, 0, 'a UDP exchange was answered');
    const ping = inNs(NS.client, [findProgram('ping')!, '-c', '2', '-i', '0.2', '-W', '1', '10.9.2.2']);
    assert.equal(ping.code, 0, ping.out + ping.err);
    await sleep(400);
    await collector.flush();

    const of = (protocol: string, port: number | null): FlowRecord[] =>
      records.filter((r) => r.protocol === protocol && r.port === port && (protocol !== 'udp' || r.srcPort === udpPort));
    for (const [protocol, port, action] of [['tcp', 80, 'allow'], ['tcp', 81, 'deny'], ['udp', 53, 'allow'], ['icmp', null, 'allow']] as const) {
      const rs = of(protocol, port);
      const what = `${protocol} ${port}`;
      assert.deepEqual(rs.map((r) => r.reporter).sort(), ['dst', 'src'], `${what}: egress and ingress, once each`);
      for (const r of rs) {
        assert.equal(r.mismatch, false, `${what}: ${JSON.stringify(r.policies.enforced)} vs ${JSON.stringify(r.engine)}`);
        assert.equal(r.connections, 1, what);
        assert.equal(r.source.name, 'client');
        assert.equal(r.destination.name, 'server');
      }
      const ingress = rs.find((r) => r.reporter === 'dst')!;
      assert.equal(ingress.action, action, what);
      assert.equal(ingress.policies.enforced.at(-1)?.name, 'server-in', what);
      if (action === 'allow') assert.ok(ingress.packetsIn > 0 && ingress.packetsOut > 0, `${what}: both ways (${ingress.packetsIn}/${ingress.packetsOut})`);
    }
    assert.equal(of('tcp', 81).find((r) => r.reporter === 'dst')?.policies.enforced.at(-1)?.ruleIndex, 0);
    assert.equal(of('udp', 53)[0]?.srcPort, udpPort);
    // Two echo requests of one ping are one conntrack entry: one connection, both packets counted.
    assert.equal(of('icmp', null).find((r) => r.reporter === 'src')?.packetsOut, 2);
    assert.equal(collector.stats().badLines, 0);
  });

  it('ulogd killed: the collector starts it again and records resume', async () => {
    const before = new Set(collector.pids());
    const ulogd = collector.pids().find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ulogd'));
    assert.ok(ulogd !== undefined);
    process.kill(ulogd, 'SIGKILL');
    for (let i = 0; i < 60 && collector.stats().restarts === 0; i++) await sleep(50);
    assert.equal(collector.stats().restarts, 1);
    // Bound again (a new process in the namespace's nfnetlink_log table) before the next packet.
    for (let i = 0; i < 60 && !/^\s*1\s/m.test(inNs(NS.node, ['cat', '/proc/net/netfilter/nfnetlink_log']).out); i++) await sleep(50);
    assert.ok(collector.pids().some((p) => !before.has(p)), 'a new ulogd');
    const n = records.length;
    const denied = inNs(NS.client, [findProgram('socat')!, '-T1', '-', 'TCP:10.9.2.2:81,connect-timeout=1'], '');
    assert.notEqual(denied.code, 0);
    await sleep(400);
    await collector.flush();
    assert.ok(records.slice(n).some((r) => r.port === 81 && r.action === 'deny' && r.reporter === 'dst'), 'a record after the restart');
  });
});
