// Tier, network sets, endpoints, threat feeds, the network-policy-api kinds and the Kubernetes
// workloads: one sentence per rule.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateYaml } from './helpers.ts';

type Case = readonly [name: string, yaml: string, errors: readonly string[], warnings?: readonly string[]];

function table(title: string, cases: readonly Case[]): void {
  describe(title, () => {
    for (const [name, yaml, errors, warnings] of cases) {
      test(name, () => {
        const o = validateYaml(yaml);
        assert.deepEqual(o.errors, errors, o.diagnostics.map((d) => `${d.code}@${d.path}: ${d.message}`).join('\n'));
        if (warnings !== undefined) assert.deepEqual(o.warnings, warnings);
      });
    }
  });
}

const tier = (name: string, spec: string): string => `apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: ${name}}\nspec: ${spec}`;

table('Tier: names, default action and the built-in tiers', [
  ['an ordinary tier', tier('security', '{order: 200}'), []],
  ['a tier with Pass', tier('platform', '{order: 300, defaultAction: Pass}'), []],
  ['an unordered tier', tier('later', '{}'), []],
  ['a lower-case default action', tier('x', '{defaultAction: pass}'), ['model/invalid-action@spec.defaultAction']],
  ['Allow is not a default action', tier('x', '{defaultAction: Allow}'), ['model/invalid-action@spec.defaultAction']],
  ['a dotted tier name', tier('sec.ops', '{}'), ['model/invalid-name@metadata.name']],
  ['a 64-character tier name', tier('a'.repeat(64), '{}'), ['model/invalid-name@metadata.name']],
  ['the default tier as Calico creates it', tier('default', '{order: 1000000, defaultAction: Deny}'), []],
  ['the default tier, action defaulted to Deny', tier('default', '{order: 1000000}'), []],
  ['the default tier with another order', tier('default', '{order: 100}'), ['model/invalid-tier@spec.order']],
  ['the default tier without an order', tier('default', '{}'), ['model/invalid-tier@spec']],
  ['the default tier with Pass', tier('default', '{order: 1000000, defaultAction: Pass}'), ['model/invalid-tier@spec.defaultAction']],
  ['kube-admin defaulted to Deny', tier('kube-admin', '{order: 1000}'), ['model/invalid-tier@spec.defaultAction']],
  ['kube-admin as Calico creates it', tier('kube-admin', '{order: 1000, defaultAction: Pass}'), []],
  ['kube-baseline with the wrong order', tier('kube-baseline', '{order: 1000, defaultAction: Pass}'), ['model/invalid-tier@spec.order']],
  ['an unknown spec field', tier('x', '{orders: 1}'), ['model/unknown-field@spec.orders']],
]);

const netset = (kind: string, spec: string, labels = '{}'): string =>
  `apiVersion: projectcalico.org/v3\nkind: ${kind}\nmetadata:\n  name: nets\n  namespace: prod\n  labels: ${labels}\nspec: ${spec}`;

table('NetworkSet and GlobalNetworkSet: lenient CIDRs, reserved label', [
  ['CIDRs and bare addresses', netset('NetworkSet', "{nets: [10.0.0.0/8, 192.168.1.1, 'fd00::/8', 'fd00::1']}"), [], []],
  ['host bits are masked with a warning', netset('NetworkSet', '{nets: [10.0.0.1/24]}'), [], ['model/cidr-host-bits@spec.nets[0]']],
  ['not a CIDR', netset('NetworkSet', '{nets: [10.0.0.300/8]}'), ['model/invalid-cidr@spec.nets[0]']],
  ['the namespace label is reserved', netset('NetworkSet', '{}', "{projectcalico.org/namespace: x}"), ['model/invalid-label@metadata.labels.projectcalico.org/namespace']],
  ['Enterprise egress domains', netset('GlobalNetworkSet', "{allowedEgressDomains: ['*.example.com', api.example.org]}"), []],
  ['a bad egress domain', netset('GlobalNetworkSet', "{allowedEgressDomains: ['exa mple.com']}"), ['model/invalid-domain@spec.allowedEgressDomains[0]']],
  ['a cluster-scoped set ignores metadata.namespace', netset('GlobalNetworkSet', '{}'), [], ['model/namespace-ignored@metadata.namespace']],
]);

const hep = (spec: string): string => `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: node1-eth0}\nspec: ${spec}`;

table('HostEndpoint: node, interface or addresses, named ports', [
  ['an interface endpoint', hep("{node: node1, interfaceName: eth0, expectedIPs: [10.0.0.5, 'fd00::5'], profiles: [p1], ports: [{name: ssh, protocol: TCP, port: 22}]}"), []],
  ['all of a host', hep("{node: node1, interfaceName: '*'}"), []],
  ['no node', hep('{interfaceName: eth0}'), ['model/missing-field@spec.node']],
  ['neither interface nor addresses', hep('{node: node1}'), ['model/missing-field@spec']],
  ['a bad address', hep('{node: node1, expectedIPs: [10.0.0.5/32]}'), ['model/invalid-ip@spec.expectedIPs[0]']],
  ['a long interface name', hep('{node: node1, interfaceName: a-very-long-interface}'), ['model/invalid-value@spec.interfaceName']],
  ['a port without a name', hep('{node: n, interfaceName: eth0, ports: [{protocol: TCP, port: 22}]}'), ['model/missing-field@spec.ports[0].name']],
  ['a port with ICMP', hep('{node: n, interfaceName: eth0, ports: [{name: p, protocol: ICMP, port: 22}]}'), ['model/invalid-protocol@spec.ports[0].protocol']],
  ['port 0', hep('{node: n, interfaceName: eth0, ports: [{name: p, protocol: UDP, port: 0}]}'), ['model/port-out-of-range@spec.ports[0].port']],
]);

const wep = (spec: string): string => `apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata: {name: node1-k8s-web-eth0, namespace: prod, labels: {app: web}}\nspec: ${spec}`;

table('WorkloadEndpoint: single addresses, interface, ports', [
  ['a calicoctl-style endpoint', wep("{orchestrator: k8s, node: node1, pod: web, endpoint: eth0, interfaceName: cali123, ipNetworks: [10.1.2.3/32, 'fd00::3/128'], profiles: [kns.prod], ports: [{name: http, protocol: TCP, port: 80}]}"), []],
  ['a bare address is a /32', wep('{interfaceName: cali1, ipNetworks: [10.1.2.3]}'), []],
  ['a network with several addresses', wep('{interfaceName: cali1, ipNetworks: [10.1.2.0/24]}'), ['model/invalid-cidr@spec.ipNetworks[0]']],
  ['no interface name', wep('{ipNetworks: [10.1.2.3]}'), ['model/missing-field@spec.interfaceName']],
  ['a nameless port without a host port', wep('{interfaceName: c, ports: [{protocol: TCP, port: 80}]}'), ['model/missing-field@spec.ports[0]']],
  ['a nameless host port', wep('{interfaceName: c, ports: [{protocol: TCP, port: 80, hostPort: 8080}]}'), []],
]);

const feed = (spec: string): string => `apiVersion: projectcalico.org/v3\nkind: GlobalThreatFeed\nmetadata: {name: otx}\nspec: ${spec}`;

table('GlobalThreatFeed', [
  ['the documented sample', feed("{content: IPSet, mode: Enabled, description: sample, feedType: Custom, globalNetworkSet: {labels: {level: high}}, pull: {period: 24h, http: {format: {newlineDelimited: {}}, url: 'https://example.com/list', headers: [{name: Accept, value: text/plain}]}}}"), []],
  ['defaults only', feed('{}'), []],
  ['a domain feed synced to a network set', feed('{content: DomainNameSet, globalNetworkSet: {}}'), ['model/invalid-combination@spec.globalNetworkSet']],
  ['a pull period of two seconds (Strata allows ≥ 1s, Calico ≥ 5m)', feed("{pull: {period: 2s, http: {url: 'http://127.0.0.1:8080/feed'}}}"), []],
  ['a pull period under one second', feed("{pull: {period: 500ms, http: {url: 'https://x'}}}"), ['model/invalid-value@spec.pull.period']],
  ['a pull period beyond what Go can hold', feed("{pull: {period: 3000000h, http: {url: 'https://x'}}}"), ['model/invalid-value@spec.pull.period']],
  ['a pull period of 1.5h', feed("{pull: {period: 1.5h, http: {url: 'https://x'}}}"), []],
  ['a negative pull period', feed("{pull: {period: -1h, http: {url: 'https://x'}}}"), ['model/invalid-value@spec.pull.period']],
  ['a period that is not a duration', feed("{pull: {period: daily, http: {url: 'https://x'}}}"), ['model/invalid-value@spec.pull.period']],
  ['an ftp URL', feed("{pull: {http: {url: 'ftp://x'}}}"), ['model/invalid-value@spec.pull.http.url']],
  ['a file URL', feed("{pull: {http: {url: 'file:///etc/passwd'}}}"), ['model/invalid-value@spec.pull.http.url']],
  ['an https URL without a host', feed("{pull: {http: {url: 'https://'}}}"), ['model/invalid-value@spec.pull.http.url']],
  ['a URL with one slash', feed("{pull: {http: {url: 'http:/x'}}}"), ['model/invalid-value@spec.pull.http.url']],
  ['a URL with a space in the host', feed("{pull: {http: {url: 'https://ex ample.com/x'}}}"), ['model/invalid-value@spec.pull.http.url']],
  ['two formats', feed("{pull: {http: {url: 'https://x', format: {newlineDelimited: {}, json: {path: $.a}}}}}"), ['model/invalid-combination@spec.pull.http.format']],
  ['a CSV format without a field', feed("{pull: {http: {url: 'https://x', format: {csv: {header: true}}}}}"), ['model/missing-field@spec.pull.http.format.csv']],
  ['a bad mode', feed('{mode: On}'), ['model/invalid-value@spec.mode']],
]);

const anp = (spec: string, name = 'a'): string => `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: ${name}}\nspec: ${spec}`;
const banp = (spec: string, name = 'default'): string => `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: ${name}}\nspec: ${spec}`;
const cnp = (spec: string): string => `apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec: ${spec}`;

table('AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy', [
  [
    'an admin policy with every peer kind',
    anp("{priority: 10, subject: {namespaces: {}}, ingress: [{name: r, action: Allow, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {a: b}}}}], ports: [{portNumber: {port: 80}}, {portRange: {start: 1, end: 9}}, {namedPort: http}]}], egress: [{action: Pass, to: [{networks: [10.0.0.0/8]}, {domainNames: ['*.example.com']}, {nodes: {}}]}]}"),
    [],
  ],
  ['a priority over 1000', anp('{priority: 1001, subject: {namespaces: {}}}'), ['model/invalid-value@spec.priority']],
  ['a missing subject', anp('{priority: 1}'), ['model/missing-field@spec.subject']],
  ['a subject with two fields', anp('{priority: 1, subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}}'), ['model/invalid-combination@spec.subject.pods']],
  ['an empty peer', anp('{priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{}]}]}'), ['model/missing-field@spec.ingress[0].from[0]']],
  ['an Accept action in v1alpha1', anp('{priority: 1, subject: {namespaces: {}}, ingress: [{action: Accept, from: [{namespaces: {}}]}]}'), ['model/invalid-action@spec.ingress[0].action']],
  ['no peers', anp('{priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: []}]}'), ['model/invalid-value@spec.ingress[0].from']],
  ['an inverted port range', anp('{priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}], ports: [{portRange: {start: 9, end: 9}}]}]}'), ['model/port-out-of-range@spec.ingress[0].ports[0].portRange.end']],
  ['a bare address as a network', anp('{priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: [10.0.0.1]}]}]}'), ['model/invalid-cidr@spec.egress[0].to[0].networks[0]']],
  // The experimental CRD's CEL rule rejects this; Calico and np-guard read it (the named port matches pods only).
  ['networks with a named port', anp('{priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: [10.0.0.0/8]}], ports: [{namedPort: dns}]}]}'), [], ['model/named-port-without-pods@spec.egress[0].ports[0]']],
  ['a pods peer without podSelector (required by the CRD, read as {})', anp('{priority: 1, subject: {pods: {namespaceSelector: {}}}}'), [], ['model/missing-selector@spec.subject.pods']],
  ['a v1alpha1 pods peer without namespaceSelector', anp('{priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{pods: {podSelector: {}}}]}]}'), [], ['model/missing-selector@spec.ingress[0].from[0].pods']],
  ['a v1alpha2 pods peer without namespaceSelector (optional there)', cnp('{tier: Admin, priority: 5, subject: {pods: {podSelector: {}}}}'), [], []],
  ['an unknown peer type', anp('{priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{services: {}}]}]}'), ['model/unknown-field@spec.egress[0].to[0].services']],
  ['a negative priority', cnp('{tier: Admin, priority: -1, subject: {namespaces: {}}}'), ['model/invalid-value@spec.priority']],
  ['a wildcard in the middle of a domain', anp("{priority: 1, subject: {namespaces: {}}, egress: [{action: Allow, to: [{domainNames: ['a.*.com']}]}]}"), ['model/invalid-domain@spec.egress[0].to[0].domainNames[0]']],
  ['the baseline policy', banp('{subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]}'), []],
  ['a baseline policy not named default', banp('{subject: {namespaces: {}}}', 'other'), ['model/invalid-name@metadata.name']],
  ['Pass in a baseline policy', banp('{subject: {namespaces: {}}, ingress: [{action: Pass, from: [{namespaces: {}}]}]}'), ['model/invalid-action@spec.ingress[0].action']],
  ['domains in a baseline policy', banp("{subject: {namespaces: {}}, egress: [{action: Deny, to: [{domainNames: ['x.com']}]}]}"), ['model/unknown-field@spec.egress[0].to[0].domainNames']],
  [
    'a cluster network policy',
    cnp("{tier: Admin, priority: 5, subject: {namespaces: {matchLabels: {a: b}}}, ingress: [{action: Accept, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {number: 80}}}, {udp: {destinationPort: {range: {start: 1, end: 2}}}}, {destinationNamedPort: dns}]}]}"),
    [],
  ],
  ['a cluster policy without a tier', cnp('{priority: 5, subject: {namespaces: {}}}'), ['model/missing-field@spec.tier']],
  ['a cluster policy with tier admin', cnp('{tier: admin, priority: 5, subject: {namespaces: {}}}'), ['model/invalid-value@spec.tier']],
  ['Allow in v1alpha2', cnp('{tier: Baseline, priority: 5, subject: {namespaces: {}}, ingress: [{action: Allow, from: [{namespaces: {}}]}]}'), ['model/invalid-action@spec.ingress[0].action']],
  ['an empty tcp match', cnp('{tier: Admin, priority: 5, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {}}]}]}'), ['model/missing-field@spec.ingress[0].protocols[0].tcp']],
  ['a start not below the end', cnp('{tier: Admin, priority: 5, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 5, end: 5}}}}]}]}'), ['model/port-out-of-range@spec.ingress[0].protocols[0].tcp.destinationPort.range.end']],
]);

table('Namespace, Pod, Service, ServiceAccount', [
  ['a namespace', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {team: a}}', []],
  ['a namespace name with a dot', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: prod.eu}', ['model/invalid-name@metadata.name']],
  ['a label value that is a number', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {version: 2}}', ['model/invalid-value@metadata.labels.version']],
  ['a bad label key', "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {'-team': a}}", ['model/invalid-label@metadata.labels.-team']],
  [
    'a pod with ports, service account and addresses',
    "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: prod, labels: {app: web}}\nspec:\n  serviceAccountName: web\n  containers:\n    - name: c\n      image: nginx\n      resources: {limits: {cpu: 1}}\n      ports: [{name: http, containerPort: 80}, {containerPort: 53, protocol: UDP}]\nstatus: {phase: Running, podIP: 10.1.0.5, podIPs: [{ip: 10.1.0.5}, {ip: 'fd00::5'}]}",
    [],
  ],
  ['a pod without containers', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}', ['model/missing-field@spec.containers']],
  ['a container port out of range', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: 70000}]}]}', ['model/port-out-of-range@spec.containers[0].ports[0].containerPort']],
  // Kubernetes decodes unknown pod-spec fields away; the engine warns about the port left without a number.
  ['a misspelt container port field passes through', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerport: 80}]}]}', []],
  ['a port name used twice', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, ports: [{name: http, containerPort: 80}]}, {name: b, ports: [{name: http, containerPort: 81}]}]}', ['model/duplicate-value@spec.containers[1].ports[0].name']],
  ['a bad pod address', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\nstatus: {podIP: 10.1.0.500}', ['model/invalid-ip@status.podIP']],
  ['two IPv4 pod addresses', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\nstatus: {podIPs: [{ip: 10.1.0.5}, {ip: 10.1.0.6}]}', ['model/duplicate-value@status.podIPs[1].ip']],
  ['unknown pod spec fields pass through', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, whatever: 1}], affinity: {x: 1}}', []],
  ['a service', 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: prod}\nspec: {type: ClusterIP, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}, {name: grpc, port: 9090, targetPort: grpc}]}', []],
  ['a service with two unnamed ports', 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}, {port: 81}]}', ['model/missing-field@spec.ports[0]', 'model/missing-field@spec.ports[1]']],
  ['a service name starting with a digit', 'apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {}', ['model/invalid-name@metadata.name']],
  ['a quoted numeric targetPort', "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80, targetPort: '8080'}]}", ['model/invalid-port@spec.ports[0].targetPort']],
  ['a service account', 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: prod, labels: {role: api}}\nautomountServiceAccountToken: false', []],
]);

const workload = (kind: string, apiVersion: string, spec: string): string => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: web, namespace: prod}\nspec: ${spec}`;
const template = '{metadata: {labels: {app: web}}, spec: {serviceAccountName: web, containers: [{name: c, ports: [{containerPort: 80}]}]}}';

table('endpoint groups: selector and pod template', [
  ['a deployment', workload('Deployment', 'apps/v1', `{replicas: 3, selector: {matchLabels: {app: web}}, template: ${template}}`), []],
  ['a stateful set', workload('StatefulSet', 'apps/v1', `{serviceName: web, selector: {matchLabels: {app: web}}, template: ${template}}`), []],
  ['a daemon set', workload('DaemonSet', 'apps/v1', `{selector: {matchExpressions: [{key: app, operator: Exists}]}, template: ${template}}`), []],
  ['a replica set', workload('ReplicaSet', 'apps/v1', `{selector: {matchLabels: {app: web}}, template: ${template}}`), []],
  ['a job without a selector', workload('Job', 'batch/v1', `{template: ${template}}`), []],
  ['a cron job', workload('CronJob', 'batch/v1', `{schedule: '*/5 * * * *', jobTemplate: {spec: {template: ${template}}}}`), []],
  ['a selector that misses the template labels', workload('Deployment', 'apps/v1', `{selector: {matchLabels: {app: api}}, template: ${template}}`), ['model/invalid-selector@spec.template.metadata.labels']],
  ['an empty selector', workload('Deployment', 'apps/v1', `{selector: {}, template: ${template}}`), ['model/invalid-selector@spec.selector']],
  ['a deployment without a selector', workload('Deployment', 'apps/v1', `{template: ${template}}`), ['model/missing-field@spec.selector']],
  ['a cron job without its job template', workload('CronJob', 'batch/v1', "{schedule: '@daily'}"), ['model/missing-field@spec.jobTemplate']],
  ['a cron job name over 52 characters', `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: ${'c'.repeat(53)}}\nspec: {schedule: '@daily', jobTemplate: {spec: {template: ${template}}}}`, ['model/invalid-name@metadata.name']],
  ['a template port with a bad protocol', workload('Deployment', 'apps/v1', '{selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, ports: [{containerPort: 80, protocol: tcp}]}]}}}'), ['model/invalid-protocol@spec.template.spec.containers[0].ports[0].protocol']],
]);
