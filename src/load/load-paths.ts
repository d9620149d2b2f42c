// Paths as kubectl's `-f` takes them → texts → resources. A file named explicitly is read whatever
// its extension; a directory is walked recursively in sorted order (depth first, like Go's
// filepath.Walk) and only its `.yaml`, `.yml` and `.json` files are read; `-` is stdin. A file
// reached twice is read once. Every failure is a diagnostic.
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from '../diagnostics/index.ts';
import type { Resource } from '../model/index.ts';
import { reconcileDuplicates } from './duplicates.ts';
import { loadDocuments, orderDiagnostics } from './load-text.ts';
import type { LoadResult } from './load-text.ts';

export interface LoadOptions {
  /** Reads standard input for the path `-`; default: all of process.stdin. */
  readonly readStdin?: () => Promise<string>;
}

/** kubectl's FileExtensions, matched case-sensitively as kubectl does. */
export const MANIFEST_EXTENSIONS: readonly string[] = ['.json', '.yaml', '.yml'];

export const STDIN = '-';

export async function loadPaths(paths: readonly string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const sources = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const resources: Resource[] = [];
  const seen = new Set<string>();
  const order: string[] = [];
  const loadOne = (file: string, text: string): void => {
    sources.set(file, text);
    order.push(file);
    const r = loadDocuments(text, file);
    resources.push(...r.resources);
    diagnostics.push(...r.diagnostics);
  };
  for (const path of paths) {
    try {
      if (path === STDIN) {
        if (seen.has(STDIN)) continue; // stdin can only be read once
        seen.add(STDIN);
        loadOne(STDIN, await (opts.readStdin ?? readProcessStdin)());
        continue;
      }
      const files = await expand(path, diagnostics);
      for (const f of files) {
        const id = await realpath(f).catch(() => f);
        if (seen.has(id)) continue;
        seen.add(id);
        const text = await readText(f, diagnostics);
        if (text !== undefined) loadOne(f, text);
      }
    } catch (e) {
      diagnostics.push(notFound(path, e));
    }
  }
  const reconciled = reconcileDuplicates(resources);
  return {
    resources: reconciled.resources,
    diagnostics: orderDiagnostics([...diagnostics, ...reconciled.diagnostics], order),
    sources,
  };
}

/** The files `path` stands for: itself, or a directory's manifests in walk order. */
async function expand(path: string, diagnostics: Diagnostic[]): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    diagnostics.push(notFound(path, e));
    return [];
  }
  if (!info.isDirectory()) return [path];
  const out: string[] = [];
  await walk(path, out, diagnostics);
  if (out.length === 0) {
    diagnostics.push({ code: 'load/empty-directory', severity: 'warning', message: `directory "${path}" contains no .yaml, .yml or .json files` });
  }
  return out;
}

async function walk(dir: string, out: string[], diagnostics: Diagnostic[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    diagnostics.push(notFound(dir, e));
    return;
  }
  // Byte order of names, as Go's os.ReadDir sorts.
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      await walk(full, out, diagnostics);
    } else if (MANIFEST_EXTENSIONS.some((ext) => entry.name.endsWith(ext))) {
      out.push(full);
    } else {
      diagnostics.push({
        code: 'load/skipped-file',
        severity: 'info',
        message: `skipped "${full}": inside a directory only .yaml, .yml and .json files are read (name the file with -f to read it anyway)`,
      });
    }
  }
}

async function readText(file: string, diagnostics: Diagnostic[]): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    diagnostics.push(notFound(file, e));
    return undefined;
  }
}

function notFound(path: string, e: unknown): Diagnostic {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  const why =
    code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : e instanceof Error ? e.message : String(e);
  return { code: 'load/not-found', severity: 'error', message: `cannot read "${path}": ${why}` };
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
