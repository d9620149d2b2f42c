// The nft executor: every apply is one transaction (a script failing anywhere changes nothing,
// not even its valid first half), calls for a node land in the order they were made, and
// counters come back per rule with the comment that carries provenance. The parsers run
// anywhere; the kernel tests need root, ip and nft (a one-node lab provides the namespace).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNetnsNftExecutor, parseNftCounters, parseNftErrors } from '../../src/dataplane/executor.ts';
import type { NftExecutor } from '../../src/dataplane/executor.ts';
import { downLab, nodeNamespace, upLab } from '../../src/lab/island.ts';
import type { Lab } from '../../src/lab/island.ts';
import { probe } from '../../src/lab/probe.ts';
import { nodeInterfaceOf } from '../../src/lab/topology.ts';
import { assertLabGone, labSkip } from '../lab/fixtures.ts';

// Captured from `nft -j list ruleset` (nftables 1.0.6).
const NFT_JSON = JSON.stringify({
  nftables: [
    { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
    { table: { family: 'inet', name: 't', handle: 2 } },
    { chain: { family: 'inet', table: 't', name: 'c', handle: 1, type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
    {
      rule: {
        family: 'inet',
        table: 't',
        chain: 'c',
        handle: 2,
        comment: 'gnp/deny-db|ingress|rule 0',
        expr: [
          { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 80 } },
          { counter: { packets: 3, bytes: 180 } },
          { drop: null },
        ],
      },
    },
    { rule: { family: 'inet', table: 't', chain: 'c', handle: 3, expr: [{ accept: null }] } },
    { rule: { family: 'inet', table: 't', chain: 'c', handle: 4, expr: [{ counter: { packets: 0, bytes: 0 } }, { accept: null }] } },
  ],
});

describe('parseNftCounters', () => {
  it('returns rules with a counter, their comment, packets and bytes', () => {
    const r = parseNftCounters(NFT_JSON);
    assert.ok(r.ok);
    assert.deepEqual(r.value, [
      { family: 'inet', table: 't', chain: 'c', handle: 2, comment: 'gnp/deny-db|ingress|rule 0', packets: 3, bytes: 180 },
      { family: 'inet', table: 't', chain: 'c', handle: 4, packets: 0, bytes: 0 },
    ]);
  });

  it('reports output that is not JSON', () => {
    const r = parseNftCounters('nope');
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics[0]?.code, 'dataplane/bad-json');
  });
});

describe('parseNftErrors', () => {
  it('turns nft positions into spans on the script', () => {
    const stderr = [
      '/dev/stdin:5:13-15: Error: Could not resolve service: Servname not supported for ai_socktype',
      '  tcp dport foo drop',
      '            ^^^',
    ].join('\n');
    assert.deepEqual(parseNftErrors(stderr, 'n1'), [
      {
        code: 'dataplane/nft-rejected',
        severity: 'error',
        message: 'Could not resolve service: Servname not supported for ai_socktype',
        span: { file: '<nft:n1>', line: 5, col: 13, endLine: 5, endCol: 15 },
      },
    ]);
  });

  it('keeps a message without a position', () => {
    assert.deepEqual(parseNftErrors('Error: Could not process rule: No such file or directory\n', 'n1'), [
      { code: 'dataplane/nft-rejected', severity: 'error', message: 'Could not process rule: No such file or directory' },
    ]);
  });
});

describe('netns nft executor (kernel)', { skip: labSkip }, () => {
  const LAB = 'exec1';
  let lab: Lab;
  let nft: NftExecutor;

  before(async () => {
    await downLab(LAB);
    const r = await upLab({
      labId: LAB,
      nodes: ['n1'],
      workloads: [
        { id: 'ns/client', node: 'n1', addresses: ['10.40.0.1'], ports: [] },
        { id: 'ns/server', node: 'n1', addresses: ['10.40.0.2'], ports: [{ port: 80, protocol: 'TCP' }] },
      ],
      externals: [],
    });
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    lab = r.value;
    nft = createNetnsNftExecutor({ namespaceOf: (n) => nodeNamespace(lab, n) });
  });

  after(async () => {
    const pids = lab.agents.map((a) => a.pid);
    const r = await downLab(LAB);
    assert.ok(r.ok);
    assertLabGone(LAB, pids);
  });

  it('starts from an empty ruleset', async () => {
    assert.equal((await nft.list('n1')).trim(), '');
  });

  it('a script failing in its last command applies none of its earlier commands', async () => {
    const script = [
      'add table inet first',
      'add table inet second',
      'add chain inet second c { type filter hook forward priority filter; policy drop; }',
      'add rule inet second c jump does-not-exist',
      '',
    ].join('\n');
    const r = await nft.apply('n1', script);
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics[0]?.code, 'dataplane/nft-rejected');
    assert.equal((await nft.list('n1')).trim(), '', 'neither table exists');
    const [flow] = await probe(lab, [{ from: 'ns/client', to: 'ns/server', port: 80, protocol: 'TCP' }], { timeoutMs: 2000 });
    assert.equal(flow?.observed, 'allow', 'and the drop policy never took effect');
  });

  it('applies calls for one node in the order they were made', async () => {
    const scripts = Array.from({ length: 8 }, (_, i) =>
      ['table inet seq', 'delete table inet seq', 'table inet seq {', '  chain c {', `    counter comment "version ${i}"`, '  }', '}', ''].join('\n'),
    );
    const results = await Promise.all(scripts.map((s) => nft.apply('n1', s)));
    assert.ok(results.every((r) => r.ok));
    assert.match(await nft.list('n1'), /version 7/);
    assert.ok((await nft.apply('n1', 'delete table inet seq\n')).ok);
  });

  it('reads counters per rule after real traffic', async () => {
    const server = nodeInterfaceOf('ns/server');
    const r = await nft.apply(
      'n1',
      [
        'table inet t {',
        '  chain forward {',
        '    type filter hook forward priority filter; policy accept;',
        `    oifname "${server}" tcp dport 80 counter accept comment "allow-web|ingress|rule 0"`,
        `    oifname "${server}" counter drop comment "default-deny|ingress"`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    const results = await probe(lab, [
      { from: 'ns/client', to: 'ns/server', port: 80, protocol: 'TCP' },
      { from: 'ns/client', to: 'ns/server', protocol: 'ICMP' },
    ], { timeoutMs: 1000 });
    assert.deepEqual(
      results.map((x) => x.observed),
      ['allow', 'deny'],
    );
    const counters = await nft.counters('n1');
    const allow = counters.find((c) => c.comment === 'allow-web|ingress|rule 0');
    const deny = counters.find((c) => c.comment === 'default-deny|ingress');
    assert.ok(allow !== undefined && allow.packets >= 1 && allow.bytes > 0, JSON.stringify(counters));
    assert.ok(deny !== undefined && deny.packets >= 1, JSON.stringify(counters));
  });

  it('an unknown node is a diagnostic', async () => {
    const r = await nft.apply('n9', 'table inet x\n');
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics[0]?.code, 'dataplane/unknown-node');
  });
});
