// Label restrictions: for each label, what any matching label set must satisfy — present, absent,
// or one of some values. Calico computes these (LabelRestrictions in parser/ast.go) to index
// selectors by label; they are a lower bound, never a full description, and never change a
// verdict. The rules are Calico's, including what they do not see (`!(a == "b")` restricts
// nothing, `a != "b"` restricts nothing):
//   leaf     has / contains / starts with / ends with → present; == and in → present + values
//            (except `in {}`: present only, Calico's empty set being "no restriction");
//            !has(k) → absent; anything else → nothing
//   and      per label: present ∨, absent ∨, values ∩
//   or       only labels restricted by every operand: present ∧, absent ∧, values ∪ (dropped
//            when any side does not restrict the value)
import type { SelectorNode } from './ast.ts';
import { normaliseSetValues } from './ast.ts';

export interface LabelRestriction {
  /** The label must be present for the selector to match (`has(k)`, `k == 'v'`). */
  readonly mustBePresent: boolean;
  /** The label must be absent for the selector to match (`!has(k)`). */
  readonly mustBeAbsent: boolean;
  /**
   * When set, the label's value must be one of these (sorted by code point); an empty list means
   * no value will do, so the selector matches nothing. Unset when the value is not restricted.
   */
  readonly mustHaveOneOfValues?: readonly string[];
}

/** Calico's `PossibleToSatisfy`: false when the restriction contradicts itself. */
export function isPossibleToSatisfy(r: LabelRestriction): boolean {
  if (r.mustBePresent && r.mustBeAbsent) return false;
  return r.mustHaveOneOfValues === undefined || r.mustHaveOneOfValues.length > 0;
}

/** The restrictions a selector places on each label; labels without any are not in the map. */
export function computeLabelRestrictions(node: SelectorNode): ReadonlyMap<string, LabelRestriction> {
  const out = new Map<string, LabelRestriction>();
  for (const [label, r] of restrictionsOf(node)) {
    const base = { mustBePresent: r.present, mustBeAbsent: r.absent };
    out.set(label, r.values === undefined ? base : { ...base, mustHaveOneOfValues: normaliseSetValues(r.values) });
  }
  return out;
}

/**
 * True when no label set can match. Sound, not complete: a `true` is a proof (conflicting label
 * restrictions anywhere under a conjunction, `a in {}`, `!all()` and what follows from those),
 * a `false` only means none was found.
 */
export function isUnsatisfiableNode(node: SelectorNode): boolean {
  return neverMatches(node);
}

/** Calico's zero-valued restriction is "nothing known"; kept mutable while combining. */
interface Working {
  present: boolean;
  absent: boolean;
  values: string[] | undefined;
}

function restrictionsOf(node: SelectorNode): Map<string, Working> {
  switch (node.op) {
    case 'all':
    case 'global':
    case 'ne':
    case 'not-in':
      return new Map();
    case 'has':
    case 'contains':
    case 'starts-with':
    case 'ends-with':
      return new Map([[node.label, { present: true, absent: false, values: undefined }]]);
    case 'eq':
      return new Map([[node.label, { present: true, absent: false, values: [node.value] }]]);
    case 'in':
      // Calico's empty set literal is a nil slice, which reads as "no value restriction", so
      // `a in {}` only requires presence (isUnsatisfiableNode still sees that it matches nothing).
      return new Map([
        [node.label, { present: true, absent: false, values: node.values.length === 0 ? undefined : [...node.values] }],
      ]);
    case 'not':
      // Only !has(k) inverts: !(k == 'v') does not require k to be absent.
      if (node.operand.op === 'has') {
        return new Map([[node.operand.label, { present: false, absent: true, values: undefined }]]);
      }
      return new Map();
    case 'and':
      return restrictionsOfAnd(node.operands);
    case 'or':
      return restrictionsOfOr(node.operands);
    default: {
      const unknown: never = node;
      throw new Error(`unknown selector node ${JSON.stringify(unknown)}`);
    }
  }
}

function restrictionsOfAnd(operands: readonly SelectorNode[]): Map<string, Working> {
  const acc = new Map<string, Working>();
  for (const operand of operands) {
    for (const [label, r] of restrictionsOf(operand)) {
      const base = acc.get(label) ?? { present: false, absent: false, values: undefined };
      acc.set(label, {
        present: base.present || r.present,
        absent: base.absent || r.absent,
        values: base.values === undefined ? r.values : r.values === undefined ? base.values : intersect(base.values, r.values),
      });
    }
  }
  return acc;
}

function restrictionsOfOr(operands: readonly SelectorNode[]): Map<string, Working> {
  const [first, ...rest] = operands;
  if (first === undefined) return new Map();
  const acc = restrictionsOf(first);
  for (const operand of rest) {
    const other = restrictionsOf(operand);
    for (const [label, r] of acc) {
      const o = other.get(label) ?? { present: false, absent: false, values: undefined };
      const present = r.present && o.present;
      const absent = r.absent && o.absent;
      // Either side accepting any value (or not needing the label) lifts the value restriction.
      const values = present && r.values !== undefined && o.values !== undefined ? union(r.values, o.values) : undefined;
      if (present || absent) acc.set(label, { present, absent, values });
      else acc.delete(label);
    }
  }
  return acc;
}

function intersect(a: readonly string[], b: readonly string[]): string[] {
  const bs = new Set(b);
  return a.filter((v) => bs.has(v));
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

function hasConflict(restrictions: Map<string, Working>): boolean {
  for (const r of restrictions.values()) {
    if (r.present && r.absent) return true;
    if (r.values !== undefined && r.values.length === 0) return true;
  }
  return false;
}

/** Proven to match no label set. */
function neverMatches(node: SelectorNode): boolean {
  switch (node.op) {
    case 'all':
    case 'global':
    case 'has':
    case 'eq':
    case 'ne':
    case 'contains':
    case 'starts-with':
    case 'ends-with':
    case 'not-in':
      return false;
    case 'in':
      return node.values.length === 0;
    case 'not':
      return alwaysMatches(node.operand);
    case 'and':
      return node.operands.some(neverMatches) || hasConflict(restrictionsOfAnd(node.operands));
    case 'or':
      return node.operands.every(neverMatches);
    default: {
      const unknown: never = node;
      throw new Error(`unknown selector node ${JSON.stringify(unknown)}`);
    }
  }
}

/** Proven to match every label set. */
function alwaysMatches(node: SelectorNode): boolean {
  switch (node.op) {
    case 'all':
    case 'global':
      return true;
    case 'has':
    case 'eq':
    case 'ne':
    case 'contains':
    case 'starts-with':
    case 'ends-with':
    case 'in':
      return false;
    case 'not-in':
      return node.values.length === 0;
    case 'not':
      return neverMatches(node.operand);
    case 'and':
      return node.operands.every(alwaysMatches);
    case 'or':
      return node.operands.some(alwaysMatches);
    default: {
      const unknown: never = node;
      throw new Error(`unknown selector node ${JSON.stringify(unknown)}`);
    }
  }
}
