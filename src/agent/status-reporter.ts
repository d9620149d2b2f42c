// Reports the agent's state to the API server as its node's `NodeStatus` (strata/v1): on every
// state change (debounced) and as a heartbeat every interval, so `strata get nodes` shows each
// agent's programmed revision and health, and calls an agent stale when its heartbeat stops.
// Create-or-replace by name; a failed report is retried at the next beat (never blocks the loop).
import type { NodeStatus, NodeStatusBody } from '../model/node-status.ts';
import type { ServerTarget } from './watch-client.ts';

export interface StatusReporter {
  /** Report soon (state changed). */
  poke(): void;
  stop(): Promise<void>;
}

export interface StatusReporterOptions {
  readonly target: ServerTarget;
  readonly node: string;
  readonly intervalMs: number;
  readonly body: () => NodeStatusBody;
  readonly onError?: (message: string) => void;
}

export function nodeStatusUrl(server: string, node?: string): string {
  return `${server.replace(/\/+$/, '')}/apis/strata/v1/nodestatuses${node === undefined ? '' : `/${encodeURIComponent(node)}`}`;
}

export function startStatusReporter(opts: StatusReporterOptions): StatusReporter {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inflight: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const headers = { 'content-type': 'application/json', accept: 'application/json', ...(opts.target.token === undefined ? {} : { authorization: `Bearer ${opts.target.token}` }) };

  const send = async (): Promise<void> => {
    const obj: NodeStatus = { apiVersion: 'strata/v1', kind: 'NodeStatus', metadata: { name: opts.node }, status: opts.body() };
    const body = JSON.stringify(obj);
    try {
      const put = await fetch(nodeStatusUrl(opts.target.server, opts.node), { method: 'PUT', headers, body, signal: AbortSignal.timeout(5000) });
      if (put.status === 404) {
        const post = await fetch(nodeStatusUrl(opts.target.server), { method: 'POST', headers, body, signal: AbortSignal.timeout(5000) });
        if (post.status >= 400 && post.status !== 409) opts.onError?.(`create NodeStatus: HTTP ${post.status}: ${(await post.text()).slice(0, 200)}`);
        else await post.arrayBuffer();
      } else if (put.status >= 400) {
        opts.onError?.(`update NodeStatus: HTTP ${put.status}: ${(await put.text()).slice(0, 200)}`);
      } else {
        await put.arrayBuffer();
      }
    } catch (e) {
      opts.onError?.(`report NodeStatus: ${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`);
    }
  };

  const arm = (ms: number): void => {
    if (stopped) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(tick, ms);
  };

  const tick = (): void => {
    timer = undefined;
    if (inflight !== undefined) {
      again = true;
      return;
    }
    inflight = send().finally(() => {
      inflight = undefined;
      if (again) {
        again = false;
        arm(0);
      } else arm(opts.intervalMs);
    });
  };

  arm(0);
  return {
    poke() {
      // A burst of state changes is one report (50 ms debounce).
      if (inflight !== undefined) again = true;
      else arm(50);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await inflight;
    },
  };
}
