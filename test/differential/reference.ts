// The naive reference evaluator: decides a flow straight from the generator's scenario data,
// written from the semantics documents in the most obvious way, sharing no code with the engine
// (only the selector parser, which is tested on its own, and this folder's own address helpers).
//
//   Kubernetes NetworkPolicy — Kubernetes' own semantics: a policy selects pods of its namespace
//     by podSelector and governs the directions in its (API-server-defaulted) policyTypes; a rule
//     allows a peer (podSelector in the policy's namespace / namespaceSelector / both = AND /
//     ipBlock minus except, which also covers pod addresses) on a port (protocol TCP by default,
//     numeric, range with endPort, or a name resolved on the destination pod). It sits in tier
//     `default` at order 1000, a policy whose rules are all Allow.
//   Calico — calico-semantics.md §2 (labels), §3 (selectors, scoping table of §3.4, rule fields,
//     named ports, nets per IP family), §5 (tiers, order, Pass, Log, end-of-tier, profiles).
//   A flow — egress at the source pod, ingress at the destination pod, both must allow; a pod to
//     itself is allowed; an external address has no policy of its own.
import { parseSelectorAst } from '../../src/selector/index.ts';
import type { SelectorNode } from '../../src/selector/index.ts';
import type {
  CalicoPolicySpec,
  CalicoProtocol,
  CalicoRuleSpec,
  Direction,
  EntitySpec,
  FlowSpec,
  IcmpSpec,
  K8sPeerSpec,
  K8sPolicySpec,
  K8sPortSpec,
  K8sRuleSpec,
  LabelSelectorSpec,
  PodSpec,
  Scenario,
} from './scenario.ts';
import { podId } from './scenario.ts';
import type { Cidr, Ip } from './ip.ts';
import { cidrContainsIp, parseCidr, parseIp } from './ip.ts';

export type Verdict = 'allow' | 'deny';

export interface ReferenceDirection {
  readonly verdict: Verdict;
  /** What decided, in words: `tier/policy ingress rule 2 Allow`, `end of tier t`, `profile`. */
  readonly decidedBy: string;
}

export interface ReferenceResult {
  readonly verdict: Verdict;
  readonly loopback: boolean;
  readonly egress: ReferenceDirection | null;
  readonly ingress: ReferenceDirection | null;
}

type LabelMap = ReadonlyMap<string, string>;

// ---- selectors

/** What `all()` and `global()` evaluate to where a selector is used (they differ in §3.2 / §3.4). */
interface Specials {
  readonly all: boolean;
  readonly global: boolean;
}
const PLAIN: Specials = { all: true, global: true };

const parsed = new Map<string, SelectorNode>();

function selectorOf(text: string): SelectorNode {
  let node = parsed.get(text);
  if (node === undefined) {
    const r = parseSelectorAst(text);
    if (!r.ok) throw new Error(`generator wrote an invalid selector: ${JSON.stringify(text)}`);
    node = r.value;
    parsed.set(text, node);
  }
  return node;
}

/** §1.3, the table, one case per row. */
function evalNode(n: SelectorNode, labels: LabelMap, sp: Specials): boolean {
  switch (n.op) {
    case 'all':
      return sp.all;
    case 'global':
      return sp.global;
    case 'has':
      return labels.has(n.label);
    case 'eq':
      return labels.get(n.label) === n.value;
    case 'ne':
      return labels.get(n.label) !== n.value;
    case 'contains': {
      const v = labels.get(n.label);
      return v !== undefined && v.includes(n.value);
    }
    case 'starts-with': {
      const v = labels.get(n.label);
      return v !== undefined && v.startsWith(n.value);
    }
    case 'ends-with': {
      const v = labels.get(n.label);
      return v !== undefined && v.endsWith(n.value);
    }
    case 'in': {
      const v = labels.get(n.label);
      return v !== undefined && n.values.includes(v);
    }
    case 'not-in': {
      const v = labels.get(n.label);
      return v === undefined || !n.values.includes(v);
    }
    case 'not':
      return !evalNode(n.operand, labels, sp);
    case 'and':
      return n.operands.every((o) => evalNode(o, labels, sp));
    case 'or':
      return n.operands.some((o) => evalNode(o, labels, sp));
    default: {
      const never: never = n;
      throw new Error(`unknown selector node ${JSON.stringify(never)}`);
    }
  }
}

function matchesSelector(text: string, labels: LabelMap, sp: Specials = PLAIN): boolean {
  return evalNode(selectorOf(text), labels, sp);
}

/** Kubernetes label selector semantics (matchLabels AND matchExpressions; `{}` selects all). */
function matchesK8sSelector(s: LabelSelectorSpec, labels: LabelMap): boolean {
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels.get(k) !== v) return false;
  for (const e of s.matchExpressions ?? []) {
    const v = labels.get(e.key);
    switch (e.operator) {
      case 'In':
        if (v === undefined || !(e.values ?? []).includes(v)) return false;
        break;
      case 'NotIn':
        if (v !== undefined && (e.values ?? []).includes(v)) return false;
        break;
      case 'Exists':
        if (v === undefined) return false;
        break;
      case 'DoesNotExist':
        if (v !== undefined) return false;
        break;
    }
  }
  return true;
}

// ---- the cluster as Calico sees it (§2.2)

const LABEL_NAMESPACE = 'projectcalico.org/namespace';
const LABEL_ORCHESTRATOR = 'projectcalico.org/orchestrator';
const LABEL_SERVICE_ACCOUNT = 'projectcalico.org/serviceaccount';
const LABEL_NAME = 'projectcalico.org/name';
const K8S_NAMESPACE_NAME = 'kubernetes.io/metadata.name';

const PROTOCOL_NUMBER: Readonly<Record<string, number>> = { TCP: 6, UDP: 17, SCTP: 132, ICMP: 1, ICMPv6: 58 };

function protocolNumber(p: CalicoProtocol): number {
  return typeof p === 'number' ? p : PROTOCOL_NUMBER[p]!;
}

interface ContainerPort {
  readonly name: string | undefined;
  readonly protocol: number;
  readonly port: number;
}

/** Anything a selector can put into an IP set: a pod or a (Global)NetworkSet. */
interface Member {
  readonly what: string;
  readonly namespace: string | undefined;
  /** Own labels plus what Calico adds and inherits (§2.2). */
  readonly labels: LabelMap;
  /** What `pcns.`-prefixed labels see: the namespace's labels + projectcalico.org/name; absent when global. */
  readonly namespaceView: LabelMap | undefined;
  /** What `pcsa.`-prefixed labels see: the service account's labels + projectcalico.org/name; pods only. */
  readonly serviceAccountView: LabelMap | undefined;
  readonly addresses: readonly Ip[];
  readonly cidrs: readonly Cidr[];
  readonly pod: Pod | undefined;
}

interface Pod {
  readonly id: string;
  readonly spec: PodSpec;
  readonly namespace: string;
  readonly ownLabels: LabelMap;
  readonly addresses: readonly Ip[];
  readonly ports: readonly ContainerPort[];
  member: Member;
}

function memberHolds(m: Member, a: Ip): boolean {
  return m.addresses.some((x) => x.family === a.family && x.value === a.value) || m.cidrs.some((c) => cidrContainsIp(c, a));
}

// ---- policies

interface K8sPolicy {
  readonly dialect: 'k8s';
  readonly spec: K8sPolicySpec;
  readonly name: string;
  readonly namespace: string;
  readonly kind: 'KubernetesNetworkPolicy';
  readonly order: number;
  readonly types: ReadonlySet<Direction>;
}

interface CalicoPolicy {
  readonly dialect: 'calico';
  readonly spec: CalicoPolicySpec;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly kind: CalicoPolicySpec['kind'];
  readonly order: number;
  readonly types: ReadonlySet<Direction>;
}

type Policy = K8sPolicy | CalicoPolicy;

interface Tier {
  readonly name: string;
  readonly order: number | undefined;
  readonly defaultAction: 'Deny' | 'Pass';
  readonly policies: readonly Policy[];
}

/** The Kubernetes API server's defaulting of policyTypes. */
function k8sTypes(p: K8sPolicySpec): Set<Direction> {
  if (p.policyTypes !== undefined && p.policyTypes.length > 0) return new Set(p.policyTypes);
  return new Set<Direction>((p.egress ?? []).length > 0 ? ['Ingress', 'Egress'] : ['Ingress']);
}

/** Calico's API defaulting of `types` (§3.1). */
function calicoTypes(p: CalicoPolicySpec): Set<Direction> {
  if (p.types !== undefined && p.types.length > 0) return new Set(p.types);
  const ingress = (p.ingress ?? []).length > 0;
  const egress = (p.egress ?? []).length > 0;
  if (!egress) return new Set(['Ingress']);
  if (!ingress) return new Set(['Egress']);
  return new Set(['Ingress', 'Egress']);
}

/** §5.1 TierLess: ordered before unordered, ascending order, ties by name. */
function compareTiers(a: Tier, b: Tier): number {
  if (a.order === undefined && b.order !== undefined) return 1;
  if (a.order !== undefined && b.order === undefined) return -1;
  if (a.order !== undefined && b.order !== undefined && a.order !== b.order) return a.order - b.order;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** §5.2 PolKVLess (v3.32+): order (none = +∞), ties by the string `name/namespace/kind`. */
function comparePolicies(a: Policy, b: Policy): number {
  if (a.order !== b.order) return a.order < b.order ? -1 : 1;
  const ka = `${a.name}/${a.namespace ?? ''}/${a.kind}`;
  const kb = `${b.name}/${b.namespace ?? ''}/${b.kind}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

// ---- the model

export interface ReferenceModel {
  readonly scenario: Scenario;
  readonly pods: readonly Pod[];
  readonly members: readonly Member[];
  readonly tiers: readonly Tier[];
  /** Namespace labels as Kubernetes selectors see them (declared + kubernetes.io/metadata.name). */
  readonly k8sNamespaceLabels: ReadonlyMap<string, LabelMap>;
  readonly podById: ReadonlyMap<string, Pod>;
  /** Per rule side: the members its positive / separately negated selector puts in IP sets. */
  readonly sideCache: Map<EntitySpec, SideSets>;
  readonly selectsCache: Map<Policy, Map<Pod, boolean>>;
}

interface SideSets {
  /** Calico's positive selector after scoping (§3.4) with the notSelector folded in; undefined: none. */
  readonly positive: readonly Member[] | undefined;
  /** The notSelector kept as a separate negated match (no positive selector); undefined: none. */
  readonly negated: readonly Member[] | undefined;
}

function mapOf(o: Readonly<Record<string, string>>): Map<string, string> {
  return new Map(Object.entries(o));
}

export function buildReferenceModel(s: Scenario): ReferenceModel {
  const k8sNamespaceLabels = new Map<string, LabelMap>();
  const calicoNamespaceView = new Map<string, LabelMap>();
  for (const ns of s.namespaces) {
    const labels = mapOf(ns.labels);
    labels.set(K8S_NAMESPACE_NAME, ns.name);
    k8sNamespaceLabels.set(ns.name, labels);
    const view = new Map(labels);
    view.set(LABEL_NAME, ns.name);
    calicoNamespaceView.set(ns.name, view);
  }
  const saView = (namespace: string, sa: string): LabelMap => {
    const decl = s.serviceAccounts.find((a) => a.namespace === namespace && a.name === sa);
    const view = mapOf(decl?.labels ?? {});
    view.set(LABEL_NAME, sa);
    return view;
  };
  /** Own labels first, then inherited profile labels under their prefixes (§2.1, first wins). */
  const inherit = (own: Map<string, string>, prefix: string, view: LabelMap | undefined): void => {
    for (const [k, v] of view ?? []) if (!own.has(prefix + k)) own.set(prefix + k, v);
  };

  const pods: Pod[] = [];
  const members: Member[] = [];
  for (const spec of s.pods) {
    const sa = spec.serviceAccountName ?? 'default';
    const labels = mapOf(spec.labels);
    labels.set(LABEL_NAMESPACE, spec.namespace);
    labels.set(LABEL_ORCHESTRATOR, 'k8s');
    if (sa.length > 0 && sa.length < 63) labels.set(LABEL_SERVICE_ACCOUNT, sa);
    const nsView = calicoNamespaceView.get(spec.namespace);
    const saLabels = saView(spec.namespace, sa);
    inherit(labels, 'pcns.', nsView);
    inherit(labels, 'pcsa.', saLabels);
    const addresses = spec.ips.map((t) => {
      const ip = parseIp(t);
      if (ip === undefined) throw new Error(`bad pod address ${t}`);
      return ip;
    });
    const pod: Pod = {
      id: podId(spec),
      spec,
      namespace: spec.namespace,
      ownLabels: mapOf(spec.labels),
      addresses,
      ports: spec.ports.map((p) => ({ name: p.name, protocol: PROTOCOL_NUMBER[p.protocol ?? 'TCP']!, port: p.containerPort })),
      member: undefined as unknown as Member,
    };
    pod.member = { what: `pod ${pod.id}`, namespace: spec.namespace, labels, namespaceView: nsView, serviceAccountView: saLabels, addresses, cidrs: [], pod };
    pods.push(pod);
    members.push(pod.member);
  }
  for (const n of s.networkSets) {
    const labels = mapOf(n.labels);
    let nsView: LabelMap | undefined;
    if (n.kind === 'NetworkSet') {
      labels.set(LABEL_NAMESPACE, n.namespace!);
      nsView = calicoNamespaceView.get(n.namespace!);
      inherit(labels, 'pcns.', nsView);
    }
    const cidrs = n.nets.map((t) => {
      const c = parseCidr(t);
      if (c === undefined) throw new Error(`bad network set CIDR ${t}`);
      return c;
    });
    members.push({
      what: `${n.kind} ${n.namespace === undefined ? '' : `${n.namespace}/`}${n.name}`,
      namespace: n.namespace,
      labels,
      namespaceView: nsView,
      serviceAccountView: undefined,
      addresses: [],
      cidrs,
      pod: undefined,
    });
  }

  const policies: Policy[] = [
    ...s.k8sPolicies.map(
      (spec): K8sPolicy => ({ dialect: 'k8s', spec, name: spec.name, namespace: spec.namespace, kind: 'KubernetesNetworkPolicy', order: 1000, types: k8sTypes(spec) }),
    ),
    ...s.calicoPolicies.map(
      (spec): CalicoPolicy => ({
        dialect: 'calico',
        spec,
        name: spec.name,
        namespace: spec.namespace,
        kind: spec.kind,
        order: spec.order ?? Number.POSITIVE_INFINITY,
        types: calicoTypes(spec),
      }),
    ),
  ];
  const tierOf = (p: Policy): string => (p.dialect === 'k8s' ? 'default' : (p.spec.tier ?? 'default'));
  const tierSpecs = [{ name: 'default', order: 1_000_000 as number | undefined, defaultAction: 'Deny' as const }, ...s.tiers.map((t) => ({ name: t.name, order: t.order, defaultAction: t.defaultAction ?? 'Deny' }))];
  const tiers: Tier[] = tierSpecs
    .map((t) => ({ ...t, policies: policies.filter((p) => tierOf(p) === t.name).sort(comparePolicies) }))
    .sort(compareTiers);
  for (const p of policies) if (!tiers.some((t) => t.name === tierOf(p))) throw new Error(`generator used an undeclared tier ${tierOf(p)}`);

  return {
    scenario: s,
    pods,
    members,
    tiers,
    k8sNamespaceLabels,
    podById: new Map(pods.map((p) => [p.id, p])),
    sideCache: new Map(),
    selectsCache: new Map(),
  };
}

// ---- which policies select a pod (§3.2, §8.1)

function hasServiceAccountLabel(pod: Pod): boolean {
  return pod.member.labels.has(LABEL_SERVICE_ACCOUNT);
}

function policySelects(model: ReferenceModel, p: Policy, pod: Pod): boolean {
  let byPod = model.selectsCache.get(p);
  if (byPod === undefined) model.selectsCache.set(p, (byPod = new Map()));
  let v = byPod.get(pod);
  if (v === undefined) {
    v = computePolicySelects(p, pod);
    byPod.set(pod, v);
  }
  return v;
}

function computePolicySelects(p: Policy, pod: Pod): boolean {
  if (p.dialect === 'k8s') return pod.namespace === p.namespace && matchesK8sSelector(p.spec.podSelector, pod.ownLabels);
  const spec = p.spec;
  const m = pod.member;
  const given = (t: string | undefined): t is string => t !== undefined && t !== '';
  if (spec.kind === 'NetworkPolicy') {
    // The namespace clause, then the serviceAccountSelector on pcsa. labels, whose all() is *not* rewritten.
    if (pod.namespace !== spec.namespace) return false;
    if (given(spec.selector) && !matchesSelector(spec.selector, m.labels)) return false;
    if (given(spec.serviceAccountSelector) && !matchesSelector(spec.serviceAccountSelector, m.serviceAccountView ?? new Map())) return false;
    return true;
  }
  // GlobalNetworkPolicy: Calico rewrites every all() in the selector text built so far — first to
  // "in a namespace" once a namespaceSelector is appended, then to "has a service account label"
  // once a serviceAccountSelector is (§3.2). Here that is what all() evaluates to in each part.
  const namespaced = m.namespace !== undefined;
  const withSa = hasServiceAccountLabel(pod);
  const nsGiven = given(spec.namespaceSelector);
  const saGiven = given(spec.serviceAccountSelector);
  const selectorAll = nsGiven ? namespaced : saGiven ? withSa : true;
  if (given(spec.selector) && !matchesSelector(spec.selector, m.labels, { all: selectorAll, global: true })) return false;
  if (nsGiven) {
    const nsAll = namespaced; // rewritten by the first replacement; the second finds none left
    if (!matchesSelector(spec.namespaceSelector!, m.namespaceView ?? new Map(), { all: nsAll, global: true })) return false;
  }
  if (saGiven && !matchesSelector(spec.serviceAccountSelector!, m.serviceAccountView ?? new Map(), { all: withSa, global: true })) return false;
  return true;
}

// ---- the packet

interface End {
  readonly pod: Pod | undefined;
  readonly address: Ip;
}

interface Packet {
  readonly src: End;
  readonly dst: End;
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly port: number | undefined;
  readonly icmp: { readonly type: number; readonly code: number } | undefined;
}

function resolvePacket(model: ReferenceModel, f: FlowSpec): Packet {
  const lookup = (text: string): { pod: Pod | undefined; fixed: Ip | undefined } => {
    const pod = model.podById.get(text);
    if (pod !== undefined) return { pod, fixed: undefined };
    const ip = parseIp(text);
    if (ip === undefined) throw new Error(`flow end ${text} is neither a pod nor an address`);
    const owner = model.pods.find((p) => p.addresses.some((a) => a.family === ip.family && a.value === ip.value));
    return { pod: owner, fixed: ip };
  };
  const a = lookup(f.from);
  const b = lookup(f.to);
  const family = a.fixed?.family ?? b.fixed?.family ?? 4;
  const end = (x: { pod: Pod | undefined; fixed: Ip | undefined }, text: string): End => {
    const address = x.fixed ?? x.pod?.addresses.find((ip) => ip.family === family);
    if (address === undefined) throw new Error(`flow end ${text} has no IPv${family} address`);
    return { pod: x.pod, address };
  };
  const isIcmp = f.protocol === 'ICMP';
  return {
    src: end(a, f.from),
    dst: end(b, f.to),
    family,
    protocol: isIcmp ? (family === 4 ? 1 : 58) : PROTOCOL_NUMBER[f.protocol]!,
    port: isIcmp ? undefined : f.port,
    icmp: isIcmp ? { type: f.icmpType ?? (family === 4 ? 8 : 128), code: f.icmpCode ?? 0 } : undefined,
  };
}

// ---- Kubernetes rules

function k8sPeerMatches(model: ReferenceModel, policy: K8sPolicy, peer: K8sPeerSpec, end: End): boolean {
  if (peer.ipBlock !== undefined) {
    const cidr = parseCidr(peer.ipBlock.cidr)!;
    if (!cidrContainsIp(cidr, end.address)) return false;
    return !(peer.ipBlock.except ?? []).some((e) => cidrContainsIp(parseCidr(e)!, end.address));
  }
  // Selector peers select pods only.
  const pod = end.pod;
  if (pod === undefined) return false;
  const inNamespace =
    peer.namespaceSelector === undefined
      ? pod.namespace === policy.namespace
      : matchesK8sSelector(peer.namespaceSelector, model.k8sNamespaceLabels.get(pod.namespace)!);
  return inNamespace && (peer.podSelector === undefined || matchesK8sSelector(peer.podSelector, pod.ownLabels));
}

function k8sPortMatches(port: K8sPortSpec, dst: End, pkt: Packet): boolean {
  const protocol = PROTOCOL_NUMBER[port.protocol ?? 'TCP']!;
  if (pkt.protocol !== protocol) return false;
  if (port.port === undefined) return true;
  if (pkt.port === undefined) return false;
  if (typeof port.port === 'number') {
    return port.endPort === undefined ? pkt.port === port.port : pkt.port >= port.port && pkt.port <= port.endPort;
  }
  // A named port means whatever the destination pod calls by that name, for that protocol.
  const name = port.port;
  return dst.pod !== undefined && dst.pod.ports.some((q) => q.name === name && q.protocol === protocol && q.port === pkt.port);
}

function k8sRuleMatches(model: ReferenceModel, policy: K8sPolicy, rule: K8sRuleSpec, dir: Direction, pkt: Packet): boolean {
  const peerEnd = dir === 'Ingress' ? pkt.src : pkt.dst;
  const peersOk = rule.peers === undefined || rule.peers.length === 0 || rule.peers.some((p) => k8sPeerMatches(model, policy, p, peerEnd));
  const portsOk = rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((p) => k8sPortMatches(p, pkt.dst, pkt));
  return peersOk && portsOk;
}

// ---- Calico rules

function given(t: string | undefined): t is string {
  return t !== undefined && t !== '';
}

/**
 * §3.4's table as a predicate over members: the namespace part (the rule's namespaceSelector, or
 * the policy's own namespace for a NetworkPolicy), the service-account part and the selector,
 * combined exactly when Calico combines them; the notSelector folded in when a positive part exists.
 */
function computeSideSets(model: ReferenceModel, side: EntitySpec, policyNamespace: string | undefined): SideSets {
  const sa = side.serviceAccounts;
  const saNames = sa?.names ?? [];
  const saSelector = sa?.selector;
  const hasSaPart = given(saSelector) || saNames.length > 0;
  const hasSelector = given(side.selector);
  const nsGiven = given(side.namespaceSelector);
  const hasNot = given(side.notSelector);

  // namespaceSelector: the member's namespace labels must match; all() = "any namespace",
  // global() = "not in a namespace" (GlobalNetworkSets, host endpoints).
  const nsPart: ((m: Member) => boolean) | undefined = nsGiven
    ? (m) =>
        m.namespaceView !== undefined
          ? matchesSelector(side.namespaceSelector!, m.namespaceView, { all: true, global: false })
          : matchesSelector(side.namespaceSelector!, new Map(), { all: false, global: true })
    : policyNamespace !== undefined
      ? (m) => m.namespace === policyNamespace
      : undefined;
  const saPart = (m: Member): boolean => {
    if (saNames.length > 0) {
      const name = m.labels.get(LABEL_SERVICE_ACCOUNT);
      if (name === undefined || !saNames.includes(name)) return false;
    }
    return !given(saSelector) || matchesSelector(saSelector, m.serviceAccountView ?? new Map());
  };
  const selPart = hasSaPart || hasSelector ? (m: Member): boolean => saPart(m) && (!hasSelector || matchesSelector(side.selector!, m.labels)) : undefined;

  let positive: ((m: Member) => boolean) | undefined;
  if (nsPart !== undefined && (selPart !== undefined || hasNot || nsGiven)) positive = (m) => nsPart(m) && (selPart === undefined || selPart(m));
  else positive = selPart;

  const notSel = (m: Member): boolean => matchesSelector(side.notSelector!, m.labels);
  if (positive !== undefined) {
    const pos = positive;
    const folded = hasNot ? (m: Member): boolean => pos(m) && !notSel(m) : pos;
    return { positive: model.members.filter(folded), negated: undefined };
  }
  return { positive: undefined, negated: hasNot ? model.members.filter(notSel) : undefined };
}

function sideSets(model: ReferenceModel, side: EntitySpec, policyNamespace: string | undefined): SideSets {
  let sets = model.sideCache.get(side);
  if (sets === undefined) {
    sets = computeSideSets(model, side, policyNamespace);
    model.sideCache.set(side, sets);
  }
  return sets;
}

interface PortSplit {
  readonly ranges: readonly { readonly min: number; readonly max: number }[];
  readonly names: readonly string[];
}

function splitPorts(ports: readonly (number | string)[]): PortSplit {
  const ranges: { min: number; max: number }[] = [];
  const names: string[] = [];
  for (const p of ports) {
    if (typeof p === 'number') ranges.push({ min: p, max: p });
    else if (/^\d+:\d+$/.test(p)) {
      const [lo, hi] = p.split(':').map(Number);
      ranges.push({ min: lo!, max: hi! });
    } else if (/^\d+$/.test(p)) ranges.push({ min: Number(p), max: Number(p) });
    else names.push(p);
  }
  return { ranges, names };
}

/**
 * A named port is an IP set of (address, protocol, port) of the pods that own a port by that name
 * (of the rule's protocol, or any protocol when the rule has none), filtered by the side's
 * positive selector when there is one (§3.3).
 */
function namedPortMatches(model: ReferenceModel, names: readonly string[], positive: readonly Member[] | undefined, ruleProtocol: number | undefined, a: Ip, pkt: Packet): boolean {
  if (names.length === 0 || pkt.port === undefined) return false;
  const owners = positive ?? model.members;
  return owners.some(
    (m) =>
      m.pod !== undefined &&
      m.addresses.some((x) => x.family === a.family && x.value === a.value) &&
      m.pod.ports.some((q) => q.name !== undefined && names.includes(q.name) && (ruleProtocol === undefined || q.protocol === ruleProtocol) && q.protocol === pkt.protocol && q.port === pkt.port),
  );
}

function netsFor(list: readonly string[], family: 4 | 6): Cidr[] {
  return list.map((t) => parseCidr(t)!).filter((c) => c.family === family);
}

function calicoSideMatches(model: ReferenceModel, side: EntitySpec | undefined, policyNamespace: string | undefined, end: End, port: number | undefined, ruleProtocol: number | undefined, pkt: Packet): boolean {
  if (side === undefined) return true;
  const a = end.address;
  // nets / notNets: only this family's CIDRs count; a non-empty list with none of them leaves the
  // rule out for this family (§3.3, FilterRuleToIPVersion).
  if (side.nets !== undefined && side.nets.length > 0) {
    const nets = netsFor(side.nets, pkt.family);
    if (nets.length === 0 || !nets.some((c) => cidrContainsIp(c, a))) return false;
  }
  if (side.notNets !== undefined && side.notNets.length > 0) {
    const nets = netsFor(side.notNets, pkt.family);
    if (nets.length === 0 || nets.some((c) => cidrContainsIp(c, a))) return false;
  }
  const sets = sideSets(model, side, policyNamespace);
  const ports = splitPorts(side.ports ?? []);
  const notPorts = splitPorts(side.notPorts ?? []);
  // The plain selector IP set is dropped when only named ports are given: they carry it (rule_scanner.go).
  if (sets.positive !== undefined && (ports.ranges.length > 0 || ports.names.length === 0)) {
    if (!sets.positive.some((m) => memberHolds(m, a))) return false;
  }
  if (sets.negated !== undefined && sets.negated.some((m) => memberHolds(m, a))) return false;
  const inRanges = (s: PortSplit): boolean => port !== undefined && s.ranges.some((r) => port >= r.min && port <= r.max);
  if (ports.ranges.length + ports.names.length > 0) {
    if (!(inRanges(ports) || namedPortMatches(model, ports.names, sets.positive, ruleProtocol, a, pkt))) return false;
  }
  if (notPorts.ranges.length + notPorts.names.length > 0) {
    if (inRanges(notPorts) || namedPortMatches(model, notPorts.names, sets.positive, ruleProtocol, a, pkt)) return false;
  }
  return true;
}

function icmpEquals(m: IcmpSpec, pkt: Packet): boolean {
  return pkt.icmp !== undefined && m.type === pkt.icmp.type && (m.code === undefined || m.code === pkt.icmp.code);
}

function calicoRuleMatches(model: ReferenceModel, policy: CalicoPolicy, rule: CalicoRuleSpec, pkt: Packet): boolean {
  if (rule.ipVersion !== undefined && rule.ipVersion !== pkt.family) return false;
  const protocol = rule.protocol === undefined ? undefined : protocolNumber(rule.protocol);
  if (protocol !== undefined && protocol !== pkt.protocol) return false;
  if (rule.notProtocol !== undefined && protocolNumber(rule.notProtocol) === pkt.protocol) return false;
  if (rule.icmp !== undefined && !icmpEquals(rule.icmp, pkt)) return false;
  if (rule.notICMP !== undefined && icmpEquals(rule.notICMP, pkt)) return false;
  if (rule.source?.ports !== undefined || rule.source?.notPorts !== undefined) throw new Error('the generator does not write source ports');
  return (
    calicoSideMatches(model, rule.source, policy.namespace, pkt.src, undefined, protocol, pkt) &&
    calicoSideMatches(model, rule.destination, policy.namespace, pkt.dst, pkt.port, protocol, pkt)
  );
}

// ---- tiers (§5.4)

function evaluateDirection(model: ReferenceModel, pod: Pod, dir: Direction, pkt: Packet): ReferenceDirection {
  for (const tier of model.tiers) {
    const applicable = tier.policies.filter((p) => p.types.has(dir) && policySelects(model, p, pod));
    if (applicable.length === 0) continue;
    let passed = false;
    policies: for (const p of applicable) {
      const where = `${tier.name}/${p.kind}/${p.namespace === undefined ? '' : `${p.namespace}/`}${p.name} ${dir.toLowerCase()} rule`;
      if (p.dialect === 'k8s') {
        const rules = (dir === 'Ingress' ? p.spec.ingress : p.spec.egress) ?? [];
        for (const [i, rule] of rules.entries()) {
          if (k8sRuleMatches(model, p, rule, dir, pkt)) return { verdict: 'allow', decidedBy: `${where} ${i} (Kubernetes allow)` };
        }
        continue;
      }
      const rules = (dir === 'Ingress' ? p.spec.ingress : p.spec.egress) ?? [];
      for (const [i, rule] of rules.entries()) {
        if (!calicoRuleMatches(model, p, rule, pkt)) continue;
        switch (rule.action) {
          case 'Log':
            continue;
          case 'Allow':
            return { verdict: 'allow', decidedBy: `${where} ${i} Allow` };
          case 'Deny':
            return { verdict: 'deny', decidedBy: `${where} ${i} Deny` };
          case 'Pass':
            passed = true;
            break policies;
        }
      }
    }
    if (!passed && tier.defaultAction !== 'Pass') return { verdict: 'deny', decidedBy: `end of tier ${tier.name}` };
  }
  return { verdict: 'allow', decidedBy: 'profile (namespace default allow)' };
}

export function evaluateReference(model: ReferenceModel, flow: FlowSpec): ReferenceResult {
  const pkt = resolvePacket(model, flow);
  if (pkt.src.pod !== undefined && pkt.src.pod === pkt.dst.pod) return { verdict: 'allow', loopback: true, egress: null, ingress: null };
  const egress = pkt.src.pod === undefined ? null : evaluateDirection(model, pkt.src.pod, 'Egress', pkt);
  const ingress = pkt.dst.pod === undefined ? null : evaluateDirection(model, pkt.dst.pod, 'Ingress', pkt);
  const verdict = (egress?.verdict ?? 'allow') === 'allow' && (ingress?.verdict ?? 'allow') === 'allow' ? 'allow' : 'deny';
  return { verdict, loopback: false, egress, ingress };
}
