// Prometheus series for flows, shared by the server (over every agent's records) and an agent
// (over its own, before shipping): per policy rule packets/bytes/connections and denied
// packets, shaped like Calico Enterprise's `cnx_policy_rule_*` and `calico_denied_packets`
// (labels tier, namespace, policy, rule_index, action, direction). Staged policies appear as
// `staged:NAME`, as Calico names them; an end-of-tier hit has rule_index -1 and names the
// tier's trigger policy. Records are summed per label set first, so a batch costs one `inc` per
// distinct series, not per record.
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { FlowRecord, PolicyHit } from './record.ts';
import type { Shipper } from './shipper.ts';

export interface FlowMetrics {
  /** Counts the records' policy hits (enforced, and the staged ones of the pending trace). */
  observe(records: readonly FlowRecord[]): void;
}

const RULE_LABELS = ['tier', 'policy', 'namespace', 'rule_index', 'action', 'direction'] as const;

function policyLabel(h: PolicyHit): string {
  const name = h.name ?? h.trigger?.name ?? (h.kind === 'NoProfile' ? 'no-profile' : '');
  return h.kind.startsWith('Staged') ? `staged:${name}` : name;
}

function hitsOf(r: FlowRecord): PolicyHit[] {
  const staged = r.policies.pending.filter((h) => h.kind.startsWith('Staged'));
  return staged.length === 0 ? r.policies.enforced : [...r.policies.enforced, ...staged];
}

/** The hit that decided a denied flow: the last enforced deny. */
function denyingHit(r: FlowRecord): PolicyHit | undefined {
  for (let i = r.policies.enforced.length - 1; i >= 0; i--) if (r.policies.enforced[i]!.action === 'deny') return r.policies.enforced[i];
  return undefined;
}

interface Sums {
  readonly labels: Record<string, string>;
  packets: number;
  bytes: number;
  connections: number;
}

/** Registers the flow series on `registry` (once per registry). */
export function createFlowMetrics(registry: Registry): FlowMetrics {
  const opts = { labelNames: RULE_LABELS, registers: [registry] };
  const packets = new Counter({ name: 'strata_policy_rule_packets_total', help: 'Packets that went through a policy rule (per direction; staged policies as staged:NAME)', ...opts });
  const bytes = new Counter({ name: 'strata_policy_rule_bytes_total', help: 'Bytes that went through a policy rule', ...opts });
  const connections = new Counter({ name: 'strata_policy_rule_connections_total', help: 'Connections started through a policy rule', ...opts });
  const denied = new Counter({ name: 'strata_denied_packets_total', help: 'Denied packets by the policy that denied them', labelNames: ['tier', 'policy', 'namespace'], registers: [registry] });
  const deniedBytes = new Counter({ name: 'strata_denied_bytes_total', help: 'Denied bytes by the policy that denied them', labelNames: ['tier', 'policy', 'namespace'], registers: [registry] });
  return {
    observe(records) {
      const rules = new Map<string, Sums>();
      const denies = new Map<string, Sums>();
      for (const r of records) {
        const direction = r.reporter === 'src' ? 'egress' : 'ingress';
        for (const h of hitsOf(r)) {
          const labels = { tier: h.tier ?? '', policy: policyLabel(h), namespace: h.namespace ?? '', rule_index: String(h.ruleIndex ?? -1), action: h.action, direction };
          const k = `${labels.tier}\u0000${labels.policy}\u0000${labels.namespace}\u0000${labels.rule_index}\u0000${labels.action}\u0000${direction}`;
          let s = rules.get(k);
          if (s === undefined) rules.set(k, (s = { labels, packets: 0, bytes: 0, connections: 0 }));
          s.packets += r.packets;
          s.bytes += r.bytes;
          s.connections += r.connections;
        }
        if (r.action === 'deny') {
          const h = denyingHit(r);
          const labels = { tier: h?.tier ?? '', policy: h === undefined ? '' : policyLabel(h), namespace: h?.namespace ?? '' };
          const k = `${labels.tier}\u0000${labels.policy}\u0000${labels.namespace}`;
          let s = denies.get(k);
          if (s === undefined) denies.set(k, (s = { labels, packets: 0, bytes: 0, connections: 0 }));
          s.packets += r.packets;
          s.bytes += r.bytes;
        }
      }
      for (const s of rules.values()) {
        packets.inc(s.labels, s.packets);
        bytes.inc(s.labels, s.bytes);
        connections.inc(s.labels, s.connections);
      }
      for (const s of denies.values()) {
        denied.inc(s.labels, s.packets);
        deniedBytes.inc(s.labels, s.bytes);
      }
    },
  };
}

/** An agent's shipper as gauges (read at scrape time): spool size, sent, dropped (spool full), refused, retries. */
export function registerShipperMetrics(registry: Registry, shipper: Shipper): void {
  const g = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  g('strata_flow_spool_records', 'Records waiting in the spool', () => shipper.stats().spooled.records);
  g('strata_flow_spool_bytes', 'Bytes of batches waiting in the spool', () => shipper.stats().spooled.bytes);
  g('strata_flow_shipped_records', 'Records the server has answered for since the agent started', () => shipper.stats().sent.records);
  g('strata_flow_spool_dropped_records', 'Records dropped because the spool was full (oldest first), over the spool\'s life', () => shipper.stats().droppedRecords);
  g('strata_flow_rejected_records', 'Records the server refused for good (400)', () => shipper.stats().rejectedRecords);
  g('strata_flow_ship_retries', 'Send attempts that failed and were retried', () => shipper.stats().retries);
}
