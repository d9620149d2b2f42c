// Store specs, key layout and key ranges: the pure parts of the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatastore, parseStoreSpec, registryKey, registryPrefix, StoreError } from '../../src/store/index.ts';
import { prefixEnd } from '../../src/store/ranges.ts';

const specCases: readonly [string, string, ReturnType<typeof parseStoreSpec>['ok'], unknown][] = [
  ['a sqlite spec names a file path', 'sqlite:./strata.db', true, { kind: 'sqlite', path: './strata.db' }],
  ['a sqlite path may itself contain colons', 'sqlite:/tmp/a:b.db', true, { kind: 'sqlite', path: '/tmp/a:b.db' }],
  ['an etcd spec lists endpoints, defaulting to http', 'etcd:127.0.0.1:2379,http://127.0.0.1:22379', true, { kind: 'etcd', endpoints: ['http://127.0.0.1:2379', 'http://127.0.0.1:22379'] }],
  ['an empty sqlite path is refused', 'sqlite:', false, /path is empty/],
  ['an unknown scheme is refused and the accepted forms are named', 'mysql://x', false, /unknown store "mysql".*sqlite:PATH/],
  ['a spec without a scheme is refused', 'strata.db', false, /expected "sqlite:PATH" or "etcd:URL/],
  ['an empty etcd endpoint is refused', 'etcd:127.0.0.1:2379,', false, /empty etcd endpoint/],
  ['an etcd endpoint needs a port', 'etcd:http://localhost', false, /needs host:port/],
  ['an etcd endpoint must be http or https', 'etcd:ftp://h:1', false, /http:\/\/ or https:\/\//],
];

for (const [name, spec, ok, expected] of specCases) {
  test(`spec: ${name}`, () => {
    const r = parseStoreSpec(spec);
    assert.equal(r.ok, ok);
    if (r.ok) assert.deepEqual(r.value, expected);
    else assert.match(r.message, expected as RegExp);
  });
}

test('spec: openDatastore throws a bad-spec StoreError with the message', async () => {
  await assert.rejects(openDatastore('nope'), (e: unknown) => e instanceof StoreError && e.code === 'bad-spec' && /sqlite:PATH/.test(e.message));
});

test('keys: objects live where kube-apiserver puts them, the core group spelt core', () => {
  assert.equal(registryKey({ group: '', resource: 'pods', namespace: 'default', name: 'web' }), '/registry/core/pods/default/web');
  assert.equal(registryKey({ group: 'projectcalico.org', resource: 'tiers', name: 'security' }), '/registry/projectcalico.org/tiers/security');
  assert.equal(registryPrefix('networking.k8s.io', 'networkpolicies', 'prod'), '/registry/networking.k8s.io/networkpolicies/prod/');
  assert.equal(registryPrefix('', 'namespaces'), '/registry/core/namespaces/');
});

const endCases: readonly [string, string, string | undefined][] = [
  ['the end of a prefix is its last character plus one', '/registry/', '/registry0'],
  ['the empty prefix has no end', '', undefined],
  ['a prefix ending in the last code point carries into the one before', 'a\u{10ffff}', 'b'],
];
for (const [name, prefix, end] of endCases) {
  test(`ranges: ${name}`, () => assert.equal(prefixEnd(prefix), end));
}
