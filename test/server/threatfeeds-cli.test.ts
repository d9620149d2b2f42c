// `strata server`'s threat-feed flags, through the real binary: --threatfeed-allow lets a listed
// origin be pulled (the set appears), a malformed entry is a usage error naming it, and
// --no-threatfeeds stores feeds without pulling them.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import { TOKENS } from './harness.ts';
import { startFeedServer } from '../feeds/feed-server.ts';
import type { FeedServer } from '../feeds/feed-server.ts';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'strata-feedcli-'));
const tokenFile = join(dir, 'tokens.csv');
writeFileSync(tokenFile, TOKENS);

let feeds: FeedServer;
before(async () => {
  feeds = await startFeedServer();
});
after(async () => {
  await feeds.close();
});

async function startServer(db: string, extra: readonly string[]): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(root, 'bin/strata.js'), 'server', '--listen', '127.0.0.1:0', '--store', `sqlite:${join(dir, db)}`, '--token-auth-file', tokenFile, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
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
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    },
  };
}

const call = async (base: string, method: string, path: string, body?: unknown): Promise<{ code: number; json: any }> => {
  const r = await fetch(`${base}${path}`, { method, headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { code: r.status, json: await r.json().catch(() => undefined) };
};

const feed = (name: string, url: string) => ({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalThreatFeed', metadata: { name }, spec: { pull: { period: '1s', http: { url } }, globalNetworkSet: { labels: { threat: 'x' } } } });

test('--threatfeed-allow: a malformed entry is a usage error naming it', async () => {
  const io = memoryIo();
  const code = await main(['server', '--token-auth-file', tokenFile, '--store', `sqlite:${join(dir, 'bad.db')}`, '--threatfeed-allow', 'http://127.0.0.1', '--threatfeed-allow', 'ftp://feeds.example.com'], io);
  assert.equal(code, 2);
  assert.match(io.stderr.join('\n'), /--threatfeed-allow "ftp:\/\/feeds\.example\.com": expected http:\/\/HOST\[:PORT\]/);
});

test('strata server --threatfeed-allow http://127.0.0.1 pulls a loopback feed into its set; --no-threatfeeds does not', async () => {
  feeds.set('/cli', { kind: 'content', text: '198.51.100.70\n' });
  const on = await startServer('on.db', ['--threatfeed-allow', 'http://127.0.0.1']);
  const off = await startServer('off.db', ['--no-threatfeeds']);
  try {
    assert.equal((await call(on.url, 'POST', '/apis/projectcalico.org/v3/globalthreatfeeds', feed('cli', feeds.url('/cli')))).code, 201);
    assert.equal((await call(off.url, 'POST', '/apis/projectcalico.org/v3/globalthreatfeeds', feed('cli-off', feeds.url('/cli-off')))).code, 201);
    const deadline = Date.now() + 10_000;
    let set: any;
    while (Date.now() < deadline) {
      set = await call(on.url, 'GET', '/apis/projectcalico.org/v3/globalnetworksets/threatfeed.cli');
      if (set.code === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(set.code, 200);
    assert.deepEqual(set.json.spec.nets, ['198.51.100.70/32']);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(feeds.requests.filter((r) => r.path === '/cli-off').length, 0);
    assert.equal((await call(off.url, 'GET', '/apis/projectcalico.org/v3/globalnetworksets/threatfeed.cli-off')).code, 404);
  } finally {
    await on.stop();
    await off.stop();
  }
});
