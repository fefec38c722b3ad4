import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from '../api.js';

export function ErrorBox({ error }: { readonly error: unknown }) {
  if (error === null || error === undefined) return null;
  return (
    <div class="error-box" role="alert">
      {errorText(error)}
    </div>
  );
}

export interface Loaded<T> {
  readonly value: T | null;
  readonly error: unknown;
  readonly loading: boolean;
  readonly reload: () => void;
}

/** Runs `load` when `deps` change (and on reload()); the newest answer wins. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ value: T | null; error: unknown; loading: boolean }>({
    value: null,
    error: null,
    loading: true,
  });
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const ticket = ++latest.current;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (value) => {
        if (ticket === latest.current) setState({ value, error: null, loading: false });
      },
      (error: unknown) => {
        if (ticket === latest.current)
          setState((previous) => ({ value: previous.value, error, loading: false }));
      },
    );
  }, [...deps, round]);
  const reload = useCallback(() => {
    setRound((value) => value + 1);
  }, []);
  return { ...state, reload };
}

interface DialogProps {
  readonly open: boolean;
  readonly title: string;
  readonly onClose: () => void;
  readonly children: ComponentChildren;
}

/** A modal <dialog>: focus stays inside, Escape closes it, focus returns where it was. */
export function Dialog({ open, title, onClose, children }: DialogProps) {
  const element = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = element.current;
    if (dialog === null) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={element}
      aria-label={title}
      onClose={onClose}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <h2>{title}</h2>
      {open ? children : null}
    </dialog>
  );
}

export function Field({
  label,
  children,
  wide = false,
  hint,
}: {
  readonly label: string;
  readonly children: ComponentChildren;
  readonly wide?: boolean;
  readonly hint?: string;
}) {
  return (
    <label class={`field${wide ? ' wide' : ''}`}>
      {label}
      {children}
      {hint === undefined ? null : <span>{hint}</span>}
    </label>
  );
}

export function Badge({ kind, children }: { readonly kind: string; readonly children: ComponentChildren }) {
  return <span class={`badge ${kind}`}>{children}</span>;
}
