// Validated resources → the engine's cluster, the batch way: apply every resource to an empty
// live store and take its snapshot. Cross-resource problems (a policy in a tier that does not
// exist, a namespace nobody declared) come back as diagnostics with the span of the offending
// field; offline analysis keeps going past errors (`onError: 'keep'`), as Calico would.
import type { Diagnostic } from '../diagnostics/index.ts';
import type { Resource } from '../model/index.ts';
import type { Cluster } from './cluster.ts';
import type { PolicyConverter } from './derive.ts';
import { createPolicyStore } from './store.ts';

export interface BuildOptions {
  /** Assign addresses from this CIDR to workloads that have none (deterministic, for what-if analysis). */
  readonly podCidr?: string | undefined;
  readonly policyConverter?: PolicyConverter | undefined;
}

export interface BuildResult {
  readonly cluster: Cluster;
  readonly diagnostics: readonly Diagnostic[];
}

export function buildCluster(resources: readonly Resource[], options: BuildOptions = {}): BuildResult {
  const store = createPolicyStore(options);
  const applied = store.apply(
    resources.map((resource) => ({ op: 'upsert', resource })),
    { onError: 'keep' },
  );
  return { cluster: store.snapshot(), diagnostics: applied.diagnostics };
}
