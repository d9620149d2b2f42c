#!/usr/bin/env node
// The `strata` command. Node 24 runs the TypeScript sources directly (type stripping). When an
// older Node starts this file (say `node bin/strata.js` with a system Node 20), hand over to the
// Node 24 that `npm ci` installed with the project, so the command works however it is started.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

const strips = process.features?.typescript !== undefined && process.features.typescript !== false;
if (!strips) {
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned) || pinned === process.execPath) {
    process.stderr.write(`strata: needs Node.js 24 or newer (this is ${process.version}); run \`npm ci\` in the project first\n`);
    process.exit(2);
  }
  const r = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 3);
}

// Node's module compile cache keeps the type-stripped sources and V8's code cache on disk
// (Node 24 caches the type-stripped TypeScript too), so later starts skip most of the parse and
// compile work. It lives outside the checkout — \$NODE_COMPILE_CACHE, else
// os.tmpdir()/node-compile-cache — and never throws: an unwritable directory just means no cache.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off.
module.enableCompileCache?.();

const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
