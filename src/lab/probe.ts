// Real connections through the island: each flow is sent by the agent in the source's namespace
// (the outside host's agent for an external source address), in parallel with short timeouts,
// and reported as what the kernel did: TCP handshake + echo, UDP reply, SCTP association + echo,
// ICMP echo reply → allow; timeout, refusal, unreachable → deny. `error` means the probe could
// not be made (unknown workload, no address of the family, SCTP missing): never a verdict.
import { fail, ok } from '../diagnostics/index.ts';
import type { Result } from '../diagnostics/index.ts';
import { connectAgent } from './agent-client.ts';
import type { AgentConnection } from './agent-client.ts';
import type { Observation, ProbeProtocol } from './agent-protocol.ts';
import { agentOf, OUTSIDE_OWNER } from './island.ts';
import type { Lab } from './island.ts';
import { mapPool } from './pool.ts';
import { canonicalAddress, DNS_PORT, DNS_RESOLVER_V4, familyOf, ownerOfAddress } from './topology.ts';
import type { PlannedWorkload } from './topology.ts';

export type FlowProtocol = ProbeProtocol;

export interface LabFlow {
  /** A workload id (`ns/name`) or an address (of a workload, or an external). */
  readonly from: string;
  /**
   * A workload id, any address (an address nobody answers for is simply denied), or — in a lab
   * with DNS — a domain name: the source resolves it through its node's DNS proxy, then connects.
   */
  readonly to: string;
  /** Required for TCP, UDP and SCTP. */
  readonly port?: number;
  readonly protocol: FlowProtocol;
  /** For workload → workload flows between dual-stack workloads; default IPv4 when both have it. */
  readonly ipFamily?: 4 | 6;
}

export interface ProbeResult extends LabFlow {
  readonly observed: Observation;
  readonly detail: string;
  /** Addresses actually used. */
  readonly fromAddress?: string;
  readonly toAddress?: string;
  /** Who wrote the echo back (TCP, UDP): the workload id or `outside`. */
  readonly responder?: string;
  /** Source port the kernel saw (TCP, UDP), when the probe got that far. */
  readonly srcPort?: number;
  readonly ms: number;
}

export interface ProbeProgress {
  readonly done: number;
  readonly total: number;
  readonly allowed: number;
  readonly denied: number;
  readonly errors: number;
}

export interface ProbeOptions {
  /** Per probe; a dropped packet costs exactly this. Default 500 ms. */
  readonly timeoutMs?: number;
  /** Probes in flight at once. Default 64. */
  readonly concurrency?: number;
  readonly onProgress?: (p: ProbeProgress) => void;
}

interface Route {
  /** Agent that sends the probe. */
  readonly owner: string;
  readonly fromAddress: string;
  readonly toAddress: string;
  /** Identity the listener must write back (TCP/UDP), when known. */
  readonly expect?: string;
  /** `to` is a name, resolved by the sender through this server. */
  readonly resolve?: { readonly address: string; readonly port: number; readonly family: 4 | 6 };
}

/** A destination that is neither an address nor a workload id (`ns/name`): a domain name. */
export function isDomainDestination(to: string): boolean {
  return !isAddress(to) && !to.includes('/');
}

const isAddress = (s: string): boolean => familyOf(s) !== undefined;

function addressesOf(w: PlannedWorkload, fam: 4 | 6): readonly string[] {
  return fam === 4 ? w.ipv4 : w.ipv6;
}

/** Picks the agent and the addresses for a flow, or says why it cannot be probed. */
export function routeFlow(lab: Lab, flow: LabFlow): Route | string {
  const plan = lab.plan;
  const byId = (id: string): PlannedWorkload | undefined => plan.workloads.find((w) => w.id === id);

  // The family is fixed by any literal address; otherwise by the request or the workloads.
  const literalFams = [flow.from, flow.to].filter(isAddress).map((a) => familyOf(a));
  if (literalFams.length === 2 && literalFams[0] !== literalFams[1]) return 'source and destination are of different IP families';
  let fam: 4 | 6 | undefined = literalFams[0] ?? flow.ipFamily;
  if (flow.ipFamily !== undefined && fam !== flow.ipFamily) return `ipFamily ${flow.ipFamily} contradicts the addresses given`;

  let owner: string;
  let fromAddress: string | undefined;
  let fromWorkload: PlannedWorkload | undefined;
  if (isAddress(flow.from)) {
    const canon = canonicalAddress(flow.from) ?? flow.from;
    const o = ownerOfAddress(plan, canon);
    if (o === undefined) return `source ${flow.from} is neither a workload's address nor an external of the lab`;
    owner = o.kind === 'workload' ? o.workload.id : OUTSIDE_OWNER;
    fromAddress = canon;
  } else {
    fromWorkload = byId(flow.from);
    if (fromWorkload === undefined) return `unknown source workload "${flow.from}"`;
    owner = fromWorkload.id;
  }

  let toAddress: string | undefined;
  let expect: string | undefined;
  let toWorkload: PlannedWorkload | undefined;
  if (isDomainDestination(flow.to)) {
    if (plan.dns === undefined) return `${flow.to} is a domain name and the lab has no DNS (\`lab up --dns NAME=IP\`)`;
    if (fromWorkload === undefined) return 'only workloads resolve names through their node\'s DNS proxy';
    if (fam === 6) return 'names are resolved over IPv4 only (the proxy listens on 169.254.1.1)';
    const fromV4 = fromWorkload.ipv4[0];
    if (fromV4 === undefined) return `${fromWorkload.id} has no IPv4 address to query its node's DNS proxy from`;
    // What the name should resolve to, so the responder can be checked like any other probe.
    const want = answerOf(plan, flow.to);
    const o = want === undefined ? undefined : ownerOfAddress(plan, want);
    return {
      owner,
      fromAddress: fromV4,
      toAddress: flow.to,
      ...(o === undefined ? {} : { expect: o.kind === 'workload' ? o.workload.id : OUTSIDE_OWNER }),
      resolve: { address: DNS_RESOLVER_V4, port: DNS_PORT, family: 4 },
    };
  }
  if (isAddress(flow.to)) {
    toAddress = canonicalAddress(flow.to) ?? flow.to;
    const o = ownerOfAddress(plan, toAddress);
    expect = o === undefined ? undefined : o.kind === 'workload' ? o.workload.id : OUTSIDE_OWNER;
  } else {
    toWorkload = byId(flow.to);
    if (toWorkload === undefined) return `unknown destination workload "${flow.to}"`;
    expect = toWorkload.id;
  }

  if (fam === undefined) {
    const both = (f: 4 | 6): boolean =>
      (fromWorkload === undefined || addressesOf(fromWorkload, f).length > 0) &&
      (toWorkload === undefined || addressesOf(toWorkload, f).length > 0);
    fam = both(4) ? 4 : both(6) ? 6 : undefined;
    if (fam === undefined) return 'source and destination share no IP family';
  }
  if (fromWorkload !== undefined) {
    fromAddress = addressesOf(fromWorkload, fam)[0];
    if (fromAddress === undefined) return `${fromWorkload.id} has no IPv${fam} address`;
  }
  if (toWorkload !== undefined) {
    toAddress = addressesOf(toWorkload, fam)[0];
    if (toAddress === undefined) return `${toWorkload.id} has no IPv${fam} address`;
  }
  if (fromAddress === undefined || toAddress === undefined) return 'cannot resolve the flow';
  return expect === undefined ? { owner, fromAddress, toAddress } : { owner, fromAddress, toAddress, expect };
}

/** The A record a name ends at in the lab's DNS (following CNAMEs), or undefined. */
export function answerOf(plan: Lab['plan'], name: string): string | undefined {
  let n = name.toLowerCase().replace(/\.$/, '');
  for (let hops = 0; hops < 16; hops++) {
    const cname = plan.dns?.find((r) => r.name === n && r.type === 'CNAME');
    if (cname === undefined) return plan.dns?.find((r) => r.name === n && r.type === 'A')?.data;
    n = cname.data;
  }
  return undefined;
}

function portProblem(flow: LabFlow): string | undefined {
  if (flow.protocol === 'ICMP') return undefined;
  if (flow.port === undefined || !Number.isInteger(flow.port) || flow.port < 1 || flow.port > 65535) {
    return `${flow.protocol} needs a port in 1–65535`;
  }
  return undefined;
}

/** Keeps one connection per agent for the duration of a batch of probes. */
class AgentPool {
  private readonly conns = new Map<string, Promise<AgentConnection>>();
  private readonly lab: Lab;
  constructor(lab: Lab) {
    this.lab = lab;
  }

  get(owner: string): Promise<AgentConnection> {
    let c = this.conns.get(owner);
    if (c === undefined) {
      const rec = agentOf(this.lab, owner);
      c = rec === undefined ? Promise.reject(new Error(`no agent for ${owner}`)) : connectAgent(rec.socket);
      c.catch(() => undefined);
      this.conns.set(owner, c);
    }
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.conns.values()) {
      try {
        (await c).close();
      } catch {
        // never opened
      }
    }
    this.conns.clear();
  }
}

/** Probes every flow through the real kernel; results keep the input order. */
export async function probe(lab: Lab, flows: readonly LabFlow[], opts: ProbeOptions = {}): Promise<ProbeResult[]> {
  const timeoutMs = opts.timeoutMs ?? 500;
  const pool = new AgentPool(lab);
  const counts = { done: 0, allowed: 0, denied: 0, errors: 0 };
  const report = (r: ProbeResult): ProbeResult => {
    counts.done++;
    if (r.observed === 'allow') counts.allowed++;
    else if (r.observed === 'deny') counts.denied++;
    else counts.errors++;
    opts.onProgress?.({ ...counts, total: flows.length });
    return r;
  };
  try {
    return await mapPool(flows, opts.concurrency ?? 64, async (flow) => {
      const t = performance.now();
      const problem = portProblem(flow);
      if (problem !== undefined) return report({ ...flow, observed: 'error', detail: problem, ms: 0 });
      if (flow.protocol === 'SCTP' && !lab.sctp.supported) {
        return report({ ...flow, observed: 'error', detail: `SCTP unsupported: ${lab.sctp.detail}`, ms: 0 });
      }
      const route = routeFlow(lab, flow);
      if (typeof route === 'string') return report({ ...flow, observed: 'error', detail: route, ms: 0 });
      const addrs = { fromAddress: route.fromAddress, toAddress: route.toAddress };
      const viaName = route.resolve === undefined ? {} : { resolve: route.resolve };
      let conn: AgentConnection;
      try {
        conn = await pool.get(route.owner);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        return report({ ...flow, ...addrs, observed: 'error', detail: `agent of ${route.owner} unreachable: ${why}`, ms: 0 });
      }
      const req = {
        op: 'probe' as const,
        protocol: flow.protocol,
        to: route.toAddress,
        from: route.fromAddress,
        timeoutMs,
        ...(flow.port === undefined ? {} : { port: flow.port }),
        ...viaName,
      };
      const res = await conn.request(req, timeoutMs + 5000);
      // A probe to a name reports the address it resolved to (through the proxy) as its target.
      if (route.resolve !== undefined) {
        if (res.resolved === undefined) return report({ ...flow, fromAddress: route.fromAddress, observed: 'error', detail: res.detail, ms: Math.round(performance.now() - t) });
        addrs.toAddress = res.resolved;
      }
      const ms = Math.round(performance.now() - t);
      const responder = res.responder !== undefined && res.responder !== '' ? res.responder : undefined;
      if (res.observed === 'allow' && responder !== undefined && route.expect !== undefined && responder !== route.expect) {
        // A lab wiring bug, not a policy verdict: say so loudly.
        return report({ ...flow, ...addrs, observed: 'error', detail: `answered by ${responder}, expected ${route.expect}`, responder, ms });
      }
      return report({
        ...flow,
        ...addrs,
        observed: res.observed,
        detail: res.detail,
        ...(responder === undefined ? {} : { responder }),
        ...(res.srcPort === undefined ? {} : { srcPort: res.srcPort }),
        ms,
      });
    });
  } finally {
    await pool.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Long-lived connections

export interface HeldConnection {
  readonly fromAddress: string;
  readonly toAddress: string;
  /** Sends a line over the existing connection and waits for its echo. */
  check(timeoutMs?: number): Promise<{ readonly observed: Observation; readonly detail: string }>;
  close(): Promise<void>;
}

/** Opens a TCP connection that stays open, to observe what ruleset changes do to it. */
export async function openConnection(
  lab: Lab,
  flow: Omit<LabFlow, 'protocol'> & { readonly port: number },
  opts: { readonly timeoutMs?: number } = {},
): Promise<Result<HeldConnection>> {
  const timeoutMs = opts.timeoutMs ?? 1000;
  const route = routeFlow(lab, { ...flow, protocol: 'TCP' });
  const bad = (message: string): Result<HeldConnection> => fail([{ code: 'lab/connection-failed', severity: 'error', message }]);
  if (typeof route === 'string') return bad(route);
  const rec = agentOf(lab, route.owner);
  if (rec === undefined) return bad(`no agent for ${route.owner}`);
  const conn = await connectAgent(rec.socket);
  const opened = await conn.request(
    { op: 'hold-open', to: route.toAddress, from: route.fromAddress, port: flow.port, timeoutMs },
    timeoutMs + 3000,
  );
  if (opened.observed !== 'allow' || opened.conn === undefined) {
    conn.close();
    return bad(`${flow.from} → ${flow.to}:${flow.port}: ${opened.detail}`);
  }
  const handle = opened.conn;
  return ok({
    fromAddress: route.fromAddress,
    toAddress: route.toAddress,
    async check(t = timeoutMs) {
      const r = await conn.request({ op: 'hold-check', conn: handle, timeoutMs: t }, t + 3000);
      return { observed: r.observed, detail: r.detail };
    },
    async close() {
      await conn.request({ op: 'hold-close', conn: handle }, 3000);
      conn.close();
    },
  });
}
