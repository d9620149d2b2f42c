// One parsed document (already a plain JS value) + where it came from → a validated Resource, or
// `undefined` for a kind Strata does not use (with an info diagnostic), or every problem found.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { didYouMean, editDistance, fail, formatPath, ok } from '../diagnostics/index.ts';
import { describeValue, listOf, parseWithDiagnostics, quoteHelp, sortBySpan } from './issues.ts';
import { KINDS, KNOWN_GROUPS, KNOWN_KINDS, apiVersionsOfKind, groupOf, isUnknownKindOfPolicyGroup, resourceTypeOf } from './kinds.ts';
import type { KindInfo } from './kinds.ts';
import type { FieldPath, Origin } from './origin.ts';
import { keySpanOf } from './origin.ts';
import type { Resource, ResourceOf, ResourceType } from './resource.ts';
import { isRecord } from './schema-kit.ts';
import { POLICY_TEST_API_VERSION, POLICY_TEST_KIND, isPolicyTestHeader } from './policy-test.ts';

export function validateDocument(raw: unknown, origin: Origin): Result<Resource | undefined> {
  const doc = withoutNulls(raw);
  if (!isRecord(doc)) {
    return fail([
      {
        code: 'model/invalid-document',
        severity: 'error',
        message: `expected a resource (a mapping with apiVersion, kind and metadata), got ${describeValue(doc)}`,
        span: origin.span,
      },
    ]);
  }
  const header = readHeader(doc, origin);
  if (!header.ok) return header;
  const { apiVersion, kind } = header.value;
  // Strata's own test kind shares files and directories with the manifests: not part of the
  // cluster, validated and run by `strata test` (and validated by `strata check`).
  if (isPolicyTestHeader(apiVersion, kind)) {
    return ok(undefined, [{ code: 'load/policy-test', severity: 'info', message: `${kind} ${describeValue(isRecord(doc['metadata']) ? doc['metadata']['name'] : undefined)}: a test for \`strata test\`, not part of the cluster`, span: origin.spanOf(['kind']), path: 'kind' }]);
  }
  // A test that silently does not run is as bad as a policy that silently disappears.
  const strataGroup = groupOf(apiVersion) === POLICY_TEST_API_VERSION.split('/')[0];
  if ((strataGroup || kind === POLICY_TEST_KIND) && resourceTypeOf(apiVersion, kind) === undefined) {
    const wrongKind = kind !== POLICY_TEST_KIND;
    return fail([
      {
        code: wrongKind ? 'model/unknown-kind' : 'model/unsupported-api-version',
        severity: 'error',
        message: wrongKind ? `${apiVersion} has the kinds ${POLICY_TEST_KIND} and ConnectivityInvariant; got "${kind}"` : `${POLICY_TEST_KIND} is served as ${POLICY_TEST_API_VERSION}, not ${apiVersion}`,
        span: origin.spanOf([wrongKind ? 'kind' : 'apiVersion']),
        path: wrongKind ? 'kind' : 'apiVersion',
        help: wrongKind ? (didYouMean(kind, [POLICY_TEST_KIND, 'ConnectivityInvariant']) ?? `use kind: ${POLICY_TEST_KIND} or ConnectivityInvariant`) : `use apiVersion: ${POLICY_TEST_API_VERSION}`,
      },
    ]);
  }
  const type = resourceTypeOf(apiVersion, kind);
  if (type === undefined) return unknownKind(apiVersion, kind, origin);
  return validateAs(KINDS[type] as KindInfo<ResourceType>, doc, origin);
}

/**
 * `key:` with nothing after it is null in YAML. Go's JSON decoding leaves such a field at its zero
 * value and the API server prunes nulls from CRDs, so to Kubernetes and Calico it is absent.
 */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (!isRecord(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNulls(x);
  return out;
}

function readHeader(doc: Readonly<Record<string, unknown>>, origin: Origin): Result<{ apiVersion: string; kind: string }> {
  const problems: Diagnostic[] = [];
  for (const field of ['apiVersion', 'kind'] as const) {
    const v = doc[field];
    if (v === undefined || v === null || v === '') {
      // A mangled key (`ßapiVersion`, `Kind`) is the usual cause: point at it.
      const near = v === undefined ? Object.keys(doc).find((k) => k !== field && (k.endsWith(field) || didYouMean(k, [field]) !== undefined)) : undefined;
      const base: Diagnostic = {
        code: 'model/missing-field',
        severity: 'error',
        message: `the document has no ${field}: every resource needs apiVersion and kind`,
        span: near !== undefined ? keySpanOf(origin, [near]) : v === undefined ? origin.span : origin.spanOf([field]),
        path: field,
      };
      problems.push(near === undefined ? base : { ...base, help: `found the key "${near}": did you mean "${field}"?` });
    } else if (typeof v !== 'string') {
      problems.push({ code: 'model/invalid-value', severity: 'error', message: `${field} must be a string, got ${describeValue(v)}`, span: origin.spanOf([field]), path: field, ...(typeof v === 'number' || typeof v === 'boolean' ? { help: quoteHelp(v) } : {}) });
    }
  }
  if (problems.length > 0) return fail(problems);
  return ok({ apiVersion: doc['apiVersion'] as string, kind: doc['kind'] as string });
}

/** A kind Strata does not read: skipped with a note, or an error when it is a known kind at the wrong version. */
function unknownKind(apiVersion: string, kind: string, origin: Origin): Result<undefined> {
  const versions = apiVersionsOfKind(kind);
  if (versions.length > 0 && (KNOWN_GROUPS.has(groupOf(apiVersion)) || didYouMean(apiVersion, versions) !== undefined)) {
    return fail([
      {
        code: 'model/unsupported-api-version',
        severity: 'error',
        message: `${kind} is not served as ${apiVersion}: expected apiVersion ${listOf(versions)}`,
        span: origin.spanOf(['apiVersion']),
        path: 'apiVersion',
        help: `use apiVersion: ${versions[0] ?? ''}`,
      },
    ]);
  }
  // Only a typo-sized difference counts: CiliumNetworkPolicy is not a misspelt NetworkPolicy.
  const near = versions.length === 0 ? KNOWN_KINDS.find((k) => editDistance(k.toLowerCase(), kind.toLowerCase()) <= 2) : undefined;
  const group = groupOf(apiVersion);
  const unknownInPolicyGroup = versions.length === 0 && near === undefined && isUnknownKindOfPolicyGroup(group, kind);
  if (near !== undefined || unknownInPolicyGroup) {
    // Skipping it would drop a security policy silently while `check` stays green: refuse instead.
    return fail([
      {
        code: 'model/unknown-kind',
        severity: 'error',
        message:
          near !== undefined
            ? `unknown kind ${kind} (${apiVersion}): probably a misspelt ${near}; the resource would be ignored`
            : `${group} has no kind ${kind}: the resource would be ignored`,
        span: origin.spanOf(['kind']),
        path: 'kind',
        help: near !== undefined ? `did you mean "${near}"?` : `kinds of ${group} Strata reads: ${listOf(KNOWN_KINDS.filter((k) => apiVersionsOfKind(k).some((v) => groupOf(v) === group)))}`,
      },
    ]);
  }
  const note: Diagnostic = {
    code: 'load/skipped-kind',
    severity: 'info',
    message: `skipped ${kind} (${apiVersion}): Strata does not use this kind`,
    span: origin.spanOf(['kind']),
    path: 'kind',
  };
  return ok(undefined, [note]);
}

function validateAs<T extends ResourceType>(info: KindInfo<T>, doc: Readonly<Record<string, unknown>>, origin: Origin): Result<Resource> {
  const parsed = parseWithDiagnostics(info.schema, doc, origin);
  if (parsed.value === undefined) return fail(parsed.diagnostics);
  const body = parsed.value;
  const meta = (body as { metadata: { name?: string | undefined; namespace?: string | undefined } }).metadata;
  const notes: Diagnostic[] = [];
  let namespace: string | undefined;
  if (info.namespaced) {
    namespace = meta.namespace ?? 'default';
  } else if (meta.namespace !== undefined) {
    notes.push({
      code: 'model/namespace-ignored',
      severity: 'warning',
      message: `${info.kind} is cluster-scoped: metadata.namespace "${meta.namespace}" is ignored`,
      span: keySpanOf(origin, ['metadata', 'namespace']),
      path: 'metadata.namespace',
    });
  }
  for (const w of info.warnings?.(body) ?? []) notes.push(warningAt(w.path, w.code, w.message, w.help, origin));
  const resource = {
    type: info.type,
    apiVersion: doc['apiVersion'] as string,
    kind: info.kind,
    name: meta.name ?? '',
    namespace,
    body,
    origin,
  };
  // Sound: `info` is KINDS[T], so `body` is BodyByType[T] and this is Loaded<T, BodyByType[T]>.
  return ok(resource as unknown as ResourceOf<T>, sortBySpan(notes));
}

function warningAt(path: FieldPath, code: string, message: string, help: string | undefined, origin: Origin): Diagnostic {
  const d: Diagnostic = { code, severity: 'warning', message, span: origin.spanOf(path), path: formatPath(path) };
  return help === undefined ? d : { ...d, help };
}
