// Unique ids: Calico's hash.MakeUniqueID (libcalico-go/lib/hash/unique_id.go and
// unique_id_test.go, projectcalico/calico 87c15906f20c4ca1fda55af92295e7678b0cc0b2) and the
// selector ids of libcalico-go/lib/selector/parser/parser_test.go.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { makeSelectorId, makeUniqueId, parseSelector } from '../../src/selector/index.ts';

describe('unique id: makeUniqueId', () => {
  it('starts with the prefix and a colon', () => {
    assert.ok(makeUniqueId('test', 'content').startsWith('test:'));
  });

  it('is deterministic', () => {
    assert.equal(makeUniqueId('prefix', 'content'), makeUniqueId('prefix', 'content'));
  });

  it('differs for different content', () => {
    assert.notEqual(makeUniqueId('prefix', 'content1'), makeUniqueId('prefix', 'content2'));
  });

  it('differs for different prefixes', () => {
    assert.notEqual(makeUniqueId('prefix1', 'content'), makeUniqueId('prefix2', 'content'));
  });

  it('handles empty content and an empty prefix', () => {
    assert.ok(makeUniqueId('prefix', '').length > 'prefix:'.length);
    assert.ok(makeUniqueId('', 'content').startsWith(':'));
  });

  it('encodes the 28-byte SHA-224 digest as 38 base64url characters without padding', () => {
    const hash = makeUniqueId('test', 'content').slice('test:'.length);
    assert.equal(hash.length, 38);
    assert.match(hash, /^[A-Za-z0-9_-]{38}$/);
  });

  it('hashes the prefix, a colon and the content as UTF-8', () => {
    const expected = createHash('sha224').update(Buffer.from('n:s:abc,tcp,http😀', 'utf8')).digest('base64url');
    assert.equal(makeUniqueId('n', 's:abc,tcp,http😀'), `n:${expected}`);
  });
});

describe('unique id: selectors', () => {
  const KNOWN: readonly (readonly [input: string, id: string])[] = [
    ['all()', 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug'],
    ['', 's:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug'],
    ['! (has( b)||! has(a ))', 's:Iss0uCleLYv1GSv_pNm7hAO58kE9jAx1NKyG3Q'],
    ['!(has(b) || !has(a))', 's:Iss0uCleLYv1GSv_pNm7hAO58kE9jAx1NKyG3Q'],
    ['! (a == "b"&&! c != "d")', 's:lh3haoY1ikTRkd4UZu0nWSaIBknYLPJLX16d-w'],
  ];
  for (const [input, id] of KNOWN) {
    it(`gives ${JSON.stringify(input)} the id ${id}`, () => {
      const r = parseSelector(input);
      assert.ok(r.ok);
      assert.equal(r.value.id, id);
    });
  }

  it('is the unique id of the canonical text with prefix s', () => {
    const r = parseSelector("app == 'web'");
    assert.ok(r.ok);
    assert.equal(r.value.id, makeUniqueId('s', 'app == "web"'));
    assert.equal(r.value.id, makeSelectorId('app == "web"'));
  });

  it('is shared by selectors that differ only in spelling', () => {
    const a = parseSelector("a=='x'&&b  in {'2','1','1'}");
    const b = parseSelector('(a == "x" && b in {"1", "2"})');
    assert.ok(a.ok && b.ok);
    assert.equal(a.value.id, b.value.id);
  });
});
