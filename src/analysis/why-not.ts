// "Why did no rule allow this?" For a denied flow, the Allow rules of the policies that select the
// endpoint in the deciding direction, each with the criteria that failed — source selector (labels),
// namespace, service account, addresses, port, protocol, ICMP, Service, domains — closest first
// (fewest failed criteria). Each criterion is tested on its own with the engine's own match
// functions (a rule reduced to that one field), so the explanation cannot drift from evaluation.
import type { Cluster, Direction, EntityMatch, Flow, FlowDecision, Peer, Policy, Rule } from '../engine/index.ts';
import { describePeer, protocolName } from '../engine/index.ts';
import { headerMatches, selectorMatchesPeer, sideMatches } from '../engine/algebra.ts';
import { formatCidr, formatIp } from '../net/index.ts';
import type { SelectorNode } from '../selector/index.ts';
import { formatCanonical, labelsOf, selectorFromAst } from '../selector/index.ts';

export interface RuleMiss {
  readonly direction: Direction;
  readonly policy: Policy;
  readonly rule: Rule;
  /** Each failed criterion, in words; empty when the rule matches but an earlier step decided. */
  readonly failed: readonly string[];
}

const NAMESPACE_LABEL = 'projectcalico.org/namespace';
const SERVICE_ACCOUNT_LABEL = 'projectcalico.org/serviceaccount';
const ORCHESTRATOR_LABEL = 'projectcalico.org/orchestrator';

function andTerms(n: SelectorNode): SelectorNode[] {
  return n.op === 'and' ? n.operands.flatMap(andTerms) : [n];
}

type TermKind = 'namespace' | 'service account' | 'orchestrator' | 'labels';

function termKind(n: SelectorNode): TermKind {
  const labels = [...labelsOf(n)];
  if (labels.length === 0) return 'labels';
  if (labels.every((l) => l === NAMESPACE_LABEL || l.startsWith('pcns.'))) return 'namespace';
  if (labels.every((l) => l === SERVICE_ACCOUNT_LABEL || l.startsWith('pcsa.'))) return 'service account';
  if (labels.every((l) => l === ORCHESTRATOR_LABEL)) return 'orchestrator';
  return 'labels';
}

/** A composed term in the user's vocabulary: namespace labels without Calico's `pcns.` prefix. */
function termText(n: SelectorNode): string {
  return formatCanonical(n).replaceAll('pcns.', 'namespace label ').replaceAll('pcsa.', 'service-account label ').replaceAll(NAMESPACE_LABEL, 'namespace');
}

function peerNamespace(p: Peer): string | undefined {
  return p.kind === 'endpoint' ? p.endpoint.namespace : undefined;
}

function portListText(list: NonNullable<EntityMatch['ports']>): string {
  return [...list.ranges.map((r) => (r.min === r.max ? String(r.min) : `${r.min}-${r.max}`)), ...list.named].join(', ');
}

function sideFailures(cluster: Cluster, side: EntityMatch, which: 'source' | 'destination', flow: Flow, rule: Rule): string[] {
  const peer = which === 'source' ? flow.src : flow.dst;
  const port = which === 'source' ? flow.srcPort : flow.port;
  const isDest = which === 'destination';
  const domains = isDest && rule.action === 'allow';
  const only = (m: EntityMatch): boolean => sideMatches(cluster, m, peer, port, flow, isDest, domains);
  const who = `${which} ${describePeer(peer)}`;
  const out: string[] = [];
  if (side.selector !== undefined && !selectorMatchesPeer(cluster, side.selector, peer, domains)) {
    const failing = andTerms(side.selector.ast).filter((t) => !selectorMatchesPeer(cluster, selectorFromAst(t), peer, domains));
    const byKind = new Map<TermKind, SelectorNode[]>();
    for (const t of failing.length > 0 ? failing : [side.selector.ast]) {
      const k = termKind(t);
      byKind.set(k, [...(byKind.get(k) ?? []), t]);
    }
    for (const [k, terms] of byKind) {
      const text = terms.map(termText).join(' && ');
      if (k === 'namespace') {
        const ns = peerNamespace(peer);
        out.push(ns === undefined ? `${who} is not in a namespace the rule allows (${text})` : `${which} namespace ${ns} does not match ${text}`);
      } else if (k === 'service account') out.push(`${who}'s service account does not match ${text}`);
      else if (k === 'orchestrator') out.push(`${who} is not a Kubernetes pod (the rule selects pods only)`);
      else out.push(`${which} selector ${text} does not match ${describePeer(peer)}`);
    }
  }
  if (side.notSelector !== undefined && !only({ notSelector: side.notSelector })) out.push(`${who} matches notSelector ${side.notSelector.canonical}`);
  if (side.nets !== undefined && !only({ nets: side.nets })) {
    const address = peer.kind === 'domain' ? undefined : peer.address;
    const cidrs = [...side.nets.v4, ...side.nets.v6].map(formatCidr).join(', ');
    out.push(address === undefined ? `${who} has no known address, so it is never in nets ${cidrs}` : `${which} address ${formatIp(address)} is not in ${cidrs}`);
  }
  if (side.notNets !== undefined && !only({ notNets: side.notNets })) out.push(`${who} is in notNets ${[...side.notNets.v4, ...side.notNets.v6].map(formatCidr).join(', ')}`);
  if (side.ports !== undefined && !only({ ports: side.ports })) {
    out.push(port === undefined ? `${which} port is unknown, the rule needs ${portListText(side.ports)}` : `${which} port ${port} is not ${portListText(side.ports)}`);
  }
  if (side.notPorts !== undefined && !only({ notPorts: side.notPorts })) out.push(`${which} port ${port ?? '(unknown)'} is excluded by notPorts ${portListText(side.notPorts)}`);
  if (side.service !== undefined && !only({ service: side.service })) out.push(`${who} is not ${isDest ? 'a backend port' : 'a backend'} of Service ${side.service.namespace}/${side.service.name}`);
  if (side.domains !== undefined && !only({ domains: side.domains })) out.push(`${who} is not one of the domains ${side.domains.join(', ')}`);
  return out;
}

/** The criteria of `rule` that `flow` fails, in words (empty: the rule matches). */
export function ruleFailures(cluster: Cluster, rule: Rule, flow: Flow): string[] {
  const out: string[] = [];
  const bare: Rule = { index: rule.index, action: rule.action, source: {}, destination: {}, path: rule.path, hasHttpMatch: false };
  if (rule.ipVersion !== undefined && rule.ipVersion !== flow.ipVersion) out.push(`the rule is for IPv${rule.ipVersion}, the flow is IPv${flow.ipVersion}`);
  if (rule.protocol !== undefined && rule.protocol !== flow.protocol) out.push(`protocol is ${protocolName(flow.protocol)}, the rule needs ${protocolName(rule.protocol)}`);
  if (rule.notProtocol !== undefined && rule.notProtocol === flow.protocol) out.push(`the rule excludes protocol ${protocolName(rule.notProtocol)}`);
  if (rule.icmp !== undefined && !headerMatches({ ...bare, icmp: rule.icmp }, flow)) out.push(`ICMP ${flow.icmp === undefined ? '(none)' : `type ${flow.icmp.type} code ${flow.icmp.code}`} is not the rule's type ${rule.icmp.type}${rule.icmp.code === undefined ? '' : ` code ${rule.icmp.code}`}`);
  if (rule.notIcmp !== undefined && !headerMatches({ ...bare, notIcmp: rule.notIcmp }, flow)) out.push(`ICMP type ${flow.icmp?.type ?? '(none)'} is excluded by notICMP`);
  out.push(...sideFailures(cluster, rule.source, 'source', flow, rule), ...sideFailures(cluster, rule.destination, 'destination', flow, rule));
  return out;
}

/**
 * For a denied flow: the Allow rules of the enforced policies selecting the endpoint in the
 * deciding direction, with why each did not match, closest first; at most `max`.
 */
export function closestMisses(cluster: Cluster, flow: Flow, decision: FlowDecision, max = 3): RuleMiss[] {
  if (decision.verdict !== 'deny') return [];
  const dir = decision.decidedBy.direction;
  if (dir === null) return [];
  const peer = dir === 'egress' ? flow.src : flow.dst;
  if (peer.kind !== 'endpoint') return [];
  const misses: (RuleMiss & { rank: number })[] = [];
  let rank = 0;
  for (const step of cluster.plan(peer.endpoint, dir)) {
    for (const p of step.policies) {
      if (p.staged) continue;
      for (const r of p[dir]) {
        rank++;
        if (r.action !== 'allow') continue;
        misses.push({ direction: dir, policy: p, rule: r, failed: ruleFailures(cluster, r, flow), rank });
      }
    }
  }
  return misses
    .sort((a, b) => a.failed.length - b.failed.length || a.rank - b.rank)
    .slice(0, max)
    .map(({ rank: _rank, ...m }) => m);
}
