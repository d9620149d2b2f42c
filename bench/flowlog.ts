// `node bench/flowlog.ts`: the flow collector's pipeline without the kernel — ulogd JSON lines and
// conntrack event lines as the tools print them, for connections on the bench generator's
// cluster, through parse → join → attribute (+ the engine's explanation). The decision ids each
// packet carries are those the compiled ruleset records for the engine's trace (the dataplane
// tests prove the kernel records exactly these). Numbers are reported, never asserted
// (docs/performance.md, "Flow collection").
//
//   node bench/flowlog.ts [--quick] [--seed N] [--pods N] [--connections N]
import { parseArgs } from 'node:util';
import { decisionId, DECISION_PREFIX } from '../src/dataplane/index.ts';
import { buildCluster, evaluateFlow, makeFlow, PROTOCOL, SHORT_KIND } from '../src/engine/index.ts';
import type { Cluster, DirectionDecision, Endpoint, Flow, FlowRequest, TraceStep } from '../src/engine/index.ts';
import { createFlowJoiner, classifyProvenance, parseConntrackLine, parseUlogdJson, recordsOf } from '../src/flowlog/index.ts';
import type { ConntrackEvent, NflogEvent } from '../src/flowlog/index.ts';
import { parseProvenance } from '../src/dataplane/index.ts';
import { formatIp } from '../src/net/index.ts';
import { loadText } from '../src/load/index.ts';
import { generateCluster, Rng } from './generate.ts';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, seed: { type: 'string', default: '1' }, pods: { type: 'string' }, connections: { type: 'string' } },
  strict: true,
});
const quick = args.quick === true;
const seed = Number(args.seed);
const pods = Number(args.pods ?? (quick ? 600 : 5_000));
const namespaces = Math.max(8, Math.round(pods / 10));
const policies = Math.round(pods / 5);
const connections = Number(args.connections ?? (quick ? 20_000 : 100_000));

const rows: [string, string, string][] = [];
const report = (what: string, value: string, note = ''): void => void rows.push([what, value, note]);
const progress = (m: string): void => void process.stderr.write(`bench: ${m}…\n`);
const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const rate = (n: number, ms: number): string => `${int((n / ms) * 1000)} /s`;

/** Wall time and this thread's CPU time: on a shared machine the CPU figure is the steadier one. */
function timed<T>(f: () => T): { value: T; ms: number; cpuMs: number } {
  const c0 = process.threadCpuUsage();
  const t0 = performance.now();
  const value = f();
  const c = process.threadCpuUsage(c0);
  return { value, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

progress(`generating ${int(pods)} pods / ${int(namespaces)} ns / ${int(policies)} policies`);
const gen = generateCluster({ pods, namespaces, policies, seed });
const cluster: Cluster = buildCluster(loadText(gen.text, 'generated.yaml').resources).cluster;
const rng = new Rng(seed ^ 0x5eed);
const workloads = cluster.endpoints.filter((e) => e.kind === 'workload' && e.addresses.some((a) => a.family === 4));

function request(): FlowRequest {
  const src = rng.pick(workloads);
  if (rng.next() < 0.8) {
    const pool = rng.next() < 0.5 ? workloads.filter((w) => w.namespace === src.namespace) : workloads;
    const dst: Endpoint = rng.pick(pool.length > 1 ? pool : workloads);
    const p = dst.ports.length === 0 ? { port: 80, protocol: PROTOCOL.TCP } : rng.pick(dst.ports);
    return { from: src.id, to: dst.id, port: p.port, protocol: p.protocol === PROTOCOL.SCTP ? PROTOCOL.TCP : p.protocol };
  }
  return { from: src.id, to: rng.pick(gen.externalAddresses), port: 443, protocol: 'TCP' };
}

// --- the kernel's words for an engine trace (as test/dataplane/check.ts proves them equal)
const table = new Map<string, string>();
function pidOf(step: TraceStep): string | undefined {
  if (step.kind === null || step.policy === null) return undefined;
  if (step.kind === 'Profile') return `pro/${step.policy}`;
  return step.namespace === null ? `${SHORT_KIND[step.kind]}/${step.policy}` : `${SHORT_KIND[step.kind]}/${step.namespace}/${step.policy}`;
}
function idsOf(d: DirectionDecision | null, dir: 'ingress' | 'egress', ep: string): string[] {
  const out: string[] = [];
  for (const step of d?.trace ?? []) {
    if (step.staged) continue;
    let text: string | undefined;
    const pid = pidOf(step);
    if (step.reason === 'end-of-tier') text = step.action === 'deny' ? `${pid} ${dir} end-of-tier deny tier=${step.tier}` : undefined;
    else if (step.action === 'allow' || step.action === 'deny' || step.action === 'pass') text = pid === undefined ? `ep/${ep} ${dir} no-profile deny` : `${pid} ${dir} ${step.rule} ${step.action}`;
    if (text === undefined) continue;
    const id = decisionId(text);
    table.set(id, text);
    out.push(id);
  }
  return out;
}

progress(`making ${int(connections)} connections' kernel lines`);
const conv: Flow[] = [];
while (conv.length < 2000) {
  const f = makeFlow(cluster, request());
  if (f.ok) conv.push(f.value);
}
const lines: string[] = [];
const t0s = 1_796_000_000;
let allowedConns = 0;
for (let i = 0; i < connections; i++) {
  const base = conv[Math.floor(rng.next() * conv.length)]!;
  const sport = 20000 + (i % 40000);
  const f: Flow = { ...base, srcPort: sport };
  const d = evaluateFlow(cluster, f);
  const src = f.src.kind === 'domain' ? '0.0.0.0' : formatIp(f.src.address!);
  const dst = f.dst.kind === 'domain' ? '0.0.0.0' : formatIp(f.dst.address!);
  const sec = t0s + Math.floor(i / 1000);
  const usec = (i % 1000) * 1000;
  const ids = [...idsOf(d.egress, 'egress', f.src.kind === 'endpoint' ? f.src.endpoint.id : ''), ...(d.verdict === 'deny' && d.decidedBy.direction === 'egress' ? [] : idsOf(d.ingress, 'ingress', f.dst.kind === 'endpoint' ? f.dst.endpoint.id : ''))];
  const proto = f.protocol === PROTOCOL.UDP ? 17 : 6;
  for (const id of ids) {
    lines.push(
      `{"timestamp": "2026-12-02T02:34:52.961081", "dvc": "Netfilter", "raw.pktlen": 60, "raw.pktcount": 1, "oob.prefix": "${DECISION_PREFIX}${id}", "oob.time.sec": ${sec}, "oob.time.usec": ${usec}, "oob.mark": 0, "oob.ifindex_in": 2, "oob.ifindex_out": 3, "oob.hook": 2, "raw.mac_len": 14, "oob.family": 2, "oob.protocol": 2048, "raw.label": 0, "raw.type": 1, "raw.mac.addrlen": 6, "ip.protocol": ${proto}, "ip.tos": 0, "ip.ttl": 63, "ip.totlen": 60, "ip.ihl": 5, "ip.csum": 34772, "ip.id": 40146, "ip.fragoff": 16384, "src_port": ${sport}, "dest_port": ${f.port}, "oob.in": "stw1", "oob.out": "stw2", "src_ip": "${src}", "dest_ip": "${dst}"}`,
    );
  }
  if (d.verdict === 'allow') {
    allowedConns++;
    const tuple = `src=${src} dst=${dst} sport=${sport} dport=${f.port}`;
    const back = `src=${dst} dst=${src} sport=${f.port} dport=${sport}`;
    const name = proto === 6 ? 'tcp      6 120 SYN_SENT' : 'udp      17 30';
    lines.push(`[${sec}.${String(usec).padStart(6, '0')}]\t    [NEW] ipv4     2 ${name} ${tuple} [UNREPLIED] ${back} mark=0 id=${i + 1}`);
    lines.push(`[${sec}.${String(usec + 500).padStart(6, '0')}]\t[DESTROY] ipv4     2 ${proto === 6 ? 'tcp      6' : 'udp      17'} ${tuple} packets=6 bytes=322 ${back} packets=4 bytes=219 [ASSURED] mark=0 delta-time=1 id=${i + 1}`);
  }
}
report('input', `${int(connections)} connections, ${int(lines.length)} lines`, `${int(pods)} pods; ${((100 * allowedConns) / connections).toFixed(1)}% allowed; ${int(table.size)} decision ids; ${(lines.length / connections).toFixed(2)} lines per connection`);

const classify = (id: string): ReturnType<typeof classifyProvenance> => {
  const t = table.get(id);
  return t === undefined ? undefined : classifyProvenance(parseProvenance(t));
};

function parseAll(): { nflog: NflogEvent[]; ct: ConntrackEvent[] } {
  const nflog: NflogEvent[] = [];
  const ct: ConntrackEvent[] = [];
  for (const l of lines) {
    if (l.charCodeAt(0) === 123) {
      const r = parseUlogdJson(l);
      if (r.ok && r.value !== undefined) nflog.push(r.value);
    } else {
      const r = parseConntrackLine(l);
      if (r.ok) ct.push(r.value);
    }
  }
  return { nflog, ct };
}

function pipeline(withEngine: boolean, withRecords: boolean): number {
  const joiner = createFlowJoiner({ classify, idleMs: 0, graceMs: 0 });
  let records = 0;
  let since = 0;
  const flushEvery = 5000;
  let n = 0;
  for (const l of lines) {
    if (l.charCodeAt(0) === 123) {
      const r = parseUlogdJson(l);
      if (r.ok && r.value !== undefined) joiner.addNflog(r.value);
    } else {
      const r = parseConntrackLine(l);
      if (r.ok) joiner.addConntrack(r.value);
    }
    if (++n % flushEvery === 0) {
      const obs = joiner.flush(Number.MAX_SAFE_INTEGER);
      if (withRecords) records += recordsOf(obs, { node: 'n', table, cluster: withEngine ? cluster : undefined, startMs: since, endMs: since + 1 }).length;
      else records += obs.length;
      since++;
    }
  }
  const obs = joiner.flush(Number.MAX_SAFE_INTEGER);
  records += withRecords ? recordsOf(obs, { node: 'n', table, cluster: withEngine ? cluster : undefined, startMs: since, endMs: since + 1 }).length : obs.length;
  return records;
}

progress('warm-up');
pipeline(true, true);
progress('parse');
const parsed = timed(parseAll);
report('parse (ulogd JSON + conntrack text)', rate(lines.length, parsed.cpuMs), `lines/s by CPU time (wall ${rate(lines.length, parsed.ms)}); ${int(parsed.value.nflog.length)} nflog + ${int(parsed.value.ct.length)} conntrack events`);
progress('parse + join');
const joined = timed(() => pipeline(false, false));
report('parse + join', rate(connections, joined.cpuMs), `connections/s by CPU time (wall ${rate(connections, joined.ms)}); ${int(joined.value)} observations`);
progress('parse + join + attribute');
const attributed = timed(() => pipeline(false, true));
report('parse + join + attribute (records, no engine)', rate(attributed.value, attributed.cpuMs), `records/s by CPU time (wall ${rate(attributed.value, attributed.ms)}); ${int(attributed.value)} records (one per deciding direction)`);
progress('parse + join + attribute + engine');
const full = timed(() => pipeline(true, true));
report(
  '**parse + join + attribute + engine explanation**',
  `**${rate(full.value, full.cpuMs)}**`,
  `records/s by CPU time (wall ${rate(full.value, full.ms)}); the engine's evaluateFlow per connection is ${((100 * (full.cpuMs - attributed.cpuMs)) / full.cpuMs).toFixed(0)}% of the CPU time`,
);

process.stdout.write(`\n| stage | throughput | notes |\n|---|---|---|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`);
