// The console's shell: sign-in with a bearer token (kept in sessionStorage, so it goes with the
// tab), the navigation, and the view the hash names.
import { useEffect, useState } from 'react';
import type { FormEvent, ReactElement } from 'react';
import { getJson, onUnauthorized, storedToken, storeToken } from './api/client.ts';
import { apiVersionsSchema } from './api/schemas.ts';
import { routeHref, useRoute, VIEWS } from './route.ts';
import type { View } from './route.ts';
import { BoardView } from './views/BoardView.tsx';
import { ExplainView } from './views/ExplainView.tsx';
import { FlowsView } from './views/FlowsView.tsx';
import { GraphView } from './views/GraphView.tsx';
import { PreviewView } from './views/PreviewView.tsx';

const TITLES: Readonly<Record<View, string>> = { board: 'Policy board', graph: 'Service graph', explain: 'Explain', flows: 'Flows', preview: 'Preview' };

function SignIn({ onSignedIn, notice }: { onSignedIn: () => void; notice: string | undefined }): ReactElement {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(notice);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    storeToken(token.trim());
    const r = await getJson('/api', apiVersionsSchema);
    setBusy(false);
    if (r.ok) onSignedIn();
    else {
      storeToken(null);
      setError(r.status === 401 ? 'The server did not accept this token.' : r.message);
    }
  };
  return (
    <main className="signin">
      <h1>Strata console</h1>
      <form onSubmit={(e) => void submit(e)} aria-label="Sign in">
        <label htmlFor="token">Bearer token</label>
        <input id="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} required autoFocus />
        <button type="submit" disabled={busy || token.trim() === ''}>Sign in</button>
        {error === undefined ? null : <p role="alert" className="error">{error}</p>}
      </form>
      <p className="hint">The token is one of the server's <code>--token-auth-file</code> (for <code>strata console</code>, the one it printed). It is kept for this tab only.</p>
    </main>
  );
}

export function App(): ReactElement {
  const [signedIn, setSignedIn] = useState(() => storedToken() !== null);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const route = useRoute();
  useEffect(
    () =>
      onUnauthorized(() => {
        storeToken(null);
        setNotice('The server no longer accepts the token: sign in again.');
        setSignedIn(false);
      }),
    [],
  );
  useEffect(() => {
    document.title = signedIn ? `${TITLES[route.view]} · Strata console` : 'Sign in · Strata console';
  }, [route.view, signedIn]);
  if (!signedIn) return <SignIn onSignedIn={() => { setNotice(undefined); setSignedIn(true); }} notice={notice} />;
  return (
    <>
      <header className="top">
        <span className="brand">Strata</span>
        <nav aria-label="Views">
          <ul>
            {VIEWS.map((v) => (
              <li key={v}>
                <a href={routeHref(v)} aria-current={route.view === v ? 'page' : undefined}>{TITLES[v]}</a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" className="signout" onClick={() => { storeToken(null); setSignedIn(false); }}>Sign out</button>
      </header>
      <main id="main" aria-labelledby="view-title">
        <h1 id="view-title">{TITLES[route.view]}</h1>
        {route.view === 'board' ? <BoardView params={route.params} /> : null}
        {route.view === 'graph' ? <GraphView params={route.params} /> : null}
        {route.view === 'explain' ? <ExplainView params={route.params} /> : null}
        {route.view === 'flows' ? <FlowsView params={route.params} /> : null}
        {route.view === 'preview' ? <PreviewView /> : null}
      </main>
    </>
  );
}
