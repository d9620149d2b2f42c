// The lab joined to the control plane (`strata lab up --server URL …`): the island is built as
// for an offline lab, but policy reaches the kernel the way it does in a cluster — through the
// API server and one `strata agent` per node.
//
//   manifests ─► engine (pod CIDR) ─► LabSpec ─► upLab (island, listeners)
//            └► register through the API (one apply: create or update, never duplicate):
//                 every workload as a WorkloadEndpoint (node, interface, addresses, labels,
//                 profiles, named ports) — the lab stands in for the CNI plugin — plus every
//                 other resource (namespaces, service accounts, services, tiers, policies, sets)
//            └► spawn `strata agent --node N --netns NS` per node (detached; logs in the run dir)
//            └► wait until every agent reports in-sync at the applied revision
//   afterwards policy changes only through the API (`strata apply`, `strata delete`).
//
// Pods and their controllers are not registered as such: the WorkloadEndpoint is the endpoint,
// and a Pod beside it would be a second endpoint with the same id.
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentRunDir, agentRunFilePath, readLiveAgent } from '../agent/index.ts';
import { defaultFlowPaths } from '../agent/flow-plugin.ts';
import type { AgentRunFile } from '../agent/index.ts';
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import { createPolicyStore, resourceKey } from '../engine/index.ts';
import type { Cluster, Endpoint } from '../engine/index.ts';
import { InheritedLabels } from '../engine/labels.ts';
import { attachLab, dnsBindingsPathOf, downLab, nodeInterfaceOf, readState, runDirOf, stateDirOf, upLab } from '../lab/index.ts';
import type { Lab, LabDnsRecord, LabExternal } from '../lab/index.ts';
import { endProcesses } from '../lab/processes.ts';
import { syntheticOrigin, validateDocument } from '../model/index.ts';
import type { Resource } from '../model/index.ts';
import { formatIp } from '../net/index.ts';
import type { SessionFlow } from './flows.ts';
import { newSessionRecord, planLab } from './session.ts';
import type { Session } from './session.ts';
import { DEFAULT_POD_CIDR } from './spec.ts';
import { readSession, writeSession } from './store.ts';
import type { ManifestSource } from './store.ts';
import { createNetnsNftExecutor } from '../dataplane/index.ts';

export interface ControlPlaneTarget {
  readonly server: string;
  readonly token: string | undefined;
}

export interface AgentLabOptions {
  readonly labId: string;
  readonly target: ControlPlaneTarget;
  readonly nodes?: number;
  readonly podCidr?: string;
  readonly flows?: readonly SessionFlow[];
  readonly externals?: readonly LabExternal[];
  /** The outside host's DNS records: every node runs a DNS proxy, its agent writes the bindings. */
  readonly dns?: readonly LabDnsRecord[];
  readonly stateDir?: string;
  /** NodeStatus heartbeat of the agents, in seconds (default 5). */
  readonly reportIntervalSeconds?: number;
  /** More `strata agent` flags for every agent (e.g. `--resync-interval 1`). */
  readonly agentArgs?: readonly string[];
  /** How long to wait for every agent to be in sync (default 60 s). */
  readonly syncTimeoutMs?: number;
  readonly onProgress?: (phase: string) => void;
}

export interface AgentNode {
  readonly name: string;
  readonly netns: string;
  readonly agentPid: number | null;
  readonly revision: number | null;
  readonly state: string | null;
  readonly listen: string | null;
  /** The agent's flow log, as its last heartbeat put it (null: no agent, or it has no flow log). */
  readonly flowLog: string | null;
}

export interface AgentLabResult {
  readonly session: Session;
  /** Server revision of the registration. */
  readonly revision: number;
  readonly nodes: readonly AgentNode[];
  readonly registered: { readonly created: number; readonly configured: number; readonly unchanged: number };
}

const WORKLOAD_KINDS = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'WorkloadEndpoint']);
const SYSTEM_LABELS = new Set(['projectcalico.org/namespace', 'projectcalico.org/orchestrator', 'projectcalico.org/serviceaccount']);
const STRATA_BIN = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));

function diag(code: string, message: string, help?: string): Diagnostic {
  return help === undefined ? { code, severity: 'error', message } : { code, severity: 'error', message, help };
}

/** The WorkloadEndpoint a CNI plugin would write for a lab workload. */
export function workloadEndpointOf(ep: Endpoint, node: string): Record<string, unknown> {
  const own = ep.labels instanceof InheritedLabels ? ep.labels.own : ep.labels;
  const labels = Object.fromEntries([...own].filter(([k]) => !SYSTEM_LABELS.has(k)).sort(([a], [b]) => (a < b ? -1 : 1)));
  const ports = ep.ports
    .filter((p) => p.name !== undefined && p.name !== '' && typeof p.port === 'number' && [6, 17, 132].includes(p.protocol))
    .map((p) => ({ name: p.name, protocol: p.protocol === 6 ? 'TCP' : p.protocol === 17 ? 'UDP' : 'SCTP', port: p.port }));
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: ep.name, namespace: ep.namespace ?? 'default', ...(Object.keys(labels).length > 0 ? { labels } : {}) },
    spec: {
      orchestrator: 'k8s',
      node,
      pod: ep.name,
      endpoint: 'eth0',
      interfaceName: nodeInterfaceOf(ep.id),
      ipNetworks: ep.addresses.map((a) => `${formatIp(a)}/${a.family === 4 ? 32 : 128}`),
      profiles: ep.profiles.map((p) => p.name),
      ...(ep.serviceAccount === undefined ? {} : { serviceAccountName: ep.serviceAccount }),
      ...(ports.length > 0 ? { ports } : {}),
    },
  };
}

/** The documents `lab up --server` registers: WorkloadEndpoints for the lab's workloads, and every other resource. */
export function registrationDocuments(resources: readonly Resource[], cluster: Cluster, placement: ReadonlyMap<string, string>): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = [];
  for (const r of resources) if (!WORKLOAD_KINDS.has(r.type)) docs.push(r.body as Record<string, unknown>);
  for (const [id, node] of [...placement].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const ep = cluster.endpoint(id);
    if (ep !== undefined) docs.push(workloadEndpointOf(ep, node));
  }
  return docs;
}

function headersOf(t: ControlPlaneTarget): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'application/json', ...(t.token === undefined ? {} : { authorization: `Bearer ${t.token}` }) };
}

interface ApplyReply {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly results?: readonly { readonly action: string }[];
  readonly message?: string;
}

async function register(t: ControlPlaneTarget, docs: readonly unknown[]): Promise<Result<{ revision: number; created: number; configured: number; unchanged: number }>> {
  let res: Response;
  try {
    res = await fetch(`${t.server.replace(/\/+$/, '')}/apis/strata/v1/apply`, { method: 'POST', headers: headersOf(t), body: JSON.stringify(docs) });
  } catch (e) {
    return fail([diag('lab-session/server-unreachable', `cannot reach the server at ${t.server}: ${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`)]);
  }
  const body = (await res.json().catch(() => ({}))) as ApplyReply & { details?: { causes?: { field?: string; message?: string }[] } };
  if (res.status !== 200) {
    const causes = (body.details?.causes ?? []).map((c) => `${c.field ?? ''}: ${c.message ?? ''}`).join('; ');
    return fail([diag('lab-session/register-refused', `the server refused the lab's resources (HTTP ${res.status}): ${body.message ?? ''}${causes === '' ? '' : ` — ${causes}`}`)]);
  }
  const count = (a: string): number => (body.results ?? []).filter((r) => r.action === a).length;
  return ok({ revision: Number(body.metadata?.resourceVersion ?? 0), created: count('created'), configured: count('configured'), unchanged: count('unchanged') });
}

/** Starts `strata agent` for one node of the lab, detached; its output goes to the lab's run dir. */
/** A lab with DNS: the agent tells its node's proxy which sets to fill (lab/island.ts starts the proxy). */
function dnsArgs(lab: Lab, node: string): string[] {
  return lab.plan.dns === undefined ? [] : ['--dns-bindings', dnsBindingsPathOf(lab, node)];
}

export function spawnAgent(lab: Lab, node: string, netns: string, t: ControlPlaneTarget, reportIntervalSeconds: number, extraArgs: readonly string[] = []): number {
  const log = openSync(join(runDirOf(lab.labId, lab.stateDir), `agent-${node}.log`), 'a', 0o600);
  // The token goes through the environment, not argv (which every user can read in ps).
  const child = spawn(process.execPath, [STRATA_BIN, 'agent', '--server', t.server, '--node', node, '--netns', netns, '--listen', '127.0.0.1:0', '--report-interval', String(reportIntervalSeconds), ...dnsArgs(lab, node), ...extraArgs], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, ...(t.token === undefined ? {} : { STRATA_TOKEN: t.token }) },
  });
  closeSync(log);
  child.unref();
  return child.pid ?? -1;
}

/** Every node of a lab with the agent that programs it (from the agents' run files). */
export function agentNodes(lab: Pick<Lab, 'plan'>, runDir?: string): AgentNode[] {
  const dir = agentRunDir(runDir);
  return lab.plan.nodes.map((n) => {
    const a: AgentRunFile | undefined = readLiveAgent(agentRunFilePath(dir, n.namespace, n.name));
    return { name: n.name, netns: n.namespace, agentPid: a?.pid ?? null, revision: a?.revision ?? null, state: a?.state ?? null, listen: a?.listen ?? null, flowLog: a?.plugins?.['flow-log'] ?? null };
  });
}

/** Waits until every node's agent is in sync at `revision` or later. */
export async function waitForAgents(lab: Pick<Lab, 'plan'>, revision: number, timeoutMs: number): Promise<Result<AgentNode[]>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = agentNodes(lab);
    if (nodes.every((n) => n.state === 'in-sync' && (n.revision ?? 0) >= revision)) return ok(nodes);
    if (Date.now() > deadline) {
      const late = nodes.filter((n) => !(n.state === 'in-sync' && (n.revision ?? 0) >= revision)).map((n) => `${n.name}: ${n.agentPid === null ? 'no agent' : `${n.state ?? '?'} at revision ${n.revision ?? 0}`}`);
      return fail([diag('lab-session/agents-not-in-sync', `agents not in sync at revision ${revision} after ${timeoutMs} ms: ${late.join(', ')}`, 'see agent-NODE.log in the lab\'s run directory')]);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Builds the island, registers it through the API and starts one agent per node. */
export async function upAgentLab(sources: readonly ManifestSource[], opts: AgentLabOptions): Promise<Result<AgentLabResult>> {
  const podCidr = opts.podCidr ?? DEFAULT_POD_CIDR;
  const progress = opts.onProgress ?? ((): void => undefined);
  progress('engine');
  const plannedLab = planLab(sources, podCidr, opts);
  if (!plannedLab.ok) return fail(plannedLab.diagnostics);
  const { built, warnings, needs, spec, placement } = plannedLab.value;
  const docs = registrationDocuments(built.resources, built.cluster, placement);

  const up = await upLab(spec, { ...(opts.stateDir === undefined ? {} : { stateDir: opts.stateDir }), onProgress: progress });
  if (!up.ok) return fail([...warnings, ...up.diagnostics]);
  const lab = up.value;
  const undo = async (ds: readonly Diagnostic[]): Promise<Result<AgentLabResult>> => {
    await downAgentLab(lab.labId, opts.stateDir);
    return fail([...warnings, ...ds]);
  };

  progress('register');
  const reg = await register(opts.target, docs);
  if (!reg.ok) return undo(reg.diagnostics);

  progress('agents');
  const interval = opts.reportIntervalSeconds ?? 5;
  for (const n of lab.plan.nodes) spawnAgent(lab, n.name, n.namespace, opts.target, interval, opts.agentArgs ?? []);
  const synced = await waitForAgents(lab, reg.value.revision, opts.syncTimeoutMs ?? 60_000);
  if (!synced.ok) return undo(synced.diagnostics);

  const record = newSessionRecord(lab.labId, podCidr, opts.nodes, sources, { needs, spec, placement }, {}, { server: opts.target.server });
  const runDir = runDirOf(lab.labId, lab.stateDir);
  writeSession(runDir, record);
  const executor = createNetnsNftExecutor({ namespaceOf: (node) => lab.plan.nodes.find((n) => n.name === node)?.namespace });
  return ok(
    { session: { lab, record, cluster: built.cluster, executor, runDir }, revision: reg.value.revision, nodes: synced.value, registered: { created: reg.value.created, configured: reg.value.configured, unchanged: reg.value.unchanged } },
    [...warnings, ...up.diagnostics],
  );
}

/**
 * The engine's state as the server holds it for the lab's nodes (for probes of an agent lab: the
 * kernel follows the server): the union of the nodes' views. A node's view holds only what its
 * ruleset reads (docs/agent.md, "The node view"); the union of every node's holds each node's
 * endpoints, the policies selecting them and every peer and set their rules read, so it decides
 * every flow of the lab's endpoints, and compiles every node, as the whole state does.
 */
export async function clusterFromServer(t: ControlPlaneTarget, nodes: string | readonly string[]): Promise<Result<Cluster>> {
  const items: Record<string, unknown>[] = [];
  for (const node of typeof nodes === 'string' ? [nodes] : nodes) {
    let res: Response;
    try {
      res = await fetch(`${t.server.replace(/\/+$/, '')}/apis/strata/v1/nodeviews/${encodeURIComponent(node)}`, { headers: headersOf(t) });
    } catch (e) {
      return fail([diag('lab-session/server-unreachable', `cannot reach the server at ${t.server}: ${(e as Error).message}`)]);
    }
    if (res.status !== 200) return fail([diag('lab-session/server-refused', `the server answered HTTP ${res.status} to the node view of ${node}`)]);
    items.push(...((await res.json()) as { items: Record<string, unknown>[] }).items);
  }
  const store = createPolicyStore();
  const changes = items.flatMap((o) => {
    const r = validateDocument(o, syntheticOrigin(`${String(o['kind'])}`));
    return r.ok && r.value !== undefined ? [{ op: 'upsert' as const, resource: r.value }] : [];
  });
  // An endpoint is in full in its node's view and a peer in others': either derives the same endpoint.
  const seen = new Set<string>();
  store.apply(
    changes.filter((c) => !seen.has(resourceKey(c.resource)) && (seen.add(resourceKey(c.resource)), true)),
    { onError: 'keep' },
  );
  return ok(store.snapshot());
}

/** An agent lab's session, its engine rebuilt from the server's current state. */
export async function attachAgentSession(labId: string, t: ControlPlaneTarget, stateDir?: string): Promise<Result<Session>> {
  const dir = stateDirOf(stateDir);
  const attached = attachLab(labId, { stateDir: dir });
  if (!attached.ok) return fail(attached.diagnostics);
  const lab = attached.value;
  const runDir = runDirOf(labId, dir);
  const record = readSession(runDir, labId);
  if (record === undefined || record instanceof Error || record.controlPlane === undefined) return fail([diag('lab-session/not-agent-lab', `lab "${labId}" was not built with --server`)]);
  const cluster = await clusterFromServer(t, lab.plan.nodes.length > 0 ? lab.plan.nodes.map((n) => n.name) : ['node-1']);
  if (!cluster.ok) return fail(cluster.diagnostics);
  const executor = createNetnsNftExecutor({ namespaceOf: (node) => lab.plan.nodes.find((n) => n.name === node)?.namespace });
  return ok({ lab, record, cluster: cluster.value, executor, runDir });
}

/** Ends the lab's agents (those in the run files of its node namespaces), then removes the island. */
export async function downAgentLab(labId: string, stateDir?: string): ReturnType<typeof downLab> {
  const dir = stateDirOf(stateDir);
  const state = readState(labId, dir);
  if (state !== undefined && !(state instanceof Error)) {
    const agents = agentNodes({ plan: state.plan }).flatMap((n) => {
      if (n.agentPid === null) return [];
      const a = readLiveAgent(agentRunFilePath(agentRunDir(), n.netns, n.name));
      return a === undefined ? [] : [{ pid: a.pid, startTime: a.startTime }];
    });
    await endProcesses(agents, 3000);
    // The agents' flow spools and collector directories: a real node keeps its spool across
    // restarts (that is its point); a lab's dies with the lab. By the lab's namespace names only.
    for (const n of state.plan.nodes) {
      const paths = defaultFlowPaths(agentRunDir(), n.namespace, n.name);
      // …and the run file, which an agent ended by SIGKILL (after the grace period) leaves behind.
      const runFile = agentRunFilePath(agentRunDir(), n.namespace, n.name);
      for (const f of [paths.spoolPath, `${paths.spoolPath}-wal`, `${paths.spoolPath}-shm`, paths.workDir, runFile]) rmSync(f, { recursive: true, force: true });
    }
  }
  return downLab(labId, stateDir === undefined ? {} : { stateDir });
}
