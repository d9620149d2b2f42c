// Name syntaxes of Kubernetes (k8s.io/apimachinery/pkg/util/validation) and Calico
// (libcalico-go/lib/validator/v3/validator.go). Each check returns what is wrong, or undefined.

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_LABEL = new RegExp(`^${LABEL}$`);
const DNS1123_SUBDOMAIN = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
// Calico: NetworkPolicy `L` or `L.L`, plus the legacy prefixed forms of converted policies.
const CALICO_POLICY_NAME = new RegExp(`^((${LABEL})(\\.${LABEL})?|((?:knp|ossg)\\.default\\.(${LABEL}(\\.${LABEL})*)))$`);
const CALICO_GLOBAL_POLICY_NAME = new RegExp(`^(${LABEL}\\.)?${LABEL}$`);

export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;

const LABEL_RULE = "lower case letters, digits and '-', starting and ending with a letter or digit";

function tooLong(s: string, max: number): string | undefined {
  return s.length > max ? `must be at most ${max} characters (it has ${s.length})` : undefined;
}

export function checkDns1123Label(s: string): string | undefined {
  if (s === '') return 'must not be empty';
  return tooLong(s, DNS1123_LABEL_MAX) ?? (DNS1123_LABEL.test(s) ? undefined : `must be a DNS-1123 label: ${LABEL_RULE} (e.g. "my-name")`);
}

export function checkDns1123Subdomain(s: string): string | undefined {
  if (s === '') return 'must not be empty';
  return (
    tooLong(s, DNS1123_SUBDOMAIN_MAX) ??
    (DNS1123_SUBDOMAIN.test(s) ? undefined : `must be a DNS-1123 subdomain: dot-separated parts of ${LABEL_RULE} (e.g. "example.com")`)
  );
}

export function checkDns1035Label(s: string): string | undefined {
  if (s === '') return 'must not be empty';
  return (
    tooLong(s, DNS1123_LABEL_MAX) ??
    (DNS1035_LABEL.test(s) ? undefined : "must be a DNS-1035 label: lower case letters, digits and '-', starting with a letter and ending with a letter or digit (e.g. \"my-name\")")
  );
}

/** Label and annotation keys: `[prefix/]name`, prefix a DNS subdomain, name ≤ 63 of [-A-Za-z0-9_.]. */
export function checkQualifiedName(s: string): string | undefined {
  const parts = s.split('/');
  if (parts.length > 2) return "must have at most one '/' (prefix/name)";
  const name = parts.length === 2 ? (parts[1] ?? '') : s;
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix === '') return "must not have an empty prefix before '/'";
    const p = checkDns1123Subdomain(prefix);
    if (p !== undefined) return `prefix "${prefix}" ${p}`;
  }
  if (name === '') return 'name part must not be empty';
  if (name.length > DNS1123_LABEL_MAX) return `name part must be at most ${DNS1123_LABEL_MAX} characters (it has ${name.length})`;
  if (!QUALIFIED_NAME_PART.test(name)) return "name part must consist of letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
  return undefined;
}

/** Label values: empty, or ≤ 63 of [-A-Za-z0-9_.] starting and ending with a letter or digit. */
export function checkLabelValue(s: string): string | undefined {
  if (s.length > DNS1123_LABEL_MAX) return `must be at most ${DNS1123_LABEL_MAX} characters (it has ${s.length})`;
  return LABEL_VALUE.test(s) ? undefined : "must be empty or consist of letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
}

/** Kubernetes port names (IANA service names): ≤ 15 of [-a-z0-9], a letter, no '--', no edge '-'. */
export function checkPortName(s: string): string | undefined {
  if (s === '') return 'must not be empty';
  if (s.length > 15) return `must be at most 15 characters (it has ${s.length})`;
  if (!/^[-a-z0-9]+$/.test(s)) return "must contain only lower case letters, digits and '-'";
  if (!/[a-z]/.test(s)) return 'must contain at least one letter';
  if (s.includes('--')) return "must not contain '--'";
  if (s.startsWith('-') || s.endsWith('-')) return "must not start or end with '-'";
  return undefined;
}

/** Calico NetworkPolicy (and StagedNetworkPolicy) names. */
export function checkCalicoPolicyName(s: string): string | undefined {
  if (s === '') return 'must not be empty';
  return (
    tooLong(s, DNS1123_SUBDOMAIN_MAX) ??
    (CALICO_POLICY_NAME.test(s) ? undefined : `must be one DNS-1123 label or two joined by '.' (${LABEL_RULE}; e.g. "allow-dns" or "platform.allow-dns")`)
  );
}

/** Calico GlobalNetworkPolicy (and StagedGlobalNetworkPolicy) names. */
export function checkGlobalPolicyName(s: string): string | undefined {
  if (s === '') return 'must not be empty';
  return (
    tooLong(s, DNS1123_SUBDOMAIN_MAX) ??
    (CALICO_GLOBAL_POLICY_NAME.test(s) ? undefined : `must be one DNS-1123 label or two joined by '.' (${LABEL_RULE}; e.g. "deny-all" or "security.deny-all")`)
  );
}

/** Tier names appear inside other names, so they are a single label. */
export function checkTierName(s: string): string | undefined {
  if (s === '') return 'must not be empty';
  return tooLong(s, DNS1123_LABEL_MAX) ?? (DNS1123_LABEL.test(s) ? undefined : `must be a single DNS-1123 label, without dots: ${LABEL_RULE} (e.g. "security")`);
}

/** Calico's `name` validation (the subdomain regex; ObjectMeta names also ≤ 253 characters). */
export function checkCalicoName(s: string): string | undefined {
  if (s === '') return 'must not be empty';
  return tooLong(s, DNS1123_SUBDOMAIN_MAX) ?? (DNS1123_SUBDOMAIN.test(s) ? undefined : `must be a DNS-1123 subdomain: dot-separated parts of ${LABEL_RULE}`);
}

/** Calico's `wildname` (domain names in NetworkSets and rules): labels with `*` wildcards. */
export function checkDomainName(s: string): string | undefined {
  if (s === '') return 'must not be empty';
  if (s.length > DNS1123_SUBDOMAIN_MAX) return `must be at most ${DNS1123_SUBDOMAIN_MAX} characters`;
  const parts = s.replace(/\.$/, '').split('.');
  for (const p of parts) {
    if (p === '*') continue;
    if (!/^[A-Za-z0-9*]([-A-Za-z0-9_*]*[A-Za-z0-9*])?$/.test(p) || p.length > 63) {
      return 'must be a domain name: dot-separated labels of letters, digits and \'-\', where "*" matches any label part (e.g. "*.example.com")';
    }
  }
  return undefined;
}
