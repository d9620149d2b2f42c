// Calico `Rule` and `EntityRule` (api/pkg/apis/projectcalico/v3/policy_common.go), shared by every
// Calico policy kind. Field checks live on the fields; the rule-level checks below follow
// validator.go validateRule/validateEntityRule and the CEL annotations on Rule and EntityRule.
// Checks that depend on the rule's direction or the policy's scope are in calico-policy-spec.ts.
import { z } from 'zod';
import { parseCidrText } from '../net/index.ts';
import type { IpFamily } from '../net/index.ts';
import { cidrString } from './cidr-field.ts';
import { checkCalicoName, checkDomainName } from './names.ts';
import { annotationMapSchema } from './object-meta.ts';
import { allPortsNamed, calicoPortSchema } from './port.ts';
import { calicoProtocolSchema, parseProtocol, protocolSupportsPorts } from './protocol.ts';
import { crossCheck, intInRange, oneOf, report, stringRule, strict, tag } from './schema-kit.ts';
import type { CheckContext, Path } from './schema-kit.ts';
import { calicoSelector } from './selector-field.ts';

export const RULE_ACTIONS = ['Allow', 'Deny', 'Pass', 'Log'] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

const icmpShape = strict({
  /** ICMP type to match, 0–254 (8 = echo request). */
  type: intInRange(0, 254, 'model/invalid-icmp', 'ICMP type').optional(),
  /** ICMP code to match, 0–255; requires `type` (an iptables limitation Calico keeps). */
  code: intInRange(0, 255, 'model/invalid-icmp', 'ICMP code').optional(),
});

export const icmpSchema = icmpShape.check(
  crossCheck<z.output<typeof icmpShape>>((m, ctx) => {
    if (m.code !== undefined && m.type === undefined) report(ctx, ['code'], 'an ICMP code needs an ICMP type', { code: 'model/invalid-icmp', atKey: true });
  }),
);

const httpPathShape = strict({
  /** Exact path to match; starts with "/", no "?", "#" or space; ≤ 1024 characters. */
  exact: z.string().max(1024).optional(),
  /** Path prefix to match (whole segments); same syntax as `exact`. */
  prefix: z.string().max(1024).optional(),
});

const httpPathSchema = httpPathShape.check(
  crossCheck<z.output<typeof httpPathShape>>((p, ctx) => {
    const set = (p.exact ?? '') !== '' ? 1 : 0;
    const prefixSet = (p.prefix ?? '') !== '' ? 1 : 0;
    if (set + prefixSet !== 1) {
      report(ctx, [], set + prefixSet === 0 ? 'an HTTP path match needs "exact" or "prefix"' : 'an HTTP path match takes "exact" or "prefix", not both', {
        code: 'model/invalid-http',
      });
      return;
    }
    const key = set === 1 ? 'exact' : 'prefix';
    const v = (set === 1 ? p.exact : p.prefix) ?? '';
    if (!v.startsWith('/') || /[? #]/.test(v)) {
      report(ctx, [key], `HTTP path "${v}" must start with "/" and contain no "?", "#" or space`, { code: 'model/invalid-http' });
    }
  }),
);

const httpMatchShape = strict({
  /** HTTP methods, OR-ed (e.g. GET); no duplicates; ≤ 20. */
  methods: z.array(z.string()).max(20).optional(),
  /** Paths, OR-ed; each exactly one of `exact`/`prefix`; ≤ 20. */
  paths: z.array(httpPathSchema).max(20).optional(),
});

export const httpMatchSchema = httpMatchShape.check(
  crossCheck<z.output<typeof httpMatchShape>>((h, ctx) => {
    const seen = new Set<string>();
    (h.methods ?? []).forEach((m, i) => {
      if (seen.has(m)) report(ctx, ['methods', i], `HTTP method "${m}" is listed twice`, { code: 'model/duplicate-value' });
      seen.add(m);
    });
  }),
);

export const serviceAccountMatchSchema = strict({
  /** Service account names, OR-ed; AND-ed with `selector`. */
  names: z.array(z.string()).optional(),
  /** Selector over service account labels; AND-ed with `names`. */
  selector: calicoSelector('allowed').optional(),
});

const nameField = z.string().max(253).check(stringRule('model/invalid-name', (v) => (v === '' ? undefined : checkCalicoName(v))));

export const serviceMatchSchema = strict({
  /** Kubernetes Service name; required, ≤ 253 characters. */
  name: nameField.optional(),
  /** Its namespace; in a NetworkPolicy empty means the policy's namespace; required in a GlobalNetworkPolicy. */
  namespace: nameField.optional(),
});

const domainField = z.string().check(stringRule('model/invalid-domain', checkDomainName));

const entityRuleShape = strict({
  /** Source/destination CIDRs, OR-ed; CIDR notation with zero host bits; ≤ 256. */
  nets: z.array(cidrString('strict')).max(256).optional(),
  /** CIDRs none of which may match; same syntax; a catch-all is rejected. */
  notNets: z.array(cidrString('strict')).max(256).optional(),
  /** Endpoints (and network sets) matching this selector; no global(). */
  selector: calicoSelector('forbidden').optional(),
  /** Excludes endpoints matching this selector. */
  notSelector: calicoSelector('allowed').optional(),
  /** Namespaces whose endpoints may match; `global()` (alone) means non-namespaced ones. */
  namespaceSelector: calicoSelector('only-alone').optional(),
  /** Ports: numbers, "min:max" ranges or names; numeric ones need protocol TCP/UDP/SCTP; ≤ 50. */
  ports: z.array(calicoPortSchema).max(50).optional(),
  /** Ports none of which may match; same syntax and rules as `ports`. */
  notPorts: z.array(calicoPortSchema).max(50).optional(),
  /** Pods running as matching service accounts. */
  serviceAccounts: serviceAccountMatchSchema.optional(),
  /** A Kubernetes Service's endpoints; excludes selectors, nets and serviceAccounts. */
  services: serviceMatchSchema.optional(),
  /** Calico Enterprise: destination domain names (egress Allow rules only); `*` wildcards. */
  domains: z.array(domainField).optional(),
});

export type EntityRule = z.output<typeof entityRuleShape>;

export const entityRuleSchema = entityRuleShape.check(
  crossCheck<EntityRule>((e, ctx) => {
    if (e.services === undefined) return;
    if ((e.services.name ?? '') === '') report(ctx, ['services', 'name'], 'services must name a Service', { code: 'model/invalid-services' });
    const conflicts: (keyof EntityRule)[] = ['selector', 'notSelector', 'namespaceSelector', 'nets', 'notNets', 'serviceAccounts'];
    for (const f of conflicts) {
      if (isSet(e[f])) report(ctx, [f], `${f} cannot be combined with services in the same rule side`, { code: 'model/invalid-services', atKey: true });
    }
  }),
);

const ruleShape = strict({
  /** Allow, Deny, Pass (skip to the next tier) or Log (and continue); exact spelling; required. */
  action: oneOf(RULE_ACTIONS, 'model/invalid-action'),
  /** Restricts the rule to IPv4 (4) or IPv6 (6) traffic. */
  ipVersion: tag(z.literal([4, 6]), { expected: '4 or 6' }).optional(),
  /** TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1–255; required by numeric ports. */
  protocol: calicoProtocolSchema.optional(),
  /** Protocol that must not match; same syntax. */
  notProtocol: calicoProtocolSchema.optional(),
  /** ICMP type/code; needs protocol ICMP or ICMPv6. */
  icmp: icmpSchema.optional(),
  /** ICMP type/code that must not match. */
  notICMP: icmpSchema.optional(),
  /** Match on the source. */
  source: entityRuleSchema.optional(),
  /** Match on the destination. */
  destination: entityRuleSchema.optional(),
  /** HTTP match (application layer); ingress Allow rules only, protocol TCP or unset. */
  http: httpMatchSchema.optional(),
  /** Free-form rule annotations. */
  metadata: strict({
    /** Annotations; keys qualified names. */
    annotations: annotationMapSchema.optional(),
  }).optional(),
});

export type Rule = z.output<typeof ruleShape>;

export const ruleSchema = ruleShape.check(crossCheck<Rule>((r, ctx) => checkRule(r, ctx)));

function isSet(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

function protocolNumber(p: number | string | undefined): number | undefined {
  if (p === undefined) return undefined;
  const r = parseProtocol(p);
  return r.ok ? r.value : undefined;
}

const SIDES = ['source', 'destination'] as const;
const PORT_FIELDS = ['ports', 'notPorts'] as const;
const NET_FIELDS = ['nets', 'notNets'] as const;

/** validateRule and the CEL rules on Rule: protocol/ports, IP families, ICMP, HTTP, services. */
function checkRule(r: Rule, ctx: CheckContext): void {
  const protocol = protocolNumber(r.protocol);
  // Ports need a protocol that has ports; named ports alone may go without a protocol.
  for (const side of SIDES) {
    for (const f of PORT_FIELDS) {
      const ports = r[side]?.[f] ?? [];
      if (ports.length === 0) continue;
      if (r.protocol === undefined) {
        if (!allPortsNamed(ports)) {
          report(ctx, [side, f], 'rules with numeric ports or port ranges must set protocol to TCP, UDP or SCTP', {
            code: 'model/ports-need-protocol',
            help: 'add "protocol: TCP" (or UDP, SCTP) to the rule',
          });
        }
      } else if (protocol !== undefined && !protocolSupportsPorts(protocol)) {
        report(ctx, [side, f], `rules that specify ports must set protocol to TCP, UDP or SCTP, not ${String(r.protocol)}`, { code: 'model/ports-need-protocol' });
      }
    }
  }
  checkNets(r, ctx);
  checkIcmp(r, protocol, ctx);
  if (r.http !== undefined) {
    if (r.protocol !== undefined && protocol !== 6) {
      report(ctx, ['http'], 'rules with an HTTP match must have protocol TCP or none', { code: 'model/invalid-http', atKey: true });
    }
    if (r.action !== 'Allow') report(ctx, ['http'], 'an HTTP match is only valid on Allow rules', { code: 'model/invalid-http', atKey: true });
  }
  const dst = r.destination;
  if (dst?.services !== undefined && (isSet(dst.ports) || isSet(dst.notPorts))) {
    report(ctx, ['destination', isSet(dst.ports) ? 'ports' : 'notPorts'], 'destination ports cannot be combined with destination services (the Service gives the ports)', {
      code: 'model/invalid-services',
      atKey: true,
    });
  }
  for (const side of SIDES) {
    const e = r[side];
    if (e === undefined || !isSet(e.domains)) continue;
    if (r.action !== 'Allow') report(ctx, [side, 'domains'], 'domains are only valid in Allow rules', { code: 'model/invalid-domain', atKey: true });
    if (isSet(e.nets) || isSet(e.selector)) {
      report(ctx, [side, 'domains'], 'domains cannot be combined with nets or selector in the same rule side', { code: 'model/invalid-domain', atKey: true });
    }
  }
}

/** CIDR families: one family per rule, matching ipVersion; no catch-all in notNets. */
function checkNets(r: Rule, ctx: CheckContext): void {
  let seen: IpFamily | undefined;
  let mixedReported = false;
  for (const side of SIDES) {
    for (const f of NET_FIELDS) {
      (r[side]?.[f] ?? []).forEach((text, i) => {
        const parsed = parseCidrText(text);
        if (!parsed.ok) return; // reported by the field
        const c = parsed.value.cidr;
        const at: Path = [side, f, i];
        if (f === 'notNets' && c.prefix === 0) {
          report(ctx, at, `"${text}" in notNets matches every address, so the rule could never match`, { code: 'model/invalid-cidr' });
        }
        if (r.ipVersion !== undefined && c.family !== r.ipVersion) {
          report(ctx, at, `"${text}" is an IPv${c.family} CIDR but the rule has ipVersion ${r.ipVersion}`, { code: 'model/ip-version-mismatch' });
        }
        if (seen !== undefined && c.family !== seen && !mixedReported) {
          report(ctx, at, 'a rule may not mix IPv4 and IPv6 CIDRs', { code: 'model/mixed-ip-families', help: 'split it into one rule per IP family' });
          mixedReported = true;
        }
        seen ??= c.family;
      });
    }
  }
}

/** CEL: icmp needs protocol ICMP/ICMPv6; ICMP means IPv4 and ICMPv6 means IPv6. */
function checkIcmp(r: Rule, protocol: number | undefined, ctx: CheckContext): void {
  if (r.icmp !== undefined && protocol !== 1 && protocol !== 58) {
    report(ctx, ['icmp'], 'ICMP fields require protocol ICMP or ICMPv6', { code: 'model/invalid-icmp', atKey: true });
  }
  for (const f of ['protocol', 'notProtocol'] as const) {
    const n = protocolNumber(r[f]);
    if (n === 1 && r.ipVersion === 6) report(ctx, [f], `${f} ICMP requires ipVersion 4 (use ICMPv6 for IPv6)`, { code: 'model/ip-version-mismatch' });
    if (n === 58 && r.ipVersion === 4) report(ctx, [f], `${f} ICMPv6 requires ipVersion 6 (use ICMP for IPv4)`, { code: 'model/ip-version-mismatch' });
  }
}
