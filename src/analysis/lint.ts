// `check`'s lint pass: problems that validate fine one resource at a time but are almost certainly
// mistakes once the whole input is seen. Each finding points at the field that causes it.
//   lint/selector-never-matches     a selector no label set can satisfy
//   lint/rule-shadowed              an earlier terminal rule of the same policy matches everything it does
//   lint/policy-selects-nothing     no endpoint in the input is selected by the policy
//   lint/namespace-label-unknown    a namespace selector tests a label no namespace has
//   lint/rules-ignored-by-types     rules for a direction the policy's types leave out
//   lint/cidr-without-addresses     CIDR rules while workloads have no known address
//   lint/http-ignored               HTTP matches are enforced only by an application layer
import type { Diagnostic } from '../diagnostics/index.ts';
import { formatPath } from '../diagnostics/index.ts';
import type { Cluster, EntityMatch, NetList, Policy, PortList, Rule } from '../engine/index.ts';
import type { Resource } from '../model/index.ts';
import type { FieldPath } from '../model/origin.ts';
import { domainMatches } from '../engine/index.ts';
import { cidrContainsCidr } from '../net/index.ts';
import type { Cidr } from '../net/index.ts';
import { isUnsatisfiable, labelsOf, parseSelector } from '../selector/index.ts';
import type { Selector } from '../selector/index.ts';

const AUTO_NAMESPACE_LABELS = new Set(['kubernetes.io/metadata.name', 'projectcalico.org/name']);

// ---- rule shadowing: does every flow matching `later` also match `earlier`?

function netsCovered(earlier: NetList | undefined, later: NetList | undefined): boolean {
  if (earlier === undefined) return true;
  if (later === undefined) return false;
  const covered = (e: readonly Cidr[], l: readonly Cidr[]): boolean =>
    // A family the later rule has no CIDRs for is a family it never matches.
    l.every((lc) => e.some((ec) => cidrContainsCidr(ec, lc)));
  const fam = (e: readonly Cidr[], l: readonly Cidr[]): boolean => (l.length === 0 ? true : e.length > 0 && covered(e, l));
  return fam(earlier.v4, later.v4) && fam(earlier.v6, later.v6) && (later.v4.length > 0 || later.v6.length > 0);
}

function sameNets(a: NetList | undefined, b: NetList | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const key = (l: NetList): string => JSON.stringify([l.v4, l.v6], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return key(a) === key(b);
}

function portsCovered(earlier: PortList | undefined, later: PortList | undefined): boolean {
  if (earlier === undefined) return true;
  if (later === undefined) return false;
  return (
    later.named.every((n) => earlier.named.includes(n)) &&
    later.ranges.every((r) => earlier.ranges.some((e) => e.min <= r.min && r.max <= e.max))
  );
}

function samePorts(a: PortList | undefined, b: PortList | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function sameSelector(a: Selector | undefined, b: Selector | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.canonical === b.canonical;
}

function sideCovered(e: EntityMatch, l: EntityMatch): boolean {
  return (
    netsCovered(e.nets, l.nets) &&
    (e.notNets === undefined || sameNets(e.notNets, l.notNets)) &&
    (e.selector === undefined || sameSelector(e.selector, l.selector)) &&
    (e.notSelector === undefined || sameSelector(e.notSelector, l.notSelector)) &&
    portsCovered(e.ports, l.ports) &&
    (e.notPorts === undefined || samePorts(e.notPorts, l.notPorts)) &&
    (e.service === undefined || (l.service !== undefined && e.service.name === l.service.name && e.service.namespace === l.service.namespace)) &&
    domainsCovered(e.domains, l.domains)
  );
}

/**
 * `domains` confine a rule to destinations that are those domain names: the earlier rule covers the
 * later one only if every name the later one matches is one of the earlier one's (a later wildcard
 * must appear verbatim). A later rule without `domains` matches addresses too, which the earlier
 * never does.
 */
function domainsCovered(earlier: readonly string[] | undefined, later: readonly string[] | undefined): boolean {
  if (earlier === undefined) return true;
  if (later === undefined) return false;
  const norm = (d: string): string => d.toLowerCase().replace(/\.$/, '');
  return later.every((l) => earlier.some((e) => norm(e) === norm(l) || (!l.includes('*') && domainMatches(e, norm(l)))));
}

/** Conservative: true only when `earlier` provably matches every flow `later` matches. */
export function ruleCovers(earlier: Rule, later: Rule): boolean {
  if (earlier.action === 'log') return false;
  if (earlier.ipVersion !== undefined && earlier.ipVersion !== later.ipVersion) return false;
  if (earlier.protocol !== undefined && earlier.protocol !== later.protocol) return false;
  if (earlier.notProtocol !== undefined && (later.protocol === undefined || later.protocol === earlier.notProtocol)) return false;
  if (earlier.icmp !== undefined) {
    if (later.icmp === undefined || later.icmp.type !== earlier.icmp.type) return false;
    if (earlier.icmp.code !== undefined && later.icmp.code !== earlier.icmp.code) return false;
  }
  if (earlier.notIcmp !== undefined && JSON.stringify(earlier.notIcmp) !== JSON.stringify(later.notIcmp)) return false;
  // Selectors match a domain destination (through network sets' allowedEgressDomains) only in Allow
  // rules: a later Allow reaches domains an earlier Deny/Pass with a destination selector does not.
  if (earlier.action !== 'allow' && later.action === 'allow' && earlier.destination.selector !== undefined && later.destination.nets === undefined) return false;
  return sideCovered(earlier.source, later.source) && sideCovered(earlier.destination, later.destination);
}

export interface LintInput {
  readonly resources: readonly Resource[];
  readonly cluster: Cluster;
}

/** The field that holds a policy's endpoint selector in the user's manifest. */
function selectorField(p: Policy): string {
  if (p.kind === 'AdminNetworkPolicy' || p.kind === 'BaselineAdminNetworkPolicy' || p.kind === 'ClusterNetworkPolicy') return 'subject';
  return p.kind.includes('Kubernetes') ? 'podSelector' : 'selector';
}

function at(p: Policy, path: FieldPath): Pick<Diagnostic, 'span' | 'path'> {
  return { span: p.origin.spanOf(path), path: formatPath(path) };
}

export function lint({ resources, cluster }: LintInput): Diagnostic[] {
  const out: Diagnostic[] = [];
  const namespaceLabelKeys = new Set<string>();
  let declaredNamespaces = 0;
  for (const ns of cluster.namespaces) {
    if (ns.declared) declaredNamespaces++;
    for (const k of ns.labels.keys()) namespaceLabelKeys.add(k);
  }
  const workloads = cluster.endpoints.filter((e) => e.kind === 'workload');
  const addressless = workloads.filter((e) => e.addresses.length === 0).length;

  const byKey = new Map(resources.map((r) => [`${r.type}/${r.namespace ?? ''}/${r.name}`, r]));
  for (const p of cluster.policies) {
    const label = `${p.kind} ${p.namespace === undefined ? '' : `${p.namespace}/`}${p.name}`;
    if (isUnsatisfiable(p.selector)) {
      out.push({ code: 'lint/selector-never-matches', severity: 'warning', message: `the selector of ${label} can never match any endpoint`, ...at(p, ['spec', selectorField(p)]) });
    } else if (cluster.endpoints.length > 0 && cluster.selectorClasses(p.selector).size === 0) {
      out.push({
        code: 'lint/policy-selects-nothing',
        severity: 'warning',
        message: `${label} selects no endpoint in the input (selector ${writtenSelector(byKey.get(p.key)) ?? p.selector.canonical})`,
        ...at(p, ['spec', selectorField(p)]),
      });
    }
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = p[dir];
      if (!p.types[dir] && rules.length > 0) {
        out.push({
          code: 'lint/rules-ignored-by-types',
          severity: 'warning',
          message: `${label} has ${dir} rules but its types do not include ${dir === 'ingress' ? 'Ingress' : 'Egress'}: they are ignored`,
          ...at(p, ['spec', dir]),
        });
      }
      rules.forEach((rule, i) => {
        for (const side of ['source', 'destination'] as const) {
          const sel = rule[side].selector;
          if (sel !== undefined && isUnsatisfiable(sel)) {
            out.push({ code: 'lint/selector-never-matches', severity: 'warning', message: `${label} ${dir} rule ${rule.index}: the ${side} selector can never match`, ...at(p, [...rule.path, side]) });
          }
          const nets = rule[side].nets ?? rule[side].notNets;
          if (nets !== undefined && addressless > 0 && p.types[dir]) {
            out.push({
              code: 'lint/cidr-without-addresses',
              severity: 'info',
              message: `${label} ${dir} rule ${rule.index} matches ${side} CIDRs, but ${addressless} of ${workloads.length} workloads have no known address: CIDRs never match them (give pods status.podIPs or use --pod-cidr)`,
              ...at(p, [...rule.path, side]),
            });
          }
        }
        if (rule.hasHttpMatch) {
          out.push({ code: 'lint/http-ignored', severity: 'info', message: `${label} ${dir} rule ${rule.index} has an HTTP match: only an application-layer proxy enforces it; Strata matches the rule at L3/L4 only`, ...at(p, [...rule.path, 'http']) });
        }
        for (let j = 0; j < i; j++) {
          const earlier = rules[j]!;
          // K8s rules expand into several Calico rules sharing one source path; compare only distinct sources.
          if (JSON.stringify(earlier.path) === JSON.stringify(rule.path)) continue;
          if (ruleCovers(earlier, rule)) {
            out.push({
              code: 'lint/rule-shadowed',
              severity: 'warning',
              message: `${label} ${dir} rule ${rule.index} can never take effect: rule ${earlier.index} (${earlier.action}) before it matches every flow it matches`,
              ...at(p, rule.path),
            });
            break;
          }
        }
      });
    }
  }

  // Namespace selectors testing labels no namespace carries (only meaningful if namespaces were given).
  if (declaredNamespaces > 0) {
    for (const r of resources) {
      for (const { path, text } of namespaceSelectorTexts(r)) {
        const parsed = parseSelector(text);
        if (!parsed.ok) continue;
        for (const key of labelsOf(parsed.value.ast)) {
          if (AUTO_NAMESPACE_LABELS.has(key) || namespaceLabelKeys.has(key)) continue;
          out.push({
            code: 'lint/namespace-label-unknown',
            severity: 'warning',
            message: `namespace selector tests label "${key}", which no namespace in the input has`,
            span: r.origin.spanOf(path),
            path: formatPath(path),
          });
        }
      }
    }
  }
  return out;
}

function labelSelectorKeys(sel: unknown): string[] {
  if (sel === undefined || sel === null || typeof sel !== 'object') return [];
  const s = sel as { matchLabels?: Record<string, string>; matchExpressions?: { key: string }[] };
  return [...Object.keys(s.matchLabels ?? {}), ...(s.matchExpressions ?? []).map((e) => e.key)];
}

/** The namespace selectors of a resource, as Calico selector text, with their paths. */
function namespaceSelectorTexts(r: Resource): { path: FieldPath; text: string }[] {
  const out: { path: FieldPath; text: string }[] = [];
  const spec = (r.body as { spec?: Record<string, unknown> }).spec;
  if (spec === undefined) return out;
  const calico = r.type === 'NetworkPolicy' || r.type === 'GlobalNetworkPolicy' || r.type === 'StagedNetworkPolicy' || r.type === 'StagedGlobalNetworkPolicy';
  const k8s = r.type === 'KubernetesNetworkPolicy' || r.type === 'StagedKubernetesNetworkPolicy';
  if (calico) {
    if (typeof spec['namespaceSelector'] === 'string' && spec['namespaceSelector'] !== '') out.push({ path: ['spec', 'namespaceSelector'], text: spec['namespaceSelector'] });
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = spec[dir];
      if (!Array.isArray(rules)) continue;
      rules.forEach((rule: Record<string, unknown>, i) => {
        for (const side of ['source', 'destination'] as const) {
          const s = rule[side] as Record<string, unknown> | undefined;
          const ns = s?.['namespaceSelector'];
          if (typeof ns === 'string' && ns !== '') out.push({ path: ['spec', dir, i, side, 'namespaceSelector'], text: ns });
        }
      });
    }
  } else if (r.type === 'AdminNetworkPolicy' || r.type === 'BaselineAdminNetworkPolicy' || r.type === 'ClusterNetworkPolicy') {
    // Subjects and peers: `namespaces` is a namespace selector, so is `pods.namespaceSelector`.
    const add = (peer: Record<string, unknown> | undefined, path: FieldPath): void => {
      const pods = peer?.['pods'] as Record<string, unknown> | undefined;
      const [sel, at] = pods !== undefined ? [pods['namespaceSelector'], [...path, 'pods', 'namespaceSelector']] : [peer?.['namespaces'], [...path, 'namespaces']];
      const keys = labelSelectorKeys(sel);
      if (keys.length > 0) out.push({ path: at, text: keys.map((k) => `has(${k})`).join(' && ') });
    };
    add(spec['subject'] as Record<string, unknown> | undefined, ['spec', 'subject']);
    for (const [dir, peersKey] of [['ingress', 'from'], ['egress', 'to']] as const) {
      const rules = spec[dir];
      if (!Array.isArray(rules)) continue;
      rules.forEach((rule: Record<string, unknown>, i) => {
        const peers = rule[peersKey];
        if (Array.isArray(peers)) peers.forEach((peer: Record<string, unknown>, j) => add(peer, ['spec', dir, i, peersKey, j]));
      });
    }
  } else if (k8s) {
    for (const [dir, peersKey] of [['ingress', 'from'], ['egress', 'to']] as const) {
      const rules = spec[dir];
      if (!Array.isArray(rules)) continue;
      rules.forEach((rule: Record<string, unknown>, i) => {
        const peers = rule[peersKey];
        if (!Array.isArray(peers)) return;
        peers.forEach((peer: Record<string, unknown>, j) => {
          const nsSel = peer['namespaceSelector'] as { matchLabels?: Record<string, string>; matchExpressions?: { key: string }[] } | undefined;
          if (nsSel === undefined) return;
          const keys = [...Object.keys(nsSel.matchLabels ?? {}), ...(nsSel.matchExpressions ?? []).map((e) => e.key)];
          if (keys.length > 0) out.push({ path: ['spec', dir, i, peersKey, j, 'namespaceSelector'], text: keys.map((k) => `has(${k})`).join(' && ') });
        });
      });
    }
  }
  return out;
}

/**
 * The endpoint selector as the user wrote it (Calico `selector`, Kubernetes `podSelector` in
 * kubectl's `-l` form), not the form the engine composed with namespace and orchestrator terms.
 */
export function writtenSelector(r: Resource | undefined): string | undefined {
  if (r === undefined) return undefined;
  const spec = (r.body as { spec?: Record<string, unknown> }).spec ?? {};
  if (r.type === 'KubernetesNetworkPolicy' || r.type === 'StagedKubernetesNetworkPolicy') {
    const ps = spec['podSelector'] as { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | undefined;
    const parts = [
      ...Object.entries(ps?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
      ...(ps?.matchExpressions ?? []).map((e) => (e.operator === 'Exists' ? e.key : e.operator === 'DoesNotExist' ? `!${e.key}` : `${e.key} ${e.operator.toLowerCase()} (${(e.values ?? []).join(',')})`)),
    ];
    return parts.length === 0 ? 'podSelector {} (every pod in the namespace)' : `podSelector ${parts.join(',')}`;
  }
  const sel = spec['selector'];
  return typeof sel === 'string' && sel.trim() !== '' ? sel : 'all()';
}
