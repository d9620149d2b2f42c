// DNS policy with the control plane: `lab up --server --dns` (upAgentLab with dns) — the policy
// goes through the API server to each node's `strata agent`, which programs the DNS-learned sets
// and writes the node's DNS proxy bindings (`--dns-bindings`); then real packets: the allowed name
// reached by name, the same address under another name or by IP denied; a policy change through
// the API that drops the domain rule closes the name too. Needs root and conntrack.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dnsBindingsPathOf, findProgram } from '../../src/lab/index.ts';
import type { LabDnsRecord } from '../../src/lab/index.ts';
import { attachAgentSession, downAgentLab, probeSession, upAgentLab } from '../../src/lab-session/index.ts';
import type { Session, SessionFlow } from '../../src/lab-session/index.ts';
import { describeResult, REPO_ROOT, sessionSkip, sourcesOf, uniqueLabId } from '../lab-session/fixtures.ts';
import { api, eventually, startLiveServer } from './fixtures.ts';
import type { LiveServer } from './fixtures.ts';

const skip = sessionSkip ?? (findProgram('conntrack') === undefined ? 'needs conntrack (conntrack-tools)' : undefined);
const API = '203.0.113.10';
const DNS: LabDnsRecord[] = [
  { name: 'api.example.test', answer: API },
  { name: 'evil.example.org', answer: API },
];
const flow = (to: string): SessionFlow => ({ from: 'shop/web', to, port: 443, protocol: 'TCP' });
const POLICY_PATH = '/apis/projectcalico.org/v3/namespaces/shop/networkpolicies/web-egress';

describe('DNS policy through the API server and the agents', { skip }, () => {
  const labId = uniqueLabId('dn');
  let server: LiveServer;
  const target = (): { server: string; token: string } => ({ server: server.url, token: 'admin-token' });
  const session = async (): Promise<Session> => {
    const s = await attachAgentSession(labId, target());
    assert.ok(s.ok, JSON.stringify(s.ok ? '' : s.diagnostics));
    return s.value;
  };
  const observe = async (to: string): Promise<string> => {
    const [r] = await probeSession(await session(), [flow(to)], { timeoutMs: 800 });
    assert.notEqual(r!.agree, false, describeResult(r!));
    return r!.observed;
  };

  before(async () => {
    server = await startLiveServer();
    const up = await upAgentLab(await sourcesOf(path.join(REPO_ROOT, 'testdata', 'dns')), {
      labId,
      target: target(),
      nodes: 1,
      dns: DNS,
      externals: [{ address: API, ports: [{ port: 443, protocol: 'TCP' }] }],
      reportIntervalSeconds: 1,
    });
    assert.ok(up.ok, JSON.stringify(up.diagnostics));
  });
  after(async () => {
    await downAgentLab(labId);
    await server?.close();
  });

  it('the agent writes the bindings; by name allowed, by another name or IP denied', async () => {
    const s = await session();
    const bindings = JSON.parse(readFileSync(dnsBindingsPathOf(s.lab, s.lab.plan.nodes[0]!.name), 'utf8')) as { table: string; bindings: { patterns: string[] }[] };
    assert.equal(bindings.table, 'strata');
    assert.deepEqual(bindings.bindings.map((b) => b.patterns.join(',')).sort(), ['*.partner.test', '*.partner.test', 'api.example.test', 'api.example.test']);
    assert.equal(await observe('evil.example.org'), 'deny');
    assert.equal(await observe(API), 'deny');
    assert.equal(await observe('api.example.test'), 'allow');
  });

  it('a policy change through the API that drops the domain rule: the name is denied, the bindings follow', async () => {
    const got = await api(server.url, 'GET', POLICY_PATH);
    assert.equal(got.code, 200, JSON.stringify(got.json));
    const policy = got.json as { spec: { egress: unknown[] } };
    policy.spec.egress = policy.spec.egress.slice(1); // keep the partners rule only
    const put = await api(server.url, 'PUT', POLICY_PATH, policy);
    assert.equal(put.code, 200, JSON.stringify(put.json));
    const s = await session();
    const file = dnsBindingsPathOf(s.lab, s.lab.plan.nodes[0]!.name);
    const onlyPartners = (): boolean => {
      const b = JSON.parse(readFileSync(file, 'utf8')) as { bindings: { patterns: string[] }[] };
      return b.bindings.every((x) => x.patterns.join(',') === '*.partner.test');
    };
    assert.ok(await eventually(onlyPartners, 15_000), 'the agent did not rewrite the bindings');
    assert.equal(await observe('api.example.test'), 'deny');
  });
});
