// The same resource declared twice (same type, namespace and name) is an error at the second
// place, which names the first. Namespaces are the exception: app bundles commonly repeat their
// Namespace (a shared namespaces.yaml plus the app's own file adding labels), so repeated
// Namespaces merge, unless a label has two different values.
import type { Diagnostic, Span } from '../diagnostics/index.ts';
import { formatLocation } from '../diagnostics/index.ts';
import type { Resource, ResourceOf } from '../model/index.ts';

export interface Reconciled {
  readonly resources: Resource[];
  readonly diagnostics: Diagnostic[];
}

function keyOf(r: Resource): string {
  return `${r.type}\u0000${r.namespace ?? ''}\u0000${r.name}`;
}

function where(span: Span): string {
  return formatLocation({ code: '', severity: 'info', message: '', span }).replace(/: $/, '');
}

function displayName(r: Resource): string {
  return r.namespace === undefined ? `"${r.name}"` : `"${r.namespace}/${r.name}"`;
}

/** Keeps the first of each resource, merges repeated Namespaces, reports the rest. */
export function reconcileDuplicates(resources: readonly Resource[]): Reconciled {
  const out: Resource[] = [];
  const index = new Map<string, number>();
  const diagnostics: Diagnostic[] = [];
  for (const r of resources) {
    const key = keyOf(r);
    const at = index.get(key);
    const first = at === undefined ? undefined : out[at];
    if (at === undefined || first === undefined) {
      index.set(key, out.length);
      out.push(r);
      continue;
    }
    if (first.type === 'Namespace' && r.type === 'Namespace') {
      const merged = mergeNamespaces(first, r);
      diagnostics.push(...merged.diagnostics);
      if (merged.value !== undefined) out[at] = merged.value;
      continue;
    }
    diagnostics.push({
      code: 'load/duplicate-resource',
      severity: 'error',
      message: `${r.kind} ${displayName(r)} is declared twice`,
      span: r.origin.spanOf(['metadata', 'name']),
      path: 'metadata.name',
      help: `first declared at ${where(first.origin.spanOf(['metadata', 'name']))}; remove one of them or rename it`,
    });
  }
  return { resources: out, diagnostics };
}

type NamespaceResource = ResourceOf<'Namespace'>;

function mergeNamespaces(first: NamespaceResource, second: NamespaceResource): { value: NamespaceResource | undefined; diagnostics: Diagnostic[] } {
  const a = first.body.metadata.labels ?? {};
  const b = second.body.metadata.labels ?? {};
  const conflicts: Diagnostic[] = [];
  for (const [k, v] of Object.entries(b)) {
    const mine = a[k];
    if (mine !== undefined && mine !== v) {
      conflicts.push({
        code: 'load/namespace-label-conflict',
        severity: 'error',
        message: `namespace "${second.name}" is declared again with label ${k}="${v}", but its first declaration has ${k}="${mine}"`,
        span: second.origin.spanOf(['metadata', 'labels', k]),
        path: `metadata.labels.${k}`,
        help: `first declared at ${where(first.origin.spanOf(['metadata', 'labels', k]))}; give the label one value`,
      });
    }
  }
  if (conflicts.length > 0) return { value: undefined, diagnostics: conflicts };
  const labels = { ...a, ...b };
  const annotations = { ...(second.body.metadata.annotations ?? {}), ...(first.body.metadata.annotations ?? {}) };
  const metadata = {
    ...first.body.metadata,
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const note: Diagnostic = {
    code: 'load/merged-namespace',
    severity: 'info',
    message: `namespace "${second.name}" is declared again; its labels are merged with the declaration at ${where(first.origin.span)}`,
    span: second.origin.spanOf(['metadata', 'name']),
    path: 'metadata.name',
  };
  return { value: { ...first, body: { ...first.body, metadata } }, diagnostics: [note] };
}
