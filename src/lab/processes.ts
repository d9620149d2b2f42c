// Processes the lab started (agents, their socat children): identified by PID plus the kernel's
// start time, so a recorded PID that was reused by an unrelated process after a crash or reboot
// is never signalled. Only ever signals single PIDs; never by name, never a group.
import { readFileSync } from 'node:fs';

interface ProcStat {
  readonly state: string;
  /** Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
  readonly startTime: string;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    const startTime = rest[19];
    return state === undefined || startTime === undefined ? undefined : { state, startTime };
  } catch {
    return undefined;
  }
}

/** The start time that, with the PID, identifies a process; undefined when it is gone. */
export function processStartTime(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}

/** Running (not gone, not a zombie waiting to be reaped). */
export function isRunning(pid: number): boolean {
  const s = readStat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

/** The command line of a process, NUL-separated arguments joined by spaces. */
export function processCommandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** True when `pid` is still the very process that was recorded with `startTime`. */
export function isSameProcess(pid: number, startTime: string | undefined): boolean {
  const s = readStat(pid);
  if (s === undefined || s.state === 'Z') return false;
  return startTime === undefined || s.startTime === startTime;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until none of `pids` is running; returns those still running at the deadline. */
export async function waitGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter(isRunning);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(20);
    left = left.filter(isRunning);
  }
  return left;
}

/**
 * Ends processes the lab started: SIGTERM, then SIGKILL after `graceMs`. Each is checked to be
 * the recorded process (PID + start time) right before it is signalled.
 */
export async function endProcesses(
  procs: readonly { readonly pid: number; readonly startTime?: string | undefined }[],
  graceMs = 1000,
): Promise<{ readonly ended: number[]; readonly stuck: number[] }> {
  const targets = procs.filter((p) => isSameProcess(p.pid, p.startTime));
  for (const p of targets) signal(p.pid, 'SIGTERM');
  const left = await waitGone(
    targets.map((p) => p.pid),
    graceMs,
  );
  for (const pid of left) {
    const p = targets.find((t) => t.pid === pid);
    if (p !== undefined && isSameProcess(p.pid, p.startTime)) signal(pid, 'SIGKILL');
  }
  const stuck = await waitGone(left, 2000);
  return { ended: targets.map((p) => p.pid).filter((pid) => !stuck.includes(pid)), stuck };
}
