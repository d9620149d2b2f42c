// The lab's flow collector daemon: one detached process per lab (started by `strata lab up`,
// ended by PID at `lab down`) running a flowlog collector for every node's namespace, so the
// lab shows what a node agent will: the kernel's own decisions, joined with conntrack's counters,
// the engine's explanation beside them. Records are appended to `<runDir>/flows.jsonl`.
//
//   node flow-daemon.ts LAB_ID STATE_DIR      (ready line on fd 3, like the lab's agents)
//   SIGUSR1: flush every collector now, then touch <runDir>/flows.flushed
//   SIGTERM: stop the collectors (their ulogd/conntrack children), exit
//
// The engine and the decision tables follow `lab apply`: the session record is re-read when its
// generation changes.
import { appendFileSync, closeSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createFlowCollector, decisionTableOf } from '../flowlog/index.ts';
import type { DecisionTable, FlowCollector } from '../flowlog/index.ts';
import type { Cluster } from '../engine/index.ts';
import { findProgram, netnsExecArgv, nodeNamespace } from '../lab/index.ts';
import { attachSession, buildFromSources } from './session.ts';
import { readSession, sessionPathOf } from './store.ts';
import { FLOWS_FILE, FLUSHED_FILE } from './flow-collection.ts';

const [labId, stateDir] = process.argv.slice(2);
const ready = (msg: Record<string, unknown>): void => {
  try {
    writeSync(3, `${JSON.stringify(msg)}\n`);
    closeSync(3);
  } catch {
    // started without a readiness pipe (by hand): nothing to tell
  }
};
const log = (m: string): void => void process.stderr.write(`${new Date().toISOString()} ${m}\n`);

async function main(): Promise<void> {
  if (labId === undefined || stateDir === undefined) {
    ready({ ready: false, pid: process.pid, error: 'usage: flow-daemon.ts LAB_ID STATE_DIR' });
    process.exit(2);
  }
  const attached = attachSession(labId, { stateDir });
  if (!attached.ok) {
    ready({ ready: false, pid: process.pid, error: attached.diagnostics.map((d) => d.message).join('; ') });
    process.exit(1);
  }
  const session = attached.value;
  const runDir = session.runDir;
  const flushMs = Number(process.env['STRATA_FLOW_FLUSH_MS'] ?? 2000);
  let generation = session.record.generation;
  let cluster: Cluster = session.cluster;
  let table: DecisionTable = decisionTableOf(Object.values(session.record.rulesets));
  let seenMtime = 0;
  const refresh = (): void => {
    // The record holds every node's ruleset: read it only when it was rewritten.
    let mtime = 0;
    try {
      mtime = statSync(sessionPathOf(runDir)).mtimeMs;
    } catch {
      return;
    }
    if (mtime === seenMtime) return;
    seenMtime = mtime;
    const r = readSession(runDir, labId);
    if (r === undefined || r instanceof Error || r.generation === generation) return;
    const built = buildFromSources(r.sources, r.podCidr);
    cluster = built.cluster;
    table = decisionTableOf(Object.values(r.rulesets));
    generation = r.generation;
    log(`session generation ${generation}: engine and decision tables reloaded`);
  };
  const ip = findProgram('ip') ?? 'ip';
  const out = join(runDir, FLOWS_FILE);
  const collectors: FlowCollector[] = [];
  for (const node of session.lab.plan.nodes.map((n) => n.name)) {
    const ns = nodeNamespace(session.lab, node)!;
    collectors.push(
      createFlowCollector({
        node,
        netns: ns,
        wrap: (argv) => [ip, ...netnsExecArgv(labId, ns, argv)],
        workDir: join(runDir, 'flowlog', node),
        ruleTable: () => table,
        cluster: () => cluster,
        onRecords: (records) => appendFileSync(out, records.map((r) => `${JSON.stringify(r)}\n`).join(''), { mode: 0o600 }),
        onWarning: (m) => log(`${node}: ${m}`),
        flushIntervalMs: flushMs,
        ...(findProgram('ulogd') === undefined ? {} : { ulogdPath: findProgram('ulogd')! }),
        ...(findProgram('conntrack') === undefined ? {} : { conntrackPath: findProgram('conntrack')! }),
      }),
    );
  }
  const problems = (await Promise.all(collectors.map((c) => c.ready))).filter((p): p is string => p !== undefined);
  if (problems.length > 0) {
    await Promise.all(collectors.map((c) => c.stop()));
    ready({ ready: false, pid: process.pid, error: problems.join('; ') });
    process.exit(1);
  }
  const refreshTimer = setInterval(refresh, 1000);
  process.on('SIGUSR1', () => {
    refresh();
    void Promise.all(collectors.map((c) => c.flush())).then(() => writeFileSync(join(runDir, FLUSHED_FILE), new Date().toISOString(), { mode: 0o600 }));
  });
  const stop = async (): Promise<void> => {
    clearInterval(refreshTimer);
    await Promise.all(collectors.map((c) => c.flush()));
    await Promise.all(collectors.map((c) => c.stop()));
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  // The mtime of the output says "alive" to `lab flows`, even when nothing moved.
  writeFileSync(join(runDir, FLUSHED_FILE), new Date().toISOString(), { mode: 0o600 });
  log(`collecting on ${collectors.length} node(s), flush every ${flushMs} ms`);
  ready({ ready: true, pid: process.pid, nodes: collectors.length });
}

void main();
