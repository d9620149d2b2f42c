// Explain: one flow sent to the server's explain endpoint; the answer (src/engine/wire.ts) shown
// as the engine traced it — each direction's steps grouped by tier, the deciding step marked,
// and for a denied flow the closest Allow rules with the criteria that failed.
import { useEffect, useState } from 'react';
import type { FormEvent, ReactElement } from 'react';
import { postJson } from '../api/client.ts';
import type { Fetched } from '../api/client.ts';
import { explainSchema } from '../api/schemas.ts';
import type { ExplainJson, ExplainJsonDecidedBy, ExplainJsonStep } from '../api/schemas.ts';
import { navigate } from '../route.ts';
import { verdictClass } from './common.tsx';

function decidedText(d: ExplainJsonDecidedBy): string {
  const where = d.policy === null ? (d.tier === null ? '' : `tier ${d.tier}`) : `${d.tier === null ? '' : `${d.tier} / `}${d.policy}${d.rule === null ? '' : ` rule ${d.rule}`}`;
  return `${d.direction ?? ''} ${where} (${d.reason})`.trim();
}

function isDeciding(step: ExplainJsonStep, d: ExplainJsonDecidedBy, direction: string): boolean {
  return d.direction === direction && step.tier === d.tier && step.policy === d.policy && step.rule === d.rule && step.action.toLowerCase() === d.action;
}

function Trace({ e, direction }: { e: ExplainJson; direction: 'egress' | 'ingress' }): ReactElement {
  const dir = e[direction];
  if (dir === null) return <p className="meta">{direction}: not evaluated (an earlier direction decided, or the side is not an endpoint).</p>;
  // Steps grouped by tier, in order: the trace is already in evaluation order.
  const groups: { tier: string; steps: ExplainJsonStep[] }[] = [];
  for (const s of dir.trace) {
    const t = s.tier ?? '(profiles)';
    const last = groups[groups.length - 1];
    if (last !== undefined && last.tier === t) last.steps.push(s);
    else groups.push({ tier: t, steps: [s] });
  }
  return (
    <section className="trace" aria-labelledby={`trace-${direction}`}>
      <h3 id={`trace-${direction}`}>
        {direction === 'egress' ? 'Egress' : 'Ingress'} at {dir.endpoint}: <span className={`verdict ${verdictClass(dir.verdict)}`}>{dir.verdict}</span>
      </h3>
      {groups.map((g, gi) => (
        <table key={`${g.tier}-${gi}`} className="steps">
          <caption>Tier {g.tier}</caption>
          <thead>
            <tr><th scope="col">policy</th><th scope="col">rule</th><th scope="col">action</th><th scope="col">reason</th></tr>
          </thead>
          <tbody>
            {g.steps.map((s, si) => {
              const deciding = isDeciding(s, e.decidedBy, direction);
              return (
                <tr key={si} className={deciding ? 'deciding' : s.staged === true ? 'staged' : undefined} aria-current={deciding ? 'true' : undefined}>
                  <td>{s.policy ?? '—'}{s.staged === true ? ' (staged)' : ''}</td>
                  <td>{s.rule ?? '—'}</td>
                  <td>{s.action}</td>
                  <td>{s.reason}{deciding ? ' — decides the flow' : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ))}
    </section>
  );
}

export function ExplainView({ params }: { params: URLSearchParams }): ReactElement {
  const q = { from: params.get('from') ?? '', to: params.get('to') ?? '', port: params.get('port') ?? '', protocol: params.get('protocol') ?? 'TCP' };
  const [form, setForm] = useState(q);
  const [result, setResult] = useState<Fetched<ExplainJson> | 'loading' | undefined>(undefined);
  const key = `${q.from}|${q.to}|${q.port}|${q.protocol}`;
  useEffect(() => {
    setForm(q);
    if (q.from === '' || q.to === '') {
      setResult(undefined);
      return;
    }
    let live = true;
    setResult('loading');
    const body = { from: q.from, to: q.to, protocol: q.protocol, ...(q.port === '' ? {} : { port: q.port }) };
    void postJson('/apis/strata/v1/explain', body, explainSchema).then((r) => {
      if (live) setResult(r);
    });
    return () => {
      live = false;
    };
    // The hash is the state: re-run when it changes.
  }, [key]);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    navigate('explain', form);
  };
  const field = (k: 'from' | 'to' | 'port', label: string, hint: string): ReactElement => (
    <label>
      {label}
      <input name={k} value={form[k]} onChange={(ev) => setForm({ ...form, [k]: ev.target.value })} placeholder={hint} required={k !== 'port'} />
    </label>
  );
  return (
    <>
      <form className="explain-form" onSubmit={submit} aria-label="Flow to explain">
        {field('from', 'Source', 'shop/frontend, app=web, 10.0.0.1')}
        {field('to', 'Destination', 'shop/cart, cart.shop, example.com')}
        {field('port', 'Port', '8080')}
        <label>
          Protocol
          <select name="protocol" value={form.protocol} onChange={(ev) => setForm({ ...form, protocol: ev.target.value })}>
            {['TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPv6'].map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
        <button type="submit">Explain</button>
      </form>
      {result === undefined ? <p className="hint">Name a source and a destination; the server decides the flow with the live policy.</p> : null}
      {result === 'loading' ? <p role="status">Explaining…</p> : null}
      {result !== undefined && result !== 'loading' && !result.ok ? <p role="alert" className="error">{result.message}</p> : null}
      {result !== undefined && result !== 'loading' && result.ok ? <ExplainResult e={result.value} /> : null}
    </>
  );
}

export function ExplainResult({ e }: { e: ExplainJson }): ReactElement {
  return (
    <article className="explain-result" aria-labelledby="verdict">
      <h2 id="verdict">
        {e.from} → {e.to}{e.port === null ? '' : `:${e.port}`}/{e.protocol}: <span className={`verdict ${verdictClass(e.verdict)}`} data-verdict={e.verdict}>{e.verdict}</span>
      </h2>
      <p className="decided" data-policy={e.decidedBy.policy ?? ''} data-tier={e.decidedBy.tier ?? ''}>
        Decided by <strong>{decidedText(e.decidedBy)}</strong>
        {e.decidedBy.source === undefined ? null : <> at <code>{e.decidedBy.source}</code></>}
      </p>
      {e.pending === null ? null : (
        <p className="pending">With staged policies enforced: <span className={`verdict ${verdictClass(e.pending.verdict)}`}>{e.pending.verdict}</span>, by {decidedText(e.pending.decidedBy)}</p>
      )}
      {e.service === undefined ? null : <p className="meta">Service {e.service.service}:{e.service.port} → backend {e.service.backend}:{e.service.targetPort}</p>}
      {(e.notes ?? []).length === 0 ? null : <ul className="notes">{(e.notes ?? []).map((n, i) => <li key={i}>{n}</li>)}</ul>}
      <Trace e={e} direction="egress" />
      <Trace e={e} direction="ingress" />
      {e.closestRules === undefined || e.closestRules.length === 0 ? null : (
        <section aria-labelledby="closest">
          <h3 id="closest">Closest Allow rules, and why they did not match</h3>
          <ol className="closest">
            {e.closestRules.map((m, i) => (
              <li key={i}>
                <strong>{m.tier} / {m.policy}</strong> {m.direction} rule {m.rule}: {m.failed.length === 0 ? 'matches, but an earlier step decided' : m.failed.join('; ')}
              </li>
            ))}
          </ol>
        </section>
      )}
    </article>
  );
}
