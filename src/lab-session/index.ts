// Front door of `lab-session`: the engine meets the island. Manifests → engine → lab spec →
// island → compiled nftables per node; policy updates as incremental transactions; probes whose
// kernel verdicts are compared with the engine's; per-rule counters in the engine's words.
export type { CounterOptions, CounterRow } from './counters.ts';
export { groupCounters, provenanceOfDecision, readCounters } from './counters.ts';
export type { FlowNeeds, SessionFlow, SessionProtocol, Verdict } from './flows.ts';
export { defaultFlows, flowNeeds, parseFlowLines } from './flows.ts';
export type { DecidedByJson, Observed, ProbeSummary, SessionProbeOptions, SessionProbeResult } from './probe.ts';
export { decidedByJson, formatProbeSummary, probeSession, summarize, withExternalsFor } from './probe.ts';
export type { ApplyResult, AttachOptions, Built, NodeUpdate, Session, SessionTimings, SessionUpOptions, UpResult } from './session.ts';
export {
  DEFAULT_LAB_ID,
  SESSION_TABLE,
  applySession,
  attachSession,
  buildFromSources,
  compileSession,
  listenersOf,
  rulesetNotes,
  sessionUnavailableReason,
  upSession,
} from './session.ts';
export type { SessionSpec, SessionSpecOptions } from './spec.ts';
export { DEFAULT_LISTENER, DEFAULT_NODES, DEFAULT_POD_CIDR, declaredListeners, generatedNodeName, planSessionSpec } from './spec.ts';
export type { LabStatus } from './status.ts';
export { allLabStatus, labStatus } from './status.ts';
export type { ManifestSource, SessionRecord } from './store.ts';
export type { AgentLabOptions, AgentLabResult, AgentNode, ControlPlaneTarget } from './control-plane.ts';
export {
  agentNodes,
  attachAgentSession,
  clusterFromServer,
  downAgentLab,
  downAgentLab as downSession,
  registrationDocuments,
  spawnAgent,
  upAgentLab,
  waitForAgents,
  workloadEndpointOf,
} from './control-plane.ts';
export { collectorRunning, flowCollectionUnavailableReason, flushFlowCollection, readLabFlows, startFlowCollection } from './flow-collection.ts';
export type { TrafficOptions, TrafficProgress, TrafficSummary } from './traffic.ts';
export { parseDuration, parseRate, runTraffic } from './traffic.ts';
