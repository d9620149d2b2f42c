// Front door of `lab`: a closed island of network namespaces (nodes, workloads with real
// listeners, an outside host) where nftables rulesets meet real packets.
export type {
  LabDnsRecord,
  LabExternal,
  LabPlan,
  LabPort,
  LabProtocol,
  LabSpec,
  LabWorkload,
  PlannedDnsRecord,
  PlannedExternal,
  PlannedNode,
  PlannedWorkload,
} from './topology.ts';
export {
  canonicalAddress,
  familyOf,
  fabricInterfaceOf,
  isLabNamespace,
  namespacesOf,
  nodeInterfaceOf,
  nodeNamespaceOf,
  planLab,
  reservedReason,
  WORKLOAD_IFACE_PREFIX,
  workloadNamespaceOf,
} from './topology.ts';
export type { DownOptions, DownReport, Lab, UpOptions, UpTimings } from './island.ts';
export { addExternals, agentOf, attachLab, dnsBindingsPathOf, DNS_TTL_SECONDS, downLab, labProcesses, nodeNamespace, recordLabProcess, upLab, workloadOf } from './island.ts';
export type { FlowProtocol, HeldConnection, LabFlow, ProbeOptions, ProbeProgress, ProbeResult } from './probe.ts';
export { answerOf, isDomainDestination, openConnection, probe } from './probe.ts';
export type { Observation } from './agent-protocol.ts';
export type { AgentRecord, LabProcessRecord, LabState, SctpSupport } from './state.ts';
export { listLabIds, readState, runDirOf, stateDirOf } from './state.ts';
export { isRunning, isSameProcess, processStartTime } from './processes.ts';
export { netnsExecArgv } from './netns.ts';
export { detectSctp, findProgram, isRoot, labUnavailableReason } from './system.ts';
