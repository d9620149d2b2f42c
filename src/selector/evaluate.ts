// Evaluator: AST → a closure `(labels) => boolean`, built once per selector and called on the
// engine's hot path (every flow touches several selectors), so a call allocates nothing and does
// one Map lookup per label test. `evaluateNode` is the plain tree-walking reference the compiled
// form is tested against.
//
// Semantics (Calico's parser/ast.go): matching is exact and case-sensitive; `!=` and `not in`
// match when the label is absent; every other label test needs the label present; `has(k)` holds
// for an empty value; `all()` and `global()` match everything.
import type { SelectorNode, SetNode, ValueNode } from './ast.ts';

/** An endpoint's labels. A present label may have the value `''`. */
export type Labels = ReadonlyMap<string, string>;

/** A compiled selector. */
export type LabelPredicate = (labels: Labels) => boolean;

const always: LabelPredicate = () => true;
const never: LabelPredicate = () => false;

/** Compiles an AST into a predicate over labels. */
export function compileSelector(node: SelectorNode): LabelPredicate {
  switch (node.op) {
    case 'all':
    case 'global':
      return always;
    case 'has': {
      const k = node.label;
      return (labels) => labels.has(k);
    }
    case 'eq':
    case 'ne':
    case 'contains':
    case 'starts-with':
    case 'ends-with':
      return compileValueTest(node);
    case 'in':
    case 'not-in':
      return compileSetTest(node);
    case 'not': {
      const inner = compileSelector(node.operand);
      if (inner === always) return never;
      if (inner === never) return always;
      return (labels) => !inner(labels);
    }
    case 'and':
      return compileAnd(node.operands.map(compileSelector));
    case 'or':
      return compileOr(node.operands.map(compileSelector));
    default: {
      const unknown: never = node;
      throw new Error(`unknown selector node ${JSON.stringify(unknown)}`);
    }
  }
}

function compileValueTest(node: ValueNode): LabelPredicate {
  const k = node.label;
  const v = node.value;
  switch (node.op) {
    case 'eq':
      // An absent label reads as undefined, which never equals a string.
      return (labels) => labels.get(k) === v;
    case 'ne':
      return (labels) => labels.get(k) !== v;
    case 'contains':
      return (labels) => {
        const x = labels.get(k);
        return x !== undefined && x.includes(v);
      };
    case 'starts-with':
      return (labels) => {
        const x = labels.get(k);
        return x !== undefined && x.startsWith(v);
      };
    case 'ends-with':
      return (labels) => {
        const x = labels.get(k);
        return x !== undefined && x.endsWith(v);
      };
    default: {
      const unknown: never = node.op;
      throw new Error(`unknown value operator ${String(unknown)}`);
    }
  }
}

function compileSetTest(node: SetNode): LabelPredicate {
  const k = node.label;
  const values = node.values;
  const negate = node.op === 'not-in';
  if (values.length === 0) return negate ? always : never;
  if (values.length === 1) {
    const v = values[0]!;
    return negate ? (labels) => labels.get(k) !== v : (labels) => labels.get(k) === v;
  }
  if (values.length === 2) {
    const a = values[0]!;
    const b = values[1]!;
    return negate
      ? (labels) => {
          const x = labels.get(k);
          return x !== a && x !== b;
        }
      : (labels) => {
          const x = labels.get(k);
          return x === a || x === b;
        };
  }
  const set: ReadonlySet<string> = new Set(values);
  return negate
    ? (labels) => {
        const x = labels.get(k);
        return x === undefined || !set.has(x);
      }
    : (labels) => {
        const x = labels.get(k);
        return x !== undefined && set.has(x);
      };
}

function compileAnd(parts: readonly LabelPredicate[]): LabelPredicate {
  // all() contributes nothing to a conjunction, and one never() decides it.
  if (parts.includes(never)) return never;
  const ps = parts.filter((p) => p !== always);
  switch (ps.length) {
    case 0:
      return always;
    case 1:
      return ps[0]!;
    case 2: {
      const a = ps[0]!;
      const b = ps[1]!;
      return (labels) => a(labels) && b(labels);
    }
    case 3: {
      const a = ps[0]!;
      const b = ps[1]!;
      const c = ps[2]!;
      return (labels) => a(labels) && b(labels) && c(labels);
    }
    default:
      return (labels) => {
        for (let i = 0; i < ps.length; i++) if (!ps[i]!(labels)) return false;
        return true;
      };
  }
}

function compileOr(parts: readonly LabelPredicate[]): LabelPredicate {
  if (parts.includes(always)) return always;
  const ps = parts.filter((p) => p !== never);
  switch (ps.length) {
    case 0:
      return never;
    case 1:
      return ps[0]!;
    case 2: {
      const a = ps[0]!;
      const b = ps[1]!;
      return (labels) => a(labels) || b(labels);
    }
    case 3: {
      const a = ps[0]!;
      const b = ps[1]!;
      const c = ps[2]!;
      return (labels) => a(labels) || b(labels) || c(labels);
    }
    default:
      return (labels) => {
        for (let i = 0; i < ps.length; i++) if (ps[i]!(labels)) return true;
        return false;
      };
  }
}

/** The reference evaluator: walks the tree, written for obviousness rather than speed. */
export function evaluateNode(node: SelectorNode, labels: Labels): boolean {
  switch (node.op) {
    case 'all':
    case 'global':
      return true;
    case 'has':
      return labels.has(node.label);
    case 'eq': {
      const v = labels.get(node.label);
      return v !== undefined && v === node.value;
    }
    case 'ne': {
      const v = labels.get(node.label);
      return v === undefined || v !== node.value;
    }
    case 'contains': {
      const v = labels.get(node.label);
      return v !== undefined && v.includes(node.value);
    }
    case 'starts-with': {
      const v = labels.get(node.label);
      return v !== undefined && v.startsWith(node.value);
    }
    case 'ends-with': {
      const v = labels.get(node.label);
      return v !== undefined && v.endsWith(node.value);
    }
    case 'in': {
      const v = labels.get(node.label);
      return v !== undefined && node.values.includes(v);
    }
    case 'not-in': {
      const v = labels.get(node.label);
      return v === undefined || !node.values.includes(v);
    }
    case 'not':
      return !evaluateNode(node.operand, labels);
    case 'and':
      return node.operands.every((o) => evaluateNode(o, labels));
    case 'or':
      return node.operands.some((o) => evaluateNode(o, labels));
    default: {
      const unknown: never = node;
      throw new Error(`unknown selector node ${JSON.stringify(unknown)}`);
    }
  }
}
