// POST /apis/strata/v1/apply: a multi-document body (YAML documents, a JSON array or a List, or
// a ChangeSet envelope that also deletes: change-set.ts) applied as one transaction — all or
// nothing — with a result per document: created, configured, unchanged or deleted.
// Create-or-replace by name, as a server-side apply that owns the whole object. The planning
// (authorization, per-object validation input, compare-and-swap revisions) is shared with the
// diff preview, which authorizes exactly as apply does and then commits nothing.
import type { UserInfo } from './authn.ts';
import type { AuditEvent } from './audit.ts';
import { auditEvent } from './audit.ts';
import { authorize } from './authz.ts';
import { parseChangeSet } from './change-set.ts';
import type { ChangeSet } from './change-set.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import { forStorage, isObject, keepOwnedStatus, metaOf, sameContent, served, tierOf } from './objects.ts';
import type { PlannedWrite, Query, Reply } from './rest.ts';
import { checkWrites, commit } from './rest.ts';
import { objectKey, qualifiedName, resourceOfObject } from './resources.ts';
import { conflict, fail, invalid, notFound } from './status.ts';
import { syntheticOrigin, validateDocument } from '../model/index.ts';

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'skipped' | 'deleted';

export interface ApplyItemResult {
  readonly index: number;
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly action: ApplyAction;
  readonly resourceVersion?: string;
  readonly message?: string;
}

export interface Planned {
  readonly index: number;
  readonly write: PlannedWrite | undefined;
  readonly result: Omit<ApplyItemResult, 'resourceVersion'>;
}

/**
 * App bundles repeat their Namespace (a shared namespaces.yaml plus the app's own file): as the
 * loader does, repeated Namespaces merge their labels, and two values for one label are a 422.
 */
export function mergeRepeatedNamespaces(docs: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  const at = new Map<string, number>();
  for (const d of docs) {
    const name = isObject(d) && d['kind'] === 'Namespace' && d['apiVersion'] === 'v1' ? metaOf(d).name : undefined;
    const i = name === undefined ? undefined : at.get(name);
    if (name === undefined || i === undefined || !isObject(d)) {
      if (name !== undefined) at.set(name, out.length);
      out.push(d);
      continue;
    }
    const first = out[i] as Record<string, unknown>;
    const a = metaOf(first).labels ?? {};
    const b = metaOf(d).labels ?? {};
    for (const [k, v] of Object.entries(b)) {
      if (a[k] !== undefined && a[k] !== v) {
        throw invalid('Namespace', name, '', [{ code: 'load/namespace-label-conflict', severity: 'error', message: `namespace "${name}" is declared again with label ${k}="${v}", but its first declaration has ${k}="${a[k]}"`, path: `metadata.labels.${k}` }]);
      }
    }
    const fm = metaOf(first) as Record<string, unknown>;
    const annotations = { ...((metaOf(d) as { annotations?: Record<string, string> }).annotations ?? {}), ...((fm as { annotations?: Record<string, string> }).annotations ?? {}) };
    const labels = { ...a, ...b };
    out[i] = { ...first, metadata: { ...fm, ...(Object.keys(labels).length > 0 ? { labels } : {}), ...(Object.keys(annotations).length > 0 ? { annotations } : {}) } };
  }
  return out;
}

/**
 * Authorize and plan every document and deletion of a change set against the store's current
 * objects, as apply would: nothing is written. Throws the Status of the first refusal.
 */
export async function planChangeSet(ctx: ServerContext, user: UserInfo, cs: ChangeSet, rec: RequestRecord): Promise<Planned[]> {
  const docs = mergeRepeatedNamespaces(cs.documents);
  if (docs.length === 0 && cs.deletes.length === 0) throw fail(400, 'the request body has no documents');
  const planned: Planned[] = [];
  const seen = new Map<string, string>();
  for (const [index, doc] of docs.entries()) {
    if (!isObject(doc)) throw invalid('List', `document ${index}`, 'strata', [{ code: 'model/invalid-document', severity: 'error', message: 'expected a resource (a mapping with apiVersion, kind and metadata)', path: `[${index}]` }]);
    const apiVersion = String(doc['apiVersion'] ?? '');
    const kind = String(doc['kind'] ?? '');
    const info = resourceOfObject(apiVersion, kind);
    const name = metaOf(doc).name ?? '';
    if (info === undefined) {
      // Not served: an error where `strata check` errs (a known kind at a wrong version), skipped otherwise.
      const r = validateDocument(doc, syntheticOrigin(`document ${index}`));
      if (!r.ok) throw invalid(kind, name, '', r.diagnostics.map((d) => ({ ...d, path: `[${index}]${d.path === undefined ? '' : `.${d.path}`}` })));
      planned.push({ index, write: undefined, result: { index, apiVersion, kind, name, action: 'skipped', message: r.diagnostics[0]?.message ?? 'not served' } });
      continue;
    }
    const namespace = info.namespaced ? (metaOf(doc).namespace ?? 'default') : undefined;
    const obj: Record<string, unknown> = { ...doc, metadata: { ...(metaOf(doc) as Record<string, unknown>), ...(namespace === undefined ? {} : { namespace }) } };
    const key = objectKey(info, namespace, name);
    const dup = seen.get(key);
    if (dup !== undefined) throw fail(400, `${dup} and document ${index} are both ${kind} ${namespace === undefined ? '' : `${namespace}/`}${name}: give each object once`);
    seen.set(key, `document ${index}`);
    const cur = name === '' ? undefined : await ctx.store.get(key);
    const previous = cur === undefined ? undefined : (JSON.parse(cur.value) as Record<string, unknown>);
    const verb = cur === undefined ? 'create' : 'update';
    const base = { index, apiVersion, kind, ...(namespace === undefined ? {} : { namespace }), name };
    authorize(ctx.mirror, user, { info, verb, namespace, name, tier: tierOf(obj) }, rec);
    if (previous !== undefined && info.tierResource !== undefined && tierOf(previous) !== tierOf(obj)) {
      authorize(ctx.mirror, user, { info, verb, namespace, name, tier: tierOf(previous) }, rec);
    }
    const stored = forStorage(info, keepOwnedStatus(info, obj, previous), previous);
    if (previous !== undefined && sameContent(previous, stored)) {
      planned.push({ index, write: undefined, result: { ...base, action: 'unchanged' } });
      continue;
    }
    planned.push({
      index,
      write: { info, key, object: stored, expect: cur?.modRevision ?? 0, name, namespace },
      result: { ...base, action: cur === undefined ? 'created' : 'configured' },
    });
  }
  for (const [i, d] of cs.deletes.entries()) {
    const index = docs.length + i;
    const key = objectKey(d.info, d.namespace, d.name);
    const dup = seen.get(key);
    if (dup !== undefined) throw fail(400, `${dup} and delete[${i}] are both ${d.info.kind} ${d.namespace === undefined ? '' : `${d.namespace}/`}${d.name}: give each object once`);
    seen.set(key, `delete[${i}]`);
    const cur = await ctx.store.get(key);
    const previous = cur === undefined ? undefined : (JSON.parse(cur.value) as Record<string, unknown>);
    authorize(ctx.mirror, user, { info: d.info, verb: 'delete', namespace: d.namespace, name: d.name, tier: previous === undefined ? undefined : tierOf(previous) }, rec);
    if (cur === undefined) throw notFound(qualifiedName(d.info), d.name, d.info.group, d.info.kind);
    // The object the client read is not the one stored any more (e.g. a staged policy changed
    // between `strata enforce` reading it and the enforcing batch): nothing is written.
    if (d.resourceVersion !== undefined && d.resourceVersion !== String(cur.modRevision)) throw conflict(qualifiedName(d.info), d.name, d.info.group, d.info.kind);
    const apiVersion = d.info.group === '' ? d.info.version : `${d.info.group}/${d.info.version}`;
    planned.push({
      index,
      write: { info: d.info, key, object: undefined, expect: cur.modRevision, name: d.name, namespace: d.namespace },
      result: { index, apiVersion, kind: d.info.kind, ...(d.namespace === undefined ? {} : { namespace: d.namespace }), name: d.name, action: 'deleted' },
    });
  }
  return planned;
}

/** How a planned write is named in field paths: `[2].` for document 2, `delete[0].` for a deletion. */
export function plannedLabel(planned: readonly Planned[], documents: number): (w: PlannedWrite) => string {
  return (w) => {
    const i = planned.find((p) => p.write === w)?.index ?? 0;
    return i < documents ? `[${i}].` : `delete[${i - documents}].`;
  };
}

export async function batchApply(ctx: ServerContext, user: UserInfo, bodyText: string, q: Query, rec: RequestRecord): Promise<Reply> {
  rec.writes = true;
  const cs = parseChangeSet(bodyText, q);
  if (cs.ports.length > 0 || cs.flows !== undefined) throw fail(400, 'ports and flows are options of POST /apis/strata/v1/diff, not of apply');
  return ctx.serialize(async () => {
    const planned = await planChangeSet(ctx, user, cs, rec);
    const writes = planned.flatMap((p) => (p.write === undefined ? [] : [p.write]));
    const documents = planned.filter((p) => p.result.action !== 'deleted').length;
    const warnings = writes.length > 0 ? checkWrites(ctx, user, writes, plannedLabel(planned, documents)) : [];
    const revision = writes.length > 0 ? (await commit(ctx, writes)).revision : await ctx.store.revision();
    const results: ApplyItemResult[] = planned.map((p) => {
      if (p.write === undefined || p.write.object === undefined) return p.result;
      const meta = metaOf(served(JSON.stringify(p.write.object), revision));
      return { ...p.result, ...(meta.resourceVersion === undefined ? {} : { resourceVersion: meta.resourceVersion }) };
    });
    // One audit event per changed document, so the log answers "who changed this policy".
    const events: AuditEvent[] = planned.flatMap((p) => {
      const w = p.write;
      if (w === undefined) return [];
      const tierOfWrite = w.object ?? undefined;
      return [
        auditEvent({
          auditID: rec.auditID,
          requestURI: rec.uri,
          verb: p.result.action === 'created' ? 'create' : p.result.action === 'deleted' ? 'delete' : 'update',
          user,
          sourceIP: rec.sourceIP,
          userAgent: rec.userAgent,
          objectRef: { resource: w.info.plural, ...(w.namespace === undefined ? {} : { namespace: w.namespace }), name: w.name, apiGroup: w.info.group, apiVersion: w.info.version },
          code: 200,
          received: rec.received,
          decision: 'allow',
          ...(w.info.tierResource === undefined || tierOfWrite === undefined ? {} : { tier: tierOf(tierOfWrite) }),
        }),
      ];
    });
    // The write is committed: an audit failure is logged, not turned into an error for the client.
    await ctx.audit.record(events).catch((e: unknown) => ctx.log(`audit: ${(e as Error).message}`));
    rec.audited = events.length > 0;
    return {
      code: 200,
      body: { kind: 'ApplyResult', apiVersion: 'strata/v1', metadata: { resourceVersion: String(revision) }, results, ...(warnings.length === 0 ? {} : { warnings }) },
      warnings,
    };
  });
}
