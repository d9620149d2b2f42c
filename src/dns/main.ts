// The DNS processes as programs: `node src/dns/main.ts CONFIG.json` runs the proxy (mode
// `proxy`) or the authoritative server (mode `server`) described by the file. Node cannot
// `setns`, so whoever needs one inside a network namespace starts this with `ip netns exec NS`
// (src/lab/island.ts does, for node namespaces and the outside host). Readiness: one JSON line
// `{ready, pid, listening, errors}` on file descriptor 3 (the lab agents' convention), then the
// descriptor is closed; logs go to stderr, one line per query.
import { closeSync, readFileSync, writeSync } from 'node:fs';
import { dnsProcessConfigSchema } from './config.ts';
import { watchBindingsFile } from './config.ts';
import { createNftSetWriter } from './nft-writer.ts';
import { startDnsProxy } from './proxy.ts';
import { startDnsServer } from './server.ts';

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
}

function ready(r: { ready: boolean; pid: number; listening: number; errors: readonly string[] }): void {
  try {
    writeSync(3, `${JSON.stringify(r)}\n`);
    closeSync(3);
  } catch {
    // started by hand, without a readiness pipe
  }
}

const path = process.argv[2] ?? '';
let close: (() => Promise<void>) | undefined;
try {
  const config = dnsProcessConfigSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  if (config.mode === 'proxy') {
    const watched = watchBindingsFile(config.bindingsFile, (why) => log(`bindings: ${why}`));
    const proxy = await startDnsProxy({
      listen: config.listen,
      upstreams: config.upstreams,
      bindings: () => watched.bindings(),
      writer: createNftSetWriter({ table: () => watched.table(), nft: config.nft }),
      ttl: { minSeconds: config.minTtlSeconds, maxSeconds: config.maxTtlSeconds },
      onEvent: (e) => {
        if (e.kind === 'answered') {
          const learned = e.learned.map((l) => `${l.address}→${l.set} (${l.name}, ${l.ttl}s)`).join(', ');
          log(`${e.transport} ${e.type} ${e.name}: chain ${e.chain.join(' → ')}; ${learned === '' ? 'nothing learned' : `learned ${learned}`}`);
        } else if (e.kind === 'failed') log(`${e.transport} ${e.name}: SERVFAIL: ${e.reason}`);
        else log(`${e.transport} malformed query: ${e.reason}`);
      },
    });
    close = proxy.close;
    log(`dns proxy pid ${process.pid} on ${proxy.address}:${proxy.port}, upstreams ${config.upstreams.map((u) => `${u.address}:${u.port}`).join(', ')}`);
  } else {
    const server = await startDnsServer(config.listen, config.records);
    close = server.close;
    log(`dns server pid ${process.pid} on ${server.address}:${server.port}: ${config.records.length} records`);
  }
  ready({ ready: true, pid: process.pid, listening: 1, errors: [] });
} catch (e) {
  const why = e instanceof Error ? e.message : String(e);
  log(`cannot start: ${why}`);
  ready({ ready: false, pid: process.pid, listening: 0, errors: [why] });
  process.exit(1);
}

const stop = (): void => {
  void (close?.() ?? Promise.resolve()).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// One bad query must not take the node's resolver down with it.
process.on('uncaughtException', (e) => log(`uncaught: ${e.stack ?? e.message}`));
process.on('unhandledRejection', (e) => log(`unhandled: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
