// Minimal reproductions of disagreements the differential test found (shrunk from random seeds,
// then tidied by hand). Each is checked on every run: the engine must give the upstream verdict,
// and the reference must still give it too. See known-failures.md for the analysis of each.
import type { CalicoPolicySpec, FlowSpec, NetworkSetSpec, PodSpec, Scenario } from './scenario.ts';

export interface Regression {
  readonly title: string;
  /** Where it came from: the seed it was shrunk from (of the generator as it was then; not reproducible now). */
  readonly seed: number;
  readonly scenario: Scenario;
  readonly flow: FlowSpec;
  /** Calico's verdict, argued in known-failures.md. */
  readonly expected: 'allow' | 'deny';
}

function pod(namespace: string, name: string, ip: string, extra: Partial<PodSpec> = {}): PodSpec {
  return { namespace, name, labels: {}, ips: [ip], ports: [], ...extra };
}

function cluster(
  seed: number,
  namespaces: readonly string[],
  pods: readonly PodSpec[],
  networkSets: readonly NetworkSetSpec[],
  calicoPolicies: readonly CalicoPolicySpec[],
  flow: FlowSpec,
): Scenario {
  return {
    seed,
    namespaces: namespaces.map((name) => ({ name, labels: {} })),
    serviceAccounts: namespaces.map((namespace) => ({ namespace, name: 'default', labels: {} })),
    pods,
    networkSets,
    tiers: [],
    k8sPolicies: [],
    calicoPolicies,
    flows: [flow],
  };
}

function regression(title: string, seed: number, expected: 'allow' | 'deny', make: (flow: FlowSpec) => Scenario, flow: FlowSpec): Regression {
  return { title, seed, scenario: make(flow), flow, expected };
}

export const REGRESSIONS: readonly Regression[] = [
  regression(
    'NetworkPolicy with a lone notSelector: a pod of the namespace matches even if its address is in a (namespaced) NetworkSet the notSelector matches',
    178,
    'allow',
    (flow) =>
      cluster(
        178,
        ['alpha', 'gamma'],
        [pod('alpha', 'client', '10.0.3.184'), pod('alpha', 'server', '10.0.3.193')],
        [{ kind: 'NetworkSet', namespace: 'gamma', name: 'office', labels: { role: 'admin' }, nets: ['10.0.0.0/16'] }],
        [{ kind: 'NetworkPolicy', namespace: 'alpha', name: 'pass-non-admins', egress: [{ action: 'Pass', source: { notSelector: 'has(role)' } }] }],
        flow,
      ),
    { from: 'alpha/client', to: 'alpha/server', protocol: 'TCP', port: 80 },
  ),
  regression(
    'NetworkPolicy with a lone notSelector: a GlobalNetworkSet out of the policy\'s scope cannot veto a pod of the namespace',
    871,
    'allow',
    (flow) =>
      cluster(
        871,
        ['beta'],
        [pod('beta', 'client', '10.0.0.202', { labels: { app: 'api' } }), pod('beta', 'server', '10.0.0.47')],
        [{ kind: 'GlobalNetworkSet', name: 'everything', labels: {}, nets: ['10.0.0.0/8'] }],
        [{ kind: 'NetworkPolicy', namespace: 'beta', name: 'pass-api', egress: [{ action: 'Pass', source: { notSelector: "app not in {'api'}" } }] }],
        flow,
      ),
    { from: 'beta/client', to: 'beta/server', protocol: 'TCP', port: 8080 },
  ),
  regression(
    'GlobalNetworkPolicy selector + notSelector: the folded selector admits a GlobalNetworkSet whose CIDR holds the pod, though the pod itself matches the notSelector',
    216,
    'allow',
    (flow) =>
      cluster(
        216,
        ['beta'],
        [pod('beta', 'client', '10.0.0.57'), pod('beta', 'server', '10.0.0.227')],
        [{ kind: 'GlobalNetworkSet', name: 'everything', labels: {}, nets: ['10.0.0.0/8'] }],
        [
          {
            kind: 'GlobalNetworkPolicy',
            name: 'allow-non-pods',
            ingress: [{ action: 'Allow', destination: { selector: "app != 'db'", notSelector: "projectcalico.org/orchestrator == 'k8s'" } }],
          },
        ],
        flow,
      ),
    { from: 'beta/client', to: 'beta/server', protocol: 'UDP', port: 1234 },
  ),
  regression(
    'a named port with a selector on the same side: only pods that match the selector contribute the port, not pods inside a matching network set',
    760,
    'allow',
    (flow) =>
      cluster(
        760,
        ['beta', 'delta'],
        [
          pod('delta', 'client', '10.0.0.98'),
          pod('beta', 'server', '10.0.1.155', { ports: [{ name: 'metrics', containerPort: 9090, protocol: 'UDP' }] }),
        ],
        [{ kind: 'GlobalNetworkSet', name: 'admins', labels: { role: 'admin' }, nets: ['10.0.0.0/16'] }],
        [
          {
            kind: 'GlobalNetworkPolicy',
            name: 'deny-admin-metrics',
            ingress: [{ action: 'Deny', destination: { selector: 'has(role)', ports: ['metrics'] } }, { action: 'Allow' }],
          },
        ],
        flow,
      ),
    { from: 'delta/client', to: 'beta/server', protocol: 'UDP', port: 9090 },
  ),
  regression(
    'a named notPort with a selector on the same side: the negated named-port set is filtered by the selector too',
    760,
    'allow',
    (flow) =>
      cluster(
        760,
        ['beta', 'delta'],
        [
          pod('delta', 'client', '10.0.0.98'),
          pod('beta', 'server', '10.0.1.155', { ports: [{ name: 'metrics', containerPort: 9090, protocol: 'UDP' }] }),
        ],
        [{ kind: 'GlobalNetworkSet', name: 'admins', labels: { role: 'admin' }, nets: ['10.0.0.0/16'] }],
        [
          {
            kind: 'GlobalNetworkPolicy',
            name: 'allow-admins-but-metrics',
            types: ['Ingress'],
            ingress: [{ action: 'Allow', protocol: 'UDP', destination: { selector: 'has(role)', notPorts: ['metrics'] } }],
          },
        ],
        flow,
      ),
    { from: 'delta/client', to: 'beta/server', protocol: 'UDP', port: 9090 },
  ),
];
