// Real packets through a real island: two node namespaces, six workloads with real listeners,
// an outside host. With no ruleset every pair talks on every declared port; a hand-written nft
// ruleset on one node turns exactly the flows it targets to deny, connections established
// before a ruleset change survive it, a failing script changes nothing, and `down` leaves
// nothing behind. Needs root, ip, nft and ping (skips with the reason otherwise).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNetnsNftExecutor } from '../../src/dataplane/executor.ts';
import type { NftExecutor } from '../../src/dataplane/executor.ts';
import { downLab, nodeNamespace, upLab } from '../../src/lab/island.ts';
import type { Lab } from '../../src/lab/island.ts';
import { openConnection, probe } from '../../src/lab/probe.ts';
import type { HeldConnection, LabFlow, ProbeResult } from '../../src/lab/probe.ts';
import { nodeInterfaceOf } from '../../src/lab/topology.ts';
import {
  assertLabGone,
  assertRootUntouched,
  externalFlows,
  flowName,
  labNamespacesNow,
  labSkip,
  pairFlows,
  smallSpec,
} from './fixtures.ts';

const LAB = 'isl1';
const spec = smallSpec(LAB);
const TABLE = 'strata_lab_test';

/** Replaces the test table atomically: create-if-missing, delete, recreate, in one transaction. */
function tableScript(rules: string): string {
  return [
    `table inet ${TABLE}`,
    `delete table inet ${TABLE}`,
    `table inet ${TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    '    ct state established,related accept',
    '    ct state invalid drop',
    rules,
    '  }',
    '}',
    '',
  ].join('\n');
}

const BACKEND_IF = nodeInterfaceOf('tenant-1/backend');
const DB_IF = nodeInterfaceOf('tenant-1/db');
const INGRESS_COMMENT = 'test|ingress|tenant-1/backend|tcp/9090|rule 0';
const EGRESS_COMMENT = 'test|egress|tenant-1/db|rule 0';
const BASELINE = tableScript('');
const RESTRICTIVE = tableScript(
  [
    `    oifname "${BACKEND_IF}" tcp dport 9090 counter drop comment "${INGRESS_COMMENT}"`,
    `    iifname "${DB_IF}" counter drop comment "${EGRESS_COMMENT}"`,
  ].join('\n'),
);

/** What RESTRICTIVE on node-a should deny: TCP to backend:9090, and anything db starts. */
const deniedByRestrictive = (f: LabFlow): boolean =>
  (f.to === 'tenant-1/backend' && f.protocol === 'TCP' && f.port === 9090) || f.from === 'tenant-1/db';

/**
 * Flows whose observation differs from the expectation, after probing those once more with a
 * long timeout: on a loaded machine an allowed flow can miss a short timeout, while a dropped
 * one stays dropped however long one waits.
 */
async function mismatches(
  lab: Lab,
  results: readonly ProbeResult[],
  expectDeny: (f: LabFlow) => boolean,
): Promise<string[]> {
  const wrong = (r: ProbeResult): boolean => r.observed !== (expectDeny(r) ? 'deny' : 'allow');
  const suspects = results.filter(wrong);
  if (suspects.length === 0) return [];
  const again = await probe(lab, suspects, { timeoutMs: 2500 });
  return again
    .filter(wrong)
    .map((r) => `${flowName(r)}: expected ${expectDeny(r) ? 'deny' : 'allow'}, observed ${r.observed} (${r.detail})`);
}

describe('lab island: real enforcement with nftables', { skip: labSkip }, () => {
  let lab: Lab;
  let nft: NftExecutor;
  let flows: LabFlow[];
  let agentPids: number[] = [];
  const held: HeldConnection[] = [];

  before(async () => {
    await downLab(LAB); // a previous run that died mid-way
    const t = performance.now();
    const r = await upLab(spec);
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    lab = r.value;
    console.log(`# built ${LAB} (2 nodes, 6 workloads) in ${Math.round(performance.now() - t)} ms`, r.value.timings);
    if (!lab.sctp.supported) console.log(`# SCTP: ${lab.sctp.detail}`);
    agentPids = lab.agents.map((a) => a.pid);
    nft = createNetnsNftExecutor({ namespaceOf: (n) => nodeNamespace(lab, n) });
    flows = [...pairFlows(spec, { sctp: lab.sctp.supported }), ...externalFlows()];
  });

  after(async () => {
    for (const h of held) await h.close().catch(() => undefined);
    const r = await downLab(LAB);
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    console.log(`# tore down ${LAB} in ${r.value.ms} ms`);
    assertLabGone(LAB, agentPids);
  });

  it('creates every namespace inside the lab and nothing in the root namespace', () => {
    assert.equal(labNamespacesNow(LAB).length, 10);
    assertRootUntouched();
  });

  it('with no ruleset, every pair talks on every declared port, and ICMP, in both families', async () => {
    let last = 0;
    const t = performance.now();
    const results = await probe(lab, flows, {
      timeoutMs: 800,
      concurrency: 64,
      onProgress: (p) => (last = p.done),
    });
    console.log(`# probed ${results.length} flows (all allowed) in ${Math.round(performance.now() - t)} ms`);
    assert.equal(last, flows.length, 'progress reached the total');
    assert.deepEqual(await mismatches(lab, results, () => false), []);
    for (const r of results) {
      if ((r.protocol === 'TCP' || r.protocol === 'UDP') && r.observed === 'allow') {
        const expected = r.to.includes('/') ? r.to : 'outside';
        assert.equal(r.responder, expected, `${flowName(r)} answered by the intended listener`);
      }
    }
    const v6 = results.filter((r) => r.toAddress?.includes(':'));
    assert.ok(v6.length >= 4, 'IPv6 flows are among them');
  });

  it('denies what nothing listens on (a closed port refuses; an unknown address times out)', async () => {
    const results = await probe(
      lab,
      [
        { from: 'tenant-1/frontend', to: 'tenant-2/web', port: 9999, protocol: 'TCP' },
        { from: 'tenant-1/frontend', to: 'tenant-2/web', port: 9999, protocol: 'UDP' },
        { from: 'tenant-1/frontend', to: '203.0.113.99', port: 80, protocol: 'TCP' },
      ],
      { timeoutMs: 400 },
    );
    assert.deepEqual(
      results.map((r) => [r.observed, r.detail]),
      [
        ['deny', 'refused'],
        ['deny', 'refused'],
        ['deny', 'timeout'],
      ],
    );
  });

  it('reports SCTP clearly: allowed where the kernel has it, an error saying why where not', async () => {
    const [r] = await probe(lab, [{ from: 'tenant-1/frontend', to: 'tenant-2/cache', port: 7777, protocol: 'SCTP' }]);
    assert.ok(r !== undefined);
    if (lab.sctp.supported) assert.equal(r.observed, 'allow', r.detail);
    else {
      assert.equal(r.observed, 'error');
      assert.match(r.detail, /SCTP unsupported: .*kernel/);
    }
  });

  it('a ruleset on node-a denies exactly the flows it targets; established connections survive', async () => {
    const base = await nft.apply('node-a', BASELINE);
    assert.ok(base.ok, JSON.stringify(base.diagnostics));
    // Opened under the baseline, before the change: one the change does not target, and one
    // (db's own egress) that the change would deny if it were new.
    const h1 = await openConnection(lab, { from: 'tenant-2/web', to: 'tenant-1/frontend', port: 8080 });
    const h2 = await openConnection(lab, { from: 'tenant-1/db', to: 'tenant-2/web', port: 8080 });
    assert.ok(h1.ok && h2.ok, 'held connections open');
    held.push(h1.value, h2.value);

    const applied = await nft.apply('node-a', RESTRICTIVE);
    assert.ok(applied.ok, JSON.stringify(applied.diagnostics));
    const t = performance.now();
    const results = await probe(lab, flows, { timeoutMs: 500, concurrency: 64 });
    const denied = results.filter((r) => r.observed === 'deny').length;
    console.log(`# probed ${results.length} flows (${denied} denied) in ${Math.round(performance.now() - t)} ms`);
    assert.deepEqual(await mismatches(lab, results, deniedByRestrictive), []);
    assert.ok(denied > 0);

    assert.deepEqual(await h1.value.check(), { observed: 'allow', detail: 'held connection still carries data' });
    assert.deepEqual(await h2.value.check(), { observed: 'allow', detail: 'held connection still carries data' });
    const [fresh] = await probe(lab, [{ from: 'tenant-1/db', to: 'tenant-2/web', port: 8080, protocol: 'TCP' }]);
    assert.equal(fresh?.observed, 'deny', 'a new connection on the same path is denied');
  });

  it('counts packets per rule, with the rule comment as provenance', async () => {
    const counters = await nft.counters('node-a');
    const ingress = counters.find((c) => c.comment === INGRESS_COMMENT);
    const egress = counters.find((c) => c.comment === EGRESS_COMMENT);
    assert.ok(ingress !== undefined && egress !== undefined, JSON.stringify(counters));
    assert.equal(ingress.family, 'inet');
    assert.equal(ingress.table, TABLE);
    assert.equal(ingress.chain, 'forward');
    assert.ok(ingress.packets > 0 && ingress.bytes > 0);
    assert.ok(egress.packets > 0 && egress.bytes > 0);
    assert.deepEqual(await nft.counters('node-b'), [], 'node-b has no ruleset');
  });

  it('a failing script leaves the previous ruleset intact (syntax error, kernel rejection)', async () => {
    const before = await nft.list('node-a');
    const syntax = await nft.apply('node-a', RESTRICTIVE.replace('tcp dport 9090', 'tcp dport nine-thousand'));
    assert.equal(syntax.ok, false);
    assert.equal(syntax.diagnostics[0]?.code, 'dataplane/nft-rejected');
    assert.equal(syntax.diagnostics[0]?.span?.file, '<nft:node-a>');
    assert.equal(syntax.diagnostics[0]?.span?.line, 8);
    // Valid until the kernel sees the jump to a missing chain: the flush before it must not stick.
    const kernel = await nft.apply(
      'node-a',
      'flush ruleset\ntable inet broken {\n  chain c {\n    type filter hook forward priority filter; policy drop;\n    jump missing\n  }\n}\n',
    );
    assert.equal(kernel.ok, false);
    assert.equal(await nft.list('node-a'), before, 'ruleset unchanged');
    const results = await probe(lab, [
      { from: 'tenant-2/web', to: 'tenant-1/backend', port: 9090, protocol: 'TCP' },
      { from: 'tenant-2/web', to: 'tenant-1/backend', port: 8080, protocol: 'TCP' },
    ], { timeoutMs: 1000 });
    assert.deepEqual(
      results.map((r) => r.observed),
      ['deny', 'allow'],
      'and it still enforces',
    );
  });

  it('the held connection survived because of conntrack: without the established rule it breaks', async () => {
    const h2 = held[1];
    assert.ok(h2 !== undefined);
    const noConntrack = [
      `table inet ${TABLE}`,
      `delete table inet ${TABLE}`,
      `table inet ${TABLE} {`,
      '  chain forward {',
      '    type filter hook forward priority filter; policy accept;',
      `    iifname "${DB_IF}" drop`,
      '  }',
      '}',
      '',
    ].join('\n');
    const r = await nft.apply('node-a', noConntrack);
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    assert.equal((await h2.check(400)).observed, 'deny');
  });

  it('an unknown node is a diagnostic, not a crash', async () => {
    const r = await nft.apply('node-z', BASELINE);
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics[0]?.code, 'dataplane/unknown-node');
  });
});
