// Calico's aggregation levels, per action, on hand-made records validated by the wire schema.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregateFlows, coarsen, DEFAULT_AGGREGATION, endpointGroupName, networkGroupName } from '../../src/flows/aggregate.ts';
import { flowRecordSchema } from '../../src/flows/record.ts';
import type { FlowRecord } from '../../src/flows/record.ts';

function record(over: Partial<FlowRecord> = {}): FlowRecord {
  const base: FlowRecord = {
    startTime: '2026-01-01T00:00:00.000Z',
    endTime: '2026-01-01T00:00:05.000Z',
    reporter: 'src',
    node: 'node-1',
    source: { kind: 'WorkloadEndpoint', namespace: 'shop', name: 'web-7d9f8b6c5-x2x4k', ip: '10.244.0.1', labels: { app: 'web', pod: 'a' } },
    destination: { kind: 'WorkloadEndpoint', namespace: 'shop', name: 'db-0', ip: '10.244.0.9', labels: { app: 'db' } },
    srcPort: 40000,
    port: 5432,
    protocol: 'tcp',
    action: 'allow',
    policies: { enforced: [{ kind: 'NetworkPolicy', tier: 'default', namespace: 'shop', name: 'db', action: 'allow', ruleIndex: 0, trigger: null }], pending: [] },
    engine: null,
    mismatch: false,
    packets: 10,
    bytes: 1000,
    packetsIn: 4,
    packetsOut: 6,
    bytesIn: 400,
    bytesOut: 600,
    connections: 1,
    connectionsCompleted: 1,
    aggregation: 'none',
  };
  return flowRecordSchema.parse({ ...base, ...over });
}

describe('aggregation levels', () => {
  it('none keeps the 5-tuple: two source ports stay two records', () => {
    const out = aggregateFlows([record(), record({ srcPort: 40001 })], { allow: 'none', deny: 'none' });
    assert.equal(out.length, 2);
  });

  it('src-port merges source ports: counters summed, interval widened', () => {
    const out = aggregateFlows([record(), record({ srcPort: 40001, startTime: '2026-01-01T00:00:01.000Z', endTime: '2026-01-01T00:00:09.000Z' })], { allow: 'src-port', deny: 'none' });
    assert.equal(out.length, 1);
    const r = out[0]!;
    assert.equal(r.srcPort, null);
    assert.equal(r.port, 5432);
    assert.deepEqual([r.packets, r.bytes, r.packetsIn, r.bytesOut, r.connections], [20, 2000, 8, 1200, 2]);
    assert.equal(r.startTime, '2026-01-01T00:00:00.000Z');
    assert.equal(r.endTime, '2026-01-01T00:00:09.000Z');
    assert.equal(r.aggregation, 'src-port');
    flowRecordSchema.parse(r);
  });

  it('endpoint-group drops addresses and names pods by group; labels only where all agree', () => {
    const other = record({ source: { kind: 'WorkloadEndpoint', namespace: 'shop', name: 'web-7d9f8b6c5-q9zt7', ip: '10.244.0.2', labels: { app: 'web', pod: 'b' } } });
    const out = aggregateFlows([record(), other], { allow: 'endpoint-group', deny: 'none' });
    assert.equal(out.length, 1);
    assert.equal(out[0]!.source.name, 'web-7d9f8b6c5-*');
    assert.equal(out[0]!.source.ip, null);
    assert.deepEqual(out[0]!.source.labels, { app: 'web' });
    assert.equal(out[0]!.destination.name, 'db-*');
    assert.equal(out[0]!.port, 5432);
  });

  it('dst-port drops the destination port too', () => {
    const out = aggregateFlows([record(), record({ port: 5433 })], { allow: 'dst-port', deny: 'none' });
    assert.equal(out.length, 1);
    assert.equal(out[0]!.port, null);
  });

  it('the level follows the action: denied flows keep their detail while allowed ones merge', () => {
    const deny = (p: number): FlowRecord => record({ action: 'deny', srcPort: p, policies: { enforced: [], pending: [] } });
    const out = aggregateFlows([record(), record({ srcPort: 40001 }), deny(1), deny(2)], { allow: 'src-port', deny: 'none' });
    assert.equal(out.filter((r) => r.action === 'allow').length, 1);
    assert.equal(out.filter((r) => r.action === 'deny').length, 2);
  });

  it('records differing in policies, reporter or mismatch are never merged', () => {
    const a = record();
    const b = record({ srcPort: 1, policies: { enforced: [], pending: [] } });
    const c = record({ srcPort: 2, reporter: 'dst' });
    const d = record({ srcPort: 3, mismatch: true });
    assert.equal(aggregateFlows([a, b, c, d], { allow: 'dst-port', deny: 'dst-port' }).length, 4);
  });

  it('an already coarser record is not refined; defaults are Felix\'s (allowed by group, denied by source port)', () => {
    const coarse = coarsen(record(), 'dst-port');
    assert.equal(coarsen(coarse, 'none').aggregation, 'dst-port');
    assert.deepEqual(DEFAULT_AGGREGATION, { allow: 'endpoint-group', deny: 'src-port' });
  });

  it('plain networks become pvt or pub; group names strip generated suffixes only', () => {
    const ext = record({ destination: { kind: 'Network', namespace: null, name: null, ip: '203.0.113.7', labels: {} } });
    assert.equal(coarsen(ext, 'endpoint-group').destination.name, 'pub');
    assert.equal(networkGroupName('10.1.2.3'), 'pvt');
    assert.equal(networkGroupName('fd00::1'), 'pvt');
    assert.equal(networkGroupName('2001:db8::1'), 'pub');
    assert.equal(endpointGroupName('frontend'), 'frontend');
    assert.equal(endpointGroupName('cache-12'), 'cache-*');
    assert.equal(endpointGroupName('api-server'), 'api-server');
  });
});
