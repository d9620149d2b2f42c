// Audit: one audit.k8s.io/v1 Event per write and per refused request (401, 403), appended to a
// JSON Lines file and stored under /registry/strata/auditevents/ so `strata audit` can query it.
// Written before the response is sent: an acknowledged write always has its audit record.
import { appendFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Datastore } from '../store/index.ts';
import type { UserInfo } from './authn.ts';

export const AUDIT_PREFIX = '/registry/strata/auditevents/';

export interface ObjectRef {
  readonly resource?: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly apiGroup?: string;
  readonly apiVersion?: string;
}

export const auditEventSchema = z.object({
  kind: z.literal('Event'),
  apiVersion: z.literal('audit.k8s.io/v1'),
  level: z.string(),
  auditID: z.string(),
  stage: z.string(),
  requestURI: z.string(),
  verb: z.string(),
  user: z.object({ username: z.string(), uid: z.string().optional(), groups: z.array(z.string()).optional() }),
  sourceIPs: z.array(z.string()).optional(),
  userAgent: z.string().optional(),
  objectRef: z
    .object({
      resource: z.string().optional(),
      subresource: z.string().optional(),
      namespace: z.string().optional(),
      name: z.string().optional(),
      apiGroup: z.string().optional(),
      apiVersion: z.string().optional(),
    })
    .optional(),
  responseStatus: z.object({ metadata: z.object({}).optional(), code: z.number(), status: z.string().optional(), message: z.string().optional(), reason: z.string().optional() }),
  requestReceivedTimestamp: z.string(),
  stageTimestamp: z.string(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type AuditEvent = z.output<typeof auditEventSchema>;

export interface AuditInput {
  readonly auditID: string;
  readonly requestURI: string;
  readonly verb: string;
  readonly user: UserInfo | undefined;
  readonly sourceIP: string;
  readonly userAgent: string | undefined;
  readonly objectRef: ObjectRef | undefined;
  readonly code: number;
  readonly message?: string | undefined;
  readonly received: Date;
  readonly decision: 'allow' | 'forbid' | 'unauthenticated';
  readonly reason?: string | undefined;
  readonly tier?: string | undefined;
}

/** Micro-second ISO stamps, as Kubernetes writes them (metav1.MicroTime). */
function micro(d: Date): string {
  return d.toISOString().replace(/Z$/, '000Z');
}

export function auditEvent(i: AuditInput, now = new Date()): AuditEvent {
  const annotations: Record<string, string> = { 'authorization.k8s.io/decision': i.decision };
  if (i.reason !== undefined && i.reason !== '') annotations['authorization.k8s.io/reason'] = i.reason;
  if (i.tier !== undefined) annotations['projectcalico.org/tier'] = i.tier;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: i.auditID,
    stage: 'ResponseComplete',
    requestURI: i.requestURI,
    verb: i.verb,
    user: i.user === undefined ? { username: 'system:anonymous', groups: ['system:unauthenticated'] } : { username: i.user.username, uid: i.user.uid, groups: [...i.user.groups] },
    sourceIPs: [i.sourceIP],
    ...(i.userAgent === undefined ? {} : { userAgent: i.userAgent }),
    ...(i.objectRef === undefined ? {} : { objectRef: { ...i.objectRef } }),
    responseStatus: { metadata: {}, code: i.code, ...(i.code >= 400 ? { status: 'Failure' } : {}), ...(i.message === undefined ? {} : { message: i.message }) },
    requestReceivedTimestamp: micro(i.received),
    stageTimestamp: micro(now),
    annotations,
  };
}

export interface AuditLog {
  record(events: readonly AuditEvent[]): Promise<void>;
  /** Events whose stageTimestamp is at or after `since`, oldest first. */
  query(since: Date | undefined, limit?: number): Promise<AuditEvent[]>;
}

export function createAuditLog(store: Datastore, file: string | undefined, log: (m: string) => void): AuditLog {
  let chain: Promise<void> = Promise.resolve();
  return {
    async record(events) {
      if (events.length === 0) return;
      const lines = events.map((e) => `${JSON.stringify(e)}\n`).join('');
      if (file !== undefined) {
        // Appends are chained so lines from concurrent requests never interleave.
        chain = chain.then(() => appendFile(file, lines)).catch((e: unknown) => log(`audit: cannot append to ${file}: ${(e as Error).message}`));
        await chain;
      }
      const r = await store.txn(events.map((e, i) => ({ op: 'put' as const, key: `${AUDIT_PREFIX}${e.stageTimestamp}-${e.auditID}-${String(i).padStart(5, '0')}`, value: JSON.stringify(e) })));
      if (!r.ok) log('audit: store refused the audit record');
    },
    async query(since, limit = 0) {
      const after = since === undefined ? undefined : `${AUDIT_PREFIX}${micro(since)}`;
      const listed = await store.list(AUDIT_PREFIX, { ...(after === undefined ? {} : { continueAfter: after }), ...(limit > 0 ? { limit } : {}) });
      const out: AuditEvent[] = [];
      for (const item of listed.items) {
        const p = auditEventSchema.safeParse(JSON.parse(item.value));
        if (p.success) out.push(p.data);
      }
      return out;
    },
  };
}
