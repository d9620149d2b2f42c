// The agent's flow log: a flowlog collector in the node's namespace (ulogd2 for the nflog group the
// compiled rules log their decisions to, `conntrack -E` / `-L` for the connections and their
// counters), attributed with the decision table of the ruleset the kernel holds and the engine
// snapshot it enforces, aggregated per action, counted in the agent's /metrics and shipped to the
// server through the on-disk spool (src/flows/shipper.ts).
//
//   onStart ─► shipper (spool) + collector (ip netns exec NS setpriv --pdeathsig KILL ulogd|conntrack)
//   transformRuleset ─► the decision table of the ruleset about to be applied, learned before the
//                       kernel can log its ids (they are classified as they arrive); kept on disk
//                       (WORK_DIR/decisions.json), so a restarted agent attributes what the kernel
//                       logs before the server's state reaches it
//   collector.onRecords ─► metrics.observe ─► aggregateFlows(per action) ─► shipper.ship ─► POST /apis/strata/v1/flows
//   onStop ─► flush the collector, stop it, give the spool a moment to drain, close it
//
// The collector's children run under `setpriv --pdeathsig KILL` so that an agent killed with
// SIGKILL does not leave ulogd bound to the nflog group (a second listener on a group is refused,
// and the restarted agent's collector could not start).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createFlowCollector, decisionTableOf } from '../flowlog/index.ts';
import type { FlowCollector } from '../flowlog/index.ts';
import { aggregateFlows, DEFAULT_AGGREGATION } from '../flows/aggregate.ts';
import type { AggregationPolicy } from '../flows/aggregate.ts';
import { createFlowMetrics, registerShipperMetrics } from '../flows/metrics.ts';
import { aggregationSchema } from '../flows/record.ts';
import { httpTransport, openShipper } from '../flows/shipper.ts';
import type { Shipper } from '../flows/shipper.ts';
import { z } from 'zod';
import type { Ruleset } from '../dataplane/index.ts';
import type { AgentContext, AgentPlugin } from './plugins.ts';

const savedTableSchema = z.record(z.string(), z.string());

/** The decision table a previous run saved; empty when there is none or it is unreadable. */
function loadTable(path: string): Map<string, string> {
  try {
    const r = savedTableSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return r.success ? new Map(Object.entries(r.data)) : new Map();
  } catch {
    return new Map();
  }
}

export interface FlowPluginOptions {
  readonly server: string;
  readonly token?: string | undefined;
  /** The shipper's spool file. */
  readonly spoolPath: string;
  /** ulogd's configuration and socket (a unix socket path: keep it short). */
  readonly workDir: string;
  readonly aggregation?: AggregationPolicy | undefined;
  /** How often the collector reports (default 5000 ms). */
  readonly flushIntervalMs?: number | undefined;
  readonly ipPath?: string | undefined;
  readonly setprivPath?: string | undefined;
  readonly ulogdPath?: string | undefined;
  readonly conntrackPath?: string | undefined;
}

/** `--flow-spool` and the collector's directory default to files beside the agent's run file. */
export function defaultFlowPaths(runDir: string, netns: string | undefined, node: string): { spoolPath: string; workDir: string } {
  const base = netns ?? `node-${node}`;
  return { spoolPath: join(runDir, `${base}.flows.db`), workDir: join(runDir, `${base}.flowlog`) };
}

/**
 * `allow=LEVEL,deny=LEVEL` (either may be left out: Calico's default for it stays) → the policy,
 * or a message naming what is wrong.
 */
export function parseAggregation(spec: string): AggregationPolicy | string {
  const out = { ...DEFAULT_AGGREGATION };
  for (const part of spec.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^(allow|deny)=(.+)$/.exec(part);
    if (m === null) return `--flow-aggregate: "${part}" is not allow=LEVEL or deny=LEVEL`;
    const level = aggregationSchema.safeParse(m[2]);
    if (!level.success) return `--flow-aggregate: ${m[1]}=${m[2]}: the level is one of ${aggregationSchema.options.join(', ')}`;
    out[m[1] as 'allow' | 'deny'] = level.data;
  }
  return out;
}

export interface FlowPlugin extends AgentPlugin {
  /** The shipper, once started (tests and the status). */
  shipper(): Shipper | undefined;
}

export function createFlowPlugin(opts: FlowPluginOptions): FlowPlugin {
  const aggregation = opts.aggregation ?? DEFAULT_AGGREGATION;
  let ctx: AgentContext | undefined;
  let shipper: Shipper | undefined;
  let collector: FlowCollector | undefined;
  let problem: string | undefined;
  // Decision ids are hashes of provenance, so every table seen stays valid: a connection decided
  // before a policy change still resolves after it (the collector remembers them too).
  const tablePath = join(opts.workDir, 'decisions.json');
  let table = new Map<string, string>();
  let lastWarning: string | undefined;
  // Before the first programming the agent's engine is empty: no explanation beats a wrong one.
  let programmed = false;
  // The incremental compiler hands on the same decision table while no id came or went: then
  // there is nothing to learn (a node's table has one row per deciding rule: 10^5 at scale).
  let learnedFrom: Ruleset['decisions'] | undefined;
  const learn = (rs: Ruleset): void => {
    if (rs.decisions !== undefined && rs.decisions === learnedFrom) return;
    learnedFrom = rs.decisions;
    let next: Map<string, string> | undefined;
    for (const [id, p] of decisionTableOf([rs])) {
      if (table.get(id) === p) continue;
      next ??= new Map(table);
      next.set(id, p);
    }
    if (next === undefined) return;
    table = next;
    collector?.learnTable();
    try {
      writeFileSync(`${tablePath}.tmp`, JSON.stringify(Object.fromEntries(table)), { mode: 0o600 });
      renameSync(`${tablePath}.tmp`, tablePath);
    } catch (e) {
      ctx?.log(`flows: cannot save the decision table to ${tablePath}: ${(e as Error).message}`);
    }
  };

  return {
    name: 'flow-log',
    shipper: () => shipper,
    async onStart(c) {
      ctx = c;
      mkdirSync(dirname(opts.spoolPath), { recursive: true, mode: 0o700 });
      shipper = openShipper({
        spoolPath: opts.spoolPath,
        agent: c.node,
        send: httpTransport({ server: opts.server, token: opts.token }),
        log: (m) => c.log(`flows: ${m}`),
      });
      registerShipperMetrics(c.registry, shipper);
      const metrics = createFlowMetrics(c.registry);
      mkdirSync(opts.workDir, { recursive: true, mode: 0o700 });
      table = loadTable(tablePath);
      const rs = c.ruleset();
      if (rs !== undefined) learn(rs);
      const ip = opts.ipPath ?? 'ip';
      const setpriv = opts.setprivPath ?? 'setpriv';
      const guard = [setpriv, '--pdeathsig', 'KILL'];
      const started = createFlowCollector({
        node: c.node,
        netns: c.netns,
        wrap: (argv) => (c.netns === undefined ? [...guard, ...argv] : [ip, 'netns', 'exec', c.netns, ...guard, ...argv]),
        workDir: opts.workDir,
        ruleTable: () => table,
        cluster: () => (programmed ? ctx?.snapshot() : undefined),
        onRecords: (records) => {
          if (records.length === 0) return;
          metrics.observe(records);
          shipper?.ship(aggregateFlows(records, aggregation));
        },
        onWarning: (m) => {
          lastWarning = m;
          c.log(`flows: ${m}`);
        },
        ...(opts.flushIntervalMs === undefined ? {} : { flushIntervalMs: opts.flushIntervalMs }),
        ...(opts.ulogdPath === undefined ? {} : { ulogdPath: opts.ulogdPath }),
        ...(opts.conntrackPath === undefined ? {} : { conntrackPath: opts.conntrackPath }),
      });
      const why = await started.ready;
      if (why !== undefined) {
        // The agent's job is enforcement: without a collector it still programs, and says why
        // there are no flows (in its log and /status).
        problem = why;
        c.log(`flows: no flow log on this node: ${why}`);
        await started.stop();
        return;
      }
      collector = started;
    },
    // Pure as far as the ruleset goes (returned unchanged); learning ids of a ruleset that then
    // fails to apply is harmless (an id is a hash of its provenance, the same wherever it is used).
    transformRuleset(rs) {
      learn(rs);
      return rs;
    },
    onProgrammed(update) {
      if (update.outcome.kind !== 'failed') programmed = true;
    },
    async onStop() {
      if (collector !== undefined) {
        await collector.flush();
        await collector.stop();
      }
      if (shipper !== undefined) {
        await shipper.flush(2000);
        await shipper.close();
      }
    },
    summary() {
      if (collector === undefined) return `off: ${problem ?? 'not started'}`;
      const s = shipper?.stats();
      const k = collector.stats();
      return `collecting: ${k.records} records, ${s?.sent.records ?? 0} shipped, ${s?.spooled.records ?? 0} spooled${(s?.droppedRecords ?? 0) > 0 ? `, ${s!.droppedRecords} dropped` : ''}${k.restarts > 0 ? `, ${k.restarts} restarts` : ''}${s?.lastError ? `; last error: ${s.lastError}` : ''}`;
    },
    status() {
      const s = shipper?.stats();
      const k = collector?.stats();
      return {
        collecting: collector !== undefined,
        ...(problem === undefined ? {} : { problem }),
        ...(k === undefined ? {} : { collector: k }),
        ...(lastWarning === undefined ? {} : { lastWarning }),
        ...(s === undefined ? {} : { spool: s.spooled, sent: s.sent, dropped: s.droppedRecords, rejected: s.rejectedRecords, retries: s.retries, lastError: s.lastError }),
      };
    },
  };
}
