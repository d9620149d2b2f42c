// The JSON-lines protocol between the lab (controller) and its agents — one agent per workload
// namespace plus one for the outside host. Node cannot `setns`, so an agent started with
// `ip netns exec` is the lab's hands inside a namespace: it keeps the real listeners and makes
// outgoing probes on request. Shared by agent.ts and agent-client.ts; types only.
import type { LabProtocol } from './topology.ts';

export type ProbeProtocol = LabProtocol | 'ICMP';

/** What was seen on the wire: `error` means the probe could not be made (not a verdict). */
export type Observation = 'allow' | 'deny' | 'error';

export interface AgentListener {
  readonly address: string;
  readonly port: number;
  readonly protocol: LabProtocol;
}

/** Passed as the agent's only argument (JSON). */
export interface AgentConfig {
  /** Written back by every listener, so a probe knows who answered: workload id or `outside`. */
  readonly identity: string;
  /** Unix socket path to serve requests on. */
  readonly socket: string;
  readonly listeners: readonly AgentListener[];
  /** Absolute path of socat, used for SCTP; null when SCTP is unavailable. */
  readonly socat: string | null;
  /** Absolute path of ping (iputils). */
  readonly ping: string;
}

/** First line the agent writes on file descriptor 3, then closes it. */
export interface AgentReady {
  readonly ready: boolean;
  readonly pid: number;
  readonly listening: number;
  readonly errors: readonly string[];
}

interface RequestBase {
  /** Chosen by the client, echoed in the response. */
  readonly id: number;
}

export interface ProbeRequest extends RequestBase {
  readonly op: 'probe';
  readonly protocol: ProbeProtocol;
  readonly to: string;
  readonly port?: number;
  /** Source address to bind (must be local to the agent's namespace). */
  readonly from?: string;
  readonly timeoutMs: number;
  /**
   * `to` is a domain name: resolve it through this DNS server (the node's proxy) first, then
   * probe the answered address (reported as `resolved`).
   */
  readonly resolve?: { readonly address: string; readonly port: number; readonly family: 4 | 6 };
}

/** Opens a TCP connection and keeps it, to show what a ruleset change does to existing flows. */
export interface HoldOpenRequest extends RequestBase {
  readonly op: 'hold-open';
  readonly to: string;
  readonly port: number;
  readonly from?: string;
  readonly timeoutMs: number;
}

export interface HoldCheckRequest extends RequestBase {
  readonly op: 'hold-check';
  readonly conn: number;
  readonly timeoutMs: number;
}

export interface HoldCloseRequest extends RequestBase {
  readonly op: 'hold-close';
  readonly conn: number;
}

export interface StatusRequest extends RequestBase {
  readonly op: 'status';
}

export interface ShutdownRequest extends RequestBase {
  readonly op: 'shutdown';
}

export type AgentRequest =
  | ProbeRequest
  | HoldOpenRequest
  | HoldCheckRequest
  | HoldCloseRequest
  | StatusRequest
  | ShutdownRequest;

export interface AgentResponse {
  readonly id: number;
  readonly observed: Observation;
  readonly detail: string;
  /** Identity written back by the listener that answered (TCP, UDP). */
  readonly responder?: string;
  /** Handle of a held connection (hold-open). */
  readonly conn?: number;
  /** Time the probe took, in milliseconds. */
  readonly ms?: number;
  /**
   * Source port of the probe (TCP, UDP), when the socket got one: the engine must see the same
   * port as the kernel, or source-port rules would be judged differently.
   */
  readonly srcPort?: number;
  /** The address a probe to a name resolved to (through the node's DNS proxy). */
  readonly resolved?: string;
  /** status: the agent's pid and listeners. */
  readonly pid?: number;
  readonly listeners?: readonly AgentListener[];
}
