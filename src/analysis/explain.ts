// `explain`: one flow's decision as the documented JSON object (docs/explain-json.md) or as text
// for people. Everything here is formatting of the engine's FlowDecision — the trace comes from
// the evaluation itself, never from a second pass.
import type { Span } from '../diagnostics/index.ts';
import type { Cluster, DecidedBy, DirectionDecision, Evaluation, Flow, FlowDecision, Policy, TraceStep } from '../engine/index.ts';
import { describePeer, domainMatches, evaluateFlow, protocolName } from '../engine/index.ts';
import { isAbsolute, relative } from 'node:path';
import { formatIp } from '../net/index.ts';
import { closestMisses } from './why-not.ts';
import type { RuleMiss } from './why-not.ts';
import { describeHop } from './resolve-peer.ts';

// The wire format lives with the engine (engine/wire.ts: zod schemas and their types), shared by
// the CLI, the server, the agent and the console.
import type { ExplainJson, ExplainJsonDecidedBy, ExplainJsonDirection, ExplainJsonMiss, ExplainJsonStep } from '../engine/wire.ts';
export type { ExplainJson, ExplainJsonDecidedBy, ExplainJsonDirection, ExplainJsonMiss, ExplainJsonStep } from '../engine/wire.ts';

function formatSpan(s: Span): string {
  return `${s.file}:${s.line}:${s.col}`;
}

/** Finds the policy a trace step refers to, to point at its source. */
function policyOf(cluster: Cluster, step: { kind: string | null; namespace: string | null; policy: string | null }): Policy | undefined {
  if (step.kind === null || step.kind === 'Profile' || step.policy === null) return undefined;
  return cluster.policy(`${step.kind}/${step.namespace ?? ''}/${step.policy}`);
}

// Spans are found by walking the YAML tree; batches explain the same rules over and over.
const sourceCache = new WeakMap<Policy, Map<string, string>>();

function sourceOf(cluster: Cluster, step: { kind: string | null; namespace: string | null; policy: string | null; rule: number | null }, dir: 'ingress' | 'egress' | null): string | undefined {
  const p = policyOf(cluster, step);
  if (p === undefined) return undefined;
  let cache = sourceCache.get(p);
  if (cache === undefined) sourceCache.set(p, (cache = new Map()));
  const key = step.rule === null || dir === null ? '' : `${dir}${step.rule}`;
  let text = cache.get(key);
  if (text === undefined) {
    const rule = key === '' ? undefined : (dir === 'ingress' ? p.ingress : p.egress)[step.rule!];
    text = formatSpan(rule === undefined ? p.origin.span : p.origin.spanOf(rule.path));
    cache.set(key, text);
  }
  return text;
}

function jsonStep(cluster: Cluster, s: TraceStep, dir: 'ingress' | 'egress', withSource: boolean): ExplainJsonStep {
  const src = withSource ? sourceOf(cluster, s, dir) : undefined;
  return {
    tier: s.tier,
    policy: s.policy,
    ...(s.namespace === null ? {} : { namespace: s.namespace }),
    kind: s.kind,
    rule: s.rule,
    action: s.action,
    reason: s.reason,
    ...(s.staged ? { staged: true as const } : {}),
    ...(src === undefined ? {} : { source: src }),
  };
}

/** A decision's deciding step in the documented JSON shape (with `source` when asked). */
export function jsonDecidedBy(cluster: Cluster, d: DecidedBy, withSource: boolean): ExplainJsonDecidedBy {
  const src = withSource ? sourceOf(cluster, d, d.direction) : undefined;
  return {
    direction: d.direction,
    tier: d.tier,
    policy: d.policy,
    ...(d.namespace === null ? {} : { namespace: d.namespace }),
    kind: d.kind,
    rule: d.rule,
    action: d.action,
    reason: d.reason,
    ...(src === undefined ? {} : { source: src }),
  };
}

export interface MatchedDomain {
  readonly name: string;
  readonly pattern: string;
  /** `rule` (its `destination.domains`) or the id of the network set whose `allowedEgressDomains` held the pattern. */
  readonly via: string;
}

/**
 * Which domain pattern made the deciding rule match a flow to a name (match.ts semantics: the
 * rule's `domains`, or a selected network set's `allowedEgressDomains` in an egress Allow rule).
 */
export function matchedDomainOf(cluster: Cluster, flow: Flow, d: DecidedBy): MatchedDomain | undefined {
  if (flow.dst.kind !== 'domain' || d.direction !== 'egress' || d.rule === null || d.reason !== 'rule') return undefined;
  const rule = policyOf(cluster, d)?.egress[d.rule];
  if (rule === undefined) return undefined;
  const name = flow.dst.domain;
  const direct = rule.destination.domains?.find((p) => domainMatches(p, name));
  if (direct !== undefined) return { name, pattern: direct, via: 'rule' };
  const sel = rule.destination.selector;
  if (sel === undefined || rule.action !== 'allow') return undefined;
  for (const ns of cluster.networkSets) {
    if (!sel.matches(ns.labels)) continue;
    const pattern = ns.allowedEgressDomains.find((p) => domainMatches(p, name));
    if (pattern !== undefined) return { name, pattern, via: ns.id };
  }
  return undefined;
}

function jsonDirection(cluster: Cluster, endpoint: string, d: DirectionDecision | null, dir: 'ingress' | 'egress', withSource: boolean): ExplainJsonDirection | null {
  if (d === null) return null;
  return { endpoint, verdict: d.verdict, trace: d.trace.map((s) => jsonStep(cluster, s, dir, withSource)) };
}

export interface ExplainOptions {
  /** Add `source: file:line:col` to steps (costly for large batches; on by default). */
  readonly withSource?: boolean;
  /** The endpoint/address texts as the user wrote them, echoed in `from`/`to`. */
  readonly fromText?: string;
  readonly toText?: string;
  /** For denied flows, add `closestRules` (why the nearest Allow rules did not match). */
  readonly whyNot?: boolean;
}

export function explainJson(cluster: Cluster, flow: Flow, decision: FlowDecision, opts: ExplainOptions = {}): ExplainJson {
  const withSource = opts.withSource ?? true;
  const pending: Evaluation | null = decision.pending;
  const addr = (p: Flow['src']): string | null => (p.kind === 'domain' || p.address === undefined ? null : formatIp(p.address));
  const fromSets = networkSetsOf(cluster, flow.src);
  const toSets = networkSetsOf(cluster, flow.dst);
  return {
    from: opts.fromText ?? describePeer(flow.src),
    to: opts.toText ?? describePeer(flow.dst),
    port: flow.port ?? null,
    protocol: protocolName(flow.protocol),
    verdict: decision.verdict,
    decidedBy: jsonDecidedBy(cluster, decision.decidedBy, withSource),
    egress: jsonDirection(cluster, describePeer(flow.src), decision.egress, 'egress', withSource),
    ingress: jsonDirection(cluster, describePeer(flow.dst), decision.ingress, 'ingress', withSource),
    pending: pending === null ? null : { verdict: pending.verdict, decidedBy: jsonDecidedBy(cluster, pending.decidedBy, withSource) },
    ipVersion: flow.ipVersion,
    srcAddress: addr(flow.src),
    dstAddress: addr(flow.dst),
    ...(flow.icmp === undefined ? {} : { icmp: flow.icmp }),
    ...(fromSets.length === 0 ? {} : { fromNetworkSets: fromSets }),
    ...(toSets.length === 0 ? {} : { toNetworkSets: toSets }),
    ...(opts.whyNot === true && decision.verdict === 'deny' ? { closestRules: closestMisses(cluster, flow, decision).map((m) => jsonMiss(m, withSource)) } : {}),
    ...matchedDomainField(cluster, flow, decision.decidedBy),
  };
}

/**
 * The network sets an external address belongs to (ids: `NAME` for GlobalNetworkSets, `NS/NAME`
 * for NetworkSets), so a flow record can name its peer as Calico's flow logs do (a `threatfeed.X`
 * set, say). Absent for endpoints, domains and addresses in no set.
 */
function networkSetsOf(cluster: Cluster, peer: Flow['src']): readonly string[] {
  if (peer.kind !== 'address') return [];
  return [...new Set(cluster.networkSetsContaining(peer.address).map((s) => s.id))].sort();
}

function matchedDomainField(cluster: Cluster, flow: Flow, d: DecidedBy): { matchedDomain?: MatchedDomain } {
  const m = matchedDomainOf(cluster, flow, d);
  return m === undefined ? {} : { matchedDomain: m };
}

function jsonMiss(m: RuleMiss, withSource: boolean): ExplainJsonMiss {
  const src = withSource ? formatSpan(m.policy.origin.spanOf(m.rule.path)) : undefined;
  return {
    direction: m.direction,
    tier: m.policy.tier,
    policy: m.policy.name,
    ...(m.policy.namespace === undefined ? {} : { namespace: m.policy.namespace }),
    kind: m.policy.kind,
    rule: m.rule.index,
    failed: m.failed,
    ...(src === undefined ? {} : { source: src }),
  };
}

export function explainFlow(cluster: Cluster, flow: Flow, opts: ExplainOptions = {}): ExplainJson {
  return explainJson(cluster, flow, evaluateFlow(cluster, flow), opts);
}

// ---- text rendering

const ACTION_WORD: Readonly<Record<string, string>> = {
  allow: 'Allow',
  deny: 'Deny',
  pass: 'Pass',
  log: 'Log',
  'no-match': 'no rule matched',
};

/** Kinds as the user wrote them: a Kubernetes NetworkPolicy is `NetworkPolicy`, Calico's is qualified. */
export function kindLabel(kind: string | null): string {
  switch (kind) {
    case 'KubernetesNetworkPolicy':
      return 'NetworkPolicy';
    case 'NetworkPolicy':
      return 'Calico NetworkPolicy';
    default:
      return kind ?? '';
  }
}

function policyLabel(s: { kind: string | null; namespace?: string; policy: string | null }): string {
  return `${kindLabel(s.kind)} ${s.namespace === undefined ? '' : `${s.namespace}/`}${s.policy ?? ''}`;
}

/** A namespace profile `kns.<ns>`: Calico's stand-in for "no policy, the namespace allows". */
function namespaceOfProfile(name: string | null): string | undefined {
  return name !== null && name.startsWith('kns.') ? name.slice(4) : undefined;
}

function describeStep(s: ExplainJsonStep | ExplainJsonDecidedBy, endpoint = 'the endpoint'): string {
  if (s.reason === 'loopback') return 'an endpoint talking to itself (always allowed)';
  if (s.reason === 'no-endpoint') return 'no endpoint of the cluster on either side (nothing enforces policy)';
  if (s.kind === 'Profile') {
    const ns = namespaceOfProfile(s.policy);
    if (ns !== undefined) return `no policy selects ${endpoint}; namespace ${ns} allows by default (Calico profile ${s.policy ?? ''})`;
    return `profile ${s.policy ?? ''}${s.rule === null ? '' : ` rule ${s.rule}`}`;
  }
  if (s.kind === null) return `no policy allowed it and ${endpoint} has no profile: denied by default`;
  if (s.reason === 'end-of-tier') {
    return `end of tier ${s.tier ?? ''}: its policies select ${endpoint} but none of their rules matched, so the tier denies (last policy: ${policyLabel(s)})`;
  }
  const where = `${policyLabel(s)} in tier ${s.tier ?? ''}`;
  return s.rule === null ? where : `${where}, rule ${s.rule}`;
}

/** `file:line:col` relative to the working directory when the file is under it (as the user would type it). */
export function relativeSource(source: string, cwd: string = process.cwd()): string {
  if (!isAbsolute(source)) return source;
  const m = source.match(/^(.*?)(:\d+:\d+)$/);
  const file = m?.[1] ?? source;
  const rel = relative(cwd, file);
  return rel.startsWith('..') || isAbsolute(rel) ? source : `${rel}${m?.[2] ?? ''}`;
}

export function renderExplainText(e: ExplainJson, color = false): string {
  const paint = (code: string, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const verdict = e.verdict === 'allow' ? paint('32;1', 'ALLOWED') : paint('31;1', 'DENIED');
  const what = e.service !== undefined ? `${e.protocol} ${e.service.port}` : e.port === null ? e.protocol : `${e.protocol} ${e.port}`;
  const lines: string[] = [];
  lines.push(`${e.from} → ${e.to}  ${what}: ${verdict}`);
  for (const n of e.notes ?? []) lines.push(`  note: ${n}`);
  for (const [side, address, sets] of [['source', e.srcAddress, e.fromNetworkSets], ['destination', e.dstAddress, e.toNetworkSets]] as const) {
    if (sets !== undefined && sets.length > 0) lines.push(`  ${side} ${address ?? ''} is in ${sets.map((id) => (id.includes('/') ? `NetworkSet ${id}` : `GlobalNetworkSet ${id}`)).join(', ')}`);
  }
  if (e.service !== undefined) lines.push(`  via ${describeHop(e.service)}`);
  const d = e.decidedBy;
  const at = d.direction === 'egress' ? (e.egress?.endpoint ?? e.from) : (e.ingress?.endpoint ?? e.to);
  const dir = d.direction === null ? '' : `${d.direction} at ${at}: `;
  lines.push(`  decided by ${dir}${describeStep(d, at)}${d.source === undefined ? '' : `  (${relativeSource(d.source)})`}`);
  if (e.matchedDomain !== undefined) {
    const m = e.matchedDomain;
    lines.push(`  domain ${m.name} matched ${m.pattern}${m.via === 'rule' ? ' (the rule\'s destination domains)' : ` (allowedEgressDomains of network set ${m.via})`}`);
  }
  if (e.pending !== null && (e.pending.verdict !== e.verdict || e.pending.decidedBy.policy !== d.policy)) {
    lines.push(`  pending (staged policies enforced): ${e.pending.verdict.toUpperCase()} by ${describeStep(e.pending.decidedBy, at)}`);
  }
  if (e.closestRules !== undefined && e.closestRules.length > 0) {
    lines.push('  closest Allow rules, and why they did not match:');
    for (const m of e.closestRules) {
      const why = m.failed.length === 0 ? 'it matches, but an earlier rule or tier decided first' : m.failed.join('; ');
      lines.push(`    ${policyLabel(m)} ${m.direction} rule ${m.rule}: ${why}${m.source === undefined ? '' : `  ${paint('2', relativeSource(m.source))}`}`);
    }
  }
  for (const [name, dirn] of [['egress', e.egress], ['ingress', e.ingress]] as const) {
    if (dirn === null) {
      const why = d.reason === 'loopback' ? 'an endpoint talking to itself: no policy applies' : `${name === 'egress' ? 'source' : 'destination'} is not a cluster endpoint`;
      lines.push(`  ${name}: not evaluated (${why})`);
      continue;
    }
    lines.push(`  ${name} at ${dirn.endpoint}: ${dirn.verdict}`);
    let tier: string | null | undefined;
    for (const s of dirn.trace) {
      if (s.tier !== tier) {
        tier = s.tier;
        lines.push(tier === null ? '    no policy decided (profiles)' : `    tier ${tier}`);
      }
      const ns = s.namespace === undefined ? '' : `${s.namespace}/`;
      const nsOfProfile = s.kind === 'Profile' ? namespaceOfProfile(s.policy) : undefined;
      const who =
        s.kind === null ? '(no profile)' : nsOfProfile !== undefined ? `namespace ${nsOfProfile} default (profile ${s.policy ?? ''})` : `${s.kind === 'Profile' ? 'profile' : kindLabel(s.kind)} ${ns}${s.policy ?? ''}`;
      const rule = s.rule === null || nsOfProfile !== undefined ? '' : ` rule ${s.rule}`;
      const action = s.reason === 'end-of-tier' ? `no rule matched in the tier: ${ACTION_WORD[s.action] ?? s.action} (end of tier)` : ACTION_WORD[s.action] ?? s.action;
      const staged = s.staged === true ? ' [staged]' : '';
      const src = s.source === undefined ? '' : `  ${paint('2', relativeSource(s.source))}`;
      lines.push(`      ${who}${rule}: ${action}${staged}${src}`);
    }
  }
  return lines.join('\n');
}

/** `a (+2 more: b, c)`: a class of endpoints by its first member. */
function membersText(members: readonly string[] | undefined, fallback: string): string {
  if (members === undefined || members.length === 0) return fallback;
  const [first, ...rest] = members;
  if (rest.length === 0) return first!;
  const shown = rest.slice(0, 5).join(', ');
  return `${first!} (+${rest.length} alike: ${shown}${rest.length > 5 ? ', …' : ''})`;
}

/** One result on one line, for sets and batches: `src → dst PROTO PORT: VERDICT by …`. */
export function renderExplainLine(e: ExplainJson, color = false): string {
  const paint = (code: string, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const from = membersText(e.fromMembers, e.egress?.endpoint ?? e.from);
  const to = e.service !== undefined ? describeHop(e.service) : membersText(e.toMembers, e.ingress?.endpoint ?? e.to);
  // A Service hop already names both ports.
  const port = e.service !== undefined ? null : e.port;
  const verdict = e.verdict === 'allow' ? paint('32;1', 'ALLOWED') : paint('31;1', 'DENIED');
  const d = e.decidedBy;
  const dir = d.direction === null ? '' : `${d.direction}: `;
  const at = d.direction === 'egress' ? (e.egress?.endpoint ?? e.from) : (e.ingress?.endpoint ?? e.to);
  return `${from} → ${to}  ${e.protocol}${port === null ? '' : ` ${port}`}: ${verdict} by ${dir}${describeStep(d, at)}`;
}
