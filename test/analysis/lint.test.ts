// Every lint rule of `strata check` (src/analysis/lint.ts), each with a case that must report it
// and a near case that must not: a rule that can no longer fire, or fires on good input, fails here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadText } from '../../src/load/index.ts';
import { buildCluster } from '../../src/engine/index.ts';
import { lint } from '../../src/analysis/lint.ts';
import { hasErrors } from '../../src/diagnostics/index.ts';

const BASE = `apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {env: prod}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIPs: [{ip: 10.0.0.5}]}
`;

const gnp = (spec: string, name = 'p'): string => `---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
const knp = (spec: string): string => `---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: k, namespace: prod}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;

function lintCodes(extra: string, base = BASE): { codes: string[]; messages: string[] } {
  const loaded = loadText(base + extra, 'in.yaml');
  assert.equal(hasErrors(loaded.diagnostics), false, JSON.stringify(loaded.diagnostics.filter((d) => d.severity === 'error')));
  const { cluster } = buildCluster(loaded.resources);
  const found = lint({ resources: loaded.resources, cluster });
  return { codes: found.map((d) => d.code), messages: found.map((d) => d.message) };
}

interface Case {
  readonly name: string;
  readonly yaml: string;
  readonly base?: string;
}

const RULES: readonly { code: string; positive: readonly Case[]; negative: readonly Case[] }[] = [
  {
    code: 'lint/selector-never-matches',
    positive: [
      { name: 'a policy selector that contradicts itself', yaml: gnp('selector: app == "a" && app == "b"\ntypes: [Ingress]') },
      { name: 'a rule source selector that contradicts itself', yaml: gnp('selector: app == "web"\ningress:\n  - action: Allow\n    source: {selector: has(a) && !has(a)}') },
    ],
    negative: [{ name: 'satisfiable selectors', yaml: gnp('selector: app == "web"\ningress:\n  - action: Allow\n    source: {selector: has(a)}') }],
  },
  {
    code: 'lint/rule-shadowed',
    positive: [
      { name: 'an Allow all before a Deny of one port', yaml: gnp('selector: app == "web"\ningress:\n  - action: Allow\n  - action: Deny\n    protocol: TCP\n    destination: {ports: [80]}') },
      { name: 'a wider CIDR before a narrower one', yaml: gnp('selector: app == "web"\negress:\n  - action: Deny\n    destination: {nets: [10.0.0.0/8]}\n  - action: Allow\n    destination: {nets: [10.1.0.0/16]}') },
      { name: 'the same domains twice', yaml: gnp('selector: app == "web"\negress:\n  - action: Allow\n    destination: {domains: [example.com, "*.example.org"]}\n  - action: Allow\n    destination: {domains: [a.example.org]}') },
    ],
    negative: [
      { name: 'an Allow to domains before a Deny to a CIDR (issue 11: explain shows the Deny deciding)', yaml: gnp('selector: app == "web"\negress:\n  - action: Allow\n    destination: {domains: [example.com]}\n  - action: Deny\n    destination: {nets: [10.0.0.0/8]}') },
      { name: 'an Allow to one domain before an Allow to another', yaml: gnp('selector: app == "web"\negress:\n  - action: Allow\n    destination: {domains: [example.com]}\n  - action: Allow\n    destination: {domains: [example.org]}') },
      { name: 'a narrower port before a wider one', yaml: gnp('selector: app == "web"\ningress:\n  - action: Deny\n    protocol: TCP\n    destination: {ports: [80]}\n  - action: Allow\n    protocol: TCP') },
      { name: 'a different protocol', yaml: gnp('selector: app == "web"\ningress:\n  - action: Deny\n    protocol: UDP\n  - action: Allow\n    protocol: TCP') },
      { name: 'a different source selector', yaml: gnp('selector: app == "web"\ningress:\n  - action: Deny\n    source: {selector: app == "a"}\n  - action: Allow\n    source: {selector: app == "b"}') },
      { name: 'a different source namespace', yaml: gnp('selector: app == "web"\ningress:\n  - action: Deny\n    source: {namespaceSelector: env == "dev"}\n  - action: Allow\n    source: {namespaceSelector: env == "prod"}') },
      { name: 'a Log rule before', yaml: gnp('selector: app == "web"\ningress:\n  - action: Log\n  - action: Allow') },
      { name: 'an ICMP type before another', yaml: gnp('selector: app == "web"\ningress:\n  - action: Deny\n    protocol: ICMP\n    icmp: {type: 8}\n  - action: Allow\n    protocol: ICMP\n    icmp: {type: 0}') },
      { name: 'a Deny with a destination selector before an Allow with the same selector (Allow also reaches domains)', yaml: gnp('selector: app == "web"\negress:\n  - action: Deny\n    destination: {selector: has(x)}\n  - action: Allow\n    destination: {selector: has(x)}') },
    ],
  },
  {
    code: 'lint/policy-selects-nothing',
    positive: [{ name: 'a selector for labels no endpoint has', yaml: gnp('selector: app == "nope"\ntypes: [Ingress]') }],
    negative: [
      { name: 'a selector that selects the pod', yaml: gnp('selector: app == "web"\ntypes: [Ingress]') },
      { name: 'no endpoints in the input at all', yaml: gnp('selector: app == "nope"\ntypes: [Ingress]'), base: 'apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n' },
    ],
  },
  {
    code: 'lint/namespace-label-unknown',
    positive: [{ name: 'a namespace selector on a label no namespace has', yaml: gnp('selector: app == "web"\ningress:\n  - action: Allow\n    source: {namespaceSelector: team == "x"}') }],
    negative: [
      { name: 'a namespace selector on a label a namespace has', yaml: gnp('selector: app == "web"\ningress:\n  - action: Allow\n    source: {namespaceSelector: env == "prod"}') },
      { name: 'the automatic name label', yaml: gnp('selector: app == "web"\ningress:\n  - action: Allow\n    source: {namespaceSelector: kubernetes.io/metadata.name == "prod"}') },
    ],
  },
  {
    code: 'lint/rules-ignored-by-types',
    positive: [{ name: 'egress rules with types [Ingress]', yaml: gnp('selector: app == "web"\ntypes: [Ingress]\negress:\n  - action: Allow') }],
    negative: [{ name: 'egress rules with types [Ingress, Egress]', yaml: gnp('selector: app == "web"\ntypes: [Ingress, Egress]\negress:\n  - action: Allow') }],
  },
  {
    code: 'lint/cidr-without-addresses',
    positive: [{ name: 'a CIDR rule while a pod has no address', yaml: `---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: prod, labels: {app: db}}\nspec: {containers: [{name: c}]}\n${gnp('selector: app == "web"\ningress:\n  - action: Allow\n    source: {nets: [10.0.0.0/8]}')}` }],
    negative: [{ name: 'a CIDR rule while every pod has an address', yaml: gnp('selector: app == "web"\ningress:\n  - action: Allow\n    source: {nets: [10.0.0.0/8]}') }],
  },
  {
    code: 'lint/http-ignored',
    positive: [{ name: 'an HTTP match', yaml: gnp('selector: app == "web"\ningress:\n  - action: Allow\n    http: {methods: [GET]}') }],
    negative: [{ name: 'no HTTP match', yaml: gnp('selector: app == "web"\ningress:\n  - action: Allow') }],
  },
  {
    code: 'engine/tier-not-found',
    positive: [{ name: 'a policy in an undeclared tier', yaml: gnp('tier: securty\nselector: app == "web"\ntypes: [Ingress]', 'securty.p') }],
    negative: [{ name: 'a policy in the default tier', yaml: knp('podSelector: {}\npolicyTypes: [Ingress]') }],
  },
];

function codesWithBuild(c: Case): string[] {
  const base = c.base ?? BASE;
  const loaded = loadText(base + c.yaml, 'in.yaml');
  const built = buildCluster(loaded.resources);
  return [...built.diagnostics.map((d) => d.code), ...lintCodes(c.yaml, base).codes];
}

describe('every lint rule reports what it is for, and only that', () => {
  for (const rule of RULES) {
    describe(rule.code, () => {
      for (const c of rule.positive) test(`reports ${c.name}`, () => assert.ok(codesWithBuild(c).includes(rule.code), codesWithBuild(c).join(', ')));
      for (const c of rule.negative) test(`does not report ${c.name}`, () => assert.ok(!codesWithBuild(c).includes(rule.code), codesWithBuild(c).join(', ')));
    });
  }
});

describe('lint messages speak the user\'s terms', () => {
  test('policy-selects-nothing quotes the selector as written, not the composed one', () => {
    const calico = lintCodes(gnp('selector: app == "nope"\ntypes: [Ingress]'));
    assert.match(calico.messages.join('\n'), /\(selector app == "nope"\)/);
    const k8s = lintCodes(knp('podSelector: {matchLabels: {app: nope}}\npolicyTypes: [Ingress]'));
    const m = k8s.messages.find((x) => x.includes('selects no endpoint')) ?? '';
    assert.match(m, /podSelector app=nope/);
    assert.doesNotMatch(m, /projectcalico\.org/);
  });
});
