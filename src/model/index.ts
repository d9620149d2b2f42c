// Front door of `model`: one file per resource kind (schema + type + defaults + validation), the
// loaded-resource union, validateDocument, and the field parsers the engine reuses (protocols,
// ports, label selectors). Imports `../diagnostics`, `../net`, `../selector` and zod; evaluates nothing.
import type { Result } from '../diagnostics/index.ts';
import { fail, ok } from '../diagnostics/index.ts';
import { parseWithDiagnostics } from './issues.ts';
import { labelSelectorSchema } from './label-selector.ts';
import type { LabelSelector } from './label-selector.ts';
import { networkPolicyPortSchema } from './port.ts';
import type { NetworkPolicyPort } from './port.ts';

// The union and the entry point.
export type { BodyByType, Loaded, Resource, ResourceOf, ResourceType } from './resource.ts';
export { validateDocument } from './validate-document.ts';
export type { DecidedByFields, PolicyTest, PolicyTestCase } from './policy-test.ts';
export { POLICY_TEST_API_VERSION, POLICY_TEST_KIND, decidedBySchema, isPolicyTestHeader, policyTestJsonSchema, policyTestSchema } from './policy-test.ts';
export { parseWithDiagnostics } from './issues.ts';
export type { FieldPath, Origin } from './origin.ts';
export { syntheticOrigin } from './origin.ts';
export type { ListDocument } from './list.ts';
export { isListDocument, withListDefaults } from './list.ts';
export type { KindInfo } from './kinds.ts';
export { CALICO_API_VERSIONS, KINDS, KNOWN_KINDS, RESOURCE_TYPES, apiVersionsOfKind, resourceTypeOf } from './kinds.ts';

// One type per kind (bodies: the whole validated object, upstream field names).
export type { AdminNetworkPolicy } from './admin-network-policy.ts';
export type { BaselineAdminNetworkPolicy } from './baseline-admin-network-policy.ts';
export type { ClusterNetworkPolicy } from './cluster-network-policy.ts';
export type { ConnectivityInvariant, ConnectivityInvariantSpec } from './connectivity-invariant.ts';
export { invariantPortRange } from './connectivity-invariant.ts';
export type { CronJob } from './cron-job.ts';
export type { DaemonSet } from './daemon-set.ts';
export type { Deployment } from './deployment.ts';
export type { GlobalNetworkPolicy, GlobalNetworkPolicySpec } from './global-network-policy.ts';
export type { GlobalNetworkSet } from './global-network-set.ts';
export type { GlobalThreatFeed } from './global-threat-feed.ts';
export type { HostEndpoint } from './host-endpoint.ts';
export type { Job } from './job.ts';
export type { KubernetesNetworkPolicy, KubernetesNetworkPolicySpec } from './kubernetes-network-policy.ts';
export type { Namespace } from './namespace.ts';
export type { NetworkPolicy, NetworkPolicySpec } from './network-policy.ts';
export type { NetworkSet } from './network-set.ts';
export type { Pod } from './pod.ts';
export type { ContainerPort, PodSpec, PodTemplate } from './pod-spec.ts';
export type { ReplicaSet } from './replica-set.ts';
export type { Service } from './service.ts';
export type { ServiceAccount } from './service-account.ts';
export type { StagedGlobalNetworkPolicy } from './staged-global-network-policy.ts';
export type { StagedKubernetesNetworkPolicy } from './staged-kubernetes-network-policy.ts';
export type { StagedNetworkPolicy } from './staged-network-policy.ts';
export type { StatefulSet } from './stateful-set.ts';
export type { Tier } from './tier.ts';
export type { WorkloadEndpoint } from './workload-endpoint.ts';
export type { EntityRule, Rule, RuleAction } from './calico-rule.ts';
export { RULE_ACTIONS } from './calico-rule.ts';
export { DEFAULT_TIER_NAME, POLICY_TYPES, STAGED_ACTIONS } from './calico-policy-spec.ts';
export { BUILT_IN_TIERS, TIER_DEFAULT_ACTIONS } from './tier.ts';

// Field parsers shared with the engine, so nothing is parsed twice with different rules.
export type { CalicoProtocolName, KubernetesProtocol } from './protocol.ts';
export { CALICO_PROTOCOL_NAMES, PROTOCOL_NUMBERS, parseKubernetesProtocol, parseProtocol, protocolSupportsPorts } from './protocol.ts';
export type { CalicoPort, NetworkPolicyPort } from './port.ts';
export { PORT_MAX, PORT_MIN, allPortsNamed, checkKubernetesPort, parseCalicoPort } from './port.ts';
export type { LabelSelector } from './label-selector.ts';
export { LABEL_SELECTOR_OPERATORS, isEmptyLabelSelector, labelSelectorMatches } from './label-selector.ts';
export {
  checkCalicoPolicyName,
  checkDns1035Label,
  checkDns1123Label,
  checkDns1123Subdomain,
  checkGlobalPolicyName,
  checkLabelValue,
  checkPortName,
  checkQualifiedName,
  checkTierName,
} from './names.ts';

/** Validates a Kubernetes NetworkPolicyPort on its own (defaults applied: protocol TCP). */
export function validateNetworkPolicyPort(value: unknown): Result<NetworkPolicyPort> {
  const r = parseWithDiagnostics(networkPolicyPortSchema, value, undefined);
  return r.value === undefined ? fail(r.diagnostics) : ok(r.value);
}

/** Validates a metav1.LabelSelector on its own (keys, values, operators). */
export function validateLabelSelector(value: unknown): Result<LabelSelector> {
  const r = parseWithDiagnostics(labelSelectorSchema, value, undefined);
  return r.value === undefined ? fail(r.diagnostics) : ok(r.value);
}
