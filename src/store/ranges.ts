// Key-range helpers shared by the stores: etcd's prefix → [key, range_end) convention and the
// one-op-per-key rule of a transaction.
import { StoreError } from './types.ts';
import type { TxnOp } from './types.ts';

/**
 * The smallest string greater than every string that starts with `prefix` (undefined: no
 * upper bound, for the empty prefix). Incrementing the last code point works in UTF-8 byte
 * order, which is the order both SQLite (BINARY collation) and etcd use.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = points.pop();
    if (last === undefined) break;
    const code = last.codePointAt(0) ?? 0;
    if (code < 0x10ffff) {
      // Skip the surrogate range, which has no UTF-8 form.
      const next = code + 1 === 0xd800 ? 0xe000 : code + 1;
      return points.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

/** etcd refuses a transaction that touches one key twice; so do we, on both stores. */
export function checkDistinctKeys(ops: readonly TxnOp[]): void {
  const seen = new Set<string>();
  for (const op of ops) {
    if (seen.has(op.key)) throw new StoreError('invalid-argument', `txn touches key ${JSON.stringify(op.key)} more than once`);
    seen.add(op.key);
  }
}
