// Front door of `flowlog`: the kernel half of flow visibility — parsing nflog decision records
// and conntrack events, joining them into observed connections, attributing them to policy rules
// through the ruleset's decision table, with the engine's explanation beside them.
export type { ConntrackEvent, CtCounters, NflogEvent, ParseResult, Tuple } from './kernel-events.ts';
export { parseConntrackLine, parseUlogdJson, tupleKey } from './kernel-events.ts';
export type { Classify, DecisionClass, Direction, DirectionPath, FlowJoiner, JoinerOptions, ObservedInterval } from './join.ts';
export { createFlowJoiner } from './join.ts';
export type { DecisionTable, EngineView } from './attribute.ts';
export {
  classifyProvenance,
  decisionTableOf,
  engineHits,
  evaluateTuple,
  explainDirection,
  flowOfTuple,
  hitOfProvenance,
  hitOfStep,
  kernelHits,
  sameHits,
} from './attribute.ts';
export type { RecordContext } from './records.ts';
export { describeAddress, protocolText, recordsOf } from './records.ts';
export type { FlowCollector, FlowCollectorOptions, FlowCollectorStats } from './collector.ts';
export { createFlowCollector, DEFAULT_CONNTRACK, DEFAULT_ULOGD, DEFAULT_ULOGD_PLUGINS, ulogdConfig } from './collector.ts';
