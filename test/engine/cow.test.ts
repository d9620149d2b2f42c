// Copy-on-write maps iterate in insertion order (the order keys were first set; a key deleted and
// set again goes last), exactly as a JS Map does — whether a view orders its entries by placing
// them by sequence number (dense) or by sorting (after much churn) — and a view never changes
// once the epoch has moved on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CowMap, Epoch } from '../../src/engine/cow.ts';

test('views iterate like a Map through sets, updates, deletes and heavy churn', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ op: fc.constantFrom('set', 'set', 'delete', 'snapshot'), key: fc.nat(40), value: fc.nat(9) }), { maxLength: 400 }),
      fc.nat(3000),
      (ops, churn) => {
        const clock = new Epoch();
        const cow = new CowMap<number>(clock);
        const ref = new Map<string, number>();
        // Churn first: many keys set and deleted push the sequence numbers far past the size,
        // so that later views take the sorting path.
        for (let i = 0; i < churn; i++) {
          cow.set(`churn${i}`, i);
          cow.delete(`churn${i}`);
        }
        const held: { view: ReadonlyMap<string, number>; want: [string, number][] }[] = [];
        for (const o of ops) {
          const key = `k${o.key}`;
          if (o.op === 'set') {
            cow.set(key, o.value);
            ref.set(key, o.value);
          } else if (o.op === 'delete') {
            cow.delete(key);
            ref.delete(key);
          } else {
            held.push({ view: cow.view, want: [...ref] });
            clock.advance();
          }
        }
        assert.deepEqual([...cow.view], [...ref]);
        for (const h of held) assert.deepEqual([...h.view], h.want, 'a held view is unchanged');
      },
    ),
    { numRuns: 200, seed: 20261202 },
  );
});
