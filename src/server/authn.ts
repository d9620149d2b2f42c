// Authentication: bearer tokens from a kube-apiserver static token file
// (`token,user,uid,"group1,group2"` per line). Every authenticated user is also in
// `system:authenticated`, as in Kubernetes.
import type { Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';

export interface UserInfo {
  readonly username: string;
  readonly uid: string;
  readonly groups: readonly string[];
}

export type TokenTable = ReadonlyMap<string, UserInfo>;

/** One CSV line into fields: commas separate, double quotes group, `""` is a quote. */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((f) => f.trim());
}

/** Parse a token file; a bad line is an error with its line number (the server refuses to start). */
export function parseTokenFile(text: string, file: string): Result<TokenTable> {
  const table = new Map<string, UserInfo>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [token = '', username = '', uid = '', groups = ''] = splitCsvLine(line);
    if (token === '' || username === '') {
      return fail([{ code: 'server/bad-token-file', severity: 'error', message: 'a token line needs at least token,user', span: { file, line: i + 1, col: 1 } }]);
    }
    if (table.has(token)) {
      return fail([{ code: 'server/bad-token-file', severity: 'error', message: `the token on this line is already given to ${table.get(token)!.username}`, span: { file, line: i + 1, col: 1 } }]);
    }
    const gs = groups.split(',').map((g) => g.trim()).filter((g) => g !== '');
    table.set(token, { username, uid: uid === '' ? username : uid, groups: [...gs, 'system:authenticated'] });
  }
  return ok(table);
}

/** The user of an `Authorization: Bearer …` header, or undefined (→ 401). */
export function authenticate(table: TokenTable, header: string | undefined): UserInfo | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (m === null) return undefined;
  return table.get(m[1]!);
}
