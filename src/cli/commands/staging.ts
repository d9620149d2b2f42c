// `strata stage`, `enforce`, `unstage` and `diff` against a server: Calico's staged-policy
// workflow. Stage writes the staged counterpart of each policy (stagedAction Set, or Delete with
// --delete); enforce turns staged policies into enforced ones in one batch transaction (the
// enforced policy put or deleted, the staged one deleted: server/staging.ts); unstage deletes
// staged policies; `diff -f` and `diff --staged` preview a change on the server's live state
// (POST /apis/strata/v1/diff) and print what `strata diff` prints offline.
import type { DiffJsonLine, DiffJsonPeer } from '../../analysis/diff.ts';
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';
import type { Target, TargetOptions } from '../config.ts';
import { call, readManifests, remote, requireTarget, RemoteError } from '../remote.ts';
import { objectName } from './remote-resources.ts';
import { describe, renderDiffText } from './diff.ts';
import { MAX_OBSERVED, observedOfRecords } from '../../server/replay.ts';
import type { ObservedFlow, Replay } from '../../server/replay.ts';
import { isObject, metaOf } from '../../server/objects.ts';
import { resolveResourceName, resourceOfObject, resourceUrl } from '../../server/resources.ts';
import type { ResourceInfo } from '../../server/resources.ts';
import { enforcedRefOf, enforcementOf, pairOfEnforced, pairOfStaged, STAGED_PAIRS, stagedOf } from '../../server/staging.ts';
import type { DeleteSpec } from '../../server/staging.ts';

interface ApplyResult {
  readonly results: readonly { readonly apiVersion: string; readonly kind: string; readonly namespace?: string; readonly name: string; readonly action: string }[];
  readonly warnings?: readonly string[];
}

function printApply(io: Io, r: ApplyResult, output: string | undefined): void {
  if (output === 'json') {
    io.out(JSON.stringify(r, null, 2));
    return;
  }
  io.out(r.results.map((x) => `${objectName(resourceOfObject(x.apiVersion, x.kind), x.kind, x.name)} ${x.action}`).join('\n'));
  for (const w of r.warnings ?? []) io.err(`Warning: ${w}`);
}

export interface StageOptions extends TargetOptions {
  readonly filename: readonly string[];
  readonly delete?: boolean | undefined;
  readonly output?: string | undefined;
}

/** `strata stage -f policy.yaml [--delete]`: the staged counterpart of every policy, in one batch. */
export async function runStage(io: Io, opts: StageOptions): Promise<number> {
  const docs = await readManifests(io, opts.filename);
  const staged: Record<string, unknown>[] = [];
  for (const d of docs) {
    if (!isObject(d)) throw new UsageError('a document of the -f inputs is not a resource');
    const s = stagedOf(d, opts.delete === true);
    if (!s.ok) throw new UsageError(s.message);
    staged.push(s.value);
  }
  if (staged.length === 0) throw new UsageError('no policies in the -f inputs');
  const t = await requireTarget(opts);
  return remote(io, async () => {
    printApply(io, (await call(t, 'POST', '/apis/strata/v1/apply', staged)) as ApplyResult, opts.output);
    return EXIT.OK;
  });
}

/** A staged policy named on the command line: `KIND/NAME` (with -n) or `KIND/NAMESPACE/NAME`; KIND staged or enforced. */
interface StagedName {
  readonly info: ResourceInfo;
  readonly namespace: string | undefined;
  readonly name: string;
}

function stagedInfoOf(info: ResourceInfo, text: string): ResourceInfo {
  const apiVersion = info.group === '' ? info.version : `${info.group}/${info.version}`;
  const probe = { apiVersion, kind: info.kind };
  const pair = pairOfStaged(probe) ?? pairOfEnforced(probe);
  if (pair === undefined) throw new UsageError(`"${text}": ${info.kind} is not a policy kind with a staged counterpart (${STAGED_PAIRS.map((p) => p.staged.kind).join(', ')})`);
  return resourceOfObject(pair.staged.apiVersion, pair.staged.kind)!;
}

export function parseStagedName(text: string, namespace: string | undefined): StagedName {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) throw new UsageError(`"${text}" is not KIND/NAME or KIND/NAMESPACE/NAME`);
  const kind = resolveResourceName(parts[0]!);
  if (kind === undefined) throw new UsageError(`the server doesn't have a resource type "${parts[0]!}"`);
  const info = stagedInfoOf(kind, text);
  if (!info.namespaced && parts.length === 3) throw new UsageError(`"${text}": ${info.kind} is cluster-scoped`);
  return { info, namespace: info.namespaced ? (parts.length === 3 ? parts[1]! : (namespace ?? 'default')) : undefined, name: parts[parts.length - 1]! };
}

/** The staged policies the `-f` documents name (a staged document, or an enforced one's staged counterpart). */
function namesOfDocuments(docs: readonly unknown[]): StagedName[] {
  return docs.map((d) => {
    if (!isObject(d)) throw new UsageError('a document of the -f inputs is not a resource');
    const info = resourceOfObject(String(d['apiVersion'] ?? ''), String(d['kind'] ?? ''));
    if (info === undefined) throw new UsageError(`${String(d['apiVersion'] ?? '')} ${String(d['kind'] ?? '')} is not a policy kind`);
    const staged = stagedInfoOf(info, `${info.kind} ${metaOf(d).name ?? ''}`);
    return { info: staged, namespace: staged.namespaced ? (metaOf(d).namespace ?? 'default') : undefined, name: metaOf(d).name ?? '' };
  });
}

function refText(n: StagedName): string {
  return n.namespace === undefined ? `${n.info.plural}/${n.name}` : `${n.info.plural}/${n.namespace}/${n.name}`;
}

async function exists(t: Target, ref: string): Promise<boolean> {
  const parts = ref.split('/');
  const info = resolveResourceName(parts[0]!)!;
  try {
    await call(t, 'GET', resourceUrl(info, parts.length === 3 ? parts[1] : undefined, parts[parts.length - 1]!));
    return true;
  } catch (e) {
    if (e instanceof RemoteError && e.code === 404) return false;
    throw e;
  }
}

/** The ChangeSet that enforces the given staged objects (as the server holds them). */
async function enforceChangeSet(t: Target, stagedObjects: readonly Record<string, unknown>[]): Promise<{ documents: unknown[]; delete: DeleteSpec[] }> {
  const documents: unknown[] = [];
  const deletes: DeleteSpec[] = [];
  for (const s of stagedObjects) {
    const spec = isObject(s['spec']) ? s['spec'] : {};
    // Only a staged Delete needs to know whether the enforced policy is there.
    const enforcedThere = spec['stagedAction'] === 'Delete' ? await exists(t, enforcedRefOf(s)!) : false;
    const e = enforcementOf(s, enforcedThere);
    if (!e.ok) throw new UsageError(e.message);
    if (e.value.put !== undefined) documents.push(e.value.put);
    deletes.push(...e.value.delete);
  }
  return { documents, delete: deletes };
}

async function fetchStaged(t: Target, names: readonly StagedName[]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const n of names) out.push((await call(t, 'GET', resourceUrl(n.info, n.namespace, n.name))) as Record<string, unknown>);
  return out;
}

/** Every staged policy the user may see, across namespaces. */
async function listStaged(t: Target): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const p of STAGED_PAIRS) {
    const info = resourceOfObject(p.staged.apiVersion, p.staged.kind)!;
    try {
      out.push(...((await call(t, 'GET', resourceUrl(info, undefined))) as { items: Record<string, unknown>[] }).items);
    } catch (e) {
      // A kind the user may not list at all holds nothing they could enforce.
      if (!(e instanceof RemoteError && e.code === 403)) throw e;
    }
  }
  return out;
}

export interface EnforceOptions extends TargetOptions {
  readonly filename: readonly string[];
  readonly namespace?: string | undefined;
  readonly output?: string | undefined;
}

async function namesOf(io: Io, refs: readonly string[], opts: { readonly filename: readonly string[]; readonly namespace?: string | undefined }, verb: string): Promise<StagedName[]> {
  if (opts.filename.length > 0) {
    if (refs.length > 0) throw new UsageError(`give either -f PATH or KIND/NAME, not both`);
    return namesOfDocuments(await readManifests(io, opts.filename));
  }
  if (refs.length === 0) throw new UsageError(`${verb} needs KIND/NAME... (e.g. snp/NAME -n NS, sgnp/NAME) or -f PATH`);
  return refs.map((r) => parseStagedName(r, opts.namespace));
}

/** `strata enforce KIND/NAME...`: every named staged policy enforced, in one transaction. */
export async function runEnforce(io: Io, refs: readonly string[], opts: EnforceOptions): Promise<number> {
  const names = await namesOf(io, refs, opts, 'enforce');
  const t = await requireTarget(opts);
  return remote(io, async () => {
    const cs = await enforceChangeSet(t, await fetchStaged(t, names));
    const body = { apiVersion: 'strata/v1', kind: 'ChangeSet', documents: cs.documents, delete: cs.delete };
    printApply(io, (await call(t, 'POST', '/apis/strata/v1/apply', body)) as ApplyResult, opts.output);
    return EXIT.OK;
  });
}

/** `strata unstage KIND/NAME...`: the named staged policies deleted, in one transaction. */
export async function runUnstage(io: Io, refs: readonly string[], opts: EnforceOptions): Promise<number> {
  const names = await namesOf(io, refs, opts, 'unstage');
  const t = await requireTarget(opts);
  return remote(io, async () => {
    const body = { apiVersion: 'strata/v1', kind: 'ChangeSet', delete: names.map(refText) };
    printApply(io, (await call(t, 'POST', '/apis/strata/v1/apply', body)) as ApplyResult, opts.output);
    return EXIT.OK;
  });
}

interface DiffResultBody {
  readonly peers: readonly DiffJsonPeer[];
  readonly lines: readonly DiffJsonLine[];
  readonly replay?: Replay;
  readonly summary: { readonly changed: boolean; readonly redacted: number; readonly invariants: readonly { readonly name: string; readonly admission: string; readonly message: string }[] };
}

export interface RemoteDiffOptions {
  readonly filename: readonly string[];
  readonly staged?: boolean | undefined;
  readonly delete?: readonly string[] | undefined;
  readonly namespace?: string | undefined;
  readonly output: string;
  readonly group?: boolean | undefined;
  readonly reattributed?: boolean | undefined;
  readonly failOnChange?: boolean | undefined;
  readonly port?: readonly string[] | undefined;
  readonly flowsSince?: string | undefined;
  readonly flows?: string | undefined;
}

/** At most this many flow records are read from the flow store for one replay. */
const MAX_RECORDS = 200_000;

/** The flow records to replay: a JSON Lines file, or the server's flow store since a time (paged). */
async function observedFlows(io: Io, t: Target, opts: RemoteDiffOptions): Promise<{ flows: ObservedFlow[]; records: number; unreplayable: number; truncated: boolean } | undefined> {
  if (opts.flows === undefined && opts.flowsSince === undefined) return undefined;
  if (opts.flows !== undefined && opts.flowsSince !== undefined) throw new UsageError('give --flows FILE or --flows-since WHEN, not both');
  const records: unknown[] = [];
  let truncated = false;
  if (opts.flows !== undefined) {
    const file = opts.flows;
    const text = file === '-' ? await io.readStdin() : await io.readFile(file).catch((e: unknown) => Promise.reject(new UsageError(`cannot read --flows ${file}: ${(e as Error).message}`)));
    for (const [i, line] of text.split(/\r?\n/).entries()) {
      const s = line.trim();
      if (s === '' || s.startsWith('#')) continue;
      try {
        records.push(JSON.parse(s));
      } catch (e) {
        throw new UsageError(`${file}:${i + 1}: not JSON: ${(e as Error).message}`);
      }
    }
  } else {
    let cont: string | undefined;
    do {
      const q = new URLSearchParams({ since: opts.flowsSince!, limit: '5000', ...(cont === undefined ? {} : { continue: cont }) });
      const page = (await call(t, 'GET', `/apis/strata/v1/flows?${q.toString()}`)) as { items?: unknown[]; metadata?: { continue?: string } };
      records.push(...(page.items ?? []));
      cont = page.metadata?.continue;
      if (records.length >= MAX_RECORDS) {
        truncated = cont !== undefined;
        break;
      }
    } while (cont !== undefined && cont !== '');
  }
  const o = observedOfRecords(records);
  let flows = o.flows;
  if (flows.length > MAX_OBSERVED) {
    // The busiest flows matter most: keep those.
    flows = [...flows].sort((a, b) => (b.connections ?? 0) - (a.connections ?? 0) || (b.packets ?? 0) - (a.packets ?? 0)).slice(0, MAX_OBSERVED);
    truncated = true;
  }
  return { flows, records: records.length, unreplayable: o.unreplayable, truncated };
}

function renderReplay(r: Replay, markdown: boolean, what: string): string {
  const out: string[] = [''];
  const head = `observed flows (${what}) whose verdict would change: ${r.lines.length} of ${r.flows} distinct flows${r.skipped > 0 ? ` (${r.skipped} could not be decided: endpoints gone or unnamed)` : ''}`;
  out.push(markdown ? `### ${head}` : `${head}${r.lines.length > 0 ? ':' : ''}`);
  if (markdown && r.lines.length > 0) out.push('', '| change | from | to | service | seen | before | after |', '|---|---|---|---|---|---|---|');
  for (const l of r.lines) {
    const svc = l.port === null ? l.protocol : `${l.protocol} ${l.port}`;
    const seen = `${l.observed.connections} connections, ${l.observed.packets} packets`;
    if (markdown) out.push(`| ${l.change} | ${l.from} | ${l.to} | ${svc} | ${seen} | ${l.before} (${describe(l.decidedBy.before)}) | ${l.after} (${describe(l.decidedBy.after)}) |`);
    else out.push(`  ${l.change} ${l.from} → ${l.to}  ${svc} (${seen}): ${l.before} by ${describe(l.decidedBy.before)} ⇒ ${l.after} by ${describe(l.decidedBy.after)}`);
  }
  return out.join('\n');
}

/**
 * `strata diff -f CHANGED…` (the live state against the state after applying CHANGED) and
 * `strata diff --staged [KIND/NAME…]` (against the state after enforcing those staged policies,
 * or every staged policy the user can see), on the server.
 */
export async function runRemoteDiff(io: Io, t: Target, refs: readonly string[], opts: RemoteDiffOptions): Promise<number> {
  if (opts.group === true) throw new UsageError('--group is not available against a server (the server answers per endpoint)');
  return remote(io, async () => {
    let documents: unknown[];
    let deletes: DeleteSpec[] = [...(opts.delete ?? [])];
    if (opts.staged === true) {
      if (opts.filename.length > 0 && refs.length > 0) throw new UsageError('give either -f PATH or KIND/NAME, not both');
      const names = opts.filename.length > 0 ? namesOfDocuments(await readManifests(io, opts.filename)) : refs.map((r) => parseStagedName(r, opts.namespace));
      const staged = names.length > 0 ? await fetchStaged(t, names) : await listStaged(t);
      if (staged.length === 0) {
        io.err('strata: no staged policies on the server');
        return EXIT.OK;
      }
      const cs = await enforceChangeSet(t, staged);
      documents = cs.documents;
      deletes = [...deletes, ...cs.delete];
    } else {
      if (refs.length > 0) throw new UsageError(`unexpected argument "${refs[0]!}": KIND/NAME arguments go with --staged (use --delete KIND/NAME to preview a deletion)`);
      documents = opts.filename.length > 0 ? await readManifests(io, opts.filename) : [];
      if (documents.length === 0 && deletes.length === 0) throw new UsageError('diff against a server needs -f CHANGED... or --delete KIND/NAME (or --staged)');
    }
    const observed = await observedFlows(io, t, opts);
    const body = {
      apiVersion: 'strata/v1',
      kind: 'ChangeSet',
      documents,
      delete: deletes,
      ports: [...(opts.port ?? [])],
      reattributed: opts.reattributed !== false,
      ...(observed === undefined ? {} : { flows: observed.flows }),
    };
    const r = (await call(t, 'POST', '/apis/strata/v1/diff', body)) as DiffResultBody;
    if (opts.output === 'json') {
      // Replayed flows follow the diff's lines; their `observed` field tells them apart.
      const text = [...r.peers, ...r.lines, ...(r.replay?.lines ?? [])].map((l) => JSON.stringify(l)).join('\n');
      if (text !== '') io.out(text);
    } else {
      const what = opts.flows !== undefined ? `in ${opts.flows}` : `since ${opts.flowsSince ?? ''}`;
      io.out(renderDiffText(r.peers, r.lines, opts.output === 'md') + (r.replay === undefined ? '' : renderReplay(r.replay, opts.output === 'md', what)));
    }
    if (observed !== undefined && observed.unreplayable > 0) io.err(`strata: ${observed.unreplayable} of ${observed.records} flow records name neither end (aggregated away) and were not replayed`);
    if (observed?.truncated === true) io.err(`strata: only the busiest ${MAX_OBSERVED} distinct flows (of at most ${MAX_RECORDS} records) were replayed`);
    if (r.summary.redacted > 0) io.err(`strata: ${r.summary.redacted} line${r.summary.redacted === 1 ? ' is' : 's are'} decided in tiers you cannot read: their policy and rule are left out`);
    for (const i of r.summary.invariants) io.err(`strata: ${i.admission === 'reject' ? 'applying this would be refused' : 'warning'}: ${i.message}`);
    const replayChanged = (r.replay?.lines.length ?? 0) > 0;
    return (r.summary.changed || replayChanged) && opts.failOnChange === true ? EXIT.FINDINGS : EXIT.OK;
  });
}
