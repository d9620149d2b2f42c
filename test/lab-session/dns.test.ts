// DNS policy, enforced, with real packets: a workload allowed `api.example.test` reaches it by
// name — resolved through its node's DNS proxy, which puts the answer into the rule's nft set
// before it releases the answer — while the same address under a name no policy allows, or by
// IP, is denied. Then the learned address expires with the record's TTL. Needs root, ip, nft and
// ping; skips with the reason otherwise.
//
//   node_modules/.bin/node --test test/lab-session/dns.test.ts
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { nftName } from '../../src/dataplane/index.ts';
import { DNS_TTL_SECONDS, planLab, probe } from '../../src/lab/index.ts';
import type { LabDnsRecord } from '../../src/lab/index.ts';
import { downSession, probeSession, SESSION_TABLE, upSession } from '../../src/lab-session/index.ts';
import type { Session, SessionProbeResult } from '../../src/lab-session/index.ts';
import { describeResult, flowsOf, REPO_ROOT, sessionSkip, sourcesOf, uniqueLabId } from './fixtures.ts';

const DIR = path.join(REPO_ROOT, 'testdata', 'dns');
const API = '203.0.113.10';
const EDGE = '198.51.100.7';
const DNS: LabDnsRecord[] = [
  { name: 'api.example.test', answer: API },
  { name: 'evil.example.org', answer: API },
  { name: 'www.partner.test', answer: 'edge.cdn.test' },
  { name: 'edge.cdn.test', answer: EDGE },
];

/** The elements of a DNS-learned set on a node, as the kernel holds them. */
function learned(session: Session, node: string, set: string): string[] {
  const ns = session.lab.plan.nodes.find((n) => n.name === node)!.namespace;
  assert.ok(ns.startsWith(`stl-${session.lab.labId}-`));
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'set', 'inet', SESSION_TABLE, set], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const items = (JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] }).nftables;
  const elem = items.find((i) => i.set !== undefined)?.set?.elem ?? [];
  return elem.map((e) => (typeof e === 'string' ? e : String((e as { elem: { val: string } }).elem.val)));
}

describe('lab session: DNS policy, enforced', { skip: sessionSkip }, () => {
  const labId = uniqueLabId('dn');
  after(async () => {
    await downSession(labId);
  });

  it('allowed by name: reached; the same address under another name or by IP: denied; the address expires with its TTL', async () => {
    const flows = flowsOf(path.join(DIR, 'flows.jsonl'));
    const up = await upSession(await sourcesOf(DIR), {
      labId,
      nodes: 1,
      flows,
      dns: DNS,
      externals: [{ address: EDGE, ports: [{ port: 443, protocol: 'TCP' }] }],
    });
    assert.ok(up.ok, JSON.stringify(up.diagnostics));
    const session = up.value.session;
    const node = session.lab.plan.nodes[0]!.name;
    const apiSet = nftName('d4/api.example.test');
    const partnerSet = nftName('d4/*.partner.test');

    // One at a time, in file order: what was resolved before decides what the kernel holds.
    const results: SessionProbeResult[] = [];
    for (const [i, f] of flows.entries()) {
      const [r] = await probeSession(session, [f], { timeoutMs: 800 });
      results.push(r!);
      // Nothing is learned before the allowed name is asked for (flows 0–1: the other name, the IP).
      if (i === 1) assert.deepEqual(learned(session, node, apiSet), []);
    }
    assert.deepEqual(results.filter((r) => r.agree !== true).map(describeResult), []);
    assert.deepEqual(
      results.map((r) => [r.to, r.port, r.observed]),
      [
        ['evil.example.org', 443, 'deny'],
        [API, 443, 'deny'],
        ['api.example.test', 443, 'allow'],
        ['api.example.test', 443, 'deny'],
        ['www.partner.test', 443, 'allow'],
        ['api.example.test', 80, 'deny'],
      ],
    );
    // Probes by name connected to what the proxy answered, and say which pattern matched.
    assert.equal(results[0]!.toAddress, API);
    assert.equal(results[2]!.toAddress, API);
    assert.deepEqual(results[2]!.matchedDomain, { name: 'api.example.test', pattern: 'api.example.test', via: 'rule' });
    assert.equal(results[4]!.toAddress, EDGE);
    assert.deepEqual(results[4]!.matchedDomain, { name: 'www.partner.test', pattern: '*.partner.test', via: 'partners' });
    assert.deepEqual(learned(session, node, apiSet), [API]);
    assert.deepEqual(learned(session, node, partnerSet), [EDGE]);

    // DNS policy is enforced by address: while the answer's TTL runs, the address passes by IP
    // too (docs/dns.md) — and once it has run out, it is denied again.
    const byIp = { from: 'shop/web', to: API, port: 443, protocol: 'TCP' } as const;
    const [fresh] = await probeSession(session, [{ from: 'shop/web', to: 'api.example.test', port: 443, protocol: 'TCP' }], { timeoutMs: 800 });
    assert.equal(fresh!.observed, 'allow');
    const [within] = await probe(session.lab, [byIp], { timeoutMs: 800 });
    assert.equal(within!.observed, 'allow', within!.detail);
    // …and under the other name: the kernel allows what the engine denies, and says why.
    const [other] = await probeSession(session, [{ from: 'shop/web', to: 'evil.example.org', port: 443, protocol: 'TCP' }], { timeoutMs: 800 });
    assert.deepEqual([other!.observed, other!.engine, other!.agree], ['allow', 'deny', false]);
    assert.match(other!.detail, /203\.0\.113\.10 is also the answer for api\.example\.test: an allowed name's answer opens the address for its TTL/);
    const deadline = Date.now() + (DNS_TTL_SECONDS + 8) * 1000;
    while (learned(session, node, apiSet).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(learned(session, node, apiSet), [], 'the learned address outlived its TTL');
    const [expired] = await probe(session.lab, [byIp], { timeoutMs: 800 });
    assert.equal(expired!.observed, 'deny', expired!.detail);
  });
});

describe('lab --dns input', () => {
  const spec = { labId: 'dnbad', nodes: ['n'], workloads: [{ id: 'a/w', node: 'n', addresses: ['10.1.0.1'], ports: [] }], externals: [] };
  it('a name that is not a domain name, a wildcard or a reserved answer: errors naming the field', () => {
    const r = planLab({
      ...spec,
      dns: [
        { name: 'not a name', answer: API },
        { name: '*.example.test', answer: API },
        { name: 'ok.example.test', answer: '169.254.1.1' },
        { name: 'alias.example.test', answer: 'bad..target' },
      ],
    });
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.diagnostics.map((d) => `${d.code}@${d.path ?? ''}`),
      ['lab/invalid-dns@dns[0].name', 'lab/invalid-dns@dns[1].name', 'lab/invalid-dns@dns[2].answer', 'lab/invalid-dns@dns[3].answer'],
    );
  });
  it('an answer address becomes an external the outside host answers for', () => {
    const r = planLab({ ...spec, dns: [{ name: 'API.example.test.', answer: API }] });
    assert.ok(r.ok);
    assert.deepEqual(r.value.dns, [{ name: 'api.example.test', type: 'A', data: API }]);
    assert.deepEqual(r.value.externals.map((e) => e.address), [API]);
  });
});
