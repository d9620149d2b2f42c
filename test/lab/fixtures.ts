// Shared by the lab tests: a small two-node island, the flows that cover every pair, and the
// checks that a lab left nothing behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { isRunning } from '../../src/lab/processes.ts';
import { labNamespacePrefix } from '../../src/lab/topology.ts';
import type { LabFlow } from '../../src/lab/probe.ts';
import type { LabSpec } from '../../src/lab/topology.ts';
import { labUnavailableReason } from '../../src/lab/system.ts';

/** Why these tests cannot run here (a skip reason), or undefined. */
export const labSkip: string | undefined = labUnavailableReason(['ip', 'nft', 'ping']);

/** 2 nodes, 6 workloads (one dual-stack), two externals. */
export function smallSpec(labId: string): LabSpec {
  return {
    labId,
    nodes: ['node-a', 'node-b'],
    workloads: [
      {
        id: 'tenant-1/frontend',
        node: 'node-a',
        addresses: ['10.10.1.1'],
        ports: [
          { port: 8080, protocol: 'TCP' },
          { port: 5353, protocol: 'UDP' },
        ],
      },
      {
        id: 'tenant-1/backend',
        node: 'node-a',
        addresses: ['10.10.1.2', 'fd10::1:2'],
        ports: [
          { port: 8080, protocol: 'TCP' },
          { port: 9090, protocol: 'TCP' },
          { port: 5353, protocol: 'UDP' },
        ],
      },
      { id: 'tenant-1/db', node: 'node-a', addresses: ['10.10.1.3'], ports: [{ port: 5432, protocol: 'TCP' }] },
      {
        id: 'tenant-2/web',
        node: 'node-b',
        addresses: ['10.10.2.1'],
        ports: [
          { port: 8080, protocol: 'TCP' },
          { port: 5353, protocol: 'UDP' },
        ],
      },
      {
        id: 'tenant-2/api',
        node: 'node-b',
        addresses: ['10.10.2.2'],
        ports: [
          { port: 8080, protocol: 'TCP' },
          { port: 5353, protocol: 'UDP' },
        ],
      },
      {
        id: 'tenant-2/cache',
        node: 'node-b',
        addresses: ['10.10.2.3'],
        ports: [
          { port: 6379, protocol: 'TCP' },
          { port: 7777, protocol: 'SCTP' },
        ],
      },
    ],
    externals: ['198.51.100.10', { address: '2001:db8:ff::10', ports: [{ port: 443, protocol: 'TCP' }] }],
  };
}

/** Every ordered pair of distinct workloads, on every declared port of the destination and ICMP (IPv4). */
export function pairFlows(spec: LabSpec, opts: { readonly sctp: boolean }): LabFlow[] {
  const flows: LabFlow[] = [];
  for (const src of spec.workloads) {
    for (const dst of spec.workloads) {
      if (src.id === dst.id) continue;
      flows.push({ from: src.id, to: dst.id, protocol: 'ICMP' });
      for (const p of dst.ports) {
        if (p.protocol === 'SCTP' && !opts.sctp) continue;
        flows.push({ from: src.id, to: dst.id, port: p.port, protocol: p.protocol });
      }
    }
  }
  return flows;
}

/** Flows between the island and its outside host, both directions, IPv4 and IPv6. */
export function externalFlows(): LabFlow[] {
  return [
    { from: 'tenant-1/frontend', to: '198.51.100.10', port: 8080, protocol: 'TCP' },
    { from: 'tenant-2/web', to: '198.51.100.10', port: 5353, protocol: 'UDP' },
    { from: 'tenant-2/web', to: '198.51.100.10', protocol: 'ICMP' },
    { from: 'tenant-1/backend', to: '2001:db8:ff::10', port: 443, protocol: 'TCP' },
    { from: 'tenant-1/backend', to: '2001:db8:ff::10', protocol: 'ICMP' },
    { from: '198.51.100.10', to: 'tenant-1/backend', port: 9090, protocol: 'TCP' },
    { from: '198.51.100.10', to: 'tenant-2/api', port: 5353, protocol: 'UDP' },
    { from: '198.51.100.10', to: 'tenant-1/db', protocol: 'ICMP' },
    { from: '2001:db8:ff::10', to: 'tenant-1/backend', port: 8080, protocol: 'TCP' },
    { from: '2001:db8:ff::10', to: 'tenant-1/backend', protocol: 'ICMP' },
  ];
}

export function flowName(f: LabFlow): string {
  return `${f.from} → ${f.to} ${f.protocol}${f.port === undefined ? '' : `/${f.port}`}`;
}

function ipNetnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

/** The root namespace's link names (read only). */
export function rootLinkNames(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n !== '');
}

/** Asserts that nothing of lab `labId` remains: namespaces, processes, state, sockets. */
export function assertLabGone(labId: string, pids: readonly number[], stateDir = '/run/strata-lab'): void {
  const prefix = labNamespacePrefix(labId);
  assert.deepEqual(
    ipNetnsList().filter((n) => n.startsWith(prefix)),
    [],
    'no namespace of the lab is left',
  );
  assert.deepEqual(
    pids.filter((p) => isRunning(p)),
    [],
    'no process of the lab is left',
  );
  assert.equal(existsSync(`${stateDir}/${labId}.json`), false, 'the state file is gone');
  assert.equal(existsSync(`${stateDir}/${labId}`), false, 'the sockets and logs directory is gone');
  assertRootUntouched();
}

/** The root namespace never gets a lab link (they are created inside lab namespaces only). */
export function assertRootUntouched(): void {
  const ours = rootLinkNames().filter((n) => /^(stw|stn|stl-)/.test(n));
  assert.deepEqual(ours, [], 'no lab link in the root namespace');
}

export function labNamespacesNow(labId: string): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(labNamespacePrefix(labId)));
  } catch {
    return [];
  }
}
