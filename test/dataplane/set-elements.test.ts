// Selector set elements kept by delta must equal the elements computed from scratch, whatever the
// sequence of member lists: endpoints joining and leaving (sharing addresses, dual-stack), network
// sets covering some of their addresses, lists shrinking to nothing and growing past the size
// where deltas start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Endpoint, NetworkSetEntry, SelectorMembers } from '../../src/engine/index.ts';
import { cidrOfAddress, parseCidrLenient, parseIp } from '../../src/net/index.ts';
import type { Cidr, IpAddress } from '../../src/net/index.ts';
import { namedPortElements, normalizeCidrs, normalizeTriples, selectorElements } from '../../src/dataplane/set-elements.ts';
import type { Triple } from '../../src/dataplane/set-elements.ts';

function ip(text: string): IpAddress {
  const r = parseIp(text);
  if (!r.ok) throw new Error(text);
  return r.value;
}
function cidr(text: string): Cidr {
  const r = parseCidrLenient(text);
  if (!r.ok) throw new Error(text);
  return r.value;
}

// A pool of endpoints: 600 of them on 550 addresses, so that some share one.
const pool: Endpoint[] = Array.from({ length: 600 }, (_, i) => {
  const k = (i * 37) % 550;
  const addresses = [ip(`10.0.${k >> 8}.${k & 255}`)];
  if (i % 3 !== 0) addresses.push(ip(`fd00::${(k % 397).toString(16)}`));
  const ports = [
    { name: 'http', protocol: 6, port: 8080 + (i % 3) },
    ...(i % 5 === 0 ? [{ name: 'dns', protocol: 17, port: 53 }, { name: 'metrics', protocol: 6, port: 9090 }] : []),
  ];
  return { id: `ns/p${i}`, addresses, ports } as unknown as Endpoint;
});
const nets: NetworkSetEntry[] = [
  { id: 'a', nets: [cidr('10.0.1.0/24')] },
  { id: 'b', nets: [cidr('10.0.2.16/28'), cidr('fd00::/120')] },
  { id: 'c', nets: [cidr('10.0.2.5')] },
].map((n) => n as unknown as NetworkSetEntry);

function scratch(m: SelectorMembers, family: 4 | 6): string[] {
  const cidrs: Cidr[] = [];
  for (const ep of m.endpoints) for (const a of ep.addresses) if (a.family === family) cidrs.push(cidrOfAddress(a));
  for (const ns of m.networkSets) for (const c of ns.nets) if (c.family === family) cidrs.push(c);
  return normalizeCidrs(cidrs);
}

function scratchPorts(eps: readonly Endpoint[], names: readonly string[], family: 4 | 6): ReturnType<typeof normalizeTriples> {
  const ts: Triple[] = [];
  for (const ep of eps) for (const p of ep.ports) if (p.name !== undefined && names.includes(p.name)) for (const a of ep.addresses) if (a.family === family) ts.push({ address: a, protocol: p.protocol, port: p.port });
  return normalizeTriples(ts);
}

test('selector and named-port set elements by delta equal the elements from scratch', () => {
  let run = 0;
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          // Mostly small moves from the previous list, sometimes a jump.
          joins: fc.array(fc.nat(pool.length - 1), { maxLength: 6 }),
          leaves: fc.array(fc.nat(50), { maxLength: 6 }),
          jump: fc.option(fc.integer({ min: 0, max: pool.length }), { freq: 8 }),
          netsMask: fc.option(fc.nat(7), { freq: 5 }),
        }),
        { minLength: 1, maxLength: 25 },
      ),
      (steps) => {
        const id = `sel-${run++}`;
        let members: Endpoint[] = pool.slice(0, 300);
        let netSets: NetworkSetEntry[] = [];
        for (const s of steps) {
          if (s.jump !== null) members = pool.slice(0, s.jump);
          else {
            const leaving = new Set(s.leaves.map((i) => members[i % Math.max(1, members.length)]));
            members = members.filter((e) => !leaving.has(e));
            for (const j of s.joins) if (!members.includes(pool[j]!)) members.push(pool[j]!);
          }
          if (s.netsMask !== null) netSets = nets.filter((_, i) => (s.netsMask! >> i) & 1);
          // A new list object each time, as a snapshot that changed the selector gives.
          const m: SelectorMembers = { endpoints: [...members], networkSets: [...netSets] };
          for (const family of [4, 6] as const) {
            assert.deepEqual([...selectorElements(id, m, family)], scratch(m, family));
            assert.deepEqual([...namedPortElements(id, [m.endpoints], ['http', 'dns'], family)], scratchPorts(m.endpoints, ['http', 'dns'], family));
          }
        }
      },
    ),
    { numRuns: 300, seed: 20261202 },
  );
});

test('an unchanged member list is answered by identity, and deltas never alter earlier answers', () => {
  const a: SelectorMembers = { endpoints: pool.slice(0, 400), networkSets: [] };
  const first = selectorElements('sel-identity', a, 4);
  const copy = [...first];
  assert.equal(selectorElements('sel-identity', a, 4), first);
  const b: SelectorMembers = { endpoints: [...pool.slice(0, 399), pool[450]!], networkSets: [] };
  selectorElements('sel-identity', b, 4);
  assert.deepEqual([...first], copy, 'the earlier snapshot’s set is untouched');
});
