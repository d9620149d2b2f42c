// Before/after pairs of one node's cluster for the incremental-update tests: each change is a
// realistic edit (a policy rule, a new pod, a removed policy, a remote pod moving, an interface
// renamed) applied to the tenants scenario.
import { compileNode } from '../../src/dataplane/index.ts';
import type { Ruleset } from '../../src/dataplane/index.ts';
import { createCluster } from '../../src/engine/cluster.ts';
import type { Cluster, ClusterData } from '../../src/engine/cluster.ts';
import type { Endpoint, Policy } from '../../src/engine/model.ts';
import { endpoint, interfacesOf, ip, ports, rules, sel, TCP, tenantsScenario, UDP } from './fixtures.ts';

export interface Change {
  readonly name: string;
  readonly before: Ruleset;
  readonly after: Ruleset;
}

function withData(c: Cluster, patch: Partial<ClusterData>): Cluster {
  return createCluster({
    tiers: patch.tiers ?? c.tiers,
    policies: patch.policies ?? c.policies,
    endpoints: patch.endpoints ?? c.endpoints,
    networkSets: patch.networkSets ?? c.networkSets,
    namespaces: patch.namespaces ?? c.namespaces,
    services: patch.services ?? c.services,
  });
}

function compileOn(c: Cluster, node: string, ifnames?: ReadonlyMap<string, string>): Ruleset {
  const eps = c.endpoints.filter((e) => (e.node ?? 'node-a') === node);
  const r = compileNode(c, eps, { interfaces: ifnames ?? interfacesOf(c.endpoints) });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.value;
}

function replacePolicy(c: Cluster, name: string, f: (p: Policy) => Policy | undefined): Policy[] {
  const out: Policy[] = [];
  for (const p of c.policies) {
    const q = p.name === name ? f(p) : p;
    if (q !== undefined) out.push(q);
  }
  return out;
}

export function changes(): Change[] {
  const base = tenantsScenario().cluster;
  const before = compileOn(base, 'node-a');
  const out: Change[] = [];

  out.push({ name: 'nothing changed', before, after: compileOn(withData(base, {}), 'node-a') });

  // One policy's rule: only its chain is rewritten (and its new selector set added).
  const dns5353 = replacePolicy(base, 'security.allow-dns', (p) => ({
    ...p,
    egress: rules(['allow', { protocol: UDP, destination: { selector: sel('app == "dns" || app == "dns-cache"'), ports: ports(53, 5353) } }]),
  }));
  out.push({ name: 'a policy rule changed', before, after: compileOn(withData(base, { policies: dns5353 }), 'node-a') });

  // A new pod on this node: its chains, map elements and set elements appear.
  const newPod = endpoint({ id: 'tenant-1/worker', labels: { app: 'worker', tenant: 't1' }, addresses: ['10.10.1.3', 'fd10::1:3'], node: 'node-a' });
  out.push({ name: 'a pod was added', before, after: compileOn(withData(base, { endpoints: [...base.endpoints, newPod] }), 'node-a') });

  // A policy removed: its chains go, the endpoint chains that jumped to it are refilled.
  const noMonitoring = replacePolicy(base, 'platform.monitoring', () => undefined);
  out.push({ name: 'a policy was removed', before, after: compileOn(withData(base, { policies: noMonitoring }), 'node-a') });

  // A pod on another node got a new address: only set elements change here.
  const moved = base.endpoints.map((e): Endpoint => (e.id === 'tenant-2/web' ? { ...e, addresses: [ip('10.10.2.9'), ip('fd10::2:9')] } : e));
  out.push({ name: 'a remote pod moved', before, after: compileOn(withData(base, { endpoints: moved }), 'node-a') });

  // The node-side interface of a pod was renamed: map elements only.
  const ifs = interfacesOf(base.endpoints);
  ifs.set('tenant-1/frontend', 'v-renamed0');
  out.push({ name: 'an interface was renamed', before, after: compileOn(base, 'node-a', ifs) });

  // A pod left the node and a new TCP rule appeared: several kinds of change at once.
  const gone = base.endpoints.filter((e) => e.id !== 'tenant-1/frontend');
  const extraRule = replacePolicy(base, 'security.tenant-isolation', (p) => ({
    ...p,
    ingress: [...rules(['deny', { protocol: TCP, destination: { ports: ports(23) } }]), ...p.ingress.map((r) => ({ ...r, index: r.index + 1 }))],
  }));
  out.push({ name: 'a pod left and a rule was inserted', before, after: compileOn(withData(base, { endpoints: gone, policies: extraRule }), 'node-a') });

  // And back: everything the previous change removed comes back.
  out.push({ name: 'the reverse of the previous change', before: out[out.length - 1]!.after, after: before });
  return out;
}
