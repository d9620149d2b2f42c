// What a new user tripped on (issue 11), through the command in-process: each case failed before.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';

async function run(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo(stdin);
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

const dir = mkdtempSync(join(tmpdir(), 'strata-newcomer-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const CLUSTER = file(
  'cluster.yaml',
  `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: shop, labels: {app: frontend}}
spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: emailservice, namespace: shop}
spec:
  selector: {matchLabels: {app: email}}
  template:
    metadata: {labels: {app: email}}
    spec: {containers: [{name: c, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: emailservice, namespace: shop}
spec: {selector: {app: email}, ports: [{name: grpc, port: 5000, targetPort: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: email, namespace: shop}
spec:
  podSelector: {matchLabels: {app: email}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}], ports: [{port: 8080}]}]
`,
);

describe('item 1: Services are resolved, not treated as external domains', () => {
  for (const to of ['emailservice.shop', 'emailservice.shop.svc.cluster.local', 'shop/emailservice']) {
    test(`--to ${to} --port 5000 is allowed through targetPort 8080, and the trace says so`, async () => {
      const r = await run(['explain', '-f', CLUSTER, '--from', 'shop/frontend', '--to', to, '--port', '5000']);
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /via service shop\/emailservice port 5000 → backend shop\/emailservice port 8080/);
    });
  }
  test('-o json carries the Service hop as an added field; the documented fields stay', async () => {
    const r = await run(['explain', '-f', CLUSTER, '--from', 'shop/frontend', '--to', 'emailservice.shop', '--port', '5000', '-o', 'json']);
    const e = JSON.parse(r.out) as Record<string, unknown>;
    assert.deepEqual(e['service'], { service: 'shop/emailservice', port: 5000, protocol: 'TCP', backend: 'shop/emailservice', targetPort: 8080 });
    assert.equal(e['to'], 'emailservice.shop');
    assert.equal(e['port'], 8080);
    for (const k of ['from', 'verdict', 'decidedBy', 'egress', 'ingress', 'pending', 'ipVersion', 'srcAddress', 'dstAddress']) assert.ok(k in e, k);
  });
  test('a set on the source side prints one line per class and a count', async () => {
    const r = await run(['explain', '-f', CLUSTER, '--from', 'shop/*', '--to', 'shop/emailservice', '--port', '8080']);
    assert.match(r.out, /^shop\/\* → shop\/emailservice: 2 flows .*, 2 allowed, 0 denied$/m);
    assert.equal(r.code, 0);
  });
});

describe('item 2: a misspelt kind fails check; --strict fails on warnings', () => {
  test('GlobalNetworkPolicyy is an error (exit 2) with a did-you-mean', async () => {
    const f = file('typo.yaml', 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicyy\nmetadata: {name: p}\nspec: {selector: all()}\n');
    const r = await run(['check', '-f', f]);
    assert.equal(r.code, 2);
    assert.match(r.out, /typo\.yaml:2:7: model\/unknown-kind: [\s\S]*did you mean "GlobalNetworkPolicy"\?/);
  });
  test('check --strict exits 1 on a warning that check alone lets pass', async () => {
    const f = file('warn.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: b}}\nspec: {containers: [{name: c}]}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec: {selector: a == "nope", types: [Ingress]}\n');
    assert.equal((await run(['check', '-f', f])).code, 0);
    const strict = await run(['check', '-f', f, '--strict']);
    assert.equal(strict.code, 1);
    assert.match(strict.out, /--strict: warnings fail/);
  });
});

describe('item 4: -f - with --flows - is refused', () => {
  test('exit 2 and says why', async () => {
    const r = await run(['explain', '-f', '-', '--flows', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n');
    assert.equal(r.code, 2);
    assert.match(r.err, /cannot both read stdin/);
  });
});

describe('item 7: flow inputs are range-checked', () => {
  const cases: readonly [string, string[], RegExp][] = [
    ['a source port of 99999', ['--port', '8080', '--src-port', '99999'], /source port 99999 is not an integer from 1 to 65535/],
    ['ICMP type 300', ['--protocol', 'ICMP', '--icmp-type', '300'], /ICMP type 300 is not an integer from 0 to 255/],
    ['ICMP code 256', ['--protocol', 'ICMP', '--icmp-code', '256'], /ICMP code 256/],
    ['--port with ICMP', ['--protocol', 'ICMP', '--port', '80'], /ICMP has no ports/],
    ['--icmp-type with TCP', ['--port', '80', '--icmp-type', '8'], /needs protocol ICMP/],
  ];
  for (const [name, args, message] of cases) {
    test(`${name}: exit 2 with a clear message`, async () => {
      const r = await run(['explain', '-f', CLUSTER, '--from', 'shop/frontend', '--to', 'shop/emailservice', ...args]);
      assert.equal(r.code, 2, r.out);
      assert.match(r.err, message);
    });
  }
  test('loopback says the endpoint talks to itself, not that it is no cluster endpoint', async () => {
    const r = await run(['explain', '-f', CLUSTER, '--from', 'shop/frontend', '--to', 'shop/frontend', '--port', '80']);
    assert.equal(r.code, 0);
    assert.match(r.out, /egress: not evaluated \(an endpoint talking to itself: no policy applies\)/);
    assert.doesNotMatch(r.out, /not a cluster endpoint/);
  });
});

describe('item 9: small things', () => {
  test('a missing --flows file is a sentence, not a raw ENOENT', async () => {
    const r = await run(['explain', '-f', CLUSTER, '--flows', join(dir, 'nope.jsonl')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /cannot read --flows .*nope\.jsonl: no such file$/);
    assert.doesNotMatch(r.err, /ENOENT/);
  });
  test('empty input gets a hint and the summary counts no tiers', async () => {
    const r = await run(['check', '-f', '-'], '');
    assert.match(r.out, /load\/empty-input: no resources found in stdin/);
    assert.match(r.out, /0 resources \(0 policies, 0 endpoints, 0 tiers\)/);
  });
  test('strata --version prints the version', async () => {
    const r = await run(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^\d+\.\d+\.\d+/);
  });
});
