// Probing a session: every flow is sent through the island as real packets and decided by the
// engine for the very packet that was sent (its real source port included), and the two
// verdicts are compared. A flow to a domain name is probed as a workload makes it: resolved
// through the node's DNS proxy, then a connection to the answer (the engine decides the name).
// Flows the kernel cannot be asked about are skipped with the reason (domain names without lab
// DNS, SCTP without kernel support, ICMP other than echo, addresses nobody answers
// for); they are never counted as agreement.
//
// Timing: a dropped packet costs a probe its whole timeout, an allowed one a millisecond, so
// probes run in parallel with a short timeout, and a probe that saw "deny" where the engine
// says "allow" is probed again with a long one before it counts as a disagreement (an allowed
// flow can miss a short timeout on a loaded machine; a dropped one stays dropped).
import { evaluateFlow, makeFlow } from '../engine/index.ts';
import type { Cluster, DecidedBy, Flow } from '../engine/index.ts';
import { jsonDecidedBy, matchedDomainOf } from '../analysis/explain.ts';
import type { ExplainJsonDecidedBy, MatchedDomain } from '../analysis/explain.ts';
import { addExternals, probe } from '../lab/index.ts';
import type { LabFlow, ProbeProgress, ProbeResult } from '../lab/index.ts';
import { answerOf, canonicalAddress, reservedReason } from '../lab/index.ts';
import type { SessionFlow, Verdict } from './flows.ts';
import { flowNeeds, isAddress } from './flows.ts';
import type { Result } from '../diagnostics/index.ts';
import { ok } from '../diagnostics/index.ts';
import type { Session } from './session.ts';

export type Observed = 'allow' | 'deny' | 'error' | 'skipped';

/** The deciding step as `explain -o json` shows it (without source spans). */
export type DecidedByJson = ExplainJsonDecidedBy;

export interface SessionProbeResult {
  readonly from: string;
  readonly to: string;
  readonly port: number | null;
  readonly protocol: string;
  /** What the kernel did; `skipped` and `error` are not verdicts. */
  readonly observed: Observed;
  /** The engine's verdict for the packet that was sent; null when the flow is invalid. */
  readonly engine: Verdict | null;
  readonly expected?: Verdict;
  /** observed == engine (and == expected when given); null for skipped flows. */
  readonly agree: boolean | null;
  readonly detail: string;
  readonly decidedBy?: DecidedByJson;
  /** A flow to a name: the pattern that made the deciding rule match (explain's `matchedDomain`). */
  readonly matchedDomain?: MatchedDomain;
  readonly srcPort?: number;
  readonly fromAddress?: string;
  readonly toAddress?: string;
  /** Line of the flows file. */
  readonly line?: number;
  /** The flow itself is wrong (unknown endpoint, bad port): an input error. */
  readonly invalid?: true;
}

export interface SessionProbeOptions {
  /** First-pass timeout per probe (default 500 ms). */
  readonly timeoutMs?: number;
  /** Timeout of the second look at a suspected disagreement (default 2500 ms). */
  readonly retryTimeoutMs?: number;
  /** Probes in flight (default 128: most wait for a timeout, not for CPU). */
  readonly concurrency?: number;
  readonly onProgress?: (p: ProbeProgress) => void;
}

export interface ProbeSummary {
  readonly total: number;
  readonly probed: number;
  readonly agree: number;
  readonly disagree: number;
  readonly errors: number;
  readonly invalid: number;
  readonly skipped: number;
  /** Skip reasons with their counts. */
  readonly skipReasons: Readonly<Record<string, number>>;
  /** Observed verdicts over every probed flow (agreeing or not). */
  readonly allowed: number;
  readonly denied: number;
  /** Of the flows that agree: allowed and denied (they add up to `agree`). */
  readonly agreeAllowed: number;
  readonly agreeDenied: number;
  readonly ms: number;
}

export function decidedByJson(cluster: Cluster, d: DecidedBy): DecidedByJson {
  return jsonDecidedBy(cluster, d, false);
}

function base(f: SessionFlow): Pick<SessionProbeResult, 'from' | 'to' | 'port' | 'protocol' | 'expected' | 'line'> {
  return {
    from: f.from,
    to: f.to,
    port: f.protocol === 'ICMP' ? null : (f.port ?? null),
    protocol: f.protocol,
    ...(f.expected === undefined ? {} : { expected: f.expected }),
    ...(f.line === undefined ? {} : { line: f.line }),
  };
}

function engineFlow(session: Session, f: SessionFlow, srcPort: number | undefined): Flow | string {
  const r = makeFlow(session.cluster, {
    from: f.from,
    to: f.to,
    port: f.protocol === 'ICMP' ? undefined : f.port,
    protocol: f.protocol,
    srcPort,
    icmpType: f.icmpType,
    icmpCode: f.icmpCode,
  });
  return r.ok ? r.value : r.diagnostics.map((d) => d.message).join('; ');
}

/** Why the kernel cannot be asked about this flow, or undefined when it can. */
function skipReason(session: Session, f: SessionFlow, flow: Flow): string | undefined {
  if (flow.dst.kind === 'domain') {
    const plan = session.lab.plan;
    if (plan.dns === undefined) return 'the destination is a domain name and the lab has no DNS (`lab up --dns NAME=IP`)';
    if (answerOf(plan, flow.dst.domain) === undefined) return `the lab's DNS has no A record for ${flow.dst.domain} (\`lab up --dns ${flow.dst.domain}=IP\`)`;
    if (flow.ipVersion !== 4) return 'names are resolved over IPv4 only in the lab';
    if (flow.src.kind !== 'endpoint') return 'only workloads resolve names through their node\'s DNS proxy';
  }
  if (f.srcPort !== undefined) return 'the flow names a source port: probes cannot choose theirs';
  if (flow.icmp !== undefined) {
    const echo = flow.ipVersion === 4 ? 8 : 128;
    if (flow.icmp.type !== echo || flow.icmp.code !== 0) return 'ICMP other than echo request: probes only ping';
  }
  if (f.protocol === 'SCTP' && !session.lab.sctp.supported) return `SCTP: ${session.lab.sctp.detail}`;
  const inLab = (end: Flow['src']): string | undefined =>
    end.kind === 'endpoint' && session.record.placement[end.endpoint.id] === undefined
      ? `${end.endpoint.id} is not in the lab (host endpoints are not enforced)`
      : undefined;
  return inLab(flow.src) ?? inLab(flow.dst) ?? externalReason(session, f.from) ?? externalReason(session, f.to);
}

/** An address end that is no workload's must be one the outside host answers for. */
function externalReason(session: Session, text: string): string | undefined {
  if (!isAddress(text)) return undefined;
  const canon = canonicalAddress(text) ?? text;
  const plan = session.lab.plan;
  if (plan.workloads.some((w) => w.ipv4.includes(canon) || w.ipv6.includes(canon))) return undefined;
  const reserved = reservedReason(canon);
  if (reserved !== undefined) return `${text} ${reserved}: the island cannot hold it`;
  if (!plan.externals.some((e) => e.address === canon)) {
    return `${text} is not an external of this lab: nothing answers for it (name it in the flows given to \`lab up --flows\`)`;
  }
  return undefined;
}

function listens(session: Session, r: ProbeResult): boolean {
  if (r.protocol === 'ICMP' || r.port === undefined) return true;
  const canon = r.toAddress === undefined ? undefined : canonicalAddress(r.toAddress);
  const plan = session.lab.plan;
  const w = plan.workloads.find((x) => x.id === r.to || (canon !== undefined && (x.ipv4.includes(canon) || x.ipv6.includes(canon))));
  const ports = w !== undefined ? w.ports : (plan.externals.find((e) => e.address === canon)?.ports ?? []);
  return ports.some((p) => p.port === r.port && p.protocol === r.protocol);
}

/**
 * What the kernel's answer means for policy. A refusal (TCP reset, ICMP port unreachable) from a
 * destination that does not listen on the port proves the packet crossed both nodes' policy —
 * the dataplane only ever drops — so it counts as allowed.
 */
function observedOf(session: Session, r: ProbeResult): { observed: Observed; detail: string } {
  if (r.observed === 'deny' && r.detail === 'refused' && !listens(session, r)) {
    return { observed: 'allow', detail: `reached the destination, which does not listen on ${r.port}/${r.protocol} (refused)` };
  }
  return { observed: r.observed, detail: r.detail };
}

/**
 * Why a name the engine denies can pass: DNS policy is enforced by address, and another name of
 * the lab's DNS with the same answer may have been resolved (and allowed) within its TTL.
 */
function sharedAddressNote(session: Session, name: string, address: string): string {
  const plan = session.lab.plan;
  const others = (plan.dns ?? []).map((d) => d.name).filter((n) => n !== name && answerOf(plan, n) === address);
  return others.length === 0
    ? `${address} may have been learned for an allowed name within its TTL (DNS policy is enforced by address: docs/dns.md)`
    : `${address} is also the answer for ${others.join(', ')}: an allowed name's answer opens the address for its TTL (DNS policy is enforced by address: docs/dns.md)`;
}

function judge(session: Session, f: SessionFlow, r: ProbeResult): SessionProbeResult {
  const { observed, detail: seen } = observedOf(session, r);
  let detail = seen;
  const flow = engineFlow(session, f, r.srcPort);
  const where = {
    ...(r.srcPort === undefined ? {} : { srcPort: r.srcPort }),
    ...(r.fromAddress === undefined ? {} : { fromAddress: r.fromAddress }),
    ...(r.toAddress === undefined ? {} : { toAddress: r.toAddress }),
  };
  if (typeof flow === 'string') return { ...base(f), observed: 'error', engine: null, agree: false, detail: flow, ...where };
  const e = evaluateFlow(session.cluster, flow);
  const agree = observed === e.verdict && (f.expected === undefined || f.expected === e.verdict);
  const domain = matchedDomainOf(session.cluster, flow, e.decidedBy);
  if (!agree && observed === 'allow' && flow.dst.kind === 'domain' && r.toAddress !== undefined) detail = `${detail}; ${sharedAddressNote(session, flow.dst.domain, r.toAddress)}`;
  return { ...base(f), observed, engine: e.verdict, agree, detail, decidedBy: decidedByJson(session.cluster, e.decidedBy), ...(domain === undefined ? {} : { matchedDomain: domain }), ...where };
}

/** Probes `flows` through the island and compares each with the engine; results keep input order. */
/**
 * Makes the outside host answer for every external address the flows name (beyond those known at
 * `up`), so a flow file written for the engine can be probed as it is. Addresses the island
 * cannot hold are left for `probeSession` to skip with the reason.
 */
export async function withExternalsFor(session: Session, flows: readonly SessionFlow[]): Promise<Result<Session>> {
  const wanted = flowNeeds(session.cluster, flows)
    .externals.map((e) => e.address)
    .filter((a) => reservedReason(a) === undefined);
  if (wanted.length === 0) return ok(session);
  const lab = await addExternals(session.lab, wanted);
  return lab.ok ? ok({ ...session, lab: lab.value }) : lab;
}

export async function probeSession(session: Session, flows: readonly SessionFlow[], opts: SessionProbeOptions = {}): Promise<SessionProbeResult[]> {
  const results: (SessionProbeResult | undefined)[] = new Array(flows.length);
  const toProbe: { index: number; flow: SessionFlow; lab: LabFlow }[] = [];
  flows.forEach((f, index) => {
    const flow = engineFlow(session, f, undefined);
    if (typeof flow === 'string') {
      results[index] = { ...base(f), observed: 'error', engine: null, agree: false, detail: flow, invalid: true };
      return;
    }
    const skip = skipReason(session, f, flow);
    if (skip !== undefined) {
      const e = evaluateFlow(session.cluster, flow);
      const domain = matchedDomainOf(session.cluster, flow, e.decidedBy);
      results[index] = {
        ...base(f),
        observed: 'skipped',
        engine: e.verdict,
        agree: null,
        detail: skip,
        decidedBy: decidedByJson(session.cluster, e.decidedBy),
        ...(domain === undefined ? {} : { matchedDomain: domain }),
      };
      return;
    }
    const lab: LabFlow = { from: f.from, to: f.to, protocol: f.protocol, ...(f.protocol === 'ICMP' || f.port === undefined ? {} : { port: f.port }) };
    toProbe.push({ index, flow: f, lab });
  });

  const first = await probe(
    session.lab,
    toProbe.map((p) => p.lab),
    { timeoutMs: opts.timeoutMs ?? 500, concurrency: opts.concurrency ?? 128, ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }) },
  );
  const judged = first.map((r, i) => judge(session, toProbe[i]!.flow, r));
  // A second, patient look at every "deny" the engine calls "allow", and at agent hiccups.
  const suspects = judged.flatMap((j, i) => ((j.observed === 'deny' && j.engine === 'allow') || (j.observed === 'error' && j.engine !== null) ? [i] : []));
  if (suspects.length > 0) {
    const again = await probe(
      session.lab,
      suspects.map((i) => toProbe[i]!.lab),
      { timeoutMs: opts.retryTimeoutMs ?? 2500, concurrency: opts.concurrency ?? 128 },
    );
    suspects.forEach((i, k) => {
      judged[i] = judge(session, toProbe[i]!.flow, again[k]!);
    });
  }
  judged.forEach((j, i) => {
    results[toProbe[i]!.index] = j;
  });
  return results.map((r) => r!);
}

export function summarize(results: readonly SessionProbeResult[], ms = 0): ProbeSummary {
  const skipReasons: Record<string, number> = {};
  let probed = 0;
  let agree = 0;
  let disagree = 0;
  let errors = 0;
  let invalid = 0;
  let skipped = 0;
  let allowed = 0;
  let denied = 0;
  let agreeAllowed = 0;
  let agreeDenied = 0;
  for (const r of results) {
    if (r.observed === 'skipped') {
      skipped++;
      skipReasons[r.detail] = (skipReasons[r.detail] ?? 0) + 1;
      continue;
    }
    if (r.invalid === true) {
      invalid++;
      continue;
    }
    probed++;
    if (r.observed === 'error') errors++;
    if (r.observed === 'allow') allowed++;
    if (r.observed === 'deny') denied++;
    if (r.agree === true) {
      agree++;
      if (r.observed === 'allow') agreeAllowed++;
      else agreeDenied++;
    } else disagree++;
  }
  return { total: results.length, probed, agree, disagree, errors, invalid, skipped, skipReasons, allowed, denied, agreeAllowed, agreeDenied, ms };
}

/**
 * The one-line summary of a probe run. Every flow is counted once: agree + disagree + skipped +
 * invalid = total, and the parenthesis after "agree" splits exactly the agreeing flows.
 */
export function formatProbeSummary(sum: ProbeSummary): string {
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  const disagreeDetail = sum.errors > 0 ? ` (${sum.errors} could not be probed)` : '';
  return (
    `${plural(sum.total, 'flow')}: ${sum.agree} agree (${sum.agreeAllowed} allowed, ${sum.agreeDenied} denied), ${sum.disagree} disagree${disagreeDetail}, ` +
    `${sum.skipped} skipped${sum.invalid > 0 ? `, ${sum.invalid} invalid` : ''}; ${(sum.ms / 1000).toFixed(1)} s`
  );
}
