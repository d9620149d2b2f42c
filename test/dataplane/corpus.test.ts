// The scenario corpus (testdata/scenarios: Kubernetes e2e, cyclonus, np-guard), loaded and built
// by the real loader and engine, compiled for two nodes, and every flow of each case's
// expect.jsonl plus every endpoint pair on its declared ports decided by the compiled IR exactly as
// the engine decides it (check.ts). The engine's agreement with the corpus is checked elsewhere
// (test/scenarios); here the dataplane must agree with the engine.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildCluster } from '../../src/engine/build.ts';
import { makeFlow } from '../../src/engine/flow.ts';
import type { Endpoint } from '../../src/engine/model.ts';
import { loadPaths } from '../../src/load/index.ts';
import { listCases } from '../scenarios/corpus.ts';
import type { ExpectedFlow } from '../scenarios/corpus.ts';
import { checkFlow, compileNodes } from './check.ts';

/** For cases whose workloads have no address (Deployments): far from every address the corpus uses. */
const POD_CIDR = '100.64.0.0/16';

describe('scenario corpus: the compiled dataplane decides as the engine', () => {
  for (const c of listCases()) {
    it(c.id, async (t) => {
      const loaded = await loadPaths([c.dir]);
      const { cluster, diagnostics } = buildCluster(loaded.resources, { podCidr: POD_CIDR });
      const errors = [...loaded.diagnostics, ...diagnostics].filter((d) => d.severity === 'error');
      if (errors.length > 0) {
        // Not the dataplane's to judge: the loader's and engine's tests cover invalid input.
        t.skip(`does not load cleanly: ${errors.map((d) => d.message).join('; ')}`);
        return;
      }

      // Two nodes, endpoints alternating, so both same-node and cross-node paths are taken.
      const workloads = [...cluster.endpoints].filter((e) => e.kind === 'workload').sort((a, b) => (a.id < b.id ? -1 : 1));
      const nodes = new Map<string, Endpoint[]>([
        ['node-a', workloads.filter((_, i) => i % 2 === 0)],
        ['node-b', workloads.filter((_, i) => i % 2 === 1)],
      ]);
      const compiled = compileNodes(cluster, nodes);

      let checked = 0;
      const lines = readFileSync(join(c.dir, 'expect.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '');
      for (const line of lines) {
        const e = JSON.parse(line) as ExpectedFlow;
        const flow = makeFlow(cluster, { from: e.from, to: e.to, port: e.port, protocol: e.protocol, srcPort: 40000 });
        if (!flow.ok) continue; // e.g. ICMP lines with port 0: the corpus test covers them
        if (checkFlow(compiled, flow.value, `${c.id} ${line}`) !== undefined) checked++;
      }
      for (const src of workloads) {
        for (const dst of workloads) {
          const targets = new Set([...dst.ports.map((p) => `${p.protocol}/${p.port}`), '6/80', '6/81', '17/53']);
          for (const t of targets) {
            const [proto, port] = t.split('/').map(Number);
            const flow = makeFlow(cluster, { from: src.id, to: dst.id, port: port!, protocol: proto!, srcPort: 40000 });
            if (flow.ok && checkFlow(compiled, flow.value, c.id) !== undefined) checked++;
          }
        }
      }
      assert.ok(checked > 0, 'at least one flow checked');
    });
  }
});
