// Calico projectcalico.org/v3 policy → the engine's internal policy (Felix's view): types
// defaulting, selector scoping (compose.ts), ports and protocols to numbers, CIDRs split by family.
// Kubernetes NetworkPolicies reach this module after convert-k8s.ts has turned them into the same
// v3 shape, exactly as Calico converts them before its normal processing.
import { parseCidrLenient } from '../net/index.ts';
import type { Cidr } from '../net/index.ts';
import { parseCalicoPort, parseProtocol } from '../model/index.ts';
import type { FieldPath, Origin } from '../model/origin.ts';
import {
  composeEntitySelector,
  composeGlobalPolicySelector,
  composeNamespacedPolicySelector,
  compiledSelector,
} from './compose.ts';
import type { EntityMatch, NetList, Policy, PolicyKind, PortList, PortRange, Rule, RuleAction, StagedAction } from './model.ts';
import { policyKey } from './cluster.ts';
import { DEFAULT_TIER } from './ordering.ts';
import { isNamespacedKind, isStagedKind } from './policy-kinds.ts';

/** The v3 EntityRule fields the engine reads (validated upstream by the model). */
export interface V3EntityRule {
  readonly nets?: readonly string[] | undefined;
  readonly notNets?: readonly string[] | undefined;
  readonly selector?: string | undefined;
  readonly notSelector?: string | undefined;
  readonly namespaceSelector?: string | undefined;
  readonly ports?: readonly (number | string)[] | undefined;
  readonly notPorts?: readonly (number | string)[] | undefined;
  readonly serviceAccounts?: { readonly names?: readonly string[] | undefined; readonly selector?: string | undefined } | undefined;
  readonly services?: { readonly name: string; readonly namespace?: string | undefined } | undefined;
  readonly domains?: readonly string[] | undefined;
}

export interface V3Icmp {
  readonly type?: number | undefined;
  readonly code?: number | undefined;
}

export interface V3Rule {
  readonly action: string;
  readonly ipVersion?: number | undefined;
  readonly protocol?: number | string | undefined;
  readonly notProtocol?: number | string | undefined;
  readonly icmp?: V3Icmp | undefined;
  readonly notICMP?: V3Icmp | undefined;
  readonly source?: V3EntityRule | undefined;
  readonly destination?: V3EntityRule | undefined;
  readonly http?: unknown;
}

export interface V3PolicySpec {
  readonly tier?: string | undefined;
  readonly order?: number | undefined;
  readonly selector?: string | undefined;
  readonly namespaceSelector?: string | undefined;
  readonly serviceAccountSelector?: string | undefined;
  readonly types?: readonly string[] | undefined;
  readonly ingress?: readonly V3Rule[] | undefined;
  readonly egress?: readonly V3Rule[] | undefined;
  readonly doNotTrack?: boolean | undefined;
  readonly preDNAT?: boolean | undefined;
  readonly applyOnForward?: boolean | undefined;
  readonly stagedAction?: string | undefined;
}

export interface PolicySource {
  readonly kind: PolicyKind;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly spec: V3PolicySpec;
  readonly origin: Origin;
  /** Path of each rule in the source document; defaults to `spec.<dir>[i]`. */
  readonly rulePaths?: { readonly ingress: readonly FieldPath[]; readonly egress: readonly FieldPath[] };
}

const ACTIONS: Readonly<Record<string, RuleAction>> = { Allow: 'allow', Deny: 'deny', Pass: 'pass', Log: 'log' };

/**
 * Calico's API-server defaulting of `types` (api/pkg/defaults/networkpolicy.go): Ingress unless
 * there are egress rules only; both when both kinds of rule exist.
 */
export function defaultTypes(spec: V3PolicySpec): { ingress: boolean; egress: boolean } {
  const types = spec.types ?? [];
  if (types.length > 0) return { ingress: types.includes('Ingress'), egress: types.includes('Egress') };
  const hasIngress = (spec.ingress?.length ?? 0) > 0;
  const hasEgress = (spec.egress?.length ?? 0) > 0;
  if (hasEgress && !hasIngress) return { ingress: false, egress: true };
  return { ingress: true, egress: hasEgress };
}

export function toNetList(cidrs: readonly string[] | undefined): NetList | undefined {
  if (cidrs === undefined || cidrs.length === 0) return undefined;
  const v4: Cidr[] = [];
  const v6: Cidr[] = [];
  for (const text of cidrs) {
    const c = parseCidrLenient(text);
    if (!c.ok) continue; // rejected by validation; Calico skips unparsable CIDRs too
    (c.value.family === 4 ? v4 : v6).push(c.value);
  }
  return { v4, v6 };
}

export function toPortList(ports: readonly (number | string)[] | undefined): PortList | undefined {
  if (ports === undefined || ports.length === 0) return undefined;
  const ranges: PortRange[] = [];
  const named: string[] = [];
  for (const p of ports) {
    const r = parseCalicoPort(p);
    if (!r.ok) continue;
    if (r.value.kind === 'named') named.push(r.value.name);
    else ranges.push({ min: r.value.min, max: r.value.max });
  }
  return { ranges, named };
}

function protocolNumber(p: number | string | undefined): number | undefined {
  if (p === undefined) return undefined;
  const r = parseProtocol(p);
  return r.ok ? r.value : undefined;
}

function convertEntity(er: V3EntityRule | undefined, policyNamespace: string | undefined, isGlobal: boolean): EntityMatch {
  if (er === undefined) return {};
  const out: {
    -readonly [K in keyof EntityMatch]: EntityMatch[K];
  } = {};
  const nets = toNetList(er.nets);
  if (nets !== undefined) out.nets = nets;
  const notNets = toNetList(er.notNets);
  if (notNets !== undefined) out.notNets = notNets;
  const selector = composeEntitySelector(
    {
      selector: er.selector ?? '',
      notSelector: er.notSelector ?? '',
      namespaceSelector: er.namespaceSelector ?? '',
      serviceAccountNames: er.serviceAccounts?.names ?? [],
      serviceAccountSelector: er.serviceAccounts?.selector ?? '',
    },
    isGlobal ? undefined : policyNamespace,
  );
  const notSelector = er.notSelector === undefined || er.notSelector === '' ? undefined : er.notSelector;
  if (selector !== undefined && notSelector !== undefined) {
    // Felix folds the notSelector into a positive selector when there is one
    // (felix/calc/rule_scanner.go combineMatchesIfPossible): the peer must be in the set of
    // endpoints/sets matching `pos && !not`, which differs from "in pos and not in not" when an
    // address lies in a network set.
    out.selector = compiledSelector(`(${selector.canonical}) && (!(${notSelector}))`);
  } else {
    if (selector !== undefined) out.selector = selector;
    if (notSelector !== undefined) out.notSelector = compiledSelector(notSelector);
  }
  const ports = toPortList(er.ports);
  if (ports !== undefined) out.ports = ports;
  const notPorts = toPortList(er.notPorts);
  if (notPorts !== undefined) out.notPorts = notPorts;
  if (er.domains !== undefined && er.domains.length > 0) out.domains = er.domains;
  if (er.services !== undefined) {
    out.service = { name: er.services.name, namespace: er.services.namespace ?? policyNamespace ?? '' };
  }
  return out;
}

function convertIcmp(m: V3Icmp | undefined): { type: number; code?: number } | undefined {
  if (m === undefined || m.type === undefined) return undefined;
  return m.code === undefined ? { type: m.type } : { type: m.type, code: m.code };
}

export function convertRule(r: V3Rule, index: number, path: FieldPath, policyNamespace: string | undefined, isGlobal: boolean): Rule {
  const rule: { -readonly [K in keyof Rule]: Rule[K] } = {
    index,
    action: ACTIONS[r.action] ?? 'deny',
    source: convertEntity(r.source, policyNamespace, isGlobal),
    destination: convertEntity(r.destination, policyNamespace, isGlobal),
    path,
    hasHttpMatch: r.http !== undefined && r.http !== null,
  };
  if (r.ipVersion === 4 || r.ipVersion === 6) rule.ipVersion = r.ipVersion;
  const protocol = protocolNumber(r.protocol);
  if (protocol !== undefined) rule.protocol = protocol;
  const notProtocol = protocolNumber(r.notProtocol);
  if (notProtocol !== undefined) rule.notProtocol = notProtocol;
  const icmp = convertIcmp(r.icmp);
  if (icmp !== undefined) rule.icmp = icmp;
  const notIcmp = convertIcmp(r.notICMP);
  if (notIcmp !== undefined) rule.notIcmp = notIcmp;
  return rule;
}

const STAGED_ACTIONS: readonly StagedAction[] = ['Set', 'Delete', 'Learn', 'Ignore'];

export function convertPolicy(src: PolicySource): Policy {
  const { spec, kind } = src;
  const namespaced = isNamespacedKind(kind);
  const isGlobal = !namespaced;
  const selectorInput = {
    selector: spec.selector ?? '',
    namespaceSelector: spec.namespaceSelector ?? '',
    serviceAccountSelector: spec.serviceAccountSelector ?? '',
  };
  const selector = namespaced
    ? composeNamespacedPolicySelector(selectorInput, src.namespace ?? 'default')
    : composeGlobalPolicySelector(selectorInput);
  const rules = (dir: 'ingress' | 'egress'): Rule[] =>
    (spec[dir] ?? []).map((r, i) =>
      convertRule(r, i, src.rulePaths?.[dir][i] ?? ['spec', dir, i], namespaced ? src.namespace : undefined, isGlobal),
    );
  const staged = isStagedKind(kind);
  const stagedAction = staged ? (STAGED_ACTIONS.find((a) => a === spec.stagedAction) ?? 'Set') : undefined;
  return {
    key: policyKey(kind, namespaced ? src.namespace : undefined, src.name),
    kind,
    name: src.name,
    namespace: namespaced ? src.namespace : undefined,
    tier: spec.tier === undefined || spec.tier === '' ? DEFAULT_TIER : spec.tier,
    order: spec.order ?? Infinity,
    staged,
    stagedAction,
    selector,
    types: defaultTypes(spec),
    ingress: rules('ingress'),
    egress: rules('egress'),
    doNotTrack: spec.doNotTrack === true,
    preDNAT: spec.preDNAT === true,
    applyOnForward: spec.applyOnForward === true,
    origin: src.origin,
  };
}
