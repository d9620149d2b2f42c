// `List` documents: kubectl's `v1 List` and any typed `XxxList` (`kubectl get -o yaml` and
// calicoctl output) hold resources in `items`. Items of a typed list may omit apiVersion and kind;
// they are then those of the list's element kind.
import { isRecord } from './schema-kit.ts';

export interface ListDocument {
  readonly apiVersion: string;
  readonly kind: string;
  readonly items: readonly unknown[];
}

/** True for `kind: List` or `kind: XxxList` with an `items` list. */
export function isListDocument(doc: unknown): doc is ListDocument {
  if (!isRecord(doc)) return false;
  const kind = doc['kind'];
  return typeof kind === 'string' && kind.endsWith('List') && Array.isArray(doc['items']) && typeof doc['apiVersion'] === 'string';
}

/** An item with the list's element apiVersion/kind filled in where a typed list leaves them out. */
export function withListDefaults(list: ListDocument, item: unknown): unknown {
  if (list.kind === 'List' || !isRecord(item)) return item;
  const kind = list.kind.slice(0, -'List'.length);
  return { ...(item['apiVersion'] === undefined ? { apiVersion: list.apiVersion } : {}), ...(item['kind'] === undefined ? { kind } : {}), ...item };
}
