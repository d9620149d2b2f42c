// Tier and policy order with Calico's tie-breaks (felix/calc/policy_sorter.go, v3.32+; cases in
// the spirit of felix/calc/policy_sorter_test.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparePolicies, compareTiers } from '../../src/engine/ordering.ts';
import type { Policy, Tier } from '../../src/engine/index.ts';

const tier = (name: string, order: number | undefined, exists = true): Tier => ({ name, order, defaultAction: 'deny', exists, origin: undefined });
const policy = (name: string, order: number, namespace?: string, kind: Policy['kind'] = namespace === undefined ? 'GlobalNetworkPolicy' : 'NetworkPolicy'): Policy =>
  ({ name, order, namespace, kind }) as unknown as Policy;

test('tiers: existing before referenced-only, ordered before unordered, ascending, then by name', () => {
  const sorted = [tier('z', undefined), tier('ghost', 1, false), tier('b', 10), tier('a', 10), tier('c', 5), tier('y', undefined)].sort(compareTiers);
  assert.deepEqual(sorted.map((t) => t.name), ['c', 'a', 'b', 'y', 'z', 'ghost']);
});

test('policies: ascending order, no order last, ties by name/namespace/kind bytewise', () => {
  const sorted = [policy('a', 5), policy('a.b', 5), policy('a-b', 5), policy('last', Infinity), policy('first', 1)].sort(comparePolicies);
  assert.deepEqual(sorted.map((p) => p.name), ['first', 'a-b', 'a.b', 'a', 'last']);
});

test('policies: equal names are ordered by namespace, then kind', () => {
  const sorted = [policy('p', 1, 'b'), policy('p', 1, 'a'), policy('p', 1), policy('p', 1, 'a', 'KubernetesNetworkPolicy')].sort(comparePolicies);
  assert.deepEqual(sorted.map((p) => `${p.namespace ?? ''}/${p.kind}`), ['/GlobalNetworkPolicy', 'a/KubernetesNetworkPolicy', 'a/NetworkPolicy', 'b/NetworkPolicy']);
});
