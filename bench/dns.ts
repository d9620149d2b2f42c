// `node bench/dns.ts`: what the DNS proxy adds to a lookup. Sequential A queries on 127.0.0.1
// against the lab's authoritative server: directly, through the proxy for a name no set binds
// (forward + validate only), and — as root — through the proxy for a bound name with the real nft
// writer (one `nft -f -` transaction per answer, in a network namespace of its own, `stl-dnb…`).
// Reported as medians and ratios to the direct lookup, never asserted.
//
//   node bench/dns.ts [--queries N]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import dnsPacket from 'dns-packet';
import { createNftSetWriter, startDnsProxy, startDnsServer } from '../src/dns/index.ts';
import type { DomainBinding, SetWriter } from '../src/dns/index.ts';
import { exchangeUdp } from '../src/dns/wire.ts';
import type { Endpoint } from '../src/dns/wire.ts';
import { labUnavailableReason } from '../src/lab/index.ts';

const { values: args } = parseArgs({ options: { queries: { type: 'string', default: '300' } }, strict: true });
const N = Math.max(10, Number(args.queries));
const LOCAL = '127.0.0.1';
const NS = `stl-dnb${process.pid.toString(36)}-bench`;
const SET = 'd4-bench-00000000';

async function medianMs(at: Endpoint, name: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    const q = dnsPacket.encode({ type: 'query', id: i % 65_536, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
    const t = performance.now();
    await exchangeUdp(at, q, 5000);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

// Distinct addresses, so every bound answer is a real transaction (no "already held" shortcut).
const records = Array.from({ length: N }, (_, i) => ({ name: `h${i}.bench.test`, type: 'A' as const, data: `203.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, ttl: 60 }));
records.push({ name: 'free.bench.test', type: 'A', data: '198.51.100.1', ttl: 60 });
const server = await startDnsServer({ address: LOCAL, port: 0 }, records);
const upstream = { address: LOCAL, port: server.port };
const bindings: DomainBinding[] = [{ set: SET, family: 4, patterns: ['h*.bench.test', '*.bench.test'] }];
const none: SetWriter = { add: async () => undefined };

const direct = await medianMs(upstream, 'free.bench.test');
const forward = await startDnsProxy({ listen: { address: LOCAL, port: 0 }, upstreams: [upstream], bindings: () => [], writer: none });
const forwarded = await medianMs({ address: LOCAL, port: forward.port }, 'free.bench.test');
await forward.close();
const rows: [string, number][] = [
  ['direct to the server', direct],
  ['through the proxy, name not bound', forwarded],
];

const why = labUnavailableReason(['ip', 'nft']);
if (why === undefined) {
  spawnSync('ip', ['netns', 'add', NS]);
  try {
    spawnSync('ip', ['netns', 'exec', NS, 'nft', '-f', '-'], { input: `table inet strata {\n\tset ${SET} {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t}\n}\n` });
    const writer = createNftSetWriter({ table: () => 'strata', prefix: ['ip', 'netns', 'exec', NS] });
    const learning = await startDnsProxy({ listen: { address: LOCAL, port: 0 }, upstreams: [upstream], bindings: () => bindings, writer });
    let i = 0;
    const times: number[] = [];
    for (; i < N; i++) {
      const q = dnsPacket.encode({ type: 'query', id: i, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: `h${i}.bench.test` }] });
      const t = performance.now();
      await exchangeUdp({ address: LOCAL, port: learning.port }, q, 5000);
      times.push(performance.now() - t);
    }
    await learning.close();
    times.sort((a, b) => a - b);
    rows.push(['through the proxy, learned into nft (ip netns exec nft -f -)', times[Math.floor(times.length / 2)]!]);
  } finally {
    spawnSync('ip', ['netns', 'del', NS]);
  }
} else {
  rows.push([`learned into nft: skipped (${why})`, Number.NaN]);
}
await server.close();

process.stdout.write(`bench/dns: ${N} sequential A lookups each, median latency\n`);
for (const [what, ms] of rows) {
  process.stdout.write(`  ${what.padEnd(62)} ${Number.isNaN(ms) ? '-' : `${ms.toFixed(2)} ms`}${Number.isNaN(ms) ? '' : `  (${(ms / direct).toFixed(1)}× direct)`}\n`);
}
