// Attribution: decision ids the compiled IR records for a packet (run by the nft interpreter) →
// FlowRecords whose kernel hits name what the engine's explanation names; a kernel path that
// differs from the engine's is flagged, never replaced.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProvenance } from '../../src/dataplane/index.ts';
import { classifyProvenance, decisionTableOf, hitOfProvenance, recordsOf } from '../../src/flowlog/index.ts';
import type { Direction, DirectionPath, ObservedInterval, Tuple } from '../../src/flowlog/index.ts';
import { flowRecordSchema } from '../../src/flows/record.ts';
import { compileNodes, UPLINK } from '../dataplane/check.ts';
import { tenantsScenario, ifnameOf } from '../dataplane/fixtures.ts';
import { simulate } from '../dataplane/simulate.ts';
import { tryParseIp } from '../../src/net/index.ts';

const sc = tenantsScenario();
const compiled = compileNodes(sc.cluster, sc.nodes);
const table = decisionTableOf(compiled.rulesets.values());

/** The decision paths node `node` records for one new-connection packet, by direction. */
function observe(node: string, tuple: Tuple, iif: string, oif: string): ObservedInterval {
  const rs = compiled.rulesets.get(node)!;
  const r = simulate(rs, {
    family: 4,
    saddr: tryParseIp(tuple.src)!,
    daddr: tryParseIp(tuple.dst)!,
    l4proto: tuple.protocol,
    sport: tuple.sport,
    dport: tuple.dport,
    icmp: undefined,
    iifname: iif,
    oifname: oif,
    ct: 'new',
  });
  const paths = new Map<Direction, DirectionPath>();
  for (const dir of ['egress', 'ingress'] as const) {
    const ids = r.records.filter((id) => classifyProvenance(parseProvenance(table.get(id)!))?.direction === dir);
    if (ids.length === 0) continue;
    const last = classifyProvenance(parseProvenance(table.get(ids.at(-1)!)!))!;
    paths.set(dir, { decisions: ids, verdict: last.verdict === 'allow' ? 'allow' : 'deny', attempts: 1, attemptBytes: 60 });
  }
  return { key: 'k', tuple, paths, conntrackId: 1, origPackets: 4, origBytes: 300, replyPackets: 3, replyBytes: 200, started: true, completed: false, firstMs: 0, lastMs: 0, unknownDecisions: [] };
}

const ctx = { node: 'node-a', table, cluster: sc.cluster, startMs: 0, endMs: 1000 };
const tuple = (src: string, dst: string, dport: number): Tuple => ({ family: 4, protocol: 6, src, dst, sport: 40000, dport, icmp: undefined });

describe('attribution', () => {
  it('both ends on one node: an egress record (reporter src) and an ingress record (reporter dst), each the engine\'s hits', () => {
    const o = observe('node-a', tuple('10.10.1.1', '10.10.1.2', 8080), ifnameOf('tenant-1/frontend'), ifnameOf('tenant-1/backend'));
    const recs = recordsOf([o], ctx);
    assert.deepEqual(recs.map((r) => [r.reporter, r.action]), [['src', 'allow'], ['dst', 'allow']]);
    for (const r of recs) {
      flowRecordSchema.parse(r);
      assert.equal(r.mismatch, false);
      assert.deepEqual(r.policies.enforced, r.engine?.enforced);
      assert.equal(r.source.name, 'frontend');
      assert.equal(r.destination.namespace, 'tenant-1');
    }
    const ingress = recs[1]!;
    assert.deepEqual(
      ingress.policies.enforced.map((h) => [h.kind, h.tier, h.name, h.ruleIndex, h.action]),
      [
        ['GlobalNetworkPolicy', 'security', 'security.tenant-isolation', 0, 'pass'],
        ['KubernetesNetworkPolicy', 'default', 'backend-from-frontend', 0, 'allow'],
      ],
    );
    // The reporter's own view of the counters.
    assert.deepEqual([recs[0]!.packetsOut, recs[0]!.packetsIn, ingress.packetsIn, ingress.packetsOut], [4, 3, 4, 3]);
  });

  it('an end-of-tier drop names its tier and, as trigger, the policy that selected the endpoint', () => {
    const o = observe('node-b', tuple('10.10.1.1', '10.10.2.1', 8080), UPLINK, ifnameOf('tenant-2/web'));
    const [r] = recordsOf([o], { ...ctx, node: 'node-b' });
    assert.equal(r?.action, 'deny');
    assert.equal(r?.mismatch, false);
    const last = r!.policies.enforced.at(-1)!;
    assert.ok(last.kind === 'EndOfTier' || last.action === 'deny', JSON.stringify(last));
    if (last.kind === 'EndOfTier') assert.ok(last.trigger !== null && last.tier !== null);
  });

  it('a kernel path that is not the engine\'s is kept as observed and flagged', () => {
    const o = observe('node-a', tuple('10.10.1.1', '10.10.1.2', 8080), ifnameOf('tenant-1/frontend'), ifnameOf('tenant-1/backend'));
    const denyId = [...table].find(([, p]) => p === 'gnp/security.tenant-isolation ingress 3 deny')?.[0];
    assert.ok(denyId !== undefined);
    const tampered: ObservedInterval = { ...o, paths: new Map([['ingress', { decisions: [denyId], verdict: 'deny', attempts: 1, attemptBytes: 60 }]]) };
    const [r] = recordsOf([tampered], ctx);
    assert.equal(r?.action, 'deny', 'the kernel\'s verdict is the record');
    assert.equal(r?.engine?.action, 'allow');
    assert.equal(r?.mismatch, true);
    assert.equal(r?.policies.enforced[0]?.ruleIndex, 3);
  });

  it('without a cluster the record carries the kernel\'s hits and no engine view', () => {
    const o = observe('node-a', tuple('10.10.1.1', '10.10.1.2', 8080), ifnameOf('tenant-1/frontend'), ifnameOf('tenant-1/backend'));
    const [r] = recordsOf([o], { ...ctx, cluster: undefined });
    assert.equal(r?.engine, null);
    assert.equal(r?.mismatch, false);
    assert.equal(r?.source.kind, 'Network');
    assert.ok((r?.policies.enforced.length ?? 0) > 0);
  });

  it('provenance → hit: profiles, no-profile, unknown kinds', () => {
    assert.deepEqual(hitOfProvenance(parseProvenance('pro/kns.prod ingress 0 allow'), undefined), {
      kind: 'Profile', tier: null, namespace: null, name: 'kns.prod', action: 'allow', ruleIndex: 0, trigger: null,
    });
    assert.equal(hitOfProvenance(parseProvenance('ep/prod/web egress no-profile deny'), undefined)?.kind, 'NoProfile');
    assert.equal(hitOfProvenance(parseProvenance('zz/x ingress 0 allow'), undefined), undefined);
    assert.equal(hitOfProvenance(parseProvenance('np/prod/web ingress 2 log'), undefined), undefined);
  });
});
