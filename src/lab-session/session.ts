// A lab session joins the engine to the island: manifests → engine → lab spec → island → one
// compiled ruleset per node, applied as one atomic nft transaction each; later, policy changes
// as one incremental transaction per node, and probes whose kernel verdicts are compared with
// the engine's. Its memory between commands is the session record (store.ts).
//
//   up:     sources ─load─► resources ─buildCluster(podCidr)─► cluster ─planSessionSpec─► LabSpec
//                                                                  │                        │ upLab
//                                                  compileNode per node ─renderNft─► executor.apply
//   apply:  new sources ─► cluster' (same endpoints, same addresses) ─► compileNode ─►
//           diffRulesets(kernel's, next) ─renderNftUpdate─► executor.apply (per node; rollback on failure)
//
// Egress is enforced on the source's node and ingress on the destination's, because a
// workload's interface exists only on its own node: the node's dispatch maps send its packets
// to its endpoint chains, and every other node merely forwards them.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, hasErrors, ok } from '../diagnostics/index.ts';
import { compileNode, createNetnsNftExecutor, diffRulesets, renderDomainBindings, renderNft, renderNftUpdate } from '../dataplane/index.ts';
import { writeBindingsFile } from '../dns/config.ts';
import type { NftExecutor, Ruleset } from '../dataplane/index.ts';
import { createPolicyStore } from '../engine/index.ts';
import type { Cluster, Endpoint } from '../engine/index.ts';
import { attachLab, dnsBindingsPathOf, downLab, findProgram, labUnavailableReason, nodeInterfaceOf, nodeNamespace, runDirOf, stateDirOf, upLab } from '../lab/index.ts';
import type { Lab, LabDnsRecord, LabExternal, LabPort, UpTimings } from '../lab/index.ts';
import { loadText, reconcileDuplicates } from '../load/index.ts';
import type { Resource } from '../model/index.ts';
import { formatIp } from '../net/index.ts';
import { flowNeeds } from './flows.ts';
import type { FlowNeeds, SessionFlow } from './flows.ts';
import { DEFAULT_NODES, DEFAULT_POD_CIDR, planSessionSpec } from './spec.ts';
import type { SessionSpec } from './spec.ts';
import { lockSession, readSession, writeSession } from './store.ts';
import type { ManifestSource, SessionRecord } from './store.ts';

export const DEFAULT_LAB_ID = 'default';
export const SESSION_TABLE = 'strata';

/** A running lab with its engine: plain data plus the executor; valid in any process. */
export interface Session {
  readonly lab: Lab;
  readonly record: SessionRecord;
  readonly cluster: Cluster;
  readonly executor: NftExecutor;
  readonly runDir: string;
}

export interface SessionTimings {
  readonly buildMs: number;
  readonly compileMs: number;
  readonly lab: UpTimings;
  readonly applyMs: number;
  readonly totalMs: number;
}

export interface SessionUpOptions {
  readonly labId: string;
  /** Nodes for endpoints that name none (default 2). */
  readonly nodes?: number;
  /** Addresses for endpoints without one (default 10.244.0.0/16). */
  readonly podCidr?: string;
  /** Flows that will be probed: their ports get listeners, their external addresses an answer. */
  readonly flows?: readonly SessionFlow[];
  /** More external addresses (with their ports). */
  readonly externals?: readonly LabExternal[];
  /** The outside host's DNS records (`--dns NAME=IP`): the lab then runs a DNS proxy per node. */
  readonly dns?: readonly LabDnsRecord[];
  readonly stateDir?: string;
  readonly onProgress?: (phase: string) => void;
}

export interface AttachOptions {
  readonly stateDir?: string;
}

const since = (t: number): number => Math.round(performance.now() - t);

function diag(code: string, message: string, help?: string): Diagnostic {
  return help === undefined ? { code, severity: 'error', message } : { code, severity: 'error', message, help };
}

/** Why this machine cannot run a lab session (not root, a program missing), or undefined. */
export function sessionUnavailableReason(): string | undefined {
  return labUnavailableReason(['ip', 'nft', 'ping']);
}

// ---------------------------------------------------------------------------------------------
// Engine from stored sources

export interface Built {
  readonly resources: readonly Resource[];
  readonly cluster: Cluster;
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * The manifests → the engine, exactly as `loadPaths` + `buildCluster` would from the files: each
 * layer of sources (see ManifestSource.layer) is one batch of upserts into a live store, so a
 * partial `apply` changes exactly the resources it names.
 */
export function buildFromSources(sources: readonly ManifestSource[], podCidr: string): Built {
  const diagnostics: Diagnostic[] = [];
  const layers = new Map<number, Resource[]>();
  for (const s of sources) {
    const one = loadText(s.text, s.file);
    const layer = s.layer ?? 0;
    let list = layers.get(layer);
    if (list === undefined) layers.set(layer, (list = []));
    list.push(...one.resources);
    diagnostics.push(...one.diagnostics);
  }
  const store = createPolicyStore({ podCidr });
  for (const layer of [...layers.keys()].sort((a, b) => a - b)) {
    const reconciled = reconcileDuplicates(layers.get(layer)!);
    diagnostics.push(...reconciled.diagnostics);
    const applied = store.apply(
      reconciled.resources.map((resource) => ({ op: 'upsert', resource })),
      { onError: 'keep' },
    );
    diagnostics.push(...applied.diagnostics);
  }
  return { resources: [...store.resources()], cluster: store.snapshot(), diagnostics };
}

// ---------------------------------------------------------------------------------------------
// Compiling every node

function endpointsByNode(cluster: Cluster, placement: Readonly<Record<string, string>>): Map<string, Endpoint[]> {
  const out = new Map<string, Endpoint[]>();
  for (const [id, node] of Object.entries(placement)) {
    const ep = cluster.endpoint(id);
    if (ep === undefined) continue;
    let list = out.get(node);
    if (list === undefined) out.set(node, (list = []));
    list.push(ep);
  }
  return out;
}

/** One ruleset per node: the node's own endpoints, dispatched on their node-side interfaces. */
export function compileSession(
  cluster: Cluster,
  nodes: readonly string[],
  placement: Readonly<Record<string, string>>,
  table = SESSION_TABLE,
): Result<Record<string, Ruleset>> {
  const interfaces = new Map(Object.keys(placement).map((id) => [id, nodeInterfaceOf(id)]));
  const byNode = endpointsByNode(cluster, placement);
  const rulesets: Record<string, Ruleset> = {};
  const ds: Diagnostic[] = [];
  for (const node of nodes) {
    const r = compileNode(cluster, byNode.get(node) ?? [], { interfaces, table });
    if (r.ok) rulesets[node] = r.value;
    else ds.push(...r.diagnostics.map((d) => ({ ...d, message: `node ${node}: ${d.message}` })));
  }
  return ds.length > 0 ? fail(ds) : ok(rulesets);
}

/** What the dataplane cannot enforce exactly as the engine decides (domain names, …). */
export function rulesetNotes(rulesets: Readonly<Record<string, Ruleset>>): string[] {
  return [...new Set(Object.values(rulesets).flatMap((r) => r.notes))].sort();
}

function executorFor(lab: Lab): NftExecutor {
  // Absolute paths: root's sbin directories are not always on PATH (sudo, cron, CI runners).
  const ip = findProgram('ip');
  const nft = findProgram('nft');
  return createNetnsNftExecutor({
    namespaceOf: (node) => nodeNamespace(lab, node),
    ...(ip === undefined ? {} : { ipPath: ip }),
    ...(nft === undefined ? {} : { nftPath: nft }),
  });
}

/**
 * Tells each node's DNS proxy which sets stand for which domain patterns, from the ruleset the
 * kernel now holds (written after the apply, so the proxy never adds to a set that does not exist
 * yet). No-op in a lab without DNS.
 */
function writeDnsBindings(lab: Lab, rulesets: Readonly<Record<string, Ruleset>>, table: string): void {
  if (lab.plan.dns === undefined) return;
  for (const [node, rs] of Object.entries(rulesets)) {
    writeBindingsFile(dnsBindingsPathOf(lab, node), { table, bindings: renderDomainBindings(rs).map((b) => ({ set: b.set, family: b.family, patterns: [...b.patterns] })) });
  }
}

// ---------------------------------------------------------------------------------------------
// up

export interface UpResult {
  readonly session: Session;
  readonly timings: SessionTimings;
  /** Endpoints the lab leaves out, with why (host endpoints). */
  readonly left: ReadonlyMap<string, string>;
  readonly notes: readonly string[];
}

/** What `up` (offline or joined to a server) plans from the manifests before anything exists. */
export interface PlannedLab extends SessionSpec {
  readonly built: Built;
  /** The build's warnings, reported with any later failure. */
  readonly warnings: readonly Diagnostic[];
  readonly needs: FlowNeeds;
}

/** Manifests → engine → the lab spec and placement, with the listeners and externals the flows need. */
export function planLab(
  sources: readonly ManifestSource[],
  podCidr: string,
  opts: Pick<SessionUpOptions, 'labId' | 'nodes' | 'flows' | 'externals' | 'dns'>,
): Result<PlannedLab> {
  const built = buildFromSources(sources, podCidr);
  if (hasErrors(built.diagnostics)) return fail(built.diagnostics);
  const warnings = built.diagnostics.filter((d) => d.severity !== 'info');
  const needs = flowNeeds(built.cluster, opts.flows ?? []);
  const planned = planSessionSpec(built.cluster, {
    labId: opts.labId,
    nodes: opts.nodes ?? DEFAULT_NODES,
    extraPorts: needs.extraPorts,
    externals: [...needs.externals, ...(opts.externals ?? [])],
    ...(opts.dns === undefined ? {} : { dns: opts.dns }),
  });
  if (!planned.ok) return fail([...warnings, ...planned.diagnostics]);
  return ok({ built, warnings, needs, ...planned.value });
}

/** The record of a lab just brought up (generation 1). */
export function newSessionRecord(
  labId: string,
  podCidr: string,
  nodes: number | undefined,
  sources: readonly ManifestSource[],
  plan: Pick<PlannedLab, 'needs' | 'spec' | 'placement'>,
  rulesets: SessionRecord['rulesets'],
  controlPlane?: SessionRecord['controlPlane'],
): SessionRecord {
  const now = new Date().toISOString();
  return {
    version: 1,
    labId,
    createdAt: now,
    updatedAt: now,
    generation: 1,
    podCidr,
    nodeCount: nodes ?? DEFAULT_NODES,
    table: SESSION_TABLE,
    extraPorts: Object.fromEntries(plan.needs.extraPorts),
    externals: plan.spec.externals.map((e) => (typeof e === 'string' ? { address: e, ports: [] } : e)),
    sources: sources.map((s) => ({ file: s.file, text: s.text })),
    placement: Object.fromEntries(plan.placement),
    addresses: Object.fromEntries(plan.spec.workloads.map((w) => [w.id, [...w.addresses]])),
    rulesets,
    ...(controlPlane === undefined ? {} : { controlPlane }),
  };
}

/** Builds the island for the manifests and programs every node; all or nothing. */
export async function upSession(sources: readonly ManifestSource[], opts: SessionUpOptions): Promise<Result<UpResult>> {
  const t0 = performance.now();
  const podCidr = opts.podCidr ?? DEFAULT_POD_CIDR;
  const progress = opts.onProgress ?? ((): void => undefined);
  progress('engine');
  const plannedLab = planLab(sources, podCidr, opts);
  if (!plannedLab.ok) return fail(plannedLab.diagnostics);
  const { built, warnings, needs, spec, placement, left } = plannedLab.value;
  const buildMs = since(t0);

  // Compiled before anything exists, so a compile error leaves nothing to clean up.
  progress('compile');
  const tc = performance.now();
  const placementRecord = Object.fromEntries(placement);
  const compiled = compileSession(built.cluster, spec.nodes, placementRecord);
  if (!compiled.ok) return fail(compiled.diagnostics);
  const compileMs = since(tc);

  const up = await upLab(spec, { ...(opts.stateDir === undefined ? {} : { stateDir: opts.stateDir }), onProgress: progress });
  if (!up.ok) return fail([...warnings, ...up.diagnostics]);
  const lab = up.value;
  const executor = executorFor(lab);

  progress('nftables');
  const ta = performance.now();
  const applied = await Promise.all(spec.nodes.map((node) => executor.apply(node, renderNft(compiled.value[node]!))));
  const applyFail = applied.flatMap((r, i) => (r.ok ? [] : r.diagnostics.map((d) => ({ ...d, message: `node ${spec.nodes[i]}: ${d.message}` }))));
  if (applyFail.length > 0) {
    await downLab(lab.labId, { stateDir: lab.stateDir });
    return fail(applyFail);
  }
  writeDnsBindings(lab, compiled.value, SESSION_TABLE);
  const applyMs = since(ta);

  const record = newSessionRecord(lab.labId, podCidr, opts.nodes, sources, { needs, spec, placement }, compiled.value);
  const runDir = runDirOf(lab.labId, lab.stateDir);
  writeSession(runDir, record);
  const notes = rulesetNotes(compiled.value);
  return ok(
    {
      session: { lab, record, cluster: built.cluster, executor, runDir },
      timings: { buildMs, compileMs, lab: lab.timings, applyMs, totalMs: since(t0) },
      left,
      notes,
    },
    [...warnings, ...up.diagnostics],
  );
}

// ---------------------------------------------------------------------------------------------
// attach

/** Checks that an engine's workload endpoints are exactly the lab's, with the lab's addresses. */
function sameEndpoints(cluster: Cluster, record: SessionRecord): Diagnostic[] {
  const lab = new Set(Object.keys(record.placement));
  const now = new Set(cluster.endpoints.filter((e) => e.kind === 'workload').map((e) => e.id));
  const added = [...now].filter((id) => !lab.has(id)).sort();
  const removed = [...lab].filter((id) => !now.has(id)).sort();
  const ds: Diagnostic[] = [];
  if (added.length > 0 || removed.length > 0) {
    const list = (xs: string[]): string => `${xs.slice(0, 5).join(', ')}${xs.length > 5 ? `, … (${xs.length})` : ''}`;
    ds.push(
      diag(
        'lab-session/endpoints-changed',
        `the manifests name other workloads than the lab runs${added.length > 0 ? `; new: ${list(added)}` : ''}${removed.length > 0 ? `; gone: ${list(removed)}` : ''}`,
        'a running lab changes policy and labels only; to add or remove workloads, run `strata lab down` and `strata lab up` again',
      ),
    );
  }
  for (const id of now) {
    if (!lab.has(id)) continue;
    const have = (cluster.endpoint(id)?.addresses ?? []).map(formatIp);
    const want = record.addresses[id] ?? [];
    if (have.length !== want.length || have.some((a, i) => a !== want[i])) {
      ds.push(
        diag(
          'lab-session/address-changed',
          `${id} has address(es) ${have.join(', ') || 'none'} in the manifests but ${want.join(', ')} in the lab`,
          'addresses are fixed while the lab runs; run `strata lab down` and `strata lab up` to change them',
        ),
      );
    }
  }
  return ds;
}

/** The session of a running lab, for another process (probe, apply, counters). */
export function attachSession(labId: string, opts: AttachOptions = {}): Result<Session> {
  const stateDir = stateDirOf(opts.stateDir);
  const attached = attachLab(labId, { stateDir });
  if (!attached.ok) {
    return fail(
      attached.diagnostics.map((d) =>
        d.code === 'lab/not-found' && d.help === undefined ? { ...d, help: 'build it with `strata lab up -f PATH…` (and `--lab ID` for another id)' } : d,
      ),
    );
  }
  const lab = attached.value;
  const runDir = runDirOf(labId, stateDir);
  const record = readSession(runDir, labId);
  if (record === undefined) {
    return fail([
      diag(
        'lab-session/no-session',
        `lab "${labId}" has no session record: it was built without manifests, or \`lab up\` was interrupted`,
        `run \`strata lab down --lab ${labId}\` and \`strata lab up\` again`,
      ),
    ]);
  }
  if (record instanceof Error) return fail([diag('lab-session/bad-session', `cannot read the session of lab "${labId}": ${record.message}`)]);
  const built = buildFromSources(record.sources, record.podCidr);
  if (hasErrors(built.diagnostics)) return fail(built.diagnostics.filter((d) => d.severity === 'error'));
  const mismatch = sameEndpoints(built.cluster, record);
  if (mismatch.length > 0) return fail(mismatch);
  return ok({ lab, record, cluster: built.cluster, executor: executorFor(lab), runDir });
}

// ---------------------------------------------------------------------------------------------
// apply

export interface NodeUpdate {
  readonly node: string;
  /** `unchanged`: nothing sent; `update`: an incremental transaction; `replace`: the whole table. */
  readonly kind: 'unchanged' | 'update' | 'replace';
  /** Operations of the update (chains filled, set elements changed, …). */
  readonly ops: number;
  readonly scriptBytes: number;
  readonly ms: number;
}

export interface ApplyResult {
  readonly session: Session;
  readonly nodes: readonly NodeUpdate[];
  readonly compileMs: number;
  readonly totalMs: number;
  /** Notes (what the kernel cannot enforce exactly) that this change introduced. */
  readonly notes: readonly string[];
}

/**
 * Replaces the lab's policy with that of `sources` (the new desired state: all manifests, as for
 * `up`): one incremental transaction per node. The workloads and their addresses must stay the
 * same; labels may change. A node whose transaction fails changes nothing, and nodes already
 * updated are rolled back, so the lab never runs half of a change.
 */
export interface ApplySessionOptions {
  /**
   * `upsert` (the default): the sources' resources are added to the running state or replace the
   * same resources in it; everything else stays. `replace`: the sources are the whole new state.
   */
  readonly mode?: 'upsert' | 'replace';
}

export async function applySession(session: Session, changed: readonly ManifestSource[], opts: ApplySessionOptions = {}): Promise<Result<ApplyResult>> {
  const t0 = performance.now();
  const unlock = lockSession(session.runDir);
  if (typeof unlock === 'string') return fail([diag('lab-session/locked', unlock)]);
  try {
    // Re-read under the lock: another process may have applied since this session was attached.
    const current = readSession(session.runDir, session.lab.labId);
    if (current === undefined || current instanceof Error) return fail([diag('lab-session/no-session', `lab "${session.lab.labId}" lost its session record`)]);
    const nextLayer = Math.max(0, ...current.sources.map((s) => s.layer ?? 0)) + 1;
    const sources: readonly ManifestSource[] =
      (opts.mode ?? 'upsert') === 'replace'
        ? changed.map((s) => ({ file: s.file, text: s.text }))
        : [...current.sources, ...changed.map((s) => ({ file: s.file, text: s.text, layer: nextLayer }))];
    const built = buildFromSources(sources, current.podCidr);
    if (hasErrors(built.diagnostics)) return fail(built.diagnostics);
    const warnings = built.diagnostics.filter((d) => d.severity !== 'info');
    const mismatch = sameEndpoints(built.cluster, current);
    if (mismatch.length > 0) return fail([...warnings, ...mismatch]);

    const tc = performance.now();
    const nodes = session.lab.plan.nodes.map((n) => n.name);
    const compiled = compileSession(built.cluster, nodes, current.placement, current.table);
    if (!compiled.ok) return fail(compiled.diagnostics);
    const compileMs = since(tc);

    const plans = nodes.map((node) => {
      const prev = current.rulesets[node];
      const next = compiled.value[node]!;
      const d = diffRulesets(prev, next);
      return { node, prev, next, diff: d, script: renderNftUpdate(d) };
    });
    const results = await Promise.all(
      plans.map(async (p): Promise<{ update: NodeUpdate; ok: boolean; ds: readonly Diagnostic[] }> => {
        const t = performance.now();
        const kind = p.diff.kind === 'replace' ? 'replace' : p.script === '' ? 'unchanged' : 'update';
        const ops = p.diff.kind === 'replace' ? 1 : p.diff.ops.length;
        if (kind === 'unchanged') return { update: { node: p.node, kind, ops: 0, scriptBytes: 0, ms: 0 }, ok: true, ds: [] };
        const r = await session.executor.apply(p.node, p.script);
        const update = { node: p.node, kind, ops, scriptBytes: Buffer.byteLength(p.script), ms: since(t) } as const;
        return { update, ok: r.ok, ds: r.diagnostics.map((d) => ({ ...d, message: `node ${p.node}: ${d.message}` })) };
      }),
    );
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
      // Put the nodes that did change back to what the record says they hold.
      const rollback: Diagnostic[] = [];
      for (const [i, r] of results.entries()) {
        const p = plans[i]!;
        if (!r.ok || r.update.kind === 'unchanged') continue;
        const back = await session.executor.apply(p.node, renderNftUpdate(diffRulesets(p.next, p.prev ?? p.next)));
        if (!back.ok) rollback.push(diag('lab-session/rollback-failed', `node ${p.node} could not be rolled back: ${back.diagnostics.map((d) => d.message).join('; ')}`));
      }
      return fail([...failed.flatMap((r) => r.ds), ...rollback]);
    }
    const record: SessionRecord = {
      ...current,
      updatedAt: new Date().toISOString(),
      generation: current.generation + 1,
      sources: sources.map((s) => (s.layer === undefined ? { file: s.file, text: s.text } : { file: s.file, text: s.text, layer: s.layer })),
      rulesets: compiled.value,
    };
    writeSession(session.runDir, record);
    writeDnsBindings(session.lab, compiled.value, current.table);
    return ok(
      {
        session: { ...session, record, cluster: built.cluster },
        nodes: results.map((r) => r.update),
        compileMs,
        totalMs: since(t0),
        // Only what this change brought: the rest was said at `up` or by an earlier apply.
        notes: rulesetNotes(compiled.value).filter((n) => !rulesetNotes(current.rulesets).includes(n)),
      },
      warnings,
    );
  } finally {
    unlock();
  }
}

// ---------------------------------------------------------------------------------------------
// down


/** Ports a session's workloads listen on, by endpoint id. */
export function listenersOf(session: Session): ReadonlyMap<string, readonly LabPort[]> {
  return new Map(session.lab.plan.workloads.map((w) => [w.id, w.ports]));
}
