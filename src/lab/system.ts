// What the machine offers the lab: root, the programs it runs (ip, nft, ping, socat) and SCTP
// in the kernel. Answers are sentences a person can act on; tests use them as skip reasons.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { runCommand } from './netns.ts';
import type { SctpSupport } from './state.ts';

/** Absolute path of a program on PATH (plus the sbin directories root normally has), or undefined. */
export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Why the lab cannot run here (not root, a program missing), or undefined when it can. */
export function labUnavailableReason(programs: readonly string[] = ['ip', 'ping']): string | undefined {
  if (process.platform !== 'linux') return 'the lab needs Linux network namespaces';
  if (!isRoot()) return 'the lab needs root (network namespaces, veth pairs and nftables); run as root';
  const missing = programs.filter((p) => findProgram(p) === undefined);
  if (missing.length > 0) {
    return `missing program(s): ${missing.join(', ')} (run scripts/ensure-system-deps.sh as root)`;
  }
  return undefined;
}

/**
 * Whether SCTP probes and listeners can work: the kernel must have SCTP (built in, or the `sctp`
 * module, which is loaded if possible) and socat must be installed.
 */
export async function detectSctp(): Promise<SctpSupport> {
  const socat = findProgram('socat');
  if (!existsSync('/proc/net/sctp')) {
    const modprobe = findProgram('modprobe');
    if (modprobe !== undefined && isRoot()) await runCommand(modprobe, ['-q', 'sctp'], { timeoutMs: 5000 });
  }
  if (!existsSync('/proc/net/sctp')) {
    return {
      supported: false,
      detail: 'this kernel has no SCTP (CONFIG_IP_SCTP is off and `modprobe sctp` found no module)',
    };
  }
  if (socat === undefined) return { supported: false, detail: 'socat is not installed (apt-get install socat)' };
  return { supported: true, detail: `kernel SCTP with ${socat}` };
}
