// `strata diff`: what a change does to connectivity, exhaustively (analysis/diff.ts).
//   --before PATH… --after PATH…   two states: enforced vs enforced (and pending vs pending)
//   --staged -f PATH…               one state: enforced vs pending (what enforcing every staged policy changes)
//   -f CHANGED… [--delete REF…]     a server's live state vs the state after applying CHANGED (staging.ts)
//   --staged [KIND/NAME…]           a server's live state vs the state after enforcing those staged policies
// JSON Lines for machines, text and Markdown grouped for people. Exit 1 on a change with
// --fail-on-change, 2 on input errors, else 0.
import { diffClusters, diffLines, diffStaged, hasChanges, peerLines } from '../../analysis/diff.ts';
import type { DiffJsonLine, DiffResult } from '../../analysis/diff.ts';
import type { ExplainJsonDecidedBy } from '../../analysis/explain.ts';
import type { Io } from '../io.ts';
import { loadWorkspace, reportOrFail } from '../workspace.ts';
import { EXIT, UsageError } from '../exit.ts';
import type { DiffJsonPeer } from '../../analysis/diff.ts';
import type { TargetOptions } from '../config.ts';
import { resolveTarget } from '../config.ts';
import { requireTarget } from '../remote.ts';

export interface DiffCommandOptions extends TargetOptions {
  /** Against a server: objects to delete (KIND/NAME, KIND/NAMESPACE/NAME). */
  readonly delete?: readonly string[] | undefined;
  readonly namespace?: string | undefined;
  /** Against a server: only lines covering these PORT[/PROTOCOL]. */
  readonly port?: readonly string[] | undefined;
  /** Against a server: replay the flows observed since then (the flow store), or those of a file of flow records. */
  readonly flowsSince?: string | undefined;
  readonly flows?: string | undefined;
  readonly before?: readonly string[] | undefined;
  readonly after?: readonly string[] | undefined;
  readonly filename: readonly string[];
  readonly staged?: boolean | undefined;
  readonly output: string;
  readonly group?: boolean | undefined;
  /** Commander's negation of --no-reattributed. */
  readonly reattributed?: boolean | undefined;
  readonly failOnChange?: boolean | undefined;
  readonly podCidr?: string | undefined;
  readonly quiet?: boolean | undefined;
}

export function describe(d: ExplainJsonDecidedBy): string {
  if (d.reason === 'no-endpoint') return 'no endpoint enforces policy';
  if (d.reason === 'loopback') return 'loopback';
  const dir = d.direction === null ? '' : `${d.direction} `;
  if (d.kind === 'Profile') return `${dir}profile ${d.policy ?? ''}${d.rule === null ? '' : ` rule ${d.rule}`}`;
  if (d.kind === null) return `${dir}default deny (no profile)`;
  const ns = d.namespace === undefined ? '' : `${d.namespace}/`;
  const where = `${dir}${d.tier ?? ''}/${ns}${d.policy ?? ''}`;
  if (d.reason === 'end-of-tier') return `${where} end of tier`;
  return d.rule === null ? where : `${where} rule ${d.rule}`;
}

function peerText(p: DiffJsonLine['from']): string {
  if (typeof p === 'string') return p;
  return p.members.length === 1 ? p.members[0]! : `{${p.members.join(', ')}}`;
}

function serviceText(l: DiffJsonLine): string {
  if (l.ports !== null) return `${l.protocol} ${l.ports}`;
  return l.icmp === undefined ? l.protocol : `${l.protocol} ${l.icmp}`;
}

function pendingText(l: DiffJsonLine): string {
  if (l.pendingBefore === undefined || l.pendingAfter === undefined) return '';
  return ` [pending: ${l.pendingBefore} → ${l.pendingAfter}]`;
}

/** Opened (deny → allow) and closed (allow → deny) flows, grouped by source, with counts. */
export function renderDiffText(peers: readonly DiffJsonPeer[], lines: readonly DiffJsonLine[], markdown: boolean): string {
  const added = peers.filter((p) => p.change === 'added').length;
  const removed = peers.length - added;
  const out: string[] = [];
  const opened = lines.filter((l) => l.change === 'opened');
  const closed = lines.filter((l) => l.change === 'closed');
  const pendingOnly = lines.filter((l) => l.change === 'pending');
  const moved = lines.filter((l) => l.change === 'reattributed');
  const changed = opened.length + closed.length + pendingOnly.length;
  const summary = `${changed} changed flow${changed === 1 ? '' : 's'}: ${opened.length} opened (deny → allow), ${closed.length} closed (allow → deny)` +
    (pendingOnly.length > 0 ? `, ${pendingOnly.length} only in the pending view` : '') +
    (moved.length > 0 ? `; ${moved.length} with the same verdict decided by another rule` : '') +
    (added + removed > 0 ? `; ${added} endpoint${added === 1 ? '' : 's'} added, ${removed} removed` : '');
  out.push(markdown ? `**${summary}**` : summary);
  if (peers.length > 0) {
    out.push('');
    out.push(markdown ? '### Endpoints on one side only (their flows are not compared)' : 'endpoints on one side only (their flows are not compared):');
    for (const p of peers) out.push(`${markdown ? '- ' : '  '}${p.change} ${p.peer}`);
  }
  const section = (title: string, ls: readonly DiffJsonLine[]): void => {
    if (ls.length === 0) return;
    out.push('');
    const bySource = new Map<string, DiffJsonLine[]>();
    for (const l of ls) {
      const k = peerText(l.from);
      bySource.set(k, [...(bySource.get(k) ?? []), l]);
    }
    if (markdown) {
      out.push(`### ${title} (${ls.length})`, '', '| from | to | service | before | after |', '|---|---|---|---|---|');
      for (const l of ls) {
        out.push(`| ${peerText(l.from)} | ${peerText(l.to)} | ${serviceText(l)} | ${l.before} (${describe(l.decidedBy.before)}) | ${l.after} (${describe(l.decidedBy.after)})${pendingText(l)} |`);
      }
      return;
    }
    out.push(`${title} (${ls.length}):`);
    for (const [src, group] of bySource) {
      out.push(`  from ${src} (${group.length}):`);
      for (const l of group) {
        out.push(`    → ${peerText(l.to)}  ${serviceText(l)}: ${l.before} by ${describe(l.decidedBy.before)} ⇒ ${l.after} by ${describe(l.decidedBy.after)}${pendingText(l)}`);
      }
    }
  };
  section('closed (allow → deny)', closed);
  section('opened (deny → allow)', opened);
  section('changed only in the pending view (staged policies enforced)', pendingOnly);
  section('same verdict, decided by another rule', moved);
  return out.join('\n');
}

export async function runDiff(io: Io, opts: DiffCommandOptions, refs: readonly string[] = []): Promise<number> {
  const formats = ['text', 'json', 'md'];
  if (!formats.includes(opts.output)) throw new UsageError(`-o ${opts.output}: diff prints ${formats.join(', ')}`);
  const before = opts.before ?? [];
  const after = opts.after ?? [];
  const offline = before.length > 0 || after.length > 0;
  if (offline && (opts.server !== undefined || (opts.delete ?? []).length > 0)) throw new UsageError('--before/--after compare two sets of files offline: --server and --delete go with diff -f CHANGED…');
  if (!offline) {
    // A server's live state: -f CHANGED or --delete; --staged with --server, or without -f when a server is configured.
    const remoteStaged = opts.staged === true && (opts.server !== undefined || (opts.filename.length === 0 && (await resolveTarget(opts)) !== undefined));
    if (opts.staged !== true || remoteStaged) {
      const t = opts.staged === true ? (await resolveTarget(opts))! : await requireTarget(opts);
      const { runRemoteDiff } = await import('./staging.ts');
      return runRemoteDiff(io, t, refs, opts);
    }
  }
  if (refs.length > 0) throw new UsageError(`unexpected argument "${refs[0]!}": offline, diff --staged compares every staged policy of -f`);
  if ((opts.port ?? []).length > 0) throw new UsageError('--port filters a diff against a server; offline, every port is compared');
  if (opts.flowsSince !== undefined || opts.flows !== undefined) throw new UsageError('--flows-since and --flows replay observed flows against a change on a server: use diff -f CHANGED… with a server');
  let result: DiffResult;
  if (opts.staged === true) {
    if (before.length > 0 || after.length > 0) throw new UsageError('diff --staged compares the enforced and pending view of one state: give -f PATH, not --before/--after');
    if (opts.filename.length === 0) throw new UsageError('diff --staged needs at least one -f PATH');
    const ws = await loadWorkspace(io, opts.filename, { podCidr: opts.podCidr });
    if (!reportOrFail(io, ws, opts.quiet === true)) return EXIT.USAGE;
    result = diffStaged(ws.cluster, { reattributed: opts.reattributed !== false });
  } else {
    if (before.length === 0 || after.length === 0) throw new UsageError('diff needs --before PATH… and --after PATH… (or --staged -f PATH…, or -f CHANGED… against a server)');
    const b = await loadWorkspace(io, before, { podCidr: opts.podCidr });
    const a = await loadWorkspace(io, after, { podCidr: opts.podCidr });
    const okB = reportOrFail(io, b, opts.quiet === true);
    const okA = reportOrFail(io, a, opts.quiet === true);
    if (!okB || !okA) return EXIT.USAGE;
    result = diffClusters(b.cluster, a.cluster, { reattributed: opts.reattributed !== false });
  }
  const lines = diffLines(result, opts.group === true);
  if (opts.output === 'json') {
    const text = [...peerLines(result), ...lines].map((l) => JSON.stringify(l)).join('\n');
    if (text !== '') io.out(text);
  } else {
    io.out(renderDiffText(peerLines(result), lines, opts.output === 'md'));
  }
  return hasChanges(result, lines) && opts.failOnChange === true ? EXIT.FINDINGS : EXIT.OK;
}
