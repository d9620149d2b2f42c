// Connection tracking after a policy change. The first rule of every endpoint chain accepts
// established packets, so a flow that was allowed when it started would keep flowing after the
// policy denies it. As Felix does, the agent removes the conntrack entries of such flows: the
// next packet of the flow is then "new" again, meets the policy and is dropped.
//
//   conntrack -L (in the node's netns) ─parseConntrack─► entries ─deny by the engine?─► conntrack -D … (one per entry)
import { spawn } from 'node:child_process';

export interface ConntrackEntry {
  /** `tcp`, `udp`, `icmp`, `sctp`, …, as conntrack prints it. */
  readonly protocol: string;
  /** TCP's state (`ESTABLISHED`, `TIME_WAIT`, …), when conntrack prints one. */
  readonly state?: string;
  readonly src: string;
  readonly dst: string;
  readonly sport?: number;
  readonly dport?: number;
  readonly type?: number;
  readonly code?: number;
  readonly id?: number;
}

/**
 * `conntrack -L` lines → entries (original direction: the first src/dst/sport/dport of a line).
 * Example: `tcp 6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 src=… [ASSURED] mark=0 use=1`.
 */
export function parseConntrack(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const protocol = words[0];
    if (protocol === undefined || protocol === '' || protocol.startsWith('conntrack')) continue;
    const first = new Map<string, string>();
    for (const w of words) {
      const eq = w.indexOf('=');
      if (eq <= 0) continue;
      const k = w.slice(0, eq);
      if (!first.has(k)) first.set(k, w.slice(eq + 1));
    }
    const src = first.get('src');
    const dst = first.get('dst');
    if (src === undefined || dst === undefined) continue;
    const num = (k: string): number | undefined => {
      const v = first.get(k);
      return v === undefined || !/^\d+$/.test(v) ? undefined : Number(v);
    };
    const e: { -readonly [K in keyof ConntrackEntry]: ConntrackEntry[K] } = { protocol, src, dst };
    const state = words.slice(1, 4).find((w) => /^[A-Z_]+$/.test(w));
    if (state !== undefined) e.state = state;
    for (const k of ['sport', 'dport', 'type', 'code', 'id'] as const) {
      const v = num(k);
      if (v !== undefined) e[k] = v;
    }
    out.push(e);
  }
  return out;
}

/**
 * The `conntrack -D` arguments that delete the entries of this entry's flow: protocol,
 * addresses and destination port (ICMP: type, code, id) — every source port at once, so a
 * client's many connections to a service cost one call.
 */
export function deleteArgs(e: ConntrackEntry): string[] {
  const args = ['-D', '-p', e.protocol, '-s', e.src, '-d', e.dst];
  if (e.dport !== undefined) args.push('--dport', String(e.dport));
  if (e.type !== undefined) args.push('--icmp-type', String(e.type));
  if (e.code !== undefined) args.push('--icmp-code', String(e.code));
  if (e.id !== undefined) args.push('--icmp-id', String(e.id));
  return args;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCommand(cmd: string, args: readonly string[], input = '', timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let done = false;
    const finish = (r: Run): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ code: -1, stdout: '', stderr: `${cmd} timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => finish({ code: -1, stdout: '', stderr: `${cmd}: ${e.message}` }));
    child.on('close', (code) => finish({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Runs a program in the agent's network namespace (`ip netns exec NS …`) or its own. */
export type NsRunner = (cmd: string, args: readonly string[], input?: string) => Promise<Run>;

export function nsRunner(netns: string | undefined, ipPath = 'ip'): NsRunner {
  return (cmd, args, input = '') => (netns === undefined ? runCommand(cmd, args, input) : runCommand(ipPath, ['netns', 'exec', netns, cmd, ...args], input));
}

export interface Conntrack {
  list(): Promise<ConntrackEntry[]>;
  /** Deletes entries; returns how many were deleted (an entry gone meanwhile is not an error). */
  remove(entries: readonly ConntrackEntry[]): Promise<number>;
}

export function createConntrack(run: NsRunner, conntrackPath = 'conntrack'): Conntrack {
  return {
    async list() {
      const all: ConntrackEntry[] = [];
      for (const family of ['ipv4', 'ipv6']) {
        const r = await run(conntrackPath, ['-L', '-f', family]);
        if (r.code !== 0) throw new Error(`conntrack -L -f ${family}: ${r.stderr.trim() || `exit ${r.code}`}`);
        all.push(...parseConntrack(r.stdout));
      }
      return all;
    },
    async remove(entries) {
      const calls = new Map<string, string[]>();
      for (const e of entries) {
        const args = deleteArgs(e);
        calls.set(args.join(' '), args);
      }
      let n = 0;
      for (const args of calls.values()) {
        const r = await run(conntrackPath, args);
        // "N flow entries have been deleted" (exit 1 with 0: they ended or went meanwhile).
        const m = /(\d+) flow entr/.exec(r.stderr);
        n += m === null ? 0 : Number(m[1]);
      }
      return n;
    },
  };
}
