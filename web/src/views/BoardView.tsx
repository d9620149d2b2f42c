// The policy board: tiers as columns in evaluation order, policies in order inside each, with
// what the server says about them (kind, namespace, selector as written, endpoints selected by
// the engine's index) and, when the flow store has them, rule hits. Filters live in the hash.
import { useMemo, useState } from 'react';
import type { ReactElement } from 'react';
import { stringify } from 'yaml';
import { getJson, getObject } from '../api/client.ts';
import { flowStatsSchema, policyBoardSchema } from '../api/schemas.ts';
import type { BoardPolicy, BoardTier } from '../api/schemas.ts';
import { hitsByPolicy, policyId } from '../api/rule-hits.ts';
import { navigate } from '../route.ts';
import { Failure, Modal, useFetched } from './common.tsx';

/** Cards drawn per tier until the user asks for all: the level of detail of the board. */
const CARDS_SHOWN = 100;

/** The object as a manifest again: server-owned metadata dropped, so the export applies cleanly. */
function asManifest(obj: Record<string, unknown>): Record<string, unknown> {
  const meta = { ...((obj['metadata'] as Record<string, unknown> | undefined) ?? {}) };
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields']) delete meta[k];
  const { status: _status, ...rest } = obj;
  return { ...rest, metadata: meta };
}

function matches(p: BoardPolicy, ns: string, label: string, text: string): boolean {
  if (ns !== '' && (ns === '(global)' ? p.namespace !== null : p.namespace !== ns)) return false;
  if (label !== '' && !p.selector.toLowerCase().includes(label.toLowerCase())) return false;
  if (text !== '' && !`${p.name} ${p.kind} ${p.namespace ?? ''}`.toLowerCase().includes(text.toLowerCase())) return false;
  return true;
}

export function BoardView({ params }: { params: URLSearchParams }): ReactElement {
  const board = useFetched(() => getJson('/apis/strata/v1/policyboard', policyBoardSchema), []);
  const stats = useFetched(() => getJson('/apis/strata/v1/flows/stats', flowStatsSchema), []);
  const [dialog, setDialog] = useState<{ title: string; yaml: string; file: string } | undefined>(undefined);
  // Tiers whose every card is shown; others show the first CARDS_SHOWN (thousands of cards are seconds of layout).
  const [whole, setWhole] = useState<ReadonlySet<string>>(new Set());
  const filters = { tier: params.get('tier') ?? '', ns: params.get('namespace') ?? '', label: params.get('label') ?? '', q: params.get('q') ?? '' };
  const setFilter = (k: 'tier' | 'namespace' | 'label' | 'q', v: string): void => {
    navigate('board', { tier: filters.tier, namespace: filters.ns, label: filters.label, q: filters.q, [k]: v }, true);
  };
  const hits = useMemo(() => (stats.state === 'done' && stats.result.ok ? hitsByPolicy(stats.result.value) : undefined), [stats]);

  if (board.state === 'loading') return <p role="status">Loading the policy board…</p>;
  if (!board.result.ok) return <Failure what="The policy board" status={board.result.status} message={board.result.message} />;
  const b = board.result.value;
  const namespaces = [...new Set(b.tiers.flatMap((t) => t.policies.map((p) => p.namespace)).filter((n): n is string => n !== null))].sort();
  const tiers = b.tiers.filter((t) => filters.tier === '' || t.name === filters.tier);

  const openYaml = async (p: BoardPolicy): Promise<void> => {
    if (p.path === null) return;
    const r = await getObject(p.path);
    setDialog({ title: `${p.kind} ${p.namespace === null ? '' : `${p.namespace}/`}${p.name}`, yaml: r.ok ? stringify(r.value) : `# ${r.message}`, file: `${p.name}.yaml` });
  };
  const exportTier = async (t: BoardTier): Promise<void> => {
    const docs: string[] = [];
    for (const p of t.policies) {
      if (p.path === null) continue;
      const r = await getObject(p.path);
      docs.push(r.ok ? stringify(asManifest(r.value)) : `# ${p.name}: ${r.message}\n`);
    }
    setDialog({ title: `Tier ${t.name} as YAML`, yaml: docs.length === 0 ? '# no policies\n' : docs.map((d) => `---\n${d}`).join(''), file: `tier-${t.name}.yaml` });
  };

  let statsNote: ReactElement | null = null;
  if (stats.state === 'done' && !stats.result.ok) {
    statsNote =
      stats.result.status === 404 ? (
        <p role="status" className="notice">Rule hit counts are not shown: this server has no flow statistics (<code>GET /apis/strata/v1/flows/stats</code> answered 404).</p>
      ) : (
        <p role="status" className="notice">Rule hit counts are not shown: {stats.result.message}</p>
      );
  }

  return (
    <>
      <form className="filters" aria-label="Filter policies" onSubmit={(e) => e.preventDefault()}>
        <label>
          Tier
          <select value={filters.tier} onChange={(e) => setFilter('tier', e.target.value)}>
            <option value="">all tiers</option>
            {b.tiers.map((t) => <option key={t.name} value={t.name}>{t.name}</option>)}
          </select>
        </label>
        <label>
          Namespace
          <select value={filters.ns} onChange={(e) => setFilter('namespace', e.target.value)}>
            <option value="">all namespaces</option>
            <option value="(global)">(global policies)</option>
            {namespaces.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <label>
          Label in selector
          <input type="search" value={filters.label} onChange={(e) => setFilter('label', e.target.value)} placeholder="app == &quot;web&quot;" />
        </label>
        <label>
          Text
          <input type="search" value={filters.q} onChange={(e) => setFilter('q', e.target.value)} placeholder="policy name" />
        </label>
      </form>
      <p className="summary">{b.tiers.length} tiers, {b.tiers.reduce((n, t) => n + t.policies.length, 0)} policies you may read, {b.endpoints} endpoints (revision {b.metadata.resourceVersion}).</p>
      {statsNote}
      <div className="board" role="list" aria-label="Tiers in evaluation order">
        {tiers.map((t, ti) => {
          const matching = t.policies.filter((p) => matches(p, filters.ns, filters.label, filters.q));
          const shown = whole.has(t.name) ? matching : matching.slice(0, CARDS_SHOWN);
          return (
            <section key={t.name} className="tier" role="listitem" aria-labelledby={`tier-${t.name}`} data-tier={t.name}>
              <header>
                <h2 id={`tier-${t.name}`}>
                  <span className="ordinal">{ti + 1}.</span> {t.name}
                </h2>
                <p className="meta">order {t.order ?? 'none'} · end of tier: {t.defaultAction} · {matching.length}/{t.policies.length} match</p>
                <button type="button" onClick={() => void exportTier(t)}>Export {t.name} as YAML</button>
              </header>
              <ol className="policies" aria-label={`Policies of tier ${t.name}`}>
                {shown.map((p) => {
                  const h = hits?.get(policyId(t.name, p.namespace, p.name));
                  return (
                    <li key={`${p.kind}/${p.namespace ?? ''}/${p.name}`} className={p.staged ? 'policy staged' : 'policy'} data-policy={p.name}>
                      <button type="button" className="policy-name" onClick={() => void openYaml(p)} aria-label={`Show the YAML of ${p.name}`}>{p.name}</button>
                      {p.staged ? <span className="badge staged-badge">staged{p.stagedAction === null ? '' : ` ${p.stagedAction}`}</span> : null}
                      <dl>
                        <dt>kind</dt><dd>{p.kind}</dd>
                        <dt>namespace</dt><dd>{p.namespace ?? '(global)'}</dd>
                        <dt>order</dt><dd>{p.order ?? 'none'}</dd>
                        <dt>selector</dt><dd><code>{p.selector}</code></dd>
                        <dt>selects</dt><dd className="selected">{p.selected} of {b.endpoints} endpoints</dd>
                        <dt>rules</dt><dd>{p.ingressRules} ingress, {p.egressRules} egress</dd>
                        {hits === undefined ? null : (
                          <>
                            <dt>hits</dt>
                            <dd className="hits">{h === undefined ? 'none in the window' : `${h.hits} packets${h.lastHit === undefined ? '' : `, last ${h.lastHit}`}`}</dd>
                            {h === undefined ? null : (<><dt>per rule</dt><dd>{h.rules.map((r) => `${r.direction} ${r.rule === null ? 'end of tier' : `rule ${r.rule}`}: ${r.packets}`).join('; ')}</dd></>)}
                          </>
                        )}
                      </dl>
                    </li>
                  );
                })}
              </ol>
              {shown.length < matching.length ? (
                <button type="button" className="more" onClick={() => setWhole(new Set([...whole, t.name]))}>Show all {matching.length} policies of {t.name}</button>
              ) : null}
            </section>
          );
        })}
      </div>
      <Modal title={dialog?.title ?? ''} open={dialog !== undefined} onClose={() => setDialog(undefined)}>
        {dialog === undefined ? null : (
          <>
            <pre className="yaml" tabIndex={0} aria-label="YAML">{dialog.yaml}</pre>
            <a className="download" href={`data:application/yaml;charset=utf-8,${encodeURIComponent(dialog.yaml)}`} download={dialog.file}>Download {dialog.file}</a>
          </>
        )}
      </Modal>
    </>
  );
}
