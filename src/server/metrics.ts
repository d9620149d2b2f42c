// Prometheus metrics (prom-client): requests by verb/resource/code, latency, store revision,
// open watches, threat-feed pulls. One registry per server so several servers in one process
// (tests) do not clash.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  observe(verb: string, resource: string, code: number, seconds: number): void;
  watchOpened(): void;
  watchClosed(): void;
  setRevision(revision: number): void;
  /** One finished pull of a feed: `result` is `success` or the failure's code without `feeds/`. */
  threatFeedSynced(feed: string, result: string, entries: number, lastSuccess: Date | undefined): void;
  /** A feed deleted (or no longer pulled here): its series go. */
  threatFeedRemoved(feed: string): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'strata_' });
  const requests = new Counter({ name: 'strata_apiserver_request_total', help: 'API requests by verb, resource and HTTP code', labelNames: ['verb', 'resource', 'code'], registers: [registry] });
  const latency = new Histogram({
    name: 'strata_apiserver_request_duration_seconds',
    help: 'API request latency by verb and resource (watches excluded)',
    labelNames: ['verb', 'resource'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const revision = new Gauge({ name: 'strata_store_revision', help: 'The datastore revision the server has applied', registers: [registry] });
  const watches = new Gauge({ name: 'strata_apiserver_watches', help: 'Open watch streams', registers: [registry] });
  const feedSyncs = new Counter({ name: 'strata_threatfeed_syncs_total', help: 'GlobalThreatFeed pulls by feed and result (success, or the failure: http-status, timeout, too-large, …)', labelNames: ['feed', 'result'], registers: [registry] });
  const feedEntries = new Gauge({ name: 'strata_threatfeed_entries', help: 'Members of the set in force of each GlobalThreatFeed (its GlobalNetworkSet threatfeed.NAME)', labelNames: ['feed'], registers: [registry] });
  const feedLast = new Gauge({
    name: 'strata_threatfeed_last_success_timestamp_seconds',
    help: 'Unix time of the last successful pull of each GlobalThreatFeed',
    labelNames: ['feed'],
    registers: [registry],
  });
  return {
    registry,
    threatFeedSynced(feed, result, entries, lastSuccess) {
      feedSyncs.inc({ feed, result });
      feedEntries.set({ feed }, entries);
      if (lastSuccess !== undefined) feedLast.set({ feed }, lastSuccess.getTime() / 1000);
    },
    threatFeedRemoved(feed) {
      feedEntries.remove({ feed });
      feedLast.remove({ feed });
    },
    observe(verb, resource, code, seconds) {
      requests.inc({ verb, resource, code: String(code) });
      if (verb !== 'watch') latency.observe({ verb, resource }, seconds);
    },
    watchOpened: () => watches.inc(),
    watchClosed: () => watches.dec(),
    setRevision: (r) => revision.set(r),
  };
}
