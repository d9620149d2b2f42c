// A node's flow collector: runs ulogd2 (NFLOG group → JSON lines) and `conntrack -E` inside the
// node's network namespace as child processes (Node cannot setns), dumps conntrack counters
// periodically, joins the streams (join.ts), attributes them (attribute.ts) and hands FlowRecords
// to `onRecords` every flush interval. Independent of the lab: the lab runs one per node through
// its namespace-checked `ip netns exec` wrapper, a node agent runs one in its own namespace.
//
//   ip netns exec NS ulogd -c CONF ─unix socket: JSON lines─► parseUlogdJson ─┐
//   ip netns exec NS conntrack -E -o extended,id,timestamp ─► parse ──────┼─► joiner ─flush─► recordsOf ─► onRecords
//   ip netns exec NS conntrack -L -o extended,id   (before every flush) ────────┘
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseProvenance } from '../dataplane/ir.ts';
import { DEFAULT_DECISION_GROUP } from '../dataplane/ir.ts';
import type { Cluster } from '../engine/index.ts';
import type { FlowRecord } from '../flows/record.ts';
import { classifyProvenance } from './attribute.ts';
import type { DecisionTable } from './attribute.ts';
import { createFlowJoiner } from './join.ts';
import type { DecisionClass } from './join.ts';
import { parseConntrackLine, parseUlogdJson } from './kernel-events.ts';
import { recordsOf } from './records.ts';

export const DEFAULT_ULOGD = '/usr/sbin/ulogd';
export const DEFAULT_CONNTRACK = '/usr/sbin/conntrack';
export const DEFAULT_ULOGD_PLUGINS = '/usr/lib/x86_64-linux-gnu/ulogd';

export interface FlowCollectorOptions {
  /** Node name written into every record. */
  readonly node: string;
  /**
   * The network namespace to collect in (the node's); undefined: the collector's own. Programs
   * then run as `wrap([...])`, by default `ip netns exec NETNS …`.
   */
  readonly netns?: string | undefined;
  /**
   * Turns a program's argv into the full argv that runs it in `netns` (the lab passes its
   * namespace-checked `ip netns exec` wrapper). Default: `['ip', 'netns', 'exec', netns, …argv]`.
   */
  readonly wrap?: (argv: readonly string[]) => readonly string[];
  /** Where ulogd's configuration and socket go (default: a new directory under the system's temp dir). */
  readonly workDir?: string;
  /** nflog group the ruleset records decisions to. Default 1. */
  readonly group?: number;
  /** The decision table (id → provenance) of the ruleset the kernel holds now; read at every flush. */
  readonly ruleTable: () => DecisionTable;
  /** The cluster the engine explains with; read at every flush. */
  readonly cluster: () => Cluster | undefined;
  readonly onRecords: (records: readonly FlowRecord[]) => void;
  /** Something went wrong that does not stop collection (an unreadable line, a child's complaint). */
  readonly onWarning?: (message: string) => void;
  /** Default 5000 ms. */
  readonly flushIntervalMs?: number;
  readonly ulogdPath?: string;
  readonly conntrackPath?: string;
  readonly ulogdPluginDir?: string;
}

export interface FlowCollectorStats {
  readonly nflogEvents: number;
  readonly conntrackEvents: number;
  readonly badLines: number;
  readonly records: number;
  readonly held: number;
  /** ulogd / conntrack restarts after an unexpected exit. */
  readonly restarts: number;
}

export interface FlowCollector {
  /** Resolves once ulogd has bound the group and conntrack listens; an error message otherwise. */
  readonly ready: Promise<string | undefined>;
  /** Dumps conntrack's counters, joins and reports now (besides the interval). */
  flush(): Promise<void>;
  /**
   * Reads `ruleTable()` now instead of at the next flush. Decisions are classified as they
   * arrive, so a node agent calls this before it applies a ruleset with new ids: an id logged
   * before the collector knows it is not attributed.
   */
  learnTable(): void;
  stop(): Promise<void>;
  /** PIDs of the child processes (as spawned: `ip`, which execs the program in the namespace). */
  pids(): number[];
  stats(): FlowCollectorStats;
}

export function ulogdConfig(group: number, pluginDir: string, socket: string, logfile: string): string {
  const plugin = (name: string): string => `plugin="${join(pluginDir, name)}"`;
  return [
    '[global]',
    // `-v` copies messages to stderr (read as warnings); ulogd opens its logfile all the same, and
    // would take "stderr" for a file name in its working directory.
    `logfile="${logfile}"`,
    // Errors only (ulogd: 1 debug … 7 error, 8 fatal); `-v` sends them to stderr, which the collector reads.
    'loglevel=7',
    plugin('ulogd_inppkt_NFLOG.so'),
    plugin('ulogd_raw2packet_BASE.so'),
    plugin('ulogd_filter_IFINDEX.so'),
    plugin('ulogd_filter_IP2STR.so'),
    plugin('ulogd_output_JSON.so'),
    'stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,json1:JSON',
    '',
    '[log1]',
    `group=${group}`,
    // Headers are all the collector reads: copy 128 bytes of each packet, not all of it.
    'copy_range=128',
    // The kernel batches nflog messages (by default up to 100 packets or 1 s): deliver within
    // 100 ms, and in batches of up to 64 under load.
    'netlink_qthreshold=64',
    'netlink_qtimeout=10',
    // Bursts of new connections must not overflow the socket ("We are losing events").
    'netlink_socket_buffer_size=1048576',
    'netlink_socket_buffer_maxsize=8388608',
    '',
    '[json1]',
    // One line per packet, flushed as written, to the collector's unix socket: a path crosses
    // namespaces, and Node's child stdio (a socketpair) cannot be opened as ulogd's output file.
    'sync=1',
    'mode="unix"',
    `file="${socket}"`,
    '',
  ].join('\n');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function createFlowCollector(opts: FlowCollectorOptions): FlowCollector {
  const group = opts.group ?? DEFAULT_DECISION_GROUP;
  const flushMs = opts.flushIntervalMs ?? 5000;
  const ulogd = opts.ulogdPath ?? DEFAULT_ULOGD;
  const conntrack = opts.conntrackPath ?? DEFAULT_CONNTRACK;
  const warn = opts.onWarning ?? ((): void => undefined);
  const wrap = (argv: readonly string[]): { cmd: string; args: string[] } => {
    const full = opts.wrap !== undefined ? opts.wrap(argv) : opts.netns !== undefined ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
    return { cmd: full[0]!, args: full.slice(1) };
  };

  // The joiner classifies with every table it has seen: a connection decided before a policy
  // change still resolves after it (ids are hashes of provenance, so old ids stay meaningful).
  const known = new Map<string, { text: string; cls: DecisionClass | undefined }>();
  const learn = (table: DecisionTable): void => {
    for (const [id, text] of table) if (!known.has(id)) known.set(id, { text, cls: classifyProvenance(parseProvenance(text)) });
  };
  learn(opts.ruleTable());
  const joiner = createFlowJoiner({ classify: (id) => known.get(id)?.cls });
  const warnedUnknown = new Set<string>();
  const stats = { nflogEvents: 0, conntrackEvents: 0, badLines: 0, records: 0, restarts: 0 };
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  let stopped = false;
  let lastFlush = Date.now();

  // After a successful start, a child that exits is started again (1 s, doubling to 30 s; the
  // delay resets after a minute of running): a node agent's collector must outlive a crash of
  // ulogd or conntrack. What was logged while it was down is lost, and said so.
  let running = false;
  let exitedAtStart = false;
  /** A work directory the collector made itself, removed by stop(). */
  let ownWorkDir: string | undefined;
  const timers = new Set<NodeJS.Timeout>();
  const start = (argv: readonly string[], onLine: (line: string) => void, name: string, delayMs = 1000): ChildProcess => {
    const { cmd, args } = wrap(argv);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const startedAt = Date.now();
    children.push(child);
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', (l) => {
      // conntrack -E reports the end of its event stream this way on SIGTERM; not a problem.
      if (l.trim() !== '' && !/flow events have been shown/.test(l)) warn(`${name}: ${l}`);
    });
    child.on('exit', (code, signal) => {
      const i = children.indexOf(child);
      if (i >= 0) children.splice(i, 1);
      if (stopped) return;
      if (!running) {
        exitedAtStart = true;
        warn(`${name} exited (${code ?? signal ?? '?'})`);
        return;
      }
      const delay = Date.now() - startedAt > 60_000 ? 1000 : delayMs;
      warn(`${name} exited (${code ?? signal ?? '?'}); starting it again in ${delay} ms (events meanwhile are lost)`);
      stats.restarts++;
      const t = setTimeout(() => {
        timers.delete(t);
        if (!stopped) start(argv, onLine, name, Math.min(30_000, delay * 2));
      }, delay);
      timers.add(t);
    });
    child.on('error', (e) => warn(`${name}: ${e.message}`));
    return child;
  };

  const onUlogd = (line: string): void => {
    const r = parseUlogdJson(line);
    if (!r.ok) {
      stats.badLines++;
      warn(`ulogd: ${r.error}`);
      return;
    }
    if (r.value === undefined) return;
    stats.nflogEvents++;
    joiner.addNflog(r.value);
  };
  const onConntrack = (line: string): void => {
    if (line.trim() === '' || /^conntrack v/.test(line)) return;
    const r = parseConntrackLine(line);
    if (!r.ok) {
      stats.badLines++;
      warn(`conntrack: ${r.error}: ${line}`);
      return;
    }
    stats.conntrackEvents++;
    joiner.addConntrack(r.value);
  };

  const report = (): void => {
    const now = Date.now();
    const table = opts.ruleTable();
    learn(table);
    const observed = joiner.flush(now);
    for (const o of observed) {
      for (const id of o.unknownDecisions) {
        if (warnedUnknown.has(id)) continue;
        warnedUnknown.add(id);
        warn(`decision id ${id} is in no decision table this collector was given (a ruleset it was not told about?); its packets are not attributed`);
      }
    }
    if (observed.length === 0) {
      lastFlush = now;
      return;
    }
    const resolved = new Map([...known].map(([id, k]) => [id, k.text]));
    const records = recordsOf(observed, { node: opts.node, table: resolved, cluster: opts.cluster(), startMs: lastFlush, endMs: now });
    lastFlush = now;
    stats.records += records.length;
    if (records.length === 0) return;
    try {
      opts.onRecords(records);
    } catch (e) {
      // The consumer's failure (a full disk, a closed spool) must not stop collection.
      warn(`onRecords failed, ${records.length} record(s) dropped: ${(e as Error).message}`);
    }
  };

  // Counters of live entries: conntrack events carry them only on DESTROY, and a TCP entry
  // lingers in TIME_WAIT for two minutes. Every report is preceded by a dump, so its counters
  // are current.
  const dump = (): Promise<void> =>
    new Promise((resolve) => {
      const { cmd, args } = wrap([conntrack, '-L', '-o', 'extended,id']);
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
      const rl = createInterface({ input: child.stdout });
      rl.on('line', onConntrack);
      child.on('error', () => resolve());
      rl.on('close', () => resolve());
    });

  let inFlight: Promise<void> | undefined;
  const flush = (): Promise<void> => {
    // One flush at a time; a request during one waits for it and then runs its own.
    const run = async (): Promise<void> => {
      await dump();
      report();
    };
    const next = (inFlight ?? Promise.resolve()).then(run, run);
    inFlight = next;
    return next;
  };

  const ready = (async (): Promise<string | undefined> => {
    const workDir = opts.workDir ?? (ownWorkDir = mkdtempSync(join(tmpdir(), 'strata-flowlog-')));
    mkdirSync(workDir, { recursive: true, mode: 0o700 });
    const conf = join(workDir, 'ulogd.conf');
    const socket = join(workDir, 'ulogd.sock');
    rmSync(socket, { force: true });
    if (Buffer.byteLength(socket) > 107) return `socket path ${socket} is longer than a unix socket path may be (107 bytes)`;
    writeFileSync(conf, ulogdConfig(group, opts.ulogdPluginDir ?? DEFAULT_ULOGD_PLUGINS, socket, join(workDir, 'ulogd.log')), { mode: 0o600 });
    const server = createServer((conn) => {
      conn.on('error', () => undefined);
      createInterface({ input: conn }).on('line', onUlogd);
    });
    servers.push(server);
    const listening = await new Promise<string | undefined>((resolve) => {
      server.once('error', (e) => resolve(`cannot listen on ${socket}: ${e.message}`));
      server.listen(socket, () => resolve(undefined));
    });
    if (listening !== undefined) return listening;
    // Accounting is per namespace and applies to entries created after it is on.
    const acct = await runOnce(wrap(['sysctl', '-qw', 'net.netfilter.nf_conntrack_acct=1']));
    if (acct !== 0) return `cannot enable net.netfilter.nf_conntrack_acct in ${opts.netns ?? 'this namespace'} (is nf_conntrack loaded?)`;
    start([conntrack, '-E', '-e', 'NEW,DESTROY', '-o', 'extended,id,timestamp'], onConntrack, 'conntrack');
    start([ulogd, '-v', '-c', conf], () => undefined, 'ulogd');
    // ulogd is listening once the group appears in the namespace's nfnetlink_log table.
    for (let i = 0; i < 100; i++) {
      if (stopped) return 'stopped';
      const bound = await groupBound(wrap, group);
      if (bound) {
        running = true;
        return undefined;
      }
      if (exitedAtStart) return 'ulogd or conntrack exited at start';
      await sleep(50);
    }
    return `ulogd did not bind nflog group ${group} within 5 s`;
  })();

  const flushTimer = setInterval(() => void flush(), flushMs);
  flushTimer.unref();

  return {
    ready,
    flush,
    learnTable: () => learn(opts.ruleTable()),
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      clearInterval(flushTimer);
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
      for (const s of servers) s.close();
      if (ownWorkDir !== undefined) rmSync(ownWorkDir, { recursive: true, force: true });
    },
    pids: () => children.flatMap((c) => (c.pid === undefined ? [] : [c.pid])),
    stats: () => ({ ...stats, held: joiner.size() }),
  };
}

function runOnce(c: { cmd: string; args: string[] }): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(c.cmd, c.args, { stdio: 'ignore' });
    child.on('error', () => resolve(-1));
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

/** Whether some process in the namespace has bound nflog `group` (/proc/net/netfilter/nfnetlink_log). */
async function groupBound(wrap: (argv: readonly string[]) => { cmd: string; args: string[] }, group: number): Promise<boolean> {
  const c = wrap(['cat', '/proc/net/netfilter/nfnetlink_log']);
  return new Promise((resolve) => {
    const child = spawn(c.cmd, c.args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    child.stdout.on('data', (b: Buffer) => (text += b.toString('utf8')));
    child.on('error', () => resolve(false));
    child.on('exit', () => resolve(text.split('\n').some((l) => Number(l.trim().split(/\s+/)[0]) === group && l.trim() !== '')));
  });
}
