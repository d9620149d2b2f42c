// POST /apis/strata/v1/apply: a multi-document body (YAML documents, a JSON array or a List)
// applied as one transaction — all or nothing — with a result per document: created,
// configured or unchanged. Create-or-replace by name, as a server-side apply that owns the
// whole object.
import type { UserInfo } from './authn.ts';
import type { AuditEvent } from './audit.ts';
import { auditEvent } from './audit.ts';
import { authorize } from './authz.ts';
import { flattenLists, parseDocuments } from './body.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import { forStorage, isObject, metaOf, sameContent, served, tierOf } from './objects.ts';
import type { PlannedWrite, Reply } from './rest.ts';
import { checkWrites, commit } from './rest.ts';
import { objectKey, resourceOfObject } from './resources.ts';
import { fail, invalid } from './status.ts';
import { syntheticOrigin, validateDocument } from '../model/index.ts';

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'skipped';

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

interface Planned {
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

export async function batchApply(ctx: ServerContext, user: UserInfo, bodyText: string, rec: RequestRecord): Promise<Reply> {
  rec.writes = true;
  const docs = mergeRepeatedNamespaces(flattenLists(parseDocuments(bodyText)));
  if (docs.length === 0) throw fail(400, 'the request body has no documents');
  return ctx.serialize(async () => {
    const planned: Planned[] = [];
    const seen = new Map<string, number>();
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
      if (dup !== undefined) throw fail(400, `documents ${dup} and ${index} are both ${kind} ${namespace === undefined ? '' : `${namespace}/`}${name}: give each object once`);
      seen.set(key, index);
      const cur = name === '' ? undefined : await ctx.store.get(key);
      const previous = cur === undefined ? undefined : (JSON.parse(cur.value) as Record<string, unknown>);
      const verb = cur === undefined ? 'create' : 'update';
      const base = { index, apiVersion, kind, ...(namespace === undefined ? {} : { namespace }), name };
      authorize(ctx.mirror, user, { info, verb, namespace, name, tier: tierOf(obj) }, rec);
      if (previous !== undefined && info.tierResource !== undefined && tierOf(previous) !== tierOf(obj)) {
        authorize(ctx.mirror, user, { info, verb, namespace, name, tier: tierOf(previous) }, rec);
      }
      const stored = forStorage(info, obj, previous);
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
    const writes = planned.flatMap((p) => (p.write === undefined ? [] : [p.write]));
    const label = (w: PlannedWrite): string => `[${planned.find((p) => p.write === w)?.index ?? 0}].`;
    if (writes.length > 0) checkWrites(ctx, writes, label);
    const revision = writes.length > 0 ? (await commit(ctx, writes)).revision : await ctx.store.revision();
    const results: ApplyItemResult[] = planned.map((p) => {
      if (p.write === undefined) return p.result;
      const meta = metaOf(served(JSON.stringify(p.write.object), revision));
      return { ...p.result, ...(meta.resourceVersion === undefined ? {} : { resourceVersion: meta.resourceVersion }) };
    });
    // One audit event per changed document, so the log answers "who changed this policy".
    const events: AuditEvent[] = planned
      .filter((p) => p.write !== undefined)
      .map((p) =>
        auditEvent({
          auditID: rec.auditID,
          requestURI: rec.uri,
          verb: p.result.action === 'created' ? 'create' : 'update',
          user,
          sourceIP: rec.sourceIP,
          userAgent: rec.userAgent,
          objectRef: { resource: p.write!.info.plural, ...(p.write!.namespace === undefined ? {} : { namespace: p.write!.namespace }), name: p.write!.name, apiGroup: p.write!.info.group, apiVersion: p.write!.info.version },
          code: 200,
          received: rec.received,
          decision: 'allow',
          ...(p.write!.info.tierResource === undefined ? {} : { tier: tierOf(p.write!.object!) }),
        }),
      );
    // The write is committed: an audit failure is logged, not turned into an error for the client.
    await ctx.audit.record(events).catch((e: unknown) => ctx.log(`audit: ${(e as Error).message}`));
    rec.audited = events.length > 0;
    return { code: 200, body: { kind: 'ApplyResult', apiVersion: 'strata/v1', metadata: { resourceVersion: String(revision) }, results } };
  });
}
