// The files the DNS processes read (zod-checked: they cross a process boundary). The proxy's
// bindings file is written by whoever programs the node's nftables (the lab session, the agent)
// after each apply, atomically (write + rename); the proxy re-reads it when its mtime changes.
import { renameSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import type { DomainBinding } from './answer.ts';

const endpointSchema = z.strictObject({ address: z.string().min(1), port: z.number().int().min(0).max(65_535) });

export const bindingsFileSchema = z.strictObject({
  /** The `inet` table that holds the sets. */
  table: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/),
  bindings: z.array(
    z.strictObject({
      set: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/),
      family: z.union([z.literal(4), z.literal(6)]),
      patterns: z.array(z.string().min(1)).min(1),
    }),
  ),
});
export type BindingsFile = z.infer<typeof bindingsFileSchema>;

export const proxyConfigSchema = z.strictObject({
  mode: z.literal('proxy'),
  listen: endpointSchema,
  /** Trusted upstream servers, tried in order when one does not answer. */
  upstreams: z.array(endpointSchema).min(1),
  /** Path of the bindings file (absent until the first apply: nothing is learned meanwhile). */
  bindingsFile: z.string().min(1),
  minTtlSeconds: z.number().int().min(1).default(2),
  maxTtlSeconds: z.number().int().min(1).default(3600),
  nft: z.string().default('nft'),
});

export const serverConfigSchema = z.strictObject({
  mode: z.literal('server'),
  listen: endpointSchema,
  records: z.array(
    z.strictObject({
      name: z.string().min(1),
      type: z.enum(['A', 'AAAA', 'CNAME']),
      data: z.string().min(1),
      ttl: z.number().int().min(0).optional(),
    }),
  ),
});

export const dnsProcessConfigSchema = z.discriminatedUnion('mode', [proxyConfigSchema, serverConfigSchema]);
export type DnsProcessConfig = z.input<typeof dnsProcessConfigSchema>;

/** Writes a bindings file so that a reader sees the old or the new one, never half of one. */
export function writeBindingsFile(path: string, file: BindingsFile): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * The bindings of a file, re-read only when its mtime or size changed. A missing or invalid file
 * binds nothing (the proxy still resolves; it learns nothing), and says why once per change.
 */
export function watchBindingsFile(path: string, onProblem: (why: string) => void): { bindings(): readonly DomainBinding[]; table(): string } {
  let stamp = '';
  let current: BindingsFile = { table: 'strata', bindings: [] };
  const refresh = (): void => {
    let next: string;
    try {
      const st = statSync(path);
      next = `${st.mtimeMs}|${st.size}|${st.ino}`;
    } catch {
      next = 'missing';
    }
    if (next === stamp) return;
    stamp = next;
    if (next === 'missing') {
      current = { table: current.table, bindings: [] };
      return;
    }
    try {
      const parsed = bindingsFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
      if (parsed.success) current = parsed.data;
      else {
        current = { table: current.table, bindings: [] };
        onProblem(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      }
    } catch (e) {
      current = { table: current.table, bindings: [] };
      onProblem(`${path}: ${(e as Error).message}`);
    }
  };
  return {
    bindings() {
      refresh();
      return current.bindings;
    },
    table() {
      refresh();
      return current.table;
    },
  };
}
