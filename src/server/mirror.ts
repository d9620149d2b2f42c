// The server's in-memory view of the store: every engine resource (for validation, explain and
// matrix) and every RBAC object (for authorization), kept current by one watch on /registry/.
// Because it follows the store's own revisions, several servers on one etcd converge on the same
// state, and a write acknowledged by this server is visible here before the response is sent.
import type { Datastore, StoreError, Watch, WatchEvent } from '../store/index.ts';
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from '../model/rbac.ts';
import { RBAC_SCHEMAS } from '../model/rbac.ts';
import { createEngineState } from './engine-state.ts';
import type { EngineChange, EngineState } from './engine-state.ts';
import { createNodeViews, isViewKind } from './node-views.ts';
import type { NodeViews, Touched } from './node-views.ts';
import { resourceOfStored } from './objects.ts';
import type { RbacState } from './rbac.ts';
import { RESOURCES } from './resources.ts';
import type { ResourceInfo } from './resources.ts';

export const REGISTRY = '/registry/';
/** Strata's own records (audit events) live under this prefix and are not resources (ConnectivityInvariants, group `strata`, are). */
export const STRATA_PREFIX = '/registry/strata/auditevents/';

export interface Mirror {
  readonly engine: EngineState;
  /** What each node's view holds (node-views.ts), kept in step with the engine. */
  readonly views: NodeViews;
  rbac(): RbacState;
  /** Names of the declared tiers. */
  tiers(): readonly string[];
  /** The last store revision applied here. */
  revision(): number;
  /** Resolves once the mirror has applied `revision` (or after `timeoutMs`). */
  waitFor(revision: number, timeoutMs?: number): Promise<boolean>;
  /**
   * Calls `listener` after the mirror applied a change under `prefix` (and after every re-list,
   * which may have replaced anything): a level trigger — the listener reads the state it needs.
   */
  subscribe(prefix: string, listener: () => void): () => void;
  close(): void;
}

const byGroupPlural = new Map<string, ResourceInfo>(RESOURCES.map((r) => [`${r.group === '' ? 'core' : r.group}/${r.plural}`, r]));

/** The resource a registry key belongs to. */
export function infoOfKey(key: string): ResourceInfo | undefined {
  if (!key.startsWith(REGISTRY) || key.startsWith(STRATA_PREFIX)) return undefined;
  const [group, plural] = key.slice(REGISTRY.length).split('/');
  return byGroupPlural.get(`${group ?? ''}/${plural ?? ''}`);
}

/** The object as the API serves it (objects.ts `served`), from the parsed value. */
function servedObject(obj: Record<string, unknown>, modRevision: number): Record<string, unknown> {
  const meta = obj['metadata'];
  return { ...obj, metadata: { ...(typeof meta === 'object' && meta !== null ? meta : {}), resourceVersion: String(modRevision) } };
}

interface RbacMaps {
  roles: Map<string, Role>;
  clusterRoles: Map<string, ClusterRole>;
  roleBindings: Map<string, RoleBinding>;
  clusterRoleBindings: Map<string, ClusterRoleBinding>;
}

export async function startMirror(store: Datastore, log: (message: string) => void): Promise<Mirror> {
  const engine = createEngineState();
  const views = createNodeViews(() => engine.snapshot(), Date.now, log);
  // The views follow the engine; a fault in them must not keep the mirror from settling writes.
  const applyViews = (revision: number, touched: Touched[], relist: boolean, report: ReturnType<EngineState['apply']>): void => {
    try {
      views.applied(revision, touched, relist, report);
    } catch (e) {
      log(`mirror: node views failed at revision ${revision}: ${(e as Error).message}`);
    }
  };
  const rbacMaps: RbacMaps = { roles: new Map(), clusterRoles: new Map(), roleBindings: new Map(), clusterRoleBindings: new Map() };
  const tierNames = new Set<string>();
  let rbacCache: RbacState | undefined;
  let applied = 0;
  let watch: Watch | undefined;
  let closed = false;
  const waiters = new Set<{ revision: number; resolve: (ok: boolean) => void }>();
  const listeners = new Set<{ prefix: string; listener: () => void }>();
  const notify = (keys: readonly string[] | undefined): void => {
    for (const l of listeners) {
      if (keys !== undefined && !keys.some((k) => k.startsWith(l.prefix))) continue;
      try {
        l.listener();
      } catch (e) {
        log(`mirror: a listener on ${l.prefix} failed: ${(e as Error).message}`);
      }
    }
  };

  const known = new Set<string>();
  const applyValue = (key: string, value: string | undefined, changes: EngineChange[], touched: Touched[], modRevision: number): void => {
    const info = infoOfKey(key);
    if (info === undefined) return;
    if (value === undefined) known.delete(key);
    else known.add(key);
    let obj: Record<string, unknown> | undefined;
    if (value !== undefined) {
      try {
        obj = JSON.parse(value) as Record<string, unknown>;
      } catch {
        log(`mirror: ignoring ${key}: stored value is not JSON`);
        return;
      }
    }
    if (info.engine) {
      const resource = obj === undefined ? undefined : resourceOfStored(info, obj);
      changes.push({ key, resource });
      if (isViewKind(info)) touched.push({ key, info, obj: obj === undefined ? undefined : servedObject(obj, modRevision), resource });
      if (info.type === 'Tier') {
        const name = key.slice(key.lastIndexOf('/') + 1);
        if (obj === undefined) tierNames.delete(name);
        else tierNames.add(name);
      }
      return;
    }
    // Only RBAC objects are kept besides the engine's kinds; others under /registry/strata/
    // (agents' NodeStatus reports, the threat-feed lease) are not the mirror's business.
    if (!Object.hasOwn(RBAC_SCHEMAS, info.type)) return;
    rbacCache = undefined;
    const map =
      info.type === 'Role' ? rbacMaps.roles : info.type === 'ClusterRole' ? rbacMaps.clusterRoles : info.type === 'RoleBinding' ? rbacMaps.roleBindings : rbacMaps.clusterRoleBindings;
    // Role keys are /registry/…/roles/NS/NAME: the map key is NS/NAME for Roles, the full key otherwise.
    const mapKey = info.type === 'Role' ? key.split('/').slice(-2).join('/') : key;
    if (obj === undefined) {
      map.delete(mapKey);
      return;
    }
    const parsed = RBAC_SCHEMAS[info.type as keyof typeof RBAC_SCHEMAS].safeParse(obj);
    if (parsed.success) (map as Map<string, unknown>).set(mapKey, parsed.data);
    else map.delete(mapKey);
  };

  const settle = (): void => {
    for (const w of waiters) {
      if (applied >= w.revision) {
        waiters.delete(w);
        w.resolve(true);
      }
    }
  };

  const onEvents = (events: readonly WatchEvent[]): void => {
    const changes: EngineChange[] = [];
    const touched: Touched[] = [];
    for (const e of events) {
      applyValue(e.key, e.type === 'DELETED' ? undefined : e.value, changes, touched, e.revision);
      applied = Math.max(applied, e.revision);
    }
    const report = engine.apply(changes);
    applyViews(applied, touched, false, report);
    settle();
    notify(events.map((e) => e.key));
  };

  const load = async (): Promise<void> => {
    const listed = await store.list(REGISTRY);
    const changes: EngineChange[] = [];
    const touched: Touched[] = [];
    // A re-list replaces everything: drop what is no longer there.
    const present = new Set(listed.items.map((i) => i.key));
    for (const k of known) if (!present.has(k)) applyValue(k, undefined, changes, touched, listed.revision);
    for (const item of listed.items) applyValue(item.key, item.value, changes, touched, item.modRevision);
    engine.apply(changes);
    applied = Math.max(applied, listed.revision);
    applyViews(applied, touched, true, undefined);
    settle();
    notify(undefined);
    watch = store.watch(REGISTRY, listed.revision, onEvents, onWatchError);
  };

  function onWatchError(e: StoreError): void {
    if (closed) return;
    log(`mirror: watch ended (${e.message}); re-listing`);
    setTimeout(() => {
      if (!closed) load().catch((err: unknown) => log(`mirror: re-list failed: ${(err as Error).message}`));
    }, 200);
  }

  await load();

  return {
    engine,
    views,
    rbac() {
      rbacCache ??= {
        roles: rbacMaps.roles,
        clusterRoles: new Map([...rbacMaps.clusterRoles.values()].map((r) => [r.metadata.name ?? '', r])),
        roleBindings: [...rbacMaps.roleBindings.values()],
        clusterRoleBindings: [...rbacMaps.clusterRoleBindings.values()],
      };
      return rbacCache;
    },
    tiers: () => [...tierNames],
    revision: () => applied,
    waitFor(revision, timeoutMs = 5000) {
      if (applied >= revision) return Promise.resolve(true);
      return new Promise((resolve) => {
        const w = { revision, resolve };
        waiters.add(w);
        setTimeout(() => {
          if (waiters.delete(w)) resolve(false);
        }, timeoutMs).unref();
      });
    },
    subscribe(prefix, listener) {
      const entry = { prefix, listener };
      listeners.add(entry);
      return () => void listeners.delete(entry);
    },
    close() {
      closed = true;
      listeners.clear();
      watch?.close();
      for (const w of waiters) w.resolve(false);
      waiters.clear();
    },
  };
}
