// Preview: changed manifests, pasted or uploaded, sent to the server's diff endpoint; what comes
// back are the lines of `strata diff -o json` (every flow the change opens, closes or
// reattributes). The console never computes a diff itself.
import { useState } from 'react';
import type { ChangeEvent, FormEvent, ReactElement } from 'react';
import { postText } from '../api/client.ts';
import { parseDiffAnswer } from '../api/diff-answer.ts';
import type { DiffAnswer } from '../api/diff-answer.ts';
import { Failure, verdictClass } from './common.tsx';

function peer(p: string | { members: string[] }): string {
  return typeof p === 'string' ? p : p.members.length <= 3 ? p.members.join(', ') : `${p.members.slice(0, 3).join(', ')} +${p.members.length - 3}`;
}

/** One side of a line's deciding step: `tier / policy rule N (reason)`. */
function decided(d: unknown): string {
  if (typeof d !== 'object' || d === null) return '—';
  const x = d as { tier?: string | null; policy?: string | null; rule?: number | null; reason?: string; direction?: string | null };
  const where = [x.tier, x.policy].filter((v) => typeof v === 'string' && v !== '').join(' / ');
  return `${x.direction ?? ''} ${where}${typeof x.rule === 'number' ? ` rule ${x.rule}` : ''}${x.reason === undefined ? '' : ` (${x.reason})`}`.trim() || '—';
}

function decidedPair(d: Record<string, unknown>): string {
  if ('before' in d || 'after' in d) return `${decided(d['before'])} → ${decided(d['after'])}`;
  return decided(d);
}

export function PreviewView(): ReactElement {
  const [text, setText] = useState('');
  const [answer, setAnswer] = useState<({ ok: true } & DiffAnswer) | { ok: false; status: number; message: string } | 'loading' | undefined>(undefined);
  const upload = async (e: ChangeEvent<HTMLInputElement>): Promise<void> => {
    const files = [...(e.target.files ?? [])];
    const parts = await Promise.all(files.map((f) => f.text()));
    setText(parts.map((p) => p.trim()).join('\n---\n'));
  };
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setAnswer('loading');
    const r = await postText('/apis/strata/v1/diff', text, 'application/yaml');
    setAnswer(r.ok ? { ok: true, ...parseDiffAnswer(r.value.text) } : r);
  };
  return (
    <>
      <form className="preview-form" onSubmit={(e) => void submit(e)} aria-label="Changed manifests">
        <label htmlFor="manifests">Changed manifests (YAML, several documents)</label>
        <textarea id="manifests" rows={14} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
        <label>
          Or upload files
          <input type="file" multiple accept=".yaml,.yml,.json" onChange={(e) => void upload(e)} />
        </label>
        <button type="submit" disabled={text.trim() === ''}>Preview the change</button>
      </form>
      {answer === 'loading' ? <p role="status">Computing the exhaustive diff…</p> : null}
      {answer !== undefined && answer !== 'loading' && !answer.ok ? <Failure what="The diff preview" status={answer.status} message={answer.message} /> : null}
      {answer !== undefined && answer !== 'loading' && answer.ok ? (
        <section aria-labelledby="diff-title">
          <h2 id="diff-title">{answer.lines.length === 0 ? 'No flow changes' : `${answer.lines.length} changes`}</h2>
          {answer.summary === undefined ? null : (
            <p className="summary">
              {['opened', 'closed', 'reattributed', 'pending', 'added', 'removed'].map((k) => `${String(answer.summary?.[k] ?? 0)} ${k}`).join(', ')}
              {Array.isArray(answer.summary['invariants']) && answer.summary['invariants'].length > 0 ? <strong className="deny"> — breaks {answer.summary['invariants'].length} ConnectivityInvariant(s)</strong> : null}
            </p>
          )}
          {answer.bad > 0 ? <p role="alert" className="error">{answer.bad} lines of the answer did not match the diff format and are not shown.</p> : null}
          <table className="diff">
            <thead><tr><th scope="col">change</th><th scope="col">from</th><th scope="col">to</th><th scope="col">ports</th><th scope="col">before → after</th><th scope="col">decided by (before → after)</th></tr></thead>
            <tbody>
              {answer.lines.map((l, i) =>
                'peer' in l ? (
                  <tr key={i}><td>{l.change}</td><td colSpan={5}>endpoint {String(l.peer)}</td></tr>
                ) : (
                  <tr key={i} className={l.change}>
                    <td>{l.change}</td><td>{peer(l.from)}</td><td>{peer(l.to)}</td><td>{l.ports ?? '—'}/{l.protocol}{l.icmp === undefined ? '' : ` ${l.icmp}`}</td>
                    <td><span className={`verdict ${verdictClass(l.before)}`}>{l.before}</span> → <span className={`verdict ${verdictClass(l.after)}`}>{l.after}</span></td>
                    <td>{decidedPair(l.decidedBy)}</td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </section>
      ) : null}
    </>
  );
}
