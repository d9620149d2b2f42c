// Calico's selector composition: how a policy's namespace, namespaceSelector and
// serviceAccountSelector, and a rule's namespaceSelector / serviceAccounts / selector, fold into
// the one selector Felix evaluates. Calico builds these as *text* and then parses the result, and
// a few of its rewrites are textual (`all()` → `has(projectcalico.org/namespace)` over the whole
// string), so this module does the same to stay exact — see
// libcalico-go/lib/backend/syncersv1/updateprocessors/{networkpolicyprocessor,
// globalnetworkpolicyprocessor,rules,selectors}.go and docs/semantics.md §selectors.
import { LRUCache } from 'lru-cache';
import { parseSelector, prefixSelector } from '../selector/index.ts';
import type { Selector } from '../selector/index.ts';

export const LABEL_NAMESPACE = 'projectcalico.org/namespace';
export const LABEL_ORCHESTRATOR = 'projectcalico.org/orchestrator';
export const LABEL_SERVICE_ACCOUNT = 'projectcalico.org/serviceaccount';
export const LABEL_NAME = 'projectcalico.org/name';
export const NAMESPACE_PREFIX = 'pcns.';
export const SERVICE_ACCOUNT_PREFIX = 'pcsa.';

// Bounded: a long-lived store composes selectors for every policy it ever saw.
const cache = new LRUCache<string, Selector>({ max: 65_536 });

/**
 * Parses a selector the engine composed itself. The inputs were validated by the model, so a
 * failure here is a bug in composition, not a user error.
 */
export function compiledSelector(text: string): Selector {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const r = parseSelector(text);
  if (!r.ok) {
    throw new Error(`internal: composed selector does not parse: ${text}: ${r.diagnostics[0]?.message ?? ''}`);
  }
  cache.set(text, r.value);
  return r.value;
}

/** Parse, prefix every label, print canonically (Calico's parseSelectorAttachPrefix). */
export function prefixedText(selector: string, prefix: string): string {
  return prefixSelector(compiledSelector(selector), prefix).canonical;
}

function prefixAndAppend(current: string, extra: string, prefix: string): string {
  if (extra === '') return current;
  const prefixed = prefixedText(extra, prefix);
  return current === '' ? prefixed : `(${current}) && ${prefixed}`;
}

export interface PolicySelectorInput {
  readonly selector: string;
  readonly namespaceSelector: string;
  readonly serviceAccountSelector: string;
}

/** The endpoint selector of a namespaced policy (Calico NetworkPolicy, converted K8s policy). */
export function composeNamespacedPolicySelector(input: PolicySelectorInput, namespace: string): Selector {
  const nsClause = `${LABEL_NAMESPACE} == '${namespace}'`;
  let text = input.selector === '' ? nsClause : `(${input.selector}) && ${nsClause}`;
  text = prefixAndAppend(text, input.serviceAccountSelector, SERVICE_ACCOUNT_PREFIX);
  return compiledSelector(text);
}

/** The endpoint selector of a GlobalNetworkPolicy, including Calico's textual `all()` rewrites. */
export function composeGlobalPolicySelector(input: PolicySelectorInput): Selector {
  let text = input.selector;
  if (input.namespaceSelector !== '') {
    text = prefixAndAppend(text, input.namespaceSelector, NAMESPACE_PREFIX);
    text = text.replaceAll('all()', `has(${LABEL_NAMESPACE})`);
  }
  if (input.serviceAccountSelector !== '') {
    text = prefixAndAppend(text, input.serviceAccountSelector, SERVICE_ACCOUNT_PREFIX);
    text = text.replaceAll('all()', `has(${LABEL_SERVICE_ACCOUNT})`);
  }
  return compiledSelector(text);
}

export interface EntitySelectorInput {
  readonly selector: string;
  readonly notSelector: string;
  readonly namespaceSelector: string;
  readonly serviceAccountNames: readonly string[];
  readonly serviceAccountSelector: string;
}

function serviceAccountText(input: EntitySelectorInput): string {
  let updated = input.serviceAccountSelector === '' ? '' : prefixedText(input.serviceAccountSelector, SERVICE_ACCOUNT_PREFIX);
  if (input.serviceAccountNames.length === 0) return updated;
  const names = compiledSelector(`${LABEL_SERVICE_ACCOUNT} in { '${input.serviceAccountNames.join("', '")}' }`).canonical;
  return updated === '' ? names : `(${updated}) && (${names})`;
}

/**
 * A rule side's positive selector, scoped the Calico way: a namespaced policy limits selectors (and
 * a lone notSelector) to its own namespace unless a namespaceSelector is given; `all()` and
 * `global()` in a namespaceSelector mean "any namespaced endpoint" and "no namespace".
 * Returns undefined when the side has no positive selector at all (matches any address).
 */
export function composeEntitySelector(input: EntitySelectorInput, policyNamespace: string | undefined): Selector | undefined {
  let nsSelector = '';
  if (input.namespaceSelector !== '') {
    nsSelector = prefixedText(input.namespaceSelector, NAMESPACE_PREFIX)
      .replaceAll('all()', `has(${LABEL_NAMESPACE})`)
      .replaceAll('global()', `!has(${LABEL_NAMESPACE})`);
  } else if (policyNamespace !== undefined && policyNamespace !== '') {
    nsSelector = `${LABEL_NAMESPACE} == '${policyNamespace}'`;
  }
  const parts: string[] = [];
  const sa = serviceAccountText(input);
  if (sa !== '') parts.push(sa);
  if (input.selector !== '') parts.push(input.selector);
  let selector = parts.length === 0 ? '' : parts.length === 1 ? parts[0]! : `(${parts.join(') && (')})`;
  if (nsSelector !== '' && (selector !== '' || input.notSelector !== '' || input.namespaceSelector !== '')) {
    selector = selector === '' ? nsSelector : `(${nsSelector}) && (${selector})`;
  }
  return selector === '' ? undefined : compiledSelector(selector);
}

/**
 * Kubernetes label selector → Calico selector text (Calico's k8sSelectorToCalico). Pod selectors
 * always gain `projectcalico.org/orchestrator == 'k8s'`; an empty-but-present namespace selector
 * means all namespaces (`all()`), an absent one is the empty string.
 */
export function k8sSelectorText(
  sel: { readonly matchLabels?: Readonly<Record<string, string>> | undefined; readonly matchExpressions?: readonly { readonly key: string; readonly operator: string; readonly values?: readonly string[] | undefined }[] | undefined } | undefined,
  kind: 'pod' | 'namespace',
): string {
  const parts: string[] = kind === 'pod' ? [`${LABEL_ORCHESTRATOR} == 'k8s'`] : [];
  if (sel === undefined) return parts.join(' && ');
  const labels = sel.matchLabels ?? {};
  const exprs = sel.matchExpressions ?? [];
  if (kind === 'namespace' && Object.keys(labels).length === 0 && exprs.length === 0) return 'all()';
  for (const k of Object.keys(labels).sort()) parts.push(`${k} == '${labels[k]}'`);
  for (const e of exprs) {
    const values = (e.values ?? []).join("', '");
    switch (e.operator) {
      case 'In':
        parts.push(`${e.key} in { '${values}' }`);
        break;
      case 'NotIn':
        parts.push(`${e.key} not in { '${values}' }`);
        break;
      case 'Exists':
        parts.push(`has(${e.key})`);
        break;
      case 'DoesNotExist':
        parts.push(`! has(${e.key})`);
        break;
      default:
        break; // rejected by validation
    }
  }
  return parts.join(' && ');
}
