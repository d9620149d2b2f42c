// Front door of `dataplane`: the compiler from engine decisions to nftables (IR → text → diff)
// and the executor that applies scripts to a node. It imports the engine; it never decides
// semantics itself.
//
//   compileNode(cluster, endpoints, {interfaces}) ─► Ruleset ─► renderNft(rs)            full script
//                                                      └──────► diffRulesets(prev, rs) ─► renderNftUpdate(d)
//   createNodeCompiler().compile(…)  the same Ruleset, re-making only the chains a change touched
export type * from './ir.ts';
export {
  DECISION_ID_HEX,
  DECISION_PREFIX,
  DEFAULT_DECISION_GROUP,
  MARK_ACCEPT,
  MARK_PASS,
  MARK_SCRATCH,
  decisionId,
  formatProvenance,
  normalizePortSpans,
  parseDecisionPrefix,
  parseProvenance,
  setTypeFamily,
} from './ir.ts';
export {
  BASE_CHAIN,
  DEFAULT_TABLE,
  FROM_DISPATCH_CHAIN,
  FROM_MAP,
  TO_DISPATCH_CHAIN,
  TO_MAP,
  compileNode,
  endpointChainName,
  policyChainName,
  policyId,
  profileChainName,
  profileId,
} from './compile.ts';
export type { CompileOptions } from './compile.ts';
export { COMMENT_MAX, LOG_PREFIX_MAX, NAME_MAX, nftName, renderDomainBindings, renderMatch, renderNft, renderNftUpdate, renderRule, renderSetElements } from './render-nft.ts';
export { diffRulesets } from './diff.ts';
export { createNodeCompiler } from './incremental.ts';
export type { NodeCompiler, NodeCompileStats } from './incremental.ts';
export type { DomainSetBinding } from './render-nft.ts';
export type { RulesetDiff, UpdateOp } from './diff.ts';
export { createNetnsNftExecutor, parseNftCounters, parseNftErrors } from './executor.ts';
export type { NetnsNftExecutorOptions, NftExecutor, RuleCounter } from './executor.ts';
