// `strata server` as a real process over HTTP: the CLI (in-process) against it with contexts,
// the workshop applied and explained live, SIGKILL right after acknowledged writes (SQLite), and
// two servers sharing one real etcd seeing each other's writes through watch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import { TOKENS } from './harness.ts';
import { etcdSkipReason, startEtcdCluster } from '../store/etcd-process.ts';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'strata-e2e-'));
const tokenFile = join(dir, 'tokens.csv');
writeFileSync(tokenFile, TOKENS);

interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  kill(signal: NodeJS.Signals): Promise<void>;
}

async function startServer(store: string, audit = join(dir, 'audit.jsonl'), extra: readonly string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [join(root, 'bin/strata.js'), 'server', '--listen', '127.0.0.1:0', '--store', store, '--token-auth-file', tokenFile, '--audit-log', audit, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 20_000);
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      const m = /listening on (https?:\/\/[^\s]+)/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
  return {
    url,
    child,
    async kill(signal) {
      if (child.exitCode !== null || child.pid === undefined) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      process.kill(child.pid, signal);
      await exited;
    },
  };
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

const savedEnv = { HOME: process.env['HOME'], XDG: process.env['XDG_CONFIG_HOME'], S: process.env['STRATA_SERVER'], T: process.env['STRATA_TOKEN'] };
let server: ServerProcess;
before(async () => {
  process.env['HOME'] = mkdtempSync(join(tmpdir(), 'strata-home-'));
  delete process.env['XDG_CONFIG_HOME'];
  delete process.env['STRATA_SERVER'];
  delete process.env['STRATA_TOKEN'];
  server = await startServer(`sqlite:${join(dir, 'main.db')}`);
});
after(async () => {
  await server.kill('SIGTERM');
  for (const [k, v] of [['HOME', savedEnv.HOME], ['XDG_CONFIG_HOME', savedEnv.XDG], ['STRATA_SERVER', savedEnv.S], ['STRATA_TOKEN', savedEnv.T]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

test('the CLI against a server process: contexts, apply -f, get in every form, explain --server, delete, audit', async () => {
  assert.equal((await cli(['get', 'pods'])).code, 2, 'no server configured');
  assert.equal((await cli(['config', 'set-context', 'lab', '--server', server.url, '--token', 'admin-token'])).code, 0);
  assert.equal((await cli(['config', 'set-context', 'as-bob', '--server', server.url, '--token', 'bob-token'])).code, 0);
  assert.equal((await cli(['config', 'use-context', 'lab'])).code, 0);
  assert.equal((await cli(['config', 'current-context'])).out, 'lab');

  const ws = join(root, 'testdata/workshop');
  const applied = await cli(['apply', '-f', join(ws, 'cluster'), '-f', join(ws, 'common'), '-f', join(ws, 'original-apps'), '-f', join(ws, 'enforce')]);
  assert.equal(applied.code, 0, applied.err);
  assert.match(applied.out, /^tier\.projectcalico\.org\/security created$/m);
  assert.match(applied.out, /^globalnetworkpolicy\.projectcalico\.org\/security\.tenant-01-restrict created$/m);
  assert.match((await cli(['apply', '-f', join(ws, 'cluster/tiers.yaml')])).out, /^tier\.projectcalico\.org\/security unchanged$/m);

  const tiers = await cli(['get', 'tier', '-o', 'name']);
  assert.deepEqual(tiers.out.split('\n').sort(), ['tier.projectcalico.org/application', 'tier.projectcalico.org/appsec', 'tier.projectcalico.org/platform', 'tier.projectcalico.org/security']);
  const gnp = await cli(['get', 'gnp']);
  assert.match(gnp.out, /^NAME\s+TIER\s+AGE$/m);
  assert.match(gnp.out, /^security\.tenant-01-restrict\s+security\s+\d+s$/m);
  const allNs = await cli(['get', 'networkpolicies.projectcalico.org', '-A']);
  assert.match(allNs.out, /^NAMESPACE\s+NAME\s+TIER\s+AGE$/m);
  const pods = await cli(['get', 'deploy', '-n', 'bookinfo', '-l', 'app=ratings', '-o', 'json']);
  const list = JSON.parse(pods.out);
  assert.equal(list.kind, 'List');
  assert.ok(list.items.length >= 1 && list.items.every((p: { metadata: { labels: Record<string, string> } }) => p.metadata.labels['app'] === 'ratings'));
  const one = await cli(['get', 'namespace', 'bookinfo', '-o', 'yaml']);
  assert.match(one.out, /^kind: Namespace$/m);
  assert.match(one.out, /resourceVersion: "\d+"/);
  assert.equal((await cli(['get', 'nosuchkind'])).code, 2);

  const offline = await cli(['explain', '-f', join(ws, 'cluster'), '-f', join(ws, 'common'), '-f', join(ws, 'original-apps'), '-f', join(ws, 'enforce'), '--from', 'bookinfo/productpage-v1', '--to', 'bookinfo/reviews-v1', '--port', '9080', '-o', 'json']);
  const live = await cli(['explain', '--server', server.url, '--token', 'admin-token', '--from', 'bookinfo/productpage-v1', '--to', 'bookinfo/reviews-v1', '--port', '9080', '-o', 'json']);
  const strip = (t: string): unknown => JSON.parse(t, (k, v) => (k === 'source' ? undefined : v));
  assert.equal(live.code, offline.code, live.err);
  assert.deepEqual(strip(live.out), strip(offline.out));
  const matrix = await cli(['matrix', '--port', '9080/TCP', '-o', 'csv']);
  assert.equal(matrix.code, 0, matrix.err);
  assert.match(matrix.out, /^from,to,port,protocol,verdict$/m);

  const refused = await cli(['get', 'pods', '-n', 'bookinfo', '--context', 'as-bob']);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /^Error from server \(Forbidden\) \[403\]: pods is forbidden: User "bob" cannot list resource "pods"/);
  const anon = await cli(['get', 'pods', '--server', server.url]);
  assert.equal(anon.code, 1);
  assert.match(anon.err, /\(Unauthorized\) \[401\]/);

  writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: bad}\nspec: {tier: nosuch, selector: all()}\n');
  const bad = await cli(['apply', '-f', join(dir, 'bad.yaml')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /\[422\]/);
  assert.match(bad.err, /^ {2}\[0\]\.spec\.tier: engine\/tier-not-found: /m);

  const del = await cli(['delete', 'gnp', 'security.tenant-01-restrict']);
  assert.equal(del.code, 0, del.err);
  assert.equal(del.out, 'globalnetworkpolicy.projectcalico.org "security.tenant-01-restrict" deleted');
  assert.equal((await cli(['delete', 'gnp', 'security.tenant-01-restrict'])).code, 1);
  assert.equal((await cli(['delete', 'gnp', 'security.tenant-01-restrict', '--ignore-not-found'])).code, 0);

  const audit = await cli(['audit', '--since', '1h']);
  assert.match(audit.out, /^TIME\s+USER\s+VERB\s+RESOURCE\s+OBJECT\s+TIER\s+DECISION\s+CODE$/m);
  assert.match(audit.out, /admin\s+delete\s+globalnetworkpolicies\.projectcalico\.org\s+security\.tenant-01-restrict\s+security\s+allow\s+200/);
  assert.match(audit.out, /bob\s+list\s+pods\s+bookinfo\s+forbid\s+403/);
  const json = await cli(['audit', '-o', 'json']);
  assert.ok(json.out.split('\n').every((l) => JSON.parse(l).apiVersion === 'audit.k8s.io/v1'));
});

test('SIGKILL right after acknowledged writes loses none of them (SQLite)', async () => {
  const db = `sqlite:${join(dir, 'kill.db')}`;
  const s = await startServer(db, join(dir, 'kill-audit.jsonl'));
  const auth = { authorization: 'Bearer admin-token', 'content-type': 'application/json' };
  const acked: string[] = [];
  for (let i = 0; i < 30; i++) {
    const name = `ns-${i}`;
    const r = await fetch(`${s.url}/api/v1/namespaces`, { method: 'POST', headers: auth, body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) });
    if (r.status === 201) acked.push(name);
  }
  await s.kill('SIGKILL');
  assert.equal(acked.length, 30);
  const again = await startServer(db, join(dir, 'kill-audit.jsonl'));
  try {
    const r = await fetch(`${again.url}/api/v1/namespaces`, { headers: auth });
    const names = ((await r.json()) as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name);
    for (const n of acked) assert.ok(names.includes(n), `${n} survived`);
  } finally {
    await again.kill('SIGTERM');
  }
});

test('two servers on one etcd see each other\'s writes through watch', { skip: etcdSkipReason() }, async () => {
  const etcd = await startEtcdCluster(1);
  const a = await startServer(etcd.spec, join(dir, 'a.jsonl'));
  const b = await startServer(etcd.spec, join(dir, 'b.jsonl'));
  try {
    const auth = { authorization: 'Bearer admin-token', 'content-type': 'application/json' };
    const ac = new AbortController();
    const res = await fetch(`${b.url}/apis/projectcalico.org/v3/tiers?watch=true`, { headers: auth, signal: ac.signal });
    assert.equal(res.status, 200);
    const created = await fetch(`${a.url}/apis/projectcalico.org/v3/tiers`, { method: 'POST', headers: auth, body: JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'from-a' }, spec: { order: 5 } }) });
    assert.equal(created.status, 201);
    const rv = ((await created.json()) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    let buf = '';
    const deadline = setTimeout(() => ac.abort(), 10_000);
    let seen: { type: string; object: { metadata: { name: string; resourceVersion: string } } } | undefined;
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buf += Buffer.from(chunk).toString('utf8');
        const line = buf.split('\n').find((l) => l.includes('from-a'));
        if (line !== undefined) {
          seen = JSON.parse(line);
          break;
        }
      }
    } finally {
      clearTimeout(deadline);
      ac.abort();
    }
    assert.equal(seen?.type, 'ADDED');
    assert.equal(seen?.object.metadata.resourceVersion, rv, 'both servers serve etcd\'s revisions');
    // B validates against A's write: a policy in the tier A created is accepted by B.
    const pol = await fetch(`${b.url}/apis/projectcalico.org/v3/globalnetworkpolicies`, { method: 'POST', headers: auth, body: JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'from-a.p' }, spec: { tier: 'from-a', selector: 'all()' } }) });
    assert.equal(pol.status, 201, await pol.text());
  } finally {
    await a.kill('SIGTERM');
    await b.kill('SIGTERM');
    await etcd.destroy();
  }
});

function kubectlSkipReason(): string | undefined {
  for (const bin of ['/usr/bin/kubectl', '/usr/bin/openssl']) if (!existsSync(bin)) return `${bin} is not installed`;
  return undefined;
}

test('kubectl works against the server over TLS: apply, get, delete', { skip: kubectlSkipReason() }, async () => {
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const s = await startServer(`sqlite:${join(dir, 'kubectl.db')}`, join(dir, 'kubectl.jsonl'), ['--tls-cert-file', cert, '--tls-private-key-file', key]);
  try {
    assert.match(s.url, /^https:/);
    const kubectl = (...args: string[]): string =>
      execFileSync('/usr/bin/kubectl', ['--server', s.url, '--token', 'admin-token', '--certificate-authority', cert, ...args], { encoding: 'utf8', env: { ...process.env, HOME: dir, KUBECONFIG: join(dir, 'no-kubeconfig') } });
    // Client-side validation needs the OpenAPI protobuf kubectl asks for; the server validates anyway.
    assert.match(kubectl('apply', '--validate=false', '-f', join(root, 'testdata/workshop/cluster/tiers.yaml')), /^tier\.projectcalico\.org\/security created$/m);
    const tiers = JSON.parse(kubectl('get', 'tiers.projectcalico.org', '-o', 'json')) as { items: { metadata: { name: string } }[] };
    assert.deepEqual(tiers.items.map((t) => t.metadata.name), ['application', 'appsec', 'platform', 'security']);
    assert.match(kubectl('apply', '--validate=false', '-f', join(root, 'testdata/workshop/cluster/tiers.yaml')), /security unchanged/);
    assert.match(kubectl('delete', 'tier', 'appsec'), /"appsec" deleted/);
  } finally {
    await s.kill('SIGTERM');
  }
});
