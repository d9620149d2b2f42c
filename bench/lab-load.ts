// The load generator of the dataplane benchmark (bench/lab.ts): runs inside a lab workload's
// network namespace (`ip netns exec NS node bench/lab-load.ts HOST PORT SECONDS CONCURRENCY`),
// opens new TCP connections to HOST:PORT in CONCURRENCY loops for SECONDS — connect, send a
// line, wait for the echo, close — and prints one JSON line: connections per second and the
// latency of the handshake (what the node's policy decides) and of the whole exchange.
import net from 'node:net';

const [host = '', portText = '', secondsText = '3', concurrencyText = '16'] = process.argv.slice(2);
const port = Number(portText);
const seconds = Number(secondsText);
const concurrency = Number(concurrencyText);

const connectMs: number[] = [];
const totalMs: number[] = [];
let errors = 0;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let t1 = 0;
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    const done = (ok: boolean): void => {
      sock.destroy();
      if (ok) {
        connectMs.push(t1 - t0);
        totalMs.push(performance.now() - t0);
      } else errors++;
      resolve();
    };
    const timer = setTimeout(() => done(false), 2000);
    sock.on('connect', () => {
      t1 = performance.now();
      sock.write('x\n');
    });
    sock.on('data', (b: Buffer) => {
      if (b.includes(10)) {
        clearTimeout(timer);
        done(true);
      }
    });
    sock.on('error', () => {
      clearTimeout(timer);
      done(false);
    });
  });
}

const start = performance.now();
const deadline = start + seconds * 1000;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) await once();
  }),
);
const elapsed = (performance.now() - start) / 1000;
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
process.stdout.write(
  `${JSON.stringify({
    connections: totalMs.length,
    errors,
    seconds: elapsed,
    rate: totalMs.length / elapsed,
    connectP50: pct(connectMs, 50),
    connectP99: pct(connectMs, 99),
    totalP50: pct(totalMs, 50),
    totalP99: pct(totalMs, 99),
  })}\n`,
);
