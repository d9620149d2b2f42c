// Properties over random selectors (fast-check): parsing never throws and every error points
// inside the input; canonical text is stable and means the same; the compiled matcher agrees with
// the reference evaluator; prefixing and unsatisfiability are consistent with evaluation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SelectorNode } from '../../src/selector/index.ts';
import { evaluateNode, isUnsatisfiable, parseSelector, prefixSelector } from '../../src/selector/index.ts';
import { labelMap, mutatedSelectorText, selectorText } from './arbitraries.ts';

const RUNS = { numRuns: 1500 };

/** Checks the contract of a parse result for any input: no throw, and errors within the text. */
function checkParseContract(input: string): void {
  const r = parseSelector(input);
  if (r.ok) {
    assert.equal(r.diagnostics.length, 0);
    return;
  }
  assert.ok(r.diagnostics.length > 0);
  for (const d of r.diagnostics) {
    assert.match(d.code, /^selector\/[a-z-]+$/);
    assert.equal(d.severity, 'error');
    assert.ok(d.message.length > 0);
    assert.ok(d.span !== undefined, 'every error has a span');
    assert.equal(d.span.file, '<selector>');
    assert.equal(d.span.line, 1);
    assert.ok(d.span.col >= 1 && d.span.col <= input.length + 1, `col ${d.span.col} outside 1..${input.length + 1}`);
    const end = d.span.endCol ?? d.span.col;
    assert.ok(end >= d.span.col && end <= input.length + 1, `endCol ${end} outside ${d.span.col}..${input.length + 1}`);
  }
}

function parsedAst(text: string): SelectorNode {
  const r = parseSelector(text);
  assert.ok(r.ok, `${JSON.stringify(text)}: ${JSON.stringify(r.diagnostics)}`);
  return r.value.ast;
}

/** `!` directly under `!` only comes from `!(!x)`, whose canonical `!!x` reparses to x (Calico too). */
function hasDoubleNegation(node: SelectorNode): boolean {
  switch (node.op) {
    case 'not':
      return node.operand.op === 'not' || hasDoubleNegation(node.operand);
    case 'and':
    case 'or':
      return node.operands.some(hasDoubleNegation);
    default:
      return false;
  }
}

describe('properties: parseSelector never throws', () => {
  it('on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => checkParseContract(s)), RUNS);
  });

  it('on arbitrary Unicode, including lone surrogates', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => checkParseContract(s)), RUNS);
  });

  it('on strings over the selector alphabet', () => {
    const alphabet = fc.constantFrom(...' \t\n!=&|(){},"\'abinotcshlwgre%_./-'.split(''));
    fc.assert(fc.property(fc.string({ unit: alphabet, maxLength: 40 }), (s) => checkParseContract(s)), RUNS);
  });

  it('on mutated valid selectors', () => {
    fc.assert(fc.property(mutatedSelectorText, (s) => checkParseContract(s)), RUNS);
  });

  it('on deeply nested input', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), fc.constantFrom('(', '!(', '(!', '(has(a) && '), (n, open) =>
        checkParseContract(`${open.repeat(n)}has(a)${')'.repeat(n)}`),
      ),
      { numRuns: 60 },
    );
  });
});

describe('properties: the generated selectors are valid', () => {
  it('parses every generated selector', () => {
    fc.assert(fc.property(selectorText, (s) => void parsedAst(s)), RUNS);
  });
});

describe('properties: canonical form', () => {
  it('round-trips: canonical(parse(canonical(parse(s)))) === canonical(parse(s)), barring !(!x)', () => {
    fc.assert(
      fc.property(selectorText, (s) => {
        const first = parseSelector(s);
        assert.ok(first.ok);
        const again = parseSelector(first.value.canonical);
        assert.ok(again.ok);
        if (!hasDoubleNegation(first.value.ast)) {
          assert.equal(again.value.canonical, first.value.canonical);
          assert.equal(again.value.id, first.value.id);
        }
        // With !(!x) the canonical text is one step from its fixed point.
        const third = parseSelector(again.value.canonical);
        assert.ok(third.ok);
        assert.equal(third.value.canonical, again.value.canonical);
      }),
      RUNS,
    );
  });

  it('means the same: the reparsed canonical form gives the same verdicts', () => {
    fc.assert(
      fc.property(selectorText, fc.array(labelMap, { minLength: 1, maxLength: 8 }), (s, labelSets) => {
        const original = parseSelector(s);
        assert.ok(original.ok);
        const canonical = parseSelector(original.value.canonical);
        assert.ok(canonical.ok);
        for (const labels of labelSets) assert.equal(canonical.value.matches(labels), original.value.matches(labels));
      }),
      RUNS,
    );
  });
});

describe('properties: evaluation', () => {
  it('the compiled matcher agrees with the reference evaluator', () => {
    fc.assert(
      fc.property(selectorText, fc.array(labelMap, { minLength: 1, maxLength: 8 }), (s, labelSets) => {
        const r = parseSelector(s);
        assert.ok(r.ok);
        for (const labels of labelSets) assert.equal(r.value.matches(labels), evaluateNode(r.value.ast, labels));
      }),
      RUNS,
    );
  });

  it('a prefixed selector on prefixed labels agrees with the original on the originals', () => {
    fc.assert(
      fc.property(selectorText, labelMap, (s, labels) => {
        const r = parseSelector(s);
        assert.ok(r.ok);
        const prefixed = new Map([...labels].map(([k, v]) => [`pcns.${k}`, v] as const));
        assert.equal(prefixSelector(r.value, 'pcns.').matches(prefixed), r.value.matches(labels));
      }),
      RUNS,
    );
  });

  it('a selector proven unsatisfiable matches no label set', () => {
    fc.assert(
      fc.property(selectorText, fc.array(labelMap, { minLength: 1, maxLength: 8 }), (s, labelSets) => {
        const r = parseSelector(s);
        assert.ok(r.ok);
        if (!isUnsatisfiable(r.value)) return;
        for (const labels of labelSets) assert.equal(r.value.matches(labels), false);
      }),
      RUNS,
    );
  });
});
