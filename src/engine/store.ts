// The live policy store: validated resources upserted and removed by key, each change (or batch)
// with a generation number, all or nothing. A change re-derives exactly the entities it touches —
// the resource itself, and what inherits from it (a namespace's endpoints and network sets, a
// service account's endpoints) — and hands them to the entity index, whose change report says
// what the change affected. `buildCluster(resources)` is "apply all to an empty store, take a
// snapshot".
//
//   changes ──► stage: overlay of resources ──► derive touched entities (+ diagnostics)
//                 │                                   │ errors? reject: nothing changed
//                 ▼                                   ▼
//           commit: registries + entity index ──► ChangeReport, generation + 1
import type { Diagnostic } from '../diagnostics/index.ts';
import { didYouMean } from '../diagnostics/index.ts';
import type { Resource } from '../model/index.ts';
import type { Origin } from '../model/origin.ts';
import { AddressPool, formatIp, parseCidrLenient } from '../net/index.ts';
import type { IpAddress } from '../net/index.ts';
import type { Cluster } from './cluster.ts';
import type { DeriveContext, PolicyConverter } from './derive.ts';
import {
  deriveEndpoint,
  deriveNamespace,
  deriveNetworkSet,
  derivePolicies,
  deriveService,
  deriveTier,
  implicitNamespace,
  isEndpointType,
  isPolicyType,
  K8S_METADATA_NAME,
  namespaceProfileOf,
  serviceAccountLabelsOf,
  serviceAccountProfileOf,
} from './derive.ts';
import { EntityIndex } from './entity-index.ts';
import type { ChangeReport } from './entity-index.ts';
import type { Endpoint, NamespaceEntry, NetworkSetEntry, Policy, Profile, ServiceEntry, Tier } from './model.ts';
import { DEFAULT_TIER, DEFAULT_TIER_ORDER, KUBE_ADMIN_TIER, KUBE_ADMIN_TIER_ORDER, KUBE_BASELINE_TIER, KUBE_BASELINE_TIER_ORDER } from './ordering.ts';

/** `TYPE/NAMESPACE/NAME` (namespace empty for cluster-scoped types). */
export type ResourceKey = string;

export function resourceKey(r: Pick<Resource, 'type' | 'namespace' | 'name'>): ResourceKey {
  return `${r.type}/${r.namespace ?? ''}/${r.name}`;
}

export type StoreChange = { readonly op: 'upsert'; readonly resource: Resource } | { readonly op: 'remove'; readonly key: ResourceKey };

export interface ApplyOptions {
  /**
   * `reject` (the default): a batch whose result would be invalid (an error diagnostic: a policy in
   * a tier that does not exist, a duplicate in the batch, a removed key that is not there) changes
   * nothing. `keep`: errors are reported and everything else applied, as offline analysis wants
   * (Calico keeps a policy of a missing tier, sorted last, defaulting to Deny).
   */
  readonly onError?: 'reject' | 'keep';
}

export type ApplyResult =
  | { readonly ok: true; readonly generation: number; readonly report: ChangeReport; readonly diagnostics: readonly Diagnostic[] }
  | { readonly ok: false; readonly generation: number; readonly diagnostics: readonly Diagnostic[] };

export interface StoreOptions {
  /** Assign addresses from this CIDR to workloads that have none; assignments are stable across changes. */
  readonly podCidr?: string | undefined;
  /** Converters for further policy kinds (e.g. admin policies), tried before the built-in ones. */
  readonly policyConverter?: PolicyConverter | undefined;
}

export interface PolicyStore {
  readonly generation: number;
  apply(changes: readonly StoreChange[], options?: ApplyOptions): ApplyResult;
  upsert(resource: Resource, options?: ApplyOptions): ApplyResult;
  remove(key: ResourceKey, options?: ApplyOptions): ApplyResult;
  /** The cluster as of the current generation: O(1), immutable, safe to hold. */
  snapshot(): Cluster;
  resource(key: ResourceKey): Resource | undefined;
  resources(): IterableIterator<Resource>;
}

const BUILTIN_TIERS: readonly Tier[] = [
  { name: DEFAULT_TIER, order: DEFAULT_TIER_ORDER, defaultAction: 'deny', exists: true, origin: undefined },
  { name: KUBE_ADMIN_TIER, order: KUBE_ADMIN_TIER_ORDER, defaultAction: 'pass', exists: true, origin: undefined },
  { name: KUBE_BASELINE_TIER, order: KUBE_BASELINE_TIER_ORDER, defaultAction: 'pass', exists: true, origin: undefined },
];

/** What a derived resource refers to: the namespaces it needs to exist and the profiles it inherits. */
interface Refs {
  readonly exists: ReadonlySet<string>;
  readonly nsProfiles: ReadonlySet<string>;
  readonly saProfiles: ReadonlySet<string>;
}

const NO_REFS: Refs = { exists: new Set(), nsProfiles: new Set(), saProfiles: new Set() };

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (s === undefined) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s === undefined) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

function tierOf(p: Resource): string | undefined {
  if (!isPolicyType(p.type)) return undefined;
  const spec = (p.body as { spec?: { tier?: string } }).spec;
  return spec?.tier;
}

export function createPolicyStore(options: StoreOptions = {}): PolicyStore {
  return new Store(options);
}

class Store implements PolicyStore {
  readonly #index = new EntityIndex();
  readonly #options: StoreOptions;
  readonly #pool: AddressPool | undefined;
  readonly #poolDiagnostics: readonly Diagnostic[];

  readonly #resources = new Map<ResourceKey, Resource>();
  readonly #declared = new Map<string, NamespaceEntry>();
  readonly #nsProfiles = new Map<string, Profile>();
  readonly #saLabels = new Map<string, ReadonlyMap<string, string>>();
  readonly #saProfiles = new Map<string, Profile>();
  readonly #refs = new Map<ResourceKey, Refs>();
  /** Namespace → keys that need it to exist; namespace → keys inheriting its profile; SA → keys. */
  readonly #nsUsers = new Map<string, Set<ResourceKey>>();
  readonly #nsDependents = new Map<string, Set<ResourceKey>>();
  readonly #saDependents = new Map<string, Set<ResourceKey>>();
  /** Resource key → the entity ids/keys it produced. */
  readonly #netSetIds = new Map<ResourceKey, string>();
  readonly #policyKeys = new Map<ResourceKey, readonly string[]>();
  readonly #policyTiers = new Map<string, Set<ResourceKey>>();
  readonly #assigned = new Map<ResourceKey, IpAddress>();
  /** Tiers only referenced by policies (kept in `keep` mode, as Calico does). */
  readonly #placeholders = new Set<string>();
  /** Resource key → when it arrived (kept across upserts): the order a batch build would see. */
  readonly #arrival = new Map<ResourceKey, number>();
  #arrivals = 0;

  constructor(options: StoreOptions) {
    this.#options = options;
    for (const t of BUILTIN_TIERS) this.#index.setTier(t);
    if (options.podCidr !== undefined) {
      const parsed = parseCidrLenient(options.podCidr);
      this.#pool = parsed.ok ? new AddressPool(parsed.value) : undefined;
      this.#poolDiagnostics = parsed.ok ? [] : parsed.diagnostics;
    } else {
      this.#pool = undefined;
      this.#poolDiagnostics = [];
    }
    this.#index.commit();
  }

  get generation(): number {
    return this.#index.generation;
  }

  snapshot(): Cluster {
    return this.#index.snapshot();
  }

  resource(key: ResourceKey): Resource | undefined {
    return this.#resources.get(key);
  }

  resources(): IterableIterator<Resource> {
    return this.#resources.values();
  }

  upsert(resource: Resource, options?: ApplyOptions): ApplyResult {
    return this.apply([{ op: 'upsert', resource }], options);
  }

  remove(key: ResourceKey, options?: ApplyOptions): ApplyResult {
    return this.apply([{ op: 'remove', key }], options);
  }

  apply(changes: readonly StoreChange[], options: ApplyOptions = {}): ApplyResult {
    const stage = new Stage(this, changes, this.#index.generation === 1 && this.#resources.size === 0 ? this.#poolDiagnostics : []);
    stage.run();
    const rejected = (options.onError ?? 'reject') === 'reject' && stage.diagnostics.some((d) => d.severity === 'error');
    if (rejected) {
      stage.rollback();
      return { ok: false, generation: this.#index.generation, diagnostics: stage.diagnostics };
    }
    stage.commit();
    const report = this.#index.commit();
    return { ok: true, generation: report.generation, report, diagnostics: stage.diagnostics };
  }

  // ---- what Stage reads and writes (package-private by convention)
  get index(): EntityIndex {
    return this.#index;
  }
  get pool(): AddressPool | undefined {
    return this.#pool;
  }
  get podCidrText(): string {
    return this.#options.podCidr ?? '';
  }
  nextArrival(): number {
    return this.#arrivals++;
  }
  get converter(): PolicyConverter | undefined {
    return this.#options.policyConverter;
  }
  get state(): StoreState {
    return {
      resources: this.#resources,
      declared: this.#declared,
      nsProfiles: this.#nsProfiles,
      saLabels: this.#saLabels,
      saProfiles: this.#saProfiles,
      refs: this.#refs,
      nsUsers: this.#nsUsers,
      nsDependents: this.#nsDependents,
      saDependents: this.#saDependents,
      netSetIds: this.#netSetIds,
      policyKeys: this.#policyKeys,
      policyTiers: this.#policyTiers,
      assigned: this.#assigned,
      placeholders: this.#placeholders,
      arrival: this.#arrival,
    };
  }
}

interface StoreState {
  readonly resources: Map<ResourceKey, Resource>;
  readonly declared: Map<string, NamespaceEntry>;
  readonly nsProfiles: Map<string, Profile>;
  readonly saLabels: Map<string, ReadonlyMap<string, string>>;
  readonly saProfiles: Map<string, Profile>;
  readonly refs: Map<ResourceKey, Refs>;
  readonly nsUsers: Map<string, Set<ResourceKey>>;
  readonly nsDependents: Map<string, Set<ResourceKey>>;
  readonly saDependents: Map<string, Set<ResourceKey>>;
  readonly netSetIds: Map<ResourceKey, string>;
  readonly policyKeys: Map<ResourceKey, readonly string[]>;
  readonly policyTiers: Map<string, Set<ResourceKey>>;
  readonly assigned: Map<ResourceKey, IpAddress>;
  readonly placeholders: Set<string>;
  readonly arrival: Map<ResourceKey, number>;
}

/**
 * One batch being applied: an overlay over the store's state. Everything is derived into the
 * overlay first; `commit` writes it through, `rollback` gives back what it took (pod addresses).
 */
class Stage {
  readonly diagnostics: Diagnostic[];
  readonly #store: Store;
  readonly #s: StoreState;
  readonly #changes: readonly StoreChange[];

  /** Overlay of resources: null = removed in this batch. */
  readonly #resources = new Map<ResourceKey, Resource | null>();
  readonly #order: ResourceKey[] = [];
  readonly #declared = new Map<string, NamespaceEntry | null>();
  readonly #nsProfiles = new Map<string, Profile>();
  readonly #saLabels = new Map<string, ReadonlyMap<string, string> | null>();
  readonly #saProfiles = new Map<string, Profile>();
  readonly #refs = new Map<ResourceKey, Refs>();
  readonly #endpoints = new Map<ResourceKey, Endpoint | null>();
  readonly #netSets = new Map<ResourceKey, NetworkSetEntry | null>();
  readonly #services = new Map<ResourceKey, ServiceEntry | null>();
  readonly #tiers = new Map<string, Tier | null>();
  readonly #policies = new Map<ResourceKey, readonly Policy[]>();
  readonly #assigned = new Map<ResourceKey, IpAddress | null>();
  readonly #taken: IpAddress[] = [];
  /** Namespaces first referenced in this batch (for the not-declared note), with the first origin. */
  readonly #firstRefs = new Map<string, Origin>();

  constructor(store: Store, changes: readonly StoreChange[], initial: readonly Diagnostic[]) {
    this.#store = store;
    this.#s = store.state;
    this.#changes = changes;
    this.diagnostics = [...initial];
  }

  #resource(key: ResourceKey): Resource | undefined {
    const staged = this.#resources.get(key);
    if (staged !== undefined) return staged ?? undefined;
    return this.#s.resources.get(key);
  }

  run(): void {
    // 1. The overlay, with per-batch checks.
    const seen = new Set<ResourceKey>();
    for (const c of this.#changes) {
      const key = c.op === 'upsert' ? resourceKey(c.resource) : c.key;
      if (seen.has(key)) {
        const r = c.op === 'upsert' ? c.resource : undefined;
        this.diagnostics.push({
          code: 'store/duplicate-in-batch',
          severity: 'error',
          message: `${key} appears more than once in one change; each resource may be changed once per batch`,
          ...(r === undefined ? {} : { span: r.origin.span }),
        });
      }
      seen.add(key);
      if (c.op === 'remove' && this.#resource(key) === undefined) {
        this.diagnostics.push({ code: 'store/not-found', severity: 'error', message: `${key} cannot be removed: it does not exist` });
        continue;
      }
      if (c.op === 'remove' && !this.#s.resources.has(key)) {
        // Created earlier in this very batch and removed again (a duplicate, reported above): the
        // net change is nothing. Keeping it staged as "removed" would leave a key whose type no
        // one knows, and the derivation below would crash on it instead of reporting.
        this.#resources.delete(key);
        const at = this.#order.indexOf(key);
        if (at >= 0) this.#order.splice(at, 1);
        continue;
      }
      if (!this.#resources.has(key)) this.#order.push(key);
      this.#resources.set(key, c.op === 'upsert' ? c.resource : null);
    }
    const changed = (pred: (type: Resource['type']) => boolean): ResourceKey[] =>
      this.#order.filter((k) => pred(((this.#resources.get(k) ?? this.#s.resources.get(k))!).type));

    // 2. Namespaces and service accounts: their dependents re-derive.
    const dependents = new Set<ResourceKey>();
    for (const key of changed((t) => t === 'Namespace')) {
      const r = this.#resources.get(key) ?? undefined;
      const name = r?.name ?? this.#s.resources.get(key)!.name;
      this.#declared.set(name, r !== undefined && r.type === 'Namespace' ? deriveNamespace(r) : null);
      for (const k of this.#s.nsDependents.get(name) ?? []) dependents.add(k);
    }
    for (const key of changed((t) => t === 'ServiceAccount')) {
      const r = this.#resources.get(key) ?? undefined;
      const old = this.#s.resources.get(key);
      const ns = (r ?? old)!.namespace ?? 'default';
      const name = (r ?? old)!.name;
      const saKey = `${ns}/${name}`;
      this.#saLabels.set(saKey, r !== undefined && r.type === 'ServiceAccount' ? serviceAccountLabelsOf(r) : null);
      for (const k of this.#s.saDependents.get(saKey) ?? []) dependents.add(k);
    }

    // 3. Endpoints (in batch order, then dependents), network sets, services, tiers, policies.
    const endpointKeys = changed(isEndpointType);
    for (const k of dependents) if (!this.#resources.has(k) && isEndpointType(this.#s.resources.get(k)!.type)) endpointKeys.push(k);
    for (const key of endpointKeys) this.#deriveEndpoint(key);
    this.#assignAddresses(endpointKeys);
    this.#reportDuplicateAddresses(endpointKeys);

    const netSetKeys = changed((t) => t === 'NetworkSet' || t === 'GlobalNetworkSet');
    for (const k of dependents) if (!this.#resources.has(k) && this.#s.resources.get(k)!.type === 'NetworkSet') netSetKeys.push(k);
    for (const key of netSetKeys) {
      const r = this.#resource(key);
      if (r === undefined) {
        this.#netSets.set(key, null);
        this.#refs.set(key, NO_REFS);
      } else if (r.type === 'NetworkSet' || r.type === 'GlobalNetworkSet') {
        this.#netSets.set(key, this.#withRefs(key, (ctx) => deriveNetworkSet(ctx, r)));
      }
    }
    for (const key of changed((t) => t === 'Service')) {
      const r = this.#resource(key);
      this.#services.set(key, r !== undefined && r.type === 'Service' ? deriveService(r) : null);
    }
    for (const key of changed((t) => t === 'Tier')) {
      const r = this.#resource(key);
      const name = r?.name ?? this.#s.resources.get(key)!.name;
      this.#tiers.set(name, r !== undefined && r.type === 'Tier' ? deriveTier(r) : (BUILTIN_TIERS.find((t) => t.name === name) ?? null));
    }
    for (const key of changed(isPolicyType)) {
      const r = this.#resource(key);
      if (r === undefined) {
        this.#policies.set(key, []);
        this.#refs.set(key, NO_REFS);
        continue;
      }
      const policies = this.#store.converter?.(r, this.diagnostics) ?? derivePolicies(r, this.diagnostics);
      this.#policies.set(key, policies);
      this.#refs.set(key, {
        exists: new Set(policies.flatMap((p) => (p.namespace === undefined ? [] : [p.namespace]))),
        nsProfiles: new Set(),
        saProfiles: new Set(),
      });
      for (const p of policies) if (p.namespace !== undefined) this.#noteRef(p.namespace, r.origin);
      for (const p of policies) this.#checkTier(p, r);
    }
    this.#checkRemovedTiers();
    this.#noteUndeclared();
  }

  // ---- derivation with a context that reads the overlay and records references

  #withRefs<T>(key: ResourceKey, derive: (ctx: DeriveContext) => T): T {
    const exists = new Set<string>();
    const nsProfiles = new Set<string>();
    const saProfiles = new Set<string>();
    const ctx: DeriveContext = {
      diagnostics: this.diagnostics,
      namespaceProfile: (name, origin) => {
        exists.add(name);
        nsProfiles.add(name);
        this.#noteRef(name, origin);
        return this.#namespaceProfile(name);
      },
      serviceAccountProfile: (namespace, name) => {
        const saKey = `${namespace}/${name}`;
        saProfiles.add(saKey);
        return this.#serviceAccountProfile(saKey, namespace, name);
      },
      referenceNamespace: (name, origin) => {
        exists.add(name);
        this.#noteRef(name, origin);
      },
    };
    const out = derive(ctx);
    this.#refs.set(key, { exists, nsProfiles, saProfiles });
    return out;
  }

  #deriveEndpoint(key: ResourceKey): void {
    const r = this.#resource(key);
    if (r === undefined) {
      this.#endpoints.set(key, null);
      this.#refs.set(key, NO_REFS);
      return;
    }
    this.#endpoints.set(key, this.#withRefs(key, (ctx) => deriveEndpoint(ctx, r)) ?? null);
  }

  #namespaceEntry(name: string): NamespaceEntry {
    const staged = this.#declared.get(name);
    if (staged !== undefined) return staged ?? implicitNamespace(name);
    return this.#s.declared.get(name) ?? implicitNamespace(name);
  }

  #namespaceProfile(name: string): Profile {
    let p = this.#nsProfiles.get(name);
    if (p !== undefined) return p;
    if (!this.#declared.has(name)) p = this.#s.nsProfiles.get(name);
    if (p === undefined) this.#nsProfiles.set(name, (p = namespaceProfileOf(this.#namespaceEntry(name))));
    return p;
  }

  #serviceAccountProfile(saKey: string, namespace: string, name: string): Profile {
    let p = this.#saProfiles.get(saKey);
    if (p !== undefined) return p;
    if (!this.#saLabels.has(saKey)) p = this.#s.saProfiles.get(saKey);
    if (p === undefined) {
      const staged = this.#saLabels.get(saKey);
      const labels = staged === undefined ? this.#s.saLabels.get(saKey) : (staged ?? undefined);
      this.#saProfiles.set(saKey, (p = serviceAccountProfileOf(namespace, name, labels)));
    }
    return p;
  }

  /** A namespace nobody declared, first referenced now: noted once (Kubernetes would refuse it). */
  #noteRef(name: string, origin: Origin): void {
    if (this.#firstRefs.has(name)) return;
    const declared = this.#declared.get(name);
    if (declared !== undefined ? declared !== null : this.#s.declared.has(name)) return;
    if ((this.#s.nsUsers.get(name)?.size ?? 0) > 0) return;
    this.#firstRefs.set(name, origin);
  }

  #noteUndeclared(): void {
    for (const [name, origin] of this.#firstRefs) {
      this.diagnostics.push({
        code: 'engine/namespace-not-declared',
        severity: 'info',
        message: `namespace "${name}" is used but not declared; assuming it exists with only the label ${K8S_METADATA_NAME}=${name}`,
        span: origin.span,
      });
    }
  }

  // ---- tiers

  #tierExists(name: string): boolean {
    const staged = this.#tiers.get(name);
    if (staged !== undefined) return staged !== null;
    const t = this.#store.index.tier(name);
    return t !== undefined && t.exists;
  }

  #checkTier(p: Policy, r: Resource): void {
    if (this.#tierExists(p.tier)) return;
    if (this.#tiers.get(p.tier)?.exists === false) return; // reported once per batch, as before
    const known = new Set<string>();
    for (const t of BUILTIN_TIERS) known.add(t.name);
    for (const res of this.#s.resources.values()) if (res.type === 'Tier' && this.#resources.get(resourceKey(res)) !== null) known.add(res.name);
    for (const [name, t] of this.#tiers) if (t !== null) known.add(name);
    const hint = didYouMean(p.tier, [...known]);
    this.diagnostics.push({
      code: 'engine/tier-not-found',
      severity: 'error',
      message: `${r.kind} "${p.name}" is in tier "${p.tier}", which does not exist; declare a Tier resource named "${p.tier}"`,
      span: r.origin.spanOf(['spec', 'tier']),
      path: 'spec.tier',
      ...(hint === undefined ? {} : { help: hint }),
    });
    // Calico keeps such a policy in an invalid tier sorted after all others, defaulting to Deny.
    if (!this.#tiers.has(p.tier) || this.#tiers.get(p.tier) === null) {
      this.#tiers.set(p.tier, { name: p.tier, order: undefined, defaultAction: 'deny', exists: false, origin: undefined });
    }
  }

  /** A tier removed while policies of the store (not removed in this batch) still use it. */
  #checkRemovedTiers(): void {
    for (const [name, t] of this.#tiers) {
      if (t !== null) continue;
      const users = [...(this.#s.policyTiers.get(name) ?? [])].filter((k) => this.#resources.get(k) === undefined);
      if (users.length === 0) continue;
      this.diagnostics.push({
        code: 'store/tier-in-use',
        severity: 'error',
        message: `tier "${name}" cannot be removed: ${users.length} polic${users.length === 1 ? 'y is' : 'ies are'} still in it (${users.slice(0, 3).join(', ')}${users.length > 3 ? ', …' : ''})`,
      });
      this.#tiers.set(name, { name, order: undefined, defaultAction: 'deny', exists: false, origin: undefined });
    }
  }

  // ---- addresses

  /** `--pod-cidr`: the lowest free address to each workload without one, in id order; kept once given. */
  #assignAddresses(keys: readonly ResourceKey[]): void {
    const pool = this.#store.pool;
    const needing: { key: ResourceKey; ep: Endpoint }[] = [];
    for (const key of keys) {
      const ep = this.#endpoints.get(key);
      const had = this.#s.assigned.get(key);
      if (ep === undefined || ep === null || ep.kind !== 'workload' || ep.addresses.length > 0 || pool === undefined) {
        if (had !== undefined) this.#assigned.set(key, null);
        continue;
      }
      if (had !== undefined) {
        this.#endpoints.set(key, { ...ep, addresses: [had] });
        continue;
      }
      needing.push({ key, ep });
    }
    if (needing.length === 0 || pool === undefined) return;
    needing.sort((a, b) => (a.ep.id < b.ep.id ? -1 : 1));
    const claimed = new Set<string>();
    for (const ep of this.#endpoints.values()) if (ep !== null) for (const a of ep.addresses) claimed.add(formatIp(a));
    const taken = (a: IpAddress): boolean => {
      const text = formatIp(a);
      if (claimed.has(text)) return true;
      const owners = this.#store.index.addressOwners(text);
      return owners.some((k) => this.#endpoints.get(k) !== null);
    };
    let given = 0;
    for (const n of needing) {
      const a = pool.take(taken);
      if (a === undefined) break;
      given++;
      this.#taken.push(a);
      claimed.add(formatIp(a));
      this.#assigned.set(n.key, a);
      this.#endpoints.set(n.key, { ...n.ep, addresses: [a] });
    }
    if (given < needing.length) {
      this.diagnostics.push({
        code: 'engine/pod-cidr-exhausted',
        severity: 'error',
        message: `--pod-cidr ${this.#store.podCidrText} has room for ${given} more addresses but ${needing.length} workloads need one`,
      });
    }
  }

  #reportDuplicateAddresses(keys: readonly ResourceKey[]): void {
    const owner = new Map<string, Endpoint>();
    for (const key of keys) {
      const e = this.#endpoints.get(key);
      if (e === undefined || e === null) continue;
      for (const a of e.addresses) {
        const text = formatIp(a);
        let first = owner.get(text);
        if (first === undefined) {
          const owners = this.#store.index.addressOwners(text).filter((k) => k !== key && !this.#endpoints.has(k));
          const last = owners[owners.length - 1];
          first = last === undefined ? undefined : this.#store.index.endpoint(last);
        }
        if (first !== undefined && first !== e) {
          this.diagnostics.push({
            code: 'engine/duplicate-address',
            severity: 'warning',
            message: `${e.id} and ${first.id} both claim address ${text}; flows to it are attributed to ${e.id}`,
            span: e.origin.span,
          });
        }
        owner.set(text, e);
      }
    }
  }

  rollback(): void {
    const pool = this.#store.pool;
    if (pool !== undefined) for (const a of this.#taken) pool.release(a);
  }

  // ---- commit: write the overlay through to the registries and the entity index

  commit(): void {
    const s = this.#s;
    const index = this.#store.index;
    for (const [key, r] of this.#resources) {
      if (r === null) {
        s.resources.delete(key);
        s.arrival.delete(key);
      } else {
        if (!s.resources.has(key)) s.arrival.set(key, this.#store.nextArrival());
        s.resources.set(key, r);
      }
    }
    for (const [name, ns] of this.#declared) {
      if (ns === null) s.declared.delete(name);
      else s.declared.set(name, ns);
      s.nsProfiles.delete(name);
    }
    for (const [name, p] of this.#nsProfiles) s.nsProfiles.set(name, p);
    for (const [saKey, labels] of this.#saLabels) {
      if (labels === null) s.saLabels.delete(saKey);
      else s.saLabels.set(saKey, labels);
      s.saProfiles.delete(saKey);
    }
    for (const [saKey, p] of this.#saProfiles) s.saProfiles.set(saKey, p);
    for (const [key, a] of this.#assigned) {
      const had = s.assigned.get(key);
      if (a === null) {
        s.assigned.delete(key);
        if (had !== undefined) this.#store.pool?.release(had);
      } else s.assigned.set(key, a);
    }

    // References: who needs which namespace, who inherits which profile.
    const touchedNamespaces = new Set<string>(this.#declared.keys());
    for (const [key, refs] of this.#refs) {
      const old = s.refs.get(key) ?? NO_REFS;
      for (const n of old.exists) {
        removeFrom(s.nsUsers, n, key);
        touchedNamespaces.add(n);
      }
      for (const n of old.nsProfiles) removeFrom(s.nsDependents, n, key);
      for (const a of old.saProfiles) removeFrom(s.saDependents, a, key);
      for (const n of refs.exists) {
        addTo(s.nsUsers, n, key);
        touchedNamespaces.add(n);
      }
      for (const n of refs.nsProfiles) addTo(s.nsDependents, n, key);
      for (const a of refs.saProfiles) addTo(s.saDependents, a, key);
      // Profiles nobody inherits any more are dropped (they are made again on demand).
      for (const a of old.saProfiles) if (!s.saDependents.has(a)) s.saProfiles.delete(a);
      if (refs === NO_REFS) s.refs.delete(key);
      else s.refs.set(key, refs);
    }

    // Tiers first (policies need them), then namespaces, endpoints, sets, services, policies.
    for (const [name, t] of this.#tiers) {
      if (t === null) {
        s.placeholders.delete(name);
        index.removeTier(name);
      } else {
        if (t.exists) s.placeholders.delete(name);
        else s.placeholders.add(name);
        index.setTier(t);
      }
    }
    const declaredFirst = [...touchedNamespaces].sort((a, b) => Number(s.declared.has(b)) - Number(s.declared.has(a)));
    for (const name of declaredFirst) {
      const declared = s.declared.get(name);
      if (declared !== undefined) index.setNamespace(declared);
      else if ((s.nsUsers.get(name)?.size ?? 0) > 0) {
        const cur = index.namespace(name);
        index.setNamespace(cur !== undefined && !cur.declared ? cur : implicitNamespace(name));
      } else {
        index.removeNamespace(name);
        s.nsProfiles.delete(name);
      }
    }
    for (const [key, ep] of this.#endpoints) {
      if (ep === null) index.removeEndpoint(key);
      else index.setEndpoint(key, ep, s.arrival.get(key));
    }
    for (const [key, ns] of this.#netSets) {
      const oldId = s.netSetIds.get(key);
      if (ns === null) {
        if (oldId !== undefined) index.removeNetworkSet(oldId);
        s.netSetIds.delete(key);
      } else {
        if (oldId !== undefined && oldId !== ns.id) index.removeNetworkSet(oldId);
        index.setNetworkSet(ns);
        s.netSetIds.set(key, ns.id);
      }
    }
    for (const [key, svc] of this.#services) {
      if (svc === null) {
        const [, ns, name] = key.split('/');
        index.removeService(ns ?? '', name ?? '');
      } else index.setService(svc);
    }
    for (const [key, policies] of this.#policies) {
      const before = s.policyKeys.get(key) ?? [];
      const now = new Set(policies.map((p) => p.key));
      for (const k of before) if (!now.has(k)) index.removePolicy(k);
      for (const p of policies) index.setPolicy(p);
      for (const [tier, users] of s.policyTiers) if (users.delete(key) && users.size === 0) s.policyTiers.delete(tier);
      for (const p of policies) addTo(s.policyTiers, p.tier, key);
      if (policies.length === 0) s.policyKeys.delete(key);
      else s.policyKeys.set(key, [...now]);
    }
    // Placeholder tiers nobody uses any more go.
    for (const name of [...s.placeholders]) {
      if ((s.policyTiers.get(name)?.size ?? 0) === 0 && !this.#tiers.has(name)) {
        s.placeholders.delete(name);
        index.removeTier(name);
      }
    }
  }

}

export type { ChangeReport } from './entity-index.ts';
