// The second door of `engine`, for analyses that run the engine's own pipeline over *sets* of
// flows rather than one flow (the matrix's bitsets, the diff's flow spaces, why-not's closest
// rules): the pipeline with a pluggable algebra and the rule-matching primitives it is built on.
// Everything else — store, snapshots, evaluate, explain's wire format — is in `index.ts`;
// nothing here is needed to decide or explain a flow.
export { BOOLEAN_ALGEBRA, isActive, runPipeline } from './pipeline.ts';
export type { FlowSetAlgebra, PipelineMode, PipelineObserver, PipelineOutcome, TierPlan } from './pipeline.ts';
export { headerMatches, matchRule, selectorMatchesPeer, serviceSelects, sideMatches } from './match.ts';
export type { MatchIndex } from './match.ts';
export { composeEntitySelector } from './compose.ts';
