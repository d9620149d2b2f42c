// Keeps feeds in sync on their periods, for the server: each feed is pulled at once when it is
// added (or its spec changes), then every `periodMs` measured from the start of the previous pull —
// no jitter, so a test with a 1 s period knows when to look. One pull per feed at a time; a pull
// that overruns its period is followed at once by the next. `stop()` cancels the timers and the
// pulls in flight and resolves when they have ended. Each pull's result goes to `onUpdate`.
import type { FeedPlan } from './feed-plan.ts';
import type { FeedState, SyncOptions } from './sync-feed.ts';
import { pullFeed } from './sync-feed.ts';

export interface FeedUpdate {
  readonly feed: string;
  readonly state: FeedState;
  /** Whether the set in force differs from the one before this pull. */
  readonly setChanged: boolean;
}

export interface FeedSchedulerOptions extends SyncOptions {
  readonly onUpdate: (update: FeedUpdate) => void | Promise<void>;
  /** A throwing onUpdate is reported here instead of stopping the schedule. */
  readonly onError?: (feed: string, error: unknown) => void;
}

/** setTimeout's largest delay (2^31 - 1 ms, about 24.8 days); a 30-day period waits in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Slot {
  plan: FeedPlan;
  key: string;
  state: FeedState | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  running: Promise<void> | undefined;
  abort: AbortController;
  /** When the current or last pull started (ms, performance clock). */
  startedAt: number;
}

export class FeedScheduler {
  readonly #opts: FeedSchedulerOptions;
  readonly #slots = new Map<string, Slot>();
  #stopped = false;

  constructor(opts: FeedSchedulerOptions) {
    this.#opts = opts;
  }

  /** Makes `plans` the feeds kept in sync: new or changed ones are pulled now, missing ones dropped. */
  setFeeds(plans: readonly FeedPlan[]): void {
    if (this.#stopped) throw new Error('FeedScheduler: setFeeds after stop');
    const wanted = new Map(plans.map((p) => [p.name, p]));
    for (const [name, slot] of this.#slots) {
      if (!wanted.has(name)) this.#drop(slot, name);
    }
    for (const plan of plans) {
      const key = JSON.stringify(plan);
      const slot = this.#slots.get(plan.name);
      if (slot !== undefined && slot.key === key) continue;
      if (slot !== undefined) this.#drop(slot, plan.name);
      // A changed spec starts over, but keeps the last good set until the new pull succeeds.
      const fresh: Slot = { plan, key, state: slot?.state === undefined ? undefined : { ...slot.state, plan }, timer: undefined, running: undefined, abort: new AbortController(), startedAt: 0 };
      this.#slots.set(plan.name, fresh);
      this.#run(fresh);
    }
  }

  /** The current state of a feed (undefined before its first pull ends). */
  state(name: string): FeedState | undefined {
    return this.#slots.get(name)?.state;
  }

  /** Every feed's current state, by name. */
  states(): ReadonlyMap<string, FeedState> {
    const out = new Map<string, FeedState>();
    for (const [name, slot] of this.#slots) if (slot.state !== undefined) out.set(name, slot.state);
    return out;
  }

  /** Cancels timers and pulls in flight; resolves when every pull has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const running: Promise<void>[] = [];
    for (const [name, slot] of this.#slots) {
      if (slot.running !== undefined) running.push(slot.running);
      this.#drop(slot, name);
    }
    await Promise.allSettled(running);
  }

  #drop(slot: Slot, name: string): void {
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.abort.abort();
    if (this.#slots.get(name) === slot) this.#slots.delete(name);
  }

  #live(slot: Slot): boolean {
    return !this.#stopped && this.#slots.get(slot.plan.name) === slot;
  }

  #run(slot: Slot): void {
    slot.timer = undefined;
    slot.startedAt = performance.now();
    slot.running = this.#pull(slot)
      .catch((e: unknown) => this.#opts.onError?.(slot.plan.name, e))
      .finally(() => {
      slot.running = undefined;
      if (!this.#live(slot) || !slot.plan.enabled) return;
      this.#arm(slot, slot.startedAt + slot.plan.periodMs);
    });
  }

  /** Waits until `due`, in steps a timer can hold (Node fires longer timeouts after 1 ms). */
  #arm(slot: Slot, due: number): void {
    const left = due - performance.now();
    if (left <= 0) return this.#run(slot);
    slot.timer = setTimeout(() => (this.#live(slot) ? this.#arm(slot, due) : undefined), Math.min(left, MAX_TIMER_MS));
  }

  async #pull(slot: Slot): Promise<void> {
    const before = slot.state?.set;
    const state = await pullFeed(slot.plan, slot.state, { ...this.#opts, limits: { ...this.#opts.limits, signal: slot.abort.signal } });
    if (!this.#live(slot)) return; // stopped or replaced meanwhile: nobody wants this result
    slot.state = state;
    const update: FeedUpdate = { feed: slot.plan.name, state, setChanged: JSON.stringify(before) !== JSON.stringify(state.set) };
    try {
      await this.#opts.onUpdate(update);
    } catch (e) {
      this.#opts.onError?.(slot.plan.name, e);
    }
  }
}
