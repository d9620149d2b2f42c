// Origins: every field path maps back to the user's file, and a column inside a selector maps
// back through quoting and folding.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadText } from '../../src/load/index.ts';
import type { Span } from '../../src/diagnostics/index.ts';

const POLICY = [
  'apiVersion: projectcalico.org/v3', // 1
  'kind: GlobalNetworkPolicy', // 2
  'metadata:', // 3
  '  name: p', // 4
  'spec:', // 5
  '  selector: app == "web"', // 6
  '  ingress:', // 7
  '    - action: Allow', // 8
  '      protocol: TCP', // 9
  '      destination:', // 10
  '        ports: [80, 443]', // 11
  '        selector: >-', // 12
  '          tier == "a" &&', // 13
  '          b == "c"', // 14
  '  egress:', // 15
  '  types: [Ingress]', // 16
].join('\n');

function origin(text = POLICY): NonNullable<ReturnType<typeof loadText>['resources'][number]>['origin'] {
  const r = loadText(text, 'p.yaml');
  const first = r.resources[0];
  assert.ok(first !== undefined, JSON.stringify(r.diagnostics));
  return first.origin;
}

const at = (s: Span): string => `${s.line}:${s.col}${s.endCol === undefined ? '' : `-${s.endLine === s.line ? '' : `${s.endLine}:`}${s.endCol}`}`;

describe('spanOf finds the value at a field path', () => {
  const cases: readonly [string, readonly (string | number)[], string][] = [
    ['the resource itself', [], '1:1'],
    ['a scalar value', ['metadata', 'name'], '4:9-9'],
    ['a plain scalar with quotes inside', ['spec', 'selector'], '6:13-24'],
    ['a list item', ['spec', 'ingress', 0, 'destination', 'ports', 1], '11:21-23'],
    ['a mapping (its first key)', ['spec', 'ingress', 0], '8:7'],
    ['a folded scalar (its header)', ['spec', 'ingress', 0, 'destination', 'selector'], '12:19-14:18'],
    ['an empty value (its key)', ['spec', 'egress'], '15:3-8'],
    ['a missing field (the nearest ancestor)', ['spec', 'ingress', 0, 'source', 'nets'], '8:7'],
    ['a missing list item (the list)', ['spec', 'types', 5], '16:10'],
  ];
  for (const [name, path, expected] of cases) test(`${name}: ${JSON.stringify(path)} → ${expected}`, () => assert.equal(at(origin().spanOf(path)), expected));
});

describe('keySpanOf finds the key naming a field', () => {
  test('a mapping key', () => assert.equal(at(origin().keySpanOf!(['spec', 'ingress', 0, 'protocol'])), '9:7-14'));
  test('a list item has no key: its value', () => assert.equal(at(origin().keySpanOf!(['spec', 'types', 0])), '16:11-17'));
});

describe('spanInString maps a column of the value back into the file', () => {
  const text = (value: string): string => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  selector: ${value}\n`;
  const cases: readonly [string, string, number, string][] = [
    ['plain', "app == 'x'", 7, '5:20'],
    ['double-quoted', '"app == \'x\'"', 7, '5:21'],
    ['double-quoted with an escape before', '"a\\x41 == \'x\'"', 7, '5:24'],
    ['single-quoted with a doubled quote before', "'a == ''x'' && has(b)'", 15, '5:31'],
    ['just past the end', "app == 'x'", 10, '5:23'],
    ['a folded block, second line', '>-\n    app == "x" &&\n    b == "y"', 14, '7:5'],
    ['a multi-line plain scalar', 'app == "x" &&\n    b == "y"', 14, '6:5'],
  ];
  for (const [style, value, offset, expected] of cases) {
    test(`${style}: character ${offset}`, () => {
      const s = origin(text(value)).spanInString(['spec', 'selector'], offset);
      assert.equal(`${s.line}:${s.col}`, expected);
    });
  }
});

describe('spanInString in a literal block counts each line break as one character', () => {
  test('second line of an annotation', () => {
    const o = origin('apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  annotations:\n    note: |-\n      first\n      second\n');
    const s = o.spanInString(['metadata', 'annotations', 'note'], 7);
    assert.equal(`${s.line}:${s.col}`, '8:8');
  });
});

describe('selector errors land on the bad column inside the YAML value', () => {
  const cases: readonly [string, string, string][] = [
    ['plain', "  selector: app == 'web", '5:20'],
    ['double-quoted', '  selector: "app = \'web\'"', '5:18'],
    ['folded', '  selector: >-\n    app == "web" &&\n    b === "c"', '7:9'],
  ];
  for (const [style, line, expected] of cases) {
    test(style, () => {
      const r = loadText(`apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n${line}\n`, 's.yaml');
      const d = r.diagnostics[0];
      assert.equal(d?.code, 'model/invalid-selector', JSON.stringify(r.diagnostics));
      assert.equal(`${d?.span?.line}:${d?.span?.col}`, expected);
    });
  }
});
