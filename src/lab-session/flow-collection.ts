// Flow collection for a lab session: starting the lab's collector daemon (flow-daemon.ts) as a
// detached process whose PID the lab state records, and reading what it collected.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import { flowRecordSchema } from '../flows/record.ts';
import type { FlowRecord } from '../flows/record.ts';
import { findProgram, labProcesses, processStartTime, recordLabProcess } from '../lab/index.ts';
import type { Session } from './session.ts';

export const FLOWS_FILE = 'flows.jsonl';
export const FLUSHED_FILE = 'flows.flushed';
export const COLLECTOR_ROLE = 'flow-collector';
const DAEMON_PATH = fileURLToPath(new URL('./flow-daemon.ts', import.meta.url));
const DAEMON_MARKER = 'flow-daemon.ts';

function diag(code: string, message: string, help?: string): Diagnostic {
  return help === undefined ? { code, severity: 'error', message } : { code, severity: 'error', message, help };
}

/** Why flows cannot be collected on this machine (ulogd or conntrack missing), or undefined. */
export function flowCollectionUnavailableReason(): string | undefined {
  const missing = ['ulogd', 'conntrack'].filter((p) => findProgram(p) === undefined);
  return missing.length === 0 ? undefined : `missing program(s) ${missing.join(', ')} (Debian packages ulogd2, ulogd2-json, conntrack)`;
}

/** Starts the lab's flow collector daemon and records its PID in the lab state. */
export function startFlowCollection(session: Session, opts: { readonly timeoutMs?: number; readonly flushMs?: number } = {}): Promise<Result<{ pid: number }>> {
  const why = flowCollectionUnavailableReason();
  if (why !== undefined) return Promise.resolve(fail([diag('lab-session/no-flow-collection', why)]));
  const log = join(session.runDir, 'flow-collector.log');
  return new Promise((resolve) => {
    const fd = openSync(log, 'a', 0o600);
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', DAEMON_PATH, session.lab.labId, session.lab.stateDir], {
      detached: true,
      stdio: ['ignore', fd, fd, 'pipe'],
      env: { ...process.env, ...(opts.flushMs === undefined ? {} : { STRATA_FLOW_FLUSH_MS: String(opts.flushMs) }) },
    });
    closeSync(fd);
    const pipe = child.stdio[3] as Readable | null | undefined;
    let text = '';
    let done = false;
    const finish = (r: Result<{ pid: number }>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      pipe?.destroy();
      child.unref();
      resolve(r);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(fail([diag('lab-session/flow-collector-timeout', `the flow collector did not start within ${opts.timeoutMs ?? 20_000} ms (log: ${log})`)]));
    }, opts.timeoutMs ?? 20_000);
    child.on('exit', (code) => finish(fail([diag('lab-session/flow-collector-failed', `the flow collector exited (${String(code)}) before it was ready (log: ${log})`)])));
    pipe?.setEncoding('utf8');
    pipe?.on('error', () => undefined);
    pipe?.on('data', (s: string) => {
      text += s;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      let msg: { ready?: boolean; pid?: number; error?: string };
      try {
        msg = JSON.parse(text.slice(0, nl)) as typeof msg;
      } catch {
        finish(fail([diag('lab-session/flow-collector-failed', 'the flow collector wrote an unreadable readiness line')]));
        return;
      }
      if (msg.ready !== true || typeof msg.pid !== 'number') {
        finish(fail([diag('lab-session/flow-collector-failed', `the flow collector could not start: ${msg.error ?? 'unknown reason'} (log: ${log})`)]));
        return;
      }
      const startTime = processStartTime(msg.pid);
      const err = recordLabProcess(session.lab, { role: COLLECTOR_ROLE, pid: msg.pid, marker: DAEMON_MARKER, ...(startTime === undefined ? {} : { startTime }) });
      if (err !== undefined) {
        child.kill('SIGTERM');
        finish(fail([diag('lab-session/bad-state', err)]));
        return;
      }
      finish(ok({ pid: msg.pid }));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Asks the lab's collector to report what it holds now (SIGUSR1) and waits for it to finish
 * (its flush marker changes). False when no collector runs or it did not answer in time.
 */
export async function flushFlowCollection(session: Session, timeoutMs = 3000): Promise<boolean> {
  const procs = labProcesses(session.lab, COLLECTOR_ROLE);
  if (procs.length === 0) return false;
  const marker = join(session.runDir, FLUSHED_FILE);
  const before = existsSync(marker) ? statSync(marker).mtimeMs : 0;
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGUSR1');
    } catch {
      return false;
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(25);
    if (existsSync(marker) && statSync(marker).mtimeMs !== before) return true;
  }
  return false;
}

export function collectorRunning(session: Session): boolean {
  return labProcesses(session.lab, COLLECTOR_ROLE).length > 0;
}

/**
 * The records collected so far (oldest first), those whose interval ended at or after
 * `sinceMs`. A line that is not a flow record is an error naming file:line.
 */
export function readLabFlows(session: Session, sinceMs = 0): Result<FlowRecord[]> {
  const path = join(session.runDir, FLOWS_FILE);
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return fail([diag('lab-session/bad-flows', `cannot read ${path}: ${(e as Error).message}`)]);
  }
  const out: FlowRecord[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      return fail([diag('lab-session/bad-flows', `${path}:${i + 1}:1: not JSON: ${(e as Error).message}`)]);
    }
    const r = flowRecordSchema.safeParse(raw);
    if (!r.success) return fail([diag('lab-session/bad-flows', `${path}:${i + 1}:1: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`)]);
    if (Date.parse(r.data.endTime) >= sinceMs) out.push(r.data);
  }
  return ok(out);
}
