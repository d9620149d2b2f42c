// Verdicts for flow replay, memoised by *class*: two flows get the same verdict when every fact
// rule matching and tier plans read about them is the same, so a replayed flow log — the same
// conversations again and again, between replicas that share labels — is decided once per class
// tuple and then answered by two map lookups.
//
// What decides a verdict (read off evaluate.ts, pipeline.ts and match.ts):
//   - loopback: source and destination are the same endpoint (checked before the memo, by identity);
//   - an endpoint end: its tier plans (cached by the engine per label key), its profiles (their
//     rules run after the tiers), its effective labels (selectors), its namespace and labels
//     (Service backends), its declared ports (named ports, Service target ports); host or workload;
//   - the address of an end (an endpoint's chosen address or a bare address): it is only ever
//     tested for containment in a CIDR — a rule's nets/notNets, or a network set's nets (which
//     make selectors match addresses) — so the vector of its memberships in every distinct CIDR of
//     the cluster decides it; "no address" is its own class (CIDR criteria never match it);
//   - a domain end: the name itself (rule domains, network sets' allowed domains);
//   - the header: protocol, destination port or ICMP type/code, source port, IP version.
// The key is exactly these; anything outside the ranges the key can encode is decided directly.
//
// The memo is per cluster (a cluster never changes; a new one gets a new memo) and bounded: when
// it reaches its capacity it is emptied and refills with what the log repeats (cheaper than an
// LRU's bookkeeping on every hit, and hits are what replay is made of).
import { cidrContains, formatCidr } from '../net/index.ts';
import type { Cidr, IpAddress } from '../net/index.ts';
import type { Cluster } from './cluster.ts';
import { decideVerdict } from './evaluate.ts';
import type { VerdictDecision } from './evaluate.ts';
import type { EntityMatch, Endpoint, Flow, Peer, Profile, Rule } from './model.ts';

export interface VerdictMemoOptions {
  /** Most remembered (class, class, header) tuples before the memo is emptied (default 2^17). */
  readonly capacity?: number;
}

export interface VerdictMemoStats {
  readonly hits: number;
  readonly misses: number;
  /** Flows decided without the memo (fields outside what the key encodes). */
  readonly direct: number;
  /** Tuples remembered now. */
  readonly size: number;
  /** Times the memo was emptied on reaching its capacity. */
  readonly resets: number;
  /** Distinct CIDRs an address is classified by. */
  readonly cidrs: number;
}

export interface VerdictMemo {
  evaluate(flow: Flow): VerdictDecision;
  stats(): VerdictMemoStats;
}

/** Address classes fit in 22 bits, so an endpoint peer's (class, address class) is one exact number. */
const PEER_BITS = 2 ** 22;
// A little below 2^22: one evaluation interns up to two ids after the check that the tables have room.
const MAX_PEERS = PEER_BITS - 8;
/** Peer ids below 2^15, so that a (source, destination) pair is a 30-bit integer. */
const MAX_PEER_IDS = 2 ** 15;

function sideCidrs(side: EntityMatch, out: Cidr[]): void {
  for (const list of [side.nets, side.notNets]) {
    if (list === undefined) continue;
    out.push(...list.v4, ...list.v6);
  }
}

function ruleCidrs(rules: readonly Rule[], out: Cidr[]): void {
  for (const r of rules) {
    sideCidrs(r.source, out);
    sideCidrs(r.destination, out);
  }
}

/** Every distinct CIDR that any rule or network set of the cluster tests an address against. */
function clusterCidrs(cluster: Cluster): readonly Cidr[] {
  const all: Cidr[] = [];
  for (const p of cluster.policies) {
    ruleCidrs(p.ingress, all);
    ruleCidrs(p.egress, all);
  }
  const profiles = new Set<Profile>();
  for (const e of cluster.endpoints) for (const p of e.profiles) profiles.add(p);
  for (const p of profiles) {
    ruleCidrs(p.ingress, all);
    ruleCidrs(p.egress, all);
  }
  for (const s of cluster.networkSets) all.push(...s.nets);
  const byText = new Map<string, Cidr>();
  for (const c of all) byText.set(formatCidr(c), c);
  return [...byText.values()];
}

function endpointClassKey(e: Endpoint): string {
  const ports = e.ports.map((p) => `${p.name ?? ''}/${p.protocol}/${p.port}`).join(',');
  const profiles = e.profiles.map((p) => p.name).join(',');
  return `${e.kind}\u0000${e.namespace ?? ''}\u0000${e.labelKey}\u0000${profiles}\u0000${ports}`;
}

/**
 * The header part of the key, or undefined when a field is outside what 43 bits encode exactly
 * (such flows are decided directly). ICMP type/code take the port's slot: a flow has one or the other.
 */
function headerKey(flow: Flow): number | undefined {
  const { port, srcPort, icmp, protocol } = flow;
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) return undefined;
  let slot: number;
  if (icmp !== undefined) {
    if (port !== undefined || !(icmp.type >= 0 && icmp.type <= 255 && icmp.code >= 0 && icmp.code <= 255)) return undefined;
    if (!Number.isInteger(icmp.type) || !Number.isInteger(icmp.code)) return undefined;
    slot = 65536 + icmp.type * 256 + icmp.code;
  } else if (port === undefined) {
    slot = 0;
  } else {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
    slot = port;
  }
  let sp = 0;
  if (srcPort !== undefined) {
    if (!Number.isInteger(srcPort) || srcPort < 0 || srcPort > 65535) return undefined;
    sp = srcPort + 1;
  }
  return ((sp * 131072 + slot) * 256 + protocol) * 2 + (flow.ipVersion === 6 ? 1 : 0);
}

export function createVerdictMemo(cluster: Cluster, options: VerdictMemoOptions = {}): VerdictMemo {
  const capacity = Math.max(1, options.capacity ?? 2 ** 17);
  const cidrs = clusterCidrs(cluster);

  // Endpoint classes: fixed by the cluster, at most one per endpoint.
  const endpointClassIds = new Map<string, number>();
  const endpointClass = new WeakMap<Endpoint, number>();
  function classOfEndpoint(e: Endpoint): number {
    let id = endpointClass.get(e);
    if (id === undefined) {
      const key = endpointClassKey(e);
      id = endpointClassIds.get(key);
      if (id === undefined) endpointClassIds.set(key, (id = endpointClassIds.size));
      endpointClass.set(e, id);
    }
    return id;
  }

  // Address classes (1 + interned membership vector; 0 = no address), peer ids and the memo
  // itself grow with the log's external addresses and domains: all are emptied together when
  // any of them is full, so ids never outlive the entries that use them.
  let addressClass = new Map<number | bigint, number>();
  let vectorIds = new Map<string, number>();
  let domainIds = new Map<string, number>();
  let peerIds = new Map<number, number>();
  let endpointPeer = new WeakMap<Endpoint, { readonly address: IpAddress | undefined; readonly id: number }>();
  // (source peer · 2^15 + destination peer) → header → decision: both keys are small integers
  // (V8 Smis, hashed without allocation) unless a source port is given.
  let memo = new Map<number, Map<number, VerdictDecision>>();
  let size = 0;
  let hits = 0;
  let misses = 0;
  let direct = 0;
  let resets = 0;

  function reset(): void {
    addressClass = new Map();
    vectorIds = new Map();
    domainIds = new Map();
    peerIds = new Map();
    endpointPeer = new WeakMap();
    memo = new Map();
    size = 0;
    resets++;
  }

  function classOfAddress(a: IpAddress | undefined): number {
    if (a === undefined) return 0;
    let id = addressClass.get(a.value);
    if (id === undefined) {
      let vector = '';
      for (const c of cidrs) vector += cidrContains(c, a) ? '1' : '0';
      id = vectorIds.get(vector);
      if (id === undefined) vectorIds.set(vector, (id = vectorIds.size + 1));
      addressClass.set(a.value, id);
    }
    return id;
  }

  /** A small id per distinct peer class. Endpoint: (class + 1) · 2^22 + address class; address: its class; domain: negative. */
  function internPeer(n: number): number {
    let id = peerIds.get(n);
    if (id === undefined) peerIds.set(n, (id = peerIds.size));
    return id;
  }

  function peerId(p: Peer): number {
    switch (p.kind) {
      case 'endpoint': {
        const cached = endpointPeer.get(p.endpoint);
        if (cached !== undefined && cached.address === p.address) return cached.id;
        const id = internPeer((classOfEndpoint(p.endpoint) + 1) * PEER_BITS + classOfAddress(p.address));
        endpointPeer.set(p.endpoint, { address: p.address, id });
        return id;
      }
      case 'address':
        return internPeer(classOfAddress(p.address));
      case 'domain': {
        let d = domainIds.get(p.domain);
        if (d === undefined) domainIds.set(p.domain, (d = domainIds.size));
        return internPeer(-1 - d);
      }
    }
  }

  function full(): boolean {
    return size >= capacity || peerIds.size >= MAX_PEER_IDS - 2 || vectorIds.size >= MAX_PEERS || addressClass.size >= 4 * capacity || domainIds.size >= capacity;
  }

  return {
    evaluate(flow) {
      const src = flow.src;
      const dst = flow.dst;
      if (src.kind === 'endpoint' && dst.kind === 'endpoint' && src.endpoint === dst.endpoint) return decideVerdict(cluster, flow);
      const header = headerKey(flow);
      if (header === undefined) {
        direct++;
        return decideVerdict(cluster, flow);
      }
      if (full()) reset();
      const pair = peerId(src) * MAX_PEER_IDS + peerId(dst);
      let byHeader = memo.get(pair);
      if (byHeader === undefined) memo.set(pair, (byHeader = new Map()));
      let decision = byHeader.get(header);
      if (decision === undefined) {
        misses++;
        decision = decideVerdict(cluster, flow);
        byHeader.set(header, decision);
        size++;
      } else {
        hits++;
      }
      return decision;
    },
    stats: () => ({ hits, misses, direct, size, resets, cidrs: cidrs.length }),
  };
}

const memos = new WeakMap<Cluster, VerdictMemo>();

/**
 * The verdict and deciding step of `flow` (equal to `evaluateFlow`'s `verdict` and `decidedBy`),
 * memoised per cluster by the classes of its ends and its header. For flow replay; explanations
 * with traces use `evaluateFlow`.
 */
export function evaluateVerdict(cluster: Cluster, flow: Flow): VerdictDecision {
  let m = memos.get(cluster);
  if (m === undefined) memos.set(cluster, (m = createVerdictMemo(cluster)));
  return m.evaluate(flow);
}
