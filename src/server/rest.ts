// The resource verbs: get, list, create, update, patch, delete and the /status subresource.
// Every write is validated twice before it is stored — the object on its own (the model's
// checks, as `strata check`), then the whole candidate state (the engine's cross-resource
// checks) — and committed with a compare-and-swap on the key's revision.
import type { Diagnostic } from '../diagnostics/index.ts';
import type { StoredObject, TxnOp } from '../store/index.ts';
import type { UserInfo } from './authn.ts';
import { authorize, tierListForbidden, tierVisible, visibleTiers } from './authz.ts';
import { parseObject } from './body.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import type { EngineChange } from './engine-state.ts';
import { redactBreak } from './redact.ts';
import {
  fieldsMatch,
  forStorage,
  isObject,
  keepOwnedStatus,
  labelsMatch,
  mergePatch,
  metaOf,
  objectLabel,
  parseFieldSelector,
  parseLabelSelector,
  served,
  tierOf,
  validateObject,
} from './objects.ts';
import type { FieldRequirement, LabelRequirement } from './objects.ts';
import type { ResourceInfo, ResourcePath } from './resources.ts';
import { apiVersionOf, objectKey, qualifiedName, resourcePrefix } from './resources.ts';
import { alreadyExists, conflict, fail, invalid, notFound, status } from './status.ts';

export interface Reply {
  readonly code: number;
  readonly body: unknown;
  /** Sent as `Warning: 299 - "…"` headers, as kube-apiserver sends admission warnings (kubectl prints them). */
  readonly warnings?: readonly string[];
}

export type Query = Readonly<Record<string, string | undefined>>;

export interface Selectors {
  readonly labels: readonly LabelRequirement[];
  readonly fields: readonly FieldRequirement[];
}

export function selectorsOf(q: Query): Selectors {
  const l = parseLabelSelector(q['labelSelector'] ?? '');
  if (!l.ok) throw fail(400, l.diagnostics[0]?.message ?? 'bad label selector');
  const f = parseFieldSelector(q['fieldSelector'] ?? '');
  if (!f.ok) throw fail(400, f.diagnostics[0]?.message ?? 'bad field selector');
  return { labels: l.value, fields: f.value };
}

export function selected(s: Selectors, obj: Readonly<Record<string, unknown>>): boolean {
  return labelsMatch(s.labels, metaOf(obj).labels) && fieldsMatch(s.fields, obj);
}

function refOf(p: ResourcePath, name: string | undefined): RequestRecord['objectRef'] {
  return {
    resource: p.info.plural,
    ...(p.subresource === undefined ? {} : { subresource: p.subresource }),
    ...(p.namespace === undefined ? {} : { namespace: p.namespace }),
    ...(name === undefined ? {} : { name }),
    apiGroup: p.info.group,
    apiVersion: p.info.version,
  };
}

function parseStored(o: StoredObject): Record<string, unknown> {
  return JSON.parse(o.value) as Record<string, unknown>;
}

/** 403 or 404 for a missing object: a user who may not read any tier learns nothing from the answer. */
function missing(ctx: ServerContext, user: UserInfo, p: ResourcePath, name: string, verb: string, rec: RequestRecord): Error {
  if (p.info.tierResource !== undefined && visibleTiers(ctx.mirror, user, p.info, verb, p.namespace).length === 0) {
    authorize(ctx.mirror, user, { info: p.info, verb, namespace: p.namespace, name }, rec);
  }
  return notFound(qualifiedName(p.info), name, p.info.group, p.info.kind);
}

export async function getObject(ctx: ServerContext, user: UserInfo, p: ResourcePath, rec: RequestRecord): Promise<Reply> {
  const name = p.name!;
  rec.objectRef = refOf(p, name);
  const key = objectKey(p.info, p.namespace, name);
  if (p.info.tierResource === undefined) authorize(ctx.mirror, user, { info: p.info, verb: 'get', namespace: p.namespace, name, subresource: p.subresource }, rec);
  const cur = await ctx.store.get(key);
  if (cur === undefined) throw missing(ctx, user, p, name, 'get', rec);
  const obj = served(cur.value, cur.modRevision);
  if (p.info.tierResource !== undefined) authorize(ctx.mirror, user, { info: p.info, verb: 'get', namespace: p.namespace, name, tier: tierOf(obj) }, rec);
  return { code: 200, body: obj };
}

interface ContinueToken {
  readonly k: string;
  readonly r: number;
}

function decodeContinue(text: string | undefined): ContinueToken | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (isObject(v) && typeof v['k'] === 'string' && typeof v['r'] === 'number') return { k: v['k'], r: v['r'] };
  } catch {
    // fall through to the 400
  }
  throw fail(400, 'the continue token is not valid');
}

/**
 * List, filtered by label and field selectors, and — for tiered policies — by the tiers the user
 * may read: a list across tiers leaves out what the user may not see instead of failing.
 */
export async function listObjects(ctx: ServerContext, user: UserInfo, p: ResourcePath, q: Query, rec: RequestRecord): Promise<Reply> {
  rec.objectRef = refOf(p, undefined);
  const sel = selectorsOf(q);
  const visible = listFilter(ctx, user, p, 'list', rec);
  const limit = q['limit'] === undefined ? 0 : Number(q['limit']);
  if (!Number.isInteger(limit) || limit < 0) throw fail(400, `limit must be a non-negative integer, got "${q['limit'] ?? ''}"`);
  const cont = decodeContinue(q['continue']);
  const listed = await ctx.store.list(resourcePrefix(p.info, p.namespace), {
    ...(cont === undefined ? {} : { revision: cont.r, continueAfter: cont.k }),
    ...(limit > 0 ? { limit } : {}),
  });
  const items = listed.items.map((o) => served(o.value, o.modRevision)).filter((o) => selected(sel, o) && visible(o));
  const last = listed.items[listed.items.length - 1];
  const metadata = {
    resourceVersion: String(listed.revision),
    ...(listed.more && last !== undefined ? { continue: Buffer.from(JSON.stringify({ k: last.key, r: listed.revision })).toString('base64url') } : {}),
  };
  return { code: 200, body: { kind: `${p.info.kind}List`, apiVersion: apiVersionOf(p.info), metadata, items } };
}

/** The per-object visibility test of a list or watch (throws 403 when nothing at all is visible). */
export function listFilter(ctx: ServerContext, user: UserInfo, p: ResourcePath, verb: string, rec: RequestRecord): (obj: Readonly<Record<string, unknown>>) => boolean {
  if (p.info.tierResource === undefined) {
    authorize(ctx.mirror, user, { info: p.info, verb, namespace: p.namespace, name: undefined }, rec);
    return () => true;
  }
  if (p.namespace !== undefined || !p.info.namespaced) {
    const tiers = visibleTiers(ctx.mirror, user, p.info, verb, p.namespace);
    if (tiers.length === 0) throw tierListForbidden(ctx.mirror, user, p.info, verb, p.namespace, rec);
    rec.decision = 'allow';
    rec.reason = `tiers visible: ${tiers.join(', ')}`;
  } else {
    rec.decision = 'allow';
    rec.reason = 'all namespaces: filtered per namespace and tier';
  }
  // Evaluated per object (not from the tier list above) so that RBAC changes during a watch apply.
  return (obj) => tierVisible(ctx.mirror, user, p.info, verb, tierOf(obj), metaOf(obj).namespace)?.allowed === true;
}

/** The URL's apiVersion/kind and namespace fill in or must agree with the body's. */
function conform(p: ResourcePath, body: Record<string, unknown>): Record<string, unknown> {
  const apiVersion = body['apiVersion'] ?? apiVersionOf(p.info);
  const kind = body['kind'] ?? p.info.kind;
  const crd = p.info.group === 'projectcalico.org' && apiVersion === `crd.projectcalico.org/v1`;
  if ((apiVersion !== apiVersionOf(p.info) && !crd) || kind !== p.info.kind) {
    throw fail(400, `the API version and kind in the data (${String(apiVersion)}, ${String(kind)}) do not match the expected ones (${apiVersionOf(p.info)}, ${p.info.kind})`);
  }
  const meta = isObject(body['metadata']) ? { ...body['metadata'] } : {};
  if (p.info.namespaced) {
    const ns = meta['namespace'];
    if (ns !== undefined && ns !== p.namespace) throw fail(400, 'the namespace of the provided object does not match the namespace sent on the request');
    meta['namespace'] = p.namespace;
  }
  return { ...body, apiVersion: apiVersionOf(p.info), kind, metadata: meta };
}

export interface PlannedWrite {
  readonly info: ResourceInfo;
  readonly key: string;
  /** The object to store, or undefined to delete. */
  readonly object: Record<string, unknown> | undefined;
  /** Compare-and-swap: the key's current modRevision (0 = must not exist). */
  readonly expect: number;
  readonly name: string;
  readonly namespace: string | undefined;
}

/** Per-object validation of planned writes (422 with every cause on failure) → the engine's changes. */
export function engineChangesOf(writes: readonly PlannedWrite[], label: (w: PlannedWrite) => string = () => ''): EngineChange[] {
  const changes: EngineChange[] = [];
  const problems: { w: PlannedWrite; ds: Diagnostic[] }[] = [];
  for (const w of writes) {
    if (w.object === undefined) {
      if (w.info.engine) changes.push({ key: w.key, resource: undefined });
      continue;
    }
    const r = validateObject(w.info, w.object);
    if (!r.ok) {
      problems.push({ w, ds: r.diagnostics.map((d) => ({ ...d, ...(d.path === undefined ? {} : { path: `${label(w)}${d.path}` }) })) });
      continue;
    }
    if (w.info.engine) changes.push({ key: w.key, resource: r.value.resource });
  }
  const first = problems[0];
  if (first !== undefined) {
    throw invalid(first.w.info.kind, first.w.name, first.w.info.group, problems.flatMap((p) => p.ds));
  }
  return changes;
}

/** The engine's diagnostics about a batch, each naming the planned write it is about (or, when another object's, that object). */
export function engineInvalid(writes: readonly PlannedWrite[], diagnostics: readonly Diagnostic[], label: (w: PlannedWrite) => string = () => ''): Error {
  const w = writes[0]!;
  // A cross-resource problem may sit in another object (a policy left in a deleted tier): say which.
  const own = new Map(writes.map((x) => [objectLabel(x.info, x.namespace, x.name), x]));
  const ds = diagnostics.map((d) => {
    const mine = d.span === undefined ? undefined : own.get(d.span.file);
    if (mine === undefined && d.code === 'invariant/violated') {
      // A stored invariant the write breaks: its message names it; its field is not the written object's.
      const { path: _path, ...rest } = d;
      return rest;
    }
    if (mine === undefined) return { ...d, message: d.span === undefined ? d.message : `${d.span.file}: ${d.message}` };
    return d.path === undefined ? d : { ...d, path: `${label(mine)}${d.path}` };
  });
  return invalid(w.info.kind, w.name, w.info.group, ds);
}

/**
 * Per-object validation, then the engine's view of the whole change (cross-resource checks and
 * the ConnectivityInvariants it would break); 422 with causes on failure. Returns the warnings
 * (invariants with `admission: warn` the change breaks), sent as `Warning` headers.
 */
export function checkWrites(ctx: ServerContext, user: UserInfo, writes: readonly PlannedWrite[], label: (w: PlannedWrite) => string = () => ''): readonly string[] {
  const changes = engineChangesOf(writes, label);
  const v = ctx.mirror.engine.validateChanges(changes);
  // The step that lets a forbidden flow through may sit in a tier the writer may not read.
  const rejected = v.breaks.filter((b) => b.admission === 'reject').map((b) => redactBreak(ctx, user, b));
  if (!v.ok) throw engineInvalid(writes, [...v.diagnostics, ...rejected], label);
  return v.breaks.filter((b) => b.admission === 'warn').map((b) => redactBreak(ctx, user, b).message);
}

/** Commit planned writes in one transaction; waits until the mirror has seen them. */
export async function commit(ctx: ServerContext, writes: readonly PlannedWrite[]): Promise<{ revision: number }> {
  const ops: TxnOp[] = writes.map((w) =>
    w.object === undefined ? { op: 'delete', key: w.key, expectModRevision: w.expect } : { op: 'put', key: w.key, value: JSON.stringify(w.object), expectModRevision: w.expect },
  );
  const r = await ctx.store.txn(ops);
  if (!r.ok) {
    const w = writes.find((x) => x.key === r.conflict.key) ?? writes[0]!;
    if (r.conflict.actual !== 0 && w.expect === 0) throw alreadyExists(qualifiedName(w.info), w.name, w.info.group, w.info.kind);
    if (r.conflict.actual === 0) throw notFound(qualifiedName(w.info), w.name, w.info.group, w.info.kind);
    throw conflict(qualifiedName(w.info), w.name, w.info.group, w.info.kind);
  }
  await ctx.mirror.waitFor(r.revision);
  return { revision: r.revision };
}

export async function createObject(ctx: ServerContext, user: UserInfo, p: ResourcePath, bodyText: string, rec: RequestRecord): Promise<Reply> {
  rec.writes = true;
  const body = conform(p, parseObject(bodyText));
  const name = metaOf(body).name;
  rec.objectRef = refOf(p, name);
  authorize(ctx.mirror, user, { info: p.info, verb: 'create', namespace: p.namespace, name, tier: tierOf(body) }, rec);
  if (name === undefined || name === '') {
    throw invalid(p.info.kind, '', p.info.group, [{ code: 'model/missing-field', severity: 'error', message: 'name or generateName is required', path: 'metadata.name' }]);
  }
  return ctx.serialize(async () => {
    const key = objectKey(p.info, p.namespace, name);
    if ((await ctx.store.get(key)) !== undefined) throw alreadyExists(qualifiedName(p.info), name, p.info.group, p.info.kind);
    const object = forStorage(p.info, keepOwnedStatus(p.info, body, undefined), undefined);
    const w: PlannedWrite = { info: p.info, key, object, expect: 0, name, namespace: p.namespace };
    const warnings = checkWrites(ctx, user, [w]);
    const { revision } = await commit(ctx, [w]);
    return { code: 201, body: served(JSON.stringify(object), revision), warnings };
  });
}

/** Update (PUT), patch (PATCH) and their /status forms share this: read, change, check, swap. */
export async function replaceObject(
  ctx: ServerContext,
  user: UserInfo,
  p: ResourcePath,
  bodyText: string,
  contentType: string,
  verb: 'update' | 'patch',
  rec: RequestRecord,
): Promise<Reply> {
  rec.writes = true;
  const name = p.name!;
  rec.objectRef = refOf(p, name);
  if (verb === 'patch' && !/merge-patch\+json|strategic-merge-patch\+json/.test(contentType)) {
    throw fail(415, `the patch type "${contentType}" is not supported: use application/merge-patch+json (strategic merge patches are applied as merge patches)`);
  }
  const input = parseObject(bodyText);
  if (p.info.tierResource === undefined) authorize(ctx.mirror, user, { info: p.info, verb, namespace: p.namespace, name, subresource: p.subresource }, rec);
  return ctx.serialize(async () => {
    const key = objectKey(p.info, p.namespace, name);
    const cur = await ctx.store.get(key);
    if (cur === undefined) throw missing(ctx, user, p, name, verb, rec);
    const previous = parseStored(cur);
    let next: Record<string, unknown>;
    if (verb === 'patch') {
      const patched = mergePatch(previous, input);
      if (!isObject(patched)) throw fail(400, 'the patch must be a JSON object');
      next = patched;
    } else {
      next = conform(p, input);
    }
    if (p.subresource === 'status') {
      // /status changes only status; the rest of the object stays as stored.
      const { status: _drop, ...rest } = previous;
      next = next['status'] === undefined ? rest : { ...rest, status: next['status'] };
    } else next = keepOwnedStatus(p.info, next, previous);
    next = conform(p, next);
    const nm = metaOf(next);
    if (nm.name !== name) throw fail(400, `the name of the object (${String(nm.name)}) does not match the name on the URL (${name})`);
    if (p.info.tierResource !== undefined) {
      // Both the tier the policy is in and the tier it moves to must allow the verb.
      authorize(ctx.mirror, user, { info: p.info, verb, namespace: p.namespace, name, tier: tierOf(previous) }, rec);
      if (tierOf(next) !== tierOf(previous)) authorize(ctx.mirror, user, { info: p.info, verb, namespace: p.namespace, name, tier: tierOf(next) }, rec);
    }
    const rv = nm.resourceVersion;
    const inputRv = metaOf(input).resourceVersion;
    if ((verb === 'update' && rv !== undefined && rv !== '' && rv !== String(cur.modRevision)) || (verb === 'patch' && inputRv !== undefined && inputRv !== String(cur.modRevision))) {
      throw conflict(qualifiedName(p.info), name, p.info.group, p.info.kind);
    }
    const object = forStorage(p.info, next, previous);
    const w: PlannedWrite = { info: p.info, key, object, expect: cur.modRevision, name, namespace: p.namespace };
    const warnings = checkWrites(ctx, user, [w]);
    const { revision } = await commit(ctx, [w]);
    return { code: 200, body: served(JSON.stringify(object), revision), warnings };
  });
}

export async function deleteObject(ctx: ServerContext, user: UserInfo, p: ResourcePath, bodyText: string, rec: RequestRecord): Promise<Reply> {
  rec.writes = true;
  const name = p.name!;
  rec.objectRef = refOf(p, name);
  if (p.info.tierResource === undefined) authorize(ctx.mirror, user, { info: p.info, verb: 'delete', namespace: p.namespace, name }, rec);
  // DeleteOptions may carry preconditions.resourceVersion / uid.
  let pre: { resourceVersion?: unknown; uid?: unknown } = {};
  if (bodyText.trim() !== '') {
    const opts = parseObject(bodyText);
    if (isObject(opts['preconditions'])) pre = opts['preconditions'];
  }
  return ctx.serialize(async () => {
    const key = objectKey(p.info, p.namespace, name);
    const cur = await ctx.store.get(key);
    if (cur === undefined) throw missing(ctx, user, p, name, 'delete', rec);
    const previous = parseStored(cur);
    if (p.info.tierResource !== undefined) authorize(ctx.mirror, user, { info: p.info, verb: 'delete', namespace: p.namespace, name, tier: tierOf(previous) }, rec);
    if ((typeof pre.resourceVersion === 'string' && pre.resourceVersion !== String(cur.modRevision)) || (typeof pre.uid === 'string' && pre.uid !== metaOf(previous).uid)) {
      throw conflict(qualifiedName(p.info), name, p.info.group, p.info.kind);
    }
    const w: PlannedWrite = { info: p.info, key, object: undefined, expect: cur.modRevision, name, namespace: p.namespace };
    const warnings = checkWrites(ctx, user, [w]);
    await commit(ctx, [w]);
    return { warnings, code: 200, body: status(200, `${qualifiedName(p.info)} "${name}" deleted`, { name, group: p.info.group, kind: p.info.plural }) };
  });
}
