// Agent benchmark (root only): how long a policy change made through the API takes to change the
// kernel's verdict, with real agents (`strata agent` processes) and real packets.
//
//   node bench/agent.ts                 2 nodes, 20 rounds; markdown report
//   node bench/agent.ts --nodes 50      one agent per node, 50 nodes (each its own network namespace)
//   node bench/agent.ts --rounds 5 --json
//
// Set-up: an in-process API server on SQLite (127.0.0.1, random port); the workshop's step 5
// (testdata/workshop: 25 workloads, 4 tiers) registered through the API by `upAgentLab` (what
// `strata lab up --server` runs), with one agent per node. Each round applies a GlobalNetworkPolicy
// that denies hipstershop/frontend → productcatalogservice:3550, then changes its selector to
// match nothing (the flow is allowed again). Measured from
// the moment the request is sent:
//   programmed  the catalog node's agent has committed the nft transaction (its run file says so)
//   all agents  every agent is in sync at the change's revision (nodes the change does not touch
//               compile, diff, find nothing to send)
//   kernel      the first probe that sees the new verdict: deny → a probe whose SYN goes unanswered
//               for 30 ms (started after the change), allow → a connection that completes
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentRunDir, agentRunFilePath } from '../src/agent/index.ts';
import { probe } from '../src/lab/index.ts';
import type { Lab } from '../src/lab/index.ts';
import { agentNodes, downAgentLab, sessionUnavailableReason, upAgentLab } from '../src/lab-session/index.ts';
import { loadPaths } from '../src/load/index.ts';
import { createStrataServer } from '../src/server/app.ts';
import { parseTokenFile } from '../src/server/authn.ts';
import { openDatastore } from '../src/store/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const NODES = flag('--nodes', 2);
const ROUNDS = flag('--rounds', 20);
const JSON_OUT = argv.includes('--json');
const LAB_ID = `ag${process.pid.toString(36)}`.slice(0, 12);
const CATALOG = 'hipstershop/productcatalogservice';
// One policy, switched between selecting the catalog and selecting nothing: each switch is an
// apply whose reply carries the revision the agents must reach.
const block = (selector: string): string => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.bench-block}
spec:
  tier: security
  order: 1
  selector: ${selector}
  types: [Ingress]
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [3550]}}]
`;

const why = sessionUnavailableReason();
if (why !== undefined) {
  process.stderr.write(`bench/agent: skipped: ${why}\n`);
  process.exit(0);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.now();

function quantiles(xs: readonly number[]): { p50: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))] ?? Number.NaN;
  return { p50: Math.round(at(0.5) * 10) / 10, p95: Math.round(at(0.95) * 10) / 10, max: Math.round((s[s.length - 1] ?? Number.NaN) * 10) / 10 };
}

function agentRevision(netns: string, node: string): number {
  try {
    return (JSON.parse(readFileSync(agentRunFilePath(agentRunDir(), netns, node), 'utf8')) as { revision: number; state: string }).revision;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'strata-bench-agent-'));
  const store = await openDatastore(`sqlite:${path.join(dir, 'strata.db')}`);
  const tokens = parseTokenFile('bench-token,admin,1,"system:masters"\n', 'tokens.csv');
  if (!tokens.ok) throw new Error('tokens');
  let server = await createStrataServer({ store, tokens: tokens.value, log: () => undefined });
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  const target = { server: url, token: 'bench-token' };
  const api = async (method: string, p: string, body?: string): Promise<{ code: number; json: { metadata?: { resourceVersion?: string } } }> => {
    const r = await fetch(`${url}${p}`, { method, headers: { authorization: 'Bearer bench-token', 'content-type': 'application/yaml' }, ...(body === undefined ? {} : { body }) });
    return { code: r.status, json: (await r.json()) as { metadata?: { resourceVersion?: string } } };
  };
  const W = path.join(ROOT, 'testdata', 'workshop');
  const loaded = await loadPaths(['cluster', 'common', 'original-apps', 'enforce'].map((p) => path.join(W, p)));
  const sources = [...loaded.sources].map(([file, text]) => ({ file, text }));
  const tUp = now();
  const up = await upAgentLab(sources, { labId: LAB_ID, target, nodes: NODES, flows: [{ from: 'hipstershop/frontend', to: CATALOG, port: 3550, protocol: 'TCP', line: 1 }] as never, syncTimeoutMs: 300_000 });
  if (!up.ok) throw new Error(JSON.stringify(up.diagnostics));
  const upMs = now() - tUp;
  const lab: Lab = up.value.session.lab;
  try {
    const nodes = agentNodes(lab);
    const catalogNode = nodes.find((n) => n.name === up.value.session.record.placement[CATALOG])!;
    const flow = { from: 'hipstershop/frontend', to: CATALOG, port: 3550, protocol: 'TCP' as const };
    const samples = { deny: { programmed: [] as number[], all: [] as number[], kernel: [] as number[] }, allow: { programmed: [] as number[], all: [] as number[], kernel: [] as number[] } };

    const round = async (kind: 'deny' | 'allow'): Promise<void> => {
      const t0 = now();
      const r = await api('POST', '/apis/strata/v1/apply', block(kind === 'deny' ? 'app == "productcatalogservice"' : 'app == "no-such-app"'));
      if (r.code !== 200) throw new Error(`api ${r.code}`);
      const rv = Number(r.json.metadata?.resourceVersion ?? 0);
      let programmed = Number.NaN;
      let all = Number.NaN;
      let kernel = Number.NaN;
      const deadline = t0 + 30_000;
      const watchFiles = (async () => {
        while (now() < deadline && (Number.isNaN(programmed) || Number.isNaN(all))) {
          if (Number.isNaN(programmed) && agentRevision(catalogNode.netns, catalogNode.name) >= rv) programmed = now() - t0;
          if (Number.isNaN(all) && nodes.every((n) => agentRevision(n.netns, n.name) >= rv)) all = now() - t0;
          await sleep(1);
        }
      })();
      while (now() < deadline && Number.isNaN(kernel)) {
        const start = now();
        const [res] = await probe(lab, [flow], { timeoutMs: 30 });
        if (res!.observed === kind) kernel = (kind === 'deny' ? start : now()) - t0;
      }
      await watchFiles;
      samples[kind].programmed.push(programmed);
      samples[kind].all.push(all);
      samples[kind].kernel.push(kernel);
      await sleep(50);
    };

    // Warm-up: one round each, not counted.
    await round('deny');
    await round('allow');
    for (const k of Object.values(samples)) for (const a of Object.values(k)) a.length = 0;
    for (let i = 0; i < ROUNDS; i++) {
      await round('deny');
      await round('allow');
    }
    // Re-sync after a server restart: stop the server (agents keep enforcing and go stale), start a
    // new one on the same datastore and port, and time from its listening to every agent healthy
    // again, and to a change applied right then reaching every agent and the kernel.
    await server.close();
    const staleSince = now();
    while (now() - staleSince < 15_000) {
      const health = await Promise.all(nodes.map(async (n) => (await fetch(`http://${n.listen!}/healthz`)).status));
      if (health.every((c) => c === 503)) break;
      await sleep(50);
    }
    server = await createStrataServer({ store, tokens: tokens.value, log: () => undefined });
    await server.app.listen({ host: '127.0.0.1', port: Number(new URL(url).port) });
    const tBack = now();
    let healthyMs = Number.NaN;
    const healthy = (async () => {
      while (now() - tBack < 60_000) {
        const health = await Promise.all(nodes.map(async (n) => (await fetch(`http://${n.listen!}/healthz`)).status));
        if (health.every((c) => c === 200)) return void (healthyMs = now() - tBack);
        await sleep(5);
      }
    })();
    await round('deny');
    await healthy;
    const resync = { healthyMs: Math.round(healthyMs), programmedMs: samples.deny.programmed.pop()!, allAgentsMs: samples.deny.all.pop()!, kernelMs: samples.deny.kernel.pop()! };
    await round('allow');
    for (const a of Object.values(samples.allow)) a.pop();
    const metrics = await (await fetch(`http://${catalogNode.listen!}/metrics`)).text();
    const metric = (name: string): number => Number(new RegExp(`^${name}\\{node="[^"]+"\\} ([0-9.e+-]+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
    const applyMeanMs = Math.round((metric('strata_agent_apply_duration_seconds_sum') / metric('strata_agent_apply_duration_seconds_count')) * 10000) / 10;
    const report = {
      applyMeanMs,
      nodes: NODES,
      workloads: lab.plan.workloads.length,
      rounds: ROUNDS,
      upMs: Math.round(upMs),
      resync,
      deny: { programmed: quantiles(samples.deny.programmed), allAgents: quantiles(samples.deny.all), kernel: quantiles(samples.deny.kernel) },
      allow: { programmed: quantiles(samples.allow.programmed), allAgents: quantiles(samples.allow.all), kernel: quantiles(samples.allow.kernel) },
    };
    if (JSON_OUT) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      const row = (name: string, q: { p50: number; p95: number; max: number }): string => `| ${name} | ${q.p50} | ${q.p95} | ${q.max} |`;
      process.stdout.write(
        [
          `Agents: ${NODES} nodes (one \`strata agent\` process each), ${report.workloads} workloads (workshop step 5), ${ROUNDS} rounds; lab up with agents in sync in ${report.upMs} ms.`,
          '',
          '| from the API request to … (ms) | p50 | p95 | max |',
          '|---|---|---|---|',
          row('deny: the catalog node\'s agent has committed', report.deny.programmed),
          row(`deny: all ${NODES} agents in sync`, report.deny.allAgents),
          row('deny: the kernel drops the flow (probe)', report.deny.kernel),
          row('allow: the catalog node\'s agent has committed', report.allow.programmed),
          row(`allow: all ${NODES} agents in sync`, report.allow.allAgents),
          row('allow: the kernel passes the flow (probe)', report.allow.kernel),
          '',
          `Re-sync after a server restart (the agents stale, a new server on the same datastore): every agent healthy ${report.resync.healthyMs} ms after it listens; a change applied at that moment: the catalog node committed at ${report.resync.programmedMs} ms, all ${NODES} agents in sync at ${report.resync.allAgentsMs} ms, the kernel dropping the flow at ${report.resync.kernelMs} ms.`,
          '',
          `The catalog node's agent, by its own histogram (strata_agent_apply_duration_seconds: compile + diff + \`nft -f\`): mean ${report.applyMeanMs} ms per programmed batch.`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    await downAgentLab(LAB_ID);
    await server.close();
    await store.close();
  }
}

await main();
