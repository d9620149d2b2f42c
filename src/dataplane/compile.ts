// Engine decisions → dataplane IR for the workload endpoints of one node. This module renders the
// engine's meaning; it decides nothing itself: which tiers and policies apply comes from
// `cluster.plan`, which policies are enforced from the pipeline's `isActive`, what a rule field
// means from match.ts (mirrored structurally here and checked against it by the tests).
//
// Layout (Calico's, reference §6.2–6.5), in one `inet` table:
//
//   forward-hook (hook forward) ─ clear accept|pass marks
//     ├─ jump from-wl-dispatch ── iifname vmap @from-wl ──goto──► fw/<endpoint>   (egress policy)
//     ├─ jump to-wl-dispatch ──── oifname vmap @to-wl ────goto──► tw/<endpoint>   (ingress policy)
//     └─ accept mark set → accept
//
//   fw|tw/<endpoint>: ct established,related accept · ct invalid drop · clear marks ·
//                     per tier: clear pass · [pass clear → jump po|pi/<policy> · accept → return]…
//                               · pass clear → drop (end of tier, unless defaultAction Pass) ·
//                     per profile: jump pro|pri/<profile> · accept → return · drop
//   po|pi/<policy>:   one rule per API rule alternative: Allow → set accept, return;
//                     Pass → set pass, return; Deny → drop; Log → log, continue
//
// Selectors, named ports and Services become named sets shared by every rule that uses them, so
// the rule count follows the API rules, not the number of endpoints.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import type { Cluster, Direction, Endpoint, EntityMatch, NetList, Policy, Profile, Rule as EngineRule, SelectorMembers, ServiceEntry, TierPlan } from '../engine/index.ts';
// Values from the engine's modules rather than its front door: the compiler needs only these
// pure functions, not the resource builder behind engine/index.ts.
import { PROTOCOL, SHORT_KIND } from '../engine/model.ts';
import { isActive } from '../engine/pipeline.ts';
import { cidrOfAddress } from '../net/index.ts';
import type { Cidr } from '../net/index.ts';
import type { Selector } from '../selector/index.ts';
import { namedPortElements, normalizeCidrs, normalizeTriples, selectorElements } from './set-elements.ts';
import type { Triple } from './set-elements.ts';
import type { Chain, DecisionEntry, IpFamily, Match, NamedSet, ProtoPortElement, Provenance, Rule, Ruleset, Statement, Verdict, VerdictMap } from './ir.ts';
import { assertNever, decisionId, DEFAULT_DECISION_GROUP, formatProvenance, MARK_ACCEPT, MARK_PASS, MARK_SCRATCH, normalizePortSpans } from './ir.ts';

export interface CompileOptions {
  /** The node-side interface of each endpoint of the node, by endpoint id (`NS/NAME`). */
  readonly interfaces: ReadonlyMap<string, string>;
  /** Table name. Default `strata`. */
  readonly table?: string;
  /** Start of every log prefix. Default `strata`. */
  readonly logPrefix?: string;
  /**
   * The nflog group deciding rules record their decision id to (`log group G prefix "sd1:<id>"`);
   * null records nothing. Default DEFAULT_DECISION_GROUP (1). Valid: 0–65535.
   */
  readonly decisionGroup?: number | null;
}

export const DEFAULT_TABLE = 'strata';

/** Logical names of the fixed parts of the layout. */
export const BASE_CHAIN = 'forward-hook';
export const FROM_DISPATCH_CHAIN = 'from-wl-dispatch';
export const TO_DISPATCH_CHAIN = 'to-wl-dispatch';
export const FROM_MAP = 'from-wl';
export const TO_MAP = 'to-wl';

/** Protocols whose packets have ports for the engine (flow.ts `hasPorts`). */
const PORT_PROTOCOLS: readonly number[] = [PROTOCOL.TCP, PROTOCOL.UDP, PROTOCOL.SCTP, PROTOCOL.UDPLITE];
const FAMILIES: readonly IpFamily[] = [4, 6];
const ENFORCED = { stagedAsEnforced: false } as const;
const IFNAME_RE = /^[A-Za-z0-9_.:@+-]{1,15}$/;
const TABLE_RE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** Calico's policy id: `<shortKind>/<name>` or `<shortKind>/<namespace>/<name>`. */
export function policyId(p: Pick<Policy, 'kind' | 'namespace' | 'name'>): string {
  const k = SHORT_KIND[p.kind];
  return p.namespace === undefined ? `${k}/${p.name}` : `${k}/${p.namespace}/${p.name}`;
}

export function profileId(p: Pick<Profile, 'name'>): string {
  return `pro/${p.name}`;
}

/** Logical chain names. */
export function endpointChainName(endpointId: string, dir: Direction): string {
  return `${dir === 'egress' ? 'fw' : 'tw'}/${endpointId}`;
}

export function policyChainName(p: Pick<Policy, 'kind' | 'namespace' | 'name'>, dir: Direction): string {
  return `${dir === 'egress' ? 'po' : 'pi'}/${policyId(p)}`;
}

export function profileChainName(p: Pick<Profile, 'name'>, dir: Direction): string {
  return `${dir === 'egress' ? 'pro' : 'pri'}/${p.name}`;
}

/**
 * Compiles the filter for the workload endpoints of one node. Fails (collecting every problem)
 * when an endpoint has no interface, two share one, or an endpoint is a host endpoint.
 */
export function compileNode(cluster: Cluster, nodeEndpoints: readonly Endpoint[], opts: CompileOptions): Result<Ruleset> {
  const prepared = prepareNode(nodeEndpoints, opts);
  if (!prepared.ok) return prepared;
  const { table, group, placed } = prepared.value;
  const c = new Compilation(cluster, opts.logPrefix ?? 'strata', group, false);
  const fromElements = placed.map(({ ep, ifname }) => ({ ifname, chain: c.endpointChain(ep, 'egress') }));
  const toElements = placed.map(({ ep, ifname }) => ({ ifname, chain: c.endpointChain(ep, 'ingress') }));
  if (c.problems.length > 0) return fail(c.problems);
  const chains = [...structuralChains(), ...[...c.chains.values()].sort((a, b) => compareText(a.name, b.name))];
  return ok({
    table,
    sets: [...c.sets.values()].sort((a, b) => compareText(a.name, b.name)),
    maps: dispatchMaps(fromElements, toElements),
    chains,
    notes: [...c.notes].sort(compareText),
    decisions: [...c.decisions.entries()].map(([id, provenance]): DecisionEntry => ({ id, provenance })).sort((a, b) => compareText(a.id, b.id)),
  });
}

/** An endpoint of the node with its interface, checked. */
export interface Placed {
  readonly ep: Endpoint;
  readonly ifname: string;
}

/**
 * The checks before any chain is made (table name, decision group, each endpoint a workload with
 * a valid interface of its own), and the endpoints in id order. `sorted`, when given, is the
 * endpoints already unique and in id order (the incremental compiler's shortcut).
 */
export function prepareNode(
  nodeEndpoints: readonly Endpoint[],
  opts: CompileOptions,
  sorted?: readonly Endpoint[],
): Result<{ table: string; group: number | null; placed: Placed[] }> {
  const diagnostics: Diagnostic[] = [];
  const table = opts.table ?? DEFAULT_TABLE;
  if (!TABLE_RE.test(table)) {
    diagnostics.push({ code: 'dataplane/invalid-table', severity: 'error', message: `table name "${table}" must be a letter then up to 31 of a-z A-Z 0-9 _ -` });
  }
  const endpoints = sorted ?? uniqueSorted(nodeEndpoints);
  const ifnameOwner = new Map<string, string>();
  const placed: Placed[] = [];
  for (const ep of endpoints) {
    if (ep.kind !== 'workload') {
      diagnostics.push({
        code: 'dataplane/host-endpoint',
        severity: 'error',
        message: `${ep.id} is a host endpoint: the dataplane enforces workload endpoints only (host endpoints need input/output chains and failsafe ports)`,
      });
      continue;
    }
    const ifname = opts.interfaces.get(ep.id);
    if (ifname === undefined) {
      diagnostics.push({ code: 'dataplane/missing-interface', severity: 'error', message: `no node-side interface given for endpoint ${ep.id}` });
      continue;
    }
    if (!IFNAME_RE.test(ifname)) {
      diagnostics.push({
        code: 'dataplane/invalid-interface',
        severity: 'error',
        message: `interface "${ifname}" of ${ep.id} is not a valid Linux interface name (1–15 of A-Z a-z 0-9 _ . : @ + -)`,
      });
      continue;
    }
    const other = ifnameOwner.get(ifname);
    if (other !== undefined) {
      diagnostics.push({ code: 'dataplane/duplicate-interface', severity: 'error', message: `endpoints ${other} and ${ep.id} both use interface "${ifname}"` });
      continue;
    }
    ifnameOwner.set(ifname, ep.id);
    placed.push({ ep, ifname });
  }
  const group = opts.decisionGroup === undefined ? DEFAULT_DECISION_GROUP : opts.decisionGroup;
  if (group !== null && !(Number.isInteger(group) && group >= 0 && group <= 65535)) {
    diagnostics.push({ code: 'dataplane/invalid-decision-group', severity: 'error', message: `decisionGroup ${String(group)} must be an integer 0–65535 (an nflog group)` });
  }
  if (diagnostics.length > 0) return fail(diagnostics);
  return ok({ table, group, placed });
}

/** The two dispatch maps: each endpoint's interface → its egress / ingress chain. */
export function dispatchMaps(fromElements: { ifname: string; chain: string }[], toElements: { ifname: string; chain: string }[]): VerdictMap[] {
  const byIfname = (a: { ifname: string }, b: { ifname: string }): number => compareText(a.ifname, b.ifname);
  return [
    { name: FROM_MAP, key: 'iifname', verdict: 'goto', elements: fromElements.sort(byIfname) },
    { name: TO_MAP, key: 'oifname', verdict: 'goto', elements: toElements.sort(byIfname) },
  ];
}

/** The fixed chains of the layout: the hooked base chain and the two dispatch chains. */
export function structuralChains(): Chain[] {
  return [
    {
      name: BASE_CHAIN,
      role: 'base',
      hook: { type: 'filter', hook: 'forward', priority: 0, policy: 'accept' },
      rules: [
        rule([], [{ kind: 'clear-mark', bits: MARK_ACCEPT | MARK_PASS | MARK_SCRATCH }], undefined, 'forward: clear accept, pass and scratch marks'),
        rule([], [], { kind: 'jump', chain: FROM_DISPATCH_CHAIN }, 'forward: egress policy of a sending workload'),
        rule([], [], { kind: 'jump', chain: TO_DISPATCH_CHAIN }, 'forward: ingress policy of a receiving workload'),
        rule([markIs(MARK_ACCEPT, true)], [], { kind: 'accept' }, 'forward: policy accepted the packet'),
      ],
    },
    {
      name: FROM_DISPATCH_CHAIN,
      role: 'dispatch',
      hook: undefined,
      rules: [rule([], [], { kind: 'vmap', map: FROM_MAP }, 'dispatch: from workload interface')],
    },
    {
      name: TO_DISPATCH_CHAIN,
      role: 'dispatch',
      hook: undefined,
      rules: [rule([], [], { kind: 'vmap', map: TO_MAP }, 'dispatch: to workload interface')],
    },
  ];
}

export function uniqueSorted(eps: readonly Endpoint[]): Endpoint[] {
  const byId = new Map<string, Endpoint>();
  for (const ep of eps) if (!byId.has(ep.id)) byId.set(ep.id, ep);
  return [...byId.values()].sort((a, b) => compareText(a.id, b.id));
}

/** Code-unit order: independent of locale, stable everywhere. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function rule(matches: readonly Match[], statements: readonly Statement[], verdict: Verdict | undefined, comment: string): Rule {
  return { matches, counter: true, statements, verdict, comment };
}

function markIs(bits: number, isSet: boolean): Match {
  return { kind: 'mark', bits, isSet };
}

/** Which L4 protocols a rule admits: a finite list, or everything except a list. */
type ProtoSet = { readonly only: readonly number[] } | { readonly except: readonly number[] };

/** One side of a rule for one family: alternatives (OR) of match lists (AND). */
interface SideAlternatives {
  readonly alternatives: readonly (readonly Match[])[];
  /** The side matches ports: only packets with ports (TCP, UDP, SCTP, UDPLite) qualify. */
  readonly needsPort: boolean;
}

// Shared pieces of the rules every endpoint chain has: one object each rather than one per rule
// (a node with 10,000 endpoints has half a million such rules). The IR is never mutated.
const NO_MATCHES: readonly Match[] = [];
const NO_STATEMENTS: readonly Statement[] = [];
const CT_ESTABLISHED: readonly Match[] = [{ kind: 'ct-state', states: ['established', 'related'] }];
const CT_INVALID: readonly Match[] = [{ kind: 'ct-state', states: ['invalid'] }];
const PASS_CLEAR: readonly Match[] = [markIs(MARK_PASS, false)];
const ACCEPT_SET: readonly Match[] = [markIs(MARK_ACCEPT, true)];
const CLEAR_ACCEPT_PASS: readonly Statement[] = [{ kind: 'clear-mark', bits: MARK_ACCEPT | MARK_PASS }];
const CLEAR_PASS: readonly Statement[] = [{ kind: 'clear-mark', bits: MARK_PASS }];
const ACCEPT: Verdict = { kind: 'accept' };
const DROP: Verdict = { kind: 'drop' };
const RETURN: Verdict = { kind: 'return' };

/**
 * A named set as a function of the cluster: `inputs` reads the parts of the cluster its elements
 * are made of (the engine keeps unchanged parts by identity across snapshots), `make` builds it
 * from them. Equal inputs (item by item, by identity) make an equal set.
 */
export interface SetSpec {
  readonly name: string;
  inputs(cluster: Cluster): readonly unknown[];
  make(inputs: readonly unknown[]): NamedSet;
}

/** A read of the network sets' domains for a selector, and what it gave (chain content depends on it). */
export interface DomainRead {
  readonly selector: Selector;
  readonly patterns: readonly string[];
}

/**
 * The state of one compilation: shared sets, chains made so far, notes. `deferred` (the
 * incremental compiler, which compiles one chain per Compilation): an endpoint chain records the
 * policies and profiles it jumps to instead of making their chains, and sets are recorded as
 * specs, not made.
 */
export class Compilation {
  readonly sets = new Map<string, NamedSet>();
  /** Every set a chain of this compilation uses, by name (the first spec of a name wins, as its set does). */
  readonly setSpecs = new Map<string, SetSpec>();
  readonly chains = new Map<string, Chain>();
  readonly notes = new Set<string>();
  readonly problems: Diagnostic[] = [];
  /** Decision id → provenance text of every rule that records its decision. */
  readonly decisions = new Map<string, string>();
  /** Deferred: the enforced policies an endpoint chain jumps to, in order. */
  readonly policyRefs: Policy[] = [];
  /** Deferred: the profiles an endpoint chain jumps to, in order. */
  readonly profileRefs: Profile[] = [];
  /** Every read of network sets' domains (`selectorDomains`), with its answer. */
  readonly domainReads: DomainRead[] = [];
  private readonly profileSeen = new Map<string, Profile>();

  private readonly cluster: Cluster;
  private readonly logPrefix: string;
  private readonly decisionGroup: number | null;
  private readonly deferred: boolean;

  constructor(cluster: Cluster, logPrefix: string, decisionGroup: number | null, deferred: boolean) {
    this.cluster = cluster;
    this.logPrefix = logPrefix;
    this.decisionGroup = decisionGroup;
    this.deferred = deferred;
  }

  /**
   * The statement that records a deciding rule's identity in the kernel (none when recording is
   * off), and its row in the decision table.
   */
  private record(p: Provenance): readonly Statement[] {
    if (this.decisionGroup === null) return NO_STATEMENTS;
    const text = formatProvenance(p);
    const id = decisionId(text);
    const other = this.decisions.get(id);
    // 48 bits of sha256 make this practically impossible; if it happens, say so rather than misattribute.
    if (other !== undefined && other !== text) throw new Error(`internal: decision id ${id} for both "${other}" and "${text}"`);
    this.decisions.set(id, text);
    return [{ kind: 'record', group: this.decisionGroup, id }];
  }

  // -------------------------------------------------------------------------------------------
  // Chains

  endpointChain(ep: Endpoint, dir: Direction): string {
    const name = endpointChainName(ep.id, dir);
    if (this.chains.has(name)) return name;
    this.chains.set(name, this.makeEndpointChain(ep.id, dir, this.cluster.plan(ep, dir), ep.profiles));
    return name;
  }

  /** An endpoint chain from its inputs: what the incremental compiler compares to reuse one. */
  makeEndpointChain(id: string, dir: Direction, plan: readonly TierPlan[], profiles: readonly Profile[]): Chain {
    const name = endpointChainName(id, dir);
    const where = `ep/${id} ${dir}`;
    const rules: Rule[] = [
      rule(CT_ESTABLISHED, NO_STATEMENTS, ACCEPT, formatProvenance({ kind: 'conntrack', endpoint: id, direction: dir, state: 'established' })),
      rule(CT_INVALID, NO_STATEMENTS, DROP, formatProvenance({ kind: 'conntrack', endpoint: id, direction: dir, state: 'invalid' })),
      rule(NO_MATCHES, CLEAR_ACCEPT_PASS, undefined, `${where} clear marks`),
    ];
    for (const tp of plan) rules.push(...this.tierRules(tp, dir, where));
    for (const profile of profiles) {
      const chain = this.profileChain(profile, dir);
      rules.push(rule(NO_MATCHES, NO_STATEMENTS, { kind: 'jump', chain }, `${where} profile ${profileId(profile)}`));
      rules.push(rule(ACCEPT_SET, NO_STATEMENTS, RETURN, `${where} ${profileId(profile)} accepted`));
    }
    const noProfile: Provenance = { kind: 'no-profile', endpoint: id, direction: dir };
    rules.push(rule(NO_MATCHES, this.record(noProfile), DROP, formatProvenance(noProfile)));
    return { name, role: 'endpoint', hook: undefined, rules };
  }

  /** One tier of an endpoint's plan; nothing when no enforced policy of the tier applies. */
  private tierRules(tp: TierPlan, dir: Direction, where: string): Rule[] {
    const enforced = tp.policies.filter((p) => isActive(p, ENFORCED));
    const last = enforced[enforced.length - 1];
    if (last === undefined) return []; // staged-only tier: skipped, no end-of-tier drop (§5.4)
    const out: Rule[] = [rule(NO_MATCHES, CLEAR_PASS, undefined, `${where} tier ${tp.tier.name}`)];
    for (const p of enforced) {
      const chain = this.policyChain(p, dir);
      out.push(rule(PASS_CLEAR, NO_STATEMENTS, { kind: 'jump', chain }, `${where} policy ${policyId(p)}`));
      out.push(rule(ACCEPT_SET, NO_STATEMENTS, RETURN, `${where} ${policyId(p)} accepted`));
    }
    if (tp.tier.defaultAction !== 'pass') {
      const eot: Provenance = { kind: 'end-of-tier', policy: policyId(last), direction: dir, tier: tp.tier.name };
      out.push(rule(PASS_CLEAR, this.record(eot), DROP, formatProvenance(eot)));
    }
    return out;
  }

  private policyChain(p: Policy, dir: Direction): string {
    const name = policyChainName(p, dir);
    if (this.deferred) this.policyRefs.push(p);
    else if (!this.chains.has(name)) this.chains.set(name, this.makePolicyChain(p, dir));
    return name;
  }

  /** A policy's chain for one direction: one rule per API rule alternative. */
  makePolicyChain(p: Policy, dir: Direction): Chain {
    const rules = (dir === 'ingress' ? p.ingress : p.egress).flatMap((r) => this.apiRule(r, policyId(p), dir));
    return { name: policyChainName(p, dir), role: 'policy', hook: undefined, rules };
  }

  /** A profile's chain for one direction. */
  makeProfileChain(p: Profile, dir: Direction): Chain {
    const rules = (dir === 'ingress' ? p.ingress : p.egress).flatMap((r) => this.apiRule(r, profileId(p), dir));
    return { name: profileChainName(p, dir), role: 'profile', hook: undefined, rules };
  }

  /** Profiles are shared by name; two different profiles under one name cannot share a chain. */
  private profileChain(p: Profile, dir: Direction): string {
    const name = profileChainName(p, dir);
    if (this.deferred) {
      this.profileRefs.push(p);
      return name;
    }
    const existing = this.chains.get(name);
    if (existing === undefined || this.profileSeen.get(name) !== p) {
      const made = this.makeProfileChain(p, dir);
      if (existing === undefined) {
        this.chains.set(name, made);
        this.profileSeen.set(name, p);
      } else if (!sameJson(existing.rules, made.rules)) {
        this.problems.push(profileConflict(p, dir));
      }
    }
    return name;
  }

  /** One API rule → one IR rule per alternative (none when it can never match). */
  private apiRule(r: EngineRule, pid: string, dir: Direction): Rule[] {
    const provenance: Provenance = { kind: 'rule', policy: pid, direction: dir, index: r.index, action: r.action };
    const comment = formatProvenance(provenance);
    if (r.hasHttpMatch) {
      this.notes.add(`${comment}: the HTTP match is ignored, as by the engine (enforced only by Calico's application layer)`);
    }
    if (dir === 'egress') this.noteDomains(r, comment);
    const alternatives = this.ruleAlternatives(r, dir);
    // A Log rule decides nothing, nor does a rule that can match no packet: no row for them.
    const recorded = alternatives.length > 0 && r.action !== 'log' ? this.record(provenance) : [];
    let statements: readonly Statement[];
    let verdict: Verdict | undefined;
    switch (r.action) {
      case 'allow':
        statements = [...recorded, { kind: 'set-mark', bits: MARK_ACCEPT }];
        verdict = { kind: 'return' };
        break;
      case 'pass':
        statements = [...recorded, { kind: 'set-mark', bits: MARK_PASS }];
        verdict = { kind: 'return' };
        break;
      case 'deny':
        statements = recorded;
        verdict = { kind: 'drop' };
        break;
      case 'log':
        statements = [{ kind: 'log', prefix: `${this.logPrefix} ${pid} ${dir} ${r.index}: ` }];
        verdict = undefined;
        break;
      default:
        return assertNever(r.action);
    }
    if (r.action !== 'log' || alternatives.length < 2) {
      return alternatives.map((matches) => ({ matches, counter: true, statements, verdict, comment }));
    }
    // Allow/Pass/Deny end at their first matching alternative; a Log rule must too, or a packet
    // matching two alternatives would be logged twice.
    return [
      ...alternatives.map((matches) => ({
        matches: [...matches, markIs(MARK_SCRATCH, false)],
        counter: true,
        statements: [{ kind: 'set-mark', bits: MARK_SCRATCH } as const, ...statements],
        verdict,
        comment,
      })),
      rule([], [{ kind: 'clear-mark', bits: MARK_SCRATCH }], undefined, `${comment}: end of alternatives`),
    ];
  }

  /**
   * Calico Enterprise's domain names (rule `domains`, network sets' `allowedEgressDomains`) are
   * enforced by address: a DNS-learned set that the node's DNS proxy fills from answers (see
   * `domainSet`). The kernel then allows an *address* some allowed name resolved to, for the
   * answer's TTL — under any name, or none — which the engine, deciding names, does not.
   */
  private noteDomains(r: EngineRule, comment: string): void {
    // Network sets' domains count in Allow rules only (as in `ruleAlternatives`); a rule's own in any.
    const viaSets = r.action === 'allow' && r.destination.selector !== undefined ? this.selectorDomains(r.destination.selector) : [];
    const patterns = [...(r.destination.domains ?? []), ...viaSets];
    if (patterns.length === 0) return;
    this.notes.add(
      `${comment}: domains (${normalizeDomains(patterns).join(', ')}) are enforced by the addresses the node's DNS proxy learns from answers: ` +
        'needs the proxy as the workloads\' resolver, and an address learned for an allowed name passes for its TTL under any name',
    );
  }

  /** `allowedEgressDomains` of every network set the selector matches (engine: `networkSetsForDomain`). */
  private selectorDomains(sel: Selector): string[] {
    const out = selectorDomainsIn(this.cluster, sel);
    this.domainReads.push({ selector: sel, patterns: out });
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Rule matching, per family (match.ts `matchRule`, `headerMatches`, `sideMatches`)

  private ruleAlternatives(r: EngineRule, dir: Direction): (readonly Match[])[] {
    const perFamily = new Map<IpFamily, (readonly Match[])[]>();
    // Network sets' domains count for egress Allow rules only (match.ts `matchRule`).
    const setDomains = dir === 'egress' && r.action === 'allow';
    for (const family of FAMILIES) {
      if (r.ipVersion !== undefined && r.ipVersion !== family) continue;
      const src = this.side(r.source, 'src', family, false);
      const dst = this.side(r.destination, 'dst', family, setDomains);
      if (src === undefined || dst === undefined) continue;
      const protos = protocolsOf(r, family, src.needsPort || dst.needsPort);
      if (protos === undefined) continue;
      const header: Match[] = [];
      if ('only' in protos) {
        // An ICMP type match already implies the family's ICMP protocol.
        const impliedByIcmp = (r.icmp !== undefined || r.notIcmp !== undefined) && protos.only.length === 1;
        if (!impliedByIcmp) header.push({ kind: 'l4proto', protocols: protos.only, negate: false });
      } else if (protos.except.length > 0) {
        header.push({ kind: 'l4proto', protocols: protos.except, negate: true });
      }
      if (r.icmp !== undefined) header.push({ kind: 'icmp', family, type: r.icmp.type, code: r.icmp.code, negate: false });
      if (r.notIcmp !== undefined) header.push({ kind: 'icmp', family, type: r.notIcmp.type, code: r.notIcmp.code, negate: true });
      const alts: (readonly Match[])[] = [];
      for (const a of src.alternatives) {
        for (const b of dst.alternatives) {
          const matches = [...header, ...a, ...b];
          alts.push(matches.some(isFamilySpecific) ? matches : [{ kind: 'nfproto', family }, ...matches]);
        }
      }
      perFamily.set(family, alts);
    }
    // An alternative with nothing family-specific that both families have is emitted once, without
    // `nfproto`. Alternatives of one rule share its action, so their order never changes a verdict.
    const v4 = perFamily.get(4) ?? [];
    const v6 = [...(perFamily.get(6) ?? [])];
    const out: (readonly Match[])[] = [];
    for (const alt of v4) {
      const neutral = withoutNfproto(alt);
      const twin = neutral.some(isFamilySpecific) ? -1 : v6.findIndex((b) => sameJson(withoutNfproto(b), neutral));
      if (twin >= 0) {
        v6.splice(twin, 1);
        out.push(neutral);
      } else {
        out.push(alt);
      }
    }
    return [...out, ...v6];
  }

  /** One side of a rule for one family; undefined when it cannot match any packet of the family. */
  private side(e: EntityMatch, role: 'src' | 'dst', family: IpFamily, setDomains: boolean): SideAlternatives | undefined {
    const addr = role === 'src' ? 'saddr' : 'daddr';
    const portSide = role === 'src' ? 'sport' : 'dport';
    const base: Match[] = [];
    let needsPort = false;
    // A domain peer has no address and no endpoint, so nets, notNets and services never match it
    // (match.ts `sideMatches`): with them, no domain can match.
    const namesCanMatch = role === 'dst' && e.nets === undefined && e.notNets === undefined && e.service === undefined;
    // `domains` (destination only, validation): the addresses learned for the names (match.ts).
    if (e.domains !== undefined) {
      if (!namesCanMatch) return undefined;
      base.push({ kind: 'addr-set', side: addr, family, set: this.domainSet(e.domains, family), negate: false });
    }
    // A selector also matches the domains of the network sets it selects: a second alternative
    // with the learned addresses in place of the selector's set (match.ts `selectorMatchesPeer`).
    let domainAlternative: Match | undefined;
    if (e.selector !== undefined && setDomains && namesCanMatch) {
      const patterns = this.selectorDomains(e.selector);
      if (patterns.length > 0) domainAlternative = { kind: 'addr-set', side: addr, family, set: this.domainSet(patterns, family), negate: false };
    }
    if (e.nets !== undefined) {
      const cidrs = netsOf(e.nets, family);
      if (cidrs.length === 0) return undefined; // nothing of this family: the rule does not apply (§9.18)
      base.push({ kind: 'addr-cidrs', side: addr, family, cidrs, negate: false });
    }
    if (e.notNets !== undefined) {
      const cidrs = netsOf(e.notNets, family);
      if (cidrs.length === 0) return undefined;
      base.push({ kind: 'addr-cidrs', side: addr, family, cidrs, negate: true });
    }
    if (e.selector !== undefined) base.push({ kind: 'addr-set', side: addr, family, set: this.selectorSet(e.selector, family), negate: false });
    if (e.notSelector !== undefined) base.push({ kind: 'addr-set', side: addr, family, set: this.selectorSet(e.notSelector, family), negate: true });
    if (e.service !== undefined) {
      if (role === 'src') {
        base.push({ kind: 'addr-set', side: addr, family, set: this.serviceAddressSet(e.service, family), negate: false });
      } else {
        needsPort = true;
        base.push({ kind: 'addr-proto-port-set', side: role, family, set: this.servicePortSet(e.service, family), negate: false });
      }
    }
    if (e.notPorts !== undefined) {
      needsPort = true;
      const ranges = normalizePortSpans(e.notPorts.ranges);
      if (ranges.length > 0) base.push({ kind: 'port', side: portSide, ranges, negate: true });
      if (e.notPorts.named.length > 0) {
        base.push({ kind: 'addr-proto-port-set', side: role, family, set: this.namedPortSet(e.notPorts.named, family, e.selector), negate: true });
      }
    }
    const selectorSetOf = (m: Match): boolean => m.kind === 'addr-set' && !m.negate && e.selector !== undefined && m.set === this.selectorSet(e.selector, family);
    const bases: Match[][] = domainAlternative === undefined ? [base] : [base, base.map((m) => (selectorSetOf(m) ? domainAlternative : m))];
    if (e.ports === undefined) return { alternatives: bases, needsPort };
    // Numeric ranges OR named ports: one alternative each (first match still wins).
    const alternatives: Match[][] = [];
    const ranges = normalizePortSpans(e.ports.ranges);
    for (const b of bases) {
      if (ranges.length > 0) alternatives.push([...b, { kind: 'port', side: portSide, ranges, negate: false }]);
      if (e.ports.named.length > 0) {
        alternatives.push([...b, { kind: 'addr-proto-port-set', side: role, family, set: this.namedPortSet(e.ports.named, family, e.selector), negate: false }]);
      }
    }
    if (alternatives.length === 0) return undefined; // an empty port list matches nothing
    return { alternatives, needsPort: true };
  }

  // -------------------------------------------------------------------------------------------
  // Sets

  /**
   * Registers a set the chain being made uses: its spec always (the incremental compiler makes
   * sets apart from chains, since a chain's set keeps its name while its elements move), and, when
   * not deferred, the set made from this cluster. The first registration of a name wins.
   */
  private useSet(name: string, spec: () => SetSpec): string {
    if (this.setSpecs.has(name)) return name;
    const made = spec();
    this.setSpecs.set(name, made);
    if (!this.deferred) this.sets.set(name, made.make(made.inputs(this.cluster)));
    return name;
  }

  /**
   * `selectorMatchesPeer` as a set of addresses: every endpoint whose labels match contributes
   * its addresses, every matching (Global)NetworkSet its CIDRs.
   */
  private selectorSet(sel: Selector, family: IpFamily): string {
    return this.useSet(`s${family}/${sel.canonical}`, () => selectorSetSpec(sel, family));
  }

  /**
   * A DNS-learned set for a list of domain patterns: named by the patterns (so a rule with other
   * patterns gets another set, and an unchanged one keeps its learned elements across updates),
   * empty when compiled — the node's DNS proxy fills it from answers (src/dns).
   */
  private domainSet(patterns: readonly string[], family: IpFamily): string {
    const domains = normalizeDomains(patterns);
    const name = `d${family}/${domains.join(',')}`;
    return this.useSet(name, () => {
      const set: NamedSet = { name, type: family === 4 ? 'addr4' : 'addr6', elements: [], comment: `domains ${domains.join(', ')}`, domains };
      return { name, inputs: () => NO_INPUTS, make: () => set };
    });
  }

  /**
   * (address, protocol, port) of every endpoint port with one of the names, from endpoints the
   * same side's selector matches by labels (match.ts `portListMatches`; Felix's rule_scanner.go).
   */
  private namedPortSet(names: readonly string[], family: IpFamily, filter: Selector | undefined): string {
    const sorted = [...new Set(names)].sort(compareText);
    const name = `n${family}/${sorted.join(',')}${filter === undefined ? '' : `/${filter.canonical}`}`;
    return this.useSet(name, () => ({
      name,
      // From the engine's indexes: the side selector's members, or the endpoints declaring a name.
      inputs: (cluster) => (filter !== undefined ? [cluster.selectorMembers(filter).endpoints] : sorted.map((n) => cluster.endpointsWithPortName(n))),
      make: (owners) => ({
        name,
        type: family === 4 ? 'addr4-proto-port' : 'addr6-proto-port',
        elements: namedPortElements(name, owners as readonly (readonly Endpoint[])[], sorted, family),
        comment: `named ports ${sorted.join(', ')}`,
      }),
    }));
  }

  /** Source side of `services`: the backends' addresses. */
  private serviceAddressSet(ref: { readonly namespace: string; readonly name: string }, family: IpFamily): string {
    const name = `svc${family}/${ref.namespace}/${ref.name}`;
    const { namespace, name: svcName } = ref;
    return this.useSet(name, () => ({
      name,
      inputs: (cluster) => [cluster.serviceBackends(namespace, svcName)],
      make: ([backends]) => {
        const cidrs: Cidr[] = [];
        for (const ep of backends as readonly Endpoint[]) for (const a of ep.addresses) if (a.family === family) cidrs.push(cidrOfAddress(a));
        return { name, type: family === 4 ? 'addr4' : 'addr6', elements: normalizeCidrs(cidrs), comment: `service ${namespace}/${svcName} backends` };
      },
    }));
  }

  /** Destination side of `services`: each backend address with each target port (match.ts `serviceTargetMatches`). */
  private servicePortSet(ref: { readonly namespace: string; readonly name: string }, family: IpFamily): string {
    const name = `svcp${family}/${ref.namespace}/${ref.name}`;
    const { namespace, name: svcName } = ref;
    return this.useSet(name, () => ({
      name,
      // The Service (its ports, named target ports) and its backends (their addresses and ports).
      inputs: (cluster) => [cluster.service(namespace, svcName), cluster.serviceBackends(namespace, svcName)],
      make: ([service, backends]) => {
        const svc = service as ServiceEntry | undefined;
        const elements: Triple[] = [];
        for (const ep of backends as readonly Endpoint[]) {
          for (const sp of svc?.ports ?? []) {
            const ports =
              typeof sp.targetPort === 'number'
                ? [sp.targetPort]
                : ep.ports.filter((p) => p.name === sp.targetPort && p.protocol === sp.protocol).map((p) => p.port);
            for (const port of ports) {
              for (const a of ep.addresses) if (a.family === family) elements.push({ address: a, protocol: sp.protocol, port });
            }
          }
        }
        return {
          name,
          type: family === 4 ? 'addr4-proto-port' : 'addr6-proto-port',
          elements: normalizeTriples(elements),
          comment: `service ${namespace}/${svcName} backend ports`,
        };
      },
    }));
  }
}

const NO_INPUTS: readonly unknown[] = [];

/** A selector's set: the members' addresses of the family, and matching network sets' CIDRs. */
function selectorSetSpec(sel: Selector, family: IpFamily): SetSpec {
  const name = `s${family}/${sel.canonical}`;
  return {
    name,
    inputs: (cluster) => [cluster.selectorMembers(sel)], // the engine's membership index, not a scan
    make: ([members]) => ({ name, type: family === 4 ? 'addr4' : 'addr6', elements: selectorElements(sel.id, members as SelectorMembers, family), comment: `selector ${sel.canonical}` }),
  };
}

/**
 * Which protocols a rule admits for a family (match.ts `headerMatches`, plus: a side that
 * matches ports needs a packet with ports). Undefined when none.
 */
function protocolsOf(r: EngineRule, family: IpFamily, needsPort: boolean): ProtoSet | undefined {
  let set: ProtoSet = r.protocol === undefined ? { except: [] } : { only: [r.protocol] };
  const restrict = (allowed: readonly number[]): void => {
    set = 'only' in set ? { only: set.only.filter((p) => allowed.includes(p)) } : { only: allowed.filter((p) => !(set as { except: readonly number[] }).except.includes(p)) };
  };
  if (r.notProtocol !== undefined) {
    const np = r.notProtocol;
    set = 'only' in set ? { only: set.only.filter((p) => p !== np) } : { except: [...new Set([...set.except, np])].sort((a, b) => a - b) };
  }
  if (r.icmp !== undefined || r.notIcmp !== undefined) restrict([family === 4 ? PROTOCOL.ICMP : PROTOCOL.ICMPV6]);
  if (needsPort) restrict(PORT_PROTOCOLS);
  if ('only' in set) {
    if (set.only.length === 0) return undefined;
    return { only: [...set.only].sort((a, b) => a - b) };
  }
  return set;
}

/** Domain patterns as DNS compares them: lower case, no root dot, sorted, unique. */
function normalizeDomains(patterns: readonly string[]): string[] {
  return [...new Set(patterns.map((p) => p.toLowerCase().replace(/\.$/, '')))].sort(compareText);
}

function netsOf(list: NetList, family: IpFamily): string[] {
  return normalizeCidrs(family === 4 ? list.v4 : list.v6);
}

/** Matches that only hold for packets of one family (and so imply it). */
function isFamilySpecific(m: Match): boolean {
  switch (m.kind) {
    case 'nfproto':
    case 'addr-set':
    case 'addr-cidrs':
    case 'addr-proto-port-set':
    case 'icmp':
      return true;
    case 'iifname':
    case 'oifname':
    case 'ct-state':
    case 'mark':
    case 'l4proto':
    case 'port':
      return false;
    default:
      return assertNever(m);
  }
}

function withoutNfproto(ms: readonly Match[]): readonly Match[] {
  return ms.filter((m) => m.kind !== 'nfproto');
}

/** `allowedEgressDomains` of every network set the selector matches. */
export function selectorDomainsIn(cluster: Cluster, sel: Selector): string[] {
  const out: string[] = [];
  for (const ns of cluster.networkSets) if (ns.allowedEgressDomains.length > 0 && sel.matches(ns.labels)) out.push(...ns.allowedEgressDomains);
  return out;
}

/** Two endpoints carry different profiles of one name (the chain is shared by name). */
export function profileConflict(p: Profile, dir: Direction): Diagnostic {
  return {
    code: 'dataplane/profile-conflict',
    severity: 'error',
    message: `two endpoints carry different ${dir} rules for profile ${p.name}; the dataplane shares one chain per profile name`,
  };
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
