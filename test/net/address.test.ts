import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareIp, formatIp, ipv4, ipv6, parseIp, tryParseIp } from '../../src/net/index.ts';

describe('parseIp accepts what Go net.ParseIP accepts and prints it canonically', () => {
  const cases: readonly [string, string, 4 | 6][] = [
    ['10.0.0.1', '10.0.0.1', 4],
    ['0.0.0.0', '0.0.0.0', 4],
    ['255.255.255.255', '255.255.255.255', 4],
    ['::', '::', 6],
    ['::1', '::1', 6],
    ['1::', '1::', 6],
    ['fd00::1', 'fd00::1', 6],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1', 6],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 6],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1', 6],
    ['1:0:1:1:1:1:1:1', '1:0:1:1:1:1:1:1', 6],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0', 6],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8', 6],
    ['::1.2.3.4', '::102:304', 6],
    ['1::1.2.3.4', '1::102:304', 6],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221', 6],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304', 6],
    ['::ffff:1.2.3.4', '1.2.3.4', 4],
    ['::ffff:0102:0304', '1.2.3.4', 4],
  ];
  for (const [text, canonical, family] of cases) {
    test(`${text} is IPv${family} ${canonical}`, () => {
      const r = parseIp(text);
      assert.ok(r.ok, JSON.stringify(r.diagnostics));
      assert.equal(r.value.family, family);
      assert.equal(formatIp(r.value), canonical);
    });
  }
});

describe('parseIp rejects what Go net.ParseIP rejects, saying why', () => {
  const cases: readonly [string, RegExp][] = [
    ['', /empty/],
    ['10.0.0', /four octets/],
    ['10.0.0.1.2', /four octets/],
    ['10.0.0.256', /at most 255/],
    ['010.0.0.1', /leading zeros/],
    ['10.0.0.01', /leading zeros/],
    ['10..0.1', /at least one digit/],
    ['10.0.0.', /at least one digit/],
    ['.10.0.0', /at least one digit/],
    ['10.0.0.1/32', /unexpected character/],
    [' 10.0.0.1', /unexpected character/],
    ['fe80::1%eth0', /zones/],
    ['1:2:3:4:5:6:7:8:9', /after the end/],
    ['1:2:3:4:5:6:7', /eight groups/],
    ['1::2::3', /only once/],
    ['12345::', /at most 4 hex digits/],
    ['1:', /single ":"/],
    ['1:2:3:4:5:6:7:8::', /./],
    ['::1.2.3', /four octets/],
    ['1:2:3:4:5:1.2.3.4', /last two groups/],
    ['::01.2.3.4', /leading zeros/],
    ['g::1', /hex digit/],
    ['hello', /expected a dotted IPv4/],
  ];
  for (const [text, why] of cases) {
    test(`${JSON.stringify(text)} is rejected`, () => {
      const r = parseIp(text);
      assert.equal(r.ok, false);
      assert.equal(r.diagnostics[0]?.code, 'net/invalid-ip');
      assert.match(r.diagnostics[0]?.message ?? '', why);
      assert.equal(tryParseIp(text), undefined);
    });
  }
});

describe('IPv4 values are unsigned 32-bit numbers, IPv6 values 128-bit bigints', () => {
  test('255.255.255.255 is 2^32 - 1', () => {
    assert.equal(tryParseIp('255.255.255.255')?.value, 0xffffffff);
  });
  test('128.0.0.0 is positive', () => {
    assert.equal(tryParseIp('128.0.0.0')?.value, 0x80000000);
  });
  test('ffff:…:ffff is 2^128 - 1', () => {
    assert.equal(tryParseIp('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')?.value, (1n << 128n) - 1n);
  });
  test('ipv4() and ipv6() normalise out-of-range values', () => {
    assert.equal(ipv4(-1).value, 0xffffffff);
    assert.equal(ipv6(-1n).value, (1n << 128n) - 1n);
  });
});

describe('compareIp orders IPv4 before IPv6, then numerically', () => {
  test('a sorted list stays sorted', () => {
    const texts = ['::1', '10.0.0.2', '10.0.0.10', '9.255.255.255', 'fd00::', '::'];
    const sorted = texts.map((t) => tryParseIp(t)!).sort(compareIp).map(formatIp);
    assert.deepEqual(sorted, ['9.255.255.255', '10.0.0.2', '10.0.0.10', '::', '::1', 'fd00::']);
  });
});
