// `strata agent --server URL --token T --node NAME [--netns NS]`: the per-node agent (src/agent),
// run until SIGINT/SIGTERM. Its HTTP endpoint (/healthz, /status, /metrics) listens on loopback.
import { startAgent } from '../../agent/index.ts';
import type { AgentPlugin } from '../../agent/index.ts';
import { createFlowPlugin, defaultFlowPaths, parseAggregation } from '../../agent/flow-plugin.ts';
import { agentRunDir } from '../../agent/run-file.ts';
import { dirname, join } from 'node:path';
import { createDnsBindingsPlugin } from '../../dns/agent-plugin.ts';
import { findProgram } from '../../lab/index.ts';
import type { TargetOptions } from '../config.ts';
import { EXIT, UsageError } from '../exit.ts';
import type { Io } from '../io.ts';
import { requireTarget } from '../remote.ts';
import { parseListen } from './server.ts';

export interface AgentCommandOptions extends TargetOptions {
  readonly node?: string | undefined;
  readonly netns?: string | undefined;
  readonly listen: string;
  readonly table?: string | undefined;
  readonly coalesceMs?: string | undefined;
  readonly reportInterval?: string | undefined;
  readonly resyncInterval?: string | undefined;
  readonly conntrack?: boolean | undefined;
  readonly runDir?: string | undefined;
  /** Bindings file of the node's DNS proxy (docs/dns.md). */
  readonly dnsBindings?: string | undefined;
  /** `--no-flow-log` sets it false. */
  readonly flowLog?: boolean | undefined;
  readonly flowSpool?: string | undefined;
  readonly flowAggregate?: string | undefined;
  readonly flowInterval?: string | undefined;
}

function intFlag(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return Number(v);
}

export async function runAgent(io: Io, opts: AgentCommandOptions, stop: Promise<void> = signalled()): Promise<number> {
  if (opts.node === undefined || opts.node === '') throw new UsageError('strata agent needs --node NAME (the node whose endpoints it programs)');
  if (opts.netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(opts.netns)) throw new UsageError(`--netns ${opts.netns}: not a network namespace name`);
  const { host, port } = parseListen(opts.listen);
  const coalesceMs = intFlag('coalesce-ms', opts.coalesceMs, 0, 1000);
  const reportSeconds = intFlag('report-interval', opts.reportInterval, 1, 3600);
  const resyncSeconds = intFlag('resync-interval', opts.resyncInterval, 0, 86_400);
  const flowInterval = intFlag('flow-interval', opts.flowInterval, 1, 3600);
  const aggregation = opts.flowAggregate === undefined ? undefined : parseAggregation(opts.flowAggregate);
  if (typeof aggregation === 'string') throw new UsageError(aggregation);
  const target = await requireTarget(opts);
  if (process.getuid?.() !== 0) io.err('strata agent: warning: not root — nft will fail to program the kernel');
  const ip = findProgram('ip');
  const nft = findProgram('nft');
  const conntrack = findProgram('conntrack');
  if (opts.conntrack !== false && conntrack === undefined) io.err('strata agent: warning: `conntrack` not found: flows that become denied keep their established connections');
  const plugins: AgentPlugin[] = [];
  if (opts.dnsBindings !== undefined) plugins.push(createDnsBindingsPlugin(opts.dnsBindings, (line) => io.err(`strata agent: ${line}`)));
  if (opts.flowLog !== false) {
    const missing = ['ulogd', 'conntrack', 'setpriv'].filter((p) => findProgram(p) === undefined);
    if (missing.length > 0) {
      io.err(`strata agent: warning: no flow log: missing ${missing.join(', ')} (Debian packages ulogd2, ulogd2-json, conntrack, util-linux); --no-flow-log silences this`);
    } else {
      const paths = defaultFlowPaths(agentRunDir(opts.runDir), opts.netns, opts.node);
      const spoolPath = opts.flowSpool ?? paths.spoolPath;
      plugins.push(
        createFlowPlugin({
          server: target.server,
          token: target.token,
          spoolPath,
          // Beside a spool given by hand, so one agent's files stay together.
          workDir: opts.flowSpool === undefined ? paths.workDir : join(dirname(spoolPath), `${opts.netns ?? `node-${opts.node}`}.flowlog`),
          aggregation,
          flushIntervalMs: flowInterval === undefined ? undefined : flowInterval * 1000,
          ipPath: ip,
          setprivPath: findProgram('setpriv'),
          ulogdPath: findProgram('ulogd'),
          conntrackPath: conntrack,
        }),
      );
    }
  }
  let agent;
  try {
    agent = await startAgent({
      target: { server: target.server, token: target.token },
      node: opts.node,
      netns: opts.netns,
      table: opts.table,
      listenHost: host,
      listenPort: port,
      coalesceMs,
      reportIntervalMs: reportSeconds === undefined ? undefined : reportSeconds * 1000,
      resyncIntervalMs: resyncSeconds === undefined ? undefined : resyncSeconds * 1000,
      runDir: opts.runDir,
      conntrack: opts.conntrack !== false && conntrack !== undefined,
      ipPath: ip,
      nftPath: nft,
      conntrackPath: conntrack,
      log: (line) => io.err(`strata ${line}`),
      plugins,
    });
  } catch (e) {
    io.err(`strata agent: ${(e as Error).message}`);
    return EXIT.USAGE;
  }
  io.err(`strata agent: node ${opts.node}${opts.netns === undefined ? '' : ` (netns ${opts.netns})`}: listening on ${agent.address} (/healthz /status /metrics); server ${target.server}`);
  await stop;
  io.err(`strata agent: stopping (the programmed rules stay in the kernel): ${agent.statusLine()}`);
  await agent.stop();
  return EXIT.OK;
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
