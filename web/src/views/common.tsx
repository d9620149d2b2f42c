// Pieces every view uses: a fetch-on-change hook that keeps failures as values, the message for
// an API this server does not have, and a modal dialog (the platform's <dialog>: focus kept
// inside, Escape closes).
import { useEffect, useRef, useState } from 'react';
import type { ReactElement, ReactNode } from 'react';
import type { Fetched } from '../api/client.ts';

export type Loading<T> = { readonly state: 'loading' } | { readonly state: 'done'; readonly result: Fetched<T> };

export function useFetched<T>(load: () => Promise<Fetched<T>>, deps: readonly unknown[]): Loading<T> {
  const [v, setV] = useState<Loading<T>>({ state: 'loading' });
  useEffect(() => {
    let live = true;
    setV({ state: 'loading' });
    void load().then((result) => {
      if (live) setV({ state: 'done', result });
    });
    return () => {
      live = false;
    };
    // The caller lists what the load reads.
  }, deps);
  return v;
}

export function Failure({ what, status, message }: { what: string; status: number; message: string }): ReactElement {
  if (status === 404) {
    return (
      <div role="status" className="notice">
        <strong>{what} is not available on this server.</strong> The endpoint answered 404: this server does not have that API yet.
      </div>
    );
  }
  if (status === 403) return <div role="alert" className="error">You may not see {what.toLowerCase()}: {message}</div>;
  return <div role="alert" className="error">{what}: {message}</div>;
}

export function Modal({ title, open, onClose, children }: { title: string; open: boolean; onClose: () => void; children: ReactNode }): ReactElement {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d === null) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" onClose={onClose} className="modal">
      <div className="modal-head">
        <h2 id="dialog-title">{title}</h2>
        <button type="button" onClick={onClose} aria-label="Close">×</button>
      </div>
      {open ? children : null}
    </dialog>
  );
}

export function verdictClass(v: string): string {
  return v === 'allow' ? 'allow' : v === 'deny' ? 'deny' : 'other';
}
