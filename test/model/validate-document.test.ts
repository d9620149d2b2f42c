// validateDocument: which kinds are accepted as which types, what is skipped, and the envelope.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RESOURCE_TYPES, syntheticOrigin, validateDocument } from '../../src/model/index.ts';
import type { ResourceType } from '../../src/model/index.ts';
import { validateYaml } from './helpers.ts';

const template = '{metadata: {labels: {app: a}}, spec: {containers: [{name: c}]}}';

/** A minimal valid manifest of every type. */
const MINIMAL: { readonly [T in ResourceType]: string } = {
  Namespace: 'apiVersion: v1\nkind: Namespace\nmetadata: {name: n}',
  Pod: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}',
  Service: 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {app: a}}',
  ServiceAccount: 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}',
  Deployment: `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {app: a}}, template: ${template}}`,
  StatefulSet: `apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: d}\nspec: {selector: {matchLabels: {app: a}}, template: ${template}}`,
  DaemonSet: `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec: {selector: {matchLabels: {app: a}}, template: ${template}}`,
  ReplicaSet: `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: d}\nspec: {selector: {matchLabels: {app: a}}, template: ${template}}`,
  Job: `apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {template: ${template}}`,
  CronJob: `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: j}\nspec: {schedule: '@daily', jobTemplate: {spec: {template: ${template}}}}`,
  KubernetesNetworkPolicy: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: k}\nspec: {podSelector: {}}',
  Tier: 'apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {order: 1}',
  NetworkPolicy: 'apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: n}\nspec: {}',
  GlobalNetworkPolicy: 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec: {}',
  StagedNetworkPolicy: 'apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: s}\nspec: {}',
  StagedGlobalNetworkPolicy: 'apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: s}\nspec: {}',
  StagedKubernetesNetworkPolicy: 'apiVersion: projectcalico.org/v3\nkind: StagedKubernetesNetworkPolicy\nmetadata: {name: s}\nspec: {}',
  NetworkSet: 'apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata: {name: s}\nspec: {nets: [10.0.0.0/8]}',
  GlobalNetworkSet: 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: s}\nspec: {}',
  HostEndpoint: 'apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: h}\nspec: {node: n, interfaceName: eth0}',
  WorkloadEndpoint: 'apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata: {name: w}\nspec: {interfaceName: cali0}',
  GlobalThreatFeed: 'apiVersion: projectcalico.org/v3\nkind: GlobalThreatFeed\nmetadata: {name: f}\nspec: {}',
  AdminNetworkPolicy: 'apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\nspec: {priority: 1, subject: {namespaces: {}}}',
  BaselineAdminNetworkPolicy: 'apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec: {subject: {namespaces: {}}}',
  ClusterNetworkPolicy: 'apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec: {tier: Admin, priority: 1, subject: {namespaces: {}}}',
  ConnectivityInvariant: "apiVersion: strata/v1\nkind: ConnectivityInvariant\nmetadata: {name: i}\nspec: {from: {namespaceSelector: all()}, to: {nets: [0.0.0.0/0]}, must: deny}",
};

const CLUSTER_SCOPED: ReadonlySet<ResourceType> = new Set([
  'Namespace',
  'Tier',
  'GlobalNetworkPolicy',
  'StagedGlobalNetworkPolicy',
  'GlobalNetworkSet',
  'HostEndpoint',
  'GlobalThreatFeed',
  'AdminNetworkPolicy',
  'BaselineAdminNetworkPolicy',
  'ClusterNetworkPolicy',
  'ConnectivityInvariant',
]);

describe('every resource type loads from a minimal manifest', () => {
  test('the table covers every type', () => assert.deepEqual(Object.keys(MINIMAL).sort(), [...RESOURCE_TYPES].sort()));
  for (const type of RESOURCE_TYPES) {
    test(`${type} is loaded as type ${type}${CLUSTER_SCOPED.has(type) ? ', cluster-scoped' : ', in namespace default'}`, () => {
      const o = validateYaml(MINIMAL[type]);
      assert.deepEqual(o.errors, [], o.diagnostics.map((d) => `${d.code}@${d.path}: ${d.message}`).join('\n'));
      assert.equal(o.resource?.type, type);
      assert.equal(o.resource?.namespace, CLUSTER_SCOPED.has(type) ? undefined : 'default');
      assert.equal(o.resource?.name, /name: ([^}\n]+)/.exec(MINIMAL[type])?.[1]);
    });
  }
  test('Calico kinds also load from crd.projectcalico.org/v1', () => {
    const o = validateYaml(MINIMAL.Tier.replace('projectcalico.org/v3', 'crd.projectcalico.org/v1'));
    assert.equal(o.resource?.type, 'Tier');
    assert.equal(o.resource?.apiVersion, 'crd.projectcalico.org/v1');
  });
  test('the two NetworkPolicy kinds are told apart by apiVersion', () => {
    assert.equal(validateYaml(MINIMAL.KubernetesNetworkPolicy).resource?.kind, 'NetworkPolicy');
    assert.equal(validateYaml(MINIMAL.NetworkPolicy).resource?.kind, 'NetworkPolicy');
    assert.notEqual(validateYaml(MINIMAL.KubernetesNetworkPolicy).resource?.type, validateYaml(MINIMAL.NetworkPolicy).resource?.type);
  });
  test('the body is the whole object with upstream field names', () => {
    const r = validateYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: n, labels: {a: b}, annotations: {x: y}}').resource;
    assert.deepEqual(r?.body, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n', labels: { a: 'b' }, annotations: { x: 'y' } } });
  });
});

describe('kinds Strata does not use are skipped, never errors', () => {
  const cases: readonly [string, string, 'info' | 'warning'][] = [
    ['a ConfigMap', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}', 'info'],
    ['an Ingress', 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}', 'info'],
    ['a CRD of another project', 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c}', 'info'],
    ['another Calico kind Strata does not read', 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: g}', 'info'],
  ];
  for (const [name, yaml, severity] of cases) {
    test(`${name} is skipped with ${severity} load/skipped-kind`, () => {
      const o = validateYaml(yaml);
      assert.equal(o.ok, true);
      assert.equal(o.resource, undefined);
      assert.deepEqual(
        o.diagnostics.map((d) => [d.code, d.severity]),
        [['load/skipped-kind', severity]],
      );
    });
  }
});

describe('a kind that would silently drop a policy is an error, not a skip', () => {
  const cases: readonly [string, string, RegExp][] = [
    ['a near-miss of a known kind (GlobalNetworkPolicyy)', 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicyy\nmetadata: {name: g}', /did you mean "GlobalNetworkPolicy"\?/],
    ['a near-miss in another group (NetworkPolcy)', 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolcy\nmetadata: {name: g}', /did you mean "NetworkPolicy"\?/],
    ['a known policy group with an unknown kind', 'apiVersion: projectcalico.org/v3\nkind: ClusterPolicy\nmetadata: {name: g}', /kinds of projectcalico\.org Strata reads: .*"GlobalNetworkPolicy"/],
    ['the policy API group with an unknown kind', 'apiVersion: policy.networking.k8s.io/v1alpha1\nkind: NamespacePolicy\nmetadata: {name: g}', /AdminNetworkPolicy/],
  ];
  for (const [name, yaml, help] of cases) {
    test(name, () => {
      const o = validateYaml(yaml);
      assert.deepEqual(o.errors, ['model/unknown-kind@kind']);
      assert.match(o.diagnostics[0]?.help ?? '', help);
    });
  }
});

describe('a known kind at an apiVersion that does not serve it is an error', () => {
  const cases: readonly [string, string, string][] = [
    ['an old Deployment group', 'apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}', 'use apiVersion: apps/v1'],
    ['Calico v1', 'apiVersion: projectcalico.org/v1\nkind: GlobalNetworkPolicy\nmetadata: {name: g}', 'use apiVersion: projectcalico.org/v3'],
    ['a NetworkPolicy in core v1', 'apiVersion: v1\nkind: NetworkPolicy\nmetadata: {name: n}', 'use apiVersion: networking.k8s.io/v1'],
    ['ClusterNetworkPolicy at v1alpha1', 'apiVersion: policy.networking.k8s.io/v1alpha1\nkind: ClusterNetworkPolicy\nmetadata: {name: c}', 'use apiVersion: policy.networking.k8s.io/v1alpha2'],
  ];
  for (const [name, yaml, help] of cases) {
    test(name, () => {
      const o = validateYaml(yaml);
      assert.deepEqual(o.errors, ['model/unsupported-api-version@apiVersion']);
      assert.equal(o.diagnostics[0]?.help, help);
    });
  }
});

describe('the envelope: a mapping with apiVersion, kind and metadata.name', () => {
  const cases: readonly [string, unknown, readonly string[]][] = [
    ['a list is not a resource', [1, 2], ['model/invalid-document@']],
    ['a string is not a resource', 'https://example.com/deploy.yaml', ['model/invalid-document@']],
    ['no apiVersion', { kind: 'Namespace', metadata: { name: 'a' } }, ['model/missing-field@apiVersion']],
    ['no kind', { apiVersion: 'v1', metadata: { name: 'a' } }, ['model/missing-field@kind']],
    ['neither', { metadata: { name: 'a' } }, ['model/missing-field@apiVersion', 'model/missing-field@kind']],
    ['a numeric kind', { apiVersion: 'v1', kind: 3 }, ['model/invalid-value@kind']],
    ['no metadata', { apiVersion: 'v1', kind: 'Namespace' }, ['model/missing-field@metadata']],
    ['a generateName instead of a name', { apiVersion: 'v1', kind: 'Namespace', metadata: { generateName: 'x-' } }, ['model/missing-field@metadata.name']],
    ['a bad namespace', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'Prod' }, spec: { containers: [{}] } }, ['model/invalid-name@metadata.namespace']],
  ];
  for (const [name, doc, errors] of cases) {
    test(name, () => {
      const r = validateDocument(doc, syntheticOrigin('<t>'));
      assert.equal(r.ok, false);
      assert.deepEqual(
        r.diagnostics.map((d) => `${d.code}@${d.path ?? ''}`),
        errors,
      );
    });
  }
  test('a mangled apiVersion key is pointed out', () => {
    const r = validateDocument({ ßapiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, syntheticOrigin('<t>'));
    assert.equal(r.diagnostics[0]?.help, 'found the key "ßapiVersion": did you mean "apiVersion"?');
  });
  test('generateName gets a help', () => {
    const r = validateDocument({ apiVersion: 'v1', kind: 'Namespace', metadata: { generateName: 'x-' } }, syntheticOrigin('<t>'));
    assert.match(r.diagnostics[0]?.help ?? '', /generateName is not supported/);
  });
  test('a namespace on a cluster-scoped resource is ignored with a warning', () => {
    const o = validateYaml('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g, namespace: prod}\nspec: {}');
    assert.equal(o.resource?.namespace, undefined);
    assert.deepEqual(o.warnings, ['model/namespace-ignored@metadata.namespace']);
  });
  test('every ObjectMeta field kubectl prints is accepted', () => {
    const o = validateYaml(
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  uid: 1\n  resourceVersion: "5"\n  generation: 2\n  creationTimestamp: null\n  deletionTimestamp: "2024-01-01T00:00:00Z"\n  deletionGracePeriodSeconds: 30\n  selfLink: /x\n  generateName: n-\n  finalizers: [a]\n  ownerReferences: [{kind: X}]\n  managedFields: [{manager: kubectl}]',
    );
    assert.deepEqual(o.errors, ['model/invalid-value@metadata.uid']);
  });
});
