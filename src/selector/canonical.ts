// Canonical printer: AST → Calico's `Selector.String()` text, byte for byte. That text is a
// selector's identity (it is hashed into the unique id, used to share IP sets, cache and diff),
// so every detail below is Calico's (collectFragments in libcalico-go/lib/selector/parser/ast.go):
//   - `&&` / `||` nodes are always parenthesised, even at the top; nesting is kept;
//   - `!` is printed with no parentheses of its own (`!(a == "b")` prints as `!a == "b"`);
//   - values are double-quoted unless they contain `"`, then single-quoted;
//   - set values sorted and de-duplicated, separated by `", "`.
import type { SelectorNode, SetNode } from './ast.ts';
import { isNormalisedSet, normaliseSetValues } from './ast.ts';

/** Calico's canonical text of a selector AST. */
export function formatCanonical(node: SelectorNode): string {
  const out: string[] = [];
  appendNode(out, node);
  return out.join('');
}

function appendNode(out: string[], node: SelectorNode): void {
  switch (node.op) {
    case 'all':
      out.push('all()');
      return;
    case 'global':
      out.push('global()');
      return;
    case 'has':
      out.push('has(', node.label, ')');
      return;
    case 'eq':
      out.push(node.label, ' == ', quote(node.value));
      return;
    case 'ne':
      out.push(node.label, ' != ', quote(node.value));
      return;
    case 'contains':
      out.push(node.label, ' contains ', quote(node.value));
      return;
    case 'starts-with':
      out.push(node.label, ' starts with ', quote(node.value));
      return;
    case 'ends-with':
      out.push(node.label, ' ends with ', quote(node.value));
      return;
    case 'in':
    case 'not-in':
      appendSet(out, node);
      return;
    case 'not':
      out.push('!');
      appendNode(out, node.operand);
      return;
    case 'and':
    case 'or': {
      const sep = node.op === 'and' ? ' && ' : ' || ';
      out.push('(');
      node.operands.forEach((operand, i) => {
        if (i > 0) out.push(sep);
        appendNode(out, operand);
      });
      out.push(')');
      return;
    }
    default: {
      const never: never = node;
      throw new Error(`unknown selector node ${JSON.stringify(never)}`);
    }
  }
}

function appendSet(out: string[], node: SetNode): void {
  // Parsed sets are already normalised; ASTs built by hand might not be.
  const values = isNormalisedSet(node.values) ? node.values : normaliseSetValues(node.values);
  out.push(node.label, node.op === 'in' ? ' in {' : ' not in {');
  values.forEach((v, i) => {
    if (i > 0) out.push(', ');
    out.push(quote(v));
  });
  out.push('}');
}

/** Calico's quote choice: double quotes unless the value contains one. */
export function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}
