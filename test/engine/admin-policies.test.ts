// AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy: the scenarios of the
// kubernetes-sigs/network-policy-api conformance tests (conformance/tests/*.go with the manifests
// of conformance/base/, v0.1.5 for the v1alpha1 kinds and v0.2.0 for ClusterNetworkPolicy),
// re-expressed on a small model of their cluster: four "houses" as namespaces with two pods each
// serving 80/TCP ("web"), 8080/TCP, 53/UDP ("dns"), 5353/UDP, 9003/SCTP and 9005/SCTP. A test
// that patches a policy becomes one case per state. Each flow states the verdict and the step
// that decides it: tier, policy, kind and the rule's place in the manifest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPath } from '../../src/diagnostics/index.ts';
import { loadText } from '../../src/load/index.ts';
import { buildCluster, evaluateFlow, makeFlow } from '../../src/engine/index.ts';
import type { Cluster } from '../../src/engine/index.ts';
import { lint } from '../../src/analysis/lint.ts';

const HOUSES = ['gryffindor', 'slytherin', 'hufflepuff', 'ravenclaw'] as const;

const pod = (house: string, i: number, n: number): string => `apiVersion: v1
kind: Pod
metadata: {name: p${i}, namespace: ${house}, labels: {conformance-house: ${house}}}
spec:
  containers:
  - {name: web, ports: [{name: web, containerPort: 80}, {containerPort: 8080}]}
  - {name: dns, ports: [{name: dns, containerPort: 53, protocol: UDP}, {containerPort: 5353, protocol: UDP}]}
  - {name: sctp, ports: [{containerPort: 9003, protocol: SCTP}, {containerPort: 9005, protocol: SCTP}]}
status: {podIP: 10.0.${n}.${i + 1}}
---
`;

const CLUSTER =
  HOUSES.map((h, n) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${h}, labels: {conformance-house: ${h}}}\n---\n${pod(h, 0, n + 1)}${pod(h, 1, n + 1)}`).join('') +
  `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {kubernetes.io/os: linux}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [192.168.0.1], profiles: [projectcalico-default-allow]}
---
`;

const anp = (name: string, priority: number, body: string): string =>
  `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n  priority: ${priority}\n${body}\n---\n`;
const banp = (body: string): string => `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n${body}\n---\n`;
const cnp = (name: string, tier: 'Admin' | 'Baseline', priority: number, body: string): string =>
  `apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n  tier: ${tier}\n  priority: ${priority}\n${body}\n---\n`;
const knp = (name: string, ns: string, spec: string): string => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}\n---\n`;

const house = (h: string): string => `{namespaces: {matchLabels: {conformance-house: ${h}}}}`;
const housePods = (h: string): string => `{pods: {namespaceSelector: {matchLabels: {conformance-house: ${h}}}, podSelector: {matchLabels: {conformance-house: ${h}}}}}`;
const SUBJECT_GRYFFINDOR = `  subject: ${house('gryffindor')}`;
const SUBJECT_GRYFFINDOR_PODS = `  subject: ${housePods('gryffindor')}`;
const tcp = (p: number): string => `{portNumber: {protocol: TCP, port: ${p}}}`;
const udp = (p: number): string => `{portNumber: {protocol: UDP, port: ${p}}}`;
const sctp = (p: number): string => `{portNumber: {protocol: SCTP, port: ${p}}}`;

/** conformance/base/admin_network_policy/core-gress-rules-combined.yaml, as its rules are dropped one by one. */
function gressRules(dropFirst: number): string {
  const egress = [
    `  - {name: allow-to-ravenclaw-everything, action: Allow, to: [${house('ravenclaw')}]}`,
    `  - {name: deny-to-ravenclaw-everything, action: Deny, to: [${house('ravenclaw')}]}`,
    `  - {name: pass-to-ravenclaw-everything, action: Pass, to: [${house('ravenclaw')}]}`,
    `  - {name: deny-to-slytherin-at-ports-80-53-9003, action: Deny, to: [${house('slytherin')}], ports: [${tcp(80)}, ${udp(53)}, ${sctp(9003)}]}`,
    `  - {name: pass-to-slytherin-at-port-80-53-9003, action: Pass, to: [${house('slytherin')}], ports: [${tcp(80)}, ${udp(53)}, ${sctp(9003)}]}`,
    `  - {name: allow-to-hufflepuff-at-ports-8080-5353, action: Allow, to: [${house('hufflepuff')}], ports: [${tcp(8080)}, ${udp(5353)}, ${sctp(9003)}]}`,
    `  - {name: deny-to-hufflepuff-everything-else, action: Deny, to: [${house('hufflepuff')}]}`,
  ];
  const ingress = [
    `  - {name: allow-from-ravenclaw-everything, action: Allow, from: [${house('ravenclaw')}]}`,
    `  - {name: deny-from-ravenclaw-everything, action: Deny, from: [${house('ravenclaw')}]}`,
    `  - {name: pass-from-ravenclaw-everything, action: Pass, from: [${house('ravenclaw')}]}`,
    `  - {name: deny-from-slytherin-at-port-80-53-9003, action: Deny, from: [${house('slytherin')}], ports: [${tcp(80)}, ${udp(53)}, ${sctp(9003)}]}`,
    `  - {name: pass-from-slytherin-at-port-80-53-9003, action: Pass, from: [${house('slytherin')}], ports: [${tcp(80)}, ${udp(53)}, ${sctp(9003)}]}`,
    `  - {name: allow-from-hufflepuff-at-port-80-5353-9003, action: Allow, from: [${house('hufflepuff')}], ports: [${tcp(80)}, ${udp(5353)}, ${sctp(9003)}]}`,
    `  - {name: deny-from-hufflepuff-everything-else, action: Deny, from: [${house('hufflepuff')}]}`,
  ];
  return anp('gress-rules', 15, `${SUBJECT_GRYFFINDOR}\n  egress:\n${egress.slice(dropFirst).join('\n')}\n  ingress:\n${ingress.slice(dropFirst).join('\n')}`);
}

/** conformance/base/api_integration/core-anp-np-banp.yaml, with the ANP's action and the NP's presence as the test sets them. */
function integration(action: 'Deny' | 'Pass', withNetworkPolicy: boolean): string {
  return (
    anp(
      'pass-example',
      10,
      `${SUBJECT_GRYFFINDOR}\n  ingress:\n  - {name: ingress-from-slytherin, action: ${action}, from: [${house('slytherin')}]}\n  egress:\n  - {name: egress-to-slytherin, action: ${action}, to: [${house('slytherin')}]}`,
    ) +
    (withNetworkPolicy
      ? knp(
          'allow-gress-from-to-slytherin-to-gryffindor',
          'gryffindor',
          '{podSelector: {}, policyTypes: [Ingress, Egress], ingress: [{from: [{namespaceSelector: {matchLabels: {conformance-house: slytherin}}}]}], egress: [{to: [{namespaceSelector: {matchLabels: {conformance-house: slytherin}}}]}]}',
        )
      : '') +
    banp(`${SUBJECT_GRYFFINDOR}\n  ingress:\n  - {name: deny-all-ingress-from-slytherin, action: Deny, from: [${house('slytherin')}]}\n  egress:\n  - {name: deny-all-egress-to-slytherin, action: Deny, to: [${house('slytherin')}]}`)
  );
}

/** conformance/base/admin_network_policy/core-priority-field.yaml; the test moves the Pass policy from 60 to 40. */
function priority(passPriority: number): string {
  return (
    anp('priority-50-example', 50, `${SUBJECT_GRYFFINDOR_PODS}\n  ingress:\n  - {action: Deny, from: [${housePods('slytherin')}]}\n  egress:\n  - {action: Deny, to: [${housePods('slytherin')}]}`) +
    anp(
      'old-priority-60-new-priority-40-example',
      passPriority,
      `${SUBJECT_GRYFFINDOR_PODS}\n  ingress:\n  - {action: Pass, from: [${housePods('slytherin')}]}\n  egress:\n  - {action: Pass, to: [${housePods('slytherin')}]}`,
    ) +
    banp(`${SUBJECT_GRYFFINDOR_PODS}\n  ingress:\n  - {action: Allow, from: [${housePods('slytherin')}]}\n  egress:\n  - {action: Allow, to: [${housePods('slytherin')}]}`)
  );
}

/** conformance/base/admin_tier/standard-egress-inline-cidr-rules.yaml (v0.2.0), optionally with the /32 Accept the test prepends. */
function inlineCidr(prependHostRule: boolean): string {
  const host = `  - {name: allow-egress-to-specific-podIPs, action: Accept, to: [{networks: [10.0.3.1/32, 10.0.4.1/32]}]}\n`;
  return cnp(
    'inline-cidr-as-peers-example',
    'Admin',
    85,
    `${SUBJECT_GRYFFINDOR_PODS}\n  egress:\n${prependHostRule ? host : ''}  - {name: allow-egress-to-slytherin, action: Accept, to: [${housePods('slytherin')}]}\n  - {name: deny-egress-to-internet, action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}`,
  );
}

interface Expected {
  readonly from: string;
  readonly to: string;
  readonly port?: number;
  readonly protocol?: string;
  readonly verdict: 'allow' | 'deny';
  /** Partial decidedBy; `rule` is the deciding rule's place in the manifest (`spec.egress[3].to[0]`). */
  readonly by?: { direction?: string; tier?: string; policy?: string; kind?: string; rule?: string | null; reason?: string };
}

interface Case {
  readonly name: string;
  readonly policies: string;
  readonly flows: readonly Expected[];
  /** Diagnostic codes the build must report (warnings included). */
  readonly diagnostics?: readonly string[];
}

const ANP = 'AdminNetworkPolicy';
const BANP = 'BaselineAdminNetworkPolicy';
const CNP = 'ClusterNetworkPolicy';
const g0 = 'gryffindor/p0';
const s0 = 'slytherin/p0';
const h0 = 'hufflepuff/p0';
const h1 = 'hufflepuff/p1';
const r0 = 'ravenclaw/p0';
const r1 = 'ravenclaw/p1';

const cases: readonly Case[] = [
  {
    name: 'gress rules: the first matching rule of an ANP decides, in both directions (rule ordering)',
    policies: gressRules(0),
    flows: [
      { from: g0, to: r0, port: 80, verdict: 'allow', by: { direction: 'ingress', reason: 'profile' } },
      { from: g0, to: r0, port: 53, protocol: 'UDP', verdict: 'allow' },
      { from: r0, to: g0, port: 9003, protocol: 'SCTP', verdict: 'allow', by: { direction: 'ingress', tier: 'kube-admin', policy: 'gress-rules', kind: ANP, rule: 'spec.ingress[0].from[0]', reason: 'rule' } },
      { from: g0, to: h0, port: 8080, verdict: 'allow' },
      { from: g0, to: h0, port: 80, verdict: 'deny', by: { direction: 'egress', tier: 'kube-admin', policy: 'gress-rules', kind: ANP, rule: 'spec.egress[6].to[0]' } },
      { from: g0, to: h0, port: 5353, protocol: 'UDP', verdict: 'allow' },
      { from: g0, to: h0, port: 53, protocol: 'UDP', verdict: 'deny', by: { direction: 'egress', rule: 'spec.egress[6].to[0]' } },
      { from: g0, to: h0, port: 9003, protocol: 'SCTP', verdict: 'allow' },
      { from: g0, to: h0, port: 9005, protocol: 'SCTP', verdict: 'deny', by: { direction: 'egress', rule: 'spec.egress[6].to[0]' } },
      { from: h0, to: g0, port: 80, verdict: 'allow', by: { direction: 'ingress', policy: 'gress-rules', rule: 'spec.ingress[5].from[0]' } },
      { from: h0, to: g0, port: 8080, verdict: 'deny', by: { direction: 'ingress', rule: 'spec.ingress[6].from[0]' } },
      { from: h0, to: g0, port: 5353, protocol: 'UDP', verdict: 'allow', by: { rule: 'spec.ingress[5].from[0]' } },
      { from: h0, to: g0, port: 53, protocol: 'UDP', verdict: 'deny', by: { rule: 'spec.ingress[6].from[0]' } },
    ],
  },
  {
    name: 'gress rules without the Allow rules: Deny decides; ports scope the slytherin rule',
    policies: gressRules(1),
    flows: [
      { from: g0, to: r0, port: 80, verdict: 'deny', by: { direction: 'egress', tier: 'kube-admin', policy: 'gress-rules', rule: 'spec.egress[0].to[0]', reason: 'rule' } },
      { from: r0, to: g0, port: 53, protocol: 'UDP', verdict: 'deny', by: { direction: 'ingress', rule: 'spec.ingress[0].from[0]' } },
      { from: g0, to: s0, port: 80, verdict: 'deny', by: { direction: 'egress', rule: 'spec.egress[2].to[0]' } },
      { from: g0, to: s0, port: 8080, verdict: 'allow', by: { reason: 'profile' } },
      { from: g0, to: s0, port: 53, protocol: 'UDP', verdict: 'deny', by: { rule: 'spec.egress[2].to[0]' } },
      { from: g0, to: s0, port: 5353, protocol: 'UDP', verdict: 'allow' },
      { from: g0, to: s0, port: 9003, protocol: 'SCTP', verdict: 'deny', by: { rule: 'spec.egress[2].to[0]' } },
      { from: g0, to: s0, port: 9005, protocol: 'SCTP', verdict: 'allow' },
      { from: s0, to: g0, port: 80, verdict: 'deny', by: { direction: 'ingress', rule: 'spec.ingress[2].from[0]' } },
      { from: s0, to: g0, port: 8080, verdict: 'allow' },
    ],
  },
  {
    name: 'gress rules with Pass first: traffic passes to the next tiers, where nothing denies it',
    policies: gressRules(2) + knp('deny-8080-from-ravenclaw', 'ravenclaw', '{podSelector: {}, policyTypes: [Ingress]}'),
    flows: [
      { from: r0, to: g0, port: 80, verdict: 'allow', by: { reason: 'profile' } },
      // The egress Pass reaches the default tier of the destination's ingress, where a NetworkPolicy denies.
      { from: g0, to: r0, port: 80, verdict: 'deny', by: { direction: 'ingress', tier: 'default', kind: 'KubernetesNetworkPolicy', reason: 'end-of-tier' } },
      { from: g0, to: s0, port: 80, verdict: 'deny', by: { direction: 'egress', tier: 'kube-admin', rule: 'spec.egress[1].to[0]' } },
      { from: g0, to: s0, port: 8080, verdict: 'allow', by: { reason: 'profile' } },
    ],
  },
  {
    name: 'integration: an ANP Deny overrides a NetworkPolicy Allow',
    policies: integration('Deny', true),
    flows: [
      { from: s0, to: g0, port: 80, verdict: 'deny', by: { direction: 'ingress', tier: 'kube-admin', policy: 'pass-example', kind: ANP, rule: 'spec.ingress[0].from[0]' } },
      { from: g0, to: s0, port: 80, verdict: 'deny', by: { direction: 'egress', tier: 'kube-admin', policy: 'pass-example', rule: 'spec.egress[0].to[0]' } },
    ],
  },
  {
    name: 'integration: an ANP Pass hands the decision to the NetworkPolicy, which allows',
    policies: integration('Pass', true),
    flows: [
      { from: s0, to: g0, port: 80, verdict: 'allow', by: { direction: 'ingress', tier: 'default', policy: 'allow-gress-from-to-slytherin-to-gryffindor', kind: 'KubernetesNetworkPolicy', rule: 'spec.ingress[0]' } },
      { from: g0, to: s0, port: 53, protocol: 'UDP', verdict: 'allow' },
      // The NetworkPolicy selects gryffindor's pods: whatever it does not allow is denied, the baseline is never reached.
      { from: h0, to: g0, port: 80, verdict: 'deny', by: { direction: 'ingress', tier: 'default', reason: 'end-of-tier' } },
    ],
  },
  {
    name: 'integration: an ANP Pass without a NetworkPolicy reaches the baseline, which denies',
    policies: integration('Pass', false),
    flows: [
      { from: s0, to: g0, port: 80, verdict: 'deny', by: { direction: 'ingress', tier: 'kube-baseline', policy: 'default', kind: BANP, rule: 'spec.ingress[0].from[0]' } },
      { from: g0, to: s0, port: 80, verdict: 'deny', by: { direction: 'egress', tier: 'kube-baseline', policy: 'default', kind: BANP, rule: 'spec.egress[0].to[0]' } },
      { from: h0, to: g0, port: 80, verdict: 'allow', by: { reason: 'profile' } },
    ],
  },
  {
    name: 'priority: the lower priority number is evaluated first (Deny at 50 before Pass at 60)',
    policies: priority(60),
    flows: [
      { from: s0, to: g0, port: 80, verdict: 'deny', by: { direction: 'ingress', tier: 'kube-admin', policy: 'priority-50-example', rule: 'spec.ingress[0].from[0]' } },
      { from: g0, to: s0, port: 80, verdict: 'deny', by: { direction: 'egress', policy: 'priority-50-example', rule: 'spec.egress[0].to[0]' } },
    ],
  },
  {
    name: 'priority: moved to 40, the Pass goes first and the baseline Allow decides',
    policies: priority(40),
    flows: [
      { from: s0, to: g0, port: 80, verdict: 'allow', by: { direction: 'ingress', tier: 'kube-baseline', policy: 'default', kind: BANP, rule: 'spec.ingress[0].from[0]' } },
      { from: g0, to: s0, port: 53, protocol: 'UDP', verdict: 'allow' },
    ],
  },
  {
    name: 'priority ties: the policy whose name sorts first decides, as Calico breaks ties',
    policies:
      anp('b-allow', 20, `${SUBJECT_GRYFFINDOR}\n  ingress:\n  - {action: Allow, from: [${house('slytherin')}]}`) +
      anp('a-deny', 20, `${SUBJECT_GRYFFINDOR}\n  ingress:\n  - {action: Deny, from: [${house('slytherin')}]}`) +
      cnp('a-deny', 'Admin', 20, `${SUBJECT_GRYFFINDOR}\n  ingress:\n  - {action: Accept, from: [${house('hufflepuff')}]}`) +
      anp('c-deny-hufflepuff', 20, `${SUBJECT_GRYFFINDOR}\n  ingress:\n  - {action: Deny, from: [${house('hufflepuff')}]}`),
    flows: [
      { from: s0, to: g0, port: 80, verdict: 'deny', by: { tier: 'kube-admin', policy: 'a-deny', kind: ANP } },
      // Same name and priority: AdminNetworkPolicy sorts before ClusterNetworkPolicy (kind is the last key); the ANP has no hufflepuff rule.
      { from: h0, to: g0, port: 80, verdict: 'allow', by: { tier: 'kube-admin', policy: 'a-deny', kind: CNP, rule: 'spec.ingress[0].from[0]' } },
    ],
  },
  {
    name: 'baseline: a NetworkPolicy Allow overrides the baseline Deny; unselected pods get the baseline',
    policies:
      banp(`  subject: {namespaces: {}}\n  ingress:\n  - {action: Deny, from: [{namespaces: {}}]}`) +
      knp('allow-from-slytherin', 'gryffindor', '{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {conformance-house: slytherin}}}]}]}'),
    flows: [
      { from: s0, to: g0, port: 80, verdict: 'allow', by: { direction: 'ingress', tier: 'default', policy: 'allow-from-slytherin', rule: 'spec.ingress[0]' } },
      { from: h0, to: g0, port: 80, verdict: 'deny', by: { direction: 'ingress', tier: 'default', reason: 'end-of-tier' } },
      { from: g0, to: s0, port: 80, verdict: 'deny', by: { direction: 'ingress', tier: 'kube-baseline', policy: 'default', kind: BANP, rule: 'spec.ingress[0].from[0]' } },
      // A namespaces peer selects pods: an outside address is not one of them.
      { from: '8.8.8.8', to: s0, port: 80, verdict: 'allow', by: { reason: 'profile' } },
    ],
  },
  {
    name: 'empty namespaces selectors: the subject is every pod and the peer every pod, never a host endpoint',
    policies: anp('deny-8080-everywhere', 5, `  subject: {namespaces: {}}\n  egress:\n  - {action: Deny, to: [{namespaces: {}}], ports: [${tcp(8080)}]}`),
    flows: [
      { from: g0, to: s0, port: 8080, verdict: 'deny', by: { direction: 'egress', tier: 'kube-admin', policy: 'deny-8080-everywhere', rule: 'spec.egress[0].to[0]' } },
      { from: r1, to: r0, port: 8080, verdict: 'deny', by: { direction: 'egress', rule: 'spec.egress[0].to[0]' } },
      { from: g0, to: s0, port: 80, verdict: 'allow' },
      { from: g0, to: '8.8.8.8', port: 8080, verdict: 'allow', by: { reason: 'profile' } },
      { from: 'hep:node1-eth0', to: g0, port: 8080, verdict: 'allow', by: { reason: 'profile' } },
      { from: g0, to: 'hep:node1-eth0', port: 8080, verdict: 'allow', by: { reason: 'profile' } },
    ],
  },
  {
    name: 'named ports: a ClusterNetworkPolicy accepts the destination port named web, then denies the rest',
    policies: cnp(
      'named-ports',
      'Admin',
      1,
      `${SUBJECT_GRYFFINDOR_PODS}\n  egress:\n  - {action: Accept, to: [${housePods('slytherin')}], protocols: [{destinationNamedPort: web}]}\n  - {action: Deny, to: [${house('slytherin')}]}`,
    ),
    flows: [
      { from: g0, to: s0, port: 80, verdict: 'allow' },
      { from: g0, to: s0, port: 8080, verdict: 'deny', by: { direction: 'egress', tier: 'kube-admin', policy: 'named-ports', kind: CNP, rule: 'spec.egress[1].to[0]' } },
      { from: g0, to: s0, port: 53, protocol: 'UDP', verdict: 'deny', by: { rule: 'spec.egress[1].to[0]' } },
    ],
  },
  {
    name: 'named ports: an ANP namedPort matches the name on its own protocol only',
    policies: anp('dns-only', 1, `${SUBJECT_GRYFFINDOR}\n  egress:\n  - {action: Allow, to: [${house('ravenclaw')}], ports: [{namedPort: dns}, ${tcp(8080)}]}\n  - {action: Deny, to: [${house('ravenclaw')}]}`),
    flows: [
      { from: g0, to: r0, port: 53, protocol: 'UDP', verdict: 'allow' },
      { from: g0, to: r0, port: 8080, verdict: 'allow' },
      { from: g0, to: r0, port: 53, protocol: 'TCP', verdict: 'deny', by: { direction: 'egress', policy: 'dns-only', rule: 'spec.egress[1].to[0]' } },
      { from: g0, to: r0, port: 5353, protocol: 'UDP', verdict: 'deny', by: { rule: 'spec.egress[1].to[0]' } },
    ],
  },
  {
    name: 'port ranges: start and end are both included, in either API version',
    policies:
      anp('range-v1alpha1', 1, `${SUBJECT_GRYFFINDOR}\n  ingress:\n  - {action: Deny, from: [${house('slytherin')}], ports: [{portRange: {protocol: TCP, start: 8000, end: 8080}}]}`) +
      cnp('range-v1alpha2', 'Admin', 2, `${SUBJECT_GRYFFINDOR}\n  ingress:\n  - {action: Deny, from: [${house('hufflepuff')}], protocols: [{udp: {destinationPort: {range: {start: 5353, end: 5400}}}}]}`),
    flows: [
      { from: s0, to: g0, port: 8080, verdict: 'deny', by: { direction: 'ingress', policy: 'range-v1alpha1', kind: ANP, rule: 'spec.ingress[0].from[0]' } },
      { from: s0, to: g0, port: 80, verdict: 'allow' },
      { from: h0, to: g0, port: 5353, protocol: 'UDP', verdict: 'deny', by: { policy: 'range-v1alpha2', kind: CNP, rule: 'spec.ingress[0].from[0]' } },
      { from: h0, to: g0, port: 53, protocol: 'UDP', verdict: 'allow' },
      { from: h0, to: g0, port: 5353, protocol: 'TCP', verdict: 'allow' },
    ],
  },
  {
    name: 'networks: Deny to 0.0.0.0/0 also covers pods; an earlier Accept to slytherin wins',
    policies: inlineCidr(false),
    flows: [
      { from: g0, to: s0, port: 80, verdict: 'allow' },
      { from: g0, to: h0, port: 80, verdict: 'deny', by: { direction: 'egress', tier: 'kube-admin', policy: 'inline-cidr-as-peers-example', kind: CNP, rule: 'spec.egress[1].to[0]' } },
      { from: g0, to: '8.8.8.8', port: 443, verdict: 'deny', by: { rule: 'spec.egress[1].to[0]' } },
      { from: g0, to: '2001:db8::1', port: 443, verdict: 'deny', by: { rule: 'spec.egress[1].to[0]' } },
      { from: h0, to: s0, port: 80, verdict: 'allow' },
    ],
  },
  {
    name: 'networks: a prepended Accept for two /32s lets exactly those pods through',
    policies: inlineCidr(true),
    flows: [
      { from: g0, to: h0, port: 80, verdict: 'allow' },
      { from: g0, to: r0, port: 80, verdict: 'allow' },
      { from: g0, to: h1, port: 80, verdict: 'deny', by: { rule: 'spec.egress[2].to[0]' } },
      { from: g0, to: r1, port: 80, verdict: 'deny', by: { rule: 'spec.egress[2].to[0]' } },
    ],
  },
  {
    name: 'Baseline tier ClusterNetworkPolicy: after NetworkPolicies, before the profile',
    policies:
      cnp('baseline-deny', 'Baseline', 10, `  subject: {namespaces: {}}\n  ingress:\n  - {action: Deny, from: [${house('ravenclaw')}]}`) +
      knp('allow-ravenclaw', 'slytherin', '{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {conformance-house: ravenclaw}}}]}]}'),
    flows: [
      { from: r0, to: s0, port: 80, verdict: 'allow', by: { tier: 'default', policy: 'allow-ravenclaw' } },
      { from: r0, to: g0, port: 80, verdict: 'deny', by: { direction: 'ingress', tier: 'kube-baseline', policy: 'baseline-deny', kind: CNP, rule: 'spec.ingress[0].from[0]' } },
    ],
  },
  {
    name: 'domain names: an Allow to a domain before a deny of everything else; a Deny of a domain',
    policies: anp(
      'allow-example-domains',
      1,
      `${SUBJECT_GRYFFINDOR}\n  egress:\n  - {action: Allow, to: [{domainNames: ['*.example.com', kubernetes.io]}]}\n  - {action: Deny, to: [{networks: [0.0.0.0/0]}]}`,
    ) +
      // The API supports domain names in Allow rules only; the engine can match them in a Deny too.
      cnp('deny-domain', 'Admin', 0, `${SUBJECT_GRYFFINDOR}\n  egress:\n  - {action: Deny, to: [{domainNames: ['*.example.org']}]}`),
    flows: [
      { from: g0, to: 'api.example.com', port: 443, verdict: 'allow', by: { direction: 'egress', tier: 'kube-admin', policy: 'allow-example-domains', rule: 'spec.egress[0].to[0]' } },
      { from: g0, to: 'a.b.example.com', port: 443, verdict: 'allow' },
      { from: g0, to: 'kubernetes.io', port: 443, verdict: 'allow' },
      { from: g0, to: '8.8.8.8', port: 443, verdict: 'deny', by: { rule: 'spec.egress[1].to[0]' } },
      { from: g0, to: 'blocked.example.org', port: 443, verdict: 'deny', by: { tier: 'kube-admin', policy: 'deny-domain', kind: CNP, rule: 'spec.egress[0].to[0]' } },
      { from: g0, to: 'example.org', port: 443, verdict: 'allow', by: { reason: 'profile' } },
    ],
  },
  {
    name: 'nodes peers match nothing (no Node objects); the rule keeps its other peers',
    policies:
      cnp('nodes-deny', 'Admin', 1, `${SUBJECT_GRYFFINDOR}\n  egress:\n  - {action: Deny, to: [{nodes: {matchLabels: {kubernetes.io/os: linux}}}, ${house('slytherin')}]}`) +
      cnp('nodes-accept', 'Admin', 2, `  subject: ${house('slytherin')}\n  egress:\n  - {action: Accept, to: [{nodes: {}}]}\n  - {action: Deny, to: [{networks: [192.168.0.0/16]}]}`),
    diagnostics: ['engine/admin-peer-not-represented', 'engine/admin-peer-not-represented'],
    flows: [
      { from: g0, to: s0, port: 80, verdict: 'deny', by: { direction: 'egress', policy: 'nodes-deny', rule: 'spec.egress[0].to[1]' } },
      { from: g0, to: h0, port: 80, verdict: 'allow', by: { reason: 'profile' } },
      { from: g0, to: 'hep:node1-eth0', port: 22, verdict: 'allow', by: { reason: 'profile' } },
      { from: s0, to: '192.168.0.1', port: 22, verdict: 'deny', by: { direction: 'egress', policy: 'nodes-accept', rule: 'spec.egress[1].to[0]' } },
      { from: s0, to: h0, port: 80, verdict: 'allow' },
    ],
  },
  {
    name: 'a policy without rules selects its subject but never decides (its tier ends in Pass)',
    policies: anp('empty', 1, SUBJECT_GRYFFINDOR) + cnp('empty-baseline', 'Baseline', 1, SUBJECT_GRYFFINDOR),
    flows: [
      { from: s0, to: g0, port: 80, verdict: 'allow', by: { reason: 'profile' } },
      { from: g0, to: s0, port: 80, verdict: 'allow', by: { reason: 'profile' } },
    ],
  },
];

function build(policies: string): { cluster: Cluster; codes: string[] } {
  const loaded = loadText(`${CLUSTER}${policies}`, 'case.yaml');
  assert.deepEqual(loaded.diagnostics.filter((d) => d.severity === 'error'), [], 'the case must load cleanly');
  const built = buildCluster(loaded.resources);
  assert.deepEqual(built.diagnostics.filter((d) => d.severity === 'error'), []);
  return { cluster: built.cluster, codes: built.diagnostics.filter((d) => d.code.startsWith('engine/admin') || d.code === 'engine/semantics-not-implemented').map((d) => d.code) };
}

for (const c of cases) {
  test(c.name, () => {
    const { cluster, codes } = build(c.policies);
    assert.deepEqual(codes, c.diagnostics ?? []);
    for (const f of c.flows) {
      const label = `${f.from} -> ${f.to} ${f.port ?? ''}/${f.protocol ?? 'TCP'}`;
      const flow = makeFlow(cluster, { from: f.from, to: f.to, port: f.port, protocol: f.protocol ?? 'TCP' });
      assert.ok(flow.ok, `${label}: ${flow.ok ? '' : flow.diagnostics[0]?.message}`);
      const d = evaluateFlow(cluster, flow.value);
      assert.equal(d.verdict, f.verdict, `${label}: verdict (decided by ${JSON.stringify(d.decidedBy)})`);
      if (f.by === undefined) continue;
      const by = d.decidedBy;
      const actual: Record<string, unknown> = { direction: by.direction, tier: by.tier, policy: by.policy, kind: by.kind, reason: by.reason };
      if (f.by.rule !== undefined) {
        const p = by.kind === null || by.kind === 'Profile' ? undefined : cluster.policy(`${by.kind}/${by.namespace ?? ''}/${by.policy ?? ''}`);
        const rules = by.direction === 'egress' ? p?.egress : p?.ingress;
        actual['rule'] = by.rule === null ? null : formatPath(rules?.[by.rule]?.path ?? []);
      }
      const subset = Object.fromEntries(Object.keys(f.by).map((k) => [k, actual[k]]));
      assert.deepEqual(subset, f.by, `${label}: decided by`);
    }
  });
}

test('the admin tiers sort first and after default, and priority becomes the order', () => {
  const { cluster } = build(priority(40) + inlineCidr(false) + cnp('late', 'Baseline', 7, SUBJECT_GRYFFINDOR));
  assert.deepEqual(
    cluster.tiers.map((t) => [t.name, t.order, t.defaultAction]),
    [
      ['kube-admin', 1000, 'pass'],
      ['default', 1_000_000, 'deny'],
      ['kube-baseline', 10_000_000, 'pass'],
    ],
  );
  assert.deepEqual(
    cluster.policies.map((p) => [p.tier, p.order, p.kind, p.name]),
    [
      ['kube-admin', 40, ANP, 'old-priority-60-new-priority-40-example'],
      ['kube-admin', 50, ANP, 'priority-50-example'],
      ['kube-admin', 85, CNP, 'inline-cidr-as-peers-example'],
      ['kube-baseline', 7, CNP, 'late'],
      ['kube-baseline', 1000, BANP, 'default'],
    ],
  );
});

test('ports become one rule per protocol (sorted) and peer, as Calico converts them', () => {
  const { cluster } = build(
    anp('expand', 1, `${SUBJECT_GRYFFINDOR}\n  egress:\n  - {action: Deny, to: [${house('slytherin')}, ${housePods('hufflepuff')}], ports: [${udp(53)}, {namedPort: web}, ${tcp(80)}, ${tcp(81)}]}`),
  );
  const p = cluster.policy('AdminNetworkPolicy//expand');
  assert.ok(p !== undefined);
  assert.deepEqual(
    p.egress.map((r) => [r.protocol ?? null, r.destination.ports?.ranges.map((x) => x.min) ?? null, r.destination.ports?.named ?? null, formatPath(r.path)]),
    [
      [null, [], ['web'], 'spec.egress[0].to[0]'],
      [null, [], ['web'], 'spec.egress[0].to[1]'],
      [6, [80, 81], [], 'spec.egress[0].to[0]'],
      [6, [80, 81], [], 'spec.egress[0].to[1]'],
      [17, [53], [], 'spec.egress[0].to[0]'],
      [17, [53], [], 'spec.egress[0].to[1]'],
    ],
  );
  assert.deepEqual(p.types, { ingress: false, egress: true });
  // The subject and peers compose as a GlobalNetworkPolicy's would (a namespaces peer has no pod clause).
  assert.equal(p.selector.canonical, '(projectcalico.org/orchestrator == "k8s" && pcns.conformance-house == "gryffindor")');
  assert.deepEqual(p.egress.slice(0, 2).map((r) => r.destination.selector?.canonical), [
    'pcns.conformance-house == "slytherin"',
    '(pcns.conformance-house == "hufflepuff" && (projectcalico.org/orchestrator == "k8s" && conformance-house == "hufflepuff"))',
  ]);
});

test('bad admin policies are errors with field paths', () => {
  const bad =
    anp('too-high', 1001, `${SUBJECT_GRYFFINDOR}`) +
    anp('odd-peer', 1, `${SUBJECT_GRYFFINDOR}\n  egress:\n  - {action: Deny, to: [{services: {}}]}`) +
    cnp('odd-tier', 'Admin', 1, SUBJECT_GRYFFINDOR).replace('tier: Admin', 'tier: Middle') +
    cnp('negative', 'Admin', 1, SUBJECT_GRYFFINDOR).replace('priority: 1', 'priority: -1') +
    banp(`${SUBJECT_GRYFFINDOR}\n  egress:\n  - {action: Pass, to: [{domainNames: [example.com]}]}`).replace('name: default', 'name: other');
  const loaded = loadText(bad, 'bad.yaml');
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.code, d.path]);
  assert.deepEqual(errors, [
    ['model/invalid-value', 'spec.priority'],
    ['model/unknown-field', 'spec.egress[0].to[0].services'],
    ['model/invalid-value', 'spec.tier'],
    ['model/invalid-value', 'spec.priority'],
    ['model/invalid-name', 'metadata.name'],
    ['model/invalid-action', 'spec.egress[0].action'],
    ['model/unknown-field', 'spec.egress[0].to[0].domainNames'],
  ]);
});

test('lint points into admin policies: subject, peers, shadowed rules', () => {
  const text = `${CLUSTER}${anp(
    'lint-me',
    1,
    `  subject: ${housePods('nowhere')}\n  ingress:\n  - {action: Deny, from: [{namespaces: {matchLabels: {team: x}}}]}\n  - {action: Deny, from: [{namespaces: {matchLabels: {team: x}}}], ports: [${tcp(80)}]}`,
  )}`;
  const loaded = loadText(text, 'case.yaml');
  const { cluster } = buildCluster(loaded.resources);
  const found = lint({ resources: loaded.resources, cluster })
    .filter((d) => d.message.includes('lint-me') || d.code === 'lint/namespace-label-unknown')
    .map((d) => [d.code, d.path]);
  // The subject's namespace selector tests conformance-house, which namespaces have: no warning there.
  assert.deepEqual(found, [
    ['lint/policy-selects-nothing', 'spec.subject'],
    ['lint/rule-shadowed', 'spec.ingress[1].from[0]'],
    ['lint/namespace-label-unknown', 'spec.ingress[0].from[0].namespaces'],
    ['lint/namespace-label-unknown', 'spec.ingress[1].from[0].namespaces'],
  ]);
});

test('what a laxer CRD allowed loads with a warning and is read as Calico reads it', () => {
  const text =
    anp('no-pod-selector', 1, `${SUBJECT_GRYFFINDOR}\n  ingress:\n  - {action: Deny, from: [{pods: {namespaceSelector: {matchLabels: {conformance-house: slytherin}}}}]}`) +
    cnp('no-namespace-selector', 'Admin', 2, `${SUBJECT_GRYFFINDOR}\n  ingress:\n  - {action: Deny, from: [{pods: {podSelector: {matchLabels: {conformance-house: hufflepuff}}}}]}`) +
    anp('named-port-and-networks', 3, `${SUBJECT_GRYFFINDOR}\n  egress:\n  - {action: Deny, to: [{networks: [10.0.4.0/24]}, ${housePods('slytherin')}], ports: [{namedPort: web}]}`);
  const loaded = loadText(`${CLUSTER}${text}`, 'case.yaml');
  assert.deepEqual(loaded.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.deepEqual(
    loaded.diagnostics.map((d) => [d.severity, d.code, d.path]),
    [
      ['warning', 'model/missing-selector', 'spec.ingress[0].from[0].pods'],
      ['warning', 'model/named-port-without-pods', 'spec.egress[0].ports[0]'],
    ],
    'v1alpha2 makes namespaceSelector optional: no warning for the ClusterNetworkPolicy',
  );
  const { cluster } = buildCluster(loaded.resources);
  const verdict = (from: string, to: string, port: number): string => {
    const f = makeFlow(cluster, { from, to, port, protocol: 'TCP' });
    assert.ok(f.ok);
    return evaluateFlow(cluster, f.value).verdict;
  };
  // An absent podSelector is {}: every pod of slytherin; an absent namespaceSelector: every namespace.
  assert.equal(verdict(s0, g0, 8080), 'deny');
  assert.equal(verdict(h0, g0, 8080), 'deny');
  assert.equal(verdict(r0, g0, 8080), 'allow');
  // A named port is a port of a pod that owns it: web (80) on slytherin's pods and on the pods inside
  // the network (Felix's named-port set of a selector-less side has every endpoint), never an
  // outside address of the network.
  assert.equal(verdict(g0, s0, 80), 'deny');
  assert.equal(verdict(g0, s0, 8080), 'allow');
  assert.equal(verdict(g0, r0, 80), 'deny');
  assert.equal(verdict(g0, '10.0.4.200', 80), 'allow');
});
