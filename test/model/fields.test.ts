// The field parsers shared with the engine: protocols, Calico ports, Kubernetes NetworkPolicyPort,
// label selectors, names.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkCalicoPolicyName,
  checkDns1035Label,
  checkDns1123Label,
  checkDns1123Subdomain,
  checkGlobalPolicyName,
  checkLabelValue,
  checkPortName,
  checkQualifiedName,
  checkTierName,
  parseCalicoPort,
  parseKubernetesProtocol,
  parseProtocol,
  validateLabelSelector,
  validateNetworkPolicyPort,
} from '../../src/model/index.ts';

describe('parseProtocol reads Calico protocols: exact names or 1–255', () => {
  const accepted: readonly [unknown, number][] = [
    ['TCP', 6],
    ['UDP', 17],
    ['ICMP', 1],
    ['ICMPv6', 58],
    ['SCTP', 132],
    ['UDPLite', 136],
    [6, 6],
    [255, 255],
    [1, 1],
    ['17', 17],
    ['006', 6],
  ];
  for (const [v, n] of accepted) test(`${JSON.stringify(v)} is protocol ${n}`, () => assert.deepEqual(parseProtocol(v), { ok: true, value: n, diagnostics: [] }));
  const rejected: readonly [unknown, string | undefined][] = [
    ['tcp', 'did you mean "TCP"?'],
    ['Tcp', 'did you mean "TCP"?'],
    ['icmpv6', 'did you mean "ICMPv6"?'],
    ['GRE', undefined],
    [0, undefined],
    [256, undefined],
    ['0', undefined],
    ['256', undefined],
    [6.5, undefined],
    [-6, undefined],
    [true, undefined],
    ['', undefined],
  ];
  for (const [v, help] of rejected) {
    test(`${JSON.stringify(v)} is rejected with model/invalid-protocol`, () => {
      const r = parseProtocol(v);
      assert.equal(r.ok, false);
      assert.equal(r.diagnostics[0]?.code, 'model/invalid-protocol');
      assert.equal(r.diagnostics[0]?.help, help);
    });
  }
});

describe('parseKubernetesProtocol accepts only TCP, UDP and SCTP', () => {
  for (const [v, n] of [['TCP', 6], ['UDP', 17], ['SCTP', 132]] as const) test(`${v} is ${n}`, () => assert.equal(parseKubernetesProtocol(v).ok && n, n));
  for (const v of ['ICMP', 'tcp', 6, 'UDPLite']) test(`${JSON.stringify(v)} is rejected`, () => assert.equal(parseKubernetesProtocol(v).ok, false));
});

describe('parseCalicoPort reads numbers, "min:max" ranges and named ports', () => {
  const accepted: readonly [unknown, unknown][] = [
    [80, { kind: 'range', min: 80, max: 80 }],
    ['80', { kind: 'range', min: 80, max: 80 }],
    [1, { kind: 'range', min: 1, max: 1 }],
    [65535, { kind: 'range', min: 65535, max: 65535 }],
    ['1000:2000', { kind: 'range', min: 1000, max: 2000 }],
    ['22:22', { kind: 'range', min: 22, max: 22 }],
    ['http', { kind: 'named', name: 'http' }],
    ['metrics-9090', { kind: 'named', name: 'metrics-9090' }],
  ];
  for (const [v, port] of accepted) test(`${JSON.stringify(v)} is ${JSON.stringify(port)}`, () => assert.deepEqual(parseCalicoPort(v), { ok: true, value: port, diagnostics: [] }));
  const rejected: readonly [unknown, string, RegExp][] = [
    [0, 'model/port-out-of-range', /1 to 65535/],
    [65536, 'model/port-out-of-range', /1 to 65535/],
    ['0', 'model/port-out-of-range', /1 to 65535/],
    ['70000', 'model/port-out-of-range', /1 to 65535/],
    ['2000:1000', 'model/port-out-of-range', /inverted/],
    ['0:10', 'model/port-out-of-range', /1 to 65535/],
    ['1:65536', 'model/port-out-of-range', /1 to 65535/],
    ['1000-2000', 'model/invalid-port', /ranges are written "min:max"/],
    ['HTTP', 'model/invalid-port', /lower case/],
    ['my_port', 'model/invalid-port', /lower case/],
    ['a-very-long-port-name', 'model/invalid-port', /15 characters/],
    ['web--api', 'model/invalid-port', /'--'/],
    ['port 80', 'model/invalid-port', /not a port/],
    [80.5, 'model/invalid-port', /whole number/],
    [true, 'model/invalid-port', /expected a port number/],
  ];
  for (const [v, code, why] of rejected) {
    test(`${JSON.stringify(v)} is rejected with ${code}`, () => {
      const r = parseCalicoPort(v);
      assert.equal(r.ok, false);
      assert.equal(r.diagnostics[0]?.code, code);
      assert.match(r.diagnostics[0]?.message ?? '', why);
    });
  }
  test('an inverted range suggests the swapped one', () => assert.equal(parseCalicoPort('90:80').diagnostics[0]?.help, 'did you mean "80:90"?'));
});

describe('Kubernetes NetworkPolicyPort follows networking/validation', () => {
  const cases: readonly [string, unknown, readonly string[]][] = [
    ['a numeric port defaults protocol to TCP', { port: 80 }, []],
    ['a named port is fine', { port: 'http', protocol: 'UDP' }, []],
    ['a range is port..endPort', { port: 8000, endPort: 8080 }, []],
    ['a protocol alone means all its ports', { protocol: 'SCTP' }, []],
    ['a quoted number is a (bad) port name', { port: '80' }, ['model/invalid-port@port']],
    ['port 0 is out of range', { port: 0 }, ['model/port-out-of-range@port']],
    ['port 65536 is out of range', { port: 65536 }, ['model/port-out-of-range@port']],
    ['endPort below port is inverted', { port: 80, endPort: 79 }, ['model/port-out-of-range@endPort']],
    ['endPort above 65535 is out of range', { port: 80, endPort: 70000 }, ['model/port-out-of-range@endPort']],
    ['endPort with a named port is not allowed', { port: 'http', endPort: 90 }, ['model/invalid-port@endPort']],
    ['endPort without port is not allowed', { endPort: 90 }, ['model/invalid-port@endPort']],
    ['ICMP is not a Kubernetes protocol', { protocol: 'ICMP' }, ['model/invalid-protocol@protocol']],
    ['protocols are case sensitive', { protocol: 'tcp', port: 80 }, ['model/invalid-protocol@protocol']],
    ['unknown fields are reported', { port: 80, portName: 'x' }, ['model/unknown-field@portName']],
  ];
  for (const [name, value, expected] of cases) {
    test(name, () => {
      const r = validateNetworkPolicyPort(value);
      assert.deepEqual(
        r.diagnostics.map((d) => `${d.code}@${d.path ?? ''}`),
        expected,
      );
      if (r.ok) assert.equal(r.value.protocol, (value as { protocol?: string }).protocol ?? 'TCP');
    });
  }
});

describe('label selectors follow ValidateLabelSelector', () => {
  const cases: readonly [string, unknown, readonly string[]][] = [
    ['an empty selector selects everything', {}, []],
    ['matchLabels with qualified keys', { matchLabels: { 'app.kubernetes.io/name': 'web', tier: '' } }, []],
    ['In with values', { matchExpressions: [{ key: 'env', operator: 'In', values: ['a', 'b'] }] }, []],
    ['Exists without values', { matchExpressions: [{ key: 'env', operator: 'Exists' }] }, []],
    ['In without values', { matchExpressions: [{ key: 'env', operator: 'In' }] }, ['model/invalid-selector@matchExpressions[0].values']],
    ['NotIn with an empty list', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: [] }] }, ['model/invalid-selector@matchExpressions[0].values']],
    ['DoesNotExist with values', { matchExpressions: [{ key: 'env', operator: 'DoesNotExist', values: ['x'] }] }, ['model/invalid-selector@matchExpressions[0].values']],
    ['an unknown operator', { matchExpressions: [{ key: 'env', operator: 'in', values: ['x'] }] }, ['model/invalid-selector@matchExpressions[0].operator']],
    ['a bad label key', { matchLabels: { 'bad key': 'x' } }, ['model/invalid-label@matchLabels.bad key']],
    ['a bad label value', { matchLabels: { app: 'has space' } }, ['model/invalid-label@matchLabels.app']],
    ['a bad value in an expression', { matchExpressions: [{ key: 'a', operator: 'In', values: ['-x'] }] }, ['model/invalid-label@matchExpressions[0].values[0]']],
    ['a number as a label value', { matchLabels: { version: 1 } }, ['model/invalid-value@matchLabels.version']],
    ['a misspelt field', { matchLabel: { a: 'b' } }, ['model/unknown-field@matchLabel']],
  ];
  for (const [name, value, expected] of cases) {
    test(name, () => assert.deepEqual(validateLabelSelector(value).diagnostics.map((d) => `${d.code}@${d.path ?? ''}`), expected));
  }
  test('an unknown operator suggests the right spelling', () => {
    assert.equal(validateLabelSelector({ matchExpressions: [{ key: 'a', operator: 'in', values: ['x'] }] }).diagnostics[0]?.help, 'did you mean "In"?');
  });
  test('a number as a label value suggests quoting it as written, not as YAML converted it (version: 1.0 is not "1")', () => {
    const help = validateLabelSelector({ matchLabels: { version: 1 } }).diagnostics[0]?.help ?? '';
    assert.match(help, /quote the value exactly as written/);
    assert.doesNotMatch(help, /"1"/);
  });
});

describe('names follow the Kubernetes and Calico rules', () => {
  const cases: readonly [string, (s: string) => string | undefined, string, boolean][] = [
    ['DNS-1123 label', checkDns1123Label, 'my-ns', true],
    ['DNS-1123 label', checkDns1123Label, 'My-ns', false],
    ['DNS-1123 label', checkDns1123Label, 'a.b', false],
    ['DNS-1123 label', checkDns1123Label, 'a'.repeat(63), true],
    ['DNS-1123 label', checkDns1123Label, 'a'.repeat(64), false],
    ['DNS-1123 label', checkDns1123Label, '-a', false],
    ['DNS-1123 subdomain', checkDns1123Subdomain, 'a.b-c.d', true],
    ['DNS-1123 subdomain', checkDns1123Subdomain, 'a..b', false],
    ['DNS-1123 subdomain', checkDns1123Subdomain, `${'a'.repeat(250)}.bcd`, false],
    ['DNS-1035 label', checkDns1035Label, 'web', true],
    ['DNS-1035 label', checkDns1035Label, '1web', false],
    ['qualified name', checkQualifiedName, 'app.kubernetes.io/name', true],
    ['qualified name', checkQualifiedName, 'App_Name.v1', true],
    ['qualified name', checkQualifiedName, 'a/b/c', false],
    ['qualified name', checkQualifiedName, '/name', false],
    ['qualified name', checkQualifiedName, 'Example.com/name', false],
    ['label value', checkLabelValue, '', true],
    ['label value', checkLabelValue, 'v1.2_3-x', true],
    ['label value', checkLabelValue, 'x-', false],
    ['port name', checkPortName, 'http', true],
    ['port name', checkPortName, '8080', false],
    ['Calico NetworkPolicy name', checkCalicoPolicyName, 'allow-dns', true],
    ['Calico NetworkPolicy name', checkCalicoPolicyName, 'platform.allow-dns', true],
    ['Calico NetworkPolicy name', checkCalicoPolicyName, 'a.b.c', false],
    ['Calico NetworkPolicy name', checkCalicoPolicyName, 'knp.default.a.b.c', true],
    ['Calico NetworkPolicy name', checkCalicoPolicyName, 'Allow', false],
    ['Calico GlobalNetworkPolicy name', checkGlobalPolicyName, 'security.deny', true],
    ['Calico GlobalNetworkPolicy name', checkGlobalPolicyName, 'knp.default.x', false],
    ['tier name', checkTierName, 'security', true],
    ['tier name', checkTierName, 'sec.urity', false],
    ['tier name', checkTierName, 'a'.repeat(64), false],
  ];
  for (const [what, check, name, valid] of cases) {
    test(`${JSON.stringify(name.length > 20 ? `${name.slice(0, 12)}…(${name.length})` : name)} ${valid ? 'is' : 'is not'} a valid ${what}`, () => {
      assert.equal(check(name) === undefined, valid, check(name));
    });
  }
});
