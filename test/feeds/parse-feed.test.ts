// Feed content parsing: which lines become which entries, and which are reported (with their line
// numbers) as invalid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDomainNameSet, parseIpSet } from '../../src/feeds/index.ts';

const ipCases: readonly [string, string, readonly string[], readonly number[]][] = [
  ['a bare IPv4 address is a /32', '198.51.100.7\n', ['198.51.100.7/32'], []],
  ['a bare IPv6 address is a /128', '2001:db8::7', ['2001:db8::7/128'], []],
  ['CIDRs of both families, IPv4 first and sorted', '2001:db8::/32\n10.0.0.0/8\n9.0.0.0/8\n', ['9.0.0.0/8', '10.0.0.0/8', '2001:db8::/32'], []],
  ['host bits are masked off as in GlobalNetworkSet nets', '192.0.2.77/24', ['192.0.2.0/24'], []],
  ['comments, inline comments, blank lines and CRLF are skipped', '# header\r\n\r\n  203.0.113.1  # a host\r\n#10.0.0.1\r\n', ['203.0.113.1/32'], []],
  ['duplicates collapse to one entry', '10.0.0.1\n10.0.0.1/32\n', ['10.0.0.1/32'], []],
  ['invalid lines are reported with their line numbers', '10.0.0.1\nnot-an-ip\n\n10.0.0.300\n10.0.0.0/33\n', ['10.0.0.1/32'], [2, 4, 5]],
  ['an empty feed has no entries and no errors', '', [], []],
];

for (const [name, text, entries, badLines] of ipCases) {
  test(`IPSet: ${name}`, () => {
    const p = parseIpSet(text);
    assert.deepEqual(p.entries, entries);
    assert.deepEqual(p.invalid.map((i) => i.line), badLines);
  });
}

test('IPSet: an invalid line says what it held and why', () => {
  const p = parseIpSet('# x\n10.0.0.0/40 # too long a prefix\n');
  assert.equal(p.entryLines, 1);
  assert.deepEqual(p.invalid.map((i) => [i.line, i.text]), [[2, '10.0.0.0/40']]);
  assert.match(p.invalid[0]?.reason ?? '', /prefix length must be at most 32/);
});

const domainCases: readonly [string, string, readonly string[], readonly number[]][] = [
  ['names are lower-cased and lose a trailing dot', 'Evil.Example.COM.\n', ['evil.example.com'], []],
  ['a *. wildcard prefix is allowed, as in Calico domain fields', '*.bad.example\n', ['*.bad.example'], []],
  ['comments and duplicates', '# list\nbad.example\nBAD.example # again\n', ['bad.example'], []],
  ['a name with a space, an empty label or a bad character is invalid', 'two words.example\na..b\nbad!.example\nok.example\n', ['ok.example'], [1, 2, 3]],
  ['a lone dot is invalid', '.\n', [], [1]],
  ['a label longer than 63 characters is invalid', `${'a'.repeat(64)}.example\n`, [], [1]],
];

for (const [name, text, entries, badLines] of domainCases) {
  test(`DomainNameSet: ${name}`, () => {
    const p = parseDomainNameSet(text);
    assert.deepEqual(p.entries, entries);
    assert.deepEqual(p.invalid.map((i) => i.line), badLines);
  });
}
