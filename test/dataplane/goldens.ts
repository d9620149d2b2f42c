// The golden cases (scenario × node → full nft script), shared by the golden and the nft tests.
import { compileNode, renderNft } from '../../src/dataplane/index.ts';
import type { Ruleset } from '../../src/dataplane/index.ts';
import type { Cluster } from '../../src/engine/cluster.ts';
import type { Endpoint } from '../../src/engine/model.ts';
import { interfacesOf, SCENARIOS } from './fixtures.ts';

export function compileOrThrow(cluster: Cluster, eps: readonly Endpoint[], ifnames: ReadonlyMap<string, string>): Ruleset {
  const r = compileNode(cluster, eps, { interfaces: ifnames });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.value;
}

/** Every golden script: scenario × node. */
export function goldenCases(): { file: string; script: string }[] {
  const out: { file: string; script: string }[] = [];
  for (const make of SCENARIOS) {
    const s = make();
    const ifnames = interfacesOf(s.cluster.endpoints);
    for (const [node, eps] of s.nodes) out.push({ file: `${s.name}-${node}.nft`, script: renderNft(compileOrThrow(s.cluster, eps, ifnames)) });
  }
  return out;
}
