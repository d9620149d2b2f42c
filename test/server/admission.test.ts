// Invariant admission by the write's delta (analysis/admission.ts) against admission by the write's
// exhaustive diff (the reference: `createEngineState({ admission: 'diff' })`): random tiered
// scenarios (the differential generator's), random ConnectivityInvariants over their labels,
// namespaces and CIDRs, and random writes of the kinds a server sees — a rule's action or ports
// changed, a policy's order, a policy added or deleted, a pod relabelled, added or deleted, a
// namespace relabelled, a batch of two. For every write both engines must name the same broken
// invariants, each with a counter-example whose verdict is the one the invariant forbids. Some
// writes are committed, so the live classification the delta path keeps is moved on write by
// write, as on a server.
//
//   STRATA_ADMISSION_SEED=N   base seed (default 20261202; printed on failure)
//   STRATA_ADMISSION_RUNS=K   scenarios (default 30)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/load/index.ts';
import type { Resource } from '../../src/model/index.ts';
import { syntheticOrigin, validateDocument } from '../../src/model/index.ts';
import { createEngineState } from '../../src/server/engine-state.ts';
import type { EngineChange, EngineState } from '../../src/server/engine-state.ts';
import { generateScenario, Rng } from '../differential/generate.ts';
import { formatScenarioYaml } from '../differential/scenario.ts';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : Number(raw);
}
const BASE_SEED = envInt('STRATA_ADMISSION_SEED', 20261202);
const RUNS = envInt('STRATA_ADMISSION_RUNS', 30);
const WRITES = 14;

const keyOf = (r: Resource): string => `/t/${r.type}/${r.namespace ?? ''}/${r.name}`;

function resource(doc: unknown): Resource {
  const v = validateDocument(doc, syntheticOrigin('admission-test'));
  if (!v.ok || v.value === undefined) throw new Error(`invalid test document: ${JSON.stringify(doc)}`);
  return v.value;
}

const NETS = ['10.0.0.0/24', '10.0.0.0/8', '203.0.113.0/24', '8.8.8.8/32', '0.0.0.0/0', '192.168.1.0/24', '2001:db8::/32'];

/** An invariant end over the scenario's labels, namespaces and some CIDRs. */
function randomEnd(r: Rng, labels: readonly [string, string][], nsLabels: readonly [string, string][]): Record<string, unknown> {
  const k = r.int(0, 5);
  if (k === 0) return { namespaceSelector: 'all()' };
  if (k === 1 && nsLabels.length > 0) {
    const [l, v] = r.pick(nsLabels);
    return { namespaceSelector: `${l} == '${v}'` };
  }
  if (k === 2) return { nets: [r.pick(NETS), ...(r.chance(0.3) ? [r.pick(NETS)] : [])] };
  if (labels.length === 0) return { namespaceSelector: 'all()' };
  const [l, v] = r.pick(labels);
  if (k === 3 && nsLabels.length > 0) {
    const [nl, nv] = r.pick(nsLabels);
    return { namespaceSelector: `${nl} == '${nv}'`, selector: `${l} == '${v}'` };
  }
  return { selector: r.chance(0.2) ? `${l} != '${v}'` : `${l} == '${v}'` };
}

function randomInvariant(r: Rng, i: number, labels: readonly [string, string][], nsLabels: readonly [string, string][]): Resource {
  const from = randomEnd(r, labels, nsLabels);
  let to = randomEnd(r, labels, nsLabels);
  if (from.nets !== undefined && to.nets !== undefined) to = { namespaceSelector: 'all()' }; // external to external is no flow
  const ports = r.chance(0.5) ? undefined : [r.pick([String(r.int(1, 9000)), `${r.int(1, 100)}-${r.int(100, 9999)}`, '53', '80', '443', '9090'])];
  const protocols = r.chance(0.6) ? undefined : r.pick([['TCP'], ['UDP'], ['TCP', 'UDP', 'ICMP'], ['ICMP']]);
  return resource({
    apiVersion: 'strata/v1',
    kind: 'ConnectivityInvariant',
    metadata: { name: `inv-${i}` },
    spec: { from, to, ...(ports === undefined ? {} : { ports }), ...(protocols === undefined ? {} : { protocols }), must: r.chance(0.6) ? 'deny' : 'allow', admission: r.chance(0.8) ? 'reject' : 'warn' },
  });
}

type Spec = { ingress?: Record<string, unknown>[]; egress?: Record<string, unknown>[]; order?: number };

/** One random write against the current resources: what a client would PUT or DELETE. */
function randomWrite(r: Rng, current: ReadonlyMap<string, Resource>, n: number, labels: readonly [string, string][]): { changes: EngineChange[]; what: string } | undefined {
  const all = [...current.values()];
  const calico = all.filter((x) => x.type === 'NetworkPolicy' || x.type === 'GlobalNetworkPolicy');
  const policies = all.filter((x) => x.type === 'NetworkPolicy' || x.type === 'GlobalNetworkPolicy' || x.type === 'KubernetesNetworkPolicy');
  const pods = all.filter((x) => x.type === 'Pod');
  const namespaces = all.filter((x) => x.type === 'Namespace');
  const kind = r.pick(['flip', 'flip', 'port', 'order', 'add-policy', 'add-policy', 'delete-policy', 'relabel', 'relabel', 'add-pod', 'delete-pod', 'namespace'] as const);
  switch (kind) {
    case 'flip':
    case 'port': {
      const withRules = calico.filter((p) => ((p.body as { spec: Spec }).spec.ingress ?? []).length + ((p.body as { spec: Spec }).spec.egress ?? []).length > 0);
      if (withRules.length === 0) return undefined;
      const p = r.pick(withRules);
      const spec = structuredClone((p.body as { spec: Spec }).spec);
      const dir = (spec.ingress ?? []).length > 0 && ((spec.egress ?? []).length === 0 || r.chance(0.5)) ? 'ingress' : 'egress';
      const rules = spec[dir]!;
      const i = r.int(0, rules.length - 1);
      const rule = rules[i]!;
      if (kind === 'flip') rule.action = ({ Allow: 'Deny', Deny: 'Allow', Pass: 'Allow', Log: 'Deny' } as Record<string, string>)[String(rule.action)] ?? 'Deny';
      else {
        if (rule.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(String(rule.protocol))) return undefined;
        rule.protocol ??= 'TCP';
        rule.destination = { ...((rule.destination as object | undefined) ?? {}), ports: [r.pick([53, 80, 443, 9090, 7, '8000:8999'])] };
        delete (rule.destination as Record<string, unknown>).notPorts;
      }
      return { changes: [{ key: keyOf(p), resource: { ...p, body: { ...p.body, spec } } as Resource }], what: `${kind} ${p.namespace ?? ''}/${p.name} ${dir} rule ${i}` };
    }
    case 'order': {
      if (calico.length === 0) return undefined;
      const p = r.pick(calico);
      const spec = { ...(p.body as { spec: Spec }).spec, order: r.pick([1, 50, 500, 5000]) };
      return { changes: [{ key: keyOf(p), resource: { ...p, body: { ...p.body, spec } } as Resource }], what: `order of ${p.namespace ?? ''}/${p.name}` };
    }
    case 'add-policy': {
      const action = r.pick(['Allow', 'Deny', 'Pass']);
      const dir = r.chance(0.5) ? 'Ingress' : 'Egress';
      const peer: Record<string, unknown> = r.chance(0.4) ? { nets: [r.pick(['10.0.0.0/24', '203.0.113.0/24', '8.8.8.8/32'])] } : r.chance(0.5) && labels.length > 0 ? { selector: `${r.pick(labels)[0]} == '${r.pick(labels)[1]}'` } : {};
      const rule = { action, protocol: r.pick(['TCP', 'UDP']), [dir === 'Ingress' ? 'source' : 'destination']: peer, ...(r.chance(0.5) ? { destination: { ...(dir === 'Egress' ? peer : {}), ports: [r.pick([53, 80, 443, 9090])] } } : {}) };
      const [l, v] = labels.length > 0 && r.chance(0.7) ? r.pick(labels) : ['', ''];
      const doc = {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: `written-${n}` },
        spec: { order: r.pick([1, 50, 1000]), selector: l === '' ? 'all()' : `${l} == '${v}'`, types: [dir], [dir === 'Ingress' ? 'ingress' : 'egress']: [rule] },
      };
      const p = resource(doc);
      return { changes: [{ key: keyOf(p), resource: p }], what: `add ${JSON.stringify(doc.spec)}` };
    }
    case 'delete-policy': {
      if (policies.length === 0) return undefined;
      const p = r.pick(policies);
      return { changes: [{ key: keyOf(p), resource: undefined }], what: `delete ${p.type} ${p.namespace ?? ''}/${p.name}` };
    }
    case 'relabel': {
      if (pods.length === 0 || labels.length === 0) return undefined;
      const p = r.pick(pods);
      const meta = (p.body as { metadata: { labels?: Record<string, string> } }).metadata;
      const [l, v] = r.pick(labels);
      const next = { ...(meta.labels ?? {}) };
      if (r.chance(0.2)) delete next[l];
      else next[l] = r.chance(0.8) ? v : 'other';
      return { changes: [{ key: keyOf(p), resource: { ...p, body: { ...p.body, metadata: { ...meta, labels: next } } } as Resource }], what: `relabel ${p.namespace}/${p.name} ${JSON.stringify(next)}` };
    }
    case 'add-pod': {
      if (pods.length === 0) return undefined;
      const p = r.pick(pods);
      const body = structuredClone(p.body) as { metadata: { name: string; labels?: Record<string, string> }; status?: { podIP?: string; podIPs?: { ip: string }[] } };
      body.metadata.name = `written-pod-${n}`;
      const ip = `10.0.3.${(n % 250) + 1}`;
      body.status = { ...(body.status ?? {}), podIP: ip, podIPs: [{ ip }] };
      if (labels.length > 0 && r.chance(0.5)) {
        const [l, v] = r.pick(labels);
        body.metadata.labels = { ...(body.metadata.labels ?? {}), [l]: v };
      }
      const q = { ...p, name: body.metadata.name, body } as Resource;
      return { changes: [{ key: keyOf(q), resource: q }], what: `add pod ${p.namespace}/${body.metadata.name} like ${p.name}` };
    }
    case 'delete-pod': {
      if (pods.length < 2) return undefined;
      const p = r.pick(pods);
      return { changes: [{ key: keyOf(p), resource: undefined }], what: `delete pod ${p.namespace}/${p.name}` };
    }
    case 'namespace': {
      if (namespaces.length === 0) return undefined;
      const ns = r.pick(namespaces);
      const meta = (ns.body as { metadata: { labels?: Record<string, string> } }).metadata;
      const next = { ...(meta.labels ?? {}), team: r.pick(['a', 'b', 'c']) };
      return { changes: [{ key: keyOf(ns), resource: { ...ns, body: { ...ns.body, metadata: { ...meta, labels: next } } } as Resource }], what: `namespace ${ns.name} labels ${JSON.stringify(next)}` };
    }
  }
}

function brokenOf(e: EngineState, changes: readonly EngineChange[]): { ok: boolean; broken: string[]; bad: string[] } {
  const v = e.validateChanges(changes);
  const bad = v.breaks.filter((b) => b.violation.example.verdict !== (b.violation.must === 'deny' ? 'allow' : 'deny')).map((b) => b.violation.invariant);
  return { ok: v.ok, broken: v.breaks.map((b) => b.violation.invariant).sort(), bad };
}

test('admission by the write delta decides every invariant as admission by the exhaustive diff', () => {
  let compared = 0;
  let brokenSeen = 0;
  for (let run = 0; run < RUNS; run++) {
    const seed = BASE_SEED + run;
    const r = new Rng(seed);
    const loaded = loadText(formatScenarioYaml(generateScenario(seed)), `admission-${seed}.yaml`);
    if (loaded.diagnostics.some((d) => d.severity === 'error')) continue;
    const fast = createEngineState();
    const oracle = createEngineState({ admission: 'diff' });
    const current = new Map<string, Resource>();
    const base = loaded.resources.map((x) => ({ key: keyOf(x), resource: x }));
    for (const e of [fast, oracle]) e.apply(base);
    for (const c of base) current.set(c.key, c.resource);
    const labels = [...new Set(loaded.resources.filter((x) => x.type === 'Pod').flatMap((x) => Object.entries((x.body as { metadata: { labels?: Record<string, string> } }).metadata.labels ?? {}).map(([k, v]) => `${k}\u0000${v}`)))].map(
      (s) => s.split('\u0000') as [string, string],
    );
    const nsLabels = [...new Set(loaded.resources.filter((x) => x.type === 'Namespace').flatMap((x) => Object.entries((x.body as { metadata: { labels?: Record<string, string> } }).metadata.labels ?? {}).map(([k, v]) => `${k}\u0000${v}`)))].map(
      (s) => s.split('\u0000') as [string, string],
    );
    const invariants = Array.from({ length: r.int(3, 8) }, (_, i) => randomInvariant(r, i, labels, nsLabels));
    const invChanges = invariants.map((x) => ({ key: keyOf(x), resource: x }));
    for (const e of [fast, oracle]) e.apply(invChanges);
    for (let w = 0; w < WRITES; w++) {
      let write = randomWrite(r, current, run * 100 + w, labels);
      if (write === undefined) continue;
      if (r.chance(0.15)) {
        const second = randomWrite(r, current, run * 100 + w + 50, labels);
        if (second !== undefined && !second.changes.some((c) => write!.changes.some((d) => d.key === c.key))) write = { changes: [...write.changes, ...second.changes], what: `${write.what}; ${second.what}` };
      }
      const a = brokenOf(fast, write.changes);
      const b = brokenOf(oracle, write.changes);
      const context = `seed ${seed} (STRATA_ADMISSION_SEED=${seed} STRATA_ADMISSION_RUNS=1), write ${w}: ${write.what}\ninvariants: ${invariants.map((x) => `${x.name} ${JSON.stringify((x.body as { spec: unknown }).spec)}`).join('\n  ')}`;
      assert.deepEqual(a.broken, b.broken, `broken invariants differ (delta vs diff)\n${context}`);
      assert.equal(a.ok, b.ok, context);
      assert.deepEqual(a.bad, [], `a counter-example with the allowed verdict\n${context}`);
      compared++;
      brokenSeen += a.broken.length;
      if (r.chance(0.4)) {
        for (const e of [fast, oracle]) e.apply(write.changes);
        for (const c of write.changes) {
          if (c.resource === undefined) current.delete(c.key);
          else current.set(c.key, c.resource);
        }
      }
    }
  }
  // The comparison means something only if writes were judged and some broke invariants.
  if (process.env.STRATA_ADMISSION_VERBOSE) console.log({ compared, brokenSeen });
  assert.ok(compared > RUNS * 5, `only ${compared} writes compared`);
  assert.ok(brokenSeen > 0, 'no write broke any invariant: the generator proves nothing');
});

/** A small namespace for the hand-made cases: pods by name, app label and address. */
function smallCluster(extra: readonly unknown[]): EngineChange[] {
  const pod = (name: string, app: string, ip: string): unknown => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'n', labels: { app } }, spec: { containers: [{ name: 'c' }] }, status: { podIP: ip } });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } },
    pod('client', 'client', '10.9.0.1'),
    pod('db', 'db', '10.9.0.2'),
    pod('other', 'other', '10.9.0.3'),
    // The client may reach app=db only; everyone accepts everything.
    { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'client-out', namespace: 'n' }, spec: { selector: "app == 'client'", types: ['Egress'], egress: [{ action: 'Allow', destination: { selector: "app == 'db'" } }] } },
    ...extra,
  ].map((d) => {
    const x = resource(d);
    return { key: keyOf(x), resource: x };
  });
}

test('a relabel is seen by the rules of other endpoints that select the relabelled one', () => {
  for (const mode of ['delta', 'diff'] as const) {
    const e = createEngineState({ admission: mode });
    e.apply(
      smallCluster([
        { apiVersion: 'strata/v1', kind: 'ConnectivityInvariant', metadata: { name: 'client-only-db' }, spec: { from: { selector: "app == 'client'" }, to: { selector: "app != 'db'" }, ports: ['5432'], must: 'deny' } },
      ]),
    );
    // Relabelling "other" to app=db opens client → other: the client's egress rule now selects it.
    // Nothing of "other"'s own changes a verdict (no policy selects it; it accepts everything),
    // and it moves out of the invariant's `to`, into no end — only the client's rule sees it.
    const other = resource({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'other', namespace: 'n', labels: { app: 'db' } }, spec: { containers: [{ name: 'c' }] }, status: { podIP: '10.9.0.3' } });
    assert.deepEqual(brokenOf(e, [{ key: keyOf(other), resource: other }]), { ok: true, broken: [], bad: [] }, `${mode}: other is no longer covered by the promise`);
    // The same write under a promise that covers every destination: client → other is new.
    const all = resource({ apiVersion: 'strata/v1', kind: 'ConnectivityInvariant', metadata: { name: 'client-reaches-nothing-else' }, spec: { from: { selector: "app == 'client'" }, to: { selector: "app != 'client'" }, ports: ['5432'], must: 'deny' } });
    e.apply([{ key: keyOf(all), resource: all }]);
    const v = e.validateChanges([{ key: keyOf(other), resource: other }]);
    assert.equal(v.ok, false, `${mode}: client → other opens`);
    assert.deepEqual(
      v.breaks.map((b) => [b.violation.invariant, b.violation.example.from, b.violation.example.to, b.violation.example.verdict]),
      [['client-reaches-nothing-else', 'n/client', 'n/other', 'allow']],
      `${mode}: named with the new flow (client → db was allowed before: the state broken elsewhere blocks nothing)`,
    );
  }
});
