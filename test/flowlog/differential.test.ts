// Flow records on random clusters: each scenario of the differential generator (both dialects,
// tiers with Deny/Pass defaults, Pass and Log rules, network sets, named ports, UDP, ICMP, CIDRs,
// IPv6, externals) is built as a lab with its flow collector, every flow is probed, and every
// record the kernel's decision ids produced must name the engine's hits (no mismatch), with a
// record from the deciding side for every probed flow.
//
//   STRATA_FLOWLOG_DIFF_RUNS=N   scenarios (default 4)
//   STRATA_FLOWLOG_DIFF_SEED=S   base seed (default 20261202)
//
// Needs root, nft, ulogd2 (+JSON), conntrack; skips with the reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  downSession,
  flowCollectionUnavailableReason,
  flushFlowCollection,
  probeSession,
  readLabFlows,
  startFlowCollection,
  upSession,
} from '../../src/lab-session/index.ts';
import type { SessionFlow } from '../../src/lab-session/index.ts';
import type { FlowRecord } from '../../src/flows/record.ts';
import { everyCidrParses, generateScenario } from '../differential/generate.ts';
import { formatScenarioYaml, scenarioProblems } from '../differential/scenario.ts';
import type { Scenario } from '../differential/scenario.ts';
import { sessionSkip, uniqueLabId } from '../lab-session/fixtures.ts';

const RUNS = Number(process.env['STRATA_FLOWLOG_DIFF_RUNS'] ?? 4);
const BASE_SEED = Number(process.env['STRATA_FLOWLOG_DIFF_SEED'] ?? 20261202);
const skip = sessionSkip ?? flowCollectionUnavailableReason();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function flowsOf(s: Scenario): SessionFlow[] {
  return s.flows.map((f) => ({
    from: f.from,
    to: f.to,
    protocol: f.protocol,
    ...(f.port === undefined ? {} : { port: f.port }),
    ...(f.icmpType === undefined ? {} : { icmpType: f.icmpType }),
    ...(f.icmpCode === undefined ? {} : { icmpCode: f.icmpCode }),
  }));
}

describe('flow records equal the engine\'s explanation on random scenarios', { skip }, () => {
  for (let i = 0; i < RUNS; i++) {
    const seed = (BASE_SEED + i) >>> 0;
    it(`seed ${seed}`, async () => {
      const s = generateScenario(seed);
      if (scenarioProblems(s).length > 0 || !everyCidrParses(s)) return; // not a flowlog finding
      const labId = uniqueLabId('fkd');
      const flows = flowsOf(s);
      const rerun = `STRATA_FLOWLOG_DIFF_SEED=${seed} STRATA_FLOWLOG_DIFF_RUNS=1 node --test test/flowlog/differential.test.ts`;
      try {
        const up = await upSession([{ file: `scenario-${seed}.yaml`, text: formatScenarioYaml(s) }], { labId, flows });
        assert.ok(up.ok, JSON.stringify(up.ok ? '' : up.diagnostics));
        const session = up.value.session;
        const started = await startFlowCollection(session, { flushMs: 1000 });
        assert.ok(started.ok, JSON.stringify(started.ok ? '' : started.diagnostics));
        const t0 = Date.now();
        const results = await probeSession(session, flows);
        // The kernel's records arrive through two pipes (nflog via ulogd, conntrack events): on a
        // loaded machine some come after the first flush. Flush and read again until every probed
        // flow has its record from the deciding side (bounded), then judge.
        const decidingSide = (r: (typeof results)[number]): 'src' | 'dst' | undefined =>
          (r.observed !== 'allow' && r.observed !== 'deny') || r.decidedBy?.direction === null || r.decidedBy?.direction === undefined ? undefined : r.decidedBy.direction === 'egress' ? 'src' : 'dst';
        const recorded = (records: readonly FlowRecord[], r: (typeof results)[number]): boolean =>
          records.some((x) => x.reporter === decidingSide(r) && x.source.ip === r.fromAddress && x.destination.ip === r.toAddress && (r.srcPort === undefined || x.srcPort === r.srcPort) && x.port === r.port);
        let records: FlowRecord[] = [];
        for (let attempt = 0; attempt < 20; attempt++) {
          await sleep(400);
          assert.ok(await flushFlowCollection(session));
          const read = readLabFlows(session, t0);
          assert.ok(read.ok);
          records = [...read.value];
          if (results.every((r) => decidingSide(r) === undefined || recorded(records, r))) break;
        }
        const bad = records.filter((r) => r.mismatch);
        assert.deepEqual(
          bad.map((r) => `${r.reporter} ${r.source.ip}:${r.srcPort} → ${r.destination.ip}:${r.port}/${r.protocol} kernel ${r.action} ${JSON.stringify(r.policies.enforced)} engine ${JSON.stringify(r.engine)}`),
          [],
          `seed ${seed}: rerun: ${rerun}`,
        );
        const probed = results.filter((r) => r.observed === 'allow' || r.observed === 'deny');
        assert.ok(probed.length > 0 && records.length >= probed.length, `${probed.length} probed, ${records.length} records`);
        const protocols = [...new Set(records.map((r) => r.protocol))].sort().join(',');
        console.log(`# seed ${seed}: ${probed.length} flows probed, ${records.length} records (${protocols}), ${records.filter((r) => r.policies.enforced.length > 1).length} with passes`);
        for (const r of results) {
          if ((r.observed !== 'allow' && r.observed !== 'deny') || r.decidedBy?.direction === null || r.decidedBy?.direction === undefined) continue;
          const side = r.decidedBy.direction === 'egress' ? 'src' : 'dst';
          const mine = records.filter(
            (x) => x.reporter === side && x.source.ip === r.fromAddress && x.destination.ip === r.toAddress && (r.srcPort === undefined || x.srcPort === r.srcPort) && x.port === r.port,
          );
          assert.ok(mine.length > 0, `seed ${seed}: ${r.from} → ${r.to} ${r.port ?? r.protocol}: a ${side} record (rerun: ${rerun})`);
          assert.ok(mine.some((x) => x.action === r.observed), `seed ${seed}: ${r.from} → ${r.to}: ${r.observed} recorded`);
        }
      } finally {
        await downSession(labId);
      }
    });
  }
});
