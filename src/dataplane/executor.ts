// The dataplane's hands: applies a compiled nft script to one node as a single atomic
// transaction, reads the ruleset back and reads per-rule counters. The compiler produces text;
// this is the only place it meets the kernel.
//
//   compile(node) ─► script ─► NftExecutor.apply(node, script) ─► `nft -f -` (all or nothing)
//                               NftExecutor.counters(node) ◄─ `nft -j list ruleset`
//
// `nft -f` loads a whole file as one netlink batch: either every command in it takes effect or,
// on any error (syntax or kernel), none does. Replacing a table atomically is therefore
// `table inet t` + `delete table inet t` + `table inet t { … }` in one script.
import { spawn } from 'node:child_process';
import { fail, ok } from '../diagnostics/index.ts';
import type { Diagnostic, Result } from '../diagnostics/index.ts';

/** One rule's counter, with the comment that carries its policy/rule provenance. */
export interface RuleCounter {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  /** Kernel handle of the rule (stable until the rule is replaced). */
  readonly handle: number;
  readonly comment?: string;
  readonly packets: number;
  readonly bytes: number;
}

export interface NftExecutor {
  /** Applies `script` as one transaction; a failing script changes nothing. */
  apply(node: string, script: string): Promise<Result<void>>;
  /** The node's whole ruleset as `nft list ruleset` prints it. */
  list(node: string): Promise<string>;
  /** Every rule that has a `counter` statement. */
  counters(node: string): Promise<RuleCounter[]>;
}

interface RunOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: readonly string[], input: string, timeoutMs: number): Promise<RunOutput> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const errs: Buffer[] = [];
    let settled = false;
    const settle = (r: RunOutput): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle({ code: -1, stdout: '', stderr: `${cmd} timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => errs.push(b));
    child.on('error', (e) => settle({ code: -1, stdout: '', stderr: `${cmd}: ${e.message}` }));
    child.on('close', (code) =>
      settle({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errs).toString('utf8') }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * Turns nft's error output into diagnostics. nft reports `FILE:LINE:COL-ENDCOL: Error: MSG`
 * followed by the offending line and carets; positions refer to the script, whose name in
 * spans is `<nft:NODE>`.
 */
export function parseNftErrors(stderr: string, node: string): Diagnostic[] {
  const file = `<nft:${node}>`;
  const ds: Diagnostic[] = [];
  const lines = stderr.split('\n');
  for (const line of lines) {
    const m = /^[^:\s]*:(\d+):(\d+)(?:-(\d+))?: Error: (.*)$/.exec(line);
    if (m !== null) {
      const [, l, c, e, msg] = m;
      const span =
        e === undefined
          ? { file, line: Number(l), col: Number(c) }
          : { file, line: Number(l), col: Number(c), endLine: Number(l), endCol: Number(e) };
      ds.push({ code: 'dataplane/nft-rejected', severity: 'error', message: msg ?? 'error', span });
      continue;
    }
    const plain = /^(?:Error|nft): (.*)$/.exec(line);
    if (plain !== null) ds.push({ code: 'dataplane/nft-rejected', severity: 'error', message: plain[1] ?? line });
  }
  if (ds.length === 0) {
    ds.push({ code: 'dataplane/nft-rejected', severity: 'error', message: stderr.trim() || 'nft failed without a message' });
  }
  return ds;
}

interface NftJsonRule {
  readonly family?: string;
  readonly table?: string;
  readonly chain?: string;
  readonly handle?: number;
  readonly comment?: string;
  readonly expr?: readonly Record<string, unknown>[];
}

/** Extracts counters from `nft -j list ruleset` output. Rules without a counter are skipped. */
export function parseNftCounters(json: string): Result<RuleCounter[]> {
  let doc: { nftables?: readonly Record<string, unknown>[] };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch (e) {
    return fail([{ code: 'dataplane/bad-json', severity: 'error', message: `nft -j output is not JSON: ${String(e)}` }]);
  }
  const counters: RuleCounter[] = [];
  for (const item of doc.nftables ?? []) {
    const rule = item['rule'] as NftJsonRule | undefined;
    if (rule === undefined) continue;
    let packets = 0;
    let bytes = 0;
    let has = false;
    for (const e of rule.expr ?? []) {
      const c = e['counter'] as { packets?: number; bytes?: number } | string | undefined;
      // An anonymous counter carries its values; a named one (`counter name x`) is a string.
      if (c !== undefined && typeof c === 'object') {
        has = true;
        packets += c.packets ?? 0;
        bytes += c.bytes ?? 0;
      }
    }
    if (!has) continue;
    const base = {
      family: rule.family ?? '',
      table: rule.table ?? '',
      chain: rule.chain ?? '',
      handle: rule.handle ?? -1,
      packets,
      bytes,
    };
    counters.push(rule.comment === undefined ? base : { ...base, comment: rule.comment });
  }
  return ok(counters);
}

export interface NetnsNftExecutorOptions {
  /** The network namespace programming a node, or undefined for an unknown node. */
  readonly namespaceOf: (node: string) => string | undefined;
  /** Default `ip` (resolved on PATH). */
  readonly ipPath?: string;
  /** Default `nft`. */
  readonly nftPath?: string;
  /** Per nft invocation. Default 30 s. */
  readonly timeoutMs?: number;
}

/**
 * The executor for nodes that are network namespaces (the lab): `ip netns exec NS nft …`.
 * Calls for the same node are serialized, so transactions land in the order they were asked.
 */
export function createNetnsNftExecutor(opts: NetnsNftExecutorOptions): NftExecutor {
  const ip = opts.ipPath ?? 'ip';
  const nft = opts.nftPath ?? 'nft';
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const queues = new Map<string, Promise<unknown>>();

  const serialized = <T>(node: string, job: () => Promise<T>): Promise<T> => {
    const prev = queues.get(node) ?? Promise.resolve();
    const next = prev.then(job, job);
    queues.set(
      node,
      next.catch(() => undefined),
    );
    return next;
  };

  const nsOf = (node: string): string => {
    const ns = opts.namespaceOf(node);
    if (ns === undefined) throw new Error(`unknown node "${node}"`);
    return ns;
  };

  const nftIn = async (node: string, args: readonly string[], input = ''): Promise<RunOutput> =>
    run(ip, ['netns', 'exec', nsOf(node), nft, ...args], input, timeoutMs);

  return {
    apply(node, script) {
      if (opts.namespaceOf(node) === undefined) {
        return Promise.resolve(
          fail([{ code: 'dataplane/unknown-node', severity: 'error', message: `no namespace for node "${node}"` }]),
        );
      }
      return serialized(node, async () => {
        const r = await nftIn(node, ['-f', '-'], script);
        return r.code === 0 ? ok(undefined) : fail(parseNftErrors(r.stderr, node));
      });
    },
    list(node) {
      return serialized(node, async () => {
        const r = await nftIn(node, ['list', 'ruleset']);
        if (r.code !== 0) throw new Error(`nft list ruleset on ${node}: ${r.stderr.trim()}`);
        return r.stdout;
      });
    },
    counters(node) {
      return serialized(node, async () => {
        const r = await nftIn(node, ['-j', 'list', 'ruleset']);
        if (r.code !== 0) throw new Error(`nft -j list ruleset on ${node}: ${r.stderr.trim()}`);
        const parsed = parseNftCounters(r.stdout);
        if (!parsed.ok) throw new Error(parsed.diagnostics.map((d) => d.message).join('; '));
        return parsed.value;
      });
    },
  };
}
