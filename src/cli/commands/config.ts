// `strata config set-context | use-context | current-context | get-contexts`: the contexts file
// (see ../config.ts), so `--server`/`--token` need not be repeated.
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';
import { configPath, readConfig, writeConfig } from '../config.ts';

export async function runSetContext(io: Io, name: string, opts: { server?: string | undefined; token?: string | undefined }): Promise<number> {
  const config = await readConfig();
  const existing = config.contexts.find((c) => c.name === name);
  const server = opts.server ?? existing?.server;
  if (server === undefined) throw new UsageError(`context "${name}" needs --server URL`);
  if (!/^https?:\/\//.test(server)) throw new UsageError(`--server ${server}: expected an http:// or https:// URL`);
  const token = opts.token ?? existing?.token;
  const ctx = { name, server, ...(token === undefined ? {} : { token }) };
  const contexts = [...config.contexts.filter((c) => c.name !== name), ctx];
  const path = await writeConfig({ ...config, contexts, currentContext: config.currentContext ?? name });
  io.out(`Context "${name}" ${existing === undefined ? 'created' : 'modified'} in ${path}.`);
  return EXIT.OK;
}

export async function runUseContext(io: Io, name: string): Promise<number> {
  const config = await readConfig();
  if (!config.contexts.some((c) => c.name === name)) throw new UsageError(`no context named "${name}" in ${configPath()}`);
  await writeConfig({ ...config, currentContext: name });
  io.out(`Switched to context "${name}".`);
  return EXIT.OK;
}

export async function runCurrentContext(io: Io): Promise<number> {
  const config = await readConfig();
  if (config.currentContext === undefined) {
    io.err('strata: current-context is not set');
    return EXIT.FINDINGS;
  }
  io.out(config.currentContext);
  return EXIT.OK;
}

export async function runGetContexts(io: Io): Promise<number> {
  const config = await readConfig();
  const rows = [['CURRENT', 'NAME', 'SERVER'], ...config.contexts.map((c) => [c.name === config.currentContext ? '*' : '', c.name, c.server])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  io.out(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()).join('\n'));
  return EXIT.OK;
}
