// `strata agent`: one per node. Lists then watches the node's view on the API server, feeds the
// live engine, and programs nftables for the node's workload endpoints — one atomic transaction
// per batch of changes. Fail-static: while the server is unreachable it keeps the last rules and
// retries with capped, jittered backoff. On start it replaces whatever the kernel holds in one
// transaction once it has the server's state, never before (no window, and a server down at
// start leaves the previous agent's rules enforcing).
//
//   watch-client ──► sync-loop (engine store, coalescer) ──► programmer (compile, diff, nft -f, conntrack)
//        │                  │                                      │
//        └─ connection ─────┴──► state ──► status-reporter (NodeStatus) · http (/healthz /status /metrics) · run file
import { STRATA_VERSION } from '../cli/version.ts';
import type { NodeStatusBody } from '../model/node-status.ts';
import { createConntrack, nsRunner } from './conntrack.ts';
import { startAgentHttp } from './http.ts';
import type { AgentHttp } from './http.ts';
import { createAgentMetrics } from './metrics.ts';
import type { AgentPlugin } from './plugins.ts';
import { countRules, createProgrammer, nodeEndpoints } from './programmer.ts';
import { agentRunDir, agentRunFilePath, claimRunFile } from './run-file.ts';
import type { RunFile } from './run-file.ts';
import { startStatusReporter } from './status-reporter.ts';
import type { StatusReporter } from './status-reporter.ts';
import { createSyncLoop } from './sync-loop.ts';
import type { SyncState } from './sync-loop.ts';
import { watchNodeView } from './watch-client.ts';
import type { ServerTarget, ViewWatcher } from './watch-client.ts';

export const DEFAULT_AGENT_TABLE = 'strata';

export interface AgentOptions {
  readonly target: ServerTarget;
  readonly node: string;
  /** Program this network namespace (`ip netns exec`); undefined: the agent's own. */
  readonly netns?: string | undefined;
  readonly table?: string | undefined;
  /** Loopback host and port of the agent's HTTP endpoint (port 0: any free one). */
  readonly listenHost?: string | undefined;
  readonly listenPort?: number | undefined;
  readonly coalesceMs?: number | undefined;
  readonly reportIntervalMs?: number | undefined;
  /** How often to check that the kernel still holds the programmed table (default 30 s; 0: never). */
  readonly resyncIntervalMs?: number | undefined;
  readonly backoffInitialMs?: number | undefined;
  readonly backoffMaxMs?: number | undefined;
  /** Where the run file goes (default /run/strata-agent, or $STRATA_AGENT_RUN_DIR). */
  readonly runDir?: string | undefined;
  /** Remove conntrack entries of flows that became denied (default true; needs `conntrack`). */
  readonly conntrack?: boolean | undefined;
  readonly ipPath?: string | undefined;
  readonly nftPath?: string | undefined;
  readonly conntrackPath?: string | undefined;
  readonly plugins?: readonly AgentPlugin[] | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

export interface Agent {
  /** `127.0.0.1:PORT` of /healthz, /status, /metrics. */
  readonly address: string;
  state(): SyncState;
  /** One line: node, state, revisions, and why it is not in sync. */
  statusLine(): string;
  stop(): Promise<void>;
}

export function formatStatusLine(node: string, s: SyncState, rules: number): string {
  const parts = [`node ${node}: ${s.state}`, `revision ${s.revision}${s.seenRevision > s.revision ? ` (seen ${s.seenRevision})` : ''}`, `${rules} rules`];
  if (!s.serverUp) parts.push(`server unreachable${s.serverError === undefined ? '' : `: ${s.serverError}`}${s.lastSync === undefined ? '' : '; keeping the last programmed rules'}`);
  if (s.lastError !== undefined) parts.push(`last error: ${s.lastError.split('\n')[0]!}`);
  return parts.join('; ');
}

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const table = opts.table ?? DEFAULT_AGENT_TABLE;
  const plugins = opts.plugins ?? [];
  const reportIntervalMs = opts.reportIntervalMs ?? 10_000;
  const metrics = createAgentMetrics(opts.node);
  const run = nsRunner(opts.netns, opts.ipPath);
  const transforms = plugins.flatMap((p) => (p.transformRuleset === undefined ? [] : [p.transformRuleset.bind(p)]));
  const programmer = createProgrammer({
    node: opts.node,
    table,
    run,
    conntrack: opts.conntrack === false ? undefined : createConntrack(run, opts.conntrackPath),
    ...(opts.nftPath === undefined ? {} : { nftPath: opts.nftPath }),
    ...(transforms.length === 0 ? {} : { transform: (rs) => transforms.reduce((r, f) => f(r), rs) }),
    onConntrackError: (m) => {
      metrics.error('conntrack');
      log(`agent ${opts.node}: conntrack: ${m}`);
    },
  });

  const runPath = agentRunFilePath(agentRunDir(opts.runDir), opts.netns, opts.node);
  const claimed = claimRunFile(runPath, { node: opts.node, ...(opts.netns === undefined ? {} : { netns: opts.netns }), listen: '', server: opts.target.server, state: 'syncing', revision: 0 });
  if (typeof claimed === 'string') throw new Error(claimed);
  const runFile: RunFile = claimed;

  let reporter: StatusReporter | undefined;
  let watcher: ViewWatcher | undefined;
  let http: AgentHttp | undefined;
  let lastLine = '';
  let lastReported = '';
  const rulesNow = (): number => countRules(programmer.held()).rules;
  const pluginStatus = (): Record<string, unknown> => Object.fromEntries(plugins.flatMap((p) => (p.status === undefined ? [] : [[p.name, p.status()]])));

  const loop = createSyncLoop({
    programmer,
    ...(opts.coalesceMs === undefined ? {} : { coalesceMs: opts.coalesceMs }),
    log: (m) => log(`agent ${opts.node}: ${m}`),
    onProgrammed: (outcome, cluster, revision, report) => {
      metrics.update(outcome.kind === 'failed' ? 'failed' : outcome.skipped === true ? 'skipped' : outcome.kind === 'unchanged' ? 'unchanged' : 'programmed');
      if (outcome.kind === 'failed') {
        metrics.error(outcome.diagnostics.some((d) => d.code === 'dataplane/nft-rejected') ? 'nft' : 'compile');
      } else if (outcome.kind !== 'unchanged') {
        metrics.observeApply(outcome.ms / 1000);
        const c = countRules(programmer.held());
        metrics.setProgrammed(c.rules, c.sets, nodeEndpoints(cluster, opts.node).endpoints.length);
      }
      for (const p of plugins) p.onProgrammed?.({ revision, outcome, cluster, report });
    },
    onSwept: (n) => metrics.conntrackDeleted(n),
    onStateChange: (s) => {
      metrics.setRevisions(s.revision, s.seenRevision);
      metrics.setServerUp(s.serverUp);
      runFile.update({ state: s.state, revision: s.revision });
      // Report health changes at once; a new revision goes out with the next heartbeat (a report
      // is itself a write that advances the revision: reporting every revision would never stop).
      const health = `${s.state}|${s.lastError ?? ''}`;
      if (health !== lastReported) reporter?.poke();
      lastReported = health;
      const line = formatStatusLine(opts.node, s, rulesNow());
      if (line !== lastLine) log(`agent ${line}`);
      lastLine = line;
    },
  });

  const summaries = (): Record<string, string> => Object.fromEntries(plugins.flatMap((p) => (p.summary === undefined ? [] : [[p.name, p.summary()]])));
  const statusBody = (): NodeStatusBody => {
    // The heartbeat also refreshes what the run file says of the plugins (lab status reads it).
    if (plugins.some((p) => p.summary !== undefined)) runFile.update({ plugins: summaries() });
    const s = loop.state();
    const c = countRules(programmer.held());
    return {
      agentVersion: STRATA_VERSION,
      state: s.state,
      revision: s.revision,
      seenRevision: s.seenRevision,
      ...(s.lastSync === undefined ? {} : { lastSync: s.lastSync }),
      heartbeat: new Date().toISOString(),
      reportIntervalSeconds: reportIntervalMs / 1000,
      ...(s.lastError === undefined ? {} : { lastError: s.lastError.slice(0, 4096) }),
      ...(opts.netns === undefined ? {} : { netns: opts.netns }),
      endpoints: nodeEndpoints(loop.cluster(), opts.node).endpoints.length,
      rules: c.rules,
      sets: c.sets,
    };
  };

  try {
    http = await startAgentHttp({
      host: opts.listenHost ?? '127.0.0.1',
      port: opts.listenPort ?? 0,
      registry: metrics.registry,
      status: () => {
        const s = loop.state();
        return { healthy: s.state === 'in-sync', line: formatStatusLine(opts.node, s, rulesNow()), json: { node: opts.node, netns: opts.netns ?? null, ...s, rules: rulesNow(), plugins: pluginStatus() } };
      },
    });
    runFile.update({ listen: http.address });
    const kernel = await programmer.inspect();
    if (kernel.tableFound) log(`agent ${opts.node}: table inet ${table} holds ${kernel.rules} rules from a previous run; they stay until the server's state replaces them in one transaction`);
    const ctx = {
      node: opts.node,
      netns: opts.netns,
      table,
      snapshot: () => loop.cluster(),
      ruleset: () => programmer.held(),
      revision: () => loop.state().revision,
      registry: metrics.registry,
      log: (line: string) => log(`agent ${opts.node}: ${line}`),
    };
    for (const p of plugins) await p.onStart?.(ctx);
    if (plugins.some((p) => p.summary !== undefined)) runFile.update({ plugins: summaries() });
  } catch (e) {
    await http?.close();
    runFile.remove();
    throw e;
  }

  reporter = startStatusReporter({
    target: opts.target,
    node: opts.node,
    intervalMs: reportIntervalMs,
    body: statusBody,
    onError: () => metrics.error('status-report'),
  });
  watcher = watchNodeView({
    target: opts.target,
    node: opts.node,
    ...(opts.backoffInitialMs === undefined ? {} : { initialMs: opts.backoffInitialMs }),
    ...(opts.backoffMaxMs === undefined ? {} : { maxMs: opts.backoffMaxMs }),
    handlers: {
      onSnapshot: (items, rv) => {
        metrics.listed();
        loop.snapshot(items, rv);
      },
      onEvents: (events, rv) => loop.events(events, rv),
      onRevision: (rv) => loop.revision(rv),
      onConnection: (up, error) => {
        if (!up) metrics.error('server');
        loop.connection(up, error);
      },
    },
  });

  const resyncMs = opts.resyncIntervalMs ?? 30_000;
  const resyncTimer =
    resyncMs > 0
      ? setInterval(() => {
          loop.resync().then(
            (same) => {
              if (!same) metrics.error('drift');
            },
            (e: unknown) => log(`agent ${opts.node}: resync: ${(e as Error).message}`),
          );
        }, resyncMs)
      : undefined;

  const address = http.address;
  return {
    address,
    state: () => loop.state(),
    statusLine: () => formatStatusLine(opts.node, loop.state(), rulesNow()),
    async stop() {
      if (resyncTimer !== undefined) clearInterval(resyncTimer);
      watcher?.stop();
      await watcher?.done;
      await loop.idle();
      loop.close();
      await reporter?.stop();
      for (const p of plugins) await p.onStop?.();
      await http?.close();
      runFile.remove();
    },
  };
}
