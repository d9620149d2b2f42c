// Rule hits per policy from the flow store's statistics (`GET /apis/strata/v1/flows/stats`:
// FlowStats, one item per policy rule and direction that counted packets), for the board.
import type { FlowStats } from './schemas.ts';

export interface RuleHits {
  readonly direction: string;
  readonly rule: number | null;
  readonly packets: number;
}

export interface Hits {
  readonly hits: number;
  readonly lastHit: string | undefined;
  readonly rules: readonly RuleHits[];
}

export function policyId(tier: string, namespace: string | null, name: string): string {
  return `${tier}/${namespace ?? ''}/${name}`;
}

/** Hits per policy and rule, from the flow store's per-rule rows (`items` of FlowStats). */
export function hitsByPolicy(stats: FlowStats): Map<string, Hits> {
  const out = new Map<string, { hits: number; lastHit: string | undefined; rules: RuleHits[] }>();
  for (const it of stats.items) {
    const name = it.name ?? it.policy;
    if (name === null || name === undefined) continue;
    const id = policyId(it.tier ?? 'default', it.namespace ?? null, name);
    const n = it.hits ?? it.count ?? it.packets ?? 0;
    const last = it.lastHit ?? it.lastSeen ?? undefined;
    const h = out.get(id) ?? { hits: 0, lastHit: undefined, rules: [] };
    h.hits += n;
    if (last !== undefined && last !== null && (h.lastHit === undefined || last > h.lastHit)) h.lastHit = last;
    h.rules.push({ direction: typeof it['direction'] === 'string' ? it['direction'] : '', rule: it.ruleIndex ?? it.rule ?? null, packets: n });
    out.set(id, h);
  }
  return out;
}

