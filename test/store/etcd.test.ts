// The Datastore contract on a real etcd: one single-member etcd started for this file on
// 127.0.0.1 (free random ports, a temporary data directory), stopped by PID at the end. Each
// case gets its own key prefix; a second client is a second Datastore (its own gRPC
// connection) on the same etcd. Compaction cases change etcd's global compacted revision and
// run last.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatastore, StoreUnavailableError } from '../../src/store/index.ts';
import type { Datastore } from '../../src/store/index.ts';
import { compactionCases, contractCases } from './contract.ts';
import { etcdSkipReason, freePort, startEtcdCluster } from './etcd-process.ts';
import type { EtcdCluster } from './etcd-process.ts';

const skip = etcdSkipReason();
let cluster: EtcdCluster | undefined;

before(async () => {
  if (skip === undefined) cluster = await startEtcdCluster(1);
});
after(async () => {
  await cluster?.destroy();
});

let n = 0;
for (const [name, run] of [...contractCases, ...compactionCases]) {
  test(`etcd: ${name}`, skip === undefined ? {} : { skip }, async () => {
    assert.ok(cluster);
    const spec = cluster.spec;
    const opened: Datastore[] = [];
    const store = await openDatastore(spec);
    opened.push(store);
    try {
      await run({
        store,
        prefix: `/registry/core/configmaps/case-${n++}/`,
        async openSecond(options) {
          const other = await openDatastore(spec, options ?? {});
          opened.push(other);
          return other;
        },
      });
    } finally {
      for (const s of opened) await s.close();
    }
  });
}

test('etcd: opening a store whose endpoints all refuse connections fails with StoreUnavailableError', skip === undefined ? {} : { skip }, async () => {
  const port = await freePort();
  await assert.rejects(openDatastore(`etcd:http://127.0.0.1:${port}`, { requestTimeoutMs: 1500 }), StoreUnavailableError);
});
