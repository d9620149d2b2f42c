// Kubernetes `NetworkPolicy` (networking.k8s.io/v1), type `KubernetesNetworkPolicy` in Strata.
// Validation follows pkg/apis/networking/validation (ValidateNetworkPolicySpec/Port/Peer/IPBlock).
// The spec pieces are shared with Calico's StagedKubernetesNetworkPolicy.
import { z } from 'zod';
import { cidrContainsCidr, formatCidr, parseCidrText } from '../net/index.ts';
import { cidrString } from './cidr-field.ts';
import { labelSelectorSchema } from './label-selector.ts';
import { checkDns1123Subdomain } from './names.ts';
import { networkPolicyPortSchema } from './port.ts';
import { resourceSchema } from './resource-schema.ts';
import { crossCheck, hinted, oneOf, report, strict } from './schema-kit.ts';
import type { Path } from './schema-kit.ts';

const ipBlockShape = strict({
  /** Allowed network, CIDR notation ("10.0.0.0/16"); a bare address is rejected. Required. */
  cidr: cidrString('notation'),
  /** Networks carved out of `cidr`; each a strict subset of it. */
  except: z.array(cidrString('notation')).optional(),
});

const ipBlockSchema = ipBlockShape.check(
  crossCheck<z.output<typeof ipBlockShape>>((b, ctx) => {
    const outer = parseCidrText(b.cidr);
    if (!outer.ok) return;
    (b.except ?? []).forEach((text, i) => {
      const inner = parseCidrText(text);
      if (!inner.ok) return;
      const strictSubset = cidrContainsCidr(outer.value.cidr, inner.value.cidr) && inner.value.cidr.prefix > outer.value.cidr.prefix;
      if (!strictSubset) report(ctx, ['except', i], `"${text}" must be a strict subset of cidr "${b.cidr}"`, { code: 'model/invalid-cidr' });
    });
  }),
);

const peerShape = strict({
  /** Pods (in the policy's namespace, or in namespaces matching namespaceSelector). */
  podSelector: labelSelectorSchema.optional(),
  /** Namespaces whose pods match; `{}` = all namespaces. */
  namespaceSelector: labelSelectorSchema.optional(),
  /** Addresses; excludes the two selectors. */
  ipBlock: ipBlockSchema.optional(),
});

export const networkPolicyPeerSchema = peerShape.check(
  crossCheck<z.output<typeof peerShape>>((p, ctx) => {
    const n = [p.podSelector, p.namespaceSelector, p.ipBlock].filter((x) => x !== undefined).length;
    if (n === 0) report(ctx, [], 'a peer must specify podSelector, namespaceSelector or ipBlock', { code: 'model/missing-field' });
    else if (n > 1 && p.ipBlock !== undefined) report(ctx, ['ipBlock'], 'ipBlock may not be combined with podSelector or namespaceSelector in one peer', { code: 'model/invalid-combination', atKey: true });
  }),
);

const RULE_HINTS: Readonly<Record<string, string>> = {
  action: 'Kubernetes NetworkPolicy rules can only allow; to deny, use a Calico NetworkPolicy (projectcalico.org/v3)',
  source: 'Kubernetes ingress rules name peers in "from"',
  destination: 'Kubernetes egress rules name peers in "to"',
};

export const networkPolicyIngressRuleSchema = hinted(
  strict({
    /** Allowed destination ports; absent or empty = all ports. */
    ports: z.array(networkPolicyPortSchema).optional(),
    /** Allowed sources, OR-ed; absent or empty = from anywhere. */
    from: z.array(networkPolicyPeerSchema).optional(),
  }),
  { ...RULE_HINTS, to: 'ingress rules name their peers in "from"' },
);

export const networkPolicyEgressRuleSchema = hinted(
  strict({
    /** Allowed destination ports; absent or empty = all ports. */
    ports: z.array(networkPolicyPortSchema).optional(),
    /** Allowed destinations, OR-ed; absent or empty = anywhere. */
    to: z.array(networkPolicyPeerSchema).optional(),
  }),
  { ...RULE_HINTS, from: 'egress rules name their peers in "to"' },
);

/** The spec fields of NetworkPolicy (and of StagedKubernetesNetworkPolicy). */
export const kubernetesNetworkPolicySpecShape = {
  /** Pods in the policy's namespace it applies to; `{}` or absent = all of them. */
  podSelector: labelSelectorSchema.optional(),
  /** Ingress rules, OR-ed; empty with Ingress in policyTypes = deny all ingress. */
  ingress: z.array(networkPolicyIngressRuleSchema).optional(),
  /** Egress rules, OR-ed; empty with Egress in policyTypes = deny all egress. */
  egress: z.array(networkPolicyEgressRuleSchema).optional(),
  /** Ingress and/or Egress; absent = Ingress, plus Egress when there are egress rules. */
  policyTypes: z.array(oneOf(['Ingress', 'Egress'])).max(2).optional(),
};

export const KUBERNETES_SPEC_HINTS: Readonly<Record<string, string>> = {
  selector: 'Kubernetes NetworkPolicy selects pods with podSelector (matchLabels/matchExpressions)',
  types: 'Kubernetes spells it "policyTypes"',
  tier: 'Kubernetes NetworkPolicies are always in the default tier; use a Calico NetworkPolicy (projectcalico.org/v3) for other tiers',
  order: 'Kubernetes NetworkPolicies have order 1000; use a Calico NetworkPolicy (projectcalico.org/v3) to choose one',
};

export const kubernetesNetworkPolicySpecSchema = hinted(strict({ ...kubernetesNetworkPolicySpecShape }), KUBERNETES_SPEC_HINTS);

export const kubernetesNetworkPolicySchema = resourceSchema(
  {
    /** The policy; absent = select all pods, Ingress only, no rules (deny all ingress). */
    spec: kubernetesNetworkPolicySpecSchema.optional(),
    /** Status (Kubernetes 1.24–1.26 had one; `kubectl get -o yaml` still prints `status: {}`); ignored. */
    status: z.looseObject({}).optional(),
  },
  checkDns1123Subdomain,
);

export type KubernetesNetworkPolicy = z.output<typeof kubernetesNetworkPolicySchema>;
export type KubernetesNetworkPolicySpec = z.output<typeof kubernetesNetworkPolicySpecSchema>;

/** A finding that does not make the resource invalid. */
export interface Warning {
  readonly path: Path;
  readonly code: string;
  readonly message: string;
  readonly help?: string;
}

interface PeersView {
  readonly ingress?: readonly { readonly from?: readonly { readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] | undefined } | undefined }[] | undefined }[] | undefined;
  readonly egress?: readonly { readonly to?: readonly { readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] | undefined } | undefined }[] | undefined }[] | undefined;
}

/**
 * ipBlock CIDRs with host bits set (`10.0.0.1/24`): Kubernetes has accepted them (with a warning;
 * rejected under StrictIPCIDRValidation) and Calico uses the masked network.
 */
export function ipBlockWarnings(spec: PeersView | undefined, base: Path): Warning[] {
  const out: Warning[] = [];
  const check = (text: string, path: Path): void => {
    const r = parseCidrText(text);
    if (r.ok && r.value.hasPrefix && r.value.hostBitsSet) {
      out.push({
        path,
        code: 'model/cidr-host-bits',
        message: `"${text}" has bits set beyond the prefix; Calico uses "${formatCidr(r.value.cidr)}"`,
        help: `write "${formatCidr(r.value.cidr)}", or "${text.split('/')[0] ?? text}/${r.value.address.family === 4 ? 32 : 128}" for the single address`,
      });
    }
  };
  const dirs = [
    ['ingress', 'from', spec?.ingress?.map((r) => r.from)],
    ['egress', 'to', spec?.egress?.map((r) => r.to)],
  ] as const;
  for (const [dir, key, rules] of dirs) {
    (rules ?? []).forEach((peers, i) => {
      (peers ?? []).forEach((peer, j) => {
        const b = peer.ipBlock;
        if (b === undefined) return;
        check(b.cidr, [...base, dir, i, key, j, 'ipBlock', 'cidr']);
        (b.except ?? []).forEach((e, k) => check(e, [...base, dir, i, key, j, 'ipBlock', 'except', k]));
      });
    });
  }
  return out;
}
