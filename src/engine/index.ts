// Front door of `engine`: the live store (resources in by key, generations, change reports),
// snapshots (the Cluster every reader sees), deciding flows with traces, and the decision's wire
// format. Analyses that run the pipeline over sets of flows use `algebra.ts`; the conversions,
// composition and ordering are internal (their tests import them from their modules).
export type * from './model.ts';
export { createPolicyStore, resourceKey } from './store.ts';
/** Which resource types make endpoints, which make policies (what a change of them can alter). */
export { isEndpointType, isPolicyType } from './derive.ts';
export type { ApplyOptions, ApplyResult, ChangeReport, PolicyStore, ResourceKey, StoreChange, StoreOptions } from './store.ts';
export type { SelectorMembers } from './cluster.ts';
export { decidedBySchema, explainDirectionSchema, explainSchema, explainStepSchema, ruleMissSchema, serviceHopSchema } from './wire.ts';
export type { ExplainJson, ExplainJsonDecidedBy, ExplainJsonDirection, ExplainJsonMiss, ExplainJsonStep, ServiceHop } from './wire.ts';
export { DIRECTIONS, PROTOCOL, SHORT_KIND } from './model.ts';
export { buildCluster } from './build.ts';
export type { BuildOptions, BuildResult } from './build.ts';
export { createCluster } from './cluster.ts';
export { domainMatches } from './domains.ts';
export type { Cluster, ClusterData } from './cluster.ts';
export { decideVerdict, evaluateDirection, evaluateFlow } from './evaluate.ts';
export type { DecidedBy, DecisionReason, DirectionDecision, Evaluation, FlowDecision, StepAction, StepReason, TraceStep, Verdict, VerdictDecision } from './evaluate.ts';
export { createVerdictMemo, evaluateVerdict } from './verdict-memo.ts';
export type { VerdictMemo, VerdictMemoOptions, VerdictMemoStats } from './verdict-memo.ts';
export { describePeer, makeFlow, parseFlowProtocol, protocolName } from './flow.ts';
export type { FlowRequest } from './flow.ts';
// Types that appear in the Cluster interface.
export type { PipelineMode, TierPlan } from './pipeline.ts';
export { DEFAULT_TIER } from './ordering.ts';
