// The agent's own Prometheus registry (prom-client), served on its loopback /metrics: what is
// programmed, when, how long applies take, how many updates and errors, and whether the server
// is reachable. Names follow Felix's where one exists (felix_int_dataplane_apply_time_seconds →
// strata_agent_apply_duration_seconds).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type UpdateResult = 'programmed' | 'unchanged' | 'skipped' | 'failed';
export type ErrorKind = 'compile' | 'nft' | 'conntrack' | 'server' | 'status-report' | 'drift';

export interface AgentMetrics {
  readonly registry: Registry;
  setProgrammed(rules: number, sets: number, endpoints: number): void;
  setRevisions(programmed: number, seen: number): void;
  setServerUp(up: boolean): void;
  observeApply(seconds: number): void;
  update(result: UpdateResult): void;
  error(kind: ErrorKind): void;
  conntrackDeleted(n: number): void;
  listed(): void;
}

export function createAgentMetrics(node: string): AgentMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node });
  const rules = new Gauge({ name: 'strata_agent_programmed_rules', help: 'nft rules the kernel holds for this node', registers: [registry] });
  const sets = new Gauge({ name: 'strata_agent_programmed_sets', help: 'nft sets the kernel holds for this node', registers: [registry] });
  const endpoints = new Gauge({ name: 'strata_agent_endpoints', help: 'workload endpoints of this node that are programmed', registers: [registry] });
  const lastSync = new Gauge({ name: 'strata_agent_last_sync_timestamp_seconds', help: 'when the kernel was last programmed successfully (unix time)', registers: [registry] });
  const revision = new Gauge({ name: 'strata_agent_programmed_revision', help: 'server resourceVersion whose state the kernel holds', registers: [registry] });
  const seen = new Gauge({ name: 'strata_agent_seen_revision', help: 'newest server resourceVersion the agent has seen', registers: [registry] });
  const serverUp = new Gauge({ name: 'strata_agent_server_up', help: '1 while the API server answers, 0 while the agent runs fail-static', registers: [registry] });
  const apply = new Histogram({
    name: 'strata_agent_apply_duration_seconds',
    help: 'time from a batch of changes to its nft transaction being committed (compile + diff + nft -f)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const updates = new Counter({ name: 'strata_agent_updates_total', help: 'batches of changes handled, by result', labelNames: ['result'], registers: [registry] });
  const errors = new Counter({ name: 'strata_agent_errors_total', help: 'errors, by kind', labelNames: ['kind'], registers: [registry] });
  const ct = new Counter({ name: 'strata_agent_conntrack_deleted_total', help: 'conntrack entries removed because their flow became denied', registers: [registry] });
  const lists = new Counter({ name: 'strata_agent_lists_total', help: 'full lists of the node view: the first, and one after every 410 Gone', registers: [registry] });
  serverUp.set(0);
  return {
    registry,
    setProgrammed(r, s, e) {
      rules.set(r);
      sets.set(s);
      endpoints.set(e);
      lastSync.set(Date.now() / 1000);
    },
    setRevisions(p, s) {
      revision.set(p);
      seen.set(s);
    },
    setServerUp(up) {
      serverUp.set(up ? 1 : 0);
    },
    observeApply(seconds) {
      apply.observe(seconds);
    },
    update(result) {
      updates.inc({ result });
    },
    error(kind) {
      errors.inc({ kind });
    },
    listed() {
      lists.inc();
    },
    conntrackDeleted(n) {
      if (n > 0) ct.inc(n);
    },
  };
}
