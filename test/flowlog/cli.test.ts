// `strata lab up` (starts the collectors), `lab traffic` and `lab flows` as a user runs them, on
// the multi-tenant example: exit codes, the JSON records validated by the wire schema, the
// table, bad flags, and `lab down` ending the collector by PID. Needs root, ulogd and conntrack.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { downSession, flowCollectionUnavailableReason } from '../../src/lab-session/index.ts';
import { flowRecordSchema } from '../../src/flows/record.ts';
import { isRunning, readState, stateDirOf } from '../../src/lab/index.ts';
import { REPO_ROOT, sessionSkip, uniqueLabId } from '../lab-session/fixtures.ts';

const EXAMPLE = path.join(REPO_ROOT, 'examples', 'multi-tenant');
const skip = sessionSkip ?? flowCollectionUnavailableReason();

describe('strata lab traffic / lab flows (the commands)', { skip }, () => {
  const labId = uniqueLabId('fkc');
  const env = { ...process.env, NO_COLOR: '1', STRATA_LAB: labId };
  const strata = (...args: string[]): { code: number; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'strata.js'), 'lab', ...args], { encoding: 'utf8', env, timeout: 120_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  after(async () => {
    await downSession(labId);
  });

  it('up starts a collector; traffic drives connections; flows shows the kernel\'s records; down ends it', () => {
    const flows = path.join(EXAMPLE, 'flows.jsonl');
    const up = strata('up', '-f', EXAMPLE, '--flows', flows);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /flow log: collector pid \d+/);
    const state = readState(labId, stateDirOf());
    assert.ok(state !== undefined && !(state instanceof Error));
    const collector = state.processes?.find((p) => p.role === 'flow-collector');
    assert.ok(collector !== undefined && isRunning(collector.pid));

    const traffic = strata('traffic', '--rate', '40/s', '--duration', '1s', '--flows', flows);
    assert.equal(traffic.code, 0, traffic.stdout + traffic.stderr);
    const m = /(\d+) connections in [\d.]+ s \(\d+\/s\): (\d+) allowed, (\d+) denied/.exec(traffic.stdout);
    assert.ok(m !== null, traffic.stdout);
    assert.ok(Number(m[1]) >= 30, `started ${m[1]}`);

    const json = strata('flows', '-o', 'json', '--since', '1m');
    assert.equal(json.code, 0, json.stderr);
    const records = json.stdout.trim().split('\n').map((l) => flowRecordSchema.parse(JSON.parse(l)));
    assert.ok(records.some((r) => r.action === 'allow') && records.some((r) => r.action === 'deny'));
    assert.deepEqual(records.filter((r) => r.mismatch), [], 'the kernel and the engine name the same rules');
    const denied = Number(m[3]);
    const deniedConnections = records.filter((r) => r.action === 'deny').reduce((n, r) => n + r.connections, 0);
    assert.ok(deniedConnections >= denied, `${deniedConnections} denied connections recorded for ${denied} denied`);

    const grouped = strata('flows', '-o', 'json', '--aggregate', 'dst-port');
    assert.equal(grouped.code, 0);
    const g = grouped.stdout.trim().split('\n').map((l) => flowRecordSchema.parse(JSON.parse(l)));
    assert.ok(g.length < records.length && g.every((r) => r.aggregation === 'dst-port' && r.port === null && r.source.ip === null));

    const t = strata('flows');
    assert.equal(t.code, 0);
    assert.match(t.stdout, /^TIME\s+NODE\s+REPORTER\s+SOURCE\s+DESTINATION\s+PORT\s+ACTION\s+CONNS\s+PKTS IN\/OUT\s+DECIDED BY \(KERNEL\)/);

    assert.match(strata('status').stdout, new RegExp(`flow log: collector pid ${collector.pid}, running`));

    assert.equal(strata('traffic', '--rate', 'fast').code, 2);
    assert.equal(strata('flows', '-o', 'yaml').code, 2);
    assert.equal(strata('flows', '--since', 'yesterday').code, 2);
    assert.equal(strata('flows', '--aggregate', 'pods').code, 2);

    const down = strata('down');
    assert.equal(down.code, 0, down.stderr);
    assert.ok(!isRunning(collector.pid), 'the collector was ended');
  });
});
