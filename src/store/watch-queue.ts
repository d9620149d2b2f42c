// One watcher's bounded buffer between a store's change source (SQLite's revision-log tailer,
// an etcd watch stream) and its consumer. Events are filtered (prefix, revision > position),
// queued, and handed over in batches on the next turn of the event loop, so a consumer never
// runs inside the writer's call stack. A consumer applies backpressure by returning `false`
// from onEvent and calling resume() once drained (the shape of stream.write / 'drain'); while
// it is paused the queue grows, and past the limit the watcher is dropped with
// WatchOverflowError, which the server turns into 410 Gone and a re-list.
import { StoreError, WatchOverflowError } from './types.ts';
import type { WatchEvent } from './types.ts';

export type WatchConsumer = (events: readonly WatchEvent[]) => void | boolean;

export const DEFAULT_WATCH_BUFFER_LIMIT = 10_000;

export class WatchQueue {
  readonly prefix: string;
  /** The revision delivered (or skipped) so far: only later events are queued. */
  private position: number;
  private readonly onEvent: WatchConsumer;
  private readonly onError: (e: StoreError) => void;
  private readonly limit: number;
  private readonly onEnd: () => void;
  private queue: WatchEvent[] = [];
  private paused = false;
  private flushScheduled = false;
  private ended = false;

  constructor(
    prefix: string,
    fromRevision: number,
    onEvent: WatchConsumer,
    onError: (e: StoreError) => void,
    limit: number,
    onEnd: () => void,
  ) {
    this.prefix = prefix;
    this.position = fromRevision;
    this.onEvent = onEvent;
    this.onError = onError;
    this.limit = limit;
    this.onEnd = onEnd;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** The highest revision queued so far (a resume point for a reconnecting source). */
  get revision(): number {
    return this.position;
  }

  /** Offer events in revision order; those outside the prefix or already seen are ignored. */
  offer(events: readonly WatchEvent[]): void {
    if (this.ended) return;
    for (const event of events) {
      if (event.revision <= this.position || !event.key.startsWith(this.prefix)) continue;
      this.queue.push(event);
    }
    const last = events[events.length - 1];
    if (last !== undefined && last.revision > this.position) this.position = last.revision;
    if (this.paused && this.queue.length > this.limit) {
      this.fail(
        new WatchOverflowError(
          `watch on ${JSON.stringify(this.prefix)} dropped: more than ${this.limit} events buffered for a consumer that is not keeping up`,
        ),
      );
      return;
    }
    this.scheduleFlush();
  }

  /** Advance the position without events (a source that knows nothing under the prefix changed). */
  advance(revision: number): void {
    if (revision > this.position) this.position = revision;
  }

  resume(): void {
    if (this.ended || !this.paused) return;
    this.paused = false;
    this.scheduleFlush();
  }

  /** End the watch with an error (reported once, after already-queued events are dropped). */
  fail(error: StoreError): void {
    if (this.ended) return;
    this.end();
    setImmediate(() => this.onError(error));
  }

  /** End the watch quietly (the consumer closed it). */
  close(): void {
    if (this.ended) return;
    this.end();
  }

  private end(): void {
    this.ended = true;
    this.queue = [];
    this.onEnd();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.paused || this.queue.length === 0) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.ended || this.paused || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    let accepted: void | boolean;
    try {
      accepted = this.onEvent(batch);
    } catch (cause) {
      this.fail(new StoreError('invalid-argument', `watch consumer threw: ${String(cause)}`, { cause }));
      return;
    }
    if (accepted === false) this.paused = true;
    else this.scheduleFlush();
  }
}
