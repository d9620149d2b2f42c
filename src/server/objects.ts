// Objects on the wire and in the store: validation through the engine's model (the same
// diagnostics `strata check` gives, with field paths), the metadata the server owns (uid,
// creationTimestamp, generation, resourceVersion), Kubernetes label and field selectors, and
// JSON merge patch (RFC 7386).
import { randomUUID } from 'node:crypto';
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import { parseWithDiagnostics } from '../model/issues.ts';
import { nodeStatusSchema } from '../model/node-status.ts';
import { RBAC_SCHEMAS } from '../model/rbac.ts';
import { syntheticOrigin, validateDocument } from '../model/index.ts';
import type { Resource } from '../model/index.ts';
import type { ResourceInfo } from './resources.ts';
import { apiVersionOf } from './resources.ts';

export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };
export type JsonObject = { readonly [k: string]: Json };

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface Meta {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly creationTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export function metaOf(obj: Readonly<Record<string, unknown>>): Meta {
  const m = obj['metadata'];
  return isObject(m) ? (m as Meta) : {};
}

/** How diagnostics name the object they are about (used as the origin's file). */
export function objectLabel(info: ResourceInfo, namespace: string | undefined, name: string): string {
  return info.namespaced ? `${info.kind} ${namespace ?? 'default'}/${name}` : `${info.kind} ${name}`;
}

export interface Checked {
  /** The engine's resource, for kinds the engine reads. */
  readonly resource: Resource | undefined;
}

/** Validate one object exactly as `strata check` validates a document (per-object checks). */
export function validateObject(info: ResourceInfo, obj: Readonly<Record<string, unknown>>): Result<Checked> {
  const meta = metaOf(obj);
  const origin = syntheticOrigin(objectLabel(info, meta.namespace, meta.name ?? ''));
  if (info.type === 'NodeStatus') {
    const parsed = parseWithDiagnostics(nodeStatusSchema, obj, origin);
    return parsed.value === undefined ? fail(parsed.diagnostics) : ok({ resource: undefined });
  }
  if (!info.engine) {
    const schema = RBAC_SCHEMAS[info.type as keyof typeof RBAC_SCHEMAS];
    const parsed = parseWithDiagnostics(schema, obj, origin);
    return parsed.value === undefined ? fail(parsed.diagnostics) : ok({ resource: undefined });
  }
  const r = validateDocument(obj, origin);
  if (!r.ok) return fail(r.diagnostics);
  return ok({ resource: r.value }, r.diagnostics);
}

/** The engine's view of a stored object (already validated when it was written). */
export function resourceOfStored(info: ResourceInfo, obj: Readonly<Record<string, unknown>>): Resource | undefined {
  if (!info.engine) return undefined;
  const r = validateObject(info, obj);
  return r.ok ? r.value.resource : undefined;
}

function nowStamp(): string {
  // RFC 3339 at second precision, as metav1.Time serialises.
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Everything but metadata and status: what `generation` counts changes of. */
function specPart(obj: Readonly<Record<string, unknown>>): string {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (k !== 'metadata' && k !== 'status') rest[k] = v;
  return JSON.stringify(rest);
}

/** The object as stored: server-owned metadata set, resourceVersion left to the store's revision. */
export function forStorage(
  info: ResourceInfo,
  obj: Readonly<Record<string, unknown>>,
  previous: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  const meta: Record<string, unknown> = { ...(metaOf(obj) as Record<string, unknown>) };
  delete meta['resourceVersion'];
  delete meta['selfLink'];
  if (!info.namespaced) delete meta['namespace'];
  else meta['namespace'] = meta['namespace'] ?? 'default';
  if (previous === undefined) {
    meta['uid'] = randomUUID();
    meta['creationTimestamp'] = nowStamp();
    meta['generation'] = 1;
  } else {
    const pm = metaOf(previous);
    meta['uid'] = pm.uid ?? randomUUID();
    meta['creationTimestamp'] = pm.creationTimestamp ?? nowStamp();
    const g = pm.generation ?? 1;
    meta['generation'] = specPart(obj) === specPart(previous) ? g : g + 1;
  }
  return { ...obj, apiVersion: apiVersionOf(info), kind: info.kind, metadata: meta };
}

/**
 * Kinds whose `status` only the server writes (through `/status`): a write of the main resource
 * keeps the stored status, as kube-apiserver does for resources with a status subresource — so
 * `strata apply` of a GlobalThreatFeed manifest does not wipe what the last pull recorded.
 */
const SERVER_OWNED_STATUS: ReadonlySet<string> = new Set(['GlobalThreatFeed']);

export function keepOwnedStatus(info: ResourceInfo, obj: Record<string, unknown>, previous: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  if (!SERVER_OWNED_STATUS.has(info.type)) return obj;
  const { status: _given, ...rest } = obj;
  const kept = previous?.['status'];
  return kept === undefined ? rest : { ...rest, status: kept };
}

/** The object as served: resourceVersion is the store's modRevision. */
export function served(value: string, modRevision: number): Record<string, unknown> {
  const obj = JSON.parse(value) as Record<string, unknown>;
  return { ...obj, metadata: { ...(metaOf(obj) as Record<string, unknown>), resourceVersion: String(modRevision) } };
}

/** Same object apart from server-owned metadata? (batch apply reports `unchanged`). */
export function sameContent(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  const strip = (o: Readonly<Record<string, unknown>>): string => {
    const m: Record<string, unknown> = { ...(metaOf(o) as Record<string, unknown>) };
    for (const k of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'selfLink', 'managedFields']) delete m[k];
    return canonicalJson({ ...o, metadata: m });
  };
  return strip(a) === strip(b);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- label selectors (k8s.io/apimachinery/pkg/labels string form) ----

export type LabelRequirement =
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'exists' | '!exists'; readonly key: string };

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`;
const VALUE = String.raw`[-A-Za-z0-9_.]*`;

/** Split on commas outside parentheses. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of text) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

export function parseLabelSelector(text: string): Result<readonly LabelRequirement[]> {
  const out: LabelRequirement[] = [];
  for (const part of splitTop(text)) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`).exec(part)) !== null) {
      out.push({ op: m[2] === '!=' ? 'notin' : 'in', key: m[1]!, values: [m[3]!] });
    } else if ((m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(part)) !== null) {
      const values = m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
      out.push({ op: m[2] as 'in' | 'notin', key: m[1]!, values });
    } else if ((m = new RegExp(`^!\\s*(${KEY})$`).exec(part)) !== null) {
      out.push({ op: '!exists', key: m[1]! });
    } else if ((m = new RegExp(`^(${KEY})$`).exec(part)) !== null) {
      out.push({ op: 'exists', key: m[1]! });
    } else {
      return fail([{ code: 'server/bad-label-selector', severity: 'error', message: `unable to parse requirement "${part}" of the label selector` }]);
    }
  }
  return ok(out);
}

export function labelsMatch(reqs: readonly LabelRequirement[], labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'in':
        return has && r.values.includes(l[r.key]!);
      case 'notin':
        return !has || !r.values.includes(l[r.key]!);
    }
  });
}

// ---- field selectors: metadata.name, metadata.namespace, spec.tier (Calico) ----

export interface FieldRequirement {
  readonly field: string;
  readonly value: string;
  readonly negate: boolean;
}

const FIELDS = ['metadata.name', 'metadata.namespace', 'spec.tier'];

export function parseFieldSelector(text: string): Result<readonly FieldRequirement[]> {
  const out: FieldRequirement[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (m === null || !FIELDS.includes(m[1]!)) {
      return fail([{ code: 'server/bad-field-selector', severity: 'error', message: `field label not supported: "${m?.[1] ?? part}" (use ${FIELDS.join(', ')})` }]);
    }
    out.push({ field: m[1]!, value: m[3]!, negate: m[2] === '!=' });
  }
  return ok(out);
}

/** The tiers the engine places the Kubernetes admin policies in (engine/convert-admin.ts). */
export const ADMIN_TIERS = ['kube-admin', 'kube-baseline'] as const;

/**
 * The tier of a tiered policy object (Calico's default tier when unset). The Kubernetes admin
 * policies are in the tier the engine places them in: AdminNetworkPolicy in `kube-admin`,
 * BaselineAdminNetworkPolicy in `kube-baseline`, ClusterNetworkPolicy by `spec.tier` (Admin,
 * Baseline; any other value is refused by validation, and authorized as `kube-admin`, the
 * stricter one).
 */
export function tierOf(obj: Readonly<Record<string, unknown>>): string {
  const spec = obj['spec'];
  const t = isObject(spec) ? spec['tier'] : undefined;
  switch (obj['kind']) {
    case 'AdminNetworkPolicy':
      return 'kube-admin';
    case 'BaselineAdminNetworkPolicy':
      return 'kube-baseline';
    case 'ClusterNetworkPolicy':
      return t === 'Baseline' ? 'kube-baseline' : 'kube-admin';
    default:
      return typeof t === 'string' && t !== '' ? t : 'default';
  }
}

export function fieldsMatch(reqs: readonly FieldRequirement[], obj: Readonly<Record<string, unknown>>): boolean {
  const meta = metaOf(obj);
  return reqs.every((r) => {
    const v = r.field === 'metadata.name' ? meta.name : r.field === 'metadata.namespace' ? meta.namespace : tierOf(obj);
    return (v === r.value) !== r.negate;
  });
}

export function diagnosticsMessage(ds: readonly Diagnostic[]): string {
  return ds.map((d) => d.message).join('; ');
}
