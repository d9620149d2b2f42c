// Synthetic flow records for the flow store's tests and benchmark: a seeded cluster of
// namespaces with workloads, each talking to a few peers through a tiered policy set, with
// records shaped as an agent reports them (src-port aggregated, labels, enforced hits).
import type { FlowRecord, PolicyHit } from '../src/flows/record.ts';

/** mulberry32: small, fast, seeded. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RecordSpec {
  readonly start: number;
  readonly durationMs?: number;
  readonly srcNs?: string;
  readonly src?: string;
  readonly dstNs?: string;
  readonly dst?: string;
  readonly port?: number;
  readonly protocol?: string;
  readonly action?: 'allow' | 'deny';
  readonly reporter?: 'src' | 'dst';
  readonly node?: string;
  readonly enforced?: readonly PolicyHit[];
  readonly pending?: readonly PolicyHit[];
  readonly packets?: number;
  readonly bytes?: number;
  readonly connections?: number;
}

export function hit(kind: PolicyHit['kind'], tier: string | null, namespace: string | null, name: string | null, action: PolicyHit['action'], ruleIndex: number | null): PolicyHit {
  return { kind, tier, namespace, name, action, ruleIndex, trigger: null };
}

/** One record; every field has a plain default so tests state only what they test. */
export function makeRecord(s: RecordSpec): FlowRecord {
  const action = s.action ?? 'allow';
  const srcNs = s.srcNs ?? 'shop';
  const dstNs = s.dstNs ?? 'shop';
  const packets = s.packets ?? 10;
  const bytes = s.bytes ?? 1000;
  return {
    startTime: new Date(s.start).toISOString(),
    endTime: new Date(s.start + (s.durationMs ?? 1000)).toISOString(),
    reporter: s.reporter ?? 'dst',
    node: s.node ?? 'node-1',
    source: { kind: 'WorkloadEndpoint', namespace: srcNs, name: s.src ?? 'web', ip: null, labels: { app: s.src ?? 'web' } },
    destination: { kind: 'WorkloadEndpoint', namespace: dstNs, name: s.dst ?? 'db', ip: null, labels: { app: s.dst ?? 'db' } },
    srcPort: null,
    port: s.port ?? 5432,
    protocol: s.protocol ?? 'tcp',
    action,
    policies: {
      enforced: [...(s.enforced ?? [hit('NetworkPolicy', 'default', dstNs, 'allow-web', action, 0)])],
      pending: [...(s.pending ?? [])],
    },
    engine: null,
    mismatch: false,
    packets,
    bytes,
    packetsIn: Math.ceil(packets / 2),
    packetsOut: Math.floor(packets / 2),
    bytesIn: Math.ceil(bytes / 2),
    bytesOut: Math.floor(bytes / 2),
    connections: s.connections ?? 1,
    connectionsCompleted: s.connections ?? 1,
    aggregation: 'src-port',
  };
}

export interface SyntheticCluster {
  readonly namespaces: number;
  readonly endpointsPerNamespace: number;
  /** Distinct peers each endpoint talks to. */
  readonly peers: number;
}

/**
 * The distinct flows of a synthetic cluster: endpoint i of namespace n talks to `peers` fixed
 * peers (mostly in its namespace, one in the next), on one port each; one flow in ten is denied
 * (by the security tier), the others allowed by a tenant policy after a security-tier pass.
 */
export function clusterFlows(c: SyntheticCluster, seed = 1): Omit<RecordSpec, 'start'>[] {
  const rnd = seeded(seed);
  const out: Omit<RecordSpec, 'start'>[] = [];
  for (let n = 0; n < c.namespaces; n++) {
    const ns = `tenant-${n}`;
    for (let i = 0; i < c.endpointsPerNamespace; i++) {
      for (let p = 0; p < c.peers; p++) {
        const remote = p === c.peers - 1;
        const dstNs = remote ? `tenant-${(n + 1) % c.namespaces}` : ns;
        const dst = `svc-${Math.floor(rnd() * c.endpointsPerNamespace)}`;
        const port = [80, 443, 5432, 6379, 8080][Math.floor(rnd() * 5)]!;
        const deny = rnd() < 0.1;
        const enforced = deny
          ? [hit('GlobalNetworkPolicy', 'security', null, 'quarantine', 'deny', 0)]
          : [hit('GlobalNetworkPolicy', 'security', null, 'tenant-isolation', 'pass', 1), hit('NetworkPolicy', 'default', dstNs, `allow-${dst}`, 'allow', p % 3)];
        out.push({ srcNs: ns, src: `app-${i}`, dstNs, dst, port, action: deny ? 'deny' : 'allow', enforced, node: `node-${(n * 7 + i) % 50}`, reporter: 'dst' });
      }
    }
  }
  return out;
}
