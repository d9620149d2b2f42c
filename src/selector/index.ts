// Front door of `selector`: Calico's selector language — parse, print canonically, identify,
// evaluate, prefix and analyse label restrictions. Imports only `../diagnostics`.
export type { Labels, LabelPredicate } from './evaluate.ts';
export type { Selector } from './selector.ts';
export {
  ALL_SELECTOR,
  NO_MATCH_SELECTOR,
  isUnsatisfiable,
  labelRestrictions,
  normaliseSelector,
  parseSelector,
  prefixSelector,
  selectorFromAst,
} from './selector.ts';
export type { LabelRestriction } from './label-restrictions.ts';
export { isPossibleToSatisfy } from './label-restrictions.ts';
export { makeSelectorId, makeUniqueId } from './unique-id.ts';

// The passes, for tools that need them (syntax highlighting, lint, tests).
export type {
  AllNode,
  AndNode,
  GlobalNode,
  HasNode,
  LabelNode,
  NotNode,
  OrNode,
  SelectorNode,
  SetNode,
  SetOp,
  ValueNode,
  ValueOp,
} from './ast.ts';
export {
  SYNTHETIC_SPAN,
  allNode,
  andNode,
  compareCodePoints,
  globalNode,
  hasNode,
  notNode,
  orNode,
  setNode,
  valueNode,
} from './ast.ts';
export { formatCanonical } from './canonical.ts';
export { compileSelector, evaluateNode } from './evaluate.ts';
export { MAX_NESTING, parseSelectorAst } from './parser.ts';
export { labelsOf, prefixLabels } from './prefix.ts';
export type { Token, TokenKind } from './tokens.ts';
export { SELECTOR_FILE } from './tokens.ts';
export { MAX_LABEL_LENGTH, isLabelChar, isValidLabel, tokenizeSelector } from './tokenizer.ts';
