// Selector set elements kept by delta must equal the elements computed from scratch, whatever the
// sequence of member lists: endpoints joining and leaving (sharing addresses, dual-stack), network
// sets covering some of their addresses, lists shrinking to nothing and growing past the size
// where deltas start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Cluster, Endpoint, NetworkSetEntry, SelectorMembers } from '../../src/engine/index.ts';
import { buildCluster } from '../../src/engine/build.ts';
import { createPolicyStore } from '../../src/engine/store.ts';
import { compileNode, renderNft } from '../../src/dataplane/index.ts';
import { loadText } from '../../src/load/index.ts';
import type { Resource } from '../../src/model/index.ts';
import { interfacesOf } from './fixtures.ts';
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
            // One owner list per name (no selector): endpoints declaring both are in both lists.
            const byName = (n: string): Endpoint[] => m.endpoints.filter((e) => e.ports.some((q) => q.name === n));
            assert.deepEqual([...namedPortElements(`${id}/by-name`, [byName('dns'), byName('http')], ['dns', 'http'], family)], scratchPorts(m.endpoints, ['http', 'dns'], family));
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

// The path an agent takes: a live store, a snapshot after each label change, and the node's rules
// recompiled — selector and named-port sets large enough to be moved on by the engine's deltas —
// always equal to the rules compiled from a fresh build of the same resources.
test('recompiled rules after label changes on a live store equal a fresh build’s (large sets, engine deltas)', () => {
  const PODS = 420;
  const podDoc = (i: number, app: string): string =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: p${i}, namespace: shop, labels: {app: ${app}, n: "${i % 7}"}}\nspec:\n  nodeName: ${i % 2 === 0 ? 'n1' : 'n2'}\n  containers: [{name: c, ports: [{name: http, containerPort: 8080}, {name: alt, containerPort: ${8000 + (i % 4)}}]}]\nstatus: {podIP: 10.1.${i >> 8}.${i & 255}}\n`;
  const fixed = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {env: prod}}\n',
    `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: web}\nspec:\n  selector: app == 'web'\n  ingress:\n  - action: Allow\n    source: {selector: 'app in {"web", "api"}'}\n  - action: Allow\n    protocol: TCP\n    source: {selector: 'n != "3"'}\n    destination: {ports: [http, alt]}\n  - action: Allow\n    protocol: TCP\n    destination: {selector: 'app == "api"', ports: [alt]}\n  - action: Allow\n    protocol: TCP\n    source: {selector: 'app == "db"'}\n    destination: {ports: [http]}\n`,
  ];
  const apps: string[] = Array.from({ length: PODS }, (_, i) => (i % 3 === 0 ? 'api' : 'web'));
  const load = (text: string): Resource[] => {
    const r = loadText(text, 'case.yaml');
    assert.equal(r.diagnostics.filter((d) => d.severity === 'error').length, 0, JSON.stringify(r.diagnostics));
    return [...r.resources];
  };
  const all = (): Resource[] => load([...fixed, ...apps.map((a, i) => podDoc(i, a))].join('---\n'));
  const compile = (c: Cluster): string => {
    const eps = c.endpointsOnNode('n1');
    const r = compileNode(c, eps, { interfaces: interfacesOf(c.endpoints) });
    assert.ok(r.ok);
    return renderNft(r.value);
  };
  const steps = fc.sample(fc.tuple(fc.nat(PODS - 1), fc.constantFrom('web', 'api', 'db')), { numRuns: 30, seed: 20261202 });
  // The fresh builds first: the compiler's set trackers then follow the live store only, as in an agent.
  const initial = [...apps];
  const expected = steps.map(([i, app]) => {
    apps[i] = app;
    return compile(buildCluster(all()).cluster);
  });
  apps.splice(0, apps.length, ...initial);
  const store = createPolicyStore();
  assert.ok(store.apply(all().map((resource) => ({ op: 'upsert' as const, resource })), { onError: 'keep' }).ok);
  compile(store.snapshot());
  steps.forEach(([i, app], k) => {
    assert.ok(store.apply([{ op: 'upsert', resource: load(podDoc(i, app))[0]! }]).ok);
    assert.equal(compile(store.snapshot()), expected[k], `after p${i} → app=${app}`);
  });
});
