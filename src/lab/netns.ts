// The lab's only door to the kernel's network configuration. Every command it runs is either
// `ip netns add|del <lab namespace>`, `ip -n <lab namespace> -batch -` or
// `ip netns exec <lab namespace> …`: each is checked against the lab's prefix first, so no code
// path can touch the root namespace or another lab's objects (a violation is a bug: it throws).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { isLabNamespace } from './topology.ts';

/** Where `ip netns` keeps its named namespaces (bind mounts). */
export const NETNS_DIR = '/run/netns';

export interface CommandOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion, feeding `input` on stdin; never throws for a non-zero exit. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { readonly input?: string; readonly timeoutMs?: number } = {},
): Promise<CommandOutput> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const errs: Buffer[] = [];
    let settled = false;
    const settle = (r: CommandOutput): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      resolve(r);
    };
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            settle({ code: -1, stdout: '', stderr: `${cmd} timed out after ${opts.timeoutMs} ms` });
          }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => errs.push(b));
    child.on('error', (e) => settle({ code: -1, stdout: '', stderr: `${cmd}: ${e.message}` }));
    child.on('close', (code, signal) =>
      settle({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(errs).toString('utf8') + (signal !== null ? `killed by ${signal}` : ''),
      }),
    );
    child.stdin.on('error', () => undefined); // the program may exit before reading everything
    child.stdin.end(opts.input ?? '');
  });
}

function assertLabNamespace(labId: string, ns: string): void {
  if (!isLabNamespace(labId, ns)) {
    throw new Error(`refusing to touch namespace "${ns}": not a namespace of lab "${labId}"`);
  }
}

export function namespaceExists(ns: string): boolean {
  return existsSync(`${NETNS_DIR}/${ns}`);
}

/** Creates namespaces in one `ip -batch` (stops at the first failure). */
export async function addNamespaces(labId: string, names: readonly string[]): Promise<CommandOutput> {
  for (const ns of names) assertLabNamespace(labId, ns);
  return runCommand('ip', ['-batch', '-'], { input: names.map((ns) => `netns add ${ns}\n`).join('') });
}

/** Deletes the given namespaces that exist, continuing past failures (`-force`). */
export async function deleteNamespaces(labId: string, names: readonly string[]): Promise<CommandOutput> {
  for (const ns of names) assertLabNamespace(labId, ns);
  const existing = names.filter(namespaceExists);
  if (existing.length === 0) return { code: 0, stdout: '', stderr: '' };
  return runCommand('ip', ['-force', '-batch', '-'], { input: existing.map((ns) => `netns del ${ns}\n`).join('') });
}

/** Runs `ip` commands (one per line, without the leading `ip`) inside one lab namespace. */
export async function runIpBatch(labId: string, ns: string, lines: readonly string[]): Promise<CommandOutput> {
  assertLabNamespace(labId, ns);
  for (const l of lines) {
    // A line could otherwise switch namespace itself (`netns …`) or smuggle a second command.
    if (/[\n\r]/.test(l) || /^\s*(netns|-)/.test(l)) throw new Error(`refusing ip batch line "${l}"`);
  }
  return runCommand('ip', ['-n', ns, '-batch', '-'], { input: lines.map((l) => `${l}\n`).join('') });
}

/** Runs a program inside a lab namespace (`ip netns exec`). */
export async function execInNamespace(
  labId: string,
  ns: string,
  argv: readonly string[],
  opts: { readonly input?: string; readonly timeoutMs?: number } = {},
): Promise<CommandOutput> {
  assertLabNamespace(labId, ns);
  return runCommand('ip', ['netns', 'exec', ns, ...argv], opts);
}

/** The argv that starts a program inside a lab namespace (for long-lived children). */
export function netnsExecArgv(labId: string, ns: string, argv: readonly string[]): string[] {
  assertLabNamespace(labId, ns);
  return ['netns', 'exec', ns, ...argv];
}

/** The inode identifying a named namespace (as `/proc/PID/ns/net` shows `net:[INODE]`). */
export function namespaceInode(ns: string): number | undefined {
  try {
    return statSync(`${NETNS_DIR}/${ns}`).ino;
  } catch {
    return undefined;
  }
}

/** The network-namespace inode of a live process, or undefined (gone, zombie, no access). */
export function processNamespaceInode(pid: number): number | undefined {
  try {
    const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/net`));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Every process whose network namespace is one of `names` (what `ip netns pids` does), by namespace. */
export function pidsInNamespaces(names: readonly string[]): Map<string, number[]> {
  const byInode = new Map<number, string>();
  for (const ns of names) {
    const ino = namespaceInode(ns);
    if (ino !== undefined) byInode.set(ino, ns);
  }
  const result = new Map<string, number[]>();
  if (byInode.size === 0) return result;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ino = processNamespaceInode(pid);
    const ns = ino === undefined ? undefined : byInode.get(ino);
    if (ns === undefined) continue;
    const list = result.get(ns) ?? [];
    list.push(pid);
    result.set(ns, list);
  }
  return result;
}
