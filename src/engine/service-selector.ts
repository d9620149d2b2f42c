// A Service's label selector as a Calico selector, so Service backends are members of the one
// membership index like every other selector: `projectcalico.org/namespace == NS && k == v …`
// (a Service selects pods of its own namespace whose labels include the selector's, as the
// endpoints controller does).
import { parseSelector } from '../selector/index.ts';
import type { Selector } from '../selector/index.ts';
import { LABEL_NAMESPACE } from './compose.ts';
import type { ServiceEntry } from './model.ts';

function quote(v: string): string | undefined {
  if (!v.includes('"')) return `"${v}"`;
  if (!v.includes("'")) return `'${v}'`;
  return undefined;
}

/** Undefined for a selector-less Service (no backends), or one no selector text can express. */
export function serviceSelector(s: Pick<ServiceEntry, 'namespace' | 'selector'>): Selector | undefined {
  if (s.selector === undefined) return undefined;
  const clauses: string[] = [];
  for (const [k, v] of [[LABEL_NAMESPACE, s.namespace] as const, ...[...s.selector].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]) {
    const q = quote(v);
    if (q === undefined) return undefined;
    clauses.push(`${k} == ${q}`);
  }
  const r = parseSelector(clauses.join(' && '));
  return r.ok ? r.value : undefined;
}
