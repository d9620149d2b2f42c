// Copy-on-write maps iterate in insertion order (the order keys were first set; a key deleted and
// set again goes last), exactly as a JS Map does — whether a view orders its entries by placing
// them by sequence number (dense) or by sorting (after much churn) — and a view never changes
// once the epoch has moved on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CowMap, CowSetMap, cowTuning, Epoch } from '../../src/engine/cow.ts';

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

test('CowSetMap: held views keep their sets through adds, removes and chunk splits', () => {
  for (const chunkAbove of [1024, 3, 1]) {
    const saved = cowTuning.chunkAbove;
    cowTuning.chunkAbove = chunkAbove;
    try {
      fc.assert(
        fc.property(
          fc.array(fc.record({ op: fc.constantFrom('add', 'add', 'add', 'remove', 'deleteKey', 'snapshot'), key: fc.nat(3), element: fc.nat(60) }), { maxLength: 500 }),
          (ops) => {
            const clock = new Epoch();
            const cow = new CowSetMap<string>(clock);
            const ref = new Map<string, Set<string>>();
            const dump = (m: ReadonlyMap<string, { readonly set: ReadonlySet<string> }>): [string, string[]][] =>
              [...m].map(([k, v]): [string, string[]] => [k, [...v.set].sort()]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
            const want = (): [string, string[]][] => [...ref].map(([k, v]): [string, string[]] => [k, [...v].sort()]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
            const held: { view: ReadonlyMap<string, { readonly set: ReadonlySet<string> }>; want: [string, string[]][]; sizes: number[] }[] = [];
            for (const o of ops) {
              const key = `k${o.key}`;
              const el = `e${o.element}`;
              if (o.op === 'add') {
                assert.equal(cow.add(key, el), ref.get(key)?.has(el) !== true);
                if (!ref.has(key)) ref.set(key, new Set());
                ref.get(key)!.add(el);
              } else if (o.op === 'remove') {
                assert.equal(cow.remove(key, el), ref.get(key)?.has(el) === true);
                ref.get(key)?.delete(el);
                if (ref.get(key)?.size === 0) ref.delete(key);
              } else if (o.op === 'deleteKey') {
                cow.deleteKey(key);
                ref.delete(key);
              } else {
                const view = cow.view;
                held.push({ view, want: want(), sizes: [...view.values()].map((v) => v.set.size) });
                clock.advance();
              }
              for (const [k, v] of ref) {
                assert.equal(cow.get(k).size, v.size);
                assert.equal(cow.get(k).has(el), v.has(el));
              }
            }
            assert.deepEqual(dump(cow.view), want());
            for (const h of held) {
              assert.deepEqual(dump(h.view), h.want, 'a held view is unchanged');
              assert.deepEqual([...h.view.values()].map((v) => v.set.size), h.sizes, 'and so are its sizes');
            }
          },
        ),
        { numRuns: 150, seed: 20261202 + chunkAbove },
      );
    } finally {
      cowTuning.chunkAbove = saved;
    }
  }
});
