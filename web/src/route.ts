// Hash routing: `#/VIEW?key=value…` is the whole state of a view, so every view has a deep link
// (`/ui/#/explain?from=…&to=…&port=…&protocol=…`, `/ui/#/board?tier=…`) and the server only ever
// serves one page.
import { useEffect, useState } from 'react';

export const VIEWS = ['board', 'graph', 'explain', 'flows', 'preview'] as const;
export type View = (typeof VIEWS)[number];

export interface Route {
  readonly view: View;
  readonly params: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const q = text.indexOf('?');
  const name = q < 0 ? text : text.slice(0, q);
  const view = (VIEWS as readonly string[]).includes(name) ? (name as View) : 'board';
  return { view, params: new URLSearchParams(q < 0 ? '' : text.slice(q + 1)) };
}

export function routeHref(view: View, params: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return `#/${view}${s === '' ? '' : `?${s}`}`;
}

export function navigate(view: View, params: Record<string, string | undefined> = {}, replace = false): void {
  const href = routeHref(view, params);
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    window.addEventListener('popstate', on);
    return () => {
      window.removeEventListener('hashchange', on);
      window.removeEventListener('popstate', on);
    };
  }, []);
  return route;
}
