// The HTTP server: fastify with one catch-all route that authenticates, dispatches on
// kube-apiserver's paths, turns every failure into a Status body (never a stack trace), and
// writes audit events and metrics when the response is done.
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Datastore } from '../store/index.ts';
import { auditEvent, createAuditLog } from './audit.ts';
import type { AuditLog } from './audit.ts';
import { authenticate } from './authn.ts';
import type { TokenTable } from './authn.ts';
import { batchApply } from './batch.ts';
import { diffPreview } from './diff.ts';
import { policyBoard } from './board.ts';
import { serveConsole } from './console-static.ts';
import { MAX_BODY_BYTES } from './body.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import { apiGroupList, apiResourceList, coreVersions, openApiV2, openApiV3, openApiV3Index } from './discovery.ts';
import { auditEvents, explain, matrix, nonResourceAllows, selfSubjectAccessReview } from './endpoints.ts';
import { openSqliteFlowStore } from '../flows/sqlite-store.ts';
import type { FlowStore } from '../flows/store.ts';
import { createFlowService, FLOWS_PATH } from './flows.ts';
import type { FlowService } from './flows.ts';
import { createMetrics } from './metrics.ts';
import type { Metrics } from './metrics.ts';
import { startMirror } from './mirror.ts';
import type { Mirror } from './mirror.ts';
import { createObject, deleteObject, getObject, listObjects, replaceObject } from './rest.ts';
import type { Query, Reply } from './rest.ts';
import { parseResourcePath } from './resources.ts';
import { ApiError, fail, status } from './status.ts';
import { startWatch } from './watch.ts';
import { listNodeView, NODE_VIEW_PATH, startNodeViewWatch } from './node-view.ts';
import { startThreatFeedController } from './threat-feeds.ts';
import type { ThreatFeedController, ThreatFeedOptions } from './threat-feeds.ts';

export interface ServerOptions {
  readonly store: Datastore;
  readonly tokens: TokenTable;
  readonly auditFile?: string | undefined;
  readonly bodyLimit?: number | undefined;
  readonly bookmarkIntervalMs?: number | undefined;
  readonly log?: ((message: string) => void) | undefined;
  /** The built console (`npm run build:ui` writes dist/ui); served at /ui/. */
  readonly consoleDir?: string | undefined;
  /** Serve HTTPS with this certificate and key (PEM). kubectl sends bearer tokens only over TLS. */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
  /** The threat-feed controller (on unless `false`, as `strata server --no-threatfeeds`). */
  readonly threatFeeds?: ThreatFeedOptions | false | undefined;
  /** Where flow records are kept (default: an in-memory SQLite store). The server closes it. */
  readonly flowStore?: FlowStore | undefined;
  /** How often the flow store rolls up and applies retention, ms (default 15 s; 0: never, tests call `maintain`). */
  readonly flowMaintenanceMs?: number | undefined;
}

export interface StrataServer {
  readonly app: FastifyInstance;
  readonly mirror: Mirror;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  /** Undefined when threat feeds are off. */
  readonly threatFeeds: ThreatFeedController | undefined;
  readonly flows: FlowService;
  close(): Promise<void>;
}

/** dist/ui at the repository root, where `npm run build:ui` puts the console. */
export const DEFAULT_CONSOLE_DIR = new URL('../../dist/ui/', import.meta.url).pathname;

const records = new WeakMap<FastifyRequest, RequestRecord>();

function verbOf(method: string, hasName: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return watch ? 'watch' : hasName ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return hasName ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

function queryOf(req: FastifyRequest): Query {
  const q: Record<string, string | undefined> = {};
  const raw = req.query;
  if (typeof raw === 'object' && raw !== null) {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) q[k] = Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v);
  }
  return q;
}

export async function createStrataServer(opts: ServerOptions): Promise<StrataServer> {
  const log = opts.log ?? ((m: string) => void process.stderr.write(`${m}\n`));
  const mirror = await startMirror(opts.store, log);
  const audit = createAuditLog(opts.store, opts.auditFile, log);
  const metrics = createMetrics();
  const flows = createFlowService(opts.flowStore ?? openSqliteFlowStore({ path: ':memory:' }), { metrics });
  const maintenanceMs = opts.flowMaintenanceMs ?? 15_000;
  const maintenance =
    maintenanceMs > 0
      ? setInterval(() => {
          try {
            flows.store.maintain();
          } catch (e) {
            log(`flows: maintenance failed (retried at the next interval): ${(e as Error).message}`);
          }
        }, maintenanceMs)
      : undefined;
  maintenance?.unref();
  let queue: Promise<unknown> = Promise.resolve();
  const ctx: ServerContext = {
    store: opts.store,
    mirror,
    audit,
    metrics,
    log,
    tokensRef: () => opts.tokens,
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 30_000,
    consoleDir: opts.consoleDir ?? DEFAULT_CONSOLE_DIR,
    serialize<T>(fn: () => Promise<T>): Promise<T> {
      const run = queue.then(fn, fn);
      queue = run.catch(() => undefined);
      return run;
    },
  };
  const bodyLimit = opts.bodyLimit ?? MAX_BODY_BYTES;
  const base = { bodyLimit, logger: false, return503OnClosing: true, forceCloseConnections: true } as const;
  // The HTTPS instance is typed over https.Server; handlers only use what both share.
  const app = (opts.tls === undefined ? Fastify(base) : Fastify({ ...base, https: { cert: opts.tls.cert, key: opts.tls.key } })) as unknown as FastifyInstance;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    let s;
    if (err instanceof ApiError) s = err.status;
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) s = status(413, `the request body is larger than ${bodyLimit} bytes`);
    else if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) s = status(err.statusCode, err.message);
    else {
      log(`internal error on ${req.method} ${req.url}: ${err.stack ?? err.message}`);
      s = status(500, 'Internal error occurred: the server could not handle the request (see the server log)');
    }
    void reply.code(s.code).header('Content-Type', 'application/json').send(s);
  });

  app.addHook('onRequest', async (req, reply) => {
    const rec: RequestRecord = {
      auditID: randomUUID(),
      received: new Date(),
      uri: req.url,
      sourceIP: req.ip,
      userAgent: req.headers['user-agent'],
      user: undefined,
      verb: req.method.toLowerCase(),
      resource: '',
      objectRef: undefined,
      tier: undefined,
      decision: undefined,
      reason: undefined,
      writes: req.method !== 'GET' && req.method !== 'HEAD',
      audited: false,
    };
    records.set(req, rec);
    void reply.header('Audit-Id', rec.auditID);
  });

  // Audit before the response leaves: an acknowledged write always has its record.
  app.addHook('onSend', async (req, reply, payload) => {
    const rec = records.get(req);
    if (rec === undefined || rec.audited) return payload;
    const code = reply.statusCode;
    const refused = code === 401 || code === 403;
    if (!refused && !(rec.writes && rec.resource !== '')) return payload;
    rec.audited = true;
    let message: string | undefined;
    if (code >= 400 && typeof payload === 'string') {
      try {
        message = (JSON.parse(payload) as { message?: string }).message;
      } catch {
        message = undefined;
      }
    }
    await audit.record([
      auditEvent({
        auditID: rec.auditID,
        requestURI: rec.uri,
        verb: rec.verb,
        user: rec.user,
        sourceIP: rec.sourceIP,
        userAgent: rec.userAgent,
        objectRef: rec.objectRef,
        code,
        message,
        received: rec.received,
        decision: rec.user === undefined ? 'unauthenticated' : (rec.decision ?? (code === 403 ? 'forbid' : 'allow')),
        reason: rec.reason,
        tier: rec.tier,
      }),
    ]).catch((e: unknown) => log(`audit: ${(e as Error).message}`));
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const rec = records.get(req);
    if (rec === undefined) return;
    metrics.observe(rec.verb, rec.resource, reply.statusCode, reply.elapsedTime / 1000);
    metrics.setRevision(mirror.revision());
  });

  app.setNotFoundHandler((_req, reply) => {
    const s = status(405, 'the server does not allow this method on the requested resource');
    void reply.code(s.code).header('Content-Type', 'application/json').send(s);
  });

  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/*',
    handler: async (req, reply) => handle(ctx, flows, req, reply),
  });

  const threatFeeds = opts.threatFeeds === false ? undefined : startThreatFeedController(ctx, opts.threatFeeds ?? {});

  return {
    app,
    mirror,
    audit,
    metrics,
    threatFeeds,
    flows,
    async close() {
      await threatFeeds?.close();
      if (maintenance !== undefined) clearInterval(maintenance);
      await app.close();
      mirror.close();
      flows.store.close();
    },
  };
}

function send(reply: FastifyReply, r: Reply): FastifyReply {
  // RFC 7234 warn-code 299 with an agent of "-", as kube-apiserver writes admission warnings.
  // Header values are ASCII here: arrows become "->", anything else outside ASCII a \\u escape.
  const ascii = (t: string): string => t.replace(/→/g, '->').replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const warnings = (r.warnings ?? []).map((w) => `299 - ${ascii(JSON.stringify(w.replace(/[\r\n]+/g, ' ')))}`);
  if (warnings.length > 0) void reply.header('Warning', warnings);
  return reply.code(r.code).header('Content-Type', 'application/json').send(r.body);
}

async function handle(ctx: ServerContext, flows: FlowService, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
  const rec = records.get(req)!;
  const url = new URL(req.url, 'http://strata');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const body = typeof req.body === 'string' ? req.body : '';
  const q = queryOf(req);

  // Health is public, as kube-apiserver's system:public-info-viewer makes it.
  if (req.method === 'GET' && (path === '/healthz' || path === '/livez')) return reply.type('text/plain').send('ok');
  if (req.method === 'GET' && path === '/version') {
    // kubectl asks for it; public as in kube-apiserver (system:public-info-viewer).
    return send(reply, { code: 200, body: { major: '1', minor: '31', gitVersion: 'v1.31.0-strata', platform: `${process.platform}/${process.arch}` } });
  }
  // The console's files are public, as a login page is: every API call it makes carries a token.
  if ((req.method === 'GET' || req.method === 'HEAD') && (path === '/ui' || path.startsWith('/ui/'))) return serveConsole(reply, url.pathname, ctx.consoleDir);
  if (req.method === 'GET' && path === '/readyz') {
    // Ready means the store answers: a server whose etcd is gone should be taken out of rotation.
    try {
      await ctx.store.revision();
      return reply.type('text/plain').send('ok');
    } catch {
      return reply.code(503).type('text/plain').send('store unavailable');
    }
  }

  const user = authenticate(ctx.tokensRef(), req.headers.authorization);
  if (user === undefined) {
    rec.decision = 'unauthenticated';
    throw fail(401, 'Unauthorized');
  }
  rec.user = user;

  if (req.method === 'GET') {
    if (path === '/metrics') {
      rec.resource = 'metrics';
      if (!nonResourceAllows(ctx.mirror.rbac(), user, 'get', path)) {
        rec.decision = 'forbid';
        throw fail(403, `forbidden: User "${user.username}" cannot get path "/metrics"`);
      }
      return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
    }
    if (path === '/api') return send(reply, { code: 200, body: coreVersions() });
    if (path === '/apis') return send(reply, { code: 200, body: apiGroupList() });
    if (path === '/openapi/v2') {
      // Only JSON: a client asking for the protobuf form (kubectl's fallback) is told so.
      if (/protobuf/.test(String(req.headers.accept ?? '')) && !/json/.test(String(req.headers.accept ?? ''))) throw fail(406, 'only application/json is served');
      return send(reply, { code: 200, body: openApiV2() });
    }
    if (path === '/openapi/v3') return send(reply, { code: 200, body: openApiV3Index() });
    if (path.startsWith('/openapi/v3/')) {
      const doc = openApiV3(path.slice('/openapi/v3/'.length));
      if (doc === undefined) throw fail(404, 'the server could not find the requested resource');
      return send(reply, { code: 200, body: doc });
    }
    const gv = /^\/api\/(v1)$/.exec(path) ?? /^\/apis\/([^/]+\/[^/]+)$/.exec(path);
    if (gv !== null) {
      const list = apiResourceList(gv[1]!);
      if (list === undefined) throw fail(404, 'the server could not find the requested resource');
      return send(reply, { code: 200, body: list });
    }
    const view = NODE_VIEW_PATH.exec(path);
    if (view !== null) {
      const node = decodeURIComponent(view[1]!);
      if (q['watch'] === 'true' || q['watch'] === '1') {
        rec.verb = 'watch';
        const stream = await startNodeViewWatch(ctx, user, node, q, rec);
        reply.hijack();
        stream(reply.raw);
        return;
      }
      rec.verb = 'get';
      return send(reply, await listNodeView(ctx, user, node, rec));
    }
    if (path === '/apis/strata/v1/policyboard') return send(reply, policyBoard(ctx, user, rec));
    if (path === FLOWS_PATH) {
      if (q['watch'] === 'true' || q['watch'] === '1') {
        rec.verb = 'watch';
        const stream = flows.watch(ctx, user, q, rec);
        reply.hijack();
        stream(reply.raw);
        return;
      }
      rec.verb = 'list';
      return send(reply, flows.list(ctx, user, q, rec));
    }
    if (path === `${FLOWS_PATH}/stats`) {
      rec.verb = 'list';
      return send(reply, flows.stats(ctx, user, q, rec));
    }
    if (path === `${FLOWS_PATH}/status`) {
      rec.verb = 'get';
      return send(reply, flows.status(ctx, user, rec));
    }
    if (path === '/apis/strata/v1/auditevents') {
      rec.verb = 'list';
      return send(reply, await auditEvents(ctx, user, q, rec));
    }
  }
  if (req.method === 'POST') {
    if (path === '/apis/strata/v1/apply') {
      rec.verb = 'apply';
      rec.resource = 'apply';
      return send(reply, await batchApply(ctx, user, body, q, rec));
    }
    if (path === '/apis/strata/v1/diff') {
      rec.verb = 'diff';
      return send(reply, await diffPreview(ctx, user, body, q, rec));
    }
    if (path === FLOWS_PATH) {
      rec.verb = 'create';
      const r = await flows.ingest(ctx, user, body, rec);
      return send(reply, r);
    }
    if (path === '/apis/strata/v1/explain') {
      rec.writes = false;
      return send(reply, explain(ctx, user, body, rec));
    }
    if (path === '/apis/strata/v1/matrix') {
      rec.writes = false;
      return send(reply, matrix(ctx, user, body, rec));
    }
    if (path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
      rec.writes = false;
      return send(reply, selfSubjectAccessReview(ctx, user, body, rec));
    }
  }

  const parsed = parseResourcePath(path);
  if (parsed === undefined || !parsed.ok) throw fail(404, parsed?.ok === false ? parsed.message : 'the server could not find the requested resource');
  const p = parsed.value;
  const watch = q['watch'] === 'true' || q['watch'] === '1';
  rec.verb = verbOf(req.method, p.name !== undefined, watch);
  rec.resource = p.subresource === undefined ? p.info.plural : `${p.info.plural}/${p.subresource}`;
  const contentType = String(req.headers['content-type'] ?? 'application/json');
  switch (rec.verb) {
    case 'get':
      return send(reply, await getObject(ctx, user, p, rec));
    case 'list':
      return send(reply, await listObjects(ctx, user, p, q, rec));
    case 'watch': {
      const w = await startWatch(ctx, user, p, q, rec);
      reply.hijack();
      w.stream(reply.raw);
      return;
    }
    case 'create':
      if (p.name !== undefined) throw fail(405, 'POST creates in a collection: drop the name from the URL');
      return send(reply, await createObject(ctx, user, p, body, rec));
    case 'update':
    case 'patch':
      if (p.name === undefined) throw fail(405, `${rec.verb} needs an object name in the URL`);
      return send(reply, await replaceObject(ctx, user, p, body, contentType, rec.verb, rec));
    case 'delete':
      return send(reply, await deleteObject(ctx, user, p, body, rec));
    default:
      throw fail(405, `the server does not allow this method on the requested resource (${rec.verb})`);
  }
}
