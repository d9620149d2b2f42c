// Label prefixing, Calico's PrefixVisitor (libcalico-go/lib/selector/parser/ast.go): every label
// name in the tree gets the prefix; all() and global() are left alone. Calico uses it to move a
// namespaceSelector onto `pcns.`-prefixed namespace labels and a serviceAccountSelector onto
// `pcsa.` ones. Like Calico, the result is not re-validated: the prefix is trusted text.
import type { SelectorNode } from './ast.ts';

/** The same tree with `prefix` prepended to every label name; spans are kept. */
export function prefixLabels(node: SelectorNode, prefix: string): SelectorNode {
  switch (node.op) {
    case 'all':
    case 'global':
      return node;
    case 'has':
    case 'eq':
    case 'ne':
    case 'contains':
    case 'starts-with':
    case 'ends-with':
    case 'in':
    case 'not-in':
      return { ...node, label: prefix + node.label };
    case 'not':
      return { ...node, operand: prefixLabels(node.operand, prefix) };
    case 'and':
    case 'or':
      return { ...node, operands: node.operands.map((o) => prefixLabels(o, prefix)) };
    default: {
      const unknown: never = node;
      throw new Error(`unknown selector node ${JSON.stringify(unknown)}`);
    }
  }
}

/** Every label name the selector tests, in order of first appearance. */
export function labelsOf(node: SelectorNode, out: Set<string> = new Set()): Set<string> {
  switch (node.op) {
    case 'all':
    case 'global':
      break;
    case 'has':
    case 'eq':
    case 'ne':
    case 'contains':
    case 'starts-with':
    case 'ends-with':
    case 'in':
    case 'not-in':
      out.add(node.label);
      break;
    case 'not':
      labelsOf(node.operand, out);
      break;
    case 'and':
    case 'or':
      for (const o of node.operands) labelsOf(o, out);
      break;
    default: {
      const unknown: never = node;
      throw new Error(`unknown selector node ${JSON.stringify(unknown)}`);
    }
  }
  return out;
}
