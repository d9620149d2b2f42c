// The upstream Kubernetes admin policies (kubernetes-sigs/network-policy-api) → internal policies:
// AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1) and ClusterNetworkPolicy
// (v1alpha2). Calico 3.32 converts a ClusterNetworkPolicy into a GlobalNetworkPolicy in tier
// `kube-admin` (Admin) or `kube-baseline` (Baseline) with `order = priority`
// (libcalico-go/lib/backend/k8s/conversion/clusternetworkpolicy.go). Calico 3.32 dropped its
// AdminNetworkPolicy/BaselineAdminNetworkPolicy support (projectcalico/calico#11144); Strata places
// them in the same two tiers and converts them with the same rules as their successor, because
// the two APIs differ only in spelling (Allow ↔ Accept, `ports` ↔ `protocols`). The baseline
// policy's order is 1000, as Calico ≤ 3.31 gave it.
//
// The conversion builds the v3 policy Calico builds and hands it to convert-policy.ts, so every
// selector is composed exactly as for a GlobalNetworkPolicy. Per rule: one v3 rule per protocol
// (sorted by name) × peer; a rule Calico cannot convert fails closed as the upstream API asks
// (Deny/Pass → one deny-all rule, Allow/Accept → dropped). Node peers, which Strata cannot
// represent, match nothing.
import type { Diagnostic } from '../diagnostics/index.ts';
import { formatPath } from '../diagnostics/index.ts';
import type { FieldPath, Origin } from '../model/origin.ts';
import { k8sSelectorText } from './compose.ts';
import { convertPolicy } from './convert-policy.ts';
import type { V3EntityRule, V3PolicySpec, V3Rule } from './convert-policy.ts';
import type { Policy, PolicyKind } from './model.ts';
import { KUBE_ADMIN_TIER, KUBE_BASELINE_TIER } from './ordering.ts';

/** metav1.LabelSelector as the model validated it. */
export interface AdminLabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined;
  readonly matchExpressions?: readonly { readonly key: string; readonly operator: string; readonly values?: readonly string[] | undefined }[] | undefined;
}

/** An absent selector is Go's zero value, an empty selector: everything (the model warns). */
interface NamespacedPod {
  readonly namespaceSelector?: AdminLabelSelector | undefined;
  readonly podSelector?: AdminLabelSelector | undefined;
}

/** A subject or a peer of either API version: exactly one field is set (validated by the model). */
export interface AdminPeer {
  readonly namespaces?: AdminLabelSelector | undefined;
  readonly pods?: NamespacedPod | undefined;
  readonly nodes?: AdminLabelSelector | undefined;
  readonly networks?: readonly string[] | undefined;
  readonly domainNames?: readonly string[] | undefined;
}

/** v1alpha1 AdminNetworkPolicyPort. */
interface V1Alpha1Port {
  readonly portNumber?: { readonly protocol?: string | undefined; readonly port: number } | undefined;
  readonly namedPort?: string | undefined;
  readonly portRange?: { readonly protocol?: string | undefined; readonly start: number; readonly end: number } | undefined;
}

interface V1Alpha2DestinationPort {
  readonly number?: number | undefined;
  readonly range?: { readonly start: number; readonly end: number } | undefined;
}

/** v1alpha2 ClusterNetworkPolicyProtocol. */
interface V1Alpha2Protocol {
  readonly tcp?: { readonly destinationPort?: V1Alpha2DestinationPort | undefined } | undefined;
  readonly udp?: { readonly destinationPort?: V1Alpha2DestinationPort | undefined } | undefined;
  readonly sctp?: { readonly destinationPort?: V1Alpha2DestinationPort | undefined } | undefined;
  readonly destinationNamedPort?: string | undefined;
}

interface AdminRule {
  readonly name?: string | undefined;
  readonly action: string;
  readonly from?: readonly AdminPeer[] | undefined;
  readonly to?: readonly AdminPeer[] | undefined;
  readonly ports?: readonly V1Alpha1Port[] | undefined;
  readonly protocols?: readonly V1Alpha2Protocol[] | undefined;
}

export interface AdminPolicySpec {
  readonly tier?: string | undefined;
  readonly priority?: number | undefined;
  readonly subject: AdminPeer;
  readonly ingress?: readonly AdminRule[] | undefined;
  readonly egress?: readonly AdminRule[] | undefined;
}

export type AdminKind = 'AdminNetworkPolicy' | 'BaselineAdminNetworkPolicy' | 'ClusterNetworkPolicy';

export interface AdminPolicySource {
  readonly kind: AdminKind;
  readonly name: string;
  readonly spec: AdminPolicySpec;
  readonly origin: Origin;
}

export interface AdminConversion {
  /** Undefined when Calico would drop the whole policy (a tier that is neither Admin nor Baseline). */
  readonly policy: Policy | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

/** Calico ≤ 3.31 gave the single baseline policy this order (conversion.go, BANP). */
export const BASELINE_ADMIN_ORDER = 1000;

/** Allow (v1alpha1) and Accept (v1alpha2) are Calico's Allow; Deny and Pass keep their meaning. */
const ACTIONS: Readonly<Record<string, 'Allow' | 'Deny' | 'Pass'>> = { Allow: 'Allow', Accept: 'Allow', Deny: 'Deny', Pass: 'Pass' };

/** One destination port criterion: a protocol ('' for a named port, which matches any) and a v3 port. */
interface PortItem {
  readonly protocol: string;
  readonly port: number | string | undefined;
}

function v1alpha1Ports(ports: readonly V1Alpha1Port[]): PortItem[] {
  return ports.map((p): PortItem => {
    if (p.portNumber !== undefined) return { protocol: p.portNumber.protocol ?? 'TCP', port: p.portNumber.port };
    if (p.portRange !== undefined) return { protocol: p.portRange.protocol ?? 'TCP', port: `${p.portRange.start}:${p.portRange.end}` };
    // A named port carries no protocol: Felix then matches the name on any protocol
    // (felix/calc/rule_scanner.go, ipsetmember.ProtocolAny), as Calico 3.32 does for CNPs.
    return { protocol: '', port: p.namedPort ?? '' };
  });
}

function destinationPort(d: V1Alpha2DestinationPort | undefined): number | string | undefined {
  if (d === undefined) return undefined;
  if (d.number !== undefined) return d.number;
  if (d.range !== undefined) return `${d.range.start}:${d.range.end}`;
  return undefined;
}

function v1alpha2Ports(protocols: readonly V1Alpha2Protocol[]): PortItem[] {
  return protocols.map((p): PortItem => {
    if (p.tcp !== undefined) return { protocol: 'TCP', port: destinationPort(p.tcp.destinationPort) };
    if (p.udp !== undefined) return { protocol: 'UDP', port: destinationPort(p.udp.destinationPort) };
    if (p.sctp !== undefined) return { protocol: 'SCTP', port: destinationPort(p.sctp.destinationPort) };
    return { protocol: '', port: p.destinationNamedPort ?? '' };
  });
}

/**
 * Ports grouped by protocol as Calico does: a protocol without a port means all its ports and
 * absorbs that protocol's other entries; no ports at all is one group with neither protocol nor
 * ports. Groups come back sorted by protocol name ('' first), each one v3 rule per peer.
 */
export function groupPorts(items: readonly PortItem[]): { protocol: string | undefined; ports: (number | string)[] | undefined }[] {
  if (items.length === 0) return [{ protocol: undefined, ports: undefined }];
  const groups = new Map<string, (number | string)[] | undefined>();
  for (const item of items) {
    if (!groups.has(item.protocol)) groups.set(item.protocol, []);
    const current = groups.get(item.protocol);
    if (item.port === undefined) groups.set(item.protocol, undefined);
    else if (current !== undefined) current.push(item.port);
  }
  return [...groups.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((protocol) => ({ protocol: protocol === '' ? undefined : protocol, ports: groups.get(protocol) }));
}

/** Which peer field is set; the model guarantees exactly one. */
function peerField(peer: AdminPeer): keyof AdminPeer | undefined {
  for (const k of ['namespaces', 'pods', 'nodes', 'networks', 'domainNames'] as const) if (peer[k] !== undefined) return k;
  return undefined;
}

/**
 * The v3 entity a peer becomes; `skip` for a peer Strata cannot represent (it matches nothing),
 * `fail` for one that should not exist after validation (the rule then fails closed).
 */
type PeerConversion = { kind: 'entity'; entity: V3EntityRule } | { kind: 'skip'; why: string } | { kind: 'fail'; why: string };

function peerEntity(peer: AdminPeer, egress: boolean): PeerConversion {
  if (peer.namespaces !== undefined) return { kind: 'entity', entity: { namespaceSelector: k8sSelectorText(peer.namespaces, 'namespace') } };
  if (peer.pods !== undefined) {
    return {
      kind: 'entity',
      entity: { selector: k8sSelectorText(peer.pods.podSelector ?? {}, 'pod'), namespaceSelector: k8sSelectorText(peer.pods.namespaceSelector ?? {}, 'namespace') },
    };
  }
  if (egress && peer.networks !== undefined) return { kind: 'entity', entity: { nets: peer.networks } };
  // Calico Enterprise's DNS policy (`destination.domains`) is the representation. The API
  // supports domain names in Allow rules only; the engine matches them in any rule.
  if (egress && peer.domainNames !== undefined) return { kind: 'entity', entity: { domains: peer.domainNames } };
  if (egress && peer.nodes !== undefined) {
    // Node addresses are not known to Strata (no Node objects). The peer matches nothing and the
    // rule keeps its other peers, as np-guard reads it; Calico 3.32 would instead reject the
    // whole rule and fail closed.
    return { kind: 'skip', why: 'nodes peers are not represented (Strata has no Node objects): this peer matches nothing' };
  }
  return { kind: 'fail', why: 'the peer sets none of the fields this kind supports' };
}

interface DirectionResult {
  readonly rules: V3Rule[];
  readonly paths: FieldPath[];
}

function convertDirection(src: AdminPolicySource, dir: 'ingress' | 'egress', diagnostics: Diagnostic[]): DirectionResult {
  const rules: V3Rule[] = [];
  const paths: FieldPath[] = [];
  const peersKey = dir === 'ingress' ? 'from' : 'to';
  (src.spec[dir] ?? []).forEach((rule, i) => {
    const rulePath: FieldPath = ['spec', dir, i];
    const action = ACTIONS[rule.action];
    const peers = rule[peersKey] ?? [];
    const failures: { path: FieldPath; why: string }[] = [];
    const entities: { entity: V3EntityRule; path: FieldPath }[] = [];
    if (action === undefined) {
      failures.push({ path: [...rulePath, 'action'], why: `action "${rule.action}" is not known` });
    } else {
      peers.forEach((peer, j) => {
        const r = peerEntity(peer, dir === 'egress');
        const path: FieldPath = [...rulePath, peersKey, j];
        if (r.kind === 'entity') entities.push({ entity: r.entity, path });
        else if (r.kind === 'fail') failures.push({ path: [...path, peerField(peer) ?? ''], why: r.why });
        else {
          const at: FieldPath = [...path, peerField(peer) ?? ''];
          diagnostics.push({
            code: 'engine/admin-peer-not-represented',
            severity: 'warning',
            message: `${src.kind} "${src.name}" ${dir} rule ${i}${rule.name === undefined ? '' : ` ("${rule.name}")`}: ${r.why}`,
            span: src.origin.spanOf(at),
            path: formatPath(at),
          });
        }
      });
    }
    if (failures.length > 0) {
      // Calico drops a rule it cannot convert and, for Deny and Pass, puts a deny-all rule in its
      // place: the fail-closed behaviour the upstream API asks of implementations.
      const failClosed = action === 'Deny' || action === 'Pass' || action === undefined;
      const first = failures[0]!;
      diagnostics.push({
        code: 'engine/admin-rule-fails-closed',
        severity: 'warning',
        message: `${src.kind} "${src.name}" ${dir} rule ${i}${rule.name === undefined ? '' : ` ("${rule.name}")`}: ${first.why}; the rule ${failClosed ? 'is replaced by a rule denying all traffic' : 'matches nothing'} (fail closed, as Calico does)`,
        span: src.origin.spanOf(first.path),
        path: formatPath(first.path),
      });
      if (failClosed) {
        rules.push({ action: 'Deny' });
        paths.push(rulePath);
      }
      return;
    }
    const groups = groupPorts(rule.protocols !== undefined ? v1alpha2Ports(rule.protocols) : v1alpha1Ports(rule.ports ?? []));
    for (const g of groups) {
      for (const { entity, path } of entities) {
        const ports = g.ports === undefined ? {} : { ports: g.ports };
        const v3: V3Rule =
          dir === 'ingress'
            ? { action: action!, protocol: g.protocol, source: entity, destination: ports }
            : { action: action!, protocol: g.protocol, destination: { ...entity, ...ports } };
        rules.push(v3);
        paths.push(path);
      }
    }
  });
  return { rules, paths };
}

function tierOf(src: AdminPolicySource): string | undefined {
  switch (src.kind) {
    case 'AdminNetworkPolicy':
      return KUBE_ADMIN_TIER;
    case 'BaselineAdminNetworkPolicy':
      return KUBE_BASELINE_TIER;
    case 'ClusterNetworkPolicy':
      return src.spec.tier === 'Admin' ? KUBE_ADMIN_TIER : src.spec.tier === 'Baseline' ? KUBE_BASELINE_TIER : undefined;
    default:
      return undefined;
  }
}

export function convertAdminPolicy(src: AdminPolicySource): AdminConversion {
  const diagnostics: Diagnostic[] = [];
  const tier = tierOf(src);
  if (tier === undefined) {
    // Calico 3.32 returns a tombstone for such a policy: it is removed, not enforced.
    diagnostics.push({
      code: 'engine/admin-policy-dropped',
      severity: 'error',
      message: `${src.kind} "${src.name}" has tier "${src.spec.tier ?? ''}", which is neither Admin nor Baseline: Calico ignores the policy`,
      span: src.origin.spanOf(['spec', 'tier']),
      path: 'spec.tier',
    });
    return { policy: undefined, diagnostics };
  }
  const { subject } = src.spec;
  // A namespaces subject still excludes host endpoints: Calico adds the pod orchestrator clause.
  const namespaceSelector = k8sSelectorText(subject.pods !== undefined ? (subject.pods.namespaceSelector ?? {}) : subject.namespaces, 'namespace');
  const selector = k8sSelectorText(subject.pods?.podSelector ?? {}, 'pod');
  const ingress = convertDirection(src, 'ingress', diagnostics);
  const egress = convertDirection(src, 'egress', diagnostics);
  const kind: PolicyKind = src.kind;
  const spec: V3PolicySpec = {
    tier,
    order: src.kind === 'BaselineAdminNetworkPolicy' ? BASELINE_ADMIN_ORDER : src.spec.priority,
    selector,
    namespaceSelector,
    ingress: ingress.rules,
    egress: egress.rules,
  };
  const converted = convertPolicy({
    kind,
    name: src.name,
    namespace: undefined,
    spec,
    origin: src.origin,
    rulePaths: { ingress: ingress.paths, egress: egress.paths },
  });
  // Calico sets the types to the directions that have rules; a policy with none has no types,
  // which Felix reads as both (felix/calc/policy_sorter.go): selected, no rule, end of tier (Pass).
  const none = ingress.rules.length === 0 && egress.rules.length === 0;
  const types = { ingress: none || ingress.rules.length > 0, egress: none || egress.rules.length > 0 };
  return { policy: { ...converted, types }, diagnostics };
}
