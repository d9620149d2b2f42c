// Kubernetes NetworkPolicy → Calico v3 policy, the way Calico converts it
// (libcalico-go/lib/backend/k8s/conversion/conversion.go, K8sNetworkPolicyToCalico):
//   tier `default`, order 1000; selector `projectcalico.org/orchestrator == 'k8s' && <podSelector>`;
//   types from policyTypes (after the API server's defaulting: none → Ingress, plus Egress when
//   there are egress rules); every rule becomes Allow rules, one per
//   protocol (sorted) × peer (in order); protocol defaults to TCP; `endPort` makes a range; ports
//   of one protocol are merged (SimplifyPorts); a port entry without a port allows that protocol on
//   all ports; ipBlock → nets + notNets (unscoped); an empty namespaceSelector means all namespaces.
// The result then goes through convert-policy.ts like any Calico NetworkPolicy.
import type { FieldPath } from '../model/origin.ts';
import { k8sSelectorText } from './compose.ts';
import type { V3PolicySpec, V3Rule } from './convert-policy.ts';
import { DEFAULT_TIER, K8S_POLICY_ORDER } from './ordering.ts';

export interface K8sLabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined;
  readonly matchExpressions?: readonly { readonly key: string; readonly operator: string; readonly values?: readonly string[] | undefined }[] | undefined;
}

export interface K8sPeer {
  readonly podSelector?: K8sLabelSelector | undefined;
  readonly namespaceSelector?: K8sLabelSelector | undefined;
  readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] | undefined } | undefined;
}

export interface K8sPort {
  readonly protocol?: string | undefined;
  readonly port?: number | string | undefined;
  readonly endPort?: number | undefined;
}

export interface K8sNetworkPolicySpec {
  readonly podSelector?: K8sLabelSelector | undefined;
  readonly policyTypes?: readonly string[] | undefined;
  readonly ingress?: readonly { readonly from?: readonly K8sPeer[] | undefined; readonly ports?: readonly K8sPort[] | undefined }[] | undefined;
  readonly egress?: readonly { readonly to?: readonly K8sPeer[] | undefined; readonly ports?: readonly K8sPort[] | undefined }[] | undefined;
}

export interface ConvertedK8sPolicy {
  readonly spec: V3PolicySpec;
  readonly rulePaths: { readonly ingress: readonly FieldPath[]; readonly egress: readonly FieldPath[] };
}

type CalicoPort = number | string;

/**
 * Merges numeric ports into the fewest ranges; named ports first, in input order
 * (Calico's SimplifyPorts; `81:90,4,2,foo,80:81,3,1,9090,http` → `foo,http,1:4,80:90,9090`).
 */
export function simplifyPorts(ports: readonly CalicoPort[]): CalicoPort[] {
  if (ports.length <= 1) return [...ports];
  const named: CalicoPort[] = [];
  const numbers: number[] = [];
  for (const p of ports) {
    const range = numericRange(p);
    if (range === undefined) named.push(p);
    else for (let i = range[0]; i <= range[1]; i++) numbers.push(i);
  }
  if (numbers.length <= 1) return [...ports];
  numbers.sort((a, b) => a - b);
  const out = named;
  let i = 0;
  while (i < numbers.length) {
    const first = numbers[i]!;
    let last = first;
    i++;
    while (i < numbers.length && numbers[i]! <= last + 1) last = numbers[i++]!;
    out.push(first === last ? first : `${first}:${last}`);
  }
  return out;
}

function numericRange(p: CalicoPort): [number, number] | undefined {
  if (typeof p === 'number') return [p, p];
  const m = /^(\d+)(?::(\d+))?$/.exec(p);
  if (m === null) return undefined;
  const lo = Number(m[1]);
  return [lo, m[2] === undefined ? lo : Number(m[2])];
}

interface PeerFields {
  readonly selector?: string;
  readonly namespaceSelector?: string;
  readonly nets?: readonly string[];
  readonly notNets?: readonly string[];
}

function peerFields(peer: K8sPeer | undefined): PeerFields {
  if (peer === undefined) return {};
  if (peer.ipBlock !== undefined) {
    const except = peer.ipBlock.except ?? [];
    return except.length > 0 ? { nets: [peer.ipBlock.cidr], notNets: except } : { nets: [peer.ipBlock.cidr] };
  }
  const selector = k8sSelectorText(peer.podSelector, 'pod');
  const namespaceSelector = k8sSelectorText(peer.namespaceSelector, 'namespace');
  return namespaceSelector === '' ? { selector } : { selector, namespaceSelector };
}

/** One K8s rule → Calico Allow rules: for each protocol (sorted) × each peer (in order). */
function convertK8sRule(peers: readonly K8sPeer[] | undefined, ports: readonly K8sPort[] | undefined, ingress: boolean): V3Rule[] {
  // '' is the "no protocol, no port restriction" key; undefined ports = all ports of that protocol.
  let byProtocol = new Map<string, CalicoPort[] | undefined>();
  for (const port of ports ?? []) {
    const protocol = port.protocol ?? 'TCP';
    let calicoPorts: CalicoPort[] | undefined;
    if (port.port !== undefined) {
      calicoPorts = [port.endPort !== undefined ? `${String(port.port)}:${port.endPort}` : typeof port.port === 'number' ? port.port : port.port];
    }
    if (calicoPorts === undefined) byProtocol.set(protocol, undefined);
    else if (!byProtocol.has(protocol)) byProtocol.set(protocol, calicoPorts);
    else {
      const existing = byProtocol.get(protocol);
      if (existing !== undefined) existing.push(...calicoPorts); // undefined (all ports) wins
    }
  }
  if ((ports ?? []).length === 0) byProtocol = new Map([['', undefined]]);

  const peerList: (K8sPeer | undefined)[] = peers !== undefined && peers.length > 0 ? [...peers] : [undefined];
  const rules: V3Rule[] = [];
  for (const protocol of [...byProtocol.keys()].sort()) {
    const portsOfProtocol = byProtocol.get(protocol);
    const calicoPorts = portsOfProtocol === undefined ? undefined : simplifyPorts(portsOfProtocol);
    for (const peer of peerList) {
      const f = peerFields(peer);
      const base = protocol === '' ? { action: 'Allow' } : { action: 'Allow', protocol };
      const portField = calicoPorts === undefined ? {} : { ports: calicoPorts };
      rules.push(
        ingress
          ? { ...base, source: { ...f }, destination: { ...portField } }
          : { ...base, destination: { ...portField, ...f } },
      );
    }
  }
  return rules;
}

/**
 * The Kubernetes API server's defaulting (SetDefaults_NetworkPolicy), which manifests have not been
 * through yet: no policyTypes means Ingress, plus Egress when the policy has egress rules.
 */
export function defaultPolicyTypes(spec: K8sNetworkPolicySpec): readonly string[] {
  const declared = spec.policyTypes ?? [];
  if (declared.length > 0) return declared;
  return (spec.egress?.length ?? 0) > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

export function convertK8sNetworkPolicy(spec: K8sNetworkPolicySpec): ConvertedK8sPolicy {
  const ingress: V3Rule[] = [];
  const ingressPaths: FieldPath[] = [];
  (spec.ingress ?? []).forEach((r, i) => {
    for (const rule of convertK8sRule(r.from, r.ports, true)) {
      ingress.push(rule);
      ingressPaths.push(['spec', 'ingress', i]);
    }
  });
  const egress: V3Rule[] = [];
  const egressPaths: FieldPath[] = [];
  (spec.egress ?? []).forEach((r, i) => {
    for (const rule of convertK8sRule(r.to, r.ports, false)) {
      egress.push(rule);
      egressPaths.push(['spec', 'egress', i]);
    }
  });
  const types: string[] = [];
  const declared = defaultPolicyTypes(spec);
  if (declared.includes('Ingress')) types.push('Ingress');
  if (declared.includes('Egress')) types.push('Egress');
  if (types.length === 0) types.push('Ingress'); // Calico: a stored policy without types is ingress-only
  return {
    spec: {
      tier: DEFAULT_TIER,
      order: K8S_POLICY_ORDER,
      selector: k8sSelectorText(spec.podSelector, 'pod'),
      types,
      ingress,
      egress,
    },
    rulePaths: { ingress: ingressPaths, egress: egressPaths },
  };
}
