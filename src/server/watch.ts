// `?watch=true`: newline-delimited watch events as kube-apiserver streams them. Without a
// resourceVersion the stream starts with ADDED for every current object; with one it resumes
// after it (410 Gone when that revision is compacted). Bookmarks on request. A client that
// stops reading is dropped once its socket buffer passes a bound, so it cannot stall the server.
import type { ServerResponse } from 'node:http';
import type { StoreError, WatchEvent } from '../store/index.ts';
import type { UserInfo } from './authn.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import { served } from './objects.ts';
import type { Query } from './rest.ts';
import { listFilter, selected, selectorsOf } from './rest.ts';
import type { ResourcePath } from './resources.ts';
import { apiVersionOf, resourcePrefix } from './resources.ts';
import { fail, status } from './status.ts';

/** Bytes queued to one watcher before it is considered dead and dropped. */
export const WATCH_BUFFER_LIMIT = 8 * 1024 * 1024;

export interface WatchStart {
  /** Validates and authorizes; throws a Status error before any byte is written. */
  readonly stream: (res: ServerResponse) => void;
}

function parseRv(text: string | undefined): number | undefined {
  if (text === undefined || text === '' || text === '0') return undefined;
  if (!/^\d+$/.test(text)) throw fail(400, `resourceVersion must be a revision number, got "${text}"`);
  return Number(text);
}

export async function startWatch(ctx: ServerContext, user: UserInfo, p: ResourcePath, q: Query, rec: RequestRecord): Promise<WatchStart> {
  rec.objectRef = { resource: p.info.plural, ...(p.namespace === undefined ? {} : { namespace: p.namespace }), apiGroup: p.info.group, apiVersion: p.info.version };
  const sel = selectorsOf(q);
  const visible = listFilter(ctx, user, p, 'watch', rec);
  const prefix = resourcePrefix(p.info, p.namespace);
  const want = (o: Readonly<Record<string, unknown>>): boolean => selected(sel, o) && visible(o);
  const rv = parseRv(q['resourceVersion']);
  const compacted = await ctx.store.compactedRevision();
  if (rv !== undefined && rv < compacted) throw fail(410, `too old resource version: ${rv} (${compacted})`);
  // Start: either the current state as ADDED events, or nothing and resume after rv.
  let initial: Record<string, unknown>[] = [];
  let from: number;
  if (rv === undefined) {
    const listed = await ctx.store.list(prefix);
    initial = listed.items.map((o) => served(o.value, o.modRevision)).filter(want);
    from = listed.revision;
  } else {
    from = rv;
  }
  const bookmarks = q['allowWatchBookmarks'] === 'true' || q['allowWatchBookmarks'] === '1';
  const timeoutSeconds = q['timeoutSeconds'] === undefined ? undefined : Number(q['timeoutSeconds']);

  return {
    stream(res) {
      let open = true;
      let last = from;
      let watch: { close(): void } | undefined;
      let bm: ReturnType<typeof setInterval> | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Audit-Id': rec.auditID });
      // Headers go out now, so a client sees the watch open before the first event.
      res.flushHeaders();
      ctx.metrics.watchOpened();
      const end = (): void => {
        if (!open) return;
        open = false;
        watch?.close();
        if (bm !== undefined) clearInterval(bm);
        if (timer !== undefined) clearTimeout(timer);
        ctx.metrics.watchClosed();
        res.end();
      };
      const send = (o: object): void => {
        if (!open) return;
        res.write(`${JSON.stringify(o)}\n`);
        if (res.writableLength > WATCH_BUFFER_LIMIT) {
          ctx.log(`watch ${rec.auditID}: client is not reading; dropped`);
          end();
        }
      };
      res.on('close', end);
      for (const o of initial) send({ type: 'ADDED', object: o });
      if (!open) return;
      const onEvents = (events: readonly WatchEvent[]): void => {
        for (const e of events) {
          last = Math.max(last, e.revision);
          let obj: Record<string, unknown>;
          try {
            obj = served(e.value, e.revision);
          } catch {
            continue;
          }
          if (want(obj)) send({ type: e.type, object: obj });
        }
      };
      const onError = (e: StoreError): void => {
        const gone = e.code === 'compacted' || e.code === 'watch-overflow';
        const code = gone ? 410 : e.code === 'future-revision' ? 504 : 500;
        send({ type: 'ERROR', object: status(code, gone ? `too old resource version: ${e.message}` : e.message, undefined, gone ? 'Expired' : undefined) });
        end();
      };
      watch = ctx.store.watch(prefix, from, onEvents, onError);
      if (!open) {
        watch.close();
        return;
      }
      bm = setInterval(() => {
        if (bookmarks) send({ type: 'BOOKMARK', object: { kind: p.info.kind, apiVersion: apiVersionOf(p.info), metadata: { resourceVersion: String(last) } } });
      }, ctx.bookmarkIntervalMs);
      if (timeoutSeconds !== undefined && timeoutSeconds > 0) timer = setTimeout(end, timeoutSeconds * 1000);
    },
  };
}
