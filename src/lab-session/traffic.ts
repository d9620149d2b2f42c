// Traffic for a running lab: real connections (TCP, UDP, ICMP; SCTP where the kernel has it)
// between workloads and externals at a steady rate, so the flow collectors and counters have
// something to show. Each connection is one probe by the source's agent (lab/agent.ts): a TCP
// connect, a line each way and a close; a UDP datagram and its answer; an echo request. Flows
// are taken round-robin from the list; every tick starts its share, and a bounded number are in
// flight at once (a dropped packet holds its probe until the timeout).
import type { SessionFlow } from './flows.ts';
import { probeSession } from './probe.ts';
import type { SessionProbeResult } from './probe.ts';
import type { Session } from './session.ts';

export interface TrafficOptions {
  /** Connections started per second (default 10). */
  readonly ratePerSec?: number;
  /** How long (default 10 s). */
  readonly durationMs?: number;
  /** Per-connection timeout (default 300 ms: a dropped one holds a slot this long). */
  readonly timeoutMs?: number;
  /** Connections in flight at most (default 256). */
  readonly maxInFlight?: number;
  readonly onProgress?: (p: TrafficProgress) => void;
}

export interface TrafficProgress {
  readonly started: number;
  readonly done: number;
  readonly allowed: number;
  readonly denied: number;
  readonly errors: number;
  readonly skipped: number;
  /** Ticks whose connections could not all start (in-flight limit reached). */
  readonly behind: number;
}

export interface TrafficSummary extends TrafficProgress {
  readonly ms: number;
  /** Connections started per second, measured. */
  readonly rate: number;
  /** Kernel and engine disagreed on these (flows the engine was asked about). */
  readonly disagreements: readonly SessionProbeResult[];
}

const TICK_MS = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runTraffic(session: Session, flows: readonly SessionFlow[], opts: TrafficOptions = {}): Promise<TrafficSummary> {
  const rate = opts.ratePerSec ?? 10;
  const duration = opts.durationMs ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 300;
  const maxInFlight = opts.maxInFlight ?? 256;
  const t0 = performance.now();
  const p = { started: 0, done: 0, allowed: 0, denied: 0, errors: 0, skipped: 0, behind: 0 };
  const disagreements: SessionProbeResult[] = [];
  const pending = new Set<Promise<void>>();
  if (flows.length === 0 || rate <= 0) return { ...p, ms: 0, rate: 0, disagreements };
  let next = 0;
  let owed = 0;
  for (let tick = 0; performance.now() - t0 < duration; tick++) {
    owed += (rate * TICK_MS) / 1000;
    let n = Math.floor(owed);
    owed -= n;
    if (pending.size + n > maxInFlight) {
      p.behind++;
      n = Math.max(0, maxInFlight - pending.size);
    }
    if (n > 0) {
      const batch: SessionFlow[] = [];
      for (let i = 0; i < n; i++) batch.push(flows[next++ % flows.length]!);
      p.started += n;
      // A second look at a suspected disagreement would double the traffic: one look, short timeout.
      const job = probeSession(session, batch, { timeoutMs, retryTimeoutMs: timeoutMs, concurrency: n }).then((results) => {
        for (const r of results) {
          p.done++;
          if (r.observed === 'allow') p.allowed++;
          else if (r.observed === 'deny') p.denied++;
          else if (r.observed === 'skipped') p.skipped++;
          else p.errors++;
          if (r.agree === false && r.invalid !== true) disagreements.push(r);
        }
        opts.onProgress?.({ ...p });
      });
      pending.add(job);
      void job.finally(() => pending.delete(job));
    }
    const wait = t0 + (tick + 1) * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
  }
  await Promise.all(pending);
  const ms = Math.round(performance.now() - t0);
  return { ...p, ms, rate: ms > 0 ? Math.round((p.started * 1000) / ms) : 0, disagreements };
}

/** `10/s`, `10`, `600/m` → connections per second. */
export function parseRate(text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)(?:\/(s|m|min))?$/.exec(text.trim());
  if (m === null) return `--rate "${text}": expected N/s or N/m (e.g. 20/s)`;
  const n = Number(m[1]) / (m[2] === undefined || m[2] === 's' ? 1 : 60);
  return n > 0 && n <= 10_000 ? n : `--rate "${text}": between 1/m and 10000/s`;
}

/** `30s`, `2m`, `500ms`, `1h` → milliseconds. */
export function parseDuration(text: string, flag: string): number | string {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) return `${flag} "${text}": expected a duration such as 500ms, 30s, 5m or 1h`;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000;
  return Number(m[1]) * unit;
}
