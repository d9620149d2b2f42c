// Builds and tears down the island: network namespaces wired by veth pairs, never connected to
// the root namespace, with one agent (real listeners, probes) per workload and one for the
// outside host. What will be created is recorded before it is created, so `downLab` removes
// exactly that, even after a crash.
//
//   outside ── fabric ──┬── node A ──┬── workload a1 (eth0)
//                       │            └── workload a2
//                       └── node B ──── workload b1
//
// Build order: plan → state file → namespaces → sysctls (routers) → fabric links → node links
// → workload/outside addresses → agents → state "ready". Each namespace is configured with one
// `ip -n NS -batch -`; independent namespaces are configured in parallel.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { closeSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail, ok } from '../diagnostics/index.ts';
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import type { AgentConfig, AgentListener, AgentReady } from './agent-protocol.ts';
// The DNS processes' program and config shape only (src/dns imports nothing of the lab).
import type { DnsProcessConfig } from '../dns/config.ts';
import { DNS_MAIN } from '../dns/paths.ts';
import {
  addNamespaces,
  deleteNamespaces,
  execInNamespace,
  namespaceExists,
  NETNS_DIR,
  netnsExecArgv,
  pidsInNamespaces,
  runIpBatch,
} from './netns.ts';
import type { CommandOutput } from './netns.ts';
import { mapPool } from './pool.ts';
import { endProcesses, isSameProcess, processCommandLine, processStartTime } from './processes.ts';
import { readState, removeState, runDirOf, stateDirOf, statePathOf, writeState } from './state.ts';
import type { AgentRecord, LabProcessRecord, LabState, SctpSupport } from './state.ts';
import { detectSctp, findProgram, labUnavailableReason } from './system.ts';
import {
  DNS_PORT,
  DNS_RESOLVER_V4,
  DNS_UPSTREAM_V4,
  DOWNSTREAM_LL_V6,
  FABRIC_TO_OUTSIDE,
  FABRIC_V4,
  isValidLabId,
  labNamespacePrefix,
  namespacesOf,
  NODE_UPLINK,
  OUTSIDE_TO_FABRIC,
  OUTSIDE_V4,
  planLab,
  shortHash,
  UPSTREAM_LL_V6,
  WORKLOAD_GATEWAY_V4,
  WORKLOAD_IFACE,
} from './topology.ts';
import type { LabPlan, LabSpec, PlannedNode, PlannedWorkload } from './topology.ts';

/** A built lab: plain data, valid in any process (see `attachLab`). */
export interface Lab {
  readonly labId: string;
  readonly plan: LabPlan;
  readonly stateDir: string;
  readonly agents: readonly AgentRecord[];
  readonly sctp: SctpSupport;
}

export interface UpTimings {
  readonly namespacesMs: number;
  readonly linksMs: number;
  readonly agentsMs: number;
  readonly totalMs: number;
}

export interface UpOptions {
  /** Default: `STRATA_LAB_STATE_DIR` or /run/strata-lab. */
  readonly stateDir?: string;
  /** Leave a half-built lab in place for inspection (default false: roll back). */
  readonly keepOnFailure?: boolean;
  /** How long one agent may take to start listening (default 30 s). */
  readonly agentReadyTimeoutMs?: number;
  /** Called as each build phase starts. */
  readonly onProgress?: (phase: string) => void;
}

export interface DownOptions {
  readonly stateDir?: string;
}

export interface DownReport {
  readonly labId: string;
  /** False when there was no state file: nothing to do. */
  readonly existed: boolean;
  readonly namespacesRemoved: readonly string[];
  readonly processesEnded: readonly number[];
  readonly ms: number;
}

const AGENT_PATH = fileURLToPath(new URL('./agent.ts', import.meta.url));
const DNS_MAIN_PATH = fileURLToPath(DNS_MAIN);
/** TTL of the outside host's records: short, so a lab shows a learned address expiring. */
export const DNS_TTL_SECONDS = 3;
const OUTSIDE_OWNER = 'outside';
// Many small namespaces are configured at once; `ip` is cheap, node agents are not.
const IP_PARALLEL = 16;
const AGENT_PARALLEL = 12;

function diag(code: string, message: string, help?: string): Diagnostic {
  return help === undefined ? { code, severity: 'error', message } : { code, severity: 'error', message, help };
}

function commandDiag(what: string, out: CommandOutput): Diagnostic {
  return diag('lab/command-failed', `${what} failed: ${out.stderr.trim() || `exit ${out.code}`}`);
}

// ---------------------------------------------------------------------------------------------
// What each namespace is told (pure: plan → lines)

function sysctlScript(role: 'router' | 'node' | 'outside'): string {
  const forward = role === 'outside' ? 0 : 1;
  const lines = [
    `echo ${forward} > /proc/sys/net/ipv4/ip_forward`,
    `echo ${forward} > /proc/sys/net/ipv6/conf/all/forwarding`,
    `echo ${forward} > /proc/sys/net/ipv6/conf/default/forwarding`,
    // IPv4 settings are inherited from the root namespace: make the island independent of them.
    'echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter',
    'echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter',
    // Interfaces are created after this runs and inherit `default`: no DAD wait, no SLAAC.
    'echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad',
    'echo 1 > /proc/sys/net/ipv6/conf/default/addr_gen_mode',
    'echo 0 > /proc/sys/net/ipv6/conf/default/accept_ra',
  ];
  // The node answers ARP for the workloads' gateway (169.254.1.1), as Calico's hosts do.
  if (role === 'node') lines.push('echo 1 > /proc/sys/net/ipv4/conf/default/proxy_arp');
  return `set -e\n${lines.join('\n')}\n`;
}

function workloadsOn(plan: LabPlan, node: string): PlannedWorkload[] {
  return plan.workloads.filter((w) => w.node === node);
}

export function fabricBatch(plan: LabPlan): string[] {
  const lines = ['link set lo up'];
  for (const n of plan.nodes) {
    const dev = n.fabricInterface;
    lines.push(
      `link add ${dev} type veth peer name ${NODE_UPLINK} netns ${n.namespace}`,
      `addr add ${FABRIC_V4}/32 dev ${dev}`,
      `addr add ${UPSTREAM_LL_V6}/64 dev ${dev} nodad`,
      `link set ${dev} up`,
      `route add ${n.uplinkIpv4}/32 dev ${dev} scope link`,
    );
    for (const w of workloadsOn(plan, n.name)) {
      for (const a of w.ipv4) lines.push(`route add ${a}/32 via ${n.uplinkIpv4} dev ${dev} onlink`);
      for (const a of w.ipv6) lines.push(`route add ${a}/128 via ${DOWNSTREAM_LL_V6} dev ${dev}`);
    }
  }
  // Everything not in the cluster goes to the outside host, which answers only for `externals`.
  lines.push(
    `link add ${FABRIC_TO_OUTSIDE} type veth peer name ${OUTSIDE_TO_FABRIC} netns ${plan.outsideNamespace}`,
    `addr add ${FABRIC_V4}/32 dev ${FABRIC_TO_OUTSIDE}`,
    `addr add ${UPSTREAM_LL_V6}/64 dev ${FABRIC_TO_OUTSIDE} nodad`,
    `link set ${FABRIC_TO_OUTSIDE} up`,
    `route add ${OUTSIDE_V4}/32 dev ${FABRIC_TO_OUTSIDE} scope link`,
    `route add default via ${OUTSIDE_V4} dev ${FABRIC_TO_OUTSIDE} onlink`,
    `route add default via ${DOWNSTREAM_LL_V6} dev ${FABRIC_TO_OUTSIDE}`,
  );
  return lines;
}

export function nodeBatch(plan: LabPlan, n: PlannedNode): string[] {
  const lines = [
    'link set lo up',
    `addr add ${n.uplinkIpv4}/32 dev ${NODE_UPLINK}`,
    `addr add ${DOWNSTREAM_LL_V6}/64 dev ${NODE_UPLINK} nodad`,
    `link set ${NODE_UPLINK} up`,
    `route add ${FABRIC_V4}/32 dev ${NODE_UPLINK} scope link`,
    `route add default via ${FABRIC_V4} dev ${NODE_UPLINK} onlink`,
    `route add default via ${UPSTREAM_LL_V6} dev ${NODE_UPLINK}`,
  ];
  // The DNS proxy listens on the workloads' gateway address: local to the node, so their queries
  // meet the input hook (no policy), never forward.
  if (plan.dns !== undefined) lines.push(`addr add ${DNS_RESOLVER_V4}/32 dev lo`);
  for (const w of workloadsOn(plan, n.name)) {
    const dev = w.nodeInterface;
    lines.push(
      `link add ${dev} type veth peer name ${WORKLOAD_IFACE} netns ${w.namespace}`,
      // Proxy-ARP replies are otherwise delayed by up to 0.8 s, longer than a probe's timeout.
      `ntable change name arp_cache dev ${dev} proxy_delay 0`,
      `addr add ${UPSTREAM_LL_V6}/64 dev ${dev} nodad`,
      `link set ${dev} up`,
    );
    for (const a of w.ipv4) lines.push(`route add ${a}/32 dev ${dev} scope link`);
    for (const a of w.ipv6) lines.push(`route add ${a}/128 dev ${dev}`);
  }
  return lines;
}

export function workloadBatch(w: PlannedWorkload): string[] {
  const lines = ['link set lo up', `link set ${WORKLOAD_IFACE} addrgenmode none`];
  for (const a of w.ipv4) lines.push(`addr add ${a}/32 dev ${WORKLOAD_IFACE}`);
  for (const a of w.ipv6) lines.push(`addr add ${a}/128 dev ${WORKLOAD_IFACE} nodad`);
  if (w.ipv6.length > 0) lines.push(`addr add ${DOWNSTREAM_LL_V6}/64 dev ${WORKLOAD_IFACE} nodad`);
  lines.push(`link set ${WORKLOAD_IFACE} up`);
  if (w.ipv4.length > 0) {
    lines.push(
      `route add ${WORKLOAD_GATEWAY_V4}/32 dev ${WORKLOAD_IFACE} scope link`,
      `route add default via ${WORKLOAD_GATEWAY_V4} dev ${WORKLOAD_IFACE}`,
    );
  }
  if (w.ipv6.length > 0) lines.push(`route add default via ${UPSTREAM_LL_V6} dev ${WORKLOAD_IFACE}`);
  return lines;
}

export function outsideBatch(plan: LabPlan): string[] {
  const dev = OUTSIDE_TO_FABRIC;
  const lines = ['link set lo up', `addr add ${OUTSIDE_V4}/32 dev ${dev}`, `addr add ${DOWNSTREAM_LL_V6}/64 dev ${dev} nodad`];
  for (const e of plan.externals) {
    lines.push(e.family === 4 ? `addr add ${e.address}/32 dev ${dev}` : `addr add ${e.address}/128 dev ${dev} nodad`);
  }
  lines.push(
    `link set ${dev} up`,
    `route add ${FABRIC_V4}/32 dev ${dev} scope link`,
    `route add default via ${FABRIC_V4} dev ${dev} onlink`,
    `route add default via ${UPSTREAM_LL_V6} dev ${dev}`,
  );
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Agents

interface AgentPlan {
  readonly owner: string;
  readonly namespace: string;
  readonly config: AgentConfig | DnsProcessConfig;
  /** Socket of a lab agent; '' for a DNS process (it has none). */
  readonly socket: string;
  readonly log: string;
  readonly compileCache: string;
  /** The program: the lab agent, or src/dns/main.ts. */
  readonly script: string;
}

/** Where the lab session (or an agent) writes the DNS bindings of a node's compiled ruleset. */
export function dnsBindingsPathOf(lab: Pick<Lab, 'stateDir' | 'labId'>, node: string): string {
  return join(runDirOf(lab.labId, lab.stateDir), `dns-${shortHash(node, 12)}.bindings.json`);
}

/** The outside host's DNS server and one proxy per node (none when the lab has no DNS). */
function dnsPlans(plan: LabPlan, runDir: string, stateDir: string): AgentPlan[] {
  if (plan.dns === undefined) return [];
  const compileCache = join(runDir, 'compile-cache');
  const nft = findProgram('nft') ?? 'nft';
  const server: AgentPlan = {
    owner: 'dns-server',
    namespace: plan.outsideNamespace,
    config: { mode: 'server', listen: { address: DNS_UPSTREAM_V4, port: DNS_PORT }, records: plan.dns.map((r) => ({ name: r.name, type: r.type, data: r.data, ttl: DNS_TTL_SECONDS })) },
    socket: '',
    log: join(runDir, 'dns-server.log'),
    compileCache,
    script: DNS_MAIN_PATH,
  };
  const proxies = plan.nodes.map((n): AgentPlan => {
    const base = `dns-${shortHash(n.name, 12)}`;
    return {
      owner: `dns-proxy/${n.name}`,
      namespace: n.namespace,
      config: {
        mode: 'proxy',
        listen: { address: DNS_RESOLVER_V4, port: DNS_PORT },
        upstreams: [{ address: DNS_UPSTREAM_V4, port: DNS_PORT }],
        bindingsFile: dnsBindingsPathOf({ labId: plan.labId, stateDir }, n.name),
        nft,
      },
      socket: '',
      log: join(runDir, `${base}.log`),
      compileCache,
      script: DNS_MAIN_PATH,
    };
  });
  return [server, ...proxies];
}

function agentPlans(plan: LabPlan, runDir: string, sctp: SctpSupport): AgentPlan[] {
  const ping = findProgram('ping') ?? 'ping';
  const socat = sctp.supported ? (findProgram('socat') ?? null) : null;
  const keep = (l: AgentListener): boolean => l.protocol !== 'SCTP' || sctp.supported;
  const compileCache = join(runDir, 'compile-cache');
  const result: AgentPlan[] = plan.workloads.map((w) => {
    const base = `w-${shortHash(w.id, 12)}`;
    const listeners = [...w.ipv4, ...w.ipv6].flatMap((address) => w.ports.map((p) => ({ address, ...p }))).filter(keep);
    const socket = join(runDir, `${base}.sock`);
    return {
      owner: w.id,
      namespace: w.namespace,
      config: { identity: w.id, socket, listeners, socat, ping },
      socket,
      log: join(runDir, `${base}.log`),
      compileCache,
      script: AGENT_PATH,
    };
  });
  const outsideListeners = plan.externals.flatMap((e) => e.ports.map((p) => ({ address: e.address, ...p }))).filter(keep);
  result.push({
    owner: OUTSIDE_OWNER,
    namespace: plan.outsideNamespace,
    config: { identity: OUTSIDE_OWNER, socket: join(runDir, 'outside.sock'), listeners: outsideListeners, socat, ping },
    socket: join(runDir, 'outside.sock'),
    log: join(runDir, 'outside.log'),
    compileCache,
    script: AGENT_PATH,
  });
  return result;
}

function startAgent(labId: string, a: AgentPlan, timeoutMs: number): Promise<AgentRecord | Diagnostic> {
  return new Promise((resolve) => {
    const logFd = openSync(a.log, 'a', 0o600);
    // The config goes in a file: many externals × ports could outgrow one argv string (128 KiB).
    const configPath = a.log.replace(/\.log$/, '.json');
    writeFileSync(configPath, JSON.stringify(a.config), { mode: 0o600 });
    const argv = netnsExecArgv(labId, a.namespace, [
      process.execPath,
      '--disable-warning=ExperimentalWarning',
      '--max-old-space-size=64',
      a.script,
      configPath,
    ]);
    // Detached: the lab outlives the command that built it; `down` ends the agent by PID.
    // The compile cache (in the lab's run directory) spares every agent after the first the
    // cost of stripping agent.ts's types again: most of a Node start-up.
    const child = spawn(findProgram('ip') ?? 'ip', argv, {
      detached: true,
      stdio: ['ignore', logFd, logFd, 'pipe'],
      env: { ...process.env, NODE_COMPILE_CACHE: a.compileCache },
    });
    closeSync(logFd);
    const readyPipe = child.stdio[3] as Readable | null | undefined;
    let text = '';
    let done = false;
    const finish = (r: AgentRecord | Diagnostic): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      readyPipe?.destroy();
      child.unref();
      resolve(r);
    };
    const timer = setTimeout(
      () => finish(diag('lab/agent-timeout', `agent for ${a.owner} did not start within ${timeoutMs} ms (log: ${a.log})`)),
      timeoutMs,
    );
    child.on('error', (e) => finish(diag('lab/agent-failed', `cannot start agent for ${a.owner}: ${e.message}`)));
    child.on('exit', (code) =>
      finish(diag('lab/agent-failed', `agent for ${a.owner} exited (${String(code)}) before it was ready (log: ${a.log})`)),
    );
    readyPipe?.setEncoding('utf8');
    readyPipe?.on('error', () => undefined);
    readyPipe?.on('data', (s: string) => {
      text += s;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      let ready: AgentReady;
      try {
        ready = JSON.parse(text.slice(0, nl)) as AgentReady;
      } catch {
        finish(diag('lab/agent-failed', `agent for ${a.owner} wrote an unreadable readiness line`));
        return;
      }
      const startTime = processStartTime(ready.pid);
      const record: AgentRecord =
        startTime === undefined
          ? { owner: a.owner, namespace: a.namespace, pid: ready.pid, socket: a.socket }
          : { owner: a.owner, namespace: a.namespace, pid: ready.pid, startTime, socket: a.socket };
      if (!ready.ready) {
        finish(diag('lab/listener-failed', `agent for ${a.owner}: ${ready.errors.join('; ')}`));
        return;
      }
      finish(record);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// up / down / attach

const since = (t: number): number => Math.round(performance.now() - t);

/** Builds the island for `spec`: all-or-nothing (a failure rolls back unless `keepOnFailure`). */
export async function upLab(spec: LabSpec, opts: UpOptions = {}): Promise<Result<Lab & { readonly timings: UpTimings }>> {
  const t0 = performance.now();
  const planned = planLab(spec);
  if (!planned.ok) return planned;
  const plan = planned.value;
  const unavailable = labUnavailableReason(['ip', 'ping']);
  if (unavailable !== undefined) return fail([diag('lab/unavailable', unavailable)]);

  const stateDir = stateDirOf(opts.stateDir);
  const labId = plan.labId;
  const existing = readState(labId, stateDir);
  if (existing !== undefined) {
    return fail([
      diag('lab/exists', `lab "${labId}" already exists (${statePathOf(labId, stateDir)})`, `run \`strata lab down --lab ${labId}\` first`),
    ]);
  }
  const namespaces = namespacesOf(plan);
  const taken = namespaces.filter(namespaceExists);
  if (taken.length > 0) {
    return fail([
      diag(
        'lab/namespace-exists',
        `namespace(s) ${taken.slice(0, 3).join(', ')}${taken.length > 3 ? ', …' : ''} exist but no state file records them`,
        `they are not Strata's to remove automatically; inspect with \`ip netns list\` and delete them by hand`,
      ),
    ]);
  }

  const progress = opts.onProgress ?? ((): void => undefined);
  const sctp = await detectSctp();
  const runDir = runDirOf(labId, stateDir);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  let state: LabState = {
    version: 1,
    labId,
    createdAt: new Date().toISOString(),
    phase: 'building',
    namespaces,
    runDir,
    agents: [],
    sctp,
    spec,
    plan,
  };
  writeState(stateDir, state);

  const rollback = async (ds: readonly Diagnostic[]): Promise<Result<never>> => {
    if (opts.keepOnFailure !== true) await downLab(labId, { stateDir });
    return fail(ds);
  };

  progress('namespaces');
  const tNs = performance.now();
  const added = await addNamespaces(labId, namespaces);
  if (added.code !== 0) return rollback([commandDiag('creating namespaces', added)]);
  const sysctls = await Promise.all([
    execInNamespace(labId, plan.fabricNamespace, ['sh', '-c', sysctlScript('router')]),
    execInNamespace(labId, plan.outsideNamespace, ['sh', '-c', sysctlScript('outside')]),
    ...plan.nodes.map((n) => execInNamespace(labId, n.namespace, ['sh', '-c', sysctlScript('node')])),
  ]);
  const badSysctl = sysctls.find((r) => r.code !== 0);
  if (badSysctl !== undefined) return rollback([commandDiag('setting sysctls', badSysctl)]);
  const namespacesMs = since(tNs);

  progress('links');
  const tLinks = performance.now();
  const fabric = await runIpBatch(labId, plan.fabricNamespace, fabricBatch(plan));
  if (fabric.code !== 0) return rollback([commandDiag(`configuring ${plan.fabricNamespace}`, fabric)]);
  const nodeResults = await mapPool(plan.nodes, IP_PARALLEL, (n) => runIpBatch(labId, n.namespace, nodeBatch(plan, n)));
  const nodeFail = plan.nodes.flatMap((n, i) =>
    nodeResults[i]?.code === 0 ? [] : [commandDiag(`configuring ${n.namespace}`, nodeResults[i] ?? { code: -1, stdout: '', stderr: '' })],
  );
  if (nodeFail.length > 0) return rollback(nodeFail);
  const leaves: { ns: string; lines: string[] }[] = [
    { ns: plan.outsideNamespace, lines: outsideBatch(plan) },
    ...plan.workloads.map((w) => ({ ns: w.namespace, lines: workloadBatch(w) })),
  ];
  const leafResults = await mapPool(leaves, IP_PARALLEL, (l) => runIpBatch(labId, l.ns, l.lines));
  const leafFail = leaves.flatMap((l, i) =>
    leafResults[i]?.code === 0 ? [] : [commandDiag(`configuring ${l.ns}`, leafResults[i] ?? { code: -1, stdout: '', stderr: '' })],
  );
  if (leafFail.length > 0) return rollback(leafFail);
  const linksMs = since(tLinks);

  progress('agents');
  const tAgents = performance.now();
  const timeoutMs = opts.agentReadyTimeoutMs ?? 30_000;
  // The outside host's agent starts alone first and fills the compile cache for the others.
  const [outsidePlan, ...workloadPlans] = agentPlans(plan, runDir, sctp).reverse();
  const started = outsidePlan === undefined ? [] : [await startAgent(labId, outsidePlan, timeoutMs)];
  started.push(...(await mapPool(workloadPlans.reverse(), AGENT_PARALLEL, (a) => startAgent(labId, a, timeoutMs))));
  const agents = started.filter((r): r is AgentRecord => 'pid' in r);
  state = { ...state, agents };
  writeState(stateDir, state);
  const agentFail = started.filter((r): r is Diagnostic => !('pid' in r));
  if (agentFail.length > 0) return rollback(agentFail);
  // DNS processes are not agents (no control socket): `down` ends them with every other process
  // inside the lab's namespaces.
  const dnsStarted = await mapPool(dnsPlans(plan, runDir, stateDir), AGENT_PARALLEL, (a) => startAgent(labId, a, timeoutMs));
  const dnsFail = dnsStarted.filter((r): r is Diagnostic => !('pid' in r));
  if (dnsFail.length > 0) return rollback(dnsFail);
  const agentsMs = since(tAgents);

  state = { ...state, phase: 'ready' };
  writeState(stateDir, state);
  const warnings: Diagnostic[] = [];
  const wantsSctp = plan.workloads.some((w) => w.ports.some((p) => p.protocol === 'SCTP'));
  if (wantsSctp && !sctp.supported) {
    warnings.push({
      code: 'lab/sctp-unsupported',
      severity: 'warning',
      message: `SCTP listeners were not started: ${sctp.detail}; SCTP probes report "error"`,
    });
  }
  return ok(
    { labId, plan, stateDir, agents, sctp, timings: { namespacesMs, linksMs, agentsMs, totalMs: since(t0) } },
    warnings,
  );
}

/** The lab recorded under `labId`, for use by another process (probe, apply, down). */
export function attachLab(labId: string, opts: DownOptions = {}): Result<Lab> {
  const stateDir = stateDirOf(opts.stateDir);
  const state = readState(labId, stateDir);
  if (state === undefined) return fail([diag('lab/not-found', `no lab "${labId}" (no ${statePathOf(labId, stateDir)})`)]);
  if (state instanceof Error) return fail([diag('lab/bad-state', `cannot read the state of lab "${labId}": ${state.message}`)]);
  if (state.phase !== 'ready') {
    return fail([diag('lab/not-ready', `lab "${labId}" is ${state.phase}`, `run \`strata lab down --lab ${labId}\` and build it again`)]);
  }
  return ok({ labId, plan: state.plan, stateDir, agents: state.agents, sctp: state.sctp });
}

/**
 * Lets the outside host answer for more external addresses on a running lab (a flow file named
 * addresses that `up` did not know). Only the outside namespace changes: each address is added to
 * its link, so the fabric's default route already delivers to it and its kernel answers (a TCP
 * reset or ICMP port-unreachable from a port nobody listens on still proves the packet crossed the
 * nodes' policy). The state is rewritten first, so `down` stays exact; nothing else is touched.
 */
export async function addExternals(lab: Lab, addresses: readonly string[]): Promise<Result<Lab>> {
  const state = readState(lab.labId, lab.stateDir);
  if (state === undefined || state instanceof Error) return fail([diag('lab/bad-state', `cannot read the state of lab "${lab.labId}"`)]);
  const known = new Set(state.plan.externals.map((e) => e.address));
  const fresh = [...new Set(addresses)].filter((a) => !known.has(a));
  if (fresh.length === 0) return ok(lab);
  // No listeners are promised for these (a bare string would mean "every workload port"), so a
  // refusal from the outside host reads as "reached it".
  const spec: LabSpec = { ...state.spec, externals: [...state.spec.externals, ...fresh.map((address) => ({ address, ports: [] }))] };
  const planned = planLab(spec);
  if (!planned.ok) return fail(planned.diagnostics);
  const plan = planned.value;
  const added = plan.externals.filter((e) => !known.has(e.address));
  writeState(lab.stateDir, { ...state, spec, plan });
  const lines = added.map((e) => (e.family === 4 ? `addr add ${e.address}/32 dev ${OUTSIDE_TO_FABRIC}` : `addr add ${e.address}/128 dev ${OUTSIDE_TO_FABRIC} nodad`));
  const r = await runIpBatch(lab.labId, plan.outsideNamespace, lines);
  if (r.code !== 0) return fail([diag('lab/command-failed', `adding external addresses to the outside host failed: ${r.stderr.trim()}`)]);
  return ok({ ...lab, plan });
}

/**
 * Removes exactly what the state file of `labId` records: its agents (by PID, checked against
 * their start time), any other process inside its namespaces, the namespaces (and with them
 * every link), its sockets and logs, then the state file. Idempotent.
 */
export async function downLab(labId: string, opts: DownOptions = {}): Promise<Result<DownReport>> {
  const t0 = performance.now();
  if (!isValidLabId(labId)) return fail([diag('lab/invalid-lab-id', `lab id "${labId}" must be 1–12 characters [a-z0-9]`)]);
  const stateDir = stateDirOf(opts.stateDir);
  const state = readState(labId, stateDir);
  if (state instanceof Error) return fail([diag('lab/bad-state', `cannot read the state of lab "${labId}": ${state.message}`)]);
  if (state === undefined) {
    return ok({ labId, existed: false, namespacesRemoved: [], processesEnded: [], ms: since(t0) }, unrecordedWarning(labId));
  }
  writeState(stateDir, { ...state, phase: 'tearing-down' });

  // 1. Every process inside the lab's namespaces (agents, their socat children, agents started
  //    before a crash could record them): only the lab puts processes there. 2. Recorded agents
  //    that are somehow outside them (a namespace deleted by hand), if still the same process.
  const ended: number[] = [];
  const stuck: number[] = [];
  for (let round = 0; round < 2; round++) {
    const inside = [...pidsInNamespaces(state.namespaces).values()].flat();
    const strays = state.agents.filter(
      (a) => !inside.includes(a.pid) && isSameProcess(a.pid, a.startTime) && processCommandLine(a.pid).includes('agent.ts'),
    );
    const helpers = (state.processes ?? []).filter(
      (p) => !inside.includes(p.pid) && !ended.includes(p.pid) && isSameProcess(p.pid, p.startTime) && processCommandLine(p.pid).includes(p.marker),
    );
    const targets = [
      // Helpers first: a flow collector should not report its children's exits as failures.
      ...helpers.map((p) => ({ pid: p.pid, startTime: p.startTime })),
      ...inside.map((pid) => ({ pid, startTime: processStartTime(pid) })),
      ...strays.map((a) => ({ pid: a.pid, startTime: a.startTime })),
    ];
    if (targets.length === 0) break;
    const r = await endProcesses(targets, round === 0 ? 1000 : 200);
    ended.push(...r.ended);
    stuck.push(...r.stuck);
  }
  const ds: Diagnostic[] = [];
  if (stuck.length > 0) ds.push(diag('lab/process-stuck', `process(es) ${stuck.join(', ')} did not exit`));

  // 3. Namespaces: deleting one destroys its links, and a veth pair dies with either end.
  const present = state.namespaces.filter(namespaceExists);
  const del = await deleteNamespaces(labId, present);
  const left = state.namespaces.filter(namespaceExists);
  if (del.code !== 0 || left.length > 0) {
    ds.push(commandDiag(`deleting namespaces (${left.join(', ')} remain)`, del));
  }
  if (ds.length > 0) return fail(ds);
  removeState(labId, stateDir);
  return ok({
    labId,
    existed: true,
    namespacesRemoved: present,
    processesEnded: ended,
    ms: since(t0),
  });
}

function unrecordedWarning(labId: string): Diagnostic[] {
  let names: string[] = [];
  try {
    names = readdirSync(NETNS_DIR).filter((n) => n.startsWith(labNamespacePrefix(labId)));
  } catch {
    // no /run/netns: nothing there
  }
  if (names.length === 0) return [];
  return [
    {
      code: 'lab/unrecorded-namespaces',
      severity: 'warning',
      message: `no state file for lab "${labId}", but namespace(s) ${names.join(', ')} exist; they were left alone`,
      help: 'delete them by hand with `ip netns del NAME` if they are yours',
    },
  ];
}

/**
 * Records a helper process the lab's user started for this lab (e.g. a flow collector), so
 * `downLab` ends it by PID (checked against its start time and command line). Returns an error
 * message when the lab has no readable state.
 */
export function recordLabProcess(lab: Lab, rec: LabProcessRecord): string | undefined {
  const state = readState(lab.labId, lab.stateDir);
  if (state === undefined || state instanceof Error) return `cannot read the state of lab "${lab.labId}"`;
  const others = (state.processes ?? []).filter((p) => p.pid !== rec.pid);
  writeState(lab.stateDir, { ...state, processes: [...others, rec] });
  return undefined;
}

/** Recorded helper processes of a lab that are still the recorded processes. */
export function labProcesses(lab: Lab, role?: string): LabProcessRecord[] {
  const state = readState(lab.labId, lab.stateDir);
  if (state === undefined || state instanceof Error) return [];
  return (state.processes ?? []).filter((p) => (role === undefined || p.role === role) && isSameProcess(p.pid, p.startTime) && processCommandLine(p.pid).includes(p.marker));
}

// ---------------------------------------------------------------------------------------------
// Lookups

export function nodeNamespace(lab: Lab, node: string): string | undefined {
  return lab.plan.nodes.find((n) => n.name === node)?.namespace;
}

export function workloadOf(lab: Lab, workloadId: string): PlannedWorkload | undefined {
  return lab.plan.workloads.find((w) => w.id === workloadId);
}

export function agentOf(lab: Lab, owner: string): AgentRecord | undefined {
  return lab.agents.find((a) => a.owner === owner);
}

export { OUTSIDE_OWNER };
