// The differential test's scenario: plain data that the generator draws at random, the reference
// evaluator reads directly, and `formatScenarioYaml` prints as the multi-document manifest the
// engine loads. Fields mirror the Kubernetes / Calico API fields they become, so a scenario reads
// like its YAML; an absent field (`undefined`) and an empty list (`[]`) are different on purpose.
import { stringify } from 'yaml';

export type Labels = Readonly<Record<string, string>>;
export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';
export type Direction = 'Ingress' | 'Egress';

export interface NamespaceSpec {
  readonly name: string;
  readonly labels: Labels;
}

export interface ServiceAccountSpec {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
}

export interface ContainerPortSpec {
  readonly containerPort: number;
  /** Absent means TCP (the Kubernetes default). */
  readonly protocol?: PortProtocol;
  readonly name?: string;
}

export interface PodSpec {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  /** Absent: the ServiceAccount admission plugin's `default`. */
  readonly serviceAccountName?: string;
  /** `status.podIPs`: always one IPv4 address first, sometimes an IPv6 one after it. */
  readonly ips: readonly string[];
  readonly ports: readonly ContainerPortSpec[];
}

export interface NetworkSetSpec {
  readonly kind: 'NetworkSet' | 'GlobalNetworkSet';
  /** Only for `NetworkSet`. */
  readonly namespace?: string;
  readonly name: string;
  readonly labels: Labels;
  readonly nets: readonly string[];
}

export interface TierSpec {
  readonly name: string;
  readonly order?: number;
  readonly defaultAction?: 'Deny' | 'Pass';
}

// ---- Kubernetes NetworkPolicy (networking.k8s.io/v1)

export interface LabelSelectorRequirementSpec {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[];
}

export interface LabelSelectorSpec {
  readonly matchLabels?: Labels;
  readonly matchExpressions?: readonly LabelSelectorRequirementSpec[];
}

export interface IpBlockSpec {
  readonly cidr: string;
  readonly except?: readonly string[];
}

export interface K8sPeerSpec {
  readonly podSelector?: LabelSelectorSpec;
  readonly namespaceSelector?: LabelSelectorSpec;
  readonly ipBlock?: IpBlockSpec;
}

export interface K8sPortSpec {
  readonly protocol?: PortProtocol;
  readonly port?: number | string;
  readonly endPort?: number;
}

export interface K8sRuleSpec {
  /** `from` for ingress rules, `to` for egress rules. */
  readonly peers?: readonly K8sPeerSpec[];
  readonly ports?: readonly K8sPortSpec[];
}

export interface K8sPolicySpec {
  readonly name: string;
  readonly namespace: string;
  readonly podSelector: LabelSelectorSpec;
  readonly policyTypes?: readonly Direction[];
  readonly ingress?: readonly K8sRuleSpec[];
  readonly egress?: readonly K8sRuleSpec[];
}

// ---- Calico projectcalico.org/v3 NetworkPolicy / GlobalNetworkPolicy

export type CalicoProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP' | 'ICMPv6' | number;

export interface ServiceAccountMatchSpec {
  readonly names?: readonly string[];
  readonly selector?: string;
}

export interface EntitySpec {
  readonly nets?: readonly string[];
  readonly notNets?: readonly string[];
  readonly selector?: string;
  readonly notSelector?: string;
  readonly namespaceSelector?: string;
  /** Numbers, `"min:max"` ranges and port names. */
  readonly ports?: readonly (number | string)[];
  readonly notPorts?: readonly (number | string)[];
  readonly serviceAccounts?: ServiceAccountMatchSpec;
}

export interface IcmpSpec {
  readonly type: number;
  readonly code?: number;
}

export type CalicoAction = 'Allow' | 'Deny' | 'Pass' | 'Log';

export interface CalicoRuleSpec {
  readonly action: CalicoAction;
  readonly ipVersion?: 4 | 6;
  readonly protocol?: CalicoProtocol;
  readonly notProtocol?: CalicoProtocol;
  readonly icmp?: IcmpSpec;
  readonly notICMP?: IcmpSpec;
  readonly source?: EntitySpec;
  readonly destination?: EntitySpec;
}

export interface CalicoPolicySpec {
  readonly kind: 'NetworkPolicy' | 'GlobalNetworkPolicy';
  readonly name: string;
  /** Only for `NetworkPolicy`. */
  readonly namespace?: string;
  readonly tier?: string;
  readonly order?: number;
  readonly selector?: string;
  /** Only for `GlobalNetworkPolicy`. */
  readonly namespaceSelector?: string;
  readonly serviceAccountSelector?: string;
  readonly types?: readonly Direction[];
  readonly ingress?: readonly CalicoRuleSpec[];
  readonly egress?: readonly CalicoRuleSpec[];
}

// ---- flows

export type FlowProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP';

/** A flow in the engine's request form: ends are `ns/pod` or an IP address. */
export interface FlowSpec {
  readonly from: string;
  readonly to: string;
  readonly protocol: FlowProtocol;
  readonly port?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

export interface Scenario {
  readonly seed: number;
  readonly namespaces: readonly NamespaceSpec[];
  readonly serviceAccounts: readonly ServiceAccountSpec[];
  readonly pods: readonly PodSpec[];
  readonly networkSets: readonly NetworkSetSpec[];
  readonly tiers: readonly TierSpec[];
  readonly k8sPolicies: readonly K8sPolicySpec[];
  readonly calicoPolicies: readonly CalicoPolicySpec[];
  readonly flows: readonly FlowSpec[];
}

/** A pod's endpoint id, as the engine names it. */
export function podId(p: PodSpec): string {
  return `${p.namespace}/${p.name}`;
}

export function formatFlow(f: FlowSpec): string {
  const what = f.protocol === 'ICMP' ? `ICMP type ${f.icmpType ?? 'default'} code ${f.icmpCode ?? 'default'}` : `${f.port}/${f.protocol}`;
  return `${f.from} -> ${f.to} ${what}`;
}

// ---- YAML

type Doc = Record<string, unknown>;

/** Copies the defined fields only: `undefined` must never reach the YAML as `null`. */
function defined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

function metadata(name: string, namespace: string | undefined, labels: Labels | undefined): Doc {
  return defined({ name, namespace, labels: labels !== undefined && Object.keys(labels).length > 0 ? { ...labels } : undefined });
}

function formatLabelSelector(s: LabelSelectorSpec): Doc {
  return defined({
    matchLabels: s.matchLabels === undefined ? undefined : { ...s.matchLabels },
    matchExpressions: s.matchExpressions?.map((e) => defined({ key: e.key, operator: e.operator, values: e.values === undefined ? undefined : [...e.values] })),
  });
}

function formatK8sRule(r: K8sRuleSpec, peersKey: 'from' | 'to'): Doc {
  return defined({
    [peersKey]: r.peers?.map((p) =>
      defined({
        podSelector: p.podSelector === undefined ? undefined : formatLabelSelector(p.podSelector),
        namespaceSelector: p.namespaceSelector === undefined ? undefined : formatLabelSelector(p.namespaceSelector),
        ipBlock: p.ipBlock === undefined ? undefined : defined({ cidr: p.ipBlock.cidr, except: p.ipBlock.except === undefined ? undefined : [...p.ipBlock.except] }),
      }),
    ),
    ports: r.ports?.map((p) => defined({ protocol: p.protocol, port: p.port, endPort: p.endPort })),
  });
}

function formatEntity(e: EntitySpec | undefined): Doc | undefined {
  if (e === undefined) return undefined;
  return defined({
    nets: e.nets === undefined ? undefined : [...e.nets],
    notNets: e.notNets === undefined ? undefined : [...e.notNets],
    selector: e.selector,
    notSelector: e.notSelector,
    namespaceSelector: e.namespaceSelector,
    ports: e.ports === undefined ? undefined : [...e.ports],
    notPorts: e.notPorts === undefined ? undefined : [...e.notPorts],
    serviceAccounts:
      e.serviceAccounts === undefined
        ? undefined
        : defined({ names: e.serviceAccounts.names === undefined ? undefined : [...e.serviceAccounts.names], selector: e.serviceAccounts.selector }),
  });
}

function formatCalicoRule(r: CalicoRuleSpec): Doc {
  return defined({
    action: r.action,
    ipVersion: r.ipVersion,
    protocol: r.protocol,
    notProtocol: r.notProtocol,
    icmp: r.icmp === undefined ? undefined : defined({ type: r.icmp.type, code: r.icmp.code }),
    notICMP: r.notICMP === undefined ? undefined : defined({ type: r.notICMP.type, code: r.notICMP.code }),
    source: formatEntity(r.source),
    destination: formatEntity(r.destination),
  });
}

/** The scenario as kubectl/calicoctl-style YAML documents. */
export function scenarioDocuments(s: Scenario): Doc[] {
  const docs: Doc[] = [];
  for (const ns of s.namespaces) docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: metadata(ns.name, undefined, ns.labels) });
  for (const sa of s.serviceAccounts) docs.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(sa.name, sa.namespace, sa.labels) });
  for (const p of s.pods) {
    docs.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: metadata(p.name, p.namespace, p.labels),
      spec: defined({
        serviceAccountName: p.serviceAccountName,
        containers: [
          defined({
            name: 'main',
            image: 'registry.example/app:1',
            ports: p.ports.length === 0 ? undefined : p.ports.map((c) => defined({ name: c.name, containerPort: c.containerPort, protocol: c.protocol })),
          }),
        ],
      }),
      status: { phase: 'Running', podIP: p.ips[0], podIPs: p.ips.map((ip) => ({ ip })) },
    });
  }
  for (const n of s.networkSets) {
    docs.push({ apiVersion: 'projectcalico.org/v3', kind: n.kind, metadata: metadata(n.name, n.namespace, n.labels), spec: { nets: [...n.nets] } });
  }
  for (const t of s.tiers) {
    docs.push({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: t.name }, spec: defined({ order: t.order, defaultAction: t.defaultAction }) });
  }
  for (const p of s.k8sPolicies) {
    docs.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: p.name, namespace: p.namespace },
      spec: defined({
        podSelector: formatLabelSelector(p.podSelector),
        policyTypes: p.policyTypes === undefined ? undefined : [...p.policyTypes],
        ingress: p.ingress?.map((r) => formatK8sRule(r, 'from')),
        egress: p.egress?.map((r) => formatK8sRule(r, 'to')),
      }),
    });
  }
  for (const p of s.calicoPolicies) {
    docs.push({
      apiVersion: 'projectcalico.org/v3',
      kind: p.kind,
      metadata: defined({ name: p.name, namespace: p.namespace }),
      spec: defined({
        tier: p.tier,
        order: p.order,
        selector: p.selector,
        namespaceSelector: p.namespaceSelector,
        serviceAccountSelector: p.serviceAccountSelector,
        types: p.types === undefined ? undefined : [...p.types],
        ingress: p.ingress?.map(formatCalicoRule),
        egress: p.egress?.map(formatCalicoRule),
      }),
    });
  }
  return docs;
}

export function formatScenarioYaml(s: Scenario): string {
  return scenarioDocuments(s)
    .map((d) => stringify(d, { lineWidth: 0 }))
    .join('---\n');
}

// ---- validity (what the APIs would accept), used to keep shrunk scenarios meaningful

function portCapable(p: CalicoProtocol | undefined): boolean {
  return p === 'TCP' || p === 'UDP' || p === 'SCTP' || p === 6 || p === 17 || p === 132;
}

function isNumericPort(p: number | string): boolean {
  return typeof p === 'number' || /^\d+(:\d+)?$/.test(p);
}

function cidrFamily(t: string): 4 | 6 {
  return t.includes(':') ? 6 : 4;
}

/**
 * Problems that the Kubernetes / Calico API servers would reject, or that leave the scenario
 * referring to things it does not declare. Generated scenarios have none; the shrinker only keeps
 * candidates that have none either.
 */
export function scenarioProblems(s: Scenario): string[] {
  const problems: string[] = [];
  const named = [...s.namespaces, ...s.serviceAccounts, ...s.pods, ...s.networkSets, ...s.tiers, ...s.k8sPolicies, ...s.calicoPolicies];
  if (named.some((x) => typeof x.name !== 'string' || x.name === '')) problems.push('a resource without a name');
  const namespaces = new Set(s.namespaces.map((n) => n.name));
  if (namespaces.size !== s.namespaces.length) problems.push('duplicate namespace');
  const needNamespace = (ns: string | undefined, what: string): void => {
    if (ns === undefined || !namespaces.has(ns)) problems.push(`${what}: undeclared namespace ${String(ns)}`);
  };
  const accounts = new Set(s.serviceAccounts.map((a) => `${a.namespace}/${a.name}`));
  for (const a of s.serviceAccounts) needNamespace(a.namespace, `service account ${a.name}`);
  const ids = new Set<string>();
  for (const p of s.pods) {
    needNamespace(p.namespace, `pod ${p.name}`);
    if (ids.has(podId(p))) problems.push(`duplicate pod ${podId(p)}`);
    ids.add(podId(p));
    if (!accounts.has(`${p.namespace}/${p.serviceAccountName ?? 'default'}`)) problems.push(`pod ${podId(p)}: undeclared service account`);
    if (p.ips.length === 0 || p.ips[0]!.includes(':')) problems.push(`pod ${podId(p)}: needs an IPv4 address first`);
  }
  for (const n of s.networkSets) {
    if (n.kind === 'NetworkSet') needNamespace(n.namespace, `network set ${n.name}`);
    if (n.nets.length === 0) problems.push(`network set ${n.name}: no nets`);
  }
  const tiers = new Set(['default', ...s.tiers.map((t) => t.name)]);
  for (const p of s.k8sPolicies) {
    needNamespace(p.namespace, `policy ${p.name}`);
    for (const r of [...(p.ingress ?? []), ...(p.egress ?? [])]) {
      for (const peer of r.peers ?? []) {
        const n = Number(peer.podSelector !== undefined) + Number(peer.namespaceSelector !== undefined);
        if (peer.ipBlock !== undefined ? n > 0 : n === 0) problems.push(`policy ${p.name}: a peer needs selectors or an ipBlock, not both`);
      }
      for (const port of r.ports ?? []) {
        if (port.endPort !== undefined && typeof port.port !== 'number') problems.push(`policy ${p.name}: endPort needs a numeric port`);
      }
      const selectors = [p.podSelector, ...(r.peers ?? []).flatMap((x) => [x.podSelector, x.namespaceSelector])];
      for (const sel of selectors) {
        for (const e of sel?.matchExpressions ?? []) {
          if ((e.operator === 'In' || e.operator === 'NotIn') !== (e.values !== undefined && e.values.length > 0)) problems.push(`policy ${p.name}: bad match expression`);
        }
      }
    }
  }
  for (const p of s.calicoPolicies) {
    if (p.kind === 'NetworkPolicy') needNamespace(p.namespace, `policy ${p.name}`);
    if (!tiers.has(p.tier ?? 'default')) problems.push(`policy ${p.name}: undeclared tier ${String(p.tier)}`);
    for (const r of [...(p.ingress ?? []), ...(p.egress ?? [])]) {
      const sides = [r.source, r.destination];
      for (const e of sides) {
        const ports = [...(e?.ports ?? []), ...(e?.notPorts ?? [])];
        if (ports.some(isNumericPort) && !portCapable(r.protocol)) problems.push(`policy ${p.name}: numeric ports need TCP, UDP or SCTP`);
        if (ports.length > 0 && r.protocol !== undefined && !portCapable(r.protocol)) problems.push(`policy ${p.name}: protocol without ports`);
        if (e?.namespaceSelector?.includes('global(') === true && e.namespaceSelector !== 'global()') problems.push(`policy ${p.name}: global() must stand alone`);
      }
      if (r.source?.ports !== undefined || r.source?.notPorts !== undefined) problems.push(`policy ${p.name}: source ports are not generated`);
      const isIcmpProtocol = r.protocol === 'ICMP' || r.protocol === 'ICMPv6' || r.protocol === 1 || r.protocol === 58;
      if ((r.icmp !== undefined || r.notICMP !== undefined) && !isIcmpProtocol) problems.push(`policy ${p.name}: icmp needs protocol ICMP`);
      if ((r.protocol === 'ICMP' || r.notProtocol === 'ICMP') && r.ipVersion === 6) problems.push(`policy ${p.name}: ICMP with ipVersion 6`);
      if (r.protocol === 'ICMPv6' && r.ipVersion === 4) problems.push(`policy ${p.name}: ICMPv6 with ipVersion 4`);
      const families = new Set(sides.flatMap((e) => [...(e?.nets ?? []), ...(e?.notNets ?? [])]).map(cidrFamily));
      if (families.size > 1) problems.push(`policy ${p.name}: mixed IPv4 and IPv6 CIDRs in a rule`);
      if (r.ipVersion !== undefined && families.size === 1 && !families.has(r.ipVersion)) problems.push(`policy ${p.name}: CIDRs contradict ipVersion`);
      for (const e of sides) {
        if ((e?.notNets ?? []).some((t) => t === '0.0.0.0/0' || t === '::/0')) problems.push(`policy ${p.name}: catch-all notNets`);
      }
    }
  }
  for (const f of s.flows) {
    for (const end of [f.from, f.to]) if (end.includes('/') && !end.includes(':') && !/^\d/.test(end) && !ids.has(end)) problems.push(`flow end ${end} is not a pod`);
  }
  return problems;
}
