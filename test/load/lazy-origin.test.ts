// Origins keep where a resource's document is, not its syntax tree: after the span cache has
// moved on, a span is found by re-parsing that one document — and must be exactly the span the
// loader saw while it had the tree.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMap, isSeq, parseAllDocuments } from 'yaml';
import type { Node } from 'yaml';
import { loadText, makeOrigin, makeSourceText } from '../../src/load/index.ts';

const DOC = (i: number): string => `# policy ${i}
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: "p-${i}"
  labels: {team: 'a${i}'}
spec:
  order: ${i}
  selector: >-
    app == "web-${i}" &&
    tier in {'a', 'b'}
  ingress:
    - action: Allow
      source:
        selector: 'role == "lb"'
`;

const LIST = `---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Namespace
    metadata: {name: first}
  - apiVersion: v1
    kind: Namespace
    metadata:
      name: second
      labels: {env: "prod"}
`;

const PATHS = [[], ['metadata', 'name'], ['metadata', 'labels', 'team'], ['spec', 'order'], ['spec', 'selector'], ['spec', 'ingress', 0, 'source', 'selector'], ['spec', 'missing', 'deeper']] as const;

describe('lazy origins', () => {
  it('give the same spans after the cache has evicted their document as a pinned tree gives', () => {
    const text = `${Array.from({ length: 300 }, (_, i) => DOC(i)).join('---\n')}---\n${LIST.replace(/^---\n/, '')}`;
    const src = makeSourceText('many.yaml', text);
    const loaded = loadText(text, 'many.yaml');
    assert.equal(loaded.diagnostics.filter((d) => d.severity === 'error').length, 0, JSON.stringify(loaded.diagnostics));
    const docs = parseAllDocuments(text);
    // The first documents were evicted long ago (the cache holds 256): these spans re-parse.
    for (const i of [0, 1, 7, 150, 299]) {
      const r = loaded.resources[i]!;
      const pinned = makeOrigin(src, docs[i]!.contents as Node, i);
      for (const p of PATHS) {
        assert.deepEqual(r.origin.spanOf(p), pinned.spanOf(p), `doc ${i} spanOf ${p.join('.')}`);
        assert.deepEqual(r.origin.keySpanOf?.(p), pinned.keySpanOf?.(p), `doc ${i} keySpanOf ${p.join('.')}`);
      }
      for (const offset of [0, 5, 12, 20, 30]) {
        assert.deepEqual(r.origin.spanInString(['spec', 'selector'], offset), pinned.spanInString(['spec', 'selector'], offset), `doc ${i} column ${offset}`);
      }
    }
    // List items find their node under `items` again.
    const listRoot = docs[300]!.contents;
    assert.ok(isMap(listRoot));
    const items = listRoot.get('items', true);
    assert.ok(isSeq(items));
    for (const idx of [0, 1]) {
      const r = loaded.resources[300 + idx]!;
      assert.equal(r.origin.itemIndex, idx);
      const pinned = makeOrigin(src, items.items[idx] as Node, 300, idx);
      for (const p of [[], ['metadata', 'name'], ['metadata', 'labels', 'env']]) assert.deepEqual(r.origin.spanOf(p), pinned.spanOf(p), `item ${idx} ${p.join('.')}`);
    }
    assert.equal(loaded.resources[301]!.origin.spanOf(['metadata', 'name']).line, text.split('\n').findIndex((l) => l.includes('name: second')) + 1);
  });
});
