import { useState } from 'preact/hooks';
import { errorText, signIn, type Session } from '../api.js';

/** The token goes to the server once; only the HttpOnly cookie it sets is kept (by the browser). */
export function SignIn({
  onSignedIn,
  reason,
}: {
  readonly onSignedIn: (session: Session) => void;
  readonly reason: string | null;
}) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="sign-in">
      <div class="panel">
        <h1>ai-gateway admin</h1>
        <p class="notice">
          Sign in with the admin token, or a viewer token to look without changing anything.
        </p>
        {reason === null ? null : (
          <p class="notice" role="status">
            {reason}
          </p>
        )}
        <form
          onSubmit={(event) => {
            event.preventDefault();
            setBusy(true);
            setProblem(null);
            signIn(token).then(
              (session) => {
                setToken('');
                setBusy(false);
                onSignedIn(session);
              },
              (error: unknown) => {
                setBusy(false);
                setProblem(errorText(error));
              },
            );
          }}
        >
          <label class="field">
            Token
            <input
              name="token"
              type="password"
              autoComplete="off"
              required
              autoFocus
              value={token}
              onInput={(event) => {
                setToken(event.currentTarget.value);
              }}
            />
          </label>
          {problem === null ? null : (
            <div class="error-box" role="alert">
              {problem}
            </div>
          )}
          <button type="submit" class="primary" disabled={busy || token === ''}>
            Sign in
          </button>
        </form>
      </div>
    </main>
  );
}
