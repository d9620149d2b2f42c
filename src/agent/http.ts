// The agent's HTTP endpoint, on loopback only: /healthz (200 in sync, 503 otherwise, with the
// status line), /status (JSON, always 200) and /metrics (Prometheus text).
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface AgentHttp {
  /** `127.0.0.1:PORT` actually bound. */
  readonly address: string;
  close(): Promise<void>;
}

export interface AgentHttpOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly status: () => { readonly healthy: boolean; readonly line: string; readonly json: object };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export async function startAgentHttp(opts: AgentHttpOptions): Promise<AgentHttp> {
  if (!LOOPBACK.test(opts.host)) throw new Error(`--listen ${opts.host}: the agent listens on a loopback address only`);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    if (path === '/healthz') {
      const s = opts.status();
      res.writeHead(s.healthy ? 200 : 503, { 'content-type': 'text/plain' }).end(`${s.line}\n`);
      return;
    }
    if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(opts.status().json)}\n`);
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /healthz, /status, /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
