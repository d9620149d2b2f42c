// Real etcd members for the store tests and the bench: Debian's /usr/bin/etcd on 127.0.0.1,
// free random ports, a temporary data directory each; stopped by the PID we started.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BINARY = process.env['STRATA_ETCD'] ?? '/usr/bin/etcd';

/** Why etcd tests cannot run here, or undefined when they can. */
export function etcdSkipReason(): string | undefined {
  return existsSync(ETCD_BINARY) ? undefined : `${ETCD_BINARY} is missing (Debian package etcd-server)`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  process: ChildProcess | undefined;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** The store spec naming every member: etcd:URL,URL,... */
  readonly spec: string;
  stop(member: EtcdMember): Promise<void>;
  start(member: EtcdMember): Promise<void>;
  /** Stop every member (by PID) and remove the data directories. */
  destroy(): Promise<void>;
}

function memberArgs(member: EtcdMember, initialCluster: string, token: string, state: 'new' | 'existing'): string[] {
  return [
    '--name', member.name,
    '--data-dir', member.dataDir,
    '--listen-client-urls', member.clientUrl,
    '--advertise-client-urls', member.clientUrl,
    '--listen-peer-urls', member.peerUrl,
    '--initial-advertise-peer-urls', member.peerUrl,
    '--initial-cluster', initialCluster,
    '--initial-cluster-token', token,
    '--initial-cluster-state', state,
    // Fast elections on loopback, so a stopped member is replaced within a second.
    '--heartbeat-interval', '50',
    '--election-timeout', '500',
    // Batch applies of the API server are larger than etcd's default of 128 ops.
    '--max-txn-ops', '10000',
    '--max-request-bytes', String(32 * 1024 * 1024),
    '--logger', 'zap',
    '--log-level', 'error',
  ];
}

async function waitHealthy(member: EtcdMember, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd ${member.name} exited with ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = await res.text();
      if (res.ok && body.includes('"true"')) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`etcd ${member.name} did not become healthy within ${timeoutMs} ms: ${stderr}`);
}

/** Start a cluster of `size` members and wait until every member is healthy. */
export async function startEtcdCluster(size: number): Promise<EtcdCluster> {
  const root = mkdtempSync(join(tmpdir(), 'strata-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    members.push({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: join(root, `m${i}`),
      process: undefined,
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const token = `strata-test-${process.pid}-${Date.now()}`;
  const launch = (member: EtcdMember, state: 'new' | 'existing'): ChildProcess => {
    const child = spawn(ETCD_BINARY, memberArgs(member, initialCluster, token, state), { stdio: ['ignore', 'ignore', 'pipe'] });
    member.process = child;
    // Should this process end without destroy() (a crash, a cancelled test run), take the
    // member down with it rather than leave it running.
    const reap = (): void => {
      if (child.exitCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    };
    process.once('exit', reap);
    child.once('exit', () => process.removeListener('exit', reap));
    return child;
  };
  const stop = async (member: EtcdMember): Promise<void> => {
    const child = member.process;
    member.process = undefined;
    if (child === undefined || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid, 'SIGKILL');
    await exited;
  };
  const cluster: EtcdCluster = {
    members,
    spec: `etcd:${members.map((m) => m.clientUrl).join(',')}`,
    stop,
    async start(member) {
      const child = launch(member, 'existing');
      await waitHealthy(member, child, 15_000);
    },
    async destroy() {
      for (const m of members) await stop(m);
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    const children = members.map((m) => launch(m, 'new'));
    await Promise.all(members.map((m, i) => waitHealthy(m, children[i] as ChildProcess, 20_000)));
  } catch (e) {
    await cluster.destroy();
    throw e;
  }
  return cluster;
}
