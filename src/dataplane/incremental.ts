// The node compiler an agent keeps: `compileNode`'s answer for every snapshot, made by re-making
// only the chains whose inputs changed since the previous compile and reusing the others — the
// same objects, so that `diffRulesets` passes them in O(1) and the kernel update stays the size of
// the change. Felix's calculation graph does the same by passing deltas (changed endpoints,
// active policies, IP-set members: felix/calc/calc_graph.go); here the deltas are found by the
// identity of what the engine's snapshots share across generations (tier plans, policy and
// profile objects, selector member lists), not taken from a change report: a chain is reused only
// when every input its content is made of is provably the same, otherwise it is made again.
//
//   chain              its content is a function of                            reused when
//   fw|tw/<endpoint>   endpoint id, direction, tier plan (tier name, default     the plan array and profiles are the same
//                      action, enforced policies' ids), profile names,          objects, or the "shape" (those values) is
//                      decision group                                           equal (a policy edit re-makes plans)
//   po|pi/<policy>     the Policy object, direction, log prefix, decision       same Policy object and the same answers to
//                      group, network sets' allowedEgressDomains (what           every domain read; or re-made and equal
//                      `selectorDomains` answered while it was made)            to the previous chain
//   pro|pri/<profile>  the Profile object, as a policy                         as a policy
//   sets               their spec's inputs: member lists, Services, backends   the inputs are the same objects
//                      (read from the snapshot at every compile)
//
// Side effects of making a chain — the sets it registers, its notes, its decision ids — are kept
// with it and counted (a set, note or id is in the ruleset while a chain in use has it), so a
// reused chain still contributes them and a chain that leaves takes them along. Decision ids,
// notes and the sorted lists are patched, not rebuilt. The order in which chains are looked at is
// compileNode's (egress chains of every endpoint in id order, then ingress), so which of two
// objects wins a shared name, and every profile conflict, are the same.
//
// The equality with compileNode is tested by a property test on random change sequences
// (test/dataplane/incremental.test.ts); any difference is a bug of this file.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import type { Cluster, Direction, Endpoint, NetworkSetEntry, Policy, Profile, TierPlan } from '../engine/index.ts';
import { isActive } from '../engine/pipeline.ts';
import type { CompileOptions, DomainRead, Placed, SetSpec } from './compile.ts';
import {
  Compilation,
  compareText,
  dispatchMaps,
  policyChainName,
  policyId,
  prepareNode,
  profileChainName,
  profileConflict,
  sameJson,
  selectorDomainsIn,
  structuralChains,
} from './compile.ts';
import type { Chain, DecisionEntry, NamedSet, Ruleset, VerdictMap } from './ir.ts';

/** What the last compile made and reused (for benchmarks and the agent's log). */
export interface NodeCompileStats {
  readonly chainsMade: number;
  readonly chainsReused: number;
  readonly setsMade: number;
  readonly setsReused: number;
  /** Whether the last compile started from nothing (first compile, options changed, or reset). */
  readonly cold: boolean;
}

export interface NodeCompiler {
  /** Exactly `compileNode(cluster, nodeEndpoints, opts)`, made from the previous compile's chains where they still hold. */
  compile(cluster: Cluster, nodeEndpoints: readonly Endpoint[], opts: CompileOptions): Result<Ruleset>;
  /** Forgets everything: the next compile makes every chain. */
  reset(): void;
  stats(): NodeCompileStats;
}

/** What a chain in use contributes besides itself. */
interface Effects {
  readonly decisions: readonly (readonly [string, string])[];
  readonly notes: readonly string[];
  readonly sets: readonly SetSpec[];
}

/** A chain with its effects: the unit whose identity says "unchanged". */
interface Use {
  readonly chain: Chain;
  readonly effects: Effects;
}

interface EndpointEntry {
  readonly use: Use;
  readonly plan: readonly TierPlan[];
  readonly profiles: readonly Profile[];
  /** The values the chain's content is made of (see `shapeOf`). */
  readonly shape: string;
  readonly refs: PolicyRefs;
  /** The profiles' chain names, in order. */
  readonly profileNames: readonly string[];
}

/** The enforced policies a plan's chain jumps to, in order, with their chain names. */
interface PolicyRefs {
  readonly policies: readonly Policy[];
  readonly names: readonly string[];
}

interface SharedEntry {
  readonly use: Use;
  readonly source: Policy | Profile;
  readonly domainReads: readonly DomainRead[];
  /** The network-set list the reads were answered from (a different list: asked again). */
  networkSets: readonly NetworkSetEntry[];
}

const DIRECTIONS: readonly Direction[] = ['egress', 'ingress'];
const ENFORCED = { stagedAsEnforced: false } as const;

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Every value an endpoint chain's content depends on besides its name (endpoint id, direction)
 * and the compiler's options: per tier with an enforced policy, the tier's name, whether its
 * default action is Pass and the enforced policies' ids; the profiles' names.
 */
function shapeOf(plan: readonly TierPlan[], profiles: readonly Profile[]): string {
  const parts: unknown[] = [];
  for (const tp of plan) {
    const ids: string[] = [];
    for (const p of tp.policies) if (isActive(p, ENFORCED)) ids.push(policyId(p));
    if (ids.length > 0) parts.push([tp.tier.name, tp.tier.defaultAction === 'pass', ids]);
  }
  return JSON.stringify([parts, profiles.map((p) => p.name)]);
}

// Names by object: the same strings every compile (a name built anew is hashed anew when looked up).
const refsByPlan = new WeakMap<readonly TierPlan[], Map<Direction, PolicyRefs>>();
const profileNames = new WeakMap<Profile, Map<Direction, string>>();

/** The enforced policies the chain of this plan jumps to, in order (what a deferred compile records). */
function policyRefsOf(plan: readonly TierPlan[], dir: Direction): PolicyRefs {
  let byDir = refsByPlan.get(plan);
  if (byDir === undefined) refsByPlan.set(plan, (byDir = new Map()));
  let refs = byDir.get(dir);
  if (refs === undefined) {
    const policies: Policy[] = [];
    for (const tp of plan) for (const p of tp.policies) if (isActive(p, ENFORCED)) policies.push(p);
    byDir.set(dir, (refs = { policies, names: policies.map((p) => policyChainName(p, dir)) }));
  }
  return refs;
}

function profileNameOf(p: Profile, dir: Direction): string {
  let byDir = profileNames.get(p);
  if (byDir === undefined) profileNames.set(p, (byDir = new Map()));
  let name = byDir.get(dir);
  if (name === undefined) byDir.set(dir, (name = profileChainName(p, dir)));
  return name;
}

function effectsOf(c: Compilation): Effects {
  return { decisions: [...c.decisions], notes: [...c.notes], sets: [...c.setSpecs.values()] };
}

function sameEffects(a: Effects, b: Effects): boolean {
  if (a.decisions.length !== b.decisions.length || !sameItems(a.notes, b.notes) || a.sets.length !== b.sets.length) return false;
  for (let i = 0; i < a.decisions.length; i++) if (a.decisions[i]![0] !== b.decisions[i]![0] || a.decisions[i]![1] !== b.decisions[i]![1]) return false;
  for (let i = 0; i < a.sets.length; i++) if (a.sets[i]!.name !== b.sets[i]!.name) return false;
  return true;
}

/** Index of `key` in a list sorted by `keyOf`, or −(insertion point) − 1. */
function search<T>(list: readonly T[], key: string, keyOf: (x: T) => string): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const k = keyOf(list[mid]!);
    if (k === key) return mid;
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

/** `prev` (sorted by name) without `removed`, with `added` — O(n + k log k), not a sort of n. */
function mergeSorted(prev: readonly string[], removed: ReadonlySet<string>, added: readonly string[]): string[] {
  const fresh = [...added].sort(compareText);
  const out: string[] = [];
  let j = 0;
  for (const name of prev) {
    if (removed.has(name)) continue;
    while (j < fresh.length && fresh[j]! < name) out.push(fresh[j++]!);
    out.push(name);
  }
  while (j < fresh.length) out.push(fresh[j++]!);
  return out;
}

/** Above this many decision ids in or out, the sorted table is rebuilt rather than patched. */
const DECISION_PATCH_LIMIT = 2048;

export function createNodeCompiler(): NodeCompiler {
  // Options the chains' content depends on; another value starts from nothing.
  let optionsKey: string | undefined;
  const structural = structuralChains();

  // Endpoint chains by place: the node's endpoints in id order, as of the last compile, with their
  // entries per direction (the same ids in the same order again — the usual case — need no lookup).
  let lastIds: readonly string[] = [];
  let lastEntries: Record<Direction, readonly EndpointEntry[]> = { egress: [], ingress: [] };
  let policyMemo = new Map<string, SharedEntry>();
  let profileMemo = new WeakMap<Profile, Map<Direction, SharedEntry>>();
  /** The last profile chain made for a name, to reuse it when an equal one is made again. */
  let profileByName = new Map<string, SharedEntry>();

  // The last successful compile: what was in use (policy and profile chains by name, endpoint
  // chains by place), and the counted effects.
  let used = new Map<string, Use>();
  let usedEndpoints: { ids: readonly string[]; entries: Record<Direction, readonly EndpointEntry[]> } = { ids: [], entries: { egress: [], ingress: [] } };
  let decisionCount = new Map<string, { text: string; n: number }>();
  let noteCount = new Map<string, number>();
  let setCount = new Map<string, { spec: SetSpec; n: number }>();
  let setMemo = new Map<string, { inputs: readonly unknown[]; set: NamedSet }>();
  let chainNames: string[] = [];
  let chainList: readonly Chain[] = [];
  let setNames: string[] = [];
  let setList: readonly NamedSet[] = [];
  let notes: readonly string[] = [];
  let decisions: readonly DecisionEntry[] = [];
  let placedBefore: readonly Placed[] = [];
  let maps: readonly VerdictMap[] | undefined;
  let last: NodeCompileStats = { chainsMade: 0, chainsReused: 0, setsMade: 0, setsReused: 0, cold: true };

  const reset = (): void => {
    optionsKey = undefined;
    lastIds = [];
    lastEntries = { egress: [], ingress: [] };
    policyMemo = new Map();
    profileMemo = new WeakMap();
    profileByName = new Map();
    used = new Map();
    usedEndpoints = { ids: [], entries: { egress: [], ingress: [] } };
    decisionCount = new Map();
    noteCount = new Map();
    setCount = new Map();
    setMemo = new Map();
    chainNames = [];
    chainList = [];
    setNames = [];
    setList = [];
    notes = [];
    decisions = [];
    placedBefore = [];
    maps = undefined;
    inputIds = [];
    order = [];
    preparedBefore = undefined;
  };

  // The last input's ids (the engine lists a node's endpoints in a stable order) and the places
  // of its sorted unique endpoints: the same ids in the same order sort the same, without a sort.
  let inputIds: readonly string[] = [];
  let order: readonly number[] = [];
  /** The endpoints unique and in id order. */
  const sortEndpoints = (eps: readonly Endpoint[]): Endpoint[] => {
    if (eps.length === inputIds.length && eps.every((ep, i) => ep.id === inputIds[i])) return order.map((i) => eps[i]!);
    const first = new Map<string, number>();
    eps.forEach((ep, i) => {
      if (!first.has(ep.id)) first.set(ep.id, i);
    });
    order = [...first.values()].sort((a, b) => compareText(eps[a]!.id, eps[b]!.id));
    inputIds = eps.map((ep) => ep.id);
    return order.map((i) => eps[i]!);
  };

  // The last successful preparation: the same endpoint objects with the same interfaces and the
  // same options pass the same checks, so the placement is handed on (and the maps with it).
  let preparedBefore: { table: string; group: number | null; placed: readonly Placed[]; tableOpt: string | undefined; groupOpt: number | null | undefined } | undefined;
  const prepare = (eps: readonly Endpoint[], opts: CompileOptions): Result<{ table: string; group: number | null; placed: readonly Placed[] }> => {
    const sorted = sortEndpoints(eps);
    const p = preparedBefore;
    if (p !== undefined && p.tableOpt === opts.table && p.groupOpt === opts.decisionGroup && p.placed.length === sorted.length && p.placed.every((x, i) => x.ep === sorted[i] && x.ifname === opts.interfaces.get(x.ep.id))) {
      return ok(p);
    }
    const r = prepareNode(eps, opts, sorted);
    preparedBefore = r.ok ? { ...r.value, tableOpt: opts.table, groupOpt: opts.decisionGroup } : undefined;
    return r;
  };

  /** Whether a shared chain's domain reads give the same answers in this cluster. */
  const readsHold = (e: SharedEntry, cluster: Cluster): boolean => {
    if (e.domainReads.length === 0) return true;
    const sets = cluster.networkSets;
    if (sets === e.networkSets) return true;
    for (const r of e.domainReads) if (!sameItems(selectorDomainsIn(cluster, r.selector), r.patterns)) return false;
    e.networkSets = sets;
    return true;
  };

  return {
    reset() {
      reset();
      last = { chainsMade: 0, chainsReused: 0, setsMade: 0, setsReused: 0, cold: true };
    },
    stats: () => last,
    compile(cluster, nodeEndpoints, opts) {
      const logPrefix = opts.logPrefix ?? 'strata';
      const key = JSON.stringify([logPrefix, opts.decisionGroup === undefined ? 'default' : opts.decisionGroup]);
      if (key !== optionsKey) {
        reset();
        optionsKey = key;
      }
      const cold = used.size === 0 && usedEndpoints.ids.length === 0;
      const prepared = prepare(nodeEndpoints, opts);
      if (!prepared.ok) return prepared;
      const { table, group, placed } = prepared.value;
      let made = 0;
      let reused = 0;

      const newCompilation = (): Compilation => new Compilation(cluster, logPrefix, group, true);

      const aligned = placed.length === lastIds.length && placed.every((x, i) => x.ep.id === lastIds[i]);
      // Otherwise the last compile's place of each id, found by walking both id-sorted lists.
      const lastAt: number[] = [];
      if (!aligned) {
        let j = 0;
        for (const { ep } of placed) {
          while (j < lastIds.length && lastIds[j]! < ep.id) j++;
          lastAt.push(j < lastIds.length && lastIds[j] === ep.id ? j : -1);
        }
      }
      const entries: Record<Direction, EndpointEntry[]> = { egress: [], ingress: [] };

      const endpointEntry = (ep: Endpoint, dir: Direction, at: number): EndpointEntry => {
        const plan = cluster.plan(ep, dir);
        const prev = aligned ? lastEntries[dir][at] : lastAt[at]! < 0 ? undefined : lastEntries[dir][lastAt[at]!];
        if (prev !== undefined && prev.plan === plan && sameItems(prev.profiles, ep.profiles)) {
          reused++;
          return prev;
        }
        const shape = shapeOf(plan, ep.profiles);
        let entry: EndpointEntry;
        if (prev !== undefined && prev.shape === shape) {
          // The same content from other objects (a policy edit re-makes the plans that hold it).
          reused++;
          entry = { use: prev.use, plan, profiles: ep.profiles, shape, refs: policyRefsOf(plan, dir), profileNames: ep.profiles.map((p) => profileNameOf(p, dir)) };
        } else {
          made++;
          const c = newCompilation();
          const chain = c.makeEndpointChain(ep.id, dir, plan, ep.profiles);
          const refs = policyRefsOf(plan, dir);
          if (!sameItems(refs.policies, c.policyRefs)) throw new Error(`internal: the policies ${chain.name} jumps to are not its plan's`);
          entry = { use: { chain, effects: effectsOf(c) }, plan, profiles: ep.profiles, shape, refs, profileNames: ep.profiles.map((p) => profileNameOf(p, dir)) };
        }
        return entry;
      };

      /** A policy's or profile's chain: the previous one when its inputs hold, or when made again equal. */
      const sharedEntry = (prev: SharedEntry | undefined, source: Policy | Profile, makeChain: (c: Compilation) => Chain): SharedEntry => {
        if (prev !== undefined && prev.source === source && readsHold(prev, cluster)) {
          reused++;
          return prev;
        }
        const c = newCompilation();
        const chain = makeChain(c);
        const effects = effectsOf(c);
        const fresh = { chain, effects };
        const same = prev !== undefined && sameJson(prev.use.chain.rules, chain.rules) && sameEffects(prev.use.effects, effects);
        if (same) reused++;
        else made++;
        return { use: same ? prev.use : fresh, source, domainReads: c.domainReads, networkSets: cluster.networkSets };
      };

      const policyEntry = (p: Policy, dir: Direction, name: string): SharedEntry => {
        const prev = policyMemo.get(name);
        const entry = sharedEntry(prev, p, (c) => c.makePolicyChain(p, dir));
        if (entry !== prev) policyMemo.set(name, entry);
        return entry;
      };

      const profileEntry = (p: Profile, dir: Direction): SharedEntry => {
        let byDir = profileMemo.get(p);
        const name = profileNameOf(p, dir);
        const prev = byDir?.get(dir) ?? profileByName.get(name);
        const entry = sharedEntry(prev, p, (c) => c.makeProfileChain(p, dir));
        if (byDir === undefined) profileMemo.set(p, (byDir = new Map()));
        byDir.set(dir, entry);
        profileByName.set(name, entry);
        return entry;
      };

      // compileNode's order: every endpoint's egress chain, then every ingress chain; a policy or
      // profile chain is made where it is first jumped to.
      /** Policy and profile chains (and a profile's other objects' effects) in use, by name. */
      const next = new Map<string, Use>();
      const problems: Diagnostic[] = [];
      for (const dir of DIRECTIONS) {
        const profileFirst = new Map<string, Profile>();
        const profileOthers = new Map<string, Set<Profile>>();
        // Endpoints of one label class share their plan, so its policies are looked at once; and a
        // policy once per direction (by object: cheaper to look up than its chain's name).
        const seenRefs = new Set<PolicyRefs>();
        const seenPolicies = new Set<Policy>();
        const list = entries[dir];
        for (let at = 0; at < placed.length; at++) {
          const { ep } = placed[at]!;
          const e = endpointEntry(ep, dir, at);
          list.push(e);
          if (!seenRefs.has(e.refs)) {
            seenRefs.add(e.refs);
            const { policies, names } = e.refs;
            for (let i = 0; i < policies.length; i++) {
              const p = policies[i]!;
              if (seenPolicies.has(p)) continue;
              seenPolicies.add(p);
              if (!next.has(names[i]!)) next.set(names[i]!, policyEntry(p, dir, names[i]!).use);
            }
          }
          for (let i = 0; i < e.profiles.length; i++) {
            const p = e.profiles[i]!;
            const pname = e.profileNames[i]!;
            const first = profileFirst.get(pname);
            if (first === undefined) {
              profileFirst.set(pname, p);
              next.set(pname, profileEntry(p, dir).use);
            } else if (first !== p) {
              // compileNode makes it again at every such endpoint: a conflict is reported each time.
              const other = profileEntry(p, dir);
              if (!sameJson(next.get(pname)!.chain.rules, other.use.chain.rules)) problems.push(profileConflict(p, dir));
              let others = profileOthers.get(pname);
              if (others === undefined) profileOthers.set(pname, (others = new Set()));
              if (!others.has(p)) {
                // Its sets, notes and ids count too, as compileNode's second making adds them.
                next.set(`\0${pname}\0${others.size}`, other.use);
                others.add(p);
              }
            }
          }
        }
      }
      const ids = aligned ? lastIds : placed.map((x) => x.ep.id);
      lastIds = ids;
      lastEntries = entries;
      if (problems.length > 0) {
        last = { chainsMade: made, chainsReused: reused, setsMade: 0, setsReused: 0, cold };
        return fail(problems);
      }

      // Forget what this node no longer uses (entries are reachable from nothing else).
      for (const name of policyMemo.keys()) if (!next.has(name)) policyMemo.delete(name);
      for (const name of profileByName.keys()) if (!next.has(name)) profileByName.delete(name);

      try {
        const { setsMade, setsReused } = commit(next, { ids, entries }, cluster);
        last = { chainsMade: made, chainsReused: reused, setsMade, setsReused, cold };
      } catch (e) {
        // A decision id collision (compileNode throws too): nothing half-counted survives.
        reset();
        throw e;
      }

      // The maps follow the placement only (an endpoint's chain names are its id's).
      if (maps === undefined || (placed !== placedBefore && (placed.length !== placedBefore.length || placed.some((x, i) => x.ep.id !== placedBefore[i]!.ep.id || x.ifname !== placedBefore[i]!.ifname)))) {
        const elements = (dir: Direction): { ifname: string; chain: string }[] => placed.map((x, i) => ({ ifname: x.ifname, chain: entries[dir][i]!.use.chain.name }));
        maps = dispatchMaps(elements('egress'), elements('ingress'));
      }
      placedBefore = placed;
      return ok({ table, sets: setList, maps, chains: chainList, notes, decisions });
    },
  };

  /** Counts the effects of the chains that came and went, then brings the sorted lists up to date. */
  function commit(next: Map<string, Use>, endpoints: typeof usedEndpoints, cluster: Cluster): { setsMade: number; setsReused: number } {
    const addedIds: string[] = [];
    const removedIds: string[] = [];
    let notesChanged = false;
    const setsIn: string[] = [];
    const setsOut = new Set<string>();
    /** Chains that came, by name. */
    const chainsIn = new Map<string, Chain>();
    const chainsOut = new Set<string>();
    /** Chains in use before and now, made anew: [name, chain]. */
    const chainsRemade: (readonly [string, Chain])[] = [];
    const gone: Use[] = [];
    const came: Use[] = [];

    // What came and went, by name; `\0` keys are effects only (a profile's other objects).
    const compareByName = (before: ReadonlyMap<string, Use>, now: ReadonlyMap<string, Use>): void => {
      for (const [k, u] of before) {
        const n = now.get(k);
        if (n === u) continue;
        gone.push(u);
        if (n === undefined && k[0] !== '\0') chainsOut.add(k);
      }
      for (const [k, u] of now) {
        const b = before.get(k);
        if (b === u) continue;
        came.push(u);
        if (k[0] === '\0') continue;
        if (b === undefined) chainsIn.set(k, u.chain);
        else chainsRemade.push([k, u.chain]);
      }
    };
    compareByName(used, next);
    // Endpoint chains: by place when the node has the same endpoints (no lookup), else by name.
    const before = usedEndpoints;
    if (before.ids === endpoints.ids || (before.ids.length === endpoints.ids.length && before.ids.every((id, i) => id === endpoints.ids[i]))) {
      for (const dir of DIRECTIONS) {
        const was = before.entries[dir];
        const now = endpoints.entries[dir];
        for (let i = 0; i < now.length; i++) {
          const a = was[i]!.use;
          const b = now[i]!.use;
          if (a === b) continue;
          gone.push(a);
          came.push(b);
          chainsRemade.push([b.chain.name, b.chain]);
        }
      }
    } else {
      // Both id-sorted: walked side by side.
      const a = before.ids;
      const b = endpoints.ids;
      let i = 0;
      let j = 0;
      while (i < a.length || j < b.length) {
        const cmp = i >= a.length ? 1 : j >= b.length ? -1 : compareText(a[i]!, b[j]!);
        for (const dir of DIRECTIONS) {
          const was = cmp <= 0 ? before.entries[dir][i]!.use : undefined;
          const now = cmp >= 0 ? endpoints.entries[dir][j]!.use : undefined;
          if (was === now) continue;
          if (was !== undefined) gone.push(was);
          if (now !== undefined) came.push(now);
          if (now === undefined) chainsOut.add(was!.chain.name);
          else if (was === undefined) chainsIn.set(now.chain.name, now.chain);
          else chainsRemade.push([now.chain.name, now.chain]);
        }
        if (cmp <= 0) i++;
        if (cmp >= 0) j++;
      }
    }

    // Removals first: an id, note or set a chain takes away and another brings back stays.
    for (const u of gone) {
      for (const [id] of u.effects.decisions) {
        const d = decisionCount.get(id)!;
        if (--d.n === 0) {
          decisionCount.delete(id);
          removedIds.push(id);
        }
      }
      for (const note of u.effects.notes) {
        const n = noteCount.get(note)! - 1;
        if (n === 0) {
          noteCount.delete(note);
          notesChanged = true;
        } else noteCount.set(note, n);
      }
      for (const spec of u.effects.sets) {
        const s = setCount.get(spec.name)!;
        if (--s.n === 0) {
          setCount.delete(spec.name);
          setsOut.add(spec.name);
        }
      }
    }
    for (const u of came) {
      for (const [id, text] of u.effects.decisions) {
        const d = decisionCount.get(id);
        if (d === undefined) {
          decisionCount.set(id, { text, n: 1 });
          addedIds.push(id);
        } else {
          // 48 bits of sha256 make this practically impossible; if it happens, say so rather than misattribute.
          if (d.text !== text) throw new Error(`internal: decision id ${id} for both "${d.text}" and "${text}"`);
          d.n++;
        }
      }
      for (const note of u.effects.notes) {
        const n = noteCount.get(note) ?? 0;
        if (n === 0) notesChanged = true;
        noteCount.set(note, n + 1);
      }
      for (const spec of u.effects.sets) {
        const s = setCount.get(spec.name);
        if (s === undefined) {
          setCount.set(spec.name, { spec, n: 1 });
          if (!setsOut.delete(spec.name)) setsIn.push(spec.name);
        } else s.n++;
      }
    }
    used = next;
    usedEndpoints = endpoints;

    // Chains: the sorted names patched, the list re-made only when some chain came or went.
    if (chainsIn.size > 0 || chainsOut.size > 0 || chainList.length === 0) {
      // The previous list without the chains that went, the new ones merged in by name, then the
      // chains made anew in their places (no index of every chain).
      const previous = chainList.length === 0 ? [] : chainList.slice(structural.length);
      chainNames = mergeSorted(chainNames, chainsOut, [...chainsIn.keys()]);
      const list: Chain[] = [...structural];
      let k = 0;
      for (const name of chainNames) {
        while (k < previous.length && chainsOut.has(previous[k]!.name)) k++;
        if (k < previous.length && previous[k]!.name === name) list.push(previous[k++]!);
        else list.push(chainsIn.get(name)!);
      }
      for (const [name, chain] of chainsRemade) list[structural.length + search(chainNames, name, (n) => n)] = chain;
      chainList = list;
    } else if (chainsRemade.length > 0) {
      // The same names: the chains made anew take their places in a copy of the list.
      const list = chainList.slice();
      for (const [name, chain] of chainsRemade) list[structural.length + search(chainNames, name, (n) => n)] = chain;
      chainList = list;
    }

    // Sets: every set in use made from this snapshot's inputs; the same inputs, the same object.
    let setsMade = 0;
    let setsReused = 0;
    for (const name of setsOut) setMemo.delete(name);
    if (setsIn.length > 0 || setsOut.size > 0) setNames = mergeSorted(setNames, setsOut, setsIn);
    let setsChanged = setsIn.length > 0 || setsOut.size > 0;
    const sets: NamedSet[] = [];
    for (const name of setNames) {
      const { spec } = setCount.get(name)!;
      const inputs = spec.inputs(cluster);
      const memo = setMemo.get(name);
      if (memo !== undefined && sameItems(memo.inputs, inputs)) {
        setsReused++;
        sets.push(memo.set);
        continue;
      }
      const made = spec.make(inputs);
      // Other inputs, the same elements (the element lists are moved on by delta, and keep their
      // identity when no element came or went): the previous set stands.
      const same = memo !== undefined && made.elements === memo.set.elements && made.type === memo.set.type && made.comment === memo.set.comment;
      const set = same ? memo.set : made;
      if (same) setsReused++;
      else {
        setsMade++;
        setsChanged = true;
      }
      setMemo.set(name, { inputs, set });
      sets.push(set);
    }
    if (setsChanged) setList = sets;

    if (notesChanged) notes = [...noteCount.keys()].sort(compareText);

    // Decisions: the sorted table patched by the ids that came and went.
    if (addedIds.length + removedIds.length > DECISION_PATCH_LIMIT) {
      decisions = [...decisionCount].map(([id, d]): DecisionEntry => ({ id, provenance: d.text })).sort((a, b) => compareText(a.id, b.id));
    } else if (addedIds.length + removedIds.length > 0) {
      const out = decisions.slice();
      const keyOf = (d: DecisionEntry): string => d.id;
      for (const id of removedIds) {
        const i = search(out, id, keyOf);
        if (i >= 0) out.splice(i, 1);
      }
      for (const id of addedIds) {
        const i = search(out, id, keyOf);
        if (i < 0) out.splice(-i - 1, 0, { id, provenance: decisionCount.get(id)!.text });
      }
      decisions = out;
    }
    return { setsMade, setsReused };
  }
}
