// The engine's semantics, feature by feature: a small cluster, one policy set per case, and the
// verdict and deciding step Calico would give (reference: shared/reference/calico-semantics.md;
// each case names the section or upstream behaviour it pins down).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/load/index.ts';
import { buildCluster, evaluateFlow, makeFlow } from '../../src/engine/index.ts';
import type { Cluster, FlowDecision } from '../../src/engine/index.ts';

const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {env: prod, team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {env: dev}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: prod, labels: {role: backend}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: prod, labels: {app: api}}
spec: {serviceAccountName: api, containers: [{name: c, ports: [{name: http, containerPort: 9000}, {name: dns, containerPort: 53, protocol: UDP}]}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: dev, labels: {app: tool}}
spec: {serviceAccountName: ${'x'.repeat(63)}, containers: [{name: c}]}
status: {podIPs: [{ip: 10.1.0.1}, {ip: 'fd00::2'}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: feed, labels: {feed: bad}}
spec: {nets: [198.51.100.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: partners, namespace: prod, labels: {kind: partner}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: vendor, labels: {vendor: 'true'}}
spec: {allowedEgressDomains: ['*.vendor.example.com']}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: prod}
spec: {selector: {app: api}, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 200, defaultAction: Pass}
`;

function cluster(policies: string): Cluster {
  const text = `${CLUSTER}\n---\n${policies}`;
  const loaded = loadText(text, 'case.yaml');
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors, [], 'the case must load cleanly');
  const built = buildCluster(loaded.resources);
  assert.deepEqual(built.diagnostics.filter((d) => d.severity === 'error'), []);
  return built.cluster;
}

function decide(c: Cluster, from: string, to: string, port?: number, protocol = 'TCP', extra: { icmpType?: number; icmpCode?: number } = {}): FlowDecision {
  const flow = makeFlow(c, { from, to, port, protocol, ...extra });
  assert.ok(flow.ok, `${from} -> ${to}: ${flow.ok ? '' : flow.diagnostics[0]?.message}`);
  return evaluateFlow(c, flow.value);
}

interface Case {
  readonly name: string;
  readonly policies: string;
  readonly flows: readonly {
    readonly from: string;
    readonly to: string;
    readonly port?: number;
    readonly protocol?: string;
    readonly icmpType?: number;
    readonly icmpCode?: number;
    readonly verdict: 'allow' | 'deny';
    readonly by?: Partial<Record<'direction' | 'tier' | 'policy' | 'rule' | 'reason', unknown>>;
    readonly pending?: 'allow' | 'deny';
  }[];
}

const gnp = (name: string, spec: string): string => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: ${name}}\nspec: ${spec}\n---\n`;
const np = (name: string, ns: string, spec: string): string => `apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}\n---\n`;
const knp = (name: string, ns: string, spec: string): string => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}\n---\n`;

const cases: readonly Case[] = [
  {
    name: 'no policy: the namespace profile allows (default allow)',
    policies: '',
    flows: [{ from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'allow', by: { direction: 'ingress', reason: 'profile', policy: 'kns.prod' } }],
  },
  {
    name: 'an endpoint to itself is allowed without policy (loopback)',
    policies: knp('deny', 'prod', '{podSelector: {}, policyTypes: [Ingress, Egress]}'),
    flows: [{ from: 'prod/web', to: 'prod/web', port: 8080, verdict: 'allow', by: { reason: 'loopback', direction: null } }],
  },
  {
    name: 'a policy with no rules for a governed direction denies at the end of its tier (§5.4)',
    policies: knp('deny-in', 'prod', '{podSelector: {}}'),
    flows: [
      { from: 'dev/tool', to: 'prod/api', port: 9000, verdict: 'deny', by: { direction: 'ingress', tier: 'default', policy: 'deny-in', rule: null, reason: 'end-of-tier' } },
      { from: 'prod/api', to: 'dev/tool', port: 80, verdict: 'allow' },
    ],
  },
  {
    name: 'Pass skips the rest of the tier; the next tier decides (§5.4)',
    policies:
      gnp('pass-all', '{tier: security, order: 1, selector: all(), ingress: [{action: Pass}], egress: [{action: Pass}]}') +
      gnp('deny-all', "{tier: security, order: 2, selector: all(), ingress: [{action: Deny}]}") +
      np('allow-web', 'prod', "{order: 10, selector: app == 'api', ingress: [{action: Allow, source: {selector: app == 'web'}}]}"),
    flows: [
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'allow', by: { tier: 'default', policy: 'allow-web', rule: 0 } },
      { from: 'dev/tool', to: 'prod/api', port: 9000, verdict: 'deny', by: { tier: 'default', policy: 'allow-web', reason: 'end-of-tier' } },
    ],
  },
  {
    name: 'Deny in a higher tier cannot be overridden by a lower one',
    policies:
      gnp('no-dev', "{tier: security, order: 1, selector: all(), ingress: [{action: Deny, source: {namespaceSelector: env == 'dev'}}, {action: Pass}]}") +
      knp('allow-all', 'prod', '{podSelector: {}, ingress: [{}]}'),
    flows: [
      { from: 'dev/tool', to: 'prod/api', port: 9000, verdict: 'deny', by: { tier: 'security', policy: 'no-dev', rule: 0, reason: 'rule' } },
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'allow', by: { tier: 'default', policy: 'allow-all', rule: 0 } },
    ],
  },
  {
    name: "a tier with defaultAction Pass passes what no rule matched",
    policies: gnp('dns', '{tier: platform, order: 1, selector: all(), egress: [{action: Allow, protocol: UDP, destination: {ports: [53]}}]}'),
    flows: [
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'allow', by: { reason: 'profile' } },
      { from: 'prod/web', to: 'prod/api', port: 53, protocol: 'UDP', verdict: 'allow', by: { direction: 'ingress', reason: 'profile' } },
    ],
  },
  {
    name: 'Log never terminates evaluation',
    policies: gnp('log-then-deny', '{tier: security, order: 1, selector: all(), ingress: [{action: Log}, {action: Deny}]}'),
    flows: [{ from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'deny', by: { policy: 'log-then-deny', rule: 1 } }],
  },
  {
    name: 'ties in order are broken by name/namespace/kind: a-b runs before a',
    policies:
      gnp('a', "{tier: security, order: 5, selector: all(), ingress: [{action: Allow}]}") +
      gnp('a-b', "{tier: security, order: 5, selector: all(), ingress: [{action: Deny}]}"),
    flows: [{ from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'deny', by: { policy: 'a-b' } }],
  },
  {
    name: 'policies without order run last in their tier',
    policies:
      gnp('unordered', "{tier: security, selector: all(), ingress: [{action: Deny}]}") +
      gnp('ordered', "{tier: security, order: 1000000, selector: all(), ingress: [{action: Allow}]}"),
    flows: [{ from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'allow', by: { policy: 'ordered' } }],
  },
  {
    name: 'Kubernetes policies sit in the default tier at order 1000 among Calico policies (§8.1)',
    policies:
      np('before', 'prod', "{order: 999, selector: app == 'api', ingress: [{action: Deny, source: {selector: app == 'web'}}]}") +
      knp('allow-web', 'prod', '{podSelector: {matchLabels: {app: api}}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]}'),
    flows: [{ from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'deny', by: { policy: 'before', rule: 0, tier: 'default' } }],
  },
  {
    name: 'NetworkPolicy rule selectors are confined to the policy namespace; namespaceSelector lifts it (§3.4)',
    policies:
      np('same-ns', 'prod', "{selector: app == 'api', ingress: [{action: Allow, source: {selector: has(app)}}]}") +
      np('from-dev', 'prod', "{order: 2000, selector: app == 'api', ingress: [{action: Allow, source: {namespaceSelector: env == 'dev', selector: has(app)}}]}"),
    flows: [
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'allow', by: { policy: 'same-ns' } },
      { from: 'dev/tool', to: 'prod/api', port: 9000, verdict: 'allow', by: { policy: 'from-dev' } },
    ],
  },
  {
    name: 'a lone notSelector: NetworkPolicy means same-namespace non-matching, GNP means anything non-matching (§9.9)',
    policies:
      np('np-not', 'prod', "{order: 1, selector: app == 'api', ingress: [{action: Allow, source: {notSelector: app == 'web'}}]}") +
      gnp('gnp-not', "{order: 2, selector: app == 'web', ingress: [{action: Allow, source: {notSelector: app == 'api'}}]}"),
    flows: [
      { from: 'dev/tool', to: 'prod/api', port: 9000, verdict: 'deny', by: { reason: 'end-of-tier' } },
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'deny', by: { reason: 'end-of-tier' } },
      { from: 'dev/tool', to: 'prod/web', port: 8080, verdict: 'allow', by: { policy: 'gnp-not' } },
      { from: '192.0.2.1', to: 'prod/web', port: 8080, verdict: 'allow', by: { policy: 'gnp-not' } },
      { from: '192.0.2.1', to: 'prod/api', port: 9000, verdict: 'deny' },
    ],
  },
  {
    name: 'selector all() matches known endpoints and network sets only, an absent selector any address (§9.10)',
    policies:
      gnp('sel-all', "{order: 1, selector: app == 'web', ingress: [{action: Allow, source: {selector: all()}}]}") +
      gnp('any', "{order: 1, selector: app == 'api', ingress: [{action: Allow, source: {}}]}"),
    flows: [
      { from: '192.0.2.1', to: 'prod/web', port: 8080, verdict: 'deny' },
      { from: '198.51.100.7', to: 'prod/web', port: 8080, verdict: 'allow', by: { policy: 'sel-all' } },
      { from: '192.0.2.1', to: 'prod/api', port: 9000, verdict: 'allow', by: { policy: 'any' } },
    ],
  },
  {
    name: 'network sets: selectors match the CIDRs of labelled sets; a NetworkSet is namespaced (§4)',
    policies:
      gnp('feed', "{tier: security, order: 1, selector: all(), egress: [{action: Deny, destination: {selector: feed == 'bad'}}, {action: Pass}]}") +
      np('partners', 'prod', "{selector: app == 'api', egress: [{action: Allow, destination: {selector: kind == 'partner'}}]}") +
      np('partners-dev', 'dev', "{selector: all(), egress: [{action: Allow, destination: {selector: kind == 'partner'}}]}"),
    flows: [
      { from: 'prod/web', to: '198.51.100.9', port: 443, verdict: 'deny', by: { tier: 'security', policy: 'feed', rule: 0 } },
      { from: 'prod/api', to: '203.0.113.5', port: 443, verdict: 'allow', by: { policy: 'partners', direction: 'egress' } },
      { from: 'dev/tool', to: '203.0.113.5', port: 443, verdict: 'deny', by: { policy: 'partners-dev', reason: 'end-of-tier' } },
    ],
  },
  {
    name: 'namespaceSelector global() selects global network sets only (§3.4)',
    policies: np('global', 'dev', "{selector: all(), egress: [{action: Allow, destination: {namespaceSelector: global(), selector: has(feed)}}]}"),
    flows: [
      { from: 'dev/tool', to: '198.51.100.1', port: 443, verdict: 'allow', by: { policy: 'global' } },
      { from: 'dev/tool', to: 'prod/web', port: 8080, verdict: 'deny' },
    ],
  },
  {
    name: 'service accounts: names and selectors become pcsa. labels; names of 63+ characters get no label (§2.2)',
    policies:
      np('by-sa', 'prod', "{order: 1, selector: app == 'web', ingress: [{action: Allow, source: {serviceAccounts: {names: [api]}}}]}") +
      np('by-sa-label', 'prod', "{order: 2, selector: app == 'web', ingress: [{action: Deny, source: {serviceAccounts: {selector: role == 'backend'}}}]}") +
      gnp('long-sa', `{order: 3, selector: app == 'web', ingress: [{action: Allow, source: {serviceAccounts: {names: [${'x'.repeat(63)}]}}}]}`),
    flows: [
      { from: 'prod/api', to: 'prod/web', port: 8080, verdict: 'allow', by: { policy: 'by-sa' } },
      { from: 'dev/tool', to: 'prod/web', port: 8080, verdict: 'deny', by: { reason: 'end-of-tier' } },
    ],
  },
  {
    name: "the pod's own SA label selects it through a policy serviceAccountSelector",
    policies: gnp('sa-policy', "{selector: all(), serviceAccountSelector: role == 'backend', ingress: [{action: Deny}]}"),
    flows: [
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'deny', by: { policy: 'sa-policy' } },
      { from: 'prod/api', to: 'prod/web', port: 8080, verdict: 'allow' },
    ],
  },
  {
    name: 'named ports resolve on the owning endpoint, with its protocol (§9.19)',
    policies: gnp('named', "{selector: has(app), ingress: [{action: Allow, destination: {ports: [http]}}, {action: Allow, protocol: UDP, destination: {ports: [dns]}}]}"),
    flows: [
      { from: 'dev/tool', to: 'prod/web', port: 8080, verdict: 'allow', by: { rule: 0 } },
      { from: 'dev/tool', to: 'prod/api', port: 9000, verdict: 'allow', by: { rule: 0 } },
      { from: 'dev/tool', to: 'prod/api', port: 8080, verdict: 'deny' },
      { from: 'dev/tool', to: 'prod/api', port: 53, protocol: 'UDP', verdict: 'allow', by: { rule: 1 } },
      { from: 'dev/tool', to: 'prod/api', port: 53, verdict: 'deny' },
    ],
  },
  {
    name: 'ports and notPorts, protocols by name and number',
    policies: gnp('ports', "{selector: app == 'api', ingress: [{action: Deny, protocol: 6, destination: {ports: ['9000:9001']}}, {action: Allow, protocol: TCP, destination: {notPorts: [22]}}]}"),
    flows: [
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'deny', by: { rule: 0 } },
      { from: 'prod/web', to: 'prod/api', port: 80, verdict: 'allow', by: { rule: 1 } },
      { from: 'prod/web', to: 'prod/api', port: 22, verdict: 'deny', by: { reason: 'end-of-tier' } },
      { from: 'prod/web', to: 'prod/api', port: 80, protocol: 'UDP', verdict: 'deny' },
    ],
  },
  {
    name: 'ICMP type and code; notICMP means NOT(type and code)',
    policies: gnp('icmp', "{selector: app == 'api', ingress: [{action: Allow, protocol: ICMP, icmp: {type: 8, code: 0}}, {action: Allow, protocol: ICMP, notICMP: {type: 13}}]}"),
    flows: [
      { from: 'prod/web', to: 'prod/api', protocol: 'ICMP', verdict: 'allow', by: { rule: 0 } },
      { from: 'prod/web', to: 'prod/api', protocol: 'ICMP', icmpType: 8, icmpCode: 1, verdict: 'allow', by: { rule: 1 } },
      { from: 'prod/web', to: 'prod/api', protocol: 'ICMP', icmpType: 13, verdict: 'deny' },
    ],
  },
  {
    name: 'IPv6: the flow family picks the rule family; an IPv6-only notNets makes a rule inapplicable to IPv4 (§9.18)',
    policies: gnp('v6', "{selector: app == 'web', ingress: [{action: Allow, source: {notNets: ['fd99::/16']}}, {action: Allow, ipVersion: 6}]}"),
    flows: [
      { from: 'dev/tool', to: 'prod/web', port: 8080, verdict: 'deny', by: { reason: 'end-of-tier' } },
      { from: 'fd00::2', to: 'fd00::1', port: 8080, verdict: 'allow', by: { rule: 0 } },
    ],
  },
  {
    name: 'ipBlock with except matches pod addresses too (§8.4); unknown addresses never match CIDRs',
    policies: knp('cidr', 'prod', "{podSelector: {matchLabels: {app: api}}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]}]}"),
    flows: [
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'allow', by: { policy: 'cidr' } },
      { from: 'dev/tool', to: 'prod/api', port: 9000, verdict: 'deny' },
      { from: '10.9.9.9', to: 'prod/api', port: 9000, verdict: 'allow' },
    ],
  },
  {
    name: 'Kubernetes egress and ingress are independent; both must allow (§5.5)',
    policies:
      knp('web-egress', 'prod', '{podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], egress: [{to: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 9000}]}]}') +
      knp('api-ingress', 'prod', '{podSelector: {matchLabels: {app: api}}, ingress: [{from: [{namespaceSelector: {matchLabels: {env: dev}}}]}]}'),
    flows: [
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'deny', by: { direction: 'ingress', policy: 'api-ingress', reason: 'end-of-tier' } },
      { from: 'prod/web', to: 'dev/tool', port: 80, verdict: 'deny', by: { direction: 'egress', policy: 'web-egress' } },
      { from: 'dev/tool', to: 'prod/api', port: 9000, verdict: 'allow' },
    ],
  },
  {
    name: 'services: destination services match backends on their target ports',
    policies: np('to-svc', 'prod', "{selector: app == 'web', egress: [{action: Allow, protocol: TCP, destination: {services: {name: api}}}]}"),
    flows: [
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'allow', by: { direction: 'ingress', reason: 'profile' } },
      { from: 'prod/web', to: 'prod/api', port: 9001, verdict: 'deny', by: { direction: 'egress' } },
    ],
  },
  {
    name: 'domain names match allowedEgressDomains sets in egress Allow rules only (§4)',
    policies: np('vendor', 'prod', "{selector: app == 'api', egress: [{action: Allow, destination: {selector: vendor == 'true', namespaceSelector: global()}}]}"),
    flows: [
      { from: 'prod/api', to: 'api.vendor.example.com', port: 443, verdict: 'allow', by: { policy: 'vendor' } },
      { from: 'prod/api', to: 'vendor.example.com', port: 443, verdict: 'deny' },
      { from: 'prod/api', to: 'www.example.org', port: 443, verdict: 'deny' },
    ],
  },
  {
    name: 'staged policies are never enforced, but give the pending verdict (§5.4)',
    policies:
      `apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: lockdown}\nspec: {tier: security, order: 1, selector: app == 'api', ingress: [{action: Deny, source: {namespaceSelector: env == 'dev'}}]}\n---\n`,
    flows: [
      { from: 'dev/tool', to: 'prod/api', port: 9000, verdict: 'allow', pending: 'deny' },
      { from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'allow', pending: 'deny' },
    ],
  },
  {
    name: 'a staged Delete hides its enforced twin in the pending view',
    policies:
      gnp('lockdown', "{tier: security, order: 1, selector: app == 'api', ingress: [{action: Deny}]}") +
      `apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: lockdown}\nspec: {tier: security, stagedAction: Delete}\n---\n`,
    flows: [{ from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'deny', pending: 'allow' }],
  },
  {
    name: 'doNotTrack and preDNAT policies do not apply to workload endpoints (§5.3)',
    policies: gnp('raw', "{selector: all(), doNotTrack: true, applyOnForward: true, ingress: [{action: Deny}]}"),
    flows: [{ from: 'prod/web', to: 'prod/api', port: 9000, verdict: 'allow' }],
  },
];

for (const c of cases) {
  test(c.name, () => {
    const cl = cluster(c.policies);
    for (const f of c.flows) {
      const d = decide(cl, f.from, f.to, f.port, f.protocol, { ...(f.icmpType === undefined ? {} : { icmpType: f.icmpType }), ...(f.icmpCode === undefined ? {} : { icmpCode: f.icmpCode }) });
      const what = `${f.from} -> ${f.to} ${f.protocol ?? 'TCP'} ${f.port ?? ''}`;
      assert.equal(d.verdict, f.verdict, `${what}: ${JSON.stringify(d.decidedBy)}`);
      for (const [k, v] of Object.entries(f.by ?? {})) assert.equal((d.decidedBy as unknown as Record<string, unknown>)[k], v, `${what}: decidedBy.${k} (${JSON.stringify(d.decidedBy)})`);
      if (f.pending !== undefined) assert.equal(d.pending?.verdict, f.pending, `${what}: pending`);
    }
  });
}

test('one pass yields verdict and trace: every consulted policy appears in order', () => {
  const c = cluster(
    gnp('pass', '{tier: security, order: 1, selector: all(), ingress: [{action: Log}, {action: Pass}]}') + knp('deny', 'prod', '{podSelector: {}}'),
  );
  const d = decide(c, 'dev/tool', 'prod/api', 9000);
  assert.deepEqual(
    d.ingress?.trace.map((s) => [s.tier, s.policy, s.rule, s.action, s.reason]),
    [
      ['security', 'pass', 0, 'log', 'rule'],
      ['security', 'pass', 1, 'pass', 'rule'],
      ['default', 'deny', null, 'no-match', 'no-match'],
      ['default', 'deny', null, 'deny', 'end-of-tier'],
    ],
  );
  assert.deepEqual(d.egress?.trace.map((s) => [s.tier, s.policy, s.action]), [[null, 'kns.dev', 'allow']]);
});
