// `strata apply`, `get`, `delete` and `audit` against a server. The resource table and URL
// layout come from the server's own module, so the CLI and the server cannot disagree.
import { stringify } from 'yaml';
import type { Io } from '../io.ts';
import { EXIT, UsageError } from '../exit.ts';
import type { TargetOptions } from '../config.ts';
import { call, readManifests, remote, requireTarget, RemoteError, renderRemoteError } from '../remote.ts';
import { resolveResourceName, resourceOfObject, resourceUrl } from '../../server/resources.ts';
import type { ResourceInfo } from '../../server/resources.ts';
import { tierOf } from '../../server/objects.ts';
import { effectiveNodeState, nodeStatusBodySchema } from '../../model/node-status.ts';

export interface ApplyOptions extends TargetOptions {
  readonly filename: readonly string[];
  readonly output?: string | undefined;
}

interface ApplyResult {
  readonly results: readonly { readonly apiVersion: string; readonly kind: string; readonly namespace?: string; readonly name: string; readonly action: string; readonly message?: string }[];
  /** Admission warnings (a ConnectivityInvariant with `admission: warn` the write breaks). */
  readonly warnings?: readonly string[];
}

/** `networkpolicy.projectcalico.org/name`, `pod/name`: how kubectl names an object in output. */
export function objectName(info: ResourceInfo | undefined, kind: string, name: string): string {
  if (info === undefined) return `${kind.toLowerCase()}/${name}`;
  return info.group === '' ? `${info.singular}/${name}` : `${info.singular}.${info.group}/${name}`;
}

export async function runApply(io: Io, opts: ApplyOptions): Promise<number> {
  const docs = await readManifests(io, opts.filename);
  if (docs.length === 0) throw new UsageError('no documents in the -f inputs');
  const t = await requireTarget(opts);
  return remote(io, async () => {
    const r = (await call(t, 'POST', '/apis/strata/v1/apply', docs)) as ApplyResult;
    if (opts.output === 'json') {
      io.out(JSON.stringify(r, null, 2));
      return EXIT.OK;
    }
    io.out(
      r.results
        .map((x) => (x.action === 'skipped' ? `${objectName(undefined, x.kind, x.name)} skipped (${x.message ?? 'not served'})` : `${objectName(resourceOfObject(x.apiVersion, x.kind), x.kind, x.name)} ${x.action}`))
        .join('\n'),
    );
    for (const w of r.warnings ?? []) io.err(`Warning: ${w}`);
    return EXIT.OK;
  });
}

export interface GetOptions extends TargetOptions {
  readonly namespace?: string | undefined;
  readonly allNamespaces?: boolean | undefined;
  readonly selector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly output: string;
}

export function resolveKind(text: string): ResourceInfo {
  const info = resolveResourceName(text);
  if (info === undefined) throw new UsageError(`the server doesn't have a resource type "${text}"`);
  return info;
}

type Obj = { readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly creationTimestamp?: string; readonly resourceVersion?: string; readonly labels?: Record<string, string> }; readonly spec?: { readonly tier?: string } };

export function age(stamp: string | undefined, now = Date.now()): string {
  if (stamp === undefined) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(stamp)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()).join('\n');
}

/** `IN SYNC`, `SYNCING`, `STALE` (the agent says so, or its heartbeat is older than 3 intervals), `ERROR`. */
function nodeStateText(o: Obj, now: number): string {
  const parsed = nodeStatusBodySchema.safeParse((o as { status?: unknown }).status);
  if (!parsed.success) return 'UNKNOWN';
  return effectiveNodeState(parsed.data, now).replace('-', ' ').toUpperCase();
}

/** `strata get nodes`: every agent's version, programmed revision, health and last error. */
export function renderNodeStatuses(items: readonly Obj[], output: string, now = Date.now()): string {
  const wide = output === 'wide';
  const header = ['NAME', 'AGENT VERSION', 'REVISION', 'STATUS', 'LAST ERROR', 'AGE', ...(wide ? ['ENDPOINTS', 'RULES', 'SETS', 'LAST SYNC'] : [])];
  const rows = items.map((o) => {
    const st = ((o as { status?: Record<string, unknown> }).status ?? {}) as Record<string, unknown>;
    const err = typeof st['lastError'] === 'string' ? st['lastError'].split('\n')[0]! : '<none>';
    return [
      o.metadata?.name ?? '',
      String(st['agentVersion'] ?? ''),
      String(st['revision'] ?? ''),
      nodeStateText(o, now),
      err.length > 60 ? `${err.slice(0, 59)}…` : err,
      age(o.metadata?.creationTimestamp, now),
      ...(wide ? [String(st['endpoints'] ?? ''), String(st['rules'] ?? ''), String(st['sets'] ?? ''), String(st['lastSync'] ?? '')] : []),
    ];
  });
  return table([header, ...rows]);
}

export function renderObjects(info: ResourceInfo, items: readonly Obj[], output: string, withNamespace: boolean): string {
  if (output === 'name') return items.map((o) => objectName(info, info.kind, o.metadata?.name ?? '')).join('\n');
  if (info.type === 'NodeStatus') return renderNodeStatuses(items, output);
  const wide = output === 'wide';
  const header = [...(withNamespace ? ['NAMESPACE'] : []), 'NAME', ...(info.tierResource !== undefined ? ['TIER'] : []), 'AGE', ...(wide ? ['RESOURCEVERSION', 'LABELS'] : [])];
  const rows = items.map((o) => [
    ...(withNamespace ? [o.metadata?.namespace ?? ''] : []),
    o.metadata?.name ?? '',
    ...(info.tierResource !== undefined ? [tierOf({ kind: info.kind, ...(o as Record<string, unknown>) })] : []),
    age(o.metadata?.creationTimestamp),
    ...(wide ? [o.metadata?.resourceVersion ?? '', Object.entries(o.metadata?.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>'] : []),
  ]);
  return table([header, ...rows]);
}

const GET_FORMATS = ['table', 'wide', 'json', 'yaml', 'name'];

export async function runGet(io: Io, kind: string, name: string | undefined, opts: GetOptions): Promise<number> {
  if (!GET_FORMATS.includes(opts.output)) throw new UsageError(`-o ${opts.output}: get prints ${GET_FORMATS.join(', ')}`);
  const info = resolveKind(kind);
  if (opts.allNamespaces === true && name !== undefined) throw new UsageError('a resource cannot be retrieved by name across all namespaces');
  const namespace = info.namespaced ? (opts.allNamespaces === true ? undefined : (opts.namespace ?? 'default')) : undefined;
  const t = await requireTarget(opts);
  return remote(io, async () => {
    if (name !== undefined) {
      const obj = (await call(t, 'GET', resourceUrl(info, namespace, name))) as Obj;
      io.out(opts.output === 'json' ? JSON.stringify(obj, null, 2) : opts.output === 'yaml' ? stringify(obj).trimEnd() : renderObjects(info, [obj], opts.output, false));
      return EXIT.OK;
    }
    const q = new URLSearchParams();
    if (opts.selector !== undefined) q.set('labelSelector', opts.selector);
    if (opts.fieldSelector !== undefined) q.set('fieldSelector', opts.fieldSelector);
    const qs = q.size > 0 ? `?${q.toString()}` : '';
    const list = (await call(t, 'GET', `${resourceUrl(info, namespace)}${qs}`)) as { items: Obj[] };
    if (opts.output === 'json' || opts.output === 'yaml') {
      const doc = { apiVersion: 'v1', kind: 'List', metadata: {}, items: list.items };
      io.out(opts.output === 'json' ? JSON.stringify(doc, null, 2) : stringify(doc).trimEnd());
    } else if (list.items.length === 0) {
      io.err(namespace === undefined ? 'No resources found' : `No resources found in ${namespace} namespace.`);
    } else {
      io.out(renderObjects(info, list.items, opts.output, namespace === undefined && info.namespaced));
    }
    return EXIT.OK;
  });
}

export interface DeleteOptions extends TargetOptions {
  readonly filename: readonly string[];
  readonly namespace?: string | undefined;
  readonly ignoreNotFound?: boolean | undefined;
}

export async function runDelete(io: Io, kind: string | undefined, names: readonly string[], opts: DeleteOptions): Promise<number> {
  const targets: { info: ResourceInfo; namespace: string | undefined; name: string }[] = [];
  if (opts.filename.length > 0) {
    if (kind !== undefined) throw new UsageError('give either -f PATH or KIND NAME, not both');
    for (const d of await readManifests(io, opts.filename)) {
      const o = d as { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } };
      const info = resourceOfObject(String(o.apiVersion ?? ''), String(o.kind ?? ''));
      if (info === undefined) continue;
      targets.push({ info, namespace: info.namespaced ? (o.metadata?.namespace ?? opts.namespace ?? 'default') : undefined, name: o.metadata?.name ?? '' });
    }
  } else {
    if (kind === undefined || names.length === 0) throw new UsageError('delete needs -f PATH or KIND NAME...');
    const info = resolveKind(kind);
    for (const name of names) targets.push({ info, namespace: info.namespaced ? (opts.namespace ?? 'default') : undefined, name });
  }
  const t = await requireTarget(opts);
  let worst: number = EXIT.OK;
  for (const x of targets) {
    try {
      await call(t, 'DELETE', resourceUrl(x.info, x.namespace, x.name));
      io.out(`${x.info.group === '' ? x.info.singular : `${x.info.singular}.${x.info.group}`} "${x.name}" deleted`);
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e;
      if (e.code === 404 && opts.ignoreNotFound === true) continue;
      io.err(renderRemoteError(e));
      worst = Math.max(worst, e.code === 422 ? EXIT.USAGE : EXIT.FINDINGS);
    }
  }
  return worst;
}

export interface AuditOptions extends TargetOptions {
  readonly since?: string | undefined;
  readonly output: string;
}

interface AuditEventLike {
  readonly stageTimestamp: string;
  readonly verb: string;
  readonly user: { readonly username: string };
  readonly objectRef?: { readonly resource?: string; readonly namespace?: string; readonly name?: string; readonly apiGroup?: string };
  readonly responseStatus: { readonly code: number };
  readonly annotations?: Record<string, string>;
}

export async function runAudit(io: Io, opts: AuditOptions): Promise<number> {
  if (opts.output !== 'table' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: audit prints table or json`);
  const t = await requireTarget(opts);
  return remote(io, async () => {
    const qs = opts.since === undefined ? '' : `?since=${encodeURIComponent(opts.since)}`;
    const r = (await call(t, 'GET', `/apis/strata/v1/auditevents${qs}`)) as { items: AuditEventLike[] };
    if (opts.output === 'json') {
      io.out(r.items.map((e) => JSON.stringify(e)).join('\n'));
      return EXIT.OK;
    }
    const rows = r.items.map((e) => {
      const ref = e.objectRef;
      const res = ref?.resource === undefined ? '' : ref.apiGroup === undefined || ref.apiGroup === '' ? ref.resource : `${ref.resource}.${ref.apiGroup}`;
      const obj = ref?.name === undefined ? (ref?.namespace ?? '') : ref.namespace === undefined ? ref.name : `${ref.namespace}/${ref.name}`;
      return [e.stageTimestamp.replace(/\.\d+Z$/, 'Z'), e.user.username, e.verb, res, obj, e.annotations?.['projectcalico.org/tier'] ?? '', e.annotations?.['authorization.k8s.io/decision'] ?? '', String(e.responseStatus.code)];
    });
    if (rows.length === 0) io.err('No audit events');
    else io.out(table([['TIME', 'USER', 'VERB', 'RESOURCE', 'OBJECT', 'TIER', 'DECISION', 'CODE'], ...rows]));
    return EXIT.OK;
  });
}
