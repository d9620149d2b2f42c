// The scheduler against a real loopback server with 1 s periods: it pulls at once, again on the
// period (picking up a change within it), keeps the last good set through a failure, follows spec
// changes, and stops cleanly (no pulls after stop, in-flight pulls cancelled).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FeedPlan, FeedUpdate } from '../../src/feeds/index.ts';
import { FeedScheduler } from '../../src/feeds/index.ts';
import type { FeedServer } from './feed-server.ts';
import { startFeedServer } from './feed-server.ts';

let server: FeedServer;
before(async () => {
  server = await startFeedServer();
});
after(async () => {
  await server.close();
});

function plan(path: string, over: Partial<FeedPlan> = {}): FeedPlan {
  return { name: path.slice(1), content: 'IPSet', enabled: true, url: server.url(path), headers: [], periodMs: 1000, labels: { threatfeed: 'bad' }, ...over };
}

/** Resolves with the first update satisfying `pred`, or rejects after `ms`. */
function waitFor(updates: FeedUpdate[], listeners: (() => void)[], pred: (u: FeedUpdate) => boolean, ms: number): Promise<FeedUpdate> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching update within ${ms} ms; got ${JSON.stringify(updates.map((u) => u.state.status))}`)), ms);
    const check = (): void => {
      const hit = updates.find(pred);
      if (hit !== undefined) {
        clearTimeout(timer);
        resolve(hit);
      }
    };
    listeners.push(check);
    check();
  });
}

function harness(): { scheduler: FeedScheduler; updates: FeedUpdate[]; until: (pred: (u: FeedUpdate) => boolean, ms?: number) => Promise<FeedUpdate> } {
  const updates: FeedUpdate[] = [];
  const listeners: (() => void)[] = [];
  const scheduler = new FeedScheduler({
    limits: { timeoutMs: 700 },
    onUpdate: (u) => {
      updates.push(u);
      for (const l of listeners) l();
    },
  });
  return { scheduler, updates, until: (pred, ms = 3000) => waitFor(updates, listeners, pred, ms) };
}

test('a feed is pulled at once and a change to it is picked up within its period', async () => {
  server.set('/change', { kind: 'content', text: '198.51.100.1\n' });
  const { scheduler, updates, until } = harness();
  const t0 = Date.now();
  scheduler.setFeeds([plan('/change')]);
  const first = await until((u) => u.state.set !== undefined, 1000);
  assert.deepEqual(first.state.set?.spec.nets, ['198.51.100.1/32']);
  assert.ok(Date.now() - t0 < 900, 'the first pull does not wait a period');
  server.set('/change', { kind: 'content', text: '198.51.100.2\n198.51.100.3\n' });
  const changedAt = Date.now();
  const second = await until((u) => u.setChanged && u.state.set?.spec.nets?.includes('198.51.100.2/32') === true, 2500);
  // Within the period, plus slack for a loaded machine.
  assert.ok(Date.now() - changedAt <= 1800, `the change arrived ${Date.now() - changedAt} ms after it was made (period 1 s)`);
  assert.deepEqual(second.state.set?.spec.nets, ['198.51.100.2/32', '198.51.100.3/32']);
  assert.deepEqual(scheduler.state('change')?.set, second.state.set);
  await scheduler.stop();
  const after = updates.length;
  await new Promise((resolve) => setTimeout(resolve, 1300));
  assert.equal(updates.length, after, 'no pulls after stop');
});

test('pulls are a period apart, measured from each pull start, without jitter', async () => {
  server.set('/steady', { kind: 'content', text: '10.0.0.1\n' });
  const { scheduler, until } = harness();
  scheduler.setFeeds([plan('/steady')]);
  await until(() => server.requests.filter((r) => r.path === '/steady').length >= 3, 3500);
  await scheduler.stop();
  const at = server.requests.filter((r) => r.path === '/steady').map((r) => r.at);
  const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
  // Never early; late only by scheduling delay, which does not accumulate from pull to pull.
  for (const g of gaps.slice(0, 2)) assert.ok(g >= 950 && g <= 1600, `gap ${g} ms (period 1000 ms)`);
  assert.ok((at[2] ?? 0) - (at[0] ?? 0) <= 2600, 'two periods take about two seconds');
});

test('a failing pull keeps the last good set, reports it, and the feed recovers on a later period', async () => {
  server.set('/flaky', { kind: 'content', text: '192.0.2.1\n' });
  const { scheduler, until } = harness();
  scheduler.setFeeds([plan('/flaky')]);
  const good = await until((u) => u.state.set !== undefined, 1000);
  server.set('/flaky', { kind: 'status', status: 500 });
  const bad = await until((u) => u.state.status.lastSyncError?.code === 'feeds/http-status', 2500);
  assert.equal(bad.setChanged, false);
  assert.deepEqual(bad.state.set, good.state.set);
  server.set('/flaky', { kind: 'hang' });
  const slow = await until((u) => u.state.status.lastSyncError?.code === 'feeds/timeout', 3000);
  assert.deepEqual(slow.state.set, good.state.set);
  server.set('/flaky', { kind: 'content', text: '192.0.2.9\n' });
  const healed = await until((u) => u.state.set?.spec.nets?.[0] === '192.0.2.9/32', 2500);
  assert.equal(healed.state.status.lastSyncError, undefined);
  await scheduler.stop();
});

test('setFeeds follows spec changes and removals; stop cancels a pull in flight', async () => {
  server.set('/a', { kind: 'content', text: '10.1.0.1\n' });
  server.set('/b', { kind: 'hang' });
  const { scheduler, until } = harness();
  scheduler.setFeeds([plan('/a')]);
  await until((u) => u.feed === 'a' && u.state.set !== undefined, 1000);
  // New labels: pulled again at once, the set carries them.
  scheduler.setFeeds([plan('/a', { labels: { threatfeed: 'worse' } })]);
  const relabelled = await until((u) => u.state.set?.metadata.labels?.['threatfeed'] === 'worse', 1000);
  assert.equal(relabelled.feed, 'a');
  // Removing a feed drops it; a hanging pull of another is cancelled by stop, quickly.
  scheduler.setFeeds([plan('/b', { name: 'b' })]);
  assert.equal(scheduler.state('a'), undefined);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const t = Date.now();
  await scheduler.stop();
  assert.ok(Date.now() - t < 500, 'stop does not wait for the hanging pull');
  assert.throws(() => scheduler.setFeeds([]), /after stop/);
});

test('a period longer than a timer can hold (30 days) is not pulled again at once', async () => {
  server.set('/monthly', { kind: 'content', text: '10.3.0.1\n' });
  const { scheduler, until } = harness();
  scheduler.setFeeds([plan('/monthly', { periodMs: 30 * 24 * 3600 * 1000 })]);
  await until((u) => u.state.set !== undefined, 1000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(server.requests.filter((r) => r.path === '/monthly').length, 1);
  await scheduler.stop();
});
