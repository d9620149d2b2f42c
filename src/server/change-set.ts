// The body of a batch write or preview: documents to create or replace, and objects to delete.
// Either the plain form `POST /apis/strata/v1/apply` always took — multi-document YAML, a JSON
// array or a `List` — with deletions and options as query parameters, or a JSON/YAML envelope
// `{apiVersion: strata/v1, kind: ChangeSet, documents: […], delete: […], ports: […], reattributed, flows: […]}`.
// A deletion names an object as kubectl does (`gnp/NAME`, `snp/NAMESPACE/NAME`,
// `networkpolicies.projectcalico.org/NS/NAME`) or as a reference `{apiVersion, kind, namespace, name}`.
import { z } from 'zod';
import { flattenLists, parseDocuments } from './body.ts';
import { isObject } from './objects.ts';
import type { Query } from './rest.ts';
import { resolveResourceName, resourceOfObject } from './resources.ts';
import type { ResourceInfo } from './resources.ts';
import { fail } from './status.ts';
import { MAX_OBSERVED, observedFlowSchema } from './replay.ts';
import type { ObservedFlow } from './replay.ts';

export interface DeleteRef {
  readonly info: ResourceInfo;
  readonly namespace: string | undefined;
  readonly name: string;
  /** A precondition: delete only the object at this resourceVersion (409 otherwise). */
  readonly resourceVersion?: string | undefined;
}

export interface ChangeSet {
  readonly documents: readonly unknown[];
  readonly deletes: readonly DeleteRef[];
  /** Diff only: restrict the answer to these `PORT[/PROTOCOL]` (ranges `8000-8999/TCP`). */
  readonly ports: readonly string[];
  /** Diff only: report flows whose verdict stays but whose deciding rule changes (default true). */
  readonly reattributed: boolean;
  /** Diff only: observed flows to replay against the change (undefined: no replay). */
  readonly flows: readonly ObservedFlow[] | undefined;
}

const refSchema = z.union([
  z.string(),
  z.object({ apiVersion: z.string().optional(), kind: z.string(), namespace: z.string().optional(), name: z.string().min(1), resourceVersion: z.string().min(1).optional() }).strict(),
]);

const envelopeSchema = z
  .object({
    apiVersion: z.literal('strata/v1'),
    kind: z.literal('ChangeSet'),
    documents: z.array(z.unknown()).optional(),
    delete: z.array(refSchema).optional(),
    ports: z.array(z.string()).optional(),
    reattributed: z.boolean().optional(),
    flows: z.array(observedFlowSchema).max(MAX_OBSERVED).optional(),
  })
  .strict();

/** `KIND/NAME` or `KIND/NAMESPACE/NAME`, or a reference object; `at` names it in errors. */
export function parseDeleteRef(ref: z.output<typeof refSchema>, at: string): DeleteRef {
  if (typeof ref === 'string') {
    const parts = ref.split('/');
    if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) throw fail(400, `${at}: "${ref}" is not KIND/NAME or KIND/NAMESPACE/NAME`);
    const info = resolveResourceName(parts[0]!);
    if (info === undefined) throw fail(400, `${at}: the server doesn't have a resource type "${parts[0]!}"`);
    if (parts.length === 3 && !info.namespaced) throw fail(400, `${at}: ${info.kind} is cluster-scoped: write ${parts[0]!}/NAME`);
    const namespace = info.namespaced ? (parts.length === 3 ? parts[1]! : 'default') : undefined;
    return { info, namespace, name: parts[parts.length - 1]! };
  }
  const info = ref.apiVersion === undefined ? resolveResourceName(ref.kind) : resourceOfObject(ref.apiVersion, ref.kind);
  if (info === undefined) throw fail(400, `${at}: the server doesn't have a resource type "${ref.apiVersion === undefined ? ref.kind : `${ref.apiVersion} ${ref.kind}`}"`);
  return { info, namespace: info.namespaced ? (ref.namespace ?? 'default') : undefined, name: ref.name, ...(ref.resourceVersion === undefined ? {} : { resourceVersion: ref.resourceVersion }) };
}

function listParam(q: Query, name: string): string[] {
  return (q[name] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function boolParam(q: Query, name: string): boolean | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw fail(400, `${name} must be true or false, got "${v}"`);
}

/** The change set of a request; an empty body is allowed when the query deletes something. */
export function parseChangeSet(bodyText: string, q: Query): ChangeSet {
  const queryDeletes = listParam(q, 'delete').map((r, i) => parseDeleteRef(r, `delete[${i}]`));
  const queryPorts = listParam(q, 'ports');
  const queryReattributed = boolParam(q, 'reattributed');
  const docs = bodyText.trim() === '' ? [] : parseDocuments(bodyText);
  const [first] = docs;
  if (docs.length === 1 && isObject(first) && first['kind'] === 'ChangeSet') {
    const parsed = envelopeSchema.safeParse(first);
    if (!parsed.success) throw fail(400, `not a ChangeSet: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    const e = parsed.data;
    return {
      documents: flattenLists(e.documents ?? []),
      deletes: [...(e.delete ?? []).map((r, i) => parseDeleteRef(r, `delete[${i}]`)), ...queryDeletes],
      ports: [...(e.ports ?? []), ...queryPorts],
      reattributed: e.reattributed ?? queryReattributed ?? true,
      flows: e.flows,
    };
  }
  return { documents: flattenLists(docs), deletes: queryDeletes, ports: queryPorts, reattributed: queryReattributed ?? true, flows: undefined };
}
