// `strata console -f …`: the real server over a temporary SQLite datastore holding the manifests,
// an admin token printed once; bad manifests are refused with their errors and nothing is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';
import { runConsole } from '../../src/cli/commands/console.ts';
import { policyBoardSchema } from '../../src/server/board-wire.ts';
import { ensureConsoleBuilt, STEP5 } from '../console/harness.ts';

const consoleDirs = (): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith('strata-console-') && !d.startsWith('strata-console-test-') && !d.startsWith('strata-console-shots-'));

test('strata console serves the UI and the API over the manifests with the printed token, and removes its datastore on stop', async () => {
  ensureConsoleBuilt();
  const before = new Set(consoleDirs());
  const io = memoryIo();
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const run = runConsole(io, { filename: STEP5, listen: '127.0.0.1:0' }, stopped);
  for (let i = 0; i < 200 && !io.stdout.some((l) => l.startsWith('token:')); i++) await new Promise((r) => setTimeout(r, 50));
  const url = /^console: (http:\/\/127\.0\.0\.1:\d+)\/ui\/$/.exec(io.stdout[0] ?? '')?.[1];
  const token = /^token:\s+(\S+)$/.exec(io.stdout[1] ?? '')?.[1];
  assert.ok(url !== undefined && token !== undefined, io.stdout.join('\n'));
  const created = consoleDirs().filter((d) => !before.has(d));
  assert.equal(created.length, 1, 'one temporary datastore');
  try {
    assert.match(await (await fetch(`${url}/ui/`)).text(), /<div id="root">/);
    const board = policyBoardSchema.parse(await (await fetch(`${url}/apis/strata/v1/policyboard`, { headers: { authorization: `Bearer ${token}` } })).json());
    assert.ok(board.tiers.some((t) => t.name === 'security' && t.policies.length > 0));
    assert.equal((await fetch(`${url}/apis/strata/v1/policyboard`, { headers: { authorization: 'Bearer guess' } })).status, 401);
  } finally {
    stop();
    assert.equal(await run, 0);
  }
  assert.equal(existsSync(join(tmpdir(), created[0]!)), false, 'the datastore is deleted');
});

test('strata console refuses manifests the server would refuse, naming the field, and leaves nothing behind', async () => {
  const before = new Set(consoleDirs());
  const bad = 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x.y}\nspec: {tier: x, selector: "app == "}\n';
  const io = memoryIo(bad);
  const code = await main(['console', '-f', '-', '--listen', '127.0.0.1:0'], io);
  assert.equal(code, 2);
  assert.match(io.stderr.join('\n'), /do not apply \(422\)/);
  assert.match(io.stderr.join('\n'), /spec\.selector/);
  assert.deepEqual(consoleDirs().filter((d) => !before.has(d)), []);
});
