// The client side of `strata … --server`: where the contexts file lives, and which server and
// token a command uses (flags, then STRATA_SERVER/STRATA_TOKEN, then the context) — on a temp
// HOME, never the user's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configPath, resolveTarget, writeConfig } from '../../src/cli/config.ts';

test('the contexts file honours XDG_CONFIG_HOME, then HOME', () => {
  assert.equal(configPath({ HOME: '/home/a' }), '/home/a/.config/strata/config');
  assert.equal(configPath({ HOME: '/home/a', XDG_CONFIG_HOME: '/xdg' }), '/xdg/strata/config');
  assert.equal(configPath({ HOME: '/home/a', XDG_CONFIG_HOME: '' }), '/home/a/.config/strata/config');
});

test('flags win over the environment, the environment over the current context', async () => {
  const env = { HOME: mkdtempSync(join(tmpdir(), 'strata-home-')) };
  assert.equal(await resolveTarget({}, env), undefined);
  await writeConfig({ currentContext: 'a', contexts: [{ name: 'a', server: 'http://ctx-a/', token: 'ta' }, { name: 'b', server: 'http://ctx-b', token: 'tb' }] }, env);
  assert.deepEqual(await resolveTarget({}, env), { server: 'http://ctx-a', token: 'ta' });
  assert.deepEqual(await resolveTarget({ context: 'b' }, env), { server: 'http://ctx-b', token: 'tb' });
  const withEnv = { ...env, STRATA_SERVER: 'http://env', STRATA_TOKEN: 'te' };
  assert.deepEqual(await resolveTarget({}, withEnv), { server: 'http://env', token: 'te' });
  assert.deepEqual(await resolveTarget({ server: 'http://flag', token: 'tf' }, withEnv), { server: 'http://flag', token: 'tf' });
  await assert.rejects(resolveTarget({ context: 'nope' }, env), /context "nope" is not in/);
});
