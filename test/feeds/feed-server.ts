// A real HTTP feed server on 127.0.0.1 (random port) whose answers a test changes between pulls:
// content, a status code, a hang (never answers) or an endless body. Records every request.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FeedBehaviour =
  | { readonly kind: 'content'; readonly text: string }
  | { readonly kind: 'status'; readonly status: number; readonly text?: string }
  /** Sends headers, then nothing: only a client-side deadline ends it. */
  | { readonly kind: 'hang' }
  /** Streams `chunk` forever without a Content-Length (chunked), until the client goes away. */
  | { readonly kind: 'endless'; readonly chunk: string }
  /** Declares a Content-Length of `bytes` and sends it. */
  | { readonly kind: 'sized'; readonly bytes: number }
  /** 302 to `location`. */
  | { readonly kind: 'redirect'; readonly location: string };

export interface FeedServer {
  readonly url: (path?: string) => string;
  set(path: string, b: FeedBehaviour): void;
  readonly requests: { readonly path: string; readonly headers: IncomingHttpHeaders; readonly at: number }[];
  /** Bytes written by `endless` answers so far. */
  endlessBytes(): number;
  close(): Promise<void>;
}

export async function startFeedServer(): Promise<FeedServer> {
  const routes = new Map<string, FeedBehaviour>();
  const requests: { path: string; headers: IncomingHttpHeaders; at: number }[] = [];
  const open = new Set<ServerResponse>();
  let endless = 0;
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ path, headers: req.headers, at: Date.now() });
    open.add(res);
    res.on('close', () => open.delete(res));
    const b = routes.get(path) ?? { kind: 'status', status: 404, text: 'no such feed' };
    switch (b.kind) {
      case 'content':
        res.setHeader('content-type', 'text/plain');
        res.end(b.text);
        return;
      case 'status':
        res.statusCode = b.status;
        res.end(b.text ?? '');
        return;
      case 'hang':
        res.flushHeaders();
        return;
      case 'sized':
        res.setHeader('content-length', String(b.bytes));
        res.end('1'.repeat(b.bytes));
        return;
      case 'redirect':
        res.statusCode = 302;
        res.setHeader('location', b.location);
        res.end();
        return;
      case 'endless': {
        const pump = (): void => {
          while (!res.destroyed && res.write(b.chunk)) endless += b.chunk.length;
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      default: {
        const never: never = b;
        throw new Error(String(never));
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path = '/feed') => `http://127.0.0.1:${port}${path}`,
    set: (path, b) => void routes.set(path, b),
    requests,
    endlessBytes: () => endless,
    close: async () => {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
