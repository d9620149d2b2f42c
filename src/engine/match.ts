// Does one rule match one flow? Every criterion of a rule must hold (AND across fields and both
// ends); list fields are OR-ed inside, negated lists mean "none of". The semantics follow what Felix
// renders into the dataplane (felix/rules/policy.go, felix/calc/rule_scanner.go) — e.g. a
// selector matches an *address*: a peer is in a selector's set when its own labels match, or when
// its address falls in a (Global)NetworkSet whose labels match.
import { cidrContains } from '../net/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';
import type { Selector } from '../selector/index.ts';
import type {
  Endpoint,
  EntityMatch,
  Flow,
  IcmpMatch,
  NetList,
  NetworkSetEntry,
  Peer,
  PortList,
  Rule,
  ServiceEntry,
} from './model.ts';
import { PROTOCOL } from './model.ts';
import { domainMatches } from './domains.ts';

/** The cluster-wide lookups rule matching needs. */
export interface MatchIndex {
  /** Network sets (global and namespaced) with a CIDR containing the address. */
  networkSetsContaining(address: IpAddress): readonly NetworkSetEntry[];
  /** Network sets whose `allowedEgressDomains` cover the domain name. */
  networkSetsForDomain(domain: string): readonly NetworkSetEntry[];
  service(namespace: string, name: string): ServiceEntry | undefined;
}

function anyContains(cidrs: readonly Cidr[], address: IpAddress): boolean {
  for (const c of cidrs) if (cidrContains(c, address)) return true;
  return false;
}

function familyOf(list: NetList, ipVersion: 4 | 6): readonly Cidr[] {
  return ipVersion === 4 ? list.v4 : list.v6;
}

function peerAddress(peer: Peer): IpAddress | undefined {
  return peer.kind === 'domain' ? undefined : peer.address;
}

function peerEndpoint(peer: Peer): Endpoint | undefined {
  return peer.kind === 'endpoint' ? peer.endpoint : undefined;
}

/**
 * Is the peer in the selector's address set? Domains count only for egress Allow rules'
 * destinations (Calico Enterprise's allowedEgressDomains learn IPs from DNS for exactly those).
 */
export function selectorMatchesPeer(index: MatchIndex, sel: Selector, peer: Peer, domainsCount: boolean): boolean {
  switch (peer.kind) {
    case 'endpoint':
      if (sel.matches(peer.endpoint.labels)) return true;
      return peer.address !== undefined && setsMatch(index.networkSetsContaining(peer.address), sel);
    case 'address':
      return setsMatch(index.networkSetsContaining(peer.address), sel);
    case 'domain':
      return domainsCount && setsMatch(index.networkSetsForDomain(peer.domain), sel);
    default:
      return assertNeverPeer(peer);
  }
}

function setsMatch(sets: readonly NetworkSetEntry[], sel: Selector): boolean {
  for (const s of sets) if (sel.matches(s.labels)) return true;
  return false;
}

function assertNeverPeer(p: never): never {
  throw new Error(`unexpected peer ${JSON.stringify(p)}`);
}

/** Numeric ranges OR named ports of the endpoint that owns the address (same protocol). */
function portListMatches(list: PortList, port: number | undefined, owner: Endpoint | undefined, protocol: number): boolean {
  if (port === undefined) return false;
  for (const r of list.ranges) if (port >= r.min && port <= r.max) return true;
  if (list.named.length === 0 || owner === undefined) return false;
  for (const p of owner.ports) {
    if (p.name !== undefined && p.port === port && p.protocol === protocol && list.named.includes(p.name)) return true;
  }
  return false;
}

function labelsInclude(labels: ReadonlyMap<string, string>, subset: ReadonlyMap<string, string>): boolean {
  for (const [k, v] of subset) if (labels.get(k) !== v) return false;
  return true;
}

/** Is the endpoint one of the Service's backends (same namespace, selector matches)? */
export function serviceSelects(svc: ServiceEntry, ep: Endpoint): boolean {
  return svc.selector !== undefined && ep.namespace === svc.namespace && labelsInclude(ep.labels, svc.selector);
}

/** Does (protocol, port) hit one of the Service's target ports on this backend? */
function serviceTargetMatches(svc: ServiceEntry, ep: Endpoint, protocol: number, port: number | undefined): boolean {
  if (port === undefined) return false;
  for (const sp of svc.ports) {
    if (sp.protocol !== protocol) continue;
    if (typeof sp.targetPort === 'number') {
      if (sp.targetPort === port) return true;
    } else {
      for (const p of ep.ports) if (p.name === sp.targetPort && p.protocol === protocol && p.port === port) return true;
    }
  }
  return false;
}

/** One rule side against one peer (the port is that side's port: destination or source). */
export function sideMatches(
  index: MatchIndex,
  side: EntityMatch,
  peer: Peer,
  port: number | undefined,
  flow: Flow,
  isDestination: boolean,
  domainsCount: boolean,
): boolean {
  if (side.nets !== undefined) {
    const address = peerAddress(peer);
    const cidrs = familyOf(side.nets, flow.ipVersion);
    if (address === undefined || cidrs.length === 0 || !anyContains(cidrs, address)) return false;
  }
  if (side.notNets !== undefined) {
    // An unknown address is never matched by CIDR criteria, negated or not (DESIGN: pod
    // addresses are assigned at run time).
    const address = peerAddress(peer);
    const cidrs = familyOf(side.notNets, flow.ipVersion);
    if (address === undefined || cidrs.length === 0 || anyContains(cidrs, address)) return false;
  }
  if (side.selector !== undefined && !selectorMatchesPeer(index, side.selector, peer, domainsCount)) return false;
  if (side.notSelector !== undefined && selectorMatchesPeer(index, side.notSelector, peer, false)) return false;
  const owner = peerEndpoint(peer);
  if (side.ports !== undefined || side.notPorts !== undefined) {
    // Felix builds named-port sets only from endpoints the same side's selector matches by labels
    // (rule_scanner.go), so an endpoint inside a matching NetworkSet contributes no named ports.
    const portOwner = owner !== undefined && (side.selector === undefined || side.selector.matches(owner.labels)) ? owner : undefined;
    if (side.ports !== undefined && !portListMatches(side.ports, port, portOwner, flow.protocol)) return false;
    if (side.notPorts !== undefined) {
      if (port === undefined || portListMatches(side.notPorts, port, portOwner, flow.protocol)) return false;
    }
  }
  if (side.domains !== undefined) {
    if (peer.kind !== 'domain' || !side.domains.some((d) => domainMatches(d, peer.domain))) return false;
  }
  if (side.service !== undefined) {
    const svc = index.service(side.service.namespace, side.service.name);
    if (svc === undefined || owner === undefined || !serviceSelects(svc, owner)) return false;
    if (isDestination && !serviceTargetMatches(svc, owner, flow.protocol, port)) return false;
  }
  return true;
}

function icmpMatches(m: IcmpMatch, flow: Flow): boolean {
  if (flow.icmp === undefined) return false;
  return flow.icmp.type === m.type && (m.code === undefined || flow.icmp.code === m.code);
}

function isIcmpFlow(flow: Flow): boolean {
  return flow.protocol === (flow.ipVersion === 4 ? PROTOCOL.ICMP : PROTOCOL.ICMPV6);
}

/** The protocol / ICMP / IP-version part of a rule: independent of who the peers are. */
export function headerMatches(rule: Rule, flow: Flow): boolean {
  if (rule.ipVersion !== undefined && rule.ipVersion !== flow.ipVersion) return false;
  if (rule.protocol !== undefined && rule.protocol !== flow.protocol) return false;
  if (rule.notProtocol !== undefined && rule.notProtocol === flow.protocol) return false;
  if (rule.icmp !== undefined && !(isIcmpFlow(flow) && icmpMatches(rule.icmp, flow))) return false;
  // Calico's API meaning: NOT(type == T [and code == C]); like the dataplane, only ICMP packets qualify.
  if (rule.notIcmp !== undefined && !(isIcmpFlow(flow) && !icmpMatches(rule.notIcmp, flow))) return false;
  return true;
}

export function matchRule(index: MatchIndex, rule: Rule, flow: Flow): boolean {
  if (!headerMatches(rule, flow)) return false;
  const domains = rule.action === 'allow';
  return (
    sideMatches(index, rule.source, flow.src, flow.srcPort, flow, false, false) &&
    sideMatches(index, rule.destination, flow.dst, flow.port, flow, true, domains)
  );
}
