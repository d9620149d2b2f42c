// A three-member etcd cluster on loopback: the leader is stopped (SIGKILL by PID) in the
// middle of a stream of writes, the writes go on through the other two members, a watch
// keeps delivering across the failover, and the member brought back catches up on everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { openDatastore } from '../../src/store/index.ts';
import type { EtcdMember } from './etcd-process.ts';
import { etcdSkipReason, startEtcdCluster } from './etcd-process.ts';
import { record } from './contract.ts';

const skip = etcdSkipReason();

const statusSchema = z.object({ header: z.object({ member_id: z.string() }), leader: z.string() });

/** The member that is raft leader, asked through etcd's own JSON gateway. */
async function findLeader(members: readonly EtcdMember[]): Promise<EtcdMember> {
  for (const m of members) {
    const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) });
    const status = statusSchema.parse(await res.json());
    if (status.header.member_id === status.leader) return m;
  }
  throw new Error('no member reports itself leader');
}

test('etcd: with the leader of three members stopped mid-stream, writes continue, the watch goes on, and the member catches up when back', skip === undefined ? {} : { skip }, async () => {
  const cluster = await startEtcdCluster(3);
  const prefix = '/registry/core/configmaps/cluster/';
  const store = await openDatastore(cluster.spec);
  const leader = await findLeader(cluster.members);
  const others = cluster.members.filter((m) => m !== leader);
  // A store's first watch runs on its first endpoint: this one watches through the leader.
  const watching = await openDatastore(`etcd:${[leader, ...others].map((m) => m.clientUrl).join(',')}`);
  try {
    const from = await store.revision();
    const watch = record(watching, prefix, from);
    const acked: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await store.txn([{ op: 'put', key: `${prefix}k${String(i).padStart(2, '0')}`, value: String(i) }]);
      assert.ok(r.ok);
      acked.push(r.revision);
    }
    await watch.waitForEvents(20);
    await cluster.stop(leader);
    const stoppedAt = Date.now();
    for (let i = 20; i < 40; i++) {
      const r = await store.txn([{ op: 'put', key: `${prefix}k${String(i).padStart(2, '0')}`, value: String(i) }]);
      assert.ok(r.ok, `write ${i} with a member down`);
      acked.push(r.revision);
    }
    const failoverMs = Date.now() - stoppedAt;
    assert.ok(failoverMs < 15_000, `20 writes took ${failoverMs} ms with a member down`);
    assert.deepEqual(acked, [...acked].sort((a, b) => a - b));

    const events = await watch.waitForEvents(40, 15_000);
    assert.deepEqual(events.map((e) => Number(e.value)), Array.from({ length: 40 }, (_, i) => i));
    assert.deepEqual(events.map((e) => e.revision), acked);
    assert.deepEqual(watch.errors, []);
    watch.close();

    // Back with its old data directory, the member rejoins and serves everything written meanwhile.
    await cluster.start(leader);
    const alone = await openDatastore(`etcd:${leader.clientUrl}`);
    try {
      const listed = await alone.list(prefix);
      assert.equal(listed.items.length, 40);
      assert.equal(listed.items[39]?.modRevision, acked[39]);
    } finally {
      await alone.close();
    }
  } finally {
    await watching.close();
    await store.close();
    await cluster.destroy();
  }
});
