// The controller's side of the agent protocol: one unix-socket connection per agent, many
// requests in flight on it, responses matched by id.
import net from 'node:net';
import type { AgentRequest, AgentResponse } from './agent-protocol.ts';

type Outgoing = AgentRequest extends infer R ? (R extends AgentRequest ? Omit<R, 'id'> : never) : never;

export interface AgentConnection {
  /** Sends a request; resolves with the response, or an `error` observation after `deadlineMs`. */
  request(req: Outgoing, deadlineMs: number): Promise<AgentResponse>;
  close(): void;
}

export function connectAgent(socket: string, connectTimeoutMs = 2000): Promise<AgentConnection> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socket);
    const pending = new Map<number, (r: AgentResponse) => void>();
    let nextId = 1;
    let buf = '';
    let closed = false;
    let connected = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`agent socket ${socket}: no connection within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    const failAll = (why: string): void => {
      closed = true;
      for (const [id, done] of pending) done({ id, observed: 'error', detail: why });
      pending.clear();
    };
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let res: AgentResponse;
        try {
          res = JSON.parse(line) as AgentResponse;
        } catch {
          continue;
        }
        const done = pending.get(res.id);
        pending.delete(res.id);
        done?.(res);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      if (!connected) reject(new Error(`agent socket ${socket}: ${e.message}`));
      failAll(`agent connection failed: ${e.message}`);
    });
    sock.on('close', () => failAll('agent connection closed'));
    sock.on('connect', () => {
      connected = true;
      clearTimeout(timer);
      resolve({
        request(req, deadlineMs) {
          return new Promise((done) => {
            if (closed) {
              done({ id: 0, observed: 'error', detail: 'agent connection closed' });
              return;
            }
            const id = nextId++;
            const guard = setTimeout(() => {
              pending.delete(id);
              done({ id, observed: 'error', detail: `agent did not answer within ${deadlineMs} ms` });
            }, deadlineMs);
            pending.set(id, (r) => {
              clearTimeout(guard);
              done(r);
            });
            sock.write(`${JSON.stringify({ ...req, id })}\n`);
          });
        },
        close() {
          closed = true;
          sock.end();
          sock.destroy();
        },
      });
    });
  });
}
