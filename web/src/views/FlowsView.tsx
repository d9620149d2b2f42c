// Flows: the flow log the server stores (GET /apis/strata/v1/flows, records in the wire format of
// src/flows/record.ts), filtered by the server, grouped here for display, with a live tail
// (watch=true, JSON Lines). Each row links to Explain for the same flow.
import { useEffect, useRef, useState } from 'react';
import type { ReactElement } from 'react';
import { getJson, streamLines } from '../api/client.ts';
import { flowEventSchema, flowListSchema } from '../api/schemas.ts';
import type { FlowRecord, PolicyHit } from '../api/schemas.ts';
import { navigate, routeHref } from '../route.ts';
import { Failure, useFetched, verdictClass } from './common.tsx';

type Level = 'none' | 'endpoint-group' | 'namespace';

function side(e: FlowRecord['source'], level: Level): string {
  if (level === 'namespace') return e.namespace ?? e.kind;
  const name = e.name ?? e.ip ?? '?';
  return e.namespace === null ? name : `${e.namespace}/${name}`;
}

/** What explain needs for a side: NS/NAME for a workload, the address otherwise. */
function explainSide(e: FlowRecord['source']): string | undefined {
  if (e.kind === 'WorkloadEndpoint' && e.namespace !== null && e.name !== null && !e.name.endsWith('*')) return `${e.namespace}/${e.name}`;
  return e.ip ?? undefined;
}

function hitText(h: readonly PolicyHit[]): string {
  const last = h[h.length - 1];
  if (last === undefined) return '—';
  return `${last.tier ?? ''}${last.name === null ? '' : ` / ${last.name}`}${last.ruleIndex === null ? '' : ` rule ${last.ruleIndex}`} (${last.action})`;
}

interface Row {
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly port: number | null;
  readonly protocol: string;
  readonly action: string;
  readonly enforced: string;
  readonly pending: string;
  readonly mismatch: boolean;
  readonly packets: number;
  readonly records: number;
  readonly last: string;
  readonly sample: FlowRecord;
}

/** Display grouping only (the records' own aggregation is the server's): sums counters per group. */
function group(records: readonly FlowRecord[], level: Level): Row[] {
  const out = new Map<string, Row>();
  for (const r of records) {
    const from = side(r.source, level);
    const to = side(r.destination, level);
    const enforced = hitText(r.policies.enforced);
    const pending = hitText(r.policies.pending);
    const key = `${from}|${to}|${r.port}|${r.protocol}|${r.action}|${enforced}|${pending}`;
    const prev = out.get(key);
    out.set(key, {
      key, from, to, port: r.port, protocol: r.protocol, action: r.action, enforced, pending,
      mismatch: (prev?.mismatch ?? false) || r.mismatch,
      packets: (prev?.packets ?? 0) + r.packets,
      records: (prev?.records ?? 0) + 1,
      last: prev === undefined || prev.last < r.endTime ? r.endTime : prev.last,
      sample: prev?.sample ?? r,
    });
  }
  return [...out.values()].sort((a, b) => (a.last < b.last ? 1 : -1));
}

export function FlowsView({ params }: { params: URLSearchParams }): ReactElement {
  const f = {
    since: params.get('since') ?? '1h',
    namespace: params.get('namespace') ?? '',
    action: params.get('action') ?? '',
    pendingDiffers: params.get('pendingDiffers') ?? '',
    limit: params.get('limit') ?? '500',
    level: (params.get('level') ?? 'none') as Level,
  };
  const set = (k: keyof typeof f, v: string): void => navigate('flows', { ...f, [k]: v }, true);
  const query = new URLSearchParams();
  if (f.since !== '') query.set('since', f.since);
  if (f.namespace !== '') query.set('namespace', f.namespace);
  if (f.action !== '') query.set('action', f.action);
  if (f.pendingDiffers === 'true') query.set('pendingDiffers', 'true');
  if (f.limit !== '') query.set('limit', f.limit);
  const list = useFetched(() => getJson(`/apis/strata/v1/flows?${query.toString()}`, flowListSchema), [query.toString()]);
  const [live, setLive] = useState(false);
  const [tail, setTail] = useState<FlowRecord[]>([]);
  const [tailError, setTailError] = useState<string | undefined>(undefined);
  const abort = useRef<AbortController | null>(null);
  // Further pages (metadata.continue), appended below the first.
  const [more, setMore] = useState<{ items: FlowRecord[]; next: string | undefined; error: string | undefined }>({ items: [], next: undefined, error: undefined });
  useEffect(() => setMore({ items: [], next: undefined, error: undefined }), [query.toString()]);
  const loadMore = async (token: string): Promise<void> => {
    const q = new URLSearchParams(query);
    q.set('continue', token);
    const r = await getJson(`/apis/strata/v1/flows?${q.toString()}`, flowListSchema);
    setMore((m) => (r.ok ? { items: [...m.items, ...r.value.items], next: r.value.metadata.continue, error: undefined } : { ...m, error: r.message }));
  };
  useEffect(() => {
    if (!live) return;
    const ac = new AbortController();
    abort.current = ac;
    setTail([]);
    const wq = new URLSearchParams(query);
    wq.set('watch', 'true');
    // A watch streams what is stored from now on: the window and the page size do not apply.
    wq.delete('limit');
    wq.delete('since');
    void streamLines(`/apis/strata/v1/flows?${wq.toString()}`, (line) => {
      const ev = flowEventSchema.safeParse(line);
      if (ev.success) setTail((t) => [ev.data.object, ...t].slice(0, 2000));
    }, ac.signal).then((r) => {
      if (!r.ok) setTailError(r.message);
    });
    return () => ac.abort();
  }, [live, query.toString()]);

  const filters = (
    <form className="filters" aria-label="Filter flows" onSubmit={(e) => e.preventDefault()}>
      <label>Since<input value={f.since} onChange={(e) => set('since', e.target.value)} placeholder="1h or RFC 3339" /></label>
      <label>Namespace<input value={f.namespace} onChange={(e) => set('namespace', e.target.value)} /></label>
      <label>
        Action
        <select value={f.action} onChange={(e) => set('action', e.target.value)}>
          <option value="">any</option><option value="allow">allow</option><option value="deny">deny</option>
        </select>
      </label>
      <label>
        Aggregation
        <select value={f.level} onChange={(e) => set('level', e.target.value)}>
          <option value="none">as recorded</option><option value="endpoint-group">by endpoint</option><option value="namespace">by namespace</option>
        </select>
      </label>
      <label>Limit<input type="number" min={1} value={f.limit} onChange={(e) => set('limit', e.target.value)} /></label>
      <label className="check"><input type="checkbox" checked={f.pendingDiffers === 'true'} onChange={(e) => set('pendingDiffers', e.target.checked ? 'true' : '')} /> only where staged policies would decide differently</label>
      <label className="check"><input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> live tail</label>
    </form>
  );
  if (list.state === 'loading') return <>{filters}<p role="status">Loading flows…</p></>;
  if (!list.result.ok) return <>{filters}<Failure what="The flow log" status={list.result.status} message={list.result.message} /></>;
  const records = [...(live ? tail : []), ...list.result.value.items, ...more.items];
  const next = more.items.length === 0 ? list.result.value.metadata.continue : more.next;
  const rows = group(records, f.level);
  return (
    <>
      {filters}
      {tailError === undefined ? null : <p role="alert" className="error">Live tail: {tailError}</p>}
      <p className="summary">{records.length} records{next === undefined ? '' : ' (more on the server)'}, {rows.length} rows.</p>
      <table className="flows">
        <caption className="sr-only">Flow log</caption>
        <thead>
          <tr><th scope="col">last seen</th><th scope="col">source</th><th scope="col">destination</th><th scope="col">port</th><th scope="col">action</th><th scope="col">enforced by</th><th scope="col">pending</th><th scope="col">packets</th><th scope="col"><span className="sr-only">explain</span></th></tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const from = explainSide(r.sample.source);
            const to = explainSide(r.sample.destination);
            return (
              <tr key={r.key} className={r.mismatch ? 'mismatch' : undefined}>
                <td>{r.last}</td><td>{r.from}</td><td>{r.to}</td><td>{r.port ?? '—'}/{r.protocol}</td>
                <td><span className={`verdict ${verdictClass(r.action)}`}>{r.action}</span>{r.mismatch ? ' (engine differs)' : ''}</td>
                <td>{r.enforced}</td><td>{r.pending}</td><td>{r.packets}</td>
                <td>{from === undefined || to === undefined ? null : <a href={routeHref('explain', { from, to, port: r.port === null ? undefined : String(r.port), protocol: r.protocol.toUpperCase() })}>Explain</a>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {next === undefined ? null : <button type="button" onClick={() => void loadMore(next)}>Load more flows</button>}
      {more.error === undefined ? null : <p role="alert" className="error">{more.error}</p>}
    </>
  );
}
