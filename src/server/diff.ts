// POST /apis/strata/v1/diff: what a change set would do to connectivity, against the live state,
// committing nothing. The change set is parsed, authorized and planned exactly as batch apply
// does it (a user may preview only what they could apply), validated object by object and then
// by the engine on a staged overlay of the live store (engine-state.ts `preview`); the answer is
// `strata diff -o json`'s lines between the live snapshot and the after-snapshot, and a summary
// that also names the ConnectivityInvariants the change would break (what apply would refuse).
//
// Redaction: a deciding step in a policy the user may not read (a tier they cannot see, or a
// Kubernetes NetworkPolicy in a namespace they cannot read) keeps its verdict, direction and
// reason, but loses the policy, namespace, rule and source — and the tier's name when they may
// not even `get` the tier. The line itself stays: a change a user makes must show all of its
// effects, even those decided in tiers above them.
import { diffLines, hasChanges, peerLines } from '../analysis/diff.ts';
import type { DiffJsonLine, DiffJsonPeer } from '../analysis/diff.ts';
import { parsePortSpecText } from '../analysis/matrix-json.ts';
import type { PortSpec } from '../analysis/matrix.ts';
import { parseFlowProtocol } from '../engine/index.ts';
import type { UserInfo } from './authn.ts';
import { planChangeSet, plannedLabel } from './batch.ts';
import { parseChangeSet } from './change-set.ts';
import type { RequestRecord, ServerContext } from './context.ts';
import type { Query, Reply } from './rest.ts';
import { engineChangesOf, engineInvalid } from './rest.ts';
import { fail } from './status.ts';
import { redactBreak, redactDecided, redactLine } from './redact.ts';
import { replayFlows } from './replay.ts';
import type { Replay } from './replay.ts';

export interface DiffSummary {
  readonly opened: number;
  readonly closed: number;
  /** Lines whose enforced verdicts agree but whose pending (staged-as-enforced) verdicts differ. */
  readonly pending: number;
  readonly reattributed: number;
  readonly added: number;
  readonly removed: number;
  /** Whether connectivity changes (`strata diff --fail-on-change` would exit 1). */
  readonly changed: boolean;
  /** Lines with at least one deciding step redacted for this user. */
  readonly redacted: number;
  /** Invariants the change would newly break: `reject` ones make the same apply a 422. */
  readonly invariants: readonly { readonly name: string; readonly must: 'allow' | 'deny'; readonly admission: 'reject' | 'warn'; readonly message: string }[];
  /** What the change set holds, as apply would report it. */
  readonly documents: readonly { readonly kind: string; readonly namespace?: string; readonly name: string; readonly action: string }[];
}

export interface DiffResultBody {
  readonly apiVersion: 'strata/v1';
  readonly kind: 'DiffResult';
  readonly metadata: { readonly resourceVersion: string };
  /** Endpoints only in the live state (removed) or only after the change (added). */
  readonly peers: readonly DiffJsonPeer[];
  readonly lines: readonly DiffJsonLine[];
  readonly summary: DiffSummary;
  /** With `flows` in the request: the observed flows whose verdict the change would flip. */
  readonly replay?: Replay;
}

function parsePorts(texts: readonly string[]): PortSpec[] {
  return texts.map((t) => {
    const r = parsePortSpecText(t);
    if (!r.ok) throw fail(400, `ports: ${r.diagnostics[0]?.message ?? `bad port "${t}"`}`);
    return r.value;
  });
}

/** Does a line cover one of the asked ports (or, for ICMP specs, the protocol)? */
function lineCovers(l: DiffJsonLine, specs: readonly PortSpec[]): boolean {
  const proto = parseFlowProtocol(l.protocol);
  return specs.some((s) => {
    if (proto !== s.protocol) return false;
    if (s.port === undefined || l.ports === null) return s.port === undefined;
    const [lo, hi] = l.ports.split('-').map(Number);
    return s.port >= lo! && s.port <= (hi ?? lo!);
  });
}

export async function diffPreview(ctx: ServerContext, user: UserInfo, bodyText: string, q: Query, rec: RequestRecord): Promise<Reply> {
  rec.resource = 'diff';
  rec.writes = false;
  rec.objectRef = { resource: 'diff', apiGroup: 'strata', apiVersion: 'v1' };
  const cs = parseChangeSet(bodyText, q);
  const specs = parsePorts(cs.ports);
  // Serialized with the writes: the plan and the engine's overlay see one state.
  return ctx.serialize(async () => {
    const planned = await planChangeSet(ctx, user, cs, rec);
    const writes = planned.flatMap((p) => (p.write === undefined ? [] : [p.write]));
    const label = plannedLabel(planned, planned.filter((p) => p.result.action !== 'deleted').length);
    const changes = engineChangesOf(writes, label);
    const preview = ctx.mirror.engine.preview(changes, { reattributed: cs.reattributed });
    if (!preview.ok) throw engineInvalid(writes, preview.diagnostics, label);
    const result = preview.diff;
    let redacted = 0;
    const lines = diffLines(result)
      .filter((l) => specs.length === 0 || lineCovers(l, specs))
      .map((l) => {
        const r = redactLine(ctx, user, l);
        if (r.redacted) redacted++;
        return r.line;
      });
    const count = (c: DiffJsonLine['change']): number => lines.filter((l) => l.change === c).length;
    const summary: DiffSummary = {
      opened: count('opened'),
      closed: count('closed'),
      pending: count('pending'),
      reattributed: count('reattributed'),
      added: result.added.length,
      removed: result.removed.length,
      changed: hasChanges(result, lines),
      redacted,
      invariants: preview.breaks.map((b) => ({ name: b.violation.invariant, must: b.violation.must, admission: b.admission, message: redactBreak(ctx, user, b).message })),
      documents: planned.map((p) => ({ kind: p.result.kind, ...(p.result.namespace === undefined ? {} : { namespace: p.result.namespace }), name: p.result.name, action: p.result.action })),
    };
    let replay: Replay | undefined;
    if (cs.flows !== undefined) {
      const r = replayFlows(preview.before, preview.after, cs.flows);
      replay = { ...r, lines: r.lines.map((l) => ({ ...l, decidedBy: redactDecided(ctx, user, l.decidedBy).value })) };
    }
    const body: DiffResultBody = {
      apiVersion: 'strata/v1',
      kind: 'DiffResult',
      metadata: { resourceVersion: String(ctx.mirror.revision()) },
      peers: peerLines(result),
      lines,
      summary,
      ...(replay === undefined ? {} : { replay }),
    };
    return { code: 200, body };
  });
}
