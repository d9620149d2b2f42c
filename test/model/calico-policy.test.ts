// Calico policies: the rules of validator.go and of the CEL annotations, one sentence each.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gnp, np, validateYaml } from './helpers.ts';

type Case = readonly [name: string, yaml: string, errors: readonly string[]];

function table(title: string, cases: readonly Case[]): void {
  describe(title, () => {
    for (const [name, yaml, errors] of cases) {
      test(name, () => {
        const o = validateYaml(yaml);
        assert.deepEqual(o.errors, errors, o.diagnostics.map((d) => `${d.code}@${d.path}: ${d.message}`).join('\n'));
        assert.equal(o.ok, errors.length === 0);
      });
    }
  });
}

table('a well-formed policy is accepted', [
  ['a workshop-style global policy', gnp("tier: security\norder: -90\nselector: all()\nnamespaceSelector: ''\nserviceAccountSelector: ''\negress:\n  - action: Deny\n    source: {}\n    destination:\n      selector: feed == \"otx\"\ndoNotTrack: false\napplyOnForward: false\npreDNAT: false\ntypes:\n  - Egress"), []],
  ['a namespaced policy with every rule field', np("selector: app == 'web'\ntypes: [Ingress, Egress]\ningress:\n  - action: Allow\n    protocol: TCP\n    source:\n      selector: app == 'client'\n      namespaceSelector: global()\n      notSelector: x == 'y'\n      serviceAccounts: {names: [a], selector: role == 'x'}\n    destination:\n      ports: [80, '443', '8000:8080', http]\n      notPorts: [81]\n    metadata:\n      annotations: {note: hi}\negress:\n  - action: Pass\n    ipVersion: 4\n    destination:\n      nets: [10.0.0.0/8]\n      notNets: [10.1.0.0/16]\n  - action: Log\n  - action: Allow\n    protocol: ICMP\n    icmp: {type: 8, code: 0}\n    notICMP: {type: 3}"), []],
  ['named ports need no protocol', np('ingress:\n  - action: Allow\n    destination:\n      ports: [http, metrics]'), []],
  ['a numeric protocol supports ports', np('ingress:\n  - action: Allow\n    protocol: 6\n    destination:\n      ports: [80]'), []],
  ['an empty spec is a valid policy', np('{}'), []],
  ['a legacy converted Kubernetes policy name', np('{}', 'knp.default.allow-web'), []],
  ['a staged policy', "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: s, namespace: prod}\nspec:\n  stagedAction: Set\n  selector: all()", []],
  ['a staged Delete with only a tier', 'apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: s}\nspec:\n  stagedAction: Delete\n  tier: security', []],
  ['a CRD-group policy', "apiVersion: crd.projectcalico.org/v1\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  selector: all()", []],
]);

table('unknown fields are reported with a did-you-mean', [
  ['a misspelt spec field', np("selectr: app == 'x'"), ['model/unknown-field@spec.selectr']],
  ['a misspelt rule field', np('ingress:\n  - action: Allow\n    sources: {}'), ['model/unknown-field@spec.ingress[0].sources']],
  ['a misspelt entity field', np('egress:\n  - action: Allow\n    destination:\n      net: [10.0.0.0/8]'), ['model/unknown-field@spec.egress[0].destination.net']],
  ['a GNP-only field on a NetworkPolicy', np("namespaceSelector: a == 'b'"), ['model/unknown-field@spec.namespaceSelector']],
  ['a Kubernetes field on a Calico policy', np('podSelector: {}'), ['model/unknown-field@spec.podSelector']],
  ['an unknown metadata field', "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: g\n  label: {a: b}\nspec: {}", ['model/unknown-field@metadata.label']],
  ['an unknown top-level field', "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspecs: {}\nspec: {}", ['model/unknown-field@specs']],
  ['stagedAction on an enforced policy', gnp('stagedAction: Set'), ['model/unknown-field@spec.stagedAction']],
]);

describe('unknown-field help names the intended field', () => {
  const help = (yaml: string): string | undefined => validateYaml(yaml).diagnostics[0]?.help;
  test('selectr → selector', () => assert.equal(help(np("selectr: a == 'b'")), 'did you mean "selector"?'));
  test('a GNP-only field explains itself', () => assert.match(help(np("namespaceSelector: a == 'b'")) ?? '', /only on GlobalNetworkPolicy/));
  test('policyTypes on a Calico policy says "types"', () => assert.match(help(np('policyTypes: [Ingress]')) ?? '', /"types"/));
});

table('actions are exactly Allow, Deny, Pass or Log', [
  ['a lower-case action', np('ingress:\n  - action: allow'), ['model/invalid-action@spec.ingress[0].action']],
  ['an unknown action', np('ingress:\n  - action: Reject'), ['model/invalid-action@spec.ingress[0].action']],
  ['a missing action', np('ingress:\n  - protocol: TCP'), ['model/missing-field@spec.ingress[0].action']],
]);

table('protocols are the exact names or 1–255', [
  ['a lower-case protocol', np('ingress:\n  - action: Allow\n    protocol: tcp'), ['model/invalid-protocol@spec.ingress[0].protocol']],
  ['protocol 0', np('ingress:\n  - action: Allow\n    protocol: 0'), ['model/invalid-protocol@spec.ingress[0].protocol']],
  ['notProtocol 300', np('ingress:\n  - action: Allow\n    notProtocol: 300'), ['model/invalid-protocol@spec.ingress[0].notProtocol']],
]);

table('ports: ranges, names, and a protocol that has ports', [
  ['numeric ports without a protocol', np('ingress:\n  - action: Allow\n    destination:\n      ports: [80]'), ['model/ports-need-protocol@spec.ingress[0].destination.ports']],
  ['a range without a protocol', np("egress:\n  - action: Allow\n    source:\n      notPorts: ['1000:2000']"), ['model/ports-need-protocol@spec.egress[0].source.notPorts']],
  ['mixed named and numeric ports without a protocol', np('ingress:\n  - action: Allow\n    destination:\n      ports: [http, 80]'), ['model/ports-need-protocol@spec.ingress[0].destination.ports']],
  ['ports with ICMP', np('ingress:\n  - action: Allow\n    protocol: ICMP\n    destination:\n      ports: [http]'), ['model/ports-need-protocol@spec.ingress[0].destination.ports']],
  ['ports with UDPLite', np('ingress:\n  - action: Allow\n    protocol: UDPLite\n    destination:\n      ports: [80]'), ['model/ports-need-protocol@spec.ingress[0].destination.ports']],
  ['port 0', np('ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [0]'), ['model/port-out-of-range@spec.ingress[0].destination.ports[0]']],
  ['port 65536', np('ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [65536]'), ['model/port-out-of-range@spec.ingress[0].destination.ports[0]']],
  ['an inverted range', np("ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [80, '90:80']"), ['model/port-out-of-range@spec.ingress[0].destination.ports[1]']],
  ['an upper-case port name', np('ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [HTTP]'), ['model/invalid-port@spec.ingress[0].destination.ports[0]']],
  ['more than 50 ports', np(`ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [${Array.from({ length: 51 }, (_, i) => i + 1).join(', ')}]`), ['model/invalid-value@spec.ingress[0].destination.ports']],
]);

table('nets: strict CIDRs, one family per rule, matching ipVersion', [
  ['a bare address', np('egress:\n  - action: Allow\n    destination:\n      nets: [10.0.0.1]'), ['model/invalid-cidr@spec.egress[0].destination.nets[0]']],
  ['host bits set', np('egress:\n  - action: Allow\n    destination:\n      nets: [10.0.0.1/24]'), ['model/invalid-cidr@spec.egress[0].destination.nets[0]']],
  ['a prefix too long', np('egress:\n  - action: Allow\n    destination:\n      nets: [10.0.0.0/33]'), ['model/invalid-cidr@spec.egress[0].destination.nets[0]']],
  ['not an address at all', np('egress:\n  - action: Allow\n    source:\n      notNets: [internet]'), ['model/invalid-cidr@spec.egress[0].source.notNets[0]']],
  ['IPv4 and IPv6 in one list', np("egress:\n  - action: Allow\n    destination:\n      nets: [10.0.0.0/8, 'fd00::/8']"), ['model/mixed-ip-families@spec.egress[0].destination.nets[1]']],
  ['IPv4 source and IPv6 destination', np("egress:\n  - action: Allow\n    source:\n      nets: [10.0.0.0/8]\n    destination:\n      notNets: ['fd00::/8']"), ['model/mixed-ip-families@spec.egress[0].destination.notNets[0]']],
  ['an IPv6 CIDR with ipVersion 4', np("egress:\n  - action: Allow\n    ipVersion: 4\n    destination:\n      nets: ['fd00::/8']"), ['model/ip-version-mismatch@spec.egress[0].destination.nets[0]']],
  ['a catch-all in notNets', np('egress:\n  - action: Allow\n    destination:\n      notNets: [0.0.0.0/0]'), ['model/invalid-cidr@spec.egress[0].destination.notNets[0]']],
  ['an IPv6 catch-all in notNets', np("egress:\n  - action: Allow\n    destination:\n      notNets: ['::/0']"), ['model/invalid-cidr@spec.egress[0].destination.notNets[0]']],
  ['ipVersion 5', np('egress:\n  - action: Allow\n    ipVersion: 5'), ['model/invalid-value@spec.egress[0].ipVersion']],
]);

table('ICMP: type 0–254, code 0–255, code needs type, protocol ICMP/ICMPv6', [
  ['type 255', np('ingress:\n  - action: Allow\n    protocol: ICMP\n    icmp: {type: 255}'), ['model/invalid-icmp@spec.ingress[0].icmp.type']],
  ['code 256', np('ingress:\n  - action: Allow\n    protocol: ICMP\n    icmp: {type: 3, code: 256}'), ['model/invalid-icmp@spec.ingress[0].icmp.code']],
  ['a code without a type', np('ingress:\n  - action: Allow\n    protocol: ICMP\n    notICMP: {code: 1}'), ['model/invalid-icmp@spec.ingress[0].notICMP.code']],
  ['icmp without protocol', np('ingress:\n  - action: Allow\n    icmp: {type: 8}'), ['model/invalid-icmp@spec.ingress[0].icmp']],
  ['icmp with protocol TCP', np('ingress:\n  - action: Allow\n    protocol: TCP\n    icmp: {type: 8}'), ['model/invalid-icmp@spec.ingress[0].icmp']],
  ['ICMP with ipVersion 6', np('ingress:\n  - action: Allow\n    protocol: ICMP\n    ipVersion: 6'), ['model/ip-version-mismatch@spec.ingress[0].protocol']],
  ['notProtocol ICMPv6 with ipVersion 4', np('ingress:\n  - action: Allow\n    notProtocol: ICMPv6\n    ipVersion: 4'), ['model/ip-version-mismatch@spec.ingress[0].notProtocol']],
]);

table('selectors: syntax, length and global()', [
  ['a syntax error in the policy selector', np("selector: app == 'web"), ['model/invalid-selector@spec.selector']],
  ['a syntax error in a rule selector', np("ingress:\n  - action: Allow\n    source:\n      selector: app = 'x'"), ['model/invalid-selector@spec.ingress[0].source.selector']],
  ['global() in the policy selector', np('selector: global()'), ['model/invalid-selector@spec.selector']],
  ['global() in a serviceAccountSelector', np('serviceAccountSelector: global()'), ['model/invalid-selector@spec.serviceAccountSelector']],
  ['global() in a GNP namespaceSelector', gnp('namespaceSelector: global()'), ['model/invalid-selector@spec.namespaceSelector']],
  ['global() in a rule selector', np('ingress:\n  - action: Allow\n    source:\n      selector: global()'), ['model/invalid-selector@spec.ingress[0].source.selector']],
  ['global() combined in a rule namespaceSelector', np("ingress:\n  - action: Allow\n    source:\n      namespaceSelector: global() || a == 'b'"), ['model/invalid-selector@spec.ingress[0].source.namespaceSelector']],
  ['global() with spaces alone is fine', np('ingress:\n  - action: Allow\n    source:\n      namespaceSelector: " global( ) "'), []],
  ['a selector over 1024 characters', np(`selector: "${'a == \'b\' && '.repeat(93)}c == 'd'"`), ['model/invalid-selector@spec.selector']],
]);

describe('selector errors point at the column inside the expression', () => {
  test('the diagnostic carries the selector message and help', () => {
    const d = validateYaml(np("selector: app == 'web")).diagnostics[0];
    assert.match(d?.message ?? '', /^invalid selector: unterminated string/);
    assert.ok(d?.help !== undefined);
  });
});

table('types: Ingress/Egress, no repeats', [
  ['a repeated type', np('types: [Egress, Egress]'), ['model/duplicate-value@spec.types[1]']],
  ['an unknown type', np('types: [ingress]'), ['model/invalid-value@spec.types[0]']],
  ['an empty list', np('types: []'), ['model/invalid-value@spec.types']],
]);

table('services: where they may appear and what they exclude', [
  ['services in an egress source', np('egress:\n  - action: Allow\n    source:\n      services: {name: web}'), ['model/invalid-services@spec.egress[0].source.services']],
  ['services in an ingress destination', np('ingress:\n  - action: Allow\n    destination:\n      services: {name: web}'), ['model/invalid-services@spec.ingress[0].destination.services']],
  ['services with a selector', np("egress:\n  - action: Allow\n    destination:\n      services: {name: web}\n      selector: a == 'b'"), ['model/invalid-services@spec.egress[0].destination.selector']],
  ['services with nets', np('ingress:\n  - action: Allow\n    source:\n      services: {name: web}\n      nets: [10.0.0.0/8]'), ['model/invalid-services@spec.ingress[0].source.nets']],
  ['services without a name', np('ingress:\n  - action: Allow\n    source:\n      services: {namespace: x}'), ['model/invalid-services@spec.ingress[0].source.services.name']],
  ['destination services with ports', np('egress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      services: {name: web}\n      ports: [80]'), ['model/invalid-services@spec.egress[0].destination.ports']],
  ['services without a namespace in a global policy', gnp('egress:\n  - action: Allow\n    destination:\n      services: {name: web}'), ['model/invalid-services@spec.egress[0].destination.services']],
  ['services with a namespace in a global policy', gnp('egress:\n  - action: Allow\n    destination:\n      services: {name: web, namespace: prod}'), []],
]);

table('http: ingress Allow rules only, protocol TCP or none', [
  ['http on an ingress Allow rule', np('ingress:\n  - action: Allow\n    http:\n      methods: [GET]\n      paths: [{exact: /a}, {prefix: /b}]'), []],
  ['http on a Deny rule', np('ingress:\n  - action: Deny\n    http: {methods: [GET]}'), ['model/invalid-http@spec.ingress[0].http']],
  ['http with UDP', np('ingress:\n  - action: Allow\n    protocol: UDP\n    http: {methods: [GET]}'), ['model/invalid-http@spec.ingress[0].http']],
  ['http on an egress rule', np('egress:\n  - action: Allow\n    http: {methods: [GET]}'), ['model/invalid-http@spec.egress[0].http']],
  ['a path with both exact and prefix', np('ingress:\n  - action: Allow\n    http:\n      paths: [{exact: /a, prefix: /b}]'), ['model/invalid-http@spec.ingress[0].http.paths[0]']],
  ['a path without a slash', np('ingress:\n  - action: Allow\n    http:\n      paths: [{exact: a}]'), ['model/invalid-http@spec.ingress[0].http.paths[0].exact']],
  ['a repeated method', np('ingress:\n  - action: Allow\n    http: {methods: [GET, GET]}'), ['model/duplicate-value@spec.ingress[0].http.methods[1]']],
]);

table('GlobalNetworkPolicy host-endpoint flags', [
  ['preDNAT and doNotTrack together', gnp('preDNAT: true\ndoNotTrack: true\napplyOnForward: true'), ['model/invalid-combination@spec.preDNAT']],
  ['preDNAT with egress rules', gnp('preDNAT: true\napplyOnForward: true\negress:\n  - action: Allow'), ['model/invalid-combination@spec.egress']],
  ['preDNAT with the Egress type', gnp('preDNAT: true\napplyOnForward: true\ntypes: [Egress]'), ['model/invalid-combination@spec.types']],
  ['doNotTrack without applyOnForward', gnp('doNotTrack: true'), ['model/invalid-combination@spec.doNotTrack']],
]);

table('stagedAction: Set, Delete, Learn, Ignore; Delete leaves the rest empty', [
  ['an unknown staged action', 'apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: s, namespace: x}\nspec:\n  stagedAction: Remove', ['model/invalid-staged-action@spec.stagedAction']],
  ['a Delete with rules', "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: s, namespace: x}\nspec:\n  stagedAction: Delete\n  selector: a == 'b'\n  ingress:\n    - action: Allow", ['model/invalid-staged-action@spec.selector', 'model/invalid-staged-action@spec.ingress']],
  ['a Delete with an order', 'apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: s}\nspec:\n  stagedAction: Delete\n  order: 10', ['model/invalid-staged-action@spec.order']],
  ['a Kubernetes staged Delete with rules', 'apiVersion: projectcalico.org/v3\nkind: StagedKubernetesNetworkPolicy\nmetadata: {name: s, namespace: x}\nspec:\n  stagedAction: Delete\n  podSelector: {}\n  ingress: [{}]', ['model/invalid-staged-action@spec.ingress']],
]);

table('policy names follow Calico', [
  ['an upper-case name', np('{}', 'Allow-Web'), ['model/invalid-name@metadata.name']],
  ['three dotted parts', np('{}', 'a.b.c'), ['model/invalid-name@metadata.name']],
  ['a GNP with the knp prefix', gnp('{}', 'knp.default.x'), ['model/invalid-name@metadata.name']],
  ['a missing name', 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {}\nspec: {}', ['model/missing-field@metadata.name']],
  ['a tier name with a dot', gnp('tier: a.b'), []],
  ['a bad tier name', gnp('tier: Security'), ['model/invalid-name@spec.tier']],
]);

describe('defaults are applied to the body', () => {
  test('tier defaults to default', () => {
    const r = validateYaml(np('{}')).resource;
    assert.equal(r?.type, 'NetworkPolicy');
    if (r?.type === 'NetworkPolicy') assert.equal(r.body.spec.tier, 'default');
  });
  test('stagedAction defaults to Set', () => {
    const r = validateYaml('apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: s}\nspec: {}').resource;
    if (r?.type !== 'StagedGlobalNetworkPolicy') assert.fail('expected a staged policy');
    assert.equal(r.body.spec.stagedAction, 'Set');
  });
  test('types is left for the engine to default', () => {
    const r = validateYaml(np('ingress: [{action: Allow}]')).resource;
    if (r?.type !== 'NetworkPolicy') assert.fail('expected a policy');
    assert.equal(r.body.spec.types, undefined);
  });
  test('a missing spec is an error (the CRDs require it)', () => {
    assert.deepEqual(validateYaml('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}').errors, ['model/missing-field@spec']);
  });
});

describe('Calico Enterprise domains', () => {
  test('domains in an egress Allow destination are accepted', () => {
    assert.deepEqual(validateYaml(np('egress:\n  - action: Allow\n    destination:\n      domains: ["*.example.com", api.example.com]')).errors, []);
  });
  test('domains in an ingress rule are rejected', () => {
    assert.deepEqual(validateYaml(np('ingress:\n  - action: Allow\n    source:\n      domains: [example.com]')).errors, ['model/invalid-domain@spec.ingress[0].source.domains']);
  });
  test('a domain pattern that is not a valid name is rejected at its index', () => {
    assert.deepEqual(validateYaml(np('egress:\n  - action: Allow\n    destination:\n      domains: [api.example.com, "bad..name", "sp ace.test"]')).errors, [
      'model/invalid-domain@spec.egress[0].destination.domains[1]',
      'model/invalid-domain@spec.egress[0].destination.domains[2]',
    ]);
  });
  test('domains on a Deny rule are rejected', () => {
    assert.deepEqual(validateYaml(np('egress:\n  - action: Deny\n    destination:\n      domains: [example.com]')).errors, ['model/invalid-domain@spec.egress[0].destination.domains']);
  });
});
