// The flows a session probes: read from JSON Lines (the format of `expect.jsonl` and of
// `explain --flows`, with an optional expected verdict), or the default matrix (every ordered
// pair of distinct lab workloads on every port the destination listens on, and each external
// both ways). Also what a flow needs from the island before it can be probed: listeners on the
// ports it names, and the outside host answering for the external addresses it names.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import type { Cluster } from '../engine/index.ts';
import type { LabExternal, LabPlan, LabPort } from '../lab/index.ts';
import { canonicalAddress, familyOf } from '../lab/index.ts';
import { parseIp } from '../net/index.ts';

export type SessionProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP';
export type Verdict = 'allow' | 'deny';

export interface SessionFlow {
  /** `NS/NAME` or an IP address. */
  readonly from: string;
  /** `NS/NAME`, an IP address or a domain name (the last are never probed). */
  readonly to: string;
  /** TCP, UDP and SCTP. */
  readonly port?: number;
  readonly protocol: SessionProtocol;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  /** A source port the input asks for (the lab cannot choose one: such flows are skipped). */
  readonly srcPort?: number;
  /** The verdict the input expects (`verdict`, or `expect.verdict` as in the examples). */
  readonly expected?: Verdict;
  /** 1-based line in the input file. */
  readonly line?: number;
}

const PROTOCOLS: Readonly<Record<string, SessionProtocol>> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP', icmp: 'ICMP', icmpv6: 'ICMP' };

function lineProblem(file: string, line: number, message: string): Diagnostic {
  return { code: 'lab-session/invalid-flow', severity: 'error', message, span: { file, line, col: 1 } };
}

function intField(o: Record<string, unknown>, k: string): number | undefined | string {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return `field "${k}" must be an integer`;
}

function verdictOf(v: unknown): Verdict | undefined {
  return v === 'allow' || v === 'deny' ? v : undefined;
}

/** JSON Lines → flows; blank lines and `//` or `#` comment lines are skipped; every bad line is reported. */
export function parseFlowLines(text: string, file: string): Result<SessionFlow[]> {
  const flows: SessionFlow[] = [];
  const ds: Diagnostic[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === '' || t.startsWith('//') || t.startsWith('#')) return;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      ds.push(lineProblem(file, line, `not JSON: ${(e as Error).message}`));
      return;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      ds.push(lineProblem(file, line, 'expected a JSON object {"from","to","port","protocol"}'));
      return;
    }
    const o = v as Record<string, unknown>;
    if (typeof o['from'] !== 'string' || typeof o['to'] !== 'string') {
      ds.push(lineProblem(file, line, 'fields "from" and "to" must be strings'));
      return;
    }
    const protoText = o['protocol'] === undefined || o['protocol'] === null ? 'tcp' : String(o['protocol']).toLowerCase();
    const protocol = PROTOCOLS[protoText];
    if (protocol === undefined) {
      ds.push(lineProblem(file, line, `protocol "${String(o['protocol'])}" is not TCP, UDP, SCTP or ICMP`));
      return;
    }
    const nums = { port: intField(o, 'port'), icmpType: intField(o, 'icmpType'), icmpCode: intField(o, 'icmpCode'), srcPort: intField(o, 'srcPort') };
    const bad = Object.values(nums).find((x): x is string => typeof x === 'string');
    if (bad !== undefined) {
      ds.push(lineProblem(file, line, bad));
      return;
    }
    const port = nums.port as number | undefined;
    if (protocol !== 'ICMP' && (port === undefined || port < 1 || port > 65535)) {
      ds.push(lineProblem(file, line, `a ${protocol} flow needs "port" from 1 to 65535`));
      return;
    }
    const expect = o['expect'];
    const expected =
      verdictOf(o['verdict']) ??
      (typeof expect === 'object' && expect !== null ? verdictOf((expect as Record<string, unknown>)['verdict']) : undefined);
    flows.push({
      from: o['from'],
      to: o['to'],
      protocol,
      line,
      ...(protocol === 'ICMP' || port === undefined ? {} : { port }),
      ...(nums.icmpType === undefined ? {} : { icmpType: nums.icmpType as number }),
      ...(nums.icmpCode === undefined ? {} : { icmpCode: nums.icmpCode as number }),
      ...(nums.srcPort === undefined ? {} : { srcPort: nums.srcPort as number }),
      ...(expected === undefined ? {} : { expected }),
    });
  });
  return ds.length > 0 ? fail(ds) : ok(flows);
}

/** Every ordered pair of distinct workloads on every port the destination listens on; each external both ways. */
export function defaultFlows(plan: LabPlan): SessionFlow[] {
  const flows: SessionFlow[] = [];
  for (const src of plan.workloads) {
    for (const dst of plan.workloads) {
      if (src.id === dst.id) continue;
      for (const p of dst.ports) flows.push({ from: src.id, to: dst.id, port: p.port, protocol: p.protocol });
    }
  }
  for (const e of plan.externals) {
    for (const w of plan.workloads) {
      const hasFamily = (e.family === 4 ? w.ipv4 : w.ipv6).length > 0;
      if (!hasFamily) continue;
      for (const p of e.ports) flows.push({ from: w.id, to: e.address, port: p.port, protocol: p.protocol });
      for (const p of w.ports) flows.push({ from: e.address, to: w.id, port: p.port, protocol: p.protocol });
    }
  }
  return flows;
}

// ---------------------------------------------------------------------------------------------
// What flows need from the island (at `up`)

export interface FlowNeeds {
  /** Listeners to add, by endpoint id. */
  readonly extraPorts: ReadonlyMap<string, readonly LabPort[]>;
  /** External addresses with the ports probed on them. */
  readonly externals: readonly LabExternal[];
}

/** The endpoint a flow end names (by id or address), or the address when no endpoint owns it. */
function resolveEnd(cluster: Cluster, text: string): { readonly endpoint: string } | { readonly address: string } | undefined {
  if (cluster.endpoint(text) !== undefined) return { endpoint: text };
  const ip = parseIp(text);
  if (!ip.ok) return undefined;
  const owner = cluster.endpointByAddress(ip.value);
  if (owner !== undefined) return { endpoint: owner.id };
  const canon = canonicalAddress(text);
  return canon === undefined ? undefined : { address: canon };
}

export function flowNeeds(cluster: Cluster, flows: readonly SessionFlow[]): FlowNeeds {
  const ports = new Map<string, LabPort[]>();
  const externals = new Map<string, LabPort[]>();
  for (const f of flows) {
    const port: LabPort | undefined = f.protocol === 'ICMP' || f.port === undefined ? undefined : { port: f.port, protocol: f.protocol };
    const to = resolveEnd(cluster, f.to);
    const from = resolveEnd(cluster, f.from);
    if (to !== undefined && 'endpoint' in to && port !== undefined) ports.set(to.endpoint, [...(ports.get(to.endpoint) ?? []), port]);
    if (to !== undefined && 'address' in to) externals.set(to.address, [...(externals.get(to.address) ?? []), ...(port === undefined ? [] : [port])]);
    if (from !== undefined && 'address' in from && !externals.has(from.address)) externals.set(from.address, []);
  }
  return {
    extraPorts: ports,
    externals: [...externals.entries()].map(([address, ps]) => ({ address, ports: ps })),
  };
}

export function isAddress(s: string): boolean {
  return familyOf(s) !== undefined;
}
