// The island's life cycle: `down` is idempotent and removes exactly what was recorded, also
// after a crash (agents killed, an unrecorded process left inside a namespace); `up` refuses
// to build over an existing lab; two labs with different ids — even with the same addresses —
// coexist; and a 100-workload island builds in seconds (measured and printed, not asserted).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { attachLab, downLab, upLab } from '../../src/lab/island.ts';
import { isRunning } from '../../src/lab/processes.ts';
import { probe } from '../../src/lab/probe.ts';
import type { LabFlow } from '../../src/lab/probe.ts';
import { readState } from '../../src/lab/state.ts';
import type { LabSpec } from '../../src/lab/topology.ts';
import { assertLabGone, labNamespacesNow, labSkip, smallSpec } from './fixtures.ts';

const STATE_DIR = '/run/strata-lab';

function tinySpec(labId: string): LabSpec {
  return {
    labId,
    nodes: ['n1'],
    workloads: [
      { id: 'ns/a', node: 'n1', addresses: ['10.20.0.1'], ports: [{ port: 80, protocol: 'TCP' }] },
      { id: 'ns/b', node: 'n1', addresses: ['10.20.0.2'], ports: [{ port: 80, protocol: 'TCP' }] },
    ],
    externals: [],
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('lab life cycle', { skip: labSkip }, () => {
  it('down of a lab that does not exist succeeds and says so (idempotent)', async () => {
    const r = await downLab('nosuchlab');
    assert.ok(r.ok);
    assert.equal(r.value.existed, false);
  });

  it('up refuses to build over an existing lab, and down twice is fine', async () => {
    await downLab('dup1');
    const first = await upLab(tinySpec('dup1'));
    assert.ok(first.ok, JSON.stringify(first.diagnostics));
    const again = await upLab(tinySpec('dup1'));
    assert.equal(again.ok, false);
    assert.equal(again.diagnostics[0]?.code, 'lab/exists');
    const d1 = await downLab('dup1');
    assert.ok(d1.ok && d1.value.existed);
    const d2 = await downLab('dup1');
    assert.ok(d2.ok && !d2.value.existed);
    assertLabGone('dup1', first.value.agents.map((a) => a.pid));
  });

  it('down after a simulated crash (agents killed, a stray process inside) still removes everything', async () => {
    await downLab('crash1');
    const up = await upLab(tinySpec('crash1'));
    assert.ok(up.ok, JSON.stringify(up.diagnostics));
    const lab = up.value;
    // The crash: every agent dies at once, the namespaces stay, the state file stays.
    for (const a of lab.agents) process.kill(a.pid, 'SIGKILL');
    // A process the lab never recorded, living in one of its namespaces (started the way a
    // person debugging the lab would).
    const ws = lab.plan.workloads[0]?.namespace ?? '';
    const stray = spawn('ip', ['netns', 'exec', ws, 'sleep', '300'], { detached: true, stdio: 'ignore' });
    stray.unref();
    await sleep(100);
    assert.ok(stray.pid !== undefined && isRunning(stray.pid));
    assert.equal(labNamespacesNow('crash1').length, 5);
    assert.ok(existsSync(`${STATE_DIR}/crash1.json`));

    const r = await downLab('crash1');
    assert.ok(r.ok, JSON.stringify(r.diagnostics));
    assert.ok(r.value.processesEnded.includes(stray.pid), 'the stray process was ended by PID');
    assertLabGone('crash1', [...lab.agents.map((a) => a.pid), stray.pid]);
  });

  it('down after a crash in the middle of up (namespaces recorded, some created, no agents)', async () => {
    await downLab('crash2');
    // An impossible agent start-up deadline fails `up` after the namespaces and links exist;
    // keepOnFailure leaves that half-built lab in place, as a crash would.
    const r = await upLab(tinySpec('crash2'), { keepOnFailure: true, agentReadyTimeoutMs: 1 });
    assert.equal(r.ok, false);
    assert.equal(r.diagnostics[0]?.code, 'lab/agent-timeout');
    const state = readState('crash2', STATE_DIR);
    assert.ok(state !== undefined && !(state instanceof Error));
    assert.equal(state.phase, 'building');
    assert.ok(labNamespacesNow('crash2').length > 0);
    await sleep(300); // agents that were still starting finish starting, unrecorded
    const d = await downLab('crash2');
    assert.ok(d.ok, JSON.stringify(d.diagnostics));
    assertLabGone('crash2', d.value.processesEnded);
  });

  it('two labs with different ids coexist, even with identical workloads and addresses', async () => {
    await downLab('coexa');
    await downLab('coexb');
    const a = await upLab(smallSpec('coexa'));
    const b = await upLab(smallSpec('coexb'));
    assert.ok(a.ok && b.ok);
    const flows: LabFlow[] = [
      { from: 'tenant-1/frontend', to: 'tenant-2/web', port: 8080, protocol: 'TCP' },
      { from: 'tenant-2/api', to: 'tenant-1/backend', port: 5353, protocol: 'UDP' },
      { from: '198.51.100.10', to: 'tenant-1/db', protocol: 'ICMP' },
    ];
    for (const lab of [a.value, b.value]) {
      const results = await probe(lab, flows, { timeoutMs: 2000 });
      assert.deepEqual(
        results.map((r) => r.observed),
        ['allow', 'allow', 'allow'],
      );
    }
    const downA = await downLab('coexa');
    assert.ok(downA.ok);
    assertLabGone('coexa', a.value.agents.map((x) => x.pid));
    // b is untouched by a's teardown, and another process can attach to it by id.
    const attached = attachLab('coexb');
    assert.ok(attached.ok);
    const still = await probe(attached.value, flows, { timeoutMs: 2000 });
    assert.deepEqual(
      still.map((r) => r.observed),
      ['allow', 'allow', 'allow'],
    );
    const downB = await downLab('coexb');
    assert.ok(downB.ok);
    assertLabGone('coexb', b.value.agents.map((x) => x.pid));
  });

  it('builds, probes and tears down a 100-workload island (timings printed)', async () => {
    const labId = 'big100';
    await downLab(labId);
    const nodes = ['node-1', 'node-2', 'node-3', 'node-4'];
    const spec: LabSpec = {
      labId,
      nodes,
      workloads: Array.from({ length: 100 }, (_, i) => ({
        id: `ns-${i % 10}/pod-${i}`,
        node: nodes[i % nodes.length] ?? 'node-1',
        addresses: [`10.${30 + (i % 4)}.${Math.floor(i / 4)}.10`],
        ports: [
          { port: 8080, protocol: 'TCP' as const },
          { port: 5353, protocol: 'UDP' as const },
        ],
      })),
      externals: ['198.51.100.20'],
    };
    const t = performance.now();
    const up = await upLab(spec);
    assert.ok(up.ok, JSON.stringify(up.diagnostics));
    const buildMs = Math.round(performance.now() - t);
    // Every workload talks to the next one (ring), on both ports.
    const flows: LabFlow[] = spec.workloads.flatMap((w, i) => {
      const next = spec.workloads[(i + 1) % spec.workloads.length]?.id ?? w.id;
      return [
        { from: w.id, to: next, port: 8080, protocol: 'TCP' as const },
        { from: w.id, to: next, port: 5353, protocol: 'UDP' as const },
      ];
    });
    const tp = performance.now();
    const results = await probe(up.value, flows, { concurrency: 64, timeoutMs: 2000 });
    const probeMs = Math.round(performance.now() - tp);
    assert.deepEqual(
      results.filter((r) => r.observed !== 'allow').map((r) => `${r.from}→${r.to} ${r.detail}`),
      [],
    );
    const down = await downLab(labId);
    assert.ok(down.ok, JSON.stringify(down.diagnostics));
    console.log(
      `# 100 workloads / 4 nodes: build ${buildMs} ms ${JSON.stringify(up.value.timings)}, ` +
        `${flows.length} probes ${probeMs} ms, teardown ${down.value.ms} ms`,
    );
    assertLabGone(labId, up.value.agents.map((a) => a.pid));
  });
});
