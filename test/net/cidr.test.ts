import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allocateAddresses,
  cidrContains,
  cidrContainsCidr,
  cidrOverlaps,
  cidrSize,
  formatCidr,
  formatIp,
  isCatchAll,
  parseCidrLenient,
  parseCidrStrict,
  parseCidrText,
  tryParseIp,
} from '../../src/net/index.ts';
import type { Cidr } from '../../src/net/index.ts';

function cidr(text: string): Cidr {
  const r = parseCidrLenient(text);
  assert.ok(r.ok, `${text}: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

describe('strict mode (Calico rule nets) requires CIDR notation with zero host bits', () => {
  const accepted: readonly [string, string][] = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['10.1.2.3/32', '10.1.2.3/32'],
    ['10.0.0.0/08', '10.0.0.0/8'],
    ['fd00::/8', 'fd00::/8'],
    ['FD00:0::/16', 'fd00::/16'],
    ['::/0', '::/0'],
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
  ];
  for (const [text, canonical] of accepted) {
    test(`${text} is accepted as ${canonical}`, () => {
      const r = parseCidrStrict(text);
      assert.ok(r.ok, JSON.stringify(r.diagnostics));
      assert.equal(formatCidr(r.value), canonical);
    });
  }
  const rejected: readonly [string, string, RegExp][] = [
    ['10.0.0.1', 'net/cidr-missing-prefix', /10\.0\.0\.1\/32/],
    ['fd00::1', 'net/cidr-missing-prefix', /fd00::1\/128/],
    ['10.0.0.1/24', 'net/cidr-host-bits', /10\.0\.0\.0\/24/],
    ['fd00::1/64', 'net/cidr-host-bits', /fd00::\/64/],
    ['10.0.0.0/33', 'net/invalid-cidr', /at most 32/],
    ['fd00::/129', 'net/invalid-cidr', /at most 128/],
    ['10.0.0.0/', 'net/invalid-cidr', /decimal/],
    ['10.0.0.0/-1', 'net/invalid-cidr', /decimal/],
    ['10.0.0.0/24 ', 'net/invalid-cidr', /decimal/],
    ['10.0.0.0/2/4', 'net/invalid-cidr', /decimal/],
    ['010.0.0.0/8', 'net/invalid-cidr', /leading zeros/],
    ['::ffff:10.0.0.0/64', 'net/invalid-cidr', /\/96/],
    ['fe80::%eth0/64', 'net/invalid-cidr', /zones/],
    ['', 'net/invalid-cidr', /empty/],
  ];
  for (const [text, code, why] of rejected) {
    test(`${JSON.stringify(text)} is rejected with ${code}`, () => {
      const r = parseCidrStrict(text);
      assert.equal(r.ok, false);
      assert.equal(r.diagnostics[0]?.code, code);
      assert.match(r.diagnostics[0]?.message ?? '', why);
    });
  }
});

describe('lenient mode (NetworkSet nets, ipBlock after conversion) normalises', () => {
  const cases: readonly [string, string][] = [
    ['10.0.0.1', '10.0.0.1/32'],
    ['fd00::1', 'fd00::1/128'],
    ['10.0.0.1/24', '10.0.0.0/24'],
    ['192.168.255.255/16', '192.168.0.0/16'],
    ['fd00::1:2/112', 'fd00::1:0/112'],
    ['10.0.0.0/8', '10.0.0.0/8'],
  ];
  for (const [text, canonical] of cases) {
    test(`${text} becomes ${canonical}`, () => assert.equal(formatCidr(cidr(text)), canonical));
  }
  test('parseCidrText tells a bare address and host bits apart', () => {
    const bare = parseCidrText('10.0.0.1');
    assert.ok(bare.ok);
    assert.equal(bare.value.hasPrefix, false);
    const host = parseCidrText('10.0.0.1/24');
    assert.ok(host.ok);
    assert.equal(host.value.hasPrefix, true);
    assert.equal(host.value.hostBitsSet, true);
    assert.equal(formatIp(host.value.address), '10.0.0.1');
  });
});

describe('address ∈ cidr', () => {
  const cases: readonly [string, string, boolean][] = [
    ['10.0.0.0/8', '10.255.0.1', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['128.0.0.0/1', '200.0.0.1', true],
    ['128.0.0.0/1', '127.255.255.255', false],
    ['10.1.2.3/32', '10.1.2.3', true],
    ['10.1.2.3/32', '10.1.2.4', false],
    ['255.255.255.255/32', '255.255.255.255', true],
    ['fd00::/8', 'fd12::1', true],
    ['fd00::/8', 'fe00::1', false],
    ['::/0', '::1', true],
    ['::/0', '10.0.0.1', false],
    ['0.0.0.0/0', '::1', false],
    ['fd00::1/128', 'fd00::1', true],
    ['10.0.0.0/8', '::ffff:10.1.1.1', true],
  ];
  for (const [c, a, expected] of cases) {
    test(`${a} ${expected ? 'is' : 'is not'} in ${c}`, () => {
      assert.equal(cidrContains(cidr(c), tryParseIp(a)!), expected);
    });
  }
});

describe('cidr ⊆ cidr and overlap', () => {
  const cases: readonly [string, string, boolean][] = [
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.1.0.0/16', '10.0.0.0/8', false],
    ['10.0.0.0/8', '10.0.0.0/8', true],
    ['0.0.0.0/0', '192.168.0.0/16', true],
    ['10.0.0.0/8', '11.0.0.0/16', false],
    ['fd00::/8', 'fd00:1::/32', true],
    ['::/0', '10.0.0.0/8', false],
  ];
  for (const [outer, inner, expected] of cases) {
    test(`${inner} ${expected ? 'is' : 'is not'} inside ${outer}`, () => {
      assert.equal(cidrContainsCidr(cidr(outer), cidr(inner)), expected);
    });
  }
  test('overlap is symmetric', () => {
    assert.equal(cidrOverlaps(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')), true);
    assert.equal(cidrOverlaps(cidr('10.0.0.0/8'), cidr('10.1.0.0/16')), true);
    assert.equal(cidrOverlaps(cidr('10.0.0.0/16'), cidr('10.1.0.0/16')), false);
  });
  test('catch-alls and sizes', () => {
    assert.equal(isCatchAll(cidr('0.0.0.0/0')), true);
    assert.equal(isCatchAll(cidr('::/0')), true);
    assert.equal(isCatchAll(cidr('10.0.0.0/8')), false);
    assert.equal(cidrSize(cidr('10.0.0.0/24')), 256n);
    assert.equal(cidrSize(cidr('::/0')), 1n << 128n);
  });
});

describe('allocateAddresses numbers hosts deterministically', () => {
  const cases: readonly [string, number, readonly string[]][] = [
    ['10.0.0.0/24', 3, ['10.0.0.1', '10.0.0.2', '10.0.0.3']],
    ['10.0.0.0/30', 5, ['10.0.0.1', '10.0.0.2']],
    ['10.0.0.0/31', 5, ['10.0.0.0', '10.0.0.1']],
    ['10.0.0.7/32', 2, ['10.0.0.7']],
    ['10.0.0.0/24', 0, []],
    ['fd00::/120', 2, ['fd00::1', 'fd00::2']],
    ['fd00::/127', 3, ['fd00::', 'fd00::1']],
    ['255.255.255.252/30', 9, ['255.255.255.253', '255.255.255.254']],
  ];
  for (const [c, n, expected] of cases) {
    test(`${n} from ${c} are ${expected.join(', ') || 'none'}`, () => {
      assert.deepEqual(allocateAddresses(cidr(c), n).map(formatIp), expected);
    });
  }
  test('the same input gives the same output', () => {
    assert.deepEqual(allocateAddresses(cidr('10.244.0.0/16'), 300).map(formatIp), allocateAddresses(cidr('10.244.0.0/16'), 300).map(formatIp));
  });
});
