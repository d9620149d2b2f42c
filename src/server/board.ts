// The policy board (`GET /apis/strata/v1/policyboard`): every tier in evaluation order with its
// policies in order — kind, namespace, the selector as written, and how many endpoints each
// selects, counted by the engine's membership index on the live snapshot. Filtered by the same
// read rights as a list: a policy of a tier the user may not read is left out (not counted), so
// the board tells a restricted user nothing a `list` would not.
import type { Cluster, Policy } from '../engine/index.ts';
import type { LabelSelector } from '../model/label-selector.ts';
import type { Resource } from '../model/index.ts';
import type { UserInfo } from './authn.ts';
import { tierVisible } from './authz.ts';
import type { BoardPolicy, BoardTier, PolicyBoard } from './board-wire.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import { rbacAllows } from './rbac.ts';
import type { Reply } from './rest.ts';
import { RESOURCES, resourceUrl } from './resources.ts';
import type { ResourceInfo } from './resources.ts';

const infoByType = new Map<string, ResourceInfo>(RESOURCES.filter((r) => r.engine).map((r) => [r.type, r]));

/** metav1.LabelSelector in kubectl's string form (`app=web,env in (a,b),!legacy`); `{}` is everything. */
export function formatLabelSelector(s: LabelSelector | undefined): string {
  if (s === undefined) return '';
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of s.matchExpressions ?? []) {
    switch (r.operator) {
      case 'In':
        parts.push(`${r.key} in (${(r.values ?? []).join(',')})`);
        break;
      case 'NotIn':
        parts.push(`${r.key} notin (${(r.values ?? []).join(',')})`);
        break;
      case 'Exists':
        parts.push(r.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${r.key}`);
        break;
      default: {
        const unreachable: never = r.operator;
        return unreachable;
      }
    }
  }
  return parts.length === 0 ? '{}' : parts.join(',');
}

/** The fields that choose the policy's endpoints, as the manifest wrote them. */
export function writtenSelector(r: Resource | undefined): string {
  if (r === undefined) return '';
  const spec = (r.body as { spec?: Record<string, unknown> }).spec ?? {};
  const field = (name: string): string | undefined => (typeof spec[name] === 'string' ? (spec[name] as string) : undefined);
  switch (r.type) {
    case 'NetworkPolicy':
    case 'GlobalNetworkPolicy':
    case 'StagedNetworkPolicy':
    case 'StagedGlobalNetworkPolicy': {
      // An empty selector is written as "" (Calico reads it as all()): show it so.
      const sel = field('selector');
      const parts = [`selector: ${sel === undefined ? 'all()' : sel === '' ? '""' : sel}`];
      for (const f of ['namespaceSelector', 'serviceAccountSelector']) if (field(f) !== undefined && field(f) !== '') parts.push(`${f}: ${field(f)}`);
      return parts.join('; ');
    }
    case 'KubernetesNetworkPolicy':
    case 'StagedKubernetesNetworkPolicy':
      return `podSelector: ${formatLabelSelector(spec['podSelector'] as LabelSelector | undefined) || '{}'}`;
    case 'AdminNetworkPolicy':
    case 'BaselineAdminNetworkPolicy':
    case 'ClusterNetworkPolicy': {
      const subject = spec['subject'] as { namespaces?: LabelSelector; pods?: { namespaceSelector?: LabelSelector; podSelector?: LabelSelector } } | undefined;
      if (subject?.namespaces !== undefined) return `subject.namespaces: ${formatLabelSelector(subject.namespaces)}`;
      if (subject?.pods !== undefined) return `subject.pods: namespaceSelector ${formatLabelSelector(subject.pods.namespaceSelector) || '{}'}, podSelector ${formatLabelSelector(subject.pods.podSelector) || '{}'}`;
      return '';
    }
    default:
      return '';
  }
}

function visible(ctx: ServerContext, user: UserInfo, info: ResourceInfo, p: Policy): boolean {
  if (info.tierResource !== undefined) return tierVisible(ctx.mirror, user, info, 'list', p.tier, p.namespace)?.allowed === true;
  return rbacAllows(ctx.mirror.rbac(), user, { verb: 'list', apiGroup: info.group, resource: info.plural, namespace: p.namespace }).allowed;
}

function boardPolicy(ctx: ServerContext, cluster: Cluster, p: Policy, info: ResourceInfo): BoardPolicy {
  const types: ('Ingress' | 'Egress')[] = [];
  if (p.types.ingress) types.push('Ingress');
  if (p.types.egress) types.push('Egress');
  return {
    kind: p.kind,
    name: p.name,
    namespace: p.namespace ?? null,
    order: Number.isFinite(p.order) ? p.order : null,
    staged: p.staged,
    stagedAction: p.stagedAction ?? null,
    selector: writtenSelector(ctx.mirror.engine.resource(`${p.kind}/${p.namespace ?? ''}/${p.name}`)),
    selected: cluster.selectorMembers(p.selector).endpoints.length,
    types,
    ingressRules: p.ingress.length,
    egressRules: p.egress.length,
    path: resourceUrl(info, p.namespace, p.name),
  };
}

export function policyBoard(ctx: ServerContext, user: UserInfo, rec: RequestRecord): Reply {
  rec.resource = 'policyboard';
  rec.verb = 'get';
  const cluster = ctx.mirror.engine.snapshot();
  const state = ctx.mirror.rbac();
  const byTier = new Map<string, BoardPolicy[]>();
  for (const p of cluster.policies) {
    const info = infoByType.get(p.kind);
    if (info === undefined || !visible(ctx, user, info, p)) continue;
    const list = byTier.get(p.tier) ?? [];
    list.push(boardPolicy(ctx, cluster, p, info));
    byTier.set(p.tier, list);
  }
  const tiers: BoardTier[] = [];
  for (const t of cluster.tiers) {
    const policies = byTier.get(t.name) ?? [];
    // A tier with nothing the user may read is shown only when the user may read the tier itself.
    if (policies.length === 0 && !rbacAllows(state, user, { verb: 'get', apiGroup: 'projectcalico.org', resource: 'tiers', name: t.name }).allowed) continue;
    tiers.push({ name: t.name, order: t.order ?? null, defaultAction: t.defaultAction, policies });
  }
  rec.decision = 'allow';
  const body: PolicyBoard = { kind: 'PolicyBoard', apiVersion: 'strata/v1', metadata: { resourceVersion: String(ctx.mirror.revision()) }, endpoints: cluster.endpoints.length, tiers };
  return { code: 200, body };
}
