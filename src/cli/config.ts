// The CLI's contexts file, `$XDG_CONFIG_HOME/strata/config` (default `~/.config/strata/config`):
// named server+token pairs and the current one, as kubeconfig keeps them. Written 0600 because
// it holds tokens.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { UsageError } from './exit.ts';

export const contextSchema = z.object({ name: z.string().min(1), server: z.string().min(1), token: z.string().optional() });
export const configSchema = z.object({
  currentContext: z.string().optional(),
  contexts: z.array(contextSchema).default([]),
});
export type CliConfig = z.output<typeof configSchema>;
export type CliContext = z.output<typeof contextSchema>;

export type Env = Readonly<Record<string, string | undefined>>;

export function configPath(env: Env = process.env): string {
  const xdg = env['XDG_CONFIG_HOME'];
  const base = xdg !== undefined && xdg !== '' ? xdg : join(env['HOME'] ?? homedir(), '.config');
  return join(base, 'strata', 'config');
}

export async function readConfig(env: Env = process.env): Promise<CliConfig> {
  const path = configPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { contexts: [] };
  }
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (e) {
    throw new UsageError(`${path} is not valid YAML: ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
  const r = configSchema.safeParse(raw);
  if (!r.success) throw new UsageError(`${path}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

export async function writeConfig(config: CliConfig, env: Env = process.env): Promise<string> {
  const path = configPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

export interface Target {
  readonly server: string;
  readonly token: string | undefined;
}

export interface TargetOptions {
  readonly server?: string | undefined;
  readonly token?: string | undefined;
  readonly context?: string | undefined;
}

/** Flags, then STRATA_SERVER/STRATA_TOKEN, then the (named or current) context. */
export async function resolveTarget(opts: TargetOptions, env: Env = process.env): Promise<Target | undefined> {
  const server = opts.server ?? env['STRATA_SERVER'];
  const token = opts.token ?? env['STRATA_TOKEN'];
  if (server !== undefined && server !== '' && opts.context === undefined) return { server: server.replace(/\/+$/, ''), token };
  const config = await readConfig(env);
  const name = opts.context ?? config.currentContext;
  if (name === undefined) return undefined;
  const ctx = config.contexts.find((c) => c.name === name);
  if (ctx === undefined) throw new UsageError(`context "${name}" is not in ${configPath(env)}`);
  return { server: (server ?? ctx.server).replace(/\/+$/, ''), token: token ?? ctx.token };
}
