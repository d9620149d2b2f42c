// What a lab session remembers between commands, beside the island's own state: the manifests
// exactly as they were loaded (so later commands rebuild the same engine even if the files have
// changed since), the options that shaped the lab, where each endpoint runs, and — per node —
// the ruleset the kernel holds (the `prev` of the next incremental update). It lives in the
// lab's run directory, `/run/strata-lab/<labId>/session.json`, so `downLab` removes it with
// everything else; it is written atomically (temp file + rename).
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Ruleset } from '../dataplane/index.ts';
import type { LabExternal, LabPort } from '../lab/index.ts';

export interface ManifestSource {
  /** The file name spans use (`-` for stdin). */
  readonly file: string;
  readonly text: string;
  /**
   * Which apply brought it (0 = `up` or the last full-state apply): a resource in a later layer
   * replaces the same resource (kind, namespace, name) of an earlier one, as an upsert does.
   */
  readonly layer?: number;
}

export interface SessionRecord {
  readonly version: 1;
  readonly labId: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Counts applies: 1 after `up`. */
  readonly generation: number;
  readonly podCidr: string;
  readonly nodeCount: number;
  /** nft table name on every node. */
  readonly table: string;
  /** Extra listeners (beyond declared ports) and externals asked for at `up`. */
  readonly extraPorts: Readonly<Record<string, readonly LabPort[]>>;
  readonly externals: readonly LabExternal[];
  /** The manifests of the policy now programmed, in load order. */
  readonly sources: readonly ManifestSource[];
  /** Node of every lab workload. */
  readonly placement: Readonly<Record<string, string>>;
  /** Addresses of every lab workload, as planned: a rebuilt engine must agree. */
  readonly addresses: Readonly<Record<string, readonly string[]>>;
  /** Per node, the ruleset its kernel holds (the last one applied successfully); empty for an agent lab. */
  readonly rulesets: Readonly<Record<string, Ruleset>>;
  /** Present for a lab built with `--server`: policy comes from this server through per-node agents. */
  readonly controlPlane?: { readonly server: string };
}

export function sessionPathOf(runDir: string): string {
  return join(runDir, 'session.json');
}

export function writeSession(runDir: string, record: SessionRecord): void {
  const path = sessionPathOf(runDir);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
  renameSync(tmp, path);
}

/** The record, `undefined` when there is none, or an Error when it is unreadable. */
export function readSession(runDir: string, labId: string): SessionRecord | undefined | Error {
  let text: string;
  try {
    text = readFileSync(sessionPathOf(runDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return e instanceof Error ? e : new Error(String(e));
  }
  try {
    const r = JSON.parse(text) as SessionRecord;
    if (r.version !== 1 || r.labId !== labId || !Array.isArray(r.sources)) return new Error('the session file has an unexpected shape');
    return r;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

// ---------------------------------------------------------------------------------------------
// One writer at a time: `apply` reads the kernel's ruleset from the record and writes the next
// one back, so two applies at once would diff against a stale `prev`.

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the session's lock, or says who holds it. A lock left by a dead process is taken over. */
export function lockSession(runDir: string): (() => void) | string {
  const path = join(runDir, 'session.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return `cannot lock the session: ${(e as Error).message}`;
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // vanished meanwhile: try again
      }
      if (Number.isInteger(holder) && holder > 0 && pidAlive(holder)) return `another strata command (pid ${holder}) is changing this lab`;
      rmSync(path, { force: true });
    }
  }
  return 'cannot lock the session';
}
